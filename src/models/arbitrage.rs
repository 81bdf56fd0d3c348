//! Static arbitrage of smiles, in one place: Durrleman's butterfly function and the density it
//! gives, the one butterfly verdict type every model returns, and the one calendar method (the
//! smallest gap between two smiles' total variances over a stated domain).
//!
//! The fits, the surface build, `volfit check`, the charts and the report all decide
//! arbitrage through these functions, so they agree.

use super::numerics::{global_min, interval_min};
use serde::{Deserialize, Serialize};

/// Durrleman's `g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2` from `k, w, w', w''`: the
/// smile is free of butterfly arbitrage iff `g ≥ 0` everywhere (and `d₊ → −∞` in the right
/// wing) (Gatheral & Jacquier 2014, Lemma 2.2). It is the risk-neutral density divided by the
/// density of a flat smile through the same point, so `g ≡ 1` for a flat smile.
#[inline]
pub fn durrleman(k: f64, w: f64, w1: f64, w2: f64) -> f64 {
    let a = 1.0 - k * w1 / (2.0 * w);
    a * a - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
}

/// Partial derivatives of Durrleman's `g` in `(w, w', w'')` at fixed `k`.
#[inline]
pub(crate) fn durrleman_partials(k: f64, w: f64, w1: f64) -> (f64, f64, f64) {
    let a = 1.0 - k * w1 / (2.0 * w);
    let gw = a * k * w1 / (w * w) + w1 * w1 / (4.0 * w * w);
    let gw1 = -a * k / w - 0.5 * w1 * (1.0 / w + 0.25);
    (gw, gw1, 0.5)
}

/// The risk-neutral density of the log-moneyness `x = ln(F_T/F)` at `x = k`, per unit `k`:
/// `p(k) = g(k)/√(2πw)·e^{−d₋²/2}` with `d₋ = −k/√w − √w/2` (Gatheral & Jacquier 2014,
/// eq. 2.1). The density of `F_T` per unit strike at `K = F·eᵏ` is `p(k)/K`. NaN where
/// `w ≤ 0` (no smile, no density).
#[inline]
pub fn density_k(k: f64, w: f64, w1: f64, w2: f64) -> f64 {
    if !(w > 0.0) {
        return f64::NAN;
    }
    let sw = w.sqrt();
    let dm = -k / sw - 0.5 * sw;
    durrleman(k, w, w1, w2) / (2.0 * std::f64::consts::PI * w).sqrt() * (-0.5 * dm * dm).exp()
}

/// The intervals of the sorted grid `ks` where `g < 0` (or is NaN), each from its first to its
/// last failing grid point; one still open at the grid's end runs to `end`. The one scan that
/// locates a verdict's negative intervals.
pub(crate) fn negative_intervals(
    ks: impl Iterator<Item = f64>,
    g: impl Fn(f64) -> f64,
    end: f64,
) -> Vec<[f64; 2]> {
    let mut negative = Vec::new();
    let mut open: Option<f64> = None;
    let mut prev = f64::NEG_INFINITY;
    for k in ks {
        let neg = !(g(k) >= 0.0);
        match (neg, open) {
            (true, None) => open = Some(k),
            (false, Some(lo)) => {
                negative.push([lo, prev]);
                open = None;
            }
            _ => {}
        }
        prev = k;
    }
    if let Some(lo) = open {
        negative.push([lo, end]);
    }
    negative
}

/// Where a check looked (in the verdict's [`Coordinate`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckDomain {
    /// The whole real line of log-moneyness (an exact global minimisation).
    RealLine,
    /// An interval of the model's moneyness coordinate, minimised over by a 65-point grid
    /// refined by Brent's method.
    Interval {
        /// `[lo, hi]`.
        range: [f64; 2],
    },
    /// A scan of `points` equally spaced values of the model's moneyness coordinate (SABR's
    /// density scan: the expansion has no closed-form domain).
    Scan {
        /// `[lo, hi]`.
        range: [f64; 2],
        /// Points scanned.
        points: usize,
    },
}

/// The butterfly verdict of one smile: the smallest normalised density (Durrleman's `g`),
/// where it is, the intervals where the density is negative, and on which domain this was
/// decided. Every model returns this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButterflyVerdict {
    /// Infimum of `g` over the domain (negative: butterfly arbitrage). For SVI over the real
    /// line this includes the wings' limits `1/4 − slope²/16`.
    pub min_g: f64,
    /// Where (the model's moneyness coordinate; `±∞` for a wing's limit).
    pub at: f64,
    /// Intervals of the moneyness coordinate where the density is negative, to the check's
    /// resolution (empty when free).
    pub negative: Vec<[f64; 2]>,
    /// Where the check looked.
    pub domain: CheckDomain,
    /// The coordinate of `at`, `negative` and the domain.
    pub coordinate: Coordinate,
    /// Free of butterfly arbitrage on the domain (for SVI: also `min w > 0` and Lee's bound).
    pub free: bool,
}

impl ButterflyVerdict {
    /// Free of butterfly arbitrage on the domain.
    pub fn is_free(&self) -> bool {
        self.free
    }
}

/// The coordinate a verdict is stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coordinate {
    /// Log-moneyness `k = ln(K/F)`.
    LogMoneyness,
    /// Strike `K` (SABR, whose normal expansion also takes negative strikes).
    Strike,
}

/// The smallest gap `w_later(k) − w_earlier(k)` between two smiles over a domain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalendarGap {
    /// `min_k (w_later(k) − w_earlier(k))` (negative: calendar arbitrage).
    pub min_gap: f64,
    /// Where.
    pub at: f64,
    /// `[k_lo, k_hi]` of the grid samples where the gap is negative beyond rounding, with the
    /// minimum (`None` when there are none).
    pub negative: Option<[f64; 2]>,
    /// Where the check looked.
    pub domain: CheckDomain,
}

impl CalendarGap {
    /// Whether the later smile dips below the earlier one beyond rounding of `w`:
    /// `min_gap < −4ε·w` at the minimum.
    pub fn violated(&self) -> bool {
        self.negative.is_some()
    }

    /// The largest shortfall `w_earlier − w_later` (0 when free).
    pub fn shortfall(&self) -> f64 {
        if self.violated() { -self.min_gap } else { 0.0 }
    }
}

/// The one calendar method: the smallest gap `w_later(k) − w_earlier(k)` over `domain` —
/// the whole real line (global minimisation around `(center, scale)`, see
/// [`CheckDomain::RealLine`]) or an interval. A gap counts as negative when it is below
/// `−4ε·max(w_earlier, w_later)` (the rounding of `w`).
///
/// ```
/// use volfit::models::arbitrage::{calendar_gap, CheckDomain};
/// use volfit::models::svi::Svi;
/// let a = Svi::new(0.01, 0.1, -0.3, 0.0, 0.2).unwrap();
/// let b = Svi::new(0.02, 0.1, -0.3, 0.0, 0.2).unwrap(); // a shifted up
/// let up = calendar_gap(|k| a.w(k), |k| b.w(k), CheckDomain::RealLine, (0.0, 0.2));
/// assert!(!up.violated() && (up.min_gap - 0.01).abs() < 1e-12);
/// let down = calendar_gap(|k| b.w(k), |k| a.w(k), CheckDomain::RealLine, (0.0, 0.2));
/// assert!(down.violated() && (down.shortfall() - 0.01).abs() < 1e-12);
/// ```
pub fn calendar_gap(
    earlier: impl Fn(f64) -> f64,
    later: impl Fn(f64) -> f64,
    domain: CheckDomain,
    (center, scale): (f64, f64),
) -> CalendarGap {
    let gap = |k: f64| later(k) - earlier(k);
    let below = |k: f64| {
        let (a, b) = (earlier(k), later(k));
        b - a < -4.0 * f64::EPSILON * a.abs().max(b.abs())
    };
    let (at, min_gap) = match domain {
        CheckDomain::RealLine => global_min(center, scale.max(1e-6), gap),
        CheckDomain::Interval { range } | CheckDomain::Scan { range, .. } => {
            interval_min(range[0], range[1], gap)
        }
    };
    let negative = below(at).then(|| {
        // The hull of the negative samples of a uniform grid over the domain (or, on the real
        // line, over the quoted scale around the minimum), with the minimum.
        let [lo, hi] = match domain {
            CheckDomain::RealLine => {
                let s = 8.0 * scale.max(1e-6);
                [at.min(center) - s, at.max(center) + s]
            }
            CheckDomain::Interval { range } | CheckDomain::Scan { range, .. } => range,
        };
        let mut hull = [at, at];
        if lo.is_finite() && hi.is_finite() {
            for i in 0..=200 {
                let k = lo + (hi - lo) * f64::from(i) / 200.0;
                if below(k) {
                    hull = [hull[0].min(k), hull[1].max(k)];
                }
            }
        }
        hull
    });
    CalendarGap {
        min_gap: if min_gap.is_nan() {
            f64::NEG_INFINITY
        } else {
            min_gap
        },
        at,
        negative,
        domain,
    }
}

/// The calendar check of a sequence of expiries: the smallest gap between consecutive smiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalendarCheck {
    /// `min_k (w_later(k) − w_earlier(k))` over all consecutive pairs and the domain.
    pub min_gap: f64,
    /// Where: `(t_earlier, t_later, k)`.
    pub at: (f64, f64, f64),
    /// No pair's gap is negative beyond rounding ([`CalendarGap::violated`]).
    pub calendar_free: bool,
}

/// [`calendar_gap`] over the whole real line between each pair of consecutive smiles
/// `(t, smile)` (sorted by `t`), around each pair's features ([`SmileModel::feature_scale`](super::SmileModel::feature_scale)).
///
/// ```
/// use volfit::models::arbitrage::calendar_check;
/// use volfit::models::svi::Svi;
/// let a = Svi::new(0.01, 0.1, -0.3, 0.0, 0.2).unwrap();
/// let b = Svi::new(0.02, 0.1, -0.3, 0.0, 0.2).unwrap(); // a shifted up: no calendar arbitrage
/// assert!(calendar_check(&[(0.25, &a), (0.5, &b)]).calendar_free);
/// assert!(!calendar_check(&[(0.25, &b), (0.5, &a)]).calendar_free);
/// ```
pub fn calendar_check<S: super::SmileModel>(slices: &[(f64, S)]) -> CalendarCheck {
    let mut out = CalendarCheck {
        min_gap: f64::INFINITY,
        at: (0.0, 0.0, 0.0),
        calendar_free: true,
    };
    for pair in slices.windows(2) {
        let ((t1, a), (t2, b)) = (&pair[0], &pair[1]);
        let (t1, t2) = (*t1, *t2);
        let ((c1, s1), (c2, s2)) = (a.feature_scale(), b.feature_scale());
        let gap = calendar_gap(
            |k| a.total_variance(k),
            |k| b.total_variance(k),
            CheckDomain::RealLine,
            (0.5 * (c1 + c2), s1.min(s2)),
        );
        out.calendar_free &= !gap.violated();
        if gap.min_gap < out.min_gap {
            out.min_gap = gap.min_gap;
            out.at = (t1, t2, gap.at);
        }
    }
    if !out.min_gap.is_finite() {
        out.min_gap = 0.0;
    }
    out
}
