//! [`calibrate_surface`]: chain → slices → per-expiry fits (in parallel) or a joint SSVI /
//! eSSVI fit → calendar check (and repair) → [`FittedSurface`] + [`SurfaceReport`].

use super::arbitrage::{
    CalendarAction, CalendarReport, CalendarViolation, pair_domain, pair_gap, wing_crossings,
};
use super::report::{
    ColdStart, FailedExpiry, PriorReport, SliceRepair, SurfaceReport, Timing, error_chain,
    summarise,
};
use super::{FittedSurface, SliceModel, SurfaceError, SurfaceSlice};
use crate::fit::{
    FitError, FitOptions, FitReport, fit_essvi, fit_sabr, fit_sabr_from, fit_spline,
    fit_spline_from, fit_ssvi, fit_svi, fit_svi_seeded,
};
use crate::models::sabr::Sabr;
use crate::models::svi::Svi;
use crate::names::{UnknownName, parse_name};
use crate::quotes::Chain;
use crate::quotes::Rejection;
use crate::slice::{
    Points, RejectReason, SliceOptions, SliceReport, SmilePoint, SmileSlice, VolConvention,
    build_slices,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Instant;

/// Which model a surface is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum SurfaceModel {
    /// Raw SVI per expiry, butterfly-free by construction, calendar-repaired.
    Svi,
    /// One SSVI surface over all expiries: calendar- and butterfly-free by construction,
    /// 3 parameters plus one `θ` per expiry.
    Ssvi,
    /// eSSVI: `(θ, ρ, ψ)` per expiry, calendar-free.
    Essvi,
    /// SABR per expiry (`β = 1` for Black-vol chains).
    Sabr,
    /// SVI plus a regularised cubic B-spline correction per expiry
    /// ([`crate::models::spline`]): the capacity of a densely quoted market, SVI's wings,
    /// butterfly-free, calendar-repaired. The default: on every shared chain it puts more
    /// quotes inside their bid/ask than SVI (98.3% against 62.5% overall) at a lower RMSE.
    #[default]
    Spline,
}

/// How a surface model is fitted: expiry by expiry, or all expiries jointly.
type PerExpiry = fn(&SmileSlice, &FitOptions) -> Result<(SliceModel, FitReport), FitError>;
type Joint = fn(&[SmileSlice], &FitOptions) -> Result<Vec<(SliceModel, FitReport)>, FitError>;

enum Plan {
    PerExpiry(PerExpiry),
    Joint(Joint),
}

impl SurfaceModel {
    /// Every surface model, in declaration order (the list the CLI and Python read).
    pub const ALL: [SurfaceModel; 5] = [
        SurfaceModel::Svi,
        SurfaceModel::Ssvi,
        SurfaceModel::Essvi,
        SurfaceModel::Sabr,
        SurfaceModel::Spline,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SurfaceModel::Svi => "svi",
            SurfaceModel::Ssvi => "ssvi",
            SurfaceModel::Essvi => "essvi",
            SurfaceModel::Sabr => "sabr",
            SurfaceModel::Spline => "spline",
        }
    }

    /// The fitter of the model (the one table from model to fitter).
    fn plan(self) -> Plan {
        match self {
            SurfaceModel::Svi => {
                Plan::PerExpiry(|s, o| fit_svi(s, o).map(|f| (f.model.into(), f.report)))
            }
            SurfaceModel::Sabr => {
                Plan::PerExpiry(|s, o| fit_sabr(s, o).map(|f| (f.model.into(), f.report)))
            }
            SurfaceModel::Spline => {
                Plan::PerExpiry(|s, o| fit_spline(s, o).map(|f| (f.model.into(), f.report)))
            }
            SurfaceModel::Ssvi => Plan::Joint(|s, o| {
                let f = fit_ssvi(s, o)?;
                Ok(f.thetas
                    .iter()
                    .zip(f.reports)
                    .map(|(&(_, th), r)| (f.model.slice(th).into(), r))
                    .collect())
            }),
            SurfaceModel::Essvi => Plan::Joint(|s, o| {
                let f = fit_essvi(s, o)?;
                Ok(f.slices
                    .iter()
                    .zip(f.reports)
                    .map(|((_, e), r)| (e.to_svi().into(), r))
                    .collect())
            }),
        }
    }
}

impl fmt::Display for SurfaceModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SurfaceModel {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = SurfaceModel::ALL
            .iter()
            .map(|&m| (m, m.name(), &[] as &[&str]))
            .collect();
        parse_name("model", s, &items)
    }
}

/// What to do about calendar arbitrage between per-expiry fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarPolicy {
    /// Refit each later slice that dips below its predecessor on the check domain, with the
    /// predecessor's total variance as a floor there (penalty rows in the same generic fit
    /// that keeps it butterfly-free), expiry by expiry from the front, then close what the
    /// finite penalty leaves by a level shift where the model allows one; report the
    /// shortfall before and after and the RMSE it cost.
    #[default]
    Repair,
    /// Report violations only, and serve the fits as they are (no envelope:
    /// [`Extrapolation::calendar_envelope`](super::Extrapolation::calendar_envelope) is off).
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
    /// Drop outliers after a per-expiry fit and refit (default `true`): a two-sided quote
    /// whose mid vol is more than [`OUTLIER_SPREADS`] half-spreads **and**
    /// [`OUTLIER_MIN_VOL`] from the fitted smile is moved to the slice's excluded quotes and
    /// to `report.json`'s rejected rows (stage `slice`), and the expiry is refitted once
    /// without it. On the 16,263 fitted quotes of the real chains in `../shared/data` the rule
    /// flags none; a single mistyped quote that survives the filters is what it is for.
    /// Joint fits (SSVI, eSSVI) are not screened.
    pub outliers: bool,
    /// How the surface answers before the first expiry, after the last and between served
    /// smiles (stored with the surface).
    pub extrapolation: super::Extrapolation,
}

/// Half-spreads from the fitted smile beyond which a quote is an outlier (with
/// [`OUTLIER_MIN_VOL`]; see [`SurfaceOptions::outliers`]).
pub const OUTLIER_SPREADS: f64 = 20.0;

/// Vol distance from the fitted smile (5 vol points) below which no quote is an outlier.
pub const OUTLIER_MIN_VOL: f64 = 0.05;

/// The points of `s` the fitted `m` misses by more than the outlier rule allows (two-sided
/// lognormal quotes only), with their residual and size in half-spreads.
fn outliers(s: &SmileSlice, m: &SliceModel) -> Vec<(usize, f64, f64)> {
    if s.convention() != VolConvention::Lognormal {
        return Vec::new();
    }
    s.points()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let (bid, ask) = p.bid_ask()?;
            let fit = (m.w(p.k()) / s.t()).sqrt();
            let residual = fit - p.mid_iv();
            let spreads = residual.abs() / (0.5 * (ask - bid)).max(1e-6);
            (residual.abs() > OUTLIER_MIN_VOL && spreads > OUTLIER_SPREADS)
                .then_some((i, residual, spreads))
        })
        .collect()
}

impl Default for SurfaceOptions {
    fn default() -> Self {
        SurfaceOptions {
            model: SurfaceModel::Spline,
            fit: FitOptions::default(),
            slices: SliceOptions::default(),
            calendar: CalendarPolicy::Repair,
            parallel: true,
            outliers: true,
            extrapolation: super::Extrapolation::default(),
        }
    }
}

/// Builds a [`FittedSurface`] from a chain (`volfit::calibrate_surface` of
/// `../shared/DESIGN.md`): slices per expiry ([`build_slices`]), fits by
/// [`SurfaceOptions::model`] (per expiry in parallel, or jointly for SSVI / eSSVI), then the
/// calendar check of [`super::arbitrage`] and the [`CalendarPolicy`].
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
    calibrate_or_report(chain, opts).map_err(|(e, _)| *e)
}

/// A calibration that built no surface: why, and the account of what was done (the quotes
/// the filters rejected, the expiries dropped, every fit that failed, with the reasons).
#[derive(Debug)]
pub struct CalibrationFailure {
    /// Why no surface was built ([`SurfaceError::Empty`] when no expiry was fitted).
    pub error: SurfaceError,
    /// The report: `slices` empty, `calendar_free` / `arbitrage_free` false (no surface was
    /// built to be free of anything).
    pub report: Box<SurfaceReport>,
}

/// [`calibrate_surface`], and on failure the report of what was done (what `report.json`
/// says when no expiry could be fitted), from the same run.
///
/// # Errors
/// [`CalibrationFailure`] when no surface could be built.
///
/// ```
/// use volfit::quotes::{Format, read_chains_from_str};
/// use volfit::surface::{SurfaceOptions, calibrate_surface_or_report};
/// let text = "expiry,strike,kind,bid_iv,ask_iv,forward,as_of\n\
///             2030-01-01,100,call,0.2,0.21,100,2029-01-01\n";
/// let (chains, _) = read_chains_from_str(text, std::path::Path::new("x.csv"), Format::Csv).unwrap();
/// let r = calibrate_surface_or_report(&chains[0], &SurfaceOptions::default()).unwrap_err().report;
/// assert!(r.slices.is_empty() && r.failed.is_empty() && !r.arbitrage_free);
/// assert_eq!(r.slice_report.dropped.len(), 1);
/// assert_eq!(r.slice_report.dropped[0].reason.to_string(), "too few usable quotes (1 < 5)");
/// ```
pub fn calibrate_surface_or_report(
    chain: &Chain,
    opts: &SurfaceOptions,
) -> Result<(FittedSurface, SurfaceReport), CalibrationFailure> {
    calibrate_or_report(chain, opts).map_err(|(e, report)| CalibrationFailure { error: *e, report })
}

/// [`calibrate_surface`] warm-started from an earlier surface of the same underlying (a
/// previous snapshot's): each expiry found in `prior` — by expiry date, or by time (moved by
/// the time between the two `as_of`s) where either has no date — starts its fit from the
/// prior's fitted smile instead of the model's own guess. Everything after the start (the
/// polish, the outlier rule, the calendar repair, the served surface) is
/// [`calibrate_surface`]'s.
///
/// * SVI is seeded by the prior's SVI smile (or a spline prior's SVI base): the quasi-explicit
///   stage searches `(m, σ)` from the prior's instead of on its grid and solves `(a, ρ, b)`
///   for the new quotes ([`fit_svi_seeded`]). Polishing from the prior's five parameters as
///   they are ([`crate::fit::fit_svi_from`]) was measured 2× slower on consecutive January
///   2026 Deribit snapshots 12 hours apart (the polish crawls along SVI's flat valleys).
///   Measured with `examples/warm_start.rs` on 30 such pairs: the same fit quality and time
///   for SVI and the spline, SABR 8% faster.
/// * The spline smile seeds its SVI base the same way; its correction starts from its own
///   start on the new base ([`fit_spline_from`]).
/// * SABR starts from the prior's `α, β, ρ, ν` at the new forward and time ([`fit_sabr_from`]).
/// * SSVI and eSSVI (joint fits) start cold.
///
/// An expiry starts cold — and [`SurfaceReport::prior`] says why — when it is not in the
/// prior, when the prior's smile there is of a model that cannot start this one (a SABR prior
/// for an SVI or spline fit, an SVI prior for SABR), when the prior is of another underlying
/// (every expiry), or when the warm-started fit fails (then it is refitted cold). Each
/// expiry's summary says whether it was warm-started ([`super::SliceSummary::warm_start`]).
///
/// # Errors
/// As [`calibrate_surface`].
pub fn calibrate_surface_from(
    chain: &Chain,
    opts: &SurfaceOptions,
    prior: &FittedSurface,
) -> Result<(FittedSurface, SurfaceReport), SurfaceError> {
    calibrate_with(chain, opts, Some(prior)).map_err(|(e, _)| *e)
}

/// [`calibrate_surface_from`], with the report of what was done when it fails (as
/// [`calibrate_surface_or_report`]).
///
/// # Errors
/// [`CalibrationFailure`] when no surface could be built.
pub fn calibrate_surface_from_or_report(
    chain: &Chain,
    opts: &SurfaceOptions,
    prior: &FittedSurface,
) -> Result<(FittedSurface, SurfaceReport), CalibrationFailure> {
    calibrate_with(chain, opts, Some(prior))
        .map_err(|(e, report)| CalibrationFailure { error: *e, report })
}

/// Where a warm-started fit starts.
#[derive(Clone, Copy)]
enum Start {
    /// An SVI smile (SVI fits, and the spline's base).
    Svi(Svi),
    /// SABR's parameters (the slice's forward and time replace the prior's).
    Sabr(Sabr),
}

/// The start `prior` (an earlier fit of the same expiry) gives a `model` fit, or why none.
fn start_from(model: SurfaceModel, prior: &SliceModel) -> Result<Start, String> {
    let name = prior.smile().name();
    match (model, prior) {
        (SurfaceModel::Svi | SurfaceModel::Spline, SliceModel::Svi(s)) => Ok(Start::Svi(*s)),
        (SurfaceModel::Svi | SurfaceModel::Spline, SliceModel::Spline(s)) => {
            Ok(Start::Svi(*s.base()))
        }
        (SurfaceModel::Sabr, SliceModel::Sabr(w)) => Ok(Start::Sabr(w.sabr)),
        (SurfaceModel::Ssvi | SurfaceModel::Essvi, _) => {
            Err(format!("{model} fits all expiries jointly and starts cold"))
        }
        _ => Err(format!(
            "the prior's smile is {name}: a {model} fit cannot start from it, so it starts cold"
        )),
    }
}

/// The fit of `slice` by `model` from `start`.
fn fit_warm(
    model: SurfaceModel,
    slice: &SmileSlice,
    opts: &FitOptions,
    start: Start,
) -> Result<(SliceModel, FitReport), FitError> {
    match (model, start) {
        (SurfaceModel::Svi, Start::Svi(s)) => {
            fit_svi_seeded(slice, opts, &s).map(|f| (f.model.into(), f.report))
        }
        (SurfaceModel::Spline, Start::Svi(s)) => {
            fit_spline_from(slice, opts, Some(&s)).map(|f| (f.model.into(), f.report))
        }
        (SurfaceModel::Sabr, Start::Sabr(s)) => {
            fit_sabr_from(slice, opts, Some(&s)).map(|f| (f.model.into(), f.report))
        }
        _ => Err(FitError::Unsupported("no warm start for this model")),
    }
}

/// Per slice of `slices`: the warm start `prior` gives it, or why it starts cold.
fn warm_starts(
    chain: &Chain,
    opts: &SurfaceOptions,
    slices: &[SmileSlice],
    prior: &FittedSurface,
) -> Vec<Result<Start, String>> {
    if !prior.underlying().eq_ignore_ascii_case(&chain.underlying) {
        let why = format!(
            "the prior is a surface of {}, not {}",
            prior.underlying(),
            chain.underlying
        );
        return slices.iter().map(|_| Err(why.clone())).collect();
    }
    let shift = super::diff::shift_years(prior, chain.as_of);
    slices
        .iter()
        .map(|s| {
            let p = prior
                .slices()
                .iter()
                .find(|p| super::diff::same_expiry_at(p, s.expiry(), s.t(), shift))
                .ok_or_else(|| "not in the prior".to_string())?;
            start_from(opts.model, &p.model)
        })
        .collect()
}

/// [`calibrate_surface`], with the report of what was done when it fails.
#[allow(clippy::type_complexity)]
fn calibrate_or_report(
    chain: &Chain,
    opts: &SurfaceOptions,
) -> Result<(FittedSurface, SurfaceReport), (Box<SurfaceError>, Box<SurfaceReport>)> {
    calibrate_with(chain, opts, None)
}

/// The one calibration: cold, or warm-started from `prior`.
#[allow(clippy::type_complexity)]
fn calibrate_with(
    chain: &Chain,
    opts: &SurfaceOptions,
    prior: Option<&FittedSurface>,
) -> Result<(FittedSurface, SurfaceReport), (Box<SurfaceError>, Box<SurfaceReport>)> {
    let clock = Instant::now();
    let (mut slices, mut slice_report) = build_slices(chain, &opts.slices);
    let iv_micros = clock.elapsed().as_secs_f64() * 1e6;
    let fit_clock = Instant::now();
    let mut failed = Vec::new();
    let mut fitted: Vec<(&SmileSlice, SliceModel, FitReport)> = Vec::new();
    let failure = |s: &SmileSlice, e: &FitError| FailedExpiry {
        expiry: s.expiry(),
        t: s.t(),
        reason: error_chain(e),
    };
    // Per slice: its warm start, or why it has none (nothing without a prior).
    let mut starts: Vec<Option<Result<Start, String>>> = match prior {
        Some(p) => warm_starts(chain, opts, &slices, p)
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None; slices.len()],
    };
    // The times of the slices that were fitted from their warm start.
    let mut warm_t: Vec<f64> = Vec::new();
    match opts.model.plan() {
        Plan::PerExpiry(fit_one) => {
            // A warm fit, or the cold one when there is no start or the warm fit fails (the
            // reason is kept in place of the start).
            let fit_at = |s: &SmileSlice, start: &mut Option<Result<Start, String>>| {
                if let Some(Ok(st)) = start {
                    match fit_warm(opts.model, s, &opts.fit, *st) {
                        Ok(x) => return Ok(x),
                        Err(e) => {
                            *start = Some(Err(format!(
                                "the warm-started fit failed ({}), so it was fitted cold",
                                error_chain(&e)
                            )));
                        }
                    }
                }
                fit_one(s, &opts.fit)
            };
            let mut results: Vec<_> = if opts.parallel {
                slices
                    .par_iter()
                    .zip(starts.par_iter_mut())
                    .map(|(s, st)| fit_at(s, st))
                    .collect()
            } else {
                slices
                    .iter()
                    .zip(starts.iter_mut())
                    .map(|(s, st)| fit_at(s, st))
                    .collect()
            };
            if opts.outliers {
                for ((s, r), st) in slices
                    .iter_mut()
                    .zip(results.iter_mut())
                    .zip(starts.iter_mut())
                {
                    let Ok((m, _)) = r else { continue };
                    let found = outliers(s, m);
                    if found.is_empty() {
                        continue;
                    }
                    let idx: Vec<usize> = found.iter().map(|f| f.0).collect();
                    let reason = |p: &SmilePoint| {
                        let &(_, residual, spreads) = found
                            .iter()
                            .find(|f| s.points()[f.0].k() == p.k())
                            .expect("a dropped point is an outlier");
                        RejectReason::Outlier { residual, spreads }
                    };
                    let Some(trimmed) = s.without(&idx, opts.slices.min_quotes, reason) else {
                        continue;
                    };
                    let Ok(refit) = fit_at(&trimmed, st) else {
                        continue;
                    };
                    for e in &trimmed.excluded()[s.excluded().len()..] {
                        if e.line > 0 {
                            slice_report.rejected.push(Rejection {
                                line: e.line,
                                reason: e.reason.to_string(),
                            });
                        }
                    }
                    slice_report.quotes_used -= idx.len();
                    *s = trimmed;
                    *r = Ok(refit);
                }
            }
            for ((s, r), st) in slices.iter().zip(results).zip(&starts) {
                match r {
                    Ok((m, rep)) => {
                        if matches!(st, Some(Ok(_))) {
                            warm_t.push(s.t());
                        }
                        fitted.push((s, m, rep));
                    }
                    Err(e) => failed.push(failure(s, &e)),
                }
            }
        }
        Plan::Joint(fit_all) if !slices.is_empty() => match fit_all(&slices, &opts.fit) {
            Ok(models) => {
                for (s, (m, r)) in slices.iter().zip(models) {
                    fitted.push((s, m, r));
                }
            }
            Err(e) => failed.extend(slices.iter().map(|s| failure(s, &e))),
        },
        Plan::Joint(_) => {}
    }
    fitted.sort_by(|a, b| a.0.t().total_cmp(&b.0.t()));
    let prior_report = prior.map(|p| PriorReport {
        underlying: p.underlying().to_string(),
        as_of: p.as_of(),
        warm: warm_t.len(),
        cold: slices
            .iter()
            .zip(&starts)
            .filter(|(s, _)| !warm_t.contains(&s.t()))
            .map(|(s, st)| ColdStart {
                expiry: s.expiry(),
                t: s.t(),
                reason: match st {
                    Some(Err(why)) => why.clone(),
                    _ => "its fit failed".into(),
                },
            })
            .collect(),
    });
    let bare = |failed: Vec<FailedExpiry>, slice_report: SliceReport| SurfaceReport {
        prior: prior_report.clone(),
        underlying: chain.underlying.clone(),
        as_of: chain.as_of,
        model: opts.model,
        optimizer: opts.fit.optimizer,
        slices: Vec::new(),
        failed,
        slice_report,
        calendar: CalendarReport {
            k_range: [0.0, 0.0],
            violations: Vec::new(),
            calendar_free: false,
            wing_crossings: Vec::new(),
            served: Vec::new(),
        },
        arbitrage_free: false,
        arbitrage_domain: "no surface was built".into(),
        plane: super::arbitrage::PlaneScan::empty(),
        timing_micros: Timing {
            ingest: 0.0,
            implied_vol: iv_micros,
            fit: fit_clock.elapsed().as_secs_f64() * 1e6,
            ceiling: 0.0,
            total: clock.elapsed().as_secs_f64() * 1e6,
        },
    };
    if fitted.is_empty() {
        let why = failed.first().map_or_else(
            || no_slice_reason(chain, &slice_report),
            |f| f.reason.clone(),
        );
        return Err((
            Box::new(SurfaceError::Empty(why)),
            Box::new(bare(failed, slice_report)),
        ));
    }
    let (calendar, repairs) = check_calendar(&mut fitted, opts);
    let fit_micros = fit_clock.elapsed().as_secs_f64() * 1e6;
    let built = FittedSurface::new(
        chain.underlying.clone(),
        chain.as_of,
        chain.spot,
        fitted
            .iter()
            .map(|(s, m, _)| SurfaceSlice {
                expiry: s.expiry(),
                t: s.t(),
                forward: s.forward(),
                discount: s.discount(),
                model: *m,
                quoted_k: Some(s.k_range()),
            })
            .collect(),
    )
    .and_then(|s| {
        s.with_day_count(opts.slices.day_count)
            .with_extrapolation(super::Extrapolation {
                calendar_envelope: opts.extrapolation.calendar_envelope
                    && opts.calendar == CalendarPolicy::Repair,
                ..opts.extrapolation
            })
    });
    let surface = match built {
        Ok(s) => s,
        Err(e) => {
            let reason = error_chain(&e);
            let failed = fitted
                .iter()
                .map(|(s, _, _)| failure_of(s, &reason))
                .collect();
            return Err((Box::new(e), Box::new(bare(failed, slice_report))));
        }
    };
    let mut summaries: Vec<_> = fitted
        .iter()
        .zip(repairs)
        .map(|((s, m, r), repair)| summarise(s, m, r, repair))
        .collect();
    for (i, sm) in summaries.iter_mut().enumerate() {
        served_cost(&surface, i, fitted[i].0, &fitted[i].1, sm);
    }
    let ceiling_micros = summaries
        .iter()
        .filter_map(|sm| sm.ceiling.as_ref())
        .map(|c| c.lp_micros)
        .sum();
    let arbitrage = surface.arbitrage_check();
    let mut calendar = calendar;
    calendar.calendar_free = arbitrage.calendar.calendar_free;
    calendar.served = arbitrage.calendar.served;
    for sm in &mut summaries {
        sm.warm_start = warm_t.contains(&sm.t);
    }
    let report = SurfaceReport {
        prior: prior_report,
        underlying: chain.underlying.clone(),
        as_of: chain.as_of,
        model: opts.model,
        optimizer: opts.fit.optimizer,
        slices: summaries,
        failed,
        slice_report,
        calendar,
        arbitrage_free: arbitrage.arbitrage_free,
        arbitrage_domain: arbitrage.domain,
        plane: arbitrage.plane,
        timing_micros: Timing {
            ingest: 0.0,
            implied_vol: iv_micros,
            fit: fit_micros,
            ceiling: ceiling_micros,
            total: clock.elapsed().as_secs_f64() * 1e6,
        },
    };
    Ok((surface, report))
}

fn failure_of(s: &SmileSlice, reason: &str) -> FailedExpiry {
    FailedExpiry {
        expiry: s.expiry(),
        t: s.t(),
        reason: reason.to_string(),
    }
}

/// Why a chain gave no slice: the first dropped expiries with their reasons, and the lines of
/// a chain small enough to list (a chain of one stray row, say, names that row).
fn no_slice_reason(chain: &Chain, report: &SliceReport) -> String {
    let mut why = if report.dropped.is_empty() {
        format!(
            "{} has no quote that became a smile point",
            chain.underlying
        )
    } else {
        let shown: Vec<String> = report
            .dropped
            .iter()
            .take(3)
            .map(|d| format!("expiry {}: {}", d.expiry.format("%Y-%m-%d"), d.reason))
            .collect();
        let more = report.dropped.len().saturating_sub(shown.len());
        format!(
            "no expiry has enough quotes ({}{})",
            shown.join("; "),
            if more > 0 {
                format!("; {more} more")
            } else {
                String::new()
            }
        )
    };
    if (1..=10).contains(&chain.quotes.len()) {
        let lines: Vec<String> = chain.quotes.iter().map(|q| q.line.to_string()).collect();
        let _ = write!(
            why,
            "; the chain's {} {} on {} {}",
            chain.quotes.len(),
            if lines.len() == 1 {
                "row is"
            } else {
                "rows are"
            },
            if lines.len() == 1 { "line" } else { "lines" },
            lines.join(", ")
        );
    }
    why
}

/// Where expiry `i` of `surface` is served an earlier expiry's smile, restates its summary
/// for the served smile (fitted vols, RMSE, largest error, share inside the spread) and
/// records the cost in [`SliceSummary::repair`](super::SliceSummary::repair).
fn served_cost(
    surface: &FittedSurface,
    i: usize,
    slice: &SmileSlice,
    fit: &SliceModel,
    sm: &mut super::SliceSummary,
) {
    // Only where the served smile differs on the quoted range is the fit repaired; wings
    // served from an earlier expiry are listed in the calendar report.
    let Some(q) = surface.slices()[i].quoted_k else {
        return;
    };
    let Some(borrowed) = surface
        .borrowed_k(i)
        .filter(|b| b.iter().any(|r| r[0] < q[1] && r[1] > q[0]))
    else {
        return;
    };
    let (rmse_before, within_before) = (sm.rmse_iv, sm.within_spread);
    for q in &mut sm.quotes {
        q.fit_iv = (surface.served_w(i, q.k).unwrap_or(f64::NAN).max(0.0) / sm.t).sqrt();
    }
    // The fits' own statistics (`Points::stats`) of the served vols.
    let vols: Vec<f64> = sm.quotes.iter().map(|q| q.fit_iv).collect();
    let stats = Points::new(slice).stats(0..vols.len(), &vols);
    sm.rmse_iv = stats.rmse;
    sm.max_abs_err_iv = stats.max_abs;
    sm.within_spread = stats.within_spread;
    let ranges: Vec<String> = borrowed
        .iter()
        .filter(|r| r[0] < q[1] && r[1] > q[0])
        .map(|r| format!("[{:.4}, {:.4}]", r[0].max(q[0]), r[1].min(q[1])))
        .collect();
    let what = format!(
        "calendar (served surface): the previous expiry's smile, raised, is served on the \
         quoted k in {}",
        ranges.join(", ")
    );
    match &mut sm.repair {
        Some(r) => {
            r.what = format!("{}; {what}", r.what);
            r.rmse_after = sm.rmse_iv;
            r.within_spread_after = sm.within_spread;
        }
        None => {
            sm.repair = Some(super::SliceRepair {
                what,
                unrepaired: *fit,
                rmse_before,
                rmse_after: sm.rmse_iv,
                within_spread_before: within_before,
                within_spread_after: sm.within_spread,
            });
        }
    }
}

/// Floor points per expiry pair in the calendar repair.
const FLOOR_POINTS: usize = 41;

/// The calendar check of consecutive expiries ([`super::arbitrage`]) and, under
/// [`CalendarPolicy::Repair`], a sequential refit of each violating slice with the previous
/// expiry's total variance as a floor on the pair's domain; with the fits as they were
/// before a repair changed them, per expiry.
fn check_calendar(
    fitted: &mut [(&SmileSlice, SliceModel, FitReport)],
    opts: &SurfaceOptions,
) -> (CalendarReport, Vec<Option<SliceRepair>>) {
    let mut repairs: Vec<Option<SliceRepair>> = vec![None; fitted.len()];
    let mut violations = Vec::new();
    let mut free = true;
    let mut range = [f64::INFINITY, f64::NEG_INFINITY];
    for i in 1..fitted.len() {
        let r = pair_domain(
            Some(fitted[i - 1].0.k_range()),
            Some(fitted[i].0.k_range()),
            &fitted[i].1,
        );
        if !(r[0] < r[1]) {
            continue;
        }
        range = [range[0].min(r[0]), range[1].max(r[1])];
        let prev = fitted[i - 1].1;
        let gap = pair_gap(&prev, &fitted[i].1, r);
        let Some(k_range) = gap.negative else {
            continue;
        };
        let short = gap.shortfall();
        let (mut action, mut remaining) = (CalendarAction::Reported, short);
        if opts.calendar == CalendarPolicy::Repair {
            let (before_model, before_report) = (fitted[i].1, fitted[i].2.clone());
            (action, remaining) = repair_pair(fitted, i, r, &prev, opts).unwrap_or_else(|e| {
                (
                    CalendarAction::RepairFailed {
                        reason: error_chain(&e),
                    },
                    short,
                )
            });
            if fitted[i].1 != before_model {
                repairs[i] = Some(SliceRepair {
                    what: format!(
                        "calendar: refitted with the previous expiry as a floor on k in \
                         [{:.3}, {:.3}]",
                        r[0], r[1]
                    ),
                    unrepaired: before_model,
                    rmse_before: before_report.rmse_iv,
                    rmse_after: fitted[i].2.rmse_iv,
                    within_spread_before: before_report.within_spread,
                    within_spread_after: fitted[i].2.within_spread,
                });
            }
        }
        free &= remaining <= 0.0;
        violations.push(CalendarViolation {
            t_earlier: fitted[i - 1].0.t(),
            t_later: fitted[i].0.t(),
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
    let ts: Vec<f64> = fitted.iter().map(|f| f.0.t()).collect();
    let report = CalendarReport {
        k_range: range,
        violations,
        calendar_free: free,
        wing_crossings: wing_crossings(&ts, &models),
        served: Vec::new(),
    };
    (report, repairs)
}

/// Refits expiry `i` with expiry `i − 1` as a floor on `range` (then a level shift of what the
/// finite penalty leaves, kept only if the slice stays butterfly-free); returns the action and
/// the shortfall left.
fn repair_pair(
    fitted: &mut [(&SmileSlice, SliceModel, FitReport)],
    i: usize,
    range: [f64; 2],
    prev: &SliceModel,
    opts: &SurfaceOptions,
) -> Result<(CalendarAction, f64), FitError> {
    let floor: Vec<(f64, f64)> = (0..FLOOR_POINTS)
        .map(|j| {
            let k = range[0] + (range[1] - range[0]) * j as f64 / (FLOOR_POINTS - 1) as f64;
            (k, prev.w(k) * (1.0 + 1e-6))
        })
        .collect();
    let (mut model, mut report) =
        fitted[i]
            .1
            .smile()
            .refit_floored(fitted[i].0, &opts.fit, &floor)?;
    let left = pair_gap(prev, &model, range).shortfall();
    let mut level_shift = 0.0;
    if left > 0.0 {
        let dw = left * (1.0 + 1e-6) + 1e-15;
        if let Some(lifted) = model.smile().lifted(dw)
            && lifted.smile().butterfly().free
        {
            level_shift = dw;
            model = lifted;
        }
    }
    let remaining = pair_gap(prev, &model, range).shortfall();
    let verdict = model.smile().butterfly();
    report.butterfly_free = verdict.free;
    report.min_g = verdict.min_g;
    let action = CalendarAction::Refit {
        level_shift,
        rmse_before: fitted[i].2.rmse_iv,
        rmse_after: report.rmse_iv,
    };
    fitted[i].1 = model;
    fitted[i].2 = report;
    Ok((action, remaining))
}
