//! The calibration seam: every model through the one generic fitter, with `no_arbitrage`,
//! objectives and warm starts treated alike; the lists declared once; the types guarding their
//! invariants.

use crate::common::shared_data;
use volfit::SmileSlice;
use volfit::fit::{
    FitOptions, Objective, Optimizer, fit, fit_from, fit_sabr, fit_ssvi, fit_ssvi_with,
};
use volfit::models::sabr::{Sabr, SabrBeta, SabrExpansion, SabrOptions, SabrParams};
use volfit::models::ssvi::{EssviOptions, EssviSlice, Phi, PhiKind, Ssvi, SsviOptions};
use volfit::models::svi::Svi;
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::SurfaceModel;

fn spx_slices(file: &str) -> Vec<SmileSlice> {
    let (chains, _) = read_chains(shared_data(file), Format::Auto).unwrap();
    build_slices(&chains[0], &SliceOptions::default()).0
}

/// Every model fits through the same seam under every optimiser (eSSVI and SABR here; SVI
/// and SSVI in their own tests), recovering a known smile.
#[test]
fn every_model_fits_under_every_optimizer() {
    let truth = EssviSlice::new(0.03, -0.55, 0.25).unwrap();
    let q: Vec<(f64, f64)> = (-10..=10)
        .map(|i| {
            let k = 0.04 * f64::from(i);
            (100.0 * k.exp(), (truth.w(k) / 0.4).sqrt())
        })
        .collect();
    let slice = SmileSlice::from_vols(0.4, 100.0, &q).unwrap();
    let sabr_truth = Sabr::new(100.0, 0.4, 0.3, 1.0, -0.4, 0.7).unwrap();
    let qs: Vec<(f64, f64)> = (0..15)
        .map(|i| {
            let k = 75.0 + 3.5 * f64::from(i);
            (k, sabr_truth.vol(k))
        })
        .collect();
    let sabr_slice = SmileSlice::from_vols(0.4, 100.0, &qs).unwrap();
    // Quasi-Newton polishes stop earlier on these exact-data problems (as in the SVI tests).
    for (optimizer, tol) in [
        (Optimizer::LevenbergMarquardt, 1e-8),
        (Optimizer::Bfgs, 1e-3),
        (Optimizer::Lbfgs, 1e-3),
    ] {
        let opts = FitOptions {
            optimizer,
            ..FitOptions::default()
        };
        let e = fit::<EssviSlice>(&slice, &opts, &EssviOptions::default()).unwrap();
        println!("{optimizer} eSSVI RMSE {:.1e}", e.report.rmse_iv);
        assert!(e.report.rmse_iv < tol, "{optimizer} eSSVI: {:?}", e.report);
        let s = fit_sabr(&sabr_slice, &opts).unwrap();
        println!("{optimizer} SABR RMSE {:.1e}", s.report.rmse_iv);
        assert!(s.report.rmse_iv < tol, "{optimizer} SABR: {:?}", s.report);
    }
}

/// A warm start from the answer stops at once, for every model alike.
#[test]
fn warm_starts_for_every_model() {
    let truth = EssviSlice::new(0.03, -0.55, 0.25).unwrap();
    let q: Vec<(f64, f64)> = (-10..=10)
        .map(|i| {
            let k = 0.04 * f64::from(i);
            (100.0 * k.exp(), (truth.w(k) / 0.4).sqrt())
        })
        .collect();
    let slice = SmileSlice::from_vols(0.4, 100.0, &q).unwrap();
    let o = FitOptions::default();
    let cold = fit::<EssviSlice>(&slice, &o, &EssviOptions::default()).unwrap();
    let warm = fit_from(&slice, &o, &EssviOptions::default(), Some(&cold.model), &[]).unwrap();
    assert!(warm.report.iterations <= 2, "{:?}", warm.report);
    let s = Svi::new(0.01, 0.2, -0.5, 0.0, 0.2).unwrap();
    let q: Vec<(f64, f64)> = (-10..=10)
        .map(|i| {
            let k = 0.05 * f64::from(i);
            (100.0 * k.exp(), (s.w(k) / 0.4).sqrt())
        })
        .collect();
    let slice = SmileSlice::from_vols(0.4, 100.0, &q).unwrap();
    let warm = fit_from(&slice, &o, &(), Some(&s), &[]).unwrap();
    assert!(warm.report.iterations <= 2 && warm.report.rmse_iv < 1e-9);
}

/// SSVI honours the objective (it ignored it before the seam, giving the same fit for both): on
/// a real SPX table with bid and ask vols, the bid/ask objective gives another fit than the mid
/// objective (the counts of quotes inside the spread are printed).
#[test]
fn ssvi_honours_the_objective() {
    let slices = spx_slices("spx_gatheral/spx_ivols_20170424.csv");
    let mid = fit_ssvi(&slices, &FitOptions::default()).unwrap();
    let band = fit_ssvi(
        &slices,
        &FitOptions {
            objective: Objective::BidAsk { mid_weight: 0.2 },
            ..FitOptions::default()
        },
    )
    .unwrap();
    let inside = |r: &[volfit::FitReport]| {
        r.iter()
            .map(|x| x.within_spread.unwrap_or(0.0) * x.n_quotes as f64)
            .sum::<f64>()
    };
    println!(
        "SSVI 2017-04-24: inside bid/ask {:.0} quotes (mid objective) vs {:.0} (bid/ask objective); ρ {:.4} vs {:.4}",
        inside(&mid.reports),
        inside(&band.reports),
        mid.model.rho(),
        band.model.rho()
    );
    assert!(mid.model != band.model);
}

/// The Heston-like φ can be fitted (it could not before the seam): on real SPX tables the
/// surface is free of butterfly and calendar arbitrage, and on data made by a Heston-like
/// SSVI the fit recovers its parameters.
#[test]
fn heston_like_ssvi_fits() {
    for f in [
        "spx_gatheral/spx_ivols_20050915.csv",
        "spx_gatheral/spx_ivols_20191220.csv",
    ] {
        let slices = spx_slices(f);
        let fit = fit_ssvi_with(
            &slices,
            &FitOptions::default(),
            &SsviOptions {
                phi: PhiKind::HestonLike,
            },
        )
        .unwrap();
        assert!(matches!(fit.model.phi(), Phi::HestonLike { .. }));
        assert!(fit.calendar.calendar_free, "{f}: {:?}", fit.calendar);
        assert!(fit.reports.iter().all(|r| r.butterfly_free), "{f}");
        println!("{f}: Heston-like SSVI {:?}", fit.model);
    }
    let truth = Ssvi::new(-0.6, Phi::HestonLike { lambda: 30.0 }).unwrap();
    let slices: Vec<SmileSlice> = [0.1, 0.4, 1.2]
        .iter()
        .map(|&t| {
            let theta = 0.04 * t;
            let q: Vec<(f64, f64)> = (-8..=8)
                .map(|i| {
                    let k = 0.06 * f64::from(i);
                    (100.0 * k.exp(), (truth.w(k, theta) / t).sqrt())
                })
                .collect();
            SmileSlice::from_vols(t, 100.0, &q).unwrap()
        })
        .collect();
    let fit = fit_ssvi_with(
        &slices,
        &FitOptions::default(),
        &SsviOptions {
            phi: PhiKind::HestonLike,
        },
    )
    .unwrap();
    let Phi::HestonLike { lambda } = fit.model.phi() else {
        unreachable!()
    };
    assert!((fit.model.rho() + 0.6).abs() < 1e-4, "{:?}", fit.model);
    assert!((lambda / 30.0 - 1.0).abs() < 1e-3, "{lambda}");
}

/// SABR honours `no_arbitrage` (it ignored it before the seam): quotes from Hagan's
/// expansion where its density is negative (a long expiry with high vol of vol, strikes into
/// the low wing) are fitted exactly without the constraint, and with it the fitted density is
/// non-negative at every quoted strike.
#[test]
fn sabr_honours_no_arbitrage() {
    let truth = Sabr::new(0.03, 10.0, 0.04, 0.5, -0.2, 0.6).unwrap();
    let q: Vec<(f64, f64)> = (0..25)
        .map(|i| {
            let k = 0.002 + 0.0025 * f64::from(i);
            (k, truth.vol(k))
        })
        .collect();
    assert!(
        q.iter().any(|&(k, _)| truth.normalised_density(k) < 0.0),
        "the quotes reach the negative density"
    );
    let slice = SmileSlice::from_vols(10.0, 0.03, &q).unwrap();
    let opts = |no_arbitrage| FitOptions {
        no_arbitrage,
        sabr: SabrOptions {
            beta: SabrBeta::Fixed(0.5),
            ..SabrOptions::default()
        },
        ..FitOptions::default()
    };
    let free = fit_sabr(&slice, &opts(false)).unwrap();
    assert!(free.report.rmse_iv < 1e-10, "{:?}", free.report);
    let constrained = fit_sabr(&slice, &opts(true)).unwrap();
    let worst = q
        .iter()
        .map(|&(k, _)| constrained.model.normalised_density(k))
        .fold(f64::INFINITY, f64::min);
    println!(
        "Hagan defect: unconstrained RMSE {:.1e}; constrained RMSE {:.2e}, min g on the quotes {worst:.2e}",
        free.report.rmse_iv, constrained.report.rmse_iv
    );
    assert!(worst >= -1e-6, "{worst}");
}

/// Models cannot be built outside their domain, and a stored model outside it does not load.
#[test]
fn models_guard_their_domain() {
    let s = Sabr::new(100.0, 1.0, 0.2, 0.5, -0.3, 0.4).unwrap();
    let e = SabrParams {
        rho: 5.0,
        ..s.params()
    }
    .build()
    .unwrap_err();
    assert_eq!(e.name, "rho");
    assert!(Svi::new(0.01, 0.1, 1.5, 0.0, 0.2).is_err());
    assert!(EssviSlice::new(-0.01, 0.0, 0.1).is_err());
    assert!(Ssvi::new(0.0, Phi::HestonLike { lambda: -1.0 }).is_err());
    let bad = r#"{"a":0.01,"b":0.1,"rho":5.0,"m":0.0,"sigma":0.2}"#;
    let err = serde_json::from_str::<Svi>(bad).unwrap_err().to_string();
    assert!(err.contains("rho"), "{err}");
    let bad = serde_json::to_string(&s.params())
        .unwrap()
        .replace("\"nu\":0.4", "\"nu\":-1.0");
    assert!(serde_json::from_str::<Sabr>(&bad).is_err());
    // A slice with t ≤ 0 is an error where it is made: no fit ever sees it.
    assert!(SmileSlice::from_vols(-1.0, 100.0, &[(100.0, 0.2)]).is_err());
    assert!(SmileSlice::from_vols(f64::NAN, 100.0, &[(100.0, 0.2)]).is_err());
    assert!(SmileSlice::from_vols(1.0, 100.0, &[(100.0, f64::NAN)]).is_err());
    let good = SmileSlice::from_vols(0.5, 100.0, &[(90.0, 0.25), (100.0, 0.2)]).unwrap();
    let json = serde_json::to_string(&good)
        .unwrap()
        .replace("\"t\":0.5", "\"t\":-1.0");
    assert!(serde_json::from_str::<SmileSlice>(&json).is_err());
}

/// The lists are declared once: every name parses back to its value, and the CLI's
/// `--help` offers exactly those names.
#[test]
fn lists_declared_once() {
    for o in Optimizer::ALL {
        assert_eq!(o.name().parse::<Optimizer>().unwrap(), o);
    }
    for m in SurfaceModel::ALL {
        assert_eq!(m.name().parse::<SurfaceModel>().unwrap(), m);
    }
    for e in SabrExpansion::ALL {
        assert_eq!(e.name().parse::<SabrExpansion>().unwrap(), e);
    }
    for f in Format::names() {
        assert_eq!(f.parse::<Format>().unwrap().name(), f);
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(["calibrate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for name in Format::names()
        .into_iter()
        .chain(SurfaceModel::ALL.iter().map(|m| m.name()))
        .chain(Optimizer::ALL.iter().map(|o| o.name()))
    {
        assert!(help.contains(name), "--help lacks {name}:\n{help}");
    }
}
