//! The fitted volatility surface: the object pricers link against.
//!
//! * [`VolSurface`] — the trait any pricer can take as `&dyn VolSurface` (`Send + Sync`):
//!   forward, discount, total variance and its derivatives in log-moneyness and time, implied
//!   vol, Dupire local vol and the risk-neutral density, all from analytic derivatives.
//! * [`FittedSurface`] — per-expiry smiles (SVI or SABR) with interpolation and extrapolation
//!   in time, built by [`calibrate_surface`] and stored as versioned JSON (`surface.json`) that
//!   loads back bit for bit.
//!
//! **Interpolation** between expiries `tᵢ < t < tᵢ₊₁` is linear in total variance at fixed
//! log-forward-moneyness `k = ln(K/F(t))`: `w(k, t) = (1−λ)wᵢ(k) + λwᵢ₊₁(k)`,
//! `λ = (t − tᵢ)/(tᵢ₊₁ − tᵢ)`; it is free of calendar arbitrage wherever the expiries are
//! (`wᵢ₊₁ ≥ wᵢ`), which [`calibrate_surface`] checks on a dense grid. Forwards and discount
//! factors are interpolated log-linearly (constant rates between expiries), from the spot at
//! `t = 0` when the chain gives one.
//!
//! **Extrapolation.** Before the first expiry the implied vol is flat in time at each `k`:
//! `w(k, t) = w₁(k)·t/t₁` (so local vol is the first expiry's, scaled; a short-expiry policy
//! that keeps local vol finite and positive as `t → 0`). After the last expiry the forward
//! variance is flat at each `k`: `w(k, t) = wₙ(k) + (t − tₙ)·max(0, ∂ₜw)` with `∂ₜw` of the
//! last interval (`wₙ/tₙ` for a single expiry). In strike the models' own wings are used: SVI
//! fits keep Lee's bound `b(1 + |ρ|) ≤ 2`; SABR smiles continue linearly in `w` beyond the
//! scan range with the edge slope capped at Lee's bound.
//!
//! **Derivatives and local vol.** `∂w/∂k`, `∂²w/∂k²` come from the models' analytic
//! derivatives, `∂w/∂t` from the interpolation (piecewise constant in `t` at fixed `k`; right
//! derivative at the expiries). Local vol is Dupire's formula in total-variance form (Gatheral,
//! *The Volatility Surface*, 2006, eq. 1.10); the density is Breeden–Litzenberger
//! `∂²C/∂K²` through Durrleman's `g` (Gatheral & Jacquier 2014, eq. 2.1).

mod build;
mod report_file;

pub use build::{
    CalendarPolicy, CalendarReport, CalendarViolation, QuotePoint, SliceSummary, SurfaceModel,
    SurfaceOptions, SurfaceReport, Timing, calibrate_surface,
};
pub use report_file::{IngestSummary, RejectedRow, RunReport};

use crate::black::{OptionKind, black_price};
use crate::models::SmileModel;
use crate::models::durrleman;
use crate::models::sabr::Sabr;
use crate::models::svi::Svi;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// Risk-neutral density of `F_T` at strike `K = F·eᵏ`: `q(K) = g(k)/(K√(2πw))·e^{−d₋²/2}`,
/// `d₋ = −k/√w − √w/2` (Gatheral & Jacquier 2014, eq. 2.1).
pub fn density_from(k: f64, strike: f64, d: &VarianceDerivatives) -> f64 {
    if !(d.w > 0.0) {
        return 0.0;
    }
    let sw = d.w.sqrt();
    let dm = -k / sw - 0.5 * sw;
    durrleman(k, d.w, d.w_k, d.w_kk) / (strike * (2.0 * std::f64::consts::PI * d.w).sqrt())
        * (-0.5 * dm * dm).exp()
}

/// A volatility surface: what a pricer needs, for any `t > 0` and strike `K > 0`.
///
/// Implementors give the forward and `w(k, t)` with its derivatives; implied vol, local vol,
/// density and prices follow. All methods are thread-safe queries.
///
/// ```
/// use volfit::surface::{VolSurface, VarianceDerivatives};
/// /// A flat 20% surface on a 3% carry.
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward(&self, t: f64) -> f64 { 100.0 * (0.03 * t).exp() }
///     fn variance_derivatives(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let s: &dyn VolSurface = &Flat;
/// assert!((s.vol(120.0, 0.5) - 0.2).abs() < 1e-15);
/// assert!((s.local_vol(80.0, 2.0).unwrap() - 0.2).abs() < 1e-15);
/// ```
pub trait VolSurface: Send + Sync {
    /// Forward for expiry `t`.
    fn forward(&self, t: f64) -> f64;

    /// Discount factor to `t`, where known.
    fn discount(&self, _t: f64) -> Option<f64> {
        None
    }

    /// `w(k, t)` and its derivatives at log-forward-moneyness `k = ln(K/F(t))`.
    fn variance_derivatives(&self, k: f64, t: f64) -> VarianceDerivatives;

    /// Total implied variance `w(k, t)`.
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        self.variance_derivatives(k, t).w
    }

    /// Black implied vol at `strike` for expiry `t`.
    fn vol(&self, strike: f64, t: f64) -> f64 {
        let k = (strike / self.forward(t)).ln();
        (self.total_variance(k, t).max(0.0) / t).sqrt()
    }

    /// Dupire local vol at `(strike, t)` (Gatheral 2006, eq. 1.10); `None` where the surface
    /// has arbitrage there (non-positive denominator or negative `∂ₜw`).
    fn local_vol(&self, strike: f64, t: f64) -> Option<f64> {
        let k = (strike / self.forward(t)).ln();
        local_variance(k, &self.variance_derivatives(k, t)).map(f64::sqrt)
    }

    /// Risk-neutral density of the underlying at expiry `t`, at `strike` (`∂²C/∂K²` of the
    /// undiscounted call).
    fn density(&self, strike: f64, t: f64) -> f64 {
        let k = (strike / self.forward(t)).ln();
        density_from(k, strike, &self.variance_derivatives(k, t))
    }

    /// Undiscounted Black price at the surface's vol.
    fn price(&self, kind: OptionKind, strike: f64, t: f64) -> f64 {
        black_price(kind, self.forward(t), strike, t, self.vol(strike, t))
    }
}

/// The smile model of one expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum SliceModel {
    /// Raw SVI in total variance.
    Svi(Svi),
    /// SABR (any expansion); beyond `wings` (in `k`) the total variance continues linearly with
    /// the edge slope capped at Lee's bound.
    Sabr {
        /// The smile.
        sabr: Sabr,
        /// `[k_lo, k_hi]` where the formula is used.
        wings: [f64; 2],
    },
}

/// Lee's moment bound on the wing slope of `w`, with a hair of margin.
const LEE_SLOPE: f64 = 2.0 * (1.0 - 1e-9);

impl SliceModel {
    /// `w(k)`.
    #[inline]
    pub fn w(&self, k: f64) -> f64 {
        match self {
            SliceModel::Svi(s) => s.w(k),
            SliceModel::Sabr { sabr, wings } => {
                if k < wings[0] || k > wings[1] {
                    self.w_derivs(k).0
                } else {
                    sabr_w(sabr, k)
                }
            }
        }
    }

    /// `(w, w', w'')` at `k`.
    #[inline]
    pub fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        match self {
            SliceModel::Svi(s) => s.w_derivs(k),
            SliceModel::Sabr { sabr, wings } => {
                let edge = if k < wings[0] {
                    wings[0]
                } else if k > wings[1] {
                    wings[1]
                } else {
                    return (sabr.total_variance(k), sabr.dw_dk(k), sabr.d2w_dk2(k));
                };
                let w0 = sabr.total_variance(edge);
                let s = sabr.dw_dk(edge).clamp(-LEE_SLOPE, LEE_SLOPE);
                ((w0 + s * (k - edge)).max(0.0), s, 0.0)
            }
        }
    }
}

/// SABR total variance at `k` without derivatives (fast path of [`SliceModel::w`]).
#[inline]
fn sabr_w(s: &Sabr, k: f64) -> f64 {
    if s.expansion.is_normal() {
        s.total_variance(k)
    } else {
        let v = s.vol((s.forward + s.shift) * k.exp() - s.shift);
        v * v * s.t
    }
}

/// One expiry of a [`FittedSurface`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceSlice {
    /// Expiry instant, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry in years.
    pub t: f64,
    /// Forward.
    pub forward: f64,
    /// Discount factor.
    pub discount: f64,
    /// The smile.
    pub model: SliceModel,
    /// `[k_min, k_max]` of the quotes it was fitted to, where known (the calendar check's
    /// domain).
    #[serde(default)]
    pub quoted_k: Option<[f64; 2]>,
}

/// The current `surface.json` format version.
pub const SURFACE_FORMAT_VERSION: u32 = 1;

/// The stored form of a surface (`surface.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SurfaceFile {
    format: String,
    version: u32,
    underlying: String,
    as_of: Option<DateTime<Utc>>,
    spot: Option<f64>,
    slices: Vec<SurfaceSlice>,
}

/// A calibrated implied-volatility surface (see the [module documentation](self) for the
/// interpolation and extrapolation rules).
///
/// Immutable once built, `Send + Sync`: share it behind an `Arc` across threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SurfaceFile", into = "SurfaceFile")]
pub struct FittedSurface {
    underlying: String,
    as_of: Option<DateTime<Utc>>,
    spot: Option<f64>,
    slices: Vec<SurfaceSlice>,
    /// Node times for forwards and discounts (with `t = 0` when the spot is known).
    node_t: Vec<f64>,
    node_ln_f: Vec<f64>,
    node_ln_d: Vec<f64>,
}

/// Why a surface cannot be built or loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SurfaceError {
    /// No expiry could be fitted.
    #[error("no expiry could be fitted: {0}")]
    Empty(String),
    /// A slice is invalid.
    #[error("slice {index} (t = {t}): {reason}")]
    BadSlice {
        /// Position in the file.
        index: usize,
        /// Its time.
        t: f64,
        /// What is wrong.
        reason: String,
    },
    /// Wrong file format or version.
    #[error("not a volfit surface file: {0}")]
    Format(String),
    /// Reading or parsing failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}

impl TryFrom<SurfaceFile> for FittedSurface {
    type Error = SurfaceError;
    fn try_from(f: SurfaceFile) -> Result<Self, SurfaceError> {
        if f.format != "volfit-surface" {
            return Err(SurfaceError::Format(format!("format {:?}", f.format)));
        }
        if f.version != SURFACE_FORMAT_VERSION {
            return Err(SurfaceError::Format(format!(
                "version {} (this build reads {SURFACE_FORMAT_VERSION})",
                f.version
            )));
        }
        FittedSurface::new(f.underlying, f.as_of, f.spot, f.slices)
    }
}

impl From<FittedSurface> for SurfaceFile {
    fn from(s: FittedSurface) -> Self {
        SurfaceFile {
            format: "volfit-surface".into(),
            version: SURFACE_FORMAT_VERSION,
            underlying: s.underlying,
            as_of: s.as_of,
            spot: s.spot,
            slices: s.slices,
        }
    }
}

/// Where `t` falls: `Before` the first expiry, `Between(i, λ)` expiries `i` and `i + 1`, or
/// `After` the last.
#[derive(Clone, Copy)]
enum Loc {
    Before,
    Between(usize, f64),
    After,
}

impl FittedSurface {
    /// A surface from its slices (sorted here by `t`).
    ///
    /// # Errors
    /// [`SurfaceError`] if there are no slices, two share a time, or a time, forward,
    /// discount or model parameter is out of its domain.
    pub fn new(
        underlying: String,
        as_of: Option<DateTime<Utc>>,
        spot: Option<f64>,
        mut slices: Vec<SurfaceSlice>,
    ) -> Result<Self, SurfaceError> {
        if slices.is_empty() {
            return Err(SurfaceError::Empty("no slices".into()));
        }
        slices.sort_by(|a, b| a.t.total_cmp(&b.t));
        for (index, s) in slices.iter().enumerate() {
            let bad = |reason: String| SurfaceError::BadSlice {
                index,
                t: s.t,
                reason,
            };
            if !(s.t > 0.0 && s.t.is_finite()) {
                return Err(bad("time must be finite and > 0".into()));
            }
            if !(s.forward > 0.0 && s.forward.is_finite()) {
                return Err(bad("forward must be finite and > 0".into()));
            }
            if !(s.discount > 0.0 && s.discount.is_finite()) {
                return Err(bad("discount must be finite and > 0".into()));
            }
            if index > 0 && s.t <= slices[index - 1].t {
                return Err(bad("two slices share a time".into()));
            }
            match &s.model {
                SliceModel::Svi(m) => {
                    Svi::new(m.a, m.b, m.rho, m.m, m.sigma).map_err(|e| bad(e.to_string()))?;
                }
                SliceModel::Sabr { sabr, wings } => {
                    sabr.validate().map_err(|e| bad(e.to_string()))?;
                    if !(wings[0] < wings[1]) {
                        return Err(bad("SABR wings must satisfy k_lo < k_hi".into()));
                    }
                }
            }
        }
        let spot = spot.filter(|s| *s > 0.0 && s.is_finite());
        let mut node_t = Vec::with_capacity(slices.len() + 1);
        let mut node_ln_f = Vec::with_capacity(slices.len() + 1);
        let mut node_ln_d = Vec::with_capacity(slices.len() + 1);
        if let Some(s) = spot {
            node_t.push(0.0);
            node_ln_f.push(s.ln());
            node_ln_d.push(0.0);
        }
        for s in &slices {
            node_t.push(s.t);
            node_ln_f.push(s.forward.ln());
            node_ln_d.push(s.discount.ln());
        }
        Ok(FittedSurface {
            underlying,
            as_of,
            spot,
            slices,
            node_t,
            node_ln_f,
            node_ln_d,
        })
    }

    /// The underlying's name.
    pub fn underlying(&self) -> &str {
        &self.underlying
    }

    /// Snapshot time of the data.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The expiries.
    pub fn slices(&self) -> &[SurfaceSlice] {
        &self.slices
    }

    /// Writes `surface.json`.
    ///
    /// # Errors
    /// [`SurfaceError::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<(), SurfaceError> {
        let p = path.as_ref();
        let io = |e: &dyn std::fmt::Display| SurfaceError::Io {
            path: p.display().to_string(),
            reason: e.to_string(),
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| io(&e))?;
        std::fs::write(p, json).map_err(|e| io(&e))
    }

    /// Reads `surface.json`.
    ///
    /// # Errors
    /// [`SurfaceError::Io`] when the file cannot be read or parsed (the message names the
    /// line and column), or the errors of [`FittedSurface::new`].
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, SurfaceError> {
        let p = path.as_ref();
        let io = |e: &dyn std::fmt::Display| SurfaceError::Io {
            path: p.display().to_string(),
            reason: e.to_string(),
        };
        let text = std::fs::read_to_string(p).map_err(|e| io(&e))?;
        serde_json::from_str(&text).map_err(|e| io(&e))
    }

    #[inline]
    fn locate(&self, t: f64) -> Loc {
        let s = &self.slices;
        let n = s.len();
        if t <= s[0].t {
            return Loc::Before;
        }
        if t >= s[n - 1].t {
            return Loc::After;
        }
        // Last slice with t_i <= t (n is small; binary search over the sorted times).
        let i = s.partition_point(|x| x.t <= t) - 1;
        Loc::Between(i, (t - s[i].t) / (s[i + 1].t - s[i].t))
    }

    /// Log-linear interpolation of node values `ys` at `t` (linear extrapolation of the log
    /// beyond the last node, flat before the first when it is not `t = 0`).
    #[inline]
    fn log_interp(&self, ys: &[f64], t: f64) -> f64 {
        let ts = &self.node_t;
        let n = ts.len();
        if n == 1 || t <= ts[0] {
            return ys[0].exp();
        }
        let i = (ts.partition_point(|x| *x <= t)).clamp(1, n - 1) - 1;
        let l = (t - ts[i]) / (ts[i + 1] - ts[i]);
        (ys[i] + l * (ys[i + 1] - ys[i])).exp()
    }

    /// `ln F(t)` given the location of `t` among the expiries (no second search).
    #[inline]
    fn ln_forward_at(&self, t: f64, loc: Loc) -> f64 {
        let o = usize::from(self.spot.is_some());
        let y = &self.node_ln_f;
        let nodes = |j: usize, l: f64| y[j] + l * (y[j + 1] - y[j]);
        match loc {
            Loc::Between(i, l) => nodes(i + o, l),
            Loc::Before => {
                if o == 1 {
                    nodes(0, t / self.node_t[1])
                } else {
                    y[0]
                }
            }
            Loc::After => {
                let n = y.len();
                if n == 1 {
                    y[0]
                } else {
                    let (ta, tb) = (self.node_t[n - 2], self.node_t[n - 1]);
                    nodes(n - 2, (t - ta) / (tb - ta))
                }
            }
        }
    }

    /// `w` with its `k`- and `t`-derivatives, given the location.
    #[inline]
    fn derivs_at(&self, k: f64, t: f64, loc: Loc) -> VarianceDerivatives {
        let s = &self.slices;
        match loc {
            Loc::Before => {
                let (w, w1, w2) = s[0].model.w_derivs(k);
                let r = t / s[0].t;
                VarianceDerivatives {
                    w: w * r,
                    w_k: w1 * r,
                    w_kk: w2 * r,
                    w_t: w / s[0].t,
                }
            }
            Loc::Between(i, l) => {
                let (a, a1, a2) = s[i].model.w_derivs(k);
                let (b, b1, b2) = s[i + 1].model.w_derivs(k);
                VarianceDerivatives {
                    w: a + l * (b - a),
                    w_k: a1 + l * (b1 - a1),
                    w_kk: a2 + l * (b2 - a2),
                    w_t: (b - a) / (s[i + 1].t - s[i].t),
                }
            }
            Loc::After => {
                let n = s.len();
                let (w, w1, w2) = s[n - 1].model.w_derivs(k);
                let (slope, s1, s2) = if n == 1 {
                    (w / s[0].t, w1 / s[0].t, w2 / s[0].t)
                } else {
                    let (p, p1, p2) = s[n - 2].model.w_derivs(k);
                    let dt = s[n - 1].t - s[n - 2].t;
                    ((w - p) / dt, (w1 - p1) / dt, (w2 - p2) / dt)
                };
                let dt = t - s[n - 1].t;
                if slope > 0.0 {
                    VarianceDerivatives {
                        w: w + dt * slope,
                        w_k: w1 + dt * s1,
                        w_kk: w2 + dt * s2,
                        w_t: slope,
                    }
                } else {
                    VarianceDerivatives {
                        w,
                        w_k: w1,
                        w_kk: w2,
                        w_t: 0.0,
                    }
                }
            }
        }
    }

    /// `w(k, t)` alone (the fast path of [`VolSurface::total_variance`]).
    #[inline]
    fn w_at(&self, k: f64, t: f64, loc: Loc) -> f64 {
        let s = &self.slices;
        match loc {
            Loc::Before => s[0].model.w(k) * (t / s[0].t),
            Loc::Between(i, l) => {
                let a = s[i].model.w(k);
                a + l * (s[i + 1].model.w(k) - a)
            }
            Loc::After => self.derivs_at(k, t, loc).w,
        }
    }
}

/// Butterfly status of one expiry ([`FittedSurface::arbitrage_check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButterflyStatus {
    /// Time to expiry.
    pub t: f64,
    /// Minimum of Durrleman's `g` (SVI: over the real line; SABR: over the density scan).
    pub min_g: f64,
    /// Free of butterfly arbitrage.
    pub free: bool,
}

/// Static-arbitrage report of a stored surface (what `volfit check` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArbitrageReport {
    /// Per expiry.
    pub butterfly: Vec<ButterflyStatus>,
    /// Calendar check between consecutive expiries.
    pub calendar: CalendarReport,
    /// No butterfly or calendar arbitrage found.
    pub arbitrage_free: bool,
}

impl FittedSurface {
    /// Checks the stored surface for static arbitrage: butterfly per expiry (SVI: exact
    /// `min g` over the real line; SABR: the density scan), and calendar between consecutive
    /// expiries on 201 points of the union of their quoted `k` ranges (as [`calibrate_surface`]
    /// does), or of `k ∈ ±4√w_later(0)` (at least `±0.25`) for slices without one.
    /// Interpolation between expiries is linear in `w`, so the expiries decide calendar
    /// arbitrage.
    pub fn arbitrage_check(&self) -> ArbitrageReport {
        let butterfly: Vec<ButterflyStatus> = self
            .slices
            .iter()
            .map(|s| {
                let min_g = match &s.model {
                    SliceModel::Svi(m) => m.min_g().1,
                    SliceModel::Sabr { sabr, .. } => sabr.butterfly_scan().min_g,
                };
                let free = match &s.model {
                    SliceModel::Svi(m) => m.is_butterfly_free(),
                    SliceModel::Sabr { sabr, .. } => sabr.butterfly_scan().is_free(),
                };
                ButterflyStatus {
                    t: s.t,
                    min_g,
                    free,
                }
            })
            .collect();
        let mut violations = Vec::new();
        let mut range = [0.0f64, 0.0f64];
        for i in 1..self.slices.len() {
            let (a, b) = (&self.slices[i - 1], &self.slices[i]);
            let (lo, hi) = if let (Some(x), Some(y)) = (a.quoted_k, b.quoted_k) {
                (x[0].min(y[0]), x[1].max(y[1]))
            } else {
                let half = (4.0 * b.model.w(0.0).max(0.0).sqrt()).max(0.25);
                (-half, half)
            };
            range = [range[0].min(lo), range[1].max(hi)];
            let g = build::grid(lo, hi, build::CALENDAR_POINTS);
            let (short, k_range) = build::shortfall(&g, &a.model, &b.model);
            if short > 0.0 {
                violations.push(CalendarViolation {
                    t_earlier: a.t,
                    t_later: b.t,
                    k_range,
                    shortfall: short,
                    remaining: short,
                    action: "reported".into(),
                });
            }
        }
        let ts: Vec<f64> = self.slices.iter().map(|s| s.t).collect();
        let models: Vec<SliceModel> = self.slices.iter().map(|s| s.model).collect();
        let calendar = CalendarReport {
            k_range: range,
            points: build::CALENDAR_POINTS,
            calendar_free: violations.is_empty(),
            violations,
            wing_crossings: build::wing_crossings(&ts, &models),
        };
        ArbitrageReport {
            arbitrage_free: calendar.calendar_free && butterfly.iter().all(|b| b.free),
            butterfly,
            calendar,
        }
    }
}

impl VolSurface for FittedSurface {
    #[inline]
    fn forward(&self, t: f64) -> f64 {
        self.log_interp(&self.node_ln_f, t)
    }

    fn discount(&self, t: f64) -> Option<f64> {
        if self.spot.is_none() {
            // Without a t = 0 node, anchor the discount curve at D(0) = 1.
            let ts = &self.node_t;
            if t <= ts[0] {
                return Some((self.node_ln_d[0] * t / ts[0]).exp());
            }
        }
        Some(self.log_interp(&self.node_ln_d, t))
    }

    fn variance_derivatives(&self, k: f64, t: f64) -> VarianceDerivatives {
        self.derivs_at(k, t, self.locate(t))
    }

    #[inline]
    fn total_variance(&self, k: f64, t: f64) -> f64 {
        self.w_at(k, t, self.locate(t))
    }

    #[inline]
    fn vol(&self, strike: f64, t: f64) -> f64 {
        let loc = self.locate(t);
        let k = strike.ln() - self.ln_forward_at(t, loc);
        (self.w_at(k, t, loc).max(0.0) / t).sqrt()
    }
}
