//! The served smiles of a surface: each expiry's fitted smile raised, where it dips below,
//! to the previous served smile plus a minimum forward variance — the pointwise maximum at
//! fixed log-forward-moneyness `k`, so calendar arbitrage is absent on the whole real line,
//! wings included, and not only on the quoted range the fits were checked on.
//!
//! **Why the maximum is arbitrage-free.** At fixed `k` the undiscounted call price divided by
//! the forward is increasing in total variance, so the maximum of two total variances is the
//! maximum of two normalised call-price curves of `x = K/F`. Each curve is convex and
//! decreasing with the right limits, and so is their maximum (it is convex as a maximum of
//! convex functions, and its one-sided slopes are those of the curves): the served smile is
//! free of butterfly arbitrage when both are, with an atom of density at each crossing
//! (Gatheral & Jacquier 2014, §2 for the price-curve conditions; the issue that asked for
//! this states the same fact). Lee's moment bound holds because each piece is a fitted
//! smile, and those respect it. Raising by `δᵢ = σ_min²·(tᵢ − tᵢ₋₁)` makes the served
//! smiles strictly increasing in `t`, which keeps Dupire's local vol positive between
//! expiries (it is `√(∂ₜw/g)`).
//!
//! **Representation.** A served smile is a list of pieces `(from, model, shift)`: on
//! `k ≥ from` (up to the next piece) it is expiry `model`'s fitted smile plus `shift`. It is
//! derived from the stored fits when the surface is built or loaded, so `surface.json` is
//! unchanged and loads back to the same served smiles bit for bit.
//!
//! **Domain.** Crossings are located on `|k| ≤ 10⁸` (a `sinh` grid: spacing 0.05 near the
//! money, 5% relative in the wings, every local minimum of the gap searched by Brent's
//! method, every sign change bisected to rounding), beyond any strike a double can hold
//! relative to its forward (`|k| ≤ 745`).

use super::SliceModel;
use super::slice_model::LEE_SLOPE;
use crate::models::numerics::brent;

/// An expiry's smile as the served surface evaluates it: its fit, continued linearly in `w`
/// beyond `linear` (its quoted `k` range) under [`Wings::Linear`](super::Wings::Linear), with
/// the edge slope (outward, at most Lee's bound 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Wing {
    pub model: SliceModel,
    pub linear: Option<[f64; 2]>,
}

impl Wing {
    /// `k` values finer than the crossing grid where the smile has features of its own (a
    /// spline smile's knots, four points per knot interval), empty otherwise.
    fn fine_ks(&self) -> Vec<f64> {
        match &self.model {
            super::SliceModel::Spline(s) => {
                let ([lo, hi], (_, h)) = (s.support(), s.knots());
                let n = ((hi - lo) / (0.25 * h)).round() as usize;
                (0..=n)
                    .map(|j| lo + (hi - lo) * j as f64 / n as f64)
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Total variance at `k`.
    #[inline]
    pub fn w(&self, k: f64) -> f64 {
        match self.linear {
            Some([lo, hi]) if k < lo || k > hi => self.w_derivs(k).0,
            _ => self.model.w(k),
        }
    }

    /// `(w, ∂w/∂k, ∂²w/∂k²)` at `k`.
    #[inline]
    pub fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let Some([lo, hi]) = self.linear else {
            return self.model.w_derivs(k);
        };
        let (edge, lo_s, hi_s) = if k < lo {
            (lo, -LEE_SLOPE, 0.0)
        } else if k > hi {
            (hi, 0.0, LEE_SLOPE)
        } else {
            return self.model.w_derivs(k);
        };
        let (w0, s, _) = self.model.w_derivs(edge);
        let s = s.clamp(lo_s, hi_s);
        (w0 + s * (k - edge), s, 0.0)
    }
}

/// One piece of a served smile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    /// Where the piece starts (`−∞` for the first).
    pub from: f64,
    /// The expiry whose fitted smile it is.
    pub model: usize,
    /// Total variance added to it.
    pub shift: f64,
}

/// A served smile: pieces sorted by `from`, the first from `−∞`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    pub pieces: Vec<Piece>,
}

/// Largest `|u|` of the crossing grid `k = sinh(u)` (`sinh(19.1) ≈ 10⁸`).
const U_MAX: f64 = 19.1;
/// Grid spacing in `u`.
const U_STEP: f64 = 0.05;

impl Envelope {
    pub fn single(model: usize) -> Envelope {
        Envelope {
            pieces: vec![Piece {
                from: f64::NEG_INFINITY,
                model,
                shift: 0.0,
            }],
        }
    }

    #[inline]
    fn piece(&self, k: f64) -> &Piece {
        let p = &self.pieces;
        if p.len() == 1 {
            return &p[0];
        }
        let i = p.partition_point(|x| x.from <= k).max(1) - 1;
        &p[i]
    }

    /// Total variance at `k`.
    #[inline]
    pub fn w(&self, models: &[Wing], k: f64) -> f64 {
        let p = self.piece(k);
        models[p.model].w(k) + p.shift
    }

    /// `(w, ∂w/∂k, ∂²w/∂k²)` at `k` (the right piece at a crossing).
    #[inline]
    pub fn w_derivs(&self, models: &[Wing], k: f64) -> (f64, f64, f64) {
        let p = self.piece(k);
        let (w, w1, w2) = models[p.model].w_derivs(k);
        (w + p.shift, w1, w2)
    }

    /// The `k` intervals where an earlier expiry's smile is served instead of `own`'s.
    pub fn borrowed(&self, own: usize) -> Vec<[f64; 2]> {
        let mut out: Vec<[f64; 2]> = Vec::new();
        for (i, p) in self.pieces.iter().enumerate() {
            if p.model == own {
                continue;
            }
            let to = self.pieces.get(i + 1).map_or(f64::INFINITY, |n| n.from);
            match out.last_mut() {
                Some(last) if last[1] == p.from => last[1] = to,
                _ => out.push([p.from, to]),
            }
        }
        out
    }
}

/// The served smiles of expiries `models` at times `ts` (sorted, as many), raised by
/// `min_forward_variance · Δt` over their predecessors ([module doc](self)).
pub(crate) fn served(models: &[Wing], ts: &[f64], min_forward_variance: f64) -> Vec<Envelope> {
    let mut out: Vec<Envelope> = Vec::with_capacity(models.len());
    for i in 0..models.len() {
        let e = if i == 0 {
            Envelope::single(0)
        } else {
            served_one(models, ts, min_forward_variance, &out[i - 1], i)
        };
        out.push(e);
    }
    out
}

/// The served smile of expiry `i ≥ 1` given the served smile `prev` of expiry `i − 1`.
pub(crate) fn served_one(
    models: &[Wing],
    ts: &[f64],
    min_forward_variance: f64,
    prev: &Envelope,
    i: usize,
) -> Envelope {
    {
        let delta = min_forward_variance * (ts[i] - ts[i - 1]);
        let own = |k: f64| models[i].w(k);
        let floor = |k: f64| prev.w(models, k) + delta;
        let gap = |u: f64| {
            let k = u.sinh();
            own(k) - floor(k)
        };
        // The grid refined where this smile or an earlier one has fine features.
        let extra: Vec<f64> = models[..=i]
            .iter()
            .flat_map(Wing::fine_ks)
            .map(f64::asinh)
            .collect();
        let gap_k = |k: f64| own(k) - floor(k);
        let roots = crossings(&gap, &gap_k, &extra);
        // Decide each interval between crossings by the sign of the gap inside it.
        let mut bounds = vec![-U_MAX];
        bounds.extend(roots.iter().copied());
        bounds.push(U_MAX);
        let mut pieces: Vec<Piece> = Vec::new();
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let mid = 0.5 * (lo + hi);
            let from_k = if lo == -U_MAX {
                f64::NEG_INFINITY
            } else {
                lo.sinh()
            };
            let to_k = if hi == U_MAX {
                f64::INFINITY
            } else {
                hi.sinh()
            };
            if gap(mid) >= 0.0 {
                push(
                    &mut pieces,
                    Piece {
                        from: from_k,
                        model: i,
                        shift: 0.0,
                    },
                );
            } else {
                // The predecessor's pieces that overlap [from_k, to_k), raised by delta.
                for (j, p) in prev.pieces.iter().enumerate() {
                    let p_to = prev.pieces.get(j + 1).map_or(f64::INFINITY, |n| n.from);
                    if p_to <= from_k || p.from >= to_k {
                        continue;
                    }
                    push(
                        &mut pieces,
                        Piece {
                            from: p.from.max(from_k),
                            model: p.model,
                            shift: p.shift + delta,
                        },
                    );
                }
            }
        }
        if let Some(first) = pieces.first_mut() {
            first.from = f64::NEG_INFINITY;
        }
        Envelope { pieces }
    }
}

/// Appends `p`, merging it into the last piece when it continues it.
fn push(pieces: &mut Vec<Piece>, p: Piece) {
    if let Some(last) = pieces.last()
        && last.model == p.model
        && last.shift == p.shift
    {
        return;
    }
    pieces.push(p);
}

/// The sign changes of `gap(u)` on `[−U_MAX, U_MAX]`, sorted (on the grid plus the `extra`
/// points, in `u`): grid sign changes bisected to
/// rounding, and double crossings hidden between grid points found by minimising `|gap|`
/// around each local minimum of it.
fn crossings(gap: &impl Fn(f64) -> f64, gap_k: &impl Fn(f64) -> f64, extra: &[f64]) -> Vec<f64> {
    let mut grid: Vec<(f64, f64)> = base_grid()
        .iter()
        .copied()
        .chain(
            extra
                .iter()
                .copied()
                .filter(|u| u.abs() < U_MAX)
                .map(|u| (u, u.sinh())),
        )
        .collect();
    if !extra.is_empty() {
        grid.sort_by(|a, b| a.0.total_cmp(&b.0));
        grid.dedup_by(|a, b| a.0 == b.0);
    }
    let us: Vec<f64> = grid.iter().map(|p| p.0).collect();
    let n = us.len() - 1;
    // The gap on the grid through the cached k = sinh(u) (the grid's sinh was a sixth of a
    // live update's time).
    let gs: Vec<f64> = grid.iter().map(|&(_, k)| gap_k(k)).collect();
    let neg = |g: f64| g < 0.0;
    let mut roots = Vec::new();
    for j in 0..n {
        let (a, b) = (gs[j], gs[j + 1]);
        if neg(a) != neg(b) {
            roots.push(bisect(gap, us[j], us[j + 1]));
        } else if j > 0 && a.abs() < gs[j - 1].abs() && a.abs() <= b.abs() {
            // A local minimum of |gap| at grid point j: the gap may dip through zero and back
            // between the neighbours without a grid point seeing it.
            let s = if neg(a) { -1.0 } else { 1.0 };
            let (um, gm) = brent(|u| s * gap(u), us[j - 1], us[j], us[j + 1], s * a);
            if s * gm < 0.0 && neg(gap(um)) != neg(a) {
                roots.push(bisect(gap, us[j - 1], um));
                roots.push(bisect(gap, um, us[j + 1]));
            }
        }
    }
    roots.sort_by(f64::total_cmp);
    roots.dedup();
    roots
}

/// The uniform crossing grid `(u, sinh u)` on `[−U_MAX, U_MAX]`, computed once.
fn base_grid() -> &'static [(f64, f64)] {
    static GRID: std::sync::OnceLock<Vec<(f64, f64)>> = std::sync::OnceLock::new();
    GRID.get_or_init(|| {
        let n = (2.0 * U_MAX / U_STEP).round() as usize;
        (0..=n)
            .map(|j| {
                let u = -U_MAX + 2.0 * U_MAX * j as f64 / n as f64;
                (u, u.sinh())
            })
            .collect()
    })
}

/// A sign change of `gap` in `[a, b]` (signs differ at the ends), to rounding.
fn bisect(gap: &impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let na = gap(a) < 0.0;
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if (gap(m) < 0.0) == na {
            a = m;
        } else {
            b = m;
        }
    }
    // The crossing is where the later piece starts: take the end on the far side so the
    // served smile is at least the floor at the breakpoint.
    if na { b } else { a }
}
