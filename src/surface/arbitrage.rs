//! Static arbitrage of a surface, decided in one place for the surface build, `volfit check`,
//! `report.json`, the charts and `local_vol` ([`FittedSurface::arbitrage_check`](super::FittedSurface::arbitrage_check)):
//!
//! 1. **The fits**, on their quoted domain: the calendar gap between consecutive fitted
//!    smiles by the one calendar method ([`calendar_gap`]) on the union of their quoted `k`
//!    ranges (or `k ∈ ±4√w_later(0)`, at least `±0.25`, for expiries stored without one),
//!    which the build repairs by refitting ([`CalendarViolation`], with the RMSE it cost).
//! 2. **The served surface**, on the whole plane it answers: each expiry's served smile
//!    ([`super::envelope`]: its fit, raised to the previous served smile where it would dip
//!    below) has the butterfly verdict of its pieces ([`SurfaceSmile::butterfly`](super::SurfaceSmile::butterfly)), and
//!    consecutive served smiles are compared by [`calendar_gap`] over the whole real line.
//! 3. **The plane scan** ([`plane_scan`]): calendar, butterfly and local-vol conditions at
//!    every point of a dense `(k, t)` grid with the wings and times before, between and
//!    after the expiries ([`PlaneGrid`]) — what a pricer may ask for.
//!
//! [`ArbitrageReport::arbitrage_free`] is 2 and 3; [`ArbitrageReport::domain`] says it in
//! words.

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
    /// Expiry pairs whose fitted smiles' asymptotic wing slopes decrease in time, so the
    /// fits cross somewhere in the far wings: `(t_earlier, t_later)`. The served surface
    /// takes the earlier expiry's smile there ([`CalendarReport::served`]).
    pub wing_crossings: Vec<(f64, f64)>,
    /// Where expiries are served an earlier expiry's smile (raised) instead of their own fit.
    #[serde(default)]
    pub served: Vec<ServedRange>,
}

/// Static-arbitrage report of a surface (what `volfit check` prints and `report.json`
/// holds): see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArbitrageReport {
    /// Per expiry: the served smile's butterfly verdict.
    pub butterfly: Vec<ButterflyStatus>,
    /// Calendar: the fits on their quoted domains, and the served smiles on the real line
    /// ([`CalendarReport::calendar_free`]).
    pub calendar: CalendarReport,
    /// The dense `(k, t)` scan.
    pub plane: PlaneScan,
    /// No butterfly or calendar arbitrage in the served smiles and none on the scan.
    pub arbitrage_free: bool,
    /// The domain of the verdict, in words.
    pub domain: String,
}

/// Where an expiry is served an earlier expiry's smile instead of its own fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedRange {
    /// The expiry's time.
    pub t: f64,
    /// Lower end of the `k` interval (`None`: unbounded).
    pub k_from: Option<f64>,
    /// Upper end (`None`: unbounded).
    pub k_to: Option<f64>,
}

/// The words of [`ArbitrageReport::domain`].
pub const VERDICT_DOMAIN: &str = "served surface: every k on the real line at each expiry \
    (served smiles: fits raised to the previous expiry where they dip below), times before, \
    between and after the expiries by the stated extrapolation; checked by the served smiles' \
    butterfly verdicts, the calendar gap of consecutive served smiles over the real line, and a \
    dense (k, t) scan of calendar, butterfly and local-vol conditions";

/// The calendar-check domain of a pair of expiries (see the [module doc](self)).
pub(crate) fn pair_domain(
    earlier: Option<[f64; 2]>,
    later: Option<[f64; 2]>,
    later_model: &SliceModel,
) -> [f64; 2] {
    if let (Some(a), Some(b)) = (earlier, later) {
        [a[0].min(b[0]), a[1].max(b[1])]
    } else {
        unquoted_domain(later_model)
    }
}

/// The `k` range standing in for an expiry stored without a quoted range:
/// `±4√w(0)`, at least `±0.25`.
pub(crate) fn unquoted_domain(model: &SliceModel) -> [f64; 2] {
    let half = (4.0 * model.w(0.0).max(0.0).sqrt()).max(0.25);
    [-half, half]
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
        served: Vec::new(),
    }
}

/// Where a point of a [`PlaneScan`] lies in time relative to the expiries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaneRegion {
    /// Before the first expiry.
    Before,
    /// At an expiry.
    AtExpiry,
    /// Between two expiries.
    Between,
    /// After the last expiry.
    After,
}

/// What a point of a [`PlaneScan`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaneFailure {
    /// `∂w/∂t < 0` at fixed `k` (calendar arbitrage).
    Calendar,
    /// Durrleman's `g < 0` (butterfly arbitrage: negative density).
    Butterfly,
    /// Dupire's local variance is not finite and positive (it needs both of the above strictly,
    /// and `w > 0`).
    LocalVol,
}

/// One point where a [`PlaneScan`] found arbitrage or no local vol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanePoint {
    /// Log-forward-moneyness.
    pub k: f64,
    /// Time.
    pub t: f64,
    /// Where in time.
    pub region: PlaneRegion,
    /// What failed.
    pub failure: PlaneFailure,
    /// The value that failed: `∂w/∂t`, `g`, or the local variance (NaN when none).
    pub value: f64,
}

/// The dense `(k, t)` grid a [`PlaneScan`] evaluates (the domain it states).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneGrid {
    /// `[k_min, k_max]`: twice the union of the quoted ranges, at least `[−1, 1]` (the wings
    /// included).
    pub k_range: [f64; 2],
    /// Points in `k` (equally spaced).
    pub k_points: usize,
    /// The times: [`PlaneGrid::BEFORE`] fractions of the first expiry, every expiry,
    /// [`PlaneGrid::BETWEEN`] interior points of each interval, and [`PlaneGrid::AFTER`]
    /// multiples of the last expiry.
    pub times: Vec<f64>,
}

impl PlaneGrid {
    /// Fractions of the first expiry's `t` scanned before it.
    pub const BEFORE: [f64; 5] = [0.02, 0.1, 0.3, 0.6, 0.9];
    /// Interior points scanned per interval between expiries.
    pub const BETWEEN: usize = 5;
    /// Multiples of the last expiry's `t` scanned after it.
    pub const AFTER: [f64; 5] = [1.1, 1.5, 2.0, 3.0, 5.0];
    /// Points in `k`.
    pub const K_POINTS: usize = 161;

    /// The grid for expiries `ts` (sorted) with quoted `k` range `quoted` (their union).
    pub fn new(ts: &[f64], quoted: [f64; 2]) -> PlaneGrid {
        let mut times = Vec::new();
        if let (Some(&first), Some(&last)) = (ts.first(), ts.last()) {
            times.extend(Self::BEFORE.iter().map(|f| f * first));
            for (i, &t) in ts.iter().enumerate() {
                times.push(t);
                if let Some(&next) = ts.get(i + 1) {
                    let n = Self::BETWEEN as f64 + 1.0;
                    times.extend((1..=Self::BETWEEN).map(|j| t + (next - t) * j as f64 / n));
                }
            }
            times.extend(Self::AFTER.iter().map(|f| f * last));
        }
        let (lo, hi) = if quoted[0] < quoted[1] {
            (quoted[0], quoted[1])
        } else {
            (0.0, 0.0)
        };
        PlaneGrid {
            k_range: [(2.0 * lo).min(-1.0), (2.0 * hi).max(1.0)],
            k_points: Self::K_POINTS,
            times,
        }
    }

    /// The `k` values.
    pub fn ks(&self) -> impl Iterator<Item = f64> + '_ {
        let [lo, hi] = self.k_range;
        let n = self.k_points.max(2) - 1;
        (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n as f64)
    }
}

/// Static arbitrage of a surface on a dense `(k, t)` grid that includes the wings and times
/// before, between and after the expiries (what a pricer may ask for): at every point the
/// calendar condition `∂w/∂t ≥ 0`, the butterfly condition `g ≥ 0` (Durrleman; Gatheral &
/// Jacquier 2014, Lemma 2.2) and Dupire's local variance finite and positive (Gatheral 2006,
/// eq. 1.10), from the surface's analytic derivatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneScan {
    /// The grid scanned.
    pub grid: PlaneGrid,
    /// Points evaluated.
    pub points: usize,
    /// Points with calendar arbitrage.
    pub calendar: usize,
    /// Points with butterfly arbitrage.
    pub butterfly: usize,
    /// Points without a finite positive local vol.
    pub local_vol_undefined: usize,
    /// Failing points by region: `[before, at expiry, between, after]`.
    pub by_region: [usize; 4],
    /// Up to 20 failing points, worst first within each kind.
    pub worst: Vec<PlanePoint>,
}

impl PlaneScan {
    /// The scan of no surface (no points).
    pub fn empty() -> PlaneScan {
        PlaneScan {
            grid: PlaneGrid {
                k_range: [0.0, 0.0],
                k_points: 0,
                times: Vec::new(),
            },
            points: 0,
            calendar: 0,
            butterfly: 0,
            local_vol_undefined: 0,
            by_region: [0; 4],
            worst: Vec::new(),
        }
    }

    /// No point failed.
    pub fn is_clean(&self) -> bool {
        self.calendar + self.butterfly + self.local_vol_undefined == 0
    }
}

/// Relative tolerance of the plane scan's conditions (rounding of the analytic derivatives).
const PLANE_TOL: f64 = 1e-10;

/// Scans `surface` on `grid` ([`PlaneScan`]).
pub fn plane_scan<S: super::VolSurface + ?Sized>(
    surface: &S,
    expiries: &[f64],
    grid: PlaneGrid,
) -> PlaneScan {
    let (first, last) = (
        expiries.first().copied().unwrap_or(0.0),
        expiries.last().copied().unwrap_or(0.0),
    );
    let region = |t: f64| {
        if t < first {
            PlaneRegion::Before
        } else if t > last {
            PlaneRegion::After
        } else if expiries.contains(&t) {
            PlaneRegion::AtExpiry
        } else {
            PlaneRegion::Between
        }
    };
    let mut failures: Vec<PlanePoint> = Vec::new();
    let (mut calendar, mut butterfly, mut lv, mut points) = (0, 0, 0, 0);
    let mut by_region = [0usize; 4];
    for &t in &grid.times {
        let r = region(t);
        for k in grid.ks() {
            points += 1;
            let d = surface.variance_derivatives(k, t);
            let mut fail = |failure, value| {
                failures.push(PlanePoint {
                    k,
                    t,
                    region: r,
                    failure,
                    value,
                });
            };
            let mut bad = false;
            let scale = d.w.abs().max(1e-300);
            if !(d.w_t * t >= -PLANE_TOL * scale) {
                calendar += 1;
                bad = true;
                fail(PlaneFailure::Calendar, d.w_t);
            }
            let g = crate::models::arbitrage::durrleman(k, d.w, d.w_k, d.w_kk);
            if !(g >= -PLANE_TOL) {
                butterfly += 1;
                bad = true;
                fail(PlaneFailure::Butterfly, g);
            }
            let v = super::local_variance(k, &d);
            if !v.is_some_and(|v| v > 0.0) {
                lv += 1;
                bad = true;
                fail(PlaneFailure::LocalVol, v.unwrap_or(f64::NAN));
            }
            if bad {
                by_region[r as usize] += 1;
            }
        }
    }
    failures.sort_by(|a, b| {
        (a.failure as u8)
            .cmp(&(b.failure as u8))
            .then(a.value.total_cmp(&b.value))
    });
    let mut worst = Vec::new();
    for kind in [
        PlaneFailure::Calendar,
        PlaneFailure::Butterfly,
        PlaneFailure::LocalVol,
    ] {
        worst.extend(failures.iter().filter(|p| p.failure == kind).take(7));
    }
    worst.truncate(20);
    PlaneScan {
        grid,
        points,
        calendar,
        butterfly,
        local_vol_undefined: lv,
        by_region,
        worst,
    }
}
