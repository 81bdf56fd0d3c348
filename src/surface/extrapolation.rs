//! Where a query sits against the quotes a surface was fitted to: inside them, or extrapolated
//! in time (before the first expiry, after the last) or in strike (beyond the quoted
//! log-moneyness range), so a pricer can tell a fitted value from an extrapolated one.

use super::{FittedSurface, VolSurface};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where `t` lies against the surface's expiries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "region", rename_all = "snake_case")]
pub enum TimeRegion {
    /// Before the first expiry (`t < t₁`): flat implied vol in time at each `k`.
    BeforeFirst {
        /// The first expiry's `t`.
        first: f64,
    },
    /// Between two expiries, or on one (interpolated in total variance).
    Quoted,
    /// After the last expiry (`t > tₙ`): flat forward variance at each `k`.
    AfterLast {
        /// The last expiry's `t`.
        last: f64,
    },
}

/// Where a query `(K, t)` lies: its `k = ln(K/F(t))`, the time region, and the quoted `k`
/// range there (the intersection of the neighbouring expiries' quoted ranges, or the nearest
/// expiry's outside them; `None` for slices without a recorded range).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// `ln(K/F(t))`.
    pub k: f64,
    /// The time region.
    pub time: TimeRegion,
    /// The quoted `k` range at `t`.
    pub quoted_k: Option<[f64; 2]>,
}

impl Location {
    /// Whether the query is extrapolated: outside the expiries or outside the quoted `k`
    /// range (a slice without a recorded range counts as quoted everywhere).
    pub fn is_extrapolated(&self) -> bool {
        !matches!(self.time, TimeRegion::Quoted) || !self.in_quoted_strikes()
    }

    /// Whether `k` is inside the quoted range (true when no range is recorded).
    pub fn in_quoted_strikes(&self) -> bool {
        self.quoted_k
            .is_none_or(|[lo, hi]| (lo..=hi).contains(&self.k))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.time {
            TimeRegion::BeforeFirst { first } => {
                parts.push(format!("before the first expiry (t = {first:.6})"));
            }
            TimeRegion::AfterLast { last } => {
                parts.push(format!("after the last expiry (t = {last:.6})"));
            }
            TimeRegion::Quoted => {}
        }
        if let (false, Some([lo, hi])) = (self.in_quoted_strikes(), self.quoted_k) {
            parts.push(format!(
                "k = ln(K/F) = {:.4} beyond the quoted range [{lo:.4}, {hi:.4}]",
                self.k
            ));
        }
        if parts.is_empty() {
            f.write_str("inside the quotes")
        } else {
            write!(f, "extrapolated: {}", parts.join("; "))
        }
    }
}

impl FittedSurface {
    /// Where `(strike, t)` lies against the quotes ([`Location`]); `None` outside the query
    /// domain (strike or `t` not finite and positive).
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice, TimeRegion};
    /// let slice = |t: f64| SurfaceSlice {
    ///     expiry: None, t, forward: 100.0, discount: 1.0,
    ///     model: SliceModel::Svi(Svi::new(0.04 * t, 0.1, -0.3, 0.0, 0.2).unwrap()),
    ///     quoted_k: Some([-0.3, 0.2]),
    /// };
    /// let s = FittedSurface::new("X".into(), None, None, vec![slice(0.5), slice(1.0)]).unwrap();
    /// assert!(!s.location(100.0, 0.75).unwrap().is_extrapolated());
    /// let far = s.location(200.0, 2.0).unwrap();
    /// assert_eq!(far.time, TimeRegion::AfterLast { last: 1.0 });
    /// assert!(far.is_extrapolated() && !far.in_quoted_strikes());
    /// ```
    pub fn location(&self, strike: f64, t: f64) -> Option<Location> {
        let ok = |x: f64| x > 0.0 && x.is_finite();
        if !(ok(strike) && ok(t)) {
            return None;
        }
        let k = (strike / self.forward(t)).ln();
        let slices = self.slices();
        let (first, last) = (&slices[0], &slices[slices.len() - 1]);
        let (time, quoted_k) = if t < first.t {
            (TimeRegion::BeforeFirst { first: first.t }, first.quoted_k)
        } else if t > last.t {
            (TimeRegion::AfterLast { last: last.t }, last.quoted_k)
        } else {
            // The neighbouring expiries (one, when t is on an expiry).
            let i = slices.partition_point(|s| s.t < t);
            let hi = &slices[i];
            let lo = if hi.t == t { hi } else { &slices[i - 1] };
            let range = match (lo.quoted_k, hi.quoted_k) {
                (Some(a), Some(b)) => Some([a[0].max(b[0]), a[1].min(b[1])]),
                (a, b) => a.or(b),
            };
            (TimeRegion::Quoted, range)
        };
        k.is_finite().then_some(Location { k, time, quoted_k })
    }
}
