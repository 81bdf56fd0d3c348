//! `volfit::risk`: delta space against the published FX smiles, greeks under every smile
//! dynamics against full revaluation on a calibrated January surface, and Deribit's delta and
//! vega columns.

pub mod book;
mod delta;
mod deribit;
mod explain;
pub mod greeks;
mod quote_vega;
mod scenario;
