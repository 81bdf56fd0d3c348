//! The spline fit's start: the regularised least-squares coefficients with Durrleman's
//! condition linearised at sample points, a small quadratic programme solved by an active-set
//! method (as the quasi-explicit SVI start solves one; Zeliade 2009), relinearised twice.
//!
//! In total variance the quote rows are linear in the coefficients once the vol is linearised
//! at the current smile, `σ ≈ σ_cur + (w − w_cur)/(2σ_cur t)`; the roughness rows are linear;
//! `g(kₛ) ≥ ε` is linearised at the current coefficients. Each round relinearises both
//! (Gauss–Newton with a linearised constraint: sequential quadratic programming). The Hessian is the `n × n` normal
//! matrix (`n ≤ 32`), factorised once; each active constraint adds a column `H⁻¹ℓ` and the
//! multipliers solve the Schur system of the active set. The generic polish starts from the
//! result, so a rough start costs iterations, never correctness.

use super::SplineSmile;
use super::spec::{SplineContext, roughness_row};
use crate::models::SmileModel;
use crate::models::arbitrage::{durrleman, durrleman_partials};
use crate::slice::Points;
use nalgebra::{DMatrix, DVector};

/// Rounds of relinearisation (of the vols and of `g`).
const ROUNDS: usize = 3;
/// The most constraints an active set holds.
const MAX_ACTIVE: usize = 60;
/// Target `g` of the linearised constraints (a margin over the fit's own, which the
/// linearisation error eats into).
const G_TARGET: f64 = 1e-4;

/// The start's coefficients (length `ctx.n`); zeros when the normal matrix is singular.
pub(super) fn qp_start(data: &Points, ctx: &SplineContext, samples: usize) -> Vec<f64> {
    let n = ctx.n();
    let zero = SplineSmile::flat_correction(*ctx.base(), ctx.k0(), ctx.h(), n);
    let t = data.t();
    let [lo, _] = zero.support();
    let step = ctx.h() / samples.max(1) as f64;
    let m = samples * (n + 3);
    let mut c = DVector::<f64>::zeros(n);
    for _ in 0..ROUNDS {
        let mut cur = zero;
        cur.coefs_mut().copy_from_slice(c.as_slice());
        let Some((h, f)) = normal_matrix(data, ctx, &cur, t) else {
            return c.as_slice().to_vec();
        };
        let Some(chol) = h.cholesky() else {
            return c.as_slice().to_vec();
        };
        let cu = chol.solve(&f);
        // Linearise g at the current coefficients: ℓₛ·c ≥ dₛ.
        let mut rows: Vec<(DVector<f64>, f64)> = Vec::with_capacity(m);
        for s in 0..m {
            let k = lo + step * (s as f64 + 0.5);
            let (w, w1, w2) = cur.w_derivs(k);
            let Some(l) = cur.local(k) else { continue };
            if !(w > 0.0) {
                continue;
            }
            let g = durrleman(k, w, w1, w2);
            let (gw, gw1, gw2) = durrleman_partials(k, w, w1);
            let mut row = DVector::<f64>::zeros(n);
            for q in 0..4 {
                let j = l.first + q as isize;
                if j >= 0 && (j as usize) < n {
                    row[j as usize] = gw * l.b[q] + gw1 * l.d[q] + gw2 * l.e[q];
                }
            }
            let d = (G_TARGET + ctx.keep()) - g + row.dot(&c);
            rows.push((row, d));
        }
        c = active_set(&chol, &cu, &rows);
    }
    c.as_slice().to_vec()
}

/// The normal matrix and right-hand side of the quote and roughness rows, with each quote's
/// vol linearised in `w` at the current smile `cur`: `σ ≈ σ_cur + (w − w_cur)/(2σ_cur t)`.
fn normal_matrix(
    data: &Points,
    ctx: &SplineContext,
    cur: &SplineSmile,
    t: f64,
) -> Option<(DMatrix<f64>, DVector<f64>)> {
    let n = ctx.n();
    let mut h = DMatrix::<f64>::zeros(n, n);
    let mut f = DVector::<f64>::zeros(n);
    for ((&k, &mid), &sw) in data.k().iter().zip(data.mid()).zip(data.sqrt_w()) {
        let Some(l) = cur.local(k) else { continue };
        let w_cur = cur.w(k);
        let vol = if w_cur > 0.0 { (w_cur / t).sqrt() } else { mid };
        let scale = sw / (2.0 * vol * t);
        // The correction that puts the linearised vol on the mid.
        let target = w_cur + (mid - vol) * 2.0 * vol * t - ctx.base().w(k);
        let idx = |q: usize| {
            let j = l.first + q as isize;
            (j >= 0 && (j as usize) < n).then_some(j as usize)
        };
        for q in 0..4 {
            let Some(j) = idx(q) else { continue };
            let aj = scale * l.b[q];
            f[j] += aj * scale * target;
            for p in 0..4 {
                if let Some(i) = idx(p) {
                    h[(j, i)] += aj * scale * l.b[p];
                }
            }
        }
    }
    // Roughness rows, as in the fit's regularisation.
    let s2 = ctx.smooth() * ctx.smooth();
    for r in 0..n + 2 {
        for (a, va) in roughness_row(r, n) {
            for (b, vb) in roughness_row(r, n) {
                h[(a, b)] += s2 * va * vb;
            }
        }
    }
    let ridge = 1e-12 * (0..n).map(|i| h[(i, i)]).sum::<f64>() / n as f64;
    for i in 0..n {
        h[(i, i)] += ridge.max(f64::MIN_POSITIVE);
    }
    h.iter().all(|v| v.is_finite()).then_some((h, f))
}

/// `min ½cᵀHc − fᵀc` subject to `ℓᵢ·c ≥ dᵢ`, from the unconstrained minimiser `cu = H⁻¹f`:
/// add the most violated constraint, solve for the active set's multipliers, drop one with a
/// negative multiplier, until none is violated (or the active set is full).
///
/// What does not change within a call is computed once — each row's norm and `dᵢ − ℓᵢ·cu`
/// — and the Schur matrix `S = L H⁻¹ Lᵀ` of the active set is kept between steps (a row and a
/// column added with a constraint, removed with it) instead of rebuilt from `p²` dot products
/// at every step: the same entries, so the same iterates bit for bit.
fn active_set(
    chol: &nalgebra::Cholesky<f64, nalgebra::Dyn>,
    cu: &DVector<f64>,
    rows: &[(DVector<f64>, f64)],
) -> DVector<f64> {
    let norms: Vec<f64> = rows.iter().map(|(l, _)| l.norm().max(1e-300)).collect();
    let rhs0: Vec<f64> = rows.iter().map(|(l, d)| d - l.dot(cu)).collect();
    let mut active: Vec<usize> = Vec::new();
    let mut ys: Vec<DVector<f64>> = Vec::new();
    // schur[a][b] = ℓ_active[a] · ys[b].
    let mut schur: Vec<Vec<f64>> = Vec::new();
    let mut c = cu.clone();
    for _ in 0..4 * MAX_ACTIVE {
        // The most violated constraint (relative to its row's size).
        let worst = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !active.contains(i))
            .map(|(i, (l, d))| (i, (d - l.dot(&c)) / norms[i]))
            .filter(|&(_, v)| v > 1e-12)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = worst else { break };
        if active.len() >= MAX_ACTIVE {
            break;
        }
        let y = chol.solve(&rows[i].0);
        for (a, row) in schur.iter_mut().enumerate() {
            row.push(rows[active[a]].0.dot(&y));
        }
        active.push(i);
        ys.push(y);
        schur.push(ys.iter().map(|y| rows[i].0.dot(y)).collect());
        // Multipliers of the active set: S μ = d − L cu, S = L H⁻¹ Lᵀ; drop negatives.
        loop {
            let p = active.len();
            let s = DMatrix::from_fn(p, p, |a, b| schur[a][b]);
            let rhs = DVector::from_fn(p, |a, _| rhs0[active[a]]);
            let Some(mu) = s.lu().solve(&rhs) else {
                active.pop();
                ys.pop();
                schur.pop();
                for row in &mut schur {
                    row.pop();
                }
                break;
            };
            if let Some(a) = (0..p)
                .filter(|&a| mu[a] < 0.0)
                .min_by(|&a, &b| mu[a].total_cmp(&mu[b]))
            {
                active.remove(a);
                ys.remove(a);
                schur.remove(a);
                for row in &mut schur {
                    row.remove(a);
                }
            } else {
                c = cu.clone();
                for (a, y) in ys.iter().enumerate() {
                    c.axpy(mu[a], y, 1.0);
                }
                break;
            }
            if active.is_empty() {
                c = cu.clone();
                break;
            }
        }
    }
    c
}
