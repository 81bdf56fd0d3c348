//! `report.json`: the run report the CLI writes and the Python package returns, built from the
//! ingest report, the chain and the [`SurfaceReport`] (the contract of `../shared/DESIGN.md`).

use super::{CalendarReport, SliceSummary, SurfaceReport, Timing};
use crate::quotes::{Chain, IngestReport};
use crate::slice::DroppedExpiry;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A row that did not become a used quote, with where it was stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// 1-based file line.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// `ingest` (the row could not be read; counted once per file) or `slice` (the quote was
    /// filtered out or has no implied vol).
    pub stage: String,
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

/// The whole `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The input file.
    pub input: String,
    /// Its format.
    pub format: String,
    /// Underlying.
    pub underlying: String,
    /// Snapshot time.
    pub as_of: Option<DateTime<Utc>>,
    /// Model name.
    pub model: String,
    /// Optimiser name.
    pub optimizer: String,
    /// Rows and rejections.
    pub ingest: IngestSummary,
    /// Per expiry.
    pub slices: Vec<SliceSummary>,
    /// Expiries without a slice.
    pub dropped: Vec<DroppedExpiry>,
    /// Expiries whose fit failed, with the reason.
    pub failed: Vec<(f64, String)>,
    /// No calendar arbitrage left on the check grid.
    pub calendar_free: bool,
    /// The calendar check.
    pub calendar: CalendarReport,
    /// Wall times in microseconds.
    pub timing_micros: Timing,
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
                stage: "ingest".into(),
            })
            .collect();
        rejected.extend(report.slice_report.rejected.iter().map(|r| RejectedRow {
            line: r.line,
            reason: r.reason.clone(),
            stage: "slice".into(),
        }));
        rejected.sort_by_key(|r| r.line);
        let mut timing = report.timing_micros;
        timing.ingest = ingest_micros;
        timing.total = total_micros;
        RunReport {
            input: input.to_string(),
            format: ingest.format.name().to_string(),
            underlying: report.underlying.clone(),
            as_of: report.as_of,
            model: report.model.clone(),
            optimizer: report.optimizer.clone(),
            ingest: IngestSummary {
                rows: ingest.rows,
                quotes: chain.quotes.len(),
                quotes_used: report.quotes_used,
                itm_side_unused: report.slice_report.itm_side_unused,
                rejected,
            },
            slices: report.slices.clone(),
            dropped: report.dropped.clone(),
            failed: report.failed.clone(),
            calendar_free: report.calendar_free,
            calendar: report.calendar.clone(),
            timing_micros: timing,
        }
    }
}
