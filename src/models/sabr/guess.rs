//! Le Floc'h & Kennedy's explicit start of a SABR fit (*Explicit SABR calibration through
//! simple expansions*, 2014, §4): the at-the-money vol, skew and curvature of the market
//! smile in `z = ln((K+b)/(F+b))`, read off a parabola through the three quotes nearest the
//! forward and off a least-squares parabola through the seven nearest, are matched by the
//! second-order expansion of the chosen formula (lognormal: Hagan 2002 eq. 3.1a; normal: LFK's
//! eq. for `σ_N(z)`), which solves explicitly for `(α₀, ρ₀, ν₀)`; `α` is then refined to
//! reproduce the at-the-money vol exactly (the cubic). Of the two candidates the one with the
//! smaller vol RMSE starts the polish.

use super::context::SabrContext;
use super::{Sabr, SabrExpansion};
use crate::models::calibrate::SpecError;
use crate::models::numerics::fit_parabola;
use crate::slice::Points;

/// `(σ₀, σ₀', σ₀'')` at `z = 0` of a parabola through `(z, v)` (least squares when more than
/// three points).
fn parabola(z: &[f64], v: &[f64]) -> Option<(f64, f64, f64)> {
    fit_parabola(z, v).map(|(c0, c1, c2)| (c0, c1, 2.0 * c2))
}

/// Le Floc'h & Kennedy's explicit `(α₀, ρ₀, ν₀)` from the at-the-money vol, skew and
/// curvature in `z = ln((K+b)/(F+b))`, then `α₁` from the at-the-money cubic.
fn explicit_guess(
    e: SabrExpansion,
    f: f64,
    t: f64,
    beta: f64,
    (s0, s1, s2): (f64, f64, f64),
) -> Option<(f64, f64, f64)> {
    const RHO_MAX: f64 = 0.999;
    let (alpha0, a, nu2) = if e.is_normal() {
        let a = 2.0 * s1 - beta * s0;
        let nu2 = (3.0 * s0 * s2
            - 0.5 * (beta * beta + beta) * s0 * s0
            - 3.0 * s0 * (s1 - 0.5 * beta * s0)
            + 1.5 * a * a)
            / (f * f);
        (s0 * f.powf(-beta), a / f, nu2)
    } else {
        let omb = 1.0 - beta;
        let a = 2.0 * s1 + omb * s0;
        let nu2 = 3.0 * s0 * s2 - 0.5 * omb * omb * s0 * s0 + 1.5 * a * a;
        (s0 * f.powf(omb), a, nu2)
    };
    // ρν = a; ν² from the curvature. Where the curvature cannot be met (ν² < ρ²ν²), ρ goes to
    // its bound and ν matches the skew alone (LFK §4.1).
    let (rho, nu) = if nu2 > 0.0 && (a * a) < nu2 * RHO_MAX * RHO_MAX {
        let nu = nu2.sqrt();
        (a / nu, nu)
    } else {
        (RHO_MAX.copysign(a), (a / RHO_MAX).abs())
    };
    let nu = nu.max(1e-4);
    let alpha = Sabr::alpha_from_atm(e, f, 0.0, t, s0, beta, rho, nu).unwrap_or(alpha0);
    (alpha > 0.0 && alpha.is_finite() && nu.is_finite()).then_some((alpha, rho, nu))
}

/// The quotes' coordinate for the at-the-money expansions: `z = ln((K+b)/(F+b))`, or the
/// relative distance `(K − F)/|F|` where logs do not exist (β = 0 normal SABR).
fn zs(setup: &SabrContext) -> Vec<f64> {
    let f = setup.forward + setup.shift;
    setup
        .strikes
        .iter()
        .map(|&k| {
            if f > 0.0 && k + setup.shift > 0.0 {
                ((k + setup.shift) / f).ln()
            } else {
                (k - setup.forward) / f.abs().max(1e-4)
            }
        })
        .collect()
}

/// The `n` consecutive quotes nearest the forward (by `|z|`): their index range.
fn nearest(z: &[f64], n: usize) -> Option<std::ops::Range<usize>> {
    let centre = (0..z.len()).min_by(|&a, &b| z[a].abs().total_cmp(&z[b].abs()))?;
    let n = n.min(z.len());
    let lo = centre.saturating_sub(n / 2).min(z.len() - n);
    Some(lo..lo + n)
}

/// `(σ₀, σ₀', σ₀'')` of the market smile at the forward from the `n` quotes nearest it.
fn atm_shape(setup: &SabrContext, model_mid: &[f64], n: usize) -> Option<(f64, f64, f64)> {
    let z = zs(setup);
    if z.len() < 3 {
        return None;
    }
    let r = nearest(&z, n)?;
    parabola(&z[r.clone()], &model_mid[r])
}

/// The at-the-money vol by Lagrange interpolation through the four quotes nearest the forward
/// (three when only three exist): the level `α` is tied to when fitting `(ρ, ν)` only.
pub(super) fn atm_vol(setup: &SabrContext, model_mid: &[f64]) -> Option<f64> {
    let z = zs(setup);
    if z.len() < 3 {
        return None;
    }
    let mut r = nearest(&z, 4)?;
    // Straddle the forward when possible: the window of 4 whose centre is nearest z = 0.
    if r.len() == 4 && r.start > 0 && z[r.start + 1] > 0.0 {
        r = r.start - 1..r.end - 1;
    } else if r.len() == 4 && r.end < z.len() && z[r.end - 2] < 0.0 {
        r = r.start + 1..r.end + 1;
    }
    let mut v = 0.0;
    for i in r.clone() {
        let mut l = 1.0;
        for j in r.clone() {
            if j != i {
                l *= (0.0 - z[j]) / (z[i] - z[j]);
            }
        }
        v += l * model_mid[i];
    }
    (v > 0.0 && v.is_finite()).then_some(v)
}

pub(super) fn guess(setup: &SabrContext, pts: &Points) -> Result<Sabr, SpecError> {
    let beta = setup
        .beta_fixed
        .unwrap_or(if setup.slice_q.normal { 0.5 } else { 1.0 });
    let f = setup.forward + setup.shift;
    let mut best: Option<(f64, Sabr)> = None;
    for n in [3, 7] {
        if n > setup.strikes.len() && n > 3 {
            continue;
        }
        let Some(shape) = atm_shape(setup, &setup.model_mid, n) else {
            continue;
        };
        let cand = if f > 0.0 {
            explicit_guess(setup.e, f, setup.t, beta, shape)
        } else {
            // β = 0 normal SABR around a non-positive forward: α from the level, flat smile.
            Some((shape.0, 0.0, 0.1))
        };
        let Some((alpha, rho, nu)) = cand else {
            continue;
        };
        let m = setup.model(&[alpha, beta, rho, nu]);
        let vols = setup.slice_vols(&m);
        let rmse = pts.stats(0..pts.len(), &vols).rmse;
        if rmse.is_finite() && best.as_ref().is_none_or(|(r, _)| rmse < *r) {
            best = Some((rmse, m));
        }
    }
    best.map(|(_, m)| m).ok_or(SpecError::NoStart {
        model: "SABR",
        reason: "no explicit start (degenerate at-the-money smile)",
    })
}
