//! Warm starts against cold starts on consecutive snapshots of the January 2026 Deribit series
//! (`../shared/data/deribit_series/2026-01/`): for each pair (N, N+1) and each underlying,
//! snapshot N+1 is calibrated cold (`calibrate_surface`) and warm-started from snapshot N's
//! surface (`calibrate_surface_from`, what `volfit calibrate --prior` runs), one expiry after
//! another (no rayon, so that the times are the fits' own). Prints, per model, the fit time
//! (the best of three runs), the polish iterations, the share of quotes inside their bid/ask and
//! the RMSE, cold and warm, and the worst per-expiry differences.
//!
//! ```text
//! cargo run --release --example warm_start [PAIRS] [MODEL ...]
//! ```
//! Defaults: 30 pairs, the models `svi` and `spline`. With `VOLFIT_WARM_VERBOSE=1` it lists
//! the expiries whose warm fit is worse than the cold one (RMSE above 110%, or fewer quotes
//! inside). "Iterations" are the polish's; a spline fit's are its correction's (its SVI base's
//! are not in the report).

use std::path::PathBuf;
use volfit::quotes::{Chain, Format, read_chains};
use volfit::surface::{
    SurfaceModel, SurfaceOptions, SurfaceReport, calibrate_surface, calibrate_surface_from,
};

/// Timing runs per calibration (the best is kept: the machine is shared).
const RUNS: usize = 3;

#[derive(Default)]
struct Side {
    fit_micros: f64,
    slice_micros: f64,
    iterations: u64,
    slices: usize,
    inside: f64,
    two_sided: f64,
    se: f64,
    quotes: f64,
}

impl Side {
    fn add(&mut self, r: &SurfaceReport, fit_micros: f64) {
        self.fit_micros += fit_micros;
        for s in &r.slices {
            self.iterations += s.iterations;
            self.slice_micros += s.fit_micros;
            self.slices += 1;
            let n = s.n_quotes as f64;
            if let Some(w) = s.within_spread {
                let two = s
                    .quotes
                    .iter()
                    .filter(|q| q.bid_iv.is_some() && q.ask_iv.is_some())
                    .count() as f64;
                self.inside += w * two;
                self.two_sided += two;
            }
            self.se += s.rmse_iv * s.rmse_iv * n;
            self.quotes += n;
        }
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:5} fit stage {:7.1} ms, expiry fits {:7.1} ms ({:5.0} µs/expiry)  \
             iterations {:6} ({:5.1}/expiry)  inside {:6.2}%  RMSE {:.4} vol pts",
            self.fit_micros / 1e3,
            self.slice_micros / 1e3,
            self.slice_micros / self.slices.max(1) as f64,
            self.iterations,
            self.iterations as f64 / self.slices.max(1) as f64,
            100.0 * self.inside / self.two_sided.max(1.0),
            100.0 * (self.se / self.quotes.max(1.0)).sqrt()
        )
    }
}

/// The best-of-`RUNS` fit time and the report of `f`.
fn timed(f: impl Fn() -> SurfaceReport) -> (SurfaceReport, f64) {
    let mut best = f64::INFINITY;
    let mut report = None;
    for _ in 0..RUNS {
        let r = f();
        best = best.min(r.timing_micros.fit);
        report = Some(r);
    }
    (report.expect("RUNS > 0"), best)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pairs: usize = args.next().map_or(30, |a| a.parse().expect("PAIRS"));
    let mut models: Vec<SurfaceModel> = args.map(|m| m.parse().expect("MODEL")).collect();
    if models.is_empty() {
        models = vec![SurfaceModel::Svi, SurfaceModel::Spline];
    }
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/deribit_series/2026-01");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let chains: Vec<Vec<Chain>> = files
        .iter()
        .take(pairs + 1)
        .map(|f| read_chains(f, Format::Auto).expect("chain").0)
        .collect();
    for model in models {
        let opts = SurfaceOptions {
            model,
            parallel: false,
            ..SurfaceOptions::default()
        };
        let (mut cold, mut warm) = (Side::default(), Side::default());
        let (mut warm_slices, mut all_slices) = (0, 0);
        let (mut worst_inside, mut worst_rmse) = (0.0f64, 0.0f64);
        for w in chains.windows(2) {
            for prev in &w[0] {
                let Some(next) = w[1].iter().find(|c| c.underlying == prev.underlying) else {
                    continue;
                };
                let Ok((prior, _)) = calibrate_surface(prev, &opts) else {
                    continue;
                };
                let (rc, tc) = timed(|| calibrate_surface(next, &opts).expect("cold").1);
                let (rw, tw) =
                    timed(|| calibrate_surface_from(next, &opts, &prior).expect("warm").1);
                cold.add(&rc, tc);
                warm.add(&rw, tw);
                all_slices += rw.slices.len();
                warm_slices += rw.slices.iter().filter(|s| s.warm_start).count();
                for (c, x) in rc.slices.iter().zip(&rw.slices) {
                    if let (Some(a), Some(b)) = (c.within_spread, x.within_spread) {
                        worst_inside = worst_inside.max(a - b);
                    }
                    if c.rmse_iv > 1e-4 {
                        worst_rmse = worst_rmse.max(x.rmse_iv / c.rmse_iv);
                    }
                    if std::env::var_os("VOLFIT_WARM_VERBOSE").is_some()
                        && (x.rmse_iv > 1.1 * c.rmse_iv
                            || c.within_spread.unwrap_or(0.0)
                                > x.within_spread.unwrap_or(0.0) + 1e-9)
                    {
                        println!(
                            "  {} {:?} t {:.4}: cold RMSE {:.5} inside {:?} it {}, warm RMSE {:.5} inside {:?} it {} (warm start {})",
                            next.underlying,
                            next.as_of,
                            c.t,
                            c.rmse_iv,
                            c.within_spread,
                            c.iterations,
                            x.rmse_iv,
                            x.within_spread,
                            x.iterations,
                            x.warm_start
                        );
                    }
                }
            }
        }
        println!(
            "{model}: {} pairs x {{BTC, ETH}}, {warm_slices} of {all_slices} expiries warm-started",
            chains.len().saturating_sub(1)
        );
        println!("  {}", cold.line("cold"));
        println!("  {}", warm.line("warm"));
        println!(
            "  worst expiry: inside {:.2} points lower warm, RMSE warm/cold {:.3} (where cold > 0.01 vol pt)",
            100.0 * worst_inside,
            worst_rmse
        );
    }
}
