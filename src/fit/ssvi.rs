//! Surface fits: SSVI (one `(ρ, η, γ)` for all expiries, power-law `φ`) and eSSVI (per-expiry
//! `(θ, ρ, ψ)`), free of butterfly and calendar arbitrage; and the calendar check of per-slice
//! SVI fits.
//!
//! **SSVI** (Gatheral & Jacquier 2014, §4): `θ_t` is the market ATM total variance of each
//! expiry (a weighted quadratic through the quotes nearest `k = 0`), made non-decreasing in `t`
//! (running maximum: the first calendar condition); `(ρ, η, γ)` are fitted to every quote of
//! every expiry with Levenberg–Marquardt (analytic Jacobian) under bounds `|ρ| ≤ 0.999`,
//! `η > 0`, `0 < γ ≤ 1/2`, and smooth penalties for the butterfly conditions of GJ Theorem 4.2
//! at each `θ_t` (`θφ(1+|ρ|) < 4`, `θφ²(1+|ρ|) ≤ 4`) and the calendar condition of GJ Theorem
//! 4.1 (`∂(θφ)/∂θ ≤ (1+√(1−ρ²))φ/ρ²`; `∂(θφ)/∂θ ≥ 0` holds for `γ < 1`).
//!
//! **eSSVI** (Hendriks & Martini 2019; the sequential calibration of Corbetta, Cohort, Laachir &
//! Martini, *Robust calibration and arbitrage-free interpolation of SSVI slices*, 2019): starting
//! from the SSVI fit, each expiry in turn refits `(θ, ρ, ψ)` to its quotes under GJ Theorem
//! 4.2's butterfly conditions and the calendar condition against the previous expiry, enforced
//! exactly as `min_k (w_t(k) − w_{t⁻}(k)) ≥ 0` over the real line (global minimisation,
//! envelope-theorem gradient).
//!
//! Every result is checked afterwards: `min g` of each slice and the smallest calendar gap
//! between consecutive slices over the whole real line are reported.

use super::pool::{PooledMatrix, PooledVec};
use super::smile::{FitOptions, FitReport, Points};
use super::{FitError, SolveOptions, least_squares};
use crate::models::global_min;
use crate::models::ssvi::{EssviSlice, Phi, Ssvi};
use crate::models::svi::Svi;
use crate::slice::SmileSlice;
use argmin::core::{Error, Jacobian, Operator};
use nalgebra::SVector;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Smooth penalty `τ·ln(1 + e^{x/τ})` and its slope (see [`super::svi`]).
fn softplus(x: f64, tau: f64) -> (f64, f64) {
    let z = x / tau;
    if z > 30.0 {
        (x, 1.0)
    } else if z < -40.0 {
        (0.0, 0.0)
    } else {
        (tau * z.exp().ln_1p(), 1.0 / (1.0 + (-z).exp()))
    }
}

/// The market ATM total variance of a slice: a weighted quadratic in `k` through the (up to 5)
/// quotes nearest the money, evaluated at `k = 0` (the nearest quote's if the fit is degenerate).
pub fn atm_total_variance(slice: &SmileSlice) -> f64 {
    let mut near: Vec<(f64, f64)> = slice
        .points
        .iter()
        .map(|p| (p.k, p.mid_iv * p.mid_iv * slice.t))
        .collect();
    near.sort_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    near.truncate(5);
    let fallback = near.first().map_or(0.0, |p| p.1);
    if near.len() < 3 {
        return fallback;
    }
    // Least squares for w ≈ c0 + c1 k + c2 k².
    let mut n = [[0.0; 3]; 3];
    let mut r = [0.0; 3];
    for &(k, w) in &near {
        let v = [1.0, k, k * k];
        for i in 0..3 {
            for j in 0..3 {
                n[i][j] += v[i] * v[j];
            }
            r[i] += v[i] * w;
        }
    }
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&n);
    if d.abs() < 1e-300 {
        return fallback;
    }
    let mut m0 = n;
    for row in 0..3 {
        m0[row][0] = r[row];
    }
    let c0 = det(&m0) / d;
    if c0 > 0.0 && c0.is_finite() {
        c0
    } else {
        fallback
    }
}

/// A calendar-arbitrage check between consecutive slices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalendarCheck {
    /// `min_k (w_later(k) − w_earlier(k))` over all consecutive pairs and the real line.
    pub min_gap: f64,
    /// Where: `(t_earlier, t_later, k)`.
    pub at: (f64, f64, f64),
    /// `min_gap ≥ 0`.
    pub calendar_free: bool,
}

/// Checks that total variance is non-decreasing in time at every `k` (over the real line) for
/// slices given as `(t, w(·))`, sorted by `t`. Each pair's gap is minimised globally around the
/// pair's own scale `(center, width)`.
pub fn calendar_check<F: Fn(f64) -> f64>(slices: &[(f64, F, f64, f64)]) -> CalendarCheck {
    let mut out = CalendarCheck {
        min_gap: f64::INFINITY,
        at: (0.0, 0.0, 0.0),
        calendar_free: true,
    };
    for pair in slices.windows(2) {
        let (t1, w1, c1, s1) = (&pair[0].0, &pair[0].1, pair[0].2, pair[0].3);
        let (t2, w2, c2, s2) = (&pair[1].0, &pair[1].1, pair[1].2, pair[1].3);
        let (k, gap) = global_min(0.5 * (c1 + c2), s1.min(s2).max(1e-6), |k| w2(k) - w1(k));
        if gap < out.min_gap {
            out = CalendarCheck {
                min_gap: gap,
                at: (*t1, *t2, k),
                calendar_free: gap >= 0.0,
            };
        }
    }
    if !out.min_gap.is_finite() {
        out.min_gap = 0.0;
    }
    out.calendar_free = out.min_gap >= 0.0;
    out
}

/// `(t, w(k), centre, scale)` of one slice for the calendar scan.
type TimedSlice = (f64, Box<dyn Fn(f64) -> f64>, f64, f64);

/// The calendar check of per-expiry SVI fits `(t, svi)` (sorted by `t`).
///
/// ```
/// use volfit::fit::ssvi::svi_calendar_check;
/// use volfit::models::svi::Svi;
/// let a = Svi::new(0.01, 0.1, -0.3, 0.0, 0.2).unwrap();
/// let b = Svi::new(0.02, 0.1, -0.3, 0.0, 0.2).unwrap(); // a shifted up: no calendar arbitrage
/// assert!(svi_calendar_check(&[(0.25, a), (0.5, b)]).calendar_free);
/// assert!(!svi_calendar_check(&[(0.25, b), (0.5, a)]).calendar_free);
/// ```
pub fn svi_calendar_check(slices: &[(f64, Svi)]) -> CalendarCheck {
    let fs: Vec<TimedSlice> = slices
        .iter()
        .map(|&(t, s)| {
            (
                t,
                Box::new(move |k| s.w(k)) as Box<dyn Fn(f64) -> f64>,
                s.m,
                s.sigma,
            )
        })
        .collect();
    calendar_check(&fs)
}

/// An SSVI surface fitted to several expiries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsviFit {
    /// The surface parameters.
    pub model: Ssvi,
    /// `(t, θ_t)` per expiry.
    pub thetas: Vec<(f64, f64)>,
    /// Per-expiry fit statistics.
    pub reports: Vec<FitReport>,
    /// Calendar check over the real line.
    pub calendar: CalendarCheck,
    /// Polish iterations.
    pub iterations: u64,
    /// Whether the polish converged.
    pub converged: bool,
}

/// An eSSVI surface: one `(θ, ρ, ψ)` per expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EssviFit {
    /// `(t, slice)` per expiry, sorted by `t`.
    pub slices: Vec<(f64, EssviSlice)>,
    /// Per-expiry fit statistics.
    pub reports: Vec<FitReport>,
    /// Calendar check over the real line.
    pub calendar: CalendarCheck,
}

struct SsviProblem<'a> {
    pts: &'a [Points],
    ts: &'a [f64],
    thetas: &'a [f64],
    n_data: usize,
    penalty: f64,
}

impl SsviProblem<'_> {
    fn model(p: &SVector<f64, 3>) -> Ssvi {
        Ssvi {
            rho: p[0],
            phi: Phi::PowerLaw {
                eta: p[1],
                gamma: p[2],
            },
        }
    }

    /// Penalty arguments per expiry: the two butterfly conditions and the calendar one, as
    /// `x ≤ 0` quantities, with their gradients in `(ρ, η, γ)`.
    fn conditions(p: &SVector<f64, 3>, theta: f64) -> [(f64, [f64; 3]); 3] {
        let (rho, eta, gamma) = (p[0], p[1], p[2]);
        let phi = eta / (theta.powf(gamma) * (1.0 + theta).powf(1.0 - gamma));
        let lr = ((1.0 + theta) / theta).ln();
        let dphi = [0.0, phi / eta, phi * lr];
        let r = 1.0 + rho.abs();
        let s = rho.signum();
        // θφ(1+|ρ|) − 4·(1 − 10⁻³) ≤ 0.
        let c1 = theta * phi * r - 3.996;
        let g1 = [theta * phi * s, theta * dphi[1] * r, theta * dphi[2] * r];
        // θφ²(1+|ρ|) − 4 ≤ 0.
        let c2 = theta * phi * phi * r - 4.0;
        let g2 = [
            theta * phi * phi * s,
            2.0 * theta * phi * dphi[1] * r,
            2.0 * theta * phi * dphi[2] * r,
        ];
        // Calendar (GJ 4.1): ρ²·∂(θφ)/∂θ − (1 + √(1−ρ²))φ ≤ 0, with θφ = η(θ/(1+θ))^{1−γ}:
        // ∂(θφ)/∂θ = (1−γ)φ/(1+θ).
        let d = (1.0 - gamma) * phi / (1.0 + theta);
        let sq = (1.0 - rho * rho).sqrt();
        let c3 = rho * rho * d - (1.0 + sq) * phi;
        let dd = [
            0.0,
            d / eta,
            -phi / (1.0 + theta) + (1.0 - gamma) * dphi[2] / (1.0 + theta),
        ];
        let g3 = [
            2.0 * rho * d + rho / sq.max(1e-12) * phi,
            rho * rho * dd[1] - (1.0 + sq) * dphi[1],
            rho * rho * dd[2] - (1.0 + sq) * dphi[2],
        ];
        [(c1, g1), (c2, g2), (c3, g3)]
    }
}

impl Operator for SsviProblem<'_> {
    type Param = SVector<f64, 3>;
    type Output = PooledVec;
    fn apply(&self, p: &SVector<f64, 3>) -> Result<PooledVec, Error> {
        let m = Self::model(p);
        let mut r = PooledVec::zeros(self.n_data + 3 * self.pts.len());
        let mut row = 0;
        for (i, pts) in self.pts.iter().enumerate() {
            let (t, theta) = (self.ts[i], self.thetas[i]);
            for j in 0..pts.len() {
                let vol = (m.w(pts.k[j], theta).max(1e-300) / t).sqrt();
                r[row] = pts.residual(j, vol, super::Objective::Vol).0;
                row += 1;
            }
        }
        for (i, &theta) in self.thetas.iter().enumerate() {
            for (c, (x, _)) in Self::conditions(p, theta).iter().enumerate() {
                r[self.n_data + 3 * i + c] = self.penalty * softplus(*x, 1e-3).0;
            }
        }
        Ok(r)
    }
}

impl Jacobian for SsviProblem<'_> {
    type Param = SVector<f64, 3>;
    type Jacobian = PooledMatrix;
    fn jacobian(&self, p: &SVector<f64, 3>) -> Result<PooledMatrix, Error> {
        let (rho, eta, gamma) = (p[0], p[1], p[2]);
        let m = Self::model(p);
        let mut jm = PooledMatrix::zeros(self.n_data + 3 * self.pts.len(), 3);
        let mut row = 0;
        for (i, pts) in self.pts.iter().enumerate() {
            let (t, theta) = (self.ts[i], self.thetas[i]);
            let phi = eta / (theta.powf(gamma) * (1.0 + theta).powf(1.0 - gamma));
            let dphi_deta = phi / eta;
            let dphi_dgamma = phi * ((1.0 + theta) / theta).ln();
            for j in 0..pts.len() {
                let k = pts.k[j];
                let w = m.w(k, theta).max(1e-300);
                let vol = (w / t).sqrt();
                let (_, dr) = pts.residual(j, vol, super::Objective::Vol);
                let z = phi * k + rho;
                let big_r = (z * z + 1.0 - rho * rho).sqrt();
                let dw_drho = 0.5 * theta * phi * k * (1.0 + 1.0 / big_r);
                let dw_dphi = 0.5 * theta * (rho * k + z * k / big_r);
                let s = dr / (2.0 * vol * t);
                jm.set(row, 0, s * dw_drho);
                jm.set(row, 1, s * dw_dphi * dphi_deta);
                jm.set(row, 2, s * dw_dphi * dphi_dgamma);
                row += 1;
            }
        }
        for (i, &theta) in self.thetas.iter().enumerate() {
            for (c, (x, g)) in Self::conditions(p, theta).iter().enumerate() {
                let slope = softplus(*x, 1e-3).1;
                for q in 0..3 {
                    jm.set(self.n_data + 3 * i + c, q, self.penalty * slope * g[q]);
                }
            }
        }
        Ok(jm)
    }
}

fn slice_report(
    model: &Svi,
    slice: &SmileSlice,
    pts: &Points,
    micros: f64,
    converged: bool,
    iterations: u64,
    opts: &FitOptions,
) -> FitReport {
    let vols: Vec<f64> = pts
        .k
        .iter()
        .map(|&k| (model.w(k).max(0.0) / slice.t).sqrt())
        .collect();
    let (rmse, max_err, within) = pts.stats(&vols);
    let min_g = model.min_g().1;
    FitReport {
        t: slice.t,
        n_quotes: pts.len(),
        rmse_iv: rmse,
        max_abs_err_iv: max_err,
        within_spread: within,
        converged,
        iterations,
        evaluations: 0,
        fit_micros: micros,
        min_g,
        butterfly_free: model.min_total_variance() > 0.0 && model.satisfies_lee() && min_g >= 0.0,
        termination: if converged {
            "converged".into()
        } else {
            "not converged".into()
        },
        optimizer: opts.optimizer,
        negative_density: Vec::new(),
    }
}

/// Fits a power-law SSVI surface to the slices (sorted by `t`; at least one quote each).
///
/// # Errors
/// [`FitError`] when there are fewer than 3 quotes in all, or the optimiser fails.
pub fn fit_ssvi(slices: &[SmileSlice], opts: &FitOptions) -> Result<SsviFit, FitError> {
    let clock = Instant::now();
    let mut slices: Vec<&SmileSlice> = slices.iter().filter(|s| !s.points.is_empty()).collect();
    slices.sort_by(|a, b| a.t.total_cmp(&b.t));
    let pts: Vec<Points> = slices.iter().map(|s| Points::new(s)).collect();
    let n_data: usize = pts.iter().map(Points::len).sum();
    if n_data < 3 {
        return Err(FitError::TooFewPoints {
            points: n_data,
            params: 3,
        });
    }
    let ts: Vec<f64> = slices.iter().map(|s| s.t).collect();
    let mut thetas: Vec<f64> = slices.iter().map(|s| atm_total_variance(s)).collect();
    for i in 1..thetas.len() {
        thetas[i] = thetas[i].max(thetas[i - 1]);
    }
    let problem = SsviProblem {
        pts: &pts,
        ts: &ts,
        thetas: &thetas,
        n_data,
        penalty: 100.0,
    };
    let solve = SolveOptions {
        optimizer: opts.optimizer,
        max_iters: opts.max_iters,
        ftol: 1e-10,
        xtol: 1e-10,
        gtol: 1e-10,
        lower: vec![-0.999, 1e-4, 0.01],
        upper: vec![0.999, 20.0, 0.5],
    };
    let (x, rep, _) = least_squares(problem, SVector::<f64, 3>::new(-0.5, 0.5, 0.3), &solve)?;
    let model = SsviProblem::model(&x);
    let micros = clock.elapsed().as_secs_f64() * 1e6;
    let reports = slices
        .iter()
        .zip(&pts)
        .zip(&thetas)
        .map(|((s, p), &th)| {
            slice_report(
                &model.slice(th),
                s,
                p,
                micros / slices.len() as f64,
                rep.converged,
                rep.iterations,
                opts,
            )
        })
        .collect();
    let svis: Vec<(f64, Svi)> = ts
        .iter()
        .zip(&thetas)
        .map(|(&t, &th)| (t, model.slice(th)))
        .collect();
    Ok(SsviFit {
        model,
        thetas: ts.iter().copied().zip(thetas.iter().copied()).collect(),
        reports,
        calendar: svi_calendar_check(&svis),
        iterations: rep.iterations,
        converged: rep.converged,
    })
}

struct EssviProblem<'a> {
    pts: &'a Points,
    t: f64,
    previous: Option<EssviSlice>,
    penalty: f64,
}

impl EssviProblem<'_> {
    fn slice(p: &SVector<f64, 3>) -> EssviSlice {
        EssviSlice {
            theta: p[0],
            rho: p[1],
            psi: p[2],
        }
    }

    /// `∂w/∂(θ, ρ, ψ)` at `k`.
    fn dw(s: &EssviSlice, k: f64) -> [f64; 3] {
        let phi = s.psi / s.theta;
        let z = phi * k + s.rho;
        let r = (z * z + 1.0 - s.rho * s.rho).sqrt();
        [
            0.5 * (1.0 + r - z * phi * k / r),
            0.5 * s.psi * k * (1.0 + 1.0 / r),
            0.5 * s.rho * k + 0.5 * z * k / r,
        ]
    }

    fn calendar_gap(&self, s: &EssviSlice) -> Option<(f64, f64)> {
        self.previous.map(|prev| prev.min_gap(s))
    }
}

impl Operator for EssviProblem<'_> {
    type Param = SVector<f64, 3>;
    type Output = PooledVec;
    fn apply(&self, p: &SVector<f64, 3>) -> Result<PooledVec, Error> {
        let s = Self::slice(p);
        let n = self.pts.len();
        let mut r = PooledVec::zeros(n + 5);
        for j in 0..n {
            let vol = (s.w(self.pts.k[j]).max(1e-300) / self.t).sqrt();
            r[j] = self.pts.residual(j, vol, super::Objective::Vol).0;
        }
        let ra = 1.0 + s.rho.abs();
        r[n] = self.penalty * softplus(s.psi * ra - 3.996, 1e-3).0;
        r[n + 1] = self.penalty * softplus(s.psi * s.psi * ra - 4.0 * s.theta, 1e-3).0;
        if let Some(prev) = self.previous {
            // Wing slopes ψ(1 ± ρ)/2 must not fall below the previous expiry's, or the slices
            // cross far out in the wings; with them in order the gap's minimum is finite.
            r[n + 3] = self.penalty
                * softplus(prev.psi * (1.0 + prev.rho) - s.psi * (1.0 + s.rho), 1e-3).0;
            r[n + 4] = self.penalty
                * softplus(prev.psi * (1.0 - prev.rho) - s.psi * (1.0 - s.rho), 1e-3).0;
            if let Some((_, gap)) = self.calendar_gap(&s) {
                // Capped: a far-wing crossing must not swamp the fit.
                r[n + 2] =
                    self.penalty * softplus((1e-6 * s.theta - gap).min(s.theta), 1e-3 * s.theta).0;
            }
        }
        Ok(r)
    }
}

impl Jacobian for EssviProblem<'_> {
    type Param = SVector<f64, 3>;
    type Jacobian = PooledMatrix;
    fn jacobian(&self, p: &SVector<f64, 3>) -> Result<PooledMatrix, Error> {
        let s = Self::slice(p);
        let n = self.pts.len();
        let mut jm = PooledMatrix::zeros(n + 5, 3);
        for j in 0..n {
            let k = self.pts.k[j];
            let vol = (s.w(k).max(1e-300) / self.t).sqrt();
            let (_, dr) = self.pts.residual(j, vol, super::Objective::Vol);
            let g = Self::dw(&s, k);
            for q in 0..3 {
                jm.set(j, q, dr / (2.0 * vol * self.t) * g[q]);
            }
        }
        let ra = 1.0 + s.rho.abs();
        let sl1 = softplus(s.psi * ra - 3.996, 1e-3).1;
        jm.set(n, 1, self.penalty * sl1 * s.psi * s.rho.signum());
        jm.set(n, 2, self.penalty * sl1 * ra);
        let sl2 = softplus(s.psi * s.psi * ra - 4.0 * s.theta, 1e-3).1;
        jm.set(n + 1, 0, -4.0 * self.penalty * sl2);
        jm.set(
            n + 1,
            1,
            self.penalty * sl2 * s.psi * s.psi * s.rho.signum(),
        );
        jm.set(n + 1, 2, self.penalty * sl2 * 2.0 * s.psi * ra);
        if let Some(prev) = self.previous {
            let sl = softplus(prev.psi * (1.0 + prev.rho) - s.psi * (1.0 + s.rho), 1e-3).1;
            jm.set(n + 3, 1, -self.penalty * sl * s.psi);
            jm.set(n + 3, 2, -self.penalty * sl * (1.0 + s.rho));
            let sl = softplus(prev.psi * (1.0 - prev.rho) - s.psi * (1.0 - s.rho), 1e-3).1;
            jm.set(n + 4, 1, self.penalty * sl * s.psi);
            jm.set(n + 4, 2, -self.penalty * sl * (1.0 - s.rho));
            if let Some((k, gap)) = self.calendar_gap(&s) {
                let x = 1e-6 * s.theta - gap;
                if x < s.theta {
                    let sl = softplus(x, 1e-3 * s.theta).1;
                    let g = Self::dw(&s, k);
                    for q in 0..3 {
                        jm.set(n + 2, q, -self.penalty * sl * g[q]);
                    }
                }
            }
        }
        Ok(jm)
    }
}

/// Fits an eSSVI surface (see the module doc): an SSVI fit, then each expiry's `(θ, ρ, ψ)`
/// refitted in turn under its butterfly conditions and the calendar condition against the
/// previous expiry.
///
/// # Errors
/// As [`fit_ssvi`].
pub fn fit_essvi(slices: &[SmileSlice], opts: &FitOptions) -> Result<EssviFit, FitError> {
    let ssvi = fit_ssvi(slices, opts)?;
    let mut sorted: Vec<&SmileSlice> = slices.iter().filter(|s| !s.points.is_empty()).collect();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut out: Vec<(f64, EssviSlice)> = Vec::with_capacity(sorted.len());
    let mut reports = Vec::with_capacity(sorted.len());
    for (slice, &(t, theta)) in sorted.iter().zip(&ssvi.thetas) {
        let clock = Instant::now();
        let pts = Points::new(slice);
        let psi0 = theta * ssvi.model.phi.value(theta);
        let mut start = [theta, ssvi.model.rho, psi0];
        let previous = out.last().map(|p| p.1);
        if let Some(prev) = previous {
            // Start on or above the previous slice (the SSVI slices are, by construction).
            start[0] = start[0].max(prev.theta);
        }
        let problem = EssviProblem {
            pts: &pts,
            t,
            previous,
            penalty: 100.0,
        };
        let solve = SolveOptions {
            optimizer: opts.optimizer,
            max_iters: opts.max_iters,
            ftol: 1e-9,
            xtol: 1e-10,
            gtol: 1e-10,
            lower: vec![1e-8, -0.999, 1e-8],
            upper: vec![f64::INFINITY, 0.999, 4.0],
        };
        let (x, rep, _) = least_squares(
            problem,
            SVector::<f64, 3>::from_column_slice(&start),
            &solve,
        )?;
        let mut s = EssviProblem::slice(&x);
        // Guarantee the butterfly condition (the penalty is finite): cap ψ at the bound of
        // GJ Theorem 4.2, `ψ ≤ min(4/(1+|ρ|), 2√(θ/(1+|ρ|)))` (a hair inside).
        let r = 1.0 + s.rho.abs();
        let cap = |theta: f64| (4.0 / r).min(2.0 * (theta / r).sqrt()) * (1.0 - 1e-12);
        s.psi = s.psi.min(cap(s.theta));
        // Guarantee the calendar condition: with the wing slopes in order the fitted slice may
        // still sit a hair below the previous one (finite penalty): lift θ until it does not.
        // Raising ψ for the wings may need a larger θ for the butterfly bound; raising θ only
        // loosens that bound, so both hold at the end.
        if let Some(prev) = previous {
            let wings_ok = s.psi * (1.0 + s.rho) >= prev.psi * (1.0 + prev.rho)
                && s.psi * (1.0 - s.rho) >= prev.psi * (1.0 - prev.rho);
            if !wings_ok {
                s.psi = s
                    .psi
                    .max(prev.psi * (1.0 + prev.rho) / (1.0 + s.rho))
                    .max(prev.psi * (1.0 - prev.rho) / (1.0 - s.rho));
                s.theta = s.theta.max(s.psi * s.psi * r / 4.0 * (1.0 + 1e-9));
            }
            for _ in 0..60 {
                let gap = prev.min_gap(&s).1;
                if gap >= 0.0 || !gap.is_finite() {
                    break;
                }
                s.theta += (1e-6 * s.theta).max(-gap);
            }
        }
        let svi = s.to_svi();
        reports.push(slice_report(
            &svi,
            slice,
            &pts,
            clock.elapsed().as_secs_f64() * 1e6,
            rep.converged,
            rep.iterations,
            opts,
        ));
        out.push((t, s));
    }
    let svis: Vec<(f64, Svi)> = out.iter().map(|(t, s)| (*t, s.to_svi())).collect();
    Ok(EssviFit {
        slices: out,
        reports,
        calendar: svi_calendar_check(&svis),
    })
}
