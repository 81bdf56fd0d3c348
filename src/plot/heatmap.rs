//! Implied and local vol over `(z = k/√T, √T)` on the quoted region: each expiry's quoted
//! log-moneyness range, interpolated between expiries ([`FittedSurface::location`]); the
//! extrapolated wings are masked (hatched light grey) and left out of the colour scale, so
//! they cannot saturate it. The time axis is `√T`, labelled with dates.
//!
//! [`FittedSurface::location`]: crate::surface::FittedSurface::location

use super::ChartInput;
use super::style::{DrawResult, GREY, as_of, err, quoted_z_range, time_label, viridis};
use crate::surface::VolSurface;
use plotters::coord::Shift;
use plotters::prelude::{
    BLACK, ChartBuilder, Color, DrawingArea, DrawingBackend, IntoFont, PathElement, RGBColor,
    Rectangle, WHITE,
};

/// Colour of the extrapolated (masked) cells.
const MASK: RGBColor = RGBColor(236, 236, 236);

/// What a cell shows.
#[derive(Clone, Copy)]
enum Cell {
    /// A vol (percent) inside the quoted region.
    Vol(f64),
    /// Inside the quoted region, but no value (local vol undefined: arbitrage).
    Undefined,
    /// Outside the quoted strikes: extrapolated, masked.
    Extrapolated,
}

pub(super) fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput<'_>,
    local: bool,
) -> DrawResult {
    let s = input.surface;
    let slices = s.slices();
    let (u0, u1) = (
        slices[0].t.sqrt(),
        slices[slices.len() - 1]
            .t
            .sqrt()
            .max(slices[0].t.sqrt() * 1.01),
    );
    let (z0, z1) = quoted_z_range(input).unwrap_or((-3.0, 3.0));
    let pad = 0.04 * (z1 - z0);
    let (z0, z1) = (z0 - pad, z1 + pad);
    let (nz, nu) = (120usize, 80usize);
    let (dz, du) = ((z1 - z0) / nz as f64, (u1 - u0) / nu as f64);
    let mut cells = Vec::with_capacity(nz * nu);
    for j in 0..nu {
        let u = u0 + du * (j as f64 + 0.5);
        let t = u * u;
        let f = s.forward(t);
        for i in 0..nz {
            let k = (z0 + dz * (i as f64 + 0.5)) * u;
            let strike = f * k.exp();
            let quoted = s.location(strike, t).is_some_and(|l| l.in_quoted_strikes());
            let v = if local {
                s.local_vol(strike, t)
            } else {
                Some(s.vol(strike, t)).filter(|v| v.is_finite())
            };
            let c = match (quoted, v) {
                (false, _) => Cell::Extrapolated,
                (true, Some(v)) => Cell::Vol(100.0 * v),
                (true, None) => Cell::Undefined,
            };
            cells.push((i, j, c));
        }
    }
    // Colour scale on the 2nd–98th percentile of the quoted cells.
    let mut vals: Vec<f64> = cells
        .iter()
        .filter_map(|c| match c.2 {
            Cell::Vol(v) => Some(v),
            _ => None,
        })
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
                "{} {} — {what} on the quoted region; y: expiry (√T scale)",
                input.report.underlying,
                as_of(input.report)
            ),
            ("sans-serif", 22),
        )
        .margin(14)
        .margin_top(34)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(z0..z1, u0..u1)
        .map_err(err)?;
    let label = |u: &f64| time_label(input, *u);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(
            "standardised log-moneyness k/√T,  k = ln(K/F(T))   ·   hatched: extrapolated \
             (masked, not in the colour scale); grey: undefined; ticks at right: expiries",
        )
        .y_labels(10)
        .y_label_formatter(&label)
        .draw()
        .map_err(err)?;
    chart
        .draw_series(cells.iter().map(|&(i, j, c)| {
            let (za, ua) = (z0 + dz * i as f64, u0 + du * j as f64);
            let color = match c {
                Cell::Vol(v) => viridis((v - lo) / (hi - lo)),
                Cell::Undefined => GREY,
                Cell::Extrapolated => MASK,
            };
            Rectangle::new([(za, ua), (za + dz, ua + du)], color.filled())
        }))
        .map_err(err)?;
    // Hatch the extrapolated cells so the mask reads as "no data", not as a low value.
    chart
        .draw_series(
            cells
                .iter()
                .filter(|c| matches!(c.2, Cell::Extrapolated) && (c.0 + c.1) % 3 == 0)
                .map(|&(i, j, _)| {
                    let (za, ua) = (z0 + dz * i as f64, u0 + du * j as f64);
                    PathElement::new(vec![(za, ua), (za + dz, ua + du)], GREY.stroke_width(1))
                }),
        )
        .map_err(err)?;
    // The expiries: a tick on the right edge of the plot.
    chart
        .draw_series(slices.iter().map(|x| {
            let u = x.t.sqrt();
            PathElement::new(
                vec![(z1 - 0.015 * (z1 - z0), u), (z1, u)],
                BLACK.stroke_width(1),
            )
        }))
        .map_err(err)?;

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
