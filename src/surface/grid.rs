//! Grid queries on ndarray views: a surface evaluated on `strikes × times` (or `k × times`)
//! in one call, the rows in parallel (rayon), for heatmaps, pricing grids and the Python
//! bindings. Every cell obeys the domain of the scalar query it stands for (NaN outside it).

use super::{VolSurface, local_variance};
use ndarray::{Array2, ArrayView1, Axis, Zip};

/// `f(x_i, t_j)` on the grid `xs × ts` into a `(xs.len(), ts.len())` array, rows in parallel.
fn grid(
    xs: ArrayView1<'_, f64>,
    ts: ArrayView1<'_, f64>,
    f: impl Fn(f64, f64) -> f64 + Sync,
) -> Array2<f64> {
    let mut out = Array2::<f64>::from_elem((xs.len(), ts.len()), f64::NAN);
    Zip::from(out.axis_iter_mut(Axis(0)))
        .and(&xs)
        .par_for_each(|mut row, &x| {
            for (cell, &t) in row.iter_mut().zip(ts.iter()) {
                *cell = f(x, t);
            }
        });
    out
}

/// Implied vols `vol(strikes[i], times[j])` ([`VolSurface::vol`]; NaN outside its domain).
///
/// ```
/// use ndarray::array;
/// use volfit::surface::{grid::vol_grid, VolSurface, VarianceDerivatives};
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let g = vol_grid(&Flat, array![80.0, 100.0, -1.0].view(), array![0.5, 1.0].view());
/// assert_eq!(g.shape(), &[3, 2]);
/// assert!((g[[1, 1]] - 0.2).abs() < 1e-15 && g[[2, 0]].is_nan());
/// ```
pub fn vol_grid<S: VolSurface + ?Sized>(
    surface: &S,
    strikes: ArrayView1<'_, f64>,
    times: ArrayView1<'_, f64>,
) -> Array2<f64> {
    grid(strikes, times, |k, t| surface.vol(k, t))
}

/// Total implied variance `w(ks[i], times[j])` at log-forward-moneyness `k`
/// ([`VolSurface::total_variance`]).
pub fn total_variance_grid<S: VolSurface + ?Sized>(
    surface: &S,
    ks: ArrayView1<'_, f64>,
    times: ArrayView1<'_, f64>,
) -> Array2<f64> {
    grid(ks, times, |k, t| surface.total_variance(k, t))
}

/// Dupire local vol at log-forward-moneyness `ks[i]` and `times[j]` (Gatheral 2006, eq. 1.10;
/// NaN where [`VolSurface::local_vol`] has none).
pub fn local_vol_grid<S: VolSurface + ?Sized>(
    surface: &S,
    ks: ArrayView1<'_, f64>,
    times: ArrayView1<'_, f64>,
) -> Array2<f64> {
    grid(ks, times, |k, t| {
        let d = surface.variance_derivatives(k, t);
        local_variance(k, &d).map_or(f64::NAN, f64::sqrt)
    })
}
