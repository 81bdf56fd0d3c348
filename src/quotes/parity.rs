//! Forward and discount factor of one expiry from put–call parity.
//!
//! For European options on the same expiry, `C(K) − P(K) = D·(F − K)`: the difference of
//! call and put premiums is linear in the strike with slope `−D` and intercept `D·F`. Quotes
//! carry noise (bid/ask, stale prices), so the line is fitted robustly:
//!
//! 1. pairs where both call and put have a bid and an ask, mid premiums, weight
//!    `1/(spread_C + spread_P)²`;
//! 2. the `NEAR` pairs closest in log-strike to the strike where `|C − P|` is smallest (parity
//!    is most informative and quotes tightest near the money);
//! 3. weighted least squares, then twice: drop pairs whose residual exceeds
//!    `max(3·1.4826·MAD, half their combined spread)` and refit (a re-weighted trimmed fit);
//! 4. accept only `0.5 < D ≤ 1.1` and a forward inside the quoted strike range widened by half.
//!
//! The slope `−D` is poorly determined for the shortest expiries (few strikes, `D ≈ 1`), so
//! [`crate::slice::build_slices`] replaces a discount factor whose implied rate has a standard
//! error above 50 bp by the rate of the nearest well-determined expiry and refits the forward
//! with [`forward_given_discount`].

use serde::{Deserialize, Serialize};

/// Pairs used near the money.
const NEAR: usize = 40;

/// One strike where both a call and a put are quoted: mid premiums and spreads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParityPair {
    /// Strike.
    pub strike: f64,
    /// Call mid premium.
    pub call: f64,
    /// Put mid premium.
    pub put: f64,
    /// Call ask − bid plus put ask − bid.
    pub spread: f64,
}

/// A parity fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParityFit {
    /// Forward `F`.
    pub forward: f64,
    /// Discount factor `D`.
    pub discount: f64,
    /// Pairs in the final fit.
    pub pairs_used: usize,
    /// Root-mean-square residual of `C − P` over the pairs used (premium units).
    pub rms_residual: f64,
    /// Standard error of the discount factor (from the slope's weighted-least-squares
    /// variance with the residual scale).
    pub discount_se: f64,
}

impl ParityFit {
    /// The zero rate `−ln(D)/t` implied by the discount factor.
    pub fn rate(&self, t: f64) -> f64 {
        -self.discount.ln() / t
    }
}

/// Weighted least squares of `y = a + b·x`: `(a, b, se(b))`; `None` if degenerate.
fn wls(pts: &[(f64, f64, f64)]) -> Option<(f64, f64, f64)> {
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for &(x, y, w) in pts {
        sw += w;
        sx += w * x;
        sy += w * y;
    }
    if sw <= 0.0 {
        return None;
    }
    let (mx, my) = (sx / sw, sy / sw);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(x, y, w) in pts {
        sxx += w * (x - mx) * (x - mx);
        sxy += w * (x - mx) * (y - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    // Residual variance per unit weight, then var(b) = s²/Σw(x − x̄)².
    let dof = pts.len().saturating_sub(2).max(1) as f64;
    let s2 = pts
        .iter()
        .map(|&(x, y, w)| w * (y - a - b * x).powi(2))
        .sum::<f64>()
        / dof;
    Some((a, b, (s2 / sxx).sqrt()))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Fits forward and discount factor to the pairs of one expiry (see the module doc).
/// `None` when fewer than three usable pairs remain or the fit is implausible.
///
/// ```
/// use volfit::quotes::parity::{fit_parity, ParityPair};
/// // C − P = 0.99·(100 − K) exactly.
/// let pairs: Vec<ParityPair> = (80..=120).step_by(5).map(|k| {
///     let k = f64::from(k);
///     ParityPair { strike: k, call: 5.0 + 0.99 * (100.0 - k).max(0.0), put: 5.0 + 0.99 * (k - 100.0).max(0.0), spread: 0.2 }
/// }).collect();
/// let fit = fit_parity(&pairs).unwrap();
/// assert!((fit.forward - 100.0).abs() < 1e-9 && (fit.discount - 0.99).abs() < 1e-12);
/// ```
pub fn fit_parity(pairs: &[ParityPair]) -> Option<ParityFit> {
    let usable: Vec<&ParityPair> = pairs
        .iter()
        .filter(|p| p.strike > 0.0 && p.call.is_finite() && p.put.is_finite() && p.spread >= 0.0)
        .collect();
    if usable.len() < 3 {
        return None;
    }
    let atm = usable
        .iter()
        .min_by(|a, b| (a.call - a.put).abs().total_cmp(&(b.call - b.put).abs()))?
        .strike;
    let mut near = usable.clone();
    near.sort_by(|a, b| {
        (a.strike / atm)
            .ln()
            .abs()
            .total_cmp(&(b.strike / atm).ln().abs())
    });
    near.truncate(NEAR);
    let min_spread = near
        .iter()
        .map(|p| p.spread)
        .filter(|s| *s > 0.0)
        .fold(f64::INFINITY, f64::min);
    let floor = if min_spread.is_finite() {
        min_spread
    } else {
        1.0
    };
    let weight = |p: &ParityPair| 1.0 / p.spread.max(floor).powi(2);
    let mut kept: Vec<&ParityPair> = near;
    let mut line = None;
    for _ in 0..3 {
        let pts: Vec<(f64, f64, f64)> = kept
            .iter()
            .map(|p| (p.strike, p.call - p.put, weight(p)))
            .collect();
        let (a, b, se) = wls(&pts)?;
        line = Some((a, b, se));
        let mut resid: Vec<f64> = kept
            .iter()
            .map(|p| (p.call - p.put - a - b * p.strike).abs())
            .collect();
        let mad = median(&mut resid.clone());
        let cut = 3.0 * 1.4826 * mad;
        let before = kept.len();
        let next: Vec<&ParityPair> = kept
            .iter()
            .zip(resid.iter_mut())
            .filter(|(p, r)| **r <= cut.max(0.5 * p.spread))
            .map(|(p, _)| *p)
            .collect();
        if next.len() < 3 || next.len() == before {
            break;
        }
        kept = next;
    }
    let (a, b, discount_se) = line?;
    let discount = -b;
    if !(discount > 0.5 && discount <= 1.1) {
        return None;
    }
    let forward = a / discount;
    let (lo, hi) = usable.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.strike), hi.max(p.strike))
    });
    let pad = 0.5 * (hi - lo);
    if !(forward > (lo - pad).max(0.0) && forward < hi + pad) {
        return None;
    }
    let rms = (kept
        .iter()
        .map(|p| (p.call - p.put - a - b * p.strike).powi(2))
        .sum::<f64>()
        / kept.len() as f64)
        .sqrt();
    Some(ParityFit {
        forward,
        discount,
        pairs_used: kept.len(),
        rms_residual: rms,
        discount_se,
    })
}

/// The forward of the pairs given the discount factor `discount`: the weighted mean of
/// `K + (C − P)/D` over the pairs nearest the money (used when `D` is better known from
/// neighbouring expiries than from this one).
pub fn forward_given_discount(pairs: &[ParityPair], discount: f64) -> Option<f64> {
    let fit = fit_parity(pairs)?;
    let near: Vec<&ParityPair> = {
        let mut v: Vec<&ParityPair> = pairs.iter().filter(|p| p.strike > 0.0).collect();
        v.sort_by(|a, b| {
            (a.strike / fit.forward)
                .ln()
                .abs()
                .total_cmp(&(b.strike / fit.forward).ln().abs())
        });
        v.truncate(fit.pairs_used.max(3));
        v
    };
    let (mut sw, mut s) = (0.0, 0.0);
    for p in near {
        let w = 1.0 / p.spread.max(1e-12).powi(2);
        sw += w;
        s += w * (p.strike + (p.call - p.put) / discount);
    }
    (sw > 0.0).then(|| s / sw)
}

/// The call/put pairs of one expiry's quotes: strikes quoted on both sides with two-sided,
/// uncrossed quotes (the first quote of each strike and kind), by strike.
pub fn pairs_of<'a>(quotes: impl IntoIterator<Item = &'a super::OptionQuote>) -> Vec<ParityPair> {
    use crate::black::OptionKind;
    use std::collections::BTreeMap;
    let mut calls: BTreeMap<u64, &super::OptionQuote> = BTreeMap::new();
    let mut puts: BTreeMap<u64, &super::OptionQuote> = BTreeMap::new();
    for q in quotes {
        let side = match q.kind {
            OptionKind::Call => &mut calls,
            OptionKind::Put => &mut puts,
        };
        side.entry(q.strike.to_bits()).or_insert(q);
    }
    let mid = |q: &super::OptionQuote| match (q.bid, q.ask) {
        (Some(b), Some(a)) if a >= b => Some(0.5 * (a + b)),
        _ => None,
    };
    calls
        .iter()
        .filter_map(|(k, c)| {
            let p = puts.get(k)?;
            Some(ParityPair {
                strike: c.strike,
                call: mid(c)?,
                put: mid(p)?,
                spread: (c.ask? - c.bid?) + (p.ask? - p.bid?),
            })
        })
        .collect()
}
