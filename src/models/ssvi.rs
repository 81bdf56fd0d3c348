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
//! eSSVI lets `ρ` depend on the expiry: each slice has `(θ, ρ, ψ = θφ)` ([`EssviSlice`]); its
//! butterfly conditions are the SSVI ones per slice. Hendriks & Martini give an analytic
//! condition for two slices not to cross; Pasquazzi (*A note about characterization of calendar
//! spread arbitrage in eSSVI surfaces*, 2023) shows the published statement is not exactly
//! right, so volfit checks and enforces `w_{t₂}(k) ≥ w_{t₁}(k)` for all `k` numerically
//! ([`EssviSlice::min_gap`], a global minimisation over the real line).

use super::svi::Svi;
use super::{ParamError, SmileModel, global_min};
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
        match *self {
            Phi::PowerLaw { eta, gamma } => {
                eta / (theta.powf(gamma) * (1.0 + theta).powf(1.0 - gamma))
            }
            Phi::HestonLike { lambda } => {
                let x = lambda * theta;
                // φ = (1 − (1 − e^{−x})/x)/(λθ); near x = 0 the bracket cancels, use its series
                // x/2 − x²/6 + x³/24.
                let bracket = if x < 1e-4 {
                    x * (0.5 - x / 6.0 + x * x / 24.0)
                } else {
                    1.0 + (-x).exp_m1() / x
                };
                bracket / x
            }
        }
    }

    /// `∂(θφ(θ))/∂θ`, for the calendar condition.
    pub fn d_theta_phi(&self, theta: f64) -> f64 {
        let h = 1e-6 * theta.max(1e-8);
        ((theta + h) * self.value(theta + h) - (theta - h) * self.value(theta - h)) / (2.0 * h)
    }
}

/// An SSVI surface: correlation `ρ` and curvature function `φ`; the ATM total variance curve
/// `θ_t` is supplied per expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ssvi {
    /// `ρ`, `|ρ| < 1`.
    pub rho: f64,
    /// `φ`.
    pub phi: Phi,
}

impl Ssvi {
    /// Checked SSVI.
    ///
    /// # Errors
    /// [`ParamError`] for `|ρ| ≥ 1`, `η ≤ 0`, `γ ∉ (0, 1)` or `λ ≤ 0`.
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
                if !(eta > 0.0) {
                    return Err(err("eta", eta, "η > 0"));
                }
                if !(gamma > 0.0 && gamma < 1.0) {
                    return Err(err("gamma", gamma, "0 < γ < 1"));
                }
            }
            Phi::HestonLike { lambda } => {
                if !(lambda > 0.0) {
                    return Err(err("lambda", lambda, "λ > 0"));
                }
            }
        }
        Ok(Ssvi { rho, phi })
    }

    /// `w(k, θ)`.
    ///
    /// ```
    /// use volfit::models::ssvi::{Phi, Ssvi};
    /// let s = Ssvi::new(-0.7, Phi::PowerLaw { eta: 1.0, gamma: 0.4 }).unwrap();
    /// assert!((s.w(0.0, 0.04) - 0.04).abs() < 1e-17); // θ is the ATM total variance
    /// ```
    pub fn w(&self, k: f64, theta: f64) -> f64 {
        let phi = self.phi.value(theta);
        let z = phi * k + self.rho;
        0.5 * theta * (1.0 + self.rho * phi * k + (z * z + 1.0 - self.rho * self.rho).sqrt())
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
        EssviSlice {
            theta,
            rho: self.rho,
            psi: theta * self.phi.value(theta),
        }
        .to_svi()
    }

    /// GJ Theorem 4.2's sufficient butterfly conditions at `θ`.
    pub fn butterfly_sufficient(&self, theta: f64) -> bool {
        EssviSlice {
            theta,
            rho: self.rho,
            psi: theta * self.phi.value(theta),
        }
        .butterfly_sufficient()
    }

    /// GJ Theorem 4.1's calendar condition on `φ` at `θ` (the other half, `θ_t`
    /// non-decreasing, is a property of the `θ` curve).
    pub fn calendar_condition(&self, theta: f64) -> bool {
        let d = self.phi.d_theta_phi(theta);
        let r2 = self.rho * self.rho;
        let upper = if r2 > 0.0 {
            (1.0 + (1.0 - r2).sqrt()) * self.phi.value(theta) / r2
        } else {
            f64::INFINITY
        };
        d >= -1e-12 && d <= upper * (1.0 + 1e-12)
    }
}

/// One eSSVI slice `(θ, ρ, ψ = θφ)`: `w(k) = θ/2·(1 + ρψk/θ + √((ψk/θ + ρ)² + 1 − ρ²))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EssviSlice {
    /// ATM total variance `θ > 0`.
    pub theta: f64,
    /// Correlation `|ρ| < 1`.
    pub rho: f64,
    /// `ψ = θφ > 0`.
    pub psi: f64,
}

impl EssviSlice {
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

    /// `w(k)`.
    pub fn w(&self, k: f64) -> f64 {
        let z = self.psi * k / self.theta + self.rho;
        0.5 * self.theta
            * (1.0
                + self.rho * self.psi * k / self.theta
                + (z * z + 1.0 - self.rho * self.rho).sqrt())
    }

    /// GJ Theorem 4.2 in `(θ, ρ, ψ)`: `ψ(1 + |ρ|) < 4` and `ψ²(1 + |ρ|) ≤ 4θ`.
    pub fn butterfly_sufficient(&self) -> bool {
        let r = 1.0 + self.rho.abs();
        self.psi * r < 4.0 && self.psi * self.psi * r <= 4.0 * self.theta
    }

    /// `min_k (w_later(k) − w_self(k))` over the real line and where: `≥ 0` means the later
    /// slice lies on or above this one everywhere (no calendar arbitrage between them).
    pub fn min_gap(&self, later: &EssviSlice) -> (f64, f64) {
        let scale = (self.theta / self.psi)
            .min(later.theta / later.psi)
            .max(1e-6);
        global_min(0.0, scale, |k| later.w(k) - self.w(k))
    }

    /// Checked slice.
    ///
    /// # Errors
    /// [`ParamError`] for `θ ≤ 0`, `|ρ| ≥ 1` or `ψ ≤ 0`.
    pub fn new(theta: f64, rho: f64, psi: f64) -> Result<Self, ParamError> {
        let err = |name, value, constraint| ParamError {
            model: "eSSVI",
            name,
            value,
            constraint,
        };
        if !(theta > 0.0) {
            return Err(err("theta", theta, "θ > 0"));
        }
        if !(rho.abs() < 1.0) {
            return Err(err("rho", rho, "|ρ| < 1"));
        }
        if !(psi > 0.0) {
            return Err(err("psi", psi, "ψ > 0"));
        }
        Ok(EssviSlice { theta, rho, psi })
    }
}

impl SmileModel for EssviSlice {
    fn total_variance(&self, k: f64) -> f64 {
        self.w(k)
    }
    fn dw_dk(&self, k: f64) -> f64 {
        self.to_svi().w_derivs(k).1
    }
    fn d2w_dk2(&self, k: f64) -> f64 {
        self.to_svi().w_derivs(k).2
    }
}
