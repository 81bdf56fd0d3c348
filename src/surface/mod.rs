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
//! * [`metrics`] — ATM vol, 25Δ risk reversal and butterfly, per expiry and at constant
//!   maturity (any `t`, read off the surface).
//! * [`diff`] — what moved between two surfaces: vols by tenor × delta, and per common expiry
//!   the vols and the parameter moves (`volfit diff`).
//! * [`flags`] — the review flags of each expiry, measured against its own bid/ask spread,
//!   with severities that rank expiries worst first.
//! * [`grid`] — the queries on `strikes × times` grids of ndarray views, rows in parallel.
//!
//! **Served smiles.** Each expiry is served as its fitted smile raised, where it would dip
//! below, to the previous served smile plus `σ_min²·Δt` (the pointwise maximum at fixed `k`:
//! [`envelope`], [`Extrapolation::min_forward_vol`]), so the served expiries increase in `t`
//! at every `k` of the real line, wings included, and each stays free of butterfly
//! arbitrage (the maximum of two call-price curves is one). Where the served smile switches
//! from one fit to another the density has an atom ([`FittedSurface::atoms`]).
//!
//! **Interpolation** between expiries `tᵢ < t < tᵢ₊₁` is linear in total variance at fixed
//! log-forward-moneyness `k = ln(K/F(t))`: `w(k, t) = (1−λ)w̃ᵢ(k) + λw̃ᵢ₊₁(k)`,
//! `λ = (t − tᵢ)/(tᵢ₊₁ − tᵢ)` between the served smiles, so `∂ₜw ≥ σ_min² > 0`. (Butterfly
//! freedom of the interpolated smiles is not implied by the nodes' and is checked by the
//! plane scan, [`arbitrage::plane_scan`], at five interior times per interval.) Forwards and
//! discount factors are interpolated log-linearly (constant rates between expiries), from the
//! spot at `t = 0` when the chain gives one.
//!
//! **Extrapolation** ([`Extrapolation`], stored in `surface.json`). Before the first expiry
//! the implied vol is flat in time at each `k`: `w(k, t) = w₁(k)·t/t₁` ([`BeforeFirst`]; free
//! of arbitrage by construction). After the last expiry the forward variance is constant:
//! `w(k, t) = w̃ₙ(k) + σ∞²(t − tₙ)` with `σ∞` the last interval's ATM forward vol or a given
//! one ([`AfterLast`]); local vol there is `σ∞/√g`. Either can refuse instead (NaN). In strike
//! the models' own wings are used: SVI fits keep Lee's bound `b(1 + |ρ|) ≤ 2`; SABR smiles
//! continue linearly in `w` beyond the scan range with the edge slope capped at Lee's bound.
//!
//! **Domain of the queries.** `t` finite and `> 0` (`≥ 0` for forwards and discount
//! factors); strikes finite and `> 0`; `k` finite.
//! Outside it every `f64` query returns NaN (never 0, never a panic), [`VolSurface::try_vol`]
//! says why, and [`VolSurface::local_vol`] returns `None`. Inside it an answer a double cannot
//! hold is no answer either: a vol of 0 or ±inf is NaN (an error from `try_vol`), and
//! [`VolSurface::try_price`] errs where the extrapolated forward overflows or the price is
//! below the normal range of doubles (a call struck at `10³⁰⁸`, a tiny `t`).
//!
//! **Derivatives and local vol.** `∂w/∂k`, `∂²w/∂k²` come from the models' analytic
//! derivatives, `∂w/∂t` from the interpolation (piecewise constant in `t` at fixed `k`; right
//! derivative at the expiries). Local vol is Dupire's formula in total-variance form (Gatheral,
//! *The Volatility Surface*, 2006, eq. 1.10); the density is Breeden–Litzenberger
//! `∂²C/∂K²` through Durrleman's `g` (Gatheral & Jacquier 2014, eq. 2.1).

pub mod arbitrage;
mod build;
pub mod diff;
pub mod envelope;
mod extrapolation;
mod file;
mod fitted;
pub mod flags;
pub mod grid;
mod interp;
pub mod metrics;
mod report;
mod report_file;
mod slice_model;
mod smile_section;

pub use crate::output::write_atomic;
pub use arbitrage::{
    ArbitrageReport, ButterflyStatus, CalendarAction, CalendarReport, CalendarViolation,
    PlaneFailure, PlaneGrid, PlanePoint, PlaneRegion, PlaneScan, ServedRange,
};
pub use build::{
    CalendarPolicy, CalibrationFailure, OUTLIER_MIN_VOL, OUTLIER_SPREADS, SurfaceModel,
    SurfaceOptions, calibrate_surface, calibrate_surface_from, calibrate_surface_from_or_report,
    calibrate_surface_or_report,
};
pub use extrapolation::{Location, TimeRegion};
pub use file::SURFACE_FORMAT_VERSION;
pub use fitted::{
    AfterLast, BeforeFirst, Between, Extrapolation, FittedSurface, MIN_SLICE_T, SurfaceError,
    SurfaceSlice, Wings,
};
pub use report::{
    ColdStart, FailedExpiry, PriorReport, QuotePoint, SliceRepair, SliceSummary, SurfaceReport,
    Timing,
};
pub use report_file::{DroppedRow, IngestStage, IngestSummary, RejectedRow, RunReport, RunSlice};
pub use slice_model::{SliceModel, SurfaceSmile, WingedSabr};
pub use smile_section::SmileSection;

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
    #[error("{what} is not finite ({})", Num(*value))]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// An input that must be positive is not.
    #[error("{what} must be positive, got {}", Num(*value))]
    NonPositive {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// The surface has no vol there: the total variance is negative, zero or not finite (e.g.
    /// it overflows where an extrapolated forward drives `k = ln(K/F(t))` out of reach).
    #[error(
        "the surface has no vol at strike {}, t = {} (total variance {})",
        Num(*strike),
        Num(*t),
        Num(*w)
    )]
    NoVol {
        /// Strike.
        strike: f64,
        /// Time.
        t: f64,
        /// The total variance found.
        w: f64,
    },
    /// The answer exists but a double cannot hold it: a forward beyond the range of doubles
    /// (a carry extrapolated over an enormous `t`), or a price below the normal range
    /// (`< 2⁻¹⁰²²`: far out of the money, or a tiny `t`), which would print as 0.
    #[error(
        "the {what} for strike {} at t = {} {} double precision ({})",
        Num(*strike),
        Num(*t),
        if value.abs() < 1.0 { "underflows" } else { "overflows" },
        Num(*value)
    )]
    Unrepresentable {
        /// Which number: `"forward"` or `"price"` (the CLI adds `"discount factor"` and
        /// `"discounted price"`).
        what: &'static str,
        /// Strike.
        strike: f64,
        /// Time.
        t: f64,
        /// The number as computed (0, subnormal or ±inf).
        value: f64,
    },
}

/// A number in messages: the shortest text that reads back to the same double, in exponent
/// form outside `[10⁻⁵, 10¹⁶)` (`Display` of `f64` never uses exponents, and spells `1e300`
/// in 301 digits).
///
/// ```
/// use volfit::surface::Num;
/// assert_eq!(Num(0.25).to_string(), "0.25");
/// assert_eq!(Num(1e300).to_string(), "1e300");
/// assert_eq!(Num(5e-324).to_string(), "5e-324");
/// assert_eq!(Num(f64::INFINITY).to_string(), "inf");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v == 0.0 || !v.is_finite() || (1e-5..1e16).contains(&v.abs()) {
            write!(f, "{v}")
        } else {
            write!(f, "{v:e}")
        }
    }
}

/// `t` finite and `≥ 0` (forwards and discount factors answer at `t = 0`: spot and 1).
fn time_or_zero(t: f64) -> bool {
    t.is_finite() && t >= 0.0
}

pub(crate) fn positive(what: &'static str, value: f64) -> Result<f64, QueryError> {
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

    /// Forward for expiry `t`; NaN unless `t` is finite and `≥ 0`, and where the forward is
    /// beyond the range of doubles (a carry extrapolated over an enormous `t`: never 0 or inf).
    fn forward(&self, t: f64) -> f64 {
        if time_or_zero(t) {
            let f = self.forward_impl(t);
            if f > 0.0 && f < f64::INFINITY {
                return f;
            }
        }
        f64::NAN
    }

    /// Discount factor to `t`, where known; `None` unless `t` is finite and `≥ 0`.
    fn discount(&self, t: f64) -> Option<f64> {
        if time_or_zero(t) {
            self.discount_impl(t)
        } else {
            None
        }
    }

    /// `w(k, t)` and its derivatives at `k = ln(K/F(t))`; all NaN outside the domain or where
    /// `w` is beyond the range of doubles (far wings extrapolated over an enormous `t`).
    fn variance_derivatives(&self, k: f64, t: f64) -> VarianceDerivatives {
        if k.is_finite() && positive("t", t).is_ok() {
            let d = self.variance_derivatives_impl(k, t);
            if d.w.is_finite() {
                return d;
            }
        }
        VarianceDerivatives::NAN
    }

    /// Total implied variance `w(k, t)`; NaN outside the domain or where `w` is beyond the
    /// range of doubles (never ±inf).
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        if k.is_finite() && positive("t", t).is_ok() {
            let w = self.total_variance_impl(k, t);
            if w.is_finite() {
                return w;
            }
        }
        f64::NAN
    }

    /// Black implied vol at `strike` for expiry `t`, or why there is none.
    ///
    /// # Errors
    /// [`QueryError`] for a strike or time that is not finite and positive, or where the
    /// surface has no vol ([`QueryError::NoVol`]: a total variance that is negative, zero or
    /// not finite; a vol of 0 or ±inf is never an answer).
    fn try_vol(&self, strike: f64, t: f64) -> Result<f64, QueryError> {
        positive("strike", strike)?;
        positive("t", t)?;
        let v = self.vol_impl(strike, t);
        if v > 0.0 && v < f64::INFINITY {
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
            if v > 0.0 && v < f64::INFINITY {
                v
            } else {
                f64::NAN
            }
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
    /// undiscounted call); NaN outside the domain, where `w ≤ 0`, or where the density is
    /// beyond the range of doubles (never ±inf).
    fn density(&self, strike: f64, t: f64) -> f64 {
        if positive("strike", strike).is_err() || positive("t", t).is_err() {
            return f64::NAN;
        }
        let k = (strike / self.forward_impl(t)).ln();
        let d = self.variance_derivatives_impl(k, t);
        let p = density_k(k, d.w, d.w_k, d.w_kk) / strike;
        if p.is_finite() { p } else { f64::NAN }
    }

    /// Undiscounted Black price at the surface's vol, or why there is none.
    ///
    /// # Errors
    /// Those of [`VolSurface::try_vol`], and [`QueryError::Unrepresentable`] where the forward
    /// `F(t)` is beyond the range of doubles or the price is below the normal range
    /// (`< 2⁻¹⁰²²`, e.g. a call struck at `10³⁰⁸`): never a price of 0, NaN or ±inf.
    ///
    /// ```
    /// use volfit::surface::{QueryError, VolSurface, VarianceDerivatives};
    /// use volfit::{black_price, OptionKind};
    /// struct Flat;
    /// impl VolSurface for Flat {
    ///     fn forward_impl(&self, t: f64) -> f64 { 100.0 * (0.03 * t).exp() }
    ///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
    ///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
    ///     }
    /// }
    /// let f = Flat.forward(1.0);
    /// let p = Flat.try_price(OptionKind::Call, 110.0, 1.0).unwrap();
    /// assert_eq!(p, black_price(OptionKind::Call, f, 110.0, 1.0, 0.2));
    /// // Struck at 1e308 the call is worth less than any normal double; after 1e5 years the
    /// // forward e^{3000}·100 overflows.
    /// for (k, t) in [(1e308, 1.0), (100.0, 1e5)] {
    ///     assert!(matches!(
    ///         Flat.try_price(OptionKind::Call, k, t),
    ///         Err(QueryError::Unrepresentable { .. })
    ///     ));
    ///     assert!(Flat.price(OptionKind::Call, k, t).is_nan());
    /// }
    /// ```
    fn try_price(&self, kind: OptionKind, strike: f64, t: f64) -> Result<f64, QueryError> {
        let v = self.try_vol(strike, t)?;
        let forward = self.forward_impl(t);
        let out_of_range = |what, value| QueryError::Unrepresentable {
            what,
            strike,
            t,
            value,
        };
        let normal = f64::MIN_POSITIVE..f64::INFINITY;
        if !normal.contains(&forward) {
            return Err(out_of_range("forward", forward));
        }
        let p = black_price(kind, forward, strike, t, v);
        if normal.contains(&p) {
            Ok(p)
        } else {
            Err(out_of_range("price", p))
        }
    }

    /// Undiscounted Black price at the surface's vol; NaN where [`VolSurface::try_price`]
    /// errs.
    fn price(&self, kind: OptionKind, strike: f64, t: f64) -> f64 {
        self.try_price(kind, strike, t).unwrap_or(f64::NAN)
    }
}
