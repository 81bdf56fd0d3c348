//! Delta space: the FX smiles of Reiswich & Wystup (2010) and Castagna & Mercurio (2007)
//! rebuilt from the broker quotes in `../shared/reference`, published numbers beside volfit's.
//!
//! `cargo run --release --example delta_space`

#[path = "common/fx_reference.rs"]
mod fx_reference;

use std::path::PathBuf;

use volfit::OptionKind;
use volfit::risk::delta::{AtmConvention, DeltaConvention};

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(name)
}

fn main() {
    for p in fx_reference::read_rw(&reference("reiswich_wystup_2010_fx_smile_example.csv")) {
        println!(
            "{} 1M, {:?} delta, τ = {:.6}, f = {:.6}",
            p.pair,
            p.convention,
            p.market.tau(),
            p.market.forward()
        );
        println!(
            "  {:<18} {:>12} {:>14} {:>10}",
            "quantity", "published", "volfit", "printed?"
        );
        for (k, published, ours, dp) in p.reproduction() {
            let same = format!("{ours:.dp$}") == format!("{published:.dp$}");
            println!(
                "  {k:<18} {published:>12.dp$} {ours:>14.8} {:>10}",
                if same { "yes" } else { "NO" }
            );
        }
        let pa = AtmConvention::DeltaNeutral {
            premium_adjusted: true,
        };
        if p.convention.is_premium_adjusted() {
            println!(
                "  (premium-adjusted delta-neutral ATM would be K = {:.4}; the paper prints the plain one)",
                p.market.atm_strike(pa, p.quotes.atm_vol).unwrap()
            );
        }
    }
    let cm = fx_reference::read_cm(&reference("castagna_mercurio_2007_eurusd_vanna_volga.csv"));
    println!(
        "\nCastagna–Mercurio EURUSD 3M, vanna–volga first order (τ = {:.6}, f = {:.6})",
        cm.market.tau(),
        cm.market.forward()
    );
    for (k, v) in cm.pillars {
        println!("  pillar K = {k:.4}: market {v:.5}, VV {:.5}", cm.vv(k));
    }
    for conv in [DeltaConvention::Spot, DeltaConvention::Forward] {
        let (kp, vp) = cm.wing(conv, OptionKind::Put, -0.1);
        let (kc, vc) = cm.wing(conv, OptionKind::Call, 0.1);
        println!(
            "  {conv:?} 10Δ put  K = {kp:.4}: VV {vp:.5} vs market {:.5} ({:+.2} bp vol)",
            cm.vol_10p,
            (vp - cm.vol_10p) * 1e4
        );
        println!(
            "  {conv:?} 10Δ call K = {kc:.4}: VV {vc:.5} vs market {:.5} ({:+.2} bp vol)",
            cm.vol_10c,
            (vc - cm.vol_10c) * 1e4
        );
        let atm = AtmConvention::DeltaNeutral {
            premium_adjusted: false,
        };
        let q = |d: f64, kind| {
            cm.market
                .strike_from_delta(
                    conv,
                    kind,
                    d,
                    if d > 0.0 {
                        cm.pillars[2].1
                    } else {
                        cm.pillars[0].1
                    },
                )
                .unwrap()
        };
        println!(
            "  {conv:?} pillar strikes from the deltas: K_25P = {:.4}, K_ATM = {:.4}, K_25C = {:.4}",
            q(-0.25, OptionKind::Put),
            cm.market.atm_strike(atm, cm.pillars[1].1).unwrap(),
            q(0.25, OptionKind::Call)
        );
    }
}
