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

#[path = "common/chains.rs"]
mod chains;
use chains::CHAIN_FILES as CHAINS;

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
            // What serving cost on the quotes: the served smile against the fit (after any
            // refit) at each quote, per expiry where they differ.
            let mut cost = Vec::new();
            for (i, x) in report.slices.iter().enumerate() {
                let fit = s.slices()[i].model;
                let rmse = |f: &dyn Fn(f64) -> f64| {
                    let n = x.quotes.len().max(1) as f64;
                    (x.quotes
                        .iter()
                        .map(|q| (f(q.k) - q.mid_iv).powi(2))
                        .sum::<f64>()
                        / n)
                        .sqrt()
                };
                let raw = rmse(&|k| (fit.w(k).max(0.0) / x.t).sqrt());
                let served = rmse(&|k| (s.served_w(i, k).unwrap().max(0.0) / x.t).sqrt());
                if (served - raw).abs() > 1e-9 {
                    cost.push(format!("t={:.4}: {:.5}->{:.5}", x.t, raw, served));
                }
            }
            let atoms = s
                .slices()
                .iter()
                .map(|x| s.atoms(x.t).iter().map(|a| a.1).sum::<f64>())
                .fold(0.0, f64::max);
            println!("    largest atom mass at an expiry: {atoms:.2e}");
            let refits = report
                .calendar
                .violations
                .iter()
                .filter(|v| matches!(v.action, volfit::surface::CalendarAction::Refit { .. }))
                .count();
            println!(
                "    {refits} fit repairs (refits); {} k-ranges served from an earlier expiry; served on quotes differs on {} expiries{}{}",
                report.calendar.served.len(),
                cost.len(),
                if cost.is_empty() { "" } else { ": RMSE vol " },
                cost.join(", ")
            );
        }
    }
    Ok(())
}
