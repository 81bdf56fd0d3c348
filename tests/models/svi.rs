//! SVI against published numbers and identities.
use crate::common::{local_reference, read_csv, shared_reference};
use proptest::prelude::*;
use volfit::models::SmileModel;
use volfit::models::ssvi::{EssviSlice, Phi, Ssvi};
use volfit::models::svi::{Svi, SviJw};

fn gj_rows() -> Vec<Vec<String>> {
    read_csv(&shared_reference("gatheral_jacquier_2014_svi_examples.csv"))
}

fn field(row: &[String], i: usize) -> f64 {
    row[i].parse().unwrap()
}

/// Gatheral & Jacquier (2014), Examples 3.1 and 5.1: the Vogt smile, its arbitrage, its
/// jump-wings form and both published repairs.
#[test]
fn gatheral_jacquier_example_5_1() {
    let rows = gj_rows();
    let vogt_row = rows.iter().find(|r| r[0] == "vogt_raw").unwrap();
    // Columns: item, parameterization, t, a, b, m, rho, sigma, v_t, psi_t, p_t, c_t, vtilde_t.
    let vogt = Svi::new(
        field(vogt_row, 3),
        field(vogt_row, 4),
        field(vogt_row, 6),
        field(vogt_row, 5),
        field(vogt_row, 7),
    )
    .unwrap();
    let (k, g) = vogt.min_g();
    println!("Vogt: min g = {g:.4} at k = {k:.3}");
    assert!(
        (g + 0.0329).abs() < 5e-4 && (k - 0.88).abs() < 0.02,
        "min g {g} at {k}"
    );
    assert!(!vogt.is_butterfly_free());
    assert!(vogt.satisfies_lee());

    let jw = vogt.to_jump_wings(1.0);
    let jw_row = rows.iter().find(|r| r[0] == "vogt_jw").unwrap();
    let published = [
        field(jw_row, 8),
        field(jw_row, 9),
        field(jw_row, 10),
        field(jw_row, 11),
        field(jw_row, 12),
    ];
    let ours = [jw.v, jw.psi, jw.p, jw.c, jw.v_tilde];
    for (o, p) in ours.iter().zip(published) {
        // The paper prints 7 significant digits.
        assert!(
            (o - p).abs() <= 5e-7 * p.abs().max(1e-2),
            "{ours:?} vs {published:?}"
        );
    }

    let guaranteed = jw.repaired_guaranteed();
    let g_row = rows
        .iter()
        .find(|r| r[0] == "vogt_repaired_guaranteed")
        .unwrap();
    assert!(
        (guaranteed.c - field(g_row, 11)).abs() < 5e-7
            && (guaranteed.v_tilde - field(g_row, 12)).abs() < 5e-9
    );
    let repaired = Svi::from_jump_wings(&guaranteed, 1.0).unwrap();
    assert!(
        repaired.is_butterfly_free(),
        "guaranteed repair: min g {:?}",
        repaired.min_g()
    );
    // The repair keeps the ATM level, skew and left wing.
    let back = repaired.to_jump_wings(1.0);
    assert!(
        (back.v - jw.v).abs() < 1e-12
            && (back.psi - jw.psi).abs() < 1e-10
            && (back.p - jw.p).abs() < 1e-10
    );

    let o_row = rows
        .iter()
        .find(|r| r[0] == "vogt_repaired_optimal")
        .unwrap();
    let optimal = SviJw {
        c: field(o_row, 11),
        v_tilde: field(o_row, 12),
        ..jw
    };
    let optimal = Svi::from_jump_wings(&optimal, 1.0).unwrap();
    let g_opt = optimal.min_g().1;
    println!(
        "GJ optimal repair (c* = {}): min g = {g_opt:.4}",
        field(o_row, 11)
    );
    assert!(optimal.is_butterfly_free());

    // volfit's closest repair (largest c with ṽ kept) lies between the two and touches g = 0.
    let closest = jw.repaired_closest(1.0);
    let s = Svi::from_jump_wings(&closest, 1.0).unwrap();
    println!(
        "volfit closest repair: c = {:.7}, min g = {:.2e}",
        closest.c,
        s.min_g().1
    );
    assert!(s.is_butterfly_free() && s.min_g().1 < 1e-6);
    assert!(closest.c > field(o_row, 11) && closest.c < jw.c);
}

/// QuantLib's `testSviSmileSection`: total variance at K = F·e^m equals a + bσ.
#[test]
fn quantlib_svi_check() {
    let rows = read_csv(&shared_reference("quantlib_svivolatility_test.csv"));
    let r = &rows[0];
    let (t, forward, a, b, sigma, rho, m) = (
        field(r, 0),
        field(r, 1),
        field(r, 2),
        field(r, 3),
        field(r, 4),
        field(r, 5),
        field(r, 6),
    );
    let svi = Svi::new(a, b, rho, m, sigma).unwrap();
    let strike = forward * m.exp();
    let w = svi.w((strike / forward).ln());
    assert!((w - (a + b * sigma)).abs() < 1e-10, "{w}");
    assert!((w - 0.010573).abs() < 1e-10);
    assert!((svi.implied_vol((strike / forward).ln(), t) - (w / t).sqrt()).abs() < 1e-15);
    let _ = local_reference("");
}

/// The density integrates to one and reprices a call (Breeden–Litzenberger).
#[test]
fn density_integrates_to_one() {
    let s = Svi::new(0.02, 0.2, -0.5, 0.05, 0.15).unwrap();
    assert!(s.is_butterfly_free());
    // p(k) is the density of ln(F_T/F): ∫ p dk = 1, ∫ e^k p dk = 1 (martingale).
    let (mut mass, mut mean) = (0.0, 0.0);
    let h = 1e-3;
    let mut k = -20.0;
    while k < 20.0 {
        let p = s.density_k(k);
        mass += p * h;
        mean += k.exp() * p * h;
        k += h;
    }
    assert!(
        (mass - 1.0).abs() < 1e-6 && (mean - 1.0).abs() < 1e-6,
        "{mass} {mean}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn natural_and_jump_wings_round_trip(
        a in -0.05f64..0.1, b in 0.01f64..0.8, rho in -0.95f64..0.95, m in -0.5f64..0.5, sigma in 0.02f64..1.0, t in 0.05f64..3.0,
    ) {
        let s = Svi::new(a, b, rho, m, sigma);
        prop_assume!(s.as_ref().is_ok_and(|s| s.min_total_variance() > 0.0));
        let s = s.unwrap();
        let n = Svi::from_natural(&s.to_natural());
        for k in [-1.0, -0.2, 0.0, 0.3, 1.2] {
            prop_assert!((n.w(k) - s.w(k)).abs() <= 1e-13 * (1.0 + s.w(k)));
        }
        let jw = s.to_jump_wings(t);
        if let Ok(j) = Svi::from_jump_wings(&jw, t) {
            // The inverse map divides by (v − ṽ)t: its conditioning is w_t/((v − ṽ)t).
            let cond = jw.v / (jw.v - jw.v_tilde).max(1e-300);
            for k in [-1.0, -0.2, 0.0, 0.3, 1.2] {
                prop_assert!((j.w(k) - s.w(k)).abs() <= 1e-13 * cond * (1.0 + s.w(k)), "{s:?} → {j:?}");
            }
        }
    }

    /// min_g is a global minimum: no sampled k has a lower g.
    #[test]
    fn min_g_is_global(a in -0.05f64..0.1, b in 0.01f64..1.5, rho in -0.99f64..0.99, m in -0.5f64..0.5, sigma in 0.005f64..1.0) {
        let s = Svi::new(a, b, rho, m, sigma);
        prop_assume!(s.as_ref().is_ok_and(|s| s.min_total_variance() > 1e-6 && s.satisfies_lee()));
        let s = s.unwrap();
        let (_, g) = s.min_g();
        for i in -600..=600 {
            let k = m + sigma * (f64::from(i) / 25.0).sinh();
            prop_assert!(s.durrleman_g(k) >= g - 1e-9 * (1.0 + g.abs()), "g({k}) = {} < min {g}", s.durrleman_g(k));
        }
    }
}

#[test]
fn ssvi_slices_are_svi_and_conditions_hold() {
    let s = Ssvi::new(
        -0.6,
        Phi::PowerLaw {
            eta: 1.0,
            gamma: 0.4,
        },
    )
    .unwrap();
    for theta in [0.005, 0.04, 0.2] {
        let slice = s.slice(theta);
        assert!((slice.w(0.0) - theta).abs() < 1e-16);
        for k in [-1.0, 0.0, 0.5] {
            assert!((slice.w(k) - s.w(k, theta)).abs() < 1e-15);
        }
        // η(1+|ρ|) ≤ 2: GJ's sufficient butterfly conditions and the exact check agree.
        assert!(s.butterfly_sufficient(theta) && slice.is_butterfly_free());
        assert!(s.calendar_condition(theta));
    }
    let h = Ssvi::new(-0.3, Phi::HestonLike { lambda: 2.0 }).unwrap();
    assert!(h.phi().value(1e-9) > 0.0 && (h.phi().value(1e-9) - 0.5 * 2.0 / 2.0).abs() < 1e-6);
    // eSSVI slices: the later above the earlier everywhere iff the gap is ≥ 0.
    let e1 = EssviSlice::new(0.02, -0.5, 0.15).unwrap();
    let e2 = EssviSlice::new(0.04, -0.4, 0.2).unwrap();
    assert!(e1.min_gap(&e2).1 >= 0.0);
    assert!(e2.min_gap(&e1).1 < 0.0);
}

/// A smile found by `min_g_is_global`: two dips of `g` inside one cell of a coarse search
/// grid, the deeper one negative (the test's sample saw −6.1·10⁻⁶ at k = 2.358, while the
/// coarse search reported +1.5·10⁻⁴ at k = 1.749). The verdict's search finds the negative dip.
#[test]
fn min_g_finds_a_second_dip_in_one_grid_cell() {
    let s = Svi::new(
        -0.004319946902932333,
        0.01641305543574174,
        -0.8943884314891728,
        -0.1962356157206913,
        0.6483358820312032,
    )
    .unwrap();
    let (k, g) = s.min_g();
    assert!(g <= -6.1e-6 && (k - 2.4).abs() < 0.1, "({k}, {g})");
    assert!(!s.is_butterfly_free());
}

/// The smile models' `implied_vol(k, t)` and SSVI's `w(k, θ)` are NaN outside their domain
/// (infinite `k`, `t ≤ 0`, `θ ≤ 0`), never ±inf or 0.
#[test]
fn smile_queries_are_nan_outside_the_domain() {
    let svi = Svi::new(0.02, 0.3, -0.6, 0.1, 0.15).unwrap();
    for (k, t) in [
        (f64::INFINITY, -1.0),
        (0.0, -1.0),
        (0.0, 0.0),
        (f64::NAN, 1.0),
    ] {
        let v = svi.implied_vol(k, t);
        assert!(v.is_nan(), "svi implied_vol({k}, {t}) = {v}");
    }
    let ssvi = Ssvi::new(
        -0.7,
        Phi::PowerLaw {
            eta: 1.0,
            gamma: 0.4,
        },
    )
    .unwrap();
    for (k, theta) in [(f64::INFINITY, -1.0), (0.0, -1.0), (f64::NAN, 0.04)] {
        let w = ssvi.w(k, theta);
        assert!(w.is_nan(), "ssvi w({k}, {theta}) = {w}");
    }
}

/// Far out the raw-SVI wings are their asymptotes `a + b(ρd + |d|)` (in closed form: slope
/// `b(1 + ρ)` right, `b(1 − ρ)` left), where `d²` used to overflow to a total variance of +∞;
/// `w` beyond the double range and `k = ±∞` are NaN.
#[test]
fn svi_far_wings_are_the_asymptotes_and_never_infinite() {
    let (a, b, rho, m, sigma) = (0.02, 0.3, -0.6, 0.1, 0.15);
    let s = Svi::new(a, b, rho, m, sigma).unwrap();
    for k in [1e149, 1e151, 1e200, 1e300, 1e308] {
        for (k, slope) in [(k, b * (1.0 + rho)), (-k, b * (1.0 - rho))] {
            let want = a + slope * (k - m).abs();
            let (w, w1, w2) = s.w_derivs(k);
            assert!((s.w(k) / want - 1.0).abs() < 8.0 * f64::EPSILON, "w({k:e})");
            assert_eq!(w, s.w(k), "{k:e}");
            assert!((w1 - slope * k.signum()).abs() < 1e-15, "w'({k:e}) = {w1}");
            assert!((0.0..1e-290).contains(&w2), "w''({k:e}) = {w2}");
            assert!(s.total_variance(k).is_finite());
        }
    }
    // The same line on both sides of the switch at |k − m| = 1e150: no step.
    let (lo, hi) = (s.w(m + 1e150 * (1.0 - 1e-15)), s.w(m + 1e150));
    assert!(((hi - lo) / lo).abs() < 4e-15, "{lo:e} {hi:e}");
    // A wing steep enough to leave the double range, and k = ±∞, have no total variance.
    let steep = Svi::new(0.02, 1.0, 0.9, 0.0, 0.1).unwrap();
    assert!(steep.w(1e308).is_nan() && steep.w_derivs(1e308).1.is_nan());
    for k in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        assert!(s.w(k).is_nan() && s.total_variance(k).is_nan(), "{k}");
        let (w, w1, w2) = s.w_derivs(k);
        assert!(w.is_nan() && w1.is_nan() && w2.is_nan(), "{k}");
    }
}

/// `implied_vol(k, t) = √(w/t)` only where a double holds it: NaN (never 0 or ∞) for `t = ∞`,
/// for `w/t` past the double range (`t = 5e-324`), for `w/t` rounding to 0 while `w > 0`
/// (`t = 1.7e308` on a tiny `w`), and at the extreme-but-representable ends the closed form.
#[test]
fn smile_implied_vol_never_returns_zero_or_infinity() {
    let s = Svi::new(0.02, 0.3, -0.6, 0.1, 0.15).unwrap();
    let w0 = s.w(0.0);
    for t in [f64::INFINITY, 5e-324, 1e-320] {
        let v = s.implied_vol(0.0, t);
        assert!(v.is_nan(), "t = {t:e}: {v}");
    }
    // w/t is a normal double: the closed form, far from 1 in both directions.
    for t in [1e-300, 1e-10, 1.0, 1e300] {
        let v = s.implied_vol(0.0, t);
        let want = w0.sqrt() / t.sqrt();
        assert!(
            (v / want - 1.0).abs() < 4.0 * f64::EPSILON,
            "t = {t:e}: {v:e} vs {want:e}"
        );
    }
    // w/t below every double while w > 0: not a vol of 0.
    let tiny = Svi::new(1e-300, 0.0, 0.0, 0.0, 0.1).unwrap();
    assert!(tiny.implied_vol(0.0, 1e300).is_nan());
    // w = 0 exactly is a vol of 0, the model's own answer.
    let flat_zero = Svi::new(0.0, 0.0, 0.0, 0.0, 0.1).unwrap();
    assert_eq!(flat_zero.implied_vol(0.3, 1.0), 0.0);
}

/// SSVI's `w(k, θ)` is NaN for `θ ≤ 0` with either `φ`: the Heston-like `φ` is finite at
/// negative `θ`, so this used to return a negative "total variance"; eSSVI far wings are the
/// asymptote `θ/2·(1 + ρφk + |φk + ρ|)`, not +∞.
#[test]
fn ssvi_theta_outside_the_domain_and_far_wings() {
    for phi in [
        Phi::PowerLaw {
            eta: 1.0,
            gamma: 0.4,
        },
        Phi::HestonLike { lambda: 2.0 },
    ] {
        let s = Ssvi::new(-0.7, phi).unwrap();
        for theta in [-1.0, -1e-300, 0.0, f64::INFINITY, f64::NAN] {
            for k in [-1.0, 0.0, 1.0] {
                let w = s.w(k, theta);
                assert!(w.is_nan(), "{phi:?} w({k}, {theta}) = {w}");
            }
        }
        let theta = 0.04;
        let e = s.essvi(theta);
        let p = e.psi() / theta;
        for k in [1e150, 1e200, -1e200, 1e300] {
            let want = 0.5 * theta * (1.0 - 0.7 * p * k + (p * k - 0.7).abs());
            let w = s.w(k, theta);
            assert!(
                (w / want - 1.0).abs() < 1e-14,
                "{phi:?} w({k:e}) = {w:e} vs {want:e}"
            );
        }
        assert!(s.w(f64::INFINITY, theta).is_nan() && s.w(f64::NEG_INFINITY, theta).is_nan());
    }
}
