//! The spline smile under the calibration seam.
//!
//! * **Base**: a butterfly-free SVI fit of the same quotes ([`SplineOptions::base`], or fitted
//!   here with the default options), kept fixed; the free parameters are the `n` spline
//!   coefficients only, so the problem is nearly linear and the polish takes a few steps.
//! * **Knots**: uniform, one interval per [`SplineOptions::quotes_per_knot`] quotes across the
//!   quoted range (2 to 31 intervals), and two more on each side.
//! * **Regularisation** ([`Calibrate::regular`], never stiffened): `√λ`-weighted second
//!   differences of the coefficients, scaled so that `λ` is dimensionless — it weighs the
//!   roughness `∫(∂²δσ/∂u²)² du` (`δσ` the correction in vol, `u` the quoted range mapped to
//!   `[0, 1]`) against the mean squared weighted vol error of the quotes.
//! * **Penalties** (with `no_arbitrage`): one row per knot interval of the support,
//!   `softplus(ε − min g)` over six samples of the interval, differentiated at the lowest
//!   sample (`g` is linear in `(w, w', w'')`'s perturbations, which are linear in `c`).
//! * **Repair**: should the polish end with `g < 0` anywhere (the verdict scans 16 samples per
//!   interval and refines by Brent's method), the coefficients shrink toward zero — toward the
//!   base, which is free — to the first butterfly-free point, found by bisection.

use super::{MAX_COEFS, SplineSmile};
use crate::fit::{FitOptions, fit_points};
use crate::models::SmileModel;
use crate::models::arbitrage::{ButterflyVerdict, durrleman, durrleman_partials};
use crate::models::calibrate::{Calibrate, JacRows, Repair, SpecError, vol_from_w};
use crate::models::numerics::softplus;
use crate::models::svi::Svi;
use crate::slice::{Points, VolConvention};
use serde::{Deserialize, Serialize};

/// The margin of Durrleman's `g` a spline fit keeps (or the base's own minimum, if lower):
/// the served surface raises smiles by `σ_min²Δt` where a later fit dips below them, and a
/// smile with `g` at 0 somewhere can lose butterfly-freedom under that raise (seen on 2 of
/// the 1,250 qmoms days with no margin).
const G_KEEP: f64 = 1e-3;
/// Width of the smooth butterfly penalty.
const TAU: f64 = 3e-4;
/// Weight of the Durrleman rows before the fitter's own (a `g` shortfall of 1 costs like a
/// vol error of `G_WEIGHT·P`).
const G_WEIGHT: f64 = 0.1;
/// Samples of `g` per knot interval in the penalty rows.
const PENALTY_SAMPLES: usize = 3;
/// The most knot intervals across the quoted range.
const MAX_INTERVALS: usize = 23;

/// Options of a spline fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SplineOptions {
    /// Roughness weight `λ` (dimensionless: it weighs the roughness of the correction in vol against the mean squared weighted vol error). Larger is
    /// smoother: `λ → ∞` leaves a correction linear in the coefficients' index.
    pub smoothing: f64,
    /// Quotes per knot interval across the quoted range.
    pub quotes_per_knot: f64,
    /// The SVI smile the spline corrects (`None`: an SVI fit of the same quotes with the
    /// default options). Not serialised: it is data, not an option.
    #[serde(skip)]
    pub base: Option<Svi>,
}

impl Default for SplineOptions {
    fn default() -> Self {
        SplineOptions {
            smoothing: 1e-8,
            quotes_per_knot: 3.0,
            base: None,
        }
    }
}

/// What a spline fit keeps fixed: the base, the knots and the scales.
pub struct SplineContext {
    t: f64,
    w_floor: f64,
    base: Svi,
    k0: f64,
    h: f64,
    n: usize,
    /// The multiplier of the coefficients' second differences in the regularisation rows.
    smooth: f64,
    /// The `g` margin the fit keeps: `min(G_KEEP, the base's min g)`.
    keep: f64,
}

/// `"c0"`…`"c31"`: the names of the free parameters.
const NAMES: [&str; MAX_COEFS] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14",
    "c15", "c16", "c17", "c18", "c19", "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27",
    "c28", "c29", "c30", "c31",
];

impl SplineContext {
    pub(super) fn n(&self) -> usize {
        self.n
    }
    pub(super) fn base(&self) -> &Svi {
        &self.base
    }
    pub(super) fn k0(&self) -> f64 {
        self.k0
    }
    pub(super) fn h(&self) -> f64 {
        self.h
    }
    pub(super) fn smooth(&self) -> f64 {
        self.smooth
    }
    pub(super) fn keep(&self) -> f64 {
        self.keep
    }

    fn model(&self, c: &[f64]) -> SplineSmile {
        let mut s = SplineSmile::flat_correction(self.base, self.k0, self.h, self.n);
        s.coefs_mut().copy_from_slice(&c[..self.n]);
        s
    }
}

/// Row `r` (of `n + 2`) of the roughness penalty: the second difference of
/// `(0, 0, c₀, …, cₙ₋₁, 0, 0)` centred at `c_{r−1}` — the correction's turn back to zero at
/// the ends of its support is rough too — as `(coefficient index, weight)` for the indices in
/// `0..n`.
pub(super) fn roughness_row(r: usize, n: usize) -> impl Iterator<Item = (usize, f64)> {
    let j = r as isize - 1;
    [(j - 1, 1.0), (j, -2.0), (j + 1, 1.0)]
        .into_iter()
        .filter(move |&(i, _)| (0..n as isize).contains(&i))
        .map(|(i, v)| (i as usize, v))
}

/// Free of butterfly arbitrage with `min g ≥ keep`.
fn kept(s: &SplineSmile, keep: f64) -> bool {
    kept_over(s, &s.base.butterfly(), keep)
}

/// [`kept`] given the base's verdict (`base`, which a shrink toward the base leaves as it
/// is): the same decision as `SplineSmile::butterfly`'s `free && min_g ≥ keep`, without
/// the verdict's scan for negative intervals (a dense pass over the support whenever
/// `min g < 0`, which most trial points of the repair's bisection have) and without the
/// base's exact min g at each trial (callgrind, the 180 bench slices: the repair 264 → 225 M
/// of the spline fits' ~3,200 M instructions; what is left is the support's scan per trial).
fn kept_over(s: &SplineSmile, base: &ButterflyVerdict, keep: f64) -> bool {
    let (_, support) = s.min_g_support(super::VERDICT_SAMPLES, 3);
    let min_g = if support < base.min_g {
        support
    } else {
        base.min_g
    };
    base.free && min_g >= 0.0 && min_g >= keep
}

/// `g` at `k` and its partials in `(w, w', w'')` (`None` where `w ≤ 0`).
#[inline]
fn g_partials(k: f64, (w, w1, w2): (f64, f64, f64)) -> Option<(f64, (f64, f64, f64))> {
    (w > 0.0).then(|| (durrleman(k, w, w1, w2), durrleman_partials(k, w, w1)))
}

impl Calibrate for SplineSmile {
    const NAME: &'static str = "spline";
    const TOLERANCES: (f64, f64, f64) = (1e-5, 1e-6, 1e-6);
    type Options = SplineOptions;
    type Context = SplineContext;

    fn context(data: &Points, opts: &SplineOptions) -> Result<SplineContext, SpecError> {
        if data.convention() != VolConvention::Lognormal {
            return Err(SpecError::Unsupported {
                model: "spline",
                reason: "the spline smile fits Black-vol slices; this slice holds normal vols",
            });
        }
        if data.groups().len() != 1 {
            return Err(SpecError::Unsupported {
                model: "spline",
                reason: "a spline fit takes one expiry",
            });
        }
        if !(opts.smoothing >= 0.0 && opts.smoothing.is_finite()) {
            return Err(SpecError::Domain {
                model: "spline",
                what: "smoothing",
                value: opts.smoothing,
                rule: "must be finite and ≥ 0",
            });
        }
        if !(opts.quotes_per_knot >= 1.0 && opts.quotes_per_knot.is_finite()) {
            return Err(SpecError::Domain {
                model: "spline",
                what: "quotes_per_knot",
                value: opts.quotes_per_knot,
                rule: "must be finite and ≥ 1",
            });
        }
        let base = match opts.base {
            Some(b) => b,
            None => {
                fit_points::<Svi>(data, &FitOptions::default(), &(), None, &[])
                    .map_err(|_| SpecError::NoStart {
                        model: "spline",
                        reason: "the SVI base fit failed",
                    })?
                    .0
            }
        };
        let t = data.t();
        let len = data.len();
        let [lo, hi] = data.k_range(0..len);
        // m intervals across the quotes, e more on each side for the correction to fade out:
        // n = m + 2e − 3 coefficients.
        let m = ((len as f64 / opts.quotes_per_knot).round() as usize).clamp(2, MAX_INTERVALS);
        let e = (m.div_ceil(4)).clamp(2, 6);
        let span = (hi - lo).max(1e-4);
        let h = span / m as f64;
        let n = m + 2 * e - 3;
        let flat = data.mid().iter().map(|s| s * s * t).sum::<f64>() / len as f64;
        // δσ ≈ δw / (2√(w t)); second differences over h² are ∂²/∂k², times span² per ∂u²;
        // √(λ·len·h/span) makes the sum over rows a λ-weighted mean-square roughness.
        let vol_per_w = 0.5 / (flat * t).sqrt();
        let smooth =
            (opts.smoothing * len as f64 * h / span).sqrt() * span * span / (h * h) * vol_per_w;
        let keep = G_KEEP.min(base.min_g().1).max(0.0);
        Ok(SplineContext {
            keep,
            t,
            w_floor: data.groups()[0].w_floor,
            base,
            k0: lo - e as f64 * h,
            h,
            n,
            smooth,
        })
    }

    fn n_free(ctx: &SplineContext) -> usize {
        ctx.n
    }

    fn param_names(ctx: &SplineContext) -> &'static [&'static str] {
        &NAMES[..ctx.n]
    }

    fn guess(
        data: &Points,
        ctx: &SplineContext,
        no_arbitrage: bool,
    ) -> Result<SplineSmile, SpecError> {
        let c = if no_arbitrage {
            super::start::qp_start(data, ctx, PENALTY_SAMPLES)
        } else {
            super::start::qp_start(data, ctx, 0)
        };
        Ok(ctx.model(&c))
    }

    fn to_free(&self, ctx: &SplineContext, x: &mut [f64]) {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        if self.n == ctx.n && same(self.k0, ctx.k0) && same(self.h, ctx.h) {
            x.copy_from_slice(self.coefs());
        } else {
            x.fill(0.0);
        }
    }

    fn from_free(x: &[f64], ctx: &SplineContext) -> Option<SplineSmile> {
        x.iter().all(|v| v.is_finite()).then(|| ctx.model(x))
    }

    fn bounds(_: &SplineContext, _: &SplineSmile, lo: &mut [f64], hi: &mut [f64]) {
        lo.fill(f64::NEG_INFINITY);
        hi.fill(f64::INFINITY);
    }

    fn quote_vols(
        &self,
        data: &Points,
        ctx: &SplineContext,
        vols: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        for (i, (&k, v)) in data.k().iter().zip(vols.iter_mut()).enumerate() {
            let (vol, dvol_dw) = vol_from_w(self.w(k), ctx.t, ctx.w_floor);
            *v = vol;
            if let Some(j) = jac.as_deref_mut()
                && let Some(l) = self.local(k)
            {
                let mut row = j.row(i, vol);
                for q in 0..4 {
                    let c = l.first + q as isize;
                    if c >= 0 && (c as usize) < self.n {
                        row.set(c as usize, dvol_dw * l.b[q]);
                    }
                }
            }
        }
    }

    fn w_grad(&self, _: &SplineContext, _: usize, k: f64, grad: &mut [f64]) -> Option<f64> {
        grad.fill(0.0);
        if let Some(l) = self.local(k) {
            for q in 0..4 {
                let c = l.first + q as isize;
                if c >= 0 && (c as usize) < self.n {
                    grad[c as usize] = l.b[q];
                }
            }
        }
        Some(self.w(k))
    }

    fn n_regular(ctx: &SplineContext) -> usize {
        ctx.n + 2
    }

    fn regular(&self, ctx: &SplineContext, rows: &mut [f64], mut jac: Option<&mut JacRows<'_>>) {
        let c = self.coefs();
        for (r, row) in rows.iter_mut().enumerate() {
            *row = 0.0;
            for (j, v) in roughness_row(r, self.n) {
                *row += ctx.smooth * v * c[j];
                if let Some(jm) = jac.as_deref_mut() {
                    jm.set(r, j, ctx.smooth * v);
                }
            }
        }
    }

    fn n_penalties(ctx: &SplineContext) -> usize {
        PENALTY_SAMPLES * (ctx.n + 3)
    }

    fn penalties(
        &self,
        _: &Points,
        ctx: &SplineContext,
        rows: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        let step = self.h / PENALTY_SAMPLES as f64;
        for (r, row) in rows.iter_mut().enumerate() {
            let k = self.k0 + step * (r as f64 + 0.5);
            let d = self.w_derivs(k);
            let Some((g, (gw, gw1, gw2))) = g_partials(k, d) else {
                // w ≤ 0: a huge but finite residual makes the trial point rejected.
                *row = 1e6;
                continue;
            };
            let (pen, slope) = softplus((ctx.keep - g).min(1e6), TAU);
            *row = G_WEIGHT * pen;
            let Some(j) = jac.as_deref_mut() else {
                continue;
            };
            let Some(l) = self.local(k) else { continue };
            if slope > 0.0 {
                for q in 0..4 {
                    let c = l.first + q as isize;
                    if c >= 0 && (c as usize) < self.n {
                        let dg = gw * l.b[q] + gw1 * l.d[q] + gw2 * l.e[q];
                        j.set(r, c as usize, -G_WEIGHT * slope * dg);
                    }
                }
            }
        }
    }

    fn admissible(&self, _: &Points, ctx: &SplineContext) -> bool {
        kept(self, ctx.keep)
    }

    fn repair(&mut self, _: &Points, ctx: &SplineContext) -> Option<Repair> {
        let base = self.base.butterfly();
        if kept_over(self, &base, ctx.keep) {
            return None;
        }
        let full = *self;
        let shrink = |f: f64| {
            let mut s = full;
            for c in s.coefs_mut() {
                *c *= 1.0 - f;
            }
            s
        };
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if kept_over(&shrink(mid), &base, ctx.keep) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        *self = shrink(hi);
        Some(Repair::TowardBase { fraction: hi })
    }

    fn butterfly(&self, _: &SplineContext, _: usize) -> ButterflyVerdict {
        SplineSmile::butterfly(self)
    }
}
