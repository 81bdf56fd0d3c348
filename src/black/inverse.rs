//! Inverse (coin-settled) options, as listed on Deribit: the premium of an option on one coin is
//! paid in coin, so `premium_coin = premium_quote / F` with `F` the forward in quote currency
//! (USD). Strikes and forwards stay in quote currency; implied volatility is the same number
//! once the premium is converted.

use super::{ImpliedVolError, OptionKind, black_price, implied_vol};

/// Quote-currency premium of a coin-denominated premium: `coin × F`.
///
/// ```
/// assert_eq!(volfit::black::inverse::coin_to_quote(0.05, 60_000.0), 3_000.0);
/// ```
#[inline]
pub fn coin_to_quote(premium_coin: f64, forward: f64) -> f64 {
    premium_coin * forward
}

/// Coin-denominated premium of a quote-currency premium: `quote / F`.
///
/// ```
/// assert_eq!(volfit::black::inverse::quote_to_coin(3_000.0, 60_000.0), 0.05);
/// ```
#[inline]
pub fn quote_to_coin(premium_quote: f64, forward: f64) -> f64 {
    premium_quote / forward
}

/// Black price of an inverse option in coin: `black_price(..)/F`.
///
/// ```
/// use volfit::black::inverse::black_price_coin;
/// use volfit::OptionKind;
/// let c = black_price_coin(OptionKind::Call, 60_000.0, 60_000.0, 0.25, 0.6);
/// assert!((c - 0.119_235_384_740_485_03).abs() < 1e-16);
/// ```
#[inline]
pub fn black_price_coin(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> f64 {
    black_price(kind, forward, strike, t, vol) / forward
}

/// Implied volatility of a coin-denominated premium.
///
/// # Errors
/// As [`implied_vol`] after conversion (a call premium of one coin or more is above the bound).
///
/// ```
/// use volfit::black::inverse::{black_price_coin, implied_vol_coin};
/// use volfit::OptionKind;
/// let c = black_price_coin(OptionKind::Put, 3_000.0, 2_500.0, 0.1, 0.75);
/// let v = implied_vol_coin(OptionKind::Put, c, 3_000.0, 2_500.0, 0.1).unwrap();
/// assert!((v - 0.75).abs() < 1e-14);
/// ```
#[inline]
pub fn implied_vol_coin(
    kind: OptionKind,
    premium_coin: f64,
    forward: f64,
    strike: f64,
    t: f64,
) -> Result<f64, ImpliedVolError> {
    implied_vol(
        kind,
        coin_to_quote(premium_coin, forward),
        forward,
        strike,
        t,
    )
}

/// Premium-adjusted delta of an inverse option, `∂(V/F)/∂F·F = Δ − V/F`: the coin P&L of the
/// coin premium per coin of forward move; for a call `(K/F)·Φ(d2)`, for a put `(K/F)·Φ(d2) − 1`.
///
/// Deribit's own `delta` column is *not* this number: on the shared snapshots it is the plain
/// forward Black delta `Φ(d1)` (`Φ(d1) − 1` for puts) at the mark vol — median gap 1e-4 against the
/// plain delta, 5e-2 to 7e-2 against this one (`tests/risk/deribit.rs`; see
/// [`crate::risk::greeks`]).
///
/// ```
/// use volfit::black::inverse::premium_adjusted_delta;
/// use volfit::{black_greeks, OptionKind};
/// let (f, k, t, v) = (60_000.0, 65_000.0, 0.2, 0.55);
/// let g = black_greeks(OptionKind::Call, f, k, t, v);
/// assert!((premium_adjusted_delta(OptionKind::Call, f, k, t, v) - (g.delta - g.price / f)).abs() < 1e-15);
/// ```
pub fn premium_adjusted_delta(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> f64 {
    let g = super::black_greeks(kind, forward, strike, t, vol);
    g.delta - g.price / forward
}
