//! `volfit calibrate`: chain file(s) → surface.json, report.json, plots/, report.html per
//! underlying.

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use volfit::config::{
    AfterLastName, BeforeFirstName, BetaSetting, CalibrateConfig, Limit, ObjectiveName,
};
use volfit::fit::Optimizer;
use volfit::output::{assign_components, path_component, remove_if_present, write_atomic};
use volfit::plot::{
    ChartInput, ImageFormat, IndexEntry, remove_stale_charts, render_all, write_index_page,
    write_review_page,
};
use volfit::quotes::{Chain, Format, IngestReport, read_chains};
use volfit::slice::{DayCount, Weighting};
use volfit::surface::{
    CalendarPolicy, CalibrationFailure, FittedSurface, RunReport, SurfaceError, SurfaceModel,
    SurfaceOptions, SurfaceReport, calibrate_surface, calibrate_surface_from_or_report,
    calibrate_surface_or_report,
};

/// The calibration options of `volfit calibrate`: each flag is a key of
/// [`CalibrateConfig`] (`--min-quotes` ↔ `min_quotes`); a flag given overrides the
/// `--config` file, a flag left out leaves the file's value or the library default.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Calibration options")]
pub struct OptionFlags {
    /// Read options from this TOML file (keys as the flags, `_` for `-`; unknown keys are an
    /// error). Flags given on the command line override it.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Surface model [default: spline].
    #[arg(long, value_enum)]
    model: Option<SurfaceModel>,
    /// Optimiser of the fits [default: lm].
    #[arg(long, value_enum)]
    optimizer: Option<Optimizer>,
    /// Fitting weights of the quotes: 1/(ask IV - bid IV), Black vega, or equal
    /// [default: inverse-spread; quotes without a spread, e.g. mid vols only, weigh equally].
    #[arg(long, value_enum)]
    weighting: Option<Weighting>,
    /// What the fits minimise: weighted vol residuals, or the distance outside [bid IV,
    /// ask IV] plus --mid-weight times the mid residual [default: vol].
    #[arg(long, value_enum)]
    objective: Option<ObjectiveName>,
    /// Weight of the mid term of `--objective bid-ask` (ignored by `vol`) [default: 0.2].
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    mid_weight: Option<f64>,
    /// Day count of times to expiry where the file gives none, stored in surface.json
    /// [default: act365].
    #[arg(long, value_enum)]
    day_count: Option<DayCount>,
    /// Calendar arbitrage between per-expiry fits: refit the later expiry with the earlier
    /// one as a floor, or only report it [default: repair].
    #[arg(long, value_enum)]
    calendar: Option<CalendarPolicy>,
    /// SABR's beta: `default` (1 for Black vols, 0.5 for normal vols), `fitted`, or a fixed
    /// value in [0, 1] [default: default].
    #[arg(long, value_name = "BETA", allow_negative_numbers = true)]
    sabr_beta: Option<BetaSetting>,
    /// An expiry with fewer usable quotes is dropped (listed in report.json) [default: 5].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    min_quotes: Option<usize>,
    /// Keep quotes the post-fit outlier rule would drop (more than 20 half-spreads and 5
    /// vol points from the fitted smile; dropped quotes are listed in report.json).
    /// `--keep-outliers=false` undoes a config file's `true`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keep_outliers: Option<bool>,
    /// Keep quotes without a bid (the no_bid filter off).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keep_no_bid: Option<bool>,
    /// Keep crossed (bid > ask) and locked (bid = ask) quotes.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keep_crossed_or_locked: Option<bool>,
    /// Keep quotes whose bid is one price tick (a stale floor order).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keep_one_tick_bid: Option<bool>,
    /// Drop quotes whose bid-ask vol spread is wider than this (0.5 = 50 vol points), or
    /// `off` [default: off].
    #[arg(long, value_name = "MAX|off", allow_negative_numbers = true)]
    max_iv_spread: Option<Limit>,
    /// Drop strikes with |ln(K/F)| above this, or `off` [default: 4.605 = ln 100].
    #[arg(long, value_name = "MAX|off", allow_negative_numbers = true)]
    max_log_moneyness: Option<Limit>,
    /// Drop vol quotes whose bid, ask (or mid) vol is above this, or `off` [default: 10].
    #[arg(long, value_name = "MAX|off", allow_negative_numbers = true)]
    max_vol: Option<Limit>,
    /// Smallest forward vol between consecutive served smiles: each expiry is served at
    /// least this squared times the time between them above the previous one at every
    /// strike [default: 0.01].
    #[arg(long, value_name = "VOL", allow_negative_numbers = true)]
    min_forward_vol: Option<f64>,
    /// The surface before its first expiry: flat implied vol in time, or no answer
    /// [default: flat-vol].
    #[arg(long, value_enum)]
    before_first: Option<BeforeFirstName>,
    /// The surface after its last expiry: constant forward variance, or no answer
    /// [default: forward-variance].
    #[arg(long, value_enum)]
    after_last: Option<AfterLastName>,
    /// Forward vol after the last expiry, or `off` for the last interval's ATM forward vol
    /// [default: off].
    #[arg(long, value_name = "VOL|off", allow_negative_numbers = true)]
    after_last_vol: Option<Limit>,
    /// Wings beyond each expiry's quoted range: the model's own, or linear in total
    /// variance with the edge slope [default: model].
    #[arg(long, value_enum)]
    wings: Option<volfit::surface::Wings>,
    /// Between expiries: total variance linear in time where that is butterfly-free, prices
    /// elsewhere (auto); prices everywhere; or total variance everywhere [default: auto].
    #[arg(long, value_enum)]
    between: Option<volfit::surface::Between>,
    /// Roughness weight λ of the spline smile (`--model spline`) [default: 1e-8].
    #[arg(long, value_name = "LAMBDA")]
    spline_smoothing: Option<f64>,
}

impl OptionFlags {
    /// The flags given, as a partial config.
    fn given(&self) -> CalibrateConfig {
        CalibrateConfig {
            model: self.model,
            optimizer: self.optimizer,
            weighting: self.weighting,
            objective: self.objective,
            mid_weight: self.mid_weight,
            day_count: self.day_count,
            calendar: self.calendar,
            sabr_beta: self.sabr_beta,
            min_quotes: self.min_quotes,
            keep_outliers: self.keep_outliers,
            keep_no_bid: self.keep_no_bid,
            keep_crossed_or_locked: self.keep_crossed_or_locked,
            keep_one_tick_bid: self.keep_one_tick_bid,
            max_iv_spread: self.max_iv_spread,
            max_log_moneyness: self.max_log_moneyness,
            max_vol: self.max_vol,
            min_forward_vol: self.min_forward_vol,
            before_first: self.before_first,
            after_last: self.after_last,
            after_last_vol: self.after_last_vol,
            wings: self.wings,
            between: self.between,
            spline_smoothing: self.spline_smoothing,
        }
    }

    /// The effective options: flags over the `--config` file over the library defaults, and
    /// their complete table (what report.json echoes).
    pub fn resolve(&self) -> anyhow::Result<(SurfaceOptions, CalibrateConfig)> {
        let file = match &self.config {
            Some(path) => read_config(path)?,
            None => CalibrateConfig::default(),
        };
        let mut opts = SurfaceOptions::default();
        self.given()
            .or(file)
            .apply(&mut opts)
            .with_context(|| match &self.config {
                Some(p) => format!("options (flags and {})", p.display()),
                None => "options".into(),
            })?;
        let echo = CalibrateConfig::from_options(&opts);
        Ok((opts, echo))
    }
}

/// A `--config` file: TOML holding keys of [`CalibrateConfig`]; an unknown key or a bad value
/// is an error naming the key, its line and the file.
fn read_config(path: &Path) -> anyhow::Result<CalibrateConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "config file {}: {}",
            shown(&path.display().to_string()),
            e.to_string().trim_end()
        )
    })
}

/// Options of one `calibrate` run.
pub struct Args {
    pub input: String,
    pub format: Format,
    pub underlying: Option<String>,
    /// The effective calibration options.
    pub opts: SurfaceOptions,
    /// Their complete table, echoed in report.json.
    pub echo: CalibrateConfig,
    pub out: PathBuf,
    pub plots: bool,
    pub strict: bool,
    /// `--prior`: the surface the fits are warm-started from.
    pub prior: Option<FittedSurface>,
}

/// Expands the input: a file, a directory (its `.csv` and `.json` files) or a glob, sorted
/// (the order of the collision rule of [`assign_components`]).
pub(super) fn inputs(spec: &str) -> anyhow::Result<Vec<PathBuf>> {
    let p = Path::new(spec);
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot list {spec}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.is_file()
                    && f.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("csv") || x.eq_ignore_ascii_case("json")
                    })
            })
            .collect();
        v.sort();
        if v.is_empty() {
            bail!("{spec}: the directory holds no .csv or .json file");
        }
        return Ok(v);
    }
    let mut v: Vec<PathBuf> = glob::glob(spec)
        .with_context(|| format!("{spec}: not a file, directory or valid glob pattern"))?
        .filter_map(Result::ok)
        .filter(|f| f.is_file())
        .collect();
    if v.is_empty() {
        bail!("{spec}: no such file, directory, or files matching the pattern");
    }
    v.sort();
    Ok(v)
}

/// `s` for a terminal: as it is, or quoted and escaped when it holds control characters.
pub(super) fn shown(s: &str) -> String {
    if s.chars().any(char::is_control) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// Why `name` was given the directory `components[i]` rather than its own name (`None` when
/// it kept it): `label(j)` names the input `j` whose directory name it collided with.
pub(super) fn renamed(
    names: &[String],
    components: &[String],
    i: usize,
    label: impl Fn(usize) -> String,
) -> Option<String> {
    let (name, got) = (&names[i], &components[i]);
    if got == name {
        return None;
    }
    let wanted = path_component(name);
    if &wanted == got {
        return Some("made a safe directory name".into());
    }
    let first = (0..i)
        .find(|&j| path_component(&names[j]).eq_ignore_ascii_case(&wanted))
        .map_or_else(|| "another input".into(), label);
    Some(format!(
        "directory name {wanted:?} already taken by {first}, ignoring case"
    ))
}

/// One unit of work: an underlying of a file.
struct Job {
    file: PathBuf,
    chain: Chain,
    ingest: IngestReport,
    ingest_micros: f64,
    dir: PathBuf,
}

/// Runs `volfit calibrate`.
pub fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let files = inputs(&a.input)?;
    let several_files = files.len() > 1;
    // Directory names: every file's stem (several files) and every underlying's (several in a
    // file) made one safe path component, and apart ignoring case, in sorted input order.
    let stems: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        })
        .collect();
    let file_dirs = assign_components(&stems);
    let mut jobs = Vec::new();
    let mut problems = 0usize;
    for (fi, file) in files.iter().enumerate() {
        let clock = Instant::now();
        let (chains, ingest) = match read_chains(file, a.format) {
            Ok(x) => x,
            Err(e) if several_files => {
                eprintln!(
                    "volfit: skipping {}: {e}",
                    shown(&file.display().to_string())
                );
                problems += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let ingest_micros = clock.elapsed().as_secs_f64() * 1e6;
        if chains.is_empty() {
            let msg = format!(
                "{}: no quotes: {}",
                shown(&file.display().to_string()),
                ingest.why_empty()
            );
            if several_files {
                eprintln!("volfit: skipping {msg}");
                problems += 1;
                continue;
            }
            bail!("{msg}");
        }
        let names: Vec<String> = chains.iter().map(|c| shown(&c.underlying)).collect();
        let chosen: Vec<Chain> = match &a.underlying {
            Some(u) => {
                let c: Vec<Chain> = chains
                    .into_iter()
                    .filter(|c| c.underlying.eq_ignore_ascii_case(u))
                    .collect();
                if c.is_empty() {
                    let msg = format!(
                        "{}: no underlying {u:?} (the file holds {})",
                        shown(&file.display().to_string()),
                        names.join(", ")
                    );
                    if several_files {
                        eprintln!("volfit: skipping {msg}");
                        problems += 1;
                        continue;
                    }
                    bail!("{msg}");
                }
                c
            }
            None => chains,
        };
        let mut base = a.out.clone();
        if several_files {
            base.push(&file_dirs[fi]);
            if let Some(why) = renamed(&stems, &file_dirs, fi, |j| files[j].display().to_string()) {
                eprintln!(
                    "volfit: note: {} -> {} ({why})",
                    shown(&file.display().to_string()),
                    shown(&base.display().to_string())
                );
            }
        }
        let underlyings: Vec<String> = chosen.iter().map(|c| c.underlying.clone()).collect();
        let several_underlyings = underlyings.len() > 1;
        let under_dirs = assign_components(&underlyings);
        for (ui, chain) in chosen.into_iter().enumerate() {
            let mut dir = base.clone();
            if several_underlyings {
                dir.push(&under_dirs[ui]);
                if let Some(why) = renamed(&underlyings, &under_dirs, ui, |j| {
                    format!("{:?}", underlyings[j])
                }) {
                    eprintln!(
                        "volfit: note: {} underlying {:?} -> {} ({why})",
                        shown(&file.display().to_string()),
                        chain.underlying,
                        shown(&dir.display().to_string())
                    );
                }
            }
            jobs.push(Job {
                file: file.clone(),
                chain,
                ingest: ingest.clone(),
                ingest_micros,
                dir,
            });
        }
    }
    if jobs.is_empty() {
        bail!("nothing to calibrate in {}", a.input);
    }
    let bar = if jobs.len() > 1 {
        let b = ProgressBar::new(jobs.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{spinner} calibrating [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<(String, anyhow::Result<Done>)> = jobs
        .par_iter()
        .map(|j| {
            let label = shown(&format!("{} {}", j.file.display(), j.chain.underlying));
            let r = calibrate_one(j, a);
            bar.inc(1);
            bar.set_message(shown(&j.chain.underlying));
            (label, r)
        })
        .collect();
    bar.finish_and_clear();
    let mut flagged = 0usize;
    for (label, r) in &results {
        match r {
            Ok(done) => {
                println!("{}", done.summary);
                flagged += done.run.flagged;
            }
            Err(e) => {
                eprintln!("volfit: {label}: {e:#}");
                problems += 1;
            }
        }
    }
    // A directory or glob: an index page over the chains' review pages.
    if !Path::new(&a.input).is_file() && a.plots {
        let entries: Vec<IndexEntry> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|d| IndexEntry {
                page: d.page.clone(),
                run: d.run.clone(),
            })
            .collect();
        if !entries.is_empty() {
            let index = a.out.join("index.html");
            write_index_page(&index, &entries)
                .with_context(|| format!("cannot write {}", index.display()))?;
            println!(
                "index of {} chains -> {}",
                entries.len(),
                shown(&index.display().to_string())
            );
        }
    }
    if a.strict && flagged > 0 {
        eprintln!("volfit: --strict: {flagged} expiries flagged (see report.html / report.json)");
    }
    // 0: everything calibrated; 1: some inputs failed, others were written; 2: nothing was.
    let written = results.iter().filter(|(_, r)| r.is_ok()).count();
    Ok(if problems == 0 && !(a.strict && flagged > 0) {
        ExitCode::SUCCESS
    } else if written > 0 || problems == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    })
}

/// What one calibration wrote: its summary line, run report and review page.
struct Done {
    summary: String,
    run: RunReport,
    page: PathBuf,
}

/// A calibration that fitted no expiry: report.json with the reasons (rejected rows, dropped
/// and failed expiries, `error`), no surface.json (a previous run's is removed), and the error.
fn write_failure(
    j: &Job,
    a: &Args,
    why: &str,
    report: &SurfaceReport,
    clock: Instant,
) -> anyhow::Result<Done> {
    std::fs::create_dir_all(&j.dir)
        .with_context(|| format!("cannot create {}", j.dir.display()))?;
    let stale = j.dir.join("surface.json");
    remove_if_present(&stale).with_context(|| format!("cannot remove {}", stale.display()))?;
    let mut json = run_report(j, a, report);
    json.error = Some(format!("no expiry could be fitted: {why}"));
    json.timing_micros.total = j.ingest_micros + clock.elapsed().as_secs_f64() * 1e6;
    let path = j.dir.join("report.json");
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    bail!(
        "no expiry could be fitted: {why} (no surface written; the reasons are in {})",
        shown(&path.display().to_string())
    )
}

/// Removes `dir/report.html` and the charts in `dir/plots` an earlier run wrote.
fn remove_previous_page(dir: &Path) -> anyhow::Result<()> {
    let page = dir.join("report.html");
    remove_if_present(&page).with_context(|| format!("cannot remove {}", page.display()))?;
    let plots = dir.join("plots");
    if plots.is_dir() {
        remove_stale_charts(&plots, &[])
            .with_context(|| format!("cannot remove stale charts in {}", plots.display()))?;
    }
    Ok(())
}

/// The run report of job `j` with the options echoed (the total is set by the caller).
fn run_report(j: &Job, a: &Args, report: &SurfaceReport) -> RunReport {
    let mut json = RunReport::new(
        &j.file.display().to_string(),
        &j.ingest,
        &j.chain,
        report,
        j.ingest_micros,
        0.0,
    );
    json.options = Some(a.echo);
    json
}

fn calibrate_one(j: &Job, a: &Args) -> anyhow::Result<Done> {
    let clock = Instant::now();
    let opts = &a.opts;
    let calibrated = match &a.prior {
        Some(p) => calibrate_surface_from_or_report(&j.chain, opts, p),
        None => calibrate_surface_or_report(&j.chain, opts),
    };
    let (surface, report) = match calibrated {
        Ok(x) => x,
        Err(CalibrationFailure {
            error: SurfaceError::Empty(why),
            report,
        }) => return write_failure(j, a, &why, &report, clock),
        Err(f) => {
            return Err(f.error)
                .with_context(|| shown(&format!("{}: {}", j.file.display(), j.chain.underlying)));
        }
    };
    if let Some(p) = &report.prior {
        eprintln!("volfit: note: {}", prior_note(j, p));
    }
    std::fs::create_dir_all(&j.dir)
        .with_context(|| format!("cannot create {}", j.dir.display()))?;
    surface.save(j.dir.join("surface.json"))?;
    let mut json = run_report(j, a, &report);
    json.day_count = surface.day_count();
    let page = j.dir.join("report.html");
    let mut plot_note = String::new();
    let mut charts = Vec::new();
    if a.plots {
        // Overlay the other per-expiry model on the skew charts (SABR over SVI and vice versa).
        let other = if opts.model == SurfaceModel::Sabr {
            SurfaceModel::Svi
        } else {
            SurfaceModel::Sabr
        };
        let overlay = calibrate_surface(
            &j.chain,
            &SurfaceOptions {
                model: other,
                ..opts.clone()
            },
        )
        .ok();
        charts = render_all(
            &ChartInput {
                surface: &surface,
                report: &report,
                overlay: overlay.as_ref().map(|(s, _)| (other.name(), s)),
            },
            &j.dir.join("plots"),
            &[ImageFormat::Png, ImageFormat::Svg],
        )?;
        plot_note = format!(", {} charts, report.html", charts.len());
    }
    // The total: reading the file to the charts drawn. The page, report.json and the summary
    // line all show this one number (writing the page and report.json is not in it).
    json.timing_micros.total = j.ingest_micros + clock.elapsed().as_secs_f64() * 1e6;
    if a.plots {
        write_review_page(&page, &json, &charts)
            .with_context(|| format!("cannot write {}", page.display()))?;
        // Only now, with the new page linking the new charts, the old ones go.
        let plots = j.dir.join("plots");
        remove_stale_charts(&plots, &charts)
            .with_context(|| format!("cannot remove stale charts in {}", plots.display()))?;
    } else {
        // --no-plots into a reused directory: an earlier run's page and charts describe
        // another snapshot, so they go (only the files volfit names).
        remove_previous_page(&j.dir)?;
    }
    let timing = json.timing_micros;
    let path = j.dir.join("report.json");
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let summary = format!(
        "{} {}: {} expiries ({} flagged, {} failed), calendar-free {}, {:.1} ms -> {}{plot_note}",
        shown(&j.file.display().to_string()),
        shown(&report.underlying),
        report.slices.len(),
        json.flagged,
        report.failed.len(),
        report.calendar.calendar_free,
        timing.total / 1e3,
        shown(&j.dir.display().to_string())
    );
    Ok(Done {
        summary,
        run: json,
        page,
    })
}

/// One line on how `--prior` was used: the expiries warm-started and, grouped by reason, the
/// ones that started cold.
fn prior_note(j: &Job, p: &volfit::surface::PriorReport) -> String {
    let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
    for c in &p.cold {
        let label = c.expiry.map_or_else(
            || format!("t = {:.4}", c.t),
            |e| e.format("%Y-%m-%d").to_string(),
        );
        match reasons.iter_mut().find(|(r, _)| *r == c.reason) {
            Some((_, v)) => v.push(label),
            None => reasons.push((&c.reason, vec![label])),
        }
    }
    let cold: Vec<String> = reasons
        .iter()
        .map(|(r, v)| format!("{} ({r})", v.join(", ")))
        .collect();
    format!(
        "{} {}: {} of {} expiries warm-started from --prior{}",
        shown(&j.file.display().to_string()),
        shown(&j.chain.underlying),
        p.warm,
        p.warm + p.cold.len(),
        if cold.is_empty() {
            String::new()
        } else {
            format!("; cold: {}", cold.join("; "))
        }
    )
}
