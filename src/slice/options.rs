//! How [`build_slices`](super::build_slices) turns quotes into smiles: which side of each
//! strike, which weights, which filters.

use super::DayCount;
use crate::names::{UnknownName, parse_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
///
/// Named `inverse-spread`, `vega`, `uniform` on the command line and in files:
///
/// ```
/// use volfit::slice::Weighting;
/// assert_eq!("Uniform".parse::<Weighting>(), Ok(Weighting::Uniform));
/// assert_eq!(Weighting::InverseSpread.to_string(), "inverse-spread");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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

impl Weighting {
    /// Every weighting, in declaration order.
    pub const ALL: [Weighting; 3] = [
        Weighting::InverseSpread,
        Weighting::Vega,
        Weighting::Uniform,
    ];

    /// The name used on the command line, in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Weighting::InverseSpread => "inverse-spread",
            Weighting::Vega => "vega",
            Weighting::Uniform => "uniform",
        }
    }
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Weighting {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = Weighting::ALL
            .iter()
            .map(|&w| (w, w.name(), &[] as &[&str]))
            .collect();
        parse_name("weighting", s, &items)
    }
}

/// Quote filters; each rejected quote is listed with its line and reason.
///
/// The bid and ask filters (`no_bid`, `crossed_or_locked`, `one_tick_bid`, `max_iv_spread`)
/// do not apply to a mid-vol quote (a vol quote with a mid vol and neither a bid nor an ask
/// vol, e.g. a generic CSV with only `iv`): it has no spread to judge.
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
    /// Drop quotes whose strike is further than this from the forward in log-moneyness
    /// `|ln(K/F)|` (default `ln 100`: a strike 100 × the forward or a hundredth of it; the real
    /// chains seen reach 3.5, and a strike typed × 1000 lands at 6.9).
    pub max_log_moneyness: Option<f64>,
    /// Drop vol quotes (implied-vol tables) whose bid or ask vol (the mid vol of a mid-vol
    /// quote, one with neither) is not in `(0, max]`
    /// (default [`MAX_VOL`] = 10, i.e. 1,000 %: the real tables seen reach 4.6 on a 2-day
    /// deep out-of-the-money SPX strike; a vol typed × 100 or × 1000 lands beyond).
    pub max_vol: Option<f64>,
}

/// The default [`Filters::max_log_moneyness`], `ln 100`.
pub const MAX_LOG_MONEYNESS: f64 = 4.605_170_185_988_092;

/// The default [`Filters::max_vol`]: 10 (1,000 % a year).
pub const MAX_VOL: f64 = 10.0;

impl Default for Filters {
    fn default() -> Self {
        Filters {
            no_bid: true,
            crossed_or_locked: true,
            one_tick_bid: true,
            max_iv_spread: None,
            max_log_moneyness: Some(MAX_LOG_MONEYNESS),
            max_vol: Some(MAX_VOL),
        }
    }
}

/// Options of [`build_slices`](super::build_slices).
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
