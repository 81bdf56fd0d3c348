//! The snapshot series of `../shared/data/deribit_series/`, shared by the examples that replay it.

use std::path::{Path, PathBuf};

/// The `.csv` snapshots of `dir`, in name (= time) order; panics naming `dir` if it cannot be
/// read (an example's input is missing).
pub fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    files
}
