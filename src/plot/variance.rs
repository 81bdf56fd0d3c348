//! Total implied variance per expiry as served (fits raised where they would dip below the
//! previous expiry), with what the plane scan found marked.

use super::ChartInput;
use super::style::{BAD, DrawResult, as_of, err, expiry_short, k_range, span, viridis, y_name};
use crate::surface::VolSurface;
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Color, Cross, DrawingArea, DrawingBackend, LineSeries, PathElement,
    SeriesLabelPosition, WHITE,
};

pub(super) fn draw_total_variance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let slices = input.surface.slices();
    let (k0, k1) = k_range(input);
    let n = 300;
    let ks: Vec<f64> = (0..=n)
        .map(|j| k0 + (k1 - k0) * f64::from(j) / f64::from(n))
        .collect();
    let ws: Vec<Vec<f64>> = (0..slices.len())
        .map(|i| {
            ks.iter()
                .map(|&k| input.surface.served_w(i, k).unwrap_or(f64::NAN))
                .collect()
        })
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
    // What the marks mean: the one verdict (served smiles and the plane scan).
    let plane = &input.report.plane;
    let fixed = input.report.calendar.violations.len();
    let x_desc = format!(
        "log-moneyness k = ln(K/F)   ·   served surface: calendar {} on the real line; plane scan \
         {} points, {} calendar / {} butterfly failures ({fixed} fit violations repaired)",
        if input.report.calendar.calendar_free {
            "free"
        } else {
            "ARBITRAGE"
        },
        plane.points,
        plane.calendar,
        plane.butterfly
    );
    chart
        .configure_mesh()
        .x_desc(x_desc)
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
                .label(expiry_short(s.expiry, s.t))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
    }
    // The plane scan's calendar failures at the expiries (none on a served surface).
    let crossings: Vec<(f64, f64)> = plane
        .worst
        .iter()
        .filter(|p| p.failure == crate::surface::PlaneFailure::Calendar && p.k >= k0 && p.k <= k1)
        .map(|p| (p.k, input.surface.total_variance(p.k, p.t)))
        .collect();
    if !crossings.is_empty() {
        chart
            .draw_series(
                crossings
                    .iter()
                    .map(|&p| Cross::new(p, 4, BAD.stroke_width(1))),
            )
            .map_err(err)?
            .label("w decreases in T here (calendar arbitrage found by the plane scan)")
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
