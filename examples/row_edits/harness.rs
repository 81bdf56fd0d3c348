//! Single-row edits of real chains: edit one data row of a file, run the whole pipeline
//! (read → slices → SVI surface with calendar repair), and measure how far every expiry's ATM
//! vol moved and whether the run reported the edited line.
//!
//! Shared by `examples/row_edits` (the table, 200 edits per chain) and the test
//! `tests/hardening/row_edits.rs` (fewer edits, asserting the target: no single-row edit moves
//! an expiry's ATM vol by more than one vol point unless the row is that expiry's ATM quote).

#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::Path;
use volfit::quotes::{Format, read_chains_from_bytes};
use volfit::slice::build_slices;
use volfit::surface::{RunReport, SurfaceOptions, VolSurface, calibrate_surface};

/// Largest ATM move allowed for an edit of a row that is not the ATM quote (one vol point).
pub const TARGET: f64 = 0.01;

/// One expiry of the unedited run: where its ATM vol is read.
#[derive(Debug, Clone)]
pub struct AtmPoint {
    /// Underlying.
    pub underlying: String,
    /// Expiry date (when the reader gives one).
    pub expiry: Option<chrono::DateTime<chrono::Utc>>,
    /// Time to expiry.
    pub t: f64,
    /// Forward (the ATM strike).
    pub forward: f64,
    /// ATM vol of the unedited surface.
    pub vol: f64,
}

/// The unedited file's run.
pub struct Baseline {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Byte ranges of its data lines (1-based line number, start, end without the line end).
    pub lines: Vec<(u64, usize, usize)>,
    /// ATM vol per expiry per underlying.
    pub atm: Vec<AtmPoint>,
    /// Lines of the quotes nearest the money in each expiry (the "ATM quote itself").
    pub atm_lines: BTreeSet<u64>,
}

/// What one edit did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The edit, in words.
    pub edit: String,
    /// The edited line.
    pub line: u64,
    /// The line is an ATM quote of the unedited run.
    pub atm_row: bool,
    /// Largest |ΔATM vol| over the baseline expiries (∞ when an underlying vanished without an
    /// error).
    pub max_move: f64,
    /// Where (underlying, t) the largest move was.
    pub at: Option<(String, f64)>,
    /// Baseline expiries the edited run has no slice for (moves are measured on the others).
    pub dropped: usize,
    /// The run names the edited line (rejected row, outlier, disagreement) or refused the file
    /// with an error naming it.
    pub reported: bool,
    /// The run refused the file (error text).
    pub error: Option<String>,
}

fn options() -> SurfaceOptions {
    SurfaceOptions {
        parallel: false,
        ..SurfaceOptions::default()
    }
}

/// One calibrated chain: underlying, surface, run report, and the errors of the file's chains
/// that did not calibrate (on the first run only).
type Run = (
    String,
    volfit::surface::FittedSurface,
    RunReport,
    Option<String>,
);

/// One pipeline run over a file's bytes: run reports and surfaces per underlying.
fn pipeline(bytes: &[u8], path: &Path) -> Result<Vec<Run>, String> {
    let (chains, ingest) =
        read_chains_from_bytes(bytes, path, Format::Auto).map_err(|e| e.to_string())?;
    // As `volfit calibrate` does: a chain that cannot be calibrated is an error of its own and
    // the others go on; the file is refused only when no chain calibrates.
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for chain in &chains {
        match calibrate_surface(chain, &options()) {
            Ok((surface, report)) => {
                let run = RunReport::new(
                    &path.display().to_string(),
                    &ingest,
                    chain,
                    &report,
                    0.0,
                    0.0,
                );
                out.push((chain.underlying.clone(), surface, run, None));
            }
            Err(e) => errors.push(format!("{}: {e}", chain.underlying)),
        }
    }
    if out.is_empty() {
        return Err(errors.join("; "));
    }
    if let Some(first) = out.first_mut() {
        first.3 = (!errors.is_empty()).then(|| errors.join("; "));
    }
    Ok(out)
}

/// The data lines of a file: every non-empty line after its header lines.
fn data_lines(bytes: &[u8], header_lines: u64) -> Vec<(u64, usize, usize)> {
    let mut out = Vec::new();
    let (mut line, mut start) = (1u64, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            let end = if i > start && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            if line > header_lines && end > start {
                out.push((line, start, end));
            }
            line += 1;
            start = i + 1;
        }
    }
    if start < bytes.len() && line > header_lines {
        out.push((line, start, bytes.len()));
    }
    out
}

/// Runs the unedited file.
///
/// # Panics
/// When the unedited file does not calibrate (the real files all do).
pub fn baseline(path: &Path) -> Baseline {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header_lines = if bytes.starts_with(b"SPX (") { 3 } else { 1 };
    let runs = pipeline(&bytes, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Some(e) = runs.iter().find_map(|r| r.3.as_ref()) {
        panic!("{}: {e}", path.display());
    }
    let (chains, _) = read_chains_from_bytes(&bytes, path, Format::Auto).expect("read");
    let mut atm = Vec::new();
    let mut atm_lines = BTreeSet::new();
    for ((underlying, surface, _, _), chain) in runs.iter().zip(&chains) {
        let (slices, _) = build_slices(chain, &options().slices);
        for s in &slices {
            // The quotes either side of the forward.
            let below = s
                .points()
                .iter()
                .filter(|p| p.k() <= 0.0)
                .max_by(|a, b| a.k().total_cmp(&b.k()));
            let above = s
                .points()
                .iter()
                .filter(|p| p.k() > 0.0)
                .min_by(|a, b| a.k().total_cmp(&b.k()));
            atm_lines.extend(
                below
                    .into_iter()
                    .chain(above)
                    .filter_map(volfit::slice::SmilePoint::line),
            );
        }
        for sl in surface.slices() {
            atm.push(AtmPoint {
                underlying: underlying.clone(),
                expiry: sl.expiry,
                t: sl.t,
                forward: sl.forward,
                vol: surface.vol(sl.forward, sl.t),
            });
        }
    }
    Baseline {
        lines: data_lines(&bytes, header_lines),
        bytes,
        atm,
        atm_lines,
    }
}

/// Splits a CSV line into fields (quotes kept as they are), with their byte ranges.
fn fields(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0usize, false);
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, line.len()));
    out
}

/// A date in one of the files' layouts, shifted by `days`.
fn shift_date(raw: &str, days: i64) -> Option<String> {
    use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime};
    let d = Duration::days(days);
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some((t + d).to_rfc3339());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, fmt) {
            return Some((t + d).format(fmt).to_string());
        }
    }
    if raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let t = NaiveDate::parse_from_str(raw, "%Y%m%d").ok()?;
        return Some((t + d).format("%Y%m%d").to_string());
    }
    if raw.len() == 13 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = raw.parse().ok()?;
        return Some((ms + days * 86_400_000).to_string());
    }
    None
}

/// Applies one random edit to one random data line: returns the edited bytes, the line and
/// the edit in words.
pub fn edit(base: &Baseline, rng: &mut StdRng) -> (Vec<u8>, u64, String) {
    let &(line, start, end) = &base.lines[rng.random_range(0..base.lines.len())];
    let row = &base.bytes[start..end];
    let fs = fields(row);
    let f = rng.random_range(0..fs.len());
    let (a, b) = fs[f];
    let raw = String::from_utf8_lossy(&row[a..b]).to_string();
    let value: Option<f64> = raw
        .trim()
        .trim_matches('"')
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite());
    let mut new_row: Vec<u8>;
    let what: String;
    let replace = |with: &[u8]| {
        let mut r = row[..a].to_vec();
        r.extend_from_slice(with);
        r.extend_from_slice(&row[b..]);
        r
    };
    let choice = rng.random_range(0..14);
    match (choice, value) {
        (0..=2, Some(v)) => {
            let factor = [1000.0, 100.0, 0.001][choice];
            new_row = replace(format!("{}", v * factor).as_bytes());
            what = format!("field {f} × {factor}");
        }
        (3, _) => {
            new_row = replace(b"NaN");
            what = format!("field {f} = NaN");
        }
        (4, _) => {
            new_row = replace(b"inf");
            what = format!("field {f} = inf");
        }
        (5, Some(v)) => {
            new_row = replace(format!("{}", -v).as_bytes());
            what = format!("field {f} negated");
        }
        (6, _) => {
            new_row = replace(b"1e300");
            what = format!("field {f} = 1e300");
        }
        (7, _) => {
            new_row = replace(b"");
            what = format!("field {f} emptied");
        }
        (8 | 9, _) => {
            let days = if choice == 8 { 1 } else { 365 };
            if let Some(s) = shift_date(raw.trim().trim_matches('"'), days) {
                new_row = replace(s.as_bytes());
                what = format!("field {f} date + {days} days");
            } else {
                new_row = replace(format!("\"{raw}").as_bytes());
                what = format!("field {f} opens a quote");
            }
        }
        (10, _) => {
            new_row = replace(format!("\"{raw}").as_bytes());
            what = format!("field {f} opens a quote");
        }
        (11, _) => {
            let mut s = raw.clone();
            let at = rng.random_range(0..=s.len());
            let at = (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            s.insert(at, 'é');
            new_row = replace(s.as_bytes());
            what = format!("field {f} gets a multibyte character");
        }
        (12, _) => {
            new_row = row.to_vec();
            let at = rng.random_range(0..new_row.len().max(1));
            if let Some(byte) = new_row.get_mut(at) {
                *byte = rng.random_range(0x80..=0xff);
            }
            what = format!("byte {at} made non-UTF-8");
        }
        (13, _) => {
            new_row = row[..rng.random_range(0..row.len().max(1))].to_vec();
            what = "row truncated".to_string();
        }
        _ => {
            // A non-numeric field for a numeric edit: swap it with the next field.
            let g = (f + 1) % fs.len();
            let (c, d) = fs[g];
            let (lo, hi) = if f < g {
                ((a, b), (c, d))
            } else {
                ((c, d), (a, b))
            };
            new_row = row[..lo.0].to_vec();
            new_row.extend_from_slice(&row[hi.0..hi.1]);
            new_row.extend_from_slice(&row[lo.1..hi.0]);
            new_row.extend_from_slice(&row[lo.0..lo.1]);
            new_row.extend_from_slice(&row[hi.1..]);
            what = format!("fields {f} and {g} swapped");
        }
    }
    let mut bytes = base.bytes[..start].to_vec();
    bytes.extend_from_slice(&new_row);
    bytes.extend_from_slice(&base.bytes[end..]);
    (bytes, line, what)
}

/// Whether an error text names `line` ("line 59" but not "line 590"; "lines 3, 59" too).
fn names(text: &str, line: u64) -> bool {
    let n = line.to_string();
    text.match_indices(&n).any(|(i, _)| {
        let before = text[..i].trim_end_matches([' ', ',']);
        let after = text[i + n.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_digit())
            && !text[..i].ends_with(|c: char| c.is_ascii_digit())
            && (before.ends_with("line")
                || before.ends_with("lines")
                || before.ends_with(|c: char| c.is_ascii_digit()))
    })
}

/// Runs one edited file against its baseline.
pub fn outcome(base: &Baseline, path: &Path, bytes: &[u8], line: u64, edit: String) -> Outcome {
    let atm_row = base.atm_lines.contains(&line);
    match pipeline(bytes, path) {
        Err(e) => Outcome {
            reported: names(&e, line),
            error: Some(e),
            edit,
            line,
            atm_row,
            max_move: 0.0,
            at: None,
            dropped: 0,
        },
        Ok(runs) => {
            let reported = runs.iter().any(|(_, _, r, e)| {
                r.names_line(line) || e.as_ref().is_some_and(|e| names(e, line))
            });
            let mut max_move = 0.0f64;
            let mut at = None;
            let mut dropped = 0;
            for p in &base.atm {
                let moved = match runs.iter().find(|(u, _, _, _)| *u == p.underlying) {
                    Some((_, s, _, _)) => {
                        let kept = s.slices().iter().any(|sl| match (sl.expiry, p.expiry) {
                            (Some(a), Some(b)) => a == b,
                            _ => (sl.t - p.t).abs() <= 1e-12 * p.t.max(1.0),
                        });
                        if !kept {
                            dropped += 1;
                            continue;
                        }
                        (s.vol(p.forward, p.t) - p.vol).abs()
                    }
                    None => f64::INFINITY,
                };
                let moved = if moved.is_nan() { f64::INFINITY } else { moved };
                if moved > max_move {
                    max_move = moved;
                    at = Some((p.underlying.clone(), p.t));
                }
            }
            Outcome {
                edit,
                line,
                atm_row,
                max_move,
                at,
                dropped,
                reported,
                error: None,
            }
        }
    }
}

/// `n` seeded random edits of one file, run in parallel.
pub fn run_edits(path: &Path, n: usize, seed: u64) -> (Baseline, Vec<Outcome>) {
    use rayon::prelude::*;
    let base = baseline(path);
    let outcomes = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
            let (bytes, line, what) = edit(&base, &mut rng);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                outcome(&base, path, &bytes, line, what.clone())
            }));
            r.unwrap_or_else(|p| Outcome {
                edit: what,
                line,
                atm_row: false,
                max_move: f64::INFINITY,
                at: None,
                dropped: 0,
                reported: false,
                error: Some(format!(
                    "PANIC: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(ToString::to_string))
                        .unwrap_or_default()
                )),
            })
        })
        .collect();
    (base, outcomes)
}
