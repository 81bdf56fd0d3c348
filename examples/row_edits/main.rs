//! Single-row edits of every real chain: 200 seeded random edits per file (a field × 1000,
//! NaN, a date a day or a year late, a stray quote, a non-UTF-8 byte, a truncated row, …),
//! each run through the whole pipeline, and the table of the largest ATM vol move and how many
//! edits the run reported.
//!
//! ```sh
//! cargo run --release --example row_edits            # 200 edits per file
//! cargo run --release --example row_edits -- 1000    # more
//! ```
//!
//! Reads `../shared/data` (never copied here).

#[path = "harness.rs"]
mod harness;

use std::path::PathBuf;

#[path = "../common/chains.rs"]
mod chains;
use chains::CHAIN_FILES as FILES;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let verbose = std::env::var_os("VERBOSE").is_some();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    println!(
        "| file | edits | reported | no effect | refused | largest ATM move, non-ATM rows (vol points) | at | edits moving > 1 vol pt unreported | edits dropping an expiry (unreported) | ATM-row edits, largest move |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in FILES {
        let path = data.join(f);
        let (_, outcomes) = harness::run_edits(&path, n, 0x5eed);
        let reported = outcomes.iter().filter(|o| o.reported).count();
        let refused = outcomes.iter().filter(|o| o.error.is_some()).count();
        let no_effect = outcomes
            .iter()
            .filter(|o| !o.reported && o.error.is_none() && o.max_move < 1e-9)
            .count();
        let others: Vec<_> = outcomes.iter().filter(|o| !o.atm_row).collect();
        let worst = others
            .iter()
            .max_by(|a, b| a.max_move.total_cmp(&b.max_move));
        let bad = others
            .iter()
            .filter(|o| o.max_move > harness::TARGET && !o.reported)
            .count();
        let dropping = outcomes.iter().filter(|o| o.dropped > 0).count();
        let dropping_unreported = outcomes
            .iter()
            .filter(|o| o.dropped > 0 && !o.reported)
            .count();
        let atm: Vec<_> = outcomes.iter().filter(|o| o.atm_row).collect();
        let atm_worst = atm.iter().map(|o| o.max_move).fold(0.0, f64::max);
        let name = f.rsplit('/').next().unwrap_or(f);
        println!(
            "| {name} | {} | {reported} | {no_effect} | {refused} | {:.3} | {} | {bad} | {dropping} ({dropping_unreported}) | {} / {:.3} |",
            outcomes.len(),
            worst.map_or(0.0, |o| o.max_move * 100.0),
            worst.map_or_else(String::new, |o| format!(
                "line {}: {}{}",
                o.line,
                o.edit,
                o.at.as_ref()
                    .map_or(String::new(), |(u, t)| format!(" ({u} t={t:.4})"))
            )),
            atm.len(),
            atm_worst * 100.0
        );
        if verbose {
            for o in &outcomes {
                if o.max_move > harness::TARGET || o.error.is_some() || o.dropped > 0 {
                    println!(
                        "    line {} {}: move {:.4} dropped {} reported {} atm {} {:?}",
                        o.line, o.edit, o.max_move, o.dropped, o.reported, o.atm_row, o.error
                    );
                }
            }
        }
    }
}
