//! Risk off the surface: greeks of positions under smile dynamics and books of positions.
//!
//! * [`greeks`] — price, delta, gamma, vega, theta, vanna and volga of an option read off any
//!   [`VolSurface`](crate::VolSurface) under a chosen smile dynamics (sticky strike, sticky
//!   moneyness, sticky delta), the bumped surfaces that define them, and inverse (coin-settled)
//!   greeks with Deribit's conventions.
//! * [`book`] — `BOOK.csv` (exchange instrument names or `kind, strike, expiry`, and
//!   `quantity`), its row-by-row rejections, and book greeks with vega by expiry.

pub mod book;
pub mod greeks;
