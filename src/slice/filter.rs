//! Quote filters: whether a quote becomes a smile point, and the typed reason when it does not.

use super::{Filters, SliceOptions, SmilePoint};
use crate::black::{ImpliedVolError, OptionKind, black_greeks, implied_vol};
use crate::quotes::{Chain, OptionQuote, Premium};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a quote of an expiry is not a point of its smile.
///
/// `Display` gives the reason as `report.json` prints it: the filter's name first
/// (`no_bid`, `crossed`, `locked`, `one_tick_bid`, `no_ask`, `wide`, or the implied-vol
/// reason), then the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "filter", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// A second quote of the same strike and kind in the expiry.
    Duplicate,
    /// No bid (premium, or vol in an implied-vol table).
    NoBid {
        /// The quote is a vol quote (implied-vol table).
        vols: bool,
    },
    /// Bid above ask.
    Crossed {
        /// Bid (premium or vol).
        bid: f64,
        /// Ask (premium or vol).
        ask: f64,
        /// The quote is a vol quote.
        vols: bool,
    },
    /// Bid equal to ask.
    Locked {
        /// The common price (or vol).
        price: f64,
        /// The quote is a vol quote.
        vols: bool,
    },
    /// The bid is the minimum price tick (a stale floor order, not a price).
    OneTickBid {
        /// The bid.
        bid: f64,
    },
    /// No ask: no two-sided quote.
    NoAsk,
    /// An implied-vol table row with neither a bid nor an ask vol.
    NoVol,
    /// The mid premium has no implied vol.
    MidNoVol(ImpliedVolError),
    /// The strike is implausibly far from the forward (or `ln(K/F)` is not finite).
    FarStrike {
        /// `ln(K/F)`.
        k: f64,
        /// The filter's maximum `|ln(K/F)|`.
        max: f64,
    },
    /// The ask premium has no implied vol: it is at or above the option's no-arbitrage upper
    /// bound, so the quote's mid is not a price.
    AskNoVol(ImpliedVolError),
    /// A vol quote (implied-vol table) whose bid or ask vol (or mid vol, for a quote with
    /// neither) is not a plausible volatility:
    /// not finite, not positive, or above [`Filters::max_vol`].
    VolOutOfRange {
        /// The offending vol.
        vol: f64,
        /// The filter's maximum.
        max: f64,
    },
    /// After the fit: the quote's mid vol is further from the fitted smile than
    /// [`OUTLIER_SPREADS`](crate::surface::OUTLIER_SPREADS) half-spreads and
    /// [`OUTLIER_MIN_VOL`](crate::surface::OUTLIER_MIN_VOL); the expiry was refitted without it.
    Outlier {
        /// Fitted vol − mid vol.
        residual: f64,
        /// `|residual|` in half bid–ask spreads.
        spreads: f64,
    },
    /// The bid–ask vol spread is wider than the filter allows.
    Wide {
        /// Ask vol − bid vol.
        spread: f64,
        /// The filter's maximum.
        max: f64,
    },
    /// Left out of the fit on purpose to test it ([`SmileSlice::held_out`](crate::SmileSlice::held_out)).
    HeldOut,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RejectReason::Duplicate => f.write_str("duplicate strike and kind in the expiry"),
            RejectReason::NoBid { vols: true } => f.write_str("no_bid: no bid vol"),
            RejectReason::NoBid { vols: false } => f.write_str("no_bid"),
            RejectReason::Crossed {
                bid,
                ask,
                vols: true,
            } => write!(f, "crossed: bid vol {bid:?} ≥ ask vol {ask:?}"),
            RejectReason::Crossed { bid, ask, .. } => {
                write!(f, "crossed: bid {bid:?} > ask {ask:?}")
            }
            RejectReason::Locked { price, vols: true } => {
                write!(f, "locked: bid vol {price:?} ≥ ask vol {price:?}")
            }
            RejectReason::Locked { price, .. } => write!(f, "locked: bid = ask = {price:?}"),
            RejectReason::OneTickBid { bid } => {
                write!(f, "one_tick_bid: bid {bid:?} is the minimum tick")
            }
            RejectReason::NoAsk => f.write_str("no_ask: no two-sided quote"),
            RejectReason::NoVol => f.write_str("no vol"),
            RejectReason::MidNoVol(e) => write!(f, "{}: mid {e}", e.reason()),
            RejectReason::FarStrike { k, max } => write!(
                f,
                "far_strike: ln(K/F) = {k:.3} is beyond ±{max:.3} (a strike {:.0}× the forward or less)",
                max.exp()
            ),
            RejectReason::AskNoVol(e) => write!(f, "ask_no_vol: ask {e}"),
            RejectReason::VolOutOfRange { vol, max } => {
                write!(f, "vol_out_of_range: vol {vol:?} is not in (0, {max}]")
            }
            RejectReason::Outlier { residual, spreads } => write!(
                f,
                "outlier: the fitted smile misses the mid vol by {residual:+.4} ({spreads:.0} \
                 half-spreads); the expiry was refitted without it"
            ),
            RejectReason::Wide { spread, max } => {
                write!(f, "wide: vol spread {spread:.4} > {max}")
            }
            RejectReason::HeldOut => f.write_str("held_out: left out to test the fit"),
        }
    }
}

/// A quote of the expiry that is not in the smile, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedQuote {
    /// Strike.
    pub strike: f64,
    /// `ln(K/F)`.
    pub k: f64,
    /// Call or put.
    pub kind: OptionKind,
    /// Its mid vol where one exists (for greyed-out plotting).
    pub mid_iv: Option<f64>,
    /// Why it was excluded.
    pub reason: RejectReason,
    /// File line.
    pub line: u64,
}

/// The excluded-quote record of `q`.
pub(super) fn reject_quote(
    q: &OptionQuote,
    k: f64,
    mid_iv: Option<f64>,
    reason: RejectReason,
) -> ExcludedQuote {
    ExcludedQuote {
        strike: q.strike,
        k,
        kind: q.kind,
        mid_iv,
        reason,
        line: q.line,
    }
}

/// The mid premium of a two-sided, uncrossed quote.
pub(super) fn mid(q: &OptionQuote) -> Option<f64> {
    match (q.bid, q.ask) {
        (Some(b), Some(a)) if a >= b => Some(0.5 * (a + b)),
        _ => None,
    }
}

/// The smile point of one quote, or the reason it is not one (with its mid vol if it has one).
pub(super) fn point(
    chain: &Chain,
    q: &OptionQuote,
    (forward, discount, t, k): (f64, f64, f64, f64),
    opts: &SliceOptions,
) -> Result<SmilePoint, (RejectReason, Option<f64>)> {
    let f = &opts.filters;
    let (bid_iv, mid_iv, ask_iv) = if chain.premium == Premium::ImpliedVol {
        vol_quote(q, f)?
    } else {
        premium_quote(chain, q, (forward, discount, t), f)?
    };
    if let (Some(max), Some(b), Some(a)) = (f.max_iv_spread, bid_iv, ask_iv)
        && a - b > max
    {
        return Err((RejectReason::Wide { spread: a - b, max }, Some(mid_iv)));
    }
    Ok(SmilePoint {
        strike: q.strike,
        k,
        kind: q.kind,
        bid_iv,
        mid_iv,
        ask_iv,
        weight: 1.0,
        vega: black_greeks(q.kind, forward, q.strike, t, mid_iv).vega,
        line: Some(q.line),
        mark_iv: q.mark_iv.filter(|v| v.is_finite() && *v > 0.0),
    })
}

/// Bid, mid and ask vols of an implied-vol table row.
///
/// A row with a mark (mid) vol and neither a bid nor an ask vol is a **mid-vol quote** (a
/// generic CSV with only an `iv` column, an interpolated surface): it is a point at that vol
/// with no spread, so the bid and ask filters do not apply to it, only [`Filters::max_vol`].
/// A row with one side is a one-sided quote as before (a missing bid vol is a bid of zero).
fn vol_quote(
    q: &OptionQuote,
    f: &Filters,
) -> Result<(Option<f64>, f64, Option<f64>), (RejectReason, Option<f64>)> {
    if let (None, None, Some(mid)) = (q.bid_iv, q.ask_iv, q.mark_iv) {
        if let Some(max) = f.max_vol
            && !(mid > 0.0 && mid <= max)
        {
            return Err((RejectReason::VolOutOfRange { vol: mid, max }, None));
        }
        return Ok((None, mid, None));
    }
    if let Some(max) = f.max_vol {
        for v in [q.bid_iv, q.ask_iv].into_iter().flatten() {
            // NaN fails the test too.
            if !(v > 0.0 && v <= max) {
                return Err((RejectReason::VolOutOfRange { vol: v, max }, None));
            }
        }
    }
    let mid = match (q.bid_iv, q.ask_iv) {
        (Some(b), Some(a)) => Some(0.5 * (a + b)),
        (None, Some(a)) => Some(a),
        (b, None) => b,
    };
    if f.no_bid && q.bid_iv.is_none() {
        return Err((RejectReason::NoBid { vols: true }, mid));
    }
    if f.crossed_or_locked
        && let (Some(b), Some(a)) = (q.bid_iv, q.ask_iv)
        && b >= a
    {
        let reason = if b > a {
            RejectReason::Crossed {
                bid: b,
                ask: a,
                vols: true,
            }
        } else {
            RejectReason::Locked {
                price: b,
                vols: true,
            }
        };
        return Err((reason, mid));
    }
    let mid = mid.ok_or((RejectReason::NoVol, None))?;
    // As for premiums: a quote needs an ask to be two-sided (a bid alone is not a price).
    if q.ask_iv.is_none() {
        return Err((RejectReason::NoAsk, Some(mid)));
    }
    Ok((q.bid_iv, mid, q.ask_iv))
}

/// Bid, mid and ask vols of a premium quote (coin or quote currency, discounted as quoted).
fn premium_quote(
    chain: &Chain,
    q: &OptionQuote,
    (forward, discount, t): (f64, f64, f64),
    f: &Filters,
) -> Result<(Option<f64>, f64, Option<f64>), (RejectReason, Option<f64>)> {
    // Undiscounted premiums in quote currency.
    let to_undiscounted = |p: f64| match chain.premium {
        Premium::Coin => p * forward,
        _ => p / discount,
    };
    let iv = |p: f64| -> Result<f64, ImpliedVolError> {
        implied_vol(q.kind, to_undiscounted(p), forward, q.strike, t)
    };
    let mid_iv = mid(q).or(q.mark).and_then(|p| iv(p).ok());
    if f.no_bid && q.bid.is_none() {
        return Err((RejectReason::NoBid { vols: false }, mid_iv));
    }
    if f.crossed_or_locked
        && let (Some(b), Some(a)) = (q.bid, q.ask)
    {
        if b > a {
            return Err((
                RejectReason::Crossed {
                    bid: b,
                    ask: a,
                    vols: false,
                },
                None,
            ));
        }
        if b == a {
            return Err((
                RejectReason::Locked {
                    price: b,
                    vols: false,
                },
                mid_iv,
            ));
        }
    }
    if f.one_tick_bid
        && let (Some(b), Some(tick)) = (q.bid, chain.tick)
        && b <= tick * (1.0 + 1e-9)
    {
        return Err((RejectReason::OneTickBid { bid: b }, mid_iv));
    }
    let Some(mid_price) = mid(q) else {
        return Err((RejectReason::NoAsk, mid_iv));
    };
    let mid_iv = iv(mid_price).map_err(|e| (RejectReason::MidNoVol(e), None))?;
    let ask_iv = match q.ask.map(iv) {
        Some(Err(e)) => return Err((RejectReason::AskNoVol(e), Some(mid_iv))),
        Some(Ok(v)) => Some(v),
        None => None,
    };
    Ok((q.bid.and_then(|p| iv(p).ok()), mid_iv, ask_iv))
}
