//! Smile and surface models, one file each: parameters, the formula, analytic derivatives in
//! log-moneyness and in the parameters, and the no-arbitrage conditions.
//!
//! * [`svi`] — raw, natural and jump-wings SVI (Gatheral & Jacquier 2014, §3).
//! * [`ssvi`] — SSVI (power-law and Heston-like `φ`) and eSSVI slices (Hendriks & Martini 2019).
//! * [`sabr`] — SABR: Hagan (2002) lognormal, Obłój (2008) and normal expansions, shifted.

pub(crate) mod ad;
pub mod sabr;
pub mod ssvi;
pub mod svi;

use serde::{Deserialize, Serialize};

/// A smile in total implied variance `w(k)` at one expiry, `k = ln(K/F)`.
///
/// The provided methods derive implied vol, Durrleman's butterfly function and the risk-neutral
/// density from `w`, `w'`, `w''` — models only implement those three.
pub trait SmileModel {
    /// Total implied variance `w(k) = σ²(k)·T`.
    fn total_variance(&self, k: f64) -> f64;
    /// `∂w/∂k`.
    fn dw_dk(&self, k: f64) -> f64;
    /// `∂²w/∂k²`.
    fn d2w_dk2(&self, k: f64) -> f64;

    /// Implied volatility at `k` for time to expiry `t`.
    fn implied_vol(&self, k: f64, t: f64) -> f64 {
        (self.total_variance(k).max(0.0) / t).sqrt()
    }

    /// Durrleman's function `g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2`: the smile is
    /// free of butterfly arbitrage iff `g ≥ 0` everywhere (and `d₊ → −∞` in the right wing)
    /// (Gatheral & Jacquier 2014, Lemma 2.2).
    fn durrleman_g(&self, k: f64) -> f64 {
        durrleman(k, self.total_variance(k), self.dw_dk(k), self.d2w_dk2(k))
    }

    /// Risk-neutral density of `k = ln(F_T/F)`... in strike terms: `p(k) = g(k)/√(2πw)·e^{−d₋²/2}`
    /// with `d₋ = −k/√w − √w/2` (Gatheral & Jacquier 2014, eq. 2.1), the density of the log
    /// of the terminal forward over the forward.
    fn density(&self, k: f64) -> f64 {
        let w = self.total_variance(k);
        if !(w > 0.0) {
            return 0.0;
        }
        let sw = w.sqrt();
        let dm = -k / sw - 0.5 * sw;
        self.durrleman_g(k) / (2.0 * std::f64::consts::PI * w).sqrt() * (-0.5 * dm * dm).exp()
    }
}

/// Durrleman's `g` from `k, w, w', w''`.
#[inline]
pub fn durrleman(k: f64, w: f64, w1: f64, w2: f64) -> f64 {
    let a = 1.0 - k * w1 / (2.0 * w);
    a * a - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
}

/// Partial derivatives of Durrleman's `g` in `(w, w', w'')` at fixed `k`.
#[inline]
pub(crate) fn durrleman_partials(k: f64, w: f64, w1: f64) -> (f64, f64, f64) {
    let a = 1.0 - k * w1 / (2.0 * w);
    let gw = a * k * w1 / (w * w) + w1 * w1 / (4.0 * w * w);
    let gw1 = -a * k / w - 0.5 * w1 * (1.0 / w + 0.25);
    (gw, gw1, 0.5)
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

/// Brent's minimisation (parabolic interpolation with golden-section safeguards; R. P. Brent,
/// *Algorithms for minimization without derivatives*, 1973, ch. 5) on `[a, c]` from the
/// bracketing point `b` (with `f(b) = fb`), to `|Δx| ≲ 10⁻⁸`. Returns `(x, f(x))`.
fn brent(f: impl Fn(f64) -> f64, a: f64, b: f64, c: f64, fb: f64) -> (f64, f64) {
    const CGOLD: f64 = 0.381_966_011_250_105_1;
    let (mut lo, mut hi) = (a, c);
    let (mut x, mut w, mut v) = (b, b, b);
    let (mut fx, mut fw, mut fv) = (fb, fb, fb);
    let (mut d, mut e): (f64, f64) = (0.0, 0.0);
    for _ in 0..60 {
        let xm = 0.5 * (lo + hi);
        let tol1 = 1e-9 * x.abs() + 1e-10;
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (hi - lo) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            // Parabola through x, w, v.
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let etemp = e;
            e = d;
            if p.abs() < (0.5 * q * etemp).abs() && p > q * (lo - x) && p < q * (hi - x) {
                d = p / q;
                let u = x + d;
                if u - lo < tol2 || hi - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { lo - x } else { hi - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u);
        if fu <= fx {
            if u >= x {
                lo = x;
            } else {
                hi = x;
            }
            (v, w, x) = (w, x, u);
            (fv, fw, fx) = (fw, fx, fu);
        } else {
            if u < x {
                lo = u;
            } else {
                hi = u;
            }
            if fu <= fw || w == x {
                (v, w) = (w, u);
                (fv, fw) = (fw, fu);
            } else if fu <= fv || v == x || v == w {
                v = u;
                fv = fu;
            }
        }
    }
    (x, fx)
}

/// Minimises a smooth function of one variable over the whole real line, given the scale of
/// its features: `f` is sampled at `center + scale·sinh(u)` on a 33-point grid in
/// `u ∈ [−12, 12]` (dense near `center`, reaching `±scale·8·10⁴`), and the two lowest local
/// minima of the samples are refined by Brent's method to `|Δu| ≲ 10⁻⁸` (the minimum value,
/// flat there, is then exact to ~10⁻¹⁶ of its curvature). Returns `(argmin, min)`.
pub(crate) fn global_min(center: f64, scale: f64, f: impl Fn(f64) -> f64) -> (f64, f64) {
    const N: usize = 33;
    const U: f64 = 12.0;
    /// `sinh` of the grid nodes, computed once.
    static SINH: std::sync::LazyLock<[f64; N]> = std::sync::LazyLock::new(|| {
        std::array::from_fn(|i| (-U + 2.0 * U * i as f64 / (N - 1) as f64).sinh())
    });
    let at = |u: f64| center + scale * u.sinh();
    let sinh = &*SINH;
    let mut fs = [0.0; N];
    for (v, sh) in fs.iter_mut().zip(sinh) {
        let y = f(center + scale * sh);
        *v = if y.is_nan() { f64::INFINITY } else { y };
    }
    // Local minima of the samples, two lowest.
    let mut best = [(f64::INFINITY, 0usize); 2];
    for i in 0..N {
        let left = if i == 0 { f64::INFINITY } else { fs[i - 1] };
        let right = if i + 1 == N { f64::INFINITY } else { fs[i + 1] };
        if fs[i] <= left && fs[i] <= right {
            if fs[i] < best[0].0 {
                best[1] = best[0];
                best[0] = (fs[i], i);
            } else if fs[i] < best[1].0 {
                best[1] = (fs[i], i);
            }
        }
    }
    let h = 2.0 * U / (N - 1) as f64;
    let mut out = (center + scale * sinh[best[0].1], best[0].0);
    for &(fv, i) in &best {
        if !fv.is_finite() {
            continue;
        }
        let ui = -U + h * i as f64;
        let (u, v) = brent(|u| f(at(u)), ui - h, ui, ui + h, fv);
        let (u, v) = if v <= fv { (u, v) } else { (ui, fv) };
        if v < out.1 {
            out = (at(u), v);
        }
    }
    out
}
