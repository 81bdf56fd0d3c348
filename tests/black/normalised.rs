use crate::common::{TOL_NORMALISED_BLACK, local_reference, read_csv, rel};
use volfit::black::{normalised_black, normalised_vega};

#[test]
fn normalised_black_matches_mpmath_in_every_regime() {
    let rows = read_csv(&local_reference("normalised_black_mpmath.csv"));
    assert!(rows.len() > 600);
    let mut worst = (0.0, 0.0, 0.0);
    for row in rows {
        let x: f64 = row[0].parse().unwrap();
        let s: f64 = row[1].parse().unwrap();
        let theta: f64 = row[2].parse().unwrap();
        let b: f64 = row[3].parse().unwrap();
        let vega: f64 = row[4].parse().unwrap();
        let got = normalised_black(x, s, theta);
        // A relative perturbation ε of s moves b by ε·κ with κ = s·b'/b (≈ x²/s² deep out of the
        // money): the exponent (x²/s² + s²/4)/2 cannot be formed from rounded quotients more
        // accurately, so tolerances scale with max(1, κ).
        let kappa = (s * vega / b).max(1.0);
        let e = rel(got, b) / kappa;
        if e > worst.0 {
            worst = (e, x, s);
        }
        assert!(
            e <= TOL_NORMALISED_BLACK,
            "b({x}, {s}, {theta}) = {got:e}, mpmath {b:e}, rel/κ {e:e}"
        );
        if vega > 1e-300 {
            let exponent = 0.5 * ((x / s).powi(2) + 0.25 * s * s);
            let ev = rel(normalised_vega(x, s), vega) / exponent.max(1.0);
            assert!(ev <= TOL_NORMALISED_BLACK, "vega({x}, {s}) rel {ev:e}");
        }
    }
    println!(
        "normalised Black vs mpmath: worst relative error / max(1, κ) = {:.2e} at x = {}, s = {}",
        worst.0, worst.1, worst.2
    );
}

#[test]
fn put_call_symmetry_of_normalised_black() {
    // b(x, s, −1) = b(−x, s, +1), and b(x, s, 1) − b(x, s, −1) = 2 sinh(x/2).
    for i in -40..=40 {
        let x = 0.25 * f64::from(i);
        for &s in &[1e-3, 0.1, 0.7, 2.0, 9.0] {
            let put = normalised_black(x, s, -1.0);
            assert_eq!(put, normalised_black(-x, s, 1.0));
            let parity = normalised_black(x, s, 1.0) - put;
            assert!(
                (parity - 2.0 * (0.5 * x).sinh()).abs()
                    <= 4.0 * f64::EPSILON * (0.5 * x).exp().max((-0.5 * x).exp())
            );
        }
    }
}
