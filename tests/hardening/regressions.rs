//! Every failure the mutation fuzzing found, as a fixed case.

use crate::common::shared_data;
use std::path::Path;
use volfit::quotes::{Format, read_chains, read_chains_from_bytes, read_chains_from_str};
use volfit::surface::{FittedSurface, SurfaceModel, SurfaceOptions, calibrate_surface};

fn real_surface(model: SurfaceModel) -> serde_json::Value {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
        Format::Deribit,
    )
    .unwrap();
    let o = SurfaceOptions {
        model,
        ..SurfaceOptions::default()
    };
    serde_json::to_value(calibrate_surface(&chains[0], &o).unwrap().0).unwrap()
}

/// Loading must refuse the edited file (it used to load and answer NaN or 0).
fn refused(mut v: serde_json::Value, edit: impl Fn(&mut serde_json::Value), expect: &str) {
    edit(&mut v);
    let e = serde_json::from_value::<FittedSurface>(v)
        .unwrap_err()
        .to_string();
    assert!(e.contains(expect), "{e}");
}

#[test]
fn surface_json_values_that_answered_nan_or_zero_are_refused() {
    let svi = real_surface(SurfaceModel::Svi);
    refused(
        svi.clone(),
        |v| v["slices"][9]["model"]["m"] = 1e300.into(),
        "|m| ≤ 1e6",
    );
    refused(
        svi.clone(),
        |v| v["slices"][0]["t"] = 1e-320.into(),
        "1e-9 years",
    );
    let sabr = real_surface(SurfaceModel::Sabr);
    refused(
        sabr.clone(),
        |v| v["slices"][9]["model"]["sabr"]["alpha"] = 1e300.into(),
        "alpha",
    );
    refused(
        sabr.clone(),
        |v| v["slices"][0]["model"]["sabr"]["alpha"] = 1e-320.into(),
        "alpha",
    );
    refused(
        sabr.clone(),
        |v| v["slices"][0]["model"]["sabr"]["forward"] = 1e-320.into(),
        "forward and t must be the slice's",
    );
    // Unedited, both load.
    serde_json::from_value::<FittedSurface>(svi).unwrap();
    serde_json::from_value::<FittedSurface>(sabr).unwrap();
}

/// A lone CR before a line the screens blank used to merge with that line's LF, so every later
/// row was named one line too low (found on the Deribit API book with a CR inserted into a
/// quoted field).
#[test]
fn rows_after_a_blanked_line_and_a_lone_cr_keep_their_lines() {
    let text = "kind,strike,expiry,bid,ask,forward\rcall,100,2030-01-01,1,2,100\rput,\"100,2030-01-01,1,2,100\nput,90,2030-01-01,1,2,100\n";
    let (chains, report) = read_chains_from_str(text, Path::new("cr.csv"), Format::Csv).unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 3);
    let lines: Vec<u64> = chains[0].quotes.iter().map(|q| q.line).collect();
    assert_eq!(lines, [2, 4]);
}

/// `-1` in a Deribit price or mark-IV column used to be read as a mark IV of −1 (or as "no
/// quote" for a price).
#[test]
fn negative_prices_and_vols_reject_the_row() {
    let path = shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    for col in ["implied_volatility", "bid_price", "mark_price"] {
        let c = header.iter().position(|h| *h == col).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut f: Vec<&str> = lines[1].split(',').collect();
        f[c] = "-1";
        lines[1] = f.join(",");
        let edited = lines.join("\n");
        let (_, report) =
            read_chains_from_bytes(edited.as_bytes(), &path, Format::Deribit).unwrap();
        let r = report.rejected.iter().find(|r| r.line == 2).unwrap();
        assert!(
            r.reason.contains(&format!("field `{col}` is negative")),
            "{}",
            r.reason
        );
    }
}

/// Blank lines before the header (found by the long fuzz run on the IV table): the format is
/// sniffed from the first non-blank line and the screens count header lines from there, so
/// the rows after it are read and named by their own lines.
#[test]
fn blank_lines_before_the_header_are_skipped() {
    let path = shared_data("spx_gatheral/spx_ivols_20050915.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, clean) = read_chains_from_str(&text, &path, Format::Auto).unwrap();
    let lead = format!("\n\r\n{text}");
    let (_, r) = read_chains_from_str(&lead, &path, Format::Auto).unwrap();
    assert_eq!((r.rows, r.quotes), (clean.rows, clean.quotes));
    let bad = format!("\n\n{}", text.replacen("20050917,", "\"20050917,", 1));
    let (_, r) = read_chains_from_str(&bad, &path, Format::Auto).unwrap();
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].line, 4);
    assert!(
        r.rejected[0].reason.contains("`Expiry`"),
        "{}",
        r.rejected[0].reason
    );
}
