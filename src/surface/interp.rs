//! Between two served expiries: interpolation of out-of-the-money option prices at fixed
//! log-moneyness, linear in time.
//!
//! At fixed `k = ln(K/F(t))` the normalised price `o(k) = OTM(K)/F` of a mixture
//! `(1−l)·o_a + l·o_b` of two butterfly-free smiles is convex in the strike (a convex
//! combination of convex functions, with the same intrinsic value), so the interpolated smile
//! is free of butterfly arbitrage whatever the models are; and since the served expiries
//! increase in `w` at every `k`, the price increases in `t` (no calendar arbitrage, `∂ₜw > 0`,
//! positive local vol). Linear interpolation in total variance, the usual rule, has the second
//! property but not the first: on the shared SPX chains fitted by the spline smile it left
//! 5 to 51 points of butterfly arbitrage between expiries in the (k, t) scan. This is the
//! standard price-space interpolation of Andreasen & Huge (2011) and Gatheral's *The
//! Volatility Surface* (2006, ch. 3) at fixed moneyness; `w` is recovered by the implied-vol
//! inversion of [`normalised_implied_vol`] (Jäckel 2015), its `k`- and `t`-derivatives by
//! implicit differentiation of `o(k, w(k)) = Σ λᵢ oᵢ(k)`.

use super::VarianceDerivatives;
use crate::black::special::norm_cdf;
use crate::black::{normalised_black, normalised_implied_vol, normalised_vega};

/// Partials of the normalised OTM price `o(k, w)` (per forward) in `k` and `w`.
struct Partials {
    k: f64,
    kk: f64,
    w: f64,
    kw: f64,
    ww: f64,
}

/// `o`'s partials at `(k, w)`: the call for `k ≥ 0`, the put below (no cancellation in
/// either wing). With `f = e^k φ(d₂) = e^{k/2}·ν(x, s)`, `s = √w`, `d₂ = −k/s − s/2`:
/// `o_k = ∓e^k N(±d₂)`, `o_kk = o_k + f/s`, `o_w = f/(2s)`, `o_kw = −f·(k/s² − ½)/(2s)`,
/// `o_ww = f·(−d₂(k/s² − ½)/(4w) − 1/(4s³))`.
fn partials(k: f64, w: f64) -> Partials {
    let s = w.sqrt();
    let d2 = -k / s - 0.5 * s;
    let f = (0.5 * k).exp() * normalised_vega(-k, s);
    let ek = k.exp();
    let ok = if k >= 0.0 {
        -ek * norm_cdf(d2)
    } else {
        ek * norm_cdf(-d2)
    };
    let a = k / w - 0.5;
    Partials {
        k: ok,
        kk: ok + f / s,
        w: f / (2.0 * s),
        kw: -f * a / (2.0 * s),
        ww: f * (-d2 * a / (4.0 * w) - 1.0 / (4.0 * s * w)),
    }
}

/// The OTM side's `θ` and `x = ln(F/K)` of the normalised Black functions.
#[inline]
fn side(k: f64) -> (f64, f64) {
    (if k >= 0.0 { 1.0 } else { -1.0 }, -k)
}

/// `w` of the price mixture `(1−l)·o(w_a) + l·o(w_b)` at `k`; `None` where a price has no
/// implied vol in a double (far wings: the caller mixes variances there).
#[inline]
pub(super) fn mix_w(k: f64, wa: f64, wb: f64, l: f64) -> Option<f64> {
    if !(wa > 0.0 && wb > 0.0) {
        return None;
    }
    let (theta, x) = side(k);
    let ba = normalised_black(x, wa.sqrt(), theta);
    let bb = normalised_black(x, wb.sqrt(), theta);
    let b = ba + l * (bb - ba);
    let s = normalised_implied_vol(b, x, theta).ok()?;
    let w = s * s;
    (w > 0.0 && w.is_finite()).then_some(w)
}

/// `w` and its derivatives of the price mixture of smiles `a = (w, w', w'')` and `b` at
/// weight `l` over an interval of `dt` years; `None` where the prices or their vegas
/// underflow (the caller mixes variances there).
pub(super) fn mix(
    k: f64,
    a: (f64, f64, f64),
    b: (f64, f64, f64),
    l: f64,
    dt: f64,
) -> Option<VarianceDerivatives> {
    let w = mix_w(k, a.0, b.0, l)?;
    let (theta, x) = side(k);
    let (sa, sb, s) = (a.0.sqrt(), b.0.sqrt(), w.sqrt());
    let (pa, pb, p) = (partials(k, a.0), partials(k, b.0), partials(k, w));
    if !(p.w > 0.0 && p.w.is_finite()) {
        return None;
    }
    // o' and o'' of each smile along its own w(k), mixed.
    let d1 = |q: &Partials, (_, w1, _): (f64, f64, f64)| q.k + q.w * w1;
    let d2 = |q: &Partials, (_, w1, w2): (f64, f64, f64)| {
        q.kk + 2.0 * q.kw * w1 + q.ww * w1 * w1 + q.w * w2
    };
    let o1 = (1.0 - l) * d1(&pa, a) + l * d1(&pb, b);
    let o2 = (1.0 - l) * d2(&pa, a) + l * d2(&pb, b);
    let w_k = (o1 - p.k) / p.w;
    let w_kk = (o2 - p.kk - 2.0 * p.kw * w_k - p.ww * w_k * w_k) / p.w;
    // ∂ₜo = (o_b − o_a)/Δt in normalised prices: β = o·e^{−k/2}, ∂β/∂w = ν/(2s).
    let (ba, bb) = (
        normalised_black(x, sa, theta),
        normalised_black(x, sb, theta),
    );
    let vega = normalised_vega(x, s) / (2.0 * s);
    let w_t = (bb - ba) / (dt * vega);
    let out = VarianceDerivatives { w, w_k, w_kk, w_t };
    [w_k, w_kk, w_t]
        .iter()
        .all(|v| v.is_finite())
        .then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mixture's derivatives against central differences of [`mix_w`].
    #[test]
    fn derivatives_match_finite_differences() {
        let sa = |k: f64| (0.04 + 0.1 * k * k - 0.02 * k, 0.2 * k - 0.02, 0.2);
        let sb = |k: f64| (0.07 + 0.05 * k * k + 0.01 * k, 0.1 * k + 0.01, 0.1);
        for &k in &[-0.8, -0.3, -0.05, 0.0, 0.1, 0.4, 0.9] {
            for &l in &[0.1, 0.5, 0.9] {
                let d = mix(k, sa(k), sb(k), l, 0.25).unwrap();
                let h = 1e-4;
                let wk = |k: f64| mix_w(k, sa(k).0, sb(k).0, l).unwrap();
                let fd1 = (wk(k + h) - wk(k - h)) / (2.0 * h);
                let fd2 = (wk(k + h) - 2.0 * wk(k) + wk(k - h)) / (h * h);
                let fdt = (mix_w(k, sa(k).0, sb(k).0, l + 1e-5).unwrap()
                    - mix_w(k, sa(k).0, sb(k).0, l - 1e-5).unwrap())
                    / (2e-5 * 0.25);
                assert!(
                    (d.w_k - fd1).abs() < 1e-6,
                    "k {k} l {l}: {} vs {fd1}",
                    d.w_k
                );
                assert!(
                    (d.w_kk - fd2).abs() < 1e-4,
                    "k {k} l {l}: {} vs {fd2}",
                    d.w_kk
                );
                assert!(
                    (d.w_t - fdt).abs() < 1e-6 * fdt.abs().max(1.0),
                    "{} vs {fdt}",
                    d.w_t
                );
            }
        }
    }

    /// Equal smiles mix to themselves.
    #[test]
    fn equal_smiles_are_unchanged() {
        for &k in &[-1.0, -0.2, 0.0, 0.3, 1.5] {
            let w = mix_w(k, 0.09, 0.09, 0.37).unwrap();
            assert!((w / 0.09 - 1.0).abs() < 1e-13);
        }
    }
}
