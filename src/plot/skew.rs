//! The skew chart of one expiry: bid–ask vol bars, mid dots, the exchange's mark vols where
//! the chain has them, the fitted curve (and an overlay model's; the fit before an arbitrage
//! repair dashed), filtered-out quotes, and the residual panel. The legend sits in its own
//! column right of the plot, so it never covers a quote.

use super::ChartInput;
use super::style::{
    BAD, BAND, DrawResult, FIT, FWD, GREY, LegendMark, MARK, OVERLAY, UNREPAIRED, as_of, err,
    expiry_label, model_vol, side_legend, span, y_name,
};
use crate::surface::{SliceModel, SliceSummary};
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Circle, Color, Cross, DashedLineSeries, DrawingArea, DrawingBackend,
    IntoFont, LineSeries, PathElement, Polygon, WHITE,
};

/// Width of the legend column, pixels.
const LEGEND_WIDTH: u32 = 250;

pub(super) fn draw_skew<DB: DrawingBackend>(
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
    let (plot, side) = root.split_horizontally(super::SIZE.0 - LEGEND_WIDTH);
    let (upper, lower) = plot.split_vertically(560);
    let mut legend: Vec<(String, LegendMark)> = Vec::new();
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
        .into_iter()
        .chain(q.mark_iv)
    });
    let (y0, y1) = span(vols.map(|v| 100.0 * v), 0.08);
    let y0 = y0.max(0.0);
    let title = format!(
        "{} {} — skew, expiry {}{}",
        rep.underlying,
        as_of(rep),
        expiry_label(s),
        if s.repair.is_some() {
            " — REPAIRED"
        } else {
            ""
        }
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
        .map_err(err)?;
    legend.push((
        format!("forward {f:.2} (ATM, k = 0)"),
        LegendMark::Line(FWD, 1),
    ));
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
            .map_err(err)?;
        legend.push(("filtered out".into(), LegendMark::Cross(GREY)));
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
        .map_err(err)?;
    legend.push(("bid–ask IV".into(), LegendMark::Bar(BAND)));
    chart
        .draw_series(
            s.quotes
                .iter()
                .map(|q| Circle::new((q.strike, 100.0 * q.mid_iv), 3, BLACK.filled())),
        )
        .map_err(err)?;
    legend.push(("mid IV".into(), LegendMark::Dot(BLACK)));
    // The exchange's mark vols (Deribit's mark IV), on the exchange's forward.
    let marks: Vec<(f64, f64)> = s
        .quotes
        .iter()
        .filter_map(|q| Some((q.strike, 100.0 * q.mark_iv?)))
        .filter(|(_, v)| *v >= y0 && *v <= y1)
        .collect();
    if !marks.is_empty() {
        chart
            .draw_series(marks.iter().map(|&(x, v)| {
                plotters::element::EmptyElement::at((x, v))
                    + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], MARK.filled())
            }))
            .map_err(err)?;
        legend.push(("exchange mark IV".into(), LegendMark::Diamond(MARK)));
    }
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
    if let Some(r) = &s.repair {
        chart
            .draw_series(DashedLineSeries::new(
                curve(&r.unrepaired),
                8,
                5,
                UNREPAIRED.stroke_width(2),
            ))
            .map_err(err)?;
        legend.push((
            format!("{} before repair", rep.model.name().to_uppercase()),
            LegendMark::Dashed(UNREPAIRED),
        ));
    }
    chart
        .draw_series(LineSeries::new(curve(&slice.model), FIT.stroke_width(2)))
        .map_err(err)?;
    legend.push((
        format!(
            "{} fit{}",
            rep.model.name().to_uppercase(),
            if s.repair.is_some() {
                " (repaired)"
            } else {
                ""
            }
        ),
        LegendMark::Line(FIT, 2),
    ));
    if let Some((name, other)) = input.overlay
        && let Some(o) = other.slices().iter().find(|x| x.t == s.t)
    {
        chart
            .draw_series(LineSeries::new(curve(&o.model), OVERLAY.stroke_width(2)))
            .map_err(err)?;
        legend.push((
            format!("{} fit (overlay)", name.to_uppercase()),
            LegendMark::Line(OVERLAY, 2),
        ));
    }
    y_name(&upper, "implied vol (%)", 44)?;
    side_legend(&side, &legend, 70)?;
    // The fit's numbers under the legend; a repair's cost in RMSE.
    let mut notes = vec![
        format!(
            "{} quotes, RMSE {:.2} vol pts",
            s.n_quotes,
            100.0 * s.rmse_iv
        ),
        format!("max error {:.2} vol pts", 100.0 * s.max_abs_err_iv),
    ];
    if let Some(w) = s.within_spread {
        notes.push(format!("{:.0}% inside bid/ask", 100.0 * w));
    }
    if let Some(r) = &s.repair {
        notes.push("REPAIRED (arbitrage):".into());
        notes.push(format!(
            "RMSE {:.2} → {:.2} vol pts",
            100.0 * r.rmse_before,
            100.0 * r.rmse_after
        ));
        if let (Some(b), Some(a)) = (r.within_spread_before, r.within_spread_after) {
            notes.push(format!("inside {:.0}% → {:.0}%", 100.0 * b, 100.0 * a));
        }
    }
    let top = 70 + 22 * i32::try_from(legend.len()).unwrap_or(0) + 16;
    for (j, n) in notes.iter().enumerate() {
        let color = if n.starts_with("REPAIRED") {
            &BAD
        } else {
            &BLACK
        };
        side.draw_text(
            n,
            &("sans-serif", 14).into_font().color(color),
            (8, top + 20 * i32::try_from(j).unwrap_or(0)),
        )
        .map_err(err)?;
    }

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
