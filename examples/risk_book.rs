//! Book risk off a calibrated surface: calibrates the BTC chain of a real Deribit snapshot
//! (`../shared/data`, 15 January 2026), builds a small book from its instrument names (a
//! long March call spread, a short June strangle, a long near-dated put), prints each
//! position's greeks, greeks by expiry and the P&L on the default spot × vol grid.
//!
//! `cargo run --release --example risk_book`

use std::path::PathBuf;
use volfit::quotes::{Format, read_chain_for};
use volfit::risk::book::{book_risk, read_book_from_bytes};
use volfit::risk::greeks::Dynamics;
use volfit::risk::scenario::{self, ScenarioSpec};
use volfit::surface::{SurfaceModel, SurfaceOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/data/deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv",
    );
    let (chain, _) = read_chain_for(&path, Format::Deribit, "BTC")?;
    let opts = SurfaceOptions {
        model: SurfaceModel::Svi,
        ..SurfaceOptions::default()
    };
    let (surface, _) = volfit::calibrate_surface(&chain, &opts)?;
    let book_csv = "instrument,quantity\n\
        BTC-27MAR26-100000-C,10\n\
        BTC-27MAR26-120000-C,-10\n\
        BTC-26JUN26-80000-P,-5\n\
        BTC-26JUN26-130000-C,-5\n\
        BTC-27MAR26-100000-C,lots\n\
        BTC-30JAN26-90000-P,20\n";
    let (book, rejected) = read_book_from_bytes("example book", book_csv.as_bytes())?;
    for r in &rejected {
        println!("rejected: {r}");
    }
    let dynamics = Dynamics::StickyMoneyness;
    let risk = book_risk(&surface, &book, dynamics)?;
    println!(
        "{} as of {}, {} (spot {:.2}); USD, undiscounted; vega per vol point, theta per day",
        risk.underlying,
        risk.as_of.map(|t| t.to_rfc3339()).unwrap_or_default(),
        dynamics.name(),
        surface.spot().unwrap_or(f64::NAN)
    );
    println!(
        "{:<24} {:>7} {:>7} {:>11} {:>9} {:>11} {:>10} {:>10}",
        "instrument", "qty", "vol", "value", "delta", "gamma", "vega/pt", "theta/d"
    );
    for p in &risk.positions {
        let g = &p.greeks;
        println!(
            "{:<24} {:>7} {:>6.2}% {:>11.2} {:>9.4} {:>11.3e} {:>10.2} {:>10.2}",
            p.instrument,
            p.quantity,
            100.0 * p.vol,
            g.price,
            g.delta,
            g.gamma,
            g.vega / 100.0,
            g.theta / 365.25
        );
    }
    println!("\ngreeks by expiry");
    for e in &risk.vega_by_expiry {
        println!(
            "  {}  {} positions  value {:>11.2}  delta {:>8.4}  vega/pt {:>9.2}  theta/d {:>9.2}",
            e.expiry.format("%Y-%m-%d"),
            e.positions,
            e.greeks.price,
            e.greeks.delta,
            e.greeks.vega / 100.0,
            e.greeks.theta / 365.25
        );
    }
    let t = &risk.totals;
    println!(
        "  total                     value {:>11.2}  delta {:>8.4}  vega/pt {:>9.2}  theta/d {:>9.2}",
        t.price,
        t.delta,
        t.vega / 100.0,
        t.theta / 365.25
    );
    if let Some(c) = &risk.coin_totals {
        println!(
            "  coin (BTC): value {:.4}, delta {:.3e} per USD of forward",
            c.price, c.delta
        );
    }
    let positions = book.positions(&surface)?;
    let report = scenario::run(&surface, &positions, dynamics, &ScenarioSpec::default())?;
    let g = &report.grid;
    println!("\nP&L (USD) on the default grid: spot shift down, vol shift (points) across");
    print!("{:>8}", "");
    for dv in &g.vol_shifts {
        print!("{:>10.0}", 100.0 * dv);
    }
    println!();
    for (i, ds) in g.spot_shifts.iter().enumerate() {
        print!("{:>7.0}%", 100.0 * ds);
        for v in &g.pnl[i] {
            match v {
                Some(v) => print!("{v:>10.0}"),
                None => print!("{:>10}", "no price"),
            }
        }
        println!();
    }
    Ok(())
}
