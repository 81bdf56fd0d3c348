//! The spline smile (SVI + cubic B-spline correction) on every real shared chain: inside the
//! bid/ask on fitted AND held-out strikes, butterfly-free with a positive density, analytic
//! derivatives against finite differences, serde round trip.
use crate::common::{CHAIN_FILES, shared_data};
use volfit::SmileSlice;
use volfit::fit::{FitOptions, fit_spline, fit_svi};
use volfit::models::SmileModel;
use volfit::models::spline::SplineSmile;
use volfit::quotes::{Format, read_chains};
use volfit::slice::{SliceOptions, SmilePoint, VolConvention, build_slices};

/// Share of the two-sided quotes of `pts` whose vol under `w` lies inside `[bid, ask]`.
fn inside(w: impl Fn(f64) -> f64, t: f64, pts: &[SmilePoint]) -> (usize, usize) {
    let (mut i, mut n) = (0, 0);
    for p in pts {
        if let Some((b, a)) = p.bid_ask() {
            n += 1;
            let v = (w(p.k()) / t).sqrt();
            i += usize::from(v >= b && v <= a);
        }
    }
    (i, n)
}

fn slices(file: &str) -> Vec<SmileSlice> {
    let (chains, _) = read_chains(shared_data(file), Format::Auto).unwrap();
    chains
        .iter()
        .flat_map(|c| build_slices(c, &SliceOptions::default()).0)
        .filter(|s| s.convention() == VolConvention::Lognormal && s.points().len() >= 8)
        .collect()
}

/// Every fifth strike left out: the left-out quotes land inside their bid/ask nearly as often
/// as the fitted ones (within 10 points per file: capacity, not interpolation); overall ≥ 90% of
/// fitted quotes inside, more than SVI on each file; every fit butterfly-free with a positive
/// density on a dense grid of its support.
#[test]
fn fits_and_held_out_strikes_sit_inside_the_market() {
    let opts = FitOptions::default();
    let (mut all_fit, mut all_held) = ((0, 0), (0, 0));
    for file in CHAIN_FILES {
        let (mut fit_in, mut held_in, mut svi_in) = ((0, 0), (0, 0), (0, 0));
        for s in slices(file) {
            let t = s.t();
            let full = fit_spline(&s, &opts).unwrap();
            assert!(full.report.butterfly_free, "{file} t {t}");
            let svi = fit_svi(&s, &opts).unwrap();
            let a = inside(|k| full.model.w(k), t, s.points());
            let b = inside(|k| svi.model.w(k), t, s.points());
            fit_in = (fit_in.0 + a.0, fit_in.1 + a.1);
            svi_in = (svi_in.0 + b.0, svi_in.1 + b.1);
            // The density is positive on the support (a grid 8× finer than the knots).
            let [lo, hi] = full.model.support();
            for j in 0..=2000 {
                let k = lo + (hi - lo) * f64::from(j) / 2000.0;
                assert!(full.model.density_k(k) >= 0.0, "{file} t {t} k {k}");
            }
            let Some((train, out)) = s.held_out(5, 2) else {
                continue;
            };
            let f = fit_spline(&train, &opts).unwrap();
            let h = inside(|k| f.model.w(k), t, &out);
            held_in = (held_in.0 + h.0, held_in.1 + h.1);
        }
        let share = |x: (usize, usize)| x.0 as f64 / x.1.max(1) as f64;
        println!(
            "{file}: fitted {:.3} held-out {:.3} (SVI {:.3})",
            share(fit_in),
            share(held_in),
            share(svi_in)
        );
        assert!(share(fit_in) >= share(svi_in), "{file}");
        assert!(share(held_in) >= share(fit_in) - 0.1, "{file}");
        all_fit = (all_fit.0 + fit_in.0, all_fit.1 + fit_in.1);
        all_held = (all_held.0 + held_in.0, all_held.1 + held_in.1);
    }
    let share = |x: (usize, usize)| x.0 as f64 / x.1 as f64;
    println!(
        "all: fitted {:.3}, held-out {:.3}",
        share(all_fit),
        share(all_held)
    );
    assert!(share(all_fit) >= 0.95 && share(all_held) >= 0.93);
}

/// `w'` and `w''` against central differences of `w`, across knots, at the support's ends
/// and in the wings; the correction is C² (no jump of `w''` across a knot).
#[test]
fn derivatives_match_finite_differences_and_are_c2() {
    let s = &slices("spx_gatheral/spx_ivols_20191220.csv")[5];
    let m = fit_spline(s, &FitOptions::default()).unwrap().model;
    let [lo, hi] = m.support();
    let (k0, h) = m.knots();
    let mut ks: Vec<f64> = (0..=400)
        .map(|j| lo - 0.5 + (hi - lo + 1.0) * f64::from(j) / 400.0)
        .collect();
    ks.extend((0..m.coefs().len() + 4).map(|i| k0 + h * i as f64));
    for k in ks {
        let (w, w1, w2) = m.w_derivs(k);
        let d = 1e-5;
        let fd1 = (m.w(k + d) - m.w(k - d)) / (2.0 * d);
        let fd2 = (m.w(k + d) - 2.0 * w + m.w(k - d)) / (d * d);
        assert!((w1 - fd1).abs() < 1e-7, "k {k}: {w1} vs {fd1}");
        assert!(
            (w2 - fd2).abs() < 1e-3 * (1.0 + w2.abs()),
            "k {k}: {w2} vs {fd2}"
        );
        let e = 1e-9;
        assert!(
            (m.w_derivs(k + e).2 - m.w_derivs(k - e).2).abs() < 1e-5,
            "w'' jumps at {k}"
        );
    }
    // Outside the support the smile is the SVI base.
    for k in [lo - 0.3, hi + 0.3] {
        assert_eq!(m.w(k), m.base().w(k));
    }
}

/// surface.json's form of the smile loads back bit for bit; a bad file names the field.
#[test]
fn serde_round_trip_and_checked_load() {
    let s = &slices("deribit/deribit_options_snapshot_20260215T153420Z.csv")[3];
    let m = fit_spline(s, &FitOptions::default()).unwrap().model;
    let text = serde_json::to_string(&m).unwrap();
    let back: SplineSmile = serde_json::from_str(&text).unwrap();
    assert_eq!(back, m);
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["h"] = serde_json::json!(-0.1);
    let err = serde_json::from_value::<SplineSmile>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("h = -0.1"), "{err}");
}
