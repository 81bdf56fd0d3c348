//! What a reviewer reads off a surface: ATM vol, 25Δ risk reversal and butterfly per expiry,
//! strikes at a delta, and the flags that put an expiry first on the review page. The charts
//! and the page draw these numbers; they do not compute them.

use super::{FittedSurface, SliceModel, SliceSummary, SurfaceReport};
use crate::black::special::norm_cdf;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `k` where the Black call delta `Φ(d₁)` of smile `m` equals `target` (bisection on
/// `k ∈ ±8√w(0)`); `None` if the delta does not cross `target` there.
///
/// ```
/// use volfit::models::svi::Svi;
/// use volfit::surface::{SliceModel, metrics::k_at_delta};
/// let flat = SliceModel::Svi(Svi::new(0.04, 0.0, 0.0, 0.0, 0.1)?); // σ√T = 0.2
/// let k = k_at_delta(&flat, 0.5).unwrap();
/// assert!((k - 0.02).abs() < 1e-12); // Φ(d₁) = ½ at d₁ = 0: k = w/2
/// # Ok::<(), volfit::models::ParamError>(())
/// ```
pub fn k_at_delta(m: &SliceModel, target: f64) -> Option<f64> {
    let d1 = |k: f64| {
        let w = m.w(k).max(1e-300);
        -k / w.sqrt() + 0.5 * w.sqrt()
    };
    let delta = |k: f64| norm_cdf(d1(k));
    let s = m.w(0.0).max(1e-12).sqrt();
    let (mut lo, mut hi) = (-8.0 * s, 8.0 * s);
    if !(delta(lo) > target && delta(hi) < target) {
        return None;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if delta(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// ATM vol, 25Δ risk reversal and butterfly of one expiry, in vol points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermPoint {
    /// Time to expiry.
    pub t: f64,
    /// ATM (forward) vol, vol points.
    pub atm: f64,
    /// `σ(25Δ call) − σ(25Δ put)`, vol points.
    pub rr25: Option<f64>,
    /// `(σ(25Δ call) + σ(25Δ put))/2 − σ_ATM`, vol points.
    pub bf25: Option<f64>,
}

/// ATM vol, 25-delta risk reversal and butterfly of each expiry of the surface.
pub fn term_structure(surface: &FittedSurface) -> Vec<TermPoint> {
    surface
        .slices()
        .iter()
        .map(|s| {
            let v = |k: f64| 100.0 * (s.model.w(k).max(0.0) / s.t).sqrt();
            let atm = v(0.0);
            let c = k_at_delta(&s.model, 0.25).map(v);
            let p = k_at_delta(&s.model, 0.75).map(v);
            TermPoint {
                t: s.t,
                atm,
                rr25: c.zip(p).map(|(c, p)| c - p),
                bf25: c.zip(p).map(|(c, p)| 0.5 * (c + p) - atm),
            }
        })
        .collect()
}

/// Why an expiry deserves a reviewer's look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFlag {
    /// The fitted smile has butterfly arbitrage.
    ButterflyArbitrage,
    /// The fit did not converge.
    NotConverged,
    /// Under half of the two-sided quotes lie inside their bid/ask.
    UnderHalfInside,
    /// RMSE above 2 vol points.
    HighRmse,
    /// Calendar arbitrage with a neighbouring expiry remains.
    CalendarArbitrage,
    /// The expiry was refitted to remove calendar arbitrage.
    CalendarRepaired,
}

impl fmt::Display for ReviewFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewFlag::ButterflyArbitrage => "butterfly arbitrage",
            ReviewFlag::NotConverged => "not converged",
            ReviewFlag::UnderHalfInside => "under half the quotes inside bid/ask",
            ReviewFlag::HighRmse => "RMSE above 2 vol points",
            ReviewFlag::CalendarArbitrage => "calendar arbitrage",
            ReviewFlag::CalendarRepaired => "calendar-repaired",
        })
    }
}

/// The review flags of one expiry of a report (empty: nothing to flag).
pub fn review_flags(s: &SliceSummary, report: &SurfaceReport) -> Vec<ReviewFlag> {
    let mut f = Vec::new();
    if !s.butterfly_free {
        f.push(ReviewFlag::ButterflyArbitrage);
    }
    if !s.converged {
        f.push(ReviewFlag::NotConverged);
    }
    if s.within_spread.is_some_and(|w| w < 0.5) {
        f.push(ReviewFlag::UnderHalfInside);
    }
    if s.rmse_iv > 0.02 {
        f.push(ReviewFlag::HighRmse);
    }
    let touches = |t_earlier: f64, t_later: f64| t_later == s.t || t_earlier == s.t;
    if report
        .calendar
        .violations
        .iter()
        .any(|v| v.remaining > 0.0 && touches(v.t_earlier, v.t_later))
    {
        f.push(ReviewFlag::CalendarArbitrage);
    }
    if report
        .calendar
        .violations
        .iter()
        .any(|v| v.t_later == s.t && v.remaining <= 0.0)
    {
        f.push(ReviewFlag::CalendarRepaired);
    }
    f
}
