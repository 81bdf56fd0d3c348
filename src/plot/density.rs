//! The risk-neutral density per expiry, of the standardised log-moneyness `z = k/√T`
//! (`k = ln(F_T/F)`), negative parts marked. In `z` every expiry's density has a height of
//! order `1/√(2π)σ`, so the shortest expiry fits in the box with the others: the y range holds
//! every curve's peak, nothing is clipped (a chart that had to clip would say so in its
//! title). Solid where the expiry has quotes, dotted where its smile is extrapolated.

use super::ChartInput;
use super::style::{
    BAD, DrawResult, LegendMark, as_of, err, expiry_short, quoted_z_range, side_legend, viridis,
};
use plotters::coord::Shift;
use plotters::prelude::{
    ChartBuilder, Circle, Color, DashedLineSeries, DrawingArea, DrawingBackend, LineSeries, WHITE,
};

/// Width of the legend column, pixels.
const LEGEND_WIDTH: u32 = 200;

pub(super) fn draw_density<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
) -> DrawResult {
    let slices = input.surface.slices();
    let (z0, z1) = quoted_z_range(input).unwrap_or((-4.0, 4.0));
    let pad = 0.1 * (z1 - z0);
    let (z0, z1) = (z0 - pad, z1 + pad);
    let n = 400;
    let zs: Vec<f64> = (0..=n)
        .map(|j| z0 + (z1 - z0) * f64::from(j) / f64::from(n))
        .collect();
    // Density of z = k/√T: p_z(z) = p_k(z√T)·√T (NaN drawn as 0).
    let dens: Vec<Vec<f64>> = slices
        .iter()
        .map(|s| {
            let st = s.t.sqrt();
            zs.iter()
                .map(|&z| {
                    let p = s.model.smile().density_k(z * st) * st;
                    if p.is_finite() { p } else { 0.0 }
                })
                .collect()
        })
        .collect();
    let mut peaks: Vec<f64> = dens
        .iter()
        .map(|d| d.iter().copied().fold(0.0f64, f64::max))
        .collect();
    peaks.sort_by(f64::total_cmp);
    let peak = peaks.last().copied().unwrap_or(1.0);
    // Capped only if a curve is over 3 times the median peak (a near-degenerate smile): then
    // the title says so.
    let cap = 3.0 * peaks[peaks.len() / 2];
    let clipped = peak > cap;
    let y1 = 1.05 * peak.min(cap).max(1e-9);
    let y0 = dens
        .iter()
        .flatten()
        .copied()
        .fold(0.0f64, f64::min)
        .max(-0.2 * y1)
        * 1.1;
    root.fill(&WHITE).map_err(err)?;
    let (main, side) = root.split_horizontally(super::SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&main)
        .caption(
            format!(
                "{} {} — risk-neutral density of k/√T per expiry{}",
                input.report.underlying,
                as_of(input.report),
                if clipped {
                    format!(" (CLIPPED at {cap:.2}: tallest peak {peak:.2})")
                } else {
                    " (every peak in range)".to_string()
                }
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(z0..z1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("standardised log-moneyness k/√T,  k = ln(K/F(T))   (solid: quoted strikes, dashed: extrapolated)")
        .light_line_style(WHITE.mix(0.0))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()
        .map_err(err)?;
    let nt = slices.len().max(2) as f64 - 1.0;
    let mut negative = Vec::new();
    let mut legend = Vec::new();
    for (i, (s, d)) in slices.iter().zip(&dens).enumerate() {
        let c = viridis(i as f64 / nt);
        let st = s.t.sqrt();
        let quoted = |z: f64| {
            s.quoted_k
                .is_none_or(|[lo, hi]| (lo..=hi).contains(&(z * st)))
        };
        let pts = || zs.iter().copied().zip(d.iter().map(|v| v.min(y1)));
        chart
            .draw_series(DashedLineSeries::new(pts(), 4, 4, c.stroke_width(1)))
            .map_err(err)?;
        // The quoted part solid, as one run (the quoted range is an interval).
        chart
            .draw_series(LineSeries::new(
                pts().filter(|(z, _)| quoted(*z)),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        if slices.len() <= 26 || i % (slices.len() / 20 + 1) == 0 || i + 1 == slices.len() {
            legend.push((expiry_short(s.expiry, s.t), LegendMark::Line(c, 2)));
        }
        negative.extend(
            zs.iter()
                .zip(d)
                .filter(|(_, v)| **v < 0.0)
                .map(|(&z, &v)| (z, v)),
        );
    }
    if !negative.is_empty() {
        chart
            .draw_series(negative.iter().map(|&p| Circle::new(p, 3, BAD.filled())))
            .map_err(err)?;
        legend.push(("negative density".into(), LegendMark::Dot(BAD)));
    }
    side_legend(&side, &legend, 60)?;
    root.present().map_err(err)
}
