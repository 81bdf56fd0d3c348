//! [`SliceModel`]: the smile of one expiry of a surface, stored tagged by model, and served
//! through ONE dispatch ([`SliceModel::smile`]) to the [`SurfaceSmile`] trait that the rest of
//! the surface layer calls.

use crate::fit::{FitError, FitOptions, FitReport, fit_from};
use crate::models::SmileModel;
use crate::models::arbitrage::ButterflyVerdict;
use crate::models::sabr::Sabr;
use crate::models::spline::{BASE_PARAMS, SplineOptions, SplineSmile};
use crate::models::svi::Svi;
use crate::slice::SmileSlice;
use serde::{Deserialize, Serialize};

/// Lee's moment bound on the wing slope of `w`, with a hair of margin.
pub(crate) const LEE_SLOPE: f64 = 2.0 * (1.0 - 1e-9);

/// The iteration budget of a floored spline refit's first attempt, the correction alone on
/// the unchanged base: past it the refit goes on to the base (see
/// [`SplineSmile`]'s `refit_floored`). On the shared chains (97 such attempts over SPX,
/// Deribit and 40 Deribit series snapshots) every attempt that met its floor did so within
/// 130 iterations, while those that did not crawled to as many as 668 (187 ms of the 430 ms
/// SPX 2019-12-20 surface) before failing.
const CORRECTION_ONLY_ITERS: u64 = 150;

/// What the surface layer needs of an expiry's smile beyond [`SmileModel`].
pub trait SurfaceSmile: SmileModel + Send + Sync {
    /// The model's name in reports.
    fn name(&self) -> &'static str;
    /// Its parameters as a JSON object (the `params` of `report.json`).
    fn params_json(&self) -> serde_json::Value;
    /// The butterfly verdict of the smile (the model's own: exact for SVI, the density scan
    /// for SABR).
    fn butterfly(&self) -> ButterflyVerdict;
    /// A refit of `slice` from this smile with a calendar floor `w(kⱼ) ≥ wⱼ` (the generic
    /// fitter with floor rows).
    ///
    /// # Errors
    /// The fit's error.
    fn refit_floored(
        &self,
        slice: &SmileSlice,
        opts: &FitOptions,
        floor: &[(f64, f64)],
    ) -> Result<(SliceModel, FitReport), FitError>;
    /// The smile raised by `dw` in total variance everywhere, where the model can express it
    /// (SVI: `a + dw`).
    fn lifted(&self, _dw: f64) -> Option<SliceModel> {
        None
    }
    /// Whether the smile can be served (models are valid by construction; a wrapper's own
    /// data, such as SABR's wings, is checked here).
    ///
    /// # Errors
    /// What is wrong with it.
    fn check(&self) -> Result<(), &'static str> {
        Ok(())
    }
    /// The asymptotic slopes of `w` in the wings, `(left, right)` with `w ≈ left·|k|` as
    /// `k → −∞` and `w ≈ right·k` as `k → +∞`.
    fn wing_slopes(&self) -> (f64, f64);
}

/// A SABR smile with its formula used on `k ∈ wings` and total variance continued linearly
/// beyond, with the edge slope capped at Lee's bound (the expansion is not a model far in
/// the wings). Deserialisation checks `k_lo < k_hi`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WingedSabrData")]
pub struct WingedSabr {
    /// The smile.
    pub sabr: Sabr,
    /// `[k_lo, k_hi]` in `k = ln((K+b)/(F+b))` where the formula is used.
    pub wings: [f64; 2],
}

#[derive(Deserialize)]
struct WingedSabrData {
    sabr: Sabr,
    wings: [f64; 2],
}

impl TryFrom<WingedSabrData> for WingedSabr {
    type Error = String;
    fn try_from(d: WingedSabrData) -> Result<Self, String> {
        let w = WingedSabr {
            sabr: d.sabr,
            wings: d.wings,
        };
        w.check()
            .map(|()| w)
            .map_err(|e| format!("{e}, got {:?}", d.wings))
    }
}

impl WingedSabr {
    /// The smile with its formula on the density scan's range.
    pub fn new(sabr: Sabr) -> WingedSabr {
        let at = sabr.scan_strikes();
        let k = |strike: f64| ((strike + sabr.shift()) / (sabr.forward() + sabr.shift())).ln();
        WingedSabr {
            sabr,
            wings: [k(at(0.0)), k(at(1.0))],
        }
    }
}

impl SmileModel for WingedSabr {
    #[inline]
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let edge = if k < self.wings[0] {
            self.wings[0]
        } else if k > self.wings[1] {
            self.wings[1]
        } else {
            return self.sabr.w_derivs(k);
        };
        let (w0, s, _) = self.sabr.w_derivs(edge);
        let s = s.clamp(-LEE_SLOPE, LEE_SLOPE);
        ((w0 + s * (k - edge)).max(0.0), s, 0.0)
    }

    #[inline]
    fn total_variance(&self, k: f64) -> f64 {
        if k < self.wings[0] || k > self.wings[1] {
            self.w_derivs(k).0
        } else {
            self.sabr.total_variance(k)
        }
    }

    fn feature_scale(&self) -> (f64, f64) {
        self.sabr.feature_scale()
    }
}

impl SurfaceSmile for WingedSabr {
    fn name(&self) -> &'static str {
        "sabr"
    }
    fn params_json(&self) -> serde_json::Value {
        serde_json::to_value(self.sabr).unwrap_or(serde_json::Value::Null)
    }
    fn butterfly(&self) -> ButterflyVerdict {
        self.sabr.butterfly_scan()
    }
    fn refit_floored(
        &self,
        slice: &SmileSlice,
        opts: &FitOptions,
        floor: &[(f64, f64)],
    ) -> Result<(SliceModel, FitReport), FitError> {
        let f = fit_from::<Sabr>(slice, opts, &opts.sabr, Some(&self.sabr), floor)?;
        Ok((SliceModel::Sabr(WingedSabr::new(f.model)), f.report))
    }
    fn check(&self) -> Result<(), &'static str> {
        if self.wings[0] < self.wings[1] && self.wings.iter().all(|w| w.is_finite()) {
            Ok(())
        } else {
            Err("SABR wings must be finite with k_lo < k_hi")
        }
    }
    fn wing_slopes(&self) -> (f64, f64) {
        let left = self.w_derivs(self.wings[0] - 1.0).1;
        let right = self.w_derivs(self.wings[1] + 1.0).1;
        (-left, right)
    }
}

impl SurfaceSmile for Svi {
    fn name(&self) -> &'static str {
        "svi"
    }
    fn params_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
    fn butterfly(&self) -> ButterflyVerdict {
        Svi::butterfly(self)
    }
    fn refit_floored(
        &self,
        slice: &SmileSlice,
        opts: &FitOptions,
        floor: &[(f64, f64)],
    ) -> Result<(SliceModel, FitReport), FitError> {
        let f = fit_from::<Svi>(slice, opts, &(), Some(self), floor)?;
        Ok((SliceModel::Svi(f.model), f.report))
    }
    fn lifted(&self, dw: f64) -> Option<SliceModel> {
        Svi::lifted(self, dw).map(SliceModel::Svi)
    }
    fn wing_slopes(&self) -> (f64, f64) {
        Svi::wing_slopes(self)
    }
}

impl SurfaceSmile for SplineSmile {
    fn name(&self) -> &'static str {
        "spline"
    }
    fn params_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
    fn butterfly(&self) -> ButterflyVerdict {
        SplineSmile::butterfly(self)
    }
    fn refit_floored(
        &self,
        slice: &SmileSlice,
        opts: &FitOptions,
        floor: &[(f64, f64)],
    ) -> Result<(SliceModel, FitReport), FitError> {
        // A floor inside the correction's support: the correction alone, warm-started.
        let [lo, hi] = self.support();
        if floor.iter().all(|&(k, _)| k > lo && k < hi) {
            let spline = SplineOptions {
                base: Some(*self.base()),
                ..opts.spline
            };
            let capped = FitOptions {
                max_iters: opts.max_iters.min(CORRECTION_ONLY_ITERS),
                ..opts.clone()
            };
            let mut f = fit_from::<SplineSmile>(slice, &capped, &spline, Some(self), floor)?;
            f.report.n_params += BASE_PARAMS;
            if f.report.iterations < CORRECTION_ONLY_ITERS
                && floor.iter().all(|&(k, w)| f.model.w(k) >= w * (1.0 - 1e-9))
            {
                return Ok((SliceModel::Spline(f.model), f.report));
            }
        }
        // The floor reaches the wings, where the correction is zero (or the correction alone
        // cannot meet it): the base is refitted under it first, then the correction on the new
        // base.
        let base = fit_from::<Svi>(slice, opts, &(), Some(self.base()), floor)?;
        let spline = SplineOptions {
            base: Some(base.model),
            ..opts.spline
        };
        let mut f = fit_from::<SplineSmile>(slice, opts, &spline, None, floor)?;
        f.report.fit_micros += base.report.fit_micros;
        f.report.n_params += BASE_PARAMS;
        Ok((SliceModel::Spline(f.model), f.report))
    }
    fn lifted(&self, dw: f64) -> Option<SliceModel> {
        SplineSmile::lifted(self, dw).map(SliceModel::Spline)
    }
    fn wing_slopes(&self) -> (f64, f64) {
        self.base().wing_slopes()
    }
}

/// The smile model of one expiry, as stored in `surface.json` (tagged by `model`).
///
/// Adding a model to surfaces: a variant here, its arm in `each_model!`, and an
/// `impl SurfaceSmile`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
// The spline variant (its 32 coefficients inline) is the large one: kept inline so that the
// model stays `Copy` and a vol query reads it without an indirection.
#[allow(clippy::large_enum_variant)]
pub enum SliceModel {
    /// Raw SVI in total variance (also the form SSVI and eSSVI slices are stored in).
    Svi(Svi),
    /// SABR (any expansion) with linear wings beyond its scan range.
    Sabr(WingedSabr),
    /// SVI plus a cubic B-spline correction on the quoted range.
    Spline(SplineSmile),
}

/// The one dispatch of the surface layer: `$body` with `$s` bound to the smile behind the tag,
/// as its concrete type (statically dispatched, so the query paths inline).
macro_rules! each_model {
    ($model:expr, $s:ident => $body:expr) => {
        match $model {
            SliceModel::Svi($s) => $body,
            SliceModel::Sabr($s) => $body,
            SliceModel::Spline($s) => $body,
        }
    };
}

impl SliceModel {
    /// The smile behind the tag.
    #[inline]
    pub fn smile(&self) -> &dyn SurfaceSmile {
        each_model!(self, s => s)
    }

    /// `w(k)`.
    #[inline]
    pub fn w(&self, k: f64) -> f64 {
        each_model!(self, s => s.total_variance(k))
    }

    /// `(w, w', w'')` at `k`.
    #[inline]
    pub fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        each_model!(self, s => s.w_derivs(k))
    }
}

impl From<Svi> for SliceModel {
    fn from(s: Svi) -> Self {
        SliceModel::Svi(s)
    }
}

impl From<SplineSmile> for SliceModel {
    fn from(s: SplineSmile) -> Self {
        SliceModel::Spline(s)
    }
}

impl From<Sabr> for SliceModel {
    fn from(s: Sabr) -> Self {
        SliceModel::Sabr(WingedSabr::new(s))
    }
}
