//! Gatheral & Jacquier's no-arbitrage conditions on SSVI slices (2014, Theorems 4.1 and 4.2)
//! and the curvature functions `φ`, written once over any number type (volfit's forward-mode dual numbers): the checks
//! evaluate them in `f64`, the fits in dual numbers for exact penalty gradients.

use super::PhiKind;
use crate::models::ad::Real;

/// `h(x) = (1 − (1 − e^{−x})/x)/x` (the Heston-like `φ` at `x = λθ`) and
/// `h(x) + x·h'(x) = ∂(θφ)/∂θ`: from their series `Σ (−1)ⁿ xⁿ/(n+2)!` and
/// `Σ (−1)ⁿ (n+1) xⁿ/(n+2)!` below `x = 1` (20 terms: truncation below 10⁻²⁰), where the
/// closed forms cancel, and from the closed forms above.
fn heston_h<T: Real>(x: T) -> (T, T) {
    if x.re() < 1.0 {
        let (mut h, mut hs) = (T::cst(0.0), T::cst(0.0));
        // Horner from the highest term: c_n = (−1)ⁿ/(n+2)!.
        let mut fact = [0.0f64; 21];
        let mut f = 2.0;
        for (n, c) in fact.iter_mut().enumerate() {
            *c = if n % 2 == 0 { 1.0 / f } else { -1.0 / f };
            f *= (n + 3) as f64;
        }
        for n in (0..21).rev() {
            h = h * x + fact[n];
            hs = hs * x + fact[n] * (n + 1) as f64;
        }
        (h, hs)
    } else {
        let e = (-x).exp();
        let one_minus_e = T::cst(1.0) - e;
        let h = (T::cst(1.0) - one_minus_e / x) / x;
        // h' = (2(1 − e^{−x}) − x(1 + e^{−x}))/x³.
        let hp = (one_minus_e * 2.0 - x * (e + 1.0)) / (x * x * x);
        (h, h + x * hp)
    }
}

/// `(φ(θ), ∂(θφ)/∂θ)` of the form `kind` with parameters `p` (`[η, γ]` for the power law,
/// `[λ, unused]` for the Heston-like form), generic in the parameters' number type:
/// power law `φ = η·θ^{−γ}(1+θ)^{γ−1}`, `∂(θφ)/∂θ = (1−γ)φ/(1+θ)`; Heston-like
/// `φ = h(λθ)`, `∂(θφ)/∂θ = h(x) + x·h'(x)` (GJ eq. 4.4, 4.5).
pub(crate) fn phi_terms<T: Real>(kind: PhiKind, p: [T; 2], theta: f64) -> (T, T) {
    match kind {
        PhiKind::PowerLaw => {
            let (eta, gamma) = (p[0], p[1]);
            let (lt, l1t) = (theta.ln(), theta.ln_1p());
            let phi = eta * (gamma * (l1t - lt) - l1t).exp();
            let slope = (T::cst(1.0) - gamma) * phi / (1.0 + theta);
            (phi, slope)
        }
        PhiKind::HestonLike => heston_h(p[0] * theta),
    }
}

/// Gatheral & Jacquier's conditions at one slice, as quantities that must be `≤ 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GjConditions<T> {
    /// Theorem 4.2, first: `ψ(1 + |ρ|) − 4(1 − 10⁻³) ≤ 0` (a margin inside the strict bound).
    pub wing: T,
    /// Theorem 4.2, second: `ψ²(1 + |ρ|)/θ − 4 ≤ 0`.
    pub curvature: T,
    /// Theorem 4.1: `ρ²·∂(θφ)/∂θ − (1 + √(1 − ρ²))·φ ≤ 0` (SSVI only: needs `∂(θφ)/∂θ`).
    pub calendar: Option<T>,
    /// `∂(θφ)/∂θ ≥ 0`, the other half of Theorem 4.1.
    pub slope: Option<T>,
}

impl GjConditions<f64> {
    /// Theorem 4.2 holds (with the wing condition's strict bound, not the margin).
    pub fn butterfly_holds(&self) -> bool {
        self.wing < 4e-3 && self.curvature <= 0.0
    }

    /// Theorem 4.1's condition on `φ` holds (to 10⁻¹² relative).
    pub fn calendar_holds(&self) -> bool {
        self.calendar.is_none_or(|c| c <= 1e-12) && self.slope.is_none_or(|s| s >= -1e-12)
    }
}

/// The conditions at ATM total variance `θ` for correlation `ρ`, `ψ = θφ(θ)` and (for SSVI)
/// `∂(θφ)/∂θ`.
pub(crate) fn gj<T: Real>(theta: f64, rho: T, psi: T, slope: Option<T>) -> GjConditions<T> {
    let r = rho.abs() + 1.0;
    let calendar = slope.map(|d| {
        let phi = psi / theta;
        let sq = (T::cst(1.0) - rho * rho).sqrt();
        rho * rho * d - (sq + 1.0) * phi
    });
    GjConditions {
        wing: psi * r - 3.996,
        curvature: psi * psi * r / theta - 4.0,
        calendar,
        slope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heston_series_and_closed_form_agree_and_match_finite_differences() {
        for x in [1e-9, 1e-4, 0.3, 0.999_999, 1.000_001, 3.0, 40.0] {
            let (h, s) = heston_h(x);
            // The closed form cancels for small x (the reason for the series): there the
            // reference is the series' first terms, 1/2 − x/6 + x²/24 − x³/120.
            let reference = if x < 1e-3 {
                0.5 - x / 6.0 + x * x / 24.0 - x * x * x / 120.0
            } else {
                (1.0 - (-x).exp_m1().abs() / x) / x
            };
            assert!((h - reference).abs() < 1e-14, "{x}: {h} {reference}");
            // ∂(θφ)/∂θ at λ = 1: d(x h(x))/dx.
            let d = 1e-6 * x.max(1e-3);
            let fd = ((x + d) * heston_h(x + d).0 - (x - d) * heston_h(x - d).0) / (2.0 * d);
            assert!((s - fd).abs() < 1e-7, "{x}: {s} {fd}");
        }
    }
}
