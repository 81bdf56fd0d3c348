//! Static arbitrage of calibrated surfaces on the whole `(k, t)` plane a pricer may query:
//! wings and times before, between and after the expiries ([`FittedSurface::plane_scan`]).
//!
//! ```text
//! cargo run --release --example arbitrage_scan [CHAIN ...]
//! ```
//! Without arguments it scans the chains of `../shared/data` (the repository's sibling).

use std::path::PathBuf;
use volfit::quotes::{Format, read_chains};
use volfit::surface::{SurfaceOptions, calibrate_surface};

const CHAINS: [&str; 11] = [
    "deribit/deribit_options_snapshot_20251230T173115Z.csv",
    "deribit/deribit_options_snapshot_20260215T153420Z.csv",
    "deribit/deribit_options_snapshot_20260415T161504Z.csv",
    "deribit/deribit_api_book_20200521.csv",
    "spx_gatheral/spx_ivols_20050915.csv",
    "spx_gatheral/spx_ivols_20170424.csv",
    "spx_gatheral/spx_ivols_20170519.csv",
    "spx_gatheral/spx_ivols_20191220.csv",
    "spx_gatheral/spx_optionmetrics_20050915.csv",
    "spx_gatheral/spx_optionmetrics_20110915.csv",
    "spx_cboe_2011/SPX-Options-24jan2011.csv",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let files: Vec<PathBuf> = if args.is_empty() {
        CHAINS.iter().map(|c| data.join(c)).collect()
    } else {
        args
    };
    println!(
        "{:<48} {:>4} {:>7} {:>6} {:>6} {:>6}  before/at/between/after  worst",
        "chain / underlying", "exp", "points", "cal", "bfly", "no-lv"
    );
    for f in &files {
        let (chains, _) = read_chains(f, Format::Auto)?;
        for c in chains {
            let u = c.underlying.clone();
            let (s, report) = match calibrate_surface(&c, &SurfaceOptions::default()) {
                Ok(x) => x,
                Err(e) => {
                    println!("{} {u}: {e}", f.display());
                    continue;
                }
            };
            let scan = s.plane_scan();
            let name = format!(
                "{} {u}",
                f.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            let worst = scan
                .worst
                .first()
                .map(|p| {
                    format!(
                        "{:?} k={:.3} t={:.4} value={:.2e}",
                        p.failure, p.k, p.t, p.value
                    )
                })
                .unwrap_or_default();
            println!(
                "{:<48} {:>4} {:>7} {:>6} {:>6} {:>6}  {:?}  {}",
                name.chars().take(48).collect::<String>(),
                s.slices().len(),
                scan.points,
                scan.calendar,
                scan.butterfly,
                scan.local_vol_undefined,
                scan.by_region,
                worst
            );
            let cost: Vec<String> = report
                .slices
                .iter()
                .filter_map(|x| {
                    x.repair.as_ref().map(|r| {
                        format!(
                            "t={:.4}: {:.5}->{:.5} ({})",
                            x.t,
                            r.rmse_before,
                            r.rmse_after,
                            if r.what.contains("served") {
                                "served"
                            } else {
                                "refit"
                            }
                        )
                    })
                })
                .collect();
            if !cost.is_empty() {
                println!("    repairs (RMSE vol): {}", cost.join(", "));
            }
        }
    }
    Ok(())
}
