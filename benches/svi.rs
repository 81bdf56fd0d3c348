//! SVI slice fits: volfit's `fit_svi` against `volsurf`'s `SviSmile::calibrate` on the same
//! strikes and mid vols of real slices (SPX IV tables and Deribit snapshots from
//! `../shared/data`), in one criterion run. Before the timings, a summary over every slice with
//! at least 5 quotes: median/p90 fit time, RMSE, share of quotes inside bid/ask, and how many
//! fits carry butterfly arbitrage (volsurf's own scan; volfit's exact `min g`); then, per file,
//! on how many slices volfit's RMSE is ≤ volsurf's and its share inside bid/ask ≥ volsurf's,
//! over all slices and over those where volsurf's fit is arbitrage-free
//! (`VOLFIT_BENCH_SLICES=1` also lists each slice where volsurf does better).

mod common;

use common::{market, pct, quality};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use volfit::fit::{FitOptions, fit_spline, fit_svi};
use volfit::slice::Weighting;
use volsurf::smile::{SmileSection, SviSmile};

fn bench(c: &mut Criterion) {
    let all = common::real_slices(&common::CHAINS[..7], Weighting::InverseSpread);
    if all.is_empty() {
        eprintln!("../shared/data not found: nothing to bench");
        return;
    }
    let opts = FitOptions::default();
    let (mut tv, mut ts) = (Vec::new(), Vec::new());
    let (mut rv, mut rs, mut iv, mut is_) = (Vec::new(), Vec::new(), 0.0, 0.0);
    let (mut arb_v, mut arb_s, mut fail_s) = (0, 0, 0);
    // Per file: (slices, volfit RMSE ≤ volsurf's, volfit inside ≥ volsurf's, both), over all
    // slices and over those where volsurf's fit is free of butterfly arbitrage.
    let mut wins: Vec<(String, [usize; 8])> = Vec::new();
    // `VOLFIT_BENCH_SLICES=1`: also list each slice where volsurf does better.
    let verbose = std::env::var_os("VOLFIT_BENCH_SLICES").is_some();
    // volsurf's (RMSE, share inside) per slice, for the spline comparison below.
    let mut peer: Vec<Option<(f64, f64)>> = Vec::with_capacity(all.len());
    for (name, s) in &all {
        let clock = Instant::now();
        let fit = fit_svi(s, &opts).expect("volfit fit");
        tv.push(clock.elapsed().as_secs_f64() * 1e6);
        let (r, w) = quality(s, |k| {
            Some((fit.model.w((k / s.forward()).ln()) / s.t()).sqrt())
        });
        let (rmse_v, in_v) = (r, w);
        rv.push(r);
        iv += w;
        arb_v += usize::from(!fit.report.butterfly_free);
        let clock = Instant::now();
        if let Ok(m) = SviSmile::calibrate(s.forward(), s.t(), &market(s)) {
            ts.push(clock.elapsed().as_secs_f64() * 1e6);
            let (r, w) = quality(s, |k| m.vol(volsurf::Strike(k)).ok().map(|v| v.0));
            peer.push(Some((r, w)));
            rs.push(r);
            is_ += w;
            let file = name.split(' ').next().unwrap_or(name).to_string();
            if wins.last().is_none_or(|(f, _)| *f != file) {
                wins.push((file, [0; 8]));
            }
            let free = m.is_arbitrage_free().is_ok_and(|a| a.is_free());
            if let Some((_, c)) = wins.last_mut() {
                let (r_ok, w_ok) = (rmse_v <= r * (1.0 + 1e-9), in_v >= w);
                for at in [0, 4].into_iter().filter(|&at| at == 0 || free) {
                    c[at] += 1;
                    c[at + 1] += usize::from(r_ok);
                    c[at + 2] += usize::from(w_ok);
                    c[at + 3] += usize::from(r_ok && w_ok);
                }
                if verbose && !(r_ok && w_ok) {
                    println!(
                        "  {name}: RMSE {rmse_v:.2e} vs {r:.2e}, inside {in_v:.3} vs {w:.3}{}",
                        if free {
                            ""
                        } else {
                            " (volsurf's fit has arbitrage)"
                        }
                    );
                }
            }
            arb_s += usize::from(!free);
        } else {
            peer.push(None);
            fail_s += 1;
        }
    }
    let n = all.len() as f64;
    println!(
        "{} slices | volfit: median {:.0} µs, p90 {:.0} µs, median RMSE {:.2e}, mean inside bid/ask {:.3}, arbitrage in {} fits \
         | volsurf: median {:.0} µs, p90 {:.0} µs, median RMSE {:.2e}, mean inside {:.3}, arbitrage in {} fits, {} failures \
         | median time ratio {:.1}×",
        all.len(),
        pct(tv.clone(), 0.5),
        pct(tv.clone(), 0.9),
        pct(rv, 0.5),
        iv / n,
        arb_v,
        pct(ts.clone(), 0.5),
        pct(ts.clone(), 0.9),
        pct(rs, 0.5),
        is_ / ts.len().max(1) as f64,
        arb_s,
        fail_s,
        pct(ts.clone(), 0.5) / pct(tv, 0.5)
    );
    for (file, [n, r, w, both, nf, rf, wf, bothf]) in &wins {
        println!(
            "  {file}: volfit ≤ volsurf in RMSE on {r}/{n} slices, ≥ in inside bid/ask on {w}/{n}, \
             both on {both}/{n}; where volsurf's fit is arbitrage-free: {rf}/{nf}, {wf}/{nf}, {bothf}/{nf}"
        );
    }

    // The spline smile (the default model) on the same slices, against the same volsurf fits.
    let (mut tp, mut rp, mut ip, mut arb_p) = (Vec::new(), Vec::new(), 0.0, 0);
    // Slices where the spline's RMSE ≤ volsurf's, its share inside ≥ volsurf's, and both.
    let mut beats = [0usize; 4];
    for ((_, s), vs) in all.iter().zip(&peer) {
        let clock = Instant::now();
        let fit = fit_spline(s, &opts).expect("volfit spline fit");
        tp.push(clock.elapsed().as_secs_f64() * 1e6);
        let (r, w) = quality(s, |k| {
            Some((fit.model.w((k / s.forward()).ln()) / s.t()).sqrt())
        });
        if let Some((pr, pw)) = *vs {
            let (r_ok, w_ok) = (r <= pr * (1.0 + 1e-9), w >= pw);
            beats[0] += 1;
            beats[1] += usize::from(r_ok);
            beats[2] += usize::from(w_ok);
            beats[3] += usize::from(r_ok && w_ok);
        }
        rp.push(r);
        ip += w;
        arb_p += usize::from(!fit.report.butterfly_free);
    }
    println!(
        "{} slices | volfit spline: median {:.0} µs, p90 {:.0} µs, median RMSE {:.2e}, mean inside bid/ask {:.3}, \
         arbitrage in {} fits | volsurf SVI median time / spline median time {:.2}×",
        all.len(),
        pct(tp.clone(), 0.5),
        pct(tp.clone(), 0.9),
        pct(rp, 0.5),
        ip / n,
        arb_p,
        pct(ts.clone(), 0.5) / pct(tp, 0.5)
    );
    println!(
        "  spline ≤ volsurf in RMSE on {}/{} slices, ≥ in inside bid/ask on {}/{}, both on {}/{}",
        beats[1], beats[0], beats[2], beats[0], beats[3], beats[0]
    );

    let mut g = c.benchmark_group("svi_slice_fit");
    g.sample_size(20);
    // Representative slices: SPX 2005 (≈ 40 quotes), SPX 2019 (≈ 110), Deribit BTC (≈ 30).
    for want in [
        "spx_ivols_20050915.csv SPX t=0.252",
        "spx_ivols_20191220.csv SPX t=0.249",
        "deribit_options_snapshot_20260215T153420Z.csv BTC t=0.108",
    ] {
        let Some((name, s)) = all
            .iter()
            .find(|(n, _)| n.starts_with(&want[..want.len() - 2]))
        else {
            continue;
        };
        let mk = market(s);
        let label = name.replace(' ', "_");
        g.bench_function(format!("{label}/volfit_fit_svi"), |b| {
            b.iter(|| fit_svi(black_box(s), &opts).unwrap().report.rmse_iv);
        });
        g.bench_function(format!("{label}/volfit_fit_spline"), |b| {
            b.iter(|| fit_spline(black_box(s), &opts).unwrap().report.rmse_iv);
        });
        g.bench_function(format!("{label}/volsurf_SviSmile_calibrate"), |b| {
            b.iter(|| {
                SviSmile::calibrate(s.forward(), s.t(), black_box(&mk))
                    .map(|m| m.vol(volsurf::Strike(s.forward())).map(|v| v.0))
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
