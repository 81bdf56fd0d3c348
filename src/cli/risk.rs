//! `volfit risk SURFACE.json --book BOOK.csv [--dynamics D] [--scenarios SPEC] [--out DIR]`:
//! the book's greeks ([`volfit::risk::book::book_risk`]) and scenario P&L
//! ([`volfit::risk::scenario::run`]) written to DIR/risk.json and DIR/risk.html.

use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use volfit::output::write_atomic;
use volfit::plot::{RiskPage, ScenarioGrid, write_risk_page};
use volfit::risk::book::{BookRisk, RejectedBookRow, book_risk, read_book};
use volfit::risk::greeks::Dynamics;
use volfit::risk::scenario::{self, ScenarioReport, ScenarioSpec};
use volfit::surface::FittedSurface;

/// The arguments of `volfit risk`.
pub struct Args {
    /// surface.json.
    pub surface: PathBuf,
    /// BOOK.csv.
    pub book: PathBuf,
    /// Smile dynamics.
    pub dynamics: Dynamics,
    /// A scenario file, or an inline spec.
    pub scenarios: Option<String>,
    /// Output directory.
    pub out: PathBuf,
}

/// What risk.json holds.
#[derive(Serialize)]
struct RiskFile<'a> {
    surface: String,
    book: String,
    #[serde(flatten)]
    risk: &'a BookRisk,
    scenarios: &'a ScenarioReport,
    rejected: &'a [RejectedBookRow],
}

/// The most rejected rows echoed on stderr (all are in risk.json).
const MAX_REJECTED_SHOWN: usize = 20;

/// Runs `volfit risk`.
pub fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let surface = FittedSurface::load(&a.surface)?;
    let (book, rejected) = read_book(&a.book)?;
    for r in rejected.iter().take(MAX_REJECTED_SHOWN) {
        eprintln!("volfit: note: rejected book row {r}");
    }
    if rejected.len() > MAX_REJECTED_SHOWN {
        eprintln!(
            "volfit: note: {} more rejected rows in risk.json",
            rejected.len() - MAX_REJECTED_SHOWN
        );
    }
    if book.entries.is_empty() {
        anyhow::bail!(
            "{}: no positions ({} rows rejected)",
            a.book.display(),
            rejected.len()
        );
    }
    let book_name = a.book.display().to_string();
    let risk = book_risk(&surface, &book, a.dynamics).with_context(|| book_name.clone())?;
    let spec = match &a.scenarios {
        None => ScenarioSpec::default(),
        Some(s) if Path::new(s).is_file() => ScenarioSpec::from_file(Path::new(s))?,
        Some(s) => ScenarioSpec::parse(s).context("--scenarios")?,
    };
    let positions = book
        .positions(&surface)
        .with_context(|| book_name.clone())?;
    let report = scenario::run(&surface, &positions, a.dynamics, &spec).map_err(|e| {
        let at = match &e {
            scenario::ScenarioError::NoPrice { position, .. } => book
                .entries
                .get(*position)
                .map(|p| format!("{book_name}: line {} ({})", p.line, p.instrument)),
            _ => None,
        };
        let e = anyhow::Error::from(e);
        match at {
            Some(at) => e.context(at),
            None => e,
        }
    })?;
    if let Some(first) = report.grid.no_price.first() {
        eprintln!(
            "volfit: note: {} of {} grid cells have no P&L (null in risk.json); first: {}",
            report.grid.no_price.len(),
            report.grid.spot_shifts.len() * report.grid.vol_shifts.len(),
            first.reason
        );
    }
    for n in &report.named {
        if let Some(why) = &n.no_price {
            eprintln!("volfit: note: scenario {} has no P&L: {why}", n.name);
        }
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let file = RiskFile {
        surface: a.surface.display().to_string(),
        book: book_name.clone(),
        risk: &risk,
        scenarios: &report,
        rejected: &rejected,
    };
    let json_path = a.out.join("risk.json");
    let mut json = serde_json::to_vec_pretty(&file)?;
    json.push(b'\n');
    write_atomic(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let html_path = a.out.join("risk.html");
    let surface_name = a.surface.display().to_string();
    write_risk_page(
        &html_path,
        &RiskPage {
            surface: &surface_name,
            book: &book_name,
            risk: &risk,
            grid: ScenarioGrid {
                spot_shifts: &report.grid.spot_shifts,
                vol_shifts: &report.grid.vol_shifts,
                pnl: &report.grid.pnl,
            },
            named: &report.named,
            rejected: &rejected,
        },
    )
    .with_context(|| format!("cannot write {}", html_path.display()))?;
    let t = &risk.totals;
    println!(
        "{} positions ({} rejected), {}: value {:.2}, delta {:.6}, gamma {:.3e}, vega {:.2} \
         (per 1.00 vol), theta {:.2} (per year) -> {}",
        risk.positions.len(),
        rejected.len(),
        a.dynamics.name(),
        t.price,
        t.delta,
        t.gamma,
        t.vega,
        t.theta,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
