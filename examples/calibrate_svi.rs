//! Fits raw SVI to every expiry of a chain and prints the parameters and fit statistics.
//!
//! ```sh
//! cargo run --release --example calibrate_svi [CHAIN]
//! ```
//! (default: the SPX 2005-09-15 IV table in `../shared/data` when present, else
//! `data/sample_chain.csv`).

use std::path::PathBuf;
use volfit::fit::{FitOptions, fit_svi};
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, build_slices};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::args().nth(1).map_or_else(
        || {
            let shared = root.join("../shared/data/spx_gatheral/spx_ivols_20050915.csv");
            if shared.exists() {
                shared
            } else {
                root.join("data/sample_chain.csv")
            }
        },
        PathBuf::from,
    );
    let (chains, ingest) = read_chains(&path, Format::Auto)?;
    println!(
        "{}: {} rows, {} rejected",
        path.display(),
        ingest.rows,
        ingest.rejected.len()
    );
    for chain in &chains {
        let (slices, _) = build_slices(chain, &SliceOptions::default());
        println!("\n{} — raw SVI per expiry", chain.underlying);
        println!(
            "{:>8} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>5} {:>7}",
            "T", "n", "a", "b", "rho", "m", "sigma", "RMSE", "inside", "min g", "iter", "µs"
        );
        for s in &slices {
            let f = fit_svi(s, &FitOptions::default())?;
            let (m, r) = (&f.model, &f.report);
            println!(
                "{:>8.4} {:>4} {:>9.5} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.5} {:>7} {:>6.3} {:>5} {:>7.0}",
                s.t(),
                r.n_quotes,
                m.a(),
                m.b(),
                m.rho(),
                m.m(),
                m.sigma(),
                r.rmse_iv,
                r.within_spread
                    .map_or_else(|| "—".into(), |w| format!("{:.0}%", 100.0 * w)),
                r.min_g,
                r.iterations,
                r.fit_micros
            );
        }
    }
    Ok(())
}
