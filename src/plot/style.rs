//! What every chart shares: colours, fonts, the horizontal y-axis name (plotters #655), value
//! spans and labels.

use crate::surface::{SliceSummary, SurfaceReport};
use plotters::coord::Shift;
use plotters::prelude::{BLACK, DrawingArea, DrawingBackend, FontStyle, IntoFont, RGBColor};

/// Registers the embedded DejaVu fonts with plotters (idempotent).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The fonts are valid OpenType: registration cannot fail for them.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(super) type DrawResult = Result<(), String>;

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub(super) const GREY: RGBColor = RGBColor(170, 170, 170);
pub(super) const FIT: RGBColor = RGBColor(31, 119, 180);
pub(super) const OVERLAY: RGBColor = RGBColor(214, 39, 40);
pub(super) const BAND: RGBColor = RGBColor(44, 160, 44);
pub(super) const FWD: RGBColor = RGBColor(120, 120, 120);
pub(super) const BAD: RGBColor = RGBColor(220, 0, 0);
/// The exchange's mark vols.
pub(super) const MARK: RGBColor = RGBColor(255, 127, 14);
/// The fit before an arbitrage repair.
pub(super) const UNREPAIRED: RGBColor = RGBColor(148, 103, 189);

/// Viridis-like colour for `u ∈ [0, 1]`.
pub fn viridis(u: f64) -> RGBColor {
    const C: [(f64, f64, f64); 6] = [
        (68.0, 1.0, 84.0),
        (65.0, 68.0, 135.0),
        (42.0, 120.0, 142.0),
        (34.0, 168.0, 132.0),
        (122.0, 209.0, 81.0),
        (253.0, 231.0, 37.0),
    ];
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = u * (C.len() - 1) as f64;
    let i = (x.floor() as usize).min(C.len() - 2);
    let f = x - i as f64;
    let m = |a: f64, b: f64| (a + f * (b - a)).round() as u8;
    RGBColor(
        m(C[i].0, C[i + 1].0),
        m(C[i].1, C[i + 1].1),
        m(C[i].2, C[i + 1].2),
    )
}

pub(super) fn as_of(report: &SurfaceReport) -> String {
    report.as_of.map_or_else(
        || "no snapshot time".into(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

pub(super) fn expiry_label(s: &SliceSummary) -> String {
    s.expiry.map_or_else(
        || format!("T = {:.4} y", s.t),
        |e| format!("{} (T = {:.4} y)", e.format("%Y-%m-%d"), s.t),
    )
}

/// Draws a horizontal y-axis name above the plotting area's left edge.
pub(super) fn y_name<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    top: i32,
) -> DrawResult {
    area.draw_text(
        text,
        &("sans-serif", 16).into_font().color(&BLACK),
        (8, top),
    )
    .map_err(err)
}

/// Total variance of a slice model at `k` as a vol.
pub(super) fn model_vol(m: &crate::surface::SliceModel, k: f64, t: f64) -> f64 {
    (m.w(k).max(0.0) / t).sqrt()
}

/// `(lo, hi)` of finite values, padded by `pad` of the span.
pub(super) fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !(lo <= hi) {
        return (0.0, 1.0);
    }
    let w = (hi - lo).max(1e-9 * hi.abs().max(1e-12));
    (lo - pad * w, hi + pad * w)
}

pub(super) fn k_range(input: &super::ChartInput<'_>) -> (f64, f64) {
    let r = input.report.calendar.k_range;
    if r[0] < r[1] {
        (r[0].max(-3.0), r[1].min(3.0))
    } else {
        let (lo, hi) = span(
            input
                .report
                .slices
                .iter()
                .flat_map(|s| s.quotes.iter().map(|q| q.k)),
            0.1,
        );
        (lo.max(-3.0), hi.min(3.0))
    }
}

/// Labels of a `√T` time axis: the date (and time, for expiries under two days) at `u = √T`
/// counted from the snapshot with the surface's day count; years when the report has no
/// snapshot time.
pub(super) fn time_label(input: &super::ChartInput<'_>, u: f64) -> String {
    let t = u.max(0.0) * u.max(0.0);
    match input.report.as_of {
        Some(as_of) => {
            let secs = t * input.surface.day_count().seconds_per_year();
            let when = as_of + chrono::Duration::milliseconds((secs * 1e3) as i64);
            if t < 2.0 / 365.0 {
                when.format("%d %b %H:%M").to_string()
            } else {
                when.format("%d %b %y").to_string()
            }
        }
        None => format!("{t:.3}y"),
    }
}

/// The short label of an expiry: its date, else `T = …`.
pub(super) fn expiry_short(expiry: Option<chrono::DateTime<chrono::Utc>>, t: f64) -> String {
    expiry.map_or_else(
        || format!("T = {t:.3}"),
        |e| e.format("%Y-%m-%d").to_string(),
    )
}

/// The quoted region in `z = k/√T` over the surface's expiries: the widest quoted `z` range
/// of any expiry (`None` when no expiry recorded its quoted range).
pub(super) fn quoted_z_range(input: &super::ChartInput<'_>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for s in input.surface.slices() {
        if let Some([lo, hi]) = s.quoted_k {
            let (a, b) = (lo / s.t.sqrt(), hi / s.t.sqrt());
            r = Some(r.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
    }
    r.filter(|(a, b)| a < b)
}

/// A legend drawn in its own area beside the plot (so it never covers data): one line per
/// entry, a marker drawn by `marker` at the line's left and the label after it.
pub(super) fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, LegendMark)],
    top: i32,
) -> DrawResult {
    use plotters::prelude::{Circle, Color, PathElement};
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    for (i, (label, mark)) in entries.iter().enumerate() {
        let y = top + 22 * i32::try_from(i).unwrap_or(0);
        let x = 6;
        match *mark {
            LegendMark::Line(c, w) => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 22, y)],
                    c.stroke_width(w),
                ))
                .map_err(err)?,
            LegendMark::Dashed(c) => {
                for d in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + 8 * d, y), (x + 8 * d + 5, y)],
                        c.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            LegendMark::Dot(c) => area
                .draw(&Circle::new((x + 11, y), 4, c.filled()))
                .map_err(err)?,
            LegendMark::Diamond(c) => area
                .draw(&plotters::element::Polygon::new(
                    vec![(x + 11, y - 5), (x + 16, y), (x + 11, y + 5), (x + 6, y)],
                    c.filled(),
                ))
                .map_err(err)?,
            LegendMark::Bar(c) => area
                .draw(&PathElement::new(
                    vec![(x + 11, y - 7), (x + 11, y + 7)],
                    c.stroke_width(3),
                ))
                .map_err(err)?,
            LegendMark::Cross(c) => {
                area.draw(&PathElement::new(
                    vec![(x + 7, y - 4), (x + 15, y + 4)],
                    c.stroke_width(1),
                ))
                .map_err(err)?;
                area.draw(&PathElement::new(
                    vec![(x + 7, y + 4), (x + 15, y - 4)],
                    c.stroke_width(1),
                ))
                .map_err(err)?;
            }
        }
        area.draw_text(label, &font, (x + 30, y - 8)).map_err(err)?;
    }
    Ok(())
}

/// The marker of a [`side_legend`] entry.
#[derive(Clone, Copy)]
pub(super) enum LegendMark {
    /// A line of a colour and width.
    Line(RGBColor, u32),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled dot.
    Dot(RGBColor),
    /// A filled diamond.
    Diamond(RGBColor),
    /// A vertical bar.
    Bar(RGBColor),
    /// A cross.
    Cross(RGBColor),
}

/// Renders one chart into an SVG string (the inline charts of the HTML pages).
pub(crate) fn svg(
    size: (u32, u32),
    draw: impl FnOnce(
        &plotters::prelude::DrawingArea<plotters::prelude::SVGBackend<'_>, plotters::coord::Shift>,
    ) -> DrawResult,
) -> Result<String, String> {
    use plotters::prelude::IntoDrawingArea as _;
    let mut out = String::new();
    {
        let root = plotters::prelude::SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}
