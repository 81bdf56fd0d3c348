//! Static arbitrage of a surface, decided in one place for the surface build, `volfit check`,
//! the charts and the report: each expiry's butterfly verdict (the model's own,
//! [`SurfaceSmile::butterfly`](super::SurfaceSmile::butterfly)) and the calendar gap between consecutive expiries by the one
//! calendar method ([`calendar_gap`]) on a stated domain.
//!
//! **Domain** of the calendar check between two expiries: the union of their quoted `k`
//! ranges (where at least one of them has data), or `k ∈ ±4√w_later(0)` (at least `±0.25`)
//! for expiries stored without a quoted range. Interpolation between expiries is linear in
//! `w`, so the expiries decide calendar arbitrage between them. Beyond the domain the wings'
//! asymptotic slopes are compared ([`CalendarReport::wing_crossings`]).

use super::SliceModel;
use crate::models::arbitrage::{CalendarGap, CheckDomain, calendar_gap};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Butterfly status of one expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButterflyStatus {
    /// Time to expiry.
    pub t: f64,
    /// Minimum of Durrleman's `g` (SVI: over the real line; SABR: over the density scan).
    pub min_g: f64,
    /// Free of butterfly arbitrage.
    pub free: bool,
}

/// What was done about a calendar violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CalendarAction {
    /// Reported only ([`CalendarPolicy::Report`](super::CalendarPolicy::Report), or a stored
    /// surface being checked).
    Reported,
    /// The later expiry was refitted with the earlier one as a floor on the check's domain,
    /// then raised by `level_shift` where the model allows it.
    Refit {
        /// Total-variance shift applied after the refit (0 when none was needed).
        level_shift: f64,
        /// RMSE of the later expiry before.
        rmse_before: f64,
        /// RMSE after.
        rmse_after: f64,
    },
    /// The refit failed; the violation stays.
    RepairFailed {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for CalendarAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalendarAction::Reported => f.write_str("reported"),
            CalendarAction::Refit {
                level_shift,
                rmse_before,
                rmse_after,
            } => write!(
                f,
                "refit with the previous expiry as a floor on the check domain (then a level \
                 shift of {level_shift:.1e}): RMSE {rmse_before:.5} -> {rmse_after:.5}"
            ),
            CalendarAction::RepairFailed { reason } => write!(f, "repair failed: {reason}"),
        }
    }
}

/// A calendar violation between two consecutive expiries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarViolation {
    /// Earlier expiry's time.
    pub t_earlier: f64,
    /// Later expiry's time.
    pub t_later: f64,
    /// `[k_lo, k_hi]` where `w_later < w_earlier`.
    pub k_range: [f64; 2],
    /// Largest shortfall `w_earlier − w_later`.
    pub shortfall: f64,
    /// The shortfall left after the action (equal to `shortfall` when only reported).
    pub remaining: f64,
    /// What was done about it.
    pub action: CalendarAction,
}

/// Calendar check of the whole surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarReport {
    /// `[k_min, k_max]`: the union of the pairs' domains.
    pub k_range: [f64; 2],
    /// Violations found (before repair, with what was done).
    pub violations: Vec<CalendarViolation>,
    /// No violation left on the domain (after repair, if any).
    pub calendar_free: bool,
    /// Expiry pairs whose asymptotic wing slopes decrease in time, so `w` decreases in time
    /// somewhere beyond the domain (far wings): `(t_earlier, t_later)`.
    pub wing_crossings: Vec<(f64, f64)>,
}

/// Static-arbitrage report of a surface (what `volfit check` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArbitrageReport {
    /// Per expiry.
    pub butterfly: Vec<ButterflyStatus>,
    /// Calendar check between consecutive expiries.
    pub calendar: CalendarReport,
    /// No butterfly or calendar arbitrage found.
    pub arbitrage_free: bool,
}

/// The calendar-check domain of a pair of expiries (see the [module doc](self)).
pub(crate) fn pair_domain(
    earlier: Option<[f64; 2]>,
    later: Option<[f64; 2]>,
    later_model: &SliceModel,
) -> [f64; 2] {
    if let (Some(a), Some(b)) = (earlier, later) {
        [a[0].min(b[0]), a[1].max(b[1])]
    } else {
        let half = (4.0 * later_model.w(0.0).max(0.0).sqrt()).max(0.25);
        [-half, half]
    }
}

/// The gap `w_later − w_earlier` of two smiles on `range` (the one calendar method).
pub(crate) fn pair_gap(earlier: &SliceModel, later: &SliceModel, range: [f64; 2]) -> CalendarGap {
    calendar_gap(
        |k| earlier.w(k),
        |k| later.w(k),
        CheckDomain::Interval { range },
        (0.0, 1.0),
    )
}

/// Consecutive expiries whose asymptotic wing slopes of `w` decrease in time
/// ([`SurfaceSmile::wing_slopes`](super::SurfaceSmile::wing_slopes)).
pub(crate) fn wing_crossings(ts: &[f64], models: &[SliceModel]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for i in 1..models.len() {
        let (al, ar) = models[i - 1].smile().wing_slopes();
        let (bl, br) = models[i].smile().wing_slopes();
        if bl < al || br < ar {
            out.push((ts[i - 1], ts[i]));
        }
    }
    out
}

/// Butterfly statuses of the expiries `(t, model)`.
pub(crate) fn butterflies<'a>(
    slices: impl Iterator<Item = (f64, &'a SliceModel)>,
) -> Vec<ButterflyStatus> {
    slices
        .map(|(t, m)| {
            let v = m.smile().butterfly();
            ButterflyStatus {
                t,
                min_g: v.min_g,
                free: v.free,
            }
        })
        .collect()
}

/// The calendar report of expiries `(t, model, quoted range)` (sorted by `t`), without
/// repair.
pub(crate) fn calendar_report(slices: &[(f64, SliceModel, Option<[f64; 2]>)]) -> CalendarReport {
    let mut violations = Vec::new();
    let mut range = [f64::INFINITY, f64::NEG_INFINITY];
    for pair in slices.windows(2) {
        let ((ta, a, qa), (tb, b, qb)) = (&pair[0], &pair[1]);
        let r = pair_domain(*qa, *qb, b);
        range = [range[0].min(r[0]), range[1].max(r[1])];
        let gap = pair_gap(a, b, r);
        if let Some(k_range) = gap.negative {
            violations.push(CalendarViolation {
                t_earlier: *ta,
                t_later: *tb,
                k_range,
                shortfall: gap.shortfall(),
                remaining: gap.shortfall(),
                action: CalendarAction::Reported,
            });
        }
    }
    if !(range[0] < range[1]) {
        range = [0.0, 0.0];
    }
    let ts: Vec<f64> = slices.iter().map(|s| s.0).collect();
    let models: Vec<SliceModel> = slices.iter().map(|s| s.1).collect();
    CalendarReport {
        k_range: range,
        calendar_free: violations.is_empty(),
        violations,
        wing_crossings: wing_crossings(&ts, &models),
    }
}
