//! The whole pipeline per real chain — read → implied vols and forwards (slices) → fit every
//! expiry → arbitrage checks → surface — single-threaded and parallel, with the time of each
//! stage printed; and the same slices through volsurf's `SurfaceBuilder` (SVI per tenor) in
//! the same run. Charts excluded.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::{SurfaceOptions, calibrate_surface};
use volsurf::surface::{SmileModel, SurfaceBuilder};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("data/sample_chain.csv")];
    for f in [
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_options_snapshot_20251230T173115Z.csv",
        "spx_gatheral/spx_ivols_20050915.csv",
        "spx_cboe_2011/SPX-Options-24jan2011.csv",
        // The densest chain here (39 expiries, 5,840 quotes): the nearest to issue 19's SPX
        // 2025-08-18 file (54 expiries, 9,983 quotes), which is not in the shared data.
        "spx_gatheral/spx_ivols_20191220.csv",
    ] {
        let p = root.join("../shared/data").join(f);
        if p.exists() {
            files.push(p);
        }
    }
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        // Stage times of one run (single-threaded).
        let t0 = Instant::now();
        let (chains, _) = read_chains(file, Format::Auto).unwrap();
        let read_ms = t0.elapsed().as_secs_f64() * 1e3;
        let chain = chains
            .iter()
            .find(|c| c.underlying == "BTC")
            .unwrap_or(&chains[0]);
        let serial = SurfaceOptions {
            parallel: false,
            ..SurfaceOptions::default()
        };
        let (s, r) = calibrate_surface(chain, &serial).unwrap();
        let t1 = Instant::now();
        let check = s.arbitrage_check();
        let check_ms = t1.elapsed().as_secs_f64() * 1e3;
        println!(
            "{name} {}: {} quotes used, {} expiries | read {read_ms:.2} ms (whole file) | slices {:.2} ms | fit + calendar check/repair {:.2} ms | arbitrage re-check {check_ms:.2} ms | arbitrage-free {}",
            chain.underlying,
            r.quotes_used(),
            s.slices().len(),
            r.timing_micros.implied_vol / 1e3,
            r.timing_micros.fit / 1e3,
            check.arbitrage_free
        );
        let parallel = SurfaceOptions::default();
        let file_c = file.clone();
        let u = chain.underlying.clone();
        g.bench_function(format!("{name}_{u}/volfit_read_to_surface_1thread"), |b| {
            b.iter(|| {
                let (cs, _) = read_chains(black_box(&file_c), Format::Auto).unwrap();
                let ch = cs.iter().find(|c| c.underlying == u).unwrap();
                calibrate_surface(ch, &serial).unwrap().0.slices().len()
            });
        });
        g.bench_function(format!("{name}_{u}/volfit_read_to_surface_parallel"), |b| {
            b.iter(|| {
                let (cs, _) = read_chains(black_box(&file_c), Format::Auto).unwrap();
                let ch = cs.iter().find(|c| c.underlying == u).unwrap();
                calibrate_surface(ch, &parallel).unwrap().0.slices().len()
            });
        });
        // volsurf on the same slices (strikes, mid vols, forwards, times), SVI per tenor.
        let (slices, _) = build_slices(chain, &SliceOptions::default());
        let slices: Vec<_> = slices
            .into_iter()
            .filter(|s| s.points().len() >= 5)
            .collect();
        g.bench_function(
            format!("{name}_{u}/volsurf_SurfaceBuilder_svi_same_slices"),
            |b| {
                b.iter(|| {
                    let mut builder = SurfaceBuilder::new()
                        .spot(chain.spot.unwrap_or(slices[0].forward()))
                        .rate(0.0)
                        .model(SmileModel::Svi);
                    for s in &slices {
                        let k: Vec<f64> = s
                            .points()
                            .iter()
                            .map(volfit::slice::SmilePoint::strike)
                            .collect();
                        let v: Vec<f64> = s
                            .points()
                            .iter()
                            .map(volfit::slice::SmilePoint::mid_iv)
                            .collect();
                        builder = builder.add_tenor_with_forward(s.t(), &k, &v, s.forward());
                    }
                    builder.build().map_or(0, |_| 1)
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
