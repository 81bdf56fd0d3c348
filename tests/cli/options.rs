//! `volfit calibrate`'s calibration options: each flag reaches the library (an effect seen in
//! report.json or surface.json) and is echoed in report.json's `options`; `--config FILE.toml`
//! with flags over it; bad values and unknown keys; mid-vol-only chains; failed calibrations
//! and exit codes.

use super::volfit;
use crate::common::root;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-opts-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample() -> String {
    root()
        .join("data/sample_chain.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `volfit calibrate INPUT --no-plots --out OUT ARGS`: exit code, stderr, report.json (if any).
fn calibrate(input: &str, out: &Path, args: &[&str]) -> (i32, String, Option<Value>) {
    let mut all = vec![
        "calibrate",
        input,
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = volfit(&all, "");
    let report = out.join("report.json");
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        report.exists().then(|| json(&report)),
    )
}

/// The sample chain calibrated with `args`: report.json (exit 0 asserted).
fn sample_report(name: &str, args: &[&str]) -> Value {
    let out = tmp(name);
    let (code, err, report) = calibrate(&sample(), &out, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    std::fs::remove_dir_all(&out).ok();
    report.unwrap()
}

fn reasons(r: &Value) -> Vec<String> {
    r["ingest"]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].as_str().unwrap().to_string())
        .collect()
}

fn count(r: &Value, prefix: &str) -> usize {
    reasons(r).iter().filter(|x| x.starts_with(prefix)).count()
}

/// Without options, report.json echoes every key at the library default.
#[test]
fn report_echoes_the_default_options() {
    let r = sample_report("defaults", &[]);
    let o = &r["options"];
    let expected = serde_json::json!({
        "model": "spline", "optimizer": "lm", "weighting": "inverse-spread", "objective": "vol",
        "day_count": "act365", "calendar": "repair", "sabr_beta": "default", "min_quotes": 5,
        "keep_outliers": false, "keep_no_bid": false, "keep_crossed_or_locked": false,
        "keep_one_tick_bid": false, "max_iv_spread": "off",
        "max_log_moneyness": volfit::slice::MAX_LOG_MONEYNESS, "max_vol": 10.0,
        "min_forward_vol": 0.01, "before_first": "flat-vol", "after_last": "forward-variance",
        "after_last_vol": "off", "wings": "model", "between": "auto",
        "spline_smoothing": volfit::models::spline::SplineOptions::default().smoothing
    });
    assert_eq!(o, &expected);
}

/// Each flag is echoed and changes what it should.
#[test]
fn each_option_reaches_the_fit() {
    let base = sample_report("base", &[]);
    assert_eq!(count(&base, "one_tick_bid"), 7);
    assert_eq!(count(&base, "no_bid"), 3);

    let r = sample_report("one-tick", &["--keep-one-tick-bid"]);
    assert_eq!(r["options"]["keep_one_tick_bid"], true);
    assert_eq!(count(&r, "one_tick_bid"), 0);

    let r = sample_report("no-bid", &["--keep-no-bid"]);
    assert_eq!(r["options"]["keep_no_bid"], true);
    assert_eq!(count(&r, "no_bid"), 0);

    let r = sample_report("crossed", &["--keep-crossed-or-locked"]);
    assert_eq!(r["options"]["keep_crossed_or_locked"], true);

    let r = sample_report("spread", &["--max-iv-spread", "0.05"]);
    assert_eq!(r["options"]["max_iv_spread"], 0.05);
    assert!(count(&r, "wide: vol spread") > 10, "{:?}", reasons(&r));

    let r = sample_report("moneyness", &["--max-log-moneyness", "0.2"]);
    assert_eq!(r["options"]["max_log_moneyness"], 0.2);
    assert!(count(&r, "far_strike") > 10);

    let r = sample_report("weighting", &["--weighting", "uniform"]);
    assert_eq!(r["options"]["weighting"], "uniform");
    assert_ne!(r["slices"][0]["params"], base["slices"][0]["params"]);

    let r = sample_report(
        "objective",
        &["--objective", "bid-ask", "--mid-weight", "0.3"],
    );
    assert_eq!(r["options"]["objective"], "bid-ask");
    assert_eq!(r["options"]["mid_weight"], 0.3);
    assert_ne!(r["slices"][0]["params"], base["slices"][0]["params"]);

    let r = sample_report("calendar", &["--calendar", "report"]);
    assert_eq!(r["options"]["calendar"], "report");
    for v in r["calendar"]["violations"].as_array().unwrap() {
        assert_eq!(v["action"]["kind"], "reported", "{v}");
    }

    let r = sample_report("min-quotes", &["--min-quotes", "25"]);
    assert_eq!(r["options"]["min_quotes"], 25);
    let fitted = r["slices"].as_array().unwrap();
    assert!(fitted.iter().all(|s| s["n_quotes"].as_u64().unwrap() >= 25));
    assert!(!r["dropped"].as_array().unwrap().is_empty());

    let r = sample_report("beta", &["--model", "sabr", "--sabr-beta", "0.5"]);
    assert_eq!(r["options"]["sabr_beta"], 0.5);
    assert_eq!(r["model"], "sabr");
    for s in r["slices"].as_array().unwrap() {
        assert_eq!(s["params"]["beta"], 0.5, "{}", s["params"]);
    }

    // The sample gives no time to maturity: the day count sets t, and surface.json keeps it.
    let out = tmp("day-count");
    let (code, err, r) = calibrate(&sample(), &out, &["--day-count", "act36525"]);
    assert_eq!(code, 0, "{err}");
    let r = r.unwrap();
    assert_eq!(r["options"]["day_count"], "act36525");
    assert_eq!(json(&out.join("surface.json"))["day_count"], "act36525");
    let (t365, t36525) = (
        base["slices"][0]["t"].as_f64().unwrap(),
        r["slices"][0]["t"].as_f64().unwrap(),
    );
    assert!((t36525 / t365 - 365.0 / 365.25).abs() < 1e-12);
    std::fs::remove_dir_all(&out).ok();
}

/// Bad values are refused before anything runs (exit 2), saying what is expected.
#[test]
fn bad_values_are_errors() {
    let out = tmp("bad");
    for (args, says) in [
        (
            &["--weighting", "equal"][..],
            "possible values: inverse-spread, vega, uniform",
        ),
        (
            &["--day-count", "30/360"],
            "possible values: act365, act36525",
        ),
        (&["--calendar", "fix"], "possible values: repair, report"),
        (&["--objective", "price"], "possible values: vol, bid-ask"),
        (&["--sabr-beta", "1.5"], "a number in [0, 1]"),
        (&["--min-quotes", "many"], "invalid digit"),
        (&["--min-quotes", "0"], "min_quotes must be an integer ≥ 1"),
        (&["--max-vol", "-1"], "a positive number or `off`"),
        (&["--max-iv-spread", "wide"], "a positive number or `off`"),
        (
            &["--mid-weight", "-0.1", "--objective", "bid-ask"],
            "mid_weight must be a number ≥ 0",
        ),
        (&["--keep-outliers=maybe"], "invalid value 'maybe'"),
    ] {
        let (code, err, _) = calibrate(&sample(), &out, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(!out.join("report.json").exists());
    std::fs::remove_dir_all(&out).ok();
}

/// A config file sets options, flags override it, and an unknown key or a bad value in it is
/// an error naming the key and the file.
#[test]
fn config_file_and_flags_over_it() {
    let dir = tmp("config");
    let cfg = dir.join("volfit.toml");
    std::fs::write(
        &cfg,
        "weighting = \"vega\"\nmin_quotes = 6\nkeep_outliers = true\nmax_vol = \"off\"\nsabr_beta = 1\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let r = sample_report("config-1", &["--config", c]);
    let o = &r["options"];
    assert_eq!(
        (
            &o["weighting"],
            &o["min_quotes"],
            &o["keep_outliers"],
            &o["max_vol"],
            &o["sabr_beta"]
        ),
        (
            &Value::from("vega"),
            &Value::from(6),
            &Value::from(true),
            &Value::from("off"),
            &Value::from(1.0)
        )
    );
    let r = sample_report(
        "config-2",
        &["--config", c, "--min-quotes", "7", "--keep-outliers=false"],
    );
    assert_eq!(r["options"]["weighting"], "vega");
    assert_eq!(r["options"]["min_quotes"], 7);
    assert_eq!(r["options"]["keep_outliers"], false);

    let out = dir.join("out");
    for (text, says) in [
        (
            "weighting = \"vega\"\nmin_qoutes = 3\n",
            "unknown field `min_qoutes`",
        ),
        ("weighting = \"equal\"\n", "unknown variant `equal`"),
        ("max_vol = 0\n", "a positive number or `off`"),
        ("min_quotes = -2\n", "min_quotes"),
        ("[filters]\nno_bid = false\n", "unknown field `filters`"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let (code, err, _) = calibrate(&sample(), &out, &["--config", c]);
        assert_eq!(code, 2, "{text}");
        assert!(
            err.contains(says) && err.contains("volfit.toml"),
            "{text}: {err}"
        );
    }
    let (code, err, _) = calibrate(&sample(), &out, &["--config", "no/such.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such.toml"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// report.json's `options`, written as a config file, reproduces the run bit for bit.
#[test]
fn echoed_options_reproduce_the_run() {
    let dir = tmp("reproduce");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let args = [
        "--weighting",
        "vega",
        "--calendar",
        "report",
        "--max-log-moneyness",
        "1.5",
        "--keep-one-tick-bid",
    ];
    let (code, err, r) = calibrate(&sample(), &a, &args);
    assert_eq!(code, 0, "{err}");
    let options = r.unwrap()["options"].clone();
    let cfg = dir.join("run.toml");
    std::fs::write(&cfg, toml::to_string(&options).unwrap()).unwrap();
    let (code, err, r) = calibrate(&sample(), &b, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r.unwrap()["options"], options);
    assert_eq!(
        std::fs::read(a.join("surface.json")).unwrap(),
        std::fs::read(b.join("surface.json")).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The example config in the README parses and runs.
#[test]
fn the_readme_example_config_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```toml\n# volfit.toml")
        .expect("README has a ```toml block starting with # volfit.toml");
    let block = &readme[start + "```toml\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    let dir = tmp("readme");
    let cfg = dir.join("volfit.toml");
    std::fs::write(&cfg, block).unwrap();
    let (code, err, r) = calibrate(
        &sample(),
        &dir.join("out"),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let parsed: toml::Table = block.parse().unwrap();
    let r = r.unwrap();
    for (key, value) in &parsed {
        let echoed = &r["options"][key];
        let same = match value {
            toml::Value::String(s) => echoed.as_str() == Some(s),
            toml::Value::Integer(i) => echoed.as_f64() == Some(*i as f64),
            toml::Value::Float(f) => echoed.as_f64() == Some(*f),
            toml::Value::Boolean(b) => echoed.as_bool() == Some(*b),
            _ => false,
        };
        assert!(same, "{key}: {value} vs {echoed}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A synthetic mid-vol-only generic CSV (SVI smiles, `iv` column, no bid/ask): every row is
/// used, within_spread is null, the fit reproduces the vols.
#[test]
fn mid_vol_only_chain_calibrates() {
    let dir = tmp("mid-vol");
    let input = dir.join("mids.csv");
    let mut text = String::from("expiry,strike,kind,iv,forward,as_of\n");
    let svi = volfit::Svi::new(0.01, 0.1, -0.4, 0.0, 0.2).unwrap();
    for (expiry, scale) in [("2026-03-20", 1.0), ("2026-06-19", 2.0)] {
        for i in -8..=8 {
            let k = 0.05 * f64::from(i);
            let t = if scale == 1.0 { 0.25 } else { 0.5 };
            let vol = (scale * svi.w(k) / t).sqrt();
            let kind = if k < 0.0 { "put" } else { "call" };
            writeln!(
                text,
                "{expiry},{},{kind},{vol},100,2025-12-20T16:00:00Z",
                100.0 * k.exp()
            )
            .unwrap();
        }
    }
    std::fs::write(&input, text).unwrap();
    let out = dir.join("out");
    let (code, err, r) = calibrate(input.to_str().unwrap(), &out, &[]);
    assert_eq!(code, 0, "{err}");
    let r = r.unwrap();
    assert!(
        r["ingest"]["rejected"].as_array().unwrap().is_empty(),
        "{}",
        r["ingest"]
    );
    assert_eq!(r["ingest"]["quotes_used"], 34);
    for s in r["slices"].as_array().unwrap() {
        assert!(s["within_spread"].is_null());
        assert!(
            s["max_abs_err_iv"].as_f64().unwrap() < 1e-3,
            "{}",
            s["max_abs_err_iv"]
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A calibration that fits nothing writes report.json with its reasons and no surface.json
/// (removing a previous run's); exit 2 when every input fails, 1 when some do.
#[test]
fn failed_calibrations_report_and_exit_codes() {
    let dir = tmp("failed");
    let out = dir.join("out");
    // A good run first, so there is a surface.json to remove.
    let (code, _, _) = calibrate(&sample(), &out, &[]);
    assert_eq!(code, 0);
    assert!(out.join("surface.json").exists());
    let (code, err, r) = calibrate(&sample(), &out, &["--min-quotes", "1000"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no expiry could be fitted") && err.contains("report.json"),
        "{err}"
    );
    assert!(!out.join("surface.json").exists());
    let r = r.unwrap();
    assert!(r["slices"].as_array().unwrap().is_empty());
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("no expiry could be fitted")
    );
    assert_eq!(r["options"]["min_quotes"], 1000);
    let dropped = r["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 10);
    assert!(dropped[0]["reason"].as_str().unwrap().contains("< 1000"));
    // Every used quote of the dropped expiries is a rejected row, with the reason.
    assert!(count(&r, "expiry ") > 200, "{:?}", &reasons(&r)[..3]);

    // Every row rejected by the filters: the reasons are the rows'.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "expiry,strike,kind,bid_iv,ask_iv,forward,as_of\n\
         2030-01-01,100,call,0.3,0.2,100,2029-01-01\n\
         2030-01-01,110,call,0.3,0.2,100,2029-01-01\n",
    )
    .unwrap();
    let out_bad = dir.join("out-bad");
    let (code, _, r) = calibrate(bad.to_str().unwrap(), &out_bad, &[]);
    assert_eq!(code, 2);
    let r = r.unwrap();
    assert_eq!(count(&r, "crossed"), 2, "{:?}", reasons(&r));
    assert!(!out_bad.join("surface.json").exists());

    // Two inputs: one fails, one calibrates -> 1; both fail -> 2.
    let good = dir.join("good.csv");
    std::fs::copy(sample(), &good).unwrap();
    let glob = dir.join("*.csv");
    let out_glob = dir.join("out-glob");
    let (code, err, _) = calibrate(glob.to_str().unwrap(), &out_glob, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(out_glob.join("good/surface.json").exists());
    assert!(out_glob.join("bad/report.json").exists());
    assert!(!out_glob.join("bad/surface.json").exists());
    let (code, err, _) = calibrate(glob.to_str().unwrap(), &out_glob, &["--min-quotes", "1000"]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The extrapolation policy flags reach surface.json (and report.json's echo), and a surface
/// calibrated with `--after-last refuse --before-first refuse` answers nothing outside its
/// expiries while `vol` inside them is unchanged.
#[test]
fn extrapolation_policy_flags_are_stored() {
    let out = tmp("extrap");
    let (code, err, report) = calibrate(
        &sample(),
        &out,
        &[
            "--min-forward-vol",
            "0.05",
            "--before-first",
            "refuse",
            "--after-last",
            "refuse",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let opts = &report.unwrap()["options"];
    assert_eq!(opts["min_forward_vol"], 0.05);
    assert_eq!(opts["before_first"], "refuse");
    assert_eq!(opts["after_last"], "refuse");
    let surface = json(&out.join("surface.json"));
    let e = &surface["extrapolation"];
    assert_eq!(e["min_forward_vol"], 0.05);
    assert_eq!(e["before_first"], "refuse");
    assert_eq!(e["after_last"]["kind"], "refuse");
    let path = out.join("surface.json");
    let s = volfit::surface::FittedSurface::load(&path).unwrap();
    let (first, last) = (s.slices()[0].t, s.slices().last().unwrap().t);
    let f = s.slices()[0].forward;
    for (t, ok) in [(0.5 * first, false), (first, true), (1.5 * last, false)] {
        let o = volfit(
            &[
                "vol",
                path.to_str().unwrap(),
                "--strike",
                &f.to_string(),
                "--t",
                &t.to_string(),
            ],
            "",
        );
        assert_eq!(o.status.success(), ok, "t {t}: {o:?}");
    }
    // `--after-last-vol` sets σ∞; a bad value is an error naming the key.
    let (code, err, _) = calibrate(&sample(), &out, &["--after-last-vol", "0.3"]);
    assert_eq!(code, 0, "{err}");
    let s = volfit::surface::FittedSurface::load(&path).unwrap();
    assert_eq!(s.after_last_vol(), Some(0.3));
    let (code, err, _) = calibrate(&sample(), &out, &["--min-forward-vol", "-1"]);
    assert_eq!(code, 2);
    assert!(err.contains("min_forward_vol"), "{err}");
    std::fs::remove_dir_all(&out).ok();
}
