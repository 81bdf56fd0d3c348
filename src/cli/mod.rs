//! Subcommands of the `volfit` binary.

mod calibrate;
mod diff;
mod explain;
mod iv;
mod risk;
mod track;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use volfit::OptionKind;
use volfit::live::FilterKind;
use volfit::quotes::Format;
use volfit::surface::{FittedSurface, Num, QueryError, SurfaceModel, VolSurface};

/// volfit — implied-volatility surface calibration.
///
/// Turns option quotes into implied volatilities and fitted, arbitrage-checked volatility
/// surfaces.
#[derive(Debug, Parser)]
#[command(name = "volfit", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `calibrate` variant (its option flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Calibrate a volatility surface from option quotes and write it with its report.
    ///
    /// INPUT is a chain file, a directory (all its .csv/.json files) or a quoted glob
    /// ("data/*.csv"). Formats are sniffed from the header (see --format). For each
    /// underlying the command writes, under --out:
    ///
    ///   surface.json   the fitted surface (load it with `volfit vol`, `volfit check` or
    ///                  volfit::FittedSurface::load)
    ///   report.json    per-expiry fit statistics, rejected rows with line and reason,
    ///                  calendar check, timings
    ///   plots/         skew per expiry, total variance, term structure, density, heatmaps
    ///                  (PNG and SVG)
    ///   report.html    the review page: conventions, expiries ranked worst first with
    ///                  their review flags (errors in half-spreads of each expiry's bid/ask,
    ///                  exact fits, arbitrage, repairs), rejected rows, every chart
    ///
    /// A directory or glob also gets OUT/index.html, linking each chain's report.html with
    /// its headline numbers. Charts an earlier run left in a reused plots/ directory that
    /// this run did not write are removed (only volfit's own chart names are touched).
    ///
    /// Several underlyings go to OUT/<UNDERLYING>/, several files to OUT/<file stem>/;
    /// they are calibrated in parallel. Names come from the data, so each becomes one safe
    /// directory name, always inside OUT: kept when it is 1-100 bytes of A-Z a-z 0-9
    /// . _ - + = @ (not starting with . or -, not ending with ., not a Windows device name),
    /// otherwise each offending byte is written %XX ("../../x" -> %2E.%2F..%2Fx, "/abs/x" ->
    /// %2Fabs%2Fx; longer names are cut and end in ~ and a hash). Names that collide
    /// ignoring case (A and a; files x.csv and x.CSV) get distinct directories: in sorted
    /// input order the first keeps the name, the next gets NAME-2, NAME-3, ... (the first
    /// suffix no other input's name takes). A note on stderr names each input that did not
    /// get its own name, and each summary line ends with its directory. Every file is
    /// written to a temporary file and renamed into place: a reader never sees a
    /// half-written one.
    ///
    /// Options come from the flags below, then from --config FILE.toml (the same keys with
    /// `_` for `-`: `min_quotes = 3`, `max_vol = "off"`), then the library defaults; flags
    /// override the file, and report.json echoes the effective options in `options` (as a
    /// config file they reproduce the run). An unknown key in the file is an error.
    ///
    /// A calibration that fits no expiry (every row rejected, every expiry dropped or
    /// failed) writes report.json with the reasons (rejected rows, dropped and failed
    /// expiries, `error`) and no surface.json.
    ///
    /// Exit codes: 0 every input calibrated; 1 some failed (the others were written), or
    /// with --strict some expiry is flagged; 2 bad usage, a bad config file, or every input
    /// failed (unreadable, no quotes, or nothing fitted).
    ///
    /// Example:
    ///
    ///   volfit calibrate data/sample_chain.csv --out out
    #[command(verbatim_doc_comment)]
    Calibrate {
        /// Chain file, directory or glob.
        input: String,
        /// Input format.
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
        /// Calibrate only this underlying (e.g. BTC).
        #[arg(long)]
        underlying: Option<String>,
        /// Output directory.
        #[arg(long, default_value = "volfit-out")]
        out: PathBuf,
        /// Skip the charts and report.html.
        #[arg(long)]
        no_plots: bool,
        /// Options of the calibration (also read from --config).
        #[command(flatten)]
        options: calibrate::OptionFlags,
        /// Exit 1 when any expiry carries a review flag (see report.json `slices[].review`
        /// and the review page); the outputs are written as usual.
        #[arg(long)]
        strict: bool,
        /// Warm-start the fits from an earlier surface.json of the same underlying (e.g. the
        /// previous snapshot's): each expiry found in it (by expiry date) starts from its
        /// fitted smile instead of the model's own guess (SVI and the spline's SVI base: the
        /// start's search from the prior's m and sigma; SABR: from its parameters); other
        /// expiries, a prior smile of another model (SABR for SVI, say), SSVI/eSSVI and
        /// chains of other underlyings start cold. report.json says which in
        /// `slices[].warm_start` and why not in `prior.cold`. An unreadable file is an error.
        #[arg(long, value_name = "SURFACE.json")]
        prior: Option<PathBuf>,
    },
    /// Follow the market: replay chain snapshots (or a stream of quote updates) through the
    /// live tracker and write the surface's constant-maturity time series.
    ///
    /// INPUT is a directory (all its .csv/.json files) or a quoted glob ("data/*.csv") of
    /// chain snapshots, replayed in the order of each chain's snapshot time (as_of, not the
    /// file name), or `-` for JSON lines of quote updates on stdin (refreshed once per
    /// --interval seconds of message time). Files holding several underlyings feed one
    /// tracker per underlying, created when it is first seen. Each expiry is refitted only
    /// when its quotes, forward or time moved, from its previous state, through the
    /// temporal filter (--filter kalman: a Kalman filter on SVI's jump-wings coordinates,
    /// which also gates outlying quotes; --filter none: warm-started refits).
    ///
    /// For each underlying the command writes, under --out, <UNDERLYING>/ (the directory
    /// name rule of `volfit calibrate`):
    ///
    ///   timeseries.csv  one row per update and tenor: as_of (RFC 3339 UTC), tenor_days
    ///                   (7, 30, 90, 180), atm_vol, rr25, bf25 (decimals; constant
    ///                   maturity, read off the surface; empty where it has no value),
    ///                   atm_sd (the filter's sd of the ATM vol; empty without a filter)
    ///   track.json      underlying, filter, model, the effective options, a summary and
    ///                   per update: as_of, update_micros, expiries_refitted,
    ///                   quotes_used, within_spread, gated (count), nis, nis_dof,
    ///                   nis_band, expiries_listed, expiries_retired, gated_quotes, failed
    ///   surface.json    the latest surface (load it with `volfit vol`, `volfit check`)
    ///   surfaces/       with --surfaces: NNNN.json, the surface after update NNNN
    ///   track.html      time series with the filter's uncertainty band, NIS, what
    ///                   changed between the last two surfaces, the latest updates
    ///
    /// Every file is written to a temporary file and renamed into place. A file that cannot
    /// be read, or an update that gives no surface, is reported on stderr and skipped.
    /// One summary line per underlying: updates, median update time, mean share of quotes
    /// inside bid/ask, NIS per degree of freedom against its 95% band, gated quotes.
    ///
    /// Exit codes: 0 every input tracked; 1 some file or update was skipped (the rest was
    /// written); 2 bad usage (e.g. --filter kalman with --model spline) or nothing tracked.
    ///
    /// Example:
    ///
    ///   volfit track ../shared/data/deribit_series/2026-01 --out track-out
    #[command(verbatim_doc_comment)]
    Track {
        /// Directory or quoted glob of chain snapshots, or `-` for quote updates on stdin.
        input: String,
        /// Track only this underlying (e.g. BTC).
        #[arg(long)]
        underlying: Option<String>,
        /// Smile model of each expiry: svi, or with --filter none also sabr or spline.
        #[arg(long, value_enum, default_value_t = SurfaceModel::Svi, hide_possible_values = true)]
        model: SurfaceModel,
        /// Temporal filter: kalman (a Kalman filter on each expiry's SVI jump-wings
        /// coordinates, which also gates outlying quotes) or none (each expiry refitted from
        /// its previous fit).
        #[arg(long, value_enum, default_value_t = FilterKind::Kalman, hide_possible_values = true)]
        filter: FilterKind,
        /// Output directory.
        #[arg(long, default_value = "volfit-track")]
        out: PathBuf,
        /// Also write surfaces/NNNN.json, the surface after each update.
        #[arg(long)]
        surfaces: bool,
        /// Skip track.html.
        #[arg(long)]
        no_plots: bool,
        /// Seconds of message time between refreshes of a stdin stream.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        interval: f64,
    },
    /// Greeks and scenario P&L of a book of options on a stored surface.
    ///
    /// BOOK.csv has a header and one position per row: `instrument` (an exchange name,
    /// e.g. BTC-27MAR26-100000-C) or `kind, strike, expiry`, and `quantity` (negative:
    /// short). Header names ignore case. Expiry: RFC 3339, YYYY-MM-DD or 27MAR26; a date
    /// alone means 08:00 UTC (Deribit's expiry time). A bad row is reported (file, line,
    /// field, reason) and skipped; a position expired at the surface's as_of, or on another
    /// underlying, is an error naming its line.
    ///
    /// Writes, under --out:
    ///
    ///   risk.json   {positions: [{instrument, quantity, price, delta, gamma, vega, theta,
    ///               vanna, volga, ...}], totals, vega_by_expiry, scenarios: {spot_shifts,
    ///               vol_shifts, pnl, base_value, named}, rejected}; BTC/ETH (inverse)
    ///               surfaces also get each position's `coin` greeks and `coin_totals`
    ///   risk.html   the scenario heatmap (spot x vol P&L), greeks by expiry, positions
    ///
    /// Units: quote currency, undiscounted; delta per unit of the expiry's forward, vega per
    /// 1.00 of vol (100 vol points), theta per year.
    ///
    /// Exit codes: 0 written; 2 bad usage, an unreadable surface, book or scenario spec, a
    /// book without positions, or a position the surface cannot price.
    ///
    /// Example:
    ///
    ///   volfit risk out/surface.json --book book.csv --dynamics sticky-moneyness --out risk
    #[command(verbatim_doc_comment)]
    Risk {
        /// surface.json written by `volfit calibrate`.
        surface: PathBuf,
        /// The book: BOOK.csv.
        #[arg(long)]
        book: PathBuf,
        /// How the smile moves with spot: sticky-strike, sticky-moneyness or sticky-delta.
        #[arg(long, value_parser = parse_dynamics, default_value = "sticky-strike")]
        dynamics: volfit::risk::greeks::Dynamics,
        /// Scenarios: a spec file if the path exists, otherwise an inline spec (default:
        /// the default spot x vol grid).
        #[arg(long, value_name = "SPEC")]
        scenarios: Option<String>,
        /// Output directory.
        #[arg(long, default_value = "volfit-risk")]
        out: PathBuf,
    },
    /// P&L explain of a book between two snapshots of a chain.
    ///
    /// Calibrates both chains with the default options and, for each position of the book,
    /// writes to DIR/explain.json the actual P&L (the exchange's marks, mids where a snapshot
    /// has no mark, the fitted surface's price where it does not quote the instrument; the
    /// source is in source_a / source_b), the Taylor terms off the first surface's greeks
    /// under --dynamics (delta·ΔF, ½gamma·ΔF², vega·Δσ, theta·Δt, vanna·ΔF·Δσ, ½volga·Δσ²,
    /// with Δσ the vol move net of what the dynamics and the time roll predict), unexplained =
    /// actual − Σ terms, and full_reval = second surface's price − first's; the totals, R² and
    /// unexplained fractions (summary), positions not explained (skipped) and rejected book
    /// rows. Values are undiscounted quote currency (USD for Deribit: coin × forward), times
    /// the quantity. DIR/explain.html draws the book total as a waterfall and the terms by
    /// expiry.
    ///
    /// Exit codes: 0 written; 2 a chain, the book or the output could not be read or
    /// written, or no position could be explained.
    ///
    /// Example:
    ///
    ///   volfit explain a.csv b.csv --book book.csv --underlying BTC --out explain
    #[command(verbatim_doc_comment)]
    Explain {
        /// The earlier chain file.
        chain_a: PathBuf,
        /// The later chain file.
        chain_b: PathBuf,
        /// The book: BOOK.csv.
        #[arg(long)]
        book: PathBuf,
        /// The underlying to read from the chains (default: the one the book names).
        #[arg(long)]
        underlying: Option<String>,
        /// How the smile moves with spot: sticky-strike, sticky-moneyness or sticky-delta.
        #[arg(long, value_parser = parse_dynamics, default_value = "sticky-strike")]
        dynamics: volfit::risk::greeks::Dynamics,
        /// Output directory.
        #[arg(long, default_value = "volfit-explain")]
        out: PathBuf,
    },
    /// Implied vol (and price) from a stored surface.
    ///
    /// The first line of stdout is the vol alone (decimal, e.g. 0.4821); with --kind the
    /// discounted price follows on the next line (in the quote currency of the forward;
    /// undiscounted where the chain gave no discount factor).
    ///
    /// Example:
    ///
    ///   volfit vol out/surface.json --strike 100000 --t 0.25 --kind call
    #[command(verbatim_doc_comment)]
    Vol {
        /// surface.json written by `volfit calibrate`.
        surface: PathBuf,
        /// Strike.
        #[arg(long)]
        strike: f64,
        /// Time to expiry in years.
        #[arg(long, required_unless_present = "expiry", conflicts_with = "expiry")]
        t: Option<f64>,
        /// Expiry instant instead of `--t` (RFC 3339, e.g. `2026-03-27T08:00:00Z`, or a date
        /// meaning midnight UTC), turned into `t` with the surface's `as_of` and day count.
        #[arg(long)]
        expiry: Option<String>,
        /// Also print the price of this option.
        #[arg(long, value_enum)]
        kind: Option<OptionKind>,
    },
    /// Static-arbitrage report of a stored surface; exits 1 if it finds any.
    ///
    /// Checks butterfly arbitrage per expiry (SVI: min of Durrleman's g over the real line;
    /// SABR: density scan) and calendar arbitrage between consecutive expiries. Prints a
    /// readable report (or JSON with --json).
    ///
    /// Exit codes: 0 no arbitrage, 1 arbitrage found, 2 unreadable surface.
    #[command(verbatim_doc_comment)]
    Check {
        /// surface.json written by `volfit calibrate`.
        surface: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What moved between two stored surfaces: vols by tenor × delta, and per common expiry.
    ///
    /// For the constant-maturity tenors 7, 30, 90 and 180 days and for every expiry both
    /// surfaces have (matched by expiry date, or by time when a surface has no dates), the
    /// vols at the 10Δ put, 25Δ put, ATM (the forward), 25Δ call and 10Δ call in A and in B
    /// and the change B - A, read off each surface at its own time to expiry (deltas are
    /// forward Black deltas N(d1), not premium-adjusted); per common expiry the moves of the
    /// fitted model's parameters; the expiries only in A (expired) and only in B (new).
    ///
    /// The text report shows vols in vol points; --json prints the diff as JSON, vols and
    /// changes as decimals (null where a surface has no strike of that delta, or no answer
    /// at that tenor, with the reason in `error_a` / `error_b`).
    ///
    /// Exit codes: 0 the diff was printed, 2 a surface could not be read (the message names
    /// the file).
    ///
    /// Example:
    ///
    ///   volfit diff monday/surface.json tuesday/surface.json
    #[command(verbatim_doc_comment)]
    Diff {
        /// The earlier surface.json.
        a: PathBuf,
        /// The later surface.json.
        b: PathBuf,
        /// Print the diff as JSON (decimals).
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic Deribit-like BTC chain (bid/ask quotes from a known arbitrage-free
    /// SSVI surface, with spreads, tick rounding and noise) in Deribit's CSV layout.
    ///
    /// Example:
    ///
    ///   volfit sample --out data/sample_chain.csv
    #[command(verbatim_doc_comment)]
    Sample {
        /// File to write.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the noise.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Implied Black volatilities of undiscounted option prices in a CSV file.
    ///
    /// Input columns (header required, any order, extra columns passed through):
    /// kind (call/put or c/p), price (undiscounted, forward premium), forward, strike,
    /// t (years). Output on stdout: the input columns plus `iv` (empty where none exists) and
    /// `error` (the reason, e.g. below_intrinsic, else empty). Rows that cannot be parsed are
    /// reported in `error` with their line and field, never dropped.
    ///
    /// Example:
    ///
    ///   printf 'kind,price,forward,strike,t\ncall,7.9655674554058,100,100,1\n' | volfit iv -
    #[command(verbatim_doc_comment)]
    Iv {
        /// CSV file to read, or `-` for standard input.
        input: PathBuf,
        /// Solve on all cores (rayon); the default switches on above 20 000 rows.
        #[arg(long)]
        parallel: Option<bool>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Iv { input, parallel } => iv::run(&input, parallel),
        Command::Diff { a, b, json } => diff::run(&a, &b, json),
        Command::Explain {
            chain_a,
            chain_b,
            book,
            underlying,
            dynamics,
            out,
        } => explain::run(&explain::Args {
            chain_a,
            chain_b,
            book,
            underlying,
            dynamics,
            out,
        }),
        Command::Risk {
            surface,
            book,
            dynamics,
            scenarios,
            out,
        } => risk::run(&risk::Args {
            surface,
            book,
            dynamics,
            scenarios,
            out,
        }),
        Command::Calibrate {
            input,
            format,
            underlying,
            out,
            no_plots,
            options,
            strict,
            prior,
        } => {
            let (opts, echo) = options.resolve()?;
            let prior = match prior {
                Some(p) => Some(FittedSurface::load(&p).context("--prior")?),
                None => None,
            };
            calibrate::run(&calibrate::Args {
                input,
                format,
                underlying,
                opts,
                echo,
                out,
                plots: !no_plots,
                strict,
                prior,
            })
        }
        Command::Track {
            input,
            underlying,
            model,
            filter,
            out,
            surfaces,
            no_plots,
            interval,
        } => track::run(&track::Args {
            input,
            underlying,
            model,
            filter,
            out,
            surfaces,
            plots: !no_plots,
            interval,
        }),
        Command::Vol {
            surface,
            strike,
            t,
            expiry,
            kind,
        } => {
            let s = FittedSurface::load(&surface)?;
            let t = match (t, expiry) {
                (Some(t), _) => t,
                (None, Some(e)) => {
                    let at = parse_expiry(&e)?;
                    let as_of = s.as_of().ok_or_else(|| {
                        anyhow::anyhow!("{} has no as_of: query it with --t", surface.display())
                    })?;
                    s.year_fraction(at).ok_or_else(|| {
                        anyhow::anyhow!("--expiry {e} is not after the surface's as_of {as_of}")
                    })?
                }
                (None, None) => anyhow::bail!("give --t or --expiry"),
            };
            if !(strike > 0.0 && strike.is_finite()) {
                anyhow::bail!(
                    "--strike must be a positive finite number, got {}",
                    Num(strike)
                );
            }
            if !(t > 0.0 && t.is_finite()) {
                anyhow::bail!(
                    "--t must be a positive finite number of years, got {}",
                    Num(t)
                );
            }
            // Everything is computed before anything is printed: an error leaves stdout empty,
            // and no line is ever 0, NaN or inf.
            let vol = s
                .try_vol(strike, t)
                .map_err(|e| match s.location(strike, t) {
                    Some(at) if at.is_extrapolated() => anyhow::anyhow!(
                        "{e}: the query is {} and the surface's extrapolation policy ({}) \
                         gives no answer there",
                        at.to_string().trim_start_matches("extrapolated: "),
                        serde_json::to_string(&s.extrapolation()).unwrap_or_default()
                    ),
                    _ => e.into(),
                })?;
            let price = match kind {
                Some(kind) => Some(discounted_price(&s, kind, strike, t)?),
                None => None,
            };
            println!("{}", Num(vol));
            if let Some(p) = price {
                println!("{}", Num(p));
            }
            if let Some(at) = s.location(strike, t)
                && at.is_extrapolated()
            {
                eprintln!("volfit: note: {at}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { surface, json } => {
            let s = FittedSurface::load(&surface)?;
            let r = s.arbitrage_check();
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{}: {} expiries, {}",
                    surface.display(),
                    s.slices().len(),
                    if r.arbitrage_free {
                        "no static arbitrage found"
                    } else {
                        "ARBITRAGE FOUND"
                    }
                );
                for b in &r.butterfly {
                    println!(
                        "  T = {:.4}: butterfly {} (min g = {:.3e})",
                        b.t,
                        if b.free { "free" } else { "ARBITRAGE" },
                        b.min_g
                    );
                }
                for v in &r.calendar.violations {
                    println!(
                        "  calendar ARBITRAGE between T = {:.4} and {:.4}: w falls by up to {:.2e} for k in [{:.3}, {:.3}]",
                        v.t_earlier, v.t_later, v.shortfall, v.k_range[0], v.k_range[1]
                    );
                }
                if r.calendar.violations.is_empty() {
                    println!(
                        "  fits: calendar-free on k in [{:.3}, {:.3}] (each expiry pair on the union of its quoted ranges)",
                        r.calendar.k_range[0], r.calendar.k_range[1]
                    );
                } else if r.calendar.calendar_free {
                    println!(
                        "  (the fits' violations above are not in the served surface: the later expiry is served the earlier one's smile, raised, there)"
                    );
                }
                for v in &r.calendar.served {
                    let end = |x: Option<f64>, inf: &str| {
                        x.map_or(inf.to_string(), |x| format!("{x:.3}"))
                    };
                    println!(
                        "  served: T = {:.4} takes the previous expiry's smile on k in [{}, {}]",
                        v.t,
                        end(v.k_from, "-inf"),
                        end(v.k_to, "+inf")
                    );
                }
                println!(
                    "  served surface: calendar {} on the real line; plane scan of {} points (k in [{:.2}, {:.2}], {} times before/at/between/after the expiries): {} calendar, {} butterfly, {} without local vol",
                    if r.calendar.calendar_free {
                        "free"
                    } else {
                        "ARBITRAGE"
                    },
                    r.plane.points,
                    r.plane.grid.k_range[0],
                    r.plane.grid.k_range[1],
                    r.plane.grid.times.len(),
                    r.plane.calendar,
                    r.plane.butterfly,
                    r.plane.local_vol_undefined
                );
                for p in &r.plane.worst {
                    println!(
                        "  ARBITRAGE at k = {:.4}, t = {:.5} ({:?}): {:?} = {:.3e}",
                        p.k, p.t, p.region, p.failure, p.value
                    );
                }
                println!("  domain: {}", r.domain);
            }
            Ok(if r.arbitrage_free {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Sample { out, seed } => {
            let spec = volfit::sample::SampleSpec {
                seed,
                ..volfit::sample::SampleSpec::default()
            };
            let csv = spec.to_deribit_csv();
            volfit::output::write_atomic(&out, csv.as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: {} quotes, {} expiries",
                out.display(),
                csv.lines().count() - 1,
                spec.expiries().len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The price `volfit vol --kind` prints: [`VolSurface::try_price`] times the discount factor
/// (1 where the chain gave none), or why a double cannot hold it.
fn discounted_price(
    s: &FittedSurface,
    kind: OptionKind,
    strike: f64,
    t: f64,
) -> Result<f64, QueryError> {
    let p = s.try_price(kind, strike, t)?;
    let d = s.discount(t).unwrap_or(1.0);
    let out_of_range = |what, value| QueryError::Unrepresentable {
        what,
        strike,
        t,
        value,
    };
    let normal = f64::MIN_POSITIVE..f64::INFINITY;
    if !normal.contains(&d) {
        return Err(out_of_range("discount factor", d));
    }
    let pd = p * d;
    if normal.contains(&pd) {
        Ok(pd)
    } else {
        Err(out_of_range("discounted price", pd))
    }
}

/// An expiry given on the command line: RFC 3339, or a bare date (midnight UTC).
fn parse_expiry(raw: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            anyhow::anyhow!("--expiry {raw:?} is not an RFC 3339 time or a YYYY-MM-DD date")
        })
}

/// `--dynamics`: one of [`volfit::risk::greeks::Dynamics::name`].
fn parse_dynamics(raw: &str) -> Result<volfit::risk::greeks::Dynamics, String> {
    volfit::risk::greeks::Dynamics::ALL
        .into_iter()
        .find(|d| d.name() == raw.trim())
        .ok_or_else(|| {
            format!(
                "unknown dynamics {raw:?}: expected sticky-strike, sticky-moneyness or sticky-delta"
            )
        })
}
