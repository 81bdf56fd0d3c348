//! `explain.html`: the page of a P&L explain (`volfit explain`), one self-contained file with
//! the charts inline as SVG:
//!
//! * the summary: the two snapshots, the dynamics, the book's actual P&L, Σ Taylor terms, the
//!   full revaluation, and the fit statistics ([`crate::risk::explain::Summary`]);
//! * a waterfall of the book total: from 0 through each Taylor term (delta, gamma, vega,
//!   theta, vanna, volga) and the unexplained rest to the actual P&L, with the full
//!   revaluation marked;
//! * per expiry, the terms, the actual P&L and the unexplained rest as grouped bars;
//! * the table of positions with the largest unexplained P&L, and the book rows rejected.
//!
//! The numbers come from [`crate::risk::explain`]; this module only draws.

use super::PlotError;
use super::html::{esc, page_head};
use super::style::{DrawResult, LegendMark, err, register_fonts, side_legend, span, svg, y_name};
use crate::output::write_atomic;
use crate::risk::explain::{Explain, Fit, PositionExplain, Terms};
use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Color, DrawingArea, DrawingBackend, PathElement, RGBColor, Rectangle,
    WHITE,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What the explain page shows.
#[derive(Debug, Clone, Copy)]
pub struct ExplainPage<'a> {
    /// The underlying.
    pub underlying: &'a str,
    /// The first chain file, as given.
    pub chain_a: &'a str,
    /// The second chain file, as given.
    pub chain_b: &'a str,
    /// The book file, as given.
    pub book: &'a str,
    /// The explain.
    pub explain: &'a Explain,
    /// Book rows that were not read, as text (file:line: field: reason).
    pub rejected: &'a [String],
}

/// Width of the charts, pixels.
const WIDTH: u32 = 1200;

/// Colours of the six terms, then unexplained, actual and full revaluation.
const COLORS: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(214, 39, 40),
    RGBColor(60, 60, 60),
    RGBColor(23, 190, 207),
];

/// Writes `explain.html` at `path` (atomically).
///
/// # Errors
/// [`PlotError`] naming the page when a chart cannot be drawn or the page written.
pub fn write_explain_page(path: &Path, page: &ExplainPage<'_>) -> Result<(), PlotError> {
    let html = explain_html(page).map_err(|reason| PlotError {
        chart: path.to_path_buf(),
        reason,
    })?;
    write_atomic(path, html.as_bytes()).map_err(|e| PlotError {
        chart: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn when(d: Option<DateTime<Utc>>) -> String {
    d.map_or_else(
        || "?".into(),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
}

fn fit_row(name: &str, f: &Fit) -> String {
    format!(
        "<tr><td class=\"l\">{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        f.n,
        opt(f.r2, 4),
        opt(f.unexplained_fraction.map(|v| 100.0 * v), 2),
        opt(f.book_unexplained_fraction.map(|v| 100.0 * v), 2)
    )
}

fn explain_html(page: &ExplainPage<'_>) -> Result<String, String> {
    register_fonts();
    let e = page.explain;
    let t = &e.totals;
    let mut h = String::new();
    let title = format!("volfit explain — {}", page.underlying);
    page_head(&mut h, &esc(&title));
    let _ = write!(
        h,
        r#".chart svg {{ max-width: 100%; height: auto; border: 1px solid #ddd; margin: 8px 0 20px 0; }}
.summary span {{ margin-right: 24px; white-space: nowrap; }}
p.note, ul.conv li {{ font-size: 14px; }}
</style></head><body>
<h1>{title}</h1>
<p>{a} ({wa}) → {b} ({wb}); book {book}; dynamics <b>{dyn}</b></p>
<p class="summary"><span>positions: <b>{n}</b></span><span>skipped: <b>{sk}</b></span>
<span>rejected book rows: <b>{rj}</b></span><span>actual: <b>{act:+.2}</b></span>
<span>Σ terms: <b>{sum:+.2}</b></span><span>unexplained: <b>{un:+.2}</b></span>
<span>full revaluation: <b>{fr:+.2}</b></span></p>
<ul class="conv">
<li><b>Units:</b> undiscounted quote currency (USD for Deribit: coin premium × forward), times the
quantity. <b>Actual</b> = value at the second snapshot − value at the first: the exchange's mark,
else the mid, else (instrument not quoted) the fitted surface's price.</li>
<li><b>Terms</b> off the first surface's greeks: delta·ΔF, ½gamma·ΔF², vega·Δσ, theta·Δt,
vanna·ΔF·Δσ, ½volga·Δσ², with ΔF the move of the expiry's forward and Δσ the second surface's
vol at the strike minus the first surface's after the time roll and the forward move under the
dynamics. <b>Full revaluation</b> = second surface's price − first's; <b>unexplained</b> =
actual − Σ terms.</li>
</ul>
<table><tr><th>prediction vs target</th><th>n</th><th>R²</th><th>Σ|rest|/Σ|target| %</th><th>book |rest|/|total| %</th></tr>
{f1}{f2}{f3}</table>
"#,
        a = esc(page.chain_a),
        b = esc(page.chain_b),
        wa = when(e.as_of_a),
        wb = when(e.as_of_b),
        book = esc(page.book),
        dyn = e.dynamics.name(),
        n = e.positions.len(),
        sk = e.skipped.len(),
        rj = page.rejected.len(),
        act = t.actual,
        sum = t.terms().sum(),
        un = t.unexplained,
        fr = t.full_reval,
        f1 = fit_row("Σ terms vs actual", &e.summary.terms_vs_actual),
        f2 = fit_row("Σ terms vs full revaluation", &e.summary.terms_vs_full_reval),
        f3 = fit_row("full revaluation vs actual", &e.summary.full_reval_vs_actual),
    );
    h.push_str("<div class=\"chart\">\n");
    h.push_str(&svg((WIDTH, 520), |root| draw_waterfall(root, e))?);
    let by_expiry = by_expiry(&e.positions);
    if !by_expiry.is_empty() {
        h.push_str(&svg((WIDTH, 560), |root| draw_by_expiry(root, &by_expiry))?);
    }
    h.push_str("</div>\n");
    positions_table(&mut h, e);
    if !e.skipped.is_empty() || !page.rejected.is_empty() {
        h.push_str("<h2>Not explained</h2>\n<ul>\n");
        for s in &e.skipped {
            let _ = writeln!(h, "<li>{}: {}</li>", esc(&s.instrument), esc(&s.reason));
        }
        for r in page.rejected {
            let _ = writeln!(h, "<li>rejected book row {}</li>", esc(r));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The positions with the largest |unexplained|.
fn positions_table(h: &mut String, e: &Explain) {
    const ROWS: usize = 30;
    let mut rows: Vec<&PositionExplain> = e.positions.iter().collect();
    rows.sort_by(|a, b| b.unexplained.abs().total_cmp(&a.unexplained.abs()));
    let _ = write!(
        h,
        "<h2>Positions, largest unexplained first ({} of {})</h2>\n<table><tr><th>instrument</th>\
         <th>qty</th><th>source</th><th>ΔF</th><th>Δσ (vol pts)</th><th>actual</th>",
        rows.len().min(ROWS),
        rows.len()
    );
    for n in Terms::NAMES {
        let _ = write!(h, "<th>{n}</th>");
    }
    h.push_str("<th>unexplained</th><th>full reval</th></tr>\n");
    for p in rows.into_iter().take(ROWS) {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}→{}</td><td>{:+.2}</td><td>{:+.3}</td><td>{:+.2}</td>",
            esc(&p.instrument),
            p.quantity,
            source(p.source_a),
            source(p.source_b),
            p.moves.forward_b - p.moves.forward_a,
            100.0 * p.moves.d_vol,
            p.actual
        );
        for v in p.terms().values() {
            let _ = write!(h, "<td>{v:+.2}</td>");
        }
        let _ = writeln!(
            h,
            "<td>{:+.2}</td><td>{:+.2}</td></tr>",
            p.unexplained, p.full_reval
        );
    }
    h.push_str("</table>\n");
}

fn source(s: crate::risk::explain::PriceSource) -> &'static str {
    match s {
        crate::risk::explain::PriceSource::Mark => "mark",
        crate::risk::explain::PriceSource::Mid => "mid",
        crate::risk::explain::PriceSource::Surface => "surface",
    }
}

/// Per expiry: the six terms, unexplained, actual.
fn by_expiry(positions: &[PositionExplain]) -> Vec<(DateTime<Utc>, [f64; 8])> {
    let mut m: BTreeMap<DateTime<Utc>, [f64; 8]> = BTreeMap::new();
    for p in positions {
        let e = m.entry(p.expiry).or_default();
        for (i, v) in p.terms().values().into_iter().enumerate() {
            e[i] += v;
        }
        e[6] += p.unexplained;
        e[7] += p.actual;
    }
    m.into_iter().collect()
}

const LABELS: [&str; 9] = [
    "delta",
    "gamma",
    "vega",
    "theta",
    "vanna",
    "volga",
    "unexplained",
    "actual",
    "full reval",
];

fn draw_waterfall<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, e: &Explain) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Book P&L: from 0 through each term and the unexplained rest to the actual",
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let t = &e.totals;
    let steps: Vec<f64> = t
        .terms()
        .values()
        .into_iter()
        .chain([t.unexplained])
        .collect();
    // Bars: [start, end] of each step, then the actual (0 → total) and the full revaluation.
    let mut bars = Vec::new();
    let mut level = 0.0;
    for v in &steps {
        bars.push((level, level + v));
        level += v;
    }
    bars.push((0.0, t.actual));
    bars.push((0.0, t.full_reval));
    let (y0, y1) = span(bars.iter().flat_map(|b| [b.0, b.1]).chain([0.0]), 0.1);
    #[allow(clippy::cast_precision_loss)]
    let n = bars.len() as f64;
    let mut c = ChartBuilder::on(&root)
        .margin(14)
        .margin_top(34)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(err)?;
    c.configure_mesh()
        .disable_x_mesh()
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_labels(bars.len())
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|x| {
            let i = x.round();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let idx = ((x - i).abs() < 1e-6 && i >= 0.0).then_some(i as usize);
            idx.and_then(|i| LABELS.get(i))
                .copied()
                .unwrap_or("")
                .to_string()
        })
        .draw()
        .map_err(err)?;
    c.draw_series(std::iter::once(PathElement::new(
        vec![(-0.5, 0.0), (n - 0.5, 0.0)],
        BLACK.stroke_width(1),
    )))
    .map_err(err)?;
    for (i, &(a, b)) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64;
        let color = COLORS[i.min(COLORS.len() - 1)];
        c.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.35, a.min(b)), (x + 0.35, a.max(b))],
            color.filled(),
        )))
        .map_err(err)?;
        // Connector to the next step.
        if i + 1 < steps.len() {
            c.draw_series(std::iter::once(PathElement::new(
                vec![(x + 0.35, b), (x + 0.65, b)],
                BLACK.mix(0.5).stroke_width(1),
            )))
            .map_err(err)?;
        }
    }
    y_name(&root, "USD (quote currency)", 6)
}

fn draw_by_expiry<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[(DateTime<Utc>, [f64; 8])],
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "By expiry: the terms, the unexplained rest and the actual P&L",
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let (main, legend_area) = root.split_horizontally(WIDTH - 170);
    let (y0, y1) = span(rows.iter().flat_map(|r| r.1).chain([0.0]), 0.1);
    #[allow(clippy::cast_precision_loss)]
    let n = rows.len() as f64;
    let labels: Vec<String> = rows
        .iter()
        .map(|r| r.0.format("%d%b%y").to_string().to_uppercase())
        .collect();
    let mut c = ChartBuilder::on(&main)
        .margin(14)
        .margin_top(34)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(err)?;
    c.configure_mesh()
        .disable_x_mesh()
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_labels(rows.len())
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|x| {
            let i = x.round();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let idx = ((x - i).abs() < 1e-6 && i >= 0.0).then_some(i as usize);
            idx.and_then(|i| labels.get(i)).cloned().unwrap_or_default()
        })
        .draw()
        .map_err(err)?;
    c.draw_series(std::iter::once(PathElement::new(
        vec![(-0.5, 0.0), (n - 0.5, 0.0)],
        BLACK.stroke_width(1),
    )))
    .map_err(err)?;
    let width = 0.8 / 8.0;
    for (i, (_, v)) in rows.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = i as f64 - 0.4;
        for (j, &val) in v.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let x = x0 + j as f64 * width;
            c.draw_series(std::iter::once(Rectangle::new(
                [(x, 0.0_f64.min(val)), (x + width * 0.9, 0.0_f64.max(val))],
                COLORS[j].filled(),
            )))
            .map_err(err)?;
        }
    }
    y_name(&main, "USD (quote currency)", 6)?;
    let entries: Vec<(String, LegendMark)> = LABELS[..8]
        .iter()
        .enumerate()
        .map(|(j, l)| ((*l).to_string(), LegendMark::Bar(COLORS[j])))
        .collect();
    side_legend(&legend_area, &entries, 60)
}
