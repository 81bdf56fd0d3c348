//! Issue 14's hardening checks on the real chains: mutation fuzzing of every reader and of
//! `surface.json`, and single-row edits through the whole pipeline.
mod mutations;
mod outliers;
mod regressions;
mod row_edits;
