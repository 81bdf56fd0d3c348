//! The SABR implied-vol expansions, written once over [`Real`] so that strike and parameter
//! derivatives are exact (see the [parent module](super) for the formulas and numerics).

use super::SabrExpansion;
use crate::models::ad::Real;

#[inline]
fn e_ratio<T: Real>(u: T) -> T {
    if u.re().abs() < 0.1 {
        // Σ (−u)ⁿ/(n+1)!, n ≤ 11: truncation < 1e-18 for |u| < 0.1.
        const C: [f64; 12] = {
            let mut c = [0.0; 12];
            let mut f = 1.0;
            let mut n = 0;
            while n < 12 {
                f *= (n + 1) as f64;
                c[n] = if n % 2 == 0 { 1.0 / f } else { -1.0 / f };
                n += 1;
            }
            c
        };
        let mut s = T::cst(C[11]);
        for &c in C[..11].iter().rev() {
            s = s * u + c;
        }
        s
    } else {
        -(-u).exp_m1() / u
    }
}

/// `z/x(z)` with `x(z) = ln((√(1 − 2ρz + z²) + z − ρ)/(1 − ρ))`, free of cancellation.
#[inline]
fn z_over_x<T: Real>(z: T, rho: T) -> T {
    let zr = z.re();
    if zr.abs() < 0.02 {
        // x(z)/z = Σ Pₙ(ρ) zⁿ/(n+1); |Pₙ| ≤ 1, so 12 terms leave < 0.02¹²/13 ≈ 3e-22.
        let mut c = [T::cst(0.0); 12];
        let (mut p0, mut p1) = (T::cst(1.0), rho);
        c[0] = p0;
        c[1] = p1 * 0.5;
        for n in 1..11 {
            let nf = n as f64;
            let p2 = (rho * p1 * (2.0 * nf + 1.0) - p0 * nf) / (nf + 1.0);
            c[n + 1] = p2 / (nf + 2.0);
            (p0, p1) = (p1, p2);
        }
        let mut s = c[11];
        for &ci in c[..11].iter().rev() {
            s = s * z + ci;
        }
        return T::cst(1.0) / s;
    }
    let one = T::cst(1.0);
    let zmr = z - rho;
    // √((z − ρ)² + 1 − ρ²), or |z − ρ| once the square would overflow (from |z − ρ| = 10¹⁵⁰
    // on they agree to the last bit): far wings (`|z| ~ (FK)^{(1−β)/2}·|ln(F/K)|` at extreme
    // strikes) keep a finite x(z) instead of ln(∞) and a vol of 0.
    let a = if zmr.re().abs() < 1e150 {
        (zmr * zmr + (one - rho) * (one + rho)).sqrt()
    } else {
        zmr.abs()
    };
    let x = if zr < rho.re() {
        // √A + z − ρ = (1 − ρ²)/(√A − (z − ρ)): no cancellation for z < ρ.
        let den = a - zmr;
        let ratio = (one + rho) / den;
        if (0.5..=2.0).contains(&ratio.re()) {
            (z * (one + rho) * 2.0 / ((a + z + 1.0) * den)).ln_1p()
        } else {
            ratio.ln()
        }
    } else {
        let ratio = (a + zmr) / (one - rho);
        if (0.5..=2.0).contains(&ratio.re()) {
            (z * (a + (one - rho) + zmr) / ((a + 1.0) * (one - rho))).ln_1p()
        } else {
            ratio.ln()
        }
    };
    z / x
}

/// The parts of the SABR formula that depend on the strike and `β` but not on `(α, ρ, ν)`:
/// computed once per strike in fits with `β` fixed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrikeTerms<T> {
    /// `ln(f/k)`, or `f − k` on the non-positive normal path.
    y: T,
    /// Hagan: `(fk)^{(1−β)/2}`; Obłój and normal: the same (for the correction term).
    fk_half: T,
    /// Hagan: `1 + (1−β)²y²/24 + (1−β)⁴y⁴/1920`. Obłój and normal: `f^{1−β}·E((1−β)y)`.
    den: T,
    /// Normal: `f^β·E(y)/E((1−β)y)`; otherwise unused (1).
    lead: T,
    /// The non-positive-rates normal path (`β = 0`, `ζ = ν(f − k)/α`).
    linear: bool,
}

impl<T: Real> StrikeTerms<T> {
    /// The terms of expansion `e` at shifted strike `k` for shifted forward `f`.
    #[inline]
    pub(crate) fn new(e: SabrExpansion, f: f64, k: T, beta: T) -> Self {
        let one = T::cst(1.0);
        if e == SabrExpansion::Normal && (f <= 0.0 || k.re() <= 0.0) {
            return StrikeTerms {
                y: k * -1.0 + f,
                fk_half: one,
                den: one,
                lead: one,
                linear: true,
            };
        }
        let lf = T::cst(f.ln());
        let lk = k.ln();
        let y = lf - lk;
        let omb = one - beta;
        let fk_half = ((lf + lk) * omb * 0.5).exp();
        match e {
            SabrExpansion::Hagan => {
                let oy2 = (omb * y).sq();
                StrikeTerms {
                    y,
                    fk_half,
                    den: one + oy2 / 24.0 + oy2 * oy2 / 1920.0,
                    lead: one,
                    linear: false,
                }
            }
            SabrExpansion::Obloj | SabrExpansion::Normal => {
                let er = e_ratio(omb * y);
                let lead = if e == SabrExpansion::Normal {
                    (beta * lf).exp() * e_ratio(y) / er
                } else {
                    one
                };
                StrikeTerms {
                    y,
                    fk_half,
                    den: (omb * lf).exp() * er,
                    lead,
                    linear: false,
                }
            }
        }
    }

    /// The same terms as constants of another number type.
    #[inline]
    pub(crate) fn lift<U: Real>(self) -> StrikeTerms<U>
    where
        T: Into<f64>,
    {
        StrikeTerms {
            y: U::cst(self.y.into()),
            fk_half: U::cst(self.fk_half.into()),
            den: U::cst(self.den.into()),
            lead: U::cst(self.lead.into()),
            linear: self.linear,
        }
    }
}

/// The SABR implied vol of expansion `e` from its strike terms and `(α, β, ρ, ν)`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sabr_vol_terms<T: Real>(
    e: SabrExpansion,
    st: &StrikeTerms<T>,
    t: f64,
    alpha: T,
    beta: T,
    rho: T,
    nu: T,
) -> T {
    let one = T::cst(1.0);
    let nu2_term = nu * nu * (T::cst(2.0) - rho * rho * 3.0) / 24.0;
    if st.linear {
        let zeta = nu / alpha * st.y;
        return alpha * z_over_x(zeta, rho) * (one + nu2_term * t);
    }
    let ab_term = rho * beta * nu * alpha / (st.fk_half * 4.0);
    let a_fk2 = (alpha / st.fk_half).sq();
    match e {
        SabrExpansion::Hagan => {
            let omb = one - beta;
            let z = nu / alpha * st.fk_half * st.y;
            let corr = one + ((omb * omb) * a_fk2 / 24.0 + ab_term + nu2_term) * t;
            alpha / (st.fk_half * st.den) * z_over_x(z, rho) * corr
        }
        SabrExpansion::Obloj => {
            let omb = one - beta;
            let zeta = nu / alpha * st.den * st.y;
            let corr = one + ((omb * omb) * a_fk2 / 24.0 + ab_term + nu2_term) * t;
            alpha / st.den * z_over_x(zeta, rho) * corr
        }
        SabrExpansion::Normal => {
            let zeta = nu / alpha * st.den * st.y;
            let g = (beta * beta - beta * 2.0) * a_fk2 / 24.0;
            let corr = one + (g + ab_term + nu2_term) * t;
            alpha * st.lead * z_over_x(zeta, rho) * corr
        }
    }
}

/// The SABR implied vol of expansion `e` at shifted strike `k` (`K + b`) for shifted forward
/// `f` (`F + b`), generic over the number type for exact derivatives. Lognormal expansions
/// need `f, k > 0`; the normal expansion also takes `f, k ≤ 0` when `β = 0`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sabr_vol<T: Real>(
    e: SabrExpansion,
    f: f64,
    k: T,
    t: f64,
    alpha: T,
    beta: T,
    rho: T,
    nu: T,
) -> T {
    sabr_vol_terms(e, &StrikeTerms::new(e, f, k, beta), t, alpha, beta, rho, nu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_over_x_is_continuous_across_its_branches() {
        for &rho in &[-0.999, -0.7, 0.0, 0.4, 0.999] {
            for &z in &[
                -3.0, -0.5, -0.0200001, -0.0199999, 0.0199999, 0.0200001, 0.7, 4.0,
            ] {
                let r = z_over_x(z, rho);
                // Reference by quadrature of x(z) = ∫₀^z (1 − 2ρt + t²)^{−1/2} dt (Simpson).
                let n = 20_000;
                let h = z / f64::from(n);
                let fx = |t: f64| 1.0 / (1.0 - 2.0 * rho * t + t * t).sqrt();
                let mut s = fx(0.0) + fx(z);
                for i in 1..n {
                    s += fx(f64::from(i) * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
                }
                let x = s * h / 3.0;
                assert!(
                    (r - z / x).abs() < 1e-11 * (z / x).abs(),
                    "rho {rho} z {z}: {r} vs {}",
                    z / x
                );
            }
        }
    }
}
