//! Real slices and fit-quality measures shared by the slice-fit benches.
#![allow(dead_code)]

use std::path::Path;
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, SmileSlice, Weighting, build_slices};

/// The real chains of `../shared/data` the slice benches use.
pub const CHAINS: [&str; 8] = [
    "spx_gatheral/spx_ivols_20050915.csv",
    "spx_gatheral/spx_ivols_20170424.csv",
    "spx_gatheral/spx_ivols_20170519.csv",
    "spx_gatheral/spx_ivols_20191220.csv",
    "deribit/deribit_options_snapshot_20251230T173115Z.csv",
    "deribit/deribit_options_snapshot_20260215T153420Z.csv",
    "deribit/deribit_options_snapshot_20260415T161504Z.csv",
    "deribit/deribit_api_book_20200521.csv",
];

/// Every expiry with at least 5 quotes of `files`, named `"<file> <underlying> t=<T>"`.
pub fn real_slices(files: &[&str], weighting: Weighting) -> Vec<(String, SmileSlice)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut out = Vec::new();
    for f in files {
        let Ok((chains, _)) = read_chains(root.join(f), Format::Auto) else {
            continue;
        };
        let so = SliceOptions {
            weighting,
            ..SliceOptions::default()
        };
        for c in &chains {
            let (ss, _) = build_slices(c, &so);
            for s in ss.into_iter().filter(|s| s.points().len() >= 5) {
                let name = f.rsplit('/').next().unwrap_or(f);
                out.push((format!("{name} {} t={:.3}", c.underlying, s.t()), s));
            }
        }
    }
    out
}

/// `(strike, mid vol)` pairs of a slice.
pub fn market(s: &SmileSlice) -> Vec<(f64, f64)> {
    s.points()
        .iter()
        .map(|p| (p.strike(), p.mid_iv()))
        .collect()
}

/// RMSE vs mid and share inside bid/ask of a vol function.
pub fn quality(s: &SmileSlice, vol: impl Fn(f64) -> Option<f64>) -> (f64, f64) {
    let (mut sse, mut n, mut inside, mut two) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for p in s.points() {
        let Some(v) = vol(p.strike()) else { continue };
        sse += (v - p.mid_iv()).powi(2);
        n += 1.0;
        if let (Some(b), Some(a)) = (p.bid_iv(), p.ask_iv()) {
            two += 1.0;
            if v >= b && v <= a {
                inside += 1.0;
            }
        }
    }
    ((sse / n.max(1.0)).sqrt(), inside / two.max(1.0))
}

/// The `p`-quantile of `v`.
pub fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}
