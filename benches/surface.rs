//! The fitted surface: `vol(K, T)` query time against `volsurf`'s `PiecewiseSurface` holding
//! the same SVI expiries (same parameters, forwards and times), in one criterion run; and the
//! build time of a surface (ingest excluded) for each real chain. The default (SVI + spline)
//! surface's query is timed beside them.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use volfit::quotes::{Chain, Format, read_chains};
use volfit::surface::{SliceModel, SurfaceModel, SurfaceOptions, VolSurface, calibrate_surface};
use volsurf::smile::{SmileSection, SviSmile};
use volsurf::surface::{PiecewiseSurface, VolSurface as _};

fn chains() -> Vec<(String, Chain)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut out = Vec::new();
    for f in [
        "spx_gatheral/spx_ivols_20050915.csv",
        "spx_gatheral/spx_ivols_20191220.csv",
        "spx_cboe_2011/SPX-Options-24jan2011.csv",
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_api_book_20200521.csv",
    ] {
        if let Ok((cs, _)) = read_chains(root.join(f), Format::Auto) {
            for c in cs {
                out.push((
                    format!("{}_{}", f.rsplit('/').next().unwrap_or(f), c.underlying),
                    c,
                ));
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let all = chains();
    if all.is_empty() {
        eprintln!("../shared/data not found: nothing to bench");
        return;
    }
    // Query: the SPX 2005 surface (8 expiries), 1 000 (K, T) points across strikes and times,
    // inside the expiry range (both libraries interpolate linearly in total variance there).
    let (_, spx) = &all[0];
    // Raw SVI per expiry, so that volsurf can hold the very same smiles; the default
    // (spline-corrected) surface's query is timed beside it.
    let svi = SurfaceOptions {
        model: SurfaceModel::Svi,
        ..SurfaceOptions::default()
    };
    let (ours, _) = calibrate_surface(spx, &svi).expect("surface");
    let (spline, _) = calibrate_surface(spx, &SurfaceOptions::default()).expect("surface");
    let mut tenors = Vec::new();
    let mut smiles: Vec<Box<dyn SmileSection>> = Vec::new();
    for s in ours.slices() {
        let SliceModel::Svi(m) = s.model else {
            continue;
        };
        tenors.push(s.t);
        smiles.push(Box::new(
            SviSmile::new(s.forward, s.t, m.a(), m.b(), m.rho(), m.m(), m.sigma()).expect("svi"),
        ));
    }
    let theirs = PiecewiseSurface::new(tenors.clone(), smiles).expect("piecewise");
    let (t0, t1) = (tenors[0], tenors[tenors.len() - 1]);
    let queries: Vec<(f64, f64)> = (0..1000)
        .map(|i| {
            let t = t0 + (t1 - t0) * (f64::from(i) + 0.5) / 1000.0;
            let k = ours.forward(t) * (0.7 + 0.6 * f64::from((i * 37) % 1000) / 1000.0);
            (k, t)
        })
        .collect();
    // Same numbers? (Forwards differ by construction between expiries: volsurf interpolates
    // each smile at its own forward; report the largest difference.)
    let worst = queries
        .iter()
        .map(|&(k, t)| {
            let a = ours.vol(k, t);
            let b = theirs
                .black_vol(volsurf::Tenor(t), volsurf::Strike(k))
                .map_or(f64::NAN, |v| v.0);
            (a - b).abs()
        })
        .fold(0.0, f64::max);
    println!(
        "SPX 2005 surface: largest |vol difference| volfit vs volsurf over the queries: {worst:.2e}"
    );
    let mut g = c.benchmark_group("surface_vol_query");
    g.bench_function("volfit_FittedSurface_vol_x1000", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|&(k, t)| ours.vol(black_box(k), black_box(t)))
                .sum::<f64>()
        });
    });
    g.bench_function("volsurf_PiecewiseSurface_black_vol_x1000", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|&(k, t)| {
                    theirs
                        .black_vol(volsurf::Tenor(black_box(t)), volsurf::Strike(black_box(k)))
                        .map_or(0.0, |v| v.0)
                })
                .sum::<f64>()
        });
    });
    g.bench_function("volfit_FittedSurface_spline_vol_x1000", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|&(k, t)| spline.vol(black_box(k), black_box(t)))
                .sum::<f64>()
        });
    });
    let dyn_surface: &dyn VolSurface = &ours;
    g.bench_function("volfit_dyn_VolSurface_local_vol_x1000", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|&(k, t)| {
                    dyn_surface
                        .local_vol(black_box(k), black_box(t))
                        .unwrap_or(0.0)
                })
                .sum::<f64>()
        });
    });
    g.finish();

    let mut g = c.benchmark_group("surface_build");
    g.sample_size(10);
    for (name, chain) in &all {
        for model in [SurfaceModel::Svi, SurfaceModel::Ssvi] {
            let o = SurfaceOptions {
                model,
                ..SurfaceOptions::default()
            };
            g.bench_function(format!("{name}/{model}"), |b| {
                b.iter(|| calibrate_surface(black_box(chain), &o).map(|s| s.0.slices().len()));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
