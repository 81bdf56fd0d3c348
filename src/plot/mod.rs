//! Diagnostic charts (plotters; PNG and SVG, headless — the DejaVu fonts are embedded, no
//! system fontconfig) and the `report.html` review page.
//!
//! [`render_all`] draws, for one calibrated surface:
//! * `skew_NN_<expiry>` — per expiry: bid–ask vol bars, mid dots, the fitted curve (and an
//!   overlay model's, e.g. SABR over SVI), the forward, filtered-out quotes in grey, strike on
//!   the bottom axis and log-moneyness on the top; below, residuals `fit − mid` in vol points
//!   with each quote's bid/ask band around zero;
//! * `total_variance` — every expiry's `w(k)`, calendar crossings marked;
//! * `term_structure` — ATM vol, 25-delta risk reversal and butterfly against expiry;
//! * `density` — the risk-neutral density of `ln(F_T/F)` per expiry, negative parts marked;
//! * `heatmap_iv`, `heatmap_local_vol` — implied and local vol over `(k, T)`.
//!
//! Titles carry the underlying, snapshot time and expiry; every axis names its unit. Charts
//! are 1200×800. In PNG, plotters draws a rotated y-axis label unrotated (plotters #655), so
//! the y-axis names are written horizontally above the axis instead.

mod html;

pub use html::{flags, write_report_html};

use crate::surface::{FittedSurface, SliceModel, SliceSummary, SurfaceReport, VolSurface};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (1200, 800);

/// A chart that could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chart {chart}: {reason}")]
pub struct PlotError {
    /// The chart's file name.
    pub chart: String,
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

/// Registers the embedded DejaVu fonts with plotters (idempotent).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The fonts are valid OpenType: registration cannot fail for them.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
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

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

const GREY: RGBColor = RGBColor(170, 170, 170);
const FIT: RGBColor = RGBColor(31, 119, 180);
const OVERLAY: RGBColor = RGBColor(214, 39, 40);
const BAND: RGBColor = RGBColor(44, 160, 44);
const FWD: RGBColor = RGBColor(120, 120, 120);
const BAD: RGBColor = RGBColor(220, 0, 0);

/// Viridis-like colour for `u ∈ [0, 1]`.
pub fn viridis(u: f64) -> RGBColor {
    const C: [(f64, f64, f64); 6] = [
        (68.0, 1.0, 84.0),
        (65.0, 68.0, 135.0),
        (42.0, 120.0, 142.0),
        (34.0, 168.0, 132.0),
        (122.0, 209.0, 81.0),
        (253.0, 231.0, 37.0),
    ];
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = u * (C.len() - 1) as f64;
    let i = (x.floor() as usize).min(C.len() - 2);
    let f = x - i as f64;
    let m = |a: f64, b: f64| (a + f * (b - a)).round() as u8;
    RGBColor(
        m(C[i].0, C[i + 1].0),
        m(C[i].1, C[i + 1].1),
        m(C[i].2, C[i + 1].2),
    )
}

fn as_of(report: &SurfaceReport) -> String {
    report.as_of.map_or_else(
        || "no snapshot time".into(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn expiry_label(s: &SliceSummary) -> String {
    s.expiry.map_or_else(
        || format!("T = {:.4} y", s.t),
        |e| format!("{} (T = {:.4} y)", e.format("%Y-%m-%d"), s.t),
    )
}

/// Draws a horizontal y-axis name above the plotting area's left edge.
fn y_name<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, top: i32) -> DrawResult {
    area.draw_text(
        text,
        &("sans-serif", 16).into_font().color(&BLACK),
        (8, top),
    )
    .map_err(err)
}

/// Total variance of a slice model at `k` as a vol.
fn model_vol(m: &SliceModel, k: f64, t: f64) -> f64 {
    (m.w(k).max(0.0) / t).sqrt()
}

/// `(lo, hi)` of finite values, padded by `pad` of the span.
fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !(lo <= hi) {
        return (0.0, 1.0);
    }
    let w = (hi - lo).max(1e-9 * hi.abs().max(1e-12));
    (lo - pad * w, hi + pad * w)
}

fn draw_skew<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
    i: usize,
) -> DrawResult {
    let rep = input.report;
    let s = &rep.slices[i];
    let slice = input
        .surface
        .slices()
        .iter()
        .find(|x| x.t == s.t)
        .ok_or("slice missing from surface")?;
    let f = s.forward;
    root.fill(&WHITE).map_err(err)?;
    let (upper, lower) = root.split_vertically(560);
    // The fitted quotes (and the forward) set the range; filtered-out quotes show inside it.
    let strikes = s.quotes.iter().map(|q| q.strike);
    let (x0, x1) = span(strikes.chain(std::iter::once(f)), 0.06);
    let x0 = x0.max(f * 1e-3);
    let vols = s.quotes.iter().flat_map(|q| {
        [
            q.bid_iv.unwrap_or(q.mid_iv),
            q.ask_iv.unwrap_or(q.mid_iv),
            q.fit_iv,
        ]
    });
    let (y0, y1) = span(vols.map(|v| 100.0 * v), 0.08);
    let y0 = y0.max(0.0);
    let title = format!(
        "{} {} — skew, expiry {}",
        rep.underlying,
        as_of(rep),
        expiry_label(s)
    );
    let mut chart = ChartBuilder::on(&upper)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(28)
        .top_x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?
        // The top axis shares the strike scale and labels each tick with its k = ln(K/F).
        .set_secondary_coord(x0..x1, y0..y1);
    chart
        .configure_mesh()
        .x_labels(10)
        .y_labels(8)
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .x_desc("log-moneyness k = ln(K/F)")
        .x_labels(10)
        .x_label_formatter(&|x| format!("{:.3}", (x / f).ln()))
        .draw()
        .map_err(err)?;
    // Forward.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(f, y0), (f, y1)],
            FWD.stroke_width(1),
        )))
        .map_err(err)?
        .label(format!("forward {f:.2}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FWD));
    // Excluded quotes.
    let excluded: Vec<(f64, f64)> = s_excluded(s)
        .filter_map(|(k, v)| v.map(|v| (k, 100.0 * v)))
        .filter(|(k, v)| *k >= x0 && *k <= x1 && *v >= y0 && *v <= y1)
        .collect();
    if !excluded.is_empty() {
        chart
            .draw_series(
                excluded
                    .iter()
                    .map(|&p| Cross::new(p, 4, GREY.stroke_width(1))),
            )
            .map_err(err)?
            .label("filtered out")
            .legend(|(x, y)| Cross::new((x + 9, y), 4, GREY));
    }
    // Bid–ask bars and mids.
    chart
        .draw_series(s.quotes.iter().filter_map(|q| {
            let (b, a) = (q.bid_iv?, q.ask_iv?);
            Some(PathElement::new(
                vec![(q.strike, 100.0 * b), (q.strike, 100.0 * a)],
                BAND.stroke_width(2),
            ))
        }))
        .map_err(err)?
        .label("bid–ask IV")
        .legend(|(x, y)| {
            PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], BAND.stroke_width(2))
        });
    chart
        .draw_series(
            s.quotes
                .iter()
                .map(|q| Circle::new((q.strike, 100.0 * q.mid_iv), 3, BLACK.filled())),
        )
        .map_err(err)?
        .label("mid IV")
        .legend(|(x, y)| Circle::new((x + 9, y), 3, BLACK.filled()));
    // Fitted curve(s).
    let curve = |m: &SliceModel| -> Vec<(f64, f64)> {
        (0..=400)
            .map(|j| {
                let kk = x0 + (x1 - x0) * f64::from(j) / 400.0;
                (kk, 100.0 * model_vol(m, (kk / f).ln(), s.t))
            })
            .filter(|(_, v)| v.is_finite() && *v >= y0 && *v <= y1)
            .collect()
    };
    chart
        .draw_series(LineSeries::new(curve(&slice.model), FIT.stroke_width(2)))
        .map_err(err)?
        .label(format!("{} fit", rep.model.to_uppercase()))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FIT.stroke_width(2)));
    if let Some((name, other)) = input.overlay
        && let Some(o) = other.slices().iter().find(|x| x.t == s.t)
    {
        chart
            .draw_series(LineSeries::new(curve(&o.model), OVERLAY.stroke_width(2)))
            .map_err(err)?
            .label(format!("{} fit", name.to_uppercase()))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], OVERLAY.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    y_name(&upper, "implied vol (%)", 44)?;

    // Residuals: fit − mid (vol points), bid/ask band around zero.
    let res: Vec<(f64, f64, Option<(f64, f64)>)> = s
        .quotes
        .iter()
        .map(|q| {
            (
                q.strike,
                100.0 * (q.fit_iv - q.mid_iv),
                q.bid_iv
                    .zip(q.ask_iv)
                    .map(|(b, a)| (100.0 * (b - q.mid_iv), 100.0 * (a - q.mid_iv))),
            )
        })
        .collect();
    let (r0, r1) = span(
        res.iter()
            .flat_map(|&(_, r, b)| [r, b.map_or(r, |b| b.0), b.map_or(r, |b| b.1)]),
        0.1,
    );
    let (r0, r1) = (r0.min(-0.05), r1.max(0.05));
    let mut rc = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, r0..r1)
        .map_err(err)?;
    rc.configure_mesh()
        .x_labels(10)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .x_desc("strike")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()
        .map_err(err)?;
    rc.draw_series(std::iter::once(PathElement::new(
        vec![(x0, 0.0), (x1, 0.0)],
        BLACK.stroke_width(1),
    )))
    .map_err(err)?;
    rc.draw_series(res.iter().filter_map(|&(k, _, b)| {
        let (lo, hi) = b?;
        Some(PathElement::new(
            vec![(k, lo), (k, hi)],
            BAND.mix(0.6).stroke_width(4),
        ))
    }))
    .map_err(err)?;
    rc.draw_series(res.iter().map(|&(k, r, b)| {
        let inside = b.is_none_or(|(lo, hi)| r >= lo - 1e-9 && r <= hi + 1e-9);
        Circle::new((k, r), 3, if inside { FIT.filled() } else { BAD.filled() })
    }))
    .map_err(err)?;
    y_name(&lower, "fit − mid (vol points); red: outside bid–ask", 4)?;
    root.present().map_err(err)
}

/// `(strike, mid IV)` of a slice's filtered-out quotes.
fn s_excluded(s: &SliceSummary) -> impl Iterator<Item = (f64, Option<f64>)> + '_ {
    s.excluded.iter().map(|e| (e.strike, e.mid_iv))
}

fn k_range(input: &ChartInput<'_>) -> (f64, f64) {
    let r = input.report.calendar.k_range;
    if r[0] < r[1] {
        (r[0].max(-3.0), r[1].min(3.0))
    } else {
        let (lo, hi) = span(
            input
                .report
                .slices
                .iter()
                .flat_map(|s| s.quotes.iter().map(|q| q.k)),
            0.1,
        );
        (lo.max(-3.0), hi.min(3.0))
    }
}

fn draw_total_variance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let slices = input.surface.slices();
    let (k0, k1) = k_range(input);
    let n = 300;
    let ks: Vec<f64> = (0..=n)
        .map(|j| k0 + (k1 - k0) * f64::from(j) / f64::from(n))
        .collect();
    let ws: Vec<Vec<f64>> = slices
        .iter()
        .map(|s| ks.iter().map(|&k| s.model.w(k)).collect())
        .collect();
    let (_, w1) = span(ws.iter().flatten().copied(), 0.05);
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{} {} — total implied variance w(k) = σ²T per expiry",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(k0..k1, 0.0..w1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("log-moneyness k = ln(K/F)")
        .light_line_style(WHITE.mix(0.0))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .draw()
        .map_err(err)?;
    let nt = slices.len().max(2) as f64 - 1.0;
    for (i, (s, w)) in slices.iter().zip(&ws).enumerate() {
        let c = viridis(i as f64 / nt);
        let series = chart
            .draw_series(LineSeries::new(
                ks.iter()
                    .copied()
                    .zip(w.iter().copied())
                    .filter(|(_, w)| *w <= w1),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        if slices.len() <= 14 || i == 0 || i + 1 == slices.len() {
            series
                .label(format!("T = {:.3}", s.t))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
    }
    // Calendar crossings: w decreasing in T at fixed k.
    let mut crossings = Vec::new();
    for i in 1..ws.len() {
        for (j, &k) in ks.iter().enumerate().step_by(4) {
            if ws[i][j] < ws[i - 1][j] * (1.0 - 1e-9) {
                crossings.push((k, ws[i - 1][j]));
            }
        }
    }
    if !crossings.is_empty() {
        chart
            .draw_series(
                crossings
                    .iter()
                    .map(|&p| Cross::new(p, 4, BAD.stroke_width(1))),
            )
            .map_err(err)?
            .label("w decreases in T here (calendar arbitrage; see the report's check range)")
            .legend(|(x, y)| Cross::new((x + 9, y), 5, BAD.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    y_name(root, "total variance w", 44)?;
    root.present().map_err(err)
}

/// `k` with Black call delta `Φ(d₁) = target` on slice `m` at `t` (bisection).
fn k_at_delta(m: &SliceModel, target: f64) -> Option<f64> {
    let d1 = |k: f64| {
        let w = m.w(k).max(1e-300);
        -k / w.sqrt() + 0.5 * w.sqrt()
    };
    let delta = |k: f64| crate::black::special::norm_cdf(d1(k));
    let s = m.w(0.0).max(1e-12).sqrt();
    let (mut lo, mut hi) = (-8.0 * s, 8.0 * s);
    if !(delta(lo) > target && delta(hi) < target) {
        return None;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if delta(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// ATM vol, 25-delta risk reversal and butterfly of each expiry, in vol points.
pub fn term_structure(surface: &FittedSurface) -> Vec<(f64, f64, Option<f64>, Option<f64>)> {
    surface
        .slices()
        .iter()
        .map(|s| {
            let v = |k: f64| 100.0 * model_vol(&s.model, k, s.t);
            let atm = v(0.0);
            let c = k_at_delta(&s.model, 0.25).map(v);
            let p = k_at_delta(&s.model, 0.75).map(v);
            let rr = c.zip(p).map(|(c, p)| c - p);
            let bf = c.zip(p).map(|(c, p)| 0.5 * (c + p) - atm);
            (s.t, atm, rr, bf)
        })
        .collect()
}

fn draw_term_structure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let ts = term_structure(input.surface);
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            &format!(
                "{} {} — term structure (T in years)",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let panels = root.split_evenly((3, 1));
    let (t0, t1) = span(ts.iter().map(|x| x.0), 0.03);
    let t0 = t0.max(0.0);
    let series: [(&str, Vec<(f64, f64)>, RGBColor); 3] = [
        ("ATM vol (%)", ts.iter().map(|x| (x.0, x.1)).collect(), FIT),
        (
            "25Δ risk reversal: σ(25Δ call) − σ(25Δ put) (vol points)",
            ts.iter().filter_map(|x| Some((x.0, x.2?))).collect(),
            OVERLAY,
        ),
        (
            "25Δ butterfly: (σ(25Δ call) + σ(25Δ put))/2 − σ_ATM (vol points)",
            ts.iter().filter_map(|x| Some((x.0, x.3?))).collect(),
            BAND,
        ),
    ];
    for (panel, (name, pts, color)) in panels.iter().zip(series) {
        let (y0, y1) = span(pts.iter().map(|p| p.1), 0.15);
        let mut c = ChartBuilder::on(panel)
            .margin(10)
            .margin_top(28)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(t0..t1, y0..y1)
            .map_err(err)?;
        c.configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .y_labels(5)
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_label_formatter(&|x| format!("{x:.2}"))
            .draw()
            .map_err(err)?;
        c.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(err)?;
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
        y_name(panel, name, 4)?;
    }
    root.present().map_err(err)
}

fn draw_density<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let slices = input.surface.slices();
    let (k0, k1) = k_range(input);
    let n = 400;
    let ks: Vec<f64> = (0..=n)
        .map(|j| k0 + (k1 - k0) * f64::from(j) / f64::from(n))
        .collect();
    // Density of k = ln(F_T/F): p(k) = g(k)/√(2πw)·e^{−d₋²/2}.
    let dens: Vec<Vec<f64>> = slices
        .iter()
        .map(|s| {
            ks.iter()
                .map(|&k| {
                    let (w, w1, w2) = s.model.w_derivs(k);
                    if !(w > 0.0) {
                        return 0.0;
                    }
                    let g = crate::models::durrleman(k, w, w1, w2);
                    let sw = w.sqrt();
                    let dm = -k / sw - 0.5 * sw;
                    g / (2.0 * std::f64::consts::PI * w).sqrt() * (-0.5 * dm * dm).exp()
                })
                .collect()
        })
        .collect();
    // Clip the y range at the 3rd-largest peak so the shortest expiry does not flatten the rest.
    let mut peaks: Vec<f64> = dens
        .iter()
        .map(|d| d.iter().copied().fold(0.0, f64::max))
        .collect();
    peaks.sort_by(|a, b| b.total_cmp(a));
    let y1 = 1.1
        * peaks
            .get(2)
            .or(peaks.first())
            .copied()
            .unwrap_or(1.0)
            .max(1e-9);
    let y0 = dens
        .iter()
        .flatten()
        .copied()
        .fold(0.0f64, f64::min)
        .max(-0.2 * y1)
        * 1.1;
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{} {} — risk-neutral density of k = ln(F_T/F) per expiry",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(k0..k1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("log-moneyness k = ln(K/F)")
        .light_line_style(WHITE.mix(0.0))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()
        .map_err(err)?;
    let nt = slices.len().max(2) as f64 - 1.0;
    let mut negative = Vec::new();
    for (i, (s, d)) in slices.iter().zip(&dens).enumerate() {
        let c = viridis(i as f64 / nt);
        let series = chart
            .draw_series(LineSeries::new(
                ks.iter().copied().zip(d.iter().map(|v| v.min(y1))),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        if slices.len() <= 14 || i == 0 || i + 1 == slices.len() {
            series
                .label(format!("T = {:.3}", s.t))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        negative.extend(
            ks.iter()
                .zip(d)
                .filter(|(_, v)| **v < 0.0)
                .map(|(&k, &v)| (k, v)),
        );
    }
    if !negative.is_empty() {
        chart
            .draw_series(negative.iter().map(|&p| Circle::new(p, 3, BAD.filled())))
            .map_err(err)?
            .label("negative density (butterfly arbitrage)")
            .legend(|(x, y)| Circle::new((x + 9, y), 3, BAD.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    y_name(root, "density of k (per unit k)", 44)?;
    root.present().map_err(err)
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
    local: bool,
) -> DrawResult {
    let s = input.surface;
    let slices = s.slices();
    let (k0, k1) = k_range(input);
    let (t0, t1) = (
        slices[0].t,
        slices[slices.len() - 1].t.max(slices[0].t * 1.01),
    );
    let (nk, nt) = (120usize, 80usize);
    let mut cells = Vec::with_capacity(nk * nt);
    for j in 0..nt {
        let t = t0 + (t1 - t0) * (j as f64 + 0.5) / nt as f64;
        for i in 0..nk {
            let k = k0 + (k1 - k0) * (i as f64 + 0.5) / nk as f64;
            let v = if local {
                s.local_vol(s.forward(t) * k.exp(), t)
            } else {
                Some((s.total_variance(k, t).max(0.0) / t).sqrt())
            };
            cells.push((i, j, v.map(|v| 100.0 * v)));
        }
    }
    // Colour scale on the 2nd–98th percentile so a few extreme wing values do not wash it out.
    let mut vals: Vec<f64> = cells
        .iter()
        .filter_map(|c| c.2)
        .filter(|v| v.is_finite())
        .collect();
    vals.sort_by(f64::total_cmp);
    let q = |p: f64| {
        vals.get(((vals.len().max(1) - 1) as f64 * p) as usize)
            .copied()
    };
    let (lo, hi) = (
        q(0.02).unwrap_or(0.0),
        q(0.98).unwrap_or(1.0).max(q(0.02).unwrap_or(0.0) + 1e-9),
    );
    root.fill(&WHITE).map_err(err)?;
    let (main, bar) = root.split_horizontally(1080);
    let what = if local {
        "local vol (Dupire)"
    } else {
        "implied vol"
    };
    let mut chart = ChartBuilder::on(&main)
        .caption(
            format!(
                "{} {} — {what} over (k, T); grey: undefined (arbitrage)",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(k0..k1, t0..t1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("log-moneyness k = ln(K/F(T))")
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()
        .map_err(err)?;
    let (dk, dt) = ((k1 - k0) / nk as f64, (t1 - t0) / nt as f64);
    chart
        .draw_series(cells.iter().map(|&(i, j, v)| {
            let (ka, ta) = (k0 + dk * i as f64, t0 + dt * j as f64);
            let color = v
                .filter(|v| v.is_finite())
                .map_or(GREY, |v| viridis((v - lo) / (hi - lo)));
            Rectangle::new([(ka, ta), (ka + dk, ta + dt)], color.filled())
        }))
        .map_err(err)?;
    y_name(&main, "expiry T (years)", 44)?;
    // Colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(60)
        .margin_bottom(60)
        .margin_right(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_style(("sans-serif", 14))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(err)?;
    let steps = 100;
    cb.draw_series((0..steps).map(|i| {
        let a = lo + (hi - lo) * f64::from(i) / f64::from(steps);
        let b = lo + (hi - lo) * f64::from(i + 1) / f64::from(steps);
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            viridis(f64::from(i) / f64::from(steps)).filled(),
        )
    }))
    .map_err(err)?;
    bar.draw_text(
        "vol (%)",
        &("sans-serif", 16).into_font().color(&BLACK),
        (20, 30),
    )
    .map_err(err)?;
    root.present().map_err(err)
}

macro_rules! render_chart {
    ($dir:expr, $stem:expr, $title:expr, $formats:expr, |$root:ident| $body:expr) => {{
        let clock = std::time::Instant::now();
        let mut files = Vec::new();
        for fmt in $formats {
            let (path, res) = match fmt {
                ImageFormat::Png => {
                    let path = $dir.join(format!("{}.png", $stem));
                    let res = {
                        let $root = BitMapBackend::new(&path, SIZE).into_drawing_area();
                        $body
                    };
                    (path, res)
                }
                ImageFormat::Svg => {
                    let path = $dir.join(format!("{}.svg", $stem));
                    let res = {
                        let $root = SVGBackend::new(&path, SIZE).into_drawing_area();
                        $body
                    };
                    (path, res)
                }
            };
            res.map_err(|reason| PlotError {
                chart: path.display().to_string(),
                reason,
            })?;
            files.push(path);
        }
        Ok::<Chart, PlotError>(Chart {
            title: $title,
            files,
            render_micros: clock.elapsed().as_secs_f64() * 1e6,
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
        chart: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, s) in input.report.slices.iter().enumerate() {
        let title = format!("Skew, expiry {}", expiry_label(s));
        out.push(render_chart!(
            dir,
            skew_stem(i, s),
            title,
            formats,
            |root| draw_skew(&root, input, i)
        )?);
    }
    out.push(render_chart!(
        dir,
        "total_variance",
        "Total variance per expiry (calendar check)".to_string(),
        formats,
        |root| draw_total_variance(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "term_structure",
        "Term structure: ATM vol, 25Δ risk reversal and butterfly".to_string(),
        formats,
        |root| draw_term_structure(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "density",
        "Risk-neutral density per expiry".to_string(),
        formats,
        |root| draw_density(&root, input)
    )?);
    out.push(render_chart!(
        dir,
        "heatmap_iv",
        "Implied vol over (k, T)".to_string(),
        formats,
        |root| draw_heatmap(&root, input, false)
    )?);
    out.push(render_chart!(
        dir,
        "heatmap_local_vol",
        "Local vol over (k, T)".to_string(),
        formats,
        |root| draw_heatmap(&root, input, true)
    )?);
    Ok(out)
}
