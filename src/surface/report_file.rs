//! `report.json`: the run report the CLI writes and the Python package returns, built from the
//! ingest report, the chain and the [`SurfaceReport`] (the contract of `../shared/DESIGN.md`).

use super::{CalendarReport, FailedExpiry, SliceSummary, SurfaceModel, SurfaceReport, Timing};
use crate::config::CalibrateConfig;
use crate::fit::Optimizer;
use crate::quotes::{Chain, Format, IngestReport};
use crate::slice::{DropReason, DroppedExpiry};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a row was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStage {
    /// The row could not be read (counted once per file).
    Ingest,
    /// The quote was filtered out, has no implied vol, or its expiry gave no slice.
    Slice,
}

/// A row that did not become a used quote, with where it was stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// 1-based file line.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// Where it was stopped.
    pub stage: IngestStage,
}

/// `report.json`'s `ingest` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestSummary {
    /// Data rows of the file (all underlyings).
    pub rows: usize,
    /// Quotes of this underlying.
    pub quotes: usize,
    /// Quotes in the fitted slices.
    pub quotes_used: usize,
    /// In-the-money quotes at strikes whose out-of-the-money side is used:
    /// `quotes = quotes_used + itm_side_unused + (rejected with stage "slice")`.
    pub itm_side_unused: usize,
    /// Rejected rows, by line.
    pub rejected: Vec<RejectedRow>,
}

/// An expiry that produced no slice, as `report.json` lists it: the reason in words and as
/// its typed cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedRow {
    /// Expiry instant.
    pub expiry: DateTime<Utc>,
    /// Time to expiry, where it could be computed.
    pub t: Option<f64>,
    /// Usable quotes it had.
    pub n_quotes: usize,
    /// Why, in words.
    pub reason: String,
    /// Why, typed.
    pub cause: DropReason,
}

impl From<&DroppedExpiry> for DroppedRow {
    fn from(d: &DroppedExpiry) -> Self {
        DroppedRow {
            expiry: d.expiry,
            t: d.t,
            n_quotes: d.n_quotes,
            reason: d.reason.to_string(),
            cause: d.reason.clone(),
        }
    }
}

/// The whole `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The input file.
    pub input: String,
    /// Its format.
    pub format: Format,
    /// Underlying.
    pub underlying: String,
    /// Snapshot time.
    pub as_of: Option<DateTime<Utc>>,
    /// The model.
    pub model: SurfaceModel,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Rows and rejections.
    pub ingest: IngestSummary,
    /// Per expiry.
    pub slices: Vec<SliceSummary>,
    /// Expiries without a slice.
    pub dropped: Vec<DroppedRow>,
    /// Expiries whose fit failed, with the reason.
    pub failed: Vec<FailedExpiry>,
    /// No calendar arbitrage in the served surface over the real line.
    pub calendar_free: bool,
    /// No static arbitrage in the served surface ([`super::ArbitrageReport::arbitrage_free`]).
    pub arbitrage_free: bool,
    /// The domain of that verdict.
    pub arbitrage_domain: String,
    /// The dense `(k, t)` scan of the served surface.
    pub plane: super::arbitrage::PlaneScan,
    /// The calendar check.
    pub calendar: CalendarReport,
    /// Wall times in microseconds.
    pub timing_micros: Timing,
    /// The effective options of the run, every key (`volfit calibrate` sets it; as a
    /// `--config` file they reproduce the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<CalibrateConfig>,
    /// Why no surface was written, when the calibration fitted no expiry (then `slices` is
    /// empty and `failed`, `dropped` and the rejected rows say why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunReport {
    /// Assembles the run report; `ingest_micros` is the time spent reading the file and
    /// `total_micros` the whole run's.
    pub fn new(
        input: &str,
        ingest: &IngestReport,
        chain: &Chain,
        report: &SurfaceReport,
        ingest_micros: f64,
        total_micros: f64,
    ) -> RunReport {
        let mut rejected: Vec<RejectedRow> = ingest
            .rejected
            .iter()
            .map(|r| RejectedRow {
                line: r.line,
                reason: r.reason.clone(),
                stage: IngestStage::Ingest,
            })
            .collect();
        rejected.extend(report.slice_report.rejected.iter().map(|r| RejectedRow {
            line: r.line,
            reason: r.reason.clone(),
            stage: IngestStage::Slice,
        }));
        rejected.sort_by_key(|r| r.line);
        let mut timing = report.timing_micros;
        timing.ingest = ingest_micros;
        timing.total = total_micros;
        RunReport {
            input: input.to_string(),
            format: ingest.format,
            underlying: report.underlying.clone(),
            as_of: report.as_of,
            model: report.model,
            optimizer: report.optimizer,
            ingest: IngestSummary {
                rows: ingest.rows,
                quotes: chain.quotes.len(),
                quotes_used: report.quotes_used(),
                itm_side_unused: report.slice_report.itm_side_unused,
                rejected,
            },
            slices: report.slices.clone(),
            dropped: report
                .slice_report
                .dropped
                .iter()
                .map(DroppedRow::from)
                .collect(),
            failed: report.failed.clone(),
            calendar_free: report.calendar.calendar_free,
            arbitrage_free: report.arbitrage_free,
            arbitrage_domain: report.arbitrage_domain.clone(),
            plane: report.plane.clone(),
            calendar: report.calendar.clone(),
            timing_micros: timing,
            options: None,
            error: None,
        }
    }

    /// Whether the report names file line `line` among its rejected rows (any stage).
    pub fn names_line(&self, line: u64) -> bool {
        self.ingest.rejected.iter().any(|r| r.line == line)
    }
}
