//! `report.json`: the run report the CLI writes and the Python package returns, built from the
//! ingest report, the chain and the [`SurfaceReport`] (the contract of `../shared/DESIGN.md`).

use super::flags::{SliceReview, review};
use super::{CalendarReport, FailedExpiry, SliceSummary, SurfaceModel, SurfaceReport, Timing};
use crate::config::CalibrateConfig;
use crate::fit::Optimizer;
use crate::quotes::{Chain, Format, IngestReport};
use crate::slice::{DayCount, DropReason, DroppedExpiry};
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

/// One expiry of `report.json`: its summary (fields flattened into the entry) and its review
/// flags ([`super::flags`]) under `review`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSlice {
    /// The fit of the expiry.
    #[serde(flatten)]
    pub summary: SliceSummary,
    /// Its flags, severity and spread-relative errors.
    pub review: SliceReview,
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
    /// Per expiry, by expiry, each with its review flags.
    pub slices: Vec<RunSlice>,
    /// Expiries with at least one review flag (what `volfit calibrate --strict` fails on).
    pub flagged: usize,
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
    /// The day count of the times (set by the caller that built the surface, see
    /// [`FittedSurface::day_count`](super::FittedSurface::day_count); ACT/365 when not).
    #[serde(default)]
    pub day_count: DayCount,
    /// Wall times in microseconds. `total` is the run's from reading the file to the charts
    /// drawn, the number the CLI prints and the review page's header shows (writing
    /// `report.json` and `report.html` themselves is not in it).
    pub timing_micros: Timing,
    /// The effective options of the run, every key (`volfit calibrate` sets it; as a
    /// `--config` file they reproduce the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<CalibrateConfig>,
    /// Why no surface was written, when the calibration fitted no expiry (then `slices` is
    /// empty and `failed`, `dropped` and the rejected rows say why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The prior surface the fits were warm-started from (`volfit calibrate --prior`): its
    /// underlying and `as_of`, the expiries warm-started and why the others were not; each
    /// slice's `warm_start` says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<super::PriorReport>,
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
        Self::assemble(
            input,
            (ingest.format, ingest.rows, chain.quotes.len()),
            &ingest.rejected,
            report,
            ingest_micros,
            total_micros,
        )
    }

    /// The run report of a surface report alone, with no file read: format `auto`, no rows,
    /// the slice stage's rejections only, `quotes` = the quotes used plus those, timings as
    /// the surface report's.
    pub fn of_surface(report: &SurfaceReport) -> RunReport {
        let quotes = report.quotes_used()
            + report.slice_report.itm_side_unused
            + report.slice_report.rejected.len();
        Self::assemble(
            "",
            (Format::Auto, 0, quotes),
            &[],
            report,
            0.0,
            report.timing_micros.total,
        )
    }

    fn assemble(
        input: &str,
        (format, rows, quotes): (Format, usize, usize),
        ingest_rejected: &[crate::quotes::Rejection],
        report: &SurfaceReport,
        ingest_micros: f64,
        total_micros: f64,
    ) -> RunReport {
        let mut rejected: Vec<RejectedRow> = ingest_rejected
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
        let slices: Vec<RunSlice> = report
            .slices
            .iter()
            .cloned()
            .zip(review(report))
            .map(|(summary, review)| RunSlice { summary, review })
            .collect();
        RunReport {
            input: input.to_string(),
            format,
            underlying: report.underlying.clone(),
            as_of: report.as_of,
            model: report.model,
            optimizer: report.optimizer,
            ingest: IngestSummary {
                rows,
                quotes,
                quotes_used: report.quotes_used(),
                itm_side_unused: report.slice_report.itm_side_unused,
                rejected,
            },
            flagged: slices.iter().filter(|s| s.review.is_flagged()).count(),
            slices,
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
            prior: report.prior.clone(),
            day_count: DayCount::default(),
        }
    }

    /// The expiries' indices worst first (by review severity, see [`super::flags::rank`]).
    pub fn ranked(&self) -> Vec<usize> {
        let reviews: Vec<SliceReview> = self.slices.iter().map(|s| s.review.clone()).collect();
        super::flags::rank(&reviews)
    }

    /// Whether the report names file line `line` among its rejected rows (any stage).
    pub fn names_line(&self, line: u64) -> bool {
        self.ingest.rejected.iter().any(|r| r.line == line)
    }
}
