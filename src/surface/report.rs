//! [`SurfaceReport`]: the account of a calibration, expiry by expiry (what `report.json` and
//! the review page are made from).

use super::arbitrage::{CalendarReport, PlaneScan};
use super::{SliceModel, SurfaceModel};
use crate::fit::{FitReport, Optimizer};
use crate::slice::ceiling::CeilingError;
use crate::slice::{Ceiling, ExcludedQuote, ForwardSource, SliceReport, SmileSlice, ceiling};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One expiry in the report (the `slices` entries of `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceSummary {
    /// Expiry instant.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry.
    pub t: f64,
    /// Forward.
    pub forward: f64,
    /// Where the forward came from.
    pub forward_source: ForwardSource,
    /// Quotes fitted.
    pub n_quotes: usize,
    /// Model parameters (after any calendar repair).
    pub params: serde_json::Value,
    /// RMSE of fitted vs mid vols.
    pub rmse_iv: f64,
    /// Largest absolute vol error.
    pub max_abs_err_iv: f64,
    /// Fraction of two-sided quotes whose fitted vol lies inside `[bid IV, ask IV]`.
    pub within_spread: Option<f64>,
    /// Whether the fit converged.
    pub converged: bool,
    /// Optimiser iterations.
    pub iterations: u64,
    /// Fit time in microseconds.
    pub fit_micros: f64,
    /// Free of butterfly arbitrage.
    pub butterfly_free: bool,
    /// Minimum of Durrleman's `g` (see [`FitReport::min_g`]).
    pub min_g: f64,
    /// The full fit report.
    pub fit: FitReport,
    /// Mid, bid and ask vols of the quotes, with strikes, for review.
    pub quotes: Vec<QuotePoint>,
    /// Quotes of the expiry that were filtered out, with the reason.
    pub excluded: Vec<ExcludedQuote>,
    /// The fit before an arbitrage repair changed it (`None` when nothing was repaired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<SliceRepair>,
    /// What is attainable from the quotes alone: whether any arbitrage-free smile passes inside
    /// every bid/ask band, the attainable within-spread share and the quotes that cannot be
    /// inside ([`crate::slice::ceiling()`]). `None` below three two-sided quotes, where the
    /// programme failed (see `ceiling_error`), and in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<Ceiling>,
    /// Why the ceiling programme has no answer, when it failed (not for too few quotes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_error: Option<String>,
    /// Whether the fit started from an earlier surface's smile of the same expiry
    /// ([`calibrate_surface_from`](super::calibrate_surface_from), `volfit calibrate
    /// --prior`) rather than the model's own guess (`false` in reports written before it
    /// existed).
    #[serde(default)]
    pub warm_start: bool,
}

/// How a calibration used its prior surface ([`super::calibrate_surface_from`]): which
/// surface, how many expiries started from it, and why the others started cold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorReport {
    /// The prior's underlying.
    pub underlying: String,
    /// The prior's snapshot time.
    pub as_of: Option<DateTime<Utc>>,
    /// Expiries fitted from the prior's smile.
    pub warm: usize,
    /// Expiries that started cold, with the reason.
    pub cold: Vec<ColdStart>,
}

/// An expiry that started cold although a prior was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    /// Expiry instant, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry.
    pub t: f64,
    /// Why (e.g. `not in the prior`).
    pub reason: String,
}

/// What an arbitrage repair did to one expiry: the smile before it and the fit quality it
/// cost on the expiry's quotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceRepair {
    /// What was repaired and how (e.g. the calendar floor on the quoted domain).
    pub what: String,
    /// The smile as first fitted.
    pub unrepaired: SliceModel,
    /// RMSE of the fitted vs mid vols before the repair.
    pub rmse_before: f64,
    /// RMSE after.
    pub rmse_after: f64,
    /// Fraction of two-sided quotes inside their bid/ask before the repair.
    pub within_spread_before: Option<f64>,
    /// After.
    pub within_spread_after: Option<f64>,
}

/// A fitted quote, for charts and review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotePoint {
    /// Strike.
    pub strike: f64,
    /// `ln(K/F)`.
    pub k: f64,
    /// Bid vol.
    pub bid_iv: Option<f64>,
    /// Mid vol.
    pub mid_iv: f64,
    /// Ask vol.
    pub ask_iv: Option<f64>,
    /// The surface's vol.
    pub fit_iv: f64,
    /// The exchange's mark vol, where the chain gives one (e.g. Deribit's mark IV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_iv: Option<f64>,
}

/// An expiry whose fit failed (it is not in the surface).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedExpiry {
    /// Expiry instant, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry.
    pub t: f64,
    /// Why (the fit's error, with its causes).
    pub reason: String,
}

/// Wall times in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Reading the file (filled by the caller that read it).
    pub ingest: f64,
    /// Building slices (implied vols, forwards, filters).
    pub implied_vol: f64,
    /// Fitting.
    pub fit: f64,
    /// The per-expiry ceiling programmes ([`crate::slice::ceiling()`]), summed over expiries.
    #[serde(default)]
    pub ceiling: f64,
    /// Everything.
    pub total: f64,
}

/// The account of a surface calibration: everything `report.json` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceReport {
    /// Underlying.
    pub underlying: String,
    /// Snapshot time.
    pub as_of: Option<DateTime<Utc>>,
    /// The model.
    pub model: SurfaceModel,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Per-expiry results.
    pub slices: Vec<SliceSummary>,
    /// Expiries whose fit failed, with the reason (they are not in the surface).
    pub failed: Vec<FailedExpiry>,
    /// Slice building: quotes used, quotes removed (line and reason), expiries dropped.
    pub slice_report: SliceReport,
    /// Calendar check: the fits' violations on their quoted domains with the repairs, and
    /// the served surface's verdict over the real line.
    pub calendar: CalendarReport,
    /// No static arbitrage in the served surface ([`super::ArbitrageReport::arbitrage_free`]).
    pub arbitrage_free: bool,
    /// The domain of that verdict ([`super::ArbitrageReport::domain`]).
    pub arbitrage_domain: String,
    /// The dense `(k, t)` scan of the served surface.
    pub plane: PlaneScan,
    /// Wall times.
    pub timing_micros: Timing,
    /// The prior surface the fits were warm-started from, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<PriorReport>,
}

impl SurfaceReport {
    /// Quotes used in the slices.
    pub fn quotes_used(&self) -> usize {
        self.slice_report.quotes_used
    }
}

/// An error with its chain of causes, `a: b: c`.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

pub(super) fn summarise(
    s: &SmileSlice,
    m: &SliceModel,
    r: &FitReport,
    repair: Option<SliceRepair>,
) -> SliceSummary {
    let quotes = s
        .points()
        .iter()
        .map(|p| QuotePoint {
            strike: p.strike(),
            k: p.k(),
            bid_iv: p.bid_iv(),
            mid_iv: p.mid_iv(),
            ask_iv: p.ask_iv(),
            fit_iv: (m.w(p.k()).max(0.0) / s.t()).sqrt(),
            mark_iv: p.mark_iv(),
        })
        .collect();
    let (ceiling, ceiling_error) = match ceiling(s) {
        Ok(c) => (Some(c), None),
        Err(CeilingError::TooFewQuotes(_)) => (None, None),
        Err(e) => (None, Some(e.to_string())),
    };
    SliceSummary {
        expiry: s.expiry(),
        t: s.t(),
        forward: s.forward(),
        forward_source: s.forward_source(),
        n_quotes: r.n_quotes,
        params: m.smile().params_json(),
        rmse_iv: r.rmse_iv,
        max_abs_err_iv: r.max_abs_err_iv,
        within_spread: r.within_spread,
        converged: r.converged,
        iterations: r.iterations,
        fit_micros: r.fit_micros,
        butterfly_free: r.butterfly_free,
        min_g: r.min_g,
        fit: r.clone(),
        quotes,
        excluded: s.excluded().to_vec(),
        repair,
        ceiling,
        ceiling_error,
        warm_start: false,
    }
}
