//! SSVI and eSSVI (Gatheral & Jacquier 2014, §4; Hendriks & Martini, *The extended SSVI
//! volatility surface*, J. Comput. Finance 22(5), 2019).
//!
//! SSVI: with `θ_t` the ATM total variance of expiry `t`,
//!
//! ```text
//! w(k, θ) = θ/2 · (1 + ρφ(θ)k + √((φ(θ)k + ρ)² + 1 − ρ²))
//! ```
//!
//! with `φ` a power law `φ(θ) = η/(θ^γ(1 + θ)^{1−γ})` or Heston-like
//! `φ(θ) = (1 − (1 − e^{−λθ})/(λθ))/(λθ)` (GJ eq. 4.5, 4.4). Each slice is a raw SVI with
//! `a = θ(1−ρ²)/2`, `b = θφ/2`, `m = −ρ/φ`, `σ = √(1−ρ²)/φ` ([`Ssvi::slice`]).
//!
//! * Butterfly (GJ Theorem 4.2, sufficient): `θφ(θ)(1 + |ρ|) < 4` and `θφ(θ)²(1 + |ρ|) ≤ 4`.
//! * Calendar (GJ Theorem 4.1, necessary and sufficient): `∂θ_t/∂t ≥ 0` and
//!   `0 ≤ ∂(θφ(θ))/∂θ ≤ (1 + √(1−ρ²))φ(θ)/ρ²`.
//!
//! Both are written once, over any number type, in [`conditions`] (so the fits differentiate
//! them exactly). eSSVI lets `ρ` depend on the expiry: each slice has `(θ, ρ, ψ = θφ)`
//! ([`EssviSlice`]); its butterfly conditions are the SSVI ones per slice. Hendriks & Martini
//! give an analytic condition for two slices not to cross; Pasquazzi (*A note about
//! characterization of calendar spread arbitrage in eSSVI surfaces*, 2023) shows the published
//! statement is not exactly right, so volfit checks and enforces `w_{t₂}(k) ≥ w_{t₁}(k)` for
//! all `k` with the one calendar method ([`calendar_gap`] over the real line).

pub mod conditions;
mod spec;

pub use spec::{EssviContext, EssviOptions, SsviContext, SsviOptions, atm_total_variance};

use super::arbitrage::{CalendarGap, CheckDomain, calendar_gap};
use super::svi::Svi;
use super::{ParamError, SmileModel};
use conditions::{GjConditions, phi_terms};
use serde::{Deserialize, Serialize};

/// The SSVI curvature function `φ(θ)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Phi {
    /// `φ(θ) = η/(θ^γ(1 + θ)^{1−γ})`, `η > 0`, `0 < γ < 1` (GJ eq. 4.5).
    PowerLaw {
        /// `η`.
        eta: f64,
        /// `γ`.
        gamma: f64,
    },
    /// `φ(θ) = (1 − (1 − e^{−λθ})/(λθ))/(λθ)`, `λ > 0` (GJ eq. 4.4).
    HestonLike {
        /// `λ`.
        lambda: f64,
    },
}

impl Phi {
    /// `φ(θ)`.
    pub fn value(&self, theta: f64) -> f64 {
        self.value_and_slope(theta).0
    }

    /// `∂(θφ(θ))/∂θ`, for the calendar condition (analytic: `(1−γ)φ/(1+θ)` for the power law,
    /// `h(x) + x·h'(x)` with `x = λθ` and `h(x) = φ` for the Heston-like form, from its series
    /// near 0).
    pub fn d_theta_phi(&self, theta: f64) -> f64 {
        self.value_and_slope(theta).1
    }

    /// `(φ(θ), ∂(θφ)/∂θ)`.
    pub fn value_and_slope(&self, theta: f64) -> (f64, f64) {
        match *self {
            Phi::PowerLaw { eta, gamma } => phi_terms(PhiKind::PowerLaw, [eta, gamma], theta),
            Phi::HestonLike { lambda } => phi_terms(PhiKind::HestonLike, [lambda, 0.0], theta),
        }
    }

    /// Which form.
    pub fn kind(&self) -> PhiKind {
        match self {
            Phi::PowerLaw { .. } => PhiKind::PowerLaw,
            Phi::HestonLike { .. } => PhiKind::HestonLike,
        }
    }
}

/// The form of `φ` an SSVI fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhiKind {
    /// Power law `(η, γ)`.
    #[default]
    PowerLaw,
    /// Heston-like `λ`.
    HestonLike,
}

/// An SSVI surface: correlation `ρ` and curvature function `φ`; the ATM total variance curve
/// `θ_t` is supplied per expiry. Valid by construction ([`Ssvi::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SsviParams")]
pub struct Ssvi {
    rho: f64,
    phi: Phi,
}

#[derive(Deserialize)]
struct SsviParams {
    rho: f64,
    phi: Phi,
}

impl TryFrom<SsviParams> for Ssvi {
    type Error = ParamError;
    fn try_from(p: SsviParams) -> Result<Self, ParamError> {
        Ssvi::new(p.rho, p.phi)
    }
}

impl Ssvi {
    /// Checked SSVI.
    ///
    /// # Errors
    /// [`ParamError`] for `|ρ| ≥ 1`, `η ≤ 0`, `γ ∉ (0, 1)` or `λ ≤ 0` (or any of them not
    /// finite).
    pub fn new(rho: f64, phi: Phi) -> Result<Self, ParamError> {
        let err = |name, value, constraint| ParamError {
            model: "SSVI",
            name,
            value,
            constraint,
        };
        if !(rho.abs() < 1.0) {
            return Err(err("rho", rho, "|ρ| < 1"));
        }
        match phi {
            Phi::PowerLaw { eta, gamma } => {
                if !(eta > 0.0 && eta.is_finite()) {
                    return Err(err("eta", eta, "η > 0"));
                }
                if !(gamma > 0.0 && gamma < 1.0) {
                    return Err(err("gamma", gamma, "0 < γ < 1"));
                }
            }
            Phi::HestonLike { lambda } => {
                if !(lambda > 0.0 && lambda.is_finite()) {
                    return Err(err("lambda", lambda, "λ > 0"));
                }
            }
        }
        Ok(Ssvi { rho, phi })
    }

    /// `ρ`.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// `φ`.
    pub fn phi(&self) -> Phi {
        self.phi
    }

    /// `w(k, θ)`; NaN outside the domain (`θ` not finite and positive, `k` not finite) or
    /// where `w` is beyond the range of doubles ([`EssviSlice::w`]), never ±inf or 0.
    ///
    /// ```
    /// use volfit::models::ssvi::{Phi, Ssvi};
    /// let s = Ssvi::new(-0.7, Phi::PowerLaw { eta: 1.0, gamma: 0.4 }).unwrap();
    /// assert!((s.w(0.0, 0.04) - 0.04).abs() < 1e-17); // θ is the ATM total variance
    /// assert!(s.w(0.0, -0.04).is_nan() && s.w(f64::INFINITY, 0.04).is_nan());
    /// ```
    pub fn w(&self, k: f64, theta: f64) -> f64 {
        if theta > 0.0 && theta < f64::INFINITY {
            self.essvi(theta).w(k)
        } else {
            f64::NAN
        }
    }

    /// The eSSVI slice `(θ, ρ, θφ(θ))` at ATM total variance `θ`.
    pub fn essvi(&self, theta: f64) -> EssviSlice {
        EssviSlice {
            theta,
            rho: self.rho,
            psi: theta * self.phi.value(theta),
        }
    }

    /// The slice at ATM total variance `θ` as raw SVI.
    ///
    /// ```
    /// use volfit::models::ssvi::{Phi, Ssvi};
    /// let s = Ssvi::new(-0.5, Phi::HestonLike { lambda: 2.0 }).unwrap();
    /// let slice = s.slice(0.09);
    /// assert!((slice.w(0.3) - s.w(0.3, 0.09)).abs() < 1e-15);
    /// ```
    pub fn slice(&self, theta: f64) -> Svi {
        self.essvi(theta).to_svi()
    }

    /// The GJ conditions at `θ` ([`conditions::GjConditions`]).
    pub fn conditions(&self, theta: f64) -> GjConditions<f64> {
        let (phi, slope) = self.phi.value_and_slope(theta);
        conditions::gj(theta, self.rho, theta * phi, Some(slope))
    }

    /// GJ Theorem 4.2's sufficient butterfly conditions at `θ`.
    pub fn butterfly_sufficient(&self, theta: f64) -> bool {
        self.conditions(theta).butterfly_holds()
    }

    /// GJ Theorem 4.1's calendar condition on `φ` at `θ` (the other half, `θ_t`
    /// non-decreasing, is a property of the `θ` curve).
    pub fn calendar_condition(&self, theta: f64) -> bool {
        self.conditions(theta).calendar_holds()
    }
}

/// One eSSVI slice `(θ, ρ, ψ = θφ)`: `w(k) = θ/2·(1 + ρψk/θ + √((ψk/θ + ρ)² + 1 − ρ²))`.
/// Valid by construction ([`EssviSlice::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EssviParams")]
pub struct EssviSlice {
    pub(crate) theta: f64,
    pub(crate) rho: f64,
    pub(crate) psi: f64,
}

#[derive(Deserialize)]
struct EssviParams {
    theta: f64,
    rho: f64,
    psi: f64,
}

impl TryFrom<EssviParams> for EssviSlice {
    type Error = ParamError;
    fn try_from(p: EssviParams) -> Result<Self, ParamError> {
        EssviSlice::new(p.theta, p.rho, p.psi)
    }
}

impl EssviSlice {
    /// Checked slice.
    ///
    /// # Errors
    /// [`ParamError`] for `θ ≤ 0`, `|ρ| ≥ 1` or `ψ ≤ 0` (or any of them not finite).
    pub fn new(theta: f64, rho: f64, psi: f64) -> Result<Self, ParamError> {
        let err = |name, value, constraint| ParamError {
            model: "eSSVI",
            name,
            value,
            constraint,
        };
        if !(theta > 0.0 && theta.is_finite()) {
            return Err(err("theta", theta, "θ > 0"));
        }
        if !(rho.abs() < 1.0) {
            return Err(err("rho", rho, "|ρ| < 1"));
        }
        if !(psi > 0.0 && psi.is_finite()) {
            return Err(err("psi", psi, "ψ > 0"));
        }
        Ok(EssviSlice { theta, rho, psi })
    }

    /// ATM total variance `θ`.
    pub fn theta(&self) -> f64 {
        self.theta
    }
    /// Correlation `ρ`.
    pub fn rho(&self) -> f64 {
        self.rho
    }
    /// `ψ = θφ`.
    pub fn psi(&self) -> f64 {
        self.psi
    }

    /// The slice as raw SVI: `a = θ(1−ρ²)/2`, `b = ψ/2`, `m = −ρθ/ψ`, `σ = θ√(1−ρ²)/ψ`.
    pub fn to_svi(&self) -> Svi {
        let r2 = 1.0 - self.rho * self.rho;
        Svi::new_unchecked(
            0.5 * self.theta * r2,
            0.5 * self.psi,
            self.rho,
            -self.rho * self.theta / self.psi,
            self.theta * r2.sqrt() / self.psi,
        )
    }

    /// `w(k)`; NaN where no total variance exists (`k` not finite, or `w` beyond the range
    /// of doubles; never ±inf). From `|z| = |ψk/θ + ρ| = 10¹⁵⁰` on, `√(z² + 1 − ρ²)` is taken
    /// as `|z|` (equal to the last bit there), so `z²` cannot overflow.
    pub fn w(&self, k: f64) -> f64 {
        let z = self.psi * k / self.theta + self.rho;
        // NaN fails the comparison and goes to the wing branch.
        let r = if z.abs() < 1e150 {
            (z * z + 1.0 - self.rho * self.rho).sqrt()
        } else {
            z.abs()
        };
        let w = 0.5 * self.theta * (1.0 + self.rho * self.psi * k / self.theta + r);
        if w.is_finite() { w } else { f64::NAN }
    }

    /// `∂w/∂(θ, ρ, ψ)` at `k`.
    pub(crate) fn w_gradient(&self, k: f64) -> [f64; 3] {
        self.w_and_gradient(k).1
    }

    /// `w(k)` and `∂w/∂(θ, ρ, ψ)` in one pass (one square root).
    #[inline]
    pub(crate) fn w_and_gradient(&self, k: f64) -> (f64, [f64; 3]) {
        let phi = self.psi / self.theta;
        let z = phi * k + self.rho;
        let r = (z * z + 1.0 - self.rho * self.rho).sqrt();
        let w = 0.5 * self.theta * (1.0 + self.rho * phi * k + r);
        let inv_r = 1.0 / r;
        (
            w,
            [
                0.5 * (1.0 + r - z * phi * k * inv_r),
                0.5 * self.psi * k * (1.0 + inv_r),
                0.5 * self.rho * k + 0.5 * z * k * inv_r,
            ],
        )
    }

    /// GJ Theorem 4.2 in `(θ, ρ, ψ)`: `ψ(1 + |ρ|) < 4` and `ψ²(1 + |ρ|) ≤ 4θ`.
    pub fn butterfly_sufficient(&self) -> bool {
        conditions::gj(self.theta, self.rho, self.psi, None).butterfly_holds()
    }

    /// The calendar gap to a later slice over the whole real line (the one calendar method,
    /// [`calendar_gap`]): `min_k (w_later(k) − w_self(k))`, `≥ 0` when the later slice lies
    /// on or above this one everywhere.
    pub fn calendar_gap(&self, later: &EssviSlice) -> CalendarGap {
        let scale = (self.theta / self.psi).min(later.theta / later.psi);
        calendar_gap(
            |k| self.w(k),
            |k| later.w(k),
            CheckDomain::RealLine,
            (0.0, scale),
        )
    }

    /// `(argmin k, min_k (w_later(k) − w_self(k)))` ([`EssviSlice::calendar_gap`]).
    pub fn min_gap(&self, later: &EssviSlice) -> (f64, f64) {
        let g = self.calendar_gap(later);
        (g.at, g.min_gap)
    }
}

impl SmileModel for EssviSlice {
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        self.to_svi().w_derivs(k)
    }
    fn total_variance(&self, k: f64) -> f64 {
        self.w(k)
    }
    fn feature_scale(&self) -> (f64, f64) {
        (0.0, self.theta / self.psi)
    }
}
