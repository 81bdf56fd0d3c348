//! SABR formulas against published numbers, identities and their own derivatives.
use crate::common::{read_csv, shared_reference};
use proptest::prelude::*;
use volfit::models::SmileModel;
use volfit::models::sabr::{Sabr, SabrExpansion, SabrParams};

/// QuantLib `testSabrInterpolation`: 31 Hagan lognormal vols, F = 0.039, T = 1, α = 0.3,
/// β = 0.6, ν = 0.02, ρ = 0.01; QuantLib's own tolerance is 1e-12.
#[test]
fn quantlib_hagan_vols() {
    let rows = read_csv(&shared_reference("quantlib_sabr_interpolation_vols.csv"));
    assert_eq!(rows.len(), 31);
    let s = Sabr::new(0.039, 1.0, 0.3, 0.6, 0.01, 0.02).unwrap();
    let mut worst: f64 = 0.0;
    for r in &rows {
        let k: f64 = r[0].parse().unwrap();
        let want: f64 = r[1].parse().unwrap();
        worst = worst.max((s.vol(k) - want).abs());
    }
    println!("QuantLib Hagan vols: worst |Δσ| = {worst:.1e}");
    assert!(worst < 1e-12, "{worst}");
}

/// Le Floc'h & Kennedy (2014), S&P 500 smile regenerated from the reference parameters of
/// expiry 0.479 (β = 1, f = 2016): the 12 "Reference" vols of `explicit_fit_sabr_0479_beta1.txt`
/// in the paper's repository (github.com/fabienlefloch/explicit_sabr).
#[test]
fn lefloch_kennedy_spx_reference_smile() {
    let s = Sabr::new(2016.0, 0.479, 0.255, 1.0, -0.370, 0.629).unwrap();
    let published = [
        (1008.0, 0.37884288275669287),
        (1209.6, 0.34377695073916537),
        (1411.2, 0.3144570820243975),
        (1612.8, 0.2901453304101825),
        (1814.4, 0.27071806664538084),
        (1915.2, 0.26289906441165245),
        (2016.0, 0.2563879506401287),
        (2116.8, 0.251199582309137),
        (2217.6, 0.2473162561484559),
        (2419.2, 0.2431891444006864),
        (2620.8, 0.24311279990804216),
        (3024.0, 0.2506094629538411),
    ];
    for (k, want) in published {
        let got = s.vol(k);
        assert!((got - want).abs() < 2e-15, "K {k}: {got} vs {want}");
        // β = 1: Obłój's expansion coincides with Hagan's.
        let o = s.with_expansion(SabrExpansion::Obloj).unwrap().vol(k);
        assert!((o - want).abs() < 2e-15, "Obłój K {k}: {o} vs {want}");
    }
}

/// Le Floc'h & Kennedy (2014) Tables 1 and 2 (`lefloch_kennedy_2014_misc_tables.csv`): the
/// extreme-parameter at-the-money values, direct lognormal vs normal converted to Black, and the
/// classic lognormal formula on Hagan's 2014 parameters. The paper prints 4 digits.
#[test]
fn lefloch_kennedy_misc_tables() {
    let rows = read_csv(&shared_reference("lefloch_kennedy_2014_misc_tables.csv"));
    let mut checked = 0;
    for r in &rows {
        let f = |i: usize| r[i].parse::<f64>().unwrap();
        let (alpha, beta, rho, nu, fwd, t, k) = (f(1), f(2), f(3), f(4), f(5), f(6), f(7));
        let (price, vol) = (f(9), f(10));
        let method = r[8].as_str();
        let s = Sabr::new(fwd, t, alpha, beta, rho, nu).unwrap();
        let (got_price, got_vol) = match method {
            "direct lognormal Hagan approx" => (s.call_price(k), s.vol(k)),
            // LFK's "classic" lognormal formula (their eq. 5) is Obłój's form.
            "classic Hagan lognormal" => {
                let o = s.with_expansion(SabrExpansion::Obloj).unwrap();
                (o.call_price(k), o.vol(k))
            }
            "normal Hagan approx then converted to Black" => {
                let n = s.with_expansion(SabrExpansion::Normal).unwrap();
                (n.call_price(k), n.black_vol(k).unwrap())
            }
            _ => continue, // PDE and Andersen–Brotherton-Ratcliffe values: other models.
        };
        println!("{method} K={k}: price {got_price:.4} ({price}), vol {got_vol:.4} ({vol})");
        assert!(
            (got_price - price).abs() < 6e-5 * price.max(1.0),
            "{method}"
        );
        assert!((got_vol - vol).abs() < 6e-5, "{method}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

/// At the money the ratio z/x(z) is 1 with no special case, and the limit is smooth: the vol
/// at F·(1 ± 1e-9) differs from the ATM vol by the skew times the step.
#[test]
fn atm_limit_is_smooth() {
    for e in [
        SabrExpansion::Hagan,
        SabrExpansion::Obloj,
        SabrExpansion::Normal,
    ] {
        let s = Sabr::new(0.03, 2.0, 0.02, 0.5, -0.3, 0.4)
            .unwrap()
            .with_expansion(e)
            .unwrap();
        let (v, d1, _) = s.vol_strike_derivatives(0.03);
        for h in [1e-9, 1e-7, 1e-5] {
            for sign in [-1.0, 1.0] {
                let k = 0.03 * (1.0 + sign * h);
                let lin = v + d1 * (k - 0.03);
                assert!(
                    (s.vol(k) - lin).abs() < 1e-13 + 10.0 * (h * 0.03).powi(2) * d1.abs() / 0.03,
                    "{e:?} h {h}"
                );
            }
        }
    }
}

/// The at-the-money cubic inverts the at-the-money vol for every expansion.
#[test]
fn alpha_from_atm_inverts() {
    for e in [
        SabrExpansion::Hagan,
        SabrExpansion::Obloj,
        SabrExpansion::Normal,
    ] {
        for &(beta, rho, nu, t) in &[
            (0.5, -0.3, 0.4, 2.0),
            (1.0, 0.2, 1.5, 0.1),
            (0.0, -0.9, 0.8, 10.0),
        ] {
            let s = Sabr::new(
                0.04,
                t,
                0.01_f64.max(0.2 * 0.04_f64.powf(1.0 - beta)),
                beta,
                rho,
                nu,
            )
            .unwrap()
            .with_expansion(e)
            .unwrap();
            let a =
                Sabr::alpha_from_atm(e, s.forward(), 0.0, t, s.atm_vol(), beta, rho, nu).unwrap();
            assert!(
                (a / s.alpha() - 1.0).abs() < 1e-13,
                "{e:?} β {beta}: {a} vs {}",
                s.alpha()
            );
        }
    }
}

/// Density from the strike derivatives integrates to one and reproduces the forward
/// (∫q = 1, ∫K q = F) where the expansion is a good model (moderate ν²T).
#[test]
fn density_is_a_probability() {
    for e in [SabrExpansion::Hagan, SabrExpansion::Obloj] {
        let s = Sabr::new(100.0, 0.5, 0.25, 1.0, -0.4, 0.8)
            .unwrap()
            .with_expansion(e)
            .unwrap();
        let (lo, hi, n) = (20.0, 400.0, 40_000);
        let h = (hi - lo) / f64::from(n);
        let (mut m0, mut m1) = (0.0, 0.0);
        for i in 0..=n {
            let k = lo + h * f64::from(i);
            let w = if i == 0 || i == n { 0.5 } else { 1.0 };
            let q = s.density(k);
            m0 += w * q * h;
            m1 += w * k * q * h;
        }
        // Mass outside [20, 400] from the call price and its slope at the ends.
        let (c_lo, dc_lo, _) = s.call_strike_derivatives(lo);
        let (_, dc_hi, _) = s.call_strike_derivatives(hi);
        let mass = m0 + (1.0 + dc_lo) - dc_hi;
        println!("{e:?}: ∫q = {m0:.8}, with tails {mass:.10}; ∫Kq = {m1:.6}, C(20) = {c_lo:.4}");
        assert!((mass - 1.0).abs() < 1e-7, "{e:?} mass {mass}");
        assert!(s.butterfly_scan().is_free());
    }
}

/// Hagan's expansion has a negative density in the low-strike wing for long expiries with
/// high vol of vol (the known defect): the scan finds and localises it.
#[test]
fn butterfly_scan_finds_the_hagan_defect() {
    let s = Sabr::new(0.03, 10.0, 0.04, 0.5, -0.2, 0.6).unwrap();
    let scan = s.butterfly_scan();
    println!("{scan:?}");
    assert!(!scan.is_free());
    let [lo, hi] = scan.negative[0];
    assert!(
        lo < hi && hi < 0.03,
        "negative density below the forward: {lo}..{hi}"
    );
    assert!(s.density(0.5 * (lo + hi)) < 0.0);
}

/// SmileModel view: w(k) is the Black total variance of the model price, for the normal
/// expansion too (through the exact conversion), and its k-derivatives are exact.
#[test]
fn smile_model_view_matches_prices() {
    for e in [SabrExpansion::Hagan, SabrExpansion::Normal] {
        let s = Sabr::new(0.03, 1.5, 0.01, 0.5, -0.3, 0.5)
            .unwrap()
            .with_expansion(e)
            .unwrap();
        for &k in &[-0.6, -0.1, 0.0, 0.05, 0.4] {
            let strike = 0.03 * f64::exp(k);
            let bv = s.black_vol(strike).unwrap();
            let w = s.total_variance(k);
            assert!((w - bv * bv * 1.5).abs() < 1e-13, "{e:?} k {k}");
            let h = 1e-4;
            let fd1 = (s.total_variance(k + h) - s.total_variance(k - h)) / (2.0 * h);
            let fd2 = (s.total_variance(k + h) - 2.0 * w + s.total_variance(k - h)) / (h * h);
            assert!(
                (s.dw_dk(k) - fd1).abs() < 1e-8,
                "{e:?} w' at {k}: {} vs {fd1}",
                s.dw_dk(k)
            );
            assert!(
                (s.d2w_dk2(k) - fd2).abs() < 1e-5,
                "{e:?} w'' at {k}: {} vs {fd2}",
                s.d2w_dk2(k)
            );
        }
    }
}

/// Put–call parity of the model prices, and shifted SABR prices options on F + b.
#[test]
fn parity_and_shift() {
    let err = Sabr::new(-0.002, 3.0, 0.01, 0.5, 0.1, 0.3).unwrap_err();
    assert_eq!(err.name, "forward");
    let s = SabrParams {
        forward: -0.002,
        shift: 0.02,
        ..Sabr::new(0.01, 3.0, 0.01, 0.5, 0.1, 0.3).unwrap().params()
    }
    .build()
    .unwrap();
    for k in [-0.01, -0.002, 0.0, 0.01] {
        let c = s.price(volfit::OptionKind::Call, k);
        let p = s.price(volfit::OptionKind::Put, k);
        assert!((c - p - (s.forward() - k)).abs() < 1e-17);
        assert!(c > 0.0 && p > 0.0 && s.vol(k) > 0.0);
    }
    // β = 0 normal SABR takes negative forwards and strikes without a shift.
    let n = SabrParams {
        beta: 0.0,
        forward: -0.003,
        alpha: 0.006,
        expansion: SabrExpansion::Normal,
        shift: 0.0,
        ..s.params()
    }
    .build()
    .unwrap();
    assert!(n.vol(-0.01) > 0.0 && n.vol(0.004) > 0.0);
}

/// The time-correction factor `1 + (…)T` of the SABR expansions at strike `k` (unshifted;
/// Hagan 2002 eq. 2.17a, Obłój 2008, and Hagan's normal expansion): every other factor of the
/// vol is positive, so the vol has its sign.
fn time_correction(s: &Sabr, k: f64) -> f64 {
    let (f, a, b, r, n) = (s.forward(), s.alpha(), s.beta(), s.rho(), s.nu());
    let fk = (f * k).powf(0.5 * (1.0 - b));
    let lead = match s.expansion() {
        SabrExpansion::Normal => (b * b - 2.0 * b) * a * a / (24.0 * fk * fk),
        _ => (1.0 - b) * (1.0 - b) * a * a / (24.0 * fk * fk),
    };
    1.0 + (lead + r * b * n * a / (4.0 * fk) + n * n * (2.0 - 3.0 * r * r) / 24.0) * s.t()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Parameter gradients (forward-mode) against central differences.
    #[test]
    fn gradient_matches_finite_differences(
        alpha in 0.05f64..0.8, beta in 0.0f64..1.0, rho in -0.95f64..0.95, nu in 0.0f64..2.0,
        t in 0.05f64..5.0, lnk in -0.8f64..0.8, e in 0usize..3,
    ) {
        let e = [SabrExpansion::Hagan, SabrExpansion::Obloj, SabrExpansion::Normal][e];
        let f: f64 = 1.0;
        let s = Sabr::new(f, t, alpha, beta, rho, nu).unwrap().with_expansion(e).unwrap();
        let k = f * lnk.exp();
        let (v, g) = s.vol_gradient(k);
        if time_correction(&s, k) <= 0.0 {
            // The expansion breaks down (a vol ≤ 0): no vol and no derivatives.
            prop_assert!(v.is_nan() && s.vol(k).is_nan() && g.iter().all(|x| x.is_nan()));
            return Ok(());
        }
        prop_assert_eq!(v, s.vol(k));
        let h = 1e-6;
        let bump = |i: usize, d: f64| {
            let mut p = [s.alpha(), s.beta(), s.rho(), s.nu()];
            p[i] += d;
            SabrParams { alpha: p[0], beta: p[1], rho: p[2], nu: p[3], ..s.params() }.build().map_or(f64::NAN, |m| m.vol(k))
        };
        for i in 0..4 {
            let fd = (bump(i, h) - bump(i, -h)) / (2.0 * h);
            prop_assert!((g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "param {} grad {} fd {}", i, g[i], fd);
        }
        let (v0, d1, d2) = s.vol_strike_derivatives(k);
        prop_assert_eq!(v0, v);
        let hk = 1e-5 * k;
        let fd1 = (s.vol(k + hk) - s.vol(k - hk)) / (2.0 * hk);
        let fd2 = (s.vol(k + hk) - 2.0 * v + s.vol(k - hk)) / (hk * hk);
        prop_assert!((d1 - fd1).abs() < 1e-6 * (1.0 + fd1.abs()), "dσ/dK {} vs {}", d1, fd1);
        prop_assert!((d2 - fd2).abs() < 1e-3 * (1.0 + fd2.abs()), "d²σ/dK² {} vs {}", d2, fd2);
    }

    /// The vol is finite and positive across the parameter domain (no NaN from the ATM limit,
    /// ρ → ±1 or ν → 0) wherever the expansion's time correction `1 + (…)T` is positive, and
    /// NaN exactly where it is not (the expansion then gives a vol ≤ 0: no vol, not a value).
    #[test]
    fn vol_is_finite(
        alpha in 1e-3f64..3.0, beta in 0.0f64..=1.0, rho in -0.9999f64..0.9999, nu in 0.0f64..5.0,
        t in 1e-3f64..30.0, lnk in -3.0f64..3.0, e in 0usize..3,
    ) {
        let e = [SabrExpansion::Hagan, SabrExpansion::Obloj, SabrExpansion::Normal][e];
        let s = Sabr::new(1.0, t, alpha, beta, rho, nu).unwrap().with_expansion(e).unwrap();
        let v = s.vol(lnk.exp());
        let c = time_correction(&s, lnk.exp());
        // Leave out a sliver around c = 0 where rounding decides the sign.
        prop_assume!(c.abs() > 1e-9);
        if c > 0.0 {
            prop_assert!(v.is_finite() && v > 0.0, "{:?} at {}: {} (correction {})", s, lnk, v, c);
        } else {
            prop_assert!(v.is_nan(), "{:?} at {}: {} (correction {})", s, lnk, v, c);
        }
    }
}

/// No SABR vol exists at `K + b ≤ 0` (the lognormal expansions need a positive shifted
/// strike; the normal one too unless β = 0): NaN there from `vol` and its derivatives, never 0,
/// and an error, never `Ok(NaN)`, from the conversions.
#[test]
fn sabr_vol_is_nan_where_the_shifted_strike_is_not_positive() {
    for e in SabrExpansion::ALL {
        for shift in [0.0, 0.02] {
            let s = SabrParams {
                alpha: 0.03,
                beta: 0.5,
                rho: -0.3,
                nu: 0.4,
                shift,
                forward: 0.03,
                t: 1.0,
                expansion: e,
            }
            .build()
            .unwrap();
            for k in [
                -shift,
                -shift - 1e-3,
                -shift - 1.0,
                f64::NAN,
                f64::NEG_INFINITY,
            ] {
                let v = s.vol(k);
                assert!(v.is_nan(), "{e:?} shift {shift}: vol({k}) = {v}");
                let (d0, d1, d2) = s.vol_strike_derivatives(k);
                assert!(d0.is_nan() && d1.is_nan() && d2.is_nan(), "{e:?} {k}");
                let (g0, g) = s.vol_gradient(k);
                assert!(g0.is_nan() && g.iter().all(|x| x.is_nan()), "{e:?} {k}");
                assert!(
                    s.black_vol(k).is_err(),
                    "{e:?} shift {shift}: black_vol({k})"
                );
                assert!(
                    s.normal_vol(k).is_err(),
                    "{e:?} shift {shift}: normal_vol({k})"
                );
            }
            // Just inside the domain there is a vol.
            let v = s.vol(-shift + 0.01);
            assert!(v.is_finite() && v != 0.0, "{e:?} shift {shift}: {v}");
        }
    }
    // The normal expansion with β = 0 is defined at every finite strike, negative ones too.
    let n = SabrParams {
        alpha: 0.007,
        beta: 0.0,
        rho: 0.1,
        nu: 0.3,
        shift: 0.0,
        forward: 0.01,
        t: 2.0,
        expansion: SabrExpansion::Normal,
    }
    .build()
    .unwrap();
    assert!(n.vol(-0.01) > 0.0 && n.normal_vol(-0.01).unwrap() > 0.0);
    assert!(n.vol(f64::NAN).is_nan());
}

/// Strikes over the whole double range, all expansions, β ∈ {0, ½, 1}, T from 1e-300 to a
/// million years: every vol is finite and positive or NaN (the expansion has no usable number
/// there), never 0, negative or ±inf, and the derivatives are NaN together with it; the
/// conversions never give `Ok` of a non-positive or non-finite vol.
#[test]
fn sabr_vol_is_never_zero_negative_or_infinite() {
    let strikes = [
        5e-324,
        1e-300,
        1e-10,
        0.01,
        0.03,
        0.05,
        1e10,
        1e300,
        1e308,
        f64::MAX,
    ];
    let (mut finite, mut nan) = (0, 0);
    for e in SabrExpansion::ALL {
        for beta in [0.0, 0.5, 1.0] {
            for forward in [0.03f64, 1e5] {
                for t in [1e-300, 1.0, 1e6] {
                    let s = SabrParams {
                        alpha: 0.5 * forward.powf(1.0 - beta),
                        beta,
                        rho: -0.3,
                        nu: 0.4,
                        shift: 0.0,
                        forward,
                        t,
                        expansion: e,
                    }
                    .build()
                    .unwrap();
                    for k in strikes {
                        let at = format!("{e:?} β {beta} F {forward} T {t:e} K {k:e}");
                        let v = s.vol(k);
                        let (d0, d1, d2) = s.vol_strike_derivatives(k);
                        let (g0, g) = s.vol_gradient(k);
                        if v.is_nan() {
                            nan += 1;
                            assert!(d0.is_nan() && d1.is_nan() && d2.is_nan(), "{at}");
                            assert!(g0.is_nan() && g.iter().all(|x| x.is_nan()), "{at}");
                        } else {
                            finite += 1;
                            assert!(v > 0.0 && v.is_finite(), "{at}: {v}");
                            assert_eq!((d0, g0), (v, v), "{at}");
                        }
                        for x in [s.black_vol(k), s.normal_vol(k)].into_iter().flatten() {
                            assert!(x > 0.0 && x.is_finite(), "{at}: Ok({x})");
                        }
                    }
                }
            }
        }
    }
    // Most of the grid has a vol; the NaNs are the genuine breakdowns.
    assert!(finite > 2 * nan, "{finite} finite, {nan} NaN");
}

/// Far wings used to give a vol of exactly 0: `z = (ν/α)(FK)^{(1−β)/2}ln(F/K)` squared
/// overflowed inside `x(z)`. Now they match the expansion evaluated in 1000-digit arithmetic
/// (mpmath, the formulas of `expansion.rs` at the exact binary inputs: α = 0.03, ρ = −0.3,
/// ν = 0.4, F = 0.03, T = 1).
#[test]
fn sabr_far_wings_match_mpmath() {
    for (e, beta, k, want) in [
        (SabrExpansion::Hagan, 0.0, 1e308, 5.9098503781183393727e-9),
        (SabrExpansion::Hagan, 0.0, 1e300, 6.5596733468855879911e-9),
        (SabrExpansion::Hagan, 0.5, 1e308, 1.8385582758368672195e-7),
        (SabrExpansion::Obloj, 0.0, 1e300, 0.40453552894567683471),
        (SabrExpansion::Obloj, 0.5, 1e308, 0.80341003772326094962),
    ] {
        let s = SabrParams {
            alpha: 0.03,
            beta,
            rho: -0.3,
            nu: 0.4,
            shift: 0.0,
            forward: 0.03,
            t: 1.0,
            expansion: e,
        }
        .build()
        .unwrap();
        let v = s.vol(k);
        assert!(
            (v / want - 1.0).abs() < 1e-12,
            "{e:?} β {beta} K {k:e}: {v:e} vs {want:e}"
        );
    }
}

/// `call_price` at a strike that is not finite is NaN (it used to be `F − ∞ = −∞`).
#[test]
fn sabr_call_price_needs_a_finite_strike() {
    let s = Sabr::new(0.03, 1.0, 0.03, 0.5, -0.3, 0.4).unwrap();
    for k in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        assert!(s.call_price(k).is_nan(), "{k}");
    }
    // Below the lognormal domain the call is worth F − K whatever the vol.
    assert_eq!(s.call_price(-0.01), 0.03 - -0.01);
}
