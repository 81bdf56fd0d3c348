//! The fitted volatility surface: the object pricers link against.
//!
//! * [`VolSurface`] — the trait any pricer can take as `&dyn VolSurface` (`Send + Sync`):
//!   forward, discount, total variance and its derivatives in log-moneyness and time, implied
//!   vol, Dupire local vol and the risk-neutral density, all from analytic derivatives. Its
//!   public methods check their inputs and have a documented domain; implementors provide the
//!   unchecked `*_impl` methods.
//! * [`FittedSurface`] — per-expiry smiles ([`SliceModel`]) with interpolation and
//!   extrapolation in time, built by [`calibrate_surface`] and stored as versioned JSON
//!   (`surface.json`) that loads back bit for bit.
//! * [`arbitrage`] — the static-arbitrage verdict of a surface (butterfly per expiry, calendar
//!   between expiries), used by the build, `volfit check`, the charts and the report.
//! * [`metrics`] — ATM vol, 25Δ risk reversal and butterfly, review flags.
//! * [`grid`] — the queries on `strikes × times` grids of ndarray views, rows in parallel.
//!
//! **Interpolation** between expiries `tᵢ < t < tᵢ₊₁` is linear in total variance at fixed
//! log-forward-moneyness `k = ln(K/F(t))`: `w(k, t) = (1−λ)wᵢ(k) + λwᵢ₊₁(k)`,
//! `λ = (t − tᵢ)/(tᵢ₊₁ − tᵢ)`; it is free of calendar arbitrage wherever the expiries are
//! (`wᵢ₊₁ ≥ wᵢ`), which [`calibrate_surface`] checks. Forwards and discount factors are
//! interpolated log-linearly (constant rates between expiries), from the spot at `t = 0` when
//! the chain gives one.
//!
//! **Extrapolation.** Before the first expiry the implied vol is flat in time at each `k`:
//! `w(k, t) = w₁(k)·t/t₁` (so local vol is the first expiry's, scaled; a short-expiry policy
//! that keeps local vol finite and positive as `t → 0`). After the last expiry the forward
//! variance is flat at each `k`: `w(k, t) = wₙ(k) + (t − tₙ)·max(0, ∂ₜw)` with `∂ₜw` of the
//! last interval (`wₙ/tₙ` for a single expiry). In strike the models' own wings are used: SVI
//! fits keep Lee's bound `b(1 + |ρ|) ≤ 2`; SABR smiles continue linearly in `w` beyond the
//! scan range with the edge slope capped at Lee's bound.
//!
//! **Domain of the queries.** `t` finite and `> 0` (`≥ 0` for forwards and discount
//! factors); strikes finite and `> 0`; `k` finite.
//! Outside it every `f64` query returns NaN (never 0, never a panic), [`VolSurface::try_vol`]
//! says why, and [`VolSurface::local_vol`] returns `None`.
//!
//! **Derivatives and local vol.** `∂w/∂k`, `∂²w/∂k²` come from the models' analytic
//! derivatives, `∂w/∂t` from the interpolation (piecewise constant in `t` at fixed `k`; right
//! derivative at the expiries). Local vol is Dupire's formula in total-variance form (Gatheral,
//! *The Volatility Surface*, 2006, eq. 1.10); the density is Breeden–Litzenberger
//! `∂²C/∂K²` through Durrleman's `g` (Gatheral & Jacquier 2014, eq. 2.1).

pub mod arbitrage;
mod build;
mod file;
mod fitted;
pub mod grid;
pub mod metrics;
mod report;
mod report_file;
mod slice_model;

pub use crate::output::write_atomic;
pub use arbitrage::{
    ArbitrageReport, ButterflyStatus, CalendarAction, CalendarReport, CalendarViolation,
};
pub use build::{CalendarPolicy, SurfaceModel, SurfaceOptions, calibrate_surface};
pub use file::SURFACE_FORMAT_VERSION;
pub use fitted::{FittedSurface, MIN_SLICE_T, SurfaceError, SurfaceSlice};
pub use report::{FailedExpiry, QuotePoint, SliceSummary, SurfaceReport, Timing};
pub use report_file::{DroppedRow, IngestStage, IngestSummary, RejectedRow, RunReport};
pub use slice_model::{SliceModel, SurfaceSmile, WingedSabr};

use crate::black::{OptionKind, black_price};
use crate::models::arbitrage::{density_k, durrleman};

/// Total variance and its derivatives at one point `(k, t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarianceDerivatives {
    /// `w = σ²t`.
    pub w: f64,
    /// `∂w/∂k`.
    pub w_k: f64,
    /// `∂²w/∂k²`.
    pub w_kk: f64,
    /// `∂w/∂t` at fixed `k`.
    pub w_t: f64,
}

impl VarianceDerivatives {
    /// All NaN: the answer outside the queries' domain.
    pub const NAN: VarianceDerivatives = VarianceDerivatives {
        w: f64::NAN,
        w_k: f64::NAN,
        w_kk: f64::NAN,
        w_t: f64::NAN,
    };
}

/// Dupire local variance in total-variance form (Gatheral 2006, eq. 1.10):
/// `σ_loc² = ∂ₜw / (1 − (k/w)w_k + ¼(−¼ − 1/w + k²/w²)w_k² + ½w_kk)`; the denominator is
/// Durrleman's `g`. Returns `None` where it is not positive (arbitrage) or `w ≤ 0`.
pub fn local_variance(k: f64, d: &VarianceDerivatives) -> Option<f64> {
    if !(d.w > 0.0) {
        return None;
    }
    let g = durrleman(k, d.w, d.w_k, d.w_kk);
    let v = d.w_t / g;
    (g > 0.0 && v >= 0.0 && v.is_finite()).then_some(v)
}

/// Why a surface query has no answer.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// An input is NaN or infinite.
    #[error("{what} is not finite ({value})")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// An input that must be positive is not.
    #[error("{what} must be positive, got {value}")]
    NonPositive {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// The surface has no vol there (negative or non-finite total variance).
    #[error("the surface has no vol at strike {strike}, t = {t} (total variance {w})")]
    NoVol {
        /// Strike.
        strike: f64,
        /// Time.
        t: f64,
        /// The total variance found.
        w: f64,
    },
}

/// `t` finite and `≥ 0` (forwards and discount factors answer at `t = 0`: spot and 1).
fn time_or_zero(t: f64) -> bool {
    t.is_finite() && t >= 0.0
}

fn positive(what: &'static str, value: f64) -> Result<f64, QueryError> {
    if !value.is_finite() {
        Err(QueryError::NonFinite { what, value })
    } else if !(value > 0.0) {
        Err(QueryError::NonPositive { what, value })
    } else {
        Ok(value)
    }
}

/// A volatility surface: what a pricer needs, for any `t > 0` and strike `K > 0`.
///
/// Implementors give the `*_impl` methods (called only inside the domain: `t` finite and
/// `> 0`, `k` finite, strikes finite and `> 0`); the public methods check the inputs and return
/// NaN (or `None`, or an error from [`VolSurface::try_vol`]) outside that domain — they are
/// not meant to be overridden. All methods are thread-safe queries.
///
/// ```
/// use volfit::surface::{VolSurface, VarianceDerivatives};
/// /// A flat 20% surface on a 3% carry.
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, t: f64) -> f64 { 100.0 * (0.03 * t).exp() }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let s: &dyn VolSurface = &Flat;
/// assert!((s.vol(120.0, 0.5) - 0.2).abs() < 1e-15);
/// assert!((s.local_vol(80.0, 2.0).unwrap() - 0.2).abs() < 1e-15);
/// assert!(s.vol(-1.0, 0.5).is_nan() && s.vol(100.0, f64::NAN).is_nan());
/// assert!(s.try_vol(100.0, -1.0).is_err());
/// ```
pub trait VolSurface: Send + Sync {
    /// Forward for expiry `t` (`t` finite, `≥ 0`; at `0` the spot where known).
    fn forward_impl(&self, t: f64) -> f64;

    /// Discount factor to `t`, where known (`t` finite, `≥ 0`).
    fn discount_impl(&self, _t: f64) -> Option<f64> {
        None
    }

    /// `w(k, t)` and its derivatives at log-forward-moneyness `k = ln(K/F(t))` (`k` finite,
    /// `t` finite and `> 0`).
    fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives;

    /// Total implied variance `w(k, t)` (a fast path; the default reads
    /// [`VolSurface::variance_derivatives_impl`]).
    fn total_variance_impl(&self, k: f64, t: f64) -> f64 {
        self.variance_derivatives_impl(k, t).w
    }

    /// Black implied vol at `strike` for expiry `t` (a fast path; NaN where `w < 0`).
    fn vol_impl(&self, strike: f64, t: f64) -> f64 {
        let k = (strike / self.forward_impl(t)).ln();
        let w = self.total_variance_impl(k, t);
        if w >= 0.0 { (w / t).sqrt() } else { f64::NAN }
    }

    /// Forward for expiry `t`; NaN unless `t` is finite and `≥ 0`.
    fn forward(&self, t: f64) -> f64 {
        if time_or_zero(t) {
            self.forward_impl(t)
        } else {
            f64::NAN
        }
    }

    /// Discount factor to `t`, where known; `None` unless `t` is finite and `≥ 0`.
    fn discount(&self, t: f64) -> Option<f64> {
        if time_or_zero(t) {
            self.discount_impl(t)
        } else {
            None
        }
    }

    /// `w(k, t)` and its derivatives at `k = ln(K/F(t))`; all NaN outside the domain.
    fn variance_derivatives(&self, k: f64, t: f64) -> VarianceDerivatives {
        if k.is_finite() && positive("t", t).is_ok() {
            self.variance_derivatives_impl(k, t)
        } else {
            VarianceDerivatives::NAN
        }
    }

    /// Total implied variance `w(k, t)`; NaN outside the domain.
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        if k.is_finite() && positive("t", t).is_ok() {
            self.total_variance_impl(k, t)
        } else {
            f64::NAN
        }
    }

    /// Black implied vol at `strike` for expiry `t`, or why there is none.
    ///
    /// # Errors
    /// [`QueryError`] for a strike or time that is not finite and positive, or where the
    /// surface has no vol.
    fn try_vol(&self, strike: f64, t: f64) -> Result<f64, QueryError> {
        positive("strike", strike)?;
        positive("t", t)?;
        let v = self.vol_impl(strike, t);
        if v.is_finite() {
            Ok(v)
        } else {
            let k = (strike / self.forward_impl(t)).ln();
            Err(QueryError::NoVol {
                strike,
                t,
                w: self.total_variance_impl(k, t),
            })
        }
    }

    /// Black implied vol at `strike` for expiry `t`; NaN where [`VolSurface::try_vol`] errs.
    #[inline]
    fn vol(&self, strike: f64, t: f64) -> f64 {
        // NaN fails every comparison: this is `positive(strike) && positive(t)`.
        if strike > 0.0 && strike < f64::INFINITY && t > 0.0 && t < f64::INFINITY {
            let v = self.vol_impl(strike, t);
            if v.is_finite() { v } else { f64::NAN }
        } else {
            f64::NAN
        }
    }

    /// Dupire local vol at `(strike, t)` (Gatheral 2006, eq. 1.10); `None` outside the domain
    /// or where the surface has arbitrage there (non-positive denominator or negative `∂ₜw`).
    fn local_vol(&self, strike: f64, t: f64) -> Option<f64> {
        positive("strike", strike).ok()?;
        positive("t", t).ok()?;
        let k = (strike / self.forward_impl(t)).ln();
        local_variance(k, &self.variance_derivatives_impl(k, t)).map(f64::sqrt)
    }

    /// Risk-neutral density of the underlying at expiry `t` per unit strike (`∂²C/∂K²` of the
    /// undiscounted call); NaN outside the domain or where `w ≤ 0`.
    fn density(&self, strike: f64, t: f64) -> f64 {
        if positive("strike", strike).is_err() || positive("t", t).is_err() {
            return f64::NAN;
        }
        let k = (strike / self.forward_impl(t)).ln();
        let d = self.variance_derivatives_impl(k, t);
        density_k(k, d.w, d.w_k, d.w_kk) / strike
    }

    /// Undiscounted Black price at the surface's vol; NaN outside the domain.
    fn price(&self, kind: OptionKind, strike: f64, t: f64) -> f64 {
        match self.try_vol(strike, t) {
            Ok(v) => black_price(kind, self.forward_impl(t), strike, t, v),
            Err(_) => f64::NAN,
        }
    }
}
