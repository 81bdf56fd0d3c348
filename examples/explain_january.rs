//! P&L explain on the January 2026 Deribit series: how much of a book's P&L between
//! consecutive snapshots (about 6 hours apart) the Taylor terms explain.
//!
//! ```text
//! cargo run --release --example explain_january [-- DIR]
//! ```
//!
//! For BTC and ETH, the book of each consecutive pair of `../shared/data/deribit_series/2026-01/`
//! is +1 of every option listed in both snapshots. Both snapshots are calibrated with the
//! default options; per pair it computes, under sticky strike and sticky moneyness, the R²
//! of Σ Taylor terms against the actual P&L (change of Deribit marks, in USD = coin × forward)
//! and against the full revaluation on the second surface, and the unexplained fractions, and
//! prints their distribution over the month with the worst pairs and what drove them.

#[path = "common/series.rs"]
mod series;
use rayon::prelude::*;
use series::snapshots;
use std::collections::HashSet;
use std::path::PathBuf;
use volfit::quotes::{Chain, Format, read_chain_for};
use volfit::risk::explain::{BookPosition, Explain, Snapshot, explain_book};
use volfit::risk::greeks::Dynamics;
use volfit::surface::{FittedSurface, SurfaceOptions, calibrate_surface};

/// +1 of every option of `b` also listed in `a`.
fn book(a: &Chain, b: &Chain) -> Vec<BookPosition> {
    let in_a: HashSet<&str> = a.quotes.iter().map(|q| q.symbol.as_str()).collect();
    let mut seen = HashSet::new();
    b.quotes
        .iter()
        .filter(|q| in_a.contains(q.symbol.as_str()) && seen.insert(q.symbol.as_str()))
        .map(|q| BookPosition {
            instrument: q.symbol.clone(),
            kind: q.kind,
            strike: q.strike,
            expiry: q.expiry,
            quantity: 1.0,
        })
        .collect()
}

fn quantile(v: &[f64], p: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    s[i]
}

fn dist(name: &str, v: &[f64]) {
    println!(
        "    {name:<38} p10 {:>8.4}  median {:>8.4}  p90 {:>8.4}",
        quantile(v, 0.1),
        quantile(v, 0.5),
        quantile(v, 0.9)
    );
}

struct Pair {
    label: String,
    e: Explain,
    spot_move: f64,
}

fn why(p: &Pair) -> String {
    let t = &p.e.totals;
    let worst =
        p.e.positions
            .iter()
            .max_by(|a, b| a.unexplained.abs().total_cmp(&b.unexplained.abs()));
    let w = worst.map_or(String::new(), |w| {
        format!(
            "; worst {} unexplained {:+.0} of actual {:+.0} (full reval {:+.0}, ΔF {:+.0}, Δσ {:+.4}, {}→{})",
            w.instrument,
            w.unexplained,
            w.actual,
            w.full_reval,
            w.moves.forward_b - w.moves.forward_a,
            w.moves.d_vol,
            format!("{:?}", w.source_a).to_lowercase(),
            format!("{:?}", w.source_b).to_lowercase(),
        )
    });
    format!(
        "spot {:+.2}%, book actual {:+.0} USD, Σterms {:+.0}, full reval {:+.0}{w}",
        100.0 * p.spot_move,
        t.actual,
        t.terms().sum(),
        t.full_reval
    )
}

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/deribit_series/2026-01"),
        PathBuf::from,
    );
    let files = snapshots(&dir);
    let opts = SurfaceOptions::default();
    for und in ["BTC", "ETH"] {
        let snaps: Vec<Option<(Chain, FittedSurface)>> = files
            .par_iter()
            .map(|f| {
                let (chain, _) = read_chain_for(f, Format::Deribit, und).ok()?;
                let (s, _) = calibrate_surface(&chain, &opts).ok()?;
                Some((chain, s))
            })
            .collect();
        let failed = snaps.iter().filter(|s| s.is_none()).count();
        println!(
            "\n{und}: {} snapshots, {failed} without a surface; book = +1 of every option listed in both snapshots of a pair",
            snaps.len()
        );
        for dynamics in [Dynamics::StickyStrike, Dynamics::StickyMoneyness] {
            let pairs: Vec<Pair> = snaps
                .par_windows(2)
                .filter_map(|w| {
                    let (ca, sa) = w[0].as_ref()?;
                    let (cb, sb) = w[1].as_ref()?;
                    let e = explain_book(
                        &Snapshot {
                            surface: sa,
                            chain: ca,
                        },
                        &Snapshot {
                            surface: sb,
                            chain: cb,
                        },
                        &book(ca, cb),
                        dynamics,
                    );
                    let spot_move = match (ca.spot, cb.spot) {
                        (Some(a), Some(b)) => b / a - 1.0,
                        _ => f64::NAN,
                    };
                    let label = format!(
                        "{} → {}",
                        sa.as_of()
                            .map_or("?".into(), |t| t.format("%m-%d %H:%M").to_string()),
                        sb.as_of()
                            .map_or("?".into(), |t| t.format("%m-%d %H:%M").to_string())
                    );
                    Some(Pair {
                        label,
                        e,
                        spot_move,
                    })
                })
                .collect();
            let npos: usize = pairs.iter().map(|p| p.e.positions.len()).sum();
            let marked: usize = pairs.iter().map(|p| p.e.summary.marked_both).sum();
            let skipped: usize = pairs.iter().map(|p| p.e.skipped.len()).sum();
            println!(
                "  {} — {} pairs, {npos} positions ({marked} marked at both ends, {skipped} skipped)",
                dynamics.name(),
                pairs.len()
            );
            let col = |f: &dyn Fn(&Explain) -> Option<f64>| -> Vec<f64> {
                pairs.iter().map(|p| f(&p.e).unwrap_or(f64::NAN)).collect()
            };
            dist(
                "R² Σterms vs actual (marks)",
                &col(&|e| e.summary.terms_vs_actual.r2),
            );
            dist(
                "unexplained Σ|u|/Σ|actual|",
                &col(&|e| e.summary.terms_vs_actual.unexplained_fraction),
            );
            dist(
                "book |Σu|/|Σactual|",
                &col(&|e| e.summary.terms_vs_actual.book_unexplained_fraction),
            );
            dist(
                "R² Σterms vs full reval",
                &col(&|e| e.summary.terms_vs_full_reval.r2),
            );
            dist(
                "unexplained vs full reval Σ|r|/Σ|reval|",
                &col(&|e| e.summary.terms_vs_full_reval.unexplained_fraction),
            );
            dist(
                "book vs full reval",
                &col(&|e| e.summary.terms_vs_full_reval.book_unexplained_fraction),
            );
            dist(
                "R² full reval vs actual",
                &col(&|e| e.summary.full_reval_vs_actual.r2),
            );
            dist(
                "|spot move| %",
                &pairs
                    .iter()
                    .map(|p| 100.0 * p.spot_move.abs())
                    .collect::<Vec<_>>(),
            );
            let mut by_r2: Vec<&Pair> = pairs.iter().collect();
            by_r2.sort_by(|a, b| {
                let r = |p: &Pair| p.e.summary.terms_vs_actual.r2.unwrap_or(f64::NEG_INFINITY);
                r(a).total_cmp(&r(b))
            });
            println!("    worst pairs (R² vs marks):");
            for p in by_r2.iter().take(3) {
                println!(
                    "      {}: R² {:.4} (vs full reval {:.4}): {}",
                    p.label,
                    p.e.summary.terms_vs_actual.r2.unwrap_or(f64::NAN),
                    p.e.summary.terms_vs_full_reval.r2.unwrap_or(f64::NAN),
                    why(p)
                );
            }
            let mut by_reval: Vec<&Pair> = pairs.iter().collect();
            by_reval.sort_by(|a, b| {
                let r = |p: &Pair| {
                    p.e.summary
                        .terms_vs_full_reval
                        .r2
                        .unwrap_or(f64::NEG_INFINITY)
                };
                r(a).total_cmp(&r(b))
            });
            println!("    worst pairs (R² vs full reval):");
            for p in by_reval.iter().take(2) {
                println!(
                    "      {}: R² {:.4}: {}",
                    p.label,
                    p.e.summary.terms_vs_full_reval.r2.unwrap_or(f64::NAN),
                    why(p)
                );
            }
        }
    }
}
