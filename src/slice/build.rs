//! [`build_slices`]: a chain's quotes grouped by expiry, filtered and turned into smiles.

use super::filter::{point, reject_quote};
use super::forward::{Prepared, prepare, stabilise_discounts, tighten};
use super::weights::set_weights;
use super::{ExcludedQuote, RejectReason, Side, SliceOptions, SmileSlice, VolConvention};
use crate::black::OptionKind;
use crate::quotes::parity::ParityFit;
use crate::quotes::{Chain, OptionQuote, Premium, Rejection};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Why an expiry produced no slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// Neither the file nor the options give a snapshot time to measure time to expiry from.
    NoSnapshotTime,
    /// The expiry is not after the snapshot time.
    Expired {
        /// Its time to expiry in years.
        t: f64,
    },
    /// No forward: no usable call/put pairs for parity and no spot.
    NoForward,
    /// Fewer usable quotes than [`SliceOptions::min_quotes`].
    TooFewQuotes {
        /// Usable quotes.
        n: usize,
        /// The minimum.
        min: usize,
    },
    /// The slice's numbers are out of their domain (see [`SliceError`](super::SliceError)).
    Invalid {
        /// What is wrong.
        what: String,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DropReason::NoSnapshotTime => f.write_str("no snapshot time to measure time to expiry"),
            DropReason::Expired { t } => write!(f, "expired (t = {t:.3e} years)"),
            DropReason::NoForward => {
                f.write_str("no forward: no usable call/put pairs for parity and no spot")
            }
            DropReason::TooFewQuotes { n, min } => {
                write!(f, "too few usable quotes ({n} < {min})")
            }
            DropReason::Invalid { ref what } => write!(f, "invalid slice: {what}"),
        }
    }
}

/// An expiry that produced no slice, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedExpiry {
    /// Expiry instant.
    pub expiry: DateTime<Utc>,
    /// Time to expiry, where it could be computed.
    pub t: Option<f64>,
    /// Usable quotes it had.
    pub n_quotes: usize,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// The account of slice building: which quotes the filters removed and which expiries gave no
/// slice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SliceReport {
    /// Quotes used in the slices.
    pub quotes_used: usize,
    /// Quotes on the in-the-money side at strikes where the out-of-the-money side is used.
    pub itm_side_unused: usize,
    /// Quotes removed by a filter or whose vol does not exist, with line and reason.
    pub rejected: Vec<Rejection>,
    /// Expiries without a slice.
    pub dropped: Vec<DroppedExpiry>,
    /// Parity fits per expiry where parity was used (for the record).
    pub parity: Vec<(DateTime<Utc>, ParityFit)>,
}

/// Builds one [`SmileSlice`] per expiry of `chain` (sorted by time to expiry).
///
/// Undiscounted premiums are `premium/D` for quote-currency chains (the discount factor `D` from
/// the file or from parity) and `coin × F` for coin-settled chains. See the
/// [module doc](super).
pub fn build_slices(chain: &Chain, opts: &SliceOptions) -> (Vec<SmileSlice>, SliceReport) {
    let mut report = SliceReport::default();
    let as_of = opts.as_of.or(chain.as_of);
    let mut groups: BTreeMap<DateTime<Utc>, Vec<&OptionQuote>> = BTreeMap::new();
    for q in &chain.quotes {
        groups.entry(q.expiry).or_default().push(q);
    }
    // First pass: forwards per expiry; then replace poorly determined parity discount factors
    // by the rate of the nearest well-determined expiry.
    let mut prepared = Vec::new();
    for (expiry, quotes) in groups {
        match prepare(chain, expiry, quotes, (as_of, opts.day_count), &mut report) {
            Ok(p) => prepared.push(p),
            Err(dropped) => report.dropped.push(dropped),
        }
    }
    stabilise_discounts(&mut prepared);
    let mut slices = Vec::new();
    for p in prepared {
        match build_one(chain, &p, opts, &mut report) {
            Ok(slice) => slices.push(slice),
            Err(dropped) => report.dropped.push(dropped),
        }
    }
    slices.sort_by(|a, b| a.t.total_cmp(&b.t));
    (slices, report)
}

fn build_one(
    chain: &Chain,
    p: &Prepared<'_>,
    opts: &SliceOptions,
    report: &mut SliceReport,
) -> Result<SmileSlice, DroppedExpiry> {
    let (expiry, quotes, t, forward, discount) = (p.expiry, &p.quotes, p.t, p.forward, p.discount);
    let mut points = Vec::new();
    let mut excluded = Vec::new();
    let mut seen: Vec<(u64, OptionKind)> = Vec::new();
    for q in quotes {
        let k = (q.strike / forward).ln();
        if let Some(max) = opts.filters.max_log_moneyness
            && !(k.abs() <= max)
        {
            reject(
                report,
                &mut excluded,
                q,
                k,
                None,
                RejectReason::FarStrike { k, max },
            );
            continue;
        }
        let wanted = match opts.side {
            Side::Otm => OptionKind::otm(forward, q.strike),
            Side::Calls => OptionKind::Call,
            Side::Puts => OptionKind::Put,
        };
        if q.kind != wanted {
            report.itm_side_unused += 1;
            continue;
        }
        let key = (q.strike.to_bits(), q.kind);
        if seen.contains(&key) {
            reject(report, &mut excluded, q, k, None, RejectReason::Duplicate);
            continue;
        }
        seen.push(key);
        let tightened;
        let q = if opts.parity_tighten && chain.premium != Premium::ImpliedVol {
            tightened = tighten(chain, q, quotes, forward, discount);
            &tightened
        } else {
            *q
        };
        match point(chain, q, (forward, discount, t, k), opts) {
            Ok(p) => points.push(p),
            Err((reason, mid_iv)) => reject(report, &mut excluded, q, k, mid_iv, reason),
        }
    }
    let min = opts.min_quotes.max(1);
    let drop = |points: &[super::SmilePoint], reason: DropReason, report: &mut SliceReport| {
        for p in points {
            report.rejected.push(Rejection {
                line: p.line.unwrap_or(0),
                reason: format!("expiry {}: {reason}", expiry.format("%Y-%m-%d %H:%M UTC")),
            });
        }
        DroppedExpiry {
            expiry,
            t: Some(t),
            n_quotes: points.len(),
            reason,
        }
    };
    if points.len() < min {
        let reason = DropReason::TooFewQuotes {
            n: points.len(),
            min,
        };
        return Err(drop(&points, reason, report));
    }
    points.sort_by(|a, b| a.strike.total_cmp(&b.strike));
    set_weights(&mut points, opts.weighting);
    let slice = SmileSlice {
        convention: VolConvention::Lognormal,
        expiry: Some(expiry),
        t,
        forward,
        discount,
        forward_source: p.source,
        points,
        excluded,
    };
    if let Err(e) = slice.check() {
        let what = e.to_string();
        return Err(drop(&slice.points, DropReason::Invalid { what }, report));
    }
    report.quotes_used += slice.points.len();
    Ok(slice)
}

fn reject(
    report: &mut SliceReport,
    excluded: &mut Vec<ExcludedQuote>,
    q: &OptionQuote,
    k: f64,
    mid_iv: Option<f64>,
    reason: RejectReason,
) {
    report.rejected.push(Rejection {
        line: q.line,
        reason: reason.to_string(),
    });
    excluded.push(reject_quote(q, k, mid_iv, reason));
}

/// What a single changed quote does to a slice ([`patch_slice`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// The quote is not one the slice uses (the in-the-money side under [`Side::Otm`]), or it
    /// is unchanged.
    Unused,
    /// The slice with the quote's point replaced or added (weights recomputed), and the
    /// point's index in it.
    Point(SmileSlice, usize),
    /// The quote no longer makes a point (why); the slice without it (`None` when it would
    /// have fewer than the options' minimum quotes).
    Removed(Option<SmileSlice>, RejectReason),
}

/// The slice with one quote re-derived at the slice's own time, forward and discount: the
/// stream path of the live tracker, one implied-vol inversion per changed quote instead of a
/// whole slice. The quote passes the same filters as in [`build_slices`] except put–call
/// parity tightening (which needs the whole expiry). `premium` is the unit of the quote's
/// premiums.
pub fn patch_slice(
    slice: &SmileSlice,
    premium: Premium,
    q: &OptionQuote,
    opts: &SliceOptions,
) -> Patch {
    let forward = slice.forward;
    let wanted = match opts.side {
        Side::Otm => OptionKind::otm(forward, q.strike),
        Side::Calls => OptionKind::Call,
        Side::Puts => OptionKind::Put,
    };
    if q.kind != wanted {
        return Patch::Unused;
    }
    let k = (q.strike / forward).ln();
    let chain = Chain {
        underlying: String::new(),
        as_of: None,
        spot: None,
        premium,
        tick: None,
        format: crate::quotes::Format::Auto,
        source: std::path::PathBuf::new(),
        quotes: Vec::new(),
    };
    let at = slice
        .points
        .iter()
        .position(|p| p.strike == q.strike && p.kind == q.kind);
    let far = opts
        .filters
        .max_log_moneyness
        .filter(|max| !(k.abs() <= *max));
    let made = match far {
        Some(max) => Err((RejectReason::FarStrike { k, max }, None)),
        None => point(&chain, q, (forward, slice.discount, slice.t, k), opts),
    };
    match made {
        Ok(p) => {
            let mut s = slice.clone();
            if let Some(i) = at {
                if s.points[i].bid_iv == p.bid_iv && s.points[i].ask_iv == p.ask_iv {
                    return Patch::Unused;
                }
                s.points[i] = p;
            } else {
                s.points.push(p);
                s.points.sort_by(|a, b| a.strike.total_cmp(&b.strike));
            }
            set_weights(&mut s.points, opts.weighting);
            let i = s
                .points
                .iter()
                .position(|p| p.strike == q.strike && p.kind == q.kind)
                .unwrap_or(0);
            Patch::Point(s, i)
        }
        Err((reason, _)) => {
            let Some(i) = at else {
                return Patch::Unused;
            };
            let mut s = slice.clone();
            s.points.remove(i);
            if s.points.len() < opts.min_quotes.max(1) {
                return Patch::Removed(None, reason);
            }
            set_weights(&mut s.points, opts.weighting);
            Patch::Removed(Some(s), reason)
        }
    }
}
