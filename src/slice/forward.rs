//! The time, forward and discount factor of each expiry, before its quotes become points.

use super::{DayCount, DropReason, DroppedExpiry, SliceReport};
use crate::quotes::parity::{ParityFit, ParityPair, fit_parity, forward_given_discount, pairs_of};
use crate::quotes::{Chain, OptionQuote, Premium, Rejection};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a slice's forward came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardSource {
    /// Given by the file (e.g. Deribit's `underlying`, an IV table's `Fwd`).
    Input,
    /// Fitted to put–call parity.
    Parity,
    /// Spot carried at a zero rate: parity was not possible (too few call/put pairs).
    #[serde(rename = "spot+rate")]
    SpotRate,
    /// Given by the caller ([`SmileSlice::from_vols`](super::SmileSlice::from_vols)).
    User,
}

impl ForwardSource {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ForwardSource::Input => "input",
            ForwardSource::Parity => "parity",
            ForwardSource::SpotRate => "spot+rate",
            ForwardSource::User => "user",
        }
    }
}

impl std::fmt::Display for ForwardSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An expiry with its time, forward and discount, before its quotes become points.
pub(super) struct Prepared<'a> {
    pub expiry: DateTime<Utc>,
    pub quotes: Vec<&'a OptionQuote>,
    pub t: f64,
    pub forward: f64,
    pub discount: f64,
    pub source: ForwardSource,
    parity: Option<(ParityFit, Vec<ParityPair>)>,
}

/// Largest standard error of a parity-implied zero rate that is trusted (50 bp).
const RATE_SE_TRUSTED: f64 = 0.005;

/// Replaces the discount factor of each expiry whose parity-implied rate is poorly determined
/// by the rate of the nearest well-determined expiry, and refits its forward.
pub(super) fn stabilise_discounts(prepared: &mut [Prepared<'_>]) {
    let se = |p: &Prepared<'_>| {
        p.parity
            .as_ref()
            .map(|(fit, _)| fit.discount_se / (fit.discount * p.t))
    };
    let trusted: Vec<(f64, f64)> = prepared
        .iter()
        .filter_map(|p| {
            let (fit, _) = p.parity.as_ref()?;
            (se(p)? <= RATE_SE_TRUSTED).then(|| (p.t, fit.rate(p.t)))
        })
        .collect();
    for p in prepared.iter_mut() {
        if se(p).is_none_or(|s| s <= RATE_SE_TRUSTED) {
            continue;
        }
        let Some(&(_, rate)) = trusted
            .iter()
            .min_by(|a, b| (a.0 - p.t).abs().total_cmp(&(b.0 - p.t).abs()))
        else {
            return;
        };
        let discount = (-rate * p.t).exp();
        if let Some((_, pairs)) = &p.parity
            && let Some(f) = forward_given_discount(pairs, discount)
        {
            p.forward = f;
            p.discount = discount;
        }
    }
}

/// The time, forward and discount of one expiry, or why it has none (its quotes then listed
/// as rejected with that reason).
pub(super) fn prepare<'a>(
    chain: &Chain,
    expiry: DateTime<Utc>,
    quotes: Vec<&'a OptionQuote>,
    (as_of, day_count): (Option<DateTime<Utc>>, DayCount),
    report: &mut SliceReport,
) -> Result<Prepared<'a>, DroppedExpiry> {
    let drop = |t: Option<f64>, reason: DropReason, rep: &mut SliceReport| {
        for q in &quotes {
            rep.rejected.push(Rejection {
                line: q.line,
                reason: format!("expiry {}: {reason}", expiry.format("%Y-%m-%d %H:%M UTC")),
            });
        }
        DroppedExpiry {
            expiry,
            t,
            n_quotes: quotes.len(),
            reason,
        }
    };
    let t = match quotes.iter().find_map(|q| q.t) {
        Some(t) => t,
        None => match as_of {
            Some(a) => day_count.year_fraction(a, expiry),
            None => return Err(drop(None, DropReason::NoSnapshotTime, report)),
        },
    };
    if !(t > 0.0 && t.is_finite()) {
        return Err(drop(Some(t), DropReason::Expired { t }, report));
    }
    let Some((forward, discount, source, parity)) = forward_of(chain, expiry, &quotes, report)
    else {
        return Err(drop(Some(t), DropReason::NoForward, report));
    };
    Ok(Prepared {
        expiry,
        quotes,
        t,
        forward,
        discount,
        source,
        parity,
    })
}

/// Forward, discount, source (and the parity fit with its pairs) of one expiry.
#[allow(clippy::type_complexity)]
fn forward_of(
    chain: &Chain,
    expiry: DateTime<Utc>,
    quotes: &[&OptionQuote],
    report: &mut SliceReport,
) -> Option<(
    f64,
    f64,
    ForwardSource,
    Option<(ParityFit, Vec<ParityPair>)>,
)> {
    let mut given: Vec<f64> = quotes
        .iter()
        .filter_map(|q| q.forward)
        .filter(|f| *f > 0.0 && f.is_finite())
        .collect();
    let discount_given = quotes
        .iter()
        .find_map(|q| q.discount)
        .filter(|d| *d > 0.0 && d.is_finite());
    if !given.is_empty() {
        // Deribit's per-row forwards differ by a few dollars within an expiry: use the median.
        given.sort_by(f64::total_cmp);
        let f = given[given.len() / 2];
        return Some((f, discount_given.unwrap_or(1.0), ForwardSource::Input, None));
    }
    if chain.premium == Premium::Quote {
        let pairs = pairs_of(quotes.iter().copied());
        if let Some(fit) = fit_parity(&pairs) {
            report.parity.push((expiry, fit));
            return Some((
                fit.forward,
                discount_given.unwrap_or(fit.discount),
                ForwardSource::Parity,
                Some((fit, pairs)),
            ));
        }
    }
    chain.spot.filter(|s| *s > 0.0 && s.is_finite()).map(|s| {
        let d = discount_given.unwrap_or(1.0);
        (s / d, d, ForwardSource::SpotRate, None)
    })
}

/// The quote with its bid raised and ask lowered to the other side's quotes at the same strike
/// carried over by put–call parity (`C − P = D·(F − K)`, or `(F − K)/F` in coin), where that is
/// tighter and leaves the quote uncrossed.
pub(super) fn tighten(
    chain: &Chain,
    q: &OptionQuote,
    quotes: &[&OptionQuote],
    forward: f64,
    discount: f64,
) -> OptionQuote {
    let Some(other) = quotes
        .iter()
        .find(|o| o.strike == q.strike && o.kind != q.kind)
    else {
        return q.clone();
    };
    // Premium of (call − put) at this strike.
    let c_minus_p = match chain.premium {
        Premium::Coin => (forward - q.strike) / forward,
        _ => discount * (forward - q.strike),
    };
    let shift = match q.kind {
        crate::black::OptionKind::Put => -c_minus_p, // put = call − (C − P)
        crate::black::OptionKind::Call => c_minus_p, // call = put + (C − P)
    };
    let mut out = q.clone();
    let bid = other.bid.map(|b| b + shift).filter(|b| *b > 0.0);
    let ask = other.ask.map(|a| a + shift).filter(|a| *a > 0.0);
    let new_bid = match (q.bid, bid) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let new_ask = match (q.ask, ask) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let (Some(b), Some(a)) = (new_bid, new_ask)
        && b < a
    {
        out.bid = new_bid;
        out.ask = new_ask;
    }
    out
}
