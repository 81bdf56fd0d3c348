//! [`FittedSurface`]: the per-expiry smiles of a calibrated surface, the interpolation and
//! extrapolation in time, and the queries (see the [parent module](super) for the rules).

use super::arbitrage::{ArbitrageReport, butterflies, calendar_report};
use super::{SliceModel, VarianceDerivatives, VolSurface};
use crate::slice::DayCount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

/// A calibrated implied-volatility surface (see the [module documentation](super) for the
/// interpolation and extrapolation rules).
///
/// Immutable once built, `Send + Sync`: share it behind an `Arc` across threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "super::file::SurfaceFile",
    into = "super::file::SurfaceFile"
)]
pub struct FittedSurface {
    pub(super) underlying: String,
    pub(super) as_of: Option<DateTime<Utc>>,
    pub(super) spot: Option<f64>,
    pub(super) slices: Vec<SurfaceSlice>,
    /// How the slices' `t` relate to dates (`surface.json`'s `day_count`).
    pub(super) day_count: DayCount,
    /// Node times for forwards and discounts (with `t = 0` when the spot is known).
    node_t: Vec<f64>,
    node_ln_f: Vec<f64>,
    node_ln_d: Vec<f64>,
}

/// Why a surface cannot be built, saved or loaded.
#[derive(Debug, thiserror::Error)]
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
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// [`FittedSurface::save`] refused to write a surface that would not load back (a value
    /// out of its domain that serialises as `null`, say): nothing is written.
    #[error("{}: not written: the surface would not load back ({reason})", path.display())]
    Unloadable {
        /// The file that was not written.
        path: PathBuf,
        /// The loader's complaint.
        reason: String,
    },
    /// The file is not valid surface JSON (the message names the line and column).
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
}

/// The shortest expiry a surface slice may have, in years (about 32 ms): below it a
/// slice's total variance is too small for its vols to be computed in double precision (a
/// `surface.json` edited to `t = 1e-320` used to load and answer NaN).
pub const MIN_SLICE_T: f64 = 1e-9;

impl FittedSurface {
    /// A surface from its slices (sorted here by `t`).
    ///
    /// # Errors
    /// [`SurfaceError`] if there are no slices, two share a time, a time is below
    /// [`MIN_SLICE_T`], or a time, forward,
    /// discount, quoted range or a model's own data (SABR's wings) is out of its domain (the
    /// models' parameters are valid by construction: their constructors and deserialisation
    /// check them).
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
            let bad = |reason: &str| SurfaceError::BadSlice {
                index,
                t: s.t,
                reason: reason.into(),
            };
            if !(s.t >= MIN_SLICE_T && s.t.is_finite()) {
                return Err(bad("time must be finite and at least 1e-9 years (32 ms)"));
            }
            if !(s.forward > 0.0 && s.forward.is_finite()) {
                return Err(bad("forward must be finite and > 0"));
            }
            if !(s.discount > 0.0 && s.discount.is_finite()) {
                return Err(bad("discount must be finite and > 0"));
            }
            // The model's own data (SABR's wings): what deserialisation checks, so a surface
            // that exists can always be saved and loaded back.
            s.model.smile().check().map_err(bad)?;
            if let SliceModel::Sabr(w) = &s.model {
                let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
                if !(same(w.sabr.forward(), s.forward) && same(w.sabr.t(), s.t)) {
                    return Err(bad("the SABR smile's forward and t must be the slice's"));
                }
            }
            if index > 0 && s.t <= slices[index - 1].t {
                return Err(bad("two slices share a time"));
            }
            if s.quoted_k
                .is_some_and(|q| !(q[0] <= q[1] && q[0].is_finite() && q[1].is_finite()))
            {
                return Err(bad("quoted k range must be finite and ordered"));
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
            day_count: DayCount::default(),
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

    /// Spot or index level, when the chain gave one.
    pub fn spot(&self) -> Option<f64> {
        self.spot
    }

    /// The surface with another day count for date queries (the slices' `t` are unchanged:
    /// they are what the fits used; this says how they relate to dates).
    #[must_use]
    pub fn with_day_count(mut self, day_count: DayCount) -> Self {
        self.day_count = day_count;
        self
    }

    /// The day count that turns dates into the slices' year fractions (stored in
    /// `surface.json`; files written before it was stored load as ACT/365).
    pub fn day_count(&self) -> DayCount {
        self.day_count
    }

    /// The year fraction from the surface's `as_of` to `expiry` under its day count, the `t`
    /// to query at; `None` without an `as_of` or for an expiry not after it.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use volfit::models::svi::Svi;
    /// use volfit::slice::DayCount;
    /// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice, VolSurface};
    /// let as_of = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    /// let slice = SurfaceSlice {
    ///     expiry: None, t: 1.0, forward: 100.0, discount: 1.0,
    ///     model: SliceModel::Svi(Svi::new(0.04, 0.1, -0.3, 0.0, 0.2).unwrap()),
    ///     quoted_k: None,
    /// };
    /// let s = FittedSurface::new("X".into(), Some(as_of), None, vec![slice])
    ///     .unwrap()
    ///     .with_day_count(DayCount::Act36525);
    /// let expiry = Utc.with_ymd_and_hms(2027, 1, 1, 14, 0, 0).unwrap(); // 365.25 days later
    /// assert_eq!(s.year_fraction(expiry), Some(1.0));
    /// assert_eq!(s.vol_at(100.0, expiry), Some(s.vol(100.0, 1.0)));
    /// ```
    pub fn year_fraction(&self, expiry: DateTime<Utc>) -> Option<f64> {
        let t = self.day_count.year_fraction(self.as_of?, expiry);
        (t > 0.0).then_some(t)
    }

    /// Black vol at `strike` for an expiry date ([`FittedSurface::year_fraction`]); `None`
    /// where that has no `t` or the surface no vol.
    pub fn vol_at(&self, strike: f64, expiry: DateTime<Utc>) -> Option<f64> {
        self.try_vol(strike, self.year_fraction(expiry)?).ok()
    }

    /// The expiries.
    pub fn slices(&self) -> &[SurfaceSlice] {
        &self.slices
    }

    /// Checks the surface for static arbitrage ([`super::arbitrage`]): butterfly per expiry
    /// (the model's verdict) and calendar between consecutive expiries on the union of their
    /// quoted `k` ranges, as [`calibrate_surface`](super::calibrate_surface) does.
    pub fn arbitrage_check(&self) -> ArbitrageReport {
        let butterfly = butterflies(self.slices.iter().map(|s| (s.t, &s.model)));
        let pairs: Vec<(f64, SliceModel, Option<[f64; 2]>)> = self
            .slices
            .iter()
            .map(|s| (s.t, s.model, s.quoted_k))
            .collect();
        let calendar = calendar_report(&pairs);
        ArbitrageReport {
            arbitrage_free: calendar.calendar_free && butterfly.iter().all(|b| b.free),
            butterfly,
            calendar,
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

impl VolSurface for FittedSurface {
    #[inline]
    fn forward_impl(&self, t: f64) -> f64 {
        self.log_interp(&self.node_ln_f, t)
    }

    fn discount_impl(&self, t: f64) -> Option<f64> {
        if self.spot.is_none() {
            // Without a t = 0 node, anchor the discount curve at D(0) = 1.
            let ts = &self.node_t;
            if t <= ts[0] {
                return Some((self.node_ln_d[0] * t / ts[0]).exp());
            }
        }
        Some(self.log_interp(&self.node_ln_d, t))
    }

    fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
        self.derivs_at(k, t, self.locate(t))
    }

    #[inline]
    fn total_variance_impl(&self, k: f64, t: f64) -> f64 {
        self.w_at(k, t, self.locate(t))
    }

    #[inline]
    fn vol_impl(&self, strike: f64, t: f64) -> f64 {
        let loc = self.locate(t);
        let k = strike.ln() - self.ln_forward_at(t, loc);
        let w_over_t = match loc {
            // Flat vol before the first expiry: w₁(k)/t₁, without forming w₁·t/t₁ (which
            // underflows for tiny t).
            Loc::Before => self.slices[0].model.w(k) / self.slices[0].t,
            _ => self.w_at(k, t, loc) / t,
        };
        if w_over_t >= 0.0 {
            w_over_t.sqrt()
        } else {
            f64::NAN
        }
    }
}
