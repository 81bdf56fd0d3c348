//! Vega by input quote: a 30-day at-the-money BTC call's sensitivity to each quoted mid vol,
//! through the spline fit (the default model), and the quotes to hedge it with.
//!
//! ```text
//! cargo run --release --example quote_vega [DERIBIT_SNAPSHOT.csv]
//! ```
//! Without an argument it reads the 15 January 2026 snapshot of `../shared/data`.

use std::path::PathBuf;
use volfit::black::{OptionKind, black_greeks};
use volfit::fit::{FitOptions, fit_spline};
use volfit::quotes::{Format, read_chains};
use volfit::risk::greeks::Position;
use volfit::risk::quote_vega::{SensitivityOptions, SliceSensitivity, quote_vegas, top_quotes};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::SliceModel;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
                "../shared/data/deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv",
            )
        },
        PathBuf::from,
    );
    let (chains, _) = read_chains(&path, Format::Auto)?;
    let chain = chains
        .iter()
        .find(|c| c.underlying == "BTC")
        .ok_or("no BTC chain in the file")?;
    let (slices, _) = build_slices(chain, &SliceOptions::default());
    let target = 30.0 / 365.25;
    let slice = slices
        .iter()
        .filter(|s| s.points().len() >= 8)
        .min_by(|a, b| (a.t() - target).abs().total_cmp(&(b.t() - target).abs()))
        .ok_or("no BTC expiry with 8 quotes")?;
    let opts = FitOptions::default();
    let fit = fit_spline(slice, &opts)?;
    let model = SliceModel::Spline(fit.model);
    let sens = SliceSensitivity::new(slice, &opts, &model, &SensitivityOptions::default())?;
    let (f, t) = (slice.forward(), slice.t());
    let atm = Position {
        kind: OptionKind::Call,
        strike: f,
        t,
        quantity: 1.0,
    };
    let vegas = quote_vegas(&sens, &atm)?;
    let vol = sens.vol(0.0).ok_or("no ATM vol")?;
    let black = black_greeks(OptionKind::Call, f, f, t, vol).vega;
    let sum: f64 = vegas.iter().map(|q| q.vega).sum();
    println!(
        "{} expiry {} (t = {t:.4}, {} quotes, fit RMSE {:.2} vol pts), forward {f:.1}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        slice
            .expiry()
            .map_or("?".into(), |e| e.format("%Y-%m-%d").to_string()),
        slice.points().len(),
        100.0 * fit.report.rmse_iv,
    );
    println!(
        "ATM call: vol {:.2}%, Black vega {black:.1} USD per 1.00 vol; sum of quote vegas {sum:.1} ({:+.2}%)",
        100.0 * vol,
        100.0 * (sum / black - 1.0)
    );
    println!("top quotes to hedge with (vega per 1.00 of the quote's mid vol):");
    println!(
        "{:>10} {:>5} {:>8} {:>12} {:>7}",
        "strike", "kind", "line", "vega", "share"
    );
    for q in top_quotes(&vegas, 8) {
        println!(
            "{:>10.0} {:>5} {:>8} {:>12.2} {:>6.1}%",
            q.strike,
            format!("{:?}", q.kind).to_lowercase(),
            q.line.map_or("-".into(), |l| l.to_string()),
            q.vega,
            100.0 * q.vega / sum
        );
    }
    Ok(())
}
