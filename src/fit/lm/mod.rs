//! Levenberg–Marquardt as an argmin [`Solver`].
//!
//! The method is Moré's trust-region form of Levenberg–Marquardt (J. J. Moré, *The
//! Levenberg–Marquardt algorithm: implementation and theory*, Numerical Analysis, LNM 630,
//! 1978 — MINPACK's `lmder`): at `x` with residuals `r` and Jacobian `J = QR`, the step `δ`
//! minimises `‖r + Jδ‖² + μ‖Dδ‖²` (solved on `R`, [`super::linalg`]) with the damping `μ`
//! chosen so that `‖Dδ‖` matches the trust radius `Δ` within 10% (`μ = 0`, the Gauss–Newton
//! step, whenever that step fits; otherwise Newton iterations on `1/‖Dδ(μ)‖ − 1/Δ`, §5).
//! `D_j = max over iterations of ‖J_{·j}‖` makes the method invariant to the units of each
//! parameter. With gain ratio `ρ = (F(x) − F(x+δ)) / (L(0) − L(δ))`: `ρ ≤ 1/4` shrinks `Δ`
//! (by a factor from the quadratic interpolation of the cost along `δ`, in `[0.1, 0.5]`),
//! `ρ ≥ 3/4` (or a Gauss–Newton step) sets `Δ = 2‖Dδ‖`; the step is taken if `ρ ≥ 10⁻⁴`. One
//! iteration ends on an accepted step (each trial costs one residual evaluation, counted by
//! argmin's `operator_count`). Choosing `μ` from a radius rather than updating it by a fixed
//! factor matters on ill-conditioned problems: a fixed small damping suppresses exactly the
//! long step along a narrow valley (NIST MGH10 from its first start: > 5 000 iterations with a
//! multiplicative damping update, 150 with the trust region).
//!
//! **Bounds** are handled by projection with an active set: components on a bound whose descent
//! direction points out of the box are held fixed (their Jacobian columns are dropped from the
//! step's least-squares problem), the step of the others is computed as usual, the trial point
//! is `clamp(x + δ)`, its predicted reduction is that of the projected step, and the gradient
//! test ignores the held components. (Projecting the full unconstrained step instead
//! zig-zags along an active bound: ~1 600 iterations on Rosenbrock with `x ≤ 0.5`.)
//! Projection (rather than a smooth reparametrisation such as `x = lo + (hi − lo)·logistic(u)`)
//! keeps the problem in its natural parameters: the Gauss–Newton geometry, the scaling, the
//! final Jacobian (for covariances) and the termination tests all stay those of the model,
//! and an optimum on a bound (e.g. `ρ = −1` in SVI) is reached exactly instead of
//! asymptotically with a vanishing derivative.
//!
//! **Termination** (MINPACK's tests, Moré 1978 §6): `ftol` — actual and predicted relative
//! reductions of the cost both below `ftol`; `xtol` — `‖Dδ‖ ≤ xtol·‖Dx‖`; `gtol` — the largest
//! cosine between `r` and a (free) column of `J` below `gtol`; a zero residual; or no decrease
//! after the damping grows past `1e16`. `max_iters` and timeouts come from argmin's
//! [`Executor`](argmin::core::Executor). The final Jacobian is left in the state
//! (`state.get_jacobian()`) for covariances and sensitivities ([`super::covariance`]).

mod damping;

use damping::norm;

use super::linalg::{householder_qr, r_times};
use super::views::{JacobianMatrix, ParamVector, ResidualVector};
use argmin::core::{
    Error, IterState, Jacobian, KV, Operator, Problem, Solver, TerminationReason, TerminationStatus,
};

/// Default tolerance of the three convergence tests (as MINPACK ports do: 30·ε).
pub const DEFAULT_TOL: f64 = 30.0 * f64::EPSILON;
/// Trials per iteration before the solver gives up on finding a decrease.
const MAX_TRIALS: u32 = 40;

/// Levenberg–Marquardt least squares (see the module doc for the algorithm).
///
/// ```
/// use argmin::core::{Executor, Jacobian, Operator, Error, State};
/// use nalgebra::{DVector, OMatrix, Dyn, U2, Vector2};
/// use volfit::fit::LevenbergMarquardt;
///
/// /// Fit y = a·exp(b·x) to exact data from a = 2, b = −0.5.
/// struct Exp { x: Vec<f64>, y: Vec<f64> }
/// impl Operator for Exp {
///     type Param = Vector2<f64>;
///     type Output = DVector<f64>;
///     fn apply(&self, p: &Vector2<f64>) -> Result<DVector<f64>, Error> {
///         Ok(DVector::from_iterator(self.x.len(), self.x.iter().zip(&self.y).map(|(x, y)| p[0] * (p[1] * x).exp() - y)))
///     }
/// }
/// impl Jacobian for Exp {
///     type Param = Vector2<f64>;
///     type Jacobian = OMatrix<f64, Dyn, U2>;
///     fn jacobian(&self, p: &Vector2<f64>) -> Result<Self::Jacobian, Error> {
///         Ok(OMatrix::<f64, Dyn, U2>::from_fn(self.x.len(), |i, j| {
///             let e = (p[1] * self.x[i]).exp();
///             if j == 0 { e } else { p[0] * self.x[i] * e }
///         }))
///     }
/// }
/// let x: Vec<f64> = (0..20).map(|i| 0.25 * f64::from(i)).collect();
/// let y = x.iter().map(|x| 2.0 * (-0.5 * x).exp()).collect();
/// let res = Executor::new(Exp { x, y }, LevenbergMarquardt::new())
///     .configure(|s| s.param(Vector2::new(1.0, 0.0)).max_iters(100))
///     .run()?;
/// let p = res.state.get_best_param().unwrap();
/// assert!((p[0] - 2.0).abs() < 1e-12 && (p[1] + 0.5).abs() < 1e-12);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LevenbergMarquardt {
    ftol: f64,
    xtol: f64,
    gtol: f64,
    initial_radius_factor: f64,
    lower: Vec<f64>,
    upper: Vec<f64>,
    emit_kv: bool,
    mu: f64,
    radius: f64,
    finished: Option<TerminationReason>,
    ws: Workspace,
}

/// Buffers sized at `init` and reused by every iteration.
#[derive(Debug, Clone, Default)]
struct Workspace {
    m: usize,
    n: usize,
    qr: Vec<f64>,
    rdiag: Vec<f64>,
    beta: Vec<f64>,
    qtr: Vec<f64>,
    diag: Vec<f64>,
    grad: Vec<f64>,
    s: Vec<f64>,
    w: Vec<f64>,
    zz: Vec<f64>,
    delta: Vec<f64>,
    rdelta: Vec<f64>,
    cnorm: Vec<f64>,
    active: Vec<bool>,
    /// The rows of `J` in the factorisation (see `next_iter`), and how many.
    rows: Vec<usize>,
    mq: usize,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        Self::new()
    }
}

impl LevenbergMarquardt {
    /// A solver with tolerances `30·ε`, initial trust radius `100·‖D·x₀‖` (MINPACK's
    /// `factor`), no bounds, and argmin key–value diagnostics on.
    pub fn new() -> Self {
        LevenbergMarquardt {
            ftol: DEFAULT_TOL,
            xtol: DEFAULT_TOL,
            gtol: DEFAULT_TOL,
            initial_radius_factor: 100.0,
            lower: Vec::new(),
            upper: Vec::new(),
            emit_kv: true,
            mu: 0.0,
            radius: 0.0,
            finished: None,
            ws: Workspace::default(),
        }
    }

    /// Sets the three convergence tolerances (`ftol`, `xtol`, `gtol`).
    #[must_use]
    pub fn with_tolerances(mut self, ftol: f64, xtol: f64, gtol: f64) -> Self {
        self.ftol = ftol.max(0.0);
        self.xtol = xtol.max(0.0);
        self.gtol = gtol.max(0.0);
        self
    }

    /// Sets the initial trust radius as a multiple of `‖D·x₀‖` (default 100, MINPACK's
    /// `factor`; smaller is more cautious from a poor start).
    #[must_use]
    pub fn with_initial_radius_factor(mut self, factor: f64) -> Self {
        self.initial_radius_factor = factor.max(f64::MIN_POSITIVE);
        self
    }

    /// Box bounds `lower ≤ x ≤ upper` (use `±∞` for unbounded components), enforced by
    /// projection.
    #[must_use]
    pub fn with_bounds(mut self, lower: &[f64], upper: &[f64]) -> Self {
        self.lower = lower.to_vec();
        self.upper = upper.to_vec();
        self
    }

    /// Whether `next_iter` returns argmin key–value diagnostics (`mu`, `trials`, `gain`) for
    /// observers. On by default; off saves one small allocation per iteration.
    #[must_use]
    pub fn with_kv(mut self, emit: bool) -> Self {
        self.emit_kv = emit;
        self
    }

    fn project(&self, x: &mut [f64]) {
        for (i, v) in x.iter_mut().enumerate() {
            if let Some(&lo) = self.lower.get(i) {
                *v = v.max(lo);
            }
            if let Some(&hi) = self.upper.get(i) {
                *v = v.min(hi);
            }
        }
    }

    /// The current damping `μ` (for diagnostics).
    pub fn damping(&self) -> f64 {
        self.mu
    }
}

impl<O, P, R, J> Solver<O, IterState<P, (), J, (), R, f64>> for LevenbergMarquardt
where
    O: Operator<Param = P, Output = R> + Jacobian<Param = P, Jacobian = J>,
    P: ParamVector,
    R: ResidualVector,
    J: JacobianMatrix,
{
    fn name(&self) -> &'static str {
        "Levenberg-Marquardt"
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        mut state: IterState<P, (), J, (), R, f64>,
    ) -> Result<(IterState<P, (), J, (), R, f64>, Option<KV>), Error> {
        let mut x = state.take_param().ok_or_else(|| {
            argmin::core::ArgminError::NotInitialized {
                text: "LevenbergMarquardt needs an initial parameter vector: configure(|s| s.param(x0))".into(),
            }
        })?;
        let n = x.len();
        if (!self.lower.is_empty() && self.lower.len() != n)
            || (!self.upper.is_empty() && self.upper.len() != n)
        {
            return Err(argmin::core::ArgminError::InvalidParameter {
                text: format!(
                    "bounds have {} and {} components for {n} parameters",
                    self.lower.len(),
                    self.upper.len()
                ),
            }
            .into());
        }
        self.project(x.as_mut_slice());
        let r = problem.apply(&x)?;
        let m = r.as_slice().len();
        if n == 0 || m < n {
            return Err(argmin::core::ArgminError::InvalidParameter {
                text: format!("least squares needs 0 < parameters ≤ residuals, got {n} parameters and {m} residuals"),
            }
            .into());
        }
        let jac = problem.jacobian(&x)?;
        let cost = 0.5 * r.as_slice().iter().map(|v| v * v).sum::<f64>();
        self.ws = Workspace {
            m,
            n,
            qr: vec![0.0; m * n],
            rdiag: vec![0.0; n],
            beta: vec![0.0; n],
            qtr: vec![0.0; m],
            diag: vec![0.0; n],
            grad: vec![0.0; n],
            s: vec![0.0; n * n],
            w: vec![0.0; n],
            zz: vec![0.0; n],
            delta: vec![0.0; n],
            rdelta: vec![0.0; n],
            cnorm: vec![0.0; n],
            active: vec![false; n],
            rows: vec![0; m],
            mq: m,
        };
        self.mu = 0.0;
        self.radius = 0.0; // set from ‖D·x₀‖ at the first iteration, once D is known
        self.finished = if cost.is_finite() {
            None
        } else {
            Some(TerminationReason::SolverExit(
                "residuals at the initial point are not finite".into(),
            ))
        };
        Ok((state.param(x).residuals(r).jacobian(jac).cost(cost), None))
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        mut state: IterState<P, (), J, (), R, f64>,
    ) -> Result<(IterState<P, (), J, (), R, f64>, Option<KV>), Error> {
        let x = state.take_param().expect("param set in init");
        let r = state.take_residuals().expect("residuals set in init");
        let jac = state.take_jacobian().expect("jacobian set in init");
        let cost = state.get_cost();
        let (m, n) = (self.ws.m, self.ws.n);
        if jac.nrows() != m || jac.ncols() != n || r.as_slice().len() != m {
            return Err(argmin::core::ArgminError::InvalidParameter {
                text: format!(
                    "Jacobian {}×{} or residuals {} do not match {m}×{n}",
                    jac.nrows(),
                    jac.ncols(),
                    r.as_slice().len()
                ),
            }
            .into());
        }
        let ws = &mut self.ws;
        let a = &jac.as_col_major()[..m * n];
        let rs = r.as_slice();
        // Column scaling from the column norms; the gradient Jᵀr; the active set: components on
        // a bound whose descent direction −g points out of the box. Active columns are zeroed
        // in the factorised copy, which makes their step exactly 0 (their only equation is the
        // damping row) and the others the step of the reduced problem.
        let xs = x.as_slice();
        for j in 0..n {
            let col = &a[j * m..(j + 1) * m];
            let c = norm(col);
            ws.cnorm[j] = c;
            ws.diag[j] = ws.diag[j].max(c);
            if ws.diag[j] == 0.0 {
                ws.diag[j] = 1.0;
            }
            let g: f64 = col.iter().zip(rs).map(|(p, q)| p * q).sum();
            ws.grad[j] = g;
            let at_lower = self.lower.get(j).is_some_and(|&lo| xs[j] <= lo && g > 0.0);
            let at_upper = self.upper.get(j).is_some_and(|&hi| xs[j] >= hi && g < 0.0);
            ws.active[j] = at_lower || at_upper;
        }
        // A row of J that is zero in every free column only adds the constant rᵢ² to
        // ‖Jδ + r‖²: the factorisation leaves it out (exact: JᵀJ and Jᵀr are unchanged, so R
        // and (Qᵀr)[..n] are, up to signs). Inactive penalty rows are such rows.
        let mut mq = 0;
        for i in 0..m {
            if (0..n).any(|j| !ws.active[j] && a[j * m + i] != 0.0) {
                ws.rows[mq] = i;
                mq += 1;
            }
        }
        if mq < n {
            mq = m;
            for (i, r) in ws.rows.iter_mut().enumerate() {
                *r = i;
            }
        }
        ws.mq = mq;
        for j in 0..n {
            let (src, dst) = (&a[j * m..(j + 1) * m], &mut ws.qr[j * mq..(j + 1) * mq]);
            if ws.active[j] {
                dst.fill(0.0);
            } else {
                for (d, &i) in dst.iter_mut().zip(&ws.rows[..mq]) {
                    *d = src[i];
                }
            }
        }
        for (q, &i) in ws.qtr[..mq].iter_mut().zip(&ws.rows[..mq]) {
            *q = rs[i];
        }
        householder_qr(&mut ws.qr, mq, n, &mut ws.rdiag, &mut ws.beta, &mut ws.qtr);

        // Zero residual or gradient test (projected gradient, cosines with r).
        let rnorm = (2.0 * cost).sqrt();
        if rnorm == 0.0 {
            self.finished = Some(TerminationReason::SolverConverged);
            return Ok((state.param(x).residuals(r).jacobian(jac).cost(cost), None));
        }
        let mut gmax: f64 = 0.0;
        for j in 0..n {
            let g = ws.grad[j];
            if ws.active[j] {
                continue;
            }
            let cn = ws.cnorm[j];
            if cn > 0.0 {
                gmax = gmax.max(g.abs() / (cn * rnorm));
            }
        }
        if gmax <= self.gtol {
            self.finished = Some(TerminationReason::SolverConverged);
            return Ok((state.param(x).residuals(r).jacobian(jac).cost(cost), None));
        }

        let xs = x.as_slice();
        let xnorm = xs
            .iter()
            .zip(&ws.diag)
            .map(|(x, d)| (x * d) * (x * d))
            .sum::<f64>()
            .sqrt();
        let first_iteration = self.radius == 0.0;
        if first_iteration {
            self.radius = self.initial_radius_factor * if xnorm > 0.0 { xnorm } else { 1.0 };
        }
        let mut trials: u32 = 0;
        let mut x_new = x.clone();
        loop {
            trials += 1;
            self.mu = self.lm_parameter(self.ws.mq, n);
            let ws = &mut self.ws;
            let pnorm_unprojected = ws
                .delta
                .iter()
                .zip(&ws.diag)
                .map(|(d, s)| (d * s) * (d * s))
                .sum::<f64>()
                .sqrt();
            // Projected trial point and the step actually taken.
            for ((xn, xo), d) in x_new
                .as_mut_slice()
                .iter_mut()
                .zip(x.as_slice())
                .zip(&ws.delta)
            {
                *xn = xo + d;
            }
            self.project(x_new.as_mut_slice());
            let ws = &mut self.ws;
            for j in 0..n {
                ws.delta[j] = x_new.as_slice()[j] - x.as_slice()[j];
            }
            let dnorm = ws
                .delta
                .iter()
                .zip(&ws.diag)
                .map(|(d, s)| (d * s) * (d * s))
                .sum::<f64>()
                .sqrt();
            if dnorm <= self.xtol * xnorm.max(f64::MIN_POSITIVE) {
                self.finished = Some(TerminationReason::SolverConverged);
                return Ok((state.param(x).residuals(r).jacobian(jac).cost(cost), None));
            }
            if trials == 1 && first_iteration {
                // On the first iteration the radius is not larger than the first step.
                self.radius = self.radius.min(pnorm_unprojected.max(dnorm));
            }
            // Predicted reduction of ½‖r + Jδ‖²: −(Rᵀz)ᵀδ − ½‖Rδ‖² = −zᵀ(Rδ) − ½‖Rδ‖².
            r_times(&ws.qr, ws.mq, n, &ws.rdiag, &ws.delta, &mut ws.rdelta);
            let zr: f64 = ws.qtr[..n].iter().zip(&ws.rdelta).map(|(a, b)| a * b).sum();
            let pred = -zr - 0.5 * ws.rdelta.iter().map(|v| v * v).sum::<f64>();
            let (rho, r_new, cost_new) = if pred > 0.0 {
                let r_new = problem.apply(&x_new)?;
                let cost_new = 0.5 * r_new.as_slice().iter().map(|v| v * v).sum::<f64>();
                let rho = if cost_new.is_finite() {
                    (cost - cost_new) / pred
                } else {
                    -1.0
                };
                (rho, Some(r_new), cost_new)
            } else {
                (-1.0, None, f64::INFINITY)
            };
            // Radius update (Moré 1978, §6; MINPACK lmder).
            if rho <= 0.25 {
                let actual = cost - cost_new;
                // Slope of ‖r‖² along δ at the LM step: −(‖Jδ‖² + μ‖Dδ‖²) = −(2·pred − μ‖Dδ‖²).
                let dirder = -(2.0 * pred - self.mu * dnorm * dnorm);
                let mut temp = if actual >= 0.0 || !cost_new.is_finite() {
                    0.5
                } else {
                    // Minimiser of the quadratic through ‖r‖², its slope and ‖r_new‖² along δ.
                    0.5 * dirder / (dirder + actual)
                };
                if cost_new >= 100.0 * cost || !(temp >= 0.1) {
                    temp = 0.1;
                }
                self.radius = temp * self.radius.min(dnorm / 0.1);
                self.mu /= temp;
            } else if self.mu == 0.0 || rho >= 0.75 {
                self.radius = 2.0 * dnorm;
                self.mu *= 0.5;
            }
            if rho >= 1e-4 {
                let r_new = r_new.expect("evaluated");
                let actual = cost - cost_new;
                if actual <= self.ftol * cost && pred <= self.ftol * cost && rho <= 2.0 {
                    self.finished = Some(TerminationReason::SolverConverged);
                }
                let jac_new = problem.jacobian(&x_new)?;
                let kv = self.emit_kv.then(|| {
                    argmin::kv!("mu" => self.mu; "radius" => self.radius; "trials" => f64::from(trials); "gain" => rho;)
                });
                return Ok((
                    state
                        .param(x_new)
                        .residuals(r_new)
                        .jacobian(jac_new)
                        .cost(cost_new),
                    kv,
                ));
            }
            if self.radius <= self.xtol * xnorm || trials >= MAX_TRIALS {
                self.finished = Some(if self.radius <= self.xtol * xnorm {
                    TerminationReason::SolverConverged
                } else {
                    TerminationReason::SolverExit(format!(
                        "no decrease of the cost after {trials} trials"
                    ))
                });
                return Ok((state.param(x).residuals(r).jacobian(jac).cost(cost), None));
            }
        }
    }

    fn terminate(&mut self, _state: &IterState<P, (), J, (), R, f64>) -> TerminationStatus {
        match &self.finished {
            Some(reason) => TerminationStatus::Terminated(reason.clone()),
            None => TerminationStatus::NotTerminated,
        }
    }
}
