//! The live tracker on real January 2026 Deribit snapshots: expiries keyed by date, retired
//! and listed, quote patches against direct inversions, the incremental surface against a
//! full build, the Kalman filter's consistency quantities.

use crate::common::shared_data;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use volfit::live::filter::{self, FilterState};
use volfit::live::{FilterKind, FilterParams, TrackError, Tracker, TrackerOptions, chi2_band};
use volfit::quotes::{Chain, Format, OptionQuote, read_chains};
use volfit::surface::{FittedSurface, SliceModel, VolSurface};
use volfit::{OptionKind, SurfaceModel, implied_vol};

fn snapshots(n: usize) -> Vec<PathBuf> {
    let dir = shared_data("deribit_series/2026-01");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the January series")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    files.truncate(n);
    files
}

fn series(underlying: &str, n: usize) -> Vec<Chain> {
    snapshots(n)
        .iter()
        .flat_map(|f| read_chains(f, Format::Auto).expect("a snapshot").0)
        .filter(|c| c.underlying == underlying)
        .collect()
}

#[test]
fn expiries_are_keyed_by_date_retired_when_they_expire_and_listed_when_new() {
    let chains = series("BTC", 6);
    let mut t = Tracker::new("BTC", TrackerOptions::default()).unwrap();
    let mut seen_retired = Vec::new();
    let mut seen_listed = 0;
    for (n, c) in chains.iter().enumerate() {
        let before = t.expiries();
        let r = t.update_chain(c).unwrap();
        let at = c.as_of.unwrap();
        // Every expiry tracked is in the future and quoted in this chain.
        for e in t.expiries() {
            assert!(e > at);
            assert!(c.quotes.iter().any(|q| q.expiry == e));
        }
        for e in &r.expiries_retired {
            assert!(before.contains(e) && !t.expiries().contains(e));
            seen_retired.push(*e);
        }
        if n > 0 {
            seen_listed += r.expiries_listed.len();
        }
        assert!(r.quotes_used > 0 && r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(r.expiries_refitted.len(), t.expiries().len());
    }
    // The 2 January 08:00 expiry is quoted on 1 January and gone after it expires.
    let jan2: DateTime<Utc> = "2026-01-02T08:00:00Z".parse().unwrap();
    assert!(seen_retired.contains(&jan2), "retired: {seen_retired:?}");
    assert!(seen_listed > 0, "no new listing in six snapshots");
}

#[test]
fn a_held_surface_does_not_change_when_the_tracker_moves_on() {
    let chains = series("ETH", 2);
    let mut t = Tracker::new("ETH", TrackerOptions::default()).unwrap();
    t.update_chain(&chains[0]).unwrap();
    let held = t.surface().unwrap();
    let (k, tt) = (held.forward(0.1), 0.1);
    let v = held.vol(k, tt);
    t.update_chain(&chains[1]).unwrap();
    assert_eq!(held.vol(k, tt), v);
    assert!(!std::sync::Arc::ptr_eq(&held, &t.surface().unwrap()));
}

#[test]
fn updates_out_of_order_and_kalman_on_a_spline_are_refused() {
    let chains = series("BTC", 2);
    let mut t = Tracker::new("BTC", TrackerOptions::default()).unwrap();
    t.update_chain(&chains[1]).unwrap();
    assert!(matches!(
        t.update_chain(&chains[0]),
        Err(TrackError::OutOfOrder { .. })
    ));
    let opts = TrackerOptions {
        model: SurfaceModel::Spline,
        ..TrackerOptions::default()
    };
    let e = Tracker::new("BTC", opts).unwrap_err();
    assert!(e.to_string().contains("--filter none"), "{e}");
    // The spline smile tracks without a filter.
    let opts = TrackerOptions {
        model: SurfaceModel::Spline,
        filter: FilterKind::None,
        ..TrackerOptions::default()
    };
    let mut t = Tracker::new("BTC", opts).unwrap();
    let r = t.update_chain(&chains[0]).unwrap();
    assert!(r.within_spread.unwrap() > 0.95, "{:?}", r.within_spread);
}

/// One OTM quote with both sides, of an expiry the tracker has.
fn some_quote(c: &Chain, t: &Tracker) -> OptionQuote {
    c.quotes
        .iter()
        .filter(|q| t.expiries().contains(&q.expiry))
        .find(|q| {
            let f = q.forward.unwrap();
            q.bid.is_some()
                && q.ask.is_some()
                && q.kind == OptionKind::otm(f, q.strike)
                && (q.strike / f).ln().abs() < 0.1
                && q.expiry > c.as_of.unwrap() + chrono::Duration::days(20)
        })
        .expect("a near-the-money quote")
        .clone()
}

#[test]
fn a_changed_quote_refits_its_expiry_only_and_the_point_is_the_direct_inversion() {
    let chains = series("BTC", 1);
    let c = &chains[0];
    // Plain refits: the fit follows the quote (the filter might gate it; tested below).
    let opts = TrackerOptions {
        filter: FilterKind::None,
        ..TrackerOptions::default()
    };
    let mut t = Tracker::new("BTC", opts).unwrap();
    t.update_chain(c).unwrap();
    let before = t.surface().unwrap();
    let q = some_quote(c, &t);
    // Both sides 6% of the premium higher: a move of several half-spreads.
    let up = OptionQuote {
        bid: q.bid.map(|b| b * 1.06),
        ask: q.ask.map(|a| a * 1.06),
        ..q.clone()
    };
    assert!(t.apply_quote(&up));
    let r = t.refresh(c.as_of.unwrap()).unwrap();
    assert_eq!(r.expiries_refitted, vec![q.expiry]);
    let after = t.surface().unwrap();
    let i = after
        .slices()
        .iter()
        .position(|s| s.expiry == Some(q.expiry))
        .unwrap();
    // Every other expiry's smile is the same as before.
    for (j, (a, b)) in after.slices().iter().zip(before.slices()).enumerate() {
        if j != i {
            assert_eq!(a.model, b.model, "expiry {j} moved");
        }
    }
    // The fitted vol at the strike moved up, toward the new quote.
    let s = &after.slices()[i];
    let vol = |surf: &FittedSurface| surf.vol(q.strike, s.t);
    assert!(vol(&after) > vol(&before));
    // The tracker's slice point is the direct inversion of the new mid at the slice's
    // forward and time.
    let f = s.forward;
    let mid = 0.5 * (up.bid.unwrap() + up.ask.unwrap());
    let direct = implied_vol(q.kind, mid * f, f, q.strike, s.t).unwrap();
    let fitted = t.fit_report(q.expiry).unwrap();
    assert!(fitted.n_quotes > 5);
    let patched = volfit::slice::patch_slice(
        &volfit::slice::build_slices(c, &volfit::slice::SliceOptions::default())
            .0
            .into_iter()
            .find(|x| x.expiry() == Some(q.expiry))
            .unwrap(),
        volfit::quotes::Premium::Coin,
        &up,
        &volfit::slice::SliceOptions::default(),
    );
    let volfit::slice::Patch::Point(ps, at) = patched else {
        panic!("the quote is a point: {patched:?}")
    };
    assert!((ps.points()[at].mid_iv() - direct).abs() < 1e-12);
    // An unchanged quote does not refit anything and keeps the same shared surface.
    assert!(!t.apply_quote(&up));
    let r = t.refresh(c.as_of.unwrap()).unwrap();
    assert!(r.expiries_refitted.is_empty());
    assert!(std::sync::Arc::ptr_eq(&after, &t.surface().unwrap()));
    // Under the Kalman filter the same jump is either followed or gated and reported.
    let mut k = Tracker::new("BTC", TrackerOptions::default()).unwrap();
    k.update_chain(c).unwrap();
    let before = k.surface().unwrap();
    assert!(k.apply_quote(&up));
    let r = k.refresh(c.as_of.unwrap()).unwrap();
    let moved = k.surface().unwrap().vol(q.strike, s.t) > before.vol(q.strike, s.t);
    let gated = r
        .gated
        .iter()
        .any(|g| g.strike == q.strike && g.expiry == q.expiry);
    assert!(moved || gated, "{r:?}");
}

#[test]
fn the_incremental_surface_equals_a_full_build() {
    let chains = series("BTC", 1);
    let mut t = Tracker::new("BTC", TrackerOptions::default()).unwrap();
    t.update_chain(&chains[0]).unwrap();
    let s = t.surface().unwrap();
    let n = s.slices().len();
    for i in [0, 1, n / 2, n - 2, n - 1] {
        for dw in [-2e-4, 1e-4, 3e-3] {
            let mut slices = s.slices().to_vec();
            let SliceModel::Svi(m) = slices[i].model else {
                panic!("SVI")
            };
            let Some(l) = m.lifted(dw * slices[i].t) else {
                continue;
            };
            slices[i].model = l.into();
            slices[i].forward *= 1.0 + dw;
            let fast = s.rebuilt(s.as_of(), s.spot(), slices.clone()).unwrap();
            let full = FittedSurface::new(s.underlying().into(), s.as_of(), s.spot(), slices)
                .unwrap()
                .with_day_count(s.day_count())
                .with_extrapolation(s.extrapolation())
                .unwrap();
            assert_eq!(fast, full, "slice {i}, dw {dw}");
        }
    }
}

#[test]
fn chi2_band_matches_the_table() {
    // χ² quantiles, Abramowitz & Stegun Table 26.8: ν = 10 → 3.247 (2.5%), 20.483 (97.5%);
    // ν = 100 → 74.222, 129.561.
    let b = chi2_band(10);
    assert!(
        (b[0] - 3.247).abs() < 1e-3 && (b[1] - 20.483).abs() < 1e-3,
        "{b:?}"
    );
    let b = chi2_band(100);
    assert!(
        (b[0] - 74.222).abs() < 1e-3 && (b[1] - 129.561).abs() < 1e-3,
        "{b:?}"
    );
}

#[test]
fn the_filter_update_shrinks_the_covariance_and_reports_nis_and_gates() {
    let chains = series("BTC", 3);
    let mut t = Tracker::new("BTC", TrackerOptions::default()).unwrap();
    t.update_chain(&chains[0]).unwrap();
    let e = t.expiries()[5];
    let p0: FilterState = t.posterior(e).unwrap();
    let r = t.update_chain(&chains[1]).unwrap();
    let p1 = t.posterior(e).unwrap();
    // With the prediction's added noise and a slice of new quotes the posterior of the ATM
    // vol is at most the prediction's: the update never loses information.
    let dt =
        (chains[1].as_of.unwrap() - chains[0].as_of.unwrap()).as_seconds_f64() / (365.25 * 86400.0);
    let predicted = p0.predict(&FilterParams::default(), dt);
    assert!(p1.cov[(0, 0)] <= predicted.cov[(0, 0)]);
    assert!(
        p1.cov.cholesky().is_some(),
        "posterior not positive definite"
    );
    let (nis, dof) = (r.nis.unwrap(), r.nis_dof);
    assert!(nis.is_finite() && nis > 0.0 && dof > 50, "{nis} {dof}");
    let band = r.nis_band.unwrap();
    assert!(band[0] < dof as f64 && (dof as f64) < band[1]);
    // Gated quotes are named with a standardised innovation beyond the gate.
    for g in &r.gated {
        assert!(g.innovation.abs() > FilterParams::default().gate, "{g:?}");
    }
    // The posterior mean is the filter coordinates of the served smile.
    let s = t.surface().unwrap();
    let sl = s.slices().iter().find(|x| x.expiry == Some(e)).unwrap();
    let SliceModel::Svi(m) = sl.model else {
        panic!("SVI")
    };
    let (z, _) = filter::coordinates(&m, sl.t).unwrap();
    assert!((z - p1.mean).norm() < 1e-12);
}

#[test]
fn filtered_fits_stay_within_two_points_of_independent_fits_inside_the_spread() {
    let chains = series("ETH", 12);
    let inside = |filter: FilterKind, independent: bool| {
        let opts = TrackerOptions {
            filter,
            ..TrackerOptions::default()
        };
        let mut t = Tracker::new("ETH", opts.clone()).unwrap();
        let mut v = Vec::new();
        for c in &chains {
            if independent {
                t = Tracker::new("ETH", opts.clone()).unwrap();
            }
            v.extend(t.update_chain(c).unwrap().within_spread);
        }
        v.iter().sum::<f64>() / v.len() as f64
    };
    let kalman = inside(FilterKind::Kalman, false);
    let independent = inside(FilterKind::None, true);
    assert!(kalman > independent - 0.02, "{kalman} vs {independent}");
}
