//! Fits SABR (β = 1, Hagan's lognormal expansion) to every expiry of a chain, and the May 2014
//! swaption normal-vol smiles of Le Floc'h & Kennedy with β = 0.5 when `../shared/data` is here.
//!
//! ```sh
//! cargo run --release --example calibrate_sabr [CHAIN]
//! ```
//! (default: the Deribit 2026-02-15 snapshot in `../shared/data` when present, else
//! `data/sample_chain.csv`).

use std::path::PathBuf;
use volfit::fit::{FitOptions, fit_sabr};
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, SmileSlice, build_slices};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    let path = std::env::args().nth(1).map_or_else(
        || {
            let p = shared.join("deribit/deribit_options_snapshot_20260215T153420Z.csv");
            if p.exists() {
                p
            } else {
                root.join("data/sample_chain.csv")
            }
        },
        PathBuf::from,
    );
    let (chains, _) = read_chains(&path, Format::Auto)?;
    for chain in &chains {
        let (slices, _) = build_slices(chain, &SliceOptions::default());
        println!("\n{} — SABR (β = 1) per expiry", chain.underlying);
        println!(
            "{:>8} {:>4} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>5} {:>6}",
            "T", "n", "alpha", "rho", "nu", "RMSE", "inside", "density<0", "iter", "µs"
        );
        for s in slices.iter().filter(|s| s.points().len() >= 5) {
            let f = fit_sabr(s, &FitOptions::default())?;
            let (m, r) = (&f.model, &f.report);
            println!(
                "{:>8.4} {:>4} {:>8.4} {:>8.4} {:>8.4} {:>8.5} {:>7} {:>10} {:>5} {:>6.0}",
                s.t(),
                r.n_quotes,
                m.alpha(),
                m.rho(),
                m.nu(),
                r.rmse_iv,
                r.within_spread
                    .map_or_else(|| "—".into(), |w| format!("{:.0}%", 100.0 * w)),
                if r.negative_density.is_empty() {
                    "none".to_string()
                } else {
                    format!("{:?}", r.negative_density[0])
                },
                r.iterations,
                r.fit_micros
            );
        }
    }
    // Rates: normal vols, β = 0.5 (the default for normal-vol slices).
    let swaptions = shared.join("swaption_2014/swaption_may2014_reference_normal_vols.csv");
    if let Ok(text) = std::fs::read_to_string(&swaptions) {
        println!("\nSwaptions May 2014 (normal vols, β = 0.5, Hagan normal expansion)");
        for name in ["1m5y", "2y5y", "10y10y"] {
            let rows: Vec<Vec<&str>> = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').collect::<Vec<_>>())
                .filter(|r| r[0] == name)
                .collect();
            let t: f64 = rows[0][1].parse()?;
            let f: f64 = rows[0][3].parse()?;
            let quotes: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| Ok((r[4].parse()?, r[5].parse()?)))
                .collect::<Result<_, std::num::ParseFloatError>>()?;
            let fit = fit_sabr(
                &SmileSlice::from_normal_vols(t, f, &quotes)?,
                &FitOptions::default(),
            )?;
            println!(
                "{name:>7}: α {:.4} ρ {:.4} ν {:.4}, RMSE {:.2} bp, {} iterations",
                fit.model.alpha(),
                fit.model.rho(),
                fit.model.nu(),
                fit.report.rmse_iv * 1e4,
                fit.report.iterations
            );
        }
    }
    Ok(())
}
