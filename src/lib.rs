//! # volfit — implied-volatility surface calibration
//!
//! volfit turns option quotes into implied volatilities, fits smile models to them and exposes
//! the result as a smooth, arbitrage-checked surface.
//!
//! ## Notation (used throughout the crate)
//!
//! | symbol | meaning |
//! |---|---|
//! | `F`, `K`, `T` | forward, strike, time to expiry in years |
//! | `x = ln(F/K)` | log forward moneyness as in Black's formula; `k = ln(K/F) = −x` in smiles |
//! | `σ`, `s = σ√T` | implied (lognormal) volatility and total volatility |
//! | `w = σ²T` | total implied variance |
//! | `θ` | `+1` call, `−1` put |
//! | `b = V/√(FK)` | normalised undiscounted Black price |
//!
//! All prices are **undiscounted** (forward premiums) unless a name says otherwise.
//!
//! ## Layers (one direction: each imports only the layers above it in this list)
//! * [`output`] — safe directory names from untrusted names (underlyings, file stems), their
//!   collision rule, and atomic file writes.
//! * [`black`] — Black-76 and Bachelier prices, greeks and implied volatility to machine
//!   precision (Jäckel's *Let's Be Rational*), scalar, batched and parallel.
//! * [`quotes`] — chain readers (Deribit CSV/JSON and raw order book, CBOE, OptionMetrics,
//!   implied-vol tables, a generic CSV) declared in one table, a row-by-row
//!   [`IngestReport`], put–call-parity forwards.
//! * [`slice`](mod@slice) — per-expiry [`SmileSlice`]s (valid by construction): time to
//!   expiry, forward, filtered bid/mid/ask implied vols and weights; [`slice::Points`], the
//!   flat view every fit reads.
//! * [`models`] — SVI, SSVI/eSSVI and SABR, one folder each with its calibration spec
//!   ([`models::Calibrate`]); the one arbitrage module ([`models::arbitrage`]).
//! * [`fit`] — the least-squares engine (Levenberg–Marquardt as an argmin solver, argmin's
//!   BFGS / L-BFGS) and THE generic fitter [`fit::fit`] that runs any model's spec.
//! * [`surface`] — the [`VolSurface`] trait with checked queries, [`FittedSurface`], the
//!   surface's arbitrage verdict, metrics, `surface.json` and `report.json`.
//! * [`live`] — live tracking: the [`live::Tracker`] (per-expiry state through time, the
//!   Kalman filter of [`live::filter`], dirty refits) and the quote-update stream
//!   ([`live::stream`]: JSON lines of Deribit `ticker` messages).
//! * [`risk`] — risk off the surface: greeks of positions under smile dynamics (sticky
//!   strike, moneyness, delta), inverse-option greeks with Deribit's conventions, books, and
//!   FX delta space ([`risk::delta`]: delta and ATM conventions, strikes from deltas, risk
//!   reversals and butterflies, broker-quote smiles).
//! * `plot` (feature `plot`) — charts and the review page; draws only.
//! * the `volfit` binary (feature `cli`) — a thin layer over the library.
//!
//! ## Features
//! * default: `plot` and `cli`.
//! * `default-features = false`: the lean core for pricing code (no clap, plotters,
//!   indicatif or glob).
//!
//! ```
//! use volfit::{black_price, implied_vol, OptionKind};
//! let price = black_price(OptionKind::Call, 100.0, 110.0, 0.5, 0.25);
//! let vol = implied_vol(OptionKind::Call, price, 100.0, 110.0, 0.5)?;
//! assert!((vol - 0.25).abs() < 1e-15);
//! # Ok::<(), volfit::Error>(())
//! ```

pub mod black;
pub mod config;
mod error;
pub mod fit;
pub mod live;
pub mod models;
pub mod names;
pub mod output;
#[cfg(feature = "plot")]
pub mod plot;
pub mod quotes;
pub mod risk;
pub mod sample;
pub mod slice;
pub mod surface;

pub use black::{Greeks, ImpliedVolError, OptionKind, black_greeks, black_price, implied_vol};
pub use error::Error;
pub use fit::{Fit, FitOptions, FitReport, Optimizer, fit_sabr, fit_svi};
pub use models::sabr::Sabr;
pub use models::svi::Svi;
pub use quotes::{Chain, Format, IngestReport, OptionQuote, read_chain};
pub use slice::SmileSlice;
pub use surface::{
    FittedSurface, SurfaceModel, SurfaceOptions, SurfaceReport, VolSurface, calibrate_surface,
};

/// The README's code blocks, compiled and run as doctests so the README cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
