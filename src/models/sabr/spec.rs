//! SABR under the calibration seam.
//!
//! * **Start**: Le Floc'h & Kennedy's explicit guess ([`super::guess`]).
//! * **Parameters** `[α] [β] ρ ν`: `α` is free unless tied to the at-the-money vol
//!   ([`SabrOptions::alpha_from_atm`]: then it is the smallest positive root of the
//!   at-the-money cubic, differentiated implicitly), `β` is fixed unless fitted
//!   ([`SabrBeta`]); bounds `α ≥ 10⁻¹⁰α₀`, `|ρ| ≤ 0.9999`, `ν ≥ 0`, `β ∈ [0, 1]`. The Jacobian
//!   is exact (forward-mode differentiation of the formula). When the expansion's convention
//!   (Black of `F + b`, or normal) differs from the data's, model vols are converted exactly
//!   through the option price, and the Jacobian through the ratio of vegas.
//! * **Penalty** (with `no_arbitrage`; lazily, only when a polish without it ends with a
//!   negative density on the quotes): `softplus(−min g)` over the quoted strikes (41 points
//!   uniform in `ln(K + b)`, or in `K` for the normal expansion, across the quotes' range) of
//!   the normalised density (Durrleman's `g` for the lognormal expansions), so the fit is
//!   steered off a negative density where it is fitted. Far below the quotes Hagan's
//!   expansion is known to break down (its density goes negative, e.g. QuantLib's
//!   `testSabrInterpolation` smile below `K ≈ 5·10⁻⁴` for `F = 0.039`); penalising there
//!   would trade the quoted fit for a region the expansion cannot describe. The row's gradient
//!   is a central difference in the free parameters at the minimum (exact strike-and-parameter
//!   derivatives would need nested duals; the row only steers).
//! * **Verdict**: the density scan over `±6σ√T` ([`Sabr::butterfly_scan`]). Hagan's expansion
//!   has none of SVI's exact domain and no repair: a fit that keeps a negative density says so
//!   in its report.

use super::context::SabrContext;
use super::convention::Quote;
use super::expansion::{StrikeTerms, sabr_vol_terms};
use super::guess::{atm_vol, guess};
use super::{Sabr, SabrExpansion};
use crate::models::ad::{Dual, Real};
use crate::models::arbitrage::ButterflyVerdict;
use crate::models::calibrate::{Calibrate, JacRows, SpecError};
use crate::models::numerics::softplus;
use crate::slice::{Points, VolConvention};
use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// SABR's `β`: fixed or fitted.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SabrBeta {
    /// 1 for Black-vol slices (equity, crypto), 0.5 for normal-vol slices (rates).
    #[default]
    Default,
    /// Fixed at this value in `[0, 1]`.
    Fixed(f64),
    /// Fitted with the other parameters, within `[0, 1]`.
    Fitted,
}

/// How a SABR fit fits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SabrOptions {
    /// `β`.
    pub beta: SabrBeta,
    /// The implied-vol expansion; `None`: Hagan's lognormal for Black-vol slices, the normal
    /// expansion for normal-vol slices. Model vols are converted exactly (through the price)
    /// when the expansion's convention differs from the slice's.
    pub expansion: Option<SabrExpansion>,
    /// Shift `b ≥ 0` (shifted SABR on `F + b`).
    pub shift: f64,
    /// Solve `α` from the at-the-money vol (the cubic of the at-the-money formula) and fit
    /// `(ρ, ν)` (and `β` if fitted) only.
    pub alpha_from_atm: bool,
}

fn invalid(what: &'static str, value: f64, rule: &'static str) -> SpecError {
    SpecError::Domain {
        model: "SABR",
        what,
        value,
        rule,
    }
}

impl Calibrate for Sabr {
    const NAME: &'static str = "SABR";
    const TOLERANCES: (f64, f64, f64) = (1e-12, 1e-10, 1e-10);
    /// A fit is rarely arbitrageable on its quoted strikes, and the check costs 41
    /// second-order evaluations of the expansion: the penalty joins only when needed.
    const LAZY_PENALTIES: bool = true;
    type Options = SabrOptions;
    type Context = SabrContext;

    fn context(data: &Points, so: &SabrOptions) -> Result<SabrContext, SpecError> {
        if data.groups().len() != 1 {
            return Err(SpecError::Unsupported {
                model: "SABR",
                reason: "a SABR fit takes one expiry",
            });
        }
        let normal_slice = data.convention() == VolConvention::Normal;
        let e = so.expansion.unwrap_or(if normal_slice {
            SabrExpansion::Normal
        } else {
            SabrExpansion::Hagan
        });
        let beta_fixed = match so.beta {
            SabrBeta::Default => Some(if normal_slice { 0.5 } else { 1.0 }),
            SabrBeta::Fixed(b) => Some(b),
            SabrBeta::Fitted => None,
        };
        if let Some(b) = beta_fixed
            && !(0.0..=1.0).contains(&b)
        {
            return Err(invalid("beta", b, "must lie in [0, 1]"));
        }
        if !(so.shift >= 0.0 && so.shift.is_finite()) {
            return Err(invalid("shift", so.shift, "must be finite and >= 0"));
        }
        let (forward, t) = (data.forward(), data.t());
        let any_sign = e.is_normal() && beta_fixed == Some(0.0);
        let f_shift = forward + so.shift;
        if !any_sign {
            if !(f_shift > 0.0) {
                return Err(invalid(
                    "forward + shift",
                    f_shift,
                    "must be > 0 (unless the normal expansion with beta = 0)",
                ));
            }
            if let Some(&k) = data.strikes().iter().find(|&&k| !(k + so.shift > 0.0)) {
                return Err(invalid(
                    "strike + shift",
                    k + so.shift,
                    "must be > 0 (unless the normal expansion with beta = 0)",
                ));
            }
        }
        let model_q = Quote {
            normal: e.is_normal(),
            shift: if e.is_normal() { 0.0 } else { so.shift },
        };
        let slice_q = Quote {
            normal: normal_slice,
            shift: 0.0,
        };
        let strikes = data.strikes().to_vec();
        let mut model_mid = Vec::with_capacity(strikes.len());
        for (&k, &mid) in strikes.iter().zip(data.mid()) {
            let (v, _) = slice_q
                .convert(model_q, forward, k, t, mid)
                .ok_or_else(|| {
                    invalid(
                        "mid vol",
                        mid,
                        "has no equivalent in the expansion's convention",
                    )
                })?;
            model_mid.push(v);
        }
        let terms = match beta_fixed {
            Some(b) => strikes
                .iter()
                .map(|&k| StrikeTerms::new(e, f_shift, k + so.shift, b))
                .collect(),
            None => Vec::new(),
        };
        let mut ctx = SabrContext {
            e,
            forward,
            shift: so.shift,
            t,
            strikes,
            model_q,
            slice_q,
            beta_fixed,
            atm: None,
            terms,
            model_mid,
            scan: Cell::new(None),
        };
        if so.alpha_from_atm {
            let atm = atm_vol(&ctx, &ctx.model_mid).ok_or(SpecError::NoStart {
                model: "SABR",
                reason: "no at-the-money vol",
            })?;
            ctx.atm = Some(atm);
        }
        Ok(ctx)
    }

    fn n_free(ctx: &SabrContext) -> usize {
        2 + usize::from(ctx.atm.is_none()) + usize::from(ctx.beta_fixed.is_none())
    }

    fn param_names(ctx: &SabrContext) -> &'static [&'static str] {
        match (ctx.atm.is_none(), ctx.beta_fixed.is_none()) {
            (true, true) => &["alpha", "beta", "rho", "nu"],
            (true, false) => &["alpha", "rho", "nu"],
            (false, true) => &["beta", "rho", "nu"],
            (false, false) => &["rho", "nu"],
        }
    }

    fn guess(data: &Points, ctx: &SabrContext, _: bool) -> Result<Sabr, SpecError> {
        guess(ctx, data)
    }

    fn to_free(&self, ctx: &SabrContext, x: &mut [f64]) {
        let mut i = 0;
        if ctx.atm.is_none() {
            x[0] = self.alpha;
            i = 1;
        }
        if ctx.beta_fixed.is_none() {
            x[i] = self.beta;
            i += 1;
        }
        x[i] = self.rho.clamp(-0.9999, 0.9999);
        x[i + 1] = self.nu.max(0.0);
    }

    fn from_free(x: &[f64], ctx: &SabrContext) -> Option<Sabr> {
        ctx.values(x).map(|p| ctx.model(&p))
    }

    fn bounds(ctx: &SabrContext, start: &Sabr, lo: &mut [f64], hi: &mut [f64]) {
        let mut i = 0;
        if ctx.atm.is_none() {
            (lo[0], hi[0]) = (1e-10 * start.alpha, f64::INFINITY);
            i = 1;
        }
        if ctx.beta_fixed.is_none() {
            (lo[i], hi[i]) = (0.0, 1.0);
            i += 1;
        }
        (lo[i], hi[i]) = (-0.9999, 0.9999);
        (lo[i + 1], hi[i + 1]) = (0.0, f64::INFINITY);
    }

    fn quote_vols(
        &self,
        _: &Points,
        ctx: &SabrContext,
        vols: &mut [f64],
        jac: Option<&mut JacRows<'_>>,
    ) {
        let mut x = [0.0; 4];
        let n = Self::n_free(ctx);
        self.to_free(ctx, &mut x[..n]);
        match jac {
            None => {
                let p = [self.alpha, self.beta, self.rho, self.nu];
                for (i, v) in vols.iter_mut().enumerate() {
                    *v = ctx.vol_f64(i, &p).unwrap_or(f64::NAN);
                }
            }
            Some(j) => match n {
                2 => fill::<2>(ctx, &x, vols, j),
                3 => fill::<3>(ctx, &x, vols, j),
                _ => fill::<4>(ctx, &x, vols, j),
            },
        }
    }

    fn w_grad(&self, ctx: &SabrContext, _: usize, k: f64, grad: &mut [f64]) -> Option<f64> {
        // w = σ_B(K)²T at K = (F+b)eᵏ − b, for the lognormal expansions on the Black
        // convention (the calendar floors of a Black-vol surface).
        if ctx.e.is_normal() {
            return None;
        }
        let mut x = [0.0; 4];
        let n = Self::n_free(ctx);
        self.to_free(ctx, &mut x[..n]);
        let p = ctx.duals::<4>(&x[..n])?;
        let f = ctx.forward + ctx.shift;
        let st = StrikeTerms::new(ctx.e, f, Dual::cst(f * k.exp()), p[1]);
        let s = sabr_vol_terms(ctx.e, &st, ctx.t, p[0], p[1], p[2], p[3]);
        for (g, d) in grad.iter_mut().zip(s.d) {
            *g = 2.0 * s.v * d * ctx.t;
        }
        Some(s.v * s.v * ctx.t)
    }

    fn n_penalties(_: &SabrContext) -> usize {
        1
    }

    fn penalties(
        &self,
        _: &Points,
        ctx: &SabrContext,
        rows: &mut [f64],
        jac: Option<&mut JacRows<'_>>,
    ) {
        const TAU: f64 = 1e-3;
        let (at, g) = ctx.quoted_min_g(self);
        let (v, slope) = softplus((-g).min(1e6), TAU);
        rows[0] = v;
        let Some(j) = jac else { return };
        if slope == 0.0 {
            return;
        }
        let n = Self::n_free(ctx);
        let mut x = [0.0; 4];
        self.to_free(ctx, &mut x[..n]);
        for q in 0..n {
            let h = 1e-6 * x[q].abs().max(1e-3);
            let g_at = |d: f64| {
                let mut y = x;
                y[q] += d;
                Sabr::from_free(&y[..n], ctx).map_or(f64::NAN, |m| m.normalised_density(at))
            };
            let d = (g_at(h) - g_at(-h)) / (2.0 * h);
            if d.is_finite() {
                j.set(0, q, -slope * d);
            }
        }
    }

    fn admissible(&self, _: &Points, ctx: &SabrContext) -> bool {
        ctx.quoted_min_g(self).1 >= 0.0
    }

    fn butterfly(&self, _: &SabrContext, _: usize) -> ButterflyVerdict {
        self.butterfly_scan()
    }
}

/// Vols and their gradients at every quote, with `N` free parameters.
fn fill<const N: usize>(ctx: &SabrContext, x: &[f64; 4], vols: &mut [f64], jac: &mut JacRows<'_>) {
    let Some(p) = ctx.duals::<N>(&x[..N]) else {
        vols.fill(f64::NAN);
        return;
    };
    for (i, v) in vols.iter_mut().enumerate() {
        match ctx.vol_dual(i, &p) {
            Some((vol, g)) => {
                *v = vol;
                let mut row = jac.row(i, vol);
                for (c, d) in g.iter().enumerate() {
                    row.set(c, *d);
                }
            }
            None => *v = f64::NAN,
        }
    }
}
