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

/// The sample chain calibrated (no charts) into a fresh `tmp(name)`: the output directory and
/// its surface.json.
fn sample_surface(name: &str) -> (PathBuf, PathBuf) {
    let out = tmp(name);
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
    (out, surface)
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
        // Numbers, names, nested objects (the spline's SVI base) and arrays of numbers (its
        // coefficients).
        assert!(s["params"].as_object().is_some_and(|p| {
            p.values().all(|v| {
                v.as_f64().is_some_and(f64::is_finite)
                    || v.is_string()
                    || v.is_object()
                    || v.as_array()
                        .is_some_and(|a| a.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)))
            })
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
    let (out, surface) = sample_surface("vol-domain");
    let s = surface.to_str().unwrap();
    for (strike, t) in [("-1", "0.5"), ("nan", "0.5"), ("100000", "0")] {
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
    // A surface stored with `after_last: refuse` has no vol after its last expiry.
    let refusing = FittedSurface::load(&surface)
        .unwrap()
        .with_extrapolation(volfit::surface::Extrapolation {
            after_last: volfit::surface::AfterLast::Refuse,
            ..Default::default()
        })
        .unwrap();
    let refusing_path = out.join("refusing.json");
    refusing.save(&refusing_path).unwrap();
    let o = volfit(
        &[
            "vol",
            refusing_path.to_str().unwrap(),
            "--strike",
            "100000",
            "--t",
            "50",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("after the last expiry"));
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
        // At t = 1e300: the after-last extrapolation's vol (at least σ∞), or no vol.
        if let Ok(v) = lib.try_vol(1e5, 1e300) {
            assert!(v.is_finite() && v >= lib.after_last_vol().unwrap() * (1.0 - 1e-12));
        }
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
    // Served as fitted (the envelope off, as `--calendar report` stores it) the later expiry
    // dips below the earlier one: arbitrage, exit 1.
    let raw = s
        .clone()
        .with_extrapolation(volfit::surface::Extrapolation {
            calendar_envelope: false,
            ..Default::default()
        })
        .unwrap();
    let path = out.join("bad.json");
    raw.save(&path).unwrap();
    let o = volfit(&["check", path.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("calendar ARBITRAGE"));
    // Served (the default) the fits' violation is reported and the surface is free of it.
    let path = out.join("served.json");
    s.save(&path).unwrap();
    let o = volfit(&["check", path.to_str().unwrap()], "");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("served"), "{stdout}");
    std::fs::remove_dir_all(&out).ok();
}

/// The sample chain once per name in `underlyings`, as one generic CSV (its `underlying`
/// column names each copy; a Deribit file's `currency` must agree with its instrument names).
fn chain_of_underlyings(underlyings: &[&str]) -> String {
    let sample = volfit::sample::SampleSpec::default().to_deribit_csv();
    let mut lines = sample.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let cols = [
        col("expiry_datetime"),
        col("strike"),
        col("option_type"),
        col("bid_price"),
        col("ask_price"),
        col("underlying"),
        col("timestamp"),
    ];
    let rows: Vec<&str> = lines.collect();
    let mut out =
        String::from("underlying,expiry,strike,kind,bid,ask,forward,as_of,premium_unit\n");
    for u in underlyings {
        assert!(!u.contains(','), "{u}");
        for r in &rows {
            let f: Vec<&str> = r.split(',').collect();
            out.push_str(u);
            for c in cols {
                out.push(',');
                out.push_str(f[c]);
            }
            out.push_str(",coin\n");
        }
    }
    out
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files under `dir` that look like leftovers of an atomic write: a hidden name or a `.tmp`
/// extension (the CLI itself writes neither).
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            let hidden = f.file_name().unwrap().to_string_lossy().starts_with('.');
            hidden || f.extension().is_some_and(|e| e.eq_ignore_ascii_case("tmp"))
        })
        .collect()
}

/// The underlying of each direct subdirectory of `out` (from its report.json).
fn underlying_dirs(out: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let r: Value =
                serde_json::from_str(&std::fs::read_to_string(p.join("report.json")).unwrap())
                    .unwrap();
            (
                r["underlying"].as_str().unwrap().to_string(),
                p.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Underlyings that are paths (`../../x`, `/abs/x`, `..`, an absolute path elsewhere in the
/// test's directory) are written inside --out, each in one directory of its own; `A`, `./A`
/// and `a` get three directories (`a` collides with `A` ignoring case, so it gets `a-2`), and
/// stderr says which went where.
#[test]
fn underlying_names_cannot_leave_out() {
    let base = tmp("names");
    let out = base.join("a/b/out");
    std::fs::create_dir_all(&out).unwrap();
    let elsewhere = base.join("abs/x");
    let elsewhere = elsewhere.to_str().unwrap();
    let abs_before = Path::new("/abs/x").exists();
    let names = ["../../x", "/abs/x", elsewhere, "..", "A", "./A", "a", "BTC"];
    let input = base.join("chain.csv");
    std::fs::write(&input, chain_of_underlyings(&names)).unwrap();
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // Nothing outside --out but the input.
    for f in files_under(&base) {
        assert!(f.starts_with(&out) || f == input, "{} escaped", f.display());
    }
    if !abs_before {
        assert!(!Path::new("/abs/x").exists(), "/abs/x was written");
    }
    // One directory per underlying, each a single plain component of --out.
    let dirs = underlying_dirs(&out);
    assert_eq!(
        dirs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        names.iter().copied().collect::<BTreeSet<_>>()
    );
    for (u, d) in &dirs {
        assert!(out.join(d).join("surface.json").is_file(), "{u}");
        assert!(!d.contains('/') && !d.contains('\\') && d != ".." && d != ".");
        assert_eq!(
            FittedSurface::load(out.join(d).join("surface.json"))
                .unwrap()
                .underlying(),
            u
        );
    }
    for (u, d) in [
        ("../../x", "%2E.%2F..%2Fx"),
        ("/abs/x", "%2Fabs%2Fx"),
        ("..", "%2E%2E"),
        ("A", "A"),
        ("./A", "%2E%2FA"),
        ("a", "a-2"),
        ("BTC", "BTC"),
    ] {
        assert_eq!(dirs[u], d, "{u}");
    }
    // Stderr says where each renamed underlying went; stdout's summaries name every directory.
    let stdout = String::from_utf8_lossy(&o.stdout);
    for u in ["../../x", "/abs/x", "..", "./A", "a"] {
        let note = stderr
            .lines()
            .find(|l| l.contains(&format!("underlying {u:?} ->")))
            .unwrap_or_else(|| panic!("no note for {u}: {stderr}"));
        assert!(note.contains(&dirs[u]), "{note}");
    }
    assert!(stderr.contains("already taken by \"A\""), "{stderr}");
    assert!(!stderr.contains("underlying \"BTC\""), "{stderr}");
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    for d in dirs.values() {
        assert!(
            stdout.lines().any(|l| l.ends_with(&format!("/{d}"))),
            "{d}: {stdout}"
        );
    }
    std::fs::remove_dir_all(&base).ok();
}

/// A directory holding `X.csv`, `x.CSV` and `x.csv`: stems `X`, `x`, `x` (one ignoring
/// case), so three output directories: in sorted order `X.csv` keeps `X`, `x.CSV` gets `x-2`
/// and `x.csv` gets `x-3`, each with its own input's report; stderr names the two renamed
/// inputs, and no temporary file is left.
#[test]
fn files_whose_stems_collide_get_distinct_directories() {
    let base = tmp("stems");
    let input = base.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for (name, seed) in [("x.csv", "7"), ("x.CSV", "8"), ("X.csv", "9")] {
        let o = volfit(
            &[
                "sample",
                "--out",
                input.join(name).to_str().unwrap(),
                "--seed",
                seed,
            ],
            "",
        );
        assert!(o.status.success());
    }
    if std::fs::read_dir(&input).unwrap().count() != 3 {
        eprintln!("skipped: the temporary directory is case-insensitive");
        std::fs::remove_dir_all(&base).ok();
        return;
    }
    let out = base.join("out");
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let mut dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["X", "x-2", "x-3"]);
    for (dir, file) in [("X", "X.csv"), ("x-2", "x.CSV"), ("x-3", "x.csv")] {
        let r: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(dir).join("report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            Path::new(r["input"].as_str().unwrap()),
            input.join(file),
            "{dir}"
        );
    }
    // Different inputs, different surfaces: nothing mixed or overwritten.
    let surfaces: BTreeSet<Vec<u8>> = dirs
        .iter()
        .map(|d| std::fs::read(out.join(d).join("surface.json")).unwrap())
        .collect();
    assert_eq!(surfaces.len(), 3);
    for (file, dir) in [("x.CSV", "x-2"), ("x.csv", "x-3")] {
        let note = stderr
            .lines()
            .find(|l| l.contains(&format!("{file} ->")))
            .unwrap_or_else(|| panic!("no note for {file}: {stderr}"));
        assert!(
            note.contains(&format!("/{dir} (")) && note.contains("already taken by"),
            "{note}"
        );
    }
    assert!(!stderr.contains("X.csv ->"), "{stderr}");
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&base).ok();
}

/// Two underlyings `x` and `X` in one file: two directories (`X`, then `x-2` in the sorted
/// order of the chains), distinct even on a case-insensitive filesystem, each holding its
/// own underlying's surface.
#[test]
fn underlyings_differing_in_case_get_two_directories() {
    let base = tmp("case");
    std::fs::create_dir_all(&base).unwrap();
    let input = base.join("chain.csv");
    std::fs::write(&input, chain_of_underlyings(&["x", "X"])).unwrap();
    let out = base.join("out");
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let dirs = underlying_dirs(&out);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert_eq!(dirs["X"], "X");
    assert_eq!(dirs["x"], "x-2");
    for (u, d) in &dirs {
        assert_eq!(
            FittedSurface::load(out.join(d).join("surface.json"))
                .unwrap()
                .underlying(),
            u
        );
    }
    assert!(
        stderr.contains("underlying \"x\" ->") && stderr.contains("already taken by \"X\""),
        "{stderr}"
    );
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&base).ok();
}

/// A reader of the outputs while `calibrate` rewrites them (20 times) only ever sees whole
/// files: surface.json loads, report.json parses, report.html, a PNG and an SVG are complete.
#[test]
fn readers_never_see_a_partial_file() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let out = tmp("atomic");
    let sample = root().join("data/sample_chain.csv");
    let args = [
        "calibrate",
        sample.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    assert!(volfit(&args, "").status.success());
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (out, stop, reads) = (out.clone(), Arc::clone(&stop), Arc::clone(&reads));
        std::thread::spawn(move || {
            let mut bad = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let read = |name: &str| std::fs::read(out.join(name)).unwrap();
                if let Err(e) = FittedSurface::load(out.join("surface.json")) {
                    bad.push(format!("surface.json: {e}"));
                }
                if let Err(e) = serde_json::from_slice::<Value>(&read("report.json")) {
                    bad.push(format!("report.json: {e}"));
                }
                if !read("report.html").ends_with(b"</html>\n") {
                    bad.push("report.html: truncated".into());
                }
                let png = read("plots/term_structure.png");
                if !(png.starts_with(b"\x89PNG\r\n\x1a\n")
                    && png.ends_with(b"IEND\xae\x42\x60\x82"))
                {
                    bad.push(format!(
                        "term_structure.png: {} bytes, truncated",
                        png.len()
                    ));
                }
                if !read("plots/density.svg")
                    .trim_ascii_end()
                    .ends_with(b"</svg>")
                {
                    bad.push("density.svg: truncated".into());
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
            bad
        })
    };
    for _ in 0..20 {
        let o = volfit(&args, "");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    stop.store(true, Ordering::Relaxed);
    let bad = reader.join().unwrap();
    assert!(
        bad.is_empty(),
        "{} partial reads: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    // The reader really ran during the rewrites.
    assert!(
        reads.load(Ordering::Relaxed) >= 20,
        "{} reads",
        reads.load(Ordering::Relaxed)
    );
    // And no temporary file is left.
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&out).ok();
}

/// `volfit sample --out NAME` with no directory part writes into the current directory (the
/// atomic write's temporary file goes there too, and is gone after).
#[test]
fn sample_into_the_current_directory() {
    let dir = tmp("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let o = super::volfit_in(&dir, &["sample", "--out", "s.csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.csv"]);
    assert_eq!(
        std::fs::read(dir.join("s.csv")).unwrap(),
        std::fs::read(root().join("data/sample_chain.csv")).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `volfit ARGS` in `dir` with files limited to `blocks` × 512 bytes (`ulimit -f`) and
/// `SIGXFSZ` ignored, so a write past the limit fails with `EFBIG` part-way through a file.
#[cfg(target_os = "linux")]
fn volfit_with_file_limit(dir: &Path, blocks: u32, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f \"$1\" || exit 99; shift; exec \"$@\"")
        .arg("sh")
        .arg(blocks.to_string())
        .arg(env!("CARGO_BIN_EXE_volfit"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn sh")
}

/// `volfit sample` over an existing file whose write fails part-way (file size limit): the
/// old file is left as it was, byte for byte, and no temporary file is left beside it. (A
/// plain `std::fs::write` would have left the first 512 bytes of the new file.)
#[cfg(target_os = "linux")]
#[test]
fn sample_that_fails_to_write_keeps_the_old_file() {
    let dir = tmp("sample-limit");
    std::fs::create_dir_all(&dir).unwrap();
    let o = super::volfit_in(&dir, &["sample", "--out", "s.csv", "--seed", "7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(dir.join("s.csv")).unwrap();
    assert!(before.len() > 4 * 512);
    let o = volfit_with_file_limit(&dir, 1, &["sample", "--out", "s.csv", "--seed", "8"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(99), "ulimit refused: {stderr}");
    assert!(!o.status.success(), "the write should have failed");
    assert!(
        stderr.contains("cannot write s.csv") && stderr.contains("too large"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.join("s.csv")).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.csv"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// `calibrate` re-run over a finished output directory on a changed input, with files limited
/// to 64 KiB: surface.json (a few KiB) is replaced whole, the first chart (about 100 KiB of
/// PNG) fails part-way and keeps its old bytes, the run exits non-zero, and every file in the
/// directory is still whole (surface loads, JSON parses, each PNG decodes to its last chunk,
/// each SVG and the page are closed); no temporary file is left.
#[cfg(target_os = "linux")]
#[test]
fn calibrate_that_fails_to_write_leaves_only_whole_files() {
    use std::collections::BTreeMap;
    let base = tmp("calibrate-limit");
    std::fs::create_dir_all(&base).unwrap();
    let o = super::volfit_in(&base, &["sample", "--out", "in.csv", "--seed", "7"]);
    assert!(o.status.success());
    let args = ["calibrate", "in.csv", "--out", "out"];
    let o = super::volfit_in(&base, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = base.join("out");
    let snapshot = || -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&out)
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap();
                (f.strip_prefix(&out).unwrap().to_path_buf(), bytes)
            })
            .collect()
    };
    let before = snapshot();
    assert!(before.keys().any(|f| f.starts_with("plots")));
    // A new input: every output would change.
    let o = super::volfit_in(&base, &["sample", "--out", "in.csv", "--seed", "8"]);
    assert!(o.status.success());
    let o = volfit_with_file_limit(&base, 128, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(99), "ulimit refused: {stderr}");
    assert!(!o.status.success(), "a write should have failed: {stderr}");
    assert!(stderr.contains("too large"), "{stderr}");
    let after = snapshot();
    // The same files, no temporary one among them.
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    // The small surface.json was rewritten whole from the new input.
    let surface = Path::new("surface.json");
    assert_ne!(after[surface], before[surface]);
    FittedSurface::load(out.join(surface)).unwrap();
    // The chart whose write failed (named on stderr) kept its old bytes.
    let failed = stderr
        .split("chart ")
        .nth(1)
        .and_then(|s| s.split(": ").next())
        .unwrap_or_else(|| panic!("no failed chart named: {stderr}"));
    let failed = Path::new(failed).strip_prefix("out").unwrap();
    assert_eq!(after[failed], before[failed], "{}", failed.display());
    // Every file is whole.
    for (f, bytes) in &after {
        let name = f.display();
        match f.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                serde_json::from_slice::<Value>(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Some("html") => assert!(bytes.ends_with(b"</html>\n"), "{name}"),
            Some("svg") => assert!(bytes.trim_ascii_end().ends_with(b"</svg>"), "{name}"),
            Some("png") => {
                let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
                    .read_info()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let mut buf = vec![0; r.output_buffer_size()];
                r.next_frame(&mut buf)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                r.finish().unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => panic!("unexpected file {name}"),
        }
    }
    std::fs::remove_dir_all(&base).ok();
}

/// One input whose only chain cannot be calibrated: nothing written, exit 2 (it used to say 1,
/// "some inputs failed"), and the message names why.
#[test]
fn an_input_with_nothing_calibrated_exits_2() {
    let base = tmp("nothing");
    std::fs::create_dir_all(&base).unwrap();
    let input = base.join("tiny.csv");
    std::fs::write(
        &input,
        "underlying,expiry,strike,kind,bid_iv,ask_iv,forward\nX,2030-01-01,100,call,0.2,0.21,100\nX,2030-01-01,110,call,0.2,0.21,100\n",
    )
    .unwrap();
    let out = base.join("out");
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no expiry could be fitted"), "{stderr}");
    assert!(!out.join("surface.json").exists());
    std::fs::remove_dir_all(&base).ok();
}

/// `volfit vol` says on stderr when the answer is extrapolated, and nothing when it is not;
/// stdout holds the vol either way.
#[test]
fn vol_says_when_it_extrapolates() {
    let (out, path) = sample_surface("vol-extrapolated");
    let s = volfit::surface::FittedSurface::load(&path).unwrap();
    let mid = &s.slices()[s.slices().len() / 2];
    let [lo, hi] = mid.quoted_k.unwrap();
    let inside = format!("{}", mid.forward * (0.5 * (lo + hi)).exp());
    let t_mid = mid.t.to_string();
    let p = path.to_str().unwrap();
    for (strike, t, note) in [
        (inside.as_str(), t_mid.as_str(), None),
        (inside.as_str(), "5", Some("after the last expiry")),
        ("1000000", t_mid.as_str(), Some("beyond the quoted range")),
    ] {
        let o = volfit(&["vol", p, "--strike", strike, "--t", t], "");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        let v: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        assert!(v > 0.0 && v.is_finite());
        match note {
            None => assert!(stderr.is_empty(), "{stderr}"),
            Some(n) => assert!(
                stderr.contains("volfit: note: extrapolated") && stderr.contains(n),
                "{stderr}"
            ),
        }
    }
    std::fs::remove_dir_all(&out).ok();
}

/// `volfit vol --expiry DATE` answers what `--t` answers for that date's year fraction, and
/// refuses a date before the surface's `as_of`.
#[test]
fn vol_by_expiry_date() {
    let (out, path) = sample_surface("vol-expiry");
    let s = volfit::surface::FittedSurface::load(&path).unwrap();
    let x = &s.slices()[3];
    let date = x.expiry.unwrap().to_rfc3339();
    let p = path.to_str().unwrap();
    let by_date = volfit(&["vol", p, "--strike", "95000", "--expiry", &date], "");
    let by_t = volfit(
        &["vol", p, "--strike", "95000", "--t", &x.t.to_string()],
        "",
    );
    assert!(
        by_date.status.success(),
        "{}",
        String::from_utf8_lossy(&by_date.stderr)
    );
    assert_eq!(by_date.stdout, by_t.stdout);
    let early = volfit(
        &["vol", p, "--strike", "95000", "--expiry", "2020-01-01"],
        "",
    );
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("not after the surface's as_of"));
    std::fs::remove_dir_all(&out).ok();
}

/// The review page lists the run's rejected rows (reader and slice stages), as many as
/// report.json has, each with its line.
#[test]
fn the_review_page_lists_rejected_rows() {
    let out = tmp("page-rejected");
    let input = shared_data("spx_cboe_2011/SPX-Options-24jan2011.csv");
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let rejected = r["ingest"]["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty());
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains(&format!("<h2>Rejected rows ({})</h2>", rejected.len())));
    let first = &rejected[0];
    assert!(
        page.contains(&format!("<tr><td>{}</td>", first["line"])),
        "line {}",
        first["line"]
    );
    std::fs::remove_dir_all(&out).ok();
}

/// `--strict` exits 1 when an expiry is flagged and writes everything as usual: Deribit
/// 2020-05-21's 2020-05-22 expiry has 5 quotes for SVI's 5 parameters (an exact fit, whose
/// zero errors prove nothing); without `--strict` the same run exits 0.
#[test]
fn strict_fails_on_a_flagged_expiry() {
    let out = tmp("strict");
    let input = shared_data("deribit/deribit_api_book_20200521.csv");
    let run = |strict: bool| {
        let mut args = vec![
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ];
        if strict {
            args.push("--strict");
        }
        volfit(&args, "")
    };
    let o = run(true);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let slices = r["slices"].as_array().unwrap();
    let flagged = slices
        .iter()
        .filter(|s| !s["review"]["flags"].as_array().unwrap().is_empty())
        .count();
    assert!(flagged >= 1 && r["flagged"] == flagged, "{flagged}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("--strict: {flagged} expiries flagged")),
        "{stderr}"
    );
    let first = &slices[0];
    assert_eq!(first["n_quotes"], 5);
    assert!(first["fit"]["n_params"].as_u64().unwrap() >= 5);
    assert_eq!(first["review"]["flags"][0]["kind"], "exact_fit");
    let o = run(false);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_dir_all(&out).ok();
}

/// A reused `--out`: the second snapshot's run removes the first one's skew charts (other
/// expiries), keeps files volfit did not name, and the page's header total is the CLI's.
#[test]
fn a_reused_out_keeps_no_stale_charts() {
    let out = tmp("stale");
    let run = |file: &str| {
        let input = shared_data(file);
        let o = volfit(
            &[
                "calibrate",
                input.to_str().unwrap(),
                "--underlying",
                "BTC",
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run("deribit/deribit_options_snapshot_20260215T153420Z.csv");
    let plots = out.join("plots");
    // Files of the user's beside the charts: never touched.
    for f in ["notes.png", "skew_01_20260217.png.bak", "skew_old.svg"] {
        std::fs::write(plots.join(f), "mine").unwrap();
    }
    assert!(plots.join("skew_01_20260217.png").exists());
    let stdout = run("deribit/deribit_options_snapshot_20260415T161504Z.csv");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let dates: BTreeSet<String> = r["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["expiry"].as_str().unwrap()[..10].replace('-', ""))
        .collect();
    let mut skews = 0;
    for e in std::fs::read_dir(&plots).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix("skew_")
            && Path::new(&name)
                .extension()
                .is_some_and(|x| x == "png" || x == "svg")
            && rest.len() > 3
            && rest.as_bytes()[2] == b'_'
        {
            skews += 1;
            assert!(dates.contains(&rest[3..11]), "stale chart {name}");
        }
    }
    assert_eq!(skews, 2 * dates.len(), "a PNG and an SVG per expiry");
    assert!(!plots.join("skew_01_20260217.png").exists());
    for f in ["notes.png", "skew_01_20260217.png.bak", "skew_old.svg"] {
        assert_eq!(
            std::fs::read_to_string(plots.join(f)).unwrap(),
            "mine",
            "{f}"
        );
    }
    // One total: stdout, report.json and the page's header agree.
    let total = format!(
        "{:.1} ms",
        r["timing_micros"]["total"].as_f64().unwrap() / 1e3
    );
    assert!(stdout.contains(&total), "{stdout} vs {total}");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains(&format!("total: <b>{total}</b>")), "{total}");
    // A third run with --no-plots: the second run's page and charts describe another
    // snapshot and go; the user's files stay.
    let input = shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv");
    let o = volfit(
        &[
            "calibrate",
            input.to_str().unwrap(),
            "--underlying",
            "BTC",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.join("report.html").exists());
    let left: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        ["notes.png", "skew_01_20260217.png.bak", "skew_old.svg"]
    );
    std::fs::remove_dir_all(&out).ok();
}

/// A glob of chains gets OUT/index.html: a row per chain linking its review page (which
/// exists) with its headline numbers from its report.json.
#[test]
fn a_glob_gets_an_index_page() {
    let out = tmp("index");
    let pattern = shared_data("deribit/deribit_options_snapshot_2026*.csv");
    let o = volfit(
        &[
            "calibrate",
            pattern.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let mut rows = 0;
    for stem in [
        "deribit_options_snapshot_20260215T153420Z",
        "deribit_options_snapshot_20260415T161504Z",
    ] {
        for u in ["BTC", "ETH"] {
            let link = format!("{stem}/{u}/report.html");
            assert!(out.join(&link).exists(), "{link}");
            let at = index
                .find(&format!("<a href=\"{link}\">"))
                .unwrap_or_else(|| panic!("index misses {link}"));
            let row = &index[at..at + index[at..].find("</tr>").unwrap()];
            let r: Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(stem).join(u).join("report.json")).unwrap(),
            )
            .unwrap();
            let n = r["slices"].as_array().unwrap().len();
            let flagged = r["flagged"].as_u64().unwrap();
            assert!(
                row.contains(&format!("<td>{n}</td>")) && row.contains(&format!(">{flagged}</td>")),
                "{row}"
            );
            rows += 1;
        }
    }
    assert_eq!(index.matches("<tr><td class=\"l\"><a href=").count(), rows);
    std::fs::remove_dir_all(&out).ok();
}
