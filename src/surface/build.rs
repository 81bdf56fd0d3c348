//! [`calibrate_surface`]: chain → slices → per-expiry fits (in parallel) or a global SSVI /
//! eSSVI fit → calendar check (and repair) → [`FittedSurface`] + [`SurfaceReport`].

use super::{FittedSurface, SliceModel, SurfaceError, SurfaceSlice};
use crate::fit::{FitOptions, FitReport, fit_essvi, fit_sabr, fit_ssvi, fit_svi, fit_svi_floored};
use crate::models::svi::Svi;
use crate::quotes::Chain;
use crate::slice::{
    DroppedExpiry, ExcludedQuote, SliceOptions, SliceReport, SmileSlice, build_slices,
};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Which model a surface is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceModel {
    /// Raw SVI per expiry ([`crate::fit_svi`]), butterfly-free by construction.
    #[default]
    Svi,
    /// SSVI over all expiries ([`crate::fit::fit_ssvi`]): calendar- and butterfly-free by
    /// construction, 3 parameters plus one `θ` per expiry.
    Ssvi,
    /// eSSVI ([`crate::fit::fit_essvi`]): `(θ, ρ, ψ)` per expiry, calendar-free.
    Essvi,
    /// SABR per expiry ([`crate::fit_sabr`]).
    Sabr,
}

impl SurfaceModel {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SurfaceModel::Svi => "svi",
            SurfaceModel::Ssvi => "ssvi",
            SurfaceModel::Essvi => "essvi",
            SurfaceModel::Sabr => "sabr",
        }
    }
}

/// What to do about calendar arbitrage between per-expiry fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarPolicy {
    /// Refit each later SVI slice that dips below its predecessor on the check grid, with
    /// the predecessor's total variance as a floor there (penalty rows in the same fit that
    /// keeps it butterfly-free), expiry by expiry from the front; report the shortfall before
    /// and after and the RMSE it cost. SABR slices are reported, not moved.
    #[default]
    Repair,
    /// Report violations only.
    Report,
}

/// How [`calibrate_surface`] builds a surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SurfaceOptions {
    /// The model.
    pub model: SurfaceModel,
    /// Slice fits (optimiser, objective, SABR settings).
    pub fit: FitOptions,
    /// Slice building (filters, weights).
    pub slices: SliceOptions,
    /// Calendar arbitrage policy.
    pub calendar: CalendarPolicy,
    /// Fit expiries in parallel (rayon).
    pub parallel: bool,
}

impl Default for SurfaceOptions {
    fn default() -> Self {
        SurfaceOptions {
            model: SurfaceModel::Svi,
            fit: FitOptions::default(),
            slices: SliceOptions::default(),
            calendar: CalendarPolicy::Repair,
            parallel: true,
        }
    }
}

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
    pub forward_source: String,
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
}

/// A calendar violation found on the check grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarViolation {
    /// Earlier expiry's time.
    pub t_earlier: f64,
    /// Later expiry's time.
    pub t_later: f64,
    /// `[k_lo, k_hi]` where `w_later < w_earlier` on the grid.
    pub k_range: [f64; 2],
    /// Largest shortfall `w_earlier − w_later`.
    pub shortfall: f64,
    /// The shortfall left after the action (equal to `shortfall` when only reported).
    pub remaining: f64,
    /// What was done about it.
    pub action: String,
}

/// Calendar check of the whole surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarReport {
    /// `[k_min, k_max]` of the grid.
    pub k_range: [f64; 2],
    /// Grid points per expiry pair.
    pub points: usize,
    /// Violations found before repair, with what was done.
    pub violations: Vec<CalendarViolation>,
    /// No violation left on the grid (after repair, if any).
    pub calendar_free: bool,
    /// Expiry pairs whose wing slopes cross, so `w` decreases in time somewhere beyond the
    /// grid (far wings; SVI only): `(t_earlier, t_later)`.
    pub wing_crossings: Vec<(f64, f64)>,
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
    /// Model name.
    pub model: String,
    /// Optimiser name.
    pub optimizer: String,
    /// Quotes used in slices.
    pub quotes_used: usize,
    /// Per-expiry results.
    pub slices: Vec<SliceSummary>,
    /// Expiries without a slice, with the reason.
    pub dropped: Vec<DroppedExpiry>,
    /// Expiries whose fit failed, with the reason (they are not in the surface).
    pub failed: Vec<(f64, String)>,
    /// Quotes removed while building slices (line and reason).
    pub slice_report: SliceReport,
    /// Calendar check.
    pub calendar: CalendarReport,
    /// `calendar.calendar_free`, at the top level as `report.json` wants it.
    pub calendar_free: bool,
    /// Wall times.
    pub timing_micros: Timing,
}

fn fit_one(
    s: &SmileSlice,
    opts: &SurfaceOptions,
) -> Result<(SliceModel, FitReport), crate::fit::FitError> {
    if opts.model == SurfaceModel::Sabr {
        let f = fit_sabr(s, &opts.fit)?;
        let scan = f.model.butterfly_scan();
        let k = |strike: f64| ((strike + f.model.shift) / (f.model.forward + f.model.shift)).ln();
        let wings = [k(scan.range[0]), k(scan.range[1])];
        Ok((
            SliceModel::Sabr {
                sabr: f.model,
                wings,
            },
            f.report,
        ))
    } else {
        let f = fit_svi(s, &opts.fit)?;
        Ok((SliceModel::Svi(f.model), f.report))
    }
}

/// Builds a [`FittedSurface`] from a chain (`volfit::calibrate_surface` of
/// `../shared/DESIGN.md`): slices per expiry ([`build_slices`]), fits by
/// [`SurfaceOptions::model`] (per expiry in parallel, or global SSVI / eSSVI), then the
/// calendar check on a dense grid and the [`CalendarPolicy`].
///
/// An expiry whose fit fails is left out of the surface and listed in
/// [`SurfaceReport::failed`] with the reason.
///
/// # Errors
/// [`SurfaceError::Empty`] when no expiry could be fitted.
pub fn calibrate_surface(
    chain: &Chain,
    opts: &SurfaceOptions,
) -> Result<(FittedSurface, SurfaceReport), SurfaceError> {
    let clock = Instant::now();
    let (slices, slice_report) = build_slices(chain, &opts.slices);
    let iv_micros = clock.elapsed().as_secs_f64() * 1e6;
    let fit_clock = Instant::now();
    let mut failed = Vec::new();
    let mut fitted: Vec<(&SmileSlice, SliceModel, FitReport)> = Vec::new();
    match opts.model {
        SurfaceModel::Svi | SurfaceModel::Sabr => {
            let results: Vec<_> = if opts.parallel {
                slices.par_iter().map(|s| (s, fit_one(s, opts))).collect()
            } else {
                slices.iter().map(|s| (s, fit_one(s, opts))).collect()
            };
            for (s, r) in results {
                match r {
                    Ok((m, rep)) => fitted.push((s, m, rep)),
                    Err(e) => failed.push((s.t, e.to_string())),
                }
            }
        }
        SurfaceModel::Ssvi | SurfaceModel::Essvi => {
            let usable: Vec<&SmileSlice> = slices.iter().filter(|s| !s.points.is_empty()).collect();
            let owned: Vec<SmileSlice> = usable.iter().map(|s| (*s).clone()).collect();
            let mut sorted = usable.clone();
            sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
            let result: Result<Vec<(Svi, FitReport)>, crate::fit::FitError> =
                if opts.model == SurfaceModel::Ssvi {
                    fit_ssvi(&owned, &opts.fit).map(|f| {
                        f.thetas
                            .iter()
                            .zip(f.reports)
                            .map(|(&(_, th), r)| (f.model.slice(th), r))
                            .collect()
                    })
                } else {
                    fit_essvi(&owned, &opts.fit).map(|f| {
                        f.slices
                            .iter()
                            .zip(f.reports)
                            .map(|((_, e), r)| (e.to_svi(), r))
                            .collect()
                    })
                };
            match result {
                Ok(models) => {
                    for (s, (m, r)) in sorted.into_iter().zip(models) {
                        fitted.push((s, SliceModel::Svi(m), r));
                    }
                }
                Err(e) => {
                    for s in &sorted {
                        failed.push((s.t, e.to_string()));
                    }
                }
            }
        }
    }
    fitted.sort_by(|a, b| a.0.t.total_cmp(&b.0.t));
    if fitted.is_empty() {
        let why = failed.first().map_or_else(
            || "no expiry has enough quotes".to_string(),
            |f| f.1.clone(),
        );
        return Err(SurfaceError::Empty(why));
    }
    let calendar = check_calendar(&mut fitted, opts);
    let models: Vec<SliceModel> = fitted.iter().map(|f| f.1).collect();
    let fit_micros = fit_clock.elapsed().as_secs_f64() * 1e6;

    let surface = FittedSurface::new(
        chain.underlying.clone(),
        chain.as_of,
        chain.spot,
        fitted
            .iter()
            .zip(&models)
            .map(|((s, _, _), m)| SurfaceSlice {
                expiry: s.expiry,
                t: s.t,
                forward: s.forward,
                discount: s.discount,
                model: *m,
                quoted_k: Some(quoted_range(s)),
            })
            .collect(),
    )?;
    let summaries = fitted
        .iter()
        .zip(&models)
        .map(|((s, _, r), m)| summarise(s, m, r))
        .collect();
    let report = SurfaceReport {
        underlying: chain.underlying.clone(),
        as_of: chain.as_of,
        model: opts.model.name().into(),
        optimizer: opts.fit.optimizer.to_string(),
        quotes_used: slice_report.quotes_used,
        slices: summaries,
        dropped: slice_report.dropped.clone(),
        failed,
        slice_report,
        calendar_free: calendar.calendar_free,
        calendar,
        timing_micros: Timing {
            ingest: 0.0,
            implied_vol: iv_micros,
            fit: fit_micros,
            total: clock.elapsed().as_secs_f64() * 1e6,
        },
    };
    Ok((surface, report))
}

fn summarise(s: &SmileSlice, m: &SliceModel, r: &FitReport) -> SliceSummary {
    let params = match m {
        SliceModel::Svi(svi) => serde_json::to_value(svi),
        SliceModel::Sabr { sabr, .. } => serde_json::to_value(sabr),
    }
    .unwrap_or(serde_json::Value::Null);
    let quotes = s
        .points
        .iter()
        .map(|p| QuotePoint {
            strike: p.strike,
            k: p.k,
            bid_iv: p.bid_iv,
            mid_iv: p.mid_iv,
            ask_iv: p.ask_iv,
            fit_iv: (m.w(p.k).max(0.0) / s.t).sqrt(),
        })
        .collect();
    SliceSummary {
        expiry: s.expiry,
        t: s.t,
        forward: s.forward,
        forward_source: s.forward_source.name().into(),
        n_quotes: r.n_quotes,
        params,
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
        excluded: s.excluded.clone(),
    }
}

/// Grid points per expiry pair in the calendar check.
pub(super) const CALENDAR_POINTS: usize = 201;

/// `n` points evenly spaced on `[lo, hi]`.
pub(super) fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// The quoted `k` range of a slice.
fn quoted_range(s: &SmileSlice) -> [f64; 2] {
    s.points
        .iter()
        .fold([f64::INFINITY, f64::NEG_INFINITY], |r, p| {
            [r[0].min(p.k), r[1].max(p.k)]
        })
}

/// Calendar check of consecutive expiries on the union of their quoted `k` ranges (where at
/// least one of them has data), and, under [`CalendarPolicy::Repair`], a sequential refit of
/// each violating SVI slice with the previous expiry's total variance as a floor on that grid.
fn check_calendar(
    fitted: &mut [(&SmileSlice, SliceModel, FitReport)],
    opts: &SurfaceOptions,
) -> CalendarReport {
    let mut violations = Vec::new();
    let mut free = true;
    let mut range = [f64::INFINITY, f64::NEG_INFINITY];
    for i in 1..fitted.len() {
        let (ra, rb) = (quoted_range(fitted[i - 1].0), quoted_range(fitted[i].0));
        let (lo, hi) = (ra[0].min(rb[0]), ra[1].max(rb[1]));
        if !(lo < hi) {
            continue;
        }
        range = [range[0].min(lo), range[1].max(hi)];
        let g = grid(lo, hi, CALENDAR_POINTS);
        let (short, k_range) = shortfall(&g, &fitted[i - 1].1, &fitted[i].1);
        if short <= 0.0 {
            continue;
        }
        let mut action = "reported".to_string();
        let mut remaining = short;
        if opts.calendar == CalendarPolicy::Repair {
            if let SliceModel::Svi(current) = fitted[i].1 {
                let prev = fitted[i - 1].1;
                // Every 5th grid point as a floor (41 penalty rows keep the refit cheap); the
                // result is checked on the full grid, and what is left (between floor points,
                // of order 1e-8) is closed by the level shift below.
                let floor: Vec<(f64, f64)> = g
                    .iter()
                    .step_by(5)
                    .map(|&k| (k, prev.w(k) * (1.0 + 1e-6)))
                    .collect();
                match fit_svi_floored(fitted[i].0, &opts.fit, Some(&current), &floor) {
                    Ok(f) => {
                        let mut model = f.model;
                        let left = shortfall(&g, &prev, &SliceModel::Svi(model)).0.max(0.0);
                        let mut shift = 0.0;
                        // The floor is a finite penalty: what it leaves (~1e-8) is closed by
                        // a parallel shift of that size, kept only if the slice stays
                        // butterfly-free.
                        if left > 0.0 {
                            let shifted = Svi {
                                a: model.a + left * (1.0 + 1e-6) + 1e-15,
                                ..model
                            };
                            if shifted.is_butterfly_free() {
                                shift = shifted.a - model.a;
                                model = shifted;
                            }
                        }
                        let m = SliceModel::Svi(model);
                        remaining = shortfall(&g, &prev, &m).0.max(0.0);
                        let mut report = f.report;
                        report.butterfly_free = model.is_butterfly_free();
                        report.min_g = model.min_g().1;
                        action = format!(
                            "refit with the previous expiry as a floor on the grid (then a \
                             level shift of {shift:.1e}): shortfall {short:.2e} -> \
                             {remaining:.2e}, RMSE {:.5} -> {:.5}",
                            fitted[i].2.rmse_iv, report.rmse_iv
                        );
                        fitted[i].1 = m;
                        fitted[i].2 = report;
                    }
                    Err(e) => action = format!("repair failed: {e}"),
                }
            } else {
                action = "reported (calendar repair is for SVI slices)".into();
            }
        }
        free &= remaining <= 0.0;
        violations.push(CalendarViolation {
            t_earlier: fitted[i - 1].0.t,
            t_later: fitted[i].0.t,
            k_range,
            shortfall: short,
            remaining,
            action,
        });
    }
    if !(range[0] < range[1]) {
        range = [0.0, 0.0];
    }
    let models: Vec<SliceModel> = fitted.iter().map(|f| f.1).collect();
    let ts: Vec<f64> = fitted.iter().map(|f| f.0.t).collect();
    CalendarReport {
        k_range: range,
        points: CALENDAR_POINTS,
        violations,
        calendar_free: free,
        wing_crossings: wing_crossings(&ts, &models),
    }
}

/// Consecutive SVI expiries whose asymptotic wing slopes decrease in time.
pub(super) fn wing_crossings(ts: &[f64], models: &[SliceModel]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for i in 1..models.len() {
        if let (SliceModel::Svi(a), SliceModel::Svi(b)) = (&models[i - 1], &models[i]) {
            let (al, ar) = a.wing_slopes();
            let (bl, br) = b.wing_slopes();
            if bl < al || br < ar {
                out.push((ts[i - 1], ts[i]));
            }
        }
    }
    out
}

/// Largest `w_a(k) − w_b(k)` on the grid (> 0: violation) and the `k` range where positive.
pub(super) fn shortfall(grid: &[f64], a: &SliceModel, b: &SliceModel) -> (f64, [f64; 2]) {
    let mut worst = f64::NEG_INFINITY;
    let (mut klo, mut khi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &k in grid {
        let (wa, wb) = (a.w(k), b.w(k));
        let d = wa - wb;
        // Tolerance: rounding of w.
        if d > 4.0 * f64::EPSILON * wa.abs().max(wb.abs()) {
            klo = klo.min(k);
            khi = khi.max(k);
        }
        worst = worst.max(d);
    }
    if klo > khi {
        (worst.min(0.0), [0.0, 0.0])
    } else {
        (worst, [klo, khi])
    }
}

impl std::fmt::Display for SurfaceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
