//! What a reviewer reads off a surface: ATM vol, 25Δ risk reversal and butterfly per expiry,
//! strikes at a delta (the review flags are in [`super::flags`]). The charts and the page draw
//! these numbers; they do not compute them.
//!
//! **Conventions.** ATM is the forward: `k = ln(K/F) = 0`. Deltas are Black-76 forward
//! deltas of the undiscounted option, `Φ(d₁)` for a call, not premium-adjusted (a Deribit
//! premium-adjusted delta in coin is `Φ(d₂)·K/F` for a call); a put's delta is the call's
//! minus 1, so the 25Δ put is the strike where `Φ(d₁) = 0.75`. Vols are decimals in the
//! library, vol points (percent) in these metrics.

use super::{FittedSurface, SliceModel};
use crate::black::special::norm_cdf;
use serde::{Deserialize, Serialize};

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
