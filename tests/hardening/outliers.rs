//! The post-fit outlier rule: a quote far outside its spread from the fitted smile is dropped,
//! reported and the expiry refitted; on clean real chains it drops nothing.

use crate::common::{CHAIN_FILES, shared_data};
use volfit::quotes::{Format, read_chains, read_chains_from_str};
use volfit::surface::{RunReport, SurfaceOptions, VolSurface, calibrate_surface};

#[test]
fn clean_real_chains_have_no_outliers() {
    let mut quotes = 0;
    for name in CHAIN_FILES {
        let (chains, _) = read_chains(shared_data(name), Format::Auto).unwrap();
        for c in &chains {
            let (_, r) = calibrate_surface(c, &SurfaceOptions::default()).unwrap();
            quotes += r.quotes_used();
            for s in &r.slices {
                assert!(
                    s.excluded
                        .iter()
                        .all(|e| !e.reason.to_string().starts_with("outlier")),
                    "{name} t={}",
                    s.t
                );
            }
        }
    }
    assert!(quotes > 16_000, "{quotes}");
}

#[test]
fn a_mistyped_vol_quote_is_dropped_reported_and_refitted() {
    let path = shared_data("spx_gatheral/spx_ivols_20050915.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    // Line 91: the 2005-10-22 expiry's 1150 strike, bid and ask vol both 25 points too high
    // (two-sided, inside every filter).
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut f: Vec<String> = lines[90].split(',').map(str::to_string).collect();
    assert_eq!((f[0].as_str(), f[2].as_str()), ("20051022", "1150.0"));
    for c in [3, 4] {
        f[c] = (f[c].parse::<f64>().unwrap() + 0.25).to_string();
    }
    lines[90] = f.join(",");
    let edited = lines.join("\n");
    let (clean, _) = read_chains(&path, Format::Auto).unwrap();
    let (chains, ingest) = read_chains_from_str(&edited, &path, Format::Auto).unwrap();
    let (base, _) = calibrate_surface(&clean[0], &SurfaceOptions::default()).unwrap();
    let (s, r) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let run = RunReport::new("x", &ingest, &chains[0], &r, 0.0, 0.0);
    let row = run
        .ingest
        .rejected
        .iter()
        .find(|x| x.line == 91)
        .expect("line 91 reported");
    assert!(row.reason.starts_with("outlier"), "{}", row.reason);
    assert_eq!(
        run.ingest.quotes,
        run.ingest.quotes_used
            + run.ingest.itm_side_unused
            + run.ingest.rejected.iter().filter(|x| x.line > 0).count()
    );
    let t = r
        .slices
        .iter()
        .find(|x| (x.t - 0.0986).abs() < 1e-3)
        .unwrap()
        .t;
    let atm = |s: &volfit::surface::FittedSurface| s.vol(s.forward(t) * 0.9345, t);
    assert!(
        (atm(&s) - atm(&base)).abs() < 2e-3,
        "{} vs {}",
        atm(&s),
        atm(&base)
    );
    // Without the rule the quote is fitted and pulls the smile at its strike.
    let off = SurfaceOptions {
        outliers: false,
        ..SurfaceOptions::default()
    };
    let (s_off, r_off) = calibrate_surface(&chains[0], &off).unwrap();
    let run_off = RunReport::new("x", &ingest, &chains[0], &r_off, 0.0, 0.0);
    assert!(!run_off.names_line(91));
    assert!((atm(&s_off) - atm(&base)).abs() > (atm(&s) - atm(&base)).abs());
}

/// Through the CLI: the outlier is in report.json's rejected rows by default, and
/// `--keep-outliers` keeps it in the fit.
#[test]
fn calibrate_reports_outliers_unless_told_to_keep_them() {
    let path = shared_data("spx_gatheral/spx_ivols_20050915.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut f: Vec<String> = lines[90].split(',').map(str::to_string).collect();
    for c in [3, 4] {
        f[c] = (f[c].parse::<f64>().unwrap() + 0.25).to_string();
    }
    lines[90] = f.join(",");
    let dir = std::env::temp_dir().join(format!("volfit-outliers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("spx_ivols_20050915.csv");
    std::fs::write(&input, lines.join("\n")).unwrap();
    for (flag, reported) in [(None, true), (Some("--keep-outliers"), false)] {
        let out = dir.join(if reported { "default" } else { "kept" });
        let mut args = vec![
            "calibrate",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
        ];
        args.extend(flag);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_volfit"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        let named = r["ingest"]["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["line"] == 91 && x["reason"].as_str().unwrap().starts_with("outlier"));
        assert_eq!(named, reported, "{flag:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
