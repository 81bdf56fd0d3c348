//! The live tracker on the January 2026 Deribit series: filtered against independent fits.
//!
//! ```text
//! cargo run --release --example track_january [-- DIR] [--estimate]
//! ```
//!
//! For BTC and ETH over the 121 snapshots of `../shared/data/deribit_series/2026-01/` it runs
//! three trackers on the same chains — the Kalman filter, warm-started refits without a
//! filter, and independent fits (a fresh tracker per snapshot) — and prints:
//!
//! * **stability**: the standard deviation of snapshot-to-snapshot changes of the 30-day
//!   ATM vol and 25Δ risk reversal (constant maturity, read off the surface);
//! * **fit**: the share of quotes inside their bid/ask;
//! * **prediction**: with a random 20% of each snapshot's quotes held out of the fit, the
//!   held-out quotes' distance outside their bid/ask in half-spreads (0 inside), on average
//!   and in the wings (`|k| > √w(0)`);
//! * **consistency**: the month's normalised innovation squared per degree of freedom with
//!   its `χ²` 95% band;
//! * **latency**: per update (whole chain).
//!
//! With `--estimate` it first prints the noise estimates behind
//! [`volfit::live::FilterParams::default`] and why the filter runs in jump-wings
//! coordinates (the random walk's prediction error in raw SVI against jump-wings).

#[path = "common/series.rs"]
mod series;
use series::snapshots;
use std::collections::BTreeMap;
use std::path::PathBuf;
use volfit::live::filter::{self, COORDINATES, STATE};
use volfit::live::{FilterKind, FilterParams, Tracker, TrackerOptions};
use volfit::quotes::{Chain, Format, read_chains};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::{FittedSurface, VolSurface};
use volfit::{OptionKind, implied_vol};

/// A deterministic pseudo-random stream (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
}

fn std_dev(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn diffs(x: &[Option<f64>]) -> Vec<f64> {
    x.windows(2).filter_map(|w| Some(w[1]? - w[0]?)).collect()
}

/// 30-day ATM vol and 25Δ RR off the surface.
fn tenor30(s: &FittedSurface) -> (Option<f64>, Option<f64>) {
    volfit::live::tenor::tenor_point(s, 30.0).map_or((None, None), |p| (Some(p.atm_vol), p.rr25))
}

/// The held-out quotes' distance outside bid/ask in half-spreads: (all, wings).
fn held_out_distance(s: &FittedSurface, held: &[volfit::OptionQuote]) -> (Vec<f64>, Vec<f64>) {
    let (mut all, mut wings) = (Vec::new(), Vec::new());
    for q in held {
        let (Some(b), Some(a), Some(f)) = (q.bid, q.ask, q.forward) else {
            continue;
        };
        if q.kind != OptionKind::otm(f, q.strike) {
            continue;
        }
        let Some(t) = s.year_fraction(q.expiry) else {
            continue;
        };
        let iv = |p: f64| implied_vol(q.kind, p * f, f, q.strike, t).ok();
        let (Some(bv), Some(av)) = (iv(b), iv(a)) else {
            continue;
        };
        if !(av > bv) {
            continue;
        }
        let Ok(v) = s.try_vol(q.strike, t) else {
            continue;
        };
        let h = 0.5 * (av - bv);
        let d = ((bv - v).max(v - av)).max(0.0) / h;
        all.push(d);
        let k = (q.strike / s.forward(t)).ln();
        if k.abs() > s.total_variance(0.0, t).sqrt() {
            wings.push(d);
        }
    }
    (all, wings)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

#[derive(Default)]
struct Run {
    atm: Vec<Option<f64>>,
    rr: Vec<Option<f64>>,
    inside: Vec<f64>,
    held: Vec<f64>,
    held_wings: Vec<f64>,
    nis: f64,
    dof: usize,
    micros: Vec<f64>,
    gated: usize,
}

fn run(
    chains: &[Chain],
    filter: FilterKind,
    independent: bool,
    params: FilterParams,
    hold_out: bool,
) -> Run {
    let opts = TrackerOptions {
        filter,
        params,
        ..TrackerOptions::default()
    };
    let underlying = chains[0].underlying.clone();
    let mut tracker = Tracker::new(underlying.clone(), opts.clone()).expect("options");
    let mut out = Run::default();
    let mut rng = Rng(17);
    for chain in chains {
        if independent {
            tracker = Tracker::new(underlying.clone(), opts.clone()).expect("options");
        }
        let mut fitted = chain.clone();
        let mut held = Vec::new();
        if hold_out {
            fitted.quotes.clear();
            for q in &chain.quotes {
                if rng.next() < 0.2 {
                    held.push(q.clone());
                } else {
                    fitted.quotes.push(q.clone());
                }
            }
        }
        let Ok(rep) = tracker.update_chain(&fitted) else {
            continue;
        };
        let s = tracker.surface().expect("a surface");
        let (a, r) = tenor30(&s);
        out.atm.push(a);
        out.rr.push(r);
        out.inside.extend(rep.within_spread);
        if let Some(n) = rep.nis {
            out.nis += n;
            out.dof += rep.nis_dof;
        }
        out.gated += rep.gated.len();
        out.micros.push(rep.update_micros);
        if hold_out {
            let (all, wings) = held_out_distance(&s, &held);
            out.held.extend(all);
            out.held_wings.extend(wings);
        }
    }
    out
}

/// The noise estimates and the coordinate comparison of `--estimate`.
fn estimate(series: &[Vec<Chain>]) -> FilterParams {
    let opts = volfit::FitOptions::default();
    // Independent SVI fits of every expiry of every snapshot.
    let mut e2h2 = Vec::new();
    let mut changes: Vec<Vec<f64>> = vec![Vec::new(); STATE];
    let (mut raw_err, mut jw_err, mut n_err) = (0.0, 0.0, 0usize);
    for chains in series {
        let mut prev: BTreeMap<_, (volfit::Svi, f64, chrono::DateTime<chrono::Utc>)> =
            BTreeMap::default();
        for chain in chains {
            let (slices, _) = build_slices(chain, &SliceOptions::default());
            let at = chain.as_of.expect("snapshot time");
            for s in &slices {
                let Ok(f) = volfit::fit_svi(s, &opts) else {
                    continue;
                };
                let e = s.expiry().expect("expiry");
                for p in s.points() {
                    if let Some((b, a)) = p.bid_ask() {
                        let v = (f.model.w(p.k()) / s.t()).sqrt();
                        e2h2.push(((v - p.mid_iv()).powi(2), (0.5 * (a - b)).powi(2)));
                    }
                }
                if let Some((old, t_old, when)) = prev.get(&e) {
                    let dt = (at - *when).as_seconds_f64() / (365.25 * 86400.0);
                    if let (Some((z0, _)), Some((z1, _))) = (
                        filter::coordinates(old, *t_old),
                        filter::coordinates(&f.model, s.t()),
                    ) {
                        for i in 0..STATE {
                            changes[i].push((z1[i] - z0[i]).powi(2) / dt);
                        }
                        // The random walk's prediction at the new time: raw held vs jump-wings held.
                        let jw = filter::svi_of(&z0, s.t());
                        for p in s.points() {
                            let raw = (old.w(p.k()) / s.t()).sqrt() - p.mid_iv();
                            if let Some(j) = jw {
                                let jv = (j.w(p.k()) / s.t()).sqrt() - p.mid_iv();
                                raw_err += raw * raw;
                                jw_err += jv * jv;
                                n_err += 1;
                            }
                        }
                    }
                }
                prev.insert(e, (f.model, s.t(), at));
            }
        }
    }
    // E[e²] = κ²h² + ε²: least squares on (h², e²).
    let n = e2h2.len() as f64;
    let (mx, my) = (
        e2h2.iter().map(|p| p.1).sum::<f64>() / n,
        e2h2.iter().map(|p| p.0).sum::<f64>() / n,
    );
    let sxy: f64 = e2h2.iter().map(|p| (p.1 - mx) * (p.0 - my)).sum();
    let sxx: f64 = e2h2.iter().map(|p| (p.1 - mx).powi(2)).sum();
    let k2 = (sxy / sxx).max(0.0);
    let eps2 = (my - k2 * mx).max(1e-8);
    println!(
        "measurement noise from {} quotes: kappa = {:.3}, epsilon = {:.4} vol",
        e2h2.len(),
        k2.sqrt(),
        eps2.sqrt()
    );
    println!(
        "random-walk prediction of the next snapshot's quotes (RMS vol error, {n_err} quotes): \
         raw SVI held {:.4}, jump-wings held {:.4}",
        (raw_err / n_err as f64).sqrt(),
        (jw_err / n_err as f64).sqrt()
    );
    // Robust per-year variance of each coordinate's change (median of squared changes / dt,
    // over the median of χ²₁ = 0.455).
    let mut q = [0.0; STATE];
    for i in 0..STATE {
        let c = &mut changes[i];
        c.sort_by(f64::total_cmp);
        q[i] = c[c.len() / 2] / 0.455;
        println!(
            "  {:>8}: q = {:.4} per year ({} changes)",
            COORDINATES[i],
            q[i],
            c.len()
        );
    }
    let mut params = FilterParams {
        q,
        kappa: k2.sqrt(),
        epsilon: eps2.sqrt(),
        ..FilterParams::default()
    };
    // Innovation matching: one factor on q so that the month's NIS per dof is 1.
    let ratio = |f: f64, params: &FilterParams| {
        let p = FilterParams {
            q: params.q.map(|v| v * f),
            ..*params
        };
        let (mut nis, mut dof) = (0.0, 0usize);
        for chains in series {
            let r = run(chains, FilterKind::Kalman, false, p, false);
            nis += r.nis;
            dof += r.dof;
        }
        nis / dof as f64
    };
    let (mut lo, mut hi) = (-4.0f64, 4.0f64); // log10 of the factor
    for _ in 0..12 {
        let mid = 0.5 * (lo + hi);
        if ratio(10f64.powf(mid), &params) > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let f = 10f64.powf(0.5 * (lo + hi));
    println!(
        "innovation matching: q factor {f:.4} (NIS/dof {:.3})",
        ratio(f, &params)
    );
    params.q = params.q.map(|v| v * f);
    println!("estimated FilterParams: {params:?}");
    params
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let est = args.iter().any(|a| a == "--estimate");
    args.retain(|a| a != "--estimate");
    // `--q-factor F`: the process noise scaled by F (the trade-off between smoothness and
    // fit, printed by a sweep in the README).
    let mut q_factor = 1.0;
    if let Some(i) = args.iter().position(|a| a == "--q-factor") {
        q_factor = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--q-factor F");
        args.drain(i..=i + 1);
    }
    // `--q-wings F`: the wing slopes' (p, c) process noise scaled by F on top.
    let mut q_wings = 1.0;
    if let Some(i) = args.iter().position(|a| a == "--q-wings") {
        q_wings = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--q-wings F");
        args.drain(i..=i + 1);
    }
    // `--kappa K`: the measurement noise's multiple of the half-spread.
    let mut kappa = None;
    if let Some(i) = args.iter().position(|a| a == "--kappa") {
        kappa = Some(
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .expect("--kappa K"),
        );
        args.drain(i..=i + 1);
    }
    let dir = args.first().map_or_else(
        || PathBuf::from("../shared/data/deribit_series/2026-01"),
        PathBuf::from,
    );
    let files = snapshots(&dir);
    let mut by: BTreeMap<String, Vec<Chain>> = BTreeMap::default();
    for f in &files {
        let (chains, _) = read_chains(f, Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        for c in chains {
            by.entry(c.underlying.clone()).or_default().push(c);
        }
    }
    println!("{} snapshots from {}", files.len(), dir.display());
    let series: Vec<Vec<Chain>> = by.into_values().collect();
    let params = if est {
        estimate(&series)
    } else {
        FilterParams::default()
    };
    let mut params = FilterParams {
        q: params.q.map(|v| v * q_factor),
        ..params
    };
    if let Some(k) = kappa {
        params.kappa = k;
    }
    params.q[2] *= q_wings;
    params.q[3] *= q_wings;
    for chains in &series {
        let u = &chains[0].underlying;
        let k = run(chains, FilterKind::Kalman, false, params, false);
        let w = run(chains, FilterKind::None, false, params, false);
        let i = run(chains, FilterKind::None, true, params, false);
        let kh = run(chains, FilterKind::Kalman, false, params, true);
        let ih = run(chains, FilterKind::None, true, params, true);
        println!("\n{u}: {} snapshots", chains.len());
        for (name, r) in [("kalman", &k), ("warm, no filter", &w), ("independent", &i)] {
            let mut m = r.micros.clone();
            m.sort_by(f64::total_cmp);
            println!(
                "  {name:>16}: sd d(ATM30) {:.3} vp, sd d(RR25) {:.3} vp, inside {:.1}%, update p50 {:.0} us p99 {:.0} us, gated {}",
                100.0 * std_dev(&diffs(&r.atm)),
                100.0 * std_dev(&diffs(&r.rr)),
                100.0 * mean(&r.inside),
                m[m.len() / 2],
                m[(m.len() * 99) / 100],
                r.gated
            );
        }
        println!(
            "  stability ratio kalman/independent: ATM30 {:.2}, RR25 {:.2}",
            std_dev(&diffs(&k.atm)) / std_dev(&diffs(&i.atm)),
            std_dev(&diffs(&k.rr)) / std_dev(&diffs(&i.rr))
        );
        println!(
            "  held-out 20%: distance outside bid/ask (half-spreads) kalman {:.3} (wings {:.3}, n {}), independent {:.3} (wings {:.3}, n {})",
            mean(&kh.held),
            mean(&kh.held_wings),
            kh.held.len(),
            mean(&ih.held),
            mean(&ih.held_wings),
            ih.held.len()
        );
        let band = volfit::live::chi2_band(k.dof);
        println!(
            "  NIS over the month: {:.1} on {} dof = {:.3} per dof (95% band {:.3}–{:.3})",
            k.nis,
            k.dof,
            k.nis / k.dof as f64,
            band[0] / k.dof as f64,
            band[1] / k.dof as f64
        );
    }
}
