//! Draws the review charts and page of one chain: SVI surface with SABR overlaid on the skews.
//!
//! ```sh
//! cargo run --release --example skew_chart [CHAIN.csv] [OUT_DIR]
//! ```
//! (default: the Deribit snapshot in `../shared/data` when present, else `data/sample_chain.csv`;
//! output in `target/skew_chart/`).

use std::path::PathBuf;
use volfit::plot::{ChartInput, ImageFormat, render_all, write_report_html};
use volfit::quotes::{Format, read_chains};
use volfit::surface::{SurfaceModel, SurfaceOptions, calibrate_surface};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let input = args.next().map_or_else(
        || {
            let shared =
                root.join("../shared/data/deribit/deribit_options_snapshot_20260215T153420Z.csv");
            if shared.exists() {
                shared
            } else {
                root.join("data/sample_chain.csv")
            }
        },
        PathBuf::from,
    );
    let out = args
        .next()
        .map_or_else(|| root.join("target/skew_chart"), PathBuf::from);
    let (chains, _) = read_chains(&input, Format::Auto)?;
    for chain in &chains {
        let (svi, report) = calibrate_surface(chain, &SurfaceOptions::default())?;
        let sabr_opts = SurfaceOptions {
            model: SurfaceModel::Sabr,
            ..SurfaceOptions::default()
        };
        let (sabr, _) = calibrate_surface(chain, &sabr_opts)?;
        let dir = out.join(&chain.underlying);
        let charts = render_all(
            &ChartInput {
                surface: &svi,
                report: &report,
                overlay: Some(("sabr", &sabr)),
            },
            &dir.join("plots"),
            &[ImageFormat::Png, ImageFormat::Svg],
        )?;
        write_report_html(&dir.join("report.html"), &report, &charts)?;
        let ms: f64 = charts.iter().map(|c| c.render_micros).sum::<f64>() / 1e3;
        println!(
            "{}: {} charts in {ms:.0} ms -> {}",
            chain.underlying,
            charts.len(),
            dir.join("report.html").display()
        );
    }
    Ok(())
}
