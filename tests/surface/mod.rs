//! The fitted surface: local vol against known answers, density, calendar checks, bit-exact
//! persistence, concurrent queries, and surfaces of every real chain.

mod diff;
mod flags;
mod metrics;
mod prior;
mod qmoms;
mod queries;
mod served;

use crate::common::{CHAIN_FILES, shared_data};
use std::sync::Arc;
use volfit::black::special::{norm_cdf, norm_pdf};
use volfit::black::{OptionKind, black_price};
use volfit::models::sabr::Sabr;
use volfit::models::ssvi::{Phi, Ssvi};
use volfit::models::svi::Svi;
use volfit::quotes::{Format, read_chains};
use volfit::surface::{
    CalendarPolicy, Extrapolation, FittedSurface, SliceModel, SurfaceModel, SurfaceOptions,
    SurfaceSlice, VolSurface, WingedSabr, calibrate_surface,
};

#[allow(clippy::large_types_passed_by_value)] // moved into the slice it builds
fn slice(t: f64, forward: f64, model: SliceModel) -> SurfaceSlice {
    SurfaceSlice {
        expiry: None,
        t,
        forward,
        discount: 1.0,
        model,
        quoted_k: None,
    }
}

/// A smile-free SVI (`b = 0`): `w = a`.
fn flat(a: f64) -> SliceModel {
    SliceModel::Svi(Svi::new(a, 0.0, 0.0, 0.0, 0.1).unwrap())
}

/// Flat vol: local vol equals the implied vol everywhere, including before the first and
/// after the last expiry; a pure term structure: local variance equals the forward variance
/// `Δw/Δt` between expiries.
#[test]
fn local_vol_known_answers() {
    let s = FittedSurface::new(
        "X".into(),
        None,
        Some(100.0),
        vec![
            slice(0.25, 100.0, flat(0.04 * 0.25)),
            slice(1.0, 100.0, flat(0.04)),
        ],
    )
    .unwrap();
    for t in [0.05, 0.25, 0.6, 1.0, 3.0] {
        for k in [50.0, 100.0, 170.0] {
            assert!((s.vol(k, t) - 0.2).abs() < 1e-15, "vol {k} {t}");
            assert!(
                (s.local_vol(k, t).unwrap() - 0.2).abs() < 1e-14,
                "local {k} {t}"
            );
        }
    }
    // Term structure: w(0.5) = 0.01, w(1.5) = 0.05 → forward variance 0.04 in between, 0.02
    // before (flat vol 0.2), and 0.04 after (flat forward variance).
    let s = FittedSurface::new(
        "X".into(),
        None,
        None,
        vec![slice(0.5, 100.0, flat(0.01)), slice(1.5, 100.0, flat(0.05))],
    )
    .unwrap();
    for (t, want) in [(0.2, 0.02f64), (0.9, 0.04), (1.2, 0.04), (4.0, 0.04)] {
        let lv = s.local_vol(120.0, t).unwrap();
        assert!((lv * lv - want).abs() < 1e-15, "t {t}: {lv}");
    }
}

/// Local vol in total-variance form (Gatheral eq. 1.10, analytic derivatives) against Dupire
/// in price form, `σ² = 2 ∂C/∂T / (K² ∂²C/∂K²)`, by finite differences of Black prices of the
/// surface (an independent route to the same number), on an SSVI surface (zero rates, flat
/// forward so that `k` is fixed at fixed `K`).
#[test]
fn local_vol_matches_dupire_in_prices() {
    let ssvi = Ssvi::new(
        -0.6,
        Phi::PowerLaw {
            eta: 1.2,
            gamma: 0.4,
        },
    )
    .unwrap();
    let ts = [0.1, 0.3, 0.7, 1.5];
    let slices = ts
        .iter()
        .map(|&t| {
            slice(
                t,
                100.0,
                SliceModel::Svi(ssvi.slice(0.04 * t + 0.01 * t * t)),
            )
        })
        .collect();
    let s = FittedSurface::new("X".into(), None, None, slices).unwrap();
    let c = |k: f64, t: f64| black_price(OptionKind::Call, 100.0, k, t, s.vol(k, t));
    let mut worst: f64 = 0.0;
    for t in [0.2, 0.5, 1.0] {
        for k in [70.0, 85.0, 100.0, 115.0, 130.0] {
            let (hk, ht) = (2e-4 * k, 1e-5);
            let ct = (c(k, t + ht) - c(k, t - ht)) / (2.0 * ht);
            let ckk = (c(k + hk, t) - 2.0 * c(k, t) + c(k - hk, t)) / (hk * hk);
            let dupire = (2.0 * ct / (k * k * ckk)).sqrt();
            let lv = s.local_vol(k, t).unwrap();
            worst = worst.max((lv / dupire - 1.0).abs());
        }
    }
    println!("local vol vs price-form Dupire: worst relative difference {worst:.1e}");
    assert!(worst < 2e-5, "{worst}");
}

/// The density of a real surface integrates to one, has the forward as its mean, and reprices
/// calls: `∫(x − K)⁺ q(x) dx = C(K)` — at expiries and between them. Integrated in `k` over
/// `[−12, 12]`, with the mass beyond from the call price and its slope at the ends
/// (`P(F_T > K) = −∂C/∂K`): BTC's wide wings carry mass of order 1e-4 beyond `e^{−12}F`.
#[test]
fn density_integrates_and_reprices() {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let (s, _) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let t_node = s.slices()[8].t;
    for t in [0.1, t_node, 0.4, 0.8] {
        let f = s.forward(t);
        let (lo, hi, n) = (-12.0, 12.0, 240_000);
        let h = (hi - lo) / f64::from(n);
        // p(k) = q(K)·K: the density of k = ln(F_T/F).
        let pts: Vec<(f64, f64)> = (0..=n)
            .map(|i| {
                let k = lo + h * f64::from(i);
                let x = f * k.exp();
                (x, s.density(x, t) * x)
            })
            .collect();
        let trap = |g: &dyn Fn(f64, f64) -> f64| {
            pts.iter()
                .enumerate()
                .map(|(i, &(x, p))| if i == 0 || i == pts.len() - 1 { 0.5 } else { 1.0 } * g(x, p))
                .sum::<f64>()
                * h
        };
        let k_hi = f * hi.exp();
        // P(F_T > K) = Φ(d₂) − φ(d₂)·w_k/(2√w) (the call's strike slope with the skew term),
        // and its complement without cancellation.
        let tail = |k: f64| {
            let d = s.variance_derivatives(k, t);
            let sw = d.w.sqrt();
            let d2 = -k / sw - 0.5 * sw;
            let skew = norm_pdf(d2) * d.w_k / (2.0 * sw);
            (norm_cdf(-d2) + skew, norm_cdf(d2) - skew)
        };
        let (below, above) = (tail(lo).0, tail(hi).1);
        let c_hi = s.price(OptionKind::Call, k_hi, t);
        // The served smile's switches between expiries' fits are point masses (convex kinks
        // of the call price), listed by `atoms`.
        let atoms: Vec<(f64, f64)> = s
            .atoms(t)
            .into_iter()
            .map(|(k, m)| (f * k.exp(), m))
            .filter(|(x, _)| (f * lo.exp()..=k_hi).contains(x))
            .collect();
        let atom_mass: f64 = atoms.iter().map(|a| a.1).sum();
        let mass = trap(&|_, p| p) + below + above + atom_mass;
        let mean = (trap(&|x, p| x * p)
            + c_hi
            + k_hi * above
            + atoms.iter().map(|a| a.0 * a.1).sum::<f64>())
            / f;
        println!(
            "t {t:.4}: ∫q = {mass:.8} (tails {below:.1e}, {above:.1e}; {} atoms, {atom_mass:.1e}), ∫xq/F = {mean:.8}",
            atoms.len()
        );
        assert!((mass - 1.0).abs() < 1e-6, "mass {mass}");
        assert!((mean - 1.0).abs() < 1e-5, "mean {mean}");
        for m in [0.7, 1.0, 1.3] {
            let k = f * m;
            let c = s.price(OptionKind::Call, k, t);
            let c_q = trap(&|x, p| (x - k).max(0.0) * p)
                + c_hi
                + (k_hi - k) * above
                + atoms.iter().map(|a| (a.0 - k).max(0.0) * a.1).sum::<f64>();
            assert!((c_q - c).abs() < 1e-5 * f, "t {t} K {k}: {c_q} vs {c}");
        }
    }
}

/// A planted violation: a later expiry whose total variance dips below the earlier one's
/// near the money is found by the check, with its k range.
#[test]
fn calendar_check_catches_a_planted_violation() {
    let early = Svi::new(0.01, 0.1, -0.3, 0.0, 0.2).unwrap();
    let late_bad = Svi::new(0.005, early.b(), early.rho(), early.m(), early.sigma()).unwrap(); // lower everywhere
    let s = FittedSurface::new(
        "X".into(),
        None,
        None,
        vec![
            slice(0.5, 100.0, SliceModel::Svi(early)),
            slice(0.6, 100.0, SliceModel::Svi(late_bad)),
        ],
    )
    .unwrap();
    // Served as fitted (no envelope) the surface has the arbitrage; the check finds it.
    let raw = s
        .clone()
        .with_extrapolation(Extrapolation {
            calendar_envelope: false,
            ..Extrapolation::default()
        })
        .unwrap();
    let r = raw.arbitrage_check();
    assert!(!r.calendar.calendar_free && !r.arbitrage_free && r.plane.calendar > 0);
    let v = &r.calendar.violations[0];
    assert!((v.shortfall - 0.005).abs() < 1e-12 && v.k_range[0] < 0.0 && v.k_range[1] > 0.0);
    // Served (the default) the later expiry is the earlier one raised by σ_min²·Δt
    // everywhere: the fits' violation is still reported, the served surface is free of it.
    let r = s.arbitrage_check();
    assert!(!r.calendar.violations.is_empty());
    assert!(r.calendar.calendar_free && r.arbitrage_free && r.plane.is_clean());
    assert_eq!(r.calendar.served.len(), 1);
    assert!(r.calendar.served[0].k_from.is_none() && r.calendar.served[0].k_to.is_none());
    for k in [-700.0, -3.0, 0.0, 0.4, 700.0] {
        let lift = s.served_w(1, k).unwrap() - early.w(k);
        assert!(
            (lift - 1e-4 * 0.1).abs() < 1e-15 * early.w(k).max(1.0),
            "{k}: {lift}"
        );
    }
    // A good pair passes.
    let late_ok = Svi::new(0.015, early.b(), early.rho(), early.m(), early.sigma()).unwrap();
    let s = FittedSurface::new(
        "X".into(),
        None,
        None,
        vec![
            slice(0.5, 100.0, SliceModel::Svi(early)),
            slice(0.6, 100.0, SliceModel::Svi(late_ok)),
        ],
    )
    .unwrap();
    assert!(s.arbitrage_check().arbitrage_free);
}

/// Every real chain gives a surface with every model. SSVI and eSSVI surfaces are free of
/// calendar arbitrage by construction; per-expiry SVI surfaces are repaired to be
/// calendar-free on the check grid, and every SVI expiry stays butterfly-free. Build times
/// and calendar results are printed.
#[test]
fn every_real_chain_calibrates() {
    for f in CHAIN_FILES {
        let (chains, _) = read_chains(shared_data(f), Format::Auto).unwrap();
        for c in &chains {
            for model in [
                SurfaceModel::Svi,
                SurfaceModel::Ssvi,
                SurfaceModel::Essvi,
                SurfaceModel::Sabr,
            ] {
                let o = SurfaceOptions {
                    model,
                    ..SurfaceOptions::default()
                };
                let (s, r) = calibrate_surface(c, &o)
                    .unwrap_or_else(|e| panic!("{f} {} {model}: {e}", c.underlying));
                println!(
                    "{f} {} {model}: {} expiries ({} failed), calendar-free {} ({} violations, {} wing crossings), fit {:.1} ms",
                    c.underlying,
                    s.slices().len(),
                    r.failed.len(),
                    r.calendar.calendar_free,
                    r.calendar.violations.len(),
                    r.calendar.wing_crossings.len(),
                    r.timing_micros.fit / 1e3
                );
                assert!(r.failed.is_empty(), "{f} {model}: {:?}", r.failed);
                if matches!(model, SurfaceModel::Ssvi | SurfaceModel::Essvi) {
                    assert!(
                        r.calendar.calendar_free,
                        "{f} {model}: {:?}",
                        r.calendar.violations
                    );
                }
                if model == SurfaceModel::Svi {
                    assert!(r.calendar.calendar_free, "{f}: {:?}", r.calendar.violations);
                    for v in &r.calendar.violations {
                        assert_eq!(v.remaining, 0.0, "{f}: {v:?}");
                    }
                }
                if model != SurfaceModel::Sabr {
                    assert!(r.slices.iter().all(|x| x.butterfly_free), "{f} {model}");
                }
                let t_mid = s.slices()[s.slices().len() / 2].t;
                let v = s.vol(s.forward(t_mid), t_mid);
                assert!(v.is_finite() && v > 0.0);
            }
        }
    }
}

/// The calendar report of the "report" policy lists violations that "repair" removes.
#[test]
fn calendar_repair_vs_report() {
    let (chains, _) = read_chains(
        shared_data("spx_gatheral/spx_ivols_20191220.csv"),
        Format::Auto,
    )
    .unwrap();
    let report_only = SurfaceOptions {
        calendar: CalendarPolicy::Report,
        ..SurfaceOptions::default()
    };
    let (_, r) = calibrate_surface(&chains[0], &report_only).unwrap();
    let (_, fixed) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    println!(
        "SPX 2019-12-20 per-expiry SVI: {} calendar violations on the grid; after repair calendar-free = {}",
        r.calendar.violations.len(),
        fixed.calendar.calendar_free
    );
    assert!(!r.calendar.calendar_free && !r.calendar.violations.is_empty());
    assert!(fixed.calendar.calendar_free);
}

/// surface.json round trip: same vols bit for bit (SVI and SABR slices).
#[test]
fn serde_round_trip_is_bit_exact() {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("volfit-surface-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for model in [SurfaceModel::Svi, SurfaceModel::Sabr] {
        let o = SurfaceOptions {
            model,
            ..SurfaceOptions::default()
        };
        let (s, _) = calibrate_surface(&chains[0], &o).unwrap();
        let path = dir.join(format!("{model}.json"));
        s.save(&path).unwrap();
        let back = FittedSurface::load(&path).unwrap();
        assert_eq!(back, s);
        for i in 0..200 {
            let t = 0.002 + 0.01 * f64::from(i);
            let k = s.forward(t) * (0.5 + 0.005 * f64::from(i));
            assert_eq!(
                back.vol(k, t).to_bits(),
                s.vol(k, t).to_bits(),
                "{model} {k} {t}"
            );
            assert_eq!(back.forward(t).to_bits(), s.forward(t).to_bits());
        }
    }
    // A damaged file is a clear error naming the file and position.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\"format\": \"volfit-surface\", \"version\": 1, \"underlying\": 3}",
    )
    .unwrap();
    let e = FittedSurface::load(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("line 1"), "{e}");
    std::fs::write(&bad, "{\"format\": \"other\", \"version\": 1, \"underlying\": \"X\", \"as_of\": null, \"spot\": null, \"slices\": []}").unwrap();
    assert!(
        FittedSurface::load(&bad)
            .unwrap_err()
            .to_string()
            .contains("format")
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Many threads querying one shared surface get exactly the single-threaded answers.
#[test]
fn concurrent_queries_agree() {
    let (chains, _) = read_chains(
        shared_data("spx_gatheral/spx_ivols_20050915.csv"),
        Format::Auto,
    )
    .unwrap();
    let (s, _) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let s = Arc::new(s);
    let query = |s: &dyn VolSurface| -> Vec<u64> {
        (0..2000)
            .flat_map(|i| {
                let t = 0.01 + 0.0013 * f64::from(i);
                let k = 1200.0 * (0.7 + 0.0003 * f64::from(i));
                [
                    s.vol(k, t).to_bits(),
                    s.local_vol(k, t).unwrap_or(-1.0).to_bits(),
                    s.density(k, t).to_bits(),
                ]
            })
            .collect()
    };
    let want = query(s.as_ref());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || query(s.as_ref()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

/// SABR slices keep Lee's bound beyond their scan range: `w` grows at most linearly with
/// slope < 2.
#[test]
fn sabr_wings_respect_lee() {
    let m = SliceModel::Sabr(WingedSabr {
        sabr: Sabr::new(100.0, 1.0, 0.3, 1.0, -0.5, 2.5).unwrap(),
        wings: [-1.0, 1.0],
    });
    for k in [-50.0, -5.0, 5.0, 50.0] {
        let (w, w1, w2) = m.w_derivs(k);
        assert!(
            w1.abs() < 2.0 && w2 == 0.0 && w >= 0.0 && w / k.abs() < 2.0 + 1.0 / k.abs(),
            "{k}: {w} {w1}"
        );
    }
}

/// A surface whose SABR wings are not finite cannot be built, so it is never written as
/// `null` wings that `load` refuses (issue 14: swapped `Ask`/`Fwd` headers used to do that).
#[test]
fn sabr_wings_out_of_domain_are_refused_before_any_file() {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let o = SurfaceOptions {
        model: SurfaceModel::Sabr,
        ..SurfaceOptions::default()
    };
    let (s, _) = calibrate_surface(&chains[0], &o).unwrap();
    let mut slices = s.slices().to_vec();
    let volfit::surface::SliceModel::Sabr(w) = &mut slices[1].model else {
        panic!("expected SABR slices");
    };
    w.wings[1] = f64::NAN;
    let e = FittedSurface::new(
        s.underlying().to_string(),
        s.as_of(),
        s.spot(),
        slices.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("slice 1 ") && e.contains("SABR wings"), "{e}");
    // Unchanged slices still build, save and load back.
    let ok = FittedSurface::new(
        s.underlying().to_string(),
        s.as_of(),
        s.spot(),
        s.slices().to_vec(),
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!("volfit-wings-{}.json", std::process::id()));
    ok.save(&path).unwrap();
    assert_eq!(FittedSurface::load(&path).unwrap(), ok);
    std::fs::remove_file(&path).unwrap();
}
