//! SABR slice fits (β = 1): volfit's `fit_sabr` against `volsurf`'s `SabrSmile::calibrate` on
//! the same strikes and mid vols of real slices (SPX IV tables and Deribit snapshots from
//! `../shared/data`), in one criterion run, plus the time of one vol evaluation. Before the
//! timings, a summary over every slice with at least 5 quotes: median/p90 fit time, RMSE,
//! share of quotes inside bid/ask, and how many fits have a negative density (volsurf's own
//! scan over k ∈ [−2, 2]; volfit's density scan over ±6 ATM standard deviations).

mod common;

use common::{market, pct, quality};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use volfit::fit::{FitOptions, fit_sabr};
use volfit::slice::Weighting;
use volsurf::smile::{SabrSmile, SmileSection};

fn bench(c: &mut Criterion) {
    let all = common::real_slices(&common::CHAINS, Weighting::Uniform);
    if all.is_empty() {
        eprintln!("../shared/data not found: nothing to bench");
        return;
    }
    let opts = FitOptions::default();
    let (mut tv, mut ts) = (Vec::new(), Vec::new());
    let (mut rv, mut rs, mut iv, mut is_) = (Vec::new(), Vec::new(), 0.0, 0.0);
    let (mut arb_v, mut arb_s, mut fail_s, mut better) = (0, 0, 0, 0);
    for (_, s) in &all {
        let clock = Instant::now();
        let fit = fit_sabr(s, &opts).expect("volfit fit");
        tv.push(clock.elapsed().as_secs_f64() * 1e6);
        let (r, w) = quality(s, |k| Some(fit.model.vol(k)));
        rv.push(r);
        iv += w;
        arb_v += usize::from(!fit.report.butterfly_free);
        let clock = Instant::now();
        match SabrSmile::calibrate(s.forward(), s.t(), 1.0, &market(s)) {
            Ok(m) => {
                ts.push(clock.elapsed().as_secs_f64() * 1e6);
                let (r2, w) = quality(s, |k| m.vol(volsurf::Strike(k)).ok().map(|v| v.0));
                rs.push(r2);
                is_ += w;
                better += usize::from(r <= r2 * (1.0 + 1e-9));
                arb_s += usize::from(!m.is_arbitrage_free().is_ok_and(|a| a.is_free()));
            }
            Err(_) => fail_s += 1,
        }
    }
    let n = all.len() as f64;
    println!(
        "{} slices | volfit: median {:.0} µs, p90 {:.0} µs, median RMSE {:.2e}, mean inside bid/ask {:.3}, negative density in {} fits \
         | volsurf: median {:.0} µs, p90 {:.0} µs, median RMSE {:.2e}, mean inside {:.3}, arbitrage in {} fits, {} failures \
         | volfit RMSE <= volsurf's on {} of {} | median time ratio {:.1}×",
        all.len(),
        pct(tv.clone(), 0.5),
        pct(tv.clone(), 0.9),
        pct(rv, 0.5),
        iv / n,
        arb_v,
        pct(ts.clone(), 0.5),
        pct(ts.clone(), 0.9),
        pct(rs.clone(), 0.5),
        is_ / ts.len().max(1) as f64,
        arb_s,
        fail_s,
        better,
        rs.len(),
        pct(ts, 0.5) / pct(tv, 0.5)
    );

    let mut g = c.benchmark_group("sabr_slice_fit");
    g.sample_size(20);
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
        g.bench_function(format!("{label}/volfit_fit_sabr"), |b| {
            b.iter(|| fit_sabr(black_box(s), &opts).unwrap().report.rmse_iv);
        });
        g.bench_function(format!("{label}/volsurf_SabrSmile_calibrate"), |b| {
            b.iter(|| {
                SabrSmile::calibrate(s.forward(), s.t(), 1.0, black_box(&mk))
                    .map(|m| m.vol(volsurf::Strike(s.forward())).map(|v| v.0))
            });
        });
    }
    g.finish();

    // One vol evaluation, same parameters, 1 000 strikes across the smile.
    let mut g = c.benchmark_group("sabr_vol");
    let ours = volfit::Sabr::new(100.0, 0.5, 0.25, 1.0, -0.4, 0.9).unwrap();
    let theirs = SabrSmile::new(100.0, 0.5, 0.25, 1.0, -0.4, 0.9).unwrap();
    let strikes: Vec<f64> = (0..1000).map(|i| 50.0 + 0.1 * f64::from(i)).collect();
    g.bench_function("volfit_Sabr_vol_x1000", |b| {
        b.iter(|| strikes.iter().map(|&k| ours.vol(black_box(k))).sum::<f64>());
    });
    g.bench_function("volsurf_SabrSmile_vol_x1000", |b| {
        b.iter(|| {
            strikes
                .iter()
                .map(|&k| {
                    theirs
                        .vol(volsurf::Strike(black_box(k)))
                        .map_or(0.0, |v| v.0)
                })
                .sum::<f64>()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
