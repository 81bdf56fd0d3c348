use crate::common::{EPS, local_reference, read_csv, rel};
use proptest::prelude::*;
use volfit::OptionKind;
use volfit::black::{bachelier_price, implied_normal_vol};

#[test]
fn bachelier_prices_match_mpmath() {
    let rows = read_csv(&local_reference("bachelier_mpmath.csv"));
    assert!(rows.len() > 100);
    for row in rows {
        let kind: OptionKind = row[0].parse().unwrap();
        let v: Vec<f64> = row[1..].iter().map(|s| s.parse().unwrap()).collect();
        let got = bachelier_price(kind, v[0], v[1], v[2], v[3]);
        // Out of the money the exponent u²/2 (u = |F − K|/σ√T) is formed from a rounded quotient:
        // allow ε·(1 + u²), the price's conditioning in σ.
        let u = (v[0] - v[1]).abs() / (v[3] * v[2].sqrt());
        assert!(
            rel(got, v[4]) <= 8.0 * EPS * (1.0 + u * u),
            "{row:?}: {got:e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn implied_normal_vol_round_trip(
        call in any::<bool>(), ln_vol in (1e-4f64).ln()..(0.05f64).ln(), m in -8.0f64..8.0,
        t in (1.0 / 365.0)..30.0f64,
    ) {
        let kind = if call { OptionKind::Call } else { OptionKind::Put };
        let vol = ln_vol.exp();
        let d = m * vol * t.sqrt();
        let (f, k) = (0.01, 0.01 + d);
        let price = bachelier_price(kind, f, k, t, vol);
        let tv = price - kind.intrinsic(f, k);
        if tv <= 1e-12 * vol * t.sqrt() {
            return Ok(());
        }
        let v = implied_normal_vol(kind, price, f, k, t).unwrap();
        // Conditioning of the normal inversion: |∂ln σ/∂ln P| = P/(σ·∂P/∂σ).
        let vega = t.sqrt() * (-0.5 * (d / (vol * t.sqrt())).powi(2)).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cond = price / (vol * vega);
        prop_assert!(rel(v, vol) <= 8.0 * EPS * cond.max(1.0), "σ={vol} d={d} T={t}: {v}");
    }
}

#[test]
fn implied_normal_vol_errors() {
    assert_eq!(
        implied_normal_vol(OptionKind::Call, 0.0, 0.01, 0.02, 1.0)
            .unwrap_err()
            .reason(),
        "no_time_value"
    );
    assert_eq!(
        implied_normal_vol(OptionKind::Call, 0.001, 0.01, 0.0, 1.0)
            .unwrap_err()
            .reason(),
        "below_intrinsic"
    );
    assert_eq!(
        implied_normal_vol(OptionKind::Put, 0.001, 0.01, 0.0, 0.0)
            .unwrap_err()
            .reason(),
        "non_positive_input"
    );
    // Negative strikes are valid in the normal model.
    let p = bachelier_price(OptionKind::Call, -0.002, -0.004, 2.0, 0.006);
    assert!(
        rel(
            implied_normal_vol(OptionKind::Call, p, -0.002, -0.004, 2.0).unwrap(),
            0.006
        ) < 1e-14
    );
}
