//! Raw-SVI slice fits free of butterfly arbitrage.
//!
//! 1. **Quasi-explicit start** (Zeliade Systems, *Quasi-explicit calibration of Gatheral's SVI
//!    model*, 2009): for fixed `(m, σ)`, with `y = (k − m)/σ`, total variance is linear in
//!    `(a, d, c) = (a, ρbσ, bσ)`: `w = a + d·y + c·√(y² + 1)`. The weighted least squares in
//!    `(a, d, c)` under `c ≥ 0`, `|d| ≤ c` (`b ≥ 0`, `|ρ| ≤ 1`) and `c ± d ≤ 2σ` (Lee's
//!    `b(1 ± ρ) ≤ 2`) is solved exactly by enumerating the active constraints of the 3×3
//!    quadratic programme; `(m, σ)` is searched on a 7 × 5 grid and refined by Nelder–Mead on
//!    `(m, ln σ)` (to 10⁻⁵ of the objective), and the result starts the polish.
//! 2. **Polish** of all five parameters with the chosen [`Optimizer`](super::Optimizer) on vol residuals
//!    ([`Objective`]), with three penalty residuals that keep the smile in the exact
//!    no-butterfly domain: `P·max(0, ε − min_k g(k))` (the global minimum of Durrleman's `g`
//!    over the real line, differentiated by the envelope theorem), `P·max(0, w_floor − min w)`
//!    and `P·max(0, b(1+|ρ|) − 2)` (Lee). Bounds `b ≥ 0`, `|ρ| ≤ 0.999`,
//!    `10⁻⁵ ≤ σ ≤ 4 × (span of the quotes' k)`.
//! 3. **Guarantee**: if the polished smile still has `min g < 0` (the penalty is finite), the
//!    penalty grows ×100 and the polish repeats (twice at most); should that still fail, the
//!    parameters move along the segment to the flat smile `w ≡ ŵ` (which has `g ≡ 1`) to the
//!    first point with `min g ≥ 0`, found by bisection. A returned fit is never arbitrageable.
//!
//! Constraining with the exact condition `min g ≥ 0` rather than a sufficient one (e.g.
//! Gatheral & Jacquier's SSVI-type slice conditions) costs nothing in fit quality: every smile
//! the exact domain allows is reachable.

use super::pool::{PooledMatrix, PooledVec};
use super::smile::{Fit, FitOptions, FitReport, Objective, Points};
use super::{FitError, SolveOptions, least_squares};
use crate::models::svi::Svi;
use crate::slice::SmileSlice;
use argmin::core::{Error, Jacobian, Operator};
use nalgebra::SVector;
use std::time::Instant;

/// Cached `(parameters, (argmin k, min g))` of the last Durrleman scan.
type MinGCache = std::cell::Cell<Option<([f64; 5], (f64, f64))>>;

/// Residuals of an SVI slice fit (data + three arbitrage penalties).
struct SviProblem<'a> {
    /// The last `(parameters, min_k g)`: `apply` and `jacobian` are called at the same point.
    min_g_cache: MinGCache,
    pts: &'a Points,
    t: f64,
    objective: Objective,
    penalty: f64,
    w_floor: f64,
    no_arbitrage: bool,
    /// Calendar floor `(k_j, w_min_j)`: the fitted `w(k_j)` must not fall below `w_min_j`
    /// (the previous expiry's total variance), enforced by a penalty row per point.
    floor: &'a [(f64, f64)],
}

/// Margin below which `min g` counts as violated (strictly positive at the fit).
const G_MARGIN: f64 = 1e-7;
/// Width of the smooth butterfly penalty: `softplus(x) = τ·ln(1 + e^{x/τ})`, which is `x` for
/// `x ≫ τ` and vanishes like `τe^{x/τ}` inside the domain. Unlike `max(0, x)` it keeps the
/// Gauss–Newton model consistent across the constraint's boundary, so the polish converges
/// instead of zig-zagging over the kink.
const TAU: f64 = 1e-4;

fn softplus(x: f64) -> f64 {
    let z = x / TAU;
    if z > 30.0 {
        x
    } else if z < -40.0 {
        0.0
    } else {
        TAU * z.exp().ln_1p()
    }
}

fn softplus_slope(x: f64) -> f64 {
    let z = x / TAU;
    if z > 30.0 {
        1.0
    } else if z < -40.0 {
        0.0
    } else {
        1.0 / (1.0 + (-z).exp())
    }
}

/// Convergence tolerances of the polish.
const FIT_TOL: f64 = 1e-8;
/// Nelder–Mead iterations of the quasi-explicit stage.
const NM_ITERS: usize = 60;
/// Extra residuals after the data.
const N_PENALTIES: usize = 3;

impl SviProblem<'_> {
    fn svi(p: &SVector<f64, 5>) -> Svi {
        Svi::new_unchecked(p[0], p[1], p[2], p[3], p[4])
    }

    fn min_g(&self, s: &Svi) -> (f64, f64) {
        let key = s.to_array();
        if let Some((k, v)) = self.min_g_cache.get() {
            if k == key {
                return v;
            }
        }
        let v = s.min_g();
        self.min_g_cache.set(Some((key, v)));
        v
    }

    /// Weight of a calendar-floor shortfall: `penalty·dσ/dw` at the floor, so a shortfall
    /// costs like a vol error `penalty` times its size.
    fn floor_scale(&self, wmin: f64) -> f64 {
        self.penalty * 0.5 / (wmin.max(self.w_floor) * self.t).sqrt()
    }

    /// Model vol from total variance and `dσ/dw`, continued linearly (C¹) below `w_floor` so
    /// that a trial point with `w ≤ 0` at a quote keeps finite, informative residuals and
    /// gradients instead of `σ = 0` with an infinite slope.
    #[inline]
    fn vol(&self, w: f64) -> (f64, f64) {
        let wf = self.w_floor;
        if w >= wf {
            let v = (w / self.t).sqrt();
            (v, 0.5 / (v * self.t))
        } else {
            let v0 = (wf / self.t).sqrt();
            let d = 0.5 / (v0 * self.t);
            (v0 + d * (w - wf), d)
        }
    }
}

impl Operator for SviProblem<'_> {
    type Param = SVector<f64, 5>;
    type Output = PooledVec;

    fn apply(&self, p: &SVector<f64, 5>) -> Result<PooledVec, Error> {
        let s = Self::svi(p);
        let n = self.pts.len();
        let mut r = PooledVec::zeros(n + N_PENALTIES + self.floor.len());
        for i in 0..n {
            let (vol, _) = self.vol(s.w(self.pts.k[i]));
            r[i] = self.pts.residual(i, vol, self.objective).0;
        }
        if self.no_arbitrage {
            let (_, g) = self.min_g(&s);
            // g = −∞ where w ≤ 0: a huge but finite residual makes the trial point rejected.
            r[n] = self.penalty * softplus((G_MARGIN - g).min(1e6));
            r[n + 1] = self.penalty * (self.w_floor - s.min_total_variance()).max(0.0);
            r[n + 2] = self.penalty * (s.b * (1.0 + s.rho.abs()) - 2.0).max(0.0);
        }
        for (j, &(k, wmin)) in self.floor.iter().enumerate() {
            r[n + N_PENALTIES + j] = self.floor_scale(wmin) * (wmin - s.w(k)).max(0.0);
        }
        Ok(r)
    }
}

impl Jacobian for SviProblem<'_> {
    type Param = SVector<f64, 5>;
    type Jacobian = PooledMatrix;

    fn jacobian(&self, p: &SVector<f64, 5>) -> Result<PooledMatrix, Error> {
        let s = Self::svi(p);
        let n = self.pts.len();
        let mut j = PooledMatrix::zeros(n + N_PENALTIES + self.floor.len(), 5);
        for i in 0..n {
            let k = self.pts.k[i];
            let (vol, dvol_dw) = self.vol(s.w(k));
            let (_, dr) = self.pts.residual(i, vol, self.objective);
            let scale = dr * dvol_dw;
            let (gw, _, _) = s.param_gradients(k);
            for (c, g) in gw.iter().enumerate() {
                j.set(i, c, scale * g);
            }
        }
        if self.no_arbitrage {
            let (kstar, g) = self.min_g(&s);
            let slope = softplus_slope(G_MARGIN - g);
            if slope > 0.0 {
                let grad = s.g_gradient(kstar);
                for (c, v) in grad.iter().enumerate() {
                    j.set(n, c, -self.penalty * slope * v);
                }
            }
            if s.min_total_variance() < self.w_floor {
                let r = (1.0 - s.rho * s.rho).sqrt();
                j.set(n + 1, 0, -self.penalty);
                j.set(n + 1, 1, -self.penalty * s.sigma * r);
                j.set(
                    n + 1,
                    2,
                    self.penalty * s.b * s.sigma * s.rho / r.max(1e-12),
                );
                j.set(n + 1, 4, -self.penalty * s.b * r);
            }
            if s.b * (1.0 + s.rho.abs()) > 2.0 {
                j.set(n + 2, 1, self.penalty * (1.0 + s.rho.abs()));
                j.set(n + 2, 2, self.penalty * s.b * s.rho.signum());
            }
        }
        for (row, &(k, wmin)) in self.floor.iter().enumerate() {
            if s.w(k) < wmin {
                let (gw, _, _) = s.param_gradients(k);
                let c = -self.floor_scale(wmin);
                for (col, g) in gw.iter().enumerate() {
                    j.set(n + N_PENALTIES + row, col, c * g);
                }
            }
        }
        Ok(j)
    }
}

/// Weighted data for the linear stage, in total variance: `W = σ_mid²t`, weights converted from
/// vol to variance space (`dσ ≈ dw/(2σt)`).
fn variance_data(pts: &Points, t: f64) -> (Vec<f64>, Vec<f64>) {
    let w: Vec<f64> = pts.mid.iter().map(|s| s * s * t).collect();
    let wt: Vec<f64> = pts
        .mid
        .iter()
        .zip(&pts.sqrt_w)
        .map(|(s, sw)| sw * sw / (2.0 * s * t).powi(2))
        .collect();
    (w, wt)
}

/// Solves the small dense system `A·x = b` (`n ≤ 6`) by Gaussian elimination with partial
/// pivoting; `None` if singular.
fn solve_small(a: &mut [[f64; 6]; 6], b: &mut [f64; 6], n: usize) -> Option<[f64; 6]> {
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for c in col..n {
                a[row][c] -= f * a[col][c];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 6];
    for i in (0..n).rev() {
        let mut acc = b[i];
        for j in i + 1..n {
            acc -= a[i][j] * x[j];
        }
        x[i] = acc / a[i][i];
    }
    Some(x)
}

/// Minimises `xᵀNx − 2rᵀx` over `x = (a, d, c)` subject to `G·x ≤ h` for the five constraints
/// `c ≥ 0`, `|d| ≤ c` (`b ≥ 0`, `|ρ| ≤ 1`) and `c ± d ≤ 2σ` (Lee: `b(1 ± ρ) ≤ 2`), by trying
/// every active set of at most three constraints (KKT system) and keeping the best feasible
/// point. Returns `(x, value)`.
fn constrained_3x3(n: &[[f64; 3]; 3], r: &[f64; 3], sigma: f64) -> Option<([f64; 3], f64)> {
    const G: [[f64; 3]; 5] = [
        [0.0, 0.0, -1.0],
        [0.0, 1.0, -1.0],
        [0.0, -1.0, -1.0],
        [0.0, 1.0, 1.0],
        [0.0, -1.0, 1.0],
    ];
    let h = [0.0, 0.0, 0.0, 2.0 * sigma, 2.0 * sigma];
    let value = |x: &[f64; 3]| {
        let mut v = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                v += x[i] * n[i][j] * x[j];
            }
            v -= 2.0 * r[i] * x[i];
        }
        v
    };
    let feasible = |x: &[f64; 3]| {
        (0..5).all(|j| G[j][1] * x[1] + G[j][2] * x[2] <= h[j] + 1e-12 * (1.0 + h[j]))
    };
    // KKT system of an active set: (x, λ) with N x + Gᵀλ = r, G x = h (λ ≥ 0 at the optimum).
    let solve_with = |active: &[usize]| -> Option<([f64; 3], [f64; 3])> {
        let m = 3 + active.len();
        let mut a = [[0.0; 6]; 6];
        let mut b = [0.0; 6];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] = n[i][j];
            }
            b[i] = r[i];
        }
        for (q, &c) in active.iter().enumerate() {
            for i in 0..3 {
                a[i][3 + q] = G[c][i];
                a[3 + q][i] = G[c][i];
            }
            b[3 + q] = h[c];
        }
        let x = solve_small(&mut a, &mut b, m)?;
        Some(([x[0], x[1], x[2]], [x[3], x[4], x[5]]))
    };
    // The objective is convex, so a feasible KKT point with non-negative multipliers is the
    // optimum: try active sets by size and stop at the first one (usually the unconstrained
    // optimum or one active constraint).
    let kkt = |active: &[usize]| -> Option<([f64; 3], f64)> {
        let (x, lambda) = solve_with(active)?;
        let ok = x.iter().all(|v| v.is_finite())
            && feasible(&x)
            && lambda[..active.len()].iter().all(|&l| l >= -1e-12);
        ok.then(|| (x, value(&x)))
    };
    if let Some(best) = kkt(&[]) {
        return Some(best);
    }
    for i in 0..5 {
        if let Some(best) = kkt(&[i]) {
            return Some(best);
        }
    }
    for i in 0..5 {
        for j in i + 1..5 {
            if let Some(best) = kkt(&[i, j]) {
                return Some(best);
            }
        }
    }
    let mut best: Option<([f64; 3], f64)> = None;
    for i in 0..5 {
        for j in i + 1..5 {
            for k in j + 1..5 {
                if let Some(c) = kkt(&[i, j, k]) {
                    if best.as_ref().is_none_or(|b| c.1 < b.1) {
                        best = Some(c);
                    }
                }
            }
        }
    }
    best
}

/// The reduced objective of the quasi-explicit method at `(m, σ)`: the best `(a, d, c)` and
/// its weighted sum of squares.
fn reduced(pts: &Points, w: &[f64], wt: &[f64], m: f64, s: f64) -> Option<(Svi, f64)> {
    let mut n = [[0.0; 3]; 3];
    let mut r = [0.0; 3];
    let mut ww = 0.0;
    for i in 0..pts.len() {
        let y = (pts.k[i] - m) / s;
        let z = (y * y + 1.0).sqrt();
        let v = [1.0, y, z];
        for a in 0..3 {
            for b in a..3 {
                n[a][b] += wt[i] * v[a] * v[b];
            }
            r[a] += wt[i] * v[a] * w[i];
        }
        ww += wt[i] * w[i] * w[i];
    }
    for a in 0..3 {
        for b in 0..a {
            n[a][b] = n[b][a];
        }
    }
    let (x, v) = constrained_3x3(&n, &r, s)?;
    let (a, d, c) = (x[0], x[1], x[2]);
    let b = c / s;
    let rho = if c > 0.0 {
        (d / c).clamp(-0.999, 0.999)
    } else {
        0.0
    };
    Some((Svi::new_unchecked(a, b, rho, m, s), (v + ww).max(0.0)))
}

/// The quasi-explicit initial guess (see the module doc): a 7 × 5 grid of `(m, σ)`, then
/// Nelder–Mead on `(m, ln σ)` of the reduced objective from the best grid point (Zeliade 2009).
/// With `no_arbitrage`, the reduced objective is multiplied by `1 + 10³·max(0, −min g)` (and
/// made very large where the variance turns negative), steering the start toward
/// arbitrage-free smiles so that the polish under the exact constraint starts close to its
/// answer.
pub(crate) fn quasi_explicit_start(pts: &Points, t: f64, no_arbitrage: bool) -> Option<Svi> {
    let (w, wt) = variance_data(pts, t);
    let penalised = |r: (Svi, f64)| -> (Svi, f64) {
        if !no_arbitrage {
            return r;
        }
        let (svi, sse) = r;
        if svi.min_total_variance() <= 0.0 {
            return (svi, sse * 1e6 + 1.0);
        }
        let g = svi.min_g_coarse();
        (svi, sse * (1.0 + 1e3 * (-g).max(0.0)))
    };
    let (lo, hi) = pts
        .k
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &k| {
            (l.min(k), h.max(k))
        });
    let span = (hi - lo).max(1e-4);
    let mut best: Option<(Svi, f64)> = None;
    for im in 0..7 {
        let m = lo + span * (0.125 * f64::from(im) + 0.125);
        for is in 0..5 {
            let s = span * 0.03 * 2.5f64.powi(is);
            if let Some((svi, sse)) = reduced(pts, &w, &wt, m, s).map(penalised) {
                if best.as_ref().is_none_or(|b| sse < b.1) {
                    best = Some((svi, sse));
                }
            }
        }
    }
    let (start, _) = best?;
    // Nelder–Mead on (m, ln σ), with m kept within a span of the quotes and σ in [10⁻³, 10]
    // spans.
    let f = |x: [f64; 2]| {
        if x[0] < lo - span
            || x[0] > hi + span
            || x[1] < (1e-3 * span).ln()
            || x[1] > (10.0 * span).ln()
        {
            return f64::INFINITY;
        }
        reduced(pts, &w, &wt, x[0], x[1].exp())
            .map(penalised)
            .map_or(f64::INFINITY, |r| r.1)
    };
    let x0 = [start.m, start.sigma.ln()];
    let mut simplex = [x0, [x0[0] + 0.1 * span, x0[1]], [x0[0], x0[1] + 0.5]];
    let mut fv = simplex.map(f);
    for _ in 0..NM_ITERS {
        // Order.
        let mut idx = [0, 1, 2];
        idx.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
        simplex = idx.map(|i| simplex[i]);
        fv = idx.map(|i| fv[i]);
        if (fv[2] - fv[0]).abs() <= 1e-5 * fv[0].abs() + 1e-300 {
            break;
        }
        let c = [
            f64::midpoint(simplex[0][0], simplex[1][0]),
            f64::midpoint(simplex[0][1], simplex[1][1]),
        ];
        let along = |t: f64| {
            [
                c[0] + t * (simplex[2][0] - c[0]),
                c[1] + t * (simplex[2][1] - c[1]),
            ]
        };
        let xr = along(-1.0);
        let fr = f(xr);
        if fr < fv[0] {
            let xe = along(-2.0);
            let fe = f(xe);
            if fe < fr {
                simplex[2] = xe;
                fv[2] = fe;
            } else {
                simplex[2] = xr;
                fv[2] = fr;
            }
        } else if fr < fv[1] {
            simplex[2] = xr;
            fv[2] = fr;
        } else {
            let (xc, fc) = if fr < fv[2] {
                let x = along(-0.5);
                (x, f(x))
            } else {
                let x = along(0.5);
                (x, f(x))
            };
            if fc < fv[2].min(fr) {
                simplex[2] = xc;
                fv[2] = fc;
            } else {
                // Shrink toward the best.
                for i in 1..3 {
                    simplex[i] = [
                        0.5 * (simplex[i][0] + simplex[0][0]),
                        0.5 * (simplex[i][1] + simplex[0][1]),
                    ];
                    fv[i] = f(simplex[i]);
                }
            }
        }
    }
    let ib = if fv[0] <= fv[1] && fv[0] <= fv[2] {
        0
    } else if fv[1] <= fv[2] {
        1
    } else {
        2
    };
    reduced(pts, &w, &wt, simplex[ib][0], simplex[ib][1].exp()).map(|r| r.0)
}

fn vols_of(s: &Svi, pts: &Points, t: f64) -> Vec<f64> {
    pts.k
        .iter()
        .map(|&k| (s.w(k).max(0.0) / t).sqrt())
        .collect()
}

/// Moves `s` toward the flat smile at level `flat` until `min g ≥ 0` (bisection on the segment,
/// `steps` halvings: the result is within `2^−steps` of the segment's first arbitrage-free point).
fn repair_toward_flat(s: &Svi, flat: f64, steps: u32) -> Svi {
    let safe = Svi::new_unchecked(flat, 0.0, 0.0, s.m, s.sigma);
    let mix = |l: f64| {
        let (p, q) = (s.to_array(), safe.to_array());
        Svi::from_array(std::array::from_fn(|i| (1.0 - l) * p[i] + l * q[i]))
    };
    let ok = |x: &Svi| x.min_total_variance() > 0.0 && x.satisfies_lee() && x.min_g().1 >= 0.0;
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..steps {
        let mid = 0.5 * (lo + hi);
        if ok(&mix(mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    mix(hi)
}

/// Fits raw SVI to a slice (see the module doc). Free of butterfly arbitrage unless
/// `opts.no_arbitrage` is off.
///
/// # Errors
/// [`FitError::TooFewPoints`] below 5 quotes; [`FitError::Slice`] when no start can be formed or
/// the optimiser fails.
///
/// ```
/// use volfit::{fit_svi, SmileSlice};
/// use volfit::fit::FitOptions;
/// use volfit::models::svi::Svi;
/// let truth = Svi::new(0.02, 0.2, -0.5, 0.05, 0.15).unwrap();
/// let t = 0.5;
/// let quotes: Vec<(f64, f64)> = (-10..=10).map(|i| {
///     let k = 0.06 * f64::from(i);
///     (100.0 * k.exp(), (truth.w(k) / t).sqrt())
/// }).collect();
/// let slice = SmileSlice::from_vols(t, 100.0, &quotes).unwrap();
/// let fit = fit_svi(&slice, &FitOptions::default()).unwrap();
/// assert!(fit.report.rmse_iv < 1e-8 && fit.report.butterfly_free);
/// ```
pub fn fit_svi(slice: &SmileSlice, opts: &FitOptions) -> Result<Fit<Svi>, FitError> {
    fit_svi_from(slice, opts, None)
}

/// [`fit_svi`] warm-started from a previous fit (skips the quasi-explicit stage).
///
/// # Errors
/// As [`fit_svi`].
pub fn fit_svi_from(
    slice: &SmileSlice,
    opts: &FitOptions,
    start: Option<&Svi>,
) -> Result<Fit<Svi>, FitError> {
    fit_svi_floored(slice, opts, start, &[])
}

/// [`fit_svi_from`] with a calendar floor: `w(kⱼ) ≥ wⱼ` at the given `(kⱼ, wⱼ)` (the previous
/// expiry's total variance on a grid), enforced by penalty rows like the butterfly constraint.
/// The report's `termination` says whether the floor holds at the solution.
///
/// # Errors
/// As [`fit_svi`].
pub fn fit_svi_floored(
    slice: &SmileSlice,
    opts: &FitOptions,
    start: Option<&Svi>,
    floor: &[(f64, f64)],
) -> Result<Fit<Svi>, FitError> {
    let clock = Instant::now();
    let t = slice.t;
    if slice.convention != crate::slice::VolConvention::Lognormal {
        return Err(FitError::Invalid(
            "SVI fits Black-vol slices; this slice holds normal vols".into(),
        ));
    }
    let pts = Points::new(slice);
    if pts.len() < 5 {
        return Err(FitError::TooFewPoints {
            points: pts.len(),
            params: 5,
        });
    }
    let slice_err = |reason: String, iterations| FitError::Slice {
        t,
        reason,
        iterations,
    };
    let x0 = match start {
        Some(s) => *s,
        None => quasi_explicit_start(&pts, t, opts.no_arbitrage)
            .ok_or_else(|| slice_err("no quasi-explicit start".into(), 0))?,
    };
    let w_mkt_min = pts
        .mid
        .iter()
        .map(|s| s * s * t)
        .fold(f64::INFINITY, f64::min);
    let mut problem = SviProblem {
        min_g_cache: std::cell::Cell::new(None),
        pts: &pts,
        t,
        objective: opts.objective,
        penalty: 100.0,
        w_floor: 1e-3 * w_mkt_min,
        no_arbitrage: opts.no_arbitrage,
        floor,
    };
    // σ ≤ 4 × the quotes' span of k: beyond it the smile is a parabola over the data and
    // (a, b, σ) only trade off along a valley the polish would crawl down for nothing.
    let span = pts.k.iter().fold(f64::NEG_INFINITY, |a, &k| a.max(k))
        - pts.k.iter().fold(f64::INFINITY, |a, &k| a.min(k));
    let sigma_max = 4.0 * span.max(0.05);
    let bounds = |x: &mut [f64; 5]| {
        x[1] = x[1].max(0.0);
        x[2] = x[2].clamp(-0.999, 0.999);
        x[4] = x[4].clamp(1e-5, sigma_max);
    };
    let mut p0 = x0.to_array();
    bounds(&mut p0);
    let solve = SolveOptions {
        optimizer: opts.optimizer,
        max_iters: opts.max_iters,
        // A relative cost decrease below 1e-7 moves the vols by ~1e-7 of their error: stop.
        ftol: 1e-7,
        xtol: FIT_TOL,
        gtol: FIT_TOL,
        lower: vec![f64::NEG_INFINITY, 0.0, -0.999, f64::NEG_INFINITY, 1e-5],
        upper: vec![
            f64::INFINITY,
            f64::INFINITY,
            0.999,
            f64::INFINITY,
            sigma_max,
        ],
    };
    let (mut iterations, mut evaluations) = (0, 0);
    let mut run =
        |problem: SviProblem<'_>, x: [f64; 5]| -> Result<(Svi, super::SolveReport), FitError> {
            let (sol, rep, _) =
                least_squares(problem, SVector::<f64, 5>::from_column_slice(&x), &solve)
                    .map_err(|e| slice_err(e.to_string(), iterations))?;
            iterations += rep.iterations;
            evaluations += rep.evaluations;
            Ok((SviProblem::svi(&sol), rep))
        };
    fn fresh<'p>(problem: &SviProblem<'p>, no_arbitrage: bool) -> SviProblem<'p> {
        SviProblem {
            min_g_cache: std::cell::Cell::new(None),
            pts: problem.pts,
            no_arbitrage,
            ..*problem
        }
    }
    // Start inside the no-arbitrage domain: positive variance (raise the level), then, if the
    // start still has butterfly arbitrage, the nearest point toward the flat smile.
    let flat = pts.mid.iter().map(|s| s * s * t).sum::<f64>() / pts.len() as f64;
    if opts.no_arbitrage {
        let s0 = Svi::from_array(p0);
        if s0.min_total_variance() < 2.0 * problem.w_floor {
            p0[0] += 2.0 * problem.w_floor - s0.min_total_variance();
        }
        let s0 = Svi::from_array(p0);
        if !s0.is_butterfly_free() {
            p0 = repair_toward_flat(&s0, flat, 12).to_array();
            bounds(&mut p0);
        }
    }
    let (mut model, mut rep) = run(fresh(&problem, opts.no_arbitrage), p0)?;
    // The penalty is finite: should the polish end with arbitrage, stiffen it and go on.
    let floor_holds = |m: &Svi| floor.iter().all(|&(k, w)| m.w(k) >= w * (1.0 - 1e-9));
    for _ in 0..2 {
        if (!opts.no_arbitrage || model.is_butterfly_free()) && floor_holds(&model) {
            break;
        }
        problem.penalty *= 100.0;
        (model, rep) = run(fresh(&problem, opts.no_arbitrage), model.to_array())?;
    }
    let converged = rep.converged;
    let mut termination = rep.termination;
    if opts.no_arbitrage && !model.is_butterfly_free() {
        model = repair_toward_flat(&model, flat, 40);
        termination =
            format!("{termination}; repaired toward the flat smile to remove butterfly arbitrage");
    }
    let vols = vols_of(&model, &pts, t);
    if vols.iter().any(|v| !v.is_finite()) || model.to_array().iter().any(|v| !v.is_finite()) {
        return Err(slice_err(format!("non-finite fit {model:?}"), iterations));
    }
    let (rmse, max_err, within) = pts.stats(&vols);
    let (_, min_g) = model.min_g();
    Ok(Fit {
        model,
        report: FitReport {
            t,
            n_quotes: pts.len(),
            rmse_iv: rmse,
            max_abs_err_iv: max_err,
            within_spread: within,
            converged,
            iterations,
            evaluations,
            fit_micros: clock.elapsed().as_secs_f64() * 1e6,
            min_g,
            butterfly_free: model.min_total_variance() > 0.0
                && model.satisfies_lee()
                && min_g >= 0.0,
            termination,
            optimizer: opts.optimizer,
            negative_density: Vec::new(),
        },
    })
}
