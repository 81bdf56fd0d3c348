//! Prices European options off a surface calibrated to a real Deribit snapshot: a strip of
//! calls, a digital (whose price needs the skew), and deltas under sticky-strike and
//! sticky-moneyness dynamics.
//!
//! ```sh
//! cargo run --release --example price_with_surface [CHAIN.csv] [UNDERLYING]
//! ```
//! (default: `../shared/data/deribit/deribit_options_snapshot_20260215T153420Z.csv` when
//! present, else `data/sample_chain.csv`; BTC).

use volfit::black::special::{norm_cdf, norm_pdf};
use volfit::black::{OptionKind, black_greeks};
use volfit::quotes::{Format, read_chain_for};
use volfit::surface::{SurfaceOptions, VolSurface, calibrate_surface};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let shared =
            root.join("../shared/data/deribit/deribit_options_snapshot_20260215T153420Z.csv");
        let p = if shared.exists() {
            shared
        } else {
            root.join("data/sample_chain.csv")
        };
        p.display().to_string()
    });
    let underlying = args.next().unwrap_or_else(|| "BTC".into());
    let (chain, ingest) = read_chain_for(&path, Format::Auto, &underlying)?;
    let (surface, report) = calibrate_surface(&chain, &SurfaceOptions::default())?;
    println!(
        "{underlying}: {} rows, {} expiries fitted in {:.1} ms, calendar-free: {}",
        ingest.rows,
        surface.slices().len(),
        report.timing_micros.total / 1e3,
        report.calendar.calendar_free
    );
    // Any pricer takes the surface as a trait object.
    price(&surface, 0.25);
    // Where a query sits against the quotes: inside, or extrapolated (and which way).
    println!();
    let last = surface.slices()[surface.slices().len() - 1].t;
    for (m, t) in [(1.0, 0.25), (3.0, 0.25), (1.0, 2.0 * last)] {
        let k = surface.forward(t) * m;
        if let Some(at) = surface.location(k, t) {
            println!("K = {k:.0}, t = {t:.3}: {at}");
        }
    }
    Ok(())
}

/// Prices at expiry `t` (years) off any surface.
fn price(s: &dyn VolSurface, t: f64) {
    let f = s.forward(t);
    let df = s.discount(t).unwrap_or(1.0);
    println!("\nT = {t} y, forward {f:.2}, discount {df:.6}");
    println!(
        "{:>10} {:>8} {:>9} {:>12} {:>10} {:>11} {:>11} {:>10}",
        "strike",
        "vol",
        "local vol",
        "call (USD)",
        "call (coin)",
        "digital",
        "Φ(d2) only",
        "density"
    );
    for m in [0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3] {
        let k = f * m;
        let vol = s.vol(k, t);
        let call = s.price(OptionKind::Call, k, t);
        // Digital call = −∂C/∂K with the vol's strike dependence: Φ(d₂) − vega·∂σ/∂K.
        let kk = (k / f).ln();
        let d = s.variance_derivatives(kk, t);
        let sw = d.w.sqrt();
        let d2 = -kk / sw - 0.5 * sw;
        let digital = norm_cdf(d2) - norm_pdf(d2) * d.w_k / (2.0 * sw);
        println!(
            "{k:>10.1} {vol:>8.4} {:>9.4} {:>12.2} {:>10.5} {:>11.5} {:>11.5} {:>10.3e}",
            s.local_vol(k, t).unwrap_or(f64::NAN),
            call * df,
            call / f, // inverse option: premium in coin = forward-currency premium / F
            digital * df,
            norm_cdf(d2) * df,
            s.density(k, t),
        );
    }
    // Deltas of a 25%-OTM put and call: sticky strike (σ(K) fixed as F moves) vs sticky
    // moneyness (σ moves with K/F: ∂σ/∂F = −σ_k/F, σ_k = w_k/(2σT)).
    println!(
        "\n{:>10} {:>6} {:>14} {:>17}",
        "strike", "kind", "sticky-strike Δ", "sticky-moneyness Δ"
    );
    for (m, kind) in [
        (0.75, OptionKind::Put),
        (1.0, OptionKind::Call),
        (1.25, OptionKind::Call),
    ] {
        let k = f * m;
        let vol = s.vol(k, t);
        let g = black_greeks(kind, f, k, t, vol);
        let d = s.variance_derivatives((k / f).ln(), t);
        let sigma_k = d.w_k / (2.0 * vol * t);
        let delta_moneyness = g.delta + g.vega * (-sigma_k / f);
        let name = if kind == OptionKind::Call {
            "call"
        } else {
            "put"
        };
        println!(
            "{k:>10.1} {name:>6} {:>14.5} {:>17.5}",
            g.delta * df,
            delta_moneyness * df
        );
    }
}
