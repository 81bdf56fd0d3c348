//! Greeks of an option read off a [`VolSurface`] under a smile dynamics.
//!
//! **Setting.** An option (kind, strike `K`, expiry `T` in years) is priced undiscounted with
//! Black-76 at the surface's forward `F = F(T)` and vol `σ = √(w(k, T)/T)`, `k = ln(K/F)`.
//! A spot move by a factor `λ` moves every forward by the same factor (`F(t) = S·c(t)` with
//! the carry `c(t)` fixed), so the spot greeks are the greeks in `F(T)`:
//! `delta = dV/dF`, `gamma = d²V/dF²`, with the smile moving as the [`Dynamics`] says.
//! The delta per unit of *spot* is `(F/S)·delta` (and the discount factor, if the position is
//! valued discounted: [`Greeks::to_spot`]).
//!
//! **Dynamics** (Derman, "Regimes of volatility", Risk, 1999; Bergomi, *Stochastic Volatility
//! Modeling*, 2016, ch. 2). Write `σ̂(k) = √(w(k, T)/T)` for the surface's smile at `T`,
//! `σ̂' = w_k/(2σ̂T)`, `σ̂'' = w_kk/(2σ̂T) − w_k²/(4σ̂³T²)`, and `B` for the Black price with
//! its partials `B_F, B_FF, B_σ, B_Fσ, B_σσ` ([`black_greeks`]).
//! * [`Dynamics::StickyStrike`]: `σ(K, T)` does not move with the forward, `σ_F = 0`:
//!   the Black greeks at the surface's vol.
//! * [`Dynamics::StickyMoneyness`]: `σ = σ̂(ln K − ln F)` moves with the forward, so
//!   `σ_F = −σ̂'/F` (equivalently `−(K/F)·∂σ/∂K`) and `σ_FF = (σ̂'' + σ̂')/F²`:
//!   `delta = B_F + B_σσ_F`, `gamma = B_FF + 2B_Fσσ_F + B_σσσ_F² + B_σσ_FF`,
//!   `vanna = B_Fσ + B_σσσ_F`.
//! * [`Dynamics::StickyDelta`]: the smile as a function of the option's Black delta
//!   `δ = Φ(d1)`, `d1 = −k/(σ√T) + σ√T/2`, is fixed: after the move, the vol at `K` is the
//!   fixed point `σ = Σ(δ(ln(K/F'), σ))` of the smile in delta space `Σ`. Any Black-type
//!   delta (forward, spot with carry, premium-adjusted `(K/F)Φ(d2)`) depends on `F` only
//!   through `k`, so the point of the old smile with the same `k` solves it, and the fixed
//!   point is unique where `δ(k)` along the smile is monotone (no butterfly arbitrage): the
//!   vol at `K` is `σ̂(ln(K/F'))`, *the same as sticky moneyness*. This is Derman's and
//!   Bergomi's observation that sticky delta and sticky moneyness are one regime for spot
//!   moves (`σ` a function of `K/S`); the variant is kept so books can name it.
//!
//! **Vega, vanna, volga** are per unit (1.00 = 100 vol points) parallel shift `ε` of implied
//! vol at every strike, the shifted smile moving with the forward as the dynamics says:
//! `vega = B_σ`, `volga = B_σσ`, vanna `= d²V/dF dε` above. (A parallel shift in *delta
//! space* instead moves the vol at a fixed strike by `(1 + d2·√T·σ̂')·ε`; not used here.)
//!
//! **Theta** is per year (divide by 365.25 for per calendar day), `−dV/dτ` as time to expiry
//! `τ` shrinks at fixed forward `F(T)` (undiscounted: no carry or rate roll) with the surface
//! held in its own convention — the total variance read at the same `k = ln(K/F)` at the
//! shorter time: `theta = −B_T − B_σ·σ_τ`, `σ_τ = (w_t⁻ − σ²)/(2στ)` with `w_t⁻` the *left*
//! derivative in `t` (time passing walks into the interval before `T`, also where `T` is an
//! expiry of the surface). The three dynamics share it: at fixed `F`, fixed strike, fixed
//! moneyness and fixed delta-in-`k` are the same point.
//!
//! **Inverse options** ([`InverseGreeks`]): a Deribit option's coin premium is `C = V/F`
//! (volfit's readers convert `coin × forward`), with greeks `C_F = (Δ − C)/F`,
//! `C_FF = Γ/F − 2(Δ − C)/F²`, vega `/F`, vanna `(vanna − vega/F)/F`. Deribit's own columns
//! (measured on the shared snapshots): `delta` is the forward Black delta `Δ = dV/dF` (not
//! premium-adjusted, although its coin P&L per coin of `F` move is the premium-adjusted
//! `Δ − C`), and `vega` is USD per vol point, `B_σ/100`.

use crate::black::{Greeks, OptionKind, black_greeks, black_price};
use crate::surface::{QueryError, VarianceDerivatives, VolSurface, positive};
use serde::{Deserialize, Serialize};

/// How the smile moves when the spot (and with it every forward) moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dynamics {
    /// `σ(K, T)` fixed at each strike.
    #[default]
    StickyStrike,
    /// `σ` a function of `K/F`: the smile moves with the forward.
    StickyMoneyness,
    /// `σ` a function of the option's delta; for spot moves the same as sticky moneyness
    /// (see the [module docs](self)).
    StickyDelta,
}

impl Dynamics {
    /// All three, in declaration order.
    pub const ALL: [Dynamics; 3] = [
        Dynamics::StickyStrike,
        Dynamics::StickyMoneyness,
        Dynamics::StickyDelta,
    ];

    /// Whether the smile moves with the forward (`σ` a function of `k = ln(K/F)`).
    #[must_use]
    pub fn floats(self) -> bool {
        !matches!(self, Dynamics::StickyStrike)
    }

    /// The name in `--dynamics` and files: `sticky-strike`, `sticky-moneyness`, `sticky-delta`.
    ///
    /// ```
    /// assert_eq!(volfit::risk::greeks::Dynamics::StickyDelta.name(), "sticky-delta");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Dynamics::StickyStrike => "sticky-strike",
            Dynamics::StickyMoneyness => "sticky-moneyness",
            Dynamics::StickyDelta => "sticky-delta",
        }
    }
}

/// A surface after a spot move and a parallel vol shift, under a dynamics: the full
/// revaluation that [`option_greeks`] differentiates analytically.
///
/// Forwards are `forward_scale × F(t)`; the vol at strike `K` is `σ(K) + vol_shift` where
/// `σ(K)` is the base surface's vol at the same strike (sticky strike) or at the same
/// `k = ln(K/F)` against the moved forward (sticky moneyness and delta).
///
/// ```
/// use volfit::risk::greeks::{Bumped, Dynamics};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// struct Skew;
/// impl VolSurface for Skew {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
///         let v = 0.2 - 0.1 * k;
///         VarianceDerivatives { w: v * v * t, w_k: -0.2 * v * t, w_kk: 0.02 * t, w_t: v * v }
///     }
/// }
/// let up = Bumped { base: &Skew, forward_scale: 1.1, vol_shift: 0.0, dynamics: Dynamics::StickyStrike };
/// assert!((up.vol(100.0, 1.0) - Skew.vol(100.0, 1.0)).abs() < 1e-15);
/// let up = Bumped { dynamics: Dynamics::StickyMoneyness, ..up };
/// assert!((up.vol(110.0, 1.0) - 0.2).abs() < 1e-15);
/// ```
#[derive(Clone, Copy)]
pub struct Bumped<'a> {
    /// The surface before the move.
    pub base: &'a dyn VolSurface,
    /// `λ`: every forward is multiplied by it (a spot move of `λ − 1` relative).
    pub forward_scale: f64,
    /// `ε`: added to the implied vol at every strike.
    pub vol_shift: f64,
    /// How the smile moves with the forward.
    pub dynamics: Dynamics,
}

impl VolSurface for Bumped<'_> {
    fn forward_impl(&self, t: f64) -> f64 {
        self.forward_scale * self.base.forward_impl(t)
    }

    fn discount_impl(&self, t: f64) -> Option<f64> {
        self.base.discount_impl(t)
    }

    fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
        // Sticky strike: K/F_base = e^k·λ.
        let kb = if self.dynamics.floats() {
            k
        } else {
            k + self.forward_scale.ln()
        };
        let d = self.base.variance_derivatives(kb, t);
        if self.vol_shift == 0.0 {
            return d;
        }
        let s = (d.w / t).sqrt();
        let sig = s + self.vol_shift;
        if !(s > 0.0 && sig > 0.0) {
            return VarianceDerivatives::NAN;
        }
        let s_k = d.w_k / (2.0 * s * t);
        let s_kk = d.w_kk / (2.0 * s * t) - d.w_k * d.w_k / (4.0 * s * s * s * t * t);
        let s_t = (d.w_t - s * s) / (2.0 * s * t);
        VarianceDerivatives {
            w: sig * sig * t,
            w_k: 2.0 * sig * t * s_k,
            w_kk: 2.0 * t * (s_k * s_k + sig * s_kk),
            w_t: sig * sig + 2.0 * sig * t * s_t,
        }
    }
}

/// An option position: `quantity` options of one kind, strike and expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Call or put.
    pub kind: OptionKind,
    /// Strike (quote currency).
    pub strike: f64,
    /// Time to expiry in years (the surface's clock).
    pub t: f64,
    /// Number of options (negative: short).
    pub quantity: f64,
}

/// Relative step back in time at which the left derivative `∂w/∂t` is read: `w` is linear in
/// `t` at fixed `k` between the surface's expiries, so any point of the interval gives it.
const LEFT_T: f64 = 1e-9;

/// Price and greeks of one option on `surface` under `dynamics`, undiscounted, in the
/// surface's quote currency, per option (definitions in the [module docs](self)).
///
/// # Errors
/// [`QueryError`] where the surface has no price there ([`VolSurface::try_price`]: a strike or
/// time not finite and positive, no vol, a forward or price a double cannot hold) or a greek
/// is not finite.
///
/// ```
/// use volfit::risk::greeks::{option_greeks, Dynamics};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// use volfit::{black_greeks, OptionKind};
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let g = option_greeks(&Flat, OptionKind::Call, 110.0, 0.5, Dynamics::StickyMoneyness)?;
/// let b = black_greeks(OptionKind::Call, 100.0, 110.0, 0.5, 0.2);
/// assert!((g.delta - b.delta).abs() < 1e-15 && (g.gamma / b.gamma - 1.0).abs() < 1e-14);
/// assert!((g.theta / b.theta - 1.0).abs() < 1e-12); // a flat surface: Black's theta
/// # Ok::<(), volfit::surface::QueryError>(())
/// ```
pub fn option_greeks(
    surface: &dyn VolSurface,
    kind: OptionKind,
    strike: f64,
    t: f64,
    dynamics: Dynamics,
) -> Result<Greeks, QueryError> {
    // The domain of `VolSurface::try_price`, checked on the one surface query the greeks
    // need (a separate `try_price` cost a third query and a Black price per option).
    positive("strike", strike)?;
    positive("t", t)?;
    let f = surface.forward(t);
    let unrepresentable = |what, value| QueryError::Unrepresentable {
        what,
        strike,
        t,
        value,
    };
    let normal = f64::MIN_POSITIVE..f64::INFINITY;
    if !normal.contains(&f) {
        return Err(unrepresentable("forward", f));
    }
    let k = (strike / f).ln();
    let d = surface.variance_derivatives(k, t);
    let sigma = (d.w / t).sqrt();
    if !(sigma > 0.0 && sigma < f64::INFINITY) {
        return Err(QueryError::NoVol { strike, t, w: d.w });
    }
    let b = black_greeks(kind, f, strike, t, sigma);
    if !normal.contains(&b.price) {
        return Err(unrepresentable("price", b.price));
    }
    let w_t_left = surface.variance_derivatives(k, t * (1.0 - LEFT_T)).w_t;
    let sigma_tau = (w_t_left - sigma * sigma) / (2.0 * sigma * t);
    let theta = b.theta - b.vega * sigma_tau;
    let g = if dynamics.floats() {
        let s1 = d.w_k / (2.0 * sigma * t);
        let s2 = d.w_kk / (2.0 * sigma * t) - d.w_k * d.w_k / (4.0 * sigma.powi(3) * t * t);
        let sf = -s1 / f;
        let sff = (s2 + s1) / (f * f);
        Greeks {
            price: b.price,
            delta: b.delta + b.vega * sf,
            gamma: b.gamma + 2.0 * b.vanna * sf + b.volga * sf * sf + b.vega * sff,
            vega: b.vega,
            theta,
            vanna: b.vanna + b.volga * sf,
            volga: b.volga,
        }
    } else {
        Greeks { theta, ..b }
    };
    let fields = [g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga];
    if let Some(bad) = fields.into_iter().find(|v| !v.is_finite()) {
        return Err(QueryError::Unrepresentable {
            what: "greek",
            strike,
            t,
            value: bad,
        });
    }
    Ok(g)
}

/// Greeks of a position: [`option_greeks`] times the quantity.
///
/// # Errors
/// Those of [`option_greeks`].
///
/// ```
/// use volfit::risk::greeks::{option_greeks, position_greeks, Dynamics, Position};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// use volfit::OptionKind;
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let p = Position { kind: OptionKind::Put, strike: 90.0, t: 1.0, quantity: -3.0 };
/// let one = option_greeks(&Flat, p.kind, p.strike, p.t, Dynamics::StickyStrike)?;
/// let g = position_greeks(&Flat, &p, Dynamics::StickyStrike)?;
/// assert_eq!(g.vega, -3.0 * one.vega);
/// # Ok::<(), volfit::surface::QueryError>(())
/// ```
pub fn position_greeks(
    surface: &dyn VolSurface,
    position: &Position,
    dynamics: Dynamics,
) -> Result<Greeks, QueryError> {
    let g = option_greeks(
        surface,
        position.kind,
        position.strike,
        position.t,
        dynamics,
    )?;
    Ok(scale(&g, position.quantity))
}

/// Every field of `g` times `q`.
pub(crate) fn scale(g: &Greeks, q: f64) -> Greeks {
    Greeks {
        price: q * g.price,
        delta: q * g.delta,
        gamma: q * g.gamma,
        vega: q * g.vega,
        theta: q * g.theta,
        vanna: q * g.vanna,
        volga: q * g.volga,
    }
}

/// The undiscounted price of an option on a surface at time to expiry `tau`, the forward and
/// the log-moneyness of expiry `t` held (the revaluation behind theta).
///
/// # Errors
/// [`QueryError::NonPositive`] for a `tau` that is not positive, [`QueryError::NoVol`] where the
/// surface has no total variance at the rolled point.
///
/// ```
/// use volfit::risk::greeks::price_rolled;
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// use volfit::{black_price, OptionKind};
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, t: f64) -> f64 { 100.0 * (0.05 * t).exp() }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let f = Flat.forward(1.0);
/// let p = price_rolled(&Flat, OptionKind::Call, 100.0, 1.0, 0.5)?;
/// assert!((p - black_price(OptionKind::Call, f, 100.0, 0.5, 0.2)).abs() < 1e-14);
/// assert!(price_rolled(&Flat, OptionKind::Call, 100.0, 1.0, 0.0).is_err());
/// # Ok::<(), volfit::surface::QueryError>(())
/// ```
pub fn price_rolled(
    surface: &dyn VolSurface,
    kind: OptionKind,
    strike: f64,
    t: f64,
    tau: f64,
) -> Result<f64, QueryError> {
    if !(tau > 0.0) {
        return Err(QueryError::NonPositive {
            what: "time to expiry",
            value: tau,
        });
    }
    let f = surface.forward(t);
    let w = surface.total_variance((strike / f).ln(), tau);
    if !(w > 0.0 && w.is_finite()) {
        return Err(QueryError::NoVol { strike, t: tau, w });
    }
    Ok(black_price(kind, f, strike, tau, (w / tau).sqrt()))
}

/// Greeks of an inverse (coin-settled) option, from its quote-currency greeks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InverseGreeks {
    /// Greeks of the quote-currency (USD) value `V`, as given.
    pub usd: Greeks,
    /// Greeks of the coin value `C = V/F`: `price = C`, `delta = ∂C/∂F` (coin per USD of
    /// forward), `gamma = ∂²C/∂F²`, vega, theta and volga divided by `F`, `vanna = ∂²C/∂F∂σ`.
    pub coin: Greeks,
    /// The premium-adjusted delta `F·∂C/∂F = Δ − C`: coins of forward that hedge the coin value.
    pub premium_adjusted_delta: f64,
    /// Deribit's `delta` column: the forward delta `Δ = ∂V/∂F` (measured, see the module docs).
    pub deribit_delta: f64,
    /// Deribit's `vega` column: USD per vol point, `∂V/∂σ / 100`.
    pub deribit_vega: f64,
}

/// Coin-settled greeks of an option whose quote-currency greeks at forward `forward` are `usd`
/// (undiscounted; `usd` from [`option_greeks`] carries the dynamics into every field).
///
/// ```
/// use volfit::risk::greeks::inverse_greeks;
/// use volfit::{black_greeks, OptionKind};
/// let g = black_greeks(OptionKind::Call, 90_000.0, 100_000.0, 0.25, 0.5);
/// let inv = inverse_greeks(&g, 90_000.0);
/// assert!((inv.premium_adjusted_delta - (g.delta - g.price / 90_000.0)).abs() < 1e-15);
/// assert_eq!(inv.deribit_vega, g.vega / 100.0);
/// ```
#[must_use]
pub fn inverse_greeks(usd: &Greeks, forward: f64) -> InverseGreeks {
    let f = forward;
    let c = usd.price / f;
    let pad = usd.delta - c;
    InverseGreeks {
        usd: *usd,
        coin: Greeks {
            price: c,
            delta: pad / f,
            gamma: usd.gamma / f - 2.0 * pad / (f * f),
            vega: usd.vega / f,
            theta: usd.theta / f,
            vanna: (usd.vanna - usd.vega / f) / f,
            volga: usd.volga / f,
        },
        premium_adjusted_delta: pad,
        deribit_delta: usd.delta,
        deribit_vega: usd.vega / 100.0,
    }
}
