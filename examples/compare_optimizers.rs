//! LM vs BFGS vs L-BFGS on real slices: iterations, time and RMSE of SVI and SABR fits.
//!
//! ```sh
//! cargo run --release --example compare_optimizers [CHAIN]...
//! ```
//! (default: the SPX 2005 IV table and the Deribit 2026-02-15 snapshot in `../shared/data`
//! when present, else `data/sample_chain.csv`).

use std::path::PathBuf;
use std::time::Instant;
use volfit::fit::{FitOptions, Optimizer, fit_sabr, fit_svi};
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, build_slices};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        for p in [
            "../shared/data/spx_gatheral/spx_ivols_20050915.csv",
            "../shared/data/deribit/deribit_options_snapshot_20260215T153420Z.csv",
        ] {
            if root.join(p).exists() {
                paths.push(root.join(p));
            }
        }
        if paths.is_empty() {
            paths.push(root.join("data/sample_chain.csv"));
        }
    }
    let mut slices = Vec::new();
    for p in &paths {
        let (chains, _) = read_chains(p, Format::Auto)?;
        for c in &chains {
            slices.extend(
                build_slices(c, &SliceOptions::default())
                    .0
                    .into_iter()
                    .filter(|s| s.points().len() >= 5),
            );
        }
    }
    println!("{} slices from {} file(s)\n", slices.len(), paths.len());
    println!(
        "{:<6} {:<8} {:>10} {:>10} {:>12} {:>12} {:>9}",
        "model", "optimizer", "med. iter", "med. µs", "median RMSE", "mean RMSE", "failures"
    );
    for model in ["SVI", "SABR"] {
        for opt in [
            Optimizer::LevenbergMarquardt,
            Optimizer::Bfgs,
            Optimizer::Lbfgs,
        ] {
            let o = FitOptions {
                optimizer: opt,
                ..FitOptions::default()
            };
            let (mut it, mut us, mut rm) = (Vec::new(), Vec::new(), Vec::new());
            let mut failures = 0;
            for s in &slices {
                let clock = Instant::now();
                let r = if model == "SVI" {
                    fit_svi(s, &o).map(|f| f.report)
                } else {
                    fit_sabr(s, &o).map(|f| f.report)
                };
                match r {
                    Ok(r) => {
                        us.push(clock.elapsed().as_secs_f64() * 1e6);
                        it.push(r.iterations as f64);
                        rm.push(r.rmse_iv);
                    }
                    Err(_) => failures += 1,
                }
            }
            let med = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
            };
            let mean = rm.iter().sum::<f64>() / rm.len().max(1) as f64;
            println!(
                "{model:<6} {:<8} {:>10.0} {:>10.0} {:>12.5} {:>12.5} {:>9}",
                opt.to_string(),
                med(it),
                med(us),
                med(rm.clone()),
                mean,
                failures
            );
        }
    }
    Ok(())
}
