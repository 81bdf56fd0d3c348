//! Round trips price → implied vol → price over the whole domain, parity identities and the
//! error for every kind of unattainable price.

use crate::common::{EPS, TOL_IV_CONDITIONED, TOL_IV_TARGET, rel};
use proptest::prelude::*;
use volfit::black::ImpliedVolError;
use volfit::{OptionKind, black_greeks, black_price, implied_vol};

/// `|∂ln σ/∂ln P|`: how much a relative price error is magnified in σ. The inversion cannot be
/// more accurate than `ε·cond`, because the price itself is known only to `ε`.
fn conditioning(kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
    let g = black_greeks(kind, f, k, t, vol);
    g.price / (vol * g.vega)
}

fn kind_strategy() -> impl Strategy<Value = OptionKind> {
    prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// σ ∈ [1e-3, 5], ln(K/F) ∈ [−5, 5], T ∈ [1 day, 30 years], forwards over 9 decades.
    #[test]
    fn round_trip(
        kind in kind_strategy(),
        ln_vol in (1e-3f64).ln()..(5f64).ln(),
        k in -5.0f64..5.0,
        t in (1.0 / 365.0)..30.0f64,
        ln_f in (1e-3f64).ln()..(1e6f64).ln(),
    ) {
        let vol = ln_vol.exp();
        let f = ln_f.exp();
        let strike = f * k.exp();
        let price = black_price(kind, f, strike, t, vol);
        let intrinsic = kind.intrinsic(f, strike);
        let bound = if kind == OptionKind::Call { f } else { strike };
        if price - intrinsic <= 1e-14 * f {
            return Ok(()); // no time value to speak of: no σ to recover
        }
        let cond = conditioning(kind, f, strike, t, vol);
        match implied_vol(kind, price, f, strike, t) {
            Ok(v) => {
                let e = rel(v, vol);
                prop_assert!(e <= TOL_IV_CONDITIONED * EPS * cond.max(1.0),
                    "σ={vol} k={k} T={t} F={f}: got {v}, rel {e:e}, cond {cond:e}");
                // The recovered σ reprices the price (to its conditioning in σ).
                let p2 = black_price(kind, f, strike, t, v);
                prop_assert!(rel(p2, price) <= 8.0 * EPS * (1.0 / cond).max(1.0));
            }
            // Only a price that rounds onto its upper bound may be refused.
            Err(ImpliedVolError::AboveUpperBound { .. }) => {
                prop_assert!(bound - price <= 4.0 * EPS * bound, "σ={vol} k={k} T={t}: refused");
            }
            Err(e) => prop_assert!(false, "σ={vol} k={k} T={t} F={f}: {e}"),
        }
    }

    /// Calls and puts at one strike give the same vol (they share one time value).
    #[test]
    fn call_and_put_vols_agree(ln_vol in (0.01f64).ln()..(3f64).ln(), k in -2.0f64..2.0, t in 0.01f64..10.0) {
        let vol = ln_vol.exp();
        let strike = 100.0 * k.exp();
        let c = black_price(OptionKind::Call, 100.0, strike, t, vol);
        let p = black_price(OptionKind::Put, 100.0, strike, t, vol);
        // Put–call parity on the undiscounted prices.
        prop_assert!((c - p - (100.0 - strike)).abs() <= 4.0 * EPS * 100f64.max(strike));
        if let (Ok(vc), Ok(vp)) = (implied_vol(OptionKind::Call, c, 100.0, strike, t), implied_vol(OptionKind::Put, p, 100.0, strike, t)) {
            let cond = conditioning(OptionKind::otm(100.0, strike), 100.0, strike, t, vol);
            prop_assert!(rel(vc, vp) <= 2.0 * TOL_IV_CONDITIONED * EPS * cond.max(1.0) * (c.max(p) / c.min(p)));
        }
    }
}

/// The target on a deterministic grid: relative σ error ≤ 1e-13 wherever the price
/// determines σ to that accuracy (`ε·cond ≤ 1e-14`) and the time value exceeds 1e-14·F; also
/// reports the worst error against the conditioning bound over the whole grid.
#[test]
fn round_trip_grid_report() {
    let mut n = 0usize;
    let mut worst_target: (f64, f64, f64, f64) = (0.0, 0.0, 0.0, 0.0);
    let mut worst_ratio: f64 = 0.0;
    let mut refused_at_bound = 0usize;
    for iv in 0..=60 {
        let vol = 1e-3 * (5000f64).powf(f64::from(iv) / 60.0);
        for ik in 0..=80 {
            let k = -5.0 + 10.0 * f64::from(ik) / 80.0;
            for it in 0..=40 {
                let t = (1.0 / 365.0) * (30.0 * 365.0f64).powf(f64::from(it) / 40.0);
                for kind in [OptionKind::Call, OptionKind::Put] {
                    let strike = 100.0 * f64::exp(k);
                    let price = black_price(kind, 100.0, strike, t, vol);
                    if price - kind.intrinsic(100.0, strike) <= 1e-14 * 100.0 {
                        continue;
                    }
                    n += 1;
                    let cond = conditioning(kind, 100.0, strike, t, vol);
                    match implied_vol(kind, price, 100.0, strike, t) {
                        Ok(v) => {
                            let e = rel(v, vol);
                            worst_ratio = worst_ratio.max(e / (EPS * cond.max(1.0)));
                            if EPS * cond <= 1e-14 && e > worst_target.0 {
                                worst_target = (e, vol, k, t);
                            }
                        }
                        Err(ImpliedVolError::AboveUpperBound { .. }) => refused_at_bound += 1,
                        Err(e) => panic!("σ={vol} k={k} T={t}: {e}"),
                    }
                }
            }
        }
    }
    println!(
        "round-trip grid: {n} prices with time value > 1e-14·F; worst relative σ error where ε·cond ≤ 1e-14: \
         {:.2e} (σ={:.4}, k={:.3}, T={:.4}); worst error / (ε·max(1, cond)) overall: {worst_ratio:.2}; \
         {refused_at_bound} prices rounded onto their upper bound",
        worst_target.0, worst_target.1, worst_target.2, worst_target.3
    );
    assert!(worst_target.0 <= TOL_IV_TARGET);
    assert!(worst_ratio <= TOL_IV_CONDITIONED);
}

#[test]
fn every_unattainable_price_is_an_error_with_its_reason() {
    use OptionKind::{Call, Put};
    let cases: &[(OptionKind, f64, f64, f64, f64, &str)] = &[
        (Put, 0.0, 100.0, 90.0, 1.0, "no_time_value"),
        (Call, 0.0, 100.0, 110.0, 1.0, "no_time_value"),
        (Call, 10.0, 110.0, 100.0, 1.0, "no_time_value"),
        (Call, 9.0, 110.0, 100.0, 1.0, "below_intrinsic"),
        (Put, -1.0, 100.0, 90.0, 1.0, "below_intrinsic"),
        (Call, 100.0, 100.0, 90.0, 1.0, "above_upper_bound"),
        (Put, 90.0, 100.0, 90.0, 1.0, "above_upper_bound"),
        (Call, f64::NAN, 100.0, 90.0, 1.0, "non_finite_input"),
        (Call, 5.0, f64::INFINITY, 90.0, 1.0, "non_finite_input"),
        (Call, 5.0, 100.0, 90.0, f64::NAN, "non_finite_input"),
        (Call, 5.0, 0.0, 90.0, 1.0, "non_positive_input"),
        (Call, 5.0, 100.0, -90.0, 1.0, "non_positive_input"),
        (Call, 5.0, 100.0, 90.0, 0.0, "non_positive_input"),
    ];
    for &(kind, p, f, k, t, reason) in cases {
        let e = implied_vol(kind, p, f, k, t).expect_err("no vol exists");
        assert_eq!(e.reason(), reason, "{kind} {p} {f} {k} {t}: {e}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn extreme_but_valid_prices_are_inverted() {
    // A put whose price is a few hundred orders of magnitude below the forward.
    let p = black_price(OptionKind::Put, 100.0, 10.0, 0.25, 0.2);
    assert!(p > 0.0 && p < 1e-100, "{p}");
    let v = implied_vol(OptionKind::Put, p, 100.0, 10.0, 0.25).unwrap();
    assert!(rel(v, 0.2) < 1e-14, "{v}");
    // Tiny total volatility at the money.
    let p = black_price(OptionKind::Call, 1.0, 1.0, 1e-8, 1e-4);
    let v = implied_vol(OptionKind::Call, p, 1.0, 1.0, 1e-8).unwrap();
    assert!(rel(v, 1e-4) < 1e-14, "{v}");
    // Huge volatility, far from the bound.
    let p = black_price(OptionKind::Call, 1.0, 50.0, 2.0, 3.0);
    let v = implied_vol(OptionKind::Call, p, 1.0, 50.0, 2.0).unwrap();
    assert!(rel(v, 3.0) < 1e-13, "{v}");
}

/// Near the money at small total vol (issue 19's case): `x = ln(F/K) = 0.00995` and
/// `h = x/s ≈ −2`, where an absolute half-ulp error in `x` (from `ln` of the rounded ratio) is
/// 1e-14 relative and the price magnifies it by `h²`. The price here is mpmath's at 60 digits
/// (`K·Φ(−d2) − F·Φ(−d1)` with the exact double inputs), rounded to the nearest double.
#[test]
fn near_the_money_small_total_vol_prices_and_inverts_to_a_few_ulps() {
    let (f, k, t, s) = (90_000.0, 89_104.485, 1.0, 0.005);
    let want = 3.801_749_579_533_752;
    let ulp = |x: f64| f64::from_bits(x.to_bits() + 1) - x;
    let p = black_price(OptionKind::Put, f, k, t, s);
    let err_ulps = (p - want).abs() / ulp(want);
    eprintln!("price at σ: {err_ulps} ulps");
    assert!(err_ulps <= 8.0, "price {p} vs {want}: {err_ulps} ulps");
    let v = implied_vol(OptionKind::Put, want, f, k, t).unwrap();
    let vol_ulps = (v - s).abs() / ulp(s);
    assert!(vol_ulps <= 8.0, "vol {v}: {vol_ulps} ulps of σ");
    // Repriced at the recovered vol: the vol's own error times the price's elasticity
    // `∂ln P/∂ln σ = 6.36` here (1/conditioning), plus the pricing's few ulps.
    let back = black_price(OptionKind::Put, f, k, t, v);
    let elasticity = 1.0 / conditioning(OptionKind::Put, f, k, t, s);
    let allowed = elasticity * (v - s).abs() / s * want + 16.0 * ulp(want);
    assert!(
        (back - want).abs() <= allowed,
        "repriced {back} vs {want} (allowed {allowed:e})"
    );
    eprintln!(
        "price {err_ulps} ulps, vol {vol_ulps} ulps of σ, repriced {} ulps",
        (back - want).abs() / ulp(want)
    );
}
