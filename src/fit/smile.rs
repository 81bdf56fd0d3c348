//! What every smile fit shares: options, the report, the result type, and the residual
//! definitions over a [`SmileSlice`].

use super::Optimizer;
use crate::models::sabr::SabrExpansion;
use crate::slice::SmileSlice;
use serde::{Deserialize, Serialize};

/// What a smile fit minimises.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Objective {
    /// Weighted implied-vol residuals `√wᵢ·(σ(kᵢ) − σ_midᵢ)`, with the slice's weights
    /// (inverse bid–ask vol spread by default, or vega).
    Vol,
    /// Zero inside `[bid IV, ask IV]`, the distance to the nearer bound outside, plus
    /// `mid_weight·(σ − σ_mid)` so that the fit inside the band is unique: the residual
    /// `√wᵢ·(dist(σ(kᵢ), [bidᵢ, askᵢ]) + mid_weight·(σ(kᵢ) − σ_midᵢ))`. Quotes without both
    /// sides use the mid residual.
    BidAsk {
        /// Weight of the mid term (e.g. 0.2).
        mid_weight: f64,
    },
}

impl Default for Objective {
    /// [`Objective::Vol`]: on the real slices of the test suite it puts more quotes inside
    /// their bid/ask than [`Objective::BidAsk`] (whose flat zero region inside the band gives
    /// the optimiser less to go on).
    fn default() -> Self {
        Objective::Vol
    }
}

/// Options of a smile fit ([`crate::fit_svi`] and the other smile fits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// The optimiser of the polish.
    pub optimizer: Optimizer,
    /// The objective.
    pub objective: Objective,
    /// Iteration limit of the polish.
    pub max_iters: u64,
    /// Enforce absence of butterfly arbitrage (default on).
    pub no_arbitrage: bool,
    /// SABR settings ([`crate::fit_sabr`]).
    pub sabr: SabrOptions,
}

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

/// How [`crate::fit_sabr`] fits.
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

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            optimizer: Optimizer::LevenbergMarquardt,
            objective: Objective::default(),
            max_iters: 300,
            no_arbitrage: true,
            sabr: SabrOptions::default(),
        }
    }
}

/// The account of one smile fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Time to expiry of the slice.
    pub t: f64,
    /// Quotes fitted.
    pub n_quotes: usize,
    /// Root-mean-square of `σ_model − σ_mid` over the quotes (unweighted).
    pub rmse_iv: f64,
    /// Largest `|σ_model − σ_mid|`.
    pub max_abs_err_iv: f64,
    /// Fraction of the quotes with both a bid and an ask vol whose fitted vol lies inside
    /// `[bid IV, ask IV]` (`None` when no quote has both).
    pub within_spread: Option<f64>,
    /// Whether the polish stopped on a convergence test.
    pub converged: bool,
    /// Polish iterations.
    pub iterations: u64,
    /// Residual evaluations of the polish.
    pub evaluations: u64,
    /// Wall time of the whole fit in microseconds.
    pub fit_micros: f64,
    /// Global minimum of Durrleman's `g` over the real line (negative: butterfly arbitrage).
    pub min_g: f64,
    /// Whether the fitted smile is free of butterfly arbitrage.
    pub butterfly_free: bool,
    /// Why the polish stopped.
    pub termination: String,
    /// The optimiser used.
    pub optimizer: Optimizer,
    /// Strike intervals where the fitted density is negative (SABR's density scan; empty for
    /// arbitrage-free fits).
    #[serde(default)]
    pub negative_density: Vec<[f64; 2]>,
}

/// A fitted model and its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit<M> {
    /// The model.
    pub model: M,
    /// How it was fitted.
    pub report: FitReport,
}

/// The slice's points as flat arrays for the residual loops: `k`, mid vol, bid and ask vol
/// (`−∞`/`+∞` where absent) and square roots of the weights.
pub(crate) struct Points {
    pub k: Vec<f64>,
    pub mid: Vec<f64>,
    pub bid: Vec<f64>,
    pub ask: Vec<f64>,
    pub sqrt_w: Vec<f64>,
}

impl Points {
    pub fn new(slice: &SmileSlice) -> Points {
        let n = slice.points.len();
        let mut p = Points {
            k: Vec::with_capacity(n),
            mid: Vec::with_capacity(n),
            bid: Vec::with_capacity(n),
            ask: Vec::with_capacity(n),
            sqrt_w: Vec::with_capacity(n),
        };
        for q in &slice.points {
            p.k.push(q.k);
            p.mid.push(q.mid_iv);
            p.bid.push(q.bid_iv.unwrap_or(f64::NEG_INFINITY));
            p.ask.push(q.ask_iv.unwrap_or(f64::INFINITY));
            p.sqrt_w.push(q.weight.max(0.0).sqrt());
        }
        p
    }

    pub fn len(&self) -> usize {
        self.k.len()
    }

    /// Residual of model vol `s` at point `i` and its derivative in `s`.
    #[inline]
    pub fn residual(&self, i: usize, s: f64, objective: Objective) -> (f64, f64) {
        let sw = self.sqrt_w[i];
        match objective {
            Objective::Vol => (sw * (s - self.mid[i]), sw),
            Objective::BidAsk { mid_weight } => {
                let (b, a) = (self.bid[i], self.ask[i]);
                if b.is_finite() && a.is_finite() {
                    let (d, dd) = if s < b {
                        (s - b, 1.0)
                    } else if s > a {
                        (s - a, 1.0)
                    } else {
                        (0.0, 0.0)
                    };
                    (
                        sw * (d + mid_weight * (s - self.mid[i])),
                        sw * (dd + mid_weight),
                    )
                } else {
                    (sw * (s - self.mid[i]), sw)
                }
            }
        }
    }

    /// RMSE, max error and within-spread fraction of model vols `vols`.
    pub fn stats(&self, vols: &[f64]) -> (f64, f64, Option<f64>) {
        let n = self.len() as f64;
        let mut sse = 0.0;
        let mut max: f64 = 0.0;
        let (mut inside, mut two_sided) = (0usize, 0usize);
        for i in 0..self.len() {
            let e = vols[i] - self.mid[i];
            sse += e * e;
            max = max.max(e.abs());
            if self.bid[i].is_finite() && self.ask[i].is_finite() {
                two_sided += 1;
                let tol = 1e-12;
                if vols[i] >= self.bid[i] - tol && vols[i] <= self.ask[i] + tol {
                    inside += 1;
                }
            }
        }
        let within = (two_sided > 0).then(|| inside as f64 / two_sided as f64);
        ((sse / n).sqrt(), max, within)
    }
}
