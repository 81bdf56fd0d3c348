//! The risk-neutral density of `k = ln(F_T/F)` per expiry, negative parts marked.

use super::ChartInput;
use super::style::{BAD, DrawResult, as_of, err, k_range, viridis, y_name};
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Circle, Color, DrawingArea, DrawingBackend, LineSeries, PathElement,
    SeriesLabelPosition, WHITE,
};

pub(super) fn draw_density<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let slices = input.surface.slices();
    let (k0, k1) = k_range(input);
    let n = 400;
    let ks: Vec<f64> = (0..=n)
        .map(|j| k0 + (k1 - k0) * f64::from(j) / f64::from(n))
        .collect();
    // Density of k = ln(F_T/F), per unit k (the models' one density; NaN drawn as 0).
    let dens: Vec<Vec<f64>> = slices
        .iter()
        .map(|s| {
            ks.iter()
                .map(|&k| {
                    let p = s.model.smile().density_k(k);
                    if p.is_nan() { 0.0 } else { p }
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
