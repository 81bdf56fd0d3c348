//! `SurfaceDiff`: a surface against itself is exactly zero; two consecutive real snapshots
//! against the surfaces queried directly; expiries matched by date, or by time when undated.

use super::metrics::JAN_FIRST;
use crate::common::shared_data;
use chrono::{Duration, TimeZone, Utc};
use volfit::models::svi::Svi;
use volfit::quotes::{Chain, Format, read_chains};
use volfit::surface::diff::{DIFF_TENORS_DAYS, SurfaceDiff};
use volfit::surface::metrics::Pillar;
use volfit::surface::{
    FittedSurface, SliceModel, SurfaceModel, SurfaceOptions, SurfaceSlice, VolSurface,
    calibrate_surface,
};

/// The snapshot after [`JAN_FIRST`] (12 hours later).
pub(crate) const JAN_SECOND: &str =
    "deribit_series/2026-01/deribit_options_snapshot_20260101T211918Z.csv";

pub(crate) fn btc(file: &str) -> Chain {
    let (chains, _) = read_chains(shared_data(file), Format::Auto).unwrap();
    chains.into_iter().find(|c| c.underlying == "BTC").unwrap()
}

pub(crate) fn svi_opts() -> SurfaceOptions {
    SurfaceOptions {
        model: SurfaceModel::Svi,
        ..SurfaceOptions::default()
    }
}

/// A surface against itself: every vol change and every parameter move is exactly 0, every
/// expiry is common, none expired or new — for SVI and for the spline smile (whose parameter
/// moves are its SVI base's and knots, not its coefficients).
#[test]
fn a_surface_against_itself_is_exactly_zero() {
    let chain = btc(JAN_FIRST);
    for opts in [svi_opts(), SurfaceOptions::default()] {
        let (s, _) = calibrate_surface(&chain, &opts).unwrap();
        let d = SurfaceDiff::between(&s, &s);
        assert_eq!(d.tenors.len(), DIFF_TENORS_DAYS.len());
        assert_eq!(d.expiries.len(), s.slices().len());
        assert!(d.expired.is_empty() && d.new.is_empty());
        for p in d.tenors.iter().flat_map(|t| &t.pillars) {
            assert_eq!(p.change, Some(0.0), "{:?}", p.pillar);
        }
        for e in &d.expiries {
            assert_eq!(e.atm_change, Some(0.0));
            assert_eq!(e.t_a, e.t_b);
            assert!(e.pillars.iter().all(|p| p.change == Some(0.0)));
            assert!(!e.params.is_empty() && e.params.iter().all(|p| p.change == 0.0));
            if opts.model == SurfaceModel::Spline {
                assert!(e.params.iter().any(|p| p.name == "base.rho"));
                assert!(!e.params.iter().any(|p| p.name.starts_with("coefs")));
            }
        }
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("NaN"));
        assert_eq!(serde_json::from_str::<SurfaceDiff>(&json).unwrap(), d);
    }
}

/// Two calibrations of consecutive January snapshots (SVI): at each common expiry the ATM
/// change is `vol_B(F_B, t_B) − vol_A(F_A, t_A)` asked of the surfaces through `VolSurface`,
/// each parameter move is the difference of the two fitted SVIs' getters, the expiries match
/// by date with `t_A − t_B` the 12 hours between the snapshots, and the expiry that rolled off
/// is listed as expired. At the tenors the ATM vols are the surfaces' at `t = days/365`.
#[test]
fn consecutive_snapshots_against_direct_queries() {
    let (a, _) = calibrate_surface(&btc(JAN_FIRST), &svi_opts()).unwrap();
    let (b, _) = calibrate_surface(&btc(JAN_SECOND), &svi_opts()).unwrap();
    let d = SurfaceDiff::between(&a, &b);
    let dt = (b.as_of().unwrap() - a.as_of().unwrap()).num_milliseconds() as f64
        / 1000.0
        / (365.0 * 86_400.0);
    assert!(!d.expiries.is_empty());
    assert_eq!(
        d.expiries.len() + d.expired.len(),
        a.slices().len(),
        "every expiry of A is common or expired"
    );
    assert_eq!(d.expiries.len() + d.new.len(), b.slices().len());
    assert!(
        d.expired
            .iter()
            .any(|e| e.expiry == Some(Utc.with_ymd_and_hms(2026, 1, 2, 8, 0, 0).unwrap())),
        "{:?}",
        d.expired
    );
    for e in &d.expiries {
        let sa = a.slices().iter().find(|s| s.expiry == e.expiry).unwrap();
        let sb = b.slices().iter().find(|s| s.expiry == e.expiry).unwrap();
        assert_eq!((sa.t, sb.t), (e.t_a, e.t_b));
        assert!(
            (e.t_a - e.t_b - dt).abs() < 1e-9,
            "{} {} {dt}",
            e.t_a,
            e.t_b
        );
        let va = a.vol(a.forward(e.t_a), e.t_a);
        let vb = b.vol(b.forward(e.t_b), e.t_b);
        let change = e.atm_change.unwrap();
        assert!(
            (change - (vb - va)).abs() < 1e-12,
            "{change} vs {}",
            vb - va
        );
        let atm = e.pillars.iter().find(|p| p.pillar == Pillar::Atm).unwrap();
        assert_eq!(atm.change, e.atm_change);
        let (SliceModel::Svi(x), SliceModel::Svi(y)) = (sa.model, sb.model) else {
            panic!("SVI surfaces")
        };
        for (name, get) in [
            ("a", Svi::a as fn(&Svi) -> f64),
            ("b", Svi::b),
            ("rho", Svi::rho),
            ("m", Svi::m),
            ("sigma", Svi::sigma),
        ] {
            let p = e.params.iter().find(|p| p.name == name).unwrap();
            assert_eq!((p.a, p.b), (get(&x), get(&y)), "{name}");
            assert_eq!(p.change, get(&y) - get(&x));
        }
    }
    for t in &d.tenors {
        let atm = t.pillars.iter().find(|p| p.pillar == Pillar::Atm).unwrap();
        let ta = t.days / 365.0;
        assert!((atm.a.unwrap() - a.vol(a.forward(ta), ta)).abs() < 1e-13);
        assert!((atm.b.unwrap() - b.vol(b.forward(ta), ta)).abs() < 1e-13);
        assert!(
            t.pillars
                .iter()
                .all(|p| p.change.is_some_and(f64::is_finite))
        );
    }
}

fn undated(t: f64, a: f64) -> SurfaceSlice {
    SurfaceSlice {
        expiry: None,
        t,
        forward: 100.0,
        discount: 1.0,
        model: SliceModel::Svi(Svi::new(a * t, 0.1 * t, -0.3, 0.0, 0.2).unwrap()),
        quoted_k: None,
    }
}

/// Without expiry dates the slices match by time, A's moved by the time between the two
/// `as_of`s; without `as_of`s the times must agree. A slice of another time is new.
#[test]
fn undated_expiries_match_by_time() {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    let half_day = 0.5 / 365.0;
    let a = FittedSurface::new(
        "X".into(),
        Some(t0),
        None,
        vec![undated(0.1, 0.04), undated(0.5, 0.04)],
    )
    .unwrap();
    let b = FittedSurface::new(
        "X".into(),
        Some(t0 + Duration::hours(12)),
        None,
        vec![
            undated(0.1 - half_day, 0.05),
            undated(0.5 - half_day, 0.05),
            undated(1.0, 0.05),
        ],
    )
    .unwrap();
    let d = SurfaceDiff::between(&a, &b);
    assert_eq!(d.expiries.len(), 2);
    assert!(d.expired.is_empty() && d.new.len() == 1 && d.new[0].t == 1.0);
    assert!(d.expiries.iter().all(|e| e.atm_change.unwrap() > 0.0));
    // The same slices without as_of: the shifted times no longer agree.
    let bare = |s: &FittedSurface| {
        FittedSurface::new("X".into(), None, None, s.slices().to_vec()).unwrap()
    };
    let d = SurfaceDiff::between(&bare(&a), &bare(&b));
    assert_eq!((d.expiries.len(), d.expired.len(), d.new.len()), (0, 2, 3));
    let d = SurfaceDiff::between(&bare(&a), &bare(&a));
    assert_eq!(d.expiries.len(), 2);
}
