//! `track.html`: the page of a tracked series (`volfit track`), one self-contained file with
//! the charts inline as SVG:
//!
//! * the summary of the run (updates, median update time, quotes inside their bid/ask, the
//!   filter's NIS per degree of freedom against its `χ²` band, gated quotes);
//! * the constant-maturity time series of ATM vol, 25Δ risk reversal and butterfly at each
//!   tenor, in vol points, with the filter's ±2 sd band around the ATM vol, and the NIS per
//!   degree of freedom of each update against its band;
//! * what changed between the last two surfaces: the vol change at each tenor by delta (chart
//!   and table), and a heatmap of the update-to-update changes of ATM, RR and BF over the
//!   whole run;
//! * the latest updates: timing, expiries refitted, listed and retired, quotes, inside share,
//!   gated quotes, NIS.
//!
//! The numbers come from [`crate::live`] (the tracker's [`UpdateReport`]s and the
//! constant-maturity points of [`crate::live::tenor`]); this module only draws.

use super::PlotError;
use super::html::{esc, page_head};
use super::style::{
    DrawResult, GREY, LegendMark, err, register_fonts, side_legend, span, svg, y_name,
};
use crate::live::tenor::{DELTA_BUCKETS, TenorPoint, TenorSample, smile_by_delta, tenor_point};
use crate::live::{FilterKind, UpdateReport};
use crate::output::write_atomic;
use crate::surface::{FittedSurface, SurfaceModel};
use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Circle, Color, DrawingArea, DrawingBackend, IntoFont, LineSeries,
    PathElement, Polygon, RGBColor, Rectangle, WHITE,
};
use std::fmt::Write as _;
use std::path::Path;

/// One update of a tracked series, as the page draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackUpdate {
    /// The tracker's account of the update.
    pub report: UpdateReport,
    /// The constant-maturity points of the surface after it, one per tenor of the page.
    pub samples: Vec<TenorSample>,
}

/// The headline numbers of a tracked series (the caller computes them from the updates).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct TrackSummary {
    /// Updates applied.
    pub updates: usize,
    /// Updates that gave no surface (left out of the series).
    pub skipped: usize,
    /// Median wall time of an update, microseconds.
    pub median_update_micros: Option<f64>,
    /// Mean over the updates of the share of refitted quotes inside their bid/ask.
    pub mean_within_spread: Option<f64>,
    /// The run's normalised innovation squared per degree of freedom.
    pub nis_per_dof: Option<f64>,
    /// Its two-sided 95% `χ²` band, per degree of freedom.
    pub nis_band_per_dof: Option<[f64; 2]>,
    /// Degrees of freedom of the NIS.
    pub nis_dof: usize,
    /// Quotes the filter's gate left out, over all updates.
    pub gated: usize,
}

/// What `track.html` is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct TrackPage<'a> {
    /// The underlying.
    pub underlying: &'a str,
    /// The temporal filter.
    pub filter: FilterKind,
    /// The smile model.
    pub model: SurfaceModel,
    /// The input (a directory, glob or `-`).
    pub input: &'a str,
    /// The run's headline numbers.
    pub summary: TrackSummary,
    /// The updates in time order.
    pub updates: &'a [TrackUpdate],
    /// The surface after the last update.
    pub latest: Option<&'a FittedSurface>,
    /// The surface after the update before it.
    pub previous: Option<&'a FittedSurface>,
    /// Updates that gave no surface: `(time or file, reason)`.
    pub skipped: &'a [(String, String)],
}

/// The most updates the table lists (all of them are in `track.json`).
pub const TABLE_ROWS: usize = 50;

/// The most heatmap columns: longer runs are shown in buckets of consecutive updates.
const HEATMAP_COLUMNS: usize = 400;

/// Colours of the tenors, shortest first (cycled beyond four).
const TENOR_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

fn tenor_color(j: usize) -> RGBColor {
    TENOR_COLORS[j % TENOR_COLORS.len()]
}

/// Width of the charts, pixels.
const WIDTH: u32 = 1200;

/// Writes `track.html` at `path` (atomically).
///
/// # Errors
/// [`PlotError`] naming the page when a chart cannot be drawn or the page written.
pub fn write_track_page(path: &Path, page: &TrackPage<'_>) -> Result<(), PlotError> {
    let html = track_html(page).map_err(|reason| PlotError {
        chart: path.to_path_buf(),
        reason,
    })?;
    write_atomic(path, html.as_bytes()).map_err(|e| PlotError {
        chart: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The tenors of the page (those of the first update).
fn tenors(page: &TrackPage<'_>) -> Vec<f64> {
    page.updates
        .first()
        .map(|u| u.samples.iter().map(|s| s.days).collect())
        .unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn vp(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:+.*}", digits, 100.0 * v))
}

fn when(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The page.
fn track_html(page: &TrackPage<'_>) -> Result<String, String> {
    register_fonts();
    let s = &page.summary;
    let mut h = String::new();
    let title = format!(
        "volfit track — {} ({} model, {})",
        page.underlying,
        page.model,
        match page.filter {
            FilterKind::Kalman => "Kalman filter",
            FilterKind::None => "no filter",
        }
    );
    let span_text = match (page.updates.first(), page.updates.last()) {
        (Some(a), Some(b)) => format!("{} to {}", when(a.report.as_of), when(b.report.as_of)),
        _ => "no updates".into(),
    };
    let nis_class = match (s.nis_per_dof, s.nis_band_per_dof) {
        (Some(n), Some([lo, hi])) if n >= lo && n <= hi => "ok",
        (Some(_), Some(_)) => "bad",
        _ => "",
    };
    page_head(&mut h, &esc(&title));
    let _ = write!(
        h,
        r#".ok {{ color: #1a7f37; }} .bad {{ color: #c00; font-weight: bold; }}
.summary span {{ margin-right: 24px; white-space: nowrap; }}
.chart svg {{ max-width: 100%; height: auto; border: 1px solid #ddd; margin: 8px 0 20px 0; }}
p.note, ul.conv li {{ font-size: 14px; }}
</style></head><body>
<h1>{t}</h1>
<p>{input}: {span}</p>
<p class="summary"><span>updates: <b>{n}</b></span>{skip}<span>median update: <b>{med}</b></span>
<span>inside bid/ask (mean over updates): <b>{ins}</b></span>
<span>NIS per dof: <b class="{nc}">{nis}</b>{band}</span><span>gated quotes: <b>{g}</b></span></p>
<ul class="conv">
<li><b>Constant maturity:</b> each point is read off the surface at a fixed number of days after the
update's snapshot (between expiries by the surface's interpolation in total variance), not at an
expiry. <b>ATM</b> is the forward (k = 0); <b>RR25</b> = σ(25Δ call) − σ(25Δ put), <b>BF25</b> =
(σ(25Δ call) + σ(25Δ put))/2 − σ<sub>ATM</sub>, Black-76 forward deltas, not premium-adjusted.
Vols in the charts and tables are in vol points (1 vol point = 0.01); the files hold decimals.</li>
{filter_notes}</ul>
"#,
        t = esc(&title),
        input = esc(page.input),
        span = esc(&span_text),
        n = s.updates,
        skip = if s.skipped > 0 {
            format!("<span>skipped: <b class=\"bad\">{}</b></span>", s.skipped)
        } else {
            String::new()
        },
        med = s
            .median_update_micros
            .map_or_else(|| "—".into(), |m| format!("{:.1} ms", m / 1e3)),
        ins = pct(s.mean_within_spread),
        nc = nis_class,
        nis = s
            .nis_per_dof
            .map_or_else(|| "—".into(), |n| format!("{n:.3}")),
        band = match s.nis_band_per_dof {
            Some([lo, hi]) => format!(" (95% band {lo:.3}–{hi:.3}, {} dof)", s.nis_dof),
            None if page.filter == FilterKind::None => " (no filter)".into(),
            None => String::new(),
        },
        g = s.gated,
        filter_notes = if page.filter == FilterKind::Kalman {
            format!(
                "<li><b>Band:</b> ±2 standard deviations of the Kalman filter's posterior ATM \
                 vol of the two tracked expiries around the tenor, linear in time to expiry \
                 between them (flat outside){}.</li>\n<li><b>NIS:</b> the normalised \
                 innovation squared of the refitted quotes against the filter's prediction; \
                 consistent when the NIS per degree of freedom lies in the two-sided 95% χ² \
                 band.</li>\n",
                band_widths(page)
            )
        } else {
            "<li><b>No filter:</b> each expiry is refitted from its previous fit when its \
             quotes moved; there is no uncertainty band and no NIS.</li>\n"
                .into()
        },
    );
    if page.updates.is_empty() {
        h.push_str("<p>No update gave a surface: nothing to draw.</p>\n");
    } else {
        let days = tenors(page);
        h.push_str("<h2>Constant-maturity time series</h2>\n<div class=\"chart\">");
        let panels = if page.filter == FilterKind::Kalman {
            4
        } else {
            3
        };
        h.push_str(&svg((WIDTH, 300 * panels + 60), |root| {
            draw_series(root, page, &days)
        })?);
        h.push_str("</div>\n");
        what_changed(&mut h, page, &days)?;
    }
    updates_table(&mut h, page);
    if !page.skipped.is_empty() {
        h.push_str(
            "<h2>Updates without a surface</h2>\n<table><tr><th class=\"l\">update</th>\
             <th class=\"l\">reason</th></tr>\n",
        );
        for (what, why) in page.skipped {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(what),
                esc(why)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The median ±2 sd band width per tenor, as a clause of the page's note (empty without a
/// filter).
fn band_widths(page: &TrackPage<'_>) -> String {
    let parts: Vec<String> = tenors(page)
        .iter()
        .enumerate()
        .filter_map(|(j, d)| {
            let mut sd: Vec<f64> = page
                .updates
                .iter()
                .filter_map(|u| u.samples.get(j)?.atm_sd)
                .collect();
            sd.sort_by(f64::total_cmp);
            let m = *sd.get(sd.len() / 2)?;
            Some(format!("{d} d ±{:.2}", 200.0 * m))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; median half-width in vol points: {}", parts.join(", "))
    }
}

/// The "what changed" section: the last two surfaces by tenor × delta, and the heatmap.
fn what_changed(h: &mut String, page: &TrackPage<'_>, days: &[f64]) -> Result<(), String> {
    h.push_str("<h2>What changed</h2>\n");
    match (page.previous, page.latest) {
        (Some(prev), Some(last)) => {
            let rows: Vec<[Option<f64>; 5]> = days
                .iter()
                .map(|&d| {
                    let (a, b) = (smile_by_delta(prev, d), smile_by_delta(last, d));
                    std::array::from_fn(|i| Some(b[i]? - a[i]?).filter(|x| x.is_finite()))
                })
                .collect();
            let fmt_at = |s: &FittedSurface| s.as_of().map_or_else(|| "—".into(), when);
            let _ = writeln!(
                h,
                "<p class=\"note\">Vol change from the surface of {} to that of {}, at each \
                 tenor (days from each surface's own snapshot) and delta, in vol points.</p>\
                 <div class=\"chart\">",
                esc(&fmt_at(prev)),
                esc(&fmt_at(last))
            );
            h.push_str(&svg((WIDTH, 520), |root| {
                draw_delta_changes(root, days, &rows)
            })?);
            h.push_str("</div>\n<table><tr><th>tenor</th>");
            for (label, _) in DELTA_BUCKETS {
                let _ = write!(h, "<th>{}</th>", esc(label));
            }
            h.push_str("<th>ΔRR25</th><th>ΔBF25</th></tr>\n");
            for (d, r) in days.iter().zip(&rows) {
                let _ = write!(h, "<tr><td>{d} d</td>");
                for v in r {
                    let _ = write!(h, "<td>{}</td>", vp(*v, 2));
                }
                let (a, b) = (tenor_point(prev, *d), tenor_point(last, *d));
                let change = |f: fn(&TenorPoint) -> Option<f64>| {
                    Some(f(&b?)? - f(&a?)?).filter(|x| x.is_finite())
                };
                let _ = writeln!(
                    h,
                    "<td>{}</td><td>{}</td></tr>",
                    vp(change(|p| p.rr25), 2),
                    vp(change(|p| p.bf25), 2)
                );
            }
            h.push_str("</table>\n");
        }
        _ => h.push_str("<p class=\"note\">One surface only: nothing to compare yet.</p>\n"),
    }
    if page.updates.len() >= 2 {
        h.push_str(
            "<p class=\"note\">Update-to-update changes over the run (each column one update, \
             or a bucket of consecutive updates on long runs: the bucket's total change), in \
             vol points; white: no change or no value.</p><div class=\"chart\">",
        );
        let rows = 3 * days.len();
        h.push_str(&svg((WIDTH, 34 * rows as u32 + 150), |root| {
            draw_change_heatmap(root, page, days)
        })?);
        h.push_str("</div>\n");
    }
    Ok(())
}

/// The table of the latest updates.
fn updates_table(h: &mut String, page: &TrackPage<'_>) {
    let n = page.updates.len();
    if n == 0 {
        return;
    }
    let shown = n.min(TABLE_ROWS);
    let _ = writeln!(
        h,
        "<h2>Updates{}</h2>\n<table><tr><th>#</th><th class=\"l\">as of</th><th>update (ms)</th>\
         <th>refitted</th><th>listed</th><th>retired</th><th>quotes used</th>\
         <th>inside bid/ask</th><th>gated</th><th>NIS</th><th>dof</th><th>NIS/dof</th>\
         <th>95% band /dof</th><th>failed</th></tr>",
        if n > shown {
            format!(" (the last {shown} of {n}; all in track.json)")
        } else {
            String::new()
        }
    );
    for (i, u) in page.updates.iter().enumerate().skip(n - shown).rev() {
        let r = &u.report;
        let per = r
            .nis
            .filter(|_| r.nis_dof > 0)
            .map(|x| x / r.nis_dof as f64);
        let band = r.nis_band.map(|[a, b]| {
            let d = r.nis_dof.max(1) as f64;
            [a / d, b / d]
        });
        let cls = match (per, band) {
            (Some(x), Some([a, b])) if x < a || x > b => " class=\"bad\"",
            (Some(_), Some(_)) => " class=\"ok\"",
            _ => "",
        };
        let _ = writeln!(
            h,
            "<tr><td>{i}</td><td class=\"l\">{}</td><td>{:.1}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td{cls}>{}</td><td>{}</td><td>{}</td></tr>",
            when(r.as_of),
            r.update_micros / 1e3,
            r.expiries_refitted.len(),
            r.expiries_listed.len(),
            r.expiries_retired.len(),
            r.quotes_used,
            pct(r.within_spread),
            r.gated.len(),
            r.nis.map_or_else(|| "—".into(), |x| format!("{x:.1}")),
            r.nis_dof,
            per.map_or_else(|| "—".into(), |x| format!("{x:.3}")),
            band.map_or_else(|| "—".into(), |[a, b]| format!("{a:.3}–{b:.3}")),
            r.failed.len()
        );
    }
    h.push_str("</table>\n");
}

/// The origin of the time axes: midnight (UTC) of the first update's day, so that the ticks
/// fall on round times.
fn origin(page: &TrackPage<'_>) -> Option<DateTime<Utc>> {
    let first = page.updates.first()?.report.as_of;
    Some(first.date_naive().and_hms_opt(0, 0, 0)?.and_utc())
}

/// Days since [`origin`].
fn days_since(page: &TrackPage<'_>, at: DateTime<Utc>) -> f64 {
    origin(page).map_or(0.0, |o| (at - o).as_seconds_f64() / 86_400.0)
}

/// The label of an x position of [`days_since`]: date and time on short runs, else the date.
fn day_label(page: &TrackPage<'_>, x: f64, short_run: bool) -> String {
    let Some(o) = origin(page) else {
        return String::new();
    };
    let at = o + chrono::Duration::seconds((x * 86_400.0).round() as i64);
    if short_run {
        at.format("%d %b %H:%M").to_string()
    } else {
        at.format("%d %b").to_string()
    }
}

/// Decimals of the labels of an axis spanning `span` (six labels or so).
fn decimals(span: f64) -> usize {
    match span {
        s if s >= 6.0 => 1,
        s if s >= 0.6 => 2,
        _ => 3,
    }
}

/// Runs of consecutive `Some` values (a line is broken where a value is missing).
fn runs(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in points {
        match y.filter(|y| y.is_finite()) {
            Some(y) => out.last_mut().expect("one run").push((x, y)),
            None => {
                if !out.last().is_some_and(Vec::is_empty) {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The time series: ATM vol (with the ±2 sd band), RR25, BF25 per tenor, and NIS per dof.
fn draw_series<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    page: &TrackPage<'_>,
    days: &[f64],
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            &format!(
                "{} — constant-maturity ATM vol, 25Δ risk reversal and butterfly ({} update{})",
                page.underlying,
                page.updates.len(),
                if page.updates.len() == 1 { "" } else { "s" }
            ),
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let (main, legend_area) = root.split_horizontally(WIDTH - 190);
    let kalman = page.filter == FilterKind::Kalman;
    let panels = main.split_evenly((if kalman { 4 } else { 3 }, 1));
    let xs: Vec<f64> = page
        .updates
        .iter()
        .map(|u| days_since(page, u.report.as_of))
        .collect();
    let (x0, x1) = span(xs.iter().copied(), 0.02);
    // At least six hours wide (one update has no span of its own).
    let mid = 0.5 * (x0 + x1);
    let (x0, x1) = (x0.min(mid - 0.125), x1.max(mid + 0.125));
    let short_run = x1 - x0 < 4.0;
    let xlabel = |x: &f64| day_label(page, *x, short_run);
    let value = |j: usize, f: &dyn Fn(&TenorSample) -> Option<f64>| {
        runs(
            page.updates
                .iter()
                .zip(&xs)
                .map(|(u, &x)| (x, u.samples.get(j).and_then(f))),
        )
    };
    let dots = page.updates.len() <= 60;
    type Pick = fn(&TenorSample) -> Option<f64>;
    let metrics: [(&str, Pick); 3] = [
        (
            if kalman {
                "ATM (forward) vol, vol points (band: ±2 sd of the filter)"
            } else {
                "ATM (forward) vol, vol points"
            },
            |s| s.point.map(|p| 100.0 * p.atm_vol),
        ),
        (
            "25Δ risk reversal σ(25Δc) − σ(25Δp), vol points",
            |s| s.point.and_then(|p| p.rr25).map(|v| 100.0 * v),
        ),
        (
            "25Δ butterfly (σ(25Δc) + σ(25Δp))/2 − σ_ATM, vol points",
            |s| s.point.and_then(|p| p.bf25).map(|v| 100.0 * v),
        ),
    ];
    for (m, (name, pick)) in metrics.iter().enumerate() {
        let panel = &panels[m];
        let band = |s: &TenorSample| Some((s.point?.atm_vol, s.atm_sd?));
        // The y range holds the lines and, on the ATM panel, the bands.
        let mut ys: Vec<f64> = Vec::new();
        for u in page.updates {
            for s in &u.samples {
                if let Some(v) = pick(s) {
                    ys.push(v);
                }
                if m == 0
                    && let Some((v, sd)) = band(s)
                {
                    ys.push(100.0 * (v - 2.0 * sd));
                    ys.push(100.0 * (v + 2.0 * sd));
                }
            }
        }
        let (y0, y1) = span(ys.into_iter(), 0.08);
        let mut c = ChartBuilder::on(panel)
            .margin(10)
            .margin_top(30)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        c.configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .y_labels(6)
            .y_label_formatter(&|y| format!("{y:.*}", decimals(y1 - y0)))
            .x_labels(8)
            .x_label_formatter(&xlabel)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        for j in 0..days.len() {
            let color = tenor_color(j);
            if m == 0 {
                // The ±2 sd band, one polygon per run of points with a band.
                let upper = value(j, &|s| band(s).map(|(v, sd)| 100.0 * (v + 2.0 * sd)));
                let lower = value(j, &|s| band(s).map(|(v, sd)| 100.0 * (v - 2.0 * sd)));
                for (u, l) in upper.iter().zip(&lower) {
                    let mut poly = u.clone();
                    poly.extend(l.iter().rev());
                    if u.len() == 1 {
                        // One point: a short vertical bar.
                        c.draw_series(std::iter::once(PathElement::new(
                            vec![u[0], l[0]],
                            color.mix(0.4).stroke_width(6),
                        )))
                        .map_err(err)?;
                    } else {
                        c.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18))))
                            .map_err(err)?;
                    }
                }
            }
            for r in value(j, pick) {
                c.draw_series(LineSeries::new(r.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?;
                if dots {
                    c.draw_series(r.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(err)?;
                }
            }
        }
        y_name(panel, name, 6)?;
    }
    if kalman {
        draw_nis_panel(&panels[3], page, &xs, (x0, x1), &xlabel)?;
    }
    let entries: Vec<(String, LegendMark)> = days
        .iter()
        .enumerate()
        .map(|(j, d)| (format!("{d} days"), LegendMark::Line(tenor_color(j), 3)))
        .collect();
    side_legend(&legend_area, &entries, 60)?;
    if kalman {
        // Beside the NIS panel.
        let top = 3 * i32::try_from(panels[0].dim_in_pixel().1).unwrap_or(0) + 60;
        side_legend(
            &legend_area,
            &[
                ("NIS / dof".into(), LegendMark::Dot(BLACK)),
                ("95% χ² band / dof".into(), LegendMark::Line(GREY, 6)),
            ],
            top,
        )?;
    }
    Ok(())
}

/// The NIS per degree of freedom of each update with its 95% band.
fn draw_nis_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    page: &TrackPage<'_>,
    xs: &[f64],
    (x0, x1): (f64, f64),
    xlabel: &dyn Fn(&f64) -> String,
) -> DrawResult {
    let pts: Vec<(f64, f64, Option<[f64; 2]>)> = page
        .updates
        .iter()
        .zip(xs)
        .filter_map(|(u, &x)| {
            let r = &u.report;
            let d = r.nis_dof as f64;
            let n = r.nis.filter(|_| r.nis_dof > 0)? / d;
            Some((x, n, r.nis_band.map(|[a, b]| [a / d, b / d])))
        })
        .collect();
    let (y0, y1) = span(
        pts.iter()
            .flat_map(|p| [Some(p.1), p.2.map(|b| b[0]), p.2.map(|b| b[1])])
            .flatten()
            .chain([1.0]),
        0.1,
    );
    let mut c = ChartBuilder::on(panel)
        .margin(10)
        .margin_top(30)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0.max(0.0)..y1)
        .map_err(err)?;
    c.configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.2}"))
        .x_labels(8)
        .x_label_formatter(xlabel)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    c.draw_series(pts.iter().filter_map(|&(x, _, b)| {
        let [a, b] = b?;
        Some(PathElement::new(vec![(x, a), (x, b)], GREY.stroke_width(6)))
    }))
    .map_err(err)?;
    c.draw_series(std::iter::once(PathElement::new(
        vec![(x0, 1.0), (x1, 1.0)],
        GREY.stroke_width(1),
    )))
    .map_err(err)?;
    c.draw_series(
        pts.iter()
            .map(|&(x, n, _)| Circle::new((x, n), 4, BLACK.filled())),
    )
    .map_err(err)?;
    if pts.is_empty() {
        panel
            .draw_text(
                "no NIS yet: the first update of each expiry has no prediction",
                &("sans-serif", 16).into_font().color(&BLACK),
                (80, 120),
            )
            .map_err(err)?;
    }
    y_name(
        panel,
        "NIS per degree of freedom (bars: 95% χ² band of each update)",
        6,
    )
}

/// The vol change between the last two surfaces by delta, one line per tenor.
fn draw_delta_changes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    days: &[f64],
    rows: &[[Option<f64>; 5]],
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Vol change between the last two surfaces, by tenor and delta",
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let (main, legend_area) = root.split_horizontally(WIDTH - 190);
    let (y0, y1) = span(
        rows.iter()
            .flat_map(|r| r.iter().flatten().map(|v| 100.0 * v))
            .chain([0.0]),
        0.12,
    );
    let n = DELTA_BUCKETS.len() as f64;
    let mut c = ChartBuilder::on(&main)
        .margin(14)
        .margin_top(34)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(err)?;
    c.configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:+.2}"))
        .x_labels(DELTA_BUCKETS.len())
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < DELTA_BUCKETS.len() {
                DELTA_BUCKETS[i as usize].0.to_string()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(err)?;
    c.draw_series(std::iter::once(PathElement::new(
        vec![(-0.5, 0.0), (n - 0.5, 0.0)],
        BLACK.stroke_width(1),
    )))
    .map_err(err)?;
    for (j, r) in rows.iter().enumerate() {
        let color = tenor_color(j);
        for run in runs(
            r.iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v.map(|v| 100.0 * v))),
        ) {
            c.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                .map_err(err)?;
            c.draw_series(run.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(err)?;
        }
    }
    y_name(&main, "vol change, vol points (latest − previous)", 6)?;
    let entries: Vec<(String, LegendMark)> = days
        .iter()
        .enumerate()
        .map(|(j, d)| (format!("{d} days"), LegendMark::Line(tenor_color(j), 3)))
        .collect();
    side_legend(&legend_area, &entries, 60)
}

/// Diverging colour for `u ∈ [−1, 1]`: blue (down), white, red (up).
fn diverging(u: f64) -> RGBColor {
    let u = if u.is_finite() {
        u.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, a) = if u < 0.0 {
        ((33.0, 102.0, 172.0), -u)
    } else {
        ((178.0, 24.0, 43.0), u)
    };
    let m = |e: f64| (255.0 + a * (e - 255.0)).round() as u8;
    RGBColor(m(end.0), m(end.1), m(end.2))
}

/// The update-to-update changes of ATM, RR25 and BF25 per tenor over the run.
fn draw_change_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    page: &TrackPage<'_>,
    days: &[f64],
) -> DrawResult {
    type Pick = fn(&TenorPoint) -> Option<f64>;
    let metrics: [(&str, Pick); 3] = [
        ("ATM", |p| Some(p.atm_vol)),
        ("RR25", |p| p.rr25),
        ("BF25", |p| p.bf25),
    ];
    let n = page.updates.len();
    let cols = (n - 1).min(HEATMAP_COLUMNS);
    let per = (n - 1).div_ceil(cols);
    let cols = (n - 1).div_ceil(per);
    // cells[row][col]: the change over the bucket (from its first update's predecessor to its
    // last update), vol points.
    let mut cells: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for (name, pick) in metrics {
        for (j, d) in days.iter().enumerate() {
            let value = |i: usize| page.updates[i].samples.get(j)?.point.and_then(|p| pick(&p));
            let row: Vec<Option<f64>> = (0..cols)
                .map(|c| {
                    let (a, b) = (c * per, ((c + 1) * per).min(n - 1));
                    Some(100.0 * (value(b)? - value(a)?)).filter(|v| v.is_finite())
                })
                .collect();
            cells.push((format!("{name} {d} d"), row));
        }
    }
    let mut mags: Vec<f64> = cells
        .iter()
        .flat_map(|(_, r)| r.iter().flatten().map(|v| v.abs()))
        .collect();
    mags.sort_by(f64::total_cmp);
    let scale = mags
        .get(((mags.len().max(1) - 1) as f64 * 0.98) as usize)
        .copied()
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0);
    root.fill(&WHITE).map_err(err)?;
    let (main, bar) = root.split_horizontally(WIDTH - 150);
    let rows = cells.len();
    let mut c = ChartBuilder::on(&main)
        .caption(
            format!(
                "{} — change from the previous update, vol points{}",
                page.underlying,
                if per > 1 {
                    format!(" (buckets of {per} updates)")
                } else {
                    String::new()
                }
            ),
            ("sans-serif", 20),
        )
        .margin(10)
        .margin_left(110)
        .x_label_area_size(30)
        .y_label_area_size(0)
        .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)
        .map_err(err)?;
    let xlabel = |x: &f64| {
        let i = ((x * per as f64).round() as usize).min(n - 1);
        page.updates[i]
            .report
            .as_of
            .format("%d %b %H:%M")
            .to_string()
    };
    c.configure_mesh()
        .disable_mesh()
        .disable_y_axis()
        .x_labels(8)
        .x_label_formatter(&xlabel)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    c.draw_series(cells.iter().enumerate().flat_map(|(r, (_, row))| {
        let y = (rows - 1 - r) as f64;
        row.iter().enumerate().map(move |(col, v)| {
            let color = v.map_or(WHITE, |v| diverging(v / scale));
            Rectangle::new(
                [(col as f64, y), (col as f64 + 1.0, y + 1.0)],
                color.filled(),
            )
        })
    }))
    .map_err(err)?;
    // Lines between the metric blocks.
    for b in 1..3 {
        let y = (rows - b * days.len()) as f64;
        c.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, y), (cols as f64, y)],
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
    }
    // Row names at the left of the plot.
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    for (r, (name, _)) in cells.iter().enumerate() {
        let y = (rows - 1 - r) as f64 + 0.5;
        let (px, py) = c.backend_coord(&(0.0, y));
        root.draw_text(name, &font, (px - 100, py - 7))
            .map_err(err)?;
    }
    // Colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(50)
        .margin_bottom(40)
        .margin_right(20)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, -scale..scale)
        .map_err(err)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(7)
        .y_label_style(("sans-serif", 14))
        .y_label_formatter(&|y| format!("{y:+.2}"))
        .draw()
        .map_err(err)?;
    let steps = 100;
    cb.draw_series((0..steps).map(|i| {
        let a = -scale + 2.0 * scale * f64::from(i) / f64::from(steps);
        let b = -scale + 2.0 * scale * f64::from(i + 1) / f64::from(steps);
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            diverging((a + b) / (2.0 * scale)).filled(),
        )
    }))
    .map_err(err)?;
    bar.draw_text(
        "vol points",
        &("sans-serif", 14).into_font().color(&BLACK),
        (30, 20),
    )
    .map_err(err)?;
    Ok(())
}
