//! Vega by input quote: the sensitivity of a position's value to each quoted mid vol,
//! *through the fit*, so a book can be hedged with the options that were quoted.
//!
//! **The fitted slice as a function of its quotes.** A slice's parameters `θ*` minimise
//! `½‖r(θ, m)‖²` over the fitter's rows ([`crate::fit::smile::objective_rows`]: one per quote,
//! `√wᵢ·(σ(kᵢ; θ) − mᵢ)` under [`Objective::Vol`], then the model's regularisation rows and
//! its no-arbitrage penalty rows), with `m` the quotes' mid vols. At the optimum
//! `G(θ*, m) = J(θ*)ᵀ r(θ*, m) = 0`, so by the implicit-function theorem
//! `dθ*/dm = −(∂G/∂θ)⁻¹ ∂G/∂m` with `∂G/∂m = Jᵀ ∂r/∂m` (`∂rᵢ/∂mᵢ = −√wᵢ`, times the mid
//! weight under [`Objective::BidAsk`] inside a quote's spread) and
//! `∂G/∂θ = JᵀJ + Σⱼ rⱼ ∇²rⱼ`. [`Hessian::Full`] (the default) keeps the second-order term,
//! by central differences of `G` built on the analytic Jacobian; [`Hessian::GaussNewton`]
//! drops it. Parameters at an active bound stay put (their rows and columns are removed); a
//! model's fixed parameters are not free parameters at all. (The sensitivity of an
//! M-estimator's solution to its data: e.g. Nocedal & Wright, *Numerical Optimization*,
//! 2nd ed., 2006, §12 on sensitivity of solutions, and the implicit-function theorem there,
//! Theorem A.2.)
//!
//! **The spline smile is fitted in two stages**: its SVI base `β*(m)` first, then the
//! correction `c*(m, β*)` on top of it with the base held fixed. Both stages are chained
//! ([`SensitivityOptions::chain_base`], on by default):
//! `dc/dm = −H_c⁻¹ (∂G_c/∂m + ∂G_c/∂β · dβ/dm)`, the cross term `∂G_c/∂β` by central
//! differences of `G_c` with the spline's context rebuilt on a bumped base, and the served
//! `w(k) = w_base(k; β) + correction(k; c)` moves by both `∂w/∂c·dc/dm` and `∂w/∂β·dβ/dm`.
//! With `chain_base` off the base is held fixed (only the correction's response).
//!
//! **What is left out**, stated: the penalty rows are weighted by
//! [`crate::fit::smile::FIRST_PENALTY`] (a fit whose first polish ended outside the
//! no-arbitrage domain was stiffened ×100 and its weight is not recorded); a fit that ran the
//! model's post-fit repair is not at a stationary point and is refused
//! ([`QuoteVegaError::NotStationary`]); the data-derived constants of a fit's context (the
//! spline's roughness scale from the mean squared mid, the `w` floor `10⁻³·min w`) are held
//! at their values. The tests measure the result against finite differences of the full
//! refit.
//!
//! **Positions**: at a quoted expiry only ([`QuoteVegaError::NotQuotedExpiry`]). An option
//! `(kind, K, T)` is priced undiscounted with Black-76 at the slice's forward and its fitted
//! vol, as in [`crate::risk::greeks`], and `∂V/∂mᵢ = B_σ · ∂σ(k)/∂mᵢ`,
//! `∂σ/∂mᵢ = (∂w(k)/∂mᵢ)/(2σT)`: the *fitted* smile's response. Where a
//! [`crate::surface::FittedSurface`] serves something else at that strike (the calendar
//! envelope lifting the slice, a calendar repair, wings beyond the quoted range), the number
//! is still the fitted slice's sensitivity, not the served surface's; between expiries the
//! surface interpolates, and those options are not covered here. Beyond the quotes the fitted
//! model's own wings respond (SVI's asymptotes; the spline's correction fades to its base).
//!
//! A vega here is per 1.00 (100 vol points) of that quote's mid vol, in the quote currency,
//! like [`crate::risk::greeks`]'s vega; the sum over a slice's quotes is the response to a
//! parallel shift of all its mids, close to the position's surface vega `B_σ` where the fit
//! passes through the quotes.
//!
//! ```
//! use volfit::black::OptionKind;
//! use volfit::fit::{FitOptions, fit_svi};
//! use volfit::models::svi::Svi;
//! use volfit::risk::greeks::Position;
//! use volfit::risk::quote_vega::{SensitivityOptions, SliceSensitivity, quote_vegas};
//! use volfit::surface::SliceModel;
//! use volfit::SmileSlice;
//! // A noisy SVI smile: the fit does not pass through the quotes.
//! let truth = Svi::new(0.02, 0.2, -0.5, 0.05, 0.15)?;
//! let t = 0.5;
//! let quotes: Vec<(f64, f64)> = (-10..=10).map(|i| {
//!     let k = 0.06 * f64::from(i);
//!     let noise = 0.002 * f64::from((i * 7) % 3 - 1);
//!     (100.0 * f64::exp(k), (truth.w(k) / t).sqrt() + noise)
//! }).collect();
//! let slice = SmileSlice::from_vols(t, 100.0, &quotes)?;
//! let opts = FitOptions::default();
//! let fit = fit_svi(&slice, &opts)?;
//! let sens = SliceSensitivity::new(&slice, &opts, &SliceModel::Svi(fit.model), &SensitivityOptions::default())?;
//! let atm = Position { kind: OptionKind::Call, strike: 100.0, t, quantity: 1.0 };
//! let vegas = quote_vegas(&sens, &atm)?;
//! assert_eq!(vegas.len(), 21);
//! // The quotes near the money carry the vega; the sum is close to the Black vega.
//! let sum: f64 = vegas.iter().map(|q| q.vega).sum();
//! let black = volfit::black::black_greeks(OptionKind::Call, 100.0, 100.0, t, sens.vol(0.0).unwrap()).vega;
//! assert!((sum / black - 1.0).abs() < 0.05);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::black::{OptionKind, black_greeks};
use crate::fit::smile::{FIRST_PENALTY, objective_rows};
use crate::fit::{FitError, FitOptions};
use crate::models::Calibrate;
use crate::models::spline::{SplineOptions, SplineSmile};
use crate::models::svi::Svi;
use crate::risk::greeks::Position;
use crate::slice::{Objective, Points, SmileSlice};
use crate::surface::SliceModel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which `∂G/∂θ` the implicit-function theorem inverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hessian {
    /// `JᵀJ + Σⱼ rⱼ∇²rⱼ`: the second-order term by central differences of `Jᵀr` (exact
    /// for the fit's optimality condition; the default).
    #[default]
    Full,
    /// `JᵀJ` only (exact when the fit passes through the quotes).
    GaussNewton,
}

/// Options of a [`SliceSensitivity`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SensitivityOptions {
    /// Which Hessian.
    pub hessian: Hessian,
    /// Spline smiles: chain the SVI base's response into the correction's (see the
    /// [module docs](self)); off holds the base fixed.
    pub chain_base: bool,
    /// Weight of the penalty rows (the fitter's first weight by default).
    pub penalty: f64,
}

impl Default for SensitivityOptions {
    fn default() -> Self {
        SensitivityOptions {
            hessian: Hessian::Full,
            chain_base: true,
            penalty: FIRST_PENALTY,
        }
    }
}

/// Why quote vegas cannot be computed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteVegaError {
    /// The fit's rows or context could not be evaluated.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// The model is not one this module differentiates.
    #[error("quote vegas need an SVI or spline slice, got {0}")]
    Unsupported(&'static str),
    /// `∂G/∂θ` is singular on the free parameters: the quotes do not determine them.
    #[error(
        "expiry t = {t:.6}: the fit's Hessian is singular (the quotes do not determine its {model} parameters)"
    )]
    Singular {
        /// Time to expiry.
        t: f64,
        /// The model (stage) whose Hessian failed.
        model: &'static str,
    },
    /// The slice model does not match a fit of these quotes (other knots, a repair).
    #[error("expiry t = {t:.6}: {reason}")]
    NotStationary {
        /// Time to expiry.
        t: f64,
        /// Why.
        reason: String,
    },
    /// The position's expiry is not a quoted expiry of the slices given.
    #[error("no fitted slice at t = {t:.6}: quote vegas are computed at quoted expiries only")]
    NotQuotedExpiry {
        /// The position's time to expiry.
        t: f64,
    },
    /// The fitted smile has no vol or price at the position's strike.
    #[error("no vol at strike {strike} (t = {t:.6})")]
    NoVol {
        /// Strike.
        strike: f64,
        /// Time to expiry.
        t: f64,
    },
}

/// One quote's share of a position's vega.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuoteVega {
    /// The quote's expiry (when the slice has one).
    pub expiry: Option<DateTime<Utc>>,
    /// Its time to expiry (years).
    pub t: f64,
    /// Its strike.
    pub strike: f64,
    /// The quoted option's kind.
    pub kind: OptionKind,
    /// Its line in the input file, when known.
    pub line: Option<u64>,
    /// `∂V/∂mᵢ` per 1.00 of this quote's mid vol (quote currency, undiscounted).
    pub vega: f64,
}

/// The sensitivity of one fitted slice to its quotes' mid vols (`dθ*/dm`; see the
/// [module docs](self)), ready to give any option's quote vegas at that expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceSensitivity {
    points: Points,
    opts: FitOptions,
    sens: SensitivityOptions,
    expiry: Option<DateTime<Utc>>,
    quotes: Vec<(f64, OptionKind, Option<u64>)>,
    smile: SliceModel,
    /// `dθ/dmᵢ` of the final stage's free parameters, `[j * nq + i]`.
    dx: Vec<f64>,
    /// Spline: `dβ/dmᵢ` of the base's free parameters, `[j * nq + i]`.
    dbase: Vec<f64>,
    /// Largest `|Gⱼ|/(‖J_j‖·‖r‖)` over the free parameters (0 at an exact optimum).
    stationarity: f64,
}

/// `∂rᵢ/∂mᵢ` of quote row `i`.
fn dr_dmid(data: &Points, i: usize, objective: Objective) -> f64 {
    let sw = data.sqrt_w()[i];
    match objective {
        Objective::BidAsk { mid_weight }
            if data.bid()[i].is_finite() && data.ask()[i].is_finite() =>
        {
            -sw * mid_weight
        }
        Objective::Vol | Objective::BidAsk { .. } => -sw,
    }
}

/// The first-order system of one stage at its optimum.
struct Stage {
    n: usize,
    /// `∂G/∂θ`, row-major `n × n`.
    h: Vec<f64>,
    /// `Jᵀ ∂r/∂m`, `[j * nq + i]`.
    gm: Vec<f64>,
    /// Free (not at an active bound).
    free: Vec<bool>,
    stationarity: f64,
}

/// `G = Jᵀr` of model `M` at `x`.
fn gradient<M: Calibrate>(
    data: &Points,
    ctx: &M::Context,
    opts: &FitOptions,
    x: &[f64],
    penalty: f64,
) -> Result<Vec<f64>, FitError> {
    let rows = objective_rows::<M>(data, ctx, opts, x, penalty)?;
    let m = rows.n_rows;
    Ok((0..x.len())
        .map(|j| {
            rows.jacobian[j * m..(j + 1) * m]
                .iter()
                .zip(&rows.residuals)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect())
}

/// Central-difference step for parameter value `v`.
fn step(v: f64) -> f64 {
    1e-5 * v.abs().max(1e-2)
}

fn stage<M: Calibrate>(
    data: &Points,
    ctx: &M::Context,
    model: &M,
    opts: &FitOptions,
    sens: &SensitivityOptions,
) -> Result<(Vec<f64>, Stage), FitError> {
    let n = M::n_free(ctx);
    let nq = data.len();
    let mut x = vec![0.0; n];
    model.to_free(ctx, &mut x);
    let (mut lo, mut hi) = (vec![0.0; n], vec![0.0; n]);
    M::bounds(ctx, model, &mut lo, &mut hi);
    let rows = objective_rows::<M>(data, ctx, opts, &x, sens.penalty)?;
    let m = rows.n_rows;
    let col = |j: usize| &rows.jacobian[j * m..(j + 1) * m];
    let g: Vec<f64> = (0..n)
        .map(|j| col(j).iter().zip(&rows.residuals).map(|(a, b)| a * b).sum())
        .collect();
    let rnorm = rows.residuals.iter().map(|v| v * v).sum::<f64>().sqrt();
    // Active bounds: on the bound with the descent direction pointing out (the LM solver's
    // test).
    let free: Vec<bool> = (0..n)
        .map(|j| !((x[j] <= lo[j] && g[j] > 0.0) || (x[j] >= hi[j] && g[j] < 0.0)))
        .collect();
    let mut stationarity: f64 = 0.0;
    for j in (0..n).filter(|&j| free[j]) {
        let c = col(j).iter().map(|v| v * v).sum::<f64>().sqrt();
        if c > 0.0 && rnorm > 0.0 {
            stationarity = stationarity.max(g[j].abs() / (c * rnorm));
        }
    }
    let mut h = vec![0.0; n * n];
    match sens.hessian {
        Hessian::GaussNewton => {
            for a in 0..n {
                for b in 0..n {
                    h[a * n + b] = col(a).iter().zip(col(b)).map(|(p, q)| p * q).sum();
                }
            }
        }
        Hessian::Full => {
            for b in (0..n).filter(|&b| free[b]) {
                let e = step(x[b]);
                let mut xp = x.clone();
                xp[b] += e;
                let gp = gradient::<M>(data, ctx, opts, &xp, sens.penalty)?;
                xp[b] = x[b] - e;
                let gm = gradient::<M>(data, ctx, opts, &xp, sens.penalty)?;
                for a in 0..n {
                    h[a * n + b] = (gp[a] - gm[a]) / (2.0 * e);
                }
            }
            for a in 0..n {
                for b in 0..a {
                    let s = 0.5 * (h[a * n + b] + h[b * n + a]);
                    h[a * n + b] = s;
                    h[b * n + a] = s;
                }
            }
        }
    }
    let mut gm = vec![0.0; n * nq];
    for j in 0..n {
        for i in 0..nq {
            gm[j * nq + i] = col(j)[i] * dr_dmid(data, i, opts.objective);
        }
    }
    Ok((
        x,
        Stage {
            n,
            h,
            gm,
            free,
            stationarity,
        },
    ))
}

/// Solves `H_FF X = −B_F` for the free rows `F` and `nq` right-hand sides (`B` is
/// `[j * nq + i]`), by Gaussian elimination with partial pivoting; fixed rows get 0. `None`
/// when `H_FF` is singular.
fn solve_free(st: &Stage, b: &[f64], nq: usize) -> Option<Vec<f64>> {
    let idx: Vec<usize> = (0..st.n).filter(|&j| st.free[j]).collect();
    let f = idx.len();
    let mut a: Vec<f64> = Vec::with_capacity(f * f);
    for &p in &idx {
        for &q in &idx {
            a.push(st.h[p * st.n + q]);
        }
    }
    let mut rhs: Vec<f64> = Vec::with_capacity(f * nq);
    for &p in &idx {
        rhs.extend(b[p * nq..(p + 1) * nq].iter().map(|v| -v));
    }
    let scale = a.iter().fold(0.0_f64, |s, v| s.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    for c in 0..f {
        let piv = (c..f).max_by(|&i, &j| a[i * f + c].abs().total_cmp(&a[j * f + c].abs()))?;
        if a[piv * f + c].abs() <= 1e-14 * scale {
            return None;
        }
        if piv != c {
            for k in 0..f {
                a.swap(piv * f + k, c * f + k);
            }
            for k in 0..nq {
                rhs.swap(piv * nq + k, c * nq + k);
            }
        }
        for r in c + 1..f {
            let l = a[r * f + c] / a[c * f + c];
            if l != 0.0 {
                for k in c..f {
                    a[r * f + k] -= l * a[c * f + k];
                }
                for k in 0..nq {
                    rhs[r * nq + k] -= l * rhs[c * nq + k];
                }
            }
        }
    }
    for c in (0..f).rev() {
        for k in 0..nq {
            let mut v = rhs[c * nq + k];
            for q in c + 1..f {
                v -= a[c * f + q] * rhs[q * nq + k];
            }
            rhs[c * nq + k] = v / a[c * f + c];
        }
    }
    let mut out = vec![0.0; st.n * nq];
    for (r, &p) in idx.iter().enumerate() {
        out[p * nq..(p + 1) * nq].copy_from_slice(&rhs[r * nq..(r + 1) * nq]);
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The spline's options with base `base`.
fn spline_options(opts: &FitOptions, base: Svi) -> SplineOptions {
    SplineOptions {
        base: Some(base),
        ..opts.spline
    }
}

impl SliceSensitivity {
    /// The sensitivity of `model`, fitted to `slice` under `opts` (by [`crate::fit::fit_svi`],
    /// [`crate::fit::fit_spline`] or a surface fit's per-expiry stage), to the slice's mid
    /// vols.
    ///
    /// # Errors
    /// [`QuoteVegaError::Unsupported`] for models other than SVI and the spline;
    /// [`QuoteVegaError::NotStationary`] when the spline's knots are not those a fit of these
    /// quotes places; [`QuoteVegaError::Singular`] when the quotes do not determine the
    /// parameters; [`QuoteVegaError::Fit`] when a context or the rows cannot be built.
    pub fn new(
        slice: &SmileSlice,
        opts: &FitOptions,
        model: &SliceModel,
        sens: &SensitivityOptions,
    ) -> Result<SliceSensitivity, QuoteVegaError> {
        let points = Points::new(slice);
        let quotes = slice
            .points()
            .iter()
            .map(|p| (p.strike(), p.kind(), p.line()))
            .collect();
        let nq = points.len();
        let t = slice.t();
        let (smile, dx, dbase, stationarity) = match model {
            SliceModel::Svi(svi) => {
                let ctx = Svi::context(&points, &()).map_err(FitError::from)?;
                let (_, st) = stage::<Svi>(&points, &ctx, svi, opts, sens)?;
                let dx = solve_free(&st, &st.gm, nq)
                    .ok_or(QuoteVegaError::Singular { t, model: "SVI" })?;
                (SliceModel::Svi(*svi), dx, Vec::new(), st.stationarity)
            }
            SliceModel::Spline(sp) => {
                let base = *sp.base();
                let bctx = Svi::context(&points, &()).map_err(FitError::from)?;
                let (xb, sb) = stage::<Svi>(&points, &bctx, &base, opts, sens)?;
                let dbase = solve_free(&sb, &sb.gm, nq).ok_or(QuoteVegaError::Singular {
                    t,
                    model: "SVI base",
                })?;
                let ctx = SplineSmile::context(&points, &spline_options(opts, base))
                    .map_err(FitError::from)?;
                let rebuilt = SplineSmile::from_free(sp.coefs(), &ctx);
                if rebuilt.as_ref().map(SplineSmile::knots) != Some(sp.knots()) {
                    return Err(QuoteVegaError::NotStationary {
                        t,
                        reason: "the spline's knots are not those a fit of these quotes places"
                            .into(),
                    });
                }
                let (xc, mut sc) = stage::<SplineSmile>(&points, &ctx, sp, opts, sens)?;
                if sens.chain_base {
                    // ∂G_c/∂β · dβ/dm, the cross term by central differences of G_c in β.
                    for (b, &xbb) in xb.iter().enumerate() {
                        if !sb.free[b] {
                            continue;
                        }
                        let e = step(xbb);
                        let mut g = [Vec::new(), Vec::new()];
                        for (s, sign) in [1.0, -1.0].into_iter().enumerate() {
                            let mut xp = xb.clone();
                            xp[b] += sign * e;
                            let bb = Svi::from_free(&xp, &bctx).ok_or_else(|| {
                                QuoteVegaError::NotStationary {
                                    t,
                                    reason: "a bumped SVI base gives no model".into(),
                                }
                            })?;
                            let cx = SplineSmile::context(&points, &spline_options(opts, bb))
                                .map_err(FitError::from)?;
                            g[s] = gradient::<SplineSmile>(&points, &cx, opts, &xc, sens.penalty)?;
                        }
                        for j in 0..sc.n {
                            let cross = (g[0][j] - g[1][j]) / (2.0 * e);
                            for i in 0..nq {
                                sc.gm[j * nq + i] += cross * dbase[b * nq + i];
                            }
                        }
                    }
                }
                let dx = solve_free(&sc, &sc.gm, nq)
                    .ok_or(QuoteVegaError::Singular { t, model: "spline" })?;
                let dbase = if sens.chain_base { dbase } else { Vec::new() };
                (
                    SliceModel::Spline(*sp),
                    dx,
                    dbase,
                    sb.stationarity.max(sc.stationarity),
                )
            }
            SliceModel::Sabr(_) => return Err(QuoteVegaError::Unsupported("SABR")),
        };
        if !(stationarity <= STATIONARY) {
            return Err(QuoteVegaError::NotStationary {
                t,
                reason: format!(
                    "the model is not at an optimum of the fit (gradient cosine {stationarity:.2e} > {STATIONARY:.0e}: a post-fit repair ran, or the polish stopped early)"
                ),
            });
        }
        Ok(SliceSensitivity {
            points,
            opts: opts.clone(),
            sens: *sens,
            expiry: slice.expiry(),
            quotes,
            smile,
            dx,
            dbase,
            stationarity,
        })
    }

    /// Time to expiry of the slice.
    #[must_use]
    pub fn t(&self) -> f64 {
        self.points.t()
    }

    /// Forward of the slice.
    #[must_use]
    pub fn forward(&self) -> f64 {
        self.points.forward()
    }

    /// Number of quotes.
    #[must_use]
    pub fn n_quotes(&self) -> usize {
        self.points.len()
    }

    /// How far the model is from the optimality condition: the largest
    /// `|Gⱼ|/(‖J_j‖·‖r‖)` over the free parameters (cosine of the residual with a column of
    /// the Jacobian; the fitter's own gradient test). Large values (≫ the fit's tolerance)
    /// mean the sensitivities describe a point the fit did not end at.
    #[must_use]
    pub fn stationarity(&self) -> f64 {
        self.stationarity
    }

    /// The fitted vol at log-moneyness `k` (`None` where `w ≤ 0` or not finite).
    #[must_use]
    pub fn vol(&self, k: f64) -> Option<f64> {
        let w = self.smile.w(k);
        (w > 0.0 && w.is_finite()).then(|| (w / self.t()).sqrt())
    }

    /// `∂w(k)/∂mᵢ` for every quote `i`: the fitted total variance's response at
    /// log-moneyness `k` to each mid vol.
    ///
    /// # Errors
    /// [`QuoteVegaError::Fit`] when a bumped base gives no spline context.
    pub fn dw_dm(&self, k: f64) -> Result<Vec<f64>, QuoteVegaError> {
        let nq = self.n_quotes();
        let mut out = vec![0.0; nq];
        let add = |out: &mut [f64], grad: &[f64], d: &[f64]| {
            for (j, g) in grad.iter().enumerate() {
                for (i, o) in out.iter_mut().enumerate() {
                    *o += g * d[j * nq + i];
                }
            }
        };
        match &self.smile {
            SliceModel::Svi(s) => {
                let ctx = Svi::context(&self.points, &()).map_err(FitError::from)?;
                let mut grad = vec![0.0; Svi::n_free(&ctx)];
                s.w_grad(&ctx, 0, k, &mut grad);
                add(&mut out, &grad, &self.dx);
            }
            SliceModel::Spline(s) => {
                let base = *s.base();
                let ctx = SplineSmile::context(&self.points, &spline_options(&self.opts, base))
                    .map_err(FitError::from)?;
                let mut grad = vec![0.0; SplineSmile::n_free(&ctx)];
                s.w_grad(&ctx, 0, k, &mut grad);
                add(&mut out, &grad, &self.dx);
                if !self.dbase.is_empty() {
                    // ∂w/∂β at fixed coefficients: the base's own gradient (the correction
                    // does not depend on β).
                    let bctx = Svi::context(&self.points, &()).map_err(FitError::from)?;
                    let mut gb = vec![0.0; Svi::n_free(&bctx)];
                    base.w_grad(&bctx, 0, k, &mut gb);
                    add(&mut out, &gb, &self.dbase);
                }
            }
            SliceModel::Sabr(_) => return Err(QuoteVegaError::Unsupported("SABR")),
        }
        Ok(out)
    }

    /// The options this sensitivity was computed with.
    #[must_use]
    pub fn options(&self) -> &SensitivityOptions {
        &self.sens
    }
}

/// The largest gradient cosine ([`SliceSensitivity::stationarity`]) of a model taken to be
/// at the fit's optimum.
pub const STATIONARY: f64 = 1e-3;

/// Relative tolerance on a position's time to expiry matching a slice's.
const T_MATCH: f64 = 1e-9;

/// The quote vegas of `position` (an option at the expiry of `sens`): `∂V/∂mᵢ` per 1.00 of
/// each quote's mid vol, times the position's quantity (see the [module docs](self)).
///
/// # Errors
/// [`QuoteVegaError::NotQuotedExpiry`] when the position's `t` is not the slice's;
/// [`QuoteVegaError::NoVol`] where the fitted smile has no vol or price at its strike.
pub fn quote_vegas(
    sens: &SliceSensitivity,
    position: &Position,
) -> Result<Vec<QuoteVega>, QuoteVegaError> {
    let t = sens.t();
    if (position.t - t).abs() > T_MATCH * t.max(1.0) {
        return Err(QuoteVegaError::NotQuotedExpiry { t: position.t });
    }
    let no_vol = QuoteVegaError::NoVol {
        strike: position.strike,
        t,
    };
    if !(position.strike > 0.0 && position.strike.is_finite()) {
        return Err(no_vol);
    }
    let f = sens.forward();
    let k = (position.strike / f).ln();
    let vol = sens.vol(k).ok_or(no_vol.clone())?;
    let b_sigma = black_greeks(position.kind, f, position.strike, t, vol).vega;
    if !b_sigma.is_finite() {
        return Err(no_vol);
    }
    let dw = sens.dw_dm(k)?;
    let dvol_dw = 0.5 / (vol * t);
    Ok(sens
        .quotes
        .iter()
        .zip(dw)
        .map(|(&(strike, kind, line), d)| QuoteVega {
            expiry: sens.expiry,
            t,
            strike,
            kind,
            line,
            vega: position.quantity * b_sigma * dvol_dw * d,
        })
        .collect())
}

/// The quote vegas of a book: each position's ([`quote_vegas`]) against the slice of its
/// expiry, summed per quote; one entry per quote of every slice some position uses, in the
/// order of `slices` then of their quotes.
///
/// # Errors
/// As [`quote_vegas`]; [`QuoteVegaError::NotQuotedExpiry`] for a position at no slice's
/// expiry.
pub fn book_quote_vegas(
    slices: &[SliceSensitivity],
    positions: &[Position],
) -> Result<Vec<QuoteVega>, QuoteVegaError> {
    let mut per: Vec<Option<Vec<QuoteVega>>> = vec![None; slices.len()];
    for p in positions {
        let s = slices
            .iter()
            .position(|s| (p.t - s.t()).abs() <= T_MATCH * s.t().max(1.0))
            .ok_or(QuoteVegaError::NotQuotedExpiry { t: p.t })?;
        let v = quote_vegas(&slices[s], p)?;
        match &mut per[s] {
            Some(acc) => {
                for (a, q) in acc.iter_mut().zip(v) {
                    a.vega += q.vega;
                }
            }
            slot @ None => *slot = Some(v),
        }
    }
    Ok(per.into_iter().flatten().flatten().collect())
}

/// The `n` quotes with the largest `|vega|`, largest first: the options to hedge with.
#[must_use]
pub fn top_quotes(vegas: &[QuoteVega], n: usize) -> Vec<QuoteVega> {
    let mut v = vegas.to_vec();
    v.sort_by(|a, b| b.vega.abs().total_cmp(&a.vega.abs()));
    v.truncate(n);
    v
}
