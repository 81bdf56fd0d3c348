//! ATM / 25Δ risk reversal / butterfly, moved from the charts into the surface layer, against
//! numbers computed another way (the review flags are tested in `flags`).

use volfit::black::{OptionKind, black_greeks};
use volfit::models::svi::Svi;
use volfit::surface::metrics::{k_at_delta, term_structure};
use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice, VolSurface};

fn slice(t: f64, model: Svi) -> SurfaceSlice {
    SurfaceSlice {
        expiry: None,
        t,
        forward: 100.0,
        discount: 1.0,
        model: SliceModel::Svi(model),
        quoted_k: None,
    }
}

/// A flat smile has no risk reversal or butterfly and its ATM vol is the flat vol; on a
/// skewed SVI the 25Δ strikes have a Black delta (from `black_greeks`, at the surface's vol)
/// of 0.25 and 0.75, the risk reversal has the sign of ρ, and RR/BF are the vol differences.
#[test]
fn term_structure_against_black_deltas() {
    let flat = Svi::new(0.04 * 0.5, 0.0, 0.0, 0.0, 0.1).unwrap();
    let skew = Svi::new(0.01, 0.15, -0.6, 0.02, 0.15).unwrap();
    let s = FittedSurface::new(
        "X".into(),
        None,
        None,
        vec![slice(0.5, flat), slice(1.0, skew)],
    )
    .unwrap();
    let ts = term_structure(&s);
    assert!((ts[0].atm - 20.0).abs() < 1e-12);
    assert!(ts[0].rr25.unwrap().abs() < 1e-9 && ts[0].bf25.unwrap().abs() < 1e-9);
    let m = &s.slices()[1].model;
    let (kc, kp) = (k_at_delta(m, 0.25).unwrap(), k_at_delta(m, 0.75).unwrap());
    let (c, p) = (100.0 * kc.exp(), 100.0 * kp.exp());
    let dc = black_greeks(OptionKind::Call, 100.0, c, 1.0, s.vol(c, 1.0)).delta;
    let dp = black_greeks(OptionKind::Call, 100.0, p, 1.0, s.vol(p, 1.0)).delta;
    assert!(
        (dc - 0.25).abs() < 1e-10 && (dp - 0.75).abs() < 1e-10,
        "{dc} {dp}"
    );
    let rr = 100.0 * (s.vol(c, 1.0) - s.vol(p, 1.0));
    let bf = 100.0 * (0.5 * (s.vol(c, 1.0) + s.vol(p, 1.0)) - s.vol(100.0, 1.0));
    assert!(rr < 0.0 && (ts[1].rr25.unwrap() - rr).abs() < 1e-10);
    assert!((ts[1].bf25.unwrap() - bf).abs() < 1e-10);
}

// ---- Constant maturity: read off the surface at any t (decimals) ----

use crate::common::shared_data;
use volfit::black::special::{inverse_norm_cdf, norm_cdf};
use volfit::quotes::{Format, read_chains};
use volfit::surface::metrics::{
    MetricsError, Pillar, TenorMetrics, k_at_call_delta, metrics_at, metrics_at_tenor,
};
use volfit::surface::{AfterLast, BeforeFirst, Extrapolation, SurfaceModel, SurfaceOptions};

/// The first snapshot of the January series and the one after it.
pub(crate) const JAN_FIRST: &str =
    "deribit_series/2026-01/deribit_options_snapshot_20260101T091835Z.csv";

/// A flat 20% surface at two expiries, with a spot, so that the forwards move in `t`.
fn flat_surface() -> FittedSurface {
    let flat = |t: f64| Svi::new(0.04 * t, 0.0, 0.0, 0.0, 0.1).unwrap();
    let mut a = slice(0.5, flat(0.5));
    a.forward = 101.0;
    let mut b = slice(1.0, flat(1.0));
    b.forward = 102.5;
    FittedSurface::new("X".into(), None, Some(100.0), vec![a, b]).unwrap()
}

/// On a flat surface the answer is closed form at every t — before the first expiry, on one,
/// between, after the last: ATM = σ, RR = BF = 0 (exactly: every pillar reads the same `w`),
/// and the strike of call delta Δ is `k = √w(√w/2 − Φ⁻¹(Δ))`.
#[test]
fn constant_maturity_on_a_flat_surface_is_closed_form() {
    let s = flat_surface();
    for t in [0.1, 0.5, 0.75, 1.0, 2.0] {
        let m = metrics_at(&s, t).unwrap();
        assert!((m.atm_vol - 0.2).abs() < 1e-15, "t {t}: {}", m.atm_vol);
        for v in [m.rr25, m.bf25, m.rr10, m.bf10] {
            assert_eq!(v, Some(0.0), "t {t}");
        }
        assert_eq!(m.forward, s.forward(t));
        for p in Pillar::ALL {
            assert!((m.vol(p).unwrap() - 0.2).abs() < 1e-15);
        }
        let w = 0.04 * t;
        for delta in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let want = w.sqrt() * (0.5 * w.sqrt() - inverse_norm_cdf(delta));
            let k = k_at_call_delta(&s, t, delta).unwrap();
            assert!((k - want).abs() < 1e-12, "t {t} Δ {delta}: {k} vs {want}");
        }
    }
}

/// No answer is an error, never NaN: a time that is not positive, a tenor that is not, a
/// delta outside (0, 1), and a surface whose policy refuses before the first or after the
/// last expiry.
#[test]
fn constant_maturity_refuses_honestly() {
    let s = flat_surface();
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            metrics_at(&s, t),
            Err(MetricsError::BadTime { what: "t", .. })
        ));
    }
    assert!(matches!(
        metrics_at_tenor(&s, 0.0),
        Err(MetricsError::BadTime { what: "tenor", .. })
    ));
    assert!(matches!(
        k_at_call_delta(&s, 0.5, 1.0),
        Err(MetricsError::NoStrike { .. })
    ));
    let refusing = s
        .with_extrapolation(Extrapolation {
            before_first: BeforeFirst::Refuse,
            after_last: AfterLast::Refuse,
            ..Extrapolation::default()
        })
        .unwrap();
    for t in [0.1, 2.0] {
        let e = metrics_at(&refusing, t).unwrap_err();
        assert!(matches!(e, MetricsError::NoVariance { .. }), "{e}");
        assert!(e.to_string().contains("extrapolation policy"), "{e}");
    }
    assert!(metrics_at(&refusing, 0.75).is_ok());
}

/// A right wing at Lee's bound `b(1 + ρ) = 2` keeps `w − 2k ≥ a > 0`, so `d₁ > 0` and the call
/// delta above ½ at every strike: there is no 25Δ or 10Δ call, and the metrics say so
/// (`None`) while the puts and the ATM vol are there.
#[test]
fn a_call_delta_the_smile_cannot_reach_is_none() {
    let rho = 0.99;
    let b = 2.0 / (1.0 + rho) * (1.0 - 1e-12);
    let lee = Svi::new(0.04, b, rho, 0.0, 0.1).unwrap();
    let s = FittedSurface::new("X".into(), None, None, vec![slice(1.0, lee)]).unwrap();
    let m = metrics_at(&s, 1.0).unwrap();
    assert!(m.atm_vol > 0.0 && m.put25.is_some() && m.put10.is_some());
    assert_eq!(
        (m.call25, m.call10, m.rr25, m.bf25),
        (None, None, None, None)
    );
}

/// Two skewed SVI expiries served as fitted (the later above the earlier everywhere).
fn skewed_surface() -> FittedSurface {
    let early = Svi::new(0.01, 0.1, -0.5, 0.0, 0.2).unwrap();
    let late = Svi::new(0.025, 0.14, -0.4, 0.02, 0.25).unwrap();
    let mut a = slice(0.5, early);
    a.forward = 100.5;
    let mut b = slice(1.0, late);
    b.forward = 101.5;
    let s = FittedSurface::new("X".into(), None, Some(100.0), vec![a, b]).unwrap();
    assert!(s.borrowed_k(1).unwrap().is_empty(), "served as fitted");
    s
}

/// At an expiry's own `t` the constant-maturity numbers are the per-expiry ones of
/// `term_structure` (which are in vol points).
#[test]
fn constant_maturity_at_an_expiry_is_the_term_structure() {
    let s = skewed_surface();
    for p in term_structure(&s) {
        let m = metrics_at(&s, p.t).unwrap();
        assert!((100.0 * m.atm_vol - p.atm).abs() < 1e-12, "t {}", p.t);
        assert!((100.0 * m.rr25.unwrap() - p.rr25.unwrap()).abs() < 1e-9);
        assert!((100.0 * m.bf25.unwrap() - p.bf25.unwrap()).abs() < 1e-9);
        assert!(m.rr25.unwrap() < 0.0 && m.rr10.unwrap() < m.rr25.unwrap());
    }
}

/// The vol at the strike whose call delta `Φ(d₁)` crosses `delta`, found by a brute-force scan
/// of `k` on a grid of step 1e-5 over [−3, 3] (first crossing from the money outward, linear
/// interpolation of the delta), the vol read through `VolSurface::vol` at that strike.
fn scanned_vol(s: &FittedSurface, t: f64, delta: f64) -> f64 {
    let f = s.forward(t);
    let call_delta = |k: f64| {
        let w = s.total_variance(k, t);
        norm_cdf(-k / w.sqrt() + 0.5 * w.sqrt())
    };
    let step = 1e-5;
    let right = call_delta(0.0) > delta;
    let mut k0 = 0.0;
    let mut d0 = call_delta(k0);
    for i in 1..=300_000 {
        let k1 = if right { step } else { -step } * f64::from(i);
        let d1 = call_delta(k1);
        if (d0 - delta) * (d1 - delta) <= 0.0 {
            let k = k0 + (k1 - k0) * (delta - d0) / (d1 - d0);
            return s.vol(f * k.exp(), t);
        }
        (k0, d0) = (k1, d1);
    }
    panic!("no crossing of {delta} at t = {t}");
}

fn check_against_scan(s: &FittedSurface, m: &TenorMetrics, tol: f64) {
    let t = m.t;
    assert!((m.atm_vol - s.vol(s.forward(t), t)).abs() < 1e-14);
    for p in [Pillar::Put10, Pillar::Put25, Pillar::Call25, Pillar::Call10] {
        let want = scanned_vol(s, t, p.call_delta().unwrap());
        let got = m.vol(p).unwrap();
        assert!(
            (got - want).abs() < tol,
            "t {t} {}: {got} vs scan {want}",
            p.name()
        );
    }
}

/// Between two expiries (and before the first, and after the last) the metrics are the
/// surface's at that `t`: the strikes of the deltas against a brute-force scan of the delta on
/// a fine `k` grid, the vols there through `VolSurface::vol`.
#[test]
fn constant_maturity_between_expiries_matches_a_scan() {
    let s = skewed_surface();
    for t in [0.2, 0.7, 0.9, 1.6] {
        let m = metrics_at(&s, t).unwrap();
        check_against_scan(&s, &m, 1e-9);
        // Between the expiries, not equal to either neighbour's.
        let rr = m.rr25.unwrap();
        assert!(rr < 0.0 && rr.is_finite());
    }
}

/// A real surface (BTC, the first January snapshot, SVI): the 30-day point is finite, its ATM
/// vol lies between the neighbouring expiries' ATM vols (variance-linear interpolation makes
/// `σ²(t)` a weighted mean of theirs), and its deltas pass the scan; 7, 90 and 180 days give
/// an answer too.
#[test]
fn constant_maturity_on_a_real_snapshot() {
    let (chains, _) = read_chains(shared_data(JAN_FIRST), Format::Auto).unwrap();
    let chain = chains.iter().find(|c| c.underlying == "BTC").unwrap();
    let opts = SurfaceOptions {
        model: SurfaceModel::Svi,
        ..SurfaceOptions::default()
    };
    let (s, _) = volfit::calibrate_surface(chain, &opts).unwrap();
    let m = metrics_at_tenor(&s, 30.0).unwrap();
    let t = m.t;
    assert!((t - 30.0 / 365.0).abs() < 1e-15);
    let slices = s.slices();
    let i = slices.partition_point(|x| x.t <= t);
    assert!(
        i > 0 && i < slices.len(),
        "30 days lies between two expiries"
    );
    let atm = |j: usize| {
        let tj = slices[j].t;
        s.vol(s.forward(tj), tj)
    };
    let (lo, hi) = (atm(i - 1).min(atm(i)), atm(i - 1).max(atm(i)));
    println!(
        "BTC 30d: ATM {:.4} between {:.4} and {:.4}; RR25 {:+.4}, BF25 {:+.4}, RR10 {:+.4}, BF10 {:+.4}",
        m.atm_vol,
        lo,
        hi,
        m.rr25.unwrap(),
        m.bf25.unwrap(),
        m.rr10.unwrap(),
        m.bf10.unwrap()
    );
    assert!(m.atm_vol >= lo && m.atm_vol <= hi);
    for v in [m.rr25, m.bf25, m.rr10, m.bf10] {
        assert!(v.is_some_and(f64::is_finite));
    }
    check_against_scan(&s, &m, 1e-8);
    for days in [7.0, 90.0, 180.0] {
        let m = metrics_at_tenor(&s, days).unwrap();
        assert!(
            m.atm_vol.is_finite() && m.rr25.is_some_and(f64::is_finite),
            "{days}d"
        );
    }
}

/// A surface that counts its total-variance queries.
struct Counting<'a>(&'a FittedSurface, std::sync::atomic::AtomicUsize);

impl VolSurface for Counting<'_> {
    fn forward_impl(&self, t: f64) -> f64 {
        self.0.forward(t)
    }
    fn variance_derivatives_impl(&self, k: f64, t: f64) -> volfit::surface::VarianceDerivatives {
        self.0.variance_derivatives(k, t)
    }
    fn total_variance_impl(&self, k: f64, t: f64) -> f64 {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.total_variance(k, t)
    }
}

/// The cost the module documentation states: about ten evaluations of `w` per delta (at most
/// 15 on average over the four wing pillars), on the real BTC surface at every tenor of
/// `volfit track` and at every expiry.
#[test]
fn constant_maturity_costs_about_ten_evaluations_per_delta() {
    let (chains, _) = read_chains(shared_data(JAN_FIRST), Format::Auto).unwrap();
    let chain = chains.iter().find(|c| c.underlying == "BTC").unwrap();
    let (s, _) = volfit::calibrate_surface(chain, &SurfaceOptions::default()).unwrap();
    let ts: Vec<f64> = [7.0, 30.0, 90.0, 180.0]
        .iter()
        .map(|d| d / 365.0)
        .chain(s.slices().iter().map(|x| x.t))
        .collect();
    let mut worst = 0.0f64;
    for t in ts {
        let c = Counting(&s, std::sync::atomic::AtomicUsize::new(0));
        let m = metrics_at(&c, t).unwrap();
        assert_eq!(m, metrics_at(&s, t).unwrap());
        // The ATM variance, then four deltas, each with its vol read once more.
        let per_delta = (c.1.into_inner() - 1) as f64 / 4.0 - 1.0;
        worst = worst.max(per_delta);
    }
    println!("at most {worst:.2} evaluations of w per delta");
    assert!(worst <= 15.0, "{worst}");
}
