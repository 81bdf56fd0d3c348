//! `risk.html`, the page of `volfit risk`: the book's totals, a spot × vol scenario heatmap of
//! P&L, greeks by expiry and the positions table. Charts are inline SVG drawn here (cells,
//! bars and text); every number comes from [`crate::risk::book::BookRisk`] and the scenario
//! grid given.

use super::html::{esc, page_head};
use crate::output::write_atomic;
use crate::risk::book::{BookRisk, RejectedBookRow};
use crate::risk::scenario::ScenarioResult;
use std::fmt::Write as _;
use std::path::Path;

/// A spot × vol grid of P&L.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioGrid<'a> {
    /// Relative spot shifts (0.1 = +10 %).
    pub spot_shifts: &'a [f64],
    /// Absolute vol shifts (0.01 = +1 vol point).
    pub vol_shifts: &'a [f64],
    /// `pnl[i][j]`: P&L (quote currency) at spot shift `i`, vol shift `j`; `None` where the
    /// book has no value (drawn grey, "no price").
    pub pnl: &'a [Vec<Option<f64>>],
}

/// What the page shows.
#[derive(Debug, Clone, Copy)]
pub struct RiskPage<'a> {
    /// The surface file.
    pub surface: &'a str,
    /// The book file.
    pub book: &'a str,
    /// The book's greeks.
    pub risk: &'a BookRisk,
    /// The scenario grid.
    pub grid: ScenarioGrid<'a>,
    /// The named scenarios (`--scenarios FILE.toml`), with their arbitrage verdicts.
    pub named: &'a [ScenarioResult],
    /// Rows of the book that were not read.
    pub rejected: &'a [RejectedBookRow],
}

/// Writes `risk.html` at `path` (atomically).
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_risk_page(path: &Path, page: &RiskPage<'_>) -> std::io::Result<()> {
    write_atomic(path, risk_html(page).as_bytes())
}

/// A number with a sensible number of digits.
fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

/// A compact label (`-1.2M`, `35k`, `0.41`) for chart cells.
fn short(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 10.0 {
        format!("{x:.0}")
    } else if a < 0.005 {
        // Rounds to zero: no "-0.00" for a base cell that is −1e-12.
        "0".into()
    } else {
        format!("{x:.2}")
    }
}

/// Diverging colour: red for losses, blue for gains, white at zero; `u ∈ [−1, 1]`.
fn diverging(u: f64) -> String {
    let u = u.clamp(-1.0, 1.0);
    let (r, g, b) = if u < 0.0 {
        let a = -u;
        (255.0, 255.0 - 175.0 * a, 255.0 - 175.0 * a)
    } else {
        (255.0 - 200.0 * u, 255.0 - 130.0 * u, 255.0)
    };
    format!("rgb({r:.0},{g:.0},{b:.0})")
}

/// The scenario heatmap: spot shifts across, vol shifts down (highest vol on top).
fn heatmap(g: &ScenarioGrid<'_>) -> String {
    let (ns, nv) = (g.spot_shifts.len(), g.vol_shifts.len());
    if ns == 0 || nv == 0 {
        return "<p>No scenario grid.</p>".into();
    }
    let (cw, ch, left, top) = (84.0, 34.0, 110.0, 40.0);
    // Wide enough for the title and the axis name however few the spot shifts.
    let w = (left + cw * ns as f64 + 20.0).max(720.0);
    let h = top + ch * nv as f64 + 60.0;
    let max = g
        .pnl
        .iter()
        .flatten()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="DejaVu Sans, sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<text x="{x:.0}" y="18" text-anchor="middle" font-weight="bold">P&amp;L (quote currency) by spot shift (across) and vol shift (down)</text>"#,
        x = w / 2.0
    );
    for (j, dv) in g.vol_shifts.iter().enumerate() {
        // Highest vol shift on top.
        let row = nv - 1 - j;
        let y = top + ch * row as f64;
        let _ = write!(
            s,
            r#"<text x="{x:.0}" y="{ty:.0}" text-anchor="end">{l}</text>"#,
            x = left - 8.0,
            ty = y + ch / 2.0 + 4.0,
            l = format_args!("{:+.0} vol pts", 100.0 * dv)
        );
        for (i, _) in g.spot_shifts.iter().enumerate() {
            let x = left + cw * i as f64;
            let v = g.pnl.get(i).and_then(|r| r.get(j)).copied().flatten();
            let (fill, label) = match v {
                Some(v) if v.is_finite() && max > 0.0 => (diverging(v / max), short(v)),
                Some(v) if v.is_finite() => (diverging(0.0), short(v)),
                _ => ("#ddd".to_string(), "no price".to_string()),
            };
            let _ = write!(
                s,
                r##"<rect x="{x:.0}" y="{y:.0}" width="{cw:.0}" height="{ch:.0}" fill="{fill}" stroke="#fff"/><text x="{tx:.0}" y="{ty:.0}" text-anchor="middle">{label}</text>"##,
                tx = x + cw / 2.0,
                ty = y + ch / 2.0 + 4.0
            );
        }
    }
    let yb = top + ch * nv as f64;
    for (i, ds) in g.spot_shifts.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{x:.0}" y="{y:.0}" text-anchor="middle">{l}</text>"#,
            x = left + cw * (i as f64 + 0.5),
            y = yb + 18.0,
            l = format_args!("{:+.0}%", 100.0 * ds)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{x:.0}" y="{y:.0}" text-anchor="middle">spot shift (relative; every forward moves by the same factor)</text></svg>"#,
        x = (left + cw * ns as f64 / 2.0).max(w / 2.0),
        y = yb + 42.0
    );
    s
}

/// One bar panel: `values[e]` per expiry `labels[e]`.
fn bars(title: &str, labels: &[String], values: &[f64]) -> String {
    let (pw, ph, left, top, bottom) = (580.0, 300.0, 90.0, 30.0, 60.0);
    let n = values.len().max(1) as f64;
    let lo = values.iter().fold(0.0_f64, |m, v| m.min(*v));
    let hi = values.iter().fold(0.0_f64, |m, v| m.max(*v));
    let (lo, hi) = if hi > lo { (lo, hi) } else { (-1.0, 1.0) };
    let span = hi - lo;
    let plot_w = pw - left - 20.0;
    let plot_h = ph - top - bottom;
    let y_of = |v: f64| top + plot_h * (hi - v) / span;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{pw:.0}" height="{ph:.0}" font-family="DejaVu Sans, sans-serif" font-size="11"><text x="{tx:.0}" y="16" text-anchor="middle" font-weight="bold">{t}</text>"#,
        tx = pw / 2.0,
        t = esc(title)
    );
    for k in 0..=4 {
        let v = lo + span * f64::from(k) / 4.0;
        let y = y_of(v);
        let _ = write!(
            s,
            r##"<line x1="{left:.0}" x2="{x2:.0}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{lx:.0}" y="{ty:.1}" text-anchor="end">{l}</text>"##,
            x2 = left + plot_w,
            lx = left - 6.0,
            ty = y + 4.0,
            l = short(v)
        );
    }
    let bw = plot_w / n;
    for (e, (v, label)) in values.iter().zip(labels).enumerate() {
        let x = left + bw * e as f64;
        let (y0, y1) = (y_of(v.max(0.0)), y_of(v.min(0.0)));
        let color = if *v < 0.0 { "#d62728" } else { "#1f77b4" };
        let _ = write!(
            s,
            r#"<rect x="{bx:.1}" y="{y0:.1}" width="{w:.1}" height="{h:.1}" fill="{color}"><title>{label}: {val}</title></rect><text x="{tx:.1}" y="{ly:.0}" text-anchor="end" transform="rotate(-40 {tx:.1} {ly:.0})">{label}</text>"#,
            bx = x + bw * 0.15,
            w = bw * 0.7,
            h = (y1 - y0).max(0.5),
            tx = x + bw / 2.0,
            ly = top + plot_h + 14.0,
            val = num(*v)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left:.0}" x2="{x2:.0}" y1="{y:.1}" y2="{y:.1}" stroke="#333"/></svg>"##,
        x2 = left + plot_w,
        y = y_of(0.0)
    );
    s
}

/// The page.
fn risk_html(p: &RiskPage<'_>) -> String {
    let r = p.risk;
    let title = format!(
        "volfit risk — {} book ({})",
        r.underlying,
        r.dynamics.name()
    );
    let mut h = String::new();
    page_head(&mut h, &esc(&title));
    let as_of = r.as_of.map_or_else(
        || "unknown".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    let _ = write!(
        h,
        r#".charts {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.charts svg, .heat svg {{ border: 1px solid #ddd; background: #fff; }}
p.note {{ font-size: 14px; max-width: 1100px; }}
</style></head><body>
<h1>{t}</h1>
<p>Surface <code>{s}</code> as of {as_of}; book <code>{b}</code>: {n} positions, {rj} rejected.</p>
<p class="note">Units: quote currency, undiscounted. <b>delta</b> = ∂V/∂F(T) per unit of each
expiry's forward, <b>gamma</b> = ∂²V/∂F², <b>vega</b> per 1.00 of vol (100 vol points; divide by
100 for per vol point), <b>theta</b> per year (divide by 365.25 for per day), <b>vanna</b> = ∂²V/∂F∂σ,
<b>volga</b> = ∂²V/∂σ². Smile dynamics: {d}.{inv}</p>
"#,
        t = esc(&title),
        s = esc(p.surface),
        b = esc(p.book),
        n = r.positions.len(),
        rj = p.rejected.len(),
        d = r.dynamics.name(),
        inv = if r.inverse {
            " Inverse (coin-settled) book: coin greeks (value V/F in coin) are in risk.json."
        } else {
            ""
        }
    );
    let t = &r.totals;
    let _ = write!(
        h,
        "<h2>Totals</h2><table><tr><th>price</th><th>delta</th><th>gamma</th><th>vega</th>\
         <th>theta</th><th>vanna</th><th>volga</th></tr><tr><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        num(t.price),
        num(t.delta),
        num(t.gamma),
        num(t.vega),
        num(t.theta),
        num(t.vanna),
        num(t.volga)
    );
    let _ = write!(
        h,
        "<h2>Scenarios</h2><div class=\"heat\">{}</div>",
        heatmap(&p.grid)
    );
    if !p.named.is_empty() {
        h.push_str(
            "<h3>Named scenarios</h3><table><tr><th class=\"l\">scenario</th><th>P&amp;L</th>\
             <th>value</th><th>roll (days)</th><th>arbitrage-free</th>\
             <th>failing scan points</th><th>base failing</th></tr>",
        );
        for n in p.named {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{} of {}</td><td>{}</td></tr>",
                esc(&n.name),
                n.pnl.map_or_else(|| "no price".into(), num),
                n.value.map_or_else(|| "—".into(), num),
                num(n.roll_days),
                if n.arbitrage_free { "yes" } else { "<b>no</b>" },
                n.failing_points,
                n.points,
                n.base_failing_points
            );
        }
        h.push_str("</table>");
    }
    let labels: Vec<String> = r
        .vega_by_expiry
        .iter()
        .map(|e| e.expiry.format("%Y-%m-%d").to_string())
        .collect();
    let pick = |f: fn(&crate::black::Greeks) -> f64| -> Vec<f64> {
        r.vega_by_expiry.iter().map(|e| f(&e.greeks)).collect()
    };
    let _ = write!(
        h,
        "<h2>Greeks by expiry</h2><div class=\"charts\">{}{}{}{}</div>",
        bars(
            "vega per vol point (quote currency)",
            &labels,
            &pick(|g| g.vega / 100.0)
        ),
        bars(
            "theta per day (quote currency)",
            &labels,
            &pick(|g| g.theta / 365.25)
        ),
        bars(
            "delta (per unit of the expiry's forward)",
            &labels,
            &pick(|g| g.delta)
        ),
        bars("gamma × F² / 100 (per 1 % move)", &labels, &{
            // Gamma in P&L per (1 %)² move of the expiry's forward: Γ·(0.01·F)², summed.
            let mut v = vec![0.0; labels.len()];
            for pos in &r.positions {
                if let Some(e) = r.vega_by_expiry.iter().position(|x| x.expiry == pos.expiry) {
                    v[e] += pos.greeks.gamma * (0.01 * pos.forward).powi(2);
                }
            }
            v
        }),
    );
    h.push_str(
        "<h2>Positions</h2><table><tr><th>line</th><th>instrument</th><th>quantity</th>\
         <th>forward</th><th>vol</th><th>price</th><th>delta</th><th>gamma</th><th>vega</th>\
         <th>theta</th><th>vanna</th><th>volga</th></tr>",
    );
    for pos in &r.positions {
        let g = &pos.greeks;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.2}%</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            pos.line,
            esc(&pos.instrument),
            num(pos.quantity),
            num(pos.forward),
            100.0 * pos.vol,
            num(g.price),
            num(g.delta),
            num(g.gamma),
            num(g.vega),
            num(g.theta),
            num(g.vanna),
            num(g.volga)
        );
    }
    h.push_str("</table>");
    if !p.rejected.is_empty() {
        h.push_str(
            "<h2>Rejected rows</h2><table><tr><th>line</th><th>field</th><th>reason</th></tr>",
        );
        for rj in p.rejected {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                rj.line,
                esc(&rj.field),
                esc(&rj.reason)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}
