//! The normalised Black function and its accurate evaluation in every regime.
//!
//! Notation (Jäckel, *Let's Be Rational*, Wilmott 2015, §2): with forward `F`, strike `K`,
//! `x = ln(F/K)`, total volatility `s = σ√T`, and `θ = +1` for a call, `−1` for a put, the
//! undiscounted Black price divided by `√(FK)` is
//!
//! ```text
//! b(x, s, θ) = θ·[ e^{x/2}·Φ(θ(x/s + s/2)) − e^{−x/2}·Φ(θ(x/s − s/2)) ].
//! ```
//!
//! Out of the money (`θx ≤ 0`) every case reduces to the call with `x ≤ 0`: a put at `x` is the
//! call at `−x`, and in the money `b = ι + b_otm` with the normalised intrinsic value
//! `ι = 2·sinh(θx/2)` (the time value is shared by the call and the put, so put–call parity holds
//! by construction). Writing `h = x/s ≤ 0`, `t = s/2` and `Y(z) = Φ(z)/φ(z)`,
//!
//! ```text
//! b = φ(h)·e^{−t²/2}·[Y(h+t) − Y(h−t)] = e^{−(h²+t²)/2}/√(2π) · D(h, t),
//! ```
//!
//! which never cancels catastrophically once `D = Y(h+t) − Y(h−t)` is computed well:
//! * `h + t > 0.85`: through the complement (below);
//! * `h < −10` and `h + t < −9.79`: the asymptotic series of `Y`, differenced term by term through
//!   complete symmetric polynomials so that `Y(h+t) − Y(h−t)` is a sum of same-sign terms;
//! * `t < 0.21`: the Taylor series `D = 2·Σ_{k odd} Y⁽ᵏ⁾(h)·tᵏ/k!`, with `Y' = 1 + hY` and
//!   `Y⁽ᵏ⁺¹⁾ = h·Y⁽ᵏ⁾ + k·Y⁽ᵏ⁻¹⁾`;
//! * otherwise `D = √(π/2)·[erfcx(−(h+t)/√2) − erfcx(−(h−t)/√2)]`.
//!
//! These are the regions of Jäckel's normalised-Black evaluation (2015, §3; thresholds
//! `h_large = −10`, `t_small = 2·ε^{1/16}`, `0.85`), derived here in the `Y`-function form.
//! Above `h + t = 0.85` the same identities give `b = b_max − e^{−(h²+t²)/2}·C/√(2π)` with
//! `C = √(π/2)·[erfcx((h+t)/√2) + erfcx((t−h)/√2)]`, so one exponential and two `erfcx` serve
//! every region. Because `b` is carried as `(exponent, D)`, its logarithm and the ratio
//! `b'/b = 1/D` are exact even where `b` itself underflows, which the implied-volatility
//! iteration needs.

use super::special::{
    FRAC_1_SQRT_2PI, LN_SQRT_2PI, SQRT_PI_OVER_2, erfcx, one_minus_erfcx, phi_ratio,
};

/// Below this `h = x/s` (with `h + t < H_LARGE + T_SMALL`) the asymptotic expansion is used.
const H_LARGE: f64 = -10.0;
/// Below this `t = s/2` (with `h ≥ H_LARGE`) the small-`t` Taylor series is used.
const T_SMALL: f64 = 0.21;
/// Above this `h + t` the plain difference of normal distribution functions is used.
const PHI_FORM_ABOVE: f64 = 0.85;

/// `D(h, t) = Y(h+t) − Y(h−t)` by the asymptotic series of `Y` for `h + t < −9.79`.
///
/// `Y(z) ~ −Σ (−1)ⁿ (2n−1)!!·z^{−(2n+1)}`; with `z₁ = h+t`, `z₂ = h−t`, `q = z₁z₂`, `u = z₁/z₂`:
/// `z₁^{−m} − z₂^{−m} = −(z₁−z₂)·z₂^{m−1}·S_m/q^m` with `S_m = Σ_{j<m} uʲ` (all terms positive), so
/// `D = 2t·Σ (−1)ⁿ (2n−1)!!·(z₂²/q²)ⁿ·S_{2n+1}/q`.
#[inline]
fn d_asymptotic(h: f64, t: f64) -> f64 {
    let z1 = h + t;
    let z2 = h - t;
    let q = z1 * z2;
    let u = z1 / z2;
    let w = (z2 / q) * (z2 / q);
    let mut coef = 1.0 / q;
    let mut s = 1.0; // S_1
    let mut upow = 1.0; // u^{2n}
    let mut sum = coef * s;
    let mut k = 1.0; // 2n − 1
    for _ in 0..40 {
        coef *= -k * w;
        let u1 = upow * u;
        upow = u1 * u;
        s += u1 + upow;
        let term = coef * s;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
        k += 2.0;
    }
    2.0 * t * sum
}

/// `D(h, t) = 2·Σ_{k odd} Y⁽ᵏ⁾(h)·tᵏ/k!` for small `t` and `h ∈ [−10, 0]`.
///
/// The forward recursion for the derivatives loses digits for large `|h|`, but their weights
/// shrink like `(t/|h|)^{k−1}`, so the error in `D` stays within a few ulps in this region.
#[inline]
fn d_small_t(h: f64, t: f64) -> f64 {
    // 1/((k+1)(k+2)) for k = 1, 3, 5, …: the factor from tᵏ/k! to t^{k+2}/(k+2)!.
    const INV: [f64; 8] = [
        1.0 / 6.0,
        1.0 / 20.0,
        1.0 / 42.0,
        1.0 / 72.0,
        1.0 / 110.0,
        1.0 / 156.0,
        1.0 / 210.0,
        1.0 / 272.0,
    ];
    // Terms beyond the first: the ratio of consecutive terms is at most t²/(k+2) for h ≤ 0, so
    // these counts keep the truncation below 1e-17 of the sum.
    let extra = if t < 0.01 {
        4
    } else if t < 0.05 {
        5
    } else if t < 0.12 {
        7
    } else {
        8
    };
    let y0 = phi_ratio(h);
    let t2 = t * t;
    let mut m_prev = y0; // Y^(k−1)
    let mut m = 1.0 + h * y0; // Y^(k), k = 1
    let mut tk = t; // tᵏ/k!
    let mut sum = m * tk;
    let mut k = 1.0;
    for inv in &INV[..extra] {
        // Y^(k+1) = h·Y^(k) + k·Y^(k−1), Y^(k+2) = h·Y^(k+1) + (k+1)·Y^(k).
        let m1 = h * m + k * m_prev;
        let m2 = h * m1 + (k + 1.0) * m;
        m_prev = m1;
        m = m2;
        tk *= t2 * inv;
        k += 2.0;
        sum += m * tk;
    }
    2.0 * sum
}

/// `D(h, t)` by the difference of two `erfcx`.
#[inline]
fn d_erfcx(h: f64, t: f64) -> f64 {
    use std::f64::consts::FRAC_1_SQRT_2;
    SQRT_PI_OVER_2 * (erfcx(-(h + t) * FRAC_1_SQRT_2) - erfcx(-(h - t) * FRAC_1_SQRT_2))
}

/// `D(h, t)` for `h ≤ 0`, `h + t ≤ 0.85`, choosing the accurate method for the region.
#[inline]
fn d_scaled(h: f64, t: f64) -> f64 {
    if h < H_LARGE && h + t < H_LARGE + T_SMALL {
        d_asymptotic(h, t)
    } else if t < T_SMALL {
        d_small_t(h, t)
    } else {
        d_erfcx(h, t)
    }
}

/// `C(h, t) = √(π/2)·[erfcx((h+t)/√2) + erfcx((t−h)/√2)]`, the scaled complement: for
/// `h + t ≥ 0`, `b_max − b = e^{−(h²+t²)/2}·C/√(2π)` as a sum of two positive terms.
#[inline]
fn c_scaled(h: f64, t: f64) -> f64 {
    use std::f64::consts::FRAC_1_SQRT_2;
    SQRT_PI_OVER_2 * (erfcx((h + t) * FRAC_1_SQRT_2) + erfcx((t - h) * FRAC_1_SQRT_2))
}

/// `(h, t, (h² + t²)/2)` for `x`, `s`.
#[inline]
fn ht(x: f64, s: f64) -> (f64, f64, f64) {
    let h = x / s;
    let t = 0.5 * s;
    (h, t, 0.5 * (h * h + t * t))
}

/// The normalised out-of-the-money call `b(x, s)` and the normalised vega `b'(s)`, for `x ≤ 0`,
/// `s > 0`, `b_max = e^{x/2}`. Above `h + t = 0.85` it is `b_max − c` with the complement `c`
/// (a loss of at most a bit there, where `c < b_max/5`); below, `e^{−(h²+t²)/2}·D/√(2π)`.
#[inline]
pub(crate) fn otm_call_and_vega(x: f64, s: f64, b_max: f64) -> (f64, f64) {
    let (h, t, e) = ht(x, s);
    let vega = FRAC_1_SQRT_2PI * (-e).exp();
    if h + t > PHI_FORM_ABOVE {
        (b_max - vega * c_scaled(h, t), vega)
    } else {
        (vega * d_scaled(h, t), vega)
    }
}

/// `(ln b, b/b')` of the normalised out-of-the-money call (`b/b' = D` in the scaled form),
/// finite even where `b` underflows.
#[inline]
pub(crate) fn otm_call_ln_and_scaled(x: f64, s: f64, inv_s: f64, b_max: f64) -> (f64, f64) {
    let h = x * inv_s;
    let t = 0.5 * s;
    let e = 0.5 * (h * h + t * t);
    if h + t > PHI_FORM_ABOVE {
        let vega = FRAC_1_SQRT_2PI * (-e).exp();
        let b = b_max - vega * c_scaled(h, t);
        (b.ln(), b / vega)
    } else {
        let d = d_scaled(h, t);
        (-e + d.ln() - LN_SQRT_2PI, d)
    }
}

/// `(ln c, c/b')` of the complement `c = b_max − b(x, s) = e^{x/2}Φ(−h−t) + e^{−x/2}Φ(h−t)`, a
/// sum of two positive terms, accurate when `b` is close to its upper bound (`c/b' = C` in the
/// scaled form).
#[inline]
pub(crate) fn otm_call_complement_ln_and_scaled(
    x: f64,
    s: f64,
    inv_s: f64,
    b_max: f64,
) -> (f64, f64) {
    let h = x * inv_s;
    let t = 0.5 * s;
    let e = 0.5 * (h * h + t * t);
    if h + t >= 0.0 {
        let c = c_scaled(h, t);
        (-e + c.ln() - LN_SQRT_2PI, c)
    } else {
        let vega = FRAC_1_SQRT_2PI * (-e).exp();
        let c = b_max - vega * d_scaled(h, t);
        (c.ln(), c / vega)
    }
}

/// The normalised out-of-the-money call at its inflexion point `s_c = √(2|x|)`:
/// `b_c = ½·e^{x/2}·(1 − erfcx(√|x|))` (there `h + t = 0`, so `D = √(π/2)·(1 − erfcx(√|x|))`).
#[inline]
pub(crate) fn otm_call_at_inflexion(x: f64, b_max: f64) -> f64 {
    0.5 * b_max * one_minus_erfcx((-x).sqrt())
}

/// The normalised out-of-the-money call `b(x, s)` for `x ≤ 0`, `s > 0`.
#[inline]
pub(crate) fn otm_call(x: f64, s: f64) -> f64 {
    otm_call_and_vega(x, s, (0.5 * x).exp()).0
}

/// The normalised Black price `b(x, s, θ) = price/√(FK)` with `x = ln(F/K)`, `s = σ√T` and
/// `theta = +1` (call) or `−1` (put), accurate to a few ulps in every regime, including deep out
/// of the money where the naive formula cancels to zero.
///
/// ```
/// use volfit::black::normalised_black;
/// // At the money: b = erf(s/(2√2)).
/// let b = normalised_black(0.0, 0.2, 1.0);
/// assert!((b - 0.079_655_674_554_057_96).abs() < 1e-17);
/// // Deep out of the money the naive difference would be 0; here it is exact to ~1e-15.
/// let tiny = normalised_black(-10.0, 0.5, 1.0);
/// assert!(tiny > 0.0 && (tiny / 6.640_328_034_550_321e-91 - 1.0).abs() < 1e-14);
/// ```
#[inline]
pub fn normalised_black(x: f64, s: f64, theta: f64) -> f64 {
    let otm_x = -x.abs();
    let intrinsic = if theta * x > 0.0 {
        2.0 * (0.5 * x.abs()).sinh()
    } else {
        0.0
    };
    if s <= 0.0 {
        return intrinsic;
    }
    intrinsic + otm_call(otm_x, s)
}

/// The normalised vega `∂b/∂s = exp(−(x²/s² + s²/4)/2)/√(2π)`, the same for calls and puts.
///
/// ```
/// use volfit::black::normalised_vega;
/// assert!((normalised_vega(0.0, 0.0) - 0.398_942_280_401_432_7).abs() < 1e-17);
/// ```
#[inline]
pub fn normalised_vega(x: f64, s: f64) -> f64 {
    if s <= 0.0 {
        return if x == 0.0 { FRAC_1_SQRT_2PI } else { 0.0 };
    }
    let h = x / s;
    let t = 0.5 * s;
    FRAC_1_SQRT_2PI * (-0.5 * (h * h + t * t)).exp()
}
