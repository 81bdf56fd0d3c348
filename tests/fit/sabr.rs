//! SABR fits against published fits (QuantLib, Le Floc'h & Kennedy 2014), synthetic
//! recoveries in every mode, and every expiry of the Deribit snapshots.

use crate::common::{read_csv, shared_data, shared_reference};
use volfit::fit::{
    FitOptions, Objective, Optimizer, SabrBeta, SabrOptions, fit_sabr, fit_sabr_from,
    sabr_initial_guess,
};
use volfit::models::sabr::{Sabr, SabrExpansion, SabrParams};
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, SmileSlice, build_slices};

fn sci(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1e}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sabr_opts(beta: SabrBeta, alpha_from_atm: bool) -> FitOptions {
    FitOptions {
        sabr: SabrOptions {
            beta,
            alpha_from_atm,
            ..SabrOptions::default()
        },
        ..FitOptions::default()
    }
}

/// QuantLib `testSabrInterpolation`: recalibrating (α, ρ, ν) with β = 0.6 fixed from the 31
/// Hagan vols recovers α = 0.3, ρ = 0.01, ν = 0.02 (QuantLib reaches 5e-8; the issue asks 1e-8).
#[test]
fn quantlib_recalibration() {
    let rows = read_csv(&shared_reference("quantlib_sabr_interpolation_vols.csv"));
    let quotes: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let slice = SmileSlice::from_vols(1.0, 0.039, &quotes).unwrap();
    for alpha_from_atm in [false, true] {
        let fit = fit_sabr(&slice, &sabr_opts(SabrBeta::Fixed(0.6), alpha_from_atm)).unwrap();
        let m = &fit.model;
        let err = [
            (m.alpha() - 0.3).abs(),
            (m.rho() - 0.01).abs(),
            (m.nu() - 0.02).abs(),
        ];
        println!(
            "QuantLib recalibration (alpha from ATM: {alpha_from_atm}): errors {}, \
             {} iterations, rmse {:.1e}",
            sci(&err),
            fit.report.iterations,
            fit.report.rmse_iv
        );
        assert!(err.iter().all(|e| *e <= 1e-8), "{err:?}");
        assert!(fit.report.converged);
    }
}

fn rmse(m: &Sabr, quotes: &[(f64, f64)]) -> f64 {
    (quotes
        .iter()
        .map(|&(k, s)| (m.vol(k) - s).powi(2))
        .sum::<f64>()
        / quotes.len() as f64)
        .sqrt()
}

/// Le Floc'h & Kennedy's full-precision explicit guesses (`Guess-0-alpha1` rows of
/// `smart_initialguess_sabr_input.txt`, the paper's Table 3), by expiry.
fn lfk_guesses() -> Vec<(f64, [f64; 3])> {
    let txt = std::fs::read_to_string(shared_data(
        "swaption_2014/smart_initialguess_sabr_input.txt",
    ))
    .unwrap();
    txt.lines()
        .filter(|l| l.starts_with("Guess-0-alpha1"))
        .map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap())
                .collect();
            (v[0], [v[1], v[2], v[3]])
        })
        .collect()
}

/// The 11 S&P 500 smiles of Le Floc'h & Kennedy's Table 3, regenerated from the reference
/// parameters (β = 1, f = 2016) on the paper's 12 strikes (f × 0.5 … 1.5): the explicit guess
/// lands where the published one does (its vol RMSE no worse than the published guess's on the
/// same strikes), and the fit recovers the parameters.
///
/// The paper's printed RMSE column (2.64e-4 at T = 0.058) is not reproducible from its own
/// full-precision guesses on these strikes (3.8e-4 there), so both are measured here the same
/// way.
#[test]
fn lefloch_kennedy_table3_spx() {
    let rows = read_csv(&shared_reference(
        "lefloch_kennedy_2014_table3_spx_sabr.csv",
    ));
    let guesses = lfk_guesses();
    assert_eq!((rows.len(), guesses.len()), (11, 11));
    let f = 2016.0;
    let moneyness = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5];
    println!(
        "    T  volfit guess α / ρ / ν      LFK guess α / ρ / ν       RMSE volfit / LFK   fit err"
    );
    for (r, (gt, lfk)) in rows.iter().zip(&guesses) {
        let v = |i: usize| r[i].parse::<f64>().unwrap();
        let (t, a, rho, nu) = (v(0), v(1), v(2), v(3));
        assert_eq!(t, *gt);
        let truth = Sabr::new(f, t, a, 1.0, rho, nu).unwrap();
        let quotes: Vec<(f64, f64)> = moneyness
            .iter()
            .map(|m| (f * m, truth.vol(f * m)))
            .collect();
        let slice = SmileSlice::from_vols(t, f, &quotes).unwrap();
        let g = sabr_initial_guess(&slice, &FitOptions::default()).unwrap();
        let theirs = Sabr::new(f, t, lfk[0], 1.0, lfk[1], lfk[2]).unwrap();
        let (ours_rmse, their_rmse) = (rmse(&g, &quotes), rmse(&theirs, &quotes));
        let fit = fit_sabr(&slice, &FitOptions::default()).unwrap();
        let ferr = (fit.model.alpha() - a)
            .abs()
            .max((fit.model.rho() - rho).abs())
            .max((fit.model.nu() - nu).abs());
        println!(
            "{t:5.3}  {:.5} / {:.5} / {:.5}   {:.5} / {:.5} / {:.5}   {ours_rmse:.2e} / {their_rmse:.2e}   {ferr:.1e}",
            g.alpha(),
            g.rho(),
            g.nu(),
            lfk[0],
            lfk[1],
            lfk[2]
        );
        assert!((g.alpha() - lfk[0]).abs() < 2e-4, "α at {t}");
        assert!((g.rho() - lfk[1]).abs() < 5e-3, "ρ at {t}");
        assert!((g.nu() - lfk[2]).abs() < 5e-3, "ν at {t}");
        assert!(
            ours_rmse <= their_rmse * 1.001,
            "guess rmse {ours_rmse} vs {their_rmse} at {t}"
        );
        assert!(ferr < 1e-8, "fit error {ferr} at {t}");
    }
}

/// Le Floc'h & Kennedy's May 2014 swaption smiles (normal vols, β = 0.5, Hagan normal
/// formula). Our normal expansion reproduces the paper's Levenberg–Marquardt curves (fitted
/// back to < 1e-15), and on the market quotes the fit reaches the published fit's RMSE or
/// better, both measured the same way (plain RMSE over all quotes; the paper's printed RMSE
/// uses a definition its own curves do not reproduce on these quotes), and the explicit guess
/// is within 25% of the published explicit guess (whose parameters are printed to 3 decimals).
#[test]
fn lefloch_kennedy_swaption_normal_fits() {
    let data = read_csv(&shared_data(
        "swaption_2014/swaption_may2014_reference_normal_vols.csv",
    ));
    let published = read_csv(&shared_reference(
        "lefloch_kennedy_2014_swaption_normal_sabr_fits.csv",
    ));
    for (name, curve_file) in [
        ("1m5y", "explicit_fit_1m_beta05.txt"),
        ("2y5y", "explicit_fit_2y_beta05.txt"),
        ("10y10y", "explicit_fit_10y_beta05.txt"),
    ] {
        let rows: Vec<&Vec<String>> = data.iter().filter(|r| r[0] == name).collect();
        let t: f64 = rows[0][1].parse().unwrap();
        let f: f64 = rows[0][3].parse().unwrap();
        let quotes: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r[4].parse().unwrap(), r[5].parse().unwrap()))
            .collect();
        let slice = SmileSlice::from_normal_vols(t, f, &quotes).unwrap();
        let params = |method: &str| {
            let r = published
                .iter()
                .find(|r| {
                    r[0].starts_with(name) && r[2] == "Hagan normal formula" && r[3] == method
                })
                .unwrap();
            let p = |i: usize| r[i].parse::<f64>().unwrap();
            let m = SabrParams {
                alpha: p(4),
                beta: 0.5,
                rho: p(5),
                nu: p(6),
                shift: 0.0,
                forward: f,
                t,
                expansion: SabrExpansion::Normal,
            }
            .build()
            .unwrap();
            (m, p(7))
        };
        let ((gn, gn_printed), (explicit, _)) = (params("Explicit+GN"), params("Explicit"));
        // The paper's LM curve, fitted back with our formula.
        let txt =
            std::fs::read_to_string(shared_data(&format!("swaption_2014/{curve_file}"))).unwrap();
        let curve: Vec<(f64, f64)> = txt
            .lines()
            .filter(|l| l.starts_with("Levenberg-Marquardt"))
            .map(|l| {
                let v: Vec<f64> = l
                    .split_whitespace()
                    .skip(1)
                    .map(|x| x.parse().unwrap())
                    .collect();
                (v[0], v[1])
            })
            .collect();
        let back = fit_sabr(
            &SmileSlice::from_normal_vols(t, f, &curve).unwrap(),
            &FitOptions::default(),
        )
        .unwrap();
        let fit = fit_sabr(&slice, &FitOptions::default()).unwrap();
        let g = sabr_initial_guess(&slice, &FitOptions::default()).unwrap();
        let m = &fit.model;
        println!(
            "{name}: paper's LM curve refitted to {:.1e}; fit α {:.4} ρ {:.4} ν {:.4} rmse \
             {:.3e} vs published fit {:.3e} (printed {gn_printed:.2e}) vs paper's LM {:.3e}; \
             guess {:.3e} vs published guess {:.3e}; {} iterations",
            back.report.rmse_iv,
            m.alpha(),
            m.rho(),
            m.nu(),
            fit.report.rmse_iv,
            rmse(&gn, &quotes),
            rmse(&back.model, &quotes),
            rmse(&g, &quotes),
            rmse(&explicit, &quotes),
            fit.report.iterations
        );
        assert!(
            back.report.rmse_iv < 1e-14,
            "{name}: formula differs from the paper's"
        );
        assert_eq!((m.expansion(), m.beta()), (SabrExpansion::Normal, 0.5));
        assert!(fit.report.rmse_iv <= rmse(&gn, &quotes), "{name}");
        assert!(
            fit.report.rmse_iv <= rmse(&back.model, &quotes) * (1.0 + 1e-9),
            "{name}"
        );
        assert!(
            rmse(&g, &quotes) <= 1.25 * rmse(&explicit, &quotes),
            "{name}: guess"
        );
    }
}

/// Every mode recovers a known smile: optimisers, α from the ATM vol, β fitted, the Obłój
/// and normal expansions fitted to Black vols (exact conversion), shifted SABR.
#[test]
fn recovers_known_smiles_in_every_mode() {
    let f = 0.025;
    let truth = Sabr::new(f, 2.0, 0.03, 0.5, -0.35, 0.45).unwrap();
    let cases: Vec<(&str, Sabr, FitOptions, f64)> = vec![
        ("LM", truth, sabr_opts(SabrBeta::Fixed(0.5), false), 1e-9),
        (
            "LM alpha-from-ATM",
            truth,
            sabr_opts(SabrBeta::Fixed(0.5), true),
            1e-9,
        ),
        (
            "LM beta fitted",
            truth,
            sabr_opts(SabrBeta::Fitted, false),
            1e-6,
        ),
        (
            "BFGS",
            truth,
            FitOptions {
                optimizer: Optimizer::Bfgs,
                ..sabr_opts(SabrBeta::Fixed(0.5), false)
            },
            1e-5,
        ),
        (
            "L-BFGS",
            truth,
            FitOptions {
                optimizer: Optimizer::Lbfgs,
                ..sabr_opts(SabrBeta::Fixed(0.5), false)
            },
            1e-5,
        ),
        (
            "Obłój",
            truth.with_expansion(SabrExpansion::Obloj).unwrap(),
            FitOptions {
                sabr: SabrOptions {
                    beta: SabrBeta::Fixed(0.5),
                    expansion: Some(SabrExpansion::Obloj),
                    ..SabrOptions::default()
                },
                ..FitOptions::default()
            },
            1e-9,
        ),
        (
            "normal expansion on Black vols",
            truth.with_expansion(SabrExpansion::Normal).unwrap(),
            FitOptions {
                sabr: SabrOptions {
                    beta: SabrBeta::Fixed(0.5),
                    expansion: Some(SabrExpansion::Normal),
                    ..SabrOptions::default()
                },
                ..FitOptions::default()
            },
            1e-8,
        ),
        (
            "shifted",
            truth.with_shift(0.01).unwrap(),
            FitOptions {
                sabr: SabrOptions {
                    beta: SabrBeta::Fixed(0.5),
                    shift: 0.01,
                    ..SabrOptions::default()
                },
                ..FitOptions::default()
            },
            1e-8,
        ),
    ];
    for (name, model, opts, tol) in cases {
        let quotes: Vec<(f64, f64)> = (0..21)
            .map(|i| {
                let k = f * (0.4 + 0.06 * f64::from(i));
                (k, model.black_vol(k).unwrap())
            })
            .collect();
        let slice = SmileSlice::from_vols(2.0, f, &quotes).unwrap();
        let fit = fit_sabr(&slice, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let m = &fit.model;
        let err = [
            (m.alpha() - model.alpha()).abs() / model.alpha(),
            (m.beta() - model.beta()).abs(),
            (m.rho() - model.rho()).abs(),
            (m.nu() - model.nu()).abs(),
        ];
        println!(
            "{name}: param errors {}, rmse {:.1e}, {} iterations",
            sci(&err),
            fit.report.rmse_iv,
            fit.report.iterations
        );
        assert!(
            err.iter().all(|e| *e < tol),
            "{name}: {err:?} {:?}",
            fit.report
        );
        assert!(fit.report.rmse_iv.is_finite() && fit.report.min_g.is_finite());
    }
}

/// β = 0 normal SABR fits negative rates without a shift.
#[test]
fn negative_rates_normal_beta0() {
    let truth = SabrParams {
        alpha: 0.006,
        beta: 0.0,
        rho: 0.2,
        nu: 0.5,
        shift: 0.0,
        forward: -0.002,
        t: 1.0,
        expansion: SabrExpansion::Normal,
    }
    .build()
    .unwrap();
    let quotes: Vec<(f64, f64)> = (0..13)
        .map(|i| {
            let k = -0.008 + 0.001 * f64::from(i);
            (k, truth.vol(k))
        })
        .collect();
    let slice = SmileSlice::from_normal_vols(1.0, -0.002, &quotes).unwrap();
    let fit = fit_sabr(&slice, &sabr_opts(SabrBeta::Fixed(0.0), false)).unwrap();
    assert!(fit.report.rmse_iv < 1e-12, "{:?}", fit.report);
    assert!((fit.model.rho() - 0.2).abs() < 1e-8 && (fit.model.nu() - 0.5).abs() < 1e-8);
    // With β = 0.5 the same slice is outside SABR's domain: a clear error, not NaN.
    let err = fit_sabr(&slice, &FitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("must be > 0"), "{err}");
}

#[test]
fn bad_inputs_are_errors() {
    let slice = SmileSlice::from_vols(1.0, 100.0, &[(90.0, 0.2), (110.0, 0.19)]).unwrap();
    assert!(matches!(
        fit_sabr(&slice, &FitOptions::default()),
        Err(volfit::fit::FitError::TooFewPoints { .. })
    ));
    let slice =
        SmileSlice::from_vols(1.0, 100.0, &[(90.0, 0.2), (100.0, 0.18), (110.0, 0.19)]).unwrap();
    let e = fit_sabr(&slice, &sabr_opts(SabrBeta::Fixed(1.5), false)).unwrap_err();
    assert!(e.to_string().contains("beta"), "{e}");
    // SVI refuses normal-vol slices.
    let n =
        SmileSlice::from_normal_vols(1.0, 0.02, &[(0.01, 0.006), (0.02, 0.005), (0.03, 0.0055)])
            .unwrap();
    assert!(volfit::fit_svi(&n, &FitOptions::default()).is_err());
}

/// Every expiry (≥ 5 quotes) of the Deribit files with β = 1: every fit succeeds with a finite
/// result; the table of RMSE and within-spread per file is printed.
#[test]
fn every_deribit_expiry_beta_1() {
    let mut n_slices = 0;
    println!(
        "{:<52} {:>6} {:>10} {:>9} {:>12} {:>10}",
        "file", "slices", "RMSE", "inside", "neg density", "median µs"
    );
    for f in [
        "deribit/deribit_options_snapshot_20251230T173115Z.csv",
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_options_snapshot_20260415T161504Z.csv",
        "deribit/deribit_api_book_20200521.csv",
    ] {
        let (chains, _) = read_chains(shared_data(f), Format::Auto).unwrap();
        for c in &chains {
            let (slices, _) = build_slices(c, &SliceOptions::default());
            let (mut sse, mut q, mut inside, mut two, mut neg, mut n) = (0.0, 0.0, 0.0, 0.0, 0, 0);
            let mut micros = Vec::new();
            let mut prev: Option<Sabr> = None;
            for s in slices.iter().filter(|s| s.points().len() >= 5) {
                let fit = fit_sabr(s, &FitOptions::default())
                    .unwrap_or_else(|e| panic!("{f} {} t={}: {e}", c.underlying, s.t()));
                let r = &fit.report;
                assert!(
                    r.rmse_iv.is_finite() && r.rmse_iv < 0.1,
                    "{f} t={}: {r:?}",
                    s.t()
                );
                assert_eq!(fit.model.beta(), 1.0);
                // A warm start from the previous expiry lands on the same optimum or better.
                if let Some(p) = prev {
                    let w = fit_sabr_from(s, &FitOptions::default(), Some(&p)).unwrap();
                    assert!(
                        w.report.rmse_iv <= r.rmse_iv * 1.05 + 1e-6,
                        "warm start at {}",
                        s.t()
                    );
                }
                prev = Some(fit.model);
                let tw = s
                    .points()
                    .iter()
                    .filter(|p| p.bid_iv().is_some() && p.ask_iv().is_some())
                    .count() as f64;
                sse += r.rmse_iv * r.rmse_iv * r.n_quotes as f64;
                q += r.n_quotes as f64;
                inside += r.within_spread.unwrap_or(0.0) * tw;
                two += tw;
                neg += usize::from(!r.butterfly_free);
                micros.push(r.fit_micros);
                n += 1;
            }
            micros.sort_by(f64::total_cmp);
            println!(
                "{:<52} {n:>6} {:>10.4} {:>9.3} {neg:>12} {:>10.0}",
                format!("{} {}", f.rsplit('/').next().unwrap(), c.underlying),
                (sse / q).sqrt(),
                inside / two.max(1.0),
                micros[micros.len() / 2]
            );
            n_slices += n;
        }
    }
    assert!(n_slices >= 60, "{n_slices}");
}

/// The bid/ask objective pays only for distance outside the quoted band (plus a small mid
/// term): its fits are at least as close to the bands as the mid-vol fit's.
#[test]
fn bid_ask_objective() {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let (slices, _) = build_slices(&chains[0], &SliceOptions::default());
    let outside = |s: &SmileSlice, m: &Sabr| {
        s.points()
            .iter()
            .filter_map(|p| {
                let (b, a) = (p.bid_iv()?, p.ask_iv()?);
                let v = m.vol(p.strike());
                Some((b - v).max(v - a).max(0.0).powi(2) * p.weight())
            })
            .sum::<f64>()
    };
    for s in slices.iter().filter(|s| s.points().len() >= 8) {
        let vol = fit_sabr(s, &FitOptions::default()).unwrap();
        let ba = fit_sabr(
            s,
            &FitOptions {
                objective: Objective::BidAsk { mid_weight: 0.2 },
                ..FitOptions::default()
            },
        )
        .unwrap();
        let (o_vol, o_ba) = (outside(s, &vol.model), outside(s, &ba.model));
        println!(
            "t {:.3}: weighted squared distance outside bid/ask {o_vol:.2e} (vol) {o_ba:.2e} (bid/ask); inside {:?} {:?}",
            s.t(),
            vol.report.within_spread,
            ba.report.within_spread
        );
        assert!(o_ba <= o_vol * 1.05 + 1e-12, "t {}", s.t());
    }
}
