//! `volfit diff` and `volfit calibrate --prior`, run as a user would, on consecutive snapshots
//! of the January 2026 Deribit series.

use super::volfit;
use crate::common::shared_data;
use serde_json::Value;
use std::path::{Path, PathBuf};
use volfit::surface::{FittedSurface, VolSurface};

const FIRST: &str = "deribit_series/2026-01/deribit_options_snapshot_20260101T091835Z.csv";
const SECOND: &str = "deribit_series/2026-01/deribit_options_snapshot_20260101T211918Z.csv";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-diff-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

/// `volfit calibrate FILE --underlying BTC --model svi --no-plots --out OUT [EXTRA]`; its
/// stderr.
fn calibrate(file: &str, out: &Path, extra: &[&str]) -> String {
    let input = shared_data(file);
    let mut args = vec![
        "calibrate",
        input.to_str().unwrap(),
        "--underlying",
        "BTC",
        "--model",
        "svi",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = volfit(&args, "");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn diff_json(a: &Path, b: &Path) -> Value {
    let o = volfit(
        &["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--json"],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains("NaN"));
    serde_json::from_str(&text).unwrap()
}

/// A surface against itself: every change in the JSON is 0, and the text table shows
/// `(+0.00)` for every tenor and lists nothing expired or new.
#[test]
fn diff_of_a_surface_with_itself_is_zero() {
    let out = tmp("self");
    calibrate(FIRST, &out, &[]);
    let s = out.join("surface.json");
    let d = diff_json(&s, &s);
    let tenors = d["tenors"].as_array().unwrap();
    assert_eq!(tenors.len(), 4);
    let mut changes = 0;
    for row in tenors.iter().chain(d["expiries"].as_array().unwrap()) {
        for p in row["pillars"].as_array().unwrap() {
            assert_eq!(p["change"].as_f64(), Some(0.0), "{p}");
            changes += 1;
        }
    }
    assert!(changes >= 5 * (4 + 10));
    for e in d["expiries"].as_array().unwrap() {
        assert_eq!(e["atm_change"].as_f64(), Some(0.0));
        for p in e["params"].as_array().unwrap() {
            assert_eq!(p["change"].as_f64(), Some(0.0));
        }
    }
    assert!(d["expired"].as_array().unwrap().is_empty() && d["new"].as_array().unwrap().is_empty());
    let o = volfit(&["diff", s.to_str().unwrap(), s.to_str().unwrap()], "");
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for days in ["   7d", "  30d", "  90d", " 180d"] {
        let line = text.lines().find(|l| l.starts_with(days)).unwrap();
        assert_eq!(line.matches("(+0.00)").count(), 5, "{line}");
    }
    assert!(text.contains("expired (only in A): none") && text.contains("new (only in B): none"));
}

/// Two consecutive snapshots through the CLI: at every common expiry the ATM change printed is
/// `vol_B(F_B, t_B) − vol_A(F_A, t_A)` asked of the two surface.json files through
/// `VolSurface`, and the expiry that rolled off is listed in the text as expired.
#[test]
fn diff_of_consecutive_snapshots_matches_the_surfaces() {
    let (oa, ob) = (tmp("a"), tmp("b"));
    calibrate(FIRST, &oa, &[]);
    calibrate(SECOND, &ob, &[]);
    let (pa, pb) = (oa.join("surface.json"), ob.join("surface.json"));
    let (a, b) = (
        FittedSurface::load(&pa).unwrap(),
        FittedSurface::load(&pb).unwrap(),
    );
    let d = diff_json(&pa, &pb);
    let common = d["expiries"].as_array().unwrap();
    assert!(common.len() >= 10);
    for e in common {
        let (ta, tb) = (e["t_a"].as_f64().unwrap(), e["t_b"].as_f64().unwrap());
        let want = b.vol(b.forward(tb), tb) - a.vol(a.forward(ta), ta);
        let got = e["atm_change"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-12,
            "{}: {got} vs {want}",
            e["expiry"]
        );
    }
    assert_eq!(d["expired"][0]["expiry"], "2026-01-02T08:00:00Z");
    let o = volfit(&["diff", pa.to_str().unwrap(), pb.to_str().unwrap()], "");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("expired (only in A): 2026-01-02"), "{text}");
    assert!(text.contains("svi: a "), "{text}");
}

/// Unreadable surfaces: exit 2, nothing on stdout, the message names the file.
#[test]
fn diff_errors_name_the_file() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let not_surface = dir.join("not_a_surface.json");
    std::fs::write(&not_surface, "{\"format\": \"something else\"}").unwrap();
    let missing = dir.join("missing.json");
    for (a, b) in [(&missing, &not_surface), (&not_surface, &not_surface)] {
        let o = volfit(&["diff", a.to_str().unwrap(), b.to_str().unwrap()], "");
        assert_eq!(o.status.code(), Some(2));
        assert!(o.stdout.is_empty());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(a.to_str().unwrap()), "{err}");
    }
}

/// `--prior` with a file that does not exist: exit 2, the message names the file and the
/// flag, and nothing is written.
#[test]
fn prior_that_does_not_exist_exits_2_naming_it() {
    let out = tmp("no-prior");
    let missing = out.with_extension("nonexistent.json");
    let input = shared_data(SECOND);
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--prior",
            missing.to_str().unwrap(),
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--prior") && err.contains(missing.to_str().unwrap()),
        "{err}"
    );
    assert!(!out.exists());
}

/// `--prior` with the previous snapshot's surface: report.json marks the expiries of the prior
/// as warm-started (`slices[].warm_start`, `prior.warm`), the new ones cold with the reason,
/// and stderr says how many were warm-started.
#[test]
fn prior_warm_starts_the_expiries_it_knows() {
    let (oa, ob) = (tmp("prior-a"), tmp("prior-b"));
    calibrate(FIRST, &oa, &[]);
    let prior = oa.join("surface.json");
    let err = calibrate(SECOND, &ob, &["--prior", prior.to_str().unwrap()]);
    assert!(err.contains("expiries warm-started from --prior"), "{err}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(ob.join("report.json")).unwrap()).unwrap();
    let slices = r["slices"].as_array().unwrap();
    let warm = slices.iter().filter(|s| s["warm_start"] == true).count();
    assert!(warm > 0);
    assert_eq!(r["prior"]["warm"].as_u64(), Some(warm as u64));
    assert_eq!(r["prior"]["underlying"], "BTC");
    assert_eq!(
        warm + r["prior"]["cold"].as_array().unwrap().len(),
        slices.len()
    );
    // Without --prior there is no `prior` block and nothing is warm-started.
    let oc = tmp("prior-c");
    calibrate(SECOND, &oc, &[]);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(oc.join("report.json")).unwrap()).unwrap();
    assert!(r.get("prior").is_none());
    assert!(
        r["slices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["warm_start"] == false)
    );
}
