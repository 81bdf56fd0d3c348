//! P&L explain: the Taylor remainder against full revaluation on bumped surfaces (third
//! order), and real consecutive January snapshots against marks read from the files directly.

use super::greeks::january_surface;
use crate::common::shared_data;
use std::collections::HashMap;
use std::path::PathBuf;
use volfit::OptionKind;
use volfit::quotes::{Format, read_chain_for};
use volfit::risk::explain::{
    BookPosition, Leg, PriceSource, Snapshot, Terms, explain_book, explain_leg,
};
use volfit::risk::greeks::{Bumped, Dynamics};
use volfit::surface::{SurfaceOptions, VolSurface, calibrate_surface};

/// `full_reval − Σ terms` for a spot move `h` (relative) and a vol shift `0.5·h`, with the
/// term named `drop` (if any) left out of the sum.
fn remainder(leg: &Leg, d: Dynamics, h: f64, drop: Option<&str>) -> f64 {
    let a = january_surface();
    let b = Bumped {
        base: a,
        forward_scale: 1.0 + h,
        vol_shift: 0.5 * h,
        dynamics: d,
    };
    let e = explain_leg(a, &b, leg, d).expect("explain");
    let kept: f64 = Terms::NAMES
        .iter()
        .zip(e.terms.values())
        .filter(|(n, _)| Some(**n) != drop)
        .map(|(_, v)| v)
        .sum();
    e.full_reval - kept
}

fn legs() -> Vec<Leg> {
    let s = january_surface();
    let mut out = Vec::new();
    for slice in s.slices().iter().skip(2).step_by(3) {
        let f = s.forward(slice.t);
        for (kind, m) in [
            (OptionKind::Call, 1.05),
            (OptionKind::Put, 0.95),
            (OptionKind::Call, 1.0),
        ] {
            out.push(Leg {
                kind,
                strike: (f * m / 1000.0).round() * 1000.0,
                t_a: slice.t,
                t_b: slice.t,
                quantity: -2.0,
            });
        }
    }
    out
}

#[test]
fn taylor_remainder_is_third_order_under_every_dynamics() {
    for d in Dynamics::ALL {
        for leg in legs() {
            // Steps well inside the total vol σ√T, the scale on which the price curves in F.
            let a = january_surface();
            let h0 = (0.2 * a.vol(leg.strike, leg.t_a) * leg.t_a.sqrt()).min(0.02);
            let hs = [h0, h0 / 2.0, h0 / 4.0];
            let r: Vec<f64> = hs.iter().map(|&h| remainder(&leg, d, h, None)).collect();
            let at = format!(
                "{} {:?} K={} t={:.3}",
                d.name(),
                leg.kind,
                leg.strike,
                leg.t_a
            );
            // Halving h divides a third-order remainder by ~8 (by ~16 at the money of a short
            // expiry, where the third-order term nearly vanishes); a second-order error by 4.
            for w in r.windows(2) {
                let ratio = w[0] / w[1];
                assert!(
                    (6.0..=20.0).contains(&ratio),
                    "{at}: remainders {r:?}, ratio {ratio}"
                );
            }
            // Without gamma the remainder is second order: halving h divides it by ~4 (a
            // check that the third-order ratio above is not an accident of small terms).
            let q: Vec<f64> = hs[1..]
                .iter()
                .map(|&h| remainder(&leg, d, h, Some("gamma")))
                .collect();
            let ratio = q[0] / q[1];
            assert!(
                (3.0..=5.0).contains(&ratio),
                "{at} without gamma: {q:?}, ratio {ratio}"
            );
        }
    }
}

#[test]
fn sticky_moneyness_puts_the_smile_move_in_delta_not_vega() {
    let a = january_surface();
    let leg = legs()[0];
    let b = Bumped {
        base: a,
        forward_scale: 1.03,
        vol_shift: 0.0,
        dynamics: Dynamics::StickyMoneyness,
    };
    let sm = explain_leg(a, &b, &leg, Dynamics::StickyMoneyness).expect("sm");
    let ss = explain_leg(a, &b, &leg, Dynamics::StickyStrike).expect("ss");
    assert!(sm.moves.d_vol.abs() < 1e-12 && sm.terms.vega == 0.0);
    // Under sticky strike the same move is a vol change at the strike, read as vega.
    let skew_move = b.vol(leg.strike, leg.t_a) - a.vol(leg.strike, leg.t_a);
    assert!((ss.moves.d_vol - skew_move).abs() < 1e-12 && skew_move.abs() > 1e-4);
    assert_eq!(sm.full_reval, ss.full_reval);
}

fn series(name: &str) -> PathBuf {
    shared_data(&format!(
        "deribit_series/2026-01/deribit_options_snapshot_{name}.csv"
    ))
}

/// `instrument → (mark × underlying)` (USD) straight from the file, for BTC rows with a mark.
fn marks_usd(path: &PathBuf) -> HashMap<String, f64> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let (name, mark, under) = (col("instrument_name"), col("mark_price"), col("underlying"));
    r.records()
        .map(|x| x.expect("record"))
        .filter(|x| x[name].starts_with("BTC-") && !x[mark].is_empty())
        .map(|x| {
            let m: f64 = x[mark].parse().expect("mark");
            let u: f64 = x[under].parse().expect("underlying");
            (x[name].to_string(), m * u)
        })
        .collect()
}

#[test]
fn real_pairs_match_marks_read_directly_and_terms_track_full_revaluation() {
    let opts = SurfaceOptions::default();
    let names = ["20260115T092130Z", "20260115T153452Z", "20260115T212156Z"];
    let snaps: Vec<_> = names
        .iter()
        .map(|n| {
            let (chain, _) = read_chain_for(series(n), Format::Deribit, "BTC").expect("chain");
            let (s, _) = calibrate_surface(&chain, &opts).expect("surface");
            (chain, s, marks_usd(&series(n)))
        })
        .collect();
    for w in snaps.windows(2) {
        let ((ca, sa, ma), (cb, sb, mb)) = (&w[0], &w[1]);
        let book: Vec<BookPosition> = cb
            .quotes
            .iter()
            .filter(|q| ma.contains_key(&q.symbol))
            .map(|q| BookPosition {
                instrument: q.symbol.clone(),
                kind: q.kind,
                strike: q.strike,
                expiry: q.expiry,
                quantity: 3.0,
            })
            .collect();
        let a = Snapshot {
            surface: sa,
            chain: ca,
        };
        let b = Snapshot {
            surface: sb,
            chain: cb,
        };
        let e = explain_book(&a, &b, &book, Dynamics::StickyMoneyness);
        assert!(
            e.positions.len() > 500 && e.skipped.is_empty(),
            "{}",
            e.positions.len()
        );
        let mut checked = 0;
        for p in &e.positions {
            assert!((p.unexplained - (p.actual - p.terms().sum())).abs() < 1e-9);
            if p.source_a == PriceSource::Mark && p.source_b == PriceSource::Mark {
                let direct = 3.0 * (mb[&p.instrument] - ma[&p.instrument]);
                // The reader keeps the expiry's consensus forward; rows differ by a few USD.
                let tol = 1e-3 * p.value_a.abs().max(1.0);
                assert!(
                    (p.actual - direct).abs() <= tol,
                    "{}: actual {} vs {direct} from the files",
                    p.instrument,
                    p.actual
                );
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
        let sum: f64 = e.positions.iter().map(|p| p.actual).sum();
        assert!((e.totals.actual - sum).abs() < 1e-6 * sum.abs().max(1.0));
        // Over six hours the Taylor terms explain the surface's own move almost entirely.
        let fit = e.summary.terms_vs_full_reval;
        assert!(fit.r2.expect("r2") > 0.99, "{fit:?}");
        assert!(
            fit.unexplained_fraction.expect("fraction") < 0.05,
            "{fit:?}"
        );
        // And most of the marks' move: what is left is mainly marks against the fit.
        assert!(
            e.summary.terms_vs_actual.r2.expect("r2") > 0.9,
            "{:?}",
            e.summary
        );
    }
}

#[test]
fn an_expired_position_is_skipped_with_the_reason() {
    let opts = SurfaceOptions::default();
    let (ca, _) =
        read_chain_for(series("20260115T092130Z"), Format::Deribit, "BTC").expect("chain");
    let (sa, _) = calibrate_surface(&ca, &opts).expect("surface");
    let q = &ca.quotes[0];
    let expired = BookPosition {
        instrument: "BTC-1JAN26-90000-C".into(),
        kind: OptionKind::Call,
        strike: 90_000.0,
        expiry: "2026-01-01T08:00:00Z".parse().expect("date"),
        quantity: 1.0,
    };
    let live = BookPosition {
        instrument: q.symbol.clone(),
        kind: q.kind,
        strike: q.strike,
        expiry: q.expiry,
        quantity: 0.0,
    };
    let s = Snapshot {
        surface: &sa,
        chain: &ca,
    };
    let e = explain_book(&s, &s, &[expired, live], Dynamics::StickyStrike);
    assert_eq!(e.skipped.len(), 1);
    assert!(
        e.skipped[0].reason.contains("not after"),
        "{}",
        e.skipped[0].reason
    );
    // Same snapshot at both ends, zero quantity: every number is zero, none NaN.
    let p = &e.positions[0];
    assert_eq!((p.actual, p.full_reval, p.terms().sum()), (0.0, 0.0, 0.0));
    assert_eq!(e.summary.terms_vs_actual.r2, None);
}
