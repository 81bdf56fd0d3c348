//! Constant-maturity points of a tracked surface: ATM vol, 25Δ risk reversal and butterfly at
//! a fixed number of days from the surface's snapshot (not at an expiry), and the filter's
//! uncertainty band of the ATM vol there.
//!
//! **Conventions** (those of [`crate::surface::metrics`]): ATM is the forward, `k = 0`;
//! deltas are Black-76 forward deltas of the undiscounted option, `Φ(d₁)` for a call with
//! `d₁ = −k/√w + √w/2` on the surface's total variance `w(k, t)`
//! ([`VolSurface::total_variance`](crate::surface::VolSurface::total_variance)); the 25Δ put is the strike where the put delta
//! `Φ(d₁) − 1 = −0.25`, i.e. `Φ(d₁) = 0.75`. Vols are **decimals** here (the per-expiry
//! [`crate::surface::metrics::term_structure`] is in vol points).
//!
//! **Time.** A tenor of `days` days is the instant `as_of + days` turned into a year fraction
//! with the surface's day count ([`FittedSurface::year_fraction`]); a surface without a
//! snapshot time uses `days / 365.25`. Between and beyond expiries the surface's own
//! interpolation and extrapolation give `w(k, t)`; where they give no answer (a policy that
//! refuses, NaN) the point is `None` — never NaN.

use super::Tracker;
use crate::surface::FittedSurface;
use crate::surface::metrics::metrics_at;
use serde::{Deserialize, Serialize};

/// The tenors of `volfit track`'s `timeseries.csv`, in days.
pub const TENOR_DAYS: [f64; 4] = [7.0, 30.0, 90.0, 180.0];

/// Days per year of the time of a surface without a snapshot time.
const DAYS_PER_YEAR: f64 = 365.25;

/// ATM vol, 25Δ risk reversal and butterfly at one constant maturity, decimals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TenorPoint {
    /// The year fraction the point was read at.
    pub t: f64,
    /// ATM (forward, `k = 0`) vol.
    pub atm_vol: f64,
    /// `σ(25Δ call) − σ(25Δ put)`; `None` where a delta strike has no answer.
    pub rr25: Option<f64>,
    /// `(σ(25Δ call) + σ(25Δ put))/2 − σ_ATM`; `None` where a delta strike has no answer.
    pub bf25: Option<f64>,
}

/// One tenor of a tracker's update: the point and the ATM vol's standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TenorSample {
    /// The tenor, days.
    pub days: f64,
    /// The point ([`tenor_point`]); `None` where the surface has no ATM vol there.
    pub point: Option<TenorPoint>,
    /// The filter's ATM vol standard deviation there ([`tenor_band`]); `None` without the
    /// Kalman filter.
    pub atm_sd: Option<f64>,
}

/// The year fraction of a tenor of `days` days on `surface`: `as_of + days` under the
/// surface's day count, or `days / 365.25` without a snapshot time; `None` for a tenor that
/// is not finite and positive.
///
/// ```
/// use volfit::live::tenor::tenor_t;
/// use volfit::models::svi::Svi;
/// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice};
/// let slice = SurfaceSlice {
///     expiry: None, t: 0.5, forward: 100.0, discount: 1.0,
///     model: SliceModel::Svi(Svi::new(0.02, 0.0, 0.0, 0.0, 0.1)?),
///     quoted_k: None,
/// };
/// let s = FittedSurface::new("X".into(), None, None, vec![slice]).unwrap();
/// assert_eq!(tenor_t(&s, 365.25), Some(1.0));
/// assert_eq!(tenor_t(&s, 0.0), None);
/// # Ok::<(), volfit::models::ParamError>(())
/// ```
pub fn tenor_t(surface: &FittedSurface, days: f64) -> Option<f64> {
    if !(days > 0.0 && days.is_finite()) {
        return None;
    }
    match surface.as_of() {
        Some(as_of) => {
            let ms = (days * 86_400_000.0).round();
            if ms > 1e15 {
                return None;
            }
            let at = as_of.checked_add_signed(chrono::TimeDelta::try_milliseconds(ms as i64)?)?;
            surface.year_fraction(at)
        }
        None => Some(days / DAYS_PER_YEAR),
    }
}

/// ATM vol, 25Δ risk reversal and butterfly at `days` days from the surface's snapshot
/// (decimals; see the [module documentation](self) for the conventions); `None` where the
/// surface has no ATM vol there.
///
/// ```
/// use volfit::live::tenor::tenor_point;
/// use volfit::models::svi::Svi;
/// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice};
/// // A flat 40% smile at T = 30/365.25: w = 0.16 T.
/// let t = 30.0 / 365.25;
/// let slice = SurfaceSlice {
///     expiry: None, t, forward: 100.0, discount: 1.0,
///     model: SliceModel::Svi(Svi::new(0.16 * t, 0.0, 0.0, 0.0, 0.1)?),
///     quoted_k: None,
/// };
/// let s = FittedSurface::new("X".into(), None, None, vec![slice]).unwrap();
/// let p = tenor_point(&s, 30.0).unwrap();
/// assert!((p.atm_vol - 0.4).abs() < 1e-12);
/// assert!(p.rr25.unwrap().abs() < 1e-12 && p.bf25.unwrap().abs() < 1e-12);
/// # Ok::<(), volfit::models::ParamError>(())
/// ```
pub fn tenor_point(surface: &FittedSurface, days: f64) -> Option<TenorPoint> {
    let m = metrics_at(surface, tenor_t(surface, days)?).ok()?;
    Some(TenorPoint {
        t: m.t,
        atm_vol: m.atm_vol,
        rr25: m.rr25,
        bf25: m.bf25,
    })
}

/// The points of a constant-maturity smile by delta: `(label, call delta)`, with `None` for
/// the ATM (forward) point — put wings first, calls last.
pub const DELTA_BUCKETS: [(&str, Option<f64>); 5] = [
    ("10Δ put", Some(0.90)),
    ("25Δ put", Some(0.75)),
    ("ATM", None),
    ("25Δ call", Some(0.25)),
    ("10Δ call", Some(0.10)),
];

/// The vols (decimals) at [`DELTA_BUCKETS`] at `days` days from the surface's snapshot; `None`
/// where one has no answer.
pub fn smile_by_delta(surface: &FittedSurface, days: f64) -> [Option<f64>; 5] {
    let Some(m) = tenor_t(surface, days).and_then(|t| metrics_at(surface, t).ok()) else {
        return [None; 5];
    };
    [m.put10, m.put25, Some(m.atm_vol), m.call25, m.call10]
}

/// The value at `t` of a band given at points `(tᵢ, sdᵢ)` (any order): linear in `t` between
/// the two points around it, flat outside them; `None` without a finite point.
///
/// ```
/// use volfit::live::tenor::band_at;
/// let pts = [(0.1, 0.02), (0.3, 0.04)];
/// assert!((band_at(&pts, 0.2).unwrap() - 0.03).abs() < 1e-15);
/// assert_eq!(band_at(&pts, 0.01), Some(0.02));
/// assert_eq!(band_at(&pts, 2.0), Some(0.04));
/// assert_eq!(band_at(&[], 0.2), None);
/// ```
pub fn band_at(points: &[(f64, f64)], t: f64) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, last) = (*pts.first()?, *pts.last()?);
    if !(t > first.0) {
        return Some(first.1);
    }
    if !(t < last.0) {
        return Some(last.1);
    }
    let i = pts.iter().position(|p| p.0 >= t)?;
    let (a, b) = (pts[i - 1], pts[i]);
    let u = (t - a.0) / (b.0 - a.0);
    Some(a.1 + u * (b.1 - a.1))
}

/// The filter's standard deviation of the ATM vol (decimal) at `days` days on the tracker's
/// latest surface: the posterior ATM sd ([`crate::live::FilterState::atm_sd`]) of the
/// tracked expiries around the tenor, linear in `t` between them and flat outside
/// ([`band_at`]); `None` without a surface or a posterior (no Kalman filter).
pub fn tenor_band(tracker: &Tracker, days: f64) -> Option<f64> {
    let surface = tracker.surface()?;
    let t = tenor_t(&surface, days)?;
    band_at(&posterior_points(tracker, &surface), t)
}

/// `(t, posterior ATM sd)` of each expiry of `surface` the tracker has a posterior of.
fn posterior_points(tracker: &Tracker, surface: &FittedSurface) -> Vec<(f64, f64)> {
    surface
        .slices()
        .iter()
        .filter_map(|s| Some((s.t, tracker.posterior(s.expiry?)?.atm_sd())))
        .collect()
}

/// The [`TenorSample`] of each tenor (days) on the tracker's latest surface; every point
/// `None` before the first update.
pub fn tenor_samples(tracker: &Tracker, days: &[f64]) -> Vec<TenorSample> {
    let surface = tracker.surface();
    let band = surface
        .as_ref()
        .map(|s| posterior_points(tracker, s))
        .unwrap_or_default();
    days.iter()
        .map(|&d| {
            let point = surface.as_ref().and_then(|s| tenor_point(s, d));
            let atm_sd = surface
                .as_ref()
                .and_then(|s| tenor_t(s, d))
                .and_then(|t| band_at(&band, t));
            TenorSample {
                days: d,
                point,
                atm_sd,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::black::special::norm_cdf;
    use crate::models::svi::Svi;
    use crate::surface::metrics::{k_at_call_delta, term_structure};
    use crate::surface::{SliceModel, SurfaceSlice};
    use chrono::{TimeZone, Utc};

    /// Agreement of two bisections on the same function (100 halvings of a bracket of a few
    /// units) and of a closed form with `√` and `Φ⁻¹` evaluated in doubles.
    const TOL: f64 = 1e-10;

    fn slice(t: f64, svi: Svi) -> SurfaceSlice {
        SurfaceSlice {
            expiry: None,
            t,
            forward: 100.0,
            discount: 1.0,
            model: SliceModel::Svi(svi),
            quoted_k: None,
        }
    }

    /// Φ⁻¹ by bisection on [`norm_cdf`] (independent of the strike search).
    fn norm_inv(p: f64) -> f64 {
        let (mut lo, mut hi) = (-10.0, 10.0);
        for _ in 0..200 {
            let m = 0.5 * (lo + hi);
            if norm_cdf(m) < p { lo = m } else { hi = m }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn flat_surface_closed_form() {
        // Flat 55% vol at two expiries: w = σ²t everywhere (before, between, after).
        let sigma: f64 = 0.55;
        let (t1, t2) = (20.0 / 365.25, 120.0 / 365.25);
        let flat = |t: f64| Svi::new(sigma * sigma * t, 0.0, 0.0, 0.0, 0.1).unwrap();
        let s = FittedSurface::new(
            "X".into(),
            None,
            None,
            vec![slice(t1, flat(t1)), slice(t2, flat(t2))],
        )
        .unwrap();
        for days in TENOR_DAYS {
            let p = tenor_point(&s, days).unwrap();
            assert_eq!(p.t, days / 365.25);
            assert!((p.atm_vol - sigma).abs() < TOL, "{days}: {p:?}");
            assert!(p.rr25.unwrap().abs() < TOL && p.bf25.unwrap().abs() < TOL);
            // The 25Δ call strike: d₁ = Φ⁻¹(0.25), k = √w (√w/2 − d₁).
            let sw = sigma * p.t.sqrt();
            let k = sw * (0.5 * sw - norm_inv(0.25));
            assert!((k_at_call_delta(&s, p.t, 0.25).unwrap() - k).abs() < TOL);
        }
    }

    #[test]
    fn at_an_expiry_equals_the_term_structure() {
        // A skewed single expiry at exactly 30 days (no as_of: t = 30/365.25).
        let t = 30.0 / 365.25;
        let svi = Svi::new(0.004, 0.04, -0.4, 0.02, 0.15).unwrap();
        let s = FittedSurface::new("X".into(), None, None, vec![slice(t, svi)]).unwrap();
        let ts = term_structure(&s)[0];
        let p = tenor_point(&s, 30.0).unwrap();
        assert_eq!(p.t, t);
        assert!((p.atm_vol - ts.atm / 100.0).abs() < TOL);
        assert!((p.rr25.unwrap() - ts.rr25.unwrap() / 100.0).abs() < TOL);
        assert!((p.bf25.unwrap() - ts.bf25.unwrap() / 100.0).abs() < TOL);
        assert!(p.rr25.unwrap() < 0.0, "ρ < 0 skews puts up");

        // With a snapshot time: 30 days ahead under ACT/365 is t = 30/365.
        let as_of = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let t365 = 30.0 / 365.0;
        let s = FittedSurface::new(
            "X".into(),
            Some(as_of),
            None,
            vec![slice(t365, svi), slice(0.5, svi.lifted(0.02).unwrap())],
        )
        .unwrap();
        let p = tenor_point(&s, 30.0).unwrap();
        assert!((p.t - t365).abs() < 1e-15);
        let ts = term_structure(&s)[0];
        assert!((p.atm_vol - ts.atm / 100.0).abs() < TOL);
        assert!((p.rr25.unwrap() - ts.rr25.unwrap() / 100.0).abs() < TOL);
    }

    #[test]
    fn no_answer_is_none() {
        let t = 0.1;
        let s = FittedSurface::new(
            "X".into(),
            None,
            None,
            vec![slice(t, Svi::new(0.01, 0.0, 0.0, 0.0, 0.1).unwrap())],
        )
        .unwrap();
        assert!(tenor_point(&s, f64::NAN).is_none());
        assert!(tenor_point(&s, -1.0).is_none());
        assert!(k_at_call_delta(&s, t, 1.5).is_err());
    }
}
