//! Implied and local vol over `(k, T)`.

use super::ChartInput;
use super::style::{DrawResult, GREY, as_of, err, k_range, viridis, y_name};
use crate::surface::grid::{local_vol_grid, total_variance_grid};
use ndarray::{Array1, Array2};
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Color, DrawingArea, DrawingBackend, IntoFont, Rectangle, WHITE,
};

pub(super) fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
    local: bool,
) -> DrawResult {
    let s = input.surface;
    let slices = s.slices();
    let (k0, k1) = k_range(input);
    let (t0, t1) = (
        slices[0].t,
        slices[slices.len() - 1].t.max(slices[0].t * 1.01),
    );
    let (nk, nt) = (120usize, 80usize);
    let ks = Array1::from_shape_fn(nk, |i| k0 + (k1 - k0) * (i as f64 + 0.5) / nk as f64);
    let ts = Array1::from_shape_fn(nt, |j| t0 + (t1 - t0) * (j as f64 + 0.5) / nt as f64);
    let values = if local {
        local_vol_grid(s, ks.view(), ts.view())
    } else {
        let w = total_variance_grid(s, ks.view(), ts.view());
        Array2::from_shape_fn((nk, nt), |(i, j)| (w[[i, j]] / ts[j]).sqrt())
    };
    let mut cells = Vec::with_capacity(nk * nt);
    for j in 0..nt {
        for i in 0..nk {
            let v = values[[i, j]];
            cells.push((i, j, v.is_finite().then_some(100.0 * v)));
        }
    }
    // Colour scale on the 2nd–98th percentile so a few extreme wing values do not wash it out.
    let mut vals: Vec<f64> = cells
        .iter()
        .filter_map(|c| c.2)
        .filter(|v| v.is_finite())
        .collect();
    vals.sort_by(f64::total_cmp);
    let q = |p: f64| {
        vals.get(((vals.len().max(1) - 1) as f64 * p) as usize)
            .copied()
    };
    let (lo, hi) = (
        q(0.02).unwrap_or(0.0),
        q(0.98).unwrap_or(1.0).max(q(0.02).unwrap_or(0.0) + 1e-9),
    );
    root.fill(&WHITE).map_err(err)?;
    let (main, bar) = root.split_horizontally(1080);
    let what = if local {
        "local vol (Dupire)"
    } else {
        "implied vol"
    };
    let mut chart = ChartBuilder::on(&main)
        .caption(
            format!(
                "{} {} — {what} over (k, T); grey: undefined (arbitrage)",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(k0..k1, t0..t1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("log-moneyness k = ln(K/F(T))")
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()
        .map_err(err)?;
    let (dk, dt) = ((k1 - k0) / nk as f64, (t1 - t0) / nt as f64);
    chart
        .draw_series(cells.iter().map(|&(i, j, v)| {
            let (ka, ta) = (k0 + dk * i as f64, t0 + dt * j as f64);
            let color = v
                .filter(|v| v.is_finite())
                .map_or(GREY, |v| viridis((v - lo) / (hi - lo)));
            Rectangle::new([(ka, ta), (ka + dk, ta + dt)], color.filled())
        }))
        .map_err(err)?;
    y_name(&main, "expiry T (years)", 44)?;
    // Colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(60)
        .margin_bottom(60)
        .margin_right(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_style(("sans-serif", 14))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(err)?;
    let steps = 100;
    cb.draw_series((0..steps).map(|i| {
        let a = lo + (hi - lo) * f64::from(i) / f64::from(steps);
        let b = lo + (hi - lo) * f64::from(i + 1) / f64::from(steps);
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            viridis(f64::from(i) / f64::from(steps)).filled(),
        )
    }))
    .map_err(err)?;
    bar.draw_text(
        "vol (%)",
        &("sans-serif", 16).into_font().color(&BLACK),
        (20, 30),
    )
    .map_err(err)?;
    root.present().map_err(err)
}
