//! `volfit._volfit`: the native half of the `volfit` Python package (PyO3 + rust-numpy).
//!
//! Thin wrappers over the Rust library: arrays in, arrays out, the GIL released while Rust
//! works, and every Rust error raised as `volfit.VolfitError` with its message (the live
//! tracker's refusals of the caller's values — options, an update out of order, without a
//! time, of another underlying — as `ValueError`, which the Python half raises as
//! `volfit.VolfitValueError`). Every exported
//! function runs inside [`guard`]: a Rust panic (a bug) is raised as `volfit.InternalError`, a
//! subclass of `VolfitError`, never as PyO3's `PanicException`. Broadcasting,
//! pandas and the friendlier signatures live in the Python half (`pysrc/volfit/__init__.py`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use volfit::config::CalibrateConfig;
use volfit::fit::{FitOptions, Optimizer, SabrBeta, SabrOptions};
use volfit::live::filter::COORDINATES;
use volfit::live::tenor::{TENOR_DAYS, tenor_samples};
use volfit::live::{FilterKind, TrackError, TrackerOptions};
use volfit::models::sabr::{SabrExpansion, SabrParams};
use volfit::output::{assign_components, remove_if_present, write_atomic};
use volfit::plot::{ChartInput, ImageFormat, render_all, write_report_html};
use volfit::quotes::{Chain, Format, IngestReport, read_chains, read_chains_from_str};
use volfit::risk::greeks::{Dynamics, inverse_greeks, option_greeks};
use volfit::slice::SmileSlice;
use volfit::surface::Num;
use volfit::surface::{
    CalibrationFailure, Extrapolation, FittedSurface, RunReport, SurfaceError, SurfaceModel,
    SurfaceOptions, VolSurface, calibrate_surface, calibrate_surface_or_report,
};
use volfit::{Greeks, OptionKind};

create_exception!(
    _volfit,
    VolfitError,
    PyException,
    "An error from volfit's Rust core; the message says what and where."
);

create_exception!(
    _volfit,
    InternalError,
    VolfitError,
    "A bug in volfit's Rust core (a Rust panic, caught at the boundary): the message says \
     where; please report it."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    VolfitError::new_err(e.to_string())
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Runs the body of an exported function with Rust panics caught: a panic becomes
/// `volfit.InternalError` (a `VolfitError`), never PyO3's `PanicException`, which derives from
/// `BaseException` and slips past `except Exception`. Panics inside `py.detach` reach this
/// too (PyO3 resumes them after taking the GIL back).
fn guard<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(InternalError::new_err(format!(
            "internal error in volfit (please report it): {}",
            panic_message(&*payload)
        )))
    })
}

fn kind(call: bool) -> OptionKind {
    if call {
        OptionKind::Call
    } else {
        OptionKind::Put
    }
}

fn same_len(n: usize, others: &[usize]) -> PyResult<()> {
    if others.iter().any(|&m| m != n) {
        return Err(err(format!("array lengths differ: {n} vs {others:?}")));
    }
    Ok(())
}

/// `(vols, reason codes, reason names)` of [`implied_vol`].
type IvResult<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<u8>>,
    Vec<&'static str>,
);

/// Implied Black vols of undiscounted prices: `(vols, codes, reasons)`; where no vol exists
/// the vol is NaN and `codes[i] > 0` indexes `reasons[codes[i] - 1]`.
#[pyfunction]
fn implied_vol<'py>(
    py: Python<'py>,
    is_call: PyReadonlyArray1<'py, bool>,
    price: PyReadonlyArray1<'py, f64>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
) -> PyResult<IvResult<'py>> {
    guard(|| {
        let (c, p, f, k, tt) = (
            is_call.as_slice()?,
            price.as_slice()?,
            forward.as_slice()?,
            strike.as_slice()?,
            t.as_slice()?,
        );
        same_len(c.len(), &[p.len(), f.len(), k.len(), tt.len()])?;
        let (vols, codes, names) = py.detach(move || {
            let mut vols = Vec::with_capacity(c.len());
            let mut codes = vec![0u8; c.len()];
            let mut names: Vec<&'static str> = Vec::new();
            for i in 0..c.len() {
                match volfit::implied_vol(kind(c[i]), p[i], f[i], k[i], tt[i]) {
                    Ok(v) => vols.push(v),
                    Err(e) => {
                        vols.push(f64::NAN);
                        let r = e.reason();
                        let j = names.iter().position(|n| *n == r).unwrap_or_else(|| {
                            names.push(r);
                            names.len() - 1
                        });
                        codes[i] = u8::try_from(j + 1).unwrap_or(u8::MAX);
                    }
                }
            }
            (vols, codes, names)
        });
        Ok((vols.into_pyarray(py), codes.into_pyarray(py), names))
    })
}

/// Undiscounted Black-76 prices.
#[pyfunction]
fn black_price<'py>(
    py: Python<'py>,
    is_call: PyReadonlyArray1<'py, bool>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    vol: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let (c, f, k, tt, v) = (
            is_call.as_slice()?.to_vec(),
            forward.as_slice()?.to_vec(),
            strike.as_slice()?.to_vec(),
            t.as_slice()?.to_vec(),
            vol.as_slice()?.to_vec(),
        );
        same_len(c.len(), &[f.len(), k.len(), tt.len(), v.len()])?;
        let out = py.detach(move || {
            (0..c.len())
                .map(|i| volfit::black_price(kind(c[i]), f[i], k[i], tt[i], v[i]))
                .collect::<Vec<f64>>()
        });
        Ok(out.into_pyarray(py))
    })
}

fn expansion(name: &str) -> PyResult<SabrExpansion> {
    name.parse::<SabrExpansion>().map_err(err)
}

/// SABR implied vols at `strike` (Black of F + shift, or normal for the normal expansion).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn sabr_vol<'py>(
    py: Python<'py>,
    strike: PyReadonlyArray1<'py, f64>,
    forward: f64,
    t: f64,
    alpha: f64,
    beta: f64,
    rho: f64,
    nu: f64,
    shift: f64,
    expansion_name: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let e = expansion(expansion_name)?;
        let s = SabrParams {
            alpha,
            beta,
            rho,
            nu,
            shift,
            forward,
            t,
            expansion: e,
        }
        .build()
        .map_err(err)?;
        let k = strike.as_slice()?.to_vec();
        let out = py.detach(move || k.iter().map(|&k| s.vol(k)).collect::<Vec<f64>>());
        Ok(out.into_pyarray(py))
    })
}

fn optimizer(name: &str) -> PyResult<Optimizer> {
    name.parse::<Optimizer>().map_err(err)
}

fn slice_from(
    strikes: &[f64],
    vols: &[f64],
    forward: f64,
    t: f64,
    normal: bool,
) -> PyResult<SmileSlice> {
    same_len(strikes.len(), &[vols.len()])?;
    let q: Vec<(f64, f64)> = strikes.iter().copied().zip(vols.iter().copied()).collect();
    if normal {
        SmileSlice::from_normal_vols(t, forward, &q).map_err(err)
    } else {
        SmileSlice::from_vols(t, forward, &q).map_err(err)
    }
}

/// Raw-SVI fit of one smile: JSON `{"model": {...}, "report": {...}}`.
#[pyfunction]
fn fit_svi_json(
    py: Python<'_>,
    strikes: PyReadonlyArray1<'_, f64>,
    vols: PyReadonlyArray1<'_, f64>,
    forward: f64,
    t: f64,
    optimizer_name: &str,
) -> PyResult<String> {
    guard(|| {
        let slice = slice_from(strikes.as_slice()?, vols.as_slice()?, forward, t, false)?;
        let opts = FitOptions {
            optimizer: optimizer(optimizer_name)?,
            ..FitOptions::default()
        };
        let fit = py
            .detach(move || volfit::fit_svi(&slice, &opts))
            .map_err(err)?;
        serde_json::to_string(&fit).map_err(err)
    })
}

/// SABR fit of one smile (Black vols, or normal vols with `normal`): JSON
/// `{"model": {...}, "report": {...}}`. `beta` NaN: the default (1 Black, 0.5 normal).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn fit_sabr_json(
    py: Python<'_>,
    strikes: PyReadonlyArray1<'_, f64>,
    vols: PyReadonlyArray1<'_, f64>,
    forward: f64,
    t: f64,
    beta: f64,
    normal: bool,
    optimizer_name: &str,
) -> PyResult<String> {
    guard(|| {
        let slice = slice_from(strikes.as_slice()?, vols.as_slice()?, forward, t, normal)?;
        let opts = FitOptions {
            optimizer: optimizer(optimizer_name)?,
            sabr: SabrOptions {
                beta: if beta.is_nan() {
                    SabrBeta::Default
                } else {
                    SabrBeta::Fixed(beta)
                },
                ..SabrOptions::default()
            },
            ..FitOptions::default()
        };
        let fit = py
            .detach(move || volfit::fit_sabr(&slice, &opts))
            .map_err(err)?;
        serde_json::to_string(&fit).map_err(err)
    })
}

fn format(name: &str) -> PyResult<Format> {
    name.parse::<Format>().map_err(err)
}

fn pick(path: &str, fmt: &str, underlying: Option<&str>) -> PyResult<(Chain, IngestReport, f64)> {
    let clock = Instant::now();
    let (chains, ingest) = read_chains(path, format(fmt)?).map_err(err)?;
    let micros = clock.elapsed().as_secs_f64() * 1e6;
    Ok((choose(chains, path, underlying)?, ingest, micros))
}

/// The chain of `underlying` (matched case-insensitively) among a source's chains; without
/// an underlying, the only one.
fn choose(chains: Vec<Chain>, source: &str, underlying: Option<&str>) -> PyResult<Chain> {
    let names: Vec<String> = chains.iter().map(|c| c.underlying.clone()).collect();
    match underlying {
        Some(u) => chains
            .into_iter()
            .find(|c| c.underlying.eq_ignore_ascii_case(u))
            .ok_or_else(|| {
                err(format!(
                    "{source}: no underlying {u:?} (the file holds {})",
                    names.join(", ")
                ))
            }),
        None => {
            if chains.len() > 1 {
                return Err(err(format!(
                    "{source} holds several underlyings ({}): pass underlying=",
                    names.join(", ")
                )));
            }
            chains
                .into_iter()
                .next()
                .ok_or_else(|| err(format!("{source}: no quotes")))
        }
    }
}

/// The options of `volfit calibrate` from `CalibrateConfig`'s keys as JSON over the library
/// defaults, and their complete table (what `report.json` echoes).
fn calibration_options(options_json: &str) -> PyResult<(SurfaceOptions, CalibrateConfig)> {
    let value: serde_json::Value = serde_json::from_str(options_json)
        .map_err(|e| value_err(format!("calibration options: {e}")))?;
    let given: CalibrateConfig = serde_json::from_value(value.clone()).map_err(|e| {
        // serde names a bad value's variant, not its key: find the key that fails alone.
        let key = value.as_object().and_then(|m| {
            m.iter().find_map(|(k, v)| {
                let one = serde_json::json!({ k.as_str(): v });
                serde_json::from_value::<CalibrateConfig>(one)
                    .err()
                    .map(|e| (k.clone(), e))
            })
        });
        match key {
            Some((k, e)) => value_err(format!("calibration options: {k}: {e}")),
            None => value_err(format!("calibration options: {e}")),
        }
    })?;
    let mut opts = SurfaceOptions::default();
    given
        .apply(&mut opts)
        .map_err(|e| value_err(format!("calibration options: {e}")))?;
    let echo = CalibrateConfig::from_options(&opts);
    Ok((opts, echo))
}

/// The complete options table (every key, JSON) of `volfit calibrate` run with the given keys
/// (JSON, the `--config` table's keys): what a batch checks before it starts and stores
/// with its results. `ValueError` names an unknown key or a bad value.
#[pyfunction]
fn calibration_options_json(options_json: &str) -> PyResult<String> {
    guard(|| serde_json::to_string(&calibration_options(options_json)?.1).map_err(err))
}

/// One row of `volfit.batch`'s table (`volfit.batch.COLUMNS`): an expiry of an underlying of
/// an input, or the underlying alone when no expiry was fitted (then `error` says why).
/// Numbers that are not finite are `None`, as `report.json` writes them (`null`).
#[derive(Default)]
struct BatchRow {
    expiry: Option<String>,
    t: Option<f64>,
    forward: Option<f64>,
    forward_source: String,
    params: String,
    n_quotes: Option<u64>,
    rmse_iv: Option<f64>,
    max_abs_err_iv: Option<f64>,
    within_spread: Option<f64>,
    converged: Option<bool>,
    iterations: Option<u64>,
    butterfly_free: Option<bool>,
    min_g: Option<f64>,
    flags: String,
    fit_micros: Option<f64>,
    error: String,
}

/// The columns shared by an underlying's rows.
struct BatchRun {
    as_of: Option<String>,
    underlying: String,
    model: String,
    optimizer: String,
    calendar_free: Option<bool>,
    arbitrage_free: Option<bool>,
    ingest_micros: Option<f64>,
    total_micros: Option<f64>,
    surface: String,
    rows: Vec<BatchRow>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A value's serde name (the enums' names in `report.json`, e.g. `spline`, `lm`).
fn serde_name(x: &impl serde::Serialize) -> String {
    match serde_json::to_value(x) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

impl BatchRun {
    /// The table's rows of one underlying's run, by time to expiry (the failed expiries, from
    /// `report.json`'s `failed`, among them; a time that is not known last).
    fn of(run: &RunReport, error: Option<String>, surface: String) -> Self {
        let ok = error.is_none();
        let mut rows = Vec::new();
        if let Some(why) = error {
            rows.push(BatchRow {
                error: why,
                ..BatchRow::default()
            });
        } else {
            for s in &run.slices {
                let m = &s.summary;
                let flags: Vec<String> =
                    s.review.flags.iter().map(|f| serde_name(&f.kind)).collect();
                rows.push(BatchRow {
                    expiry: m.expiry.as_ref().map(rfc3339),
                    t: finite(m.t),
                    forward: finite(m.forward),
                    forward_source: serde_name(&m.forward_source),
                    params: m.params.to_string(),
                    n_quotes: Some(m.n_quotes as u64),
                    rmse_iv: finite(m.rmse_iv),
                    max_abs_err_iv: finite(m.max_abs_err_iv),
                    within_spread: m.within_spread.and_then(finite),
                    converged: Some(m.converged),
                    iterations: Some(m.iterations),
                    butterfly_free: Some(m.butterfly_free),
                    min_g: finite(m.min_g),
                    flags: flags.join(","),
                    fit_micros: finite(m.fit_micros),
                    error: String::new(),
                });
            }
            for f in &run.failed {
                rows.push(BatchRow {
                    expiry: f.expiry.as_ref().map(rfc3339),
                    t: finite(f.t),
                    error: format!("fit failed: {}", f.reason),
                    ..BatchRow::default()
                });
            }
            rows.sort_by(|a, b| match (a.t, b.t) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        Self {
            as_of: run.as_of.as_ref().map(rfc3339),
            underlying: run.underlying.clone(),
            model: serde_name(&run.model),
            optimizer: serde_name(&run.optimizer),
            calendar_free: ok.then_some(run.calendar_free),
            arbitrage_free: ok.then_some(run.arbitrage_free),
            ingest_micros: finite(run.timing_micros.ingest),
            total_micros: finite(run.timing_micros.total),
            surface,
            rows,
        }
    }
}

/// The runs' rows as `{column: list}` in `volfit.batch.COLUMNS`' order (times as RFC 3339
/// text, missing values `None`), `label` in `input`.
fn batch_columns<'py>(
    py: Python<'py>,
    label: &str,
    runs: &[BatchRun],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let n: usize = runs.iter().map(|r| r.rows.len()).sum();
    macro_rules! run_col {
        ($name:literal, $f:expr) => {{
            let mut v = Vec::with_capacity(n);
            for r in runs {
                let x = $f(r);
                v.extend(std::iter::repeat_n(x, r.rows.len()));
            }
            d.set_item($name, v)?;
        }};
    }
    macro_rules! row_col {
        ($name:literal, $field:ident) => {{
            let v: Vec<_> = runs
                .iter()
                .flat_map(|r| r.rows.iter().map(|x| x.$field.clone()))
                .collect();
            d.set_item($name, v)?;
        }};
    }
    run_col!("input", |_: &BatchRun| label);
    run_col!("as_of", |r: &BatchRun| r.as_of.clone());
    run_col!("underlying", |r: &BatchRun| r.underlying.clone());
    row_col!("expiry", expiry);
    row_col!("t", t);
    row_col!("forward", forward);
    row_col!("forward_source", forward_source);
    run_col!("model", |r: &BatchRun| r.model.clone());
    run_col!("optimizer", |r: &BatchRun| r.optimizer.clone());
    row_col!("params", params);
    row_col!("n_quotes", n_quotes);
    row_col!("rmse_iv", rmse_iv);
    row_col!("max_abs_err_iv", max_abs_err_iv);
    row_col!("within_spread", within_spread);
    row_col!("converged", converged);
    row_col!("iterations", iterations);
    row_col!("butterfly_free", butterfly_free);
    row_col!("min_g", min_g);
    row_col!("flags", flags);
    run_col!("calendar_free", |r: &BatchRun| r.calendar_free);
    run_col!("arbitrage_free", |r: &BatchRun| r.arbitrage_free);
    row_col!("fit_micros", fit_micros);
    run_col!("ingest_micros", |r: &BatchRun| r.ingest_micros);
    run_col!("total_micros", |r: &BatchRun| r.total_micros);
    run_col!("surface", |r: &BatchRun| r.surface.clone());
    row_col!("error", error);
    Ok(d)
}

/// Removes an earlier run's file at `path`, if there is one.
fn remove_stale(path: &Path) -> PyResult<()> {
    remove_if_present(path).map_err(|e| err(format!("cannot remove {}: {e}", path.display())))
}

/// Calibrates every underlying of one chain as `volfit calibrate --no-plots` does (the
/// options are `CalibrateConfig`'s keys as JSON, the `--config` table; `report.json` echoes
/// them all) and returns its rows of `volfit.batch`'s table as `{column: list}`: the file at
/// `source`, or `text` (a CSV in any layout the readers know) named `source` in messages;
/// `label` fills the `input` column. With `underlying`, that one only (matched
/// case-insensitively). With `out_dir`, each underlying's `surface.json` (or, with no surface,
/// the removal of an earlier run's) and `report.json` (pretty, as the CLI writes it) go to
/// `out_dir/<UNDERLYING>/` (the CLI's directory names), each atomically; with
/// `write_report = False` no `report.json` (an earlier run's is removed).
/// Runs with the GIL released, so threads and Dask workers calibrate in parallel;
/// `parallel = False` fits the expiries one after another on the calling thread (for callers
/// that already run one calibration per core, where the core's own thread pool would only
/// oversubscribe the cores; the results are the same).
///
/// Errors (`VolfitError`): options that are not valid keys and values, a file that cannot be
/// read, a file with no quotes (its rejected rows say why), no such underlying. An underlying
/// with no expiry fitted is not an error: it is one row whose `error` says why.
#[pyfunction]
#[pyo3(signature = (label, source, text = None, fmt = "auto", underlying = None, options_json = "{}", out_dir = None, write_report = true, parallel = true))]
#[allow(clippy::too_many_arguments)]
fn calibrate_table<'py>(
    py: Python<'py>,
    label: &str,
    source: &str,
    text: Option<&str>,
    fmt: &str,
    underlying: Option<&str>,
    options_json: &str,
    out_dir: Option<&str>,
    write_report: bool,
    parallel: bool,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let (mut opts, echo) = calibration_options(options_json)?;
        opts.parallel = parallel;
        let f = format(fmt)?;
        let runs = py.detach(|| -> PyResult<Vec<BatchRun>> {
            let clock = Instant::now();
            let (chains, ingest) = match text {
                Some(t) => read_chains_from_str(t, Path::new(source), f),
                None => read_chains(source, f),
            }
            .map_err(err)?;
            let ingest_micros = clock.elapsed().as_secs_f64() * 1e6;
            if chains.is_empty() {
                return Err(err(format!("{source}: no quotes: {}", ingest.why_empty())));
            }
            let chosen = match underlying {
                Some(u) => vec![choose(chains, source, Some(u))?],
                None => chains,
            };
            let names: Vec<&str> = chosen.iter().map(|c| c.underlying.as_str()).collect();
            let dirs: Vec<Option<PathBuf>> = match out_dir {
                Some(d) => assign_components(&names)
                    .into_iter()
                    .map(|c| Some(Path::new(d).join(c)))
                    .collect(),
                None => vec![None; names.len()],
            };
            chosen
                .into_iter()
                .zip(dirs)
                .map(|(chain, dir)| {
                    let clock = Instant::now();
                    let (surface, report, error) = match calibrate_surface_or_report(&chain, &opts)
                    {
                        Ok((s, r)) => (Some(s), r, None),
                        Err(CalibrationFailure { error, report }) => {
                            let why = match error {
                                SurfaceError::Empty(why) => {
                                    format!("no expiry could be fitted: {why}")
                                }
                                other => other.to_string(),
                            };
                            (None, *report, Some(why))
                        }
                    };
                    let mut run =
                        RunReport::new(source, &ingest, &chain, &report, ingest_micros, 0.0);
                    run.options = Some(echo);
                    run.error = error.clone();
                    if let Some(s) = &surface {
                        run.day_count = s.day_count();
                    }
                    run.timing_micros.total = ingest_micros + clock.elapsed().as_secs_f64() * 1e6;
                    let mut written = String::new();
                    if let Some(dir) = &dir {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
                        let path = dir.join("surface.json");
                        match &surface {
                            Some(s) => {
                                s.save(&path).map_err(err)?;
                                written = path.display().to_string();
                            }
                            None => remove_stale(&path)?,
                        }
                        let path = dir.join("report.json");
                        if write_report {
                            let pretty = serde_json::to_string_pretty(&run).map_err(err)?;
                            write_atomic(&path, pretty.as_bytes()).map_err(|e| {
                                err(format!("cannot write {}: {e}", path.display()))
                            })?;
                        } else {
                            remove_stale(&path)?;
                        }
                    }
                    Ok(BatchRun::of(&run, error, written))
                })
                .collect()
        })?;
        batch_columns(py, label, &runs)
    })
}

/// Reads a chain: `(columns, ingest report JSON)`; columns are numpy arrays (numbers) and
/// lists (strings).
#[pyfunction]
#[pyo3(signature = (path, fmt = "auto", underlying = None))]
fn read_chain<'py>(
    py: Python<'py>,
    path: &str,
    fmt: &str,
    underlying: Option<&str>,
) -> PyResult<(Bound<'py, PyDict>, String)> {
    guard(|| {
        let (chain, ingest, _) = py.detach(|| pick(path, fmt, underlying))?;
        let q = &chain.quotes;
        let d = PyDict::new(py);
        let col = |f: &dyn Fn(&volfit::quotes::OptionQuote) -> f64| -> Vec<f64> {
            q.iter().map(f).collect()
        };
        d.set_item("underlying", vec![chain.underlying.clone(); q.len()])?;
        d.set_item(
            "symbol",
            q.iter().map(|x| x.symbol.clone()).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "expiry",
            q.iter().map(|x| x.expiry.to_rfc3339()).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "kind",
            q.iter().map(|x| x.kind.to_string()).collect::<Vec<_>>(),
        )?;
        d.set_item("strike", col(&|x| x.strike).into_pyarray(py))?;
        d.set_item("bid", col(&|x| x.bid.unwrap_or(f64::NAN)).into_pyarray(py))?;
        d.set_item("ask", col(&|x| x.ask.unwrap_or(f64::NAN)).into_pyarray(py))?;
        d.set_item(
            "mark",
            col(&|x| x.mark.unwrap_or(f64::NAN)).into_pyarray(py),
        )?;
        d.set_item(
            "mark_iv",
            col(&|x| x.mark_iv.unwrap_or(f64::NAN)).into_pyarray(py),
        )?;
        d.set_item(
            "forward",
            col(&|x| x.forward.unwrap_or(f64::NAN)).into_pyarray(py),
        )?;
        d.set_item(
            "line",
            q.iter()
                .map(|x| x.line)
                .collect::<Vec<u64>>()
                .into_pyarray(py),
        )?;
        Ok((d, serde_json::to_string(&ingest).map_err(err)?))
    })
}

fn model(name: &str) -> PyResult<SurfaceModel> {
    name.parse::<SurfaceModel>().map_err(err)
}

/// An instant from ISO 8601 text: with an offset (`2026-03-27T08:00:00Z`,
/// `2026-03-27 10:00:00+02:00`), without one (taken as UTC), or a bare date (midnight UTC).
fn instant(raw: &str) -> PyResult<DateTime<Utc>> {
    let s = raw.trim();
    // Python's str(datetime) separates date and time with a space.
    let s = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(t.with_timezone(&Utc));
    }
    // ISO 8601 beyond RFC 3339: minutes without seconds, `Z`, `+0200`.
    let zoned = match s.strip_suffix(['Z', 'z']) {
        Some(head) => format!("{head}+00:00"),
        None => s.clone(),
    };
    for fmt in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&zoned, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    Err(err(format!(
        "expiry {raw:?} is not an ISO 8601 date or time (2026-03-27T08:00:00Z; without an \
         offset it is taken as UTC; a bare date 2026-03-27 is midnight UTC)"
    )))
}

/// A fitted volatility surface (see `volfit.Surface` for the Python interface).
#[pyclass(module = "volfit._volfit", frozen)]
struct Surface {
    inner: FittedSurface,
    report: Option<RunReport>,
    fit_report: Option<volfit::surface::SurfaceReport>,
    chain: Option<Chain>,
    opts: SurfaceOptions,
}

impl Surface {
    fn need_as_of(&self) -> PyResult<()> {
        if self.inner.as_of().is_none() {
            return Err(err(
                "the surface has no as_of date, so expiry dates have no year fraction: query \
                 by t with vol()",
            ));
        }
        Ok(())
    }
}

fn map2<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    f: impl Fn(f64, f64) -> f64 + Send,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b) = (a.as_slice()?.to_vec(), b.as_slice()?.to_vec());
    same_len(a.len(), &[b.len()])?;
    let out = py.detach(move || {
        a.iter()
            .zip(&b)
            .map(|(&x, &y)| f(x, y))
            .collect::<Vec<f64>>()
    });
    Ok(out.into_pyarray(py))
}

/// The smile dynamics, by the names `Dynamics::name` gives (`sticky-strike`, …).
fn dynamics(name: &str) -> PyResult<Dynamics> {
    let n = name.trim().to_ascii_lowercase().replace('_', "-");
    Dynamics::ALL
        .iter()
        .copied()
        .find(|d| d.name() == n)
        .ok_or_else(|| {
            let names: Vec<&str> = Dynamics::ALL.iter().map(|d| d.name()).collect();
            value_err(format!(
                "unknown dynamics {name:?}: expected one of {}",
                names.join(", ")
            ))
        })
}

/// The greek arrays of [`greeks_table`], by name, in order.
const GREEK_FIELDS: [&str; 7] = ["price", "delta", "gamma", "vega", "theta", "vanna", "volga"];

/// The extra arrays of inverse (coin) greeks, after [`GREEK_FIELDS`].
const INVERSE_FIELDS: [&str; 3] = ["premium_adjusted_delta", "deribit_delta", "deribit_vega"];

/// `(columns, ok mask, [(index, reason)])` of the vectorised greeks: the columns hold NaN
/// exactly where `ok` is false, and the Python half never hands those out (it raises, or masks
/// them).
type GreeksTable<'py> = (
    Bound<'py, PyDict>,
    Bound<'py, PyArray1<bool>>,
    Vec<(usize, String)>,
);

/// One element's answer: the USD greeks, the forward and vol they were taken at.
type GreeksRow = Result<(Greeks, f64, f64), String>;

/// Runs `row` over `n` elements with the GIL released and lays the answers out as columns:
/// `price … volga`, `forward`, `vol`, and with `inverse` the coin greeks
/// (`volfit::risk::greeks::inverse_greeks`) in `price … volga` with the USD value's
/// `usd_price`, the premium-adjusted delta and Deribit's `delta`/`vega` columns.
fn greeks_table<'py>(
    py: Python<'py>,
    n: usize,
    inverse: bool,
    row: impl Fn(usize) -> GreeksRow + Send + Sync,
) -> PyResult<GreeksTable<'py>> {
    let width = GREEK_FIELDS.len() + INVERSE_FIELDS.len() + 3;
    let (cols, ok, errors) = py.detach(move || {
        let mut cols = vec![Vec::with_capacity(n); width];
        let mut ok = Vec::with_capacity(n);
        let mut errors = Vec::new();
        for i in 0..n {
            let values: Vec<f64> = match row(i) {
                Ok((g, f, vol)) => {
                    ok.push(true);
                    let usd = [g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga];
                    let mut v = if inverse {
                        let c = inverse_greeks(&g, f);
                        let coin = c.coin;
                        vec![
                            coin.price,
                            coin.delta,
                            coin.gamma,
                            coin.vega,
                            coin.theta,
                            coin.vanna,
                            coin.volga,
                            c.premium_adjusted_delta,
                            c.deribit_delta,
                            c.deribit_vega,
                        ]
                    } else {
                        let mut v = usd.to_vec();
                        v.extend([f64::NAN; INVERSE_FIELDS.len()]);
                        v
                    };
                    v.extend([f, vol, g.price]);
                    v
                }
                Err(reason) => {
                    ok.push(false);
                    errors.push((i, reason));
                    vec![f64::NAN; width]
                }
            };
            for (c, v) in cols.iter_mut().zip(values) {
                c.push(v);
            }
        }
        (cols, ok, errors)
    });
    let d = PyDict::new(py);
    let mut names: Vec<&str> = GREEK_FIELDS.to_vec();
    names.extend(INVERSE_FIELDS);
    names.extend(["forward", "vol", "usd_price"]);
    for (name, col) in names.into_iter().zip(cols) {
        let extra = INVERSE_FIELDS.contains(&name) || name == "usd_price";
        if inverse || !extra {
            d.set_item(name, col.into_pyarray(py))?;
        }
    }
    Ok((d, ok.into_pyarray(py), errors))
}

/// Black-76 greeks at given vols (`volfit::black_greeks`), undiscounted, per unit of vol:
/// `(columns, ok, errors)` as `Surface.greeks`, `inverse` adding the coin greeks.
#[pyfunction]
#[pyo3(signature = (is_call, forward, strike, t, vol, inverse = false))]
fn black_greeks_table<'py>(
    py: Python<'py>,
    is_call: PyReadonlyArray1<'py, bool>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    vol: PyReadonlyArray1<'py, f64>,
    inverse: bool,
) -> PyResult<GreeksTable<'py>> {
    guard(|| {
        let (c, f, k, tt, v) = (
            is_call.as_slice()?,
            forward.as_slice()?,
            strike.as_slice()?,
            t.as_slice()?,
            vol.as_slice()?,
        );
        same_len(c.len(), &[f.len(), k.len(), tt.len(), v.len()])?;
        greeks_table(py, c.len(), inverse, |i| {
            let g = volfit::black_greeks(kind(c[i]), f[i], k[i], tt[i], v[i]);
            let fields = [g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga];
            if fields.iter().all(|x| x.is_finite()) {
                Ok((g, f[i], v[i]))
            } else {
                Err(format!(
                    "no Black greeks at forward {}, strike {}, t {}, vol {} (forward and strike \
                     must be finite and positive, t and vol finite and not negative)",
                    Num(f[i]),
                    Num(k[i]),
                    Num(tt[i]),
                    Num(v[i])
                ))
            }
        })
    })
}

#[pymethods]
impl Surface {
    /// Reads a chain file and calibrates its surface.
    #[staticmethod]
    #[pyo3(signature = (path, fmt = "auto", underlying = None, model_name = "spline", optimizer_name = "lm"))]
    fn calibrate(
        py: Python<'_>,
        path: &str,
        fmt: &str,
        underlying: Option<&str>,
        model_name: &str,
        optimizer_name: &str,
    ) -> PyResult<Surface> {
        guard(|| {
            let opts = SurfaceOptions {
                model: model(model_name)?,
                fit: FitOptions {
                    optimizer: optimizer(optimizer_name)?,
                    ..FitOptions::default()
                },
                ..SurfaceOptions::default()
            };
            py.detach(|| {
                let clock = Instant::now();
                let (chain, ingest, ingest_micros) = pick(path, fmt, underlying)?;
                let (surface, report) = calibrate_surface(&chain, &opts).map_err(err)?;
                let run = RunReport::new(
                    path,
                    &ingest,
                    &chain,
                    &report,
                    ingest_micros,
                    clock.elapsed().as_secs_f64() * 1e6,
                );
                Ok(Surface {
                    inner: surface,
                    report: Some(run),
                    fit_report: Some(report),
                    chain: Some(chain),
                    opts,
                })
            })
        })
    }

    /// Loads `surface.json`.
    #[staticmethod]
    fn load(path: &str) -> PyResult<Surface> {
        guard(|| {
            Ok(Surface {
                inner: FittedSurface::load(path).map_err(err)?,
                report: None,
                fit_report: None,
                chain: None,
                opts: SurfaceOptions::default(),
            })
        })
    }

    /// Writes `surface.json`.
    fn save(&self, path: &str) -> PyResult<()> {
        guard(|| self.inner.save(path).map_err(err))
    }

    /// Price and greeks off the surface (`volfit::risk::greeks::option_greeks`) at (call
    /// flag, strike, t) under `dynamics_name`: `(columns, ok, errors)`, the loop in Rust with
    /// the GIL released; `inverse` adds the coin greeks (`inverse_greeks`).
    #[pyo3(signature = (is_call, strike, t, dynamics_name = "sticky-strike", inverse = false))]
    fn greeks<'py>(
        &self,
        py: Python<'py>,
        is_call: PyReadonlyArray1<'py, bool>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
        dynamics_name: &str,
        inverse: bool,
    ) -> PyResult<GreeksTable<'py>> {
        guard(|| {
            let dyn_ = dynamics(dynamics_name)?;
            let (c, k, tt) = (is_call.as_slice()?, strike.as_slice()?, t.as_slice()?);
            same_len(c.len(), &[k.len(), tt.len()])?;
            let s = &self.inner;
            greeks_table(py, c.len(), inverse, |i| {
                let g =
                    option_greeks(s, kind(c[i]), k[i], tt[i], dyn_).map_err(|e| e.to_string())?;
                Ok((g, s.forward(tt[i]), s.vol(k[i], tt[i])))
            })
        })
    }

    /// Implied vols at (strike, t) pairs.
    fn vol<'py>(
        &self,
        py: Python<'py>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            map2(py, strike, t, |k, t| s.vol(k, t))
        })
    }

    /// Total variance at (k, t) pairs, k = ln(K/F(t)).
    fn total_variance<'py>(
        &self,
        py: Python<'py>,
        k: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            map2(py, k, t, |k, t| s.total_variance(k, t))
        })
    }

    /// Dupire local vols at (strike, t) pairs (NaN where undefined).
    fn local_vol<'py>(
        &self,
        py: Python<'py>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            map2(py, strike, t, |k, t| s.local_vol(k, t).unwrap_or(f64::NAN))
        })
    }

    /// Risk-neutral density at (strike, t) pairs.
    fn density<'py>(
        &self,
        py: Python<'py>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            map2(py, strike, t, |k, t| s.density(k, t))
        })
    }

    /// 1.0 where (strike, t) is extrapolated (before the first / after the last expiry or
    /// beyond the quoted strikes), 0.0 inside the quotes, NaN outside the query domain.
    fn extrapolated<'py>(
        &self,
        py: Python<'py>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            map2(py, strike, t, |k, t| {
                s.location(k, t)
                    .map_or(f64::NAN, |at| f64::from(u8::from(at.is_extrapolated())))
            })
        })
    }

    /// Discounted digital prices with the smile's slope at (call flag, strike, t).
    fn digital<'py>(
        &self,
        py: Python<'py>,
        call: PyReadonlyArray1<'py, bool>,
        strike: PyReadonlyArray1<'py, f64>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            let c = call.as_slice()?.to_vec();
            let (k, t) = (strike.as_slice()?.to_vec(), t.as_slice()?.to_vec());
            same_len(c.len(), &[k.len(), t.len()])?;
            let out = py.detach(move || {
                c.iter()
                    .zip(k.iter().zip(&t))
                    .map(|(&c, (&k, &t))| {
                        s.smile_section(t)
                            .map_or(f64::NAN, |m| m.digital(kind(c), k))
                    })
                    .collect::<Vec<f64>>()
            });
            Ok(out.into_pyarray(py))
        })
    }

    /// Forwards at times `t`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            let t = t.as_slice()?.to_vec();
            let out = py.detach(move || t.iter().map(|&t| s.forward(t)).collect::<Vec<f64>>());
            Ok(out.into_pyarray(py))
        })
    }

    /// The expiries with their models, as JSON.
    fn slices_json(&self) -> PyResult<String> {
        guard(|| serde_json::to_string(self.inner.slices()).map_err(err))
    }

    /// The run report (report.json) as JSON, when the surface was calibrated here.
    fn report_json(&self) -> PyResult<Option<String>> {
        guard(|| {
            self.report
                .as_ref()
                .map(|r| serde_json::to_string(r).map_err(err))
                .transpose()
        })
    }

    /// The arbitrage check of the surface as JSON.
    fn check_json(&self) -> PyResult<String> {
        guard(|| serde_json::to_string(&self.inner.arbitrage_check()).map_err(err))
    }

    /// The snapshot time of the data (RFC 3339), when known.
    fn as_of(&self) -> PyResult<Option<String>> {
        guard(|| Ok(self.inner.as_of().map(|t| t.to_rfc3339())))
    }

    /// The day count that turns expiry dates into year fractions (`act365`, `act36525`).
    fn day_count(&self) -> PyResult<&'static str> {
        guard(|| Ok(self.inner.day_count().name()))
    }

    /// Year fractions from `as_of` to each expiry (ISO 8601 text); NaN for an expiry not
    /// after `as_of`. Errors without an `as_of` or for text that is not a date.
    fn year_fraction<'py>(
        &self,
        py: Python<'py>,
        expiry: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            self.need_as_of()?;
            let e = expiry
                .iter()
                .map(|x| instant(x))
                .collect::<PyResult<Vec<_>>>()?;
            let out = py.detach(move || {
                e.iter()
                    .map(|&x| s.year_fraction(x).unwrap_or(f64::NAN))
                    .collect::<Vec<f64>>()
            });
            Ok(out.into_pyarray(py))
        })
    }

    /// Implied vols at (strike, expiry) pairs, expiries as ISO 8601 text
    /// (`FittedSurface::vol_at`); NaN where the surface has no vol. Errors without an
    /// `as_of` or for text that is not a date.
    fn vol_at<'py>(
        &self,
        py: Python<'py>,
        strike: PyReadonlyArray1<'py, f64>,
        expiry: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let s = &self.inner;
            self.need_as_of()?;
            let k = strike.as_slice()?.to_vec();
            same_len(k.len(), &[expiry.len()])?;
            let e = expiry
                .iter()
                .map(|x| instant(x))
                .collect::<PyResult<Vec<_>>>()?;
            let out = py.detach(move || {
                k.iter()
                    .zip(&e)
                    .map(|(&k, &x)| s.vol_at(k, x).unwrap_or(f64::NAN))
                    .collect::<Vec<f64>>()
            });
            Ok(out.into_pyarray(py))
        })
    }

    /// The extrapolation policy as JSON (as in `surface.json`).
    fn extrapolation_json(&self) -> PyResult<String> {
        guard(|| serde_json::to_string(&self.inner.extrapolation()).map_err(err))
    }

    /// The forward vol after the last expiry; `None` when the policy refuses queries there.
    fn after_last_vol(&self) -> PyResult<Option<f64>> {
        guard(|| Ok(self.inner.after_last_vol()))
    }

    /// The surface under another extrapolation policy (JSON, as in `surface.json`; every
    /// field required by the Python half, which fills them from the current policy). The
    /// fits are the same; the run report is not carried over (it describes the calibrated
    /// surface's policy).
    fn with_extrapolation_json(&self, py: Python<'_>, policy: &str) -> PyResult<Surface> {
        guard(|| {
            let p: Extrapolation = serde_json::from_str(policy)
                .map_err(|e| err(format!("extrapolation policy: {e}")))?;
            // The policy's own message (with_extrapolation wraps it as a file-format error).
            p.check()
                .map_err(|e| err(format!("extrapolation policy: {e}")))?;
            let inner = py
                .detach(|| self.inner.clone().with_extrapolation(p))
                .map_err(|e| err(format!("extrapolation policy: {e}")))?;
            Ok(Surface {
                inner,
                report: None,
                fit_report: None,
                chain: self.chain.clone(),
                opts: SurfaceOptions {
                    extrapolation: p,
                    ..self.opts.clone()
                },
            })
        })
    }

    /// The point masses of the density at time `t`: `(k, mass)` pairs
    /// (`FittedSurface::atoms`).
    fn atoms(&self, py: Python<'_>, t: f64) -> PyResult<Vec<(f64, f64)>> {
        guard(|| {
            let s = &self.inner;
            Ok(py.detach(move || s.atoms(t)))
        })
    }

    /// Draws the charts (and report.html when the surface was calibrated here) into `dir`;
    /// `overlay`: another per-expiry model for the skew charts. Returns the files written.
    #[pyo3(signature = (dir, formats, overlay = None))]
    fn charts(
        &self,
        py: Python<'_>,
        dir: &str,
        formats: Vec<String>,
        overlay: Option<&str>,
    ) -> PyResult<Vec<String>> {
        guard(|| {
            let fmts = formats
                .iter()
                .map(|f| match f.to_ascii_lowercase().as_str() {
                    "png" => Ok(ImageFormat::Png),
                    "svg" => Ok(ImageFormat::Svg),
                    other => Err(err(format!(
                        "unknown image format {other:?}: expected png or svg"
                    ))),
                })
                .collect::<PyResult<Vec<_>>>()?;
            let Some(sr) = &self.fit_report else {
                return Err(err(
                    "charts need the fit report: calibrate the surface with volfit.calibrate_surface",
                ));
            };
            let overlay_model = overlay.map(model).transpose()?;
            py.detach(|| {
                let chain = self.chain.as_ref().ok_or_else(|| err("no chain"))?;
                let other = match overlay_model {
                    Some(m) => Some(
                        calibrate_surface(
                            chain,
                            &SurfaceOptions {
                                model: m,
                                ..self.opts.clone()
                            },
                        )
                        .map_err(err)?,
                    ),
                    None => None,
                };
                let name = overlay.unwrap_or("");
                let dirp = PathBuf::from(dir);
                let charts = render_all(
                    &ChartInput {
                        surface: &self.inner,
                        report: sr,
                        overlay: other.as_ref().map(|(s, _)| (name, s)),
                    },
                    &dirp.join("plots"),
                    &fmts,
                )
                .map_err(err)?;
                write_report_html(&dirp.join("report.html"), sr, &charts).map_err(err)?;
                let mut files: Vec<String> = charts
                    .iter()
                    .flat_map(|c| c.files.iter().map(|p| p.display().to_string()))
                    .collect();
                files.push(dirp.join("report.html").display().to_string());
                Ok(files)
            })
        })
    }
}

/// An error in the caller's values, raised as Python's `ValueError`: the Python half raises it
/// as `volfit.VolfitValueError` (a `VolfitError` and a `ValueError`).
fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A tracker's refusal: the options, the chain's underlying, its time or its order are the
/// caller's values (`ValueError`); no surface at all is the core's `VolfitError`.
fn track_err(e: TrackError) -> PyErr {
    match e {
        TrackError::Options(_)
        | TrackError::Underlying { .. }
        | TrackError::NoTime
        | TrackError::OutOfOrder { .. } => value_err(e),
        other => err(other),
    }
}

/// `(expiry as RFC 3339, mean, covariance rows)` of [`Tracker::posterior`].
type Posterior = (String, Vec<f64>, Vec<Vec<f64>>);

/// The tracker's filters, by name.
const FILTERS: [FilterKind; 2] = [FilterKind::Kalman, FilterKind::None];

fn filter_kind(name: &str) -> PyResult<FilterKind> {
    FILTERS
        .iter()
        .copied()
        .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = FILTERS.iter().map(|f| f.name()).collect();
            err(format!(
                "unknown filter {name:?}: expected one of {}",
                names.join(", ")
            ))
        })
}

/// The native half of `volfit.Tracker`: one underlying's surface through time
/// (`volfit::live::Tracker`). The tracker sits behind a mutex that every method takes with
/// the GIL released, so an update on one thread never blocks the interpreter and calls from
/// several threads run one after another.
#[pyclass(module = "volfit._volfit", frozen)]
struct Tracker {
    inner: Mutex<volfit::live::Tracker>,
    underlying: String,
    opts: TrackerOptions,
}

impl Tracker {
    fn lock(&self) -> PyResult<MutexGuard<'_, volfit::live::Tracker>> {
        self.inner.lock().map_err(|_| {
            InternalError::new_err(
                "internal error in volfit (please report it): an earlier update of this tracker \
                 panicked, so its state is unknown; make a new tracker",
            )
        })
    }

    /// Updates with a chain read elsewhere: `(report JSON, ingest report JSON)`.
    fn update_with(&self, chain: &Chain, ingest: &IngestReport) -> PyResult<(String, String)> {
        let report = self.lock()?.update_chain(chain).map_err(track_err)?;
        Ok((
            serde_json::to_string(&report).map_err(err)?,
            serde_json::to_string(ingest).map_err(err)?,
        ))
    }
}

#[pymethods]
impl Tracker {
    /// A tracker of `underlying`: `options_json` a whole `TrackerOptions` as JSON (the Python
    /// half fills it from `default_options_json`), its model, filter and optimiser replaced by
    /// the names given.
    #[new]
    #[pyo3(signature = (underlying, model_name = "svi", filter_name = "kalman", options_json = "{}", optimizer_name = None))]
    fn new(
        underlying: &str,
        model_name: &str,
        filter_name: &str,
        options_json: &str,
        optimizer_name: Option<&str>,
    ) -> PyResult<Self> {
        guard(|| {
            let mut opts: TrackerOptions = serde_json::from_str(options_json)
                .map_err(|e| err(format!("tracker options: {e}")))?;
            opts.model = model(model_name)?;
            opts.filter = filter_kind(filter_name)?;
            if let Some(o) = optimizer_name {
                opts.fit.optimizer = optimizer(o)?;
            }
            let inner = volfit::live::Tracker::new(underlying, opts.clone()).map_err(track_err)?;
            Ok(Tracker {
                inner: Mutex::new(inner),
                underlying: underlying.to_string(),
                opts,
            })
        })
    }

    /// `TrackerOptions::default()` as JSON.
    #[staticmethod]
    fn default_options_json() -> PyResult<String> {
        guard(|| serde_json::to_string(&TrackerOptions::default()).map_err(err))
    }

    /// The tracker's options as JSON.
    fn options_json(&self) -> PyResult<String> {
        guard(|| serde_json::to_string(&self.opts).map_err(err))
    }

    /// The underlying.
    fn underlying(&self) -> PyResult<String> {
        guard(|| Ok(self.underlying.clone()))
    }

    /// Reads a snapshot file with the library's reader (`fmt` as in `read_chain`), takes the
    /// tracker's underlying and updates: `(report JSON, ingest report JSON)`.
    #[pyo3(signature = (path, fmt = "auto"))]
    fn update_path(&self, py: Python<'_>, path: &str, fmt: &str) -> PyResult<(String, String)> {
        guard(|| {
            py.detach(|| {
                let (chain, ingest, _) = pick(path, fmt, Some(&self.underlying))?;
                self.update_with(&chain, &ingest)
            })
        })
    }

    /// Reads chain text (a CSV in any layout the readers know; `source` names it in messages)
    /// with the library's reader, takes the tracker's underlying and updates: `(report JSON,
    /// ingest report JSON)`.
    #[pyo3(signature = (text, fmt = "auto", source = "<DataFrame>"))]
    fn update_text(
        &self,
        py: Python<'_>,
        text: &str,
        fmt: &str,
        source: &str,
    ) -> PyResult<(String, String)> {
        guard(|| {
            let f = format(fmt)?;
            py.detach(|| {
                let (chains, ingest) =
                    read_chains_from_str(text, Path::new(source), f).map_err(err)?;
                let chain = choose(chains, source, Some(&self.underlying))?;
                self.update_with(&chain, &ingest)
            })
        })
    }

    /// `volfit track`'s `timeseries.csv` row of the latest surface, as JSON: per tenor of
    /// `TENOR_DAYS` (7, 30, 90, 180 days) the ATM vol, 25Δ risk reversal and butterfly
    /// (`volfit::live::tenor::tenor_samples`), `null` where the surface has no answer.
    fn tenor_samples_json(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| {
            py.detach(|| {
                let samples = tenor_samples(&*self.lock()?, &TENOR_DAYS);
                serde_json::to_string(&samples).map_err(err)
            })
        })
    }

    /// The latest surface (`None` before the first update).
    fn surface(&self, py: Python<'_>) -> PyResult<Option<Surface>> {
        guard(|| {
            let latest = py.detach(|| Ok::<_, PyErr>(self.lock()?.surface()))?;
            Ok(latest.map(|s| Surface {
                inner: (*s).clone(),
                report: None,
                fit_report: None,
                chain: None,
                opts: SurfaceOptions {
                    model: self.opts.model,
                    fit: self.opts.fit.clone(),
                    slices: self.opts.slices.clone(),
                    extrapolation: self.opts.extrapolation,
                    ..SurfaceOptions::default()
                },
            }))
        })
    }

    /// The filter's posterior of an expiry (ISO 8601 text): `(expiry as RFC 3339, mean,
    /// covariance rows)` of the coordinates `FILTER_COORDINATES`; `None` without the Kalman
    /// filter or for an expiry not tracked.
    fn posterior(&self, py: Python<'_>, expiry: &str) -> PyResult<Option<Posterior>> {
        guard(|| {
            let e = instant(expiry)?;
            let state = py.detach(|| Ok::<_, PyErr>(self.lock()?.posterior(e)))?;
            Ok(state.map(|s| {
                let n = COORDINATES.len();
                (
                    e.to_rfc3339(),
                    s.mean.iter().copied().collect(),
                    (0..n)
                        .map(|i| (0..n).map(|j| s.cov[(i, j)]).collect())
                        .collect(),
                )
            }))
        })
    }

    /// The expiries tracked, in order (RFC 3339).
    fn expiries(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        guard(|| {
            let e = py.detach(|| Ok::<_, PyErr>(self.lock()?.expiries()))?;
            Ok(e.iter().map(DateTime::to_rfc3339).collect())
        })
    }

    /// The time of the latest update (RFC 3339), `None` before the first.
    fn as_of(&self, py: Python<'_>) -> PyResult<Option<String>> {
        guard(|| {
            let t = py.detach(|| Ok::<_, PyErr>(self.lock()?.as_of()))?;
            Ok(t.map(|t| t.to_rfc3339()))
        })
    }
}

/// The native module.
#[pymodule]
fn _volfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    guard(|| {
        m.add("VolfitError", m.py().get_type::<VolfitError>())?;
        m.add("InternalError", m.py().get_type::<InternalError>())?;
        m.add_function(wrap_pyfunction!(implied_vol, m)?)?;
        m.add_function(wrap_pyfunction!(black_price, m)?)?;
        m.add_function(wrap_pyfunction!(sabr_vol, m)?)?;
        m.add_function(wrap_pyfunction!(fit_svi_json, m)?)?;
        m.add_function(wrap_pyfunction!(fit_sabr_json, m)?)?;
        m.add_function(wrap_pyfunction!(read_chain, m)?)?;
        m.add_function(wrap_pyfunction!(calibrate_table, m)?)?;
        m.add_function(wrap_pyfunction!(calibration_options_json, m)?)?;
        m.add_function(wrap_pyfunction!(black_greeks_table, m)?)?;
        m.add_class::<Surface>()?;
        m.add_class::<Tracker>()?;
        // The lists the library declares once, for the Python side to offer and check.
        let names = |v: Vec<&'static str>| v;
        m.add(
            "MODELS",
            names(SurfaceModel::ALL.iter().map(|x| x.name()).collect()),
        )?;
        m.add(
            "OPTIMIZERS",
            names(Optimizer::ALL.iter().map(|x| x.name()).collect()),
        )?;
        m.add("FORMATS", Format::names())?;
        m.add("FILTERS", names(FILTERS.iter().map(|x| x.name()).collect()))?;
        m.add("FILTER_COORDINATES", COORDINATES.to_vec())?;
        m.add(
            "DYNAMICS",
            names(Dynamics::ALL.iter().map(|x| x.name()).collect()),
        )?;
        m.add(
            "SABR_EXPANSIONS",
            names(SabrExpansion::ALL.iter().map(|x| x.name()).collect()),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::panic::PanicException;

    /// The body of an exported function.
    type Body<'a> = Box<dyn FnOnce() -> PyResult<()> + 'a>;

    /// A panic anywhere in an exported body, also inside `py.detach`, comes out as
    /// `InternalError` (a `VolfitError`, an `Exception`) with the panic's message; results and
    /// ordinary errors pass through unchanged.
    #[test]
    fn a_panic_becomes_internal_error_never_panic_exception() {
        Python::initialize();
        Python::attach(|py| {
            let cases: [(&str, Body<'_>); 3] = [
                ("boom at 42", Box::new(|| panic!("boom at {}", 42))),
                ("plain str", Box::new(|| std::panic::panic_any("plain str"))),
                (
                    "inside detach",
                    Box::new(move || py.detach(|| -> PyResult<()> { panic!("inside detach") })),
                ),
            ];
            for (msg, body) in cases {
                let e = guard(body).unwrap_err();
                assert!(e.is_instance_of::<InternalError>(py), "{msg}");
                assert!(e.is_instance_of::<VolfitError>(py), "{msg}");
                assert!(e.is_instance_of::<PyException>(py), "{msg}");
                assert!(!e.is_instance_of::<PanicException>(py), "{msg}");
                let text = e.value(py).to_string();
                assert!(
                    text.contains(msg) && text.contains("internal error"),
                    "{text}"
                );
            }
            assert_eq!(guard(|| Ok(3)).unwrap(), 3);
            let e = guard(|| -> PyResult<()> { Err(err("no such file")) }).unwrap_err();
            assert!(e.is_instance_of::<VolfitError>(py) && !e.is_instance_of::<InternalError>(py));
            assert_eq!(e.value(py).to_string(), "no such file");
        });
    }
}
