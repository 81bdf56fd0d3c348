//! `report.html`: one self-contained review page (styles inline, charts beside it in
//! `plots/`): the per-expiry table with flagged expiries first, calendar findings, and every
//! chart.

use super::Chart;
use crate::output::write_atomic;
use crate::surface::metrics::review_flags;
use crate::surface::{IngestStage, RejectedRow, SurfaceReport};
use std::fmt::Write as _;
use std::path::Path;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The most rejected rows the page lists (all of them are in `report.json`).
const MAX_REJECTED_SHOWN: usize = 500;

/// Writes the review page to `path` with the run's rejected rows (ingest and slice stages,
/// as `report.json` lists them, [`RunReport`](crate::surface::RunReport)`.ingest.rejected`)
/// in a section of their own, so a reviewer sees what was left out and why.
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_review_page(
    path: &Path,
    report: &SurfaceReport,
    charts: &[Chart],
    rejected: &[RejectedRow],
) -> std::io::Result<()> {
    page(path, report, charts, rejected)
}

/// Writes the review page to `path`; chart images are linked relative to the page. The
/// rejected rows listed are the slice stage's (the report has no reader rejections; use
/// [`write_review_page`] with the run's rows for both).
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_report_html(
    path: &Path,
    report: &SurfaceReport,
    charts: &[Chart],
) -> std::io::Result<()> {
    let rejected: Vec<RejectedRow> = report
        .slice_report
        .rejected
        .iter()
        .map(|r| RejectedRow {
            line: r.line,
            reason: r.reason.clone(),
            stage: IngestStage::Slice,
        })
        .collect();
    page(path, report, charts, &rejected)
}

fn page(
    path: &Path,
    report: &SurfaceReport,
    charts: &[Chart],
    rejected: &[RejectedRow],
) -> std::io::Result<()> {
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &Path| {
        p.strip_prefix(base)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut h = String::new();
    let title = format!(
        "volfit — {} {} ({} model, {})",
        report.underlying,
        report
            .as_of
            .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
        report.model,
        report.optimizer
    );
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<style>
body {{ font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 12px 0; font-size: 14px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th {{ background: #f0f0f0; }}
td.l {{ text-align: left; }}
tr.flag td {{ background: #fff1f0; }}
.ok {{ color: #1a7f37; }} .bad {{ color: #c00; font-weight: bold; }}
img {{ max-width: 100%; border: 1px solid #ddd; margin: 8px 0 24px 0; }}
.summary span {{ margin-right: 24px; }}
</style></head><body>
<h1>{t}</h1>
<p class="summary"><span>expiries fitted: <b>{n}</b></span><span>quotes used: <b>{q}</b></span>
<span>calendar-free: <b class="{cc}">{cf}</b></span><span>fit time: <b>{fit:.1} ms</b></span>
<span>total: <b>{tot:.1} ms</b></span></p>
"#,
        t = esc(&title),
        n = report.slices.len(),
        q = report.quotes_used(),
        cc = if report.calendar.calendar_free {
            "ok"
        } else {
            "bad"
        },
        cf = report.calendar.calendar_free,
        fit = report.timing_micros.fit / 1e3,
        tot = report.timing_micros.total / 1e3,
    );
    // Table, flagged expiries first.
    let mut order: Vec<(usize, Vec<String>)> = report
        .slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let f: Vec<String> = review_flags(s, report)
                .iter()
                .map(ToString::to_string)
                .collect();
            (i, f)
        })
        .collect();
    order.sort_by_key(|(i, f)| (f.is_empty(), *i));
    h.push_str(
        "<h2>Expiries (flagged first)</h2>\n<table><tr><th>expiry</th><th>T (y)</th><th>forward</th>\
         <th>source</th><th>quotes</th><th>RMSE (vol pts)</th><th>max err (vol pts)</th>\
         <th>inside bid/ask</th><th>butterfly-free</th><th>min g</th><th>iterations</th>\
         <th>fit (µs)</th><th>flags</th><th>chart</th></tr>\n",
    );
    for (i, fl) in &order {
        let s = &report.slices[*i];
        let chart = charts
            .iter()
            .find(|c| c.title.contains(&format!("{:.4} y", s.t)))
            .and_then(|c| c.files.first())
            .map_or_else(String::new, |p| {
                format!("<a href=\"#c{i}\">{}</a>", esc(&rel(p)))
            });
        let _ = writeln!(
            h,
            "<tr{cls}><td class=\"l\">{e}</td><td>{t:.4}</td><td>{f:.2}</td><td class=\"l\">{src}</td>\
             <td>{n}</td><td>{r:.3}</td><td>{m:.3}</td><td>{w}</td><td class=\"{bc}\">{b}</td>\
             <td>{g:.2e}</td><td>{it}</td><td>{us:.0}</td><td class=\"l\">{fl}</td><td class=\"l\">{chart}</td></tr>",
            cls = if fl.is_empty() { "" } else { " class=\"flag\"" },
            e = s
                .expiry
                .map_or_else(|| "—".into(), |e| e.format("%Y-%m-%d %H:%M").to_string()),
            t = s.t,
            f = s.forward,
            src = esc(s.forward_source.name()),
            n = s.n_quotes,
            r = 100.0 * s.rmse_iv,
            m = 100.0 * s.max_abs_err_iv,
            w = s
                .within_spread
                .map_or_else(|| "—".into(), |w| format!("{:.0}%", 100.0 * w)),
            bc = if s.butterfly_free { "ok" } else { "bad" },
            b = s.butterfly_free,
            g = s.min_g,
            it = s.iterations,
            us = s.fit_micros,
            fl = esc(&fl.join("; ")),
        );
    }
    h.push_str("</table>\n");
    // Calendar findings, dropped and failed expiries.
    if !report.calendar.violations.is_empty() || !report.calendar.wing_crossings.is_empty() {
        h.push_str(
            "<h2>Calendar check</h2>\n<table><tr><th>T earlier</th><th>T later</th>\
                    <th>k range</th><th>shortfall</th><th>left</th><th>action</th></tr>\n",
        );
        for v in &report.calendar.violations {
            let _ = writeln!(
                h,
                "<tr><td>{:.4}</td><td>{:.4}</td><td>[{:.3}, {:.3}]</td><td>{:.2e}</td>\
                 <td class=\"{}\">{:.2e}</td><td class=\"l\">{}</td></tr>",
                v.t_earlier,
                v.t_later,
                v.k_range[0],
                v.k_range[1],
                v.shortfall,
                if v.remaining > 0.0 { "bad" } else { "ok" },
                v.remaining,
                esc(&v.action.to_string())
            );
        }
        h.push_str("</table>\n");
        if !report.calendar.wing_crossings.is_empty() {
            let pairs: Vec<String> = report
                .calendar
                .wing_crossings
                .iter()
                .map(|(a, b)| format!("{a:.3}→{b:.3}"))
                .collect();
            let _ = writeln!(
                h,
                "<p>Wing slopes decrease in T (calendar arbitrage far beyond the quotes) for: {}</p>",
                esc(&pairs.join(", "))
            );
        }
    }
    if !report.slice_report.dropped.is_empty() || !report.failed.is_empty() {
        h.push_str("<h2>Expiries not in the surface</h2>\n<table><tr><th>expiry / T</th><th>reason</th></tr>\n");
        for d in &report.slice_report.dropped {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                d.expiry.format("%Y-%m-%d %H:%M"),
                esc(&d.reason.to_string())
            );
        }
        for f in &report.failed {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">T = {:.4}</td><td class=\"l\">fit failed: {}</td></tr>",
                f.t,
                esc(&f.reason)
            );
        }
        h.push_str("</table>\n");
    }
    if !rejected.is_empty() {
        let ingest = rejected
            .iter()
            .filter(|r| r.stage == IngestStage::Ingest)
            .count();
        let _ = writeln!(
            h,
            "<h2>Rejected rows ({})</h2>\n<details><summary>{} rows left out: {ingest} by the \
             reader, {} by the slice filters{}</summary>\n<table><tr><th>line</th><th>stage</th>\
             <th class=\"l\">reason</th></tr>",
            rejected.len(),
            rejected.len(),
            rejected.len() - ingest,
            if rejected.len() > MAX_REJECTED_SHOWN {
                format!(" (the first {MAX_REJECTED_SHOWN} shown; all in report.json)")
            } else {
                String::new()
            }
        );
        for r in rejected.iter().take(MAX_REJECTED_SHOWN) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                r.line,
                match r.stage {
                    IngestStage::Ingest => "reader",
                    IngestStage::Slice => "slice",
                },
                esc(&r.reason)
            );
        }
        h.push_str("</table></details>\n");
    }
    // Charts: surface-wide first, then the skews in table order (flagged first).
    h.push_str("<h2>Surface</h2>\n");
    for c in charts.iter().filter(|c| !c.title.starts_with("Skew")) {
        if let Some(p) = c.files.first() {
            let _ = writeln!(
                h,
                "<h3>{}</h3><img src=\"{}\" alt=\"{}\">",
                esc(&c.title),
                esc(&rel(p)),
                esc(&c.title)
            );
        }
    }
    h.push_str("<h2>Skews (flagged first)</h2>\n");
    for (i, fl) in &order {
        let s = &report.slices[*i];
        if let Some(c) = charts
            .iter()
            .find(|c| c.title.starts_with("Skew") && c.title.contains(&format!("{:.4} y", s.t)))
            && let Some(p) = c.files.first()
        {
            let flag = if fl.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"bad\">[{}]</span>", esc(&fl.join("; ")))
            };
            let _ = writeln!(
                h,
                "<h3 id=\"c{i}\">{}{flag}</h3><img src=\"{}\" alt=\"{}\">",
                esc(&c.title),
                esc(&rel(p)),
                esc(&c.title)
            );
        }
    }
    h.push_str("</body></html>\n");
    write_atomic(path, h.as_bytes())
}
