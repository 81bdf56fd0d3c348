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

/// Undiscounted Black-76 price `E[(θ(F_T − K))⁺]` with lognormal volatility `vol` over `t`
/// years.
///
/// Computed as `√(FK)·b(ln(F/K), vol·√t)` with the normalised Black function, so deep
/// out-of-the-money prices keep full relative accuracy and put–call parity
/// `C − P = F − K` holds by construction (both share one time value). `vol·√t = 0` gives the
/// intrinsic value. Inputs are not validated: non-positive forward or strike give NaN; use
/// [`implied_vol`]-style checks upstream, or [`black_price_checked`].
///
/// ```
/// use volfit::{black_price, OptionKind};
/// let c = black_price(OptionKind::Call, 100.0, 100.0, 1.0, 0.2);
/// assert!((c - 7.965_567_455_405_796).abs() < 1e-12);
/// let p = black_price(OptionKind::Put, 100.0, 120.0, 1.0, 0.2);
/// let c = black_price(OptionKind::Call, 100.0, 120.0, 1.0, 0.2);
/// assert!((c - p - (100.0 - 120.0)).abs() < 1e-13);
/// ```
#[inline]
pub fn black_price(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> f64 {
    let x = (forward / strike).ln();
    let s = vol * t.sqrt();
    let time_value = if s > 0.0 {
        (forward * strike).sqrt() * normalised::otm_call(-x.abs(), s)
    } else {
        0.0
    };
    kind.intrinsic(forward, strike) + time_value
}

/// [`black_price`] with its inputs checked.
///
/// # Errors
/// [`ImpliedVolError::NonFinite`] / [`ImpliedVolError::NonPositive`] for a forward, strike or
/// time that is not finite and positive, or a volatility that is negative or not finite.
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
/// # Errors
/// An [`ImpliedVolError`] naming the reason whenever no positive volatility reproduces the
/// price: non-finite inputs, non-positive forward/strike/time, a price below the intrinsic
/// value, a price with no time value, or a price at/above the upper bound (`F` for calls, `K`
/// for puts).
///
/// ```
/// use volfit::{black_price, implied_vol, OptionKind};
/// let p = black_price(OptionKind::Put, 100.0, 80.0, 0.5, 0.35);
/// let v = implied_vol(OptionKind::Put, p, 100.0, 80.0, 0.5).unwrap();
/// assert!((v - 0.35).abs() < 1e-15);
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
    Ok(lets_be_rational::otm_total_vol(p.beta, p.x, p.b_max) * p.inv_sqrt_t)
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
    /// Checks the inputs and normalises them.
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
        if price >= bound {
            return Err(ImpliedVolError::AboveUpperBound { price, bound });
        }
        let time_value = price - intrinsic;
        if time_value <= 0.0 {
            return Err(ImpliedVolError::NoTimeValue { price, intrinsic });
        }
        let x = -(forward / strike).ln().abs();
        let beta = time_value / (forward * strike).sqrt();
        // The OTM time value must stay below min(F, K); in normalised terms b_max = e^{x/2}.
        let b_max = (forward.min(strike) / forward.max(strike)).sqrt();
        if beta >= b_max {
            return Err(ImpliedVolError::AboveUpperBound { price, bound });
        }
        Ok(Normalised {
            x,
            beta,
            b_max,
            inv_sqrt_t: 1.0 / t.sqrt(),
        })
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
