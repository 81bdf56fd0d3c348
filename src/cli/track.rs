//! `volfit track`: a series of chain snapshots (or a stream of quote updates) through one
//! [`Tracker`] per underlying → `timeseries.csv`, `track.json`, `surface.json`,
//! `surfaces/NNNN.json` and `track.html` in `OUT/<UNDERLYING>/`.
//!
//! Two inputs, one output path:
//! * [`replay`]: a directory or glob of snapshot files, read, sorted by each chain's `as_of`
//!   and fed to [`Tracker::update_chain`];
//! * [`track_stream`]: quote updates ([`StreamQuote`]) fed to [`Tracker::apply_quote`], with
//!   one [`Tracker::refresh`] per `--interval` seconds of message time. Its input comes from
//!   [`stdin_updates`], the hook of the JSON-lines parser (not in this build).

use super::calibrate::{inputs, renamed, shown};
use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use volfit::OptionKind;
use volfit::live::tenor::{TENOR_DAYS, tenor_samples};
use volfit::live::{
    FailedRefit, FilterKind, GatedQuote, TrackError, Tracker, TrackerOptions, UpdateReport,
    chi2_band,
};
use volfit::output::{assign_components, write_atomic};
use volfit::plot::{TrackPage, TrackSummary, TrackUpdate, write_track_page};
use volfit::quotes::{Chain, Format, OptionQuote, Premium, read_chains};
use volfit::surface::{FittedSurface, SurfaceModel};

/// The `track.json` format version.
const TRACK_FORMAT_VERSION: u32 = 1;

/// How often a stream's outputs are rewritten while it runs (wall time).
const STREAM_CHECKPOINT_SECONDS: f64 = 10.0;

/// Options of one `track` run.
pub struct Args {
    pub input: String,
    pub underlying: Option<String>,
    pub model: SurfaceModel,
    pub filter: FilterKind,
    pub out: PathBuf,
    pub surfaces: bool,
    pub plots: bool,
    /// Seconds of message time between refreshes of a stream (`-`).
    pub interval: f64,
}

impl Args {
    /// The tracker options of the run.
    fn options(&self) -> TrackerOptions {
        TrackerOptions {
            model: self.model,
            filter: self.filter,
            ..TrackerOptions::default()
        }
    }
}

/// Runs `volfit track`.
pub fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let opts = a.options();
    // Options the tracker cannot run (the Kalman filter on a model other than SVI) are a usage
    // error, in the library's words, before any input is read.
    Tracker::new("", opts.clone())?;
    if !(a.interval > 0.0 && a.interval.is_finite()) {
        bail!(
            "--interval must be a positive number of seconds, got {}",
            a.interval
        );
    }
    if a.input == "-" {
        let (source, updates) = stdin_updates(std::io::stdin().lock())?;
        return track_stream(updates, &source, a, &opts);
    }
    replay(a, &opts)
}

/// One underlying's tracker, the updates it made, and where they go.
struct Track {
    underlying: String,
    dir: PathBuf,
    tracker: Tracker,
    updates: Vec<TrackUpdate>,
    /// The input of each update (file, or `-`).
    sources: Vec<String>,
    /// Updates that gave no surface: (source, reason).
    skipped: Vec<(String, String)>,
    /// The surface before the latest distinct one (the page's "what changed").
    previous: Option<Arc<FittedSurface>>,
}

impl Track {
    fn new(underlying: &str, dir: PathBuf, opts: &TrackerOptions) -> anyhow::Result<Self> {
        Ok(Track {
            underlying: underlying.to_string(),
            dir,
            tracker: Tracker::new(underlying, opts.clone())?,
            updates: Vec::new(),
            sources: Vec::new(),
            skipped: Vec::new(),
            previous: None,
        })
    }

    /// One update: `f` runs it on the tracker; a surface that came out of it is sampled at
    /// the tenors (and saved as `surfaces/NNNN.json` with `--surfaces`); an update that gave
    /// none is reported on stderr and listed, never fatal.
    ///
    /// With `startup`, an update that finds no expiry to fit before the tracker has its first
    /// surface is not reported: a stream is still gathering its first quotes.
    fn step(
        &mut self,
        source: &str,
        a: &Args,
        startup: bool,
        f: impl FnOnce(&mut Tracker) -> Result<UpdateReport, TrackError>,
    ) -> anyhow::Result<()> {
        let before = self.tracker.surface();
        match f(&mut self.tracker) {
            Err(TrackError::Surface(_)) if startup && before.is_none() => {}
            Ok(report) => {
                let after = self.tracker.surface();
                let changed = match (&before, &after) {
                    (Some(b), Some(n)) => !Arc::ptr_eq(b, n),
                    _ => false,
                };
                if changed {
                    self.previous = before;
                }
                if a.surfaces
                    && let Some(s) = &after
                {
                    let dir = self.dir.join("surfaces");
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    s.save(dir.join(surface_name(self.updates.len())))?;
                }
                let samples = tenor_samples(&self.tracker, &TENOR_DAYS);
                self.updates.push(TrackUpdate { report, samples });
                self.sources.push(source.to_string());
            }
            Err(e) => {
                eprintln!(
                    "volfit: {} {}: update skipped: {e}",
                    shown(source),
                    shown(&self.underlying)
                );
                self.skipped.push((source.to_string(), e.to_string()));
            }
        }
        Ok(())
    }

    /// The headline numbers of the updates so far.
    fn summary(&self) -> TrackSummary {
        let reports: Vec<&UpdateReport> = self.updates.iter().map(|u| &u.report).collect();
        let mut micros: Vec<f64> = reports.iter().map(|r| r.update_micros).collect();
        micros.sort_by(f64::total_cmp);
        let inside: Vec<f64> = reports.iter().filter_map(|r| r.within_spread).collect();
        let (nis, dof) = reports
            .iter()
            .filter_map(|r| Some((r.nis?, r.nis_dof)))
            .fold((0.0, 0usize), |(n, d), (x, k)| (n + x, d + k));
        let d = dof as f64;
        TrackSummary {
            updates: reports.len(),
            skipped: self.skipped.len(),
            median_update_micros: micros.get(micros.len() / 2).copied(),
            mean_within_spread: (!inside.is_empty())
                .then(|| inside.iter().sum::<f64>() / inside.len() as f64),
            nis_per_dof: (dof > 0).then(|| nis / d),
            nis_band_per_dof: (dof > 0).then(|| chi2_band(dof).map(|b| b / d)),
            nis_dof: dof,
            gated: reports.iter().map(|r| r.gated.len()).sum(),
        }
    }

    /// The summary line printed at the end of the run.
    fn summary_line(&self) -> String {
        let s = self.summary();
        let nis = match (s.nis_per_dof, s.nis_band_per_dof) {
            (Some(n), Some([lo, hi])) => format!(
                "NIS/dof {n:.3} ({} 95% band {lo:.3}-{hi:.3}, {} dof)",
                if (lo..=hi).contains(&n) {
                    "inside"
                } else {
                    "OUTSIDE"
                },
                s.nis_dof
            ),
            _ if self.tracker.options().filter == FilterKind::None => "no filter".into(),
            _ => "no NIS (no prediction yet)".into(),
        };
        format!(
            "{}: {} update{}{}, median update {}, inside bid/ask {} (mean), {nis}, {} gated -> {}",
            shown(&self.underlying),
            s.updates,
            if s.updates == 1 { "" } else { "s" },
            if s.skipped > 0 {
                format!(" ({} skipped)", s.skipped)
            } else {
                String::new()
            },
            s.median_update_micros
                .map_or_else(|| "-".into(), |m| format!("{:.1} ms", m / 1e3)),
            s.mean_within_spread
                .map_or_else(|| "-".into(), |v| format!("{:.1}%", 100.0 * v)),
            s.gated,
            shown(&self.dir.display().to_string())
        )
    }

    /// Writes every output of the track so far (each file atomically); returns an error when
    /// no update gave a surface (track.json is written with the reasons).
    fn write(&self, a: &Args) -> anyhow::Result<()> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let csv_path = dir.join("timeseries.csv");
        write_atomic(&csv_path, timeseries_csv(&self.updates)?.as_bytes())
            .with_context(|| format!("cannot write {}", csv_path.display()))?;
        let json_path = dir.join("track.json");
        let json = serde_json::to_string_pretty(&self.file(a))?;
        write_atomic(&json_path, json.as_bytes())
            .with_context(|| format!("cannot write {}", json_path.display()))?;
        remove_stale_surfaces(dir, if a.surfaces { self.updates.len() } else { 0 })?;
        let latest = self.tracker.surface();
        match &latest {
            Some(s) => s.save(dir.join("surface.json"))?,
            None => remove_if_present(&dir.join("surface.json"))?,
        }
        let page = dir.join("track.html");
        if a.plots {
            write_track_page(
                &page,
                &TrackPage {
                    underlying: &self.underlying,
                    filter: self.tracker.options().filter,
                    model: self.tracker.options().model,
                    input: &a.input,
                    summary: self.summary(),
                    updates: &self.updates,
                    latest: latest.as_deref(),
                    previous: self.previous.as_deref(),
                    skipped: &self.skipped,
                },
            )?;
        } else {
            // --no-plots into a reused directory: an earlier run's page describes other data.
            remove_if_present(&page)?;
        }
        if latest.is_none() {
            bail!(
                "{}: no update gave a surface (the reasons are in {})",
                shown(&self.underlying),
                shown(&json_path.display().to_string())
            );
        }
        Ok(())
    }

    /// `track.json`.
    fn file<'a>(&'a self, a: &'a Args) -> TrackFile<'a> {
        TrackFile {
            format: "volfit-track",
            version: TRACK_FORMAT_VERSION,
            underlying: &self.underlying,
            filter: self.tracker.options().filter,
            model: self.tracker.options().model,
            input: &a.input,
            options: self.tracker.options(),
            tenor_days: TENOR_DAYS,
            summary: self.summary(),
            updates: self
                .updates
                .iter()
                .zip(&self.sources)
                .enumerate()
                .map(|(i, (u, source))| {
                    let r = &u.report;
                    UpdateJson {
                        index: i,
                        as_of: r.as_of,
                        source,
                        update_micros: r.update_micros,
                        expiries_refitted: &r.expiries_refitted,
                        quotes_used: r.quotes_used,
                        within_spread: r.within_spread,
                        gated: r.gated.len(),
                        nis: r.nis,
                        nis_dof: r.nis_dof,
                        nis_band: r.nis_band,
                        expiries_listed: &r.expiries_listed,
                        expiries_retired: &r.expiries_retired,
                        gated_quotes: &r.gated,
                        failed: &r.failed,
                        surface: a.surfaces.then(|| format!("surfaces/{}", surface_name(i))),
                    }
                })
                .collect(),
            skipped: self
                .skipped
                .iter()
                .map(|(source, reason)| SkippedJson { source, reason })
                .collect(),
        }
    }
}

/// `track.json`: the contract's `underlying`, `filter`, `updates` and more.
#[derive(Serialize)]
struct TrackFile<'a> {
    format: &'static str,
    version: u32,
    underlying: &'a str,
    filter: FilterKind,
    model: SurfaceModel,
    input: &'a str,
    /// The effective tracker options.
    options: &'a TrackerOptions,
    tenor_days: [f64; 4],
    summary: TrackSummary,
    updates: Vec<UpdateJson<'a>>,
    skipped: Vec<SkippedJson<'a>>,
}

/// One update of `track.json`: the contract's fields first (`gated` is the count; the
/// quotes are `gated_quotes`).
#[derive(Serialize)]
struct UpdateJson<'a> {
    index: usize,
    as_of: DateTime<Utc>,
    source: &'a str,
    update_micros: f64,
    expiries_refitted: &'a [DateTime<Utc>],
    quotes_used: usize,
    within_spread: Option<f64>,
    gated: usize,
    nis: Option<f64>,
    nis_dof: usize,
    nis_band: Option<[f64; 2]>,
    expiries_listed: &'a [DateTime<Utc>],
    expiries_retired: &'a [DateTime<Utc>],
    gated_quotes: &'a [GatedQuote],
    failed: &'a [FailedRefit],
    /// `surfaces/NNNN.json`, with `--surfaces`.
    surface: Option<String>,
}

/// An update that gave no surface.
#[derive(Serialize)]
struct SkippedJson<'a> {
    source: &'a str,
    reason: &'a str,
}

/// The file name of update `i`'s surface.
fn surface_name(i: usize) -> String {
    format!("{i:04}.json")
}

/// Whether `name` is one of the `surfaces/NNNN.json` names this command writes.
fn is_surface_name(name: &str) -> Option<usize> {
    let stem = name.strip_suffix(".json")?;
    (stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// Removes `surfaces/NNNN.json` files of an earlier run numbered `keep` or above (only those
/// names; the directory itself when that leaves it empty).
fn remove_stale_surfaces(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let sdir = dir.join("surfaces");
    let Ok(entries) = std::fs::read_dir(&sdir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let stale = name
            .to_str()
            .and_then(is_surface_name)
            .is_some_and(|i| i >= keep);
        if stale && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("cannot remove {}", e.path().display()))?;
        }
    }
    if keep == 0 {
        // Only succeeds when empty: other files stay.
        let _ = std::fs::remove_dir(&sdir);
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    volfit::output::remove_if_present(path)
        .with_context(|| format!("cannot remove {}", path.display()))
}

/// `timeseries.csv`: one row per update and tenor, the contract's columns first (`as_of,
/// tenor_days, atm_vol, rr25, bf25`, decimals), then `atm_sd`; empty cells where there is no
/// value.
fn timeseries_csv(updates: &[TrackUpdate]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["as_of", "tenor_days", "atm_vol", "rr25", "bf25", "atm_sd"])?;
    let cell = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or_else(String::new, |v| v.to_string())
    };
    for u in updates {
        let at = u.report.as_of.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        for s in &u.samples {
            let p = s.point;
            w.write_record([
                at.clone(),
                s.days.to_string(),
                cell(p.map(|p| p.atm_vol)),
                cell(p.and_then(|p| p.rr25)),
                cell(p.and_then(|p| p.bf25)),
                cell(s.atm_sd),
            ])?;
        }
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(csv::IntoInnerError::into_error)?,
    )?)
}

/// One snapshot of one underlying, from a file.
struct Snapshot {
    file: PathBuf,
    chain: Chain,
}

/// The directory of each underlying, in order of first sight: `OUT/<component>` by the rule
/// of `volfit calibrate` ([`assign_components`]), with a note for each renamed one.
fn underlying_dirs(out: &Path, names: &[String]) -> Vec<PathBuf> {
    let components = assign_components(names);
    (0..names.len())
        .map(|i| {
            let dir = out.join(&components[i]);
            if let Some(why) = renamed(names, &components, i, |j| format!("{:?}", names[j])) {
                eprintln!(
                    "volfit: note: underlying {:?} -> {} ({why})",
                    names[i],
                    shown(&dir.display().to_string())
                );
            }
            dir
        })
        .collect()
}

/// The exit code of a run: 0 clean; 1 some input, update or underlying failed and something
/// was written; 2 nothing was.
fn exit_code(problems: usize, written: usize) -> ExitCode {
    if problems == 0 {
        ExitCode::SUCCESS
    } else if written > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}

/// Replays a directory or glob of snapshots: every file read (a file that fails is reported
/// with its name and skipped), the chains sorted by their `as_of`, one tracker per
/// underlying, created on first sight.
fn replay(a: &Args, opts: &TrackerOptions) -> anyhow::Result<ExitCode> {
    let files = inputs(&a.input)?;
    let read: Vec<_> = files
        .par_iter()
        .map(|f| (f, read_chains(f, Format::Auto)))
        .collect();
    let mut problems = 0usize;
    let mut snapshots = Vec::new();
    for (file, r) in read {
        let name = shown(&file.display().to_string());
        let (chains, ingest) = match r {
            Ok(x) => x,
            Err(e) => {
                eprintln!("volfit: skipping {name}: {e}");
                problems += 1;
                continue;
            }
        };
        if chains.is_empty() {
            eprintln!("volfit: skipping {name}: no quotes: {}", ingest.why_empty());
            problems += 1;
            continue;
        }
        let held: Vec<String> = chains.iter().map(|c| shown(&c.underlying)).collect();
        let chosen: Vec<Chain> = chains
            .into_iter()
            .filter(|c| {
                a.underlying
                    .as_ref()
                    .is_none_or(|u| c.underlying.eq_ignore_ascii_case(u))
            })
            .collect();
        if chosen.is_empty() {
            eprintln!(
                "volfit: skipping {name}: no underlying {:?} (the file holds {})",
                a.underlying.as_deref().unwrap_or_default(),
                held.join(", ")
            );
            problems += 1;
            continue;
        }
        for chain in chosen {
            if chain.as_of.is_none() {
                eprintln!(
                    "volfit: skipping {name} {}: the chain has no snapshot time to order it by",
                    shown(&chain.underlying)
                );
                problems += 1;
                continue;
            }
            snapshots.push(Snapshot {
                file: file.clone(),
                chain,
            });
        }
    }
    if snapshots.is_empty() {
        bail!("nothing to track in {}", shown(&a.input));
    }
    // Time order by the chains' own snapshot times (file names only break ties).
    snapshots.sort_by(|x, y| {
        x.chain
            .as_of
            .cmp(&y.chain.as_of)
            .then_with(|| x.file.cmp(&y.file))
    });
    let mut names: Vec<String> = Vec::new();
    let mut series: Vec<Vec<Snapshot>> = Vec::new();
    for s in snapshots {
        if let Some(i) = names.iter().position(|n| *n == s.chain.underlying) {
            series[i].push(s);
        } else {
            names.push(s.chain.underlying.clone());
            series.push(vec![s]);
        }
    }
    let dirs = underlying_dirs(&a.out, &names);
    let total: usize = series.iter().map(Vec::len).sum();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} tracking [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results: Vec<(String, anyhow::Result<Track>)> = series
        .into_par_iter()
        .zip(dirs)
        .zip(&names)
        .map(|((snaps, dir), name)| {
            let r = (|| {
                let mut track = Track::new(name, dir, opts)?;
                for s in &snaps {
                    let source = s.file.display().to_string();
                    track.step(&source, a, false, |t| t.update_chain(&s.chain))?;
                    bar.inc(1);
                    bar.set_message(shown(name));
                }
                track.write(a)?;
                Ok(track)
            })();
            (name.clone(), r)
        })
        .collect();
    bar.finish_and_clear();
    let mut written = 0usize;
    for (name, r) in &results {
        match r {
            Ok(track) => {
                println!("{}", track.summary_line());
                problems += track.skipped.len();
                written += 1;
            }
            Err(e) => {
                eprintln!("volfit: {}: {e:#}", shown(name));
                problems += 1;
            }
        }
    }
    Ok(exit_code(problems, written))
}

/// One quote update of a stream: the underlying it belongs to, its message time and the
/// quote (its `expiry`, `strike`, `kind`, `bid`, `ask`, `forward`, … as a chain reader gives
/// them).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamQuote {
    /// The underlying (`BTC`, `ETH`).
    pub underlying: String,
    /// The message time.
    pub at: DateTime<Utc>,
    /// The quote.
    pub quote: OptionQuote,
}

/// What the chains a stream builds are quoted in (the parser knows its exchange).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSource {
    /// Unit of the premiums (Deribit: coin).
    pub premium: Premium,
    /// Minimum price increment (the one-tick-bid filter).
    pub tick: Option<f64>,
    /// The format the quotes were read as.
    pub format: Format,
}

/// The quote updates of a JSON-lines stream of Deribit ticker messages on standard input
/// ([`volfit::live::stream`]): one `Err(message)` naming the line and field per line that does
/// not parse (reported and skipped; the stream goes on).
#[allow(clippy::unnecessary_wraps)] // the signature of a reader that can refuse a stream
fn stdin_updates(
    reader: impl std::io::BufRead + 'static,
) -> anyhow::Result<(
    StreamSource,
    Box<dyn Iterator<Item = Result<StreamQuote, String>>>,
)> {
    let mut it = volfit::live::stream::updates(reader);
    let quotes = std::iter::from_fn(move || {
        let r = it.next()?;
        let line = it.line();
        Some(match r {
            Ok(u) => Ok(StreamQuote {
                underlying: u.underlying.clone(),
                at: u.time,
                quote: u.to_option_quote(line),
            }),
            Err(e) => Err(e.to_string()),
        })
    });
    let source = StreamSource {
        premium: Premium::Coin,
        tick: Some(volfit::quotes::deribit::TICK),
        format: Format::Deribit,
    };
    Ok((source, Box::new(quotes)))
}

/// One underlying of a stream: its track, the latest quote of every option seen (the book a
/// chain is built from when new expiries appear), and the refresh window.
struct StreamTrack {
    track: Track,
    book: BTreeMap<(DateTime<Utc>, u64, bool), OptionQuote>,
    /// Expiries the tracker holds (a quote of another one lists it through a chain).
    known: BTreeSet<DateTime<Utc>>,
    /// Start of the current refresh window (message time).
    window: Option<DateTime<Utc>>,
    /// Latest message time applied.
    last: Option<DateTime<Utc>>,
    /// Quotes applied since the last refresh.
    pending: bool,
    /// A quote of an expiry the tracker does not hold arrived since the last refresh.
    relist: bool,
    /// Wall time of the last write of the outputs.
    written: Option<Instant>,
}

impl StreamTrack {
    /// The chain of the book at `at`.
    fn chain(&self, at: DateTime<Utc>, source: &StreamSource) -> Chain {
        Chain {
            underlying: self.track.underlying.clone(),
            as_of: Some(at),
            spot: self.book.values().rev().find_map(|q| q.spot),
            premium: source.premium,
            tick: source.tick,
            format: source.format,
            source: PathBuf::from("-"),
            quotes: self.book.values().cloned().collect(),
        }
    }

    /// The refresh at the end of a window: a whole chain from the book when the tracker has
    /// no surface yet or a new expiry was quoted, else [`Tracker::refresh`].
    fn flush(&mut self, a: &Args, source: &StreamSource) -> anyhow::Result<()> {
        let Some(at) = self.last.filter(|_| self.pending) else {
            return Ok(());
        };
        let startup = self.track.tracker.surface().is_none();
        if self.relist || startup {
            let chain = self.chain(at, source);
            self.track.step("-", a, true, |t| t.update_chain(&chain))?;
            self.known = self.track.tracker.expiries().into_iter().collect();
            // Until the first surface every window lists through a chain again.
            self.relist = self.track.tracker.surface().is_none();
        } else {
            self.track.step("-", a, false, |t| t.refresh(at))?;
        }
        self.pending = false;
        Ok(())
    }
}

/// Tracks a stream of quote updates: each quote goes to its underlying's tracker
/// ([`Tracker::apply_quote`]; a quote of an expiry the tracker does not hold yet lists it
/// through a whole chain built from the latest quotes), and once per `--interval` seconds of
/// message time the tracker refreshes (the update at the window's last message time). The
/// outputs are rewritten every few seconds of wall time and at the end of the stream. A
/// message that does not parse (`Err`) is reported and skipped (exit code 1 at the end).
pub fn track_stream<I, E>(
    updates: I,
    source: &StreamSource,
    a: &Args,
    opts: &TrackerOptions,
) -> anyhow::Result<ExitCode>
where
    I: IntoIterator<Item = Result<StreamQuote, E>>,
    E: std::fmt::Display,
{
    let interval = chrono::TimeDelta::milliseconds((a.interval * 1e3).round().max(1.0) as i64);
    let mut names: Vec<String> = Vec::new();
    let mut tracks: Vec<StreamTrack> = Vec::new();
    let mut problems = 0usize;
    for item in updates {
        let sq = match item {
            Ok(sq) => sq,
            Err(e) => {
                eprintln!("volfit: stdin: skipping a message: {e}");
                problems += 1;
                continue;
            }
        };
        if a.underlying
            .as_ref()
            .is_some_and(|u| !sq.underlying.eq_ignore_ascii_case(u))
        {
            continue;
        }
        let i = if let Some(i) = names.iter().position(|n| *n == sq.underlying) {
            i
        } else {
            names.push(sq.underlying.clone());
            let dir = underlying_dirs(&a.out, &names)
                .pop()
                .unwrap_or_else(|| a.out.clone());
            tracks.push(StreamTrack {
                track: Track::new(&sq.underlying, dir, opts)?,
                book: BTreeMap::new(),
                known: BTreeSet::new(),
                window: None,
                last: None,
                pending: false,
                relist: false,
                written: None,
            });
            names.len() - 1
        };
        let st = &mut tracks[i];
        if let Some(start) = st.window
            && sq.at >= start + interval
        {
            st.flush(a, source)?;
            if st
                .written
                .is_none_or(|w| w.elapsed().as_secs_f64() >= STREAM_CHECKPOINT_SECONDS)
                && !st.track.updates.is_empty()
            {
                st.track.write(a)?;
                st.written = Some(Instant::now());
            }
            st.window = None;
        }
        st.window.get_or_insert(sq.at);
        // Message times that go back are held at the latest (the tracker's clock only moves on).
        let at = st.last.map_or(sq.at, |l| l.max(sq.at));
        st.last = Some(at);
        let mut q = sq.quote;
        q.as_of = q.as_of.or(Some(sq.at));
        if st.known.contains(&q.expiry) {
            st.track.tracker.apply_quote(&q);
        } else {
            st.relist = true;
        }
        st.book.insert(
            (q.expiry, q.strike.to_bits(), q.kind == OptionKind::Call),
            q,
        );
        st.pending = true;
    }
    if tracks.is_empty() {
        bail!(
            "stdin: no quote updates{}",
            match &a.underlying {
                Some(u) => format!(" of {u:?}"),
                None => String::new(),
            }
        );
    }
    let mut written = 0usize;
    for st in &mut tracks {
        let r = st.flush(a, source).and_then(|()| st.track.write(a));
        match r {
            Ok(()) => {
                println!("{}", st.track.summary_line());
                problems += st.track.skipped.len();
                written += 1;
            }
            Err(e) => {
                eprintln!("volfit: {}: {e:#}", shown(&st.track.underlying));
                problems += 1;
            }
        }
    }
    Ok(exit_code(problems, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/deribit_series/2026-01")
    }

    /// Two snapshots replayed as a stream of quote updates: the first lists the expiries
    /// through a chain, the second's quotes patch them and refresh once per interval.
    #[test]
    fn stream_of_two_snapshots() {
        let out = std::env::temp_dir().join(format!("volfit-track-stream-{}", std::process::id()));
        std::fs::remove_dir_all(&out).ok();
        let mut items: Vec<Result<StreamQuote, String>> = Vec::new();
        for f in [
            "deribit_options_snapshot_20260101T091835Z.csv",
            "deribit_options_snapshot_20260101T211918Z.csv",
        ] {
            let (chains, _) = read_chains(series().join(f), Format::Auto).unwrap();
            let c = chains.into_iter().find(|c| c.underlying == "BTC").unwrap();
            let at = c.as_of.unwrap();
            let len = c.quotes.len();
            for (n, q) in c.quotes.into_iter().enumerate() {
                // Spread over 3 s of message time in file order: three windows of 1 s per
                // snapshot, the first of the series too few quotes for a surface, maybe.
                let dt = chrono::TimeDelta::milliseconds((3 * n / len) as i64 * 1000);
                items.push(Ok(StreamQuote {
                    underlying: "BTC".into(),
                    at: at + dt,
                    quote: q,
                }));
            }
            items.push(Err("line 0: not JSON".into()));
        }
        let a = Args {
            input: "-".into(),
            underlying: None,
            model: SurfaceModel::Svi,
            filter: FilterKind::Kalman,
            out: out.clone(),
            surfaces: false,
            plots: false,
            interval: 1.0,
        };
        let source = StreamSource {
            premium: Premium::Coin,
            tick: Some(0.0001),
            format: Format::Deribit,
        };
        let code = track_stream(items, &source, &a, &a.options()).unwrap();
        // The two bad messages make it exit 1; everything else was tracked.
        assert_eq!(code, ExitCode::from(1));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("BTC/track.json")).unwrap())
                .unwrap();
        let updates = json["updates"].as_array().unwrap();
        // A chain when the first quotes make a surface, then refreshes; at least one update
        // per window once there is a surface (the second snapshot's first window too).
        assert!(updates.len() >= 4, "{} updates", updates.len());
        assert!(
            updates
                .windows(2)
                .all(|w| w[0]["as_of"].as_str() <= w[1]["as_of"].as_str()),
            "{updates:?}"
        );
        assert!(json["skipped"].as_array().unwrap().is_empty());
        assert!(FittedSurface::load(out.join("BTC/surface.json")).is_ok());
        std::fs::remove_dir_all(&out).ok();
    }
}
