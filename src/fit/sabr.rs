//! SABR slice fits.
//!
//! 1. **Explicit start** (Le Floc'h & Kennedy, *Explicit SABR calibration through simple
//!    expansions*, 2014, §4): the at-the-money vol, skew and curvature of the market smile in
//!    `z = ln((K+b)/(F+b))`, read off a parabola through the three quotes nearest the forward
//!    and off a least-squares parabola through the seven nearest, are matched by the
//!    second-order expansion of the chosen formula (lognormal: Hagan 2002 eq. 3.1a; normal:
//!    LFK's eq. for `σ_N(z)`), which solves explicitly for `(α₀, ρ₀, ν₀)`; `α` is then refined
//!    to reproduce the at-the-money vol exactly (the cubic). Of the two candidates the one with
//!    the smaller vol RMSE starts the polish.
//! 2. **Polish** of `(α, ρ, ν)` — or `(ρ, ν)` with `α` tied to the at-the-money vol, and `β`
//!    when fitted — with the chosen [`Optimizer`](super::Optimizer) on the vol residuals of
//!    the [`Objective`](super::Objective), bounds `α > 0`, `|ρ| ≤ 0.9999`, `ν ≥ 0`, `β ∈ [0, 1]`. The Jacobian is
//!    exact (forward-mode differentiation of the formula; with `α` from the at-the-money vol,
//!    implicit differentiation of the cubic). When the expansion's convention (Black of
//!    `F + b`, or normal) differs from the slice's, model vols are converted exactly through the
//!    option price, and the Jacobian through the ratio of vegas.
//! 3. **Check**: the fitted density is scanned for negative values
//!    ([`Sabr::butterfly_scan`]); the report gives the minimum normalised density and the
//!    strike intervals where it is negative. SABR fits are not constrained to be free of
//!    butterfly arbitrage (Hagan's expansion has none of SVI's exact domain); the scan says
//!    where they are not.

use super::smile::{Fit, FitOptions, FitReport, Points, SabrBeta};
use super::{FitError, SolveOptions, least_squares};
use crate::black::{
    OptionKind, bachelier_greeks, bachelier_price, black_greeks, black_price, implied_normal_vol,
    implied_vol,
};
use crate::models::ad::{Dual, Real};
use crate::models::sabr::{Sabr, SabrExpansion, StrikeTerms, sabr_vol_terms};
use crate::slice::{SmileSlice, VolConvention};
use argmin::core::{Error, Jacobian, Operator};
use nalgebra::SVector;
use std::time::Instant;

/// A vol quoting convention: normal, or Black on `F + shift`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quote {
    normal: bool,
    shift: f64,
}

impl Quote {
    fn price(self, kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
        if self.normal {
            bachelier_price(kind, f, k, t, vol)
        } else {
            black_price(kind, f + self.shift, k + self.shift, t, vol)
        }
    }

    fn vega(self, kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
        if self.normal {
            bachelier_greeks(kind, f, k, t, vol).vega
        } else {
            black_greeks(kind, f + self.shift, k + self.shift, t, vol).vega
        }
    }

    fn implied(self, kind: OptionKind, price: f64, f: f64, k: f64, t: f64) -> Option<f64> {
        if self.normal {
            implied_normal_vol(kind, price, f, k, t).ok()
        } else {
            implied_vol(kind, price, f + self.shift, k + self.shift, t).ok()
        }
    }

    /// `vol` in convention `self` as a vol in `to`, with `∂(to vol)/∂(self vol)`.
    fn convert(self, to: Quote, f: f64, k: f64, t: f64, vol: f64) -> Option<(f64, f64)> {
        if self == to {
            return Some((vol, 1.0));
        }
        let kind = OptionKind::otm(f, k);
        let p = self.price(kind, f, k, t, vol);
        let v = to.implied(kind, p, f, k, t)?;
        let d = self.vega(kind, f, k, t, vol) / to.vega(kind, f, k, t, v);
        (v.is_finite() && d.is_finite()).then_some((v, d))
    }
}

/// The fixed data of one SABR fit.
struct Setup {
    e: SabrExpansion,
    forward: f64,
    shift: f64,
    t: f64,
    strikes: Vec<f64>,
    model_q: Quote,
    slice_q: Quote,
    /// `Some(β)` when fixed.
    beta_fixed: Option<f64>,
    /// The at-the-money vol in the model's convention, when `α` is tied to it.
    atm: Option<f64>,
    /// Strike terms of the formula when `β` is fixed (computed once).
    terms: Vec<StrikeTerms<f64>>,
}

impl Setup {
    /// `(α, β, ρ, ν)` as duals from the free parameters `x`.
    fn params<const N: usize>(&self, x: &[f64]) -> Option<[Dual<N>; 4]> {
        let mut i = 0;
        let alpha = if self.atm.is_none() {
            i = 1;
            Some(Dual::var(x[0], 0))
        } else {
            None
        };
        let beta = if let Some(b) = self.beta_fixed {
            Dual::cst(b)
        } else {
            i += 1;
            Dual::var(x[i - 1], i - 1)
        };
        let rho = Dual::var(x[i], i);
        let nu = Dual::var(x[i + 1], i + 1);
        let alpha = match (alpha, self.atm) {
            (Some(a), _) => a,
            (None, Some(atm)) => Sabr::alpha_from_atm_dual(
                self.e,
                self.forward + self.shift,
                self.t,
                atm,
                beta,
                rho,
                nu,
            )?,
            (None, None) => return None,
        };
        Some([alpha, beta, rho, nu])
    }

    /// `(α, β, ρ, ν)` from the free parameters `x` (values only).
    fn params_f64(&self, x: &[f64]) -> Option<[f64; 4]> {
        let mut i = usize::from(self.atm.is_none());
        let beta = self.beta_fixed.unwrap_or_else(|| {
            i += 1;
            x[i - 1]
        });
        let (rho, nu) = (x[i], x[i + 1]);
        let alpha = match self.atm {
            None => x[0],
            Some(atm) => {
                Sabr::alpha_from_atm(self.e, self.forward, self.shift, self.t, atm, beta, rho, nu)?
            }
        };
        Some([alpha, beta, rho, nu])
    }

    /// Model vol of `p` at quote `i` in the slice's convention.
    fn vol_f64(&self, i: usize, p: &[f64; 4]) -> Option<f64> {
        let k = self.strikes[i];
        let st = match self.terms.get(i) {
            Some(st) => *st,
            None => StrikeTerms::new(self.e, self.forward + self.shift, k + self.shift, p[1]),
        };
        let s = sabr_vol_terms(self.e, &st, self.t, p[0], p[1], p[2], p[3]);
        if !(s > 0.0 && s.is_finite()) {
            return None;
        }
        self.model_q
            .convert(self.slice_q, self.forward, k, self.t, s)
            .map(|v| v.0)
    }

    /// Model vol at quote `i` in the slice's convention and its gradient.
    fn vol<const N: usize>(&self, i: usize, p: &[Dual<N>; 4]) -> Option<(f64, [f64; N])> {
        let k = self.strikes[i];
        let st = match self.terms.get(i) {
            Some(st) => st.lift::<Dual<N>>(),
            None => StrikeTerms::new(
                self.e,
                self.forward + self.shift,
                Dual::cst(k + self.shift),
                p[1],
            ),
        };
        let s = sabr_vol_terms(self.e, &st, self.t, p[0], p[1], p[2], p[3]);
        if !(s.v > 0.0 && s.v.is_finite()) {
            return None;
        }
        let (v, d) = self
            .model_q
            .convert(self.slice_q, self.forward, k, self.t, s.v)?;
        Some((v, s.d.map(|g| g * d)))
    }

    fn model(&self, p: &[f64; 4]) -> Sabr {
        Sabr {
            alpha: p[0],
            beta: p[1],
            rho: p[2],
            nu: p[3],
            shift: self.shift,
            forward: self.forward,
            t: self.t,
            expansion: self.e,
        }
    }
}

/// Residual of a point whose model vol does not exist: large, finite, so the step is refused.
const NO_VOL: f64 = 1e3;

struct SabrProblem<'a, const N: usize> {
    setup: &'a Setup,
    pts: &'a Points,
    objective: super::Objective,
}

impl<const N: usize> Operator for SabrProblem<'_, N> {
    type Param = SVector<f64, N>;
    type Output = Vec<f64>;

    fn apply(&self, x: &SVector<f64, N>) -> Result<Vec<f64>, Error> {
        let n = self.pts.len();
        let Some(p) = self.setup.params_f64(x.as_slice()) else {
            return Ok(vec![NO_VOL; n]);
        };
        Ok((0..n)
            .map(|i| match self.setup.vol_f64(i, &p) {
                Some(v) => self.pts.residual(i, v, self.objective).0,
                None => NO_VOL,
            })
            .collect())
    }
}

impl<const N: usize> Jacobian for SabrProblem<'_, N> {
    type Param = SVector<f64, N>;
    type Jacobian = nalgebra::DMatrix<f64>;

    fn jacobian(&self, x: &SVector<f64, N>) -> Result<nalgebra::DMatrix<f64>, Error> {
        let n = self.pts.len();
        let mut j = nalgebra::DMatrix::zeros(n, N);
        let Some(p) = self.setup.params::<N>(x.as_slice()) else {
            return Ok(j);
        };
        for i in 0..n {
            if let Some((v, g)) = self.setup.vol(i, &p) {
                let dr = self.pts.residual(i, v, self.objective).1;
                for c in 0..N {
                    j[(i, c)] = dr * g[c];
                }
            }
        }
        Ok(j)
    }
}

/// Coefficients `(σ₀, σ₀', σ₀'')` at `z = 0` of a parabola through `(z, v)` (least squares
/// when more than three points).
fn parabola(z: &[f64], v: &[f64]) -> Option<(f64, f64, f64)> {
    // Normal equations of the 3-parameter fit, solved by Cramer's rule (3×3, well scaled
    // because z is centred near 0).
    let mut m = [[0.0; 3]; 3];
    let mut r = [0.0; 3];
    for (&zi, &vi) in z.iter().zip(v) {
        let b = [1.0, zi, zi * zi];
        for a in 0..3 {
            for c in 0..3 {
                m[a][c] += b[a] * b[c];
            }
            r[a] += b[a] * vi;
        }
    }
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if !(d.abs() > 0.0) {
        return None;
    }
    let mut c = [0.0; 3];
    for (col, ci) in c.iter_mut().enumerate() {
        let mut mc = m;
        for row in 0..3 {
            mc[row][col] = r[row];
        }
        *ci = det(&mc) / d;
    }
    c.iter()
        .all(|x| x.is_finite())
        .then_some((c[0], c[1], 2.0 * c[2]))
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

/// Fixed data of a fit from the slice and the options.
fn setup(slice: &SmileSlice, opts: &FitOptions) -> Result<(Setup, Vec<f64>), FitError> {
    let so = opts.sabr;
    let normal_slice = slice.convention == VolConvention::Normal;
    let e = so.expansion.unwrap_or(if normal_slice {
        SabrExpansion::Normal
    } else {
        SabrExpansion::Hagan
    });
    let default_beta = if normal_slice { 0.5 } else { 1.0 };
    let beta_fixed = match so.beta {
        SabrBeta::Default => Some(default_beta),
        SabrBeta::Fixed(b) => Some(b),
        SabrBeta::Fitted => None,
    };
    if let Some(b) = beta_fixed
        && !(0.0..=1.0).contains(&b)
    {
        return Err(FitError::Invalid(format!(
            "SABR beta must lie in [0, 1], got {b}"
        )));
    }
    if !(so.shift >= 0.0 && so.shift.is_finite()) {
        return Err(FitError::Invalid(format!(
            "SABR shift must be finite and >= 0, got {}",
            so.shift
        )));
    }
    let any_sign = e.is_normal() && beta_fixed == Some(0.0);
    let f_shift = slice.forward + so.shift;
    if !any_sign {
        if !(f_shift > 0.0) {
            return Err(FitError::Invalid(format!(
                "forward + shift = {f_shift} must be > 0 for SABR with {e:?} and beta != 0"
            )));
        }
        if let Some(p) = slice.points.iter().find(|p| !(p.strike + so.shift > 0.0)) {
            return Err(FitError::Invalid(format!(
                "strike {} + shift {} must be > 0 for SABR with {e:?} and beta != 0",
                p.strike, so.shift
            )));
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
    let strikes: Vec<f64> = slice.points.iter().map(|p| p.strike).collect();
    // Market mids in the model's convention (for the start and the at-the-money vol).
    let mut model_mid = Vec::with_capacity(strikes.len());
    for p in &slice.points {
        let (v, _) = slice_q
            .convert(model_q, slice.forward, p.strike, slice.t, p.mid_iv)
            .ok_or_else(|| {
                FitError::Invalid(format!(
                    "the mid vol {} at strike {} has no equivalent in the {e:?} expansion's convention",
                    p.mid_iv, p.strike
                ))
            })?;
        model_mid.push(v);
    }
    Ok((
        Setup {
            e,
            forward: slice.forward,
            shift: so.shift,
            t: slice.t,
            strikes,
            model_q,
            slice_q,
            beta_fixed,
            atm: None,
            terms: match beta_fixed {
                Some(b) => slice
                    .points
                    .iter()
                    .map(|p| StrikeTerms::new(e, f_shift, p.strike + so.shift, b))
                    .collect(),
                None => Vec::new(),
            },
        },
        model_mid,
    ))
}

/// The quotes' coordinate for the at-the-money expansions: `z = ln((K+b)/(F+b))`, or the
/// relative distance `(K − F)/|F|` where logs do not exist (β = 0 normal SABR).
fn zs(setup: &Setup) -> Vec<f64> {
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
fn atm_shape(setup: &Setup, model_mid: &[f64], n: usize) -> Option<(f64, f64, f64)> {
    let z = zs(setup);
    if z.len() < 3 {
        return None;
    }
    let r = nearest(&z, n)?;
    parabola(&z[r.clone()], &model_mid[r])
}

/// The at-the-money vol by Lagrange interpolation through the four quotes nearest the forward
/// (three when only three exist): the level `α` is tied to when fitting `(ρ, ν)` only.
fn atm_vol(setup: &Setup, model_mid: &[f64]) -> Option<f64> {
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

/// Model vols in the slice's convention at the quotes (0 where none exists).
fn slice_vols(setup: &Setup, m: &Sabr) -> Vec<f64> {
    setup
        .strikes
        .iter()
        .map(|&k| {
            setup
                .model_q
                .convert(setup.slice_q, setup.forward, k, setup.t, m.vol(k))
                .map_or(0.0, |v| v.0)
        })
        .collect()
}

/// Le Floc'h & Kennedy's explicit initial guess for a SABR fit of `slice` under `opts`
/// (the start of [`fit_sabr`]): of the guesses from the 3-point and the 7-point at-the-money
/// parabola, the one with the smaller RMSE.
///
/// # Errors
/// [`FitError::TooFewPoints`] below 3 quotes, [`FitError::Invalid`] for inputs outside SABR's
/// domain, [`FitError::Slice`] when neither parabola gives a guess.
pub fn sabr_initial_guess(slice: &SmileSlice, opts: &FitOptions) -> Result<Sabr, FitError> {
    let (setup, model_mid) = setup(slice, opts)?;
    let pts = Points::new(slice);
    guess(&setup, &model_mid, &pts)
}

fn guess(setup: &Setup, model_mid: &[f64], pts: &Points) -> Result<Sabr, FitError> {
    if setup.strikes.len() < 3 {
        return Err(FitError::TooFewPoints {
            points: setup.strikes.len(),
            params: 3,
        });
    }
    let beta = setup
        .beta_fixed
        .unwrap_or(if setup.slice_q.normal { 0.5 } else { 1.0 });
    let f = setup.forward + setup.shift;
    let mut best: Option<(f64, Sabr)> = None;
    for n in [3, 7] {
        if n > setup.strikes.len() && n > 3 {
            continue;
        }
        let Some(shape) = atm_shape(setup, model_mid, n) else {
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
        let vols = slice_vols(setup, &m);
        let (rmse, _, _) = pts.stats(&vols);
        if rmse.is_finite() && best.as_ref().is_none_or(|(r, _)| rmse < *r) {
            best = Some((rmse, m));
        }
    }
    best.map(|(_, m)| m).ok_or_else(|| FitError::Slice {
        t: setup.t,
        reason: "no explicit SABR start (degenerate at-the-money smile)".into(),
        iterations: 0,
    })
}

/// Fits SABR to one expiry's smile (Hagan et al. 2002; start from Le Floc'h & Kennedy 2014;
/// see the [module documentation](self) for the method).
///
/// `opts.sabr` chooses `β` (fixed — default 1 for Black-vol slices, 0.5 for normal-vol
/// slices — or fitted), the expansion, the shift, and whether `α` follows from the
/// at-the-money vol. The report's RMSE and within-spread are in the slice's convention;
/// `min_g`, `butterfly_free` and `negative_density` come from the density scan.
///
/// # Errors
/// [`FitError::TooFewPoints`] with fewer quotes than free parameters (or than 3),
/// [`FitError::Invalid`] for inputs outside SABR's domain, [`FitError::Slice`] when the
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
/// assert!((fit.model.rho - truth.rho).abs() < 1e-8 && fit.report.rmse_iv < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_sabr(slice: &SmileSlice, opts: &FitOptions) -> Result<Fit<Sabr>, FitError> {
    fit_sabr_from(slice, opts, None)
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
    let clock = Instant::now();
    let (mut setup, model_mid) = setup(slice, opts)?;
    let pts = Points::new(slice);
    let n_free =
        2 + usize::from(!opts.sabr.alpha_from_atm) + usize::from(setup.beta_fixed.is_none());
    if pts.len() < n_free.max(3) {
        return Err(FitError::TooFewPoints {
            points: pts.len(),
            params: n_free.max(3),
        });
    }
    let t = slice.t;
    let x0 = match start {
        Some(s) => setup.model(&[s.alpha, setup.beta_fixed.unwrap_or(s.beta), s.rho, s.nu]),
        None => guess(&setup, &model_mid, &pts)?,
    };
    if opts.sabr.alpha_from_atm {
        let s0 = atm_vol(&setup, &model_mid).ok_or_else(|| FitError::Slice {
            t,
            reason: "no at-the-money vol".into(),
            iterations: 0,
        })?;
        setup.atm = Some(s0);
    }
    // Free parameters in order: [α] [β] ρ ν.
    let mut x = Vec::with_capacity(4);
    let (mut lower, mut upper) = (Vec::with_capacity(4), Vec::with_capacity(4));
    if setup.atm.is_none() {
        x.push(x0.alpha);
        lower.push(1e-10 * x0.alpha);
        upper.push(f64::INFINITY);
    }
    if setup.beta_fixed.is_none() {
        x.push(x0.beta);
        lower.push(0.0);
        upper.push(1.0);
    }
    x.extend([x0.rho.clamp(-0.9999, 0.9999), x0.nu.max(0.0)]);
    lower.extend([-0.9999, 0.0]);
    upper.extend([0.9999, f64::INFINITY]);
    let solve = SolveOptions {
        optimizer: opts.optimizer,
        max_iters: opts.max_iters,
        ftol: 1e-12,
        xtol: 1e-10,
        gtol: 1e-10,
        lower,
        upper,
    };
    let fail = |reason: String| FitError::Slice {
        t,
        reason,
        iterations: 0,
    };
    let (xs, rep) = match x.len() {
        2 => run::<2>(&setup, &pts, opts, &x, &solve),
        3 => run::<3>(&setup, &pts, opts, &x, &solve),
        _ => run::<4>(&setup, &pts, opts, &x, &solve),
    }
    .map_err(|e| fail(e.to_string()))?;
    let p = setup
        .params_f64(&xs)
        .ok_or_else(|| fail("no alpha reproduces the at-the-money vol at the solution".into()))?;
    let model = setup.model(&p);
    if model.validate().is_err() {
        return Err(fail(format!("fit left SABR's domain: {model:?}")));
    }
    let vols = slice_vols(&setup, &model);
    let (rmse, max_err, within) = pts.stats(&vols);
    if !rmse.is_finite() {
        return Err(fail(format!("non-finite fit {model:?}")));
    }
    let scan = model.butterfly_scan();
    Ok(Fit {
        model,
        report: FitReport {
            t,
            n_quotes: pts.len(),
            rmse_iv: rmse,
            max_abs_err_iv: max_err,
            within_spread: within,
            converged: rep.converged,
            iterations: rep.iterations,
            evaluations: rep.evaluations,
            fit_micros: clock.elapsed().as_secs_f64() * 1e6,
            min_g: scan.min_g,
            butterfly_free: scan.is_free(),
            termination: rep.termination,
            optimizer: opts.optimizer,
            negative_density: scan.negative,
        },
    })
}

fn run<const N: usize>(
    setup: &Setup,
    pts: &Points,
    opts: &FitOptions,
    x: &[f64],
    solve: &SolveOptions,
) -> Result<(Vec<f64>, super::SolveReport), FitError> {
    let problem = SabrProblem::<N> {
        setup,
        pts,
        objective: opts.objective,
    };
    let (sol, rep, _) = least_squares(problem, SVector::<f64, N>::from_column_slice(x), solve)?;
    Ok((sol.as_slice().to_vec(), rep))
}
