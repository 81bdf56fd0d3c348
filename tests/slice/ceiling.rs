//! The ceiling LP (`volfit::slice::ceiling`): consistent bands are feasible, a broken quote is
//! named (and not its neighbours), and on every real chain the returned prices are checked
//! here, independently, to be convex, monotone and bounded in `f64`.

use crate::common::{CHAIN_FILES, shared_data};
use proptest::prelude::*;
use volfit::quotes::{Format, read_chains};
use volfit::slice::ceiling::{
    BandSide, CeilingMethod, CeilingSolution, INSIDE_TOL, ceiling, ceiling_solution,
    ceiling_solution_with,
};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::{SurfaceOptions, calibrate_surface};
use volfit::{OptionKind, SmileSlice, Svi, black_price, implied_vol};

/// The slice's row tolerance: `VERIFY_TOL` (1e-6) of a spread, with a margin for the
/// recomputation here.
const ROW_TOL: f64 = 2e-6;

/// Band width of strike `i` in normalised price (`MIN_BAND` floor).
fn width(s: &CeilingSolution, i: usize) -> f64 {
    let (lo, hi) = s.band[i];
    (hi - lo).abs().max(1e-13)
}

/// Checks the attainable prices of `s` in `f64`, independently of the programme: convex,
/// slopes in `[−1, 0]` (from the anchor `(0, 1)` where there is one), at or above intrinsic,
/// at most the forward, and — for a feasible slice — inside every band. Tolerances are
/// `ROW_TOL` of the spreads of the quotes involved (the programme's units). Returns the largest
/// violation found in those units.
fn verify(s: &CeilingSolution) -> f64 {
    let n = s.x.len();
    // Nodes (x, tv, width); intrinsic slopes exactly as (1 − x)⁺.
    let mut nodes: Vec<(f64, f64, f64)> = Vec::new();
    if s.anchored {
        nodes.push((0.0, 0.0, 0.0));
    }
    for i in 0..n {
        nodes.push((s.x[i], s.time_value[i], width(s, i)));
    }
    let g = |a: f64, b: f64| {
        if b <= 1.0 {
            -1.0
        } else if a >= 1.0 {
            0.0
        } else {
            -(1.0 - a) / (b - a)
        }
    };
    let slope = |a: usize, b: usize| {
        let ((xa, ta, _), (xb, tb, _)) = (nodes[a], nodes[b]);
        g(xa, xb) + (tb - ta) / (xb - xa)
    };
    // The scale of a slope between two nodes: spreads per unit x.
    let unit = |a: usize, b: usize| {
        let d = nodes[b].0 - nodes[a].0;
        nodes[a].2.max(nodes[b].2) / d
    };
    let mut worst = 0.0_f64;
    let segs = nodes.len() - 1;
    worst = worst.max((-1.0 - slope(0, 1)) / unit(0, 1));
    worst = worst.max(slope(segs - 1, segs) / unit(segs - 1, segs));
    for j in 1..segs {
        let u = unit(j - 1, j).max(unit(j, j + 1));
        worst = worst.max((slope(j - 1, j) - slope(j, j + 1)) / u);
    }
    for i in 0..n {
        let w = width(s, i);
        worst = worst.max(-s.time_value[i] / w);
        // c ≤ 1 (the forward), in time value: tv ≤ min(x, 1) (Black slices).
        if s.anchored {
            worst = worst.max((s.time_value[i] - s.x[i].min(1.0)) / w);
        }
        assert!((s.call[i] - s.time_value[i] - (1.0 - s.x[i]).max(0.0)).abs() <= 1e-15);
        if s.ceiling.feasible {
            let (lo, hi) = s.band[i];
            worst = worst.max((lo - s.time_value[i]) / w - INSIDE_TOL);
            worst = worst.max((s.time_value[i] - hi) / w - INSIDE_TOL);
        }
    }
    worst
}

/// A Black slice of `(strike, bid vol, ask vol)` at forward 100, t = 0.5.
fn slice(quotes: &[(f64, f64, f64)]) -> SmileSlice {
    SmileSlice::from_bid_ask(0.5, 100.0, quotes).unwrap()
}

fn strikes() -> Vec<f64> {
    (0..21).map(|i| 60.0 + 5.0 * f64::from(i)).collect()
}

#[test]
fn bands_around_arbitrage_free_smiles_are_feasible() {
    let svi = Svi::new(0.02, 0.1, -0.4, 0.0, 0.2).unwrap();
    assert!(svi.is_butterfly_free());
    let t = 0.5;
    for smile in [&(|_k: f64| 0.2) as &dyn Fn(f64) -> f64, &|k: f64| {
        (svi.w(k) / t).sqrt()
    }] {
        for half in [1e-4, 2e-3, 0.02] {
            let q: Vec<_> = strikes()
                .iter()
                .map(|&k| {
                    let v = smile((k / 100.0).ln());
                    (k, v - half, v + half)
                })
                .collect();
            let s = ceiling_solution(&slice(&q)).unwrap();
            assert!(s.ceiling.feasible, "{:?}", s.ceiling);
            assert_eq!(s.ceiling.attainable_within, 1.0);
            assert!(s.ceiling.inconsistent.is_empty());
            assert_eq!(s.ceiling.n_quotes, q.len());
            assert!(verify(&s) <= ROW_TOL, "{}", verify(&s));
        }
    }
}

/// The normalised call price `C/F` at strike `k` and Black vol `v` (F = 100, t = 0.5).
fn call(k: f64, v: f64) -> f64 {
    black_price(OptionKind::Call, 1.0, k / 100.0, 0.5, v)
}

#[test]
fn a_bid_above_the_chord_of_its_neighbours_asks_is_named() {
    let ks = strikes();
    let (h, i) = (0.002, 12);
    let mut q: Vec<_> = ks.iter().map(|&k| (k, 0.2 - h, 0.2 + h)).collect();
    // Quote i's bid price one of its spreads above the chord of its neighbours' ask prices.
    let chord = 0.5 * (call(ks[i - 1], 0.2 + h) + call(ks[i + 1], 0.2 + h));
    let spread = call(ks[i], 0.2 + h) - call(ks[i], 0.2 - h);
    let target = (chord + spread) * 100.0;
    let bid = implied_vol(OptionKind::Call, target, 100.0, ks[i], 0.5).unwrap();
    q[i] = (ks[i], bid, bid + 2.0 * h);
    let s = ceiling_solution(&slice(&q)).unwrap();
    let c = &s.ceiling;
    assert!(!c.feasible);
    assert_eq!(c.inconsistent.len(), 1, "{:?}", c.inconsistent);
    let named = &c.inconsistent[0];
    assert_eq!(named.strike, ks[i]);
    assert_eq!(named.side, BandSide::Bid);
    assert!(named.spreads > 0.5, "{named:?}");
    assert!((c.attainable_within - 20.0 / 21.0).abs() < 1e-15);
    assert!(verify(&s) <= ROW_TOL);
}

#[test]
fn a_call_dearer_than_the_forward_bound_allows_is_named() {
    // The highest-strike call quoted at a 150 % vol: dearer than the call struck 5 below it,
    // which the bound C(K₂) ≤ C(K₁) (C(0) = F at K₁ = 0) forbids.
    let ks = strikes();
    let mut q: Vec<_> = ks.iter().map(|&k| (k, 0.199, 0.201)).collect();
    let last = ks.len() - 1;
    q[last] = (ks[last], 1.5, 1.6);
    assert!(call(ks[last], 1.5) > call(ks[last - 1], 0.201));
    let s = ceiling_solution(&slice(&q)).unwrap();
    let c = &s.ceiling;
    assert!(!c.feasible);
    assert_eq!(c.inconsistent.len(), 1, "{:?}", c.inconsistent);
    assert_eq!(c.inconsistent[0].strike, ks[last]);
    assert_eq!(c.inconsistent[0].side, BandSide::Bid);
    assert!(verify(&s) <= ROW_TOL);
}

#[test]
fn disjoint_quotes_at_one_strike_are_named() {
    let mut q: Vec<_> = strikes().iter().map(|&k| (k, 0.19, 0.21)).collect();
    q.push((100.0, 0.23, 0.24));
    let s = ceiling_solution(&slice(&q)).unwrap();
    let c = &s.ceiling;
    assert!(!c.feasible);
    assert_eq!(c.n_quotes, 22);
    // The L1 optimum may split the gap between the two quotes; only they are named.
    assert!(!c.inconsistent.is_empty());
    assert!(
        c.inconsistent.iter().all(|q| q.strike == 100.0),
        "{:?}",
        c.inconsistent
    );
    assert_eq!(s.x.len(), 21);
    let (lo, hi) = s.band[8];
    assert!(lo > hi, "the intersected band is empty");
    assert!(verify(&s) <= ROW_TOL);
}

#[test]
fn too_few_quotes_have_no_ceiling() {
    let s = slice(&[(90.0, 0.19, 0.21), (100.0, 0.19, 0.21)]);
    assert!(ceiling(&s).is_err());
    let one_sided = SmileSlice::from_vols(0.5, 100.0, &[(90.0, 0.2), (100.0, 0.2), (110.0, 0.2)]);
    assert!(ceiling(&one_sided.unwrap()).is_err());
}

/// A normal-vol slice (built from its stored form, the one way to give it bid/ask vols):
/// bands around a flat normal smile are feasible; one quote's bid far above the others' is
/// named.
#[test]
fn normal_vol_slices() {
    let (f, t) = (0.0184, 1.0);
    let make = |bump: Option<usize>| {
        let points: Vec<_> = (0..15_u32)
            .map(|i| {
                let k = 0.005 + 0.002 * f64::from(i);
                let (b, a) = if bump == Some(i as usize) {
                    (0.02, 0.021)
                } else {
                    (0.0070, 0.0072)
                };
                serde_json::json!({
                    "strike": k, "k": k - f, "kind": if k < f { "put" } else { "call" },
                    "bid_iv": b, "mid_iv": 0.5 * (a + b), "ask_iv": a,
                    "weight": 1.0, "vega": 1.0, "line": i + 2,
                })
            })
            .collect();
        let s: SmileSlice = serde_json::from_value(serde_json::json!({
            "convention": "normal", "expiry": null, "t": t, "forward": f, "discount": 1.0,
            "forward_source": "user", "points": points,
        }))
        .unwrap();
        ceiling_solution(&s).unwrap()
    };
    let ok = make(None);
    assert!(ok.ceiling.feasible && !ok.anchored, "{:?}", ok.ceiling);
    assert!(verify(&ok) <= ROW_TOL);
    let bad = make(Some(7));
    assert!(!bad.ceiling.feasible);
    assert_eq!(
        bad.ceiling.inconsistent.len(),
        1,
        "{:?}",
        bad.ceiling.inconsistent
    );
    assert_eq!(bad.ceiling.inconsistent[0].line, Some(9));
    assert!(verify(&bad) <= ROW_TOL);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Every real chain: the returned prices pass the independent `f64` check, and the per-file
/// distribution of attainable vs fitted within-spread shares is printed (`--nocapture`).
#[test]
fn every_real_chain_has_a_verified_ceiling() {
    for f in CHAIN_FILES {
        let (chains, _) = read_chains(shared_data(f), Format::Auto).unwrap();
        for chain in &chains {
            let (slices, _) = build_slices(chain, &SliceOptions::default());
            let (_, report) = calibrate_surface(chain, &SurfaceOptions::default()).unwrap();
            let (mut attain, mut micros, mut fitted) = (Vec::new(), Vec::new(), Vec::new());
            let mut lp_micros = Vec::new();
            let (mut infeasible, mut named, mut quotes, mut inside) = (0, 0, 0, 0.0);
            for s in &slices {
                let Ok(sol) = ceiling_solution(s) else {
                    continue;
                };
                let v = verify(&sol);
                assert!(v <= ROW_TOL, "{f} t={}: violation {v}", s.t());
                // The programme alone agrees with the hull shortcut.
                let lp = ceiling_solution_with(s, CeilingMethod::Lp).unwrap();
                assert!(verify(&lp) <= ROW_TOL, "{f} t={} (LP)", s.t());
                assert_eq!(lp.ceiling.feasible, sol.ceiling.feasible, "{f} t={}", s.t());
                assert_eq!(
                    lp.ceiling.attainable_within,
                    sol.ceiling.attainable_within,
                    "{f} t={}",
                    s.t()
                );
                lp_micros.push(lp.ceiling.lp_micros);
                let c = &sol.ceiling;
                attain.push(c.attainable_within);
                micros.push(c.lp_micros);
                infeasible += usize::from(!c.feasible);
                named += c.inconsistent.len();
                quotes += c.n_quotes;
                inside += c.attainable_within * c.n_quotes as f64;
            }
            for sm in &report.slices {
                if let (Some(w), Some(c)) = (sm.within_spread, &sm.ceiling) {
                    fitted.push(w);
                    assert!(c.max_residual <= 1e-6);
                }
            }
            let n = attain.len();
            let max_us = micros.iter().fold(0.0_f64, |a, &b| a.max(b));
            let max_lp = lp_micros.iter().fold(0.0_f64, |a, &b| a.max(b));
            println!(
                "{f} {}: {n} expiries, {infeasible} infeasible, {named} quotes named; attainable median {:.3} overall {:.4}; fitted within-spread median {:.3}; decided in {:.0} µs median, {:.0} µs max (LP alone {:.0} / {:.0} µs)",
                chain.underlying,
                median(&mut attain),
                inside / quotes as f64,
                median(&mut fitted),
                median(&mut micros),
                max_us,
                median(&mut lp_micros),
                max_lp,
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Prices of a two-lognormal mixture with mean 1 (arbitrage-free) at random strikes, with
    /// random bands around them, are feasible.
    #[test]
    fn random_bands_around_arbitrage_free_prices_are_feasible(
        w1 in 0.05_f64..0.95,
        f1 in 0.7_f64..1.0,
        v1 in 0.05_f64..0.6,
        v2 in 0.05_f64..0.6,
        t in 0.02_f64..2.0,
        xs in proptest::collection::btree_set(500u32..2000, 3..40),
        widths in proptest::collection::vec((0.001_f64..0.3, 0.001_f64..0.3), 40),
    ) {
        let f2 = (1.0 - w1 * f1) / (1.0 - w1);
        let mut q = Vec::new();
        for (j, &x) in xs.iter().enumerate() {
            let x = f64::from(x) / 1000.0;
            let kind = OptionKind::otm(1.0, x);
            // The mixture's out-of-the-money price at forward 1 (linear in the components).
            let otm = w1 * black_price(kind, f1, x, t, v1)
                + (1.0 - w1) * black_price(kind, f2, x, t, v2);
            let (a, b) = widths[j];
            let (lo, hi) = (otm * (1.0 - a), otm * (1.0 + b));
            let (Ok(bid), Ok(ask)) = (
                implied_vol(kind, lo, 1.0, x, t),
                implied_vol(kind, hi, 1.0, x, t),
            ) else {
                continue;
            };
            if bid > 0.0 && ask > bid {
                q.push((x * 100.0, bid, ask));
            }
        }
        prop_assume!(q.len() >= 3);
        let s = SmileSlice::from_bid_ask(t, 100.0, &q).unwrap();
        let sol = ceiling_solution(&s).unwrap();
        prop_assert!(sol.ceiling.feasible, "{:?}", sol.ceiling);
        prop_assert_eq!(sol.ceiling.attainable_within, 1.0);
        prop_assert!(verify(&sol) <= ROW_TOL);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    /// The hull shortcut is exact: on flat-smile bands with a few quotes moved by random vol
    /// amounts (often inconsistent), it passes exactly when the programme alone finds every
    /// quote inside, and both answers verify.
    #[test]
    fn the_hull_decides_as_the_programme_does(
        moves in proptest::collection::vec((0usize..21, -0.08_f64..0.08), 1..4),
        half in 0.0005_f64..0.01,
        t in 0.05_f64..1.5,
    ) {
        let mut q: Vec<_> = strikes().iter().map(|&k| (k, 0.2 - half, 0.2 + half)).collect();
        for &(i, dv) in &moves {
            q[i] = (q[i].0, q[i].1 + dv, q[i].2 + dv);
        }
        let s = SmileSlice::from_bid_ask(t, 100.0, &q).unwrap();
        let auto = ceiling_solution(&s).unwrap();
        let lp = ceiling_solution_with(&s, CeilingMethod::Lp).unwrap();
        prop_assert_eq!(auto.ceiling.feasible, lp.ceiling.feasible);
        prop_assert_eq!(auto.ceiling.solved_lp, !lp.ceiling.feasible);
        prop_assert!(verify(&auto) <= ROW_TOL && verify(&lp) <= ROW_TOL);
        // The named set is the (reweighted) L1 choice, not the fewest quotes: a moved quote's
        // fix can be shared with its neighbours, so only its emptiness is asserted.
        prop_assert_eq!(lp.ceiling.inconsistent.is_empty(), lp.ceiling.feasible);
    }
}
