//! Analytic greeks against central finite differences, and closed-form identities.

use crate::common::{TOL_GREEKS_FD, rel};
use proptest::prelude::*;
use volfit::black::{bachelier_greeks, bachelier_price};
use volfit::{OptionKind, black_greeks, black_price};

fn close(analytic: f64, fd: f64, scale: f64) -> bool {
    (analytic - fd).abs() <= TOL_GREEKS_FD * analytic.abs().max(scale)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn black_greeks_match_finite_differences(
        call in any::<bool>(), vol in 0.05f64..1.5, k in -1.0f64..1.0, t in 0.05f64..5.0,
    ) {
        let kind = if call { OptionKind::Call } else { OptionKind::Put };
        let (f, strike) = (100.0, 100.0 * f64::exp(k));
        let g = black_greeks(kind, f, strike, t, vol);
        let p = |f: f64, t: f64, v: f64| black_price(kind, f, strike, t, v);
        // Derivatives in σ and T of the time value alone, priced as the out-of-the-money option
        // (parity: same time value; the intrinsic value would only add round-off).
        let tv = |t: f64, v: f64| black_price(OptionKind::otm(f, strike), f, strike, t, v);
        // Steps: 1e-5 relative for first derivatives, 1e-4 for second (round-off ε·P/h² stays
        // below the tolerance); greeks are compared relative to max(|greek|, its natural scale).
        let (hf, hv, ht) = (1e-5 * f, 1e-5, 1e-4 * t);
        let hf2 = 1e-4 * f;
        let vega_scale = 1e-3 * f * t.sqrt();
        prop_assert!(close(g.delta, (p(f + hf, t, vol) - p(f - hf, t, vol)) / (2.0 * hf), 1e-3), "delta");
        prop_assert!(close(g.vega, (tv(t, vol + hv) - tv(t, vol - hv)) / (2.0 * hv), vega_scale), "vega");
        prop_assert!(close(g.theta, -(tv(t + ht, vol) - tv(t - ht, vol)) / (2.0 * ht), vega_scale), "theta");
        let tol2 = 100.0 * TOL_GREEKS_FD;
        let gamma_fd = (p(f + hf2, t, vol) - 2.0 * g.price + p(f - hf2, t, vol)) / (hf2 * hf2);
        prop_assert!((g.gamma - gamma_fd).abs() <= tol2 * g.gamma.abs().max(1e-3 / f), "gamma {} vs {gamma_fd}", g.gamma);
        // Vanna as ∂Δ/∂σ, one central difference of the analytic delta (checked above): a
        // nested difference of prices in F and σ loses ~3e-4 relative to round-off and
        // truncation at small σ (σ = 0.10, k = −0.011, T = 2.1 in the regression seeds).
        let delta_at = |v: f64| black_greeks(kind, f, strike, t, v).delta;
        let vanna_fd = (delta_at(vol + hv) - delta_at(vol - hv)) / (2.0 * hv);
        prop_assert!((g.vanna - vanna_fd).abs() <= tol2 * g.vanna.abs().max(1e-3), "vanna {} vs {vanna_fd}", g.vanna);
        // Richardson-extrapolated second difference at h = 1e-3 and 5e-4: the plain one at
        // 1e-4 has a truncation error h²·∂⁴V/∂σ⁴/12 above the tolerance at small σ (σ = 0.055)
        // and a round-off 4ε·V/h² near it at large σ (σ = 1.44); this one stays below 5% of
        // the tolerance at both (and at the corners of the domain).
        let d2v = |h: f64| (tv(t, vol + h) - 2.0 * tv(t, vol) + tv(t, vol - h)) / (h * h);
        let volga_fd = (4.0 * d2v(5e-4) - d2v(1e-3)) / 3.0;
        prop_assert!((g.volga - volga_fd).abs() <= tol2 * g.volga.abs().max(vega_scale), "volga {} vs {volga_fd}", g.volga);
    }

    #[test]
    fn bachelier_greeks_match_finite_differences(
        call in any::<bool>(), vol in 0.002f64..0.03, m in -3.0f64..3.0, t in 0.1f64..10.0,
    ) {
        let kind = if call { OptionKind::Call } else { OptionKind::Put };
        let s = vol * t.sqrt();
        let (f, strike) = (0.01, 0.01 + m * s);
        let g = bachelier_greeks(kind, f, strike, t, vol);
        let p = |f: f64, t: f64, v: f64| bachelier_price(kind, f, strike, t, v);
        let (hf, hv) = (1e-5 * s, 1e-5 * vol);
        let hf2 = 1e-3 * s;
        prop_assert!(close(g.delta, (p(f + hf, t, vol) - p(f - hf, t, vol)) / (2.0 * hf), 1e-3));
        prop_assert!(close(g.vega, (p(f, t, vol + hv) - p(f, t, vol - hv)) / (2.0 * hv), 1e-3 * t.sqrt()));
        let gamma_fd = (p(f + hf2, t, vol) - 2.0 * g.price + p(f - hf2, t, vol)) / (hf2 * hf2);
        prop_assert!((g.gamma - gamma_fd).abs() <= 1e-4 * g.gamma.abs().max(1e-3 / s), "gamma {} vs {gamma_fd}", g.gamma);
    }
}

#[test]
fn closed_form_identities() {
    let (f, k, t, v) = (100.0, 120.0, 0.75, 0.3);
    let c = black_greeks(OptionKind::Call, f, k, t, v);
    let p = black_greeks(OptionKind::Put, f, k, t, v);
    // Parity: deltas differ by one; gamma, vega, theta, vanna, volga coincide.
    assert!((c.delta - p.delta - 1.0).abs() < 1e-15);
    for (a, b) in [
        (c.gamma, p.gamma),
        (c.vega, p.vega),
        (c.theta, p.theta),
        (c.vanna, p.vanna),
        (c.volga, p.volga),
    ] {
        assert_eq!(a, b);
    }
    // Black-76 PDE at fixed forward: θ + ½σ²F²Γ = 0 (undiscounted).
    assert!(rel(-c.theta, 0.5 * v * v * f * f * c.gamma) < 1e-14);
    // Vega = σ·T·F²·Γ.
    assert!(rel(c.vega, v * t * f * f * c.gamma) < 1e-14);
}
