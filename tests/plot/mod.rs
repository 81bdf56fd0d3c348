//! Charts: every chart renders for every real chain (decoded: right size, not blank, several
//! colours), SVG too, and the review page links every chart.

use crate::common::{CHAIN_FILES, shared_data};
use std::collections::HashSet;
use std::path::Path;
use volfit::plot::{ChartInput, ImageFormat, render_all, write_report_html};
use volfit::quotes::{Format, read_chains};
use volfit::surface::{SurfaceModel, SurfaceOptions, calibrate_surface};

/// Decodes a PNG: `(width, height, distinct colours, fraction of non-white pixels)`.
fn inspect(path: &Path) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let mut colours = HashSet::new();
    let mut non_white = 0usize;
    for p in px.chunks(bpp) {
        colours.insert(p[..3.min(bpp)].to_vec());
        if p[..3.min(bpp)].iter().any(|&c| c < 250) {
            non_white += 1;
        }
    }
    let n = (px.len() / bpp) as f64;
    (info.width, info.height, colours.len(), non_white as f64 / n)
}

#[test]
fn every_chart_renders_for_every_real_chain() {
    let out = std::env::temp_dir().join(format!("volfit-plots-{}", std::process::id()));
    let mut total = 0;
    for f in CHAIN_FILES {
        let (chains, _) = read_chains(shared_data(f), Format::Auto).unwrap();
        for c in &chains {
            let (svi, report) = calibrate_surface(c, &SurfaceOptions::default()).unwrap();
            let sabr_opts = SurfaceOptions {
                model: SurfaceModel::Sabr,
                ..SurfaceOptions::default()
            };
            let (sabr, _) = calibrate_surface(c, &sabr_opts).unwrap();
            let dir = out.join(format!("{}_{}", f.replace('/', "_"), c.underlying));
            let charts = render_all(
                &ChartInput {
                    surface: &svi,
                    report: &report,
                    overlay: Some(("sabr", &sabr)),
                },
                &dir.join("plots"),
                &[ImageFormat::Png],
            )
            .unwrap_or_else(|e| panic!("{f} {}: {e}", c.underlying));
            assert_eq!(charts.len(), report.slices.len() + 5, "{f}");
            for ch in &charts {
                let (w, h, colours, ink) = inspect(&ch.files[0]);
                assert_eq!((w, h), (1200, 800), "{}", ch.files[0].display());
                assert!(colours >= 6, "{}: {colours} colours", ch.files[0].display());
                assert!(ink > 0.01, "{}: {ink:.4} non-white", ch.files[0].display());
                total += 1;
            }
            let page = dir.join("report.html");
            write_report_html(&page, &report, &charts).unwrap();
            let html = std::fs::read_to_string(&page).unwrap();
            for ch in &charts {
                let name = ch.files[0]
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                assert!(
                    html.contains(&format!("plots/{name}")),
                    "{f}: page misses {name}"
                );
            }
            assert!(html.contains("<table>") && html.contains(&c.underlying));
        }
    }
    println!("{total} charts rendered and decoded");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn svg_charts_are_written() {
    let (chains, _) = read_chains(
        shared_data("spx_gatheral/spx_ivols_20050915.csv"),
        Format::Auto,
    )
    .unwrap();
    let (s, r) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("volfit-svg-{}", std::process::id()));
    let charts = render_all(
        &ChartInput {
            surface: &s,
            report: &r,
            overlay: None,
        },
        &dir,
        &[ImageFormat::Svg],
    )
    .unwrap();
    for ch in &charts {
        let svg = std::fs::read_to_string(&ch.files[0]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("SPX") && svg.len() > 5_000);
    }
    std::fs::remove_dir_all(&dir).ok();
}
