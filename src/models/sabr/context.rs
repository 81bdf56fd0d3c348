//! What a SABR fit keeps fixed ([`SabrContext`]) and the model's vols and parameters under
//! it, shared by the spec and the start.

use super::convention::Quote;
use super::expansion::{StrikeTerms, sabr_vol_terms};
use super::{Sabr, SabrExpansion};
use crate::models::ad::{Dual, Real};
use std::cell::Cell;

/// What a SABR fit keeps fixed: the expansion and conventions resolved against the slice,
/// `β` when fixed, the at-the-money vol when `α` is tied to it, and the strike terms of the
/// formula (computed once when `β` is fixed).
pub struct SabrContext {
    pub(super) e: SabrExpansion,
    pub(super) forward: f64,
    pub(super) shift: f64,
    pub(super) t: f64,
    pub(super) strikes: Vec<f64>,
    pub(super) model_q: Quote,
    pub(super) slice_q: Quote,
    /// `Some(β)` when fixed.
    pub(super) beta_fixed: Option<f64>,
    /// The at-the-money vol in the model's convention, when `α` is tied to it.
    pub(super) atm: Option<f64>,
    pub(super) terms: Vec<StrikeTerms<f64>>,
    /// Market mids in the model's convention (for the start and the at-the-money vol).
    pub(super) model_mid: Vec<f64>,
    /// The last `(parameters, quoted-range minimum (strike, g))` of the penalty.
    pub(super) scan: Cell<Option<([f64; 4], (f64, f64))>>,
}

impl SabrContext {
    /// `(α, β, ρ, ν)` as duals in the free parameters `x`.
    pub(super) fn duals<const N: usize>(&self, x: &[f64]) -> Option<[Dual<N>; 4]> {
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

    /// `(α, β, ρ, ν)` from the free parameters `x`.
    pub(super) fn values(&self, x: &[f64]) -> Option<[f64; 4]> {
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

    /// Model vol at quote `i` in the slice's convention and its gradient.
    pub(super) fn vol_dual<const N: usize>(
        &self,
        i: usize,
        p: &[Dual<N>; 4],
    ) -> Option<(f64, [f64; N])> {
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

    /// Model vol of `p` at quote `i` in the slice's convention.
    pub(super) fn vol_f64(&self, i: usize, p: &[f64; 4]) -> Option<f64> {
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

    /// The smile of `(α, β, ρ, ν)` (inside the bounds, so in SABR's domain).
    pub(super) fn model(&self, p: &[f64; 4]) -> Sabr {
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

    /// Model vols in the slice's convention at the quotes (NaN where none exists).
    pub(super) fn slice_vols(&self, m: &Sabr) -> Vec<f64> {
        let p = [m.alpha, m.beta, m.rho, m.nu];
        (0..self.strikes.len())
            .map(|i| self.vol_f64(i, &p).unwrap_or(f64::NAN))
            .collect()
    }

    /// `(strike, min g)` of the normalised density over the quoted strikes (41 points; see the
    /// module doc), cached per parameter point. NaN counts as `−∞`.
    pub(super) fn quoted_min_g(&self, m: &Sabr) -> (f64, f64) {
        const N: usize = 41;
        let key = [m.alpha, m.beta, m.rho, m.nu];
        if let Some((k, v)) = self.scan.get()
            && k == key
        {
            return v;
        }
        let (lo, hi) = self
            .strikes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &k| {
                (a.min(k), b.max(k))
            });
        let log = !self.e.is_normal() || self.strikes.iter().all(|&k| k + self.shift > 0.0);
        let at = |u: f64| {
            if log {
                let (a, b) = ((lo + self.shift).ln(), (hi + self.shift).ln());
                (a + (b - a) * u).exp() - self.shift
            } else {
                lo + (hi - lo) * u
            }
        };
        let mut v = (self.forward, f64::INFINITY);
        for i in 0..N {
            let k = at(i as f64 / (N - 1) as f64);
            let g = m.normalised_density(k);
            let g = if g.is_nan() { f64::NEG_INFINITY } else { g };
            if g < v.1 {
                v = (k, g);
            }
        }
        self.scan.set(Some((key, v)));
        v
    }
}
