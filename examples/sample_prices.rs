//! Writes `data/sample_prices.csv`: undiscounted call and put prices on a BTC-like forward from
//! a known smile, the input of `volfit iv` in the README.
//!
//! `cargo run --release --example sample_prices`

use std::fmt::Write as _;
use volfit::{OptionKind, black_price};

fn main() -> std::io::Result<()> {
    let forward = 95_000.0;
    let mut out = String::from("kind,price,forward,strike,t,true_vol\n");
    for &t in &[7.0 / 365.0, 30.0 / 365.0, 91.0 / 365.0, 182.0 / 365.0] {
        for i in -8..=8 {
            let k = 0.06 * f64::from(i) * (t * 12.0f64).sqrt();
            let strike = (forward * f64::exp(k) / 1000.0).round() * 1000.0;
            let k = (strike / forward).ln();
            // A skewed smile: σ(k) = 0.55 − 0.08·k + 0.25·k² (annualised), flattening with T.
            let vol = 0.55 - 0.08 * k / t.sqrt().max(0.3) + 0.25 * k * k;
            let kind = OptionKind::otm(forward, strike);
            let price = black_price(kind, forward, strike, t, vol);
            writeln!(out, "{kind},{price},{forward},{strike},{t},{vol}").unwrap();
        }
    }
    std::fs::create_dir_all("data")?;
    // Whole or not at all, as every file the CLI writes.
    volfit::output::write_atomic(
        std::path::Path::new("data/sample_prices.csv"),
        out.as_bytes(),
    )?;
    eprintln!("wrote data/sample_prices.csv");
    Ok(())
}
