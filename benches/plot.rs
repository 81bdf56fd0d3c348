//! Render time per chart (PNG, 1200×800) for the Deribit BTC snapshot of 2026-02-15: one skew
//! chart, total variance, term structure, density and the two heatmaps, and the whole set.

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use volfit::plot::{ChartInput, ImageFormat, render_all};
use volfit::quotes::{Format, read_chains};
use volfit::surface::{SurfaceModel, SurfaceOptions, calibrate_surface};

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/deribit/deribit_options_snapshot_20260215T153420Z.csv");
    let Ok((chains, _)) = read_chains(&path, Format::Auto) else {
        eprintln!("../shared/data not found: nothing to bench");
        return;
    };
    let (svi, report) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let sabr_opts = SurfaceOptions {
        model: SurfaceModel::Sabr,
        ..SurfaceOptions::default()
    };
    let (sabr, _) = calibrate_surface(&chains[0], &sabr_opts).unwrap();
    let input = ChartInput {
        surface: &svi,
        report: &report,
        overlay: Some(("sabr", &sabr)),
    };
    let dir = std::env::temp_dir().join("volfit-plot-bench");
    // Per-chart times from one full render (each chart is timed inside render_all).
    let charts = render_all(&input, &dir, &[ImageFormat::Png]).unwrap();
    for ch in &charts {
        println!("{:<70} {:>8.1} ms", ch.title, ch.render_micros / 1e3);
    }
    let mut g = c.benchmark_group("plot");
    g.sample_size(10);
    g.bench_function("render_all_png_btc_12_expiries", |b| {
        b.iter(|| render_all(&input, &dir, &[ImageFormat::Png]).unwrap().len());
    });
    g.bench_function("render_all_svg_btc_12_expiries", |b| {
        b.iter(|| render_all(&input, &dir, &[ImageFormat::Svg]).unwrap().len());
    });
    g.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
