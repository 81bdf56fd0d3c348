//! The calibration seam: everything a fit needs to know about a model, stated by the model in
//! its own folder, and read by the one generic fitter ([`crate::fit::fit`]).
//!
//! A model states its free parameters under a context (bounds, which parameters are fixed —
//! SABR's `β` — and which are derived — SABR's `α` from the at-the-money vol), an initial
//! guess from the quotes (Zeliade's quasi-explicit SVI, Le Floc'h–Kennedy's explicit SABR),
//! its vols at the quotes with their gradient in the free parameters, penalty rows that keep a
//! fit inside its no-arbitrage domain (with their gradients), a post-fit repair that
//! guarantees the domain where a finite penalty could not, and its butterfly verdict. The
//! fitter owns what is the same for every model: the optimiser, the [`Objective`], warm
//! starts, calendar floors, stiffening the penalties, the report. The shape follows QuantLib's
//! `SviSpecs` feeding one `XABRInterpolation`; a spec depends on slice data only, never on the
//! fitter.
//!
//! [`Objective`]: crate::slice::Objective

use super::ParamError;
use super::arbitrage::ButterflyVerdict;
use crate::slice::{Objective, Points};
use serde::{Deserialize, Serialize};

/// Rows of a Jacobian being filled: `∂(quantity i)/∂(free parameter j)`, column-major over a
/// block of rows starting at `row0` of a larger matrix with `stride` rows.
///
/// For the quote rows the fitter sets a [`QuoteScale`]: a model reports each quote's vol with
/// [`JacRows::row`] and writes `∂σ/∂θ`; the row receives the residual's derivative
/// `∂r/∂σ · ∂σ/∂θ` directly (the objective's chain rule, fused into the model's pass).
pub struct JacRows<'a> {
    data: &'a mut [f64],
    stride: usize,
    row0: usize,
    scale: Option<QuoteScale<'a>>,
}

/// How the quote rows turn `∂σ/∂θ` into `∂r/∂θ`: by the objective's derivative at each
/// quote's vol.
#[derive(Clone, Copy)]
pub struct QuoteScale<'a> {
    /// The quotes.
    pub points: &'a Points,
    /// The objective.
    pub objective: Objective,
}

/// One row of a [`JacRows`], scaled.
pub struct Row<'r> {
    data: &'r mut [f64],
    stride: usize,
    at: usize,
    scale: f64,
}

impl Row<'_> {
    /// Sets `∂(row)/∂(parameter j)` to `scale·v` (0 where `v` is not finite).
    #[inline]
    pub fn set(&mut self, j: usize, v: f64) {
        self.data[j * self.stride + self.at] = if v.is_finite() { self.scale * v } else { 0.0 };
    }
}

impl<'a> JacRows<'a> {
    /// A view of rows `row0..` of the column-major matrix `data` with `stride` rows, written
    /// as given.
    pub fn new(data: &'a mut [f64], stride: usize, row0: usize) -> Self {
        JacRows {
            data,
            stride,
            row0,
            scale: None,
        }
    }

    /// A view of the quote rows `0..` scaled by the objective's derivative ([`QuoteScale`]).
    pub fn quotes(data: &'a mut [f64], stride: usize, scale: QuoteScale<'a>) -> Self {
        JacRows {
            data,
            stride,
            row0: 0,
            scale: Some(scale),
        }
    }

    /// Sets `∂(row i)/∂(parameter j)` as given.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[j * self.stride + self.row0 + i] = v;
    }

    /// Reads `∂(row i)/∂(parameter j)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[j * self.stride + self.row0 + i]
    }

    /// Row `i` for a quote whose model vol is `vol` (NaN: the model has none there; the row
    /// stays 0): its entries are scaled by the objective's `∂r/∂σ` at `vol`.
    #[inline]
    pub fn row(&mut self, i: usize, vol: f64) -> Row<'_> {
        let scale = match self.scale {
            Some(q) if vol.is_finite() => q.points.residual(i, vol, q.objective).1,
            Some(_) => 0.0,
            None => 1.0,
        };
        Row {
            data: self.data,
            stride: self.stride,
            at: self.row0 + i,
            scale,
        }
    }
}

/// What a model's post-fit repair did (see [`Calibrate::repair`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Repair {
    /// SVI: the parameters moved along the segment toward the flat smile `w ≡ ŵ` (which has
    /// `g ≡ 1`) by this fraction, to the first point free of butterfly arbitrage.
    TowardFlat {
        /// Fraction of the way to the flat smile.
        fraction: f64,
    },
    /// Spline smile: the correction's coefficients shrunk toward zero (toward the SVI base,
    /// which is free) by this fraction, to the first point free of butterfly arbitrage.
    TowardBase {
        /// Fraction of the way to the base.
        fraction: f64,
    },
    /// eSSVI: `ψ` capped at Gatheral & Jacquier's Theorem 4.2 bound, the wing slopes raised to
    /// the previous slice's, and `θ` lifted until the slice lies on or above the previous one.
    Essvi {
        /// `ψ` before the repair.
        psi_before: f64,
        /// `θ` before the repair.
        theta_before: f64,
    },
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Repair::TowardFlat { fraction } => write!(
                f,
                "repaired toward the flat smile ({fraction:.2e} of the way) to remove butterfly arbitrage"
            ),
            Repair::TowardBase { fraction } => write!(
                f,
                "spline correction shrunk toward the SVI base ({fraction:.2e} of the way) to remove butterfly arbitrage"
            ),
            Repair::Essvi {
                psi_before,
                theta_before,
            } => write!(
                f,
                "ψ and θ moved from ({psi_before:.4e}, {theta_before:.4e}) onto the butterfly \
                 bound and above the previous slice"
            ),
        }
    }
}

/// Why a model cannot be fitted to some data (before any optimiser runs).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SpecError {
    /// An input or option is outside the model's domain.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The data cannot be fitted by this model in its convention.
    #[error("{model} cannot fit these quotes: {reason}")]
    Unsupported {
        /// The model.
        model: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A quantity derived from the data is outside the model's domain.
    #[error("{model}: {what} = {value} {rule}")]
    Domain {
        /// The model.
        model: &'static str,
        /// The quantity.
        what: &'static str,
        /// Its value.
        value: f64,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No initial guess could be formed from the quotes.
    #[error("no {model} start: {reason}")]
    NoStart {
        /// The model.
        model: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// A model the generic fitter can calibrate (see the [module documentation](self)).
///
/// Vols are in the convention of the data ([`Points::convention`]); parameters are the model's
/// *free* parameters under its context, in a fixed order ([`Calibrate::param_names`]).
pub trait Calibrate: Clone + Send + Sync + Sized {
    /// The model's name in reports.
    const NAME: &'static str;
    /// Convergence tolerances `(ftol, xtol, gtol)` of the polish.
    const TOLERANCES: (f64, f64, f64) = (1e-10, 1e-10, 1e-10);
    /// Whether the penalty rows join only when a polish without them ends outside the domain
    /// ([`Calibrate::admissible`]): for models whose fits are usually inside it and whose
    /// penalties are dear to evaluate (SABR's density scan). Otherwise (SVI, SSVI) they steer
    /// the polish from its start.
    const LAZY_PENALTIES: bool = false;
    /// Options of this model's fits (SABR: `β`, expansion, shift).
    type Options: Clone + Default + std::fmt::Debug + Send + Sync;
    /// What a fit of this model keeps fixed while the parameters move: the data's scales, the
    /// options resolved against the data, caches.
    type Context;

    /// The context of a fit of `data` under `opts`.
    ///
    /// # Errors
    /// [`SpecError`] when the data or the options are outside the model's domain.
    fn context(data: &Points, opts: &Self::Options) -> Result<Self::Context, SpecError>;

    /// Number of free parameters.
    fn n_free(ctx: &Self::Context) -> usize;

    /// Names of the free parameters, in order.
    fn param_names(ctx: &Self::Context) -> &'static [&'static str];

    /// An initial guess from the quotes alone; with `no_arbitrage`, steered toward the
    /// model's no-arbitrage domain.
    ///
    /// # Errors
    /// [`SpecError::NoStart`] when the quotes give none.
    fn guess(data: &Points, ctx: &Self::Context, no_arbitrage: bool) -> Result<Self, SpecError>;

    /// The free parameters of `self` (for a warm start from another fit), written to `x`.
    fn to_free(&self, ctx: &Self::Context, x: &mut [f64]);

    /// The model at free parameters `x` (already inside the bounds); `None` where `x` gives no
    /// model (e.g. SABR's `α` has no root at the at-the-money vol).
    fn from_free(x: &[f64], ctx: &Self::Context) -> Option<Self>;

    /// Bounds of the free parameters given the start (`lo`, `hi` have [`Calibrate::n_free`]
    /// entries; `±∞` where unbounded).
    fn bounds(ctx: &Self::Context, start: &Self, lo: &mut [f64], hi: &mut [f64]);

    /// Model vols at every quote of `data` into `vols` (NaN where the model has none); with
    /// `jac`, their gradients in the free parameters, row by row through [`JacRows::row`].
    fn quote_vols(
        &self,
        data: &Points,
        ctx: &Self::Context,
        vols: &mut [f64],
        jac: Option<&mut JacRows<'_>>,
    );

    /// Total implied variance `w(k)` of slice `group` at log-moneyness `k` with its gradient in
    /// the free parameters written to `grad`; `None` where the model has no single `w` (for
    /// calendar floors).
    fn w_grad(&self, ctx: &Self::Context, group: usize, k: f64, grad: &mut [f64]) -> Option<f64>;

    /// Number of regularisation rows: part of the objective (with or without
    /// `no_arbitrage`, never stiffened), e.g. a spline's roughness penalty.
    fn n_regular(_ctx: &Self::Context) -> usize {
        0
    }

    /// The regularisation rows (as they enter the residuals) into `rows`, and with `jac`
    /// their gradients in the free parameters.
    fn regular(&self, _ctx: &Self::Context, _rows: &mut [f64], _jac: Option<&mut JacRows<'_>>) {}

    /// Number of penalty rows kept at zero inside the no-arbitrage domain.
    fn n_penalties(_ctx: &Self::Context) -> usize {
        0
    }

    /// The penalty rows (unscaled: the fitter weights them) into `rows`, and with `jac` their
    /// gradients in the free parameters.
    fn penalties(
        &self,
        _data: &Points,
        _ctx: &Self::Context,
        _rows: &mut [f64],
        _jac: Option<&mut JacRows<'_>>,
    ) {
    }

    /// Whether the model is inside the domain its penalty rows enforce: while it is not, the
    /// fitter stiffens the penalties, and then runs [`Calibrate::repair`]. The default: every
    /// slice's butterfly verdict is free. (SABR's penalty covers the quoted strikes only, where
    /// the expansion is fitted; its verdict scans further.)
    fn admissible(&self, data: &Points, ctx: &Self::Context) -> bool {
        (0..data.groups().len()).all(|g| self.butterfly(ctx, g).free)
    }

    /// Moves a start into the no-arbitrage domain before the polish (a start inside the domain
    /// keeps the penalised polish near its answer).
    fn prepare_start(&mut self, _data: &Points, _ctx: &Self::Context) {}

    /// The post-fit guarantee: moves a fit that ends outside the no-arbitrage domain (the
    /// penalties are finite; [`Calibrate::admissible`] is false) back into it, and says how;
    /// `None` when nothing was done.
    fn repair(&mut self, _data: &Points, _ctx: &Self::Context) -> Option<Repair> {
        None
    }

    /// The butterfly verdict of slice `group` of the fitted model.
    fn butterfly(&self, ctx: &Self::Context, group: usize) -> ButterflyVerdict;
}

/// Model vol from total variance at `t` and `dσ/dw`, continued linearly (C¹) below `w_floor`
/// so that a trial point with `w ≤ 0` at a quote keeps finite, informative residuals and
/// gradients instead of `σ = 0` with an infinite slope.
#[inline]
pub fn vol_from_w(w: f64, t: f64, w_floor: f64) -> (f64, f64) {
    if w >= w_floor {
        let v = (w / t).sqrt();
        (v, 0.5 / (v * t))
    } else {
        let v0 = (w_floor / t).sqrt();
        let d = 0.5 / (v0 * t);
        (v0 + d * (w - w_floor), d)
    }
}
