//! The Bachelier (normal) model: price, greeks and implied normal volatility.
//!
//! Undiscounted price of `(θ(F_T − K))⁺` with `F_T = F + σ_N·W_T`:
//! `V = θ(F − K)·Φ(θd) + s·φ(d)`, `d = (F − K)/s`, `s = σ_N√T`. Forward and strike may be any
//! real numbers (negative rates). Out of the money the time value is
//! `s·ψ(u)`, `u = |F − K|/s`, `ψ(u) = φ(u) − u·Φ(−u) = φ(u)·m(u)` with
//! `m(u) = 1 − u·Φ(−u)/φ(u)` computed without cancellation from Cody's erfcx tail.
//!
//! Implied normal volatility follows the structure of Jäckel, *Implied Normal Volatility*,
//! Wilmott (2017) 52–54: reduce to the out-of-the-money time value, solve for `u` in the
//! log-transformed equation `ln(ψ(u)/u) = ln(v/|F − K|)`, which is close to linear in `u²`, with
//! Householder(3) steps from an asymptotic initial guess, and return `σ_N = |F − K|/(u√T)`.

use super::special::{
    FRAC_1_SQRT_2PI, LN_SQRT_2PI, SQRT_2PI, SQRT_PI_OVER_2, erfcx, erfcx_deficit, norm_cdf,
};
use super::{Greeks, ImpliedVolError, Input, OptionKind, nonnegative_finite};

/// `m(u) = 1 − u·Φ(−u)/φ(u)` for `u ≥ 0`.
#[inline]
fn m_shape(u: f64) -> f64 {
    erfcx_deficit(u * std::f64::consts::FRAC_1_SQRT_2)
}

/// `R(u) = Φ(−u)/φ(u)` for `u ≥ 0`.
#[inline]
fn mills(u: f64) -> f64 {
    SQRT_PI_OVER_2 * erfcx(u * std::f64::consts::FRAC_1_SQRT_2)
}

/// Undiscounted Bachelier price with normal volatility `vol` (absolute units per √year).
///
/// NaN where no answer exists: a forward or strike that is not finite, or a time or volatility
/// that is negative or not finite (never the intrinsic value, which would read as a price);
/// also where the price is beyond the range of doubles (`|F − K|` or `σ√T` overflowing, e.g.
/// `F = 10³⁰⁸`, `K = −10³⁰⁸`), never ±inf.
///
/// ```
/// use volfit::black::bachelier_price;
/// use volfit::OptionKind;
/// // At the money the price is σ√(T/2π).
/// let p = bachelier_price(OptionKind::Call, 0.02, 0.02, 4.0, 0.01);
/// assert!((p - 0.01 * 2.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-17);
/// // Negative forwards and strikes are fine.
/// let q = bachelier_price(OptionKind::Put, -0.005, 0.0, 1.0, 0.007);
/// assert!(q > 0.005);
/// assert!(bachelier_price(OptionKind::Put, 0.01, 0.0, 1.0, f64::NAN).is_nan());
/// assert!(bachelier_price(OptionKind::Call, 1e308, -1e308, 1.0, 0.01).is_nan());
/// ```
// The validity test is one expression of non-short-circuit `&` (one branch); clippy's lazy
// `&&` would read as four tests.
#[allow(clippy::needless_bitwise_bool)]
#[inline]
pub fn bachelier_price(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> f64 {
    let valid =
        forward.is_finite() & strike.is_finite() & nonnegative_finite(t) & nonnegative_finite(vol);
    if !valid {
        return f64::NAN;
    }
    let intrinsic = kind.intrinsic(forward, strike);
    let s = vol * t.sqrt();
    let price = if s > 0.0 {
        let u = (forward - strike).abs() / s;
        intrinsic + s * FRAC_1_SQRT_2PI * (-0.5 * u * u).exp() * m_shape(u)
    } else {
        intrinsic
    };
    if price < f64::INFINITY {
        price
    } else {
        f64::NAN
    }
}

/// Bachelier price and greeks (same fields as Black's [`Greeks`]; vega per unit of normal vol).
/// Every field NaN ([`Greeks::NAN`]) where [`bachelier_price`] is NaN, and any field NaN whose
/// value is beyond the range of doubles (never ±inf).
///
/// ```
/// use volfit::black::bachelier_greeks;
/// use volfit::OptionKind;
/// let g = bachelier_greeks(OptionKind::Call, 0.03, 0.03, 1.0, 0.01);
/// assert!((g.delta - 0.5).abs() < 1e-16);
/// assert!((g.vega - 0.398_942_280_401_432_7).abs() < 1e-16);
/// assert!(bachelier_greeks(OptionKind::Call, 0.03, 0.03, -1.0, 0.01).gamma.is_nan());
/// ```
pub fn bachelier_greeks(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> Greeks {
    let price = bachelier_price(kind, forward, strike, t, vol);
    if price.is_nan() {
        return Greeks::NAN;
    }
    let sqrt_t = t.sqrt();
    let s = vol * sqrt_t;
    if !(s > 0.0) {
        let itm = kind.theta() * (forward - strike) > 0.0;
        return Greeks {
            price,
            delta: if itm { kind.theta() } else { 0.0 },
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
            vanna: 0.0,
            volga: 0.0,
        };
    }
    let d = (forward - strike) / s;
    let pdf = FRAC_1_SQRT_2PI * (-0.5 * d * d).exp();
    let delta = match kind {
        OptionKind::Call => norm_cdf(d),
        OptionKind::Put => -norm_cdf(-d),
    };
    let vega = sqrt_t * pdf;
    Greeks {
        price,
        delta,
        gamma: pdf / s,
        vega,
        theta: -0.5 * vol * pdf / sqrt_t,
        vanna: -pdf * d / vol,
        volga: vega * d * d / vol,
    }
    .overflow_to_nan()
}

/// Implied normal (Bachelier) volatility of an undiscounted price.
///
/// # Errors
/// [`ImpliedVolError`] for non-finite inputs, non-positive time, a price below intrinsic or with
/// no time value. There is no upper bound in the normal model.
///
/// ```
/// use volfit::black::{bachelier_price, implied_normal_vol};
/// use volfit::OptionKind;
/// let p = bachelier_price(OptionKind::Call, 0.01, 0.015, 2.0, 0.0065);
/// let v = implied_normal_vol(OptionKind::Call, p, 0.01, 0.015, 2.0).unwrap();
/// assert!((v / 0.0065 - 1.0).abs() < 1e-14);
/// ```
pub fn implied_normal_vol(
    kind: OptionKind,
    price: f64,
    forward: f64,
    strike: f64,
    t: f64,
) -> Result<f64, ImpliedVolError> {
    for (input, value) in [
        (Input::Price, price),
        (Input::Forward, forward),
        (Input::Strike, strike),
        (Input::Time, t),
    ] {
        if !value.is_finite() {
            return Err(ImpliedVolError::NonFinite { input, value });
        }
    }
    if t <= 0.0 {
        return Err(ImpliedVolError::NonPositive {
            input: Input::Time,
            value: t,
        });
    }
    let intrinsic = kind.intrinsic(forward, strike);
    if price < intrinsic {
        return Err(ImpliedVolError::BelowIntrinsic { price, intrinsic });
    }
    let tv = price - intrinsic;
    if tv <= 0.0 {
        return Err(ImpliedVolError::NoTimeValue { price, intrinsic });
    }
    let a = (forward - strike).abs();
    if a == 0.0 {
        return Ok(tv * SQRT_2PI / t.sqrt());
    }
    let u = solve_u(tv / a);
    Ok(a / (u * t.sqrt()))
}

/// Solves `ψ(u)/u = y` for `u > 0` (`y > 0`).
fn solve_u(y: f64) -> f64 {
    let ln_y = y.ln();
    // Initial guess: small u: ψ(u)/u ≈ φ(0)/u − 1/2; large u: ψ(u)/u ≈ φ(u)/u³.
    let mut u = if y > 0.15 {
        FRAC_1_SQRT_2PI / (y + 0.5)
    } else {
        let mut u: f64 = (-2.0 * (ln_y + LN_SQRT_2PI)).max(1.0).sqrt();
        for _ in 0..3 {
            u = (-2.0 * (ln_y + LN_SQRT_2PI + 3.0 * u.ln()))
                .max(0.25)
                .sqrt();
        }
        u
    };
    for _ in 0..8 {
        let m = m_shape(u);
        let r = mills(u);
        let g = -0.5 * u * u - LN_SQRT_2PI + m.ln() - u.ln() - ln_y;
        let rm = r / m;
        let g1 = -rm - 1.0 / u;
        let g2 = 1.0 / m - rm * rm + 1.0 / (u * u);
        let g3 = -u / m + 3.0 * rm / m - 2.0 * rm * rm * rm - 2.0 / (u * u * u);
        let nu = -g / g1;
        let h2 = g2 / g1;
        let h3 = g3 / g1;
        let step = nu * (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu / 6.0));
        let next = if u + step > 0.0 { u + step } else { 0.5 * u };
        let done = (next - u).abs() <= 4.0 * f64::EPSILON * next;
        u = next;
        if done {
            break;
        }
    }
    u
}
