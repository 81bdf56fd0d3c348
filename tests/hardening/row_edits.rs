//! Single-row edits of real chains through the whole pipeline (read → slices → SVI surface
//! with calendar repair): an edit that moves any expiry's ATM vol by more than one vol point,
//! or drops an expiry, must be reported (the row rejected with its line, or the file refused
//! with an error naming it), unless the edited row is that expiry's ATM quote itself.
//!
//! The same harness makes the README's table: `cargo run --release --example row_edits`.
//! `VOLFIT_ROW_EDITS` sets the edits per file (default 16 here).

#[path = "../../examples/row_edits/harness.rs"]
mod harness;

use crate::common::shared_data;

fn edits() -> usize {
    std::env::var("VOLFIT_ROW_EDITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

#[test]
fn no_single_row_edit_moves_a_surface_unreported() {
    for (i, name) in [
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_api_book_20200521.csv",
        "spx_cboe_2011/SPX-Options-24jan2011.csv",
        "spx_gatheral/spx_optionmetrics_20050915.csv",
        "spx_gatheral/spx_ivols_20050915.csv",
    ]
    .into_iter()
    .enumerate()
    {
        // A seed of its own per file and per run size, unlike the example's.
        let (_, outcomes) = harness::run_edits(&shared_data(name), edits(), 0xed17 + i as u64);
        assert_eq!(outcomes.len(), edits());
        for o in &outcomes {
            let what = format!("{name} line {}: {} -> {:?}", o.line, o.edit, o.error);
            assert!(
                !o.error.as_deref().is_some_and(|e| e.starts_with("PANIC")),
                "{what}"
            );
            assert!(
                o.error.is_none() || o.reported,
                "refused without naming the line: {what}"
            );
            if !o.atm_row {
                assert!(
                    o.reported || o.max_move <= harness::TARGET,
                    "unreported move of {:.2} vol points: {what}",
                    o.max_move * 100.0
                );
            }
            assert!(
                o.reported || o.dropped == 0,
                "unreported dropped expiry: {what}"
            );
        }
    }
}
