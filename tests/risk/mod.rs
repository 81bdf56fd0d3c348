//! Risk off the surface: greeks under every smile dynamics against full revaluation on a
//! calibrated January surface and Deribit's delta and vega columns.

mod deribit;
mod greeks;
