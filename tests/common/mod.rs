//! Tolerances and paths shared by the tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Machine epsilon.
pub const EPS: f64 = f64::EPSILON;
/// Special functions against 60-digit values: a few ulps.
pub const TOL_SPECIAL: f64 = 4.0 * EPS;
/// Normalised Black function against 60-digit values (relative).
pub const TOL_NORMALISED_BLACK: f64 = 16.0 * EPS;
/// Round-trip implied volatility, relative, in units of `ε·max(1, cond)` where
/// `cond = |∂ln σ/∂ln P|` is the conditioning of the inversion.
pub const TOL_IV_CONDITIONED: f64 = 8.0;
/// The absolute target for the relative round-trip error where the inversion is
/// well conditioned.
pub const TOL_IV_TARGET: f64 = 1e-13;
/// Greeks against central finite differences (relative).
pub const TOL_GREEKS_FD: f64 = 1e-6;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/reference/<name>`.
pub fn shared_reference(name: &str) -> PathBuf {
    root().join("../shared/reference").join(name)
}

/// `../shared/data/<name>`.
pub fn shared_data(name: &str) -> PathBuf {
    root().join("../shared/data").join(name)
}

/// `tests/reference/<name>`.
pub fn local_reference(name: &str) -> PathBuf {
    root().join("tests/reference").join(name)
}

/// Relative difference `|a/b − 1|` (absolute when `b == 0`).
pub fn rel(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a.abs()
    } else {
        (a / b - 1.0).abs()
    }
}

/// Reads a small CSV with a header into rows of strings.
pub fn read_csv(path: &PathBuf) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| {
            rec.expect("csv record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[path = "../../examples/common/chains.rs"]
mod chains;
pub use chains::CHAIN_FILES;

/// The first `n` quotes of a chain read from a Deribit snapshot, as rows of the API's JSON
/// (`get_book_summary_by_currency`: `mark_iv` in percent, `underlying_price`,
/// `creation_timestamp` in ms).
pub fn deribit_json_rows(chain: &volfit::quotes::Chain, n: usize) -> Vec<serde_json::Value> {
    let ms = chain.as_of.unwrap().timestamp_millis();
    chain
        .quotes
        .iter()
        .take(n)
        .map(|q| {
            serde_json::json!({
                "instrument_name": q.symbol,
                "underlying_price": q.forward,
                "bid_price": q.bid,
                "ask_price": q.ask,
                "mark_price": q.mark,
                "mark_iv": q.mark_iv.map(|v| v * 100.0),
                "creation_timestamp": ms,
                "base_currency": chain.underlying,
            })
        })
        .collect()
}
