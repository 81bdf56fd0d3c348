//! Diagnostic charts (plotters; PNG and SVG, headless — the DejaVu fonts are embedded, no
//! system fontconfig) and the `report.html` review page.
//!
//! [`render_all`] draws, for one calibrated surface:
//! * `skew_NN_<expiry>` — per expiry: bid–ask vol bars, mid dots, the fitted curve (and an
//!   overlay model's, e.g. SABR over SVI), the forward, filtered-out quotes in grey, strike on
//!   the bottom axis and log-moneyness on the top; below, residuals `fit − mid` in vol points
//!   with each quote's bid/ask band around zero;
//! * `total_variance` — every expiry's `w(k)`, the calendar check's violations marked;
//! * `term_structure` — ATM vol, 25-delta risk reversal and butterfly against expiry;
//! * `density` — the risk-neutral density of `ln(F_T/F)` per expiry, negative parts marked;
//! * `heatmap_iv`, `heatmap_local_vol` — implied and local vol over `(k, T)`.
//!
//! [`write_track_page`] writes `track.html`, the page of a tracked series (`volfit track`);
//! [`write_risk_page`] writes `risk.html`, the page of a book's risk (`volfit risk`).
//!
//! Each chart is rendered in memory and written with [`crate::output::write_atomic`], so a
//! reader (a browser refreshing `report.html`) never sees a half-written image.
//!
//! Titles carry the underlying, snapshot time and expiry; every axis names its unit. Charts
//! are 1200×800. In PNG, plotters draws a rotated y-axis label unrotated (plotters #655), so
//! the y-axis names are written horizontally above the axis instead.

//!
//! The charts only draw: every number they show (fits, arbitrage verdicts, ATM/RR/BF) comes
//! from the surface layer ([`crate::surface::metrics`], [`crate::surface::arbitrage`]).

mod density;
mod explain;
mod heatmap;
mod html;
mod risk;
mod skew;
mod style;
mod term;
mod track;
mod variance;

pub use explain::{ExplainPage, write_explain_page};
pub use html::{IndexEntry, write_index_page, write_report_html, write_review_page};
pub use risk::{RiskPage, ScenarioGrid, write_risk_page};
pub use style::{register_fonts, viridis};
pub use track::{TABLE_ROWS, TrackPage, TrackSummary, TrackUpdate, write_track_page};

use crate::output::write_atomic;
use crate::surface::{FittedSurface, SliceSummary, SurfaceReport};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (1200, 800);

/// A chart that could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chart {}: {reason}", chart.display())]
pub struct PlotError {
    /// The chart's file.
    pub chart: PathBuf,
    /// What failed.
    pub reason: String,
}

/// Image formats to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG (bitmap).
    Png,
    /// SVG (vector).
    Svg,
}

/// A chart written to disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// What it shows (for the review page).
    pub title: String,
    /// Path of the PNG (and SVG beside it, same stem).
    pub files: Vec<PathBuf>,
    /// Render time in microseconds (all formats).
    pub render_micros: f64,
    /// The expiry (index into the report's slices) of a skew chart; `None` for the
    /// surface-wide charts.
    pub expiry_index: Option<usize>,
}

/// What the charts are drawn from.
pub struct ChartInput<'a> {
    /// The surface.
    pub surface: &'a FittedSurface,
    /// Its report (quotes, fits, calendar check).
    pub report: &'a SurfaceReport,
    /// A second model to overlay on the skew charts (name, surface), e.g. SABR over SVI.
    pub overlay: Option<(&'a str, &'a FittedSurface)>,
}

use style::expiry_label;

/// Encodes an RGB buffer of [`SIZE`] as PNG (as plotters' own file backend does).
fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, SIZE.0, SIZE.1, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Writes a rendered chart with [`write_atomic`]: a reader never sees a half-written image.
fn save(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomic(path, bytes).map_err(|e| e.to_string())
}

/// Renders a chart in every format into memory (plotters' buffer backends), then writes each
/// file atomically.
macro_rules! render_chart {
    ($dir:expr, $stem:expr, $title:expr, $formats:expr, |$root:ident| $body:expr) => {{
        let clock = std::time::Instant::now();
        let mut files = Vec::new();
        for fmt in $formats {
            let (path, res) = match fmt {
                ImageFormat::Png => {
                    let path = $dir.join(format!("{}.png", $stem));
                    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
                    let drawn = {
                        let $root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                        $body
                    };
                    let res = drawn
                        .and_then(|()| encode_png(&rgb))
                        .and_then(|png| save(&path, &png));
                    (path, res)
                }
                ImageFormat::Svg => {
                    let path = $dir.join(format!("{}.svg", $stem));
                    let mut svg = String::new();
                    let drawn = {
                        let $root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                        $body
                    };
                    let res = drawn.and_then(|()| save(&path, svg.as_bytes()));
                    (path, res)
                }
            };
            res.map_err(|reason| PlotError {
                chart: path.clone(),
                reason,
            })?;
            files.push(path);
        }
        Ok::<Chart, PlotError>(Chart {
            title: $title,
            files,
            render_micros: clock.elapsed().as_secs_f64() * 1e6,
            expiry_index: None,
        })
    }};
}

/// File-name-safe stem of a skew chart.
fn skew_stem(i: usize, s: &SliceSummary) -> String {
    let e = s.expiry.map_or_else(
        || format!("t{:.4}", s.t),
        |e| e.format("%Y%m%d").to_string(),
    );
    format!("skew_{i:02}_{e}")
}

/// Draws every chart of a surface into `dir` (created if missing) and returns them in page
/// order: the skew chart of each expiry, then total variance, term structure, density, and
/// the two heatmaps.
///
/// # Errors
/// [`PlotError`] naming the chart when one cannot be drawn or written.
pub fn render_all(
    input: &ChartInput<'_>,
    dir: &Path,
    formats: &[ImageFormat],
) -> Result<Vec<Chart>, PlotError> {
    register_fonts();
    std::fs::create_dir_all(dir).map_err(|e| PlotError {
        chart: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, s) in input.report.slices.iter().enumerate() {
        let title = format!("Skew, expiry {}", expiry_label(s));
        let mut chart = render_chart!(dir, skew_stem(i, s), title, formats, |root| {
            skew::draw_skew(&root, input, i)
        })?;
        chart.expiry_index = Some(i);
        out.push(chart);
    }
    out.push(render_chart!(
        dir,
        "total_variance",
        "Total variance per expiry (calendar check)".to_string(),
        formats,
        |root| variance::draw_total_variance(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "term_structure",
        "Term structure: ATM vol, 25Δ risk reversal and butterfly".to_string(),
        formats,
        |root| term::draw_term_structure(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "density",
        "Risk-neutral density per expiry".to_string(),
        formats,
        |root| density::draw_density(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "heatmap_iv",
        "Implied vol over (k/√T, T), quoted region".to_string(),
        formats,
        |root| heatmap::draw_heatmap(&root, input, false)
    )?);
    out.push(render_chart!(
        dir,
        "heatmap_local_vol",
        "Local vol over (k/√T, T), quoted region".to_string(),
        formats,
        |root| heatmap::draw_heatmap(&root, input, true)
    )?);
    Ok(out)
}

/// The stems of the surface-wide charts [`render_all`] writes.
const SURFACE_STEMS: [&str; 5] = [
    "total_variance",
    "term_structure",
    "density",
    "heatmap_iv",
    "heatmap_local_vol",
];

/// Whether `name` is a file name [`render_all`] writes: a surface-wide chart
/// (`total_variance`, `term_structure`, `density`, `heatmap_iv`, `heatmap_local_vol`) or a
/// skew chart (`skew_NN_YYYYMMDD`, `skew_NN_tT`), as `.png` or `.svg`. No other name is.
///
/// ```
/// use volfit::plot::is_chart_name;
/// assert!(is_chart_name("skew_03_20260327.png") && is_chart_name("density.svg"));
/// assert!(is_chart_name("skew_00_t0.0192.png"));
/// assert!(!is_chart_name("notes.png") && !is_chart_name("skew_03_20260327.png.bak"));
/// assert!(!is_chart_name("skew_x_20260327.png") && !is_chart_name("density.jpg"));
/// ```
pub fn is_chart_name(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".png")
        .or_else(|| name.strip_suffix(".svg"))
    else {
        return false;
    };
    if SURFACE_STEMS.contains(&stem) {
        return true;
    }
    let Some(rest) = stem.strip_prefix("skew_") else {
        return false;
    };
    let Some((n, e)) = rest.split_once('_') else {
        return false;
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let date = e.len() == 8 && digits(e);
    let t = e.strip_prefix('t').is_some_and(|x| {
        x.split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b))
    });
    n.len() >= 2 && digits(n) && (date || t)
}

/// Removes from `dir` the charts an earlier run wrote that `current` (this run's charts)
/// does not hold — a reused output directory would otherwise keep the previous snapshot's
/// skew charts beside the new ones. Only names [`is_chart_name`] accepts are touched (never
/// another file, never a subdirectory); call it after the new charts and the page that
/// links them are written, so a reader never finds a chart missing. Returns the files
/// removed.
///
/// # Errors
/// The I/O error when `dir` cannot be listed or a stale chart cannot be removed.
pub fn remove_stale_charts(dir: &Path, current: &[Chart]) -> std::io::Result<Vec<PathBuf>> {
    use std::collections::HashSet;
    let keep: HashSet<std::ffi::OsString> = current
        .iter()
        .flat_map(|c| {
            c.files
                .iter()
                .filter_map(|f| f.file_name().map(ToOwned::to_owned))
        })
        .collect();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let stale = name.to_str().is_some_and(is_chart_name) && !keep.contains(&name);
        if stale && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}
