//! The term structure: ATM vol, 25Δ risk reversal and butterfly against expiry (numbers from
//! [`crate::surface::metrics`]), on a `√T` axis labelled with dates so that the short
//! expiries are not crushed against the origin.

use super::ChartInput;
use super::style::{BAND, DrawResult, FIT, OVERLAY, as_of, err, span, time_label, y_name};
use crate::surface::metrics::term_structure;
use plotters::coord::Shift;
use plotters::prelude::{
    ChartBuilder, Circle, Color, DrawingArea, DrawingBackend, LineSeries, RGBColor, WHITE,
};

pub(super) fn draw_term_structure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let ts = term_structure(input.surface);
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            &format!(
                "{} {} — term structure (ATM = forward; forward Black deltas, not premium-adjusted; √T axis)",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let panels = root.split_evenly((3, 1));
    let (t0, t1) = span(ts.iter().map(|x| x.t.sqrt()), 0.03);
    let t0 = t0.max(0.0);
    let label = |u: &f64| time_label(input, *u);
    let series: [(&str, Vec<(f64, f64)>, RGBColor); 3] = [
        (
            "ATM (forward, k = 0) vol (%)",
            ts.iter().map(|x| (x.t.sqrt(), x.atm)).collect(),
            FIT,
        ),
        (
            "25Δ risk reversal: σ(25Δ call) − σ(25Δ put) (vol points)",
            ts.iter()
                .filter_map(|x| Some((x.t.sqrt(), x.rr25?)))
                .collect(),
            OVERLAY,
        ),
        (
            "25Δ butterfly: (σ(25Δ call) + σ(25Δ put))/2 − σ_ATM (vol points)",
            ts.iter()
                .filter_map(|x| Some((x.t.sqrt(), x.bf25?)))
                .collect(),
            BAND,
        ),
    ];
    for (panel, (name, pts, color)) in panels.iter().zip(series) {
        let (y0, y1) = span(pts.iter().map(|p| p.1), 0.15);
        let mut c = ChartBuilder::on(panel)
            .margin(10)
            .margin_top(28)
            .x_label_area_size(34)
            .y_label_area_size(60)
            .build_cartesian_2d(t0..t1, y0..y1)
            .map_err(err)?;
        c.configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .y_labels(5)
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_labels(9)
            .x_label_formatter(&label)
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
