//! Risk off the surface (issue 18): greeks of positions under smile dynamics, shocked
//! surfaces, scenarios, P&L explain, and delta space.
//!
//! * [`delta`] — FX delta space (Reiswich & Wystup 2010; Clark 2011, ch. 3): the spot /
//!   forward, plain / premium-adjusted delta conventions and their strikes, ATM conventions,
//!   vols at a delta off a smile or a surface, 25Δ/10Δ risk reversals and butterflies, the
//!   smile from broker quotes (ATM, risk reversal, market strangle) and the vanna–volga
//!   first-order smile of Castagna & Mercurio (2007).

pub mod delta;
