//! How [`build_slices`](super::build_slices) turns quotes into smiles: which side of each
//! strike, which weights, which filters.

use super::DayCount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
