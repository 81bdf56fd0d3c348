//! Risk off the surface (issue 18): greeks of positions under smile dynamics, shocked
//! surfaces, scenarios, P&L explain, and delta space.
//!
//! * [`greeks`] — price, delta, gamma, vega, theta, vanna and volga of an option read off any
//!   [`VolSurface`](crate::VolSurface) under a chosen smile dynamics (sticky strike, sticky
//!   moneyness, sticky delta), the bumped surfaces that define them, and inverse (coin-settled)
//!   greeks with Deribit's conventions.
//! * [`book`] — `BOOK.csv` (exchange instrument names or `kind, strike, expiry`, and
//!   `quantity`), its row-by-row rejections, and book greeks with vega by expiry.
//! * [`explain`] — P&L explain between two snapshots: actual (marks) against the Taylor
//!   terms off the first surface's greeks, the unexplained rest, and the full revaluation.
//! * [`delta`] — FX delta space (Reiswich & Wystup 2010; Clark 2011, ch. 3): the spot /
//!   forward, plain / premium-adjusted delta conventions and their strikes, ATM conventions,
//!   vols at a delta off a smile or a surface, 25Δ/10Δ risk reversals and butterflies, the
//!   smile from broker quotes (ATM, risk reversal, market strangle) and the vanna–volga
//!   first-order smile of Castagna & Mercurio (2007).
//! * [`scenario`] — the spot × vol P&L grid by full revaluation, shocked surfaces (spot move,
//!   parallel shift, skew tilt, term twist, replay of an observed change) that are themselves
//!   surfaces, named scenarios with a time roll and an arbitrage verdict, historical stresses.

pub mod book;
pub mod delta;
pub mod explain;
pub mod greeks;
pub mod quote_vega;
pub mod scenario;
