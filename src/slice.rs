//! Per-expiry market smiles: [`SmileSlice`] holds one expiry's quotes as implied volatilities in
//! log-moneyness, with the forward and discount factor they were computed with, bid/mid/ask
//! vols and fitting weights — and the quotes that were filtered out, with the reason.
//!
//! [`build_slices`] turns a [`Chain`] into slices: it groups quotes by expiry, measures time to
//! expiry to the second, finds the forward (from the file, else put–call parity, else spot),
//! keeps the out-of-the-money side by default, filters bad quotes, inverts bid/mid/ask premiums
//! to vols with [`implied_vol`], and weights the points. Every quote ends up as a point, in
//! `excluded`, or counted as the unused in-the-money side; every expiry as a slice or in
//! [`SliceReport::dropped`] with its reason.

use crate::black::{ImpliedVolError, OptionKind, black_greeks, implied_vol};
use crate::quotes::parity::{ParityFit, ParityPair, fit_parity};
use crate::quotes::{Chain, OptionQuote, Premium, Rejection};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Seconds in a year of the day count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayCount {
    /// ACT/365 Fixed: calendar seconds / (365 × 86 400).
    #[default]
    Act365,
    /// ACT/365.25: calendar seconds / (365.25 × 86 400) (Deribit's `time_to_maturity`).
    Act36525,
}

impl DayCount {
    /// Year fraction between two instants, to the second (to the millisecond in fact).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use volfit::slice::DayCount;
    /// let a = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    /// let b = Utc.with_ymd_and_hms(2027, 1, 1, 8, 0, 0).unwrap();
    /// assert_eq!(DayCount::Act365.year_fraction(a, b), 1.0);
    /// ```
    pub fn year_fraction(self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let secs = (to - from).num_milliseconds() as f64 / 1000.0;
        secs / match self {
            DayCount::Act365 => 365.0 * 86_400.0,
            DayCount::Act36525 => 365.25 * 86_400.0,
        }
    }
}

/// Which option of each strike a slice uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Out of the money: puts below the forward, calls at and above (the liquid side, and the
    /// one whose vol is least sensitive to the forward).
    #[default]
    Otm,
    /// Calls only.
    Calls,
    /// Puts only.
    Puts,
}

/// Fitting weights of the points of a slice (normalised to mean 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// `1/(ask IV − bid IV)`, the spread floored at its 10th percentile in the slice so one
    /// locked-looking quote does not dominate; uniform where no spread is known.
    #[default]
    InverseSpread,
    /// Black vega of the undiscounted option (price-space accuracy).
    Vega,
    /// All points equal.
    Uniform,
}

/// Quote filters; each rejected quote is listed with its line and reason.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// Drop quotes without a bid.
    pub no_bid: bool,
    /// Drop crossed (bid > ask) and locked (bid = ask) quotes.
    pub crossed_or_locked: bool,
    /// Drop quotes whose bid is a single price tick (a stale floor order, not a price).
    pub one_tick_bid: bool,
    /// Drop quotes whose bid–ask vol spread exceeds this (absolute vol, e.g. 0.5 = 50 points).
    pub max_iv_spread: Option<f64>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            no_bid: true,
            crossed_or_locked: true,
            one_tick_bid: true,
            max_iv_spread: None,
        }
    }
}

/// Options of [`build_slices`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceOptions {
    /// Day count for times to expiry (when the file does not give them).
    pub day_count: DayCount,
    /// Side used at each strike.
    pub side: Side,
    /// Weights.
    pub weighting: Weighting,
    /// Filters.
    pub filters: Filters,
    /// An expiry with fewer usable quotes is dropped (with its reason).
    pub min_quotes: usize,
    /// Snapshot time to use instead of the file's.
    pub as_of: Option<DateTime<Utc>>,
    /// Tighten each used quote with the other side's quote at the same strike carried over by
    /// put–call parity (the best bid and ask of the two); off by default.
    pub parity_tighten: bool,
}

impl Default for SliceOptions {
    fn default() -> Self {
        SliceOptions {
            day_count: DayCount::Act365,
            side: Side::Otm,
            weighting: Weighting::InverseSpread,
            filters: Filters::default(),
            min_quotes: 5,
            as_of: None,
            parity_tighten: false,
        }
    }
}

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
    /// Given by the caller ([`SmileSlice::from_vols`]).
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

/// One market point of a smile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmilePoint {
    /// Strike.
    pub strike: f64,
    /// Log-moneyness `k = ln(K/F)`.
    pub k: f64,
    /// The option whose premium gave the vols.
    pub kind: OptionKind,
    /// Bid implied vol, if the bid has one.
    pub bid_iv: Option<f64>,
    /// Mid implied vol (the vol of the mid premium; mean of bid and ask vols for vol tables).
    pub mid_iv: f64,
    /// Ask implied vol, if the ask has one.
    pub ask_iv: Option<f64>,
    /// Fitting weight (mean 1 over the slice).
    pub weight: f64,
    /// Black vega of the undiscounted option at the mid vol, `∂V/∂σ`.
    pub vega: f64,
    /// The file line of the quote (`None` for user-made slices).
    pub line: Option<u64>,
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
    pub reason: String,
    /// File line.
    pub line: u64,
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

/// One expiry's market smile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmileSlice {
    /// How the vols are quoted (Black unless built by [`SmileSlice::from_normal_vols`]).
    #[serde(default)]
    pub convention: VolConvention,
    /// Expiry instant, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry in years.
    pub t: f64,
    /// Forward.
    pub forward: f64,
    /// Discount factor to expiry (1 where premiums are undiscounted).
    pub discount: f64,
    /// Where the forward came from.
    pub forward_source: ForwardSource,
    /// Usable points, sorted by strike.
    pub points: Vec<SmilePoint>,
    /// Quotes of the expiry that were filtered out.
    pub excluded: Vec<ExcludedQuote>,
}

/// Errors of user-built slices.
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
    /// A forward or strike is not finite.
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
    /// assert_eq!(s.points.len(), 3);
    /// assert!((s.points[1].k).abs() < 1e-15);
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn from_vols(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64)],
    ) -> Result<SmileSlice, SliceError> {
        Self::from_user_quotes(t, forward, quotes, VolConvention::Lognormal)
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
    /// assert_eq!(s.convention, VolConvention::Normal);
    /// assert!((s.points[0].k + 0.01).abs() < 1e-15);
    /// # Ok::<(), volfit::slice::SliceError>(())
    /// ```
    pub fn from_normal_vols(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64)],
    ) -> Result<SmileSlice, SliceError> {
        Self::from_user_quotes(t, forward, quotes, VolConvention::Normal)
    }

    /// A user-made slice: unit weights, no bid/ask, discount 1; Black vols need positive
    /// forward and strikes, normal vols take any finite ones.
    fn from_user_quotes(
        t: f64,
        forward: f64,
        quotes: &[(f64, f64)],
        convention: VolConvention,
    ) -> Result<SmileSlice, SliceError> {
        let normal = convention == VolConvention::Normal;
        let check = |what: &'static str, value: f64, positive: bool| {
            if !value.is_finite() {
                Err(SliceError::NonFinite { what, value })
            } else if positive && !(value > 0.0) {
                Err(SliceError::NonPositive { what, value })
            } else {
                Ok(())
            }
        };
        check("time to expiry", t, true)?;
        check("forward", forward, !normal)?;
        if quotes.is_empty() {
            return Err(SliceError::Empty);
        }
        let mut points = Vec::with_capacity(quotes.len());
        for &(strike, vol) in quotes {
            check("strike", strike, !normal)?;
            check("vol", vol, true)?;
            let kind = OptionKind::otm(forward, strike);
            let (k, vega) = if normal {
                (
                    strike - forward,
                    crate::black::bachelier_greeks(kind, forward, strike, t, vol).vega,
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
                bid_iv: None,
                mid_iv: vol,
                ask_iv: None,
                weight: 1.0,
                vega,
                line: None,
            });
        }
        points.sort_by(|a, b| a.strike.total_cmp(&b.strike));
        Ok(SmileSlice {
            convention,
            expiry: None,
            t,
            forward,
            discount: 1.0,
            forward_source: ForwardSource::User,
            points,
            excluded: Vec::new(),
        })
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
    pub reason: String,
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
/// the file or from parity) and `coin × F` for coin-settled chains. See the module doc.
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
        match prepare(chain, expiry, quotes, as_of, opts, &mut report) {
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

fn mid(q: &OptionQuote) -> Option<f64> {
    match (q.bid, q.ask) {
        (Some(b), Some(a)) if a >= b => Some(0.5 * (a + b)),
        _ => None,
    }
}

/// An expiry with its time, forward and discount, before its quotes become points.
struct Prepared<'a> {
    expiry: DateTime<Utc>,
    quotes: Vec<&'a OptionQuote>,
    t: f64,
    forward: f64,
    discount: f64,
    source: ForwardSource,
    parity: Option<(ParityFit, Vec<ParityPair>)>,
}

/// Largest standard error of a parity-implied zero rate that is trusted (50 bp).
const RATE_SE_TRUSTED: f64 = 0.005;

fn stabilise_discounts(prepared: &mut [Prepared<'_>]) {
    let trusted: Vec<(f64, f64)> = prepared
        .iter()
        .filter_map(|p| {
            let (fit, _) = p.parity.as_ref()?;
            let se = fit.discount_se / (fit.discount * p.t);
            (se <= RATE_SE_TRUSTED).then(|| (p.t, fit.rate(p.t)))
        })
        .collect();
    if trusted.is_empty() {
        return;
    }
    for p in prepared.iter_mut() {
        let Some((fit, pairs)) = p.parity.as_ref() else {
            continue;
        };
        let se = fit.discount_se / (fit.discount * p.t);
        if se <= RATE_SE_TRUSTED {
            continue;
        }
        let (_, rate) = trusted
            .iter()
            .min_by(|a, b| (a.0 - p.t).abs().total_cmp(&(b.0 - p.t).abs()))
            .copied()
            .expect("non-empty");
        let discount = (-rate * p.t).exp();
        if let Some(f) = crate::quotes::parity::forward_given_discount(pairs, discount) {
            p.forward = f;
            p.discount = discount;
        }
    }
}

fn prepare<'a>(
    chain: &Chain,
    expiry: DateTime<Utc>,
    quotes: Vec<&'a OptionQuote>,
    as_of: Option<DateTime<Utc>>,
    opts: &SliceOptions,
    report: &mut SliceReport,
) -> Result<Prepared<'a>, DroppedExpiry> {
    let drop = |t: Option<f64>, reason: String, rep: &mut SliceReport| {
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
            Some(a) => opts.day_count.year_fraction(a, expiry),
            None => {
                return Err(drop(
                    None,
                    "no snapshot time to measure time to expiry".into(),
                    report,
                ));
            }
        },
    };
    if !(t > 0.0) {
        return Err(drop(
            Some(t),
            format!("expired (t = {t:.3e} years)"),
            report,
        ));
    }
    let Some((forward, discount, source, parity)) = forward_of(chain, expiry, &quotes, report)
    else {
        return Err(drop(
            Some(t),
            "no forward: no usable call/put pairs for parity and no spot".into(),
            report,
        ));
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
        .filter(|f| *f > 0.0)
        .collect();
    let discount_given = quotes.iter().find_map(|q| q.discount).filter(|d| *d > 0.0);
    if !given.is_empty() {
        // Deribit's per-row forwards differ by a few dollars within an expiry: use the median.
        given.sort_by(f64::total_cmp);
        let f = given[given.len() / 2];
        return Some((f, discount_given.unwrap_or(1.0), ForwardSource::Input, None));
    }
    if chain.premium == Premium::Quote {
        let mut calls: BTreeMap<u64, &OptionQuote> = BTreeMap::new();
        let mut puts: BTreeMap<u64, &OptionQuote> = BTreeMap::new();
        for q in quotes {
            let key = q.strike.to_bits();
            match q.kind {
                OptionKind::Call => calls.entry(key).or_insert(q),
                OptionKind::Put => puts.entry(key).or_insert(q),
            };
        }
        let pairs: Vec<ParityPair> = calls
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
            .collect();
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
    chain.spot.map(|s| {
        let d = discount_given.unwrap_or(1.0);
        (s / d, d, ForwardSource::SpotRate, None)
    })
}

fn build_one(
    chain: &Chain,
    p: &Prepared<'_>,
    opts: &SliceOptions,
    report: &mut SliceReport,
) -> Result<SmileSlice, DroppedExpiry> {
    let (expiry, quotes, t, forward, discount, source) =
        (p.expiry, &p.quotes, p.t, p.forward, p.discount, p.source);
    let mut points = Vec::new();
    let mut excluded = Vec::new();
    let mut seen: Vec<(u64, OptionKind)> = Vec::new();
    for q in quotes {
        let k = (q.strike / forward).ln();
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
            reject(
                report,
                &mut excluded,
                q,
                k,
                None,
                "duplicate strike and kind in the expiry".into(),
            );
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
        match point(chain, q, forward, discount, t, k, opts) {
            Ok(p) => points.push(p),
            Err((reason, mid_iv)) => reject(report, &mut excluded, q, k, mid_iv, reason),
        }
    }
    if points.len() < opts.min_quotes {
        let n = points.len();
        let reason = format!("too few usable quotes ({n} < {})", opts.min_quotes);
        for p in &points {
            report.rejected.push(Rejection {
                line: p.line.unwrap_or(0),
                reason: format!("expiry {}: {reason}", expiry.format("%Y-%m-%d %H:%M UTC")),
            });
        }
        return Err(DroppedExpiry {
            expiry,
            t: Some(t),
            n_quotes: n,
            reason,
        });
    }
    points.sort_by(|a, b| a.strike.total_cmp(&b.strike));
    set_weights(&mut points, opts.weighting);
    report.quotes_used += points.len();
    Ok(SmileSlice {
        convention: VolConvention::Lognormal,
        expiry: Some(expiry),
        t,
        forward,
        discount,
        forward_source: source,
        points,
        excluded,
    })
}

/// The quote with its bid raised and ask lowered to the other side's quotes at the same strike
/// carried over by put–call parity (`C − P = D·(F − K)`, or `(F − K)/F` in coin), where that is
/// tighter and leaves the quote uncrossed.
fn tighten(
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
        OptionKind::Put => -c_minus_p, // put = call − (C − P)
        OptionKind::Call => c_minus_p, // call = put + (C − P)
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
    if let (Some(b), Some(a)) = (new_bid, new_ask) {
        if b < a {
            out.bid = new_bid;
            out.ask = new_ask;
        }
    }
    out
}

fn reject(
    report: &mut SliceReport,
    excluded: &mut Vec<ExcludedQuote>,
    q: &OptionQuote,
    k: f64,
    mid_iv: Option<f64>,
    reason: String,
) {
    report.rejected.push(Rejection {
        line: q.line,
        reason: reason.clone(),
    });
    excluded.push(ExcludedQuote {
        strike: q.strike,
        k,
        kind: q.kind,
        mid_iv,
        reason,
        line: q.line,
    });
}

/// The smile point of one quote, or the reason it is not one (with its mid vol if it has one).
fn point(
    chain: &Chain,
    q: &OptionQuote,
    forward: f64,
    discount: f64,
    t: f64,
    k: f64,
    opts: &SliceOptions,
) -> Result<SmilePoint, (String, Option<f64>)> {
    let f = &opts.filters;
    let (bid_iv, mid_iv, ask_iv) = if chain.premium == Premium::ImpliedVol {
        let mid = match (q.bid_iv, q.ask_iv) {
            (Some(b), Some(a)) => Some(0.5 * (a + b)),
            (None, Some(a)) => Some(a),
            (b, None) => b,
        };
        if f.no_bid && q.bid_iv.is_none() {
            return Err(("no_bid: no bid vol".into(), mid));
        }
        if f.crossed_or_locked {
            if let (Some(b), Some(a)) = (q.bid_iv, q.ask_iv) {
                if b >= a {
                    return Err((
                        format!(
                            "{}: bid vol {b} ≥ ask vol {a}",
                            if b > a { "crossed" } else { "locked" }
                        ),
                        mid,
                    ));
                }
            }
        }
        (
            q.bid_iv,
            mid.ok_or_else(|| ("no vol".to_string(), None))?,
            q.ask_iv,
        )
    } else {
        // Undiscounted premiums in quote currency.
        let to_undiscounted = |p: f64| match chain.premium {
            Premium::Coin => p * forward,
            _ => p / discount,
        };
        let iv = |p: Option<f64>| -> Option<Result<f64, ImpliedVolError>> {
            p.map(|p| implied_vol(q.kind, to_undiscounted(p), forward, q.strike, t))
        };
        let mid_price = mid(q).or(q.mark);
        let mid_iv = iv(mid_price).and_then(Result::ok);
        if f.no_bid && q.bid.is_none() {
            return Err(("no_bid".into(), mid_iv));
        }
        if f.crossed_or_locked {
            if let (Some(b), Some(a)) = (q.bid, q.ask) {
                if b > a {
                    return Err((format!("crossed: bid {b} > ask {a}"), None));
                }
                if b == a {
                    return Err((format!("locked: bid = ask = {b}"), mid_iv));
                }
            }
        }
        if f.one_tick_bid {
            if let (Some(b), Some(tick)) = (q.bid, chain.tick) {
                if b <= tick * (1.0 + 1e-9) {
                    return Err((format!("one_tick_bid: bid {b} is the minimum tick"), mid_iv));
                }
            }
        }
        let Some(mid_price) = mid(q) else {
            return Err(("no_ask: no two-sided quote".into(), mid_iv));
        };
        let mid_iv = match iv(Some(mid_price)).expect("some") {
            Ok(v) => v,
            Err(e) => return Err((format!("{}: mid {e}", e.reason()), None)),
        };
        let bid_iv = iv(q.bid).and_then(Result::ok);
        let ask_iv = iv(q.ask).and_then(Result::ok);
        (bid_iv, mid_iv, ask_iv)
    };
    if let (Some(max), Some(b), Some(a)) = (f.max_iv_spread, bid_iv, ask_iv) {
        if a - b > max {
            return Err((
                format!("wide: vol spread {:.4} > {max}", a - b),
                Some(mid_iv),
            ));
        }
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
    })
}

fn set_weights(points: &mut [SmilePoint], weighting: Weighting) {
    match weighting {
        Weighting::Uniform => {
            for p in points.iter_mut() {
                p.weight = 1.0;
            }
        }
        Weighting::Vega => {
            for p in points.iter_mut() {
                p.weight = p.vega;
            }
        }
        Weighting::InverseSpread => {
            let mut spreads: Vec<f64> = points
                .iter()
                .filter_map(|p| Some(p.ask_iv? - p.bid_iv?))
                .filter(|s| *s > 0.0)
                .collect();
            if spreads.is_empty() {
                for p in points.iter_mut() {
                    p.weight = 1.0;
                }
            } else {
                spreads.sort_by(f64::total_cmp);
                let floor = spreads[spreads.len() / 10];
                let typical = spreads[spreads.len() / 2];
                for p in points.iter_mut() {
                    let s = match (p.bid_iv, p.ask_iv) {
                        (Some(b), Some(a)) if a > b => a - b,
                        // One-sided: as uncertain as a wide quote.
                        _ => 2.0 * typical,
                    };
                    p.weight = 1.0 / s.max(floor);
                }
            }
        }
    }
    let mean = points.iter().map(|p| p.weight).sum::<f64>() / points.len().max(1) as f64;
    if mean > 0.0 && mean.is_finite() {
        for p in points.iter_mut() {
            p.weight /= mean;
        }
    } else {
        for p in points.iter_mut() {
            p.weight = 1.0;
        }
    }
}
