//! Historical stresses of the January 2026 BTC series applied to a small book.
//!
//! Calibrates every snapshot of `../shared/data/deribit_series/2026-01/` (SVI per expiry), finds
//! the month's largest moves between consecutive snapshots and over about 24 h (spot fall and
//! rise, 30-day ATM vol rise and fall, 30-day 25Δ risk-reversal move), and revalues a book on
//! the last snapshot's surface under each move's replay and parametric shock: a long 30-day ATM
//! straddle and a short 30-day 25Δ risk reversal (short the 25Δ call, long the 25Δ put).
//!
//! `cargo run --release --example stress_january [DIR]`

use std::path::PathBuf;
use std::time::Instant;
use volfit::OptionKind;
use volfit::black::special::inverse_norm_cdf;
use volfit::risk::greeks::{Dynamics, Position};
use volfit::risk::scenario::{GridSpec, History, HistoryOptions, ScenarioSpec, run_fitted};
use volfit::surface::metrics::metrics_at_tenor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/deribit_series/2026-01"),
        PathBuf::from,
    );
    let start = Instant::now();
    let history = History::load(&dir, "BTC", &HistoryOptions::default())?;
    println!(
        "{} BTC snapshots calibrated (SVI) in {:.1} s; {} skipped",
        history.snapshots.len(),
        start.elapsed().as_secs_f64(),
        history.skipped.len()
    );
    for (p, e) in &history.skipped {
        println!("  skipped {}: {e}", p.display());
    }

    println!("\nLargest moves of the month:");
    let moves = history.largest_moves();
    for m in &moves {
        let (a, b) = (&history.snapshots[m.from], &history.snapshots[m.to]);
        let change = match m.measure {
            volfit::risk::scenario::Measure::SpotFall
            | volfit::risk::scenario::Measure::SpotRise => format!("{:+.2}%", 100.0 * m.change),
            _ => format!("{:+.2} vol pts", 100.0 * m.change),
        };
        println!(
            "  {:<10} {:<10} {:>14}  {} → {} ({:.1} h)  spot {:.0} → {:.0}, 30d ATM {:.2}% → {:.2}%",
            m.measure.name(),
            if m.day { "24h" } else { "1-snapshot" },
            change,
            a.as_of.format("%m-%d %H:%M"),
            b.as_of.format("%m-%d %H:%M"),
            m.hours,
            a.spot,
            b.spot,
            100.0 * a.atm,
            100.0 * b.atm,
        );
    }

    // The book on the last snapshot.
    let last = history.snapshots.last().ok_or("no snapshot")?;
    let surface = &*last.surface;
    let m = metrics_at_tenor(surface, 30.0)?;
    let strike_at = |sigma: f64, delta: f64| {
        let sq = sigma * m.t.sqrt();
        m.forward * (sq * (sq / 2.0 - inverse_norm_cdf(delta))).exp()
    };
    let (c25, p25) = (
        strike_at(m.call25.ok_or("no 25Δ call")?, 0.25),
        strike_at(m.put25.ok_or("no 25Δ put")?, 0.75),
    );
    let pos = |kind, strike, quantity| Position {
        kind,
        strike,
        t: m.t,
        quantity,
    };
    let book = [
        pos(OptionKind::Call, m.forward, 1.0),
        pos(OptionKind::Put, m.forward, 1.0),
        pos(OptionKind::Call, c25, -1.0),
        pos(OptionKind::Put, p25, 1.0),
    ];
    println!(
        "\nBook on {} (F30 = {:.0}): long 1 ATM straddle, short 1 25Δ RR (call {:.0}, put {:.0}), 30 days",
        last.as_of.format("%Y-%m-%d %H:%M"),
        m.forward,
        c25,
        p25
    );
    let spec = ScenarioSpec {
        grid: GridSpec {
            spot_shifts: vec![0.0],
            vol_shifts: vec![0.0],
        },
        scenarios: history.stresses(),
    };
    let report = run_fitted(surface, &book, Dynamics::StickyMoneyness, &spec)?;
    println!(
        "base value {:.2} USD; base surface failing plane points: {}\n",
        report.grid.base_value,
        report.named.first().map_or(0, |r| r.base_failing_points)
    );
    println!(
        "{:>12}  {:<5} {:>8}  scenario",
        "P&L (USD)", "arb", "failing"
    );
    for r in &report.named {
        let pnl = r
            .pnl
            .map_or_else(|| "no price".to_string(), |v| format!("{v:.2}"));
        println!(
            "{pnl:>12}  {:<5} {:>8}  {}",
            if r.arbitrage_free { "free" } else { "ARB" },
            r.failing_points,
            r.name
        );
    }
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
