//! NaN where no answer exists: Black and Bachelier prices and greeks at an invalid vol, time,
//! forward or strike are NaN in every field, never 0, −0 or ±inf; the valid edges (`vol = 0`,
//! `t = 0`) still give the intrinsic value.

use volfit::black::{Greeks, bachelier_greeks, bachelier_price, black_price_checked};
use volfit::{OptionKind, black_greeks, black_price};

/// `(forward, strike, t, vol)` with one input outside the domain.
const INVALID_BLACK: [(f64, f64, f64, f64); 14] = [
    (100.0, 90.0, 1.0, f64::NAN),
    (100.0, 90.0, 1.0, -0.2),
    (100.0, 90.0, 1.0, f64::INFINITY),
    (100.0, 90.0, -1.0, 0.2),
    (100.0, 90.0, f64::NAN, 0.2),
    (100.0, 90.0, f64::INFINITY, 0.2),
    (0.0, 90.0, 1.0, 0.2),
    (-100.0, 90.0, 1.0, 0.2),
    (f64::NAN, 90.0, 1.0, 0.2),
    (f64::INFINITY, 90.0, 1.0, 0.2),
    (100.0, 0.0, 1.0, 0.2),
    (100.0, -90.0, 1.0, 0.2),
    (100.0, f64::NAN, 1.0, 0.2),
    (100.0, f64::INFINITY, 1.0, 0.2),
];

fn all_nan(g: &Greeks) -> bool {
    [g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga]
        .iter()
        .all(|v| v.is_nan())
}

#[test]
fn black_price_and_greeks_are_nan_outside_the_domain() {
    for kind in [OptionKind::Call, OptionKind::Put] {
        for (f, k, t, v) in INVALID_BLACK {
            let p = black_price(kind, f, k, t, v);
            assert!(p.is_nan(), "black_price({kind}, {f}, {k}, {t}, {v}) = {p}");
            let g = black_greeks(kind, f, k, t, v);
            assert!(
                all_nan(&g),
                "black_greeks({kind}, {f}, {k}, {t}, {v}) = {g:?}"
            );
            // The checked price names the input wherever the plain one is NaN.
            assert!(black_price_checked(kind, f, k, t, v).is_err());
        }
        // The valid edges: no time or no vol leaves the intrinsic value (not NaN).
        assert_eq!(
            black_price(kind, 100.0, 90.0, 0.0, 0.2),
            kind.intrinsic(100.0, 90.0)
        );
        assert_eq!(
            black_price(kind, 100.0, 90.0, 1.0, 0.0),
            kind.intrinsic(100.0, 90.0)
        );
        let g = black_greeks(kind, 100.0, 90.0, 1.0, 0.0);
        assert_eq!((g.gamma, g.vega), (0.0, 0.0));
    }
}

#[test]
fn bachelier_price_and_greeks_are_nan_outside_the_domain() {
    // Forward and strike may be any finite number (negative rates); vol and time as for Black.
    let invalid: [(f64, f64, f64, f64); 10] = [
        (0.01, 0.0, 1.0, f64::NAN),
        (0.01, 0.0, 1.0, -0.007),
        (0.01, 0.0, 1.0, f64::INFINITY),
        (0.01, 0.0, -1.0, 0.007),
        (0.01, 0.0, f64::NAN, 0.007),
        (0.01, 0.0, f64::INFINITY, 0.007),
        (f64::NAN, 0.0, 1.0, 0.007),
        (f64::NEG_INFINITY, 0.0, 1.0, 0.007),
        (0.01, f64::NAN, 1.0, 0.007),
        (0.01, f64::INFINITY, 1.0, 0.007),
    ];
    for kind in [OptionKind::Call, OptionKind::Put] {
        for (f, k, t, v) in invalid {
            let p = bachelier_price(kind, f, k, t, v);
            assert!(
                p.is_nan(),
                "bachelier_price({kind}, {f}, {k}, {t}, {v}) = {p}"
            );
            let g = bachelier_greeks(kind, f, k, t, v);
            assert!(
                all_nan(&g),
                "bachelier_greeks({kind}, {f}, {k}, {t}, {v}) = {g:?}"
            );
        }
        let p = bachelier_price(kind, -0.005, 0.0, 1.0, 0.007);
        assert!(p.is_finite() && p > 0.0);
        assert_eq!(
            bachelier_price(kind, -0.005, 0.0, 0.0, 0.007),
            kind.intrinsic(-0.005, 0.0)
        );
    }
}

/// Bachelier prices beyond the double range (`|F − K|` or `σ√T` overflowing) are NaN, never
/// ±inf; just inside they are the closed forms. (The other side of `F = −K = 10³⁰⁸` is out of
/// the money by `2·10³⁰⁸` with `σ√T = 0.01`: its price `≈ e^{−(2·10³¹⁰)²/2}` rounds to 0.)
#[test]
fn bachelier_overflow_is_nan_not_inf() {
    use OptionKind::{Call, Put};
    for (kind, f, k, t, v) in [
        (Call, 1e308, -1e308, 1.0, 0.01),
        (Put, -1e308, 1e308, 1.0, 0.01),
        (Call, 0.0, 0.0, 1e10, 1e305),
        (Put, 0.0, 0.0, 1e10, 1e305),
    ] {
        let p = bachelier_price(kind, f, k, t, v);
        assert!(
            p.is_nan(),
            "bachelier_price({kind}, {f:e}, {k:e}, {t:e}, {v:e}) = {p}"
        );
        assert!(all_nan(&bachelier_greeks(kind, f, k, t, v)));
    }
    assert_eq!(bachelier_price(Put, 1e308, -1e308, 1.0, 0.01), 0.0);
    assert_eq!(bachelier_price(Call, -1e308, 1e308, 1.0, 0.01), 0.0);
    for kind in [Call, Put] {
        // At the money the price is σ√(T/2π), here 1e305·√(1/2π): large but finite.
        let p = bachelier_price(kind, 0.0, 0.0, 1.0, 1e305);
        let want = 1e305 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((p / want - 1.0).abs() < 4.0 * f64::EPSILON, "{p:e}");
        // Deep in the money with no time value left: the intrinsic value 1e308.
        let p = bachelier_price(kind, kind.theta() * 1e308, 0.0, 1.0, 1.0);
        assert_eq!(p, 1e308);
    }
}

/// A greek beyond the double range is NaN in that field alone: theta of an at-the-money
/// option on `F = 10³⁰⁸` at `t = 5e-324` is about `−F·σ/(2√(2πt)) ≈ −1.8·10⁴⁶⁸`; price, delta,
/// gamma and vega stay their finite closed forms (`σ√t` is tiny, so `V = F·(2Φ(s/2) − 1) =
/// F·s/√(2π)` to within `s²`).
#[test]
fn black_greeks_out_of_double_range_are_nan_not_inf() {
    let (f, t, vol): (f64, f64, f64) = (1e308, 5e-324, 0.2);
    let s = vol * t.sqrt();
    let g = black_greeks(OptionKind::Call, f, f, t, vol);
    assert!(g.theta.is_nan(), "{g:?}");
    let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 8.0 * f64::EPSILON;
    assert!(close(g.price, f * s * inv_sqrt_2pi), "{g:?}");
    assert!(close(g.delta, 0.5), "{g:?}");
    assert!(close(g.gamma, inv_sqrt_2pi / (f * s)), "{g:?}");
    assert!(close(g.vega, f * inv_sqrt_2pi * t.sqrt()), "{g:?}");
    // Gamma of an at-the-money option on F = 1e-308 with s = 0.2 is φ(0.1)/(F·s) ≈ 1.99e308,
    // just past f64::MAX: NaN; vega (F·φ·√t ≈ 4e-309) is a subnormal but finite value.
    let g = black_greeks(OptionKind::Call, 1e-308, 1e-308, 1.0, 0.2);
    assert!(
        g.gamma.is_nan() && g.vega > 0.0 && g.vega.is_finite(),
        "{g:?}"
    );
    // No field of any greek is ever ±inf over a sweep of extreme (valid) inputs.
    for &f in &[1e-308, 1e-200, 1.0, 1e200, 1e308] {
        for &k in &[1e-308, 1.0, 1e308] {
            for &t in &[5e-324, 1e-300, 1.0, 1e300] {
                for &v in &[1e-300, 0.2, 1e10] {
                    for kind in [OptionKind::Call, OptionKind::Put] {
                        let g = black_greeks(kind, f, k, t, v);
                        for x in [g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga] {
                            assert!(!x.is_infinite(), "{kind} {f:e} {k:e} {t:e} {v:e}: {g:?}");
                        }
                        assert!(g.price.is_finite(), "{kind} {f:e} {k:e} {t:e} {v:e}: {g:?}");
                    }
                }
            }
        }
    }
}

/// The greeks are homogeneous like the price: scaling `F` and `K` by `λ = 2ⁿ` is exact in
/// floating point, so Δ and vanna keep every bit, Γ is divided by λ and price, vega, theta and
/// volga multiplied by λ, exactly (over a range of n where nothing is subnormal).
#[test]
fn black_greeks_scale_exactly_by_powers_of_two() {
    for kind in [OptionKind::Call, OptionKind::Put] {
        for (f, k, t, v) in [
            (1.0, 1.2, 0.5, 0.3),
            (1.0, 0.4, 2.0, 0.8),
            (1.0, 1.0, 1e-4, 0.2),
        ] {
            let g = black_greeks(kind, f, k, t, v);
            for n in (-900..=900).step_by(45) {
                let l = 2f64.powi(n);
                let s = black_greeks(kind, l * f, l * k, t, v);
                let at = format!("{kind} {f} {k} {t} {v}, λ = 2^{n}");
                assert_eq!(s.delta, g.delta, "{at}");
                assert_eq!(s.vanna, g.vanna, "{at}");
                assert_eq!(s.price, l * g.price, "{at}");
                assert_eq!(s.gamma, g.gamma / l, "{at}");
                assert_eq!(s.vega, l * g.vega, "{at}");
                assert_eq!(s.theta, l * g.theta, "{at}");
                assert_eq!(s.volga, l * g.volga, "{at}");
            }
        }
    }
}

/// The edges of the domain are inside it: `−0` vol or time (the intrinsic value, as `+0`),
/// subnormal and `f64::MAX` forwards and strikes (finite prices: a call is worth at most `F`,
/// a put at most `K`).
#[test]
fn the_edges_of_the_domain_are_valid() {
    for kind in [OptionKind::Call, OptionKind::Put] {
        for (t, v) in [(1.0, -0.0), (-0.0, 0.2), (-0.0, -0.0)] {
            assert_eq!(
                black_price(kind, 100.0, 90.0, t, v),
                kind.intrinsic(100.0, 90.0)
            );
            assert_eq!(
                bachelier_price(kind, 0.01, 0.0, t, v),
                kind.intrinsic(0.01, 0.0)
            );
        }
        for (f, k) in [
            (5e-324, 5e-324),
            (5e-324, 1.0),
            (1.0, 5e-324),
            (f64::MAX, f64::MAX),
            (f64::MAX, 5e-324),
            (5e-324, f64::MAX),
        ] {
            let p = black_price(kind, f, k, 1.0, 0.2);
            let bound = if kind == OptionKind::Call { f } else { k };
            assert!(
                p.is_finite() && p >= kind.intrinsic(f, k) && p <= bound,
                "{kind} {f:e} {k:e}: {p:e}"
            );
        }
    }
    // At the money on F = K = f64::MAX the price is F·(2Φ(σ/2) − 1), no overflow on the way.
    let p = black_price(OptionKind::Call, f64::MAX, f64::MAX, 1.0, 0.2);
    let q = black_price(OptionKind::Call, 1.0, 1.0, 1.0, 0.2);
    assert!(
        (p / f64::MAX / q - 1.0).abs() < 4.0 * f64::EPSILON,
        "{p:e} {q}"
    );
}
