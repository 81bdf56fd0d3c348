//! The fitting layer: the least-squares engine and the one generic fitter every model runs on.
//!
//! * [`LevenbergMarquardt`] — an argmin [`Solver`](argmin::core::Solver): scaled,
//!   QR-based Moré (1978) trust region, with projected box bounds ([`lm`]).
//! * BFGS and L-BFGS — argmin's own, with More–Thuente line search, on `½‖r‖²` with gradient
//!   `Jᵀr` ([`quasi_newton`]).
//! * [`least_squares`] — one call that runs a problem under the [`Optimizer`] chosen, inside
//!   argmin's `Executor`, and returns the parameters, a [`SolveReport`] and the final
//!   Jacobian; [`covariance`] turns that Jacobian into parameter covariances.
//! * [`fit`] — THE generic fitter ([`smile`]): any model implementing
//!   [`Calibrate`](crate::models::Calibrate) under any optimiser and [`Objective`].
//!   [`fit_svi`], [`fit_sabr`], [`fit_ssvi`] and [`fit_essvi`] are its named entry points.
//!
//! Problems implement argmin's [`Operator`](argmin::core::Operator) (residuals) and
//! [`Jacobian`](argmin::core::Jacobian); their parameter, residual and Jacobian types only need
//! the slice views of [`views`]. With stack parameters and pooled residual buffers a fit
//! allocates nothing per iteration.
//!
//! Adding an optimiser: a variant of [`Optimizer`] (its name in [`Optimizer::ALL`]) and its
//! arm in [`least_squares`]; the CLI and the Python package read the list.

pub mod linalg;
pub mod lm;
pub mod pool;
pub mod quasi_newton;
pub mod smile;
mod solve;
mod surface_fit;
pub mod views;

pub use crate::models::arbitrage::{CalendarCheck, calendar_check};
pub use crate::models::sabr::{SabrBeta, SabrOptions};
pub use crate::slice::Objective;
pub use lm::LevenbergMarquardt;
pub use smile::{
    Fit, FitOptions, FitReport, ParamBuf, PriorRows, fit, fit_from, fit_points,
    fit_points_with_prior, initial_guess,
};
pub use solve::{SolveOptions, SolveReport, Termination, covariance, least_squares};
pub use surface_fit::{EssviFit, SsviFit, fit_essvi, fit_ssvi, fit_ssvi_with};
pub use views::{JacobianMatrix, ParamVector, ResidualVector};

use crate::models::SpecError;
use crate::models::sabr::Sabr;
use crate::models::spline::{BASE_PARAMS, SplineOptions, SplineSmile};
use crate::models::svi::Svi;
use crate::names::{UnknownName, parse_name};
use crate::slice::SmileSlice;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Which optimiser a fit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Optimizer {
    /// Levenberg–Marquardt (the default: quadratic convergence on small residual problems,
    /// bounds by projection).
    #[default]
    #[serde(rename = "lm", alias = "levenberg-marquardt")]
    #[cfg_attr(feature = "cli", value(name = "lm"))]
    LevenbergMarquardt,
    /// argmin's BFGS with More–Thuente line search on `½‖r‖²`.
    Bfgs,
    /// argmin's L-BFGS (memory 7) with More–Thuente line search on `½‖r‖²`.
    Lbfgs,
}

impl Optimizer {
    /// Every optimiser, in declaration order (the list the CLI and Python read).
    pub const ALL: [Optimizer; 3] = [
        Optimizer::LevenbergMarquardt,
        Optimizer::Bfgs,
        Optimizer::Lbfgs,
    ];

    /// The short name (`lm`, `bfgs`, `lbfgs`).
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::LevenbergMarquardt => "lm",
            Optimizer::Bfgs => "bfgs",
            Optimizer::Lbfgs => "lbfgs",
        }
    }

    /// Other names accepted by `FromStr`.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Optimizer::LevenbergMarquardt => &["levenberg-marquardt"],
            Optimizer::Bfgs => &[],
            Optimizer::Lbfgs => &["l-bfgs"],
        }
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Optimizer {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = Optimizer::ALL
            .iter()
            .map(|&o| (o, o.name(), o.aliases()))
            .collect();
        parse_name("optimizer", s, &items)
    }
}

/// An error from argmin (a solver or a problem callback), kept with its chain.
pub type SolverError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the fitting layer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// The optimiser or the problem failed: argmin's error, with its source chain.
    #[error("solver failed: {0}")]
    Solver(#[source] SolverError),
    /// The solver ended without a solution in its state.
    #[error("solver ended without a solution: {0}")]
    NoSolution(&'static str),
    /// The solution is not finite.
    #[error("solution not finite after {iterations} iterations: {reason}")]
    NotFinite {
        /// Iterations done.
        iterations: u64,
        /// What was not finite.
        reason: String,
    },
    /// Too few data points for the parameters.
    #[error("{points} points cannot determine {params} parameters")]
    TooFewPoints {
        /// Points given.
        points: usize,
        /// Parameters to fit.
        params: usize,
    },
    /// A fit of one expiry failed.
    #[error("expiry t = {t:.6}: {source} (after {iterations} iterations)")]
    Slice {
        /// Time to expiry of the slice.
        t: f64,
        /// Iterations done.
        iterations: u64,
        /// Why.
        #[source]
        source: Box<FitError>,
    },
    /// The data or the options are outside the model's domain, or give no start.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A request the model cannot serve.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl FitError {
    /// An argmin error, kept as the source.
    pub fn solver(e: argmin::core::Error) -> FitError {
        let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = e.into();
        FitError::Solver(Arc::from(boxed))
    }
}

/// Fits raw SVI to a slice, free of butterfly arbitrage unless `opts.no_arbitrage` is off
/// (the spec: [`crate::models::svi`]; the fitter: [`fit`]).
///
/// # Errors
/// [`FitError::TooFewPoints`] below 5 quotes; [`FitError::Spec`] for normal-vol slices or
/// when no start can be formed; [`FitError::Slice`] when the optimiser fails.
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
    fit::<Svi>(slice, opts, &())
}

/// Fits the spline smile ([`crate::models::spline`]) to one expiry: SVI first (with `opts`),
/// then the regularised B-spline correction on top of it, butterfly-free.
///
/// # Errors
/// As [`fit_svi`].
///
/// ```
/// use volfit::fit::{FitOptions, fit_spline};
/// use volfit::SmileSlice;
/// // A smile with a kink SVI cannot follow: a bump of 2 vol points near k = 0.05.
/// let quotes: Vec<(f64, f64)> = (-20..=20).map(|i| {
///     let k = 0.01 * f64::from(i);
///     (100.0 * f64::exp(k), 0.2 - 0.3 * k + 0.02 * (-((k - 0.05) / 0.02).powi(2)).exp())
/// }).collect();
/// let slice = SmileSlice::from_vols(0.1, 100.0, &quotes)?;
/// let svi = volfit::fit::fit_svi(&slice, &FitOptions::default())?;
/// let spline = fit_spline(&slice, &FitOptions::default())?;
/// assert!(spline.report.butterfly_free);
/// assert!(spline.report.rmse_iv < 0.5 * svi.report.rmse_iv);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_spline(slice: &SmileSlice, opts: &FitOptions) -> Result<Fit<SplineSmile>, FitError> {
    fit_spline_from(slice, opts, None)
}

/// [`fit_spline`] with its SVI base warm-started from `base_start` ([`fit_svi_seeded`]); the
/// correction then starts from its own start on the new base, as in [`fit_spline`] (a previous
/// correction sits on knots placed on that snapshot's quoted range, and corrects another
/// base). `None` is [`fit_spline`].
///
/// # Errors
/// As [`fit_svi`].
///
/// ```
/// use volfit::fit::{FitOptions, fit_spline, fit_spline_from};
/// use volfit::SmileSlice;
/// let quotes: Vec<(f64, f64)> = (-20..=20).map(|i| {
///     let k = 0.01 * f64::from(i);
///     (100.0 * f64::exp(k), 0.2 - 0.3 * k + 0.02 * (-((k - 0.05) / 0.02).powi(2)).exp())
/// }).collect();
/// let slice = SmileSlice::from_vols(0.1, 100.0, &quotes)?;
/// let cold = fit_spline(&slice, &FitOptions::default())?;
/// let warm = fit_spline_from(&slice, &FitOptions::default(), Some(cold.model.base()))?;
/// assert!(warm.report.rmse_iv <= 1.1 * cold.report.rmse_iv && warm.report.butterfly_free);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_spline_from(
    slice: &SmileSlice,
    opts: &FitOptions,
    base_start: Option<&Svi>,
) -> Result<Fit<SplineSmile>, FitError> {
    let base = match base_start {
        Some(s) => fit_svi_seeded(slice, opts, s)?,
        None => fit_svi(slice, opts)?,
    };
    let spline = SplineOptions {
        base: Some(base.model),
        ..opts.spline
    };
    let mut f = fit::<SplineSmile>(slice, opts, &spline)?;
    // The report's time and parameter count are the whole fit's: the base's and the
    // correction's.
    f.report.fit_micros += base.report.fit_micros;
    f.report.n_params += BASE_PARAMS;
    Ok(f)
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
    fit_from::<Svi>(slice, opts, &(), start, &[])
}

/// [`fit_svi`] seeded from a previous fit of the same expiry (a warm start across snapshots):
/// the quasi-explicit stage (Zeliade 2009) starts its search of `(m, σ)` at the seed's instead
/// of on its grid and solves `(a, ρ, b)` exactly for the new quotes, then the polish runs as in
/// [`fit_svi`]. Unlike [`fit_svi_from`], which polishes from the seed's five parameters as
/// they are, this does not crawl along SVI's flat valleys in `(a, b, σ)` when the smile moved
/// a little. Where the seed gives no start, the fit starts cold.
///
/// # Errors
/// As [`fit_svi`].
///
/// ```
/// use volfit::{fit_svi, SmileSlice};
/// use volfit::fit::{FitOptions, fit_svi_seeded};
/// use volfit::models::svi::Svi;
/// let smile = |a: f64| Svi::new(a, 0.2, -0.5, 0.05, 0.15).unwrap();
/// let slice = |s: Svi| {
///     let q: Vec<(f64, f64)> = (-10..=10).map(|i| {
///         let k = 0.06 * f64::from(i);
///         (100.0 * k.exp(), (s.w(k) / 0.5).sqrt())
///     }).collect();
///     SmileSlice::from_vols(0.5, 100.0, &q).unwrap()
/// };
/// let before = fit_svi(&slice(smile(0.02)), &FitOptions::default()).unwrap();
/// let after = fit_svi_seeded(&slice(smile(0.021)), &FitOptions::default(), &before.model)?;
/// assert!(after.report.rmse_iv < 1e-8);
/// # Ok::<(), volfit::fit::FitError>(())
/// ```
pub fn fit_svi_seeded(
    slice: &SmileSlice,
    opts: &FitOptions,
    seed: &Svi,
) -> Result<Fit<Svi>, FitError> {
    let clock = std::time::Instant::now();
    let data = crate::slice::Points::new(slice);
    let start = if data.len() >= 5 {
        crate::models::svi::quasi_explicit_seeded(
            &data,
            slice.t(),
            opts.no_arbitrage,
            seed.m(),
            seed.sigma(),
        )
    } else {
        None
    };
    let (model, mut reports) = fit_points::<Svi>(&data, opts, &(), start.as_ref(), &[])?;
    let mut report = reports.pop().ok_or(FitError::TooFewPoints {
        points: 0,
        params: 1,
    })?;
    report.fit_micros = clock.elapsed().as_secs_f64() * 1e6;
    Ok(Fit { model, report })
}

/// [`fit_svi_from`] with a calendar floor: `w(kⱼ) ≥ wⱼ` at the given `(kⱼ, wⱼ)` (the previous
/// expiry's total variance on a grid), enforced by penalty rows like the butterfly constraint.
///
/// # Errors
/// As [`fit_svi`].
pub fn fit_svi_floored(
    slice: &SmileSlice,
    opts: &FitOptions,
    start: Option<&Svi>,
    floor: &[(f64, f64)],
) -> Result<Fit<Svi>, FitError> {
    fit_from::<Svi>(slice, opts, &(), start, floor)
}

/// Fits SABR to one expiry's smile (Hagan et al. 2002; start from Le Floc'h & Kennedy 2014;
/// the spec: [`crate::models::sabr`]; the fitter: [`fit`]).
///
/// `opts.sabr` chooses `β` (fixed — default 1 for Black-vol slices, 0.5 for normal-vol
/// slices — or fitted), the expansion, the shift, and whether `α` follows from the
/// at-the-money vol. The report's RMSE and within-spread are in the slice's convention;
/// `min_g`, `butterfly_free` and `negative_density` come from the density scan.
///
/// # Errors
/// [`FitError::TooFewPoints`] with fewer quotes than free parameters (or than 3),
/// [`FitError::Spec`] for inputs outside SABR's domain, [`FitError::Slice`] when the
/// optimiser fails or the result is not finite.
///
/// ```
/// use volfit::{fit_sabr, FitOptions, SmileSlice};
/// use volfit::models::sabr::Sabr;
/// let truth = Sabr::new(100.0, 0.5, 0.25, 1.0, -0.4, 0.9)?;
/// let quotes: Vec<(f64, f64)> = (0..15).map(|i| {
///     let k = 70.0 + 4.0 * i as f64;
///     (k, truth.vol(k))
/// }).collect();
/// let slice = SmileSlice::from_vols(0.5, 100.0, &quotes)?;
/// let fit = fit_sabr(&slice, &FitOptions::default())?;
/// assert!((fit.model.rho() - truth.rho()).abs() < 1e-8 && fit.report.rmse_iv < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_sabr(slice: &SmileSlice, opts: &FitOptions) -> Result<Fit<Sabr>, FitError> {
    fit::<Sabr>(slice, opts, &opts.sabr)
}

/// [`fit_sabr`] warm-started from a previous fit (its `α, β, ρ, ν`; the slice's forward and
/// time are used).
///
/// # Errors
/// As [`fit_sabr`].
pub fn fit_sabr_from(
    slice: &SmileSlice,
    opts: &FitOptions,
    start: Option<&Sabr>,
) -> Result<Fit<Sabr>, FitError> {
    let start = start.map(|s| Sabr {
        forward: slice.forward(),
        t: slice.t(),
        ..*s
    });
    fit_from::<Sabr>(slice, opts, &opts.sabr, start.as_ref(), &[])
}

/// Le Floc'h & Kennedy's explicit initial guess for a SABR fit of `slice` under `opts`
/// (the start of [`fit_sabr`]).
///
/// # Errors
/// [`FitError::Spec`] for inputs outside SABR's domain or when no start exists.
pub fn sabr_initial_guess(slice: &SmileSlice, opts: &FitOptions) -> Result<Sabr, FitError> {
    if slice.points().len() < 3 {
        return Err(FitError::TooFewPoints {
            points: slice.points().len(),
            params: 3,
        });
    }
    initial_guess::<Sabr>(slice, opts, &opts.sabr)
}
