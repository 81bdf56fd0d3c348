//! `volfit explain CHAIN_A CHAIN_B --book BOOK.csv [--underlying U] [--dynamics D] [--out DIR]`:
//! both chains calibrated with the default options, the book's P&L between them explained
//! ([`volfit::risk::explain::explain_book`]), written to DIR/explain.json and DIR/explain.html.

use anyhow::{Context, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use volfit::output::write_atomic;
use volfit::plot::{ExplainPage, write_explain_page};
use volfit::quotes::{Chain, Format, read_chain, read_chain_for};
use volfit::risk::book::{RejectedBookRow, read_book};
use volfit::risk::explain::{BookPosition, Explain, Snapshot, explain_book};
use volfit::risk::greeks::Dynamics;
use volfit::surface::{FittedSurface, SurfaceOptions, calibrate_surface};

/// The arguments of `volfit explain`.
pub struct Args {
    /// The earlier chain file.
    pub chain_a: PathBuf,
    /// The later chain file.
    pub chain_b: PathBuf,
    /// BOOK.csv.
    pub book: PathBuf,
    /// The underlying to read from the chains (needed when a file holds several).
    pub underlying: Option<String>,
    /// Smile dynamics of the greeks.
    pub dynamics: Dynamics,
    /// Output directory.
    pub out: PathBuf,
}

/// What explain.json holds.
#[derive(Serialize)]
struct ExplainFile<'a> {
    underlying: &'a str,
    chain_a: String,
    chain_b: String,
    book: String,
    units: &'static str,
    #[serde(flatten)]
    explain: &'a Explain,
    rejected: &'a [RejectedBookRow],
}

/// The most rejected rows echoed on stderr (all are in explain.json).
const MAX_REJECTED_SHOWN: usize = 20;

fn load(path: &Path, underlying: Option<&str>) -> anyhow::Result<(Chain, FittedSurface)> {
    let (chain, _) = match underlying {
        Some(u) => read_chain_for(path, Format::Auto, u),
        None => read_chain(path, Format::Auto),
    }
    .with_context(|| format!("cannot read {}", path.display()))?;
    let (surface, _) = calibrate_surface(&chain, &SurfaceOptions::default())
        .with_context(|| format!("{}: no surface", path.display()))?;
    Ok((chain, surface))
}

/// Runs `volfit explain`.
pub fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let (book, rejected) = read_book(&a.book)?;
    for r in rejected.iter().take(MAX_REJECTED_SHOWN) {
        eprintln!("volfit: note: rejected book row {r}");
    }
    if rejected.len() > MAX_REJECTED_SHOWN {
        eprintln!(
            "volfit: note: {} more rejected rows in explain.json",
            rejected.len() - MAX_REJECTED_SHOWN
        );
    }
    if book.entries.is_empty() {
        bail!(
            "{}: no positions ({} rows rejected)",
            a.book.display(),
            rejected.len()
        );
    }
    // The underlying: the flag, else the one the book's instrument names agree on.
    let underlying = a.underlying.clone().or_else(|| {
        let mut names = book
            .entries
            .iter()
            .filter_map(volfit::risk::book::BookEntry::underlying);
        let first = names.next()?;
        names
            .all(|n| n.eq_ignore_ascii_case(&first))
            .then_some(first)
    });
    let (ca, sa) = load(&a.chain_a, underlying.as_deref())?;
    let (cb, sb) = load(&a.chain_b, underlying.as_deref())?;
    if let (Some(ta), Some(tb)) = (sa.as_of(), sb.as_of())
        && tb < ta
    {
        bail!(
            "{} ({ta}) is later than {} ({tb}): give the earlier chain first",
            a.chain_a.display(),
            a.chain_b.display()
        );
    }
    let positions: Vec<BookPosition> = book
        .entries
        .iter()
        .map(|e| BookPosition {
            instrument: e.instrument.clone(),
            kind: e.kind,
            strike: e.strike,
            expiry: e.expiry,
            quantity: e.quantity,
        })
        .collect();
    let e = explain_book(
        &Snapshot {
            surface: &sa,
            chain: &ca,
        },
        &Snapshot {
            surface: &sb,
            chain: &cb,
        },
        &positions,
        a.dynamics,
    );
    for s in &e.skipped {
        eprintln!("volfit: note: not explained {}: {}", s.instrument, s.reason);
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let file = ExplainFile {
        underlying: &ca.underlying,
        chain_a: a.chain_a.display().to_string(),
        chain_b: a.chain_b.display().to_string(),
        book: a.book.display().to_string(),
        units: "undiscounted quote currency (USD; coin premiums x forward), times the quantity; \
                greeks per 1.00 vol and per year",
        explain: &e,
        rejected: &rejected,
    };
    let json_path = a.out.join("explain.json");
    let mut json = serde_json::to_vec_pretty(&file)?;
    json.push(b'\n');
    write_atomic(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let html_path = a.out.join("explain.html");
    let rejected_text: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    write_explain_page(
        &html_path,
        &ExplainPage {
            underlying: &ca.underlying,
            chain_a: &file.chain_a,
            chain_b: &file.chain_b,
            book: &file.book,
            explain: &e,
            rejected: &rejected_text,
        },
    )
    .with_context(|| format!("cannot write {}", html_path.display()))?;
    let t = &e.totals;
    println!(
        "{} positions ({} rejected, {} not explained), {}: actual {:+.2}, terms {:+.2}, \
         unexplained {:+.2}, full revaluation {:+.2} -> {}",
        e.positions.len(),
        rejected.len(),
        e.skipped.len(),
        a.dynamics.name(),
        t.actual,
        t.terms().sum(),
        t.unexplained,
        t.full_reval,
        a.out.display()
    );
    if e.positions.is_empty() {
        bail!("no position of the book could be explained");
    }
    Ok(ExitCode::SUCCESS)
}
