//! Smile and surface models, one folder each: parameters, the formula, analytic derivatives in
//! log-moneyness and in the parameters, the no-arbitrage conditions, and the model's
//! calibration spec ([`Calibrate`]) that the one generic fitter ([`crate::fit::fit`]) consumes.
//!
//! * [`svi`] — raw, natural and jump-wings SVI (Gatheral & Jacquier 2014, §3).
//! * [`ssvi`] — SSVI (power-law and Heston-like `φ`) and eSSVI slices (Hendriks & Martini 2019).
//! * [`sabr`] — SABR: Hagan (2002) lognormal, Obłój (2008) and normal expansions, shifted.
//! * [`spline`] — SVI plus a regularised cubic B-spline correction in total variance (the
//!   smile with the capacity of a densely quoted market).
//! * [`arbitrage`] — Durrleman's `g`, the density, the one butterfly verdict type and the
//!   one calendar method every layer uses.
//! * [`calibrate`] — the calibration seam.
//!
//! Adding a model: a folder with the formula and an `impl Calibrate` (its spec) and, to
//! serve it from a surface, one variant of [`SliceModel`](crate::surface::SliceModel).

pub(crate) mod ad;
pub mod arbitrage;
pub mod calibrate;
pub(crate) mod numerics;
pub mod sabr;
pub mod spline;
pub mod ssvi;
pub mod svi;

pub use calibrate::{Calibrate, Repair, SpecError};

use serde::{Deserialize, Serialize};

/// A smile in total implied variance `w(k)` at one expiry, `k = ln(K/F)`.
///
/// Models implement [`SmileModel::w_derivs`] alone; implied vol, Durrleman's butterfly
/// function and the density follow, each with one meaning (see [`arbitrage`]).
pub trait SmileModel {
    /// `(w, ∂w/∂k, ∂²w/∂k²)` at `k`.
    fn w_derivs(&self, k: f64) -> (f64, f64, f64);

    /// Total implied variance `w(k) = σ²(k)·T`.
    fn total_variance(&self, k: f64) -> f64 {
        self.w_derivs(k).0
    }

    /// `∂w/∂k`.
    fn dw_dk(&self, k: f64) -> f64 {
        self.w_derivs(k).1
    }

    /// `∂²w/∂k²`.
    fn d2w_dk2(&self, k: f64) -> f64 {
        self.w_derivs(k).2
    }

    /// Implied volatility `√(w/t)` at `k` for time to expiry `t`.
    ///
    /// NaN where no vol exists or a double cannot hold it (never 0 or ±inf): `k` not finite,
    /// `t` not finite and positive, `w` negative or not finite, `w/t` beyond the double range
    /// (a tiny `t`), or `w/t` rounding to 0 while `w > 0` (an enormous `t`). A zero `w` gives
    /// a vol of 0.
    fn implied_vol(&self, k: f64, t: f64) -> f64 {
        let w = self.total_variance(k);
        let q = w / t;
        // NaN fails every comparison.
        if k.is_finite()
            && t > 0.0
            && t < f64::INFINITY
            && w >= 0.0
            && q < f64::INFINITY
            && (q > 0.0 || w == 0.0)
        {
            q.sqrt()
        } else {
            f64::NAN
        }
    }

    /// Durrleman's function `g(k)` ([`arbitrage::durrleman`]): the smile is free of butterfly
    /// arbitrage iff `g ≥ 0` everywhere (Gatheral & Jacquier 2014, Lemma 2.2).
    fn durrleman_g(&self, k: f64) -> f64 {
        let (w, w1, w2) = self.w_derivs(k);
        arbitrage::durrleman(k, w, w1, w2)
    }

    /// `(centre, width)` in `k` of the smile's features, for global searches over the real line
    /// (SVI: `(m, σ)`).
    fn feature_scale(&self) -> (f64, f64) {
        (0.0, 0.1)
    }

    /// Risk-neutral density of the log-moneyness `ln(F_T/F)` at `k`, per unit `k`
    /// ([`arbitrage::density_k`]); the density of `F_T` per unit strike is this over `K`.
    fn density_k(&self, k: f64) -> f64 {
        let (w, w1, w2) = self.w_derivs(k);
        arbitrage::density_k(k, w, w1, w2)
    }
}

impl<T: SmileModel + ?Sized> SmileModel for &T {
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        (**self).w_derivs(k)
    }
    fn total_variance(&self, k: f64) -> f64 {
        (**self).total_variance(k)
    }
    fn feature_scale(&self) -> (f64, f64) {
        (**self).feature_scale()
    }
}

/// A parameter outside a model's domain.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{model} parameter {name} = {value} violates {constraint}")]
pub struct ParamError {
    /// The model.
    pub model: &'static str,
    /// The parameter.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// The constraint it violates.
    pub constraint: &'static str,
}
