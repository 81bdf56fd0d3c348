//! Black-76 greeks of undiscounted options.

use super::special::{FRAC_1_SQRT_2PI, norm_cdf};
use super::{OptionKind, black_price, moneyness_and_scale};
use serde::{Deserialize, Serialize};

/// Black-76 greeks of an undiscounted option, in forward terms.
///
/// `d1 = ln(F/K)/(σ√T) + σ√T/2`, `d2 = d1 − σ√T`. Spot-style greeks follow from
/// [`Greeks::to_spot`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Greeks {
    /// Undiscounted price.
    pub price: f64,
    /// `∂V/∂F`: `Φ(d1)` for a call, `Φ(d1) − 1` for a put.
    pub delta: f64,
    /// `∂²V/∂F² = φ(d1)/(Fσ√T)`.
    pub gamma: f64,
    /// `∂V/∂σ = F·φ(d1)·√T` (per unit of volatility, not per point).
    pub vega: f64,
    /// `∂V/∂t` as calendar time passes at fixed forward: `−F·φ(d1)·σ/(2√T)` per year.
    pub theta: f64,
    /// `∂²V/∂F∂σ = −φ(d1)·d2/σ`.
    pub vanna: f64,
    /// `∂²V/∂σ² = vega·d1·d2/σ`.
    pub volga: f64,
}

impl Greeks {
    /// Every field NaN: the greeks where no answer exists.
    pub const NAN: Greeks = Greeks {
        price: f64::NAN,
        delta: f64::NAN,
        gamma: f64::NAN,
        vega: f64::NAN,
        theta: f64::NAN,
        vanna: f64::NAN,
        volga: f64::NAN,
    };

    /// The same greeks with every field that is not finite (a value beyond the double range,
    /// e.g. theta at `t = 10⁻³⁰⁰`) replaced by NaN: no field presents ±inf as a value.
    #[inline]
    pub(crate) fn overflow_to_nan(self) -> Greeks {
        let f = |v: f64| if v.is_finite() { v } else { f64::NAN };
        Greeks {
            price: f(self.price),
            delta: f(self.delta),
            gamma: f(self.gamma),
            vega: f(self.vega),
            theta: f(self.theta),
            vanna: f(self.vanna),
            volga: f(self.volga),
        }
    }

    /// Converts forward greeks to spot-style greeks of the **discounted** option price
    /// `D·V(F)`, where `F = S·g` with carry factor `g = forward/spot` (e.g. `e^{(r−q)T}`) and
    /// discount factor `D`: `Δ_S = D·g·Δ_F`, `Γ_S = D·g²·Γ_F`, `vanna_S = D·g·vanna_F`, vega and
    /// volga scaled by `D`. Theta is the forward-measure theta scaled by `D` (the rate terms
    /// depend on conventions the forward does not carry).
    ///
    /// ```
    /// use volfit::{black_greeks, OptionKind};
    /// let g = black_greeks(OptionKind::Call, 105.0, 100.0, 1.0, 0.2);
    /// let s = g.to_spot(105.0, 100.0, 0.97);
    /// assert!((s.delta - 0.97 * 1.05 * g.delta).abs() < 1e-15);
    /// ```
    #[must_use]
    pub fn to_spot(&self, forward: f64, spot: f64, discount: f64) -> Greeks {
        let carry = forward / spot;
        Greeks {
            price: discount * self.price,
            delta: discount * carry * self.delta,
            gamma: discount * carry * carry * self.gamma,
            vega: discount * self.vega,
            theta: discount * self.theta,
            vanna: discount * carry * self.vanna,
            volga: discount * self.volga,
        }
    }
}

/// Black-76 price and greeks of an undiscounted option (see [`Greeks`] for the definitions).
///
/// At `σ√T = 0` the greeks are those of the payoff (delta a step, the rest zero). NaN where no
/// answer exists, in every field ([`Greeks::NAN`]): where [`black_price`] is NaN (a forward or
/// strike not finite and positive, a time or vol negative or not finite). A field whose value
/// is beyond the range of doubles (theta at `t = 10⁻³⁰⁰` on `F = 10³⁰⁸`) is NaN too, never
/// ±inf. The greeks scale like the price: `Δ` and vanna are invariant under `(λF, λK)`,
/// `Γ` scales by `1/λ`, vega, theta and volga by `λ`.
///
/// ```
/// use volfit::{black_greeks, OptionKind};
/// let g = black_greeks(OptionKind::Call, 100.0, 100.0, 1.0, 0.2);
/// assert!((g.delta - 0.539_827_837_277_028_9).abs() < 1e-15);
/// assert!((g.vega - 39.695_254_747_701_18).abs() < 1e-12);
/// assert!(black_greeks(OptionKind::Call, 100.0, 100.0, 1.0, -0.2).delta.is_nan());
/// ```
pub fn black_greeks(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> Greeks {
    let price = black_price(kind, forward, strike, t, vol);
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
    let (x, _) = moneyness_and_scale(forward, strike);
    let d1 = x / s + 0.5 * s;
    let d2 = d1 - s;
    let pdf1 = FRAC_1_SQRT_2PI * (-0.5 * d1 * d1).exp();
    let delta = match kind {
        OptionKind::Call => norm_cdf(d1),
        OptionKind::Put => -norm_cdf(-d1),
    };
    let vega = forward * pdf1 * sqrt_t;
    Greeks {
        price,
        delta,
        gamma: pdf1 / forward / s,
        vega,
        theta: -0.5 * forward * pdf1 * vol / sqrt_t,
        vanna: -pdf1 * d2 / vol,
        volga: vega * d1 * d2 / vol,
    }
    .overflow_to_nan()
}
