//! [`least_squares`]: one call that runs a least-squares problem under the chosen
//! [`Optimizer`] inside argmin's `Executor`, and [`covariance`] from its final Jacobian.

use super::linalg;
use super::lm::{self, LevenbergMarquardt};
use super::quasi_newton::{Map, QuasiNewtonAdapter};
use super::views::{JacobianMatrix, ParamVector, ResidualVector};
use super::{FitError, Optimizer};
use argmin::core::{Executor, Jacobian, Operator, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::{BFGS, LBFGS};
use serde::{Deserialize, Serialize};

/// Settings of [`least_squares`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveOptions {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Iteration limit.
    pub max_iters: u64,
    /// Relative cost-reduction tolerance.
    pub ftol: f64,
    /// Relative step tolerance.
    pub xtol: f64,
    /// Gradient tolerance (LM: cosine between residuals and Jacobian columns; quasi-Newton:
    /// gradient norm).
    pub gtol: f64,
    /// Lower bounds (empty: none).
    pub lower: Vec<f64>,
    /// Upper bounds (empty: none).
    pub upper: Vec<f64>,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            optimizer: Optimizer::LevenbergMarquardt,
            max_iters: 200,
            ftol: lm::DEFAULT_TOL,
            xtol: lm::DEFAULT_TOL,
            gtol: lm::DEFAULT_TOL,
            lower: Vec::new(),
            upper: Vec::new(),
        }
    }
}

/// Why a solve stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Termination {
    /// A convergence test of the solver held.
    Converged,
    /// The target cost was reached.
    TargetCost,
    /// The iteration limit was reached first.
    IterationLimit,
    /// The solver stopped for its own reason (e.g. LM: no decrease of the cost after 40
    /// trials; non-finite residuals at the start).
    SolverExit {
        /// The solver's reason.
        reason: String,
    },
    /// argmin stopped for another reason (its text).
    Other {
        /// argmin's text.
        reason: String,
    },
}

impl Termination {
    /// Whether the solve stopped on a convergence test.
    pub fn converged(&self) -> bool {
        matches!(self, Termination::Converged | Termination::TargetCost)
    }

    fn of(status: &TerminationStatus) -> Termination {
        match status {
            TerminationStatus::Terminated(TerminationReason::SolverConverged) => {
                Termination::Converged
            }
            TerminationStatus::Terminated(TerminationReason::TargetCostReached) => {
                Termination::TargetCost
            }
            TerminationStatus::Terminated(TerminationReason::MaxItersReached) => {
                Termination::IterationLimit
            }
            TerminationStatus::Terminated(TerminationReason::SolverExit(s)) => {
                Termination::SolverExit { reason: s.clone() }
            }
            TerminationStatus::Terminated(r) => Termination::Other {
                reason: r.text().to_string(),
            },
            TerminationStatus::NotTerminated => Termination::Other {
                reason: "not terminated".into(),
            },
        }
    }
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::Converged => f.write_str("converged"),
            Termination::TargetCost => f.write_str("target cost reached"),
            Termination::IterationLimit => f.write_str("iteration limit"),
            Termination::SolverExit { reason } | Termination::Other { reason } => {
                f.write_str(reason)
            }
        }
    }
}

/// What a solve did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// Final cost `½‖r‖²`.
    pub cost: f64,
    /// Iterations (accepted steps for LM).
    pub iterations: u64,
    /// Residual evaluations.
    pub evaluations: u64,
    /// Jacobian (or gradient) evaluations.
    pub jacobian_evaluations: u64,
    /// Why it stopped.
    pub termination: Termination,
    /// Whether it stopped on a convergence test (not on the iteration limit or a failure).
    pub converged: bool,
}

/// Runs a least-squares problem under the chosen optimiser inside argmin's `Executor`.
/// Returns the parameters, the report, and the Jacobian at the solution.
///
/// # Errors
/// [`FitError::Solver`] if the problem fails to evaluate or the solver rejects its input;
/// [`FitError::NotFinite`] if the result is not finite.
///
/// ```
/// use argmin::core::{Error, Jacobian, Operator};
/// use nalgebra::{Dyn, OMatrix, OVector, U1, Vector1};
/// use volfit::fit::{least_squares, Optimizer, SolveOptions};
/// // Fit x² = 2 with x ≥ 0 (a one-residual problem).
/// struct Sqrt2;
/// impl Operator for Sqrt2 {
///     type Param = Vector1<f64>;
///     type Output = OVector<f64, Dyn>;
///     fn apply(&self, p: &Vector1<f64>) -> Result<Self::Output, Error> { Ok(OVector::<f64, Dyn>::from_element(1, p[0] * p[0] - 2.0)) }
/// }
/// impl Jacobian for Sqrt2 {
///     type Param = Vector1<f64>;
///     type Jacobian = OMatrix<f64, Dyn, U1>;
///     fn jacobian(&self, p: &Vector1<f64>) -> Result<Self::Jacobian, Error> { Ok(OMatrix::<f64, Dyn, U1>::from_element(1, 2.0 * p[0])) }
/// }
/// for optimizer in [Optimizer::LevenbergMarquardt, Optimizer::Bfgs, Optimizer::Lbfgs] {
///     let opts = SolveOptions { optimizer, lower: vec![0.0], upper: vec![f64::INFINITY], ..SolveOptions::default() };
///     let (x, report, _) = least_squares(Sqrt2, Vector1::new(3.0), &opts).unwrap();
///     assert!((x[0] - 2f64.sqrt()).abs() < 1e-7, "{optimizer}: {x} {report:?}");
/// }
/// ```
pub fn least_squares<O, P, R, J>(
    problem: O,
    x0: P,
    opts: &SolveOptions,
) -> Result<(P, SolveReport, J), FitError>
where
    O: Operator<Param = P, Output = R> + Jacobian<Param = P, Jacobian = J>,
    P: ParamVector,
    R: ResidualVector,
    J: JacobianMatrix,
{
    let n = x0.len();
    let bound = |v: &[f64], i: usize, default: f64| v.get(i).copied().unwrap_or(default);
    match opts.optimizer {
        Optimizer::LevenbergMarquardt => {
            let mut solver = LevenbergMarquardt::new()
                .with_tolerances(opts.ftol, opts.xtol, opts.gtol)
                .with_kv(false);
            if !opts.lower.is_empty() || !opts.upper.is_empty() {
                let lo: Vec<f64> = (0..n)
                    .map(|i| bound(&opts.lower, i, f64::NEG_INFINITY))
                    .collect();
                let hi: Vec<f64> = (0..n)
                    .map(|i| bound(&opts.upper, i, f64::INFINITY))
                    .collect();
                solver = solver.with_bounds(&lo, &hi);
            }
            // Evaluation counts come from the problem wrapper (the state's per-iteration copy of
            // them would allocate).
            let res = Executor::new(problem, solver)
                .configure(|s| s.param(x0).max_iters(opts.max_iters))
                .timer(false)
                .run()
                .map_err(FitError::solver)?;
            let counts = &res.problem.counts;
            let (evaluations, jacobian_evaluations) = (
                counts.get("operator_count").copied().unwrap_or(0),
                counts.get("jacobian_count").copied().unwrap_or(0),
            );
            let mut state = res.state;
            let termination = Termination::of(&state.termination_status);
            let converged = termination.converged();
            let iterations = state.get_iter();
            let cost = state.get_cost();
            let jac = state
                .take_jacobian()
                .ok_or(FitError::NoSolution("no Jacobian in the final state"))?;
            let x = state
                .take_param()
                .ok_or(FitError::NoSolution("no parameters in the final state"))?;
            check_finite(&x, cost, iterations)?;
            Ok((
                x,
                SolveReport {
                    cost,
                    iterations,
                    evaluations,
                    jacobian_evaluations,
                    termination,
                    converged,
                },
                jac,
            ))
        }
        Optimizer::Bfgs | Optimizer::Lbfgs => {
            let maps: Vec<Map> = (0..n)
                .map(|i| {
                    Map::new(
                        bound(&opts.lower, i, f64::NEG_INFINITY),
                        bound(&opts.upper, i, f64::INFINITY),
                    )
                })
                .collect();
            let mut adapter = QuasiNewtonAdapter {
                inner: &problem,
                template: x0.clone(),
                maps,
                scale: vec![1.0; n],
            };
            adapter.set_scales(&x0).map_err(FitError::solver)?;
            let u0 = adapter.to_unconstrained(&x0);
            let ls = MoreThuenteLineSearch::new();
            let gtol = opts.gtol.max(1e-14);
            let ftol = opts.ftol.max(f64::EPSILON);
            let (u, iterations, status, counts) = if opts.optimizer == Optimizer::Bfgs {
                let solver = BFGS::new(ls)
                    .with_tolerance_grad(gtol)
                    .and_then(|s| s.with_tolerance_cost(ftol))
                    .map_err(FitError::solver)?;
                let eye: Vec<Vec<f64>> = (0..n)
                    .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
                    .collect();
                let res = Executor::new(adapter.clone(), solver)
                    .configure(|s| {
                        s.param(u0)
                            .inv_hessian(eye)
                            .max_iters(opts.max_iters)
                            .counting(true)
                    })
                    .timer(false)
                    .run()
                    .map_err(FitError::solver)?;
                let st = res.state;
                (
                    st.get_best_param().cloned(),
                    st.get_iter(),
                    st.termination_status.clone(),
                    st.get_func_counts().clone(),
                )
            } else {
                let solver = LBFGS::new(ls, 7)
                    .with_tolerance_grad(gtol)
                    .and_then(|s| s.with_tolerance_cost(ftol))
                    .map_err(FitError::solver)?;
                let res = Executor::new(adapter.clone(), solver)
                    .configure(|s| s.param(u0).max_iters(opts.max_iters).counting(true))
                    .timer(false)
                    .run()
                    .map_err(FitError::solver)?;
                let st = res.state;
                (
                    st.get_best_param().cloned(),
                    st.get_iter(),
                    st.termination_status.clone(),
                    st.get_func_counts().clone(),
                )
            };
            let u = u.ok_or(FitError::NoSolution("no parameters in the final state"))?;
            let x = adapter.to_param(&u);
            let r = problem.apply(&x).map_err(FitError::solver)?;
            let cost = 0.5 * r.as_slice().iter().map(|v| v * v).sum::<f64>();
            let jac = problem.jacobian(&x).map_err(FitError::solver)?;
            check_finite(&x, cost, iterations)?;
            let termination = Termination::of(&status);
            let converged = termination.converged();
            Ok((
                x,
                SolveReport {
                    cost,
                    iterations,
                    evaluations: counts.get("cost_count").copied().unwrap_or(0),
                    jacobian_evaluations: counts.get("gradient_count").copied().unwrap_or(0),
                    termination,
                    converged,
                },
                jac,
            ))
        }
    }
}

fn check_finite<P: ParamVector>(x: &P, cost: f64, iterations: u64) -> Result<(), FitError> {
    if x.as_slice().iter().all(|v| v.is_finite()) && cost.is_finite() {
        Ok(())
    } else {
        Err(FitError::NotFinite {
            iterations,
            reason: format!("parameters {:?}, cost {cost}", x.as_slice()),
        })
    }
}

/// Parameter covariance `s²·(JᵀJ)⁻¹` with `s² = 2·cost/(m − n)`, from the final Jacobian
/// (row-major `n × n`); `None` if `JᵀJ` is singular or `m ≤ n`.
///
/// ```
/// use nalgebra::DMatrix;
/// use volfit::fit::covariance;
/// // Straight line through 4 points: J = [1 x].
/// let j = DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0, 3.0]);
/// let cov = covariance(&j, 0.5 * 0.4, 4).unwrap(); // residual sum of squares 0.4
/// // s² = 0.4/2; (JᵀJ)⁻¹ = [[0.7, −0.3], [−0.3, 0.2]].
/// assert!((cov[0] - 0.2 * 0.7).abs() < 1e-14 && (cov[3] - 0.2 * 0.2).abs() < 1e-14);
/// ```
pub fn covariance<J: JacobianMatrix>(jacobian: &J, cost: f64, m: usize) -> Option<Vec<f64>> {
    let n = jacobian.ncols();
    if m <= n || jacobian.nrows() != m {
        return None;
    }
    let mut a = jacobian.as_col_major()[..m * n].to_vec();
    let (mut rdiag, mut beta, mut qtr) = (vec![0.0; n], vec![0.0; n], vec![0.0; m]);
    linalg::householder_qr(&mut a, m, n, &mut rdiag, &mut beta, &mut qtr);
    if rdiag.contains(&0.0) {
        return None;
    }
    // Rinv (upper triangular) by back substitution, column by column.
    let mut rinv = vec![0.0; n * n]; // row-major
    for c in 0..n {
        for i in (0..=c).rev() {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in i + 1..=c {
                s -= a[k * m + i] * rinv[k * n + c];
            }
            rinv[i * n + c] = s / rdiag[i];
        }
    }
    let s2 = 2.0 * cost / (m - n) as f64;
    let mut cov = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let v: f64 = (i.max(j)..n)
                .map(|k| rinv[i * n + k] * rinv[j * n + k])
                .sum();
            cov[i * n + j] = s2 * v;
        }
    }
    Some(cov)
}
