//! `volfit::risk`: delta space against the published FX smiles, greeks under every smile
//! dynamics against full revaluation on a calibrated January surface, and Deribit's delta and
//! vega columns.

mod book;
mod delta;
mod deribit;
mod explain;
mod greeks;
mod scenario;
