//! THE generic fitter: any model that states its calibration spec ([`Calibrate`]) is fitted to
//! any slice (or, for surface models, several) under any [`Optimizer`] and
//! any [`Objective`], with the same treatment of `no_arbitrage`, warm starts, calendar floors,
//! penalty stiffening, repairs and reporting for every model.
//!
//! The residuals are, in order: one per quote, `√wᵢ·r(σ(kᵢ))` by the objective (a large,
//! finite `10³` where the model has no vol, so the step is refused); with `no_arbitrage`, the
//! model's penalty rows times a weight `P` (100 at first); one per calendar-floor point,
//! `P·(∂σ/∂w)·max(0, w_floor − w(kⱼ))` (a shortfall costs like a vol error `P` times its
//! size). The Jacobian is the model's analytic gradient through the objective's derivative.
//!
//! The flow: start (the model's guess, or a warm start) → into the no-arbitrage domain (the
//! model's hook) → polish (for models with lazy penalties, first without them, adding them
//! only if the result is outside the domain) → while the model is outside its domain
//! ([`Calibrate::admissible`]) or a floor fails, `P × 100` and polish again (twice at most) →
//! the model's repair if still outside the domain → one [`FitReport`] per slice.

use super::pool::{PooledMatrix, PooledVec};
use super::views::ParamVector;
use super::{FitError, Optimizer, SolveOptions, Termination, least_squares};
use crate::models::arbitrage::Coordinate;
use crate::models::calibrate::{Calibrate, JacRows, QuoteScale, Repair};
use crate::models::sabr::SabrOptions;
use crate::models::spline::SplineOptions;
use crate::slice::{Objective, Points, SmileSlice};
use argmin::core::{Error, Jacobian, Operator};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Options of a smile fit ([`crate::fit_svi`], [`crate::fit_sabr`], [`fit`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// The optimiser of the polish.
    pub optimizer: Optimizer,
    /// The objective.
    pub objective: Objective,
    /// Iteration limit of the polish.
    pub max_iters: u64,
    /// Keep the fit inside the model's no-arbitrage domain: the model's penalty rows, their
    /// stiffening, and its repair (default on).
    pub no_arbitrage: bool,
    /// SABR settings ([`crate::fit_sabr`] and SABR surfaces).
    pub sabr: SabrOptions,
    /// Spline-smile settings ([`crate::fit::fit_spline`] and spline surfaces).
    #[serde(default)]
    pub spline: SplineOptions,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            optimizer: Optimizer::LevenbergMarquardt,
            objective: Objective::default(),
            max_iters: 300,
            no_arbitrage: true,
            sabr: SabrOptions::default(),
            spline: SplineOptions::default(),
        }
    }
}

/// The account of one smile fit (one expiry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Time to expiry of the slice.
    pub t: f64,
    /// Quotes fitted.
    pub n_quotes: usize,
    /// Free parameters fitted to this expiry's quotes (a joint fit's shared out among its
    /// expiries, rounded up); with `n_quotes ≤ n_params` the fit passes through the quotes.
    /// 0 in reports written before it was recorded.
    #[serde(default)]
    pub n_params: usize,
    /// Root-mean-square of `σ_model − σ_mid` over the quotes (unweighted).
    pub rmse_iv: f64,
    /// Largest `|σ_model − σ_mid|`.
    pub max_abs_err_iv: f64,
    /// Fraction of the quotes with both a bid and an ask vol whose fitted vol lies inside
    /// `[bid IV, ask IV]` (`None` when no quote has both).
    pub within_spread: Option<f64>,
    /// Whether the polish stopped on a convergence test.
    pub converged: bool,
    /// Polish iterations.
    pub iterations: u64,
    /// Residual evaluations of the polish.
    pub evaluations: u64,
    /// Wall time of the whole fit in microseconds (shared equally by the slices of a surface
    /// fit).
    pub fit_micros: f64,
    /// The smallest normalised density (Durrleman's `g`) of the model's butterfly verdict
    /// (negative: butterfly arbitrage).
    pub min_g: f64,
    /// Whether the fitted smile is free of butterfly arbitrage (the model's verdict).
    pub butterfly_free: bool,
    /// Why the polish stopped.
    pub termination: Termination,
    /// The optimiser used.
    pub optimizer: Optimizer,
    /// Strike intervals where the fitted density is negative (empty for arbitrage-free fits).
    #[serde(default)]
    pub negative_density: Vec<[f64; 2]>,
    /// What the model's post-fit repair did, if it ran.
    #[serde(default)]
    pub repair: Option<Repair>,
}

/// A fitted model and its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit<M> {
    /// The model.
    pub model: M,
    /// How it was fitted.
    pub report: FitReport,
}

/// Up to 32 free parameters on the stack: the solvers' parameter vector for every model (no
/// allocation per iteration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamBuf {
    n: usize,
    x: [f64; ParamBuf::MAX],
}

impl ParamBuf {
    /// The most free parameters a model may have.
    pub const MAX: usize = 32;

    /// The first `x.len()` (at most [`ParamBuf::MAX`]) components.
    pub fn from_slice(x: &[f64]) -> Self {
        let mut b = ParamBuf {
            n: x.len().min(Self::MAX),
            x: [0.0; Self::MAX],
        };
        b.x[..b.n].copy_from_slice(&x[..b.n]);
        b
    }
}

impl ParamVector for ParamBuf {
    fn as_slice(&self) -> &[f64] {
        &self.x[..self.n]
    }
    fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.x[..self.n]
    }
}

/// Residual rows a caller adds to a fit's objective (weighted as given, never stiffened): a
/// prior on the parameters, such as a Kalman filter's prediction written as rows
/// `R·(z(θ) − μ)` with `RᵀR` the inverse of the predicted covariance of the filter
/// coordinates `z` — then the polish is one iterated-EKF update (Bell & Cathey 1993: the
/// Gauss–Newton iterations of the maximum-a-posteriori problem), solved by the same engine.
pub trait PriorRows<M: Calibrate> {
    /// Number of rows.
    fn n_rows(&self) -> usize;
    /// The rows of `model` into `rows`, and with `jac` their gradients in the free
    /// parameters.
    fn rows(&self, model: &M, ctx: &M::Context, rows: &mut [f64], jac: Option<&mut JacRows<'_>>);
}

/// Residual of a quote whose model vol does not exist: large, finite, so the step is refused.
const NO_VOL: f64 = 1e3;
/// The first weight of the penalty rows.
const PENALTY: f64 = 100.0;

/// The least-squares problem of one fit of model `M`.
struct SmileProblem<'a, M: Calibrate> {
    data: &'a Points,
    ctx: &'a M::Context,
    objective: Objective,
    /// Regularisation rows of the model.
    n_reg: usize,
    /// The caller's prior rows (after the regularisation rows).
    prior: Option<&'a dyn PriorRows<M>>,
    /// Number of prior rows.
    n_prior: usize,
    /// Penalty rows in the problem (0 without `no_arbitrage`).
    n_pen: usize,
    penalty: f64,
    floor: &'a [(f64, f64)],
}

impl<M: Calibrate> SmileProblem<'_, M> {
    fn rows(&self) -> usize {
        self.data.len() + self.n_reg + self.n_prior + self.n_pen + self.floor.len()
    }

    /// Weight of a calendar-floor shortfall at floor `wmin`: `P·dσ/dw` there.
    fn floor_scale(&self, wmin: f64) -> f64 {
        let g = &self.data.groups()[0];
        self.penalty * 0.5 / (wmin.max(g.w_floor) * g.t).sqrt()
    }
}

impl<M: Calibrate> Operator for SmileProblem<'_, M> {
    type Param = ParamBuf;
    type Output = PooledVec;

    fn apply(&self, x: &ParamBuf) -> Result<PooledVec, Error> {
        let n = self.data.len();
        let mut r = PooledVec::zeros(self.rows());
        let Some(model) = M::from_free(x.as_slice(), self.ctx) else {
            r[..n].fill(NO_VOL);
            return Ok(r);
        };
        model.quote_vols(self.data, self.ctx, &mut r[..n], None);
        for i in 0..n {
            let v = r[i];
            r[i] = if v.is_finite() {
                self.data.residual(i, v, self.objective).0
            } else {
                NO_VOL
            };
        }
        if self.n_reg > 0 {
            model.regular(self.ctx, &mut r[n..n + self.n_reg], None);
        }
        let n = n + self.n_reg;
        if let Some(p) = self.prior {
            p.rows(&model, self.ctx, &mut r[n..n + self.n_prior], None);
        }
        let n = n + self.n_prior;
        if self.n_pen > 0 {
            let rows = &mut r[n..n + self.n_pen];
            model.penalties(self.data, self.ctx, rows, None);
            for v in rows.iter_mut() {
                *v *= self.penalty;
            }
        }
        let mut grad = [0.0; ParamBuf::MAX];
        for (j, &(k, wmin)) in self.floor.iter().enumerate() {
            let w = model
                .w_grad(self.ctx, 0, k, &mut grad[..x.len()])
                .unwrap_or(f64::NAN);
            r[n + self.n_pen + j] = self.floor_scale(wmin) * (wmin - w).max(0.0);
        }
        Ok(r)
    }
}

impl<M: Calibrate> Jacobian for SmileProblem<'_, M> {
    type Param = ParamBuf;
    type Jacobian = PooledMatrix;

    fn jacobian(&self, x: &ParamBuf) -> Result<PooledMatrix, Error> {
        let (n, nx, rows) = (self.data.len(), x.len(), self.rows());
        let mut jm = PooledMatrix::zeros(rows, nx);
        let Some(model) = M::from_free(x.as_slice(), self.ctx) else {
            return Ok(jm);
        };
        {
            let mut vols = PooledVec::zeros(n);
            let scale = QuoteScale {
                points: self.data,
                objective: self.objective,
            };
            let mut jr = JacRows::quotes(jm.as_col_major_mut(), rows, scale);
            model.quote_vols(self.data, self.ctx, &mut vols, Some(&mut jr));
        }
        if self.n_reg > 0 {
            let mut scratch = PooledVec::zeros(self.n_reg);
            let mut jr = JacRows::new(jm.as_col_major_mut(), rows, n);
            model.regular(self.ctx, &mut scratch, Some(&mut jr));
        }
        let n = n + self.n_reg;
        if let Some(p) = self.prior {
            let mut scratch = PooledVec::zeros(self.n_prior);
            let mut jr = JacRows::new(jm.as_col_major_mut(), rows, n);
            p.rows(&model, self.ctx, &mut scratch, Some(&mut jr));
        }
        let n = n + self.n_prior;
        if self.n_pen > 0 {
            let mut scratch = PooledVec::zeros(self.n_pen);
            {
                let mut jr = JacRows::new(jm.as_col_major_mut(), rows, n);
                model.penalties(self.data, self.ctx, &mut scratch, Some(&mut jr));
            }
            for row in n..n + self.n_pen {
                for c in 0..nx {
                    jm.set(row, c, self.penalty * jm.get(row, c));
                }
            }
        }
        let mut grad = [0.0; ParamBuf::MAX];
        for (j, &(k, wmin)) in self.floor.iter().enumerate() {
            let w = model.w_grad(self.ctx, 0, k, &mut grad[..nx]);
            if let Some(w) = w
                && w < wmin
            {
                let c = -self.floor_scale(wmin);
                for (col, g) in grad[..nx].iter().enumerate() {
                    jm.set(n + self.n_pen + j, col, c * g);
                }
            }
        }
        Ok(jm)
    }
}

/// Fits model `M` to one slice with its default start (the model's guess).
///
/// # Errors
/// As [`fit_points`].
///
/// ```
/// use volfit::fit::{fit, FitOptions};
/// use volfit::models::ssvi::{EssviOptions, EssviSlice};
/// use volfit::SmileSlice;
/// let truth = EssviSlice::new(0.04, -0.6, 0.3)?;
/// let quotes: Vec<(f64, f64)> = (-8..=8).map(|i| {
///     let k = 0.05 * f64::from(i);
///     (100.0 * k.exp(), (truth.w(k) / 0.5).sqrt())
/// }).collect();
/// let slice = SmileSlice::from_vols(0.5, 100.0, &quotes)?;
/// let f = fit::<EssviSlice>(&slice, &FitOptions::default(), &EssviOptions::default())?;
/// assert!((f.model.rho() + 0.6).abs() < 1e-6 && f.report.butterfly_free);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit<M: Calibrate>(
    slice: &SmileSlice,
    opts: &FitOptions,
    model_opts: &M::Options,
) -> Result<Fit<M>, FitError> {
    fit_from(slice, opts, model_opts, None, &[])
}

/// [`fit`] warm-started from `start` (skips the model's guess) and with a calendar floor:
/// `w(kⱼ) ≥ wⱼ` at the given `(kⱼ, wⱼ)` (a previous expiry's total variance), enforced by
/// penalty rows like the no-arbitrage constraints.
///
/// # Errors
/// As [`fit_points`].
pub fn fit_from<M: Calibrate>(
    slice: &SmileSlice,
    opts: &FitOptions,
    model_opts: &M::Options,
    start: Option<&M>,
    floor: &[(f64, f64)],
) -> Result<Fit<M>, FitError> {
    let data = Points::new(slice);
    let (model, mut reports) = fit_points(&data, opts, model_opts, start, floor)?;
    let report = reports.pop().ok_or(FitError::TooFewPoints {
        points: 0,
        params: 1,
    })?;
    Ok(Fit { model, report })
}

/// The initial guess of model `M` for `slice` (what [`fit`] starts from).
///
/// # Errors
/// [`FitError::Spec`] when the data is outside the model's domain or gives no start.
pub fn initial_guess<M: Calibrate>(
    slice: &SmileSlice,
    opts: &FitOptions,
    model_opts: &M::Options,
) -> Result<M, FitError> {
    let data = Points::new(slice);
    let ctx = M::context(&data, model_opts)?;
    Ok(M::guess(&data, &ctx, opts.no_arbitrage)?)
}

/// The generic fit of model `M` to `data` (one or more slices): see the
/// [module documentation](self). Returns the model and one report per slice.
///
/// # Errors
/// [`FitError::Spec`] for data or options outside the model's domain (or no start),
/// [`FitError::TooFewPoints`] with fewer quotes than free parameters (or than 3),
/// [`FitError::Slice`] when the optimiser fails or the result is not finite.
pub fn fit_points<M: Calibrate>(
    data: &Points,
    opts: &FitOptions,
    model_opts: &M::Options,
    start: Option<&M>,
    floor: &[(f64, f64)],
) -> Result<(M, Vec<FitReport>), FitError> {
    fit_points_with_prior(data, opts, model_opts, start, floor, None)
}

/// [`fit_points`] with the caller's [`PriorRows`] in the objective (after the model's
/// regularisation rows): the maximum-a-posteriori fit a filter's update solves.
///
/// # Errors
/// As [`fit_points`].
pub fn fit_points_with_prior<M: Calibrate>(
    data: &Points,
    opts: &FitOptions,
    model_opts: &M::Options,
    start: Option<&M>,
    floor: &[(f64, f64)],
    prior: Option<&dyn PriorRows<M>>,
) -> Result<(M, Vec<FitReport>), FitError> {
    let clock = Instant::now();
    let ctx = M::context(data, model_opts)?;
    let n = M::n_free(&ctx);
    let need = n.max(3);
    if data.len() < need {
        return Err(FitError::TooFewPoints {
            points: data.len(),
            params: need,
        });
    }
    let t = data.t();
    let fail = |source: FitError, iterations: u64| FitError::Slice {
        t,
        iterations,
        source: Box::new(source),
    };
    let model = match start {
        Some(s) => s.clone(),
        None => M::guess(data, &ctx, opts.no_arbitrage)?,
    };
    let mut grad = [0.0; ParamBuf::MAX];
    if !floor.is_empty() && model.w_grad(&ctx, 0, 0.0, &mut grad[..n]).is_none() {
        return Err(FitError::Unsupported(
            "calendar floors need a model with one total variance per point",
        ));
    }
    let (mut lo, mut hi) = ([0.0; ParamBuf::MAX], [0.0; ParamBuf::MAX]);
    M::bounds(&ctx, &model, &mut lo[..n], &mut hi[..n]);
    let clamp = |x: &mut ParamBuf| {
        for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
            *v = v.clamp(lo[i], hi[i]);
        }
    };
    let mut x = ParamBuf::from_slice(&[0.0; ParamBuf::MAX][..n]);
    model.to_free(&ctx, x.as_mut_slice());
    clamp(&mut x);
    if opts.no_arbitrage
        && let Some(mut m) = M::from_free(x.as_slice(), &ctx)
    {
        m.prepare_start(data, &ctx);
        m.to_free(&ctx, x.as_mut_slice());
        clamp(&mut x);
    }
    let (ftol, xtol, gtol) = M::TOLERANCES;
    let solve = SolveOptions {
        optimizer: opts.optimizer,
        max_iters: opts.max_iters,
        ftol,
        xtol,
        gtol,
        lower: lo[..n].to_vec(),
        upper: hi[..n].to_vec(),
    };
    let mut n_pen = if opts.no_arbitrage && !M::LAZY_PENALTIES {
        M::n_penalties(&ctx)
    } else {
        0
    };
    let (mut iterations, mut evaluations) = (0, 0);
    let mut run = |penalty: f64, n_pen: usize, x0: ParamBuf| {
        let problem = SmileProblem::<M> {
            data,
            ctx: &ctx,
            objective: opts.objective,
            n_reg: M::n_regular(&ctx),
            prior,
            n_prior: prior.map_or(0, PriorRows::n_rows),
            n_pen,
            penalty,
            floor,
        };
        let (sol, rep, _) = least_squares(problem, x0, &solve).map_err(|e| fail(e, iterations))?;
        iterations += rep.iterations;
        evaluations += rep.evaluations;
        let m = M::from_free(sol.as_slice(), &ctx).ok_or_else(|| {
            fail(
                FitError::NotFinite {
                    iterations: rep.iterations,
                    reason: "the solution gives no model".into(),
                },
                iterations,
            )
        })?;
        Ok::<_, FitError>((sol, m, rep))
    };
    let groups = data.groups().len();
    let floor_holds = |m: &M| {
        let mut grad = [0.0; ParamBuf::MAX];
        floor.iter().all(|&(k, w)| {
            m.w_grad(&ctx, 0, k, &mut grad[..n])
                .is_some_and(|v| v >= w * (1.0 - 1e-9))
        })
    };
    // Inside the domain (decided once per polished model: the check can be dear).
    let admissible = |m: &M| !opts.no_arbitrage || m.admissible(data, &ctx);
    let mut penalty = PENALTY;
    let (mut sol, mut model, mut rep) = run(penalty, n_pen, x)?;
    let mut inside = admissible(&model);
    if opts.no_arbitrage && M::LAZY_PENALTIES && !(inside && floor_holds(&model)) {
        // The lazy penalties join now, from the unpenalised solution.
        n_pen = M::n_penalties(&ctx);
        (sol, model, rep) = run(penalty, n_pen, sol)?;
        inside = admissible(&model);
    }
    // The penalties are finite: should the polish end outside the domain, stiffen and go on.
    for _ in 0..2 {
        if inside && floor_holds(&model) {
            break;
        }
        penalty *= 100.0;
        (sol, model, rep) = run(penalty, n_pen, sol)?;
        inside = admissible(&model);
    }
    let repair = if inside {
        None
    } else {
        model.repair(data, &ctx)
    };
    let mut vols = vec![0.0; data.len()];
    model.quote_vols(data, &ctx, &mut vols, None);
    if let Some(i) = vols.iter().position(|v| !v.is_finite()) {
        return Err(fail(
            FitError::NotFinite {
                iterations,
                reason: format!(
                    "the fitted {} has no vol at strike {}",
                    M::NAME,
                    data.strikes()[i]
                ),
            },
            iterations,
        ));
    }
    let micros = clock.elapsed().as_secs_f64() * 1e6 / groups as f64;
    let reports = data
        .groups()
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let stats = data.stats(group.range.clone(), &vols[group.range.clone()]);
            let verdict = model.butterfly(&ctx, g);
            let negative_density = match verdict.coordinate {
                Coordinate::Strike => verdict.negative.clone(),
                Coordinate::LogMoneyness => verdict
                    .negative
                    .iter()
                    .map(|r| r.map(|k| group.forward * k.exp()))
                    .collect(),
            };
            FitReport {
                t: group.t,
                n_quotes: group.range.len(),
                n_params: n.div_ceil(groups),
                rmse_iv: stats.rmse,
                max_abs_err_iv: stats.max_abs,
                within_spread: stats.within_spread,
                converged: rep.converged,
                iterations,
                evaluations,
                fit_micros: micros,
                min_g: verdict.min_g,
                butterfly_free: verdict.free,
                termination: rep.termination.clone(),
                optimizer: opts.optimizer,
                negative_density,
                repair,
            }
        })
        .collect();
    Ok((model, reports))
}

/// The weight of the penalty rows in a fit's first polish (stiffened ×100 only when that
/// polish ends outside the model's domain; see the [module documentation](self)).
pub const FIRST_PENALTY: f64 = PENALTY;

/// The rows of the objective `½‖r‖²` a fit of model `M` minimises, and their Jacobian, at
/// free parameters `x` — without prior or calendar-floor rows: the quote rows
/// (`0..n_quotes`), the model's regularisation rows, and (with `opts.no_arbitrage`) its
/// penalty rows times `penalty`, exactly as the fitter builds them. The seam for
/// sensitivities of a fitted optimum (the implicit-function theorem on `Jᵀr = 0`:
/// [`crate::risk::quote_vega`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveRows {
    /// Quote rows (the first rows).
    pub n_quotes: usize,
    /// All rows.
    pub n_rows: usize,
    /// Residuals, `n_rows`.
    pub residuals: Vec<f64>,
    /// `∂rᵢ/∂xⱼ`, column-major `n_rows × x.len()`.
    pub jacobian: Vec<f64>,
}

/// [`ObjectiveRows`] of model `M` on `data` under context `ctx` at free parameters `x`.
///
/// # Errors
/// [`FitError::Solver`] if the rows cannot be evaluated (a failed callback).
pub fn objective_rows<M: Calibrate>(
    data: &Points,
    ctx: &M::Context,
    opts: &FitOptions,
    x: &[f64],
    penalty: f64,
) -> Result<ObjectiveRows, FitError> {
    let problem = SmileProblem::<M> {
        data,
        ctx,
        objective: opts.objective,
        n_reg: M::n_regular(ctx),
        prior: None,
        n_prior: 0,
        n_pen: if opts.no_arbitrage {
            M::n_penalties(ctx)
        } else {
            0
        },
        penalty,
        floor: &[],
    };
    let p = ParamBuf::from_slice(x);
    let r = problem.apply(&p).map_err(FitError::solver)?;
    let mut jm = problem.jacobian(&p).map_err(FitError::solver)?;
    Ok(ObjectiveRows {
        n_quotes: data.len(),
        n_rows: problem.rows(),
        residuals: r.to_vec(),
        jacobian: jm.as_col_major_mut().to_vec(),
    })
}
