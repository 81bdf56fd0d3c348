//! End to end: `volfit calibrate` on every chain in `../shared/data` and on the sample chain,
//! then `vol` and `check` on what it wrote; errors and exit codes.

use super::volfit;
use crate::common::{CHAIN_FILES, root, shared_data};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use volfit::quotes::{Format, read_chains};
use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice, VolSurface};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-e2e-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number: {:?}", v[key]))
}

/// Checks one report.json against the contract of ../shared/DESIGN.md and the chain it came
/// from; returns the number of expiries fitted and the file-level `(rows, ingest-rejected)`.
fn check_report(dir: &Path, file: &Path, underlying: &str) -> (usize, usize, usize) {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(
        !text.contains("NaN") && !text.contains("inf"),
        "{}",
        dir.display()
    );
    let r: Value = serde_json::from_str(&text).unwrap();
    for key in [
        "input",
        "format",
        "underlying",
        "as_of",
        "model",
        "optimizer",
        "ingest",
        "slices",
        "calendar_free",
        "timing_micros",
    ] {
        assert!(r.get(key).is_some(), "report.json lacks `{key}`");
    }
    assert_eq!(r["underlying"], underlying);
    let ingest = &r["ingest"];
    for key in ["rows", "quotes_used", "rejected"] {
        assert!(ingest.get(key).is_some(), "ingest lacks `{key}`");
    }
    // Every row accounted for.
    let rows = num(ingest, "rows") as usize;
    let used = num(ingest, "quotes_used") as usize;
    let itm = num(ingest, "itm_side_unused") as usize;
    let rejected = ingest["rejected"].as_array().unwrap();
    for rej in rejected {
        assert!(
            rej["line"].as_u64().is_some() && rej["reason"].as_str().is_some_and(|s| !s.is_empty())
        );
    }
    let slices = r["slices"].as_array().unwrap();
    for s in slices {
        for key in [
            "expiry",
            "t",
            "forward",
            "forward_source",
            "n_quotes",
            "params",
            "rmse_iv",
            "max_abs_err_iv",
            "within_spread",
            "converged",
            "iterations",
            "fit_micros",
            "butterfly_free",
        ] {
            assert!(s.get(key).is_some(), "slice lacks `{key}`");
        }
        for key in ["t", "forward", "rmse_iv", "max_abs_err_iv", "fit_micros"] {
            assert!(num(s, key).is_finite());
        }
        assert!(s["params"].as_object().is_some_and(|p| {
            p.values()
                .all(|v| v.as_f64().is_some_and(f64::is_finite) || v.is_string() || v.is_object())
        }));
    }
    for key in ["ingest", "implied_vol", "fit", "total"] {
        assert!(num(&r["timing_micros"], key) >= 0.0);
    }
    // Every expiry of the chain: fitted, dropped with a reason, or failed with a reason.
    let (chains, _) = read_chains(file, Format::Auto).unwrap();
    let chain = chains.iter().find(|c| c.underlying == underlying).unwrap();
    let expiries: BTreeSet<_> = chain.quotes.iter().map(|q| q.expiry).collect();
    let dropped = r["dropped"].as_array().unwrap();
    let failed = r["failed"].as_array().unwrap();
    assert!(
        dropped
            .iter()
            .all(|d| d["reason"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(
        slices.len() + dropped.len() + failed.len(),
        expiries.len(),
        "{}: expiries unaccounted for",
        file.display()
    );
    // Quotes of this underlying: each is used, the unused in-the-money side of a used strike,
    // or rejected with a reason (dropped expiries' quotes too).
    let by_stage = |stage: &str| rejected.iter().filter(|r| r["stage"] == stage).count();
    assert_eq!(
        used + itm + by_stage("slice"),
        num(ingest, "quotes") as usize,
        "{}: quotes unaccounted for",
        file.display()
    );
    (slices.len(), rows, by_stage("ingest"))
}

#[test]
fn calibrate_every_real_chain() {
    let files = CHAIN_FILES;
    for f in files {
        let file = shared_data(f);
        let out = tmp(&f.replace('/', "_"));
        let o = volfit(
            &[
                "calibrate",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--no-plots",
            ],
            "",
        );
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (chains, _) = read_chains(&file, Format::Auto).unwrap();
        let mut fitted = 0;
        let (mut ingest_rejected, mut file_rows) = (0, 0);
        for c in &chains {
            let dir = if chains.len() > 1 {
                out.join(&c.underlying)
            } else {
                out.clone()
            };
            let (n, rows, rej) = check_report(&dir, &file, &c.underlying);
            fitted += n;
            (file_rows, ingest_rejected) = (rows, rej);
            // surface.json loads, re-saves to the same bytes, and `volfit vol` agrees with
            // the library bit for bit.
            let path = dir.join("surface.json");
            let s = FittedSurface::load(&path).unwrap();
            let again = dir.join("again.json");
            s.save(&again).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(&again).unwrap()
            );
            let t = s.slices()[s.slices().len() / 2].t * 0.9;
            let k = s.forward(t) * 1.05;
            let v = volfit(
                &[
                    "vol",
                    path.to_str().unwrap(),
                    "--strike",
                    &k.to_string(),
                    "--t",
                    &t.to_string(),
                ],
                "",
            );
            assert!(v.status.success());
            let printed: f64 = String::from_utf8_lossy(&v.stdout)
                .lines()
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(printed.to_bits(), s.vol(k, t).to_bits(), "{f}");
            let chk = volfit(&["check", path.to_str().unwrap()], "");
            let code = chk.status.code().unwrap();
            assert!(code == 0 || code == 1, "{f}: check exit {code}");
            assert_eq!(code == 0, s.arbitrage_check().arbitrage_free);
        }
        assert!(fitted > 0, "{f}");
        // Rows of the file: every one a quote of some underlying or an ingest rejection.
        let quotes: usize = chains.iter().map(|c| c.quotes.len()).sum();
        assert_eq!(
            quotes + ingest_rejected,
            file_rows,
            "{f}: rows unaccounted for"
        );
        std::fs::remove_dir_all(&out).ok();
    }
}

/// The README's main job: the committed sample chain, charts and page included.
#[test]
fn calibrate_the_sample_chain_with_charts() {
    let out = tmp("sample");
    let sample = root().join("data/sample_chain.csv");
    let o = volfit(
        &[
            "calibrate",
            sample.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(check_report(&out, &sample, "BTC").0 >= 8);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let pngs: Vec<_> = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .collect();
    assert!(pngs.len() >= 13);
    for p in &pngs {
        assert!(html.contains(&format!("plots/{}", p.file_name().to_string_lossy())));
    }
    // The sample's truth is free of arbitrage and the fit recovers it within the noise.
    let s = FittedSurface::load(out.join("surface.json")).unwrap();
    let spec = volfit::sample::SampleSpec::default();
    for t in [0.05, 0.3, 0.8] {
        for k in [-0.2, 0.0, 0.2] {
            let f = spec.forward(t);
            let err = (s.vol(f * f64::exp(k), t) - spec.vol(k, t)).abs();
            assert!(err < 0.01, "t {t} k {k}: {err}");
        }
    }
    std::fs::remove_dir_all(&out).ok();
}

/// `volfit sample` reproduces the committed data/sample_chain.csv byte for byte.
#[test]
fn sample_is_reproducible() {
    let out = tmp("sample-file");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("s.csv");
    let o = volfit(&["sample", "--out", path.to_str().unwrap()], "");
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(root().join("data/sample_chain.csv")).unwrap()
    );
    std::fs::remove_dir_all(&out).ok();
}

/// Several files (a glob) and several underlyings go to their own directories.
#[test]
fn globs_and_several_underlyings() {
    let out = tmp("glob");
    let pattern = shared_data("deribit/deribit_options_snapshot_2026*.csv");
    let o = volfit(
        &[
            "calibrate",
            pattern.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
            "--model",
            "ssvi",
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for stem in [
        "deribit_options_snapshot_20260215T153420Z",
        "deribit_options_snapshot_20260415T161504Z",
    ] {
        for u in ["BTC", "ETH"] {
            assert!(
                out.join(stem).join(u).join("surface.json").exists(),
                "{stem}/{u}"
            );
        }
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn errors_say_what_to_do() {
    let o = volfit(&["calibrate", "no/such/file.csv"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.csv"));
    let file = shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv");
    let o = volfit(
        &[
            "calibrate",
            file.to_str().unwrap(),
            "--underlying",
            "SOL",
            "--no-plots",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("SOL") && err.contains("BTC") && err.contains("ETH"),
        "{err}"
    );
    let o = volfit(
        &["calibrate", file.to_str().unwrap(), "--model", "heston"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values"));
    let o = volfit(&["vol", "missing.json", "--strike", "1", "--t", "1"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
}

/// `vol` outside the domain, or where the surface has no answer, says so (exit 2) instead of
/// printing NaN, inf or 0.
#[test]
fn vol_outside_the_domain_is_an_error() {
    let out = tmp("vol-domain");
    let sample = root().join("data/sample_chain.csv");
    let o = volfit(
        &[
            "calibrate",
            sample.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let surface = out.join("surface.json");
    let s = surface.to_str().unwrap();
    for (strike, t) in [
        ("-1", "0.5"),
        ("nan", "0.5"),
        ("100000", "0"),
        ("100000", "1e300"),
    ] {
        let o = volfit(&["vol", s, "--strike", strike, "--t", t], "");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(2), "{strike} {t}: {stdout}");
        assert!(
            stdout.is_empty() && !stderr.is_empty(),
            "{strike} {t}: {stdout} / {stderr}"
        );
    }
    let o = volfit(
        &[
            "vol", s, "--strike", "100000", "--t", "0.5", "--kind", "put",
        ],
        "",
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<f64> = stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert!(
        lines.len() == 2 && lines.iter().all(|v| v.is_finite() && *v > 0.0),
        "{stdout}"
    );
    std::fs::remove_dir_all(&out).ok();
}

/// The hardening issue's extreme `vol` queries on SVI, SSVI, eSSVI and SABR surfaces (SABR and
/// SSVI used to print a vol of 0, and `--kind` a price of 0 or NaN): each prints exactly the
/// library's finite positive answer, or exits 2 with stdout empty and a short message naming
/// the number that is out of range. Expected answers come from the same surface loaded with
/// `FittedSurface::load` (the library's query domain is tested in `surface::queries`).
#[test]
fn vol_at_extreme_inputs_prints_an_answer_or_names_the_domain() {
    use volfit::OptionKind;
    use volfit::surface::QueryError;
    let sample = root().join("data/sample_chain.csv");
    for model in ["svi", "ssvi", "essvi", "sabr"] {
        let out = tmp(&format!("vol-extreme-{model}"));
        let o = volfit(
            &[
                "calibrate",
                sample.to_str().unwrap(),
                "--model",
                model,
                "--out",
                out.to_str().unwrap(),
                "--no-plots",
            ],
            "",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let path = out.join("surface.json");
        let lib = FittedSurface::load(&path).unwrap();
        let f0 = lib.forward(5e-324);
        let (mut answered, mut refused) = (0, 0);
        for (strike, t) in [
            ("1e308", "0.5"),
            ("100000", "100000"),
            ("100000", "1e300"),
            ("100000", "5e-324"),
            ("5e-324", "0.5"),
        ] {
            let (k, tt): (f64, f64) = (strike.parse().unwrap(), t.parse().unwrap());
            for kind in [None, Some(OptionKind::Call), Some(OptionKind::Put)] {
                let mut args = vec!["vol", path.to_str().unwrap(), "--strike", strike, "--t", t];
                let name = kind.map(|k| k.to_string());
                if let Some(n) = &name {
                    args.extend(["--kind", n]);
                }
                let o = volfit(&args, "");
                let (stdout, stderr) = (
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr),
                );
                let at = format!("{model} --strike {strike} --t {t} --kind {name:?}");
                // The library's answer: the vol, then the discounted price.
                let want: Result<Vec<f64>, QueryError> = lib.try_vol(k, tt).and_then(|v| {
                    let mut lines = vec![v];
                    if let Some(kind) = kind {
                        let p = lib.try_price(kind, k, tt)? * lib.discount(tt).unwrap_or(1.0);
                        lines.push(p);
                    }
                    Ok(lines)
                });
                match want {
                    Ok(lines) => {
                        answered += 1;
                        assert!(o.status.success(), "{at}: {stderr}");
                        let got: Vec<f64> = stdout.lines().map(|l| l.parse().unwrap()).collect();
                        assert_eq!(got, lines, "{at}");
                        assert!(got.iter().all(|v| v.is_finite() && *v > 0.0), "{at}");
                    }
                    Err(e) => {
                        refused += 1;
                        assert_eq!(o.status.code(), Some(2), "{at}: {stdout}");
                        assert!(stdout.is_empty(), "{at}: {stdout}");
                        assert!(stderr.contains(&e.to_string()), "{at}: {stderr} vs {e}");
                        assert!(stderr.len() < 300, "{at}: numbers spelled out: {stderr}");
                    }
                }
            }
        }
        // What each case must be, whatever the model: the vols at 1e308, 5e-324 (strike or t)
        // exist; a call struck at 1e308 and a put struck at 5e-324 are worth less than any
        // normal double; the forward after 1e5 years (e^{r·1e5}) overflows; at 1e300 years
        // there is no vol.
        for (k, t) in [(1e308, 0.5), (1e5, 5e-324), (5e-324, 0.5), (1e5, 1e5)] {
            assert!(lib.try_vol(k, t).is_ok(), "{model} {k:e} {t:e}");
        }
        let out_of_range = |r: Result<f64, QueryError>, what: &str| matches!(r, Err(QueryError::Unrepresentable { what: w, .. }) if w == what);
        assert!(out_of_range(
            lib.try_price(OptionKind::Call, 1e308, 0.5),
            "price"
        ));
        assert!(out_of_range(
            lib.try_price(OptionKind::Put, 5e-324, 0.5),
            "price"
        ));
        assert!(out_of_range(
            lib.try_price(OptionKind::Call, 1e5, 1e5),
            "forward"
        ));
        assert!(lib.try_vol(1e5, 1e300).is_err());
        // The put at 1e5 with t = 5e-324 (F ≈ spot < 1e5) is its intrinsic value.
        assert_eq!(lib.try_price(OptionKind::Put, 1e5, 5e-324), Ok(1e5 - f0));
        assert!(
            answered >= 6 && refused >= 5,
            "{model}: {answered} / {refused}"
        );
        std::fs::remove_dir_all(&out).ok();
    }
}

/// `check` exits 1 on a surface with calendar arbitrage and says where.
#[test]
fn check_flags_arbitrage() {
    let out = tmp("check");
    std::fs::create_dir_all(&out).unwrap();
    let early = volfit::models::svi::Svi::new(0.01, 0.1, -0.3, 0.0, 0.2).unwrap();
    let late =
        volfit::models::svi::Svi::new(0.005, early.b(), early.rho(), early.m(), early.sigma())
            .unwrap();
    let s = FittedSurface::new(
        "X".into(),
        None,
        None,
        vec![
            SurfaceSlice {
                expiry: None,
                t: 0.5,
                forward: 100.0,
                discount: 1.0,
                model: SliceModel::Svi(early),
                quoted_k: None,
            },
            SurfaceSlice {
                expiry: None,
                t: 0.6,
                forward: 100.0,
                discount: 1.0,
                model: SliceModel::Svi(late),
                quoted_k: None,
            },
        ],
    )
    .unwrap();
    let path = out.join("bad.json");
    s.save(&path).unwrap();
    let o = volfit(&["check", path.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("calendar ARBITRAGE"));
    std::fs::remove_dir_all(&out).ok();
}
