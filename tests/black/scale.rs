//! Implied vol and Black prices at every scale: `σ(λP, λF, λK) = σ(P, F, K)`, `V(λF, λK) =
//! λV(F, K)`, for λ over six hundred decades; the issue's three extreme-scale examples against
//! mpmath; and the same answers from the batch and parallel paths.

use crate::common::{EPS, rel};
use proptest::prelude::*;
use volfit::black::{BatchInput, ImpliedVolError, implied_vol_batch, implied_vol_par};
use volfit::{OptionKind, black_greeks, black_price, implied_vol};

fn kind_strategy() -> impl Strategy<Value = OptionKind> {
    prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)]
}

/// How far `σ` may move when `P`, `F` and `K` are each perturbed by one relative ulp: `λP`,
/// `λF`, `λK` are rounded, so the scaled problem is an ulp away from the unit one. With
/// `Δ = ∂V/∂F` and, by homogeneity, `K·∂V/∂K = V − FΔ`:
/// `|δσ| ≤ ε·(V + F|Δ| + |V − FΔ|)/vega`.
fn rounding_sensitivity(kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
    let g = black_greeks(kind, f, k, t, vol);
    EPS * (g.price + (f * g.delta).abs() + (g.price - f * g.delta).abs()) / g.vega
}

/// The unit problem `(P, F = 1, K = e^k)` of a random smile point, if its price determines σ.
fn unit_problem(kind: OptionKind, vol: f64, k: f64, t: f64) -> Option<(f64, f64, f64)> {
    let strike = k.exp();
    let p = black_price(kind, 1.0, strike, t, vol);
    let sigma = implied_vol(kind, p, 1.0, strike, t).ok()?;
    (p - kind.intrinsic(1.0, strike) > 1e-14).then_some((p, strike, sigma))
}

/// Relative accuracy a repricing at the recovered vol can have: a few ulps of `σ` magnified by
/// the elasticity `σ·vega/V` of the price.
fn reprice_tol(kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
    let g = black_greeks(kind, f, k, t, vol);
    8.0 * EPS * (vol * g.vega / g.price).max(1.0)
}

fn normal(x: f64) -> bool {
    x.is_normal() && x > 0.0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// σ ∈ [0.01, 3], ln(K/F) ∈ [−3, 3], T ∈ [1 day, 10 years], λ log-uniform in
    /// [1e-300, 1e300]: the scaled inversion agrees with the unit one to a few ulps of σ plus
    /// what the rounding of `λP`, `λF`, `λK` itself moves σ by.
    #[test]
    fn implied_vol_is_scale_invariant(
        kind in kind_strategy(),
        ln_vol in (0.01f64).ln()..(3f64).ln(),
        k in -3.0f64..3.0,
        t in (1.0 / 365.0)..10.0f64,
        log10_lambda in -300.0f64..300.0,
    ) {
        let vol = ln_vol.exp();
        let Some((p, strike, sigma)) = unit_problem(kind, vol, k, t) else { return Ok(()) };
        let lambda = 10f64.powf(log10_lambda);
        let (lp, lf, lk) = (lambda * p, lambda, lambda * strike);
        prop_assume!(normal(lp) && normal(lf) && normal(lk));
        let scaled = implied_vol(kind, lp, lf, lk, t);
        let tol = 4.0 * EPS * sigma + 2.0 * rounding_sensitivity(kind, 1.0, strike, t, sigma);
        match scaled {
            Ok(v) => prop_assert!((v - sigma).abs() <= tol,
                "λ={lambda:e} σ={vol} k={k} T={t}: {v} vs {sigma} (tol {tol:e})"),
            Err(e) => prop_assert!(false, "λ={lambda:e} σ={vol} k={k} T={t}: {e}"),
        }
        // The price scales too: V(λF, λK) = λ·V(F, K), to the rounding of λF and λK and the
        // accuracy of the normalised Black function, twice (unit and scaled). That accuracy is
        // a few tens of ulps near its region boundaries, and up to ~80 ulps out of the money
        // where the two terms of b cancel (measured against mpmath: 1.8e-14 relative at
        // x = 1.916, s = 0.346, put; seed 758d78bc in proptest-regressions/black/scale.txt).
        let lv = black_price(kind, lf, lk, t, vol);
        let g = black_greeks(kind, 1.0, strike, t, vol);
        let price_tol = 256.0 * EPS * p + 2.0 * EPS * (g.delta.abs() + (p - g.delta).abs());
        prop_assert!((lv / lambda - p).abs() <= price_tol * (1.0 + 4.0 * EPS),
            "λ={lambda:e}: V {lv:e} vs λ·{p:e}");
    }

    /// Scaling by a power of two is exact in floating point, so it must not change a single
    /// bit of the vol (for λ = 2ⁿ over the whole exponent range).
    #[test]
    fn power_of_two_scales_change_no_bit(
        kind in kind_strategy(),
        ln_vol in (0.01f64).ln()..(3f64).ln(),
        k in -3.0f64..3.0,
        t in (1.0 / 365.0)..10.0f64,
        n in -990i32..990,
    ) {
        let vol = ln_vol.exp();
        let Some((p, strike, sigma)) = unit_problem(kind, vol, k, t) else { return Ok(()) };
        let lambda = 2f64.powi(n);
        let (lp, lf, lk) = (lambda * p, lambda, lambda * strike);
        prop_assume!(normal(lp) && normal(lf) && normal(lk));
        prop_assert_eq!(implied_vol(kind, lp, lf, lk, t), Ok(sigma), "λ = 2^{}", n);
    }
}

/// The issue's examples. Expected vols by mpmath (`mp.dps = 600`): the Black price
/// `F·Φ(d₁) − K·Φ(d₂)` (put: `K·Φ(−d₂) − F·Φ(−d₁)`) at the exact binary values of the inputs,
/// inverted by 400 bisections in `ln σ` on `[1e-6, 1000]`, then rounded to the nearest double:
/// 0.2513226937101480759421…, 6.155203282763605281133…, 0.2513226937101480592592….
/// Before the fix `volfit iv` printed 0, NaN (with an empty `error`) and `above_upper_bound`.
const ISSUE_EXAMPLES: [(OptionKind, f64, f64, f64, f64, f64); 3] = [
    (
        OptionKind::Call,
        1e154,
        1e155,
        1e155,
        1.0,
        0.2513226937101481,
    ),
    (OptionKind::Put, 1e-14, 1e308, 1e-8, 30.0, 6.155203282763606),
    (
        OptionKind::Call,
        1e-201,
        1e-200,
        1e-200,
        1.0,
        0.25132269371014804,
    ),
];

#[test]
fn the_issue_examples_match_mpmath() {
    for (kind, p, f, k, t, want) in ISSUE_EXAMPLES {
        let v = implied_vol(kind, p, f, k, t)
            .unwrap_or_else(|e| panic!("{kind},{p:e},{f:e},{k:e},{t}: {e}"));
        assert!(
            rel(v, want) <= 4.0 * EPS,
            "{kind},{p:e},{f:e},{k:e},{t}: {v} vs mpmath {want}"
        );
        // And the price at that vol is the given price (Black on the same extreme scale).
        let back = black_price(kind, f, k, t, v);
        let tol = reprice_tol(kind, f, k, t, v);
        assert!(
            rel(back, p) <= tol,
            "{kind},{p:e},{f:e},{k:e},{t}: reprices to {back:e}"
        );
    }
}

#[test]
fn batch_and_parallel_give_the_scalar_answer_at_extreme_scales() {
    use OptionKind::{Call, Put};
    let mut cases: Vec<(OptionKind, f64, f64, f64, f64)> = ISSUE_EXAMPLES
        .iter()
        .map(|&(kind, p, f, k, t, _)| (kind, p, f, k, t))
        .collect();
    cases.extend([
        // F/K overflows the other way: a deep out-of-the-money call.
        (Call, 1e-14, 1e-8, 1e308, 30.0),
        // F/K subnormal (not normal): the logarithms are taken separately.
        (Call, 1e-20, 1e-10, 1e300, 50.0),
        // Above the bound only in normalised form at a tiny scale, and at it exactly.
        (Call, 1e-200, 1e-200, 1e-200, 1.0),
        (Put, 0.5e-200, 1e-200, 0.5e-200, 1.0),
        // The normalised time value underflows: a named error, not a vol of 0.
        (Call, 1e-300, 1e10, 1e10, 1.0),
        // The vol itself underflows (σ = s/√t with t = 1e300): a named error, not 0.
        (Call, 1e-160, 1.0, 1.0, 1e300),
    ]);
    let kinds: Vec<_> = cases.iter().map(|c| c.0).collect();
    let col = |i: usize| -> Vec<f64> { cases.iter().map(|c| [c.1, c.2, c.3, c.4][i]).collect() };
    let (prices, forwards, strikes, times) = (col(0), col(1), col(2), col(3));
    let input = BatchInput {
        kinds: &kinds,
        prices: &prices,
        forwards: &forwards,
        strikes: &strikes,
        times: &times,
    };
    let mut batch = vec![Ok(0.0); cases.len()];
    let mut par = vec![Ok(0.0); cases.len()];
    implied_vol_batch(&input, &mut batch).unwrap();
    implied_vol_par(&input, &mut par).unwrap();
    let mut reasons = Vec::new();
    for (i, &(kind, p, f, k, t)) in cases.iter().enumerate() {
        let scalar = implied_vol(kind, p, f, k, t);
        assert_eq!(batch[i], scalar, "batch {kind},{p:e},{f:e},{k:e},{t}");
        assert_eq!(par[i], scalar, "par {kind},{p:e},{f:e},{k:e},{t}");
        match scalar {
            Ok(v) => {
                assert!(
                    v.is_normal() && v > 0.0,
                    "{kind},{p:e},{f:e},{k:e},{t}: {v}"
                );
                let back = black_price(kind, f, k, t, v);
                let tol = reprice_tol(kind, f, k, t, v);
                assert!(
                    rel(back, p) <= tol,
                    "{kind},{p:e},{f:e},{k:e},{t}: {back:e}"
                );
                reasons.push("ok");
            }
            Err(e) => reasons.push(e.reason()),
        }
    }
    assert_eq!(
        reasons,
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "above_upper_bound",
            "above_upper_bound",
            "unrepresentable",
            "unrepresentable"
        ]
    );
}

/// Where a vol exists and is representable it is returned, also when the normalised price or
/// the vol is near the ends of the double range; the errors say which number underflows.
#[test]
fn underflow_is_named() {
    let e = implied_vol(OptionKind::Call, 1e-300, 1e10, 1e10, 1.0).unwrap_err();
    assert!(
        matches!(e, ImpliedVolError::Unrepresentable { value, .. } if value < f64::MIN_POSITIVE),
        "{e}"
    );
    assert!(e.to_string().contains("normalised time value"), "{e}");
    let e = implied_vol(OptionKind::Call, 1e-160, 1.0, 1.0, 1e300).unwrap_err();
    assert!(e.to_string().contains("implied volatility"), "{e}");
    // Just inside: at the money s ≈ √(2π)·β = 2.5e-160, and σ = s/√t with t = 1e290 is a
    // minute but normal vol.
    let v = implied_vol(OptionKind::Call, 1e-160, 1.0, 1.0, 1e290).unwrap();
    let want = 1e-160 * (2.0 * std::f64::consts::PI).sqrt() / 1e145;
    assert!(v.is_normal() && rel(v, want) < 1e-12, "{v:e} vs {want:e}");
}
