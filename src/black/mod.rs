//! Black-76 and Bachelier pricing, greeks, and implied volatility to machine precision.
//!
//! Everything here is **undiscounted** and in forward terms: a Black price is
//! `E[(θ(F_T − K))⁺]` under the forward measure with `F_T` lognormal, `F_0 = F`. Discount by
//! multiplying with the discount factor; for coin-settled (inverse) options see [`inverse`].
//!
//! * [`black_price`], [`black_greeks`]: Black-76 through the normalised Black function of
//!   [`normalised`], which keeps full relative accuracy deep out of the money.
//! * [`implied_vol`]: Jäckel's *Let's Be Rational* (2015): a rational initial guess and two
//!   Householder steps, accurate to a few ulps wherever the price determines the volatility.
//! * [`bachelier`]: the normal model, its greeks and implied normal volatility
//!   (Jäckel, *Implied Normal Volatility*, Wilmott 2017).
//! * [`batch`]: the same inversion over slices, single-threaded and with rayon.

pub mod bachelier;
pub mod batch;
mod greeks;
pub mod inverse;
mod lets_be_rational;
pub mod normalised;
mod rational_cubic;
pub mod special;

pub use bachelier::{bachelier_greeks, bachelier_price, implied_normal_vol};
pub use batch::{BatchInput, implied_vol_batch, implied_vol_par};
pub use greeks::{Greeks, black_greeks};
pub use normalised::{normalised_black, normalised_vega};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum OptionKind {
    /// Pays `(F_T − K)⁺`.
    Call,
    /// Pays `(K − F_T)⁺`.
    Put,
}

impl OptionKind {
    /// `θ = +1` for a call, `−1` for a put.
    ///
    /// ```
    /// assert_eq!(volfit::OptionKind::Put.theta(), -1.0);
    /// ```
    #[inline]
    pub fn theta(self) -> f64 {
        match self {
            OptionKind::Call => 1.0,
            OptionKind::Put => -1.0,
        }
    }

    /// The out-of-the-money kind at this strike: put below the forward, call at or above.
    ///
    /// ```
    /// use volfit::OptionKind;
    /// assert_eq!(OptionKind::otm(100.0, 90.0), OptionKind::Put);
    /// assert_eq!(OptionKind::otm(100.0, 100.0), OptionKind::Call);
    /// ```
    #[inline]
    pub fn otm(forward: f64, strike: f64) -> Self {
        if strike < forward {
            OptionKind::Put
        } else {
            OptionKind::Call
        }
    }

    /// Undiscounted intrinsic value `max(θ(F − K), 0)`.
    ///
    /// ```
    /// assert_eq!(volfit::OptionKind::Call.intrinsic(110.0, 100.0), 10.0);
    /// ```
    #[inline]
    pub fn intrinsic(self, forward: f64, strike: f64) -> f64 {
        (self.theta() * (forward - strike)).max(0.0)
    }
}

impl fmt::Display for OptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptionKind::Call => "call",
            OptionKind::Put => "put",
        })
    }
}

/// Error for an unrecognised option kind string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown option kind {0:?}: expected call/put (or c/p)")]
pub struct ParseOptionKindError(pub String);

impl FromStr for OptionKind {
    type Err = ParseOptionKindError;

    /// Accepts `call`, `c`, `put`, `p` in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "call" | "c" => Ok(OptionKind::Call),
            "put" | "p" => Ok(OptionKind::Put),
            _ => Err(ParseOptionKindError(s.to_string())),
        }
    }
}

/// Which input of a pricing or inversion call an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    /// The option price.
    Price,
    /// The forward.
    Forward,
    /// The strike.
    Strike,
    /// The time to expiry in years.
    Time,
    /// The volatility.
    Vol,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Input::Price => "price",
            Input::Forward => "forward",
            Input::Strike => "strike",
            Input::Time => "time to expiry",
            Input::Vol => "volatility",
        })
    }
}

/// Why no implied volatility exists for a price. Every unattainable price is one of these,
/// never NaN and never a silent zero.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ImpliedVolError {
    /// An input is NaN or infinite.
    #[error("{input} is not finite ({value})")]
    NonFinite {
        /// The offending input.
        input: Input,
        /// Its value.
        value: f64,
    },
    /// Forward, strike or time is zero or negative (Black needs all three positive).
    #[error("{input} must be positive, got {value}")]
    NonPositive {
        /// The offending input.
        input: Input,
        /// Its value.
        value: f64,
    },
    /// The price is below the intrinsic value: no volatility reproduces it.
    #[error("price {price} is below the intrinsic value {intrinsic}")]
    BelowIntrinsic {
        /// The given price.
        price: f64,
        /// `max(θ(F − K), 0)`.
        intrinsic: f64,
    },
    /// The price equals the intrinsic value: the option has no time value, so the volatility is
    /// zero (or undetermined) rather than a positive number.
    #[error("price {price} has no time value over the intrinsic value {intrinsic}")]
    NoTimeValue {
        /// The given price.
        price: f64,
        /// `max(θ(F − K), 0)`.
        intrinsic: f64,
    },
    /// The price is at or above the largest value any volatility gives (`F` for a call, `K` for
    /// a put in the Black model).
    #[error("price {price} is at or above the upper bound {bound}")]
    AboveUpperBound {
        /// The given price.
        price: f64,
        /// The supremum of the price over all volatilities.
        bound: f64,
    },
    /// The inputs are valid but a number of the inversion falls below the normal range of
    /// doubles (below `2⁻¹⁰²²`), so no vol with correct digits can be returned: the normalised
    /// time value `(P − ι)/√(FK)` of a price that is minute against its forward and strike, or
    /// the vol `s/√t` itself for a minute total vol `s` over an enormous `t`.
    #[error("the {what} underflows double precision ({value:e})")]
    Unrepresentable {
        /// Which number underflows.
        what: Unrepresentable,
        /// Its value as computed (subnormal or zero).
        value: f64,
    },
}

/// Which number of an implied-vol inversion is out of double range
/// ([`ImpliedVolError::Unrepresentable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unrepresentable {
    /// The normalised time value `β = (P − ι)/√(FK)`.
    NormalisedPrice,
    /// The volatility `σ = s/√t`.
    Vol,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unrepresentable::NormalisedPrice => "normalised time value (P − ι)/√(FK)",
            Unrepresentable::Vol => "implied volatility",
        })
    }
}

impl ImpliedVolError {
    /// A short machine-readable reason, e.g. for the `error` column of `volfit iv`.
    ///
    /// ```
    /// use volfit::{implied_vol, OptionKind};
    /// let e = implied_vol(OptionKind::Call, 200.0, 100.0, 100.0, 1.0).unwrap_err();
    /// assert_eq!(e.reason(), "above_upper_bound");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ImpliedVolError::NonFinite { .. } => "non_finite_input",
            ImpliedVolError::NonPositive { .. } => "non_positive_input",
            ImpliedVolError::BelowIntrinsic { .. } => "below_intrinsic",
            ImpliedVolError::NoTimeValue { .. } => "no_time_value",
            ImpliedVolError::AboveUpperBound { .. } => "above_upper_bound",
            ImpliedVolError::Unrepresentable { .. } => "unrepresentable",
        }
    }
}

/// Checks forward, strike and time: finite and positive.
#[inline]
pub(crate) fn check_fkt(forward: f64, strike: f64, t: f64) -> Result<(), ImpliedVolError> {
    for (input, value) in [
        (Input::Forward, forward),
        (Input::Strike, strike),
        (Input::Time, t),
    ] {
        if !value.is_finite() {
            return Err(ImpliedVolError::NonFinite { input, value });
        }
        if value <= 0.0 {
            return Err(ImpliedVolError::NonPositive { input, value });
        }
    }
    Ok(())
}

/// The bit pattern of `+∞`: the finite non-negative doubles are exactly the patterns below it.
const INF_BITS: u64 = 0x7FF0_0000_0000_0000;

/// `x` finite and `> 0` (subnormals included) in two integer operations: the positive finite
/// doubles are the bit patterns `1..INF_BITS`; zero, negatives, `±∞` and NaN fall outside.
#[inline]
pub(crate) fn positive_finite(x: f64) -> bool {
    x.to_bits().wrapping_sub(1) < INF_BITS - 1
}

/// `x` finite and `≥ 0` (`−0` included, since `−0 + 0 = +0`), likewise.
#[inline]
pub(crate) fn nonnegative_finite(x: f64) -> bool {
    (x + 0.0).to_bits() < INF_BITS
}

/// `x` a positive normal double (`2⁻¹⁰²² ≤ x < ∞`), for `x` known to be `> 0` or NaN: one
/// subtraction and one compare on the bit pattern (cheaper than `f64::is_normal`).
#[inline]
fn positive_normal(x: f64) -> bool {
    const MIN_BITS: u64 = 0x0010_0000_0000_0000; // f64::MIN_POSITIVE
    x.to_bits().wrapping_sub(MIN_BITS) < INF_BITS - MIN_BITS
}

/// `(x, √(FK))` with `x = ln(F/K)` for finite positive `F`, `K`, computed so that neither
/// overflows nor underflows: Black prices and implied vols are homogeneous of degree one in
/// `(P, F, K)` (Jäckel, *Let's Be Rational*, 2015, §2: everything reduces to `x` and
/// `P/√(FK)`), so no scale may be out of reach.
///
/// While `F/K` is a normal number, `√(FK) = K·√(F/K)`, a geometric mean that lies between `F`
/// and `K`, and `x = ln(F/K)` — near the money (`K/2 ≤ F ≤ 2K`) as `ln1p((F − K)/K)`: `F − K` is
/// exact there (Sterbenz), so `x` keeps its relative precision, where `ln` of the rounded
/// ratio carries an absolute error of half an ulp of 1 (`x = 0.01`: 1e-14 relative, which a
/// price of small total vol magnifies by `h² = (x/s)²` — 327 ulps of the price at `F = 90000`,
/// `K = 89104.485`, `σ√T = 0.005` before). Past that (`|x| ≳ 708`) `x = ln F − ln K` and
/// `√(FK) = √F·√K`; there `|x|` is so large that the absolute rounding of the logarithms is
/// within a few ulps of `x` itself.
#[inline]
pub(crate) fn moneyness_and_scale(forward: f64, strike: f64) -> (f64, f64) {
    let r = forward / strike;
    if (0.5..=2.0).contains(&r) {
        (((forward - strike) / strike).ln_1p(), strike * r.sqrt())
    } else if positive_normal(r) {
        (r.ln(), strike * r.sqrt())
    } else {
        (forward.ln() - strike.ln(), forward.sqrt() * strike.sqrt())
    }
}

/// Undiscounted Black-76 price `E[(θ(F_T − K))⁺]` with lognormal volatility `vol` over `t`
/// years.
///
/// Computed as `√(FK)·b(ln(F/K), vol·√t)` with the normalised Black function (Jäckel, *Let's
/// Be Rational*, 2015, §2–3), so deep out-of-the-money prices keep full relative accuracy,
/// any finite positive scale of `F` and `K` works (see [`implied_vol`]), and put–call parity
/// `C − P = F − K` holds by construction (both share one time value). `vol·√t = 0` gives the
/// intrinsic value.
///
/// NaN where no answer exists: a forward or strike that is not finite and positive, or a time
/// or volatility that is negative or not finite (never 0, which would read as a price). Use
/// [`black_price_checked`] to learn which input is wrong.
///
/// ```
/// use volfit::{black_price, OptionKind};
/// let c = black_price(OptionKind::Call, 100.0, 100.0, 1.0, 0.2);
/// assert!((c - 7.965_567_455_405_796).abs() < 1e-12);
/// let p = black_price(OptionKind::Put, 100.0, 120.0, 1.0, 0.2);
/// let c = black_price(OptionKind::Call, 100.0, 120.0, 1.0, 0.2);
/// assert!((c - p - (100.0 - 120.0)).abs() < 1e-13);
/// assert!(black_price(OptionKind::Call, 100.0, 100.0, 1.0, f64::NAN).is_nan());
/// assert!(black_price(OptionKind::Call, 100.0, 100.0, -1.0, 0.2).is_nan());
/// ```
// The validity test is one expression of non-short-circuit `&` over integer compares (one
// branch on the hot path); clippy's lazy `&&` would read as four tests.
#[allow(clippy::needless_bitwise_bool)]
#[inline]
pub fn black_price(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> f64 {
    let valid = positive_finite(forward)
        & positive_finite(strike)
        & nonnegative_finite(t)
        & nonnegative_finite(vol);
    if !valid {
        return f64::NAN;
    }
    let s = vol * t.sqrt();
    let time_value = if s > 0.0 {
        let (x, sqrt_fk) = moneyness_and_scale(forward, strike);
        sqrt_fk * normalised::otm_call(-x.abs(), s)
    } else {
        0.0
    };
    kind.intrinsic(forward, strike) + time_value
}

/// [`black_price`] with its inputs checked.
///
/// # Errors
/// [`ImpliedVolError::NonFinite`] / [`ImpliedVolError::NonPositive`] for a forward, strike or
/// time that is not finite and positive, or a volatility that is negative or not finite
/// (wherever [`black_price`] is NaN, and also at `t = 0`).
///
/// ```
/// use volfit::black::black_price_checked;
/// use volfit::OptionKind;
/// assert!(black_price_checked(OptionKind::Call, -1.0, 100.0, 1.0, 0.2).is_err());
/// ```
pub fn black_price_checked(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> Result<f64, ImpliedVolError> {
    check_fkt(forward, strike, t)?;
    if !vol.is_finite() {
        return Err(ImpliedVolError::NonFinite {
            input: Input::Vol,
            value: vol,
        });
    }
    if vol < 0.0 {
        return Err(ImpliedVolError::NonPositive {
            input: Input::Vol,
            value: vol,
        });
    }
    Ok(black_price(kind, forward, strike, t, vol))
}

/// Implied Black volatility of an undiscounted price (Jäckel, *Let's Be Rational*, 2015).
///
/// Reduces the price to the normalised out-of-the-money time value `β = (P − ι)/√(FK)` and
/// `x = −|ln(F/K)|`, inverts `b(x, s) = β` with a rational initial guess and two Householder(3)
/// steps on branch-specific objectives, and returns `σ = s/√t`. The result reproduces the
/// price to within a few ulps; its relative accuracy in `σ` is limited only by the conditioning
/// `|∂ln σ/∂ln P|` of the problem.
///
/// The implied vol is scale invariant, `σ(λP, λF, λK) = σ(P, F, K)`, and so is this function:
/// `x` and `√(FK)` are formed without overflow or underflow for any finite positive `F`, `K`
/// (`x = ln(F/K)` while the ratio is a normal number, `ln F − ln K` beyond; `√(FK)` as
/// `K·√(F/K)` or `√F·√K`), and the upper bound is tested in normalised form, `β < e^{x/2}`
/// (Jäckel 2015, §2), so `P = 10¹⁵⁴` on `F = K = 10¹⁵⁵` or `P = 10⁻²⁰¹` on `F = K = 10⁻²⁰⁰`
/// give the same vol as `P = 10` on `F = K = 100`.
///
/// # Errors
/// An [`ImpliedVolError`] naming the reason whenever no positive volatility reproduces the
/// price: non-finite inputs, non-positive forward/strike/time, a price below the intrinsic
/// value, a price with no time value, a price at/above the upper bound (`F` for calls, `K`
/// for puts), or (only at the ends of the double range) a vol or normalised price that double
/// precision cannot hold ([`ImpliedVolError::Unrepresentable`]).
///
/// ```
/// use volfit::{black_price, implied_vol, OptionKind};
/// let p = black_price(OptionKind::Put, 100.0, 80.0, 0.5, 0.35);
/// let v = implied_vol(OptionKind::Put, p, 100.0, 80.0, 0.5).unwrap();
/// assert!((v - 0.35).abs() < 1e-15);
/// // Scale invariance: the same option in units of 10¹⁵³.
/// let big = implied_vol(OptionKind::Call, 1e154, 1e155, 1e155, 1.0).unwrap();
/// let unit = implied_vol(OptionKind::Call, 10.0, 100.0, 100.0, 1.0).unwrap();
/// assert!((big - unit).abs() < 4.0 * f64::EPSILON * unit);
/// ```
#[inline]
pub fn implied_vol(
    kind: OptionKind,
    price: f64,
    forward: f64,
    strike: f64,
    t: f64,
) -> Result<f64, ImpliedVolError> {
    let p = Normalised::new(kind, price, forward, strike, t)?;
    p.vol(lets_be_rational::otm_total_vol(p.beta, p.x, p.b_max))
}

/// An implied-volatility problem reduced to Jäckel's normalised form: the out-of-the-money time
/// value `β = (P − ι)/√(FK)` at `x = −|ln(F/K)| ≤ 0`, with `b_max = e^{x/2}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Normalised {
    pub x: f64,
    pub beta: f64,
    pub b_max: f64,
    pub inv_sqrt_t: f64,
}

impl Normalised {
    /// Checks the inputs and normalises them, without overflow or underflow for any finite
    /// positive scale (see [`moneyness_and_scale`]).
    #[inline]
    pub(crate) fn new(
        kind: OptionKind,
        price: f64,
        forward: f64,
        strike: f64,
        t: f64,
    ) -> Result<Self, ImpliedVolError> {
        if !price.is_finite() {
            return Err(ImpliedVolError::NonFinite {
                input: Input::Price,
                value: price,
            });
        }
        check_fkt(forward, strike, t)?;
        let intrinsic = kind.intrinsic(forward, strike);
        if price < intrinsic {
            return Err(ImpliedVolError::BelowIntrinsic { price, intrinsic });
        }
        let bound = match kind {
            OptionKind::Call => forward,
            OptionKind::Put => strike,
        };
        // Exact in price units (a comparison cannot overflow); the normalised test below is
        // the one that decides after rounding.
        if price >= bound {
            return Err(ImpliedVolError::AboveUpperBound { price, bound });
        }
        // `F − K` and so `P − ι` cannot overflow for finite positive `F`, `K`.
        let time_value = price - intrinsic;
        if time_value <= 0.0 {
            return Err(ImpliedVolError::NoTimeValue { price, intrinsic });
        }
        let (ln_fk, sqrt_fk) = moneyness_and_scale(forward, strike);
        let x = -ln_fk.abs();
        let beta = time_value / sqrt_fk;
        // The OTM time value must stay below min(F, K); in normalised terms b_max = e^{x/2} =
        // √(min/max), formed from the square roots once the ratio leaves the normal range.
        let ratio = forward.min(strike) / forward.max(strike);
        let b_max = if positive_normal(ratio) {
            ratio.sqrt()
        } else {
            forward.min(strike).sqrt() / forward.max(strike).sqrt()
        };
        if beta >= b_max {
            return Err(ImpliedVolError::AboveUpperBound { price, bound });
        }
        if beta < f64::MIN_POSITIVE {
            // The normalised time value underflows (it is below 2⁻¹⁰²²): inverting its rounded
            // value would give a vol with few or no correct digits.
            return Err(ImpliedVolError::Unrepresentable {
                what: Unrepresentable::NormalisedPrice,
                value: beta,
            });
        }
        Ok(Normalised {
            x,
            beta,
            b_max,
            inv_sqrt_t: 1.0 / t.sqrt(),
        })
    }

    /// `σ = s/√t` from the total vol `s`, or [`ImpliedVolError::Unrepresentable`] where `σ`
    /// underflows (a tiny `s` over a huge `t`) and a vol of 0 would be a wrong answer.
    #[inline]
    pub(crate) fn vol(&self, s: f64) -> Result<f64, ImpliedVolError> {
        let vol = s * self.inv_sqrt_t;
        if vol >= f64::MIN_POSITIVE {
            Ok(vol)
        } else {
            Err(ImpliedVolError::Unrepresentable {
                what: Unrepresentable::Vol,
                value: vol,
            })
        }
    }
}

/// Total implied volatility `s = σ√T` from a normalised price `b(x, s, θ)` (`beta = P/√(FK)`,
/// `x = ln(F/K)`): the dimensionless core of [`implied_vol`].
///
/// # Errors
/// As [`implied_vol`], with bounds in normalised units.
///
/// ```
/// use volfit::black::{normalised_black, normalised_implied_vol};
/// let b = normalised_black(-0.7, 0.3, 1.0);
/// assert!((normalised_implied_vol(b, -0.7, 1.0).unwrap() - 0.3).abs() < 1e-15);
/// ```
pub fn normalised_implied_vol(beta: f64, x: f64, theta: f64) -> Result<f64, ImpliedVolError> {
    if !beta.is_finite() {
        return Err(ImpliedVolError::NonFinite {
            input: Input::Price,
            value: beta,
        });
    }
    if !x.is_finite() {
        return Err(ImpliedVolError::NonFinite {
            input: Input::Strike,
            value: x,
        });
    }
    let intrinsic = if theta * x > 0.0 {
        2.0 * (0.5 * x.abs()).sinh()
    } else {
        0.0
    };
    if beta < intrinsic {
        return Err(ImpliedVolError::BelowIntrinsic {
            price: beta,
            intrinsic,
        });
    }
    let bound = (0.5 * theta * x).exp();
    if beta >= bound {
        return Err(ImpliedVolError::AboveUpperBound { price: beta, bound });
    }
    let tv = beta - intrinsic;
    if tv <= 0.0 {
        return Err(ImpliedVolError::NoTimeValue {
            price: beta,
            intrinsic,
        });
    }
    let otm_x = -x.abs();
    let b_max = (0.5 * otm_x).exp();
    if tv >= b_max {
        return Err(ImpliedVolError::AboveUpperBound { price: beta, bound });
    }
    Ok(lets_be_rational::otm_total_vol(tv, otm_x, b_max))
}
