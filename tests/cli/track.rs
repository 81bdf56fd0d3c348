//! `volfit track` on the first snapshots of the January 2026 Deribit series (copied into a
//! temporary directory): the outputs of the contract, time order, skipped files, usage errors.

use super::volfit;
use crate::common::shared_data;
use serde_json::Value;
use std::path::{Path, PathBuf};
use volfit::live::tenor::{TENOR_DAYS, tenor_point};
use volfit::live::{Tracker, TrackerOptions};
use volfit::quotes::{Chain, Format, read_chains};
use volfit::surface::FittedSurface;

/// The contract's columns, then `atm_sd`.
const HEADER: &str = "as_of,tenor_days,atm_vol,rr25,bf25,atm_sd";

/// A fresh temporary directory.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-track-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The first `n` snapshots of the series, by file name.
fn first_snapshots(n: usize) -> Vec<PathBuf> {
    let dir = shared_data("deribit_series/2026-01");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    v.sort();
    v.truncate(n);
    assert_eq!(v.len(), n);
    v
}

/// Copies `files` into `dir` under the names `names` (their own names when `None`).
fn copy_into(dir: &Path, files: &[PathBuf], names: Option<&[&str]>) {
    for (i, f) in files.iter().enumerate() {
        let name = names.map_or_else(|| f.file_name().unwrap().to_owned(), |n| n[i].into());
        std::fs::copy(f, dir.join(name)).unwrap();
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = volfit(args, "");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn track_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("track.json")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"));
    serde_json::from_str(&text).unwrap()
}

/// The rows of `timeseries.csv` after its header (which must be [`HEADER`]).
fn timeseries(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The chains of one underlying in `files`, in snapshot-time order.
fn chains_of(files: &[PathBuf], underlying: &str) -> Vec<Chain> {
    let mut v: Vec<Chain> = files
        .iter()
        .flat_map(|f| read_chains(f, Format::Auto).unwrap().0)
        .filter(|c| c.underlying == underlying)
        .collect();
    v.sort_by_key(|c| c.as_of);
    v
}

fn as_ofs(json: &Value) -> Vec<chrono::DateTime<chrono::Utc>> {
    json["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["as_of"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn six_snapshots_of_btc_and_eth() {
    let files = first_snapshots(6);
    let input = tmp("six-in");
    copy_into(&input, &files, None);
    let out = tmp("six-out");
    let (code, stdout, stderr) = run(&[
        "track",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--surfaces",
    ]);
    assert_eq!(code, 0, "{stderr}");
    for u in ["BTC", "ETH"] {
        assert!(
            stdout.lines().any(
                |l| l.starts_with(&format!("{u}: 6 updates, median update "))
                    && l.contains("NIS/dof")
            ),
            "{stdout}"
        );
        let dir = out.join(u);
        for f in ["timeseries.csv", "track.json", "surface.json", "track.html"] {
            assert!(dir.join(f).is_file(), "{u}: no {f}");
        }
        let page = std::fs::read_to_string(dir.join("track.html")).unwrap();
        assert!(page.contains("<svg") && page.contains("What changed"));

        // timeseries.csv: 4 rows per update, the tenors in order, RFC 3339 UTC times.
        let rows = timeseries(&dir);
        assert_eq!(rows.len(), 4 * 6, "{u}");
        let chains = chains_of(&files, u);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), 6);
            assert_eq!(row[1], TENOR_DAYS[i % 4].to_string());
            assert!(row[0].ends_with('Z'), "{}", row[0]);
            let at: chrono::DateTime<chrono::Utc> = row[0].parse().unwrap();
            assert_eq!(Some(at), chains[i / 4].as_of);
            let atm: f64 = row[2].parse().unwrap();
            assert!(atm > 0.0 && atm.is_finite());
            assert!(
                row[5].parse::<f64>().is_ok_and(|sd| sd > 0.0),
                "atm_sd {row:?}"
            );
            if u == "BTC" && row[1] == "30" {
                assert!((0.2..1.5).contains(&atm), "BTC 30-day ATM vol {atm}");
            }
        }

        // track.json: the contract's keys, one update per snapshot in time order.
        let json = track_json(&dir);
        assert_eq!(json["underlying"], u);
        assert_eq!(json["filter"], "kalman");
        assert_eq!(json["model"], "svi");
        assert!(json["options"].is_object());
        let updates = json["updates"].as_array().unwrap();
        assert_eq!(updates.len(), 6);
        for up in updates {
            for key in [
                "as_of",
                "update_micros",
                "expiries_refitted",
                "quotes_used",
                "within_spread",
                "gated",
                "nis",
            ] {
                assert!(up.get(key).is_some(), "update lacks {key}: {up}");
            }
            assert!(up["gated"].is_u64() && up["gated_quotes"].is_array());
            let inside = up["within_spread"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&inside));
        }
        assert_eq!(
            as_ofs(&json),
            chains.iter().map(|c| c.as_of.unwrap()).collect::<Vec<_>>()
        );
        // The first update has no prediction, the later ones a NIS.
        assert!(updates[0]["nis"].is_null() && updates[5]["nis"].is_f64());

        // surfaces/NNNN.json load; the latest is surface.json and the tracker's last surface.
        let first = FittedSurface::load(dir.join("surfaces/0000.json")).unwrap();
        assert_eq!(first.as_of(), chains[0].as_of);
        let latest = FittedSurface::load(dir.join("surface.json")).unwrap();
        assert_eq!(
            std::fs::read(dir.join("surfaces/0005.json")).unwrap(),
            std::fs::read(dir.join("surface.json")).unwrap()
        );
        let mut tracker = Tracker::new(u, TrackerOptions::default()).unwrap();
        for c in &chains {
            tracker.update_chain(c).unwrap();
        }
        let own = tracker.surface().unwrap();
        assert_eq!(
            latest, *own,
            "{u}: surface.json is not the tracker's last surface"
        );
        // The last rows are read off that surface.
        for (row, days) in rows[20..].iter().zip(TENOR_DAYS) {
            let p = tenor_point(&own, days).unwrap();
            assert_eq!(row[2].parse::<f64>().unwrap(), p.atm_vol);
            assert_eq!(row[3].parse::<f64>().unwrap(), p.rr25.unwrap());
            assert_eq!(row[4].parse::<f64>().unwrap(), p.bf25.unwrap());
        }
    }
    std::fs::remove_dir_all(&input).ok();
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn glob_replayed_by_snapshot_time_not_file_name() {
    let files = first_snapshots(3);
    let input = tmp("glob-in");
    // File names in the reverse of time order.
    copy_into(&input, &files, Some(&["c.csv", "b.csv", "a.csv"]));
    let out = tmp("glob-out");
    let pattern = format!("{}/*.csv", input.display());
    let (code, stdout, stderr) = run(&[
        "track",
        &pattern,
        "--underlying",
        "btc",
        "--filter",
        "none",
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("BTC: 3 updates") && stdout.contains("no filter"));
    assert!(!out.join("ETH").exists());
    let dir = out.join("BTC");
    assert!(!dir.join("track.html").exists() && !dir.join("surfaces").exists());
    let json = track_json(&dir);
    assert_eq!(json["filter"], "none");
    let at = as_ofs(&json);
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    let sources: Vec<&str> = json["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["source"].as_str().unwrap())
        .collect();
    assert!(
        sources[0].ends_with("c.csv") && sources[2].ends_with("a.csv"),
        "{sources:?}"
    );
    // Without a filter there is no band and no NIS: empty cells, nulls.
    let rows = timeseries(&dir);
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r[5].is_empty()));
    assert!(json["updates"][2]["nis"].is_null());
    std::fs::remove_dir_all(&input).ok();
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn unreadable_file_is_reported_and_the_others_tracked() {
    let files = first_snapshots(3);
    let input = tmp("bad-in");
    copy_into(&input, &files, None);
    std::fs::write(input.join("broken.csv"), "hello,world\n1,2\n").unwrap();
    let out = tmp("bad-out");
    let (code, stdout, stderr) = run(&[
        "track",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("skipping") && stderr.contains("broken.csv"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    for u in ["BTC", "ETH"] {
        assert!(stdout.contains(&format!("{u}: 3 updates")), "{stdout}");
        assert_eq!(
            track_json(&out.join(u))["updates"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
    std::fs::remove_dir_all(&input).ok();
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn kalman_filter_with_the_spline_model_is_a_usage_error() {
    let out = tmp("spline-out");
    let input = shared_data("deribit_series/2026-01");
    let (code, _, stderr) = run(&[
        "track",
        input.to_str().unwrap(),
        "--filter",
        "kalman",
        "--model",
        "spline",
        "--out",
        out.join("x").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Kalman filter runs on SVI") && stderr.contains("--model spline"),
        "{stderr}"
    );
    assert!(
        !out.join("x").exists(),
        "nothing is written on a usage error"
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_stdin_stream_of_ticker_lines_is_tracked_and_bad_lines_are_reported() {
    // The first January snapshot's BTC quotes as the Deribit ticker lines they would have
    // been, then the same again with a bad line in between.
    let (chains, _) = volfit::quotes::read_chains(
        crate::common::shared_data(
            "deribit_series/2026-01/deribit_options_snapshot_20260101T091835Z.csv",
        ),
        volfit::quotes::Format::Auto,
    )
    .unwrap();
    let btc = chains.iter().find(|c| c.underlying == "BTC").unwrap();
    let mut lines = volfit::live::stream::ticks_from_chain(btc);
    let n = lines.len();
    lines.insert(n / 2, "{\"timestamp\": \"soon\"}".to_string());
    let input = lines.join("\n") + "\n";
    let dir = tmp("stdin");
    let out = dir.join("out");
    let o = volfit(
        &["track", "-", "--out", out.to_str().unwrap(), "--no-plots"],
        &input,
    );
    let (code, stdout, stderr) = (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("line {}", n / 2 + 1)), "{stderr}");
    let ts = std::fs::read_to_string(out.join("BTC/timeseries.csv")).unwrap();
    assert!(ts.lines().count() > 4, "{ts}");
    assert!(out.join("BTC/surface.json").exists());
}
