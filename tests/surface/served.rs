//! The served surface is free of static arbitrage on the whole plane a pricer may query:
//! wings, times before, between and after the expiries; local vol finite and positive there.
//! Checked on every shared chain with conditions computed here (Black prices and their
//! differences, Durrleman's g from finite differences), not only with the library's verdict.

use crate::common::{CHAIN_FILES, shared_data};
use proptest::prelude::*;
use volfit::black::special::norm_cdf;
use volfit::models::arbitrage::durrleman;
use volfit::models::svi::Svi;
use volfit::quotes::{Chain, Format, read_chains};
use volfit::surface::{
    AfterLast, BeforeFirst, Extrapolation, FittedSurface, SliceModel, SurfaceOptions, SurfaceSlice,
    VolSurface, calibrate_surface,
};

fn chains(file: &str) -> Vec<Chain> {
    read_chains(shared_data(file), Format::Auto).unwrap().0
}

fn surface(file: &str) -> FittedSurface {
    calibrate_surface(&chains(file)[0], &SurfaceOptions::default())
        .unwrap()
        .0
}

/// Undiscounted normalised Black call `c(k, w) = N(d₁) − eᵏN(d₂)`.
fn call(k: f64, w: f64) -> f64 {
    let s = w.sqrt();
    let d1 = -k / s + 0.5 * s;
    norm_cdf(d1) - k.exp() * norm_cdf(d1 - s)
}

/// Every shared chain, every underlying: the default surface has no arbitrage on the plane
/// scan nor in its served smiles, and the same fits served raw (envelope off) do — the scan
/// finds what the envelope removes.
#[test]
fn every_shared_chain_is_arbitrage_free_on_the_plane() {
    let mut raw_failures = 0;
    let mut surfaces = 0;
    for file in CHAIN_FILES {
        for c in chains(file) {
            let (s, report) = calibrate_surface(&c, &SurfaceOptions::default()).unwrap();
            let check = s.arbitrage_check();
            assert!(
                check.arbitrage_free && report.arbitrage_free && check.plane.is_clean(),
                "{file} {}: {:?} / {:?}",
                c.underlying,
                check.plane.worst.first(),
                check.butterfly.iter().find(|b| !b.free)
            );
            assert!(check.plane.points >= 5_000);
            let raw = s
                .clone()
                .with_extrapolation(Extrapolation {
                    calendar_envelope: false,
                    ..Extrapolation::default()
                })
                .unwrap();
            let p = raw.plane_scan();
            raw_failures += p.calendar + p.butterfly + p.local_vol_undefined;
            surfaces += 1;
        }
    }
    println!("{surfaces} surfaces clean; served raw they fail at {raw_failures} scan points");
    assert_eq!(surfaces, 14);
    assert!(raw_failures > 10_000, "{raw_failures}");
}

/// Local vol is finite and positive on the grids where it used to be undefined: BTC
/// 2026-02-15 on K ∈ [0.5F, 1.5F], T ∈ (0, 0.9] (79 undefined points before) and the CBOE
/// 2011 surface (hundreds, mostly between expiries), through 1.5× its last expiry.
#[test]
fn local_vol_is_finite_and_positive_between_and_beyond_expiries() {
    for (file, t_max) in [
        ("deribit/deribit_options_snapshot_20260215T153420Z.csv", 0.9),
        ("spx_cboe_2011/SPX-Options-24jan2011.csv", 0.0),
    ] {
        let s = surface(file);
        let t_max = if t_max > 0.0 {
            t_max
        } else {
            1.5 * s.slices().last().unwrap().t
        };
        let mut bad = Vec::new();
        let mut n = 0;
        for j in 1..=180 {
            let t = t_max * f64::from(j) / 180.0;
            let f = s.forward(t);
            for i in 0..=60 {
                let strike = f * (0.5 + f64::from(i) / 60.0);
                n += 1;
                match s.local_vol(strike, t) {
                    Some(v) if v > 0.0 && v.is_finite() => {}
                    other => bad.push((strike, t, other)),
                }
            }
        }
        println!("{file}: {n} points, {} without local vol", bad.len());
        assert!(bad.is_empty(), "{file}: {:?}", &bad[..bad.len().min(5)]);
    }
}

/// Each served smile lies at least σ_min²·Δt above the previous one at every k a double
/// strike can reach (|k| ≤ 700, a grid unlike the construction's), and its call prices are
/// convex and decreasing in strike (second differences of Black prices computed here).
#[test]
fn served_smiles_increase_in_time_and_are_convex_in_strike() {
    for file in [
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "spx_gatheral/spx_ivols_20191220.csv",
        "spx_cboe_2011/SPX-Options-24jan2011.csv",
    ] {
        let s = surface(file);
        let ts: Vec<f64> = s.slices().iter().map(|x| x.t).collect();
        let sigma_min = s.extrapolation().min_forward_vol;
        let ks: Vec<f64> = (0..=40_000)
            .map(|i| {
                let u = -1.0 + 2.0 * f64::from(i) / 40_000.0; // k = 700·u³ (dense near 0)
                700.0 * u * u * u
            })
            .collect();
        for i in 1..ts.len() {
            let want = sigma_min * sigma_min * (ts[i] - ts[i - 1]);
            for &k in &ks {
                let (a, b) = (s.served_w(i - 1, k).unwrap(), s.served_w(i, k).unwrap());
                assert!(
                    b - a >= want * (1.0 - 1e-6) - 1e-14 * a.abs(),
                    "{file} expiry {i} k {k}: {a} -> {b}"
                );
            }
        }
        // Convexity in strike of the normalised call c(x) at x = K/F on an even grid of x.
        for i in 0..ts.len() {
            let xs: Vec<f64> = (1..=3000).map(|j| f64::from(j) * 0.001).collect();
            let c: Vec<f64> = xs
                .iter()
                .map(|&x| call(x.ln(), s.served_w(i, x.ln()).unwrap()))
                .collect();
            for j in 1..c.len() - 1 {
                let second = c[j - 1] - 2.0 * c[j] + c[j + 1];
                assert!(second >= -1e-13, "{file} expiry {i} x {}: {second}", xs[j]);
                assert!(c[j + 1] <= c[j] + 1e-15, "{file} expiry {i} x {}", xs[j]);
            }
        }
    }
}

/// The served density's atoms are the drops of the digital `−∂C/∂K` where the served smile
/// switches fits: their masses match a finite difference of call prices across them.
#[test]
fn atoms_match_the_jump_in_the_call_slope() {
    let s = surface("spx_gatheral/spx_ivols_20191220.csv");
    let mut checked = 0;
    for (i, slice) in s.slices().iter().enumerate() {
        let t = slice.t;
        for (k, mass) in s.atoms(t) {
            // Atoms too small for a finite difference of prices to see (~1e-8) are skipped.
            if k.abs() > 3.0 || mass < 1e-6 {
                continue;
            }
            let c = |k: f64| call(k, s.served_w(i, k).unwrap());
            // Normalised digital P(F_T/F > x) = −dc/dx with x = eᵏ.
            let h = 1e-6;
            let x = k.exp();
            let slope = |a: f64, b: f64| (c(b.ln()) - c(a.ln())) / (b - a);
            let jump = slope(x, x + h) - slope(x - h, x);
            assert!(
                (jump - mass).abs() <= 1e-3 * mass + 1e-8,
                "expiry {i} k {k}: atom {mass:e}, FD jump {jump:e}"
            );
            checked += 1;
        }
    }
    println!("{checked} atoms checked");
    assert!(checked > 0);
}

/// Before the first expiry: the first smile scaled by r = t/t₁ ∈ (0, 1] stays butterfly-free
/// (Durrleman's g is concave in r with g(0), g(1) ≥ 0), for random butterfly-free SVIs.
#[test]
fn scaling_down_a_butterfly_free_smile_keeps_it_butterfly_free() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(400));
    runner
        .run(
            &(
                0.0..0.05f64,
                0.01..0.5f64,
                -0.95..0.95f64,
                -0.3..0.3f64,
                0.01..0.5f64,
                0.001..1.0f64,
            ),
            |(a, b, rho, m, sigma, r)| {
                let Ok(svi) = Svi::new(a, b, rho, m, sigma) else {
                    return Ok(());
                };
                let model = SliceModel::Svi(svi);
                if !model.smile().butterfly().free {
                    return Ok(());
                }
                for i in 0..=2000 {
                    let k = -4.0 + 8.0 * f64::from(i) / 2000.0;
                    let (w, w1, w2) = model.w_derivs(k);
                    let g = durrleman(k, r * w, r * w1, r * w2);
                    prop_assert!(g >= -1e-12, "k {k} r {r}: g {g}");
                }
                Ok(())
            },
        )
        .unwrap();
}

fn two_expiries() -> FittedSurface {
    let s = |t: f64, a: f64| SurfaceSlice {
        expiry: None,
        t,
        forward: 100.0,
        discount: 1.0,
        model: SliceModel::Svi(Svi::new(a, 0.1, -0.4, 0.0, 0.2).unwrap()),
        quoted_k: Some([-0.3, 0.2]),
    };
    FittedSurface::new("X".into(), None, None, vec![s(0.25, 0.01), s(0.5, 0.02)]).unwrap()
}

/// After the last expiry the forward variance is σ∞² at every k (the last interval's ATM
/// forward variance by default, or the stored vol): `∂ₜw = σ∞²` and local vol² · g = σ∞².
#[test]
fn after_the_last_expiry_forward_variance_is_constant() {
    let s = two_expiries();
    // θ at k = 0: a + b·σ·√(1) with m = 0 (SVI at k = 0: a + b(−ρm + √(m² + σ²))).
    let theta = |a: f64| a + 0.1 * 0.2;
    let rate = (theta(0.02) - theta(0.01)) / 0.25;
    assert!((s.after_last_vol().unwrap() - rate.sqrt()).abs() < 1e-15);
    for t in [0.6, 1.0, 5.0] {
        for k in [-1.0, 0.0, 0.5] {
            let d = s.variance_derivatives(k, t);
            assert!((d.w_t - rate).abs() < 1e-14);
            let g = durrleman(k, d.w, d.w_k, d.w_kk);
            let lv = s.local_vol(100.0 * f64::exp(k), t).unwrap();
            assert!((lv * lv * g - rate).abs() < 1e-12 * rate, "{k} {t}");
        }
    }
    let fixed = s
        .clone()
        .with_extrapolation(Extrapolation {
            after_last: AfterLast::ForwardVariance { vol: Some(0.3) },
            ..Extrapolation::default()
        })
        .unwrap();
    assert_eq!(fixed.variance_derivatives(0.1, 2.0).w_t, 0.09);
}

/// `refuse` policies give no answer outside the expiries and change nothing inside; the
/// policy is stored in surface.json and loads back with the same vols bit for bit; a file
/// without it loads with the default.
#[test]
fn extrapolation_policy_is_stored_and_refusals_answer_nothing() {
    let s = two_expiries();
    let policy = Extrapolation {
        min_forward_vol: 0.05,
        before_first: BeforeFirst::Refuse,
        after_last: AfterLast::Refuse,
        wings: volfit::surface::Wings::Linear,
        between: volfit::surface::Between::Variance,
        calendar_envelope: true,
    };
    let r = s.clone().with_extrapolation(policy).unwrap();
    assert!(r.vol(100.0, 0.1).is_nan() && r.try_vol(100.0, 0.1).is_err());
    assert!(r.vol(100.0, 0.7).is_nan() && r.local_vol(100.0, 0.7).is_none());
    assert_eq!(r.vol(95.0, 0.25), s.vol(95.0, 0.25));
    assert!(r.after_last_vol().is_none());
    let dir = std::env::temp_dir().join(format!("volfit-served-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.json");
    r.save(&path).unwrap();
    let back = FittedSurface::load(&path).unwrap();
    assert_eq!(back.extrapolation(), policy);
    for (strike, t) in [(80.0, 0.3), (100.0, 0.25), (130.0, 0.45)] {
        assert_eq!(back.vol(strike, t).to_bits(), r.vol(strike, t).to_bits());
    }
    // A file written before the policy was stored.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().remove("extrapolation");
    let old: FittedSurface = serde_json::from_value(json).unwrap();
    assert_eq!(old.extrapolation(), Extrapolation::default());
    assert!(
        s.clone()
            .with_extrapolation(Extrapolation {
                min_forward_vol: 0.0,
                ..Extrapolation::default()
            })
            .is_err()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `wings: linear`: beyond each expiry's quoted range the served smile is linear in w with
/// the edge slope (outward, within Lee's bound), C¹ at the edge; inside it nothing changes.
/// Measured on every shared chain: how many surfaces stay arbitrage-free on the plane.
#[test]
fn linear_wings_continue_the_edge_slope() {
    let policy = Extrapolation {
        wings: volfit::surface::Wings::Linear,
        ..Extrapolation::default()
    };
    let s = surface("deribit/deribit_options_snapshot_20260215T153420Z.csv");
    let lin = s.clone().with_extrapolation(policy).unwrap();
    // The first expiry is served as its own fit (no envelope below it).
    let [lo, hi] = s.slices()[0].quoted_k.unwrap();
    let fit = s.slices()[0].model;
    let (w_hi, s_hi, _) = fit.w_derivs(hi);
    for d in [0.1, 1.0, 5.0] {
        let want = w_hi + s_hi.clamp(0.0, 2.0) * d;
        let got = lin.served_w(0, hi + d).unwrap();
        assert!((got - want).abs() < 1e-12 * want, "{d}: {got} vs {want}");
    }
    let mid = 0.5 * (lo + hi);
    assert_eq!(lin.served_w(0, mid), s.served_w(0, mid));
    let mut clean = 0;
    let mut n = 0;
    for file in CHAIN_FILES {
        for c in chains(file) {
            let (s, _) = calibrate_surface(&c, &SurfaceOptions::default()).unwrap();
            let check = s.with_extrapolation(policy).unwrap().arbitrage_check();
            n += 1;
            clean += usize::from(check.arbitrage_free);
        }
    }
    println!("linear wings: {clean} of {n} shared surfaces arbitrage-free on the plane");
    assert_eq!(n, 14);
}
