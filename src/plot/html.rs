//! `report.html`: one self-contained review page (styles inline, charts beside it in
//! `plots/`): the conventions, the expiries ranked worst first with their review flags
//! ([`crate::surface::flags`]), calendar findings, rejected rows and every chart; and
//! `index.html`, the page that links the review pages of a run over several chains.

use super::Chart;
use crate::output::write_atomic;
use crate::slice::DayCount;
use crate::surface::flags::{MAX_HALF_SPREADS, MAX_VOL_ERROR, OUTSIDE_SHARE, RMSE_HALF_SPREADS};
use crate::surface::{IngestStage, RunReport, SurfaceReport};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The most rejected rows the page lists (all of them are in `report.json`).
const MAX_REJECTED_SHOWN: usize = 500;

/// The head every volfit page opens with: doctype, title and the shared table and body styles
/// (each page writes its own styles after these, then closes `<style>`).
pub(super) fn page_head(h: &mut String, t: &str) {
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<style>
body {{ font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 12px 0; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
th {{ background: #f0f0f0; }}
td.l {{ text-align: left; }}
"#
    );
}

/// Writes the review page of run report `run` (what `report.json` holds: the expiries with
/// their review flags, the rejected rows of the reader and slice stages, the timings) to
/// `path`; chart images are linked relative to the page. The header's total time is
/// `run.timing_micros.total`, the number the CLI prints.
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_review_page(path: &Path, run: &RunReport, charts: &[Chart]) -> std::io::Result<()> {
    page(path, run, charts)
}

/// Writes the review page of a surface report alone (no file was read: the rejected rows
/// listed are the slice stage's, the day count is ACT/365); [`write_review_page`] with the
/// run's [`RunReport`] gives the whole page.
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_report_html(
    path: &Path,
    report: &SurfaceReport,
    charts: &[Chart],
) -> std::io::Result<()> {
    let run = RunReport::of_surface(report);
    page(path, &run, charts)
}

/// The conventions every number of the page is in.
fn conventions(day_count: DayCount) -> String {
    format!(
        "<h2>Conventions</h2>\n<ul class=\"conv\">\n\
         <li><b>Moneyness:</b> log-forward-moneyness k = ln(K/F(T)); heatmaps and densities use \
         k/√T. <b>ATM</b> is the forward, k = 0 (ATMF), not spot and not delta-neutral.</li>\n\
         <li><b>Delta:</b> Black-76 forward delta of the undiscounted option, Φ(d₁) for calls, \
         Φ(d₁) − 1 for puts, <i>not</i> premium-adjusted; 25Δ call/put are the strikes where \
         Φ(d₁) = 0.25 / 0.75. (Deribit shows premium-adjusted delta in coin, Φ(d₁) − C/F = \
         Φ(d₂)·K/F for a call: its 25Δ strikes lie a little further out.)</li>\n\
         <li><b>Vols:</b> Black implied vols, annualised, in vol points (percent; 1 vol point = \
         0.01). Errors are fit − mid; a half-spread is (ask IV − bid IV)/2.</li>\n\
         <li><b>Time:</b> T in years, {dc}, from the snapshot time to the expiry instant; time \
         axes show expiry dates on a √T scale.</li>\n\
         <li><b>Flags</b> (<code>volfit::surface::flags</code>): RMSE &gt; {r} half-spread, a quote \
         missed by &gt; {m} half-spreads, over {o:.0}% of quotes outside bid/ask, a quote outside \
         its bid/ask missed by &gt; {v} vol points however wide its spread, as many quotes as parameters, not \
         converged, arbitrage left, repaired. Severity: each flag&#39;s measure over its \
         threshold (fixed weights for the others), summed per expiry.</li>\n</ul>\n",
        dc = match day_count {
            DayCount::Act365 => "ACT/365 Fixed (calendar seconds / 365 days)",
            DayCount::Act36525 => "ACT/365.25 (calendar seconds / 365.25 days, Deribit's)",
        },
        r = RMSE_HALF_SPREADS,
        m = MAX_HALF_SPREADS,
        o = 100.0 * OUTSIDE_SHARE,
        v = 100.0 * MAX_VOL_ERROR,
    )
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "—".into(), f)
}

fn page(path: &Path, run: &RunReport, charts: &[Chart]) -> std::io::Result<()> {
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
        run.underlying,
        run.as_of
            .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
        run.model,
        run.optimizer
    );
    let order = run.ranked();
    let flagged = run.flagged;
    page_head(&mut h, &esc(&title));
    let _ = write!(
        h,
        r#"tr.flag td {{ background: #fff1f0; }}
.ok {{ color: #1a7f37; }} .bad {{ color: #c00; font-weight: bold; }}
img {{ max-width: 100%; border: 1px solid #ddd; margin: 8px 0 24px 0; }}
.summary span {{ margin-right: 24px; }}
ul.conv li {{ margin: 3px 0; font-size: 14px; }}
ul.flags {{ margin: 0; padding-left: 16px; text-align: left; }}
td.fl {{ min-width: 300px; font-size: 12px; }}
</style></head><body>
<h1>{t}</h1>
<p class="summary"><span>expiries fitted: <b>{n}</b></span><span>flagged: <b class="{fc}">{flagged}</b></span>
<span>quotes used: <b>{q}</b></span><span>arbitrage-free (served surface, whole plane): <b class="{cc}">{cf}</b></span>
<span>fit time: <b>{fit:.1} ms</b></span><span>ceiling: <b>{ceil:.2} ms</b></span><span>total: <b>{tot:.1} ms</b></span></p>
"#,
        t = esc(&title),
        n = run.slices.len(),
        fc = if flagged > 0 { "bad" } else { "ok" },
        q = run.ingest.quotes_used,
        cc = if run.arbitrage_free { "ok" } else { "bad" },
        cf = run.arbitrage_free,
        fit = run.timing_micros.fit / 1e3,
        ceil = run.timing_micros.ceiling / 1e3,
        tot = run.timing_micros.total / 1e3,
    );
    h.push_str(&conventions(run.day_count));
    let chart_of = |i: usize| {
        charts
            .iter()
            .find(|c| c.expiry_index == Some(i))
            .and_then(|c| c.files.first())
    };
    h.push_str(
        "<h2>Expiries, worst first</h2>\n<table><tr><th>rank</th><th>expiry</th><th>T (y)</th>\
         <th>forward</th><th>quotes</th><th>params</th><th>RMSE (vol pts)</th>\
         <th>max err (vol pts)</th><th>median half-spread (vol pts)</th>\
         <th>RMSE (half-spreads)</th><th>max err (half-spreads)</th><th>outside bid/ask</th>\
         <th class=\"l\">within spread / attainable</th>\
         <th>severity</th><th class=\"l\">flags</th><th>chart</th></tr>\n",
    );
    for (rank, &i) in order.iter().enumerate() {
        let rs = &run.slices[i];
        let (s, r) = (&rs.summary, &rs.review);
        let chart = chart_of(i).map_or_else(String::new, |_| format!("<a href=\"#c{i}\">skew</a>"));
        let flags = if r.flags.is_empty() {
            String::new()
        } else {
            let items: Vec<String> = r
                .flags
                .iter()
                .map(|f| {
                    format!(
                        "<li><b>{}</b> ({:.1}): {}</li>",
                        f.kind,
                        f.severity,
                        esc(&f.detail)
                    )
                })
                .collect();
            format!("<ul class=\"flags\">{}</ul>", items.join(""))
        };
        let e = &r.errors;
        let _ = writeln!(
            h,
            "<tr{cls}><td>{rk}</td><td class=\"l\">{ex}</td><td>{t:.4}</td><td>{f:.2}</td>\
             <td>{n}</td><td>{np}</td><td>{rm:.2}</td><td>{mx:.2}</td><td>{hs}</td><td>{rh}</td>\
             <td>{mh}</td><td>{out}</td><td class=\"l\">{ceil}</td><td>{sev:.1}</td>\
             <td class=\"l fl\">{flags}</td><td class=\"l\">{chart}</td></tr>",
            cls = if r.is_flagged() {
                " class=\"flag\""
            } else {
                ""
            },
            rk = rank + 1,
            ex = s
                .expiry
                .map_or_else(|| "—".into(), |e| e.format("%Y-%m-%d %H:%M").to_string()),
            t = s.t,
            f = s.forward,
            n = s.n_quotes,
            np = if s.fit.n_params > 0 {
                s.fit.n_params.to_string()
            } else {
                "—".into()
            },
            rm = 100.0 * s.rmse_iv,
            mx = 100.0 * s.max_abs_err_iv,
            hs = opt(e.median_half_spread, |v| format!("{:.2}", 100.0 * v)),
            rh = opt(e.rmse_half_spreads, |v| format!("{v:.2}")),
            mh = opt(e.max_half_spreads, |v| format!("{v:.1}")),
            out = opt(e.outside_share, |v| format!("{:.0}%", 100.0 * v)),
            ceil = ceiling_cell(s),
            sev = r.severity,
        );
    }
    h.push_str("</table>\n");
    // The one arbitrage verdict: the served surface on the plane, then the fits' repairs.
    let p = &run.plane;
    let _ = writeln!(
        h,
        "<h2>Static arbitrage</h2>\n<p><b class=\"{}\">{}</b>. Served surface: calendar {} on \
         the real line at the expiries; plane scan of {} points (k in [{:.2}, {:.2}], {} times \
         before, at, between and after the expiries): {} calendar, {} butterfly, {} without a \
         finite positive local vol.</p>\n<p class=\"note\">Domain: {}.</p>",
        if run.arbitrage_free { "ok" } else { "bad" },
        if run.arbitrage_free {
            "No static arbitrage found"
        } else {
            "ARBITRAGE FOUND"
        },
        if run.calendar_free {
            "free"
        } else {
            "NOT free"
        },
        p.points,
        p.grid.k_range[0],
        p.grid.k_range[1],
        p.grid.times.len(),
        p.calendar,
        p.butterfly,
        p.local_vol_undefined,
        esc(&run.arbitrage_domain)
    );
    if !run.calendar.served.is_empty() {
        let end = |x: Option<f64>, inf: &str| x.map_or(inf.to_string(), |x| format!("{x:.3}"));
        let rows: Vec<String> = run
            .calendar
            .served
            .iter()
            .map(|r| {
                format!(
                    "T {:.4}: k in [{}, {}]",
                    r.t,
                    end(r.k_from, "−∞"),
                    end(r.k_to, "+∞")
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<p>Served from the previous expiry's smile (raised by the minimum forward variance), \
             where the expiry's own fit would dip below it: {}</p>",
            esc(&rows.join("; "))
        );
    }
    if !run.calendar.violations.is_empty() {
        h.push_str(
            "<h3>Calendar violations of the fits on their quoted range (repaired)</h3>\n\
             <table><tr><th>T earlier</th><th>T later</th>\
                    <th>k range</th><th>shortfall</th><th>left</th><th>action</th></tr>\n",
        );
        for v in &run.calendar.violations {
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
    }
    if !run.dropped.is_empty() || !run.failed.is_empty() {
        h.push_str("<h2>Expiries not in the surface</h2>\n<table><tr><th>expiry / T</th><th>reason</th></tr>\n");
        for d in &run.dropped {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                d.expiry.format("%Y-%m-%d %H:%M"),
                esc(&d.reason)
            );
        }
        for f in &run.failed {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">T = {:.4}</td><td class=\"l\">fit failed: {}</td></tr>",
                f.t,
                esc(&f.reason)
            );
        }
        h.push_str("</table>\n");
    }
    let rejected = &run.ingest.rejected;
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
    // Charts: surface-wide first, then the skews in table order (worst first).
    h.push_str("<h2>Surface</h2>\n");
    for c in charts.iter().filter(|c| c.expiry_index.is_none()) {
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
    h.push_str("<h2>Skews, worst first</h2>\n");
    for &i in &order {
        let r = &run.slices[i].review;
        let Some(c) = charts.iter().find(|c| c.expiry_index == Some(i)) else {
            continue;
        };
        let Some(p) = c.files.first() else {
            continue;
        };
        let flag = if r.flags.is_empty() {
            String::new()
        } else {
            let kinds: Vec<&str> = r.flags.iter().map(|f| f.kind.name()).collect();
            format!(
                " <span class=\"bad\">[severity {:.1}: {}]</span>",
                r.severity,
                kinds.join(", ")
            )
        };
        let _ = writeln!(
            h,
            "<h3 id=\"c{i}\">{}{flag}</h3><img src=\"{}\" alt=\"{}\">",
            esc(&c.title),
            esc(&rel(p)),
            esc(&c.title)
        );
    }
    h.push_str("</body></html>\n");
    write_atomic(path, h.as_bytes())
}

/// One chain's line on the index page (`index.html`) of a run over several chains.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The chain's review page (`report.html`).
    pub page: PathBuf,
    /// Its run report.
    pub run: RunReport,
}

/// Writes `index.html` at `path`: one row per chain with its headline numbers (underlying,
/// snapshot, expiries, flagged, worst expiry, calendar verdict, median RMSE, total time) and
/// a link to its review page (relative to `path`), worst chain (most flagged) first.
///
/// # Errors
/// The I/O error when the page cannot be written.
pub fn write_index_page(path: &Path, entries: &[IndexEntry]) -> std::io::Result<()> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rows: Vec<&IndexEntry> = entries.iter().collect();
    rows.sort_by(|a, b| {
        b.run
            .flagged
            .cmp(&a.run.flagged)
            .then_with(|| a.page.cmp(&b.page))
    });
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>volfit — \
         calibrated chains</title>\n<style>\nbody { font-family: DejaVu Sans, Helvetica, Arial, \
         sans-serif; margin: 24px; color: #222; }\ntable { border-collapse: collapse; font-size: \
         14px; }\nth, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }\nth { \
         background: #f0f0f0; }\ntd.l { text-align: left; }\n.ok { color: #1a7f37; } .bad { \
         color: #c00; font-weight: bold; }\n</style></head><body>\n<h1>volfit — calibrated \
         chains</h1>\n",
    );
    let _ = writeln!(
        h,
        "<p>{} chains, most flagged expiries first. Flags and conventions: see each review \
         page.</p>\n<table><tr><th class=\"l\">review page</th><th class=\"l\">input file</th>\
         <th class=\"l\">underlying</th><th class=\"l\">snapshot</th><th>expiries</th>\
         <th>flagged</th><th>failed</th><th class=\"l\">worst expiry</th><th>calendar-free</th>\
         <th>median RMSE (vol pts)</th><th>quotes used</th><th>rejected rows</th>\
         <th>total (ms)</th></tr>",
        rows.len()
    );
    for e in rows {
        let run = &e.run;
        let link = e
            .page
            .strip_prefix(base)
            .unwrap_or(&e.page)
            .to_string_lossy()
            .replace('\\', "/");
        let worst = run.ranked().first().map_or_else(String::new, |&i| {
            let s = &run.slices[i];
            if s.review.is_flagged() {
                format!(
                    "{} (severity {:.1})",
                    s.summary.expiry.map_or_else(
                        || format!("T = {:.4}", s.summary.t),
                        |d| d.format("%Y-%m-%d").to_string()
                    ),
                    s.review.severity
                )
            } else {
                "—".into()
            }
        });
        let mut rmse: Vec<f64> = run.slices.iter().map(|s| s.summary.rmse_iv).collect();
        rmse.sort_by(f64::total_cmp);
        let median = rmse.get(rmse.len() / 2).map_or(f64::NAN, |v| 100.0 * v);
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><a href=\"{l}\">review</a></td><td class=\"l\">{inp}</td>\
             <td class=\"l\">{u}</td><td class=\"l\">{a}</td><td>{n}</td>\
             <td class=\"{fc}\">{fl}</td><td>{fa}</td><td class=\"l\">{w}</td>\
             <td class=\"{cc}\">{cf}</td><td>{md:.2}</td><td>{q}</td><td>{rj}</td><td>{t:.1}</td></tr>",
            l = esc(&link),
            inp = esc(&Path::new(&run.input)
                .file_name()
                .map_or_else(|| run.input.clone(), |n| n.to_string_lossy().into_owned())),
            u = esc(&run.underlying),
            a = run
                .as_of
                .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
            n = run.slices.len(),
            fc = if run.flagged > 0 { "bad" } else { "ok" },
            fl = run.flagged,
            fa = run.failed.len(),
            w = esc(&worst),
            cc = if run.calendar_free { "ok" } else { "bad" },
            cf = run.calendar_free,
            md = median,
            q = run.ingest.quotes_used,
            rj = run.ingest.rejected.len(),
            t = run.timing_micros.total / 1e3,
        );
    }
    h.push_str("</table>\n</body></html>\n");
    write_atomic(path, h.as_bytes())
}

/// The "within spread X% of attainable Y%" cell of an expiry, with its inconsistent quotes
/// ([`crate::slice::ceiling()`]).
fn ceiling_cell(s: &crate::surface::SliceSummary) -> String {
    let within = opt(s.within_spread, |v| format!("{:.0}%", 100.0 * v));
    let Some(c) = &s.ceiling else {
        return match &s.ceiling_error {
            Some(e) => format!("{within} (ceiling: {})", esc(e)),
            None => format!("{within} (no ceiling: under 3 two-sided quotes)"),
        };
    };
    let mut cell = format!(
        "within spread {within} of attainable <b class=\"{}\">{:.0}%</b>",
        if c.feasible { "ok" } else { "bad" },
        100.0 * c.attainable_within
    );
    if !c.inconsistent.is_empty() {
        const SHOWN: usize = 8;
        let items: Vec<String> = c
            .inconsistent
            .iter()
            .take(SHOWN)
            .map(|q| {
                format!(
                    "<li>K {}{}: {} too {} by {:.2} spreads</li>",
                    q.strike,
                    q.line.map_or_else(String::new, |l| format!(" (line {l})")),
                    match q.side {
                        crate::slice::ceiling::BandSide::Bid => "bid",
                        crate::slice::ceiling::BandSide::Ask => "ask",
                    },
                    match q.side {
                        crate::slice::ceiling::BandSide::Bid => "high",
                        crate::slice::ceiling::BandSide::Ask => "low",
                    },
                    q.spreads
                )
            })
            .collect();
        let more = c.inconsistent.len().saturating_sub(SHOWN);
        let _ = write!(
            cell,
            "<ul class=\"flags\">{}{}</ul>",
            items.join(""),
            if more > 0 {
                format!("<li>… {more} more (report.json)</li>")
            } else {
                String::new()
            }
        );
    }
    cell
}
