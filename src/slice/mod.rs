//! Per-expiry market smiles: [`SmileSlice`] holds one expiry's quotes as implied volatilities in
//! log-moneyness, with the forward and discount factor they were computed with, bid/mid/ask
//! vols and fitting weights — and the quotes that were filtered out, with the reason.
//!
//! [`build_slices`] turns a [`Chain`](crate::quotes::Chain) into slices: it groups quotes by
//! expiry, measures time to expiry to the second, finds the forward (from the file, else
//! put–call parity, else spot), keeps the out-of-the-money side by default, filters bad quotes,
//! inverts bid/mid/ask premiums to vols with [`implied_vol`](crate::implied_vol), and weights
//! the points. Every quote ends up as a point, in `excluded`, or counted as the unused
//! in-the-money side; every expiry as a slice or in [`SliceReport::dropped`] with its reason.
//!
//! A slice cannot be built invalid: its fields are private, and every constructor (and
//! deserialisation) checks `t > 0`, a finite forward (positive for Black vols), a positive
//! discount factor and finite, positive vols and weights — a slice with `t ≤ 0` is an error
//! where it is made, not a NaN three calls later.
//!
//! [`ceiling()`] decides per expiry whether any arbitrage-free smile passes inside every bid/ask
//! band (a small LP on call prices), so a fit's within-spread share can be read against what
//! is attainable.
//!
//! [`Points`] is the flat view of one or more slices that every fit reads, and [`Objective`]
//! says how a model vol is measured against a quote.

mod build;
pub mod ceiling;
mod daycount;
mod filter;
mod forward;
mod options;
mod points;
mod weights;

pub use build::{DropReason, DroppedExpiry, Patch, SliceReport, build_slices, patch_slice};
pub use ceiling::{Ceiling, ceiling};
pub use daycount::DayCount;
pub use filter::{ExcludedQuote, RejectReason};
pub use forward::ForwardSource;
pub use options::{Filters, MAX_LOG_MONEYNESS, MAX_VOL, Side, SliceOptions, Weighting};
pub use points::{FitStats, Group, Objective, Points};

use crate::black::{OptionKind, bachelier_greeks, black_greeks};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One market point of a smile (read through its getters; built only inside a
/// [`SmileSlice`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmilePoint {
    strike: f64,
    k: f64,
    kind: OptionKind,
    bid_iv: Option<f64>,
    mid_iv: f64,
    ask_iv: Option<f64>,
    weight: f64,
    vega: f64,
    line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mark_iv: Option<f64>,
}

impl SmilePoint {
    /// Strike.
    pub fn strike(&self) -> f64 {
        self.strike
    }
    /// Log-moneyness `k = ln(K/F)` (`K − F` for normal-vol slices).
    pub fn k(&self) -> f64 {
        self.k
    }
    /// The option whose premium gave the vols.
    pub fn kind(&self) -> OptionKind {
        self.kind
    }
    /// Bid implied vol, if the bid has one.
    pub fn bid_iv(&self) -> Option<f64> {
        self.bid_iv
    }
    /// Mid implied vol (the vol of the mid premium; mean of bid and ask vols for vol tables).
    pub fn mid_iv(&self) -> f64 {
        self.mid_iv
    }
    /// Ask implied vol, if the ask has one.
    pub fn ask_iv(&self) -> Option<f64> {
        self.ask_iv
    }
    /// Both sides, when the quote has them.
    pub fn bid_ask(&self) -> Option<(f64, f64)> {
        self.bid_iv.zip(self.ask_iv)
    }
    /// Fitting weight (mean 1 over the slice).
    pub fn weight(&self) -> f64 {
        self.weight
    }
    /// Vega of the undiscounted option at the mid vol, `∂V/∂σ` (Black, or Bachelier for
    /// normal-vol slices).
    pub fn vega(&self) -> f64 {
        self.vega
    }
    /// The file line of the quote (`None` for user-made slices).
    pub fn line(&self) -> Option<u64> {
        self.line
    }
    /// The exchange's mark implied vol of the quote, where the chain gives one (Deribit's
    /// `mark_iv` / `implied_volatility`), on the exchange's own forward.
    pub fn mark_iv(&self) -> Option<f64> {
        self.mark_iv
    }

    /// Why the point cannot be in a slice of `convention`, if it cannot.
    fn invalid(&self, convention: VolConvention) -> Option<SliceError> {
        let normal = convention == VolConvention::Normal;
        let bad = |what, value| Some(SliceError::NonPositive { what, value });
        if !self.strike.is_finite() {
            return Some(SliceError::NonFinite {
                what: "strike",
                value: self.strike,
            });
        }
        if !normal && !(self.strike > 0.0) {
            return bad("strike", self.strike);
        }
        for (what, v) in [
            ("vol", Some(self.mid_iv)),
            ("bid vol", self.bid_iv),
            ("ask vol", self.ask_iv),
        ] {
            match v {
                Some(v) if !v.is_finite() => {
                    return Some(SliceError::NonFinite { what, value: v });
                }
                Some(v) if !(v > 0.0) => return bad(what, v),
                _ => {}
            }
        }
        if !(self.weight >= 0.0 && self.weight.is_finite()) {
            return Some(SliceError::NonFinite {
                what: "weight",
                value: self.weight,
            });
        }
        if !self.k.is_finite() {
            return Some(SliceError::NonFinite {
                what: "log-moneyness",
                value: self.k,
            });
        }
        None
    }
}

/// The quoting convention of a slice's vols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolConvention {
    /// Black (lognormal) implied vols; `k = ln(K/F)`.
    #[default]
    Lognormal,
    /// Bachelier (normal) implied vols in price units per √year (e.g. `0.0071` = 71 bp);
    /// `k = K − F`.
    Normal,
}

/// One expiry's market smile (valid by construction; see the [module doc](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SliceData")]
pub struct SmileSlice {
    #[serde(default)]
    convention: VolConvention,
    expiry: Option<DateTime<Utc>>,
    t: f64,
    forward: f64,
    discount: f64,
    forward_source: ForwardSource,
    points: Vec<SmilePoint>,
    excluded: Vec<ExcludedQuote>,
}

/// The unchecked stored form of a [`SmileSlice`], checked on the way in.
#[derive(Deserialize)]
struct SliceData {
    #[serde(default)]
    convention: VolConvention,
    expiry: Option<DateTime<Utc>>,
    t: f64,
    forward: f64,
    discount: f64,
    forward_source: ForwardSource,
    points: Vec<SmilePoint>,
    #[serde(default)]
    excluded: Vec<ExcludedQuote>,
}

impl TryFrom<SliceData> for SmileSlice {
    type Error = SliceError;
    fn try_from(d: SliceData) -> Result<Self, SliceError> {
        SmileSlice {
            convention: d.convention,
            expiry: d.expiry,
            t: d.t,
            forward: d.forward,
            discount: d.discount,
            forward_source: d.forward_source,
            points: d.points,
            excluded: d.excluded,
        }
        .validated()
    }
}

/// Why a slice cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SliceError {
    /// Time, forward, a strike or a vol is not finite and positive.
    #[error("{what} must be finite and positive, got {value}")]
    NonPositive {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A forward, strike or weight is not finite.
    #[error("{what} must be finite, got {value}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// No quotes given.
    #[error("a slice needs at least one quote")]
    Empty,
}

impl SmileSlice {
    /// A slice from (strike, vol) pairs at time `t` with forward `forward`: unit weights, no
    /// bid/ask, discount 1.
    ///
    /// # Errors
    /// [`SliceError`] if `t`, `forward`, a strike or a vol is not finite and positive, or
    /// there are no quotes.
    ///
    /// ```
    /// use volfit::SmileSlice;
    /// let s = SmileSlice::from_vols(0.5, 100.0, &[(90.0, 0.25), (100.0, 0.2), (110.0, 0.22)])?;
    /// assert_eq!(s.points().len(), 3);
    /// assert!(s.points()[1].k().abs() < 1e-15);
    /// assert!(SmileSlice::from_vols(-1.0, 100.0, &[(100.0, 0.2)]).is_err());
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn from_vols(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64)],
    ) -> Result<SmileSlice, SliceError> {
        let q: Vec<(f64, Option<f64>, f64, Option<f64>)> =
            quotes.iter().map(|&(k, v)| (k, None, v, None)).collect();
        Self::from_user_quotes(t, forward, &q, VolConvention::Lognormal)
    }

    /// A slice of normal (Bachelier) vols from (strike, normal vol) pairs: unit weights, no
    /// bid/ask, discount 1. Forward and strikes may take any sign (rates); `k = K − F`.
    ///
    /// # Errors
    /// [`SliceError`] if `t` or a vol is not finite and positive, the forward or a strike is
    /// not finite, or there are no quotes.
    ///
    /// ```
    /// use volfit::SmileSlice;
    /// use volfit::slice::VolConvention;
    /// let s = SmileSlice::from_normal_vols(1.0, 0.0184, &[(0.0084, 0.0056), (0.0184, 0.0071)])?;
    /// assert_eq!(s.convention(), VolConvention::Normal);
    /// assert!((s.points()[0].k() + 0.01).abs() < 1e-15);
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn from_normal_vols(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64)],
    ) -> Result<SmileSlice, SliceError> {
        let q: Vec<(f64, Option<f64>, f64, Option<f64>)> =
            quotes.iter().map(|&(k, v)| (k, None, v, None)).collect();
        Self::from_user_quotes(t, forward, &q, VolConvention::Normal)
    }

    /// A slice of Black vols from `(strike, bid vol, ask vol)` quotes: the mid vol is the mean
    /// of the two, weights are uniform, discount 1.
    ///
    /// # Errors
    /// As [`SmileSlice::from_vols`], and when a bid exceeds its ask.
    ///
    /// ```
    /// use volfit::SmileSlice;
    /// let s = SmileSlice::from_bid_ask(0.25, 100.0, &[(90.0, 0.24, 0.26), (100.0, 0.19, 0.21)])?;
    /// assert_eq!(s.points()[0].bid_ask(), Some((0.24, 0.26)));
    /// assert!((s.points()[1].mid_iv() - 0.2).abs() < 1e-15);
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn from_bid_ask(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64, f64)],
    ) -> Result<SmileSlice, SliceError> {
        let mut q = Vec::with_capacity(quotes.len());
        for &(k, b, a) in quotes {
            if !(b <= a) {
                return Err(SliceError::NonPositive {
                    what: "ask vol − bid vol",
                    value: a - b,
                });
            }
            q.push((k, Some(b), 0.5 * (b + a), Some(a)));
        }
        Self::from_user_quotes(t, forward, &q, VolConvention::Lognormal)
    }

    /// A user-made slice from `(strike, bid, mid, ask)` vols: unit weights, discount 1.
    fn from_user_quotes(
        t: f64,
        forward: f64,
        quotes: &[(f64, Option<f64>, f64, Option<f64>)],
        convention: VolConvention,
    ) -> Result<SmileSlice, SliceError> {
        let normal = convention == VolConvention::Normal;
        check_time_forward(t, forward, normal)?;
        let mut points = Vec::with_capacity(quotes.len());
        for &(strike, bid_iv, vol, ask_iv) in quotes {
            let kind = OptionKind::otm(forward, strike);
            let (k, vega) = if normal {
                (
                    strike - forward,
                    bachelier_greeks(kind, forward, strike, t, vol).vega,
                )
            } else {
                (
                    (strike / forward).ln(),
                    black_greeks(kind, forward, strike, t, vol).vega,
                )
            };
            points.push(SmilePoint {
                strike,
                k,
                kind,
                bid_iv,
                mid_iv: vol,
                ask_iv,
                weight: 1.0,
                vega,
                line: None,
                mark_iv: None,
            });
        }
        points.sort_by(|a, b| a.strike.total_cmp(&b.strike));
        SmileSlice {
            convention,
            expiry: None,
            t,
            forward,
            discount: 1.0,
            forward_source: ForwardSource::User,
            points,
            excluded: Vec::new(),
        }
        .validated()
    }

    /// The slice if it satisfies every invariant of the [module doc](self).
    fn validated(self) -> Result<SmileSlice, SliceError> {
        self.check().map(|()| self)
    }

    /// Whether the slice satisfies every invariant of the [module doc](self).
    fn check(&self) -> Result<(), SliceError> {
        let normal = self.convention == VolConvention::Normal;
        check_time_forward(self.t, self.forward, normal)?;
        if !(self.discount > 0.0 && self.discount.is_finite()) {
            return Err(SliceError::NonPositive {
                what: "discount factor",
                value: self.discount,
            });
        }
        if self.points.is_empty() {
            return Err(SliceError::Empty);
        }
        match self.points.iter().find_map(|p| p.invalid(self.convention)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// How the vols are quoted (Black unless built by [`SmileSlice::from_normal_vols`]).
    pub fn convention(&self) -> VolConvention {
        self.convention
    }
    /// Expiry instant, when known.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        self.expiry
    }
    /// Time to expiry in years (`> 0`).
    pub fn t(&self) -> f64 {
        self.t
    }
    /// Forward.
    pub fn forward(&self) -> f64 {
        self.forward
    }
    /// Discount factor to expiry (1 where premiums are undiscounted).
    pub fn discount(&self) -> f64 {
        self.discount
    }
    /// Where the forward came from.
    pub fn forward_source(&self) -> ForwardSource {
        self.forward_source
    }
    /// Usable points, sorted by strike (at least one).
    pub fn points(&self) -> &[SmilePoint] {
        &self.points
    }
    /// Quotes of the expiry that were filtered out.
    pub fn excluded(&self) -> &[ExcludedQuote] {
        &self.excluded
    }

    /// A held-out test of a fit: the slice without every `every`-th point (strike order,
    /// starting with the `offset`-th; they move to [`SmileSlice::excluded`] as
    /// [`RejectReason::HeldOut`]), and the points left out. `None` when `every < 2` or fewer
    /// than 3 points would remain.
    ///
    /// ```
    /// use volfit::SmileSlice;
    /// let quotes: Vec<(f64, f64)> = (0..10).map(|i| (90.0 + 2.0 * f64::from(i), 0.2)).collect();
    /// let s = SmileSlice::from_vols(0.5, 100.0, &quotes)?;
    /// let (fit_on, out) = s.held_out(5, 2).unwrap();
    /// assert_eq!((fit_on.points().len(), out.len()), (8, 2));
    /// assert_eq!(out[0].strike(), 94.0);
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn held_out(&self, every: usize, offset: usize) -> Option<(SmileSlice, Vec<SmilePoint>)> {
        if every < 2 {
            return None;
        }
        let drop: Vec<usize> = (0..self.points.len())
            .filter(|i| i % every == offset % every)
            .collect();
        let out = drop.iter().map(|&i| self.points[i]).collect();
        self.without(&drop, 3, |_| RejectReason::HeldOut)
            .map(|s| (s, out))
    }

    /// The slice without the points at `drop` (indices into [`SmileSlice::points`]), each
    /// moved to [`SmileSlice::excluded`] with the reason `why` gives it. `None` if fewer than
    /// `min` points would remain.
    pub(crate) fn without(
        &self,
        drop: &[usize],
        min: usize,
        why: impl Fn(&SmilePoint) -> RejectReason,
    ) -> Option<SmileSlice> {
        if self.points.len() < drop.len() + min.max(1) {
            return None;
        }
        let mut out = self.clone();
        out.points.clear();
        for (i, p) in self.points.iter().enumerate() {
            if drop.contains(&i) {
                out.excluded.push(ExcludedQuote {
                    strike: p.strike,
                    k: p.k,
                    kind: p.kind,
                    mid_iv: Some(p.mid_iv),
                    reason: why(p),
                    line: p.line.unwrap_or(0),
                });
            } else {
                out.points.push(*p);
            }
        }
        Some(out)
    }

    /// Log-moneyness of the points.
    pub fn ks(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.k).collect()
    }

    /// Mid vols of the points.
    pub fn mid_ivs(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.mid_iv).collect()
    }

    /// Total implied variance `σ²T` of the mid vols.
    pub fn total_variances(&self) -> Vec<f64> {
        self.points
            .iter()
            .map(|p| p.mid_iv * p.mid_iv * self.t)
            .collect()
    }

    /// `[k_min, k_max]` of the points.
    pub fn k_range(&self) -> [f64; 2] {
        self.points
            .iter()
            .fold([f64::INFINITY, f64::NEG_INFINITY], |r, p| {
                [r[0].min(p.k), r[1].max(p.k)]
            })
    }
}

fn check_time_forward(t: f64, forward: f64, normal: bool) -> Result<(), SliceError> {
    if !(t > 0.0 && t.is_finite()) {
        return Err(if t.is_finite() {
            SliceError::NonPositive {
                what: "time to expiry",
                value: t,
            }
        } else {
            SliceError::NonFinite {
                what: "time to expiry",
                value: t,
            }
        });
    }
    if !forward.is_finite() {
        return Err(SliceError::NonFinite {
            what: "forward",
            value: forward,
        });
    }
    if !normal && !(forward > 0.0) {
        return Err(SliceError::NonPositive {
            what: "forward",
            value: forward,
        });
    }
    Ok(())
}
