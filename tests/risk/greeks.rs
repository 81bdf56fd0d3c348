//! Every greek under every dynamics against finite differences of full revaluation: bump the
//! spot (every forward scales), reprice on the dynamics' [`Bumped`] surface; shift every vol;
//! roll the time to expiry at fixed forward.

use crate::common::{TOL_GREEKS_FD, shared_data};
use std::sync::OnceLock;
use volfit::black::{Greeks, OptionKind};
use volfit::quotes::{Format, read_chain_for};
use volfit::risk::greeks::{Bumped, Dynamics, inverse_greeks, option_greeks, price_rolled};
use volfit::surface::{FittedSurface, SurfaceModel, SurfaceOptions, VolSurface};

/// The BTC surface of 15 January 2026 (SVI per expiry).
pub fn january_surface() -> &'static FittedSurface {
    static S: OnceLock<FittedSurface> = OnceLock::new();
    S.get_or_init(|| {
        let path =
            shared_data("deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv");
        let (chain, _) = read_chain_for(&path, Format::Deribit, "BTC").expect("chain");
        let opts = SurfaceOptions {
            model: SurfaceModel::Svi,
            ..SurfaceOptions::default()
        };
        volfit::calibrate_surface(&chain, &opts).expect("surface").0
    })
}

/// Value after a spot move by `lam` and a vol shift `eps`.
fn reval(
    s: &dyn VolSurface,
    d: Dynamics,
    kind: OptionKind,
    k: f64,
    t: f64,
    lam: f64,
    eps: f64,
) -> f64 {
    let b = Bumped {
        base: s,
        forward_scale: lam,
        vol_shift: eps,
        dynamics: d,
    };
    b.try_price(kind, k, t).expect("bumped price")
}

/// Central differences with one Richardson step (errors `O(h⁴)`).
fn fd_greeks(s: &dyn VolSurface, d: Dynamics, kind: OptionKind, k: f64, t: f64) -> Greeks {
    let f = s.forward(t);
    let v = |lam: f64, eps: f64| reval(s, d, kind, k, t, lam, eps);
    let rich = |g: &dyn Fn(f64) -> f64, h: f64| (4.0 * g(h / 2.0) - g(h)) / 3.0;
    // Steps well inside the total vol σ√T (the scale on which the price curves in F).
    let h = (0.02 * s.vol(k, t) * t.sqrt()).min(2e-3);
    let e = 2e-3;
    let d1 = |h: f64| (v(1.0 + h, 0.0) - v(1.0 - h, 0.0)) / (2.0 * h * f);
    let d2 = |h: f64| (v(1.0 + h, 0.0) - 2.0 * v(1.0, 0.0) + v(1.0 - h, 0.0)) / (h * h * f * f);
    let ve = |e: f64| (v(1.0, e) - v(1.0, -e)) / (2.0 * e);
    let vo = |e: f64| (v(1.0, e) - 2.0 * v(1.0, 0.0) + v(1.0, -e)) / (e * e);
    let h0 = h;
    let va = |h: f64| {
        let e = e * h / h0;
        (v(1.0 + h, e) - v(1.0 - h, e) - v(1.0 + h, -e) + v(1.0 - h, -e)) / (4.0 * h * e * f)
    };
    // Theta: time passes, left one-sided second-order differences.
    let p = |tau: f64| price_rolled(s, kind, k, t, tau).expect("rolled price");
    let th = |h: f64| -(3.0 * p(t) - 4.0 * p(t - h) + p(t - 2.0 * h)) / (2.0 * h);
    let ht = 1e-3 * t;
    Greeks {
        price: v(1.0, 0.0),
        delta: rich(&d1, h),
        gamma: rich(&d2, h),
        vega: rich(&ve, e),
        theta: rich(&th, ht),
        vanna: rich(&va, h),
        volga: rich(&vo, e),
    }
}

fn check(name: &str, a: f64, b: f64, scale: f64, worst: &mut f64, at: &str) {
    let err = (a - b).abs() / a.abs().max(1e-3 * scale);
    *worst = worst.max(err);
    assert!(
        err <= TOL_GREEKS_FD,
        "{name} {at}: analytic {a} vs full revaluation {b} ({err:.2e})"
    );
}

#[test]
fn every_greek_under_every_dynamics_matches_full_revaluation() {
    let s = january_surface();
    let times: Vec<f64> = s.slices().iter().map(|x| x.t).collect();
    // An expiry of the surface, points between expiries and beyond the last.
    let mut ts = vec![
        times[1],
        times[3],
        0.5 * (times[2] + times[3]),
        0.5 * (times[5] + times[6]),
    ];
    ts.push(times[times.len() - 1]);
    let mut worst = 0.0f64;
    let mut n = 0;
    for d in Dynamics::ALL {
        for &t in &ts {
            let f = s.forward(t);
            let sig = s.vol(f, t);
            for m in [-1.2, -0.5, 0.0, 0.4, 1.0] {
                let k = f * (m * sig * t.sqrt()).exp();
                for kind in [OptionKind::Call, OptionKind::Put] {
                    let a = option_greeks(s, kind, k, t, d).expect("greeks");
                    let b = fd_greeks(s, d, kind, k, t);
                    let rt = t.sqrt();
                    let at = format!("{d:?} {kind:?} K/F {:.3} t {t:.4}", k / f);
                    check("price", a.price, b.price, f * sig * rt, &mut worst, &at);
                    check("delta", a.delta, b.delta, 1.0, &mut worst, &at);
                    check(
                        "gamma",
                        a.gamma,
                        b.gamma,
                        1.0 / (f * sig * rt),
                        &mut worst,
                        &at,
                    );
                    check("vega", a.vega, b.vega, f * rt, &mut worst, &at);
                    check("theta", a.theta, b.theta, f * sig / rt, &mut worst, &at);
                    check("vanna", a.vanna, b.vanna, 1.0 / sig, &mut worst, &at);
                    check("volga", a.volga, b.volga, f * rt / sig, &mut worst, &at);
                    n += 1;
                }
            }
        }
    }
    eprintln!("{n} options x 7 greeks: worst relative gap to full revaluation {worst:.2e}");
}

#[test]
fn sticky_moneyness_delta_carries_the_skew_and_sticky_delta_is_the_same_regime() {
    let s = january_surface();
    let t = s.slices()[3].t;
    let f = s.forward(t);
    let k = 0.8 * f;
    let ss = option_greeks(s, OptionKind::Put, k, t, Dynamics::StickyStrike).unwrap();
    let sm = option_greeks(s, OptionKind::Put, k, t, Dynamics::StickyMoneyness).unwrap();
    let sd = option_greeks(s, OptionKind::Put, k, t, Dynamics::StickyDelta).unwrap();
    assert_eq!(sm, sd);
    // The put skew: vol falls as the forward rises past a low strike.
    let slope = (s.vol(k * 1.0001, t) - s.vol(k * 0.9999, t)) / (0.0002 * k);
    assert!(slope < 0.0);
    // σ_F = −(K/F)·∂σ/∂K.
    let expected = ss.delta - ss.vega * (k / f) * slope;
    assert!(
        (sm.delta - expected).abs() < 1e-6,
        "{} vs {expected}",
        sm.delta
    );
    assert_eq!(ss.vega, sm.vega);
    assert_eq!(ss.theta, sm.theta);
}

#[test]
fn coin_greeks_are_derivatives_of_the_coin_value() {
    let s = january_surface();
    let t = s.slices()[4].t;
    let f = s.forward(t);
    for d in Dynamics::ALL {
        for kind in [OptionKind::Call, OptionKind::Put] {
            let k = f * 1.1;
            let inv = inverse_greeks(&option_greeks(s, kind, k, t, d).unwrap(), f);
            let c = |lam: f64, e: f64| reval(s, d, kind, k, t, lam, e) / (lam * f);
            let h = 1e-4;
            let delta = (c(1.0 + h, 0.0) - c(1.0 - h, 0.0)) / (2.0 * h * f);
            let gamma = (c(1.0 + h, 0.0) - 2.0 * c(1.0, 0.0) + c(1.0 - h, 0.0)) / (h * h * f * f);
            let vanna = (c(1.0 + h, h) - c(1.0 - h, h) - c(1.0 + h, -h) + c(1.0 - h, -h))
                / (4.0 * h * h * f);
            assert!(
                (inv.coin.delta / delta - 1.0).abs() < 1e-5,
                "{} {delta}",
                inv.coin.delta
            );
            assert!(
                (inv.coin.gamma / gamma - 1.0).abs() < 1e-4,
                "{} {gamma}",
                inv.coin.gamma
            );
            assert!(
                (inv.coin.vanna / vanna - 1.0).abs() < 1e-4,
                "{} {vanna}",
                inv.coin.vanna
            );
            assert!((inv.premium_adjusted_delta - f * inv.coin.delta).abs() < 1e-15);
        }
    }
}

#[test]
fn no_answer_is_an_error_not_nan() {
    let s = january_surface();
    for (k, t) in [
        (-1.0, 0.5),
        (100_000.0, 0.0),
        (f64::NAN, 0.5),
        (100_000.0, f64::INFINITY),
    ] {
        assert!(option_greeks(s, OptionKind::Call, k, t, Dynamics::StickyStrike).is_err());
    }
}
