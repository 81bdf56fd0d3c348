//! SSVI and eSSVI under the calibration seam.
//!
//! * [`Ssvi`] (Gatheral & Jacquier 2014, §4): one `(ρ, η, γ)` (power law) or `(ρ, λ)`
//!   (Heston-like) for every expiry of the data; `θ_t` is each expiry's market ATM total
//!   variance ([`atm_total_variance`]) made non-decreasing in `t` (the first calendar
//!   condition). Penalties: the butterfly conditions of GJ Theorem 4.2 and the calendar
//!   condition of Theorem 4.1 at every `θ_t`, differentiated exactly
//!   ([`conditions`](super::conditions)).
//! * [`EssviSlice`] (Hendriks & Martini 2019; the sequential calibration of Corbetta, Cohort,
//!   Laachir & Martini, *Robust calibration and arbitrage-free interpolation of SSVI slices*,
//!   2019): `(θ, ρ, ψ)` of one expiry under Theorem 4.2's butterfly conditions and, given the
//!   previous expiry ([`EssviOptions::previous`]), the calendar condition
//!   `min_k (w_t(k) − w_{t⁻}(k)) ≥ 0` over the real line (envelope-theorem gradient) with the
//!   wing slopes in order. The repair caps `ψ` at Theorem 4.2's bound and lifts `θ` onto the
//!   previous slice, so a returned slice is free of both arbitrages.

use super::conditions::{gj, phi_terms};
use super::{EssviSlice, Phi, PhiKind, Ssvi};
use crate::models::ad::{Dual, Real};
use crate::models::arbitrage::ButterflyVerdict;
use crate::models::calibrate::{Calibrate, JacRows, Repair, SpecError, vol_from_w};
use crate::models::numerics::{fit_parabola, softplus};
use crate::slice::{Points, SmileSlice, VolConvention};
use std::cell::Cell;

/// Width of the smooth penalties on the GJ conditions.
const TAU: f64 = 1e-3;

/// The market ATM total variance of a slice: a weighted quadratic in `k` through the (up to 5)
/// quotes nearest the money, evaluated at `k = 0` (the nearest quote's if the fit is degenerate).
pub fn atm_total_variance(slice: &SmileSlice) -> f64 {
    let p = Points::new(slice);
    atm_shape(&p, 0).0
}

/// `(w(0), w'(0), w''(0))` of a group's market total variance, from a least-squares parabola
/// through the (up to 5) quotes nearest `k = 0`; `w'`, `w''` are NaN where it is degenerate.
fn atm_shape(data: &Points, group: usize) -> (f64, f64, f64) {
    let g = &data.groups()[group];
    let mut near: Vec<(f64, f64)> = g
        .range
        .clone()
        .map(|i| (data.k()[i], data.mid()[i] * data.mid()[i] * g.t))
        .collect();
    near.sort_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    near.truncate(5);
    let fallback = near.first().map_or(f64::NAN, |p| p.1);
    if near.len() < 3 {
        return (fallback, f64::NAN, f64::NAN);
    }
    let (k, w): (Vec<f64>, Vec<f64>) = near.into_iter().unzip();
    match fit_parabola(&k, &w) {
        Some((c0, c1, c2)) if c0 > 0.0 => (c0, c1, 2.0 * c2),
        _ => (fallback, f64::NAN, f64::NAN),
    }
}

/// Options of an eSSVI slice fit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EssviOptions {
    /// The previous expiry's slice: the fit keeps on or above it (calendar condition).
    pub previous: Option<EssviSlice>,
}

/// What an eSSVI slice fit keeps fixed.
pub struct EssviContext {
    t: f64,
    w_floor: f64,
    previous: Option<EssviSlice>,
    /// The last `(parameters, calendar gap (k, gap))`.
    gap: Cell<Option<([f64; 3], (f64, f64))>>,
}

impl EssviContext {
    fn gap(&self, s: &EssviSlice) -> Option<(f64, f64)> {
        let prev = self.previous?;
        let key = [s.theta, s.rho, s.psi];
        if let Some((k, v)) = self.gap.get()
            && k == key
        {
            return Some(v);
        }
        let v = prev.min_gap(s);
        self.gap.set(Some((key, v)));
        Some(v)
    }
}

fn one_slice_black(data: &Points, model: &'static str) -> Result<(), SpecError> {
    if data.convention() != VolConvention::Lognormal {
        return Err(SpecError::Unsupported {
            model,
            reason: "SSVI fits Black-vol slices; these quotes are normal vols",
        });
    }
    Ok(())
}

impl Calibrate for EssviSlice {
    const NAME: &'static str = "eSSVI";
    const TOLERANCES: (f64, f64, f64) = (1e-9, 1e-10, 1e-10);
    type Options = EssviOptions;
    type Context = EssviContext;

    fn context(data: &Points, opts: &EssviOptions) -> Result<EssviContext, SpecError> {
        one_slice_black(data, "eSSVI")?;
        if data.groups().len() != 1 {
            return Err(SpecError::Unsupported {
                model: "eSSVI",
                reason: "an eSSVI slice fit takes one expiry",
            });
        }
        Ok(EssviContext {
            t: data.t(),
            w_floor: data.groups()[0].w_floor,
            previous: opts.previous,
            gap: Cell::new(None),
        })
    }

    fn n_free(_: &EssviContext) -> usize {
        3
    }

    fn param_names(_: &EssviContext) -> &'static [&'static str] {
        &["theta", "rho", "psi"]
    }

    /// `θ` from the ATM parabola; `ψ` and `ρ` from its slope and curvature:
    /// `w'(0) = ψρ`, `w''(0) = ψ²(1 − ρ²)/(2θ)`, so `ψ² = 2θw''(0) + w'(0)²`, `ρ = w'(0)/ψ`.
    fn guess(data: &Points, ctx: &EssviContext, _: bool) -> Result<EssviSlice, SpecError> {
        let (theta, s1, s2) = atm_shape(data, 0);
        if !(theta > 0.0 && theta.is_finite()) {
            return Err(SpecError::NoStart {
                model: "eSSVI",
                reason: "no at-the-money variance",
            });
        }
        let theta = ctx.previous.map_or(theta, |p| theta.max(p.theta));
        let psi2 = 2.0 * theta * s2 + s1 * s1;
        let (rho, psi) = if psi2 > 0.0 && psi2.is_finite() {
            let psi = psi2.sqrt();
            ((s1 / psi).clamp(-0.9, 0.9), psi)
        } else {
            (-0.3, 0.5 * theta.sqrt())
        };
        let r = 1.0 + rho.abs();
        let psi = psi.min((4.0 / r).min(2.0 * (theta / r).sqrt()) * 0.99);
        Ok(EssviSlice { theta, rho, psi })
    }

    fn to_free(&self, _: &EssviContext, x: &mut [f64]) {
        x.copy_from_slice(&[self.theta, self.rho, self.psi]);
    }

    fn from_free(x: &[f64], _: &EssviContext) -> Option<EssviSlice> {
        Some(EssviSlice {
            theta: x[0],
            rho: x[1],
            psi: x[2],
        })
    }

    fn bounds(_: &EssviContext, _: &EssviSlice, lo: &mut [f64], hi: &mut [f64]) {
        lo.copy_from_slice(&[1e-8, -0.999, 1e-8]);
        hi.copy_from_slice(&[f64::INFINITY, 0.999, 4.0]);
    }

    fn quote_vols(
        &self,
        data: &Points,
        ctx: &EssviContext,
        vols: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        for (i, (&k, v)) in data.k().iter().zip(vols.iter_mut()).enumerate() {
            match jac.as_deref_mut() {
                None => *v = vol_from_w(self.w(k), ctx.t, ctx.w_floor).0,
                Some(j) => {
                    let (w, dw) = self.w_and_gradient(k);
                    let (vol, dvol_dw) = vol_from_w(w, ctx.t, ctx.w_floor);
                    *v = vol;
                    let mut row = j.row(i, vol);
                    for (c, g) in dw.iter().enumerate() {
                        row.set(c, dvol_dw * g);
                    }
                }
            }
        }
    }

    fn w_grad(&self, _: &EssviContext, _: usize, k: f64, grad: &mut [f64]) -> Option<f64> {
        grad.copy_from_slice(&self.w_gradient(k));
        Some(self.w(k))
    }

    fn n_penalties(ctx: &EssviContext) -> usize {
        if ctx.previous.is_some() { 5 } else { 2 }
    }

    fn penalties(
        &self,
        _: &Points,
        ctx: &EssviContext,
        rows: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        let c = gj(
            self.theta,
            Dual::<3>::var(self.rho, 1),
            Dual::var(self.psi, 2),
            None,
        );
        // ∂/∂θ of ψ²(1+|ρ|)/θ − 4 at fixed ψ, ρ.
        let mut curvature = c.curvature;
        curvature.d[0] = -(c.curvature.v + 4.0) / self.theta;
        for (row, cond) in [c.wing, curvature].into_iter().enumerate() {
            let (v, slope) = softplus(cond.v, TAU);
            rows[row] = v;
            if let Some(j) = jac.as_deref_mut() {
                for q in 0..3 {
                    j.set(row, q, slope * cond.d[q]);
                }
            }
        }
        let Some(prev) = ctx.previous else { return };
        // Wing slopes ψ(1 ± ρ)/2 must not fall below the previous expiry's, or the slices
        // cross far out in the wings; with them in order the gap's minimum is finite.
        let (right, sr) = softplus(
            prev.psi * (1.0 + prev.rho) - self.psi * (1.0 + self.rho),
            TAU,
        );
        let (left, sl) = softplus(
            prev.psi * (1.0 - prev.rho) - self.psi * (1.0 - self.rho),
            TAU,
        );
        rows[3] = right;
        rows[4] = left;
        let (kstar, gap) = ctx.gap(self).unwrap_or((0.0, f64::INFINITY));
        // Capped: a far-wing crossing must not swamp the fit.
        let x = (1e-6 * self.theta - gap).min(self.theta);
        let (gv, gs) = softplus(x, TAU * self.theta);
        rows[2] = gv;
        if let Some(j) = jac {
            j.set(3, 1, -sr * self.psi);
            j.set(3, 2, -sr * (1.0 + self.rho));
            j.set(4, 1, sl * self.psi);
            j.set(4, 2, -sl * (1.0 - self.rho));
            if x < self.theta {
                for (q, g) in self.w_gradient(kstar).iter().enumerate() {
                    j.set(2, q, -gs * g);
                }
            }
        }
    }

    fn repair(&mut self, _: &Points, ctx: &EssviContext) -> Option<Repair> {
        let before = *self;
        // The butterfly condition (the penalty is finite): cap ψ at GJ Theorem 4.2's bound,
        // `ψ ≤ min(4/(1+|ρ|), 2√(θ/(1+|ρ|)))` (a hair inside).
        let r = 1.0 + self.rho.abs();
        let cap = |theta: f64| (4.0 / r).min(2.0 * (theta / r).sqrt()) * (1.0 - 1e-12);
        self.psi = self.psi.min(cap(self.theta));
        // The calendar condition: with the wing slopes in order the fitted slice may still sit
        // a hair below the previous one: lift θ until it does not. Raising ψ for the wings may
        // need a larger θ for the butterfly bound; raising θ only loosens that bound.
        if let Some(prev) = ctx.previous {
            let wings_ok = self.psi * (1.0 + self.rho) >= prev.psi * (1.0 + prev.rho)
                && self.psi * (1.0 - self.rho) >= prev.psi * (1.0 - prev.rho);
            if !wings_ok {
                self.psi = self
                    .psi
                    .max(prev.psi * (1.0 + prev.rho) / (1.0 + self.rho))
                    .max(prev.psi * (1.0 - prev.rho) / (1.0 - self.rho));
                self.theta = self.theta.max(self.psi * self.psi * r / 4.0 * (1.0 + 1e-9));
            }
            for _ in 0..60 {
                let gap = prev.min_gap(self).1;
                if gap >= 0.0 || !gap.is_finite() {
                    break;
                }
                self.theta += (1e-6 * self.theta).max(-gap);
            }
        }
        (*self != before).then_some(Repair::Essvi {
            psi_before: before.psi,
            theta_before: before.theta,
        })
    }

    fn butterfly(&self, _: &EssviContext, _: usize) -> ButterflyVerdict {
        self.to_svi().butterfly()
    }
}

/// Options of an SSVI surface fit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SsviOptions {
    /// The form of `φ`.
    pub phi: PhiKind,
}

/// What an SSVI surface fit keeps fixed: `θ_t` per expiry.
pub struct SsviContext {
    kind: PhiKind,
    thetas: Vec<f64>,
}

impl SsviContext {
    /// `θ_t` of each expiry of the data, in order.
    pub fn thetas(&self) -> &[f64] {
        &self.thetas
    }
}

impl Ssvi {
    fn params(&self) -> [f64; 2] {
        match self.phi {
            Phi::PowerLaw { eta, gamma } => [eta, gamma],
            Phi::HestonLike { lambda } => [lambda, 0.0],
        }
    }

    /// `ψ = θφ(θ)` and `∂(θφ)/∂θ` at `θ` as duals in the free parameters `(ρ, p₁[, p₂])`.
    fn psi_dual(&self, theta: f64) -> (Dual<3>, Dual<3>) {
        let [p1, p2] = self.params();
        let p = match self.phi.kind() {
            PhiKind::PowerLaw => [Dual::var(p1, 1), Dual::var(p2, 2)],
            PhiKind::HestonLike => [Dual::var(p1, 1), Dual::cst(0.0)],
        };
        let (phi, slope) = phi_terms(self.phi.kind(), p, theta);
        (phi * theta, slope)
    }
}

impl Calibrate for Ssvi {
    const NAME: &'static str = "SSVI";
    type Options = SsviOptions;
    type Context = SsviContext;

    fn context(data: &Points, opts: &SsviOptions) -> Result<SsviContext, SpecError> {
        one_slice_black(data, "SSVI")?;
        let mut thetas: Vec<f64> = (0..data.groups().len())
            .map(|g| atm_shape(data, g).0)
            .collect();
        for i in 1..thetas.len() {
            if data.groups()[i].t < data.groups()[i - 1].t {
                return Err(SpecError::Unsupported {
                    model: "SSVI",
                    reason: "expiries must be in increasing order of time",
                });
            }
            thetas[i] = thetas[i].max(thetas[i - 1]);
        }
        if thetas.iter().any(|t| !(*t > 0.0 && t.is_finite())) {
            return Err(SpecError::NoStart {
                model: "SSVI",
                reason: "an expiry has no at-the-money variance",
            });
        }
        Ok(SsviContext {
            kind: opts.phi,
            thetas,
        })
    }

    fn n_free(ctx: &SsviContext) -> usize {
        match ctx.kind {
            PhiKind::PowerLaw => 3,
            PhiKind::HestonLike => 2,
        }
    }

    fn param_names(ctx: &SsviContext) -> &'static [&'static str] {
        match ctx.kind {
            PhiKind::PowerLaw => &["rho", "eta", "gamma"],
            PhiKind::HestonLike => &["rho", "lambda"],
        }
    }

    fn guess(_: &Points, ctx: &SsviContext, _: bool) -> Result<Ssvi, SpecError> {
        let phi = match ctx.kind {
            PhiKind::PowerLaw => Phi::PowerLaw {
                eta: 0.5,
                gamma: 0.3,
            },
            PhiKind::HestonLike => {
                let mid = ctx.thetas[ctx.thetas.len() / 2];
                Phi::HestonLike { lambda: 1.0 / mid }
            }
        };
        Ok(Ssvi { rho: -0.5, phi })
    }

    fn to_free(&self, _: &SsviContext, x: &mut [f64]) {
        x[0] = self.rho;
        let p = self.params();
        x[1] = p[0];
        if let Some(v) = x.get_mut(2) {
            *v = p[1];
        }
    }

    fn from_free(x: &[f64], ctx: &SsviContext) -> Option<Ssvi> {
        let phi = match ctx.kind {
            PhiKind::PowerLaw => Phi::PowerLaw {
                eta: x[1],
                gamma: x[2],
            },
            PhiKind::HestonLike => Phi::HestonLike { lambda: x[1] },
        };
        Some(Ssvi { rho: x[0], phi })
    }

    fn bounds(ctx: &SsviContext, _: &Ssvi, lo: &mut [f64], hi: &mut [f64]) {
        match ctx.kind {
            PhiKind::PowerLaw => {
                lo.copy_from_slice(&[-0.999, 1e-4, 0.01]);
                hi.copy_from_slice(&[0.999, 20.0, 0.5]);
            }
            PhiKind::HestonLike => {
                lo.copy_from_slice(&[-0.999, 1e-8]);
                hi.copy_from_slice(&[0.999, 1e8]);
            }
        }
    }

    fn quote_vols(
        &self,
        data: &Points,
        ctx: &SsviContext,
        vols: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        let n = Self::n_free(ctx);
        for (g, group) in data.groups().iter().enumerate() {
            let theta = ctx.thetas[g];
            let (psi, _) = self.psi_dual(theta);
            let slice = EssviSlice {
                theta,
                rho: self.rho,
                psi: psi.v,
            };
            for i in group.range.clone() {
                let k = data.k()[i];
                let Some(j) = jac.as_deref_mut() else {
                    vols[i] = vol_from_w(slice.w(k), group.t, group.w_floor).0;
                    continue;
                };
                let (w, dw) = slice.w_and_gradient(k);
                let (vol, dvol_dw) = vol_from_w(w, group.t, group.w_floor);
                vols[i] = vol;
                // w(θ, ρ, ψ(params)) at fixed θ.
                let mut row = j.row(i, vol);
                row.set(0, dvol_dw * (dw[1] + dw[2] * psi.d[0]));
                for q in 1..n {
                    row.set(q, dvol_dw * dw[2] * psi.d[q]);
                }
            }
        }
    }

    fn w_grad(&self, _: &SsviContext, _: usize, _: f64, _: &mut [f64]) -> Option<f64> {
        None
    }

    fn n_penalties(ctx: &SsviContext) -> usize {
        3 * ctx.thetas.len()
    }

    fn penalties(
        &self,
        _: &Points,
        ctx: &SsviContext,
        rows: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        let n = Self::n_free(ctx);
        for (g, &theta) in ctx.thetas.iter().enumerate() {
            let (psi, slope) = self.psi_dual(theta);
            let c = gj(theta, Dual::var(self.rho, 0), psi, Some(slope));
            let calendar = c.calendar.unwrap_or(Dual::cst(0.0));
            for (q, cond) in [c.wing, c.curvature, calendar].into_iter().enumerate() {
                let row = 3 * g + q;
                let (v, s) = softplus(cond.re(), TAU);
                rows[row] = v;
                if let Some(j) = jac.as_deref_mut() {
                    for p in 0..n {
                        j.set(row, p, s * cond.d[p]);
                    }
                }
            }
        }
    }

    fn butterfly(&self, ctx: &SsviContext, group: usize) -> ButterflyVerdict {
        self.slice(ctx.thetas[group]).butterfly()
    }
}
