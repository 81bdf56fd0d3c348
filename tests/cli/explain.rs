//! `volfit explain`, run as a user would, on two consecutive January BTC snapshots with a
//! small book: the actual P&L against marks read from the files directly, the bookkeeping of
//! explain.json, and the rejected and skipped rows.

use super::volfit;
use crate::common::shared_data;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const A: &str = "deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv";
const B: &str = "deribit_series/2026-01/deribit_options_snapshot_20260115T153452Z.csv";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-explain-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// `instrument → mark_price × underlying` (USD) read from the file with the csv crate.
fn marks(path: &Path) -> HashMap<String, f64> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let (name, mark, under) = (col("instrument_name"), col("mark_price"), col("underlying"));
    r.records()
        .map(|x| x.expect("record"))
        .filter(|x| !x[mark].is_empty())
        .map(|x| {
            let m: f64 = x[mark].parse().expect("mark");
            let u: f64 = x[under].parse().expect("underlying");
            (x[name].to_string(), m * u)
        })
        .collect()
}

#[test]
fn explain_two_snapshots_with_a_small_book() {
    let dir = tmp("small");
    let book = dir.join("book.csv");
    std::fs::write(
        &book,
        "instrument,kind,strike,expiry,quantity\n\
         BTC-27MAR26-100000-C,,,,2\n\
         BTC-27MAR26-80000-P,,,,-5\n\
         ,call,95000,2026-01-30,1.5\n\
         BTC-27MAR26-90000-C,,,,lots\n\
         BTC-2JAN26-90000-C,,,,1\n",
    )
    .expect("book");
    let out = dir.join("out");
    let (a, b) = (shared_data(A), shared_data(B));
    let o = volfit(
        &[
            "explain",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--book",
            book.to_str().unwrap(),
            "--underlying",
            "BTC",
            "--dynamics",
            "sticky-moneyness",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // The bad quantity is reported with its line and field; the expired option is skipped.
    assert!(stderr.contains(":5: field `quantity`"), "{stderr}");
    assert!(stderr.contains("BTC-2JAN26-90000-C"), "{stderr}");
    let j: Value =
        serde_json::from_slice(&std::fs::read(out.join("explain.json")).expect("json")).unwrap();
    assert_eq!(j["dynamics"], "sticky-moneyness");
    assert_eq!(j["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(j["skipped"].as_array().unwrap().len(), 1);
    let positions = j["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 3);
    let (ma, mb) = (marks(&a), marks(&b));
    let names = [
        "BTC-27MAR26-100000-C",
        "BTC-27MAR26-80000-P",
        "BTC-30JAN26-95000-C",
    ];
    let qty = [2.0, -5.0, 1.5];
    let num = |p: &Value, k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k}: {p}"));
    let terms = ["delta", "gamma", "vega", "theta", "vanna", "volga"];
    let mut total = 0.0;
    for ((p, name), q) in positions.iter().zip(names).zip(qty) {
        assert_eq!(p["source_a"], "mark");
        assert_eq!(p["source_b"], "mark");
        let direct = q * (mb[name] - ma[name]);
        let actual = num(p, "actual");
        assert!(
            (actual - direct).abs() < 1e-3 * num(p, "value_a").abs(),
            "{name}: {actual} vs {direct} from the files"
        );
        let sum: f64 = terms.iter().map(|t| num(p, t)).sum();
        assert!((num(p, "unexplained") - (actual - sum)).abs() < 1e-9);
        // The surface's move is explained to a few percent by the Taylor terms.
        let reval = num(p, "full_reval");
        assert!(
            (reval - sum).abs() < 0.05 * reval.abs() + 1.0,
            "{name}: terms {sum} vs full revaluation {reval}"
        );
        total += actual;
    }
    assert!((num(&j["totals"], "actual") - total).abs() < 1e-6 * total.abs());
    assert!(j["summary"]["terms_vs_actual"]["r2"].is_number());
    let html = std::fs::read_to_string(out.join("explain.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("BTC-27MAR26-80000-P"));
}

#[test]
fn explain_with_chains_in_the_wrong_order_exits_2() {
    let dir = tmp("order");
    let book = dir.join("book.csv");
    std::fs::write(&book, "instrument,quantity\nBTC-27MAR26-100000-C,1\n").expect("book");
    let (a, b) = (shared_data(A), shared_data(B));
    let o = volfit(
        &[
            "explain",
            b.to_str().unwrap(),
            a.to_str().unwrap(),
            "--book",
            book.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("earlier chain first"));
}
