//! How well each smile model sits inside the market, per chain: share of quotes inside their
//! bid/ask (fitted, and held out: every fifth strike left out of the fit), RMSE, the LP
//! ceiling (the share any arbitrage-free smile could reach), and fit time — SVI against the
//! spline smile (the default model).
//!
//! ```text
//! cargo run --release --example fit_quality [CHAIN ...]
//! ```
//! Without arguments it runs on the chains of `../shared/data` (the repository's sibling).

use std::path::PathBuf;
use std::time::Instant;
use volfit::SmileSlice;
use volfit::fit::{FitOptions, fit_spline, fit_svi};
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, SmilePoint, VolConvention, build_slices, ceiling};

#[path = "common/chains.rs"]
mod chains;
use chains::CHAIN_FILES as CHAINS;

/// `(inside, two-sided, Σ squared error)` of the quotes `pts` under the smile `w`.
fn score(w: &dyn Fn(f64) -> f64, t: f64, pts: &[SmilePoint]) -> (usize, usize, f64) {
    let (mut i, mut n, mut se) = (0, 0, 0.0);
    for p in pts {
        let v = (w(p.k()) / t).sqrt();
        se += (v - p.mid_iv()).powi(2);
        if let Some((b, a)) = p.bid_ask() {
            n += 1;
            i += usize::from(v >= b && v <= a);
        }
    }
    (i, n, se)
}

#[derive(Default)]
struct Tally {
    inside: usize,
    quotes: usize,
    se: f64,
    points: usize,
    held_inside: usize,
    held: usize,
    micros: Vec<f64>,
}

impl Tally {
    fn line(&mut self, name: &str) -> String {
        self.micros.sort_by(f64::total_cmp);
        format!(
            "{name:7} inside {:5.1}%  held-out {:5.1}%  RMSE {:.2} vol pts  median fit {:6.0} µs",
            100.0 * self.inside as f64 / self.quotes.max(1) as f64,
            100.0 * self.held_inside as f64 / self.held.max(1) as f64,
            100.0 * (self.se / self.points.max(1) as f64).sqrt(),
            self.micros
                .get(self.micros.len() / 2)
                .copied()
                .unwrap_or(f64::NAN)
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let files: Vec<PathBuf> = if args.is_empty() {
        CHAINS.iter().map(|f| data.join(f)).collect()
    } else {
        args
    };
    let opts = FitOptions::default();
    for file in files {
        let (chains, _) = read_chains(&file, Format::Auto)?;
        let slices: Vec<SmileSlice> = chains
            .iter()
            .flat_map(|c| build_slices(c, &SliceOptions::default()).0)
            .filter(|s| s.convention() == VolConvention::Lognormal && s.points().len() >= 8)
            .collect();
        let (mut svi, mut spline) = (Tally::default(), Tally::default());
        let (mut attainable, mut infeasible) = (0.0, 0);
        for s in &slices {
            let t = s.t();
            if let Ok(c) = ceiling(s) {
                attainable += c.attainable_within;
                infeasible += usize::from(!c.feasible);
            }
            let held = s.held_out(5, 2);
            for (tally, spl) in [(&mut svi, false), (&mut spline, true)] {
                let fit = |x: &SmileSlice| -> Result<Box<dyn Fn(f64) -> f64>, _> {
                    if spl {
                        fit_spline(x, &opts).map(|f| Box::new(move |k| f.model.w(k)) as Box<_>)
                    } else {
                        fit_svi(x, &opts).map(|f| Box::new(move |k| f.model.w(k)) as Box<_>)
                    }
                };
                let clock = Instant::now();
                let w = fit(s)?;
                tally.micros.push(clock.elapsed().as_secs_f64() * 1e6);
                let (i, n, se) = score(&*w, t, s.points());
                tally.inside += i;
                tally.quotes += n;
                tally.se += se;
                tally.points += s.points().len();
                if let Some((train, out)) = &held {
                    let w = fit(train)?;
                    let (i, n, _) = score(&*w, t, out);
                    tally.held_inside += i;
                    tally.held += n;
                }
            }
        }
        let name = file
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        println!(
            "{name}: {} expiries, attainable {:.1}% (mean per expiry), {infeasible} inconsistent",
            slices.len(),
            100.0 * attainable / slices.len().max(1) as f64
        );
        println!("  {}", svi.line("svi"));
        println!("  {}", spline.line("spline"));
    }
    Ok(())
}
