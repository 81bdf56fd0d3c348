//! Raw SVI under the calibration seam: a slice fit free of butterfly arbitrage.
//!
//! * **Start**: the quasi-explicit guess ([`super::guess`], Zeliade 2009), moved into the
//!   no-arbitrage domain (positive variance, then toward the flat smile if it still has
//!   butterfly arbitrage).
//! * **Parameters** `(a, b, ρ, m, σ)` with bounds `b ≥ 0`, `|ρ| ≤ 0.999`,
//!   `10⁻⁵ ≤ σ ≤ max(4 × span of the quotes' k, 2.5)` (the floor: short-dated smiles whose
//!   best fit is nearly a parabola over the quotes).
//! * **Penalties** (with `no_arbitrage`): `softplus(ε − g(k*))` for each of the two lowest dips
//!   `k*` of Durrleman's `g` over the real line ([`Svi::min_g_dips`]; each differentiated by
//!   the envelope theorem), `max(0, w_floor − min w)` and `max(0, b(1+|ρ|) − 2)` (Lee). The
//!   butterfly condition `g ≥ 0` and Lee's bound are Gatheral & Jacquier's (*Arbitrage-free SVI
//!   volatility surfaces*, 2014, Lemma 2.2 and §2.2). A row per dip: short-dated smiles fitted
//!   against the constraint often end with two nearly equal dips, one in each wing; a single
//!   row on the lowest switched gradients between them and the polish stalled (SPX 2019-12-20,
//!   t = 0.008: 75% of quotes inside bid/ask against 82.7% at the best of 75 started polishes;
//!   SPX 2011-01-24: 90.0% against 94.8% of all quotes).
//! * **Repair**: should the polish still end with `min g < 0`, the parameters move along the
//!   segment to the flat smile `w ≡ ŵ` (which has `g ≡ 1`) to the first point with
//!   `min g ≥ 0`, found by bisection. A returned fit is never arbitrageable.
//!
//! Constraining with the exact condition `min g ≥ 0` rather than a sufficient one (e.g.
//! Gatheral & Jacquier's SSVI-type slice conditions) costs nothing in fit quality: every smile
//! the exact domain allows is reachable.

use super::Svi;
use super::guess::quasi_explicit_start;
use crate::models::arbitrage::ButterflyVerdict;
use crate::models::calibrate::{Calibrate, JacRows, Repair, SpecError, vol_from_w};
use crate::models::numerics::softplus;
use crate::slice::{Points, VolConvention};
use std::cell::Cell;

/// Margin below which `min g` counts as violated (strictly positive at the fit).
const G_MARGIN: f64 = 1e-7;
/// The least upper bound of `σ`, whatever the quotes' span.
const SIGMA_FLOOR: f64 = 2.5;
/// Width of the smooth butterfly penalty.
const TAU: f64 = 1e-4;

/// What an SVI fit keeps fixed: the slice's scales, and the last Durrleman minimum (the
/// residuals and the Jacobian are evaluated at the same point).
pub struct SviContext {
    t: f64,
    w_floor: f64,
    /// Mean market total variance: the level of the flat smile the repair moves toward.
    flat: f64,
    sigma_max: f64,
    /// The last `(parameters, two lowest dips (k, g))` of the penalty's fast search
    /// ([`Svi::min_g_dips`]).
    min_g: Cell<Option<([f64; 5], [(f64, f64); 2])>>,
    /// The same of the verdict's fine search (asked by `admissible`, then by the report).
    verdict: Cell<Option<([f64; 5], (f64, f64))>>,
}

impl SviContext {
    fn min_g(&self, s: &Svi) -> [(f64, f64); 2] {
        let key = s.to_array();
        if let Some((k, v)) = self.min_g.get()
            && k == key
        {
            return v;
        }
        let v = s.min_g_dips();
        self.min_g.set(Some((key, v)));
        v
    }

    fn min_g_fine(&self, s: &Svi) -> (f64, f64) {
        let key = s.to_array();
        if let Some((k, v)) = self.verdict.get()
            && k == key
        {
            return v;
        }
        let v = s.min_g();
        self.verdict.set(Some((key, v)));
        v
    }
}

/// Moves `s` toward the flat smile at level `flat` until `free` holds (bisection on the segment,
/// `steps` halvings: the result is within `2^−steps` of the segment's first arbitrage-free
/// point). Returns the smile and the fraction of the way moved.
fn repair_toward_flat(s: &Svi, flat: f64, steps: u32, free: fn(&Svi) -> bool) -> (Svi, f64) {
    let safe = Svi::new_unchecked(flat, 0.0, 0.0, s.m, s.sigma);
    let mix = |l: f64| {
        let (p, q) = (s.to_array(), safe.to_array());
        Svi::from_array(std::array::from_fn(|i| (1.0 - l) * p[i] + l * q[i]))
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..steps {
        let mid = 0.5 * (lo + hi);
        if free(&mix(mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (mix(hi), hi)
}

impl Calibrate for Svi {
    const NAME: &'static str = "SVI";
    /// A relative cost decrease below 1e-7 moves the vols by ~1e-7 of their error: stop.
    const TOLERANCES: (f64, f64, f64) = (1e-7, 1e-8, 1e-8);
    type Options = ();
    type Context = SviContext;

    fn context(data: &Points, (): &()) -> Result<SviContext, SpecError> {
        if data.convention() != VolConvention::Lognormal {
            return Err(SpecError::Unsupported {
                model: "SVI",
                reason: "SVI fits Black-vol slices; this slice holds normal vols",
            });
        }
        if data.groups().len() != 1 {
            return Err(SpecError::Unsupported {
                model: "SVI",
                reason: "an SVI fit takes one expiry",
            });
        }
        let t = data.t();
        let [lo, hi] = data.k_range(0..data.len());
        let flat = data.mid().iter().map(|s| s * s * t).sum::<f64>() / data.len() as f64;
        Ok(SviContext {
            t,
            w_floor: data.groups()[0].w_floor,
            flat,
            // σ ≤ max(4 × the quotes' span of k, 2.5): far beyond the span the smile is a
            // parabola over the data and (a, b, σ) only trade off along a valley the polish
            // would crawl down; the floor 2.5 keeps within reach the short-dated smiles
            // whose best fit is that near-parabola (volsurf's SVI fits a 1-day SPX expiry
            // with σ = 2.18, outside the earlier 4 × max(span, 0.05)).
            sigma_max: (4.0 * (hi - lo)).max(SIGMA_FLOOR),
            min_g: Cell::new(None),
            verdict: Cell::new(None),
        })
    }

    fn n_free(_: &SviContext) -> usize {
        5
    }

    fn param_names(_: &SviContext) -> &'static [&'static str] {
        &["a", "b", "rho", "m", "sigma"]
    }

    fn guess(data: &Points, ctx: &SviContext, no_arbitrage: bool) -> Result<Svi, SpecError> {
        quasi_explicit_start(data, ctx.t, no_arbitrage).ok_or(SpecError::NoStart {
            model: "SVI",
            reason: "no quasi-explicit start",
        })
    }

    fn to_free(&self, _: &SviContext, x: &mut [f64]) {
        x.copy_from_slice(&self.to_array());
    }

    fn from_free(x: &[f64], _: &SviContext) -> Option<Svi> {
        Some(Svi::new_unchecked(x[0], x[1], x[2], x[3], x[4]))
    }

    fn bounds(ctx: &SviContext, _: &Svi, lo: &mut [f64], hi: &mut [f64]) {
        lo.copy_from_slice(&[f64::NEG_INFINITY, 0.0, -0.999, f64::NEG_INFINITY, 1e-5]);
        hi.copy_from_slice(&[
            f64::INFINITY,
            f64::INFINITY,
            0.999,
            f64::INFINITY,
            ctx.sigma_max,
        ]);
    }

    fn quote_vols(
        &self,
        data: &Points,
        ctx: &SviContext,
        vols: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        for (i, (&k, v)) in data.k().iter().zip(vols.iter_mut()).enumerate() {
            let (vol, dvol_dw) = vol_from_w(self.w(k), ctx.t, ctx.w_floor);
            *v = vol;
            if let Some(j) = jac.as_deref_mut() {
                let mut row = j.row(i, vol);
                let (gw, _, _) = self.param_gradients(k);
                for (c, g) in gw.iter().enumerate() {
                    row.set(c, dvol_dw * g);
                }
            }
        }
    }

    fn w_grad(&self, _: &SviContext, _: usize, k: f64, grad: &mut [f64]) -> Option<f64> {
        grad.copy_from_slice(&self.param_gradients(k).0);
        Some(self.w(k))
    }

    fn n_penalties(_: &SviContext) -> usize {
        4
    }

    fn penalties(
        &self,
        _: &Points,
        ctx: &SviContext,
        rows: &mut [f64],
        jac: Option<&mut JacRows<'_>>,
    ) {
        // One row per dip of g (rows 0 and 3): see `Svi::min_g_dips`.
        let dips = ctx.min_g(self);
        // g = −∞ where w ≤ 0: a huge but finite residual makes the trial point rejected.
        let pens = dips.map(|(_, g)| softplus((G_MARGIN - g).min(1e6), TAU));
        rows[0] = pens[0].0;
        rows[3] = pens[1].0;
        rows[1] = (ctx.w_floor - self.min_total_variance()).max(0.0);
        rows[2] = (self.b * (1.0 + self.rho.abs()) - 2.0).max(0.0);
        let Some(j) = jac else { return };
        for (row, ((kstar, _), (_, slope))) in [0, 3].into_iter().zip(dips.into_iter().zip(pens)) {
            if slope > 0.0 && !kstar.is_nan() {
                for (c, v) in self.g_gradient(kstar).iter().enumerate() {
                    j.set(row, c, -slope * v);
                }
            }
        }
        if rows[1] > 0.0 {
            let r = (1.0 - self.rho * self.rho).sqrt();
            j.set(1, 0, -1.0);
            j.set(1, 1, -self.sigma * r);
            j.set(1, 2, self.b * self.sigma * self.rho / r.max(1e-12));
            j.set(1, 4, -self.b * r);
        }
        if rows[2] > 0.0 {
            j.set(2, 1, 1.0 + self.rho.abs());
            j.set(2, 2, self.b * self.rho.signum());
        }
    }

    fn prepare_start(&mut self, _: &Points, ctx: &SviContext) {
        // Positive variance (raise the level), then, if the start still has butterfly
        // arbitrage, the nearest point toward the flat smile.
        let floor = 2.0 * ctx.w_floor;
        if self.min_total_variance() < floor {
            self.a += floor - self.min_total_variance();
        }
        // A start heuristic: the fast search of min g decides (the verdict is the fine one).
        if !self.is_butterfly_free_fast() {
            let (s, _) = repair_toward_flat(self, ctx.flat, 12, Svi::is_butterfly_free_fast);
            *self = s;
            self.b = self.b.max(0.0);
            self.rho = self.rho.clamp(-0.999, 0.999);
            self.sigma = self.sigma.clamp(1e-5, ctx.sigma_max);
        }
    }

    fn repair(&mut self, _: &Points, ctx: &SviContext) -> Option<Repair> {
        if self.is_butterfly_free() {
            return None;
        }
        let (s, fraction) = repair_toward_flat(self, ctx.flat, 40, Svi::is_butterfly_free);
        *self = s;
        Some(Repair::TowardFlat { fraction })
    }

    fn butterfly(&self, ctx: &SviContext, _: usize) -> ButterflyVerdict {
        self.butterfly_from(ctx.min_g_fine(self))
    }
}
