//! Review flags: why an expiry deserves a reviewer's look, measured against the expiry's own
//! bid/ask spread, each with a severity so the review page can rank expiries worst first.
//!
//! A fit error of one vol point is nothing on a deep put quoted 6 vol points wide and a miss
//! on an at-the-money quote 0.2 wide, so the fit-quality flags measure errors in
//! **half-spreads**: for a quote with bid and ask vols, `e = (σ_fit − σ_mid) / h` with
//! `h = (σ_ask − σ_bid)/2`; `|e| ≤ 1` is (about) inside the market. Per expiry
//! ([`SpreadErrors`]): the RMS of `e`, its largest `|e|`, and the share of two-sided quotes
//! whose fitted vol is outside `[bid, ask]`. An expiry without two-sided quotes is measured
//! in vol points instead ([`RMSE_VOL_NO_SPREAD`], [`MAX_VOL_NO_SPREAD`]).
//!
//! The flags ([`FlagKind`]) and when they fire:
//!
//! | flag | fires when | severity |
//! |---|---|---|
//! | `rmse_outside_spread` | RMS error > [`RMSE_HALF_SPREADS`] half-spreads | RMS / threshold |
//! | `max_error_outside_spread` | a quote missed by > [`MAX_HALF_SPREADS`] half-spreads | max / threshold |
//! | `quotes_outside_spread` | share outside bid/ask > [`OUTSIDE_SHARE`] | share / threshold |
//! | `large_vol_error` | a quote outside its bid/ask missed by > [`MAX_VOL_ERROR`], however wide its spread (a wing the model does not follow) | error / threshold |
//! | `high_rmse` / `large_max_error` | no two-sided quote, and RMSE / max error above the vol-point thresholds | error / threshold |
//! | `exact_fit` | quotes ≤ free parameters: the fit passes through every quote and its errors say nothing | [`SEVERITY_EXACT_FIT`] |
//! | `not_converged` | the optimiser stopped without meeting a convergence test | [`SEVERITY_NOT_CONVERGED`] |
//! | `butterfly_arbitrage` | the served smile has butterfly arbitrage | [`SEVERITY_ARBITRAGE`] |
//! | `calendar_arbitrage` | a calendar violation with a neighbouring expiry remains | [`SEVERITY_ARBITRAGE`] |
//! | `repaired` | an arbitrage repair changed the fit ([`SliceSummary::repair`]) | [`SEVERITY_REPAIRED`] + the RMSE it cost, in half-spreads |
//!
//! A measured flag's severity is its measure over its threshold, so it is above 1 when it
//! fires and grows with how far it is past the line; an expiry's severity is the sum of its
//! flags' ([`SliceReview::severity`]), and [`rank`] orders expiries by it, worst first.
//!
//! ```
//! use volfit::surface::flags::{rank, SliceReview};
//! let r = |severity| SliceReview { severity, ..SliceReview::default() };
//! assert_eq!(rank(&[r(0.0), r(4.5), r(1.2)]), [1, 2, 0]);
//! ```

use super::{CalendarReport, SliceSummary, SurfaceReport};
use serde::{Deserialize, Serialize};
use std::fmt;

/// RMS fit error, in half-spreads, above which an expiry is flagged: the typical fitted vol
/// lies outside the market.
pub const RMSE_HALF_SPREADS: f64 = 1.0;
/// Largest single-quote error, in half-spreads, above which an expiry is flagged: one quote
/// missed by more than one whole spread beyond its bid or ask.
pub const MAX_HALF_SPREADS: f64 = 3.0;
/// Share of two-sided quotes outside their bid/ask above which an expiry is flagged.
pub const OUTSIDE_SHARE: f64 = 1.0 / 3.0;
/// Largest error (vol, decimal) of a quote outside its bid/ask above which an expiry is
/// flagged however wide that quote's spread: a wing quoted 4 vol points wide and missed by
/// 20 is only 10 half-spreads off, but shows a smile shape the model does not follow, which
/// matters for anything priced off that wing.
pub const MAX_VOL_ERROR: f64 = 0.05;
/// RMSE (vol, decimal) above which an expiry without two-sided quotes is flagged.
pub const RMSE_VOL_NO_SPREAD: f64 = 0.01;
/// Largest error (vol, decimal) above which an expiry without two-sided quotes is flagged.
pub const MAX_VOL_NO_SPREAD: f64 = 0.03;
/// Severity of an exact fit (as many quotes as free parameters, or fewer).
pub const SEVERITY_EXACT_FIT: f64 = 2.0;
/// Severity of a fit that did not converge.
pub const SEVERITY_NOT_CONVERGED: f64 = 1.0;
/// Severity of arbitrage left in the served smile (butterfly, or calendar with a neighbour).
pub const SEVERITY_ARBITRAGE: f64 = 3.0;
/// Severity of a repaired fit before its cost in fit quality is added.
pub const SEVERITY_REPAIRED: f64 = 0.5;
/// Tolerance (vol, decimal) of the inside-bid/ask test, as the fit report's.
const INSIDE_TOL: f64 = 1e-12;

/// Why an expiry is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FlagKind {
    /// The RMS fit error exceeds [`RMSE_HALF_SPREADS`] half-spreads.
    RmseOutsideSpread,
    /// A quote is missed by more than [`MAX_HALF_SPREADS`] half-spreads.
    MaxErrorOutsideSpread,
    /// More than [`OUTSIDE_SHARE`] of the two-sided quotes lie outside their bid/ask.
    QuotesOutsideSpread,
    /// A quote outside its bid/ask is missed by more than [`MAX_VOL_ERROR`], however wide its
    /// spread.
    LargeVolError,
    /// No two-sided quote, and the RMSE exceeds [`RMSE_VOL_NO_SPREAD`].
    HighRmse,
    /// No two-sided quote, and the largest error exceeds [`MAX_VOL_NO_SPREAD`].
    LargeMaxError,
    /// As many quotes as free parameters (or fewer): the fit interpolates and its errors
    /// say nothing about the model.
    ExactFit,
    /// The fit did not converge.
    NotConverged,
    /// The served smile has butterfly arbitrage.
    ButterflyArbitrage,
    /// Calendar arbitrage with a neighbouring expiry remains.
    CalendarArbitrage,
    /// An arbitrage repair changed the fit (the smile before it is in
    /// [`SliceSummary::repair`]).
    Repaired,
}

impl FlagKind {
    /// The flag's name in `report.json` (snake case).
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::RmseOutsideSpread => "rmse_outside_spread",
            FlagKind::MaxErrorOutsideSpread => "max_error_outside_spread",
            FlagKind::QuotesOutsideSpread => "quotes_outside_spread",
            FlagKind::LargeVolError => "large_vol_error",
            FlagKind::HighRmse => "high_rmse",
            FlagKind::LargeMaxError => "large_max_error",
            FlagKind::ExactFit => "exact_fit",
            FlagKind::NotConverged => "not_converged",
            FlagKind::ButterflyArbitrage => "butterfly_arbitrage",
            FlagKind::CalendarArbitrage => "calendar_arbitrage",
            FlagKind::Repaired => "repaired",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One flag of an expiry: what, how bad, and the numbers behind it in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewFlag {
    /// What.
    pub kind: FlagKind,
    /// How bad: a measured flag's measure over its threshold (`> 1` when it fires), else
    /// the flag's fixed weight (the `SEVERITY_*` constants).
    pub severity: f64,
    /// The numbers behind it, for a reader (e.g. `max error 4.1 half-spreads at K = 2900`).
    pub detail: String,
}

impl fmt::Display for ReviewFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// Fit errors of one expiry relative to its spread (the measures of the fit-quality flags).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SpreadErrors {
    /// Quotes with both a bid and an ask vol.
    pub two_sided: usize,
    /// Median half-spread `(σ_ask − σ_bid)/2` of the two-sided quotes (vol, decimal).
    pub median_half_spread: Option<f64>,
    /// RMS of `(σ_fit − σ_mid)/h` over the two-sided quotes.
    pub rmse_half_spreads: Option<f64>,
    /// Largest `|σ_fit − σ_mid|/h`.
    pub max_half_spreads: Option<f64>,
    /// Strike of the quote with the largest `|σ_fit − σ_mid|/h`.
    pub max_at_strike: Option<f64>,
    /// Share of the two-sided quotes whose fitted vol is outside `[σ_bid, σ_ask]`.
    pub outside_share: Option<f64>,
    /// Largest `|σ_fit − σ_mid|` (vol, decimal) of a quote whose fitted vol is outside its
    /// bid/ask (`None` when every two-sided quote is inside).
    pub max_vol_outside: Option<f64>,
    /// Its strike.
    pub max_vol_outside_at: Option<f64>,
}

/// The review of one expiry: its spread-relative errors, its flags and their total severity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SliceReview {
    /// Sum of the flags' severities (0: nothing to flag).
    pub severity: f64,
    /// The flags, most severe first.
    pub flags: Vec<ReviewFlag>,
    /// The errors in half-spreads.
    pub errors: SpreadErrors,
}

impl SliceReview {
    /// Whether any flag fired.
    pub fn is_flagged(&self) -> bool {
        !self.flags.is_empty()
    }

    /// Whether a flag of `kind` fired.
    pub fn has(&self, kind: FlagKind) -> bool {
        self.flags.iter().any(|f| f.kind == kind)
    }
}

/// The fit errors of `s`'s quotes in half-spreads (quotes with both sides and a positive
/// spread; one-sided quotes are not measured).
///
/// ```
/// use volfit::surface::QuotePoint;
/// use volfit::surface::flags::spread_errors_of;
/// let q = |bid, ask, fit| QuotePoint {
///     strike: 100.0, k: 0.0, bid_iv: Some(bid), mid_iv: 0.5 * (bid + ask), ask_iv: Some(ask),
///     fit_iv: fit, mark_iv: None,
/// };
/// // Half-spreads of 0.01: errors of 0.5 and 3 half-spreads; one quote outside.
/// let e = spread_errors_of(&[q(0.19, 0.21, 0.205), q(0.29, 0.31, 0.33)]);
/// assert!((e.max_half_spreads.unwrap() - 3.0).abs() < 1e-9);
/// assert!((e.rmse_half_spreads.unwrap() - (4.625f64).sqrt()).abs() < 1e-9);
/// assert_eq!(e.outside_share, Some(0.5));
/// ```
pub fn spread_errors_of(quotes: &[super::QuotePoint]) -> SpreadErrors {
    let mut halves = Vec::new();
    let (mut sse, mut max, mut at, mut outside) = (0.0, 0.0f64, None, 0usize);
    let mut worst_outside: Option<(f64, f64)> = None;
    for q in quotes {
        let (Some(b), Some(a)) = (q.bid_iv, q.ask_iv) else {
            continue;
        };
        let h = 0.5 * (a - b);
        if !(h > 0.0) || !q.fit_iv.is_finite() {
            continue;
        }
        halves.push(h);
        let e = (q.fit_iv - q.mid_iv) / h;
        sse += e * e;
        if e.abs() > max {
            max = e.abs();
            at = Some(q.strike);
        }
        if q.fit_iv < b - INSIDE_TOL || q.fit_iv > a + INSIDE_TOL {
            outside += 1;
            let v = (q.fit_iv - q.mid_iv).abs();
            if worst_outside.is_none_or(|(w, _)| v > w) {
                worst_outside = Some((v, q.strike));
            }
        }
    }
    let n = halves.len();
    if n == 0 {
        return SpreadErrors::default();
    }
    halves.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        halves[n / 2]
    } else {
        0.5 * (halves[n / 2 - 1] + halves[n / 2])
    };
    SpreadErrors {
        two_sided: n,
        median_half_spread: Some(median),
        rmse_half_spreads: Some((sse / n as f64).sqrt()),
        max_half_spreads: Some(max),
        max_at_strike: at,
        outside_share: Some(outside as f64 / n as f64),
        max_vol_outside: worst_outside.map(|w| w.0),
        max_vol_outside_at: worst_outside.map(|w| w.1),
    }
}

/// The review of expiry `s`: its flags against the thresholds of this module, with the
/// calendar check `calendar` of its surface (for arbitrage left with a neighbour).
///
/// The free parameters are those of the fit report ([`crate::fit::FitReport::n_params`]).
pub fn review_slice(s: &SliceSummary, calendar: &CalendarReport) -> SliceReview {
    let errors = spread_errors_of(&s.quotes);
    let mut flags = Vec::new();
    let mut push = |kind, severity: f64, detail: String| {
        flags.push(ReviewFlag {
            kind,
            severity,
            detail,
        });
    };
    let where_ = |k: Option<f64>| k.map_or_else(String::new, |k| format!(" at K = {k}"));
    if let (Some(rmse), Some(max), Some(out), Some(h)) = (
        errors.rmse_half_spreads,
        errors.max_half_spreads,
        errors.outside_share,
        errors.median_half_spread,
    ) {
        if rmse > RMSE_HALF_SPREADS {
            push(
                FlagKind::RmseOutsideSpread,
                rmse / RMSE_HALF_SPREADS,
                format!(
                    "RMSE {rmse:.2} half-spreads ({:.2} vol pts; median half-spread {:.2})",
                    100.0 * s.rmse_iv,
                    100.0 * h
                ),
            );
        }
        if max > MAX_HALF_SPREADS {
            push(
                FlagKind::MaxErrorOutsideSpread,
                max / MAX_HALF_SPREADS,
                format!(
                    "max error {max:.1} half-spreads{} (largest vol error {:.2} vol pts)",
                    where_(errors.max_at_strike),
                    100.0 * s.max_abs_err_iv
                ),
            );
        }
        if out > OUTSIDE_SHARE {
            push(
                FlagKind::QuotesOutsideSpread,
                out / OUTSIDE_SHARE,
                format!(
                    "{:.0}% of {} two-sided quotes outside bid/ask",
                    100.0 * out,
                    errors.two_sided
                ),
            );
        }
    } else {
        if s.rmse_iv > RMSE_VOL_NO_SPREAD {
            push(
                FlagKind::HighRmse,
                s.rmse_iv / RMSE_VOL_NO_SPREAD,
                format!("RMSE {:.2} vol pts (no two-sided quote)", 100.0 * s.rmse_iv),
            );
        }
        if s.max_abs_err_iv > MAX_VOL_NO_SPREAD {
            push(
                FlagKind::LargeMaxError,
                s.max_abs_err_iv / MAX_VOL_NO_SPREAD,
                format!(
                    "max error {:.2} vol pts (no two-sided quote)",
                    100.0 * s.max_abs_err_iv
                ),
            );
        }
    }
    if let Some(v) = errors.max_vol_outside
        && v > MAX_VOL_ERROR
    {
        push(
            FlagKind::LargeVolError,
            v / MAX_VOL_ERROR,
            format!(
                "a quote outside its bid/ask missed by {:.1} vol pts{}",
                100.0 * v,
                where_(errors.max_vol_outside_at)
            ),
        );
    }
    let params = s.fit.n_params;
    if params > 0 && s.n_quotes <= params {
        push(
            FlagKind::ExactFit,
            SEVERITY_EXACT_FIT,
            format!(
                "{} quotes for {params} free parameters: the fit passes through them",
                s.n_quotes
            ),
        );
    }
    if !s.converged {
        push(
            FlagKind::NotConverged,
            SEVERITY_NOT_CONVERGED,
            format!(
                "stopped after {} iterations: {}",
                s.iterations, s.fit.termination
            ),
        );
    }
    if !s.butterfly_free {
        push(
            FlagKind::ButterflyArbitrage,
            SEVERITY_ARBITRAGE,
            format!("min g = {:.2e}", s.min_g),
        );
    }
    let left: Vec<_> = calendar
        .violations
        .iter()
        .filter(|v| v.remaining > 0.0 && (v.t_earlier == s.t || v.t_later == s.t))
        .collect();
    if !left.is_empty() {
        let worst = left.iter().map(|v| v.remaining).fold(0.0, f64::max);
        push(
            FlagKind::CalendarArbitrage,
            SEVERITY_ARBITRAGE,
            format!(
                "{} violation(s) with a neighbour left, largest shortfall {worst:.1e} in w",
                left.len()
            ),
        );
    }
    if let Some(r) = &s.repair {
        let cost = errors
            .median_half_spread
            .map_or(0.0, |h| ((r.rmse_after - r.rmse_before) / h).max(0.0));
        push(
            FlagKind::Repaired,
            SEVERITY_REPAIRED + cost,
            format!(
                "{}: RMSE {:.2} → {:.2} vol pts",
                r.what,
                100.0 * r.rmse_before,
                100.0 * r.rmse_after
            ),
        );
    }
    flags.sort_by(|a, b| b.severity.total_cmp(&a.severity));
    SliceReview {
        severity: flags.iter().fold(0.0, |a, f| a + f.severity),
        flags,
        errors,
    }
}

/// The review of every expiry of `report`, in the report's order.
pub fn review(report: &SurfaceReport) -> Vec<SliceReview> {
    report
        .slices
        .iter()
        .map(|s| review_slice(s, &report.calendar))
        .collect()
}

/// Indices of `reviews` worst first: by severity, descending; equal severities (e.g. none)
/// keep their order (by expiry, as reports list them).
pub fn rank(reviews: &[SliceReview]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..reviews.len()).collect();
    order.sort_by(|&a, &b| reviews[b].severity.total_cmp(&reviews[a].severity));
    order
}
