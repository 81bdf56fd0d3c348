//! Live recalibration: a surface that follows the market.
//!
//! A [`Tracker`] per underlying takes successive chains ([`Tracker::update_chain`]) or single
//! quote updates ([`Tracker::apply_quote`], then [`Tracker::refresh`]) and returns the updated
//! surface — an `Arc<FittedSurface>` a pricer may hold while the next update runs — with an
//! [`UpdateReport`]. It keeps a state per expiry, keyed by the expiry date (not by `t`), and:
//!
//! * refits only the expiries whose quotes, forward or time moved materially
//!   ([`TrackerOptions::quote_tolerance`], [`TrackerOptions::forward_tolerance`],
//!   [`TrackerOptions::time_tolerance`]), each from its previous state;
//! * retires expiries that expired or are no longer quoted and admits new listings;
//! * filters each expiry's parameters through time ([`filter`]: a Kalman filter on SVI's
//!   jump-wings coordinates, its update an iterated-EKF step solved by the generic
//!   Levenberg–Marquardt fit with the prior as extra rows), gates outlying quotes by their
//!   innovation and reports the filter's consistency (the normalised innovation squared
//!   against its `χ²` band); [`FilterKind::None`] keeps plain warm-started refits.
//!
//! Quote updates arrive as JSON lines of Deribit `ticker` messages ([`stream`]: parsed into
//! validated [`stream::QuoteUpdate`]s, and the ticks a snapshot chain would have produced).
//!
//! The served surface is the calibration's: the same extrapolation policy and calendar
//! envelope ([`crate::surface::Extrapolation`]), so it is free of static arbitrage the way a
//! [`crate::calibrate_surface`] surface is. The tracker does not run the calendar-repair
//! refits of a one-off calibration (the envelope serves the later smile above the earlier).

pub mod filter;
pub mod stream;
pub mod tenor;
mod tracker;

pub use filter::{FilterParams, FilterState};
pub use tracker::{
    FailedRefit, FilterKind, GatedQuote, TrackError, Tracker, TrackerOptions, UpdateReport,
    chi2_band,
};
