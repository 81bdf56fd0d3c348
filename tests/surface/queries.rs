//! The queries' domain: invalid input yields NaN (or `None`, or an error from `try_vol`),
//! never 0, −0 or a panic; and the grid queries agree with the scalar ones.

use crate::common::shared_data;
use ndarray::Array1;
use volfit::OptionKind;
use volfit::quotes::{Format, read_chains};
use volfit::surface::grid::{local_vol_grid, total_variance_grid, vol_grid};
use volfit::surface::{QueryError, SurfaceModel, SurfaceOptions, VolSurface, calibrate_surface};

#[test]
fn invalid_queries_are_nan_never_zero_or_a_panic() {
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        Format::Auto,
    )
    .unwrap();
    for model in SurfaceModel::ALL {
        let opts = SurfaceOptions {
            model,
            ..SurfaceOptions::default()
        };
        let (s, _) = calibrate_surface(&chains[0], &opts).unwrap();
        let f = s.forward(0.25);
        for (k, t) in [
            (f64::NAN, 0.25),
            (-1.0, 0.25),
            (0.0, 0.25),
            (f64::INFINITY, 0.25),
            (f, -1.0),
            (f, 0.0),
            (f, f64::NAN),
            (f, f64::INFINITY),
        ] {
            assert!(
                s.vol(k, t).is_nan(),
                "{model} vol({k}, {t}) = {}",
                s.vol(k, t)
            );
            assert!(s.try_vol(k, t).is_err(), "{model} try_vol({k}, {t})");
            assert!(s.local_vol(k, t).is_none(), "{model} local_vol({k}, {t})");
            assert!(s.density(k, t).is_nan(), "{model} density({k}, {t})");
            assert!(s.price(OptionKind::Call, k, t).is_nan());
        }
        for t in [f64::NAN, -1.0, f64::INFINITY] {
            assert!(s.forward(t).is_nan() && s.discount(t).is_none());
            assert!(s.total_variance(0.0, t).is_nan());
            assert!(s.variance_derivatives(0.0, t).w.is_nan());
        }
        assert!(s.total_variance(f64::NAN, 0.5).is_nan());
        // Both coordinates outside the domain (the example), and either one alone.
        for (k, t) in [
            (f64::INFINITY, -1.0),
            (f64::NEG_INFINITY, 0.5),
            (f64::INFINITY, 0.5),
        ] {
            let w = s.total_variance(k, t);
            assert!(w.is_nan(), "{model} total_variance({k}, {t}) = {w}");
            assert!(s.variance_derivatives(k, t).w.is_nan());
        }
        // Inside the domain but far from the expiries the answer is a positive vol, not 0:
        // tiny times (flat vol before the first expiry) and a long one.
        for t in [5e-324, 1e-300, 1e-12, 1e3] {
            let v = s.vol(f, t);
            assert!(v.is_finite() && v > 0.0, "{model} vol(F, {t:e}) = {v}");
        }
        // Where the extrapolated forward overflows there is no answer: NaN and an error.
        let v = s.vol(f, 1e300);
        assert!(v.is_nan() || v > 0.0, "{model} vol(F, 1e300) = {v}");
        assert!(matches!(
            s.try_vol(f, -1.0),
            Err(QueryError::NonPositive { what: "t", .. })
        ));
    }
}

#[test]
fn grid_queries_match_the_scalar_ones() {
    let (chains, _) = read_chains(
        shared_data("spx_gatheral/spx_ivols_20191220.csv"),
        Format::Auto,
    )
    .unwrap();
    let (s, _) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let f = s.forward(0.5);
    let strikes = Array1::from_vec(vec![0.6 * f, 0.9 * f, f, 1.2 * f, -1.0]);
    let ks = Array1::from_vec(vec![-0.5, -0.1, 0.0, 0.2, f64::NAN]);
    let ts = Array1::from_vec(vec![0.05, 0.5, 1.5, -1.0]);
    let v = vol_grid(&s, strikes.view(), ts.view());
    let w = total_variance_grid(&s, ks.view(), ts.view());
    let l = local_vol_grid(&s, ks.view(), ts.view());
    assert_eq!(v.shape(), &[5, 4]);
    for (i, &k) in strikes.iter().enumerate() {
        for (j, &t) in ts.iter().enumerate() {
            let a = s.vol(k, t);
            assert!(a.to_bits() == v[[i, j]].to_bits(), "vol {k} {t}");
            let b = s.total_variance(ks[i], t);
            assert!(b.to_bits() == w[[i, j]].to_bits(), "w {} {t}", ks[i]);
            let lv = s
                .local_vol(s.forward(t) * ks[i].exp(), t)
                .unwrap_or(f64::NAN);
            assert!(
                (lv.is_nan() && l[[i, j]].is_nan()) || (lv - l[[i, j]]).abs() < 1e-12 * lv,
                "local vol {} {t}: {lv} vs {}",
                ks[i],
                l[[i, j]]
            );
        }
    }
}

/// The extreme queries of the hardening issue on every model's surface (they used to give a
/// vol of 0 on SABR and SSVI surfaces, and a price line of 0 or NaN): a finite positive vol
/// equal to what the time extrapolation prescribes, and prices that are either the closed
/// form or `QueryError::Unrepresentable`, never 0, NaN or ±inf.
#[test]
fn extreme_queries_give_the_extrapolation_or_a_named_error() {
    use volfit::black::normalised::normalised_black;
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let unrepresentable = |r: Result<f64, QueryError>, what: &str| matches!(r, Err(QueryError::Unrepresentable { what: w, .. }) if w == what);
    for model in SurfaceModel::ALL {
        let opts = SurfaceOptions {
            model,
            ..SurfaceOptions::default()
        };
        let (s, _) = calibrate_surface(&chains[0], &opts).unwrap();
        let t1 = s.slices()[0].t;

        // Before the first expiry the vol is flat in t at fixed k = ln(K/F(t)): down to the
        // smallest positive double, σ(K, t) = √(w(k, t₁)/t₁).
        for t in [5e-324, 1e-300, 1e-12] {
            for m in [0.8, 1.0, 1.25] {
                let strike = m * s.forward(t);
                let k = (strike / s.forward(t)).ln();
                let want = (s.total_variance(k, t1) / t1).sqrt();
                let v = s.try_vol(strike, t).unwrap();
                assert!(
                    (v / want - 1.0).abs() < 1e-12,
                    "{model} t {t:e} m {m}: {v} vs {want}"
                );
            }
            // At the money the price σ√t·F/√(2π)·(1 + O(σ²t)) is tiny but normal.
            let f = s.forward(t);
            let v = s.vol(f, t);
            let p = s.try_price(OptionKind::Call, f, t).unwrap();
            let want = f * normalised_black(0.0, v * t.sqrt(), 1.0);
            assert!(
                (p / want - 1.0).abs() < 1e-12,
                "{model} ATM t {t:e}: {p:e} vs {want:e}"
            );
            // Out of the money the time value is far below every double: an error, not 0; in
            // the money the put is its intrinsic value.
            let strike = 1.25 * f;
            assert!(
                unrepresentable(s.try_price(OptionKind::Call, strike, t), "price"),
                "{model} t {t:e}: {:?}",
                s.try_price(OptionKind::Call, strike, t)
            );
            assert!(s.price(OptionKind::Call, strike, t).is_nan());
            assert_eq!(
                s.try_price(OptionKind::Put, strike, t),
                Ok(strike - f),
                "{model} t {t:e}"
            );
        }

        // Strike 1e308: the smile's wing gives a finite vol; the call is worth less than any
        // normal double (an error), the put is K − F.
        let f = s.forward(0.5);
        let v = s.try_vol(1e308, 0.5).unwrap();
        assert!(v.is_finite() && v > 0.0, "{model}: {v}");
        // The call is √(FK)·b(x, σ√t) with x = ln(F/K) ≈ −700: a normal double or, when the
        // wing vol is low, below every one (an error, not 0).
        let b = normalised_black((f / 1e308).ln(), v * 0.5f64.sqrt(), 1.0);
        let want = f.sqrt() * 1e308f64.sqrt() * b;
        match s.try_price(OptionKind::Call, 1e308, 0.5) {
            Ok(p) => assert!(
                p >= f64::MIN_POSITIVE && (p / want - 1.0).abs() < 1e-12,
                "{model}: vol {v}: {p:e} vs {want:e}"
            ),
            Err(e) => assert!(
                matches!(e, QueryError::Unrepresentable { what: "price", .. })
                    && want < f64::MIN_POSITIVE,
                "{model}: vol {v}: {e} ({want:e})"
            ),
        }
        assert_eq!(s.try_price(OptionKind::Put, 1e308, 0.5), Ok(1e308 - f));

        // Long times. After 1e5 years the vol of the flat-forward-variance extrapolation
        // exists, but the forward e^{r·1e5}·F overflows: NaN, and `try_price` names it. After
        // 1e300 years k = ln(K/F(t)) is beyond every smile's reach: no vol.
        let v = s.try_vol(1e5, 1e5).unwrap();
        assert!(v.is_finite() && v > 0.0, "{model}: {v}");
        assert!(s.forward(1e5).is_nan(), "{model}: {}", s.forward(1e5));
        for kind in [OptionKind::Call, OptionKind::Put] {
            assert!(
                unrepresentable(s.try_price(kind, 1e5, 1e5), "forward"),
                "{model}"
            );
        }
        // After 1e300 years the vol is that of the after-last extrapolation where k is still
        // finite, and there is no vol where the forward has overflowed (k = −∞).
        match s.try_vol(1e5, 1e300) {
            Ok(v) => {
                // w = w̃ₙ(k) + σ∞²(t − tₙ) ≥ σ∞²(t − tₙ), with k = ln K − ln F(t) finite
                // even where F(t) itself overflows a double.
                let sigma = s.after_last_vol().unwrap();
                assert!(
                    v.is_finite() && v >= sigma * (1.0 - 1e-12),
                    "{model}: {v} vs {sigma}"
                );
            }
            Err(e) => {
                assert!(matches!(e, QueryError::NoVol { .. }), "{model}: {e:?}");
            }
        }
        assert!(s.price(OptionKind::Call, 1e5, 1e300).is_nan());
    }
}

/// `location` says where a query sits against the quotes of a real surface: on each expiry
/// at the middle of its quoted strikes it is inside; before the first, after the last and
/// beyond the quoted strikes it is extrapolated, and says which way.
#[test]
fn location_tells_quoted_from_extrapolated() {
    use volfit::surface::TimeRegion;
    let (chains, _) = volfit::quotes::read_chains(
        crate::common::shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        volfit::quotes::Format::Auto,
    )
    .unwrap();
    let (s, _) =
        volfit::surface::calibrate_surface(&chains[0], &volfit::surface::SurfaceOptions::default())
            .unwrap();
    let sl = s.slices();
    for x in sl {
        let [lo, hi] = x.quoted_k.unwrap();
        let inside = s
            .location(x.forward * (0.5 * (lo + hi)).exp(), x.t)
            .unwrap();
        assert!(!inside.is_extrapolated(), "{inside}");
        assert!((inside.k - 0.5 * (lo + hi)).abs() < 1e-9);
        let beyond = s.location(x.forward * (hi + 0.1).exp(), x.t).unwrap();
        assert!(
            beyond.is_extrapolated() && !beyond.in_quoted_strikes(),
            "{beyond}"
        );
    }
    let (first, last) = (sl[0].t, sl[sl.len() - 1].t);
    let before = s.location(s.forward(0.5 * first), 0.5 * first).unwrap();
    assert_eq!(before.time, TimeRegion::BeforeFirst { first });
    let after = s.location(s.forward(2.0 * last), 2.0 * last).unwrap();
    assert_eq!(after.time, TimeRegion::AfterLast { last });
    assert!(
        after
            .to_string()
            .starts_with("extrapolated: after the last expiry")
    );
    assert!(s.location(f64::NAN, 1.0).is_none() && s.location(1.0, 0.0).is_none());
}

/// A real surface's smile sections: the digital price is minus the strike derivative of the
/// discounted call (central difference of the surface's own prices), call + put digitals are
/// the discount factor, digitals fall with the strike inside [0, D], the quoted strikes are
/// the slice's quoted k range, and the ATM vol is the vol at the forward.
#[test]
fn smile_sections_price_digitals_from_the_skew() {
    use volfit::OptionKind;
    let (chains, _) = volfit::quotes::read_chains(
        crate::common::shared_data("spx_gatheral/spx_ivols_20170424.csv"),
        volfit::quotes::Format::Auto,
    )
    .unwrap();
    let (s, _) =
        volfit::surface::calibrate_surface(&chains[0], &volfit::surface::SurfaceOptions::default())
            .unwrap();
    for x in s.slices().iter().step_by(3) {
        let smile = s.smile_section(x.t).unwrap();
        assert_eq!(smile.atm_vol().to_bits(), s.vol(x.forward, x.t).to_bits());
        let [klo, khi] = x.quoted_k.unwrap();
        let [lo, hi] = smile.quoted_strikes().unwrap();
        assert!((lo / (x.forward * klo.exp()) - 1.0).abs() < 1e-12);
        assert!((hi / (x.forward * khi.exp()) - 1.0).abs() < 1e-12);
        let mut prev = f64::INFINITY;
        for i in 0..=20 {
            let strike = lo + (hi - lo) * f64::from(i) / 20.0;
            // 1e-5 K: truncation h²·∂³C/∂K³/6 stays below the tolerance on the 1-day expiry.
            let h = 1e-5 * strike;
            let fd = -(smile.price(OptionKind::Call, strike + h)
                - smile.price(OptionKind::Call, strike - h))
                / (2.0 * h);
            let d = smile.digital(OptionKind::Call, strike);
            assert!((d - fd).abs() < 2e-6, "t {} K {strike}: {d} vs {fd}", x.t);
            let sum = d + smile.digital(OptionKind::Put, strike);
            assert!((sum - smile.discount()).abs() < 1e-14);
            assert!((0.0..=smile.discount()).contains(&d) && d <= prev + 1e-12);
            prev = d;
        }
    }
    assert!(s.smile_section(0.0).is_none() && s.smile_section(f64::NAN).is_none());
}

/// Date queries: on a real surface every expiry's date gives back its slice's `t` bit for bit
/// (the day count the slices were built with is stored), `vol_at` is `vol` there, the day
/// count survives surface.json, and a file without one loads as ACT/365.
#[test]
fn expiry_dates_query_like_their_year_fractions() {
    use volfit::slice::{DayCount, SliceOptions};
    let (chains, _) = volfit::quotes::read_chains(
        crate::common::shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        volfit::quotes::Format::Auto,
    )
    .unwrap();
    let o = volfit::surface::SurfaceOptions {
        slices: SliceOptions {
            day_count: DayCount::Act36525,
            ..SliceOptions::default()
        },
        ..volfit::surface::SurfaceOptions::default()
    };
    let (s, _) = volfit::surface::calibrate_surface(&chains[0], &o).unwrap();
    assert_eq!(s.day_count(), DayCount::Act36525);
    for x in s.slices() {
        let e = x.expiry.unwrap();
        assert_eq!(s.year_fraction(e).unwrap().to_bits(), x.t.to_bits());
        assert_eq!(
            s.vol_at(x.forward, e).unwrap().to_bits(),
            s.vol(x.forward, x.t).to_bits()
        );
    }
    assert!(s.year_fraction(s.as_of().unwrap()).is_none());
    let mut v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["day_count"], "act36525");
    let back: volfit::surface::FittedSurface = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, s);
    v.as_object_mut().unwrap().remove("day_count");
    let old: volfit::surface::FittedSurface = serde_json::from_value(v).unwrap();
    assert_eq!(old.day_count(), DayCount::Act365);
}

/// A refusing policy refuses strictly outside the expiries: the first and last expiries
/// themselves answer with their fits.
#[test]
fn refusing_policies_still_answer_at_the_first_and_last_expiry() {
    use volfit::surface::{AfterLast, BeforeFirst, Extrapolation};
    let (chains, _) = read_chains(
        shared_data("deribit/deribit_options_snapshot_20260215T153420Z.csv"),
        Format::Auto,
    )
    .unwrap();
    let (s, _) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let r = s
        .clone()
        .with_extrapolation(Extrapolation {
            before_first: BeforeFirst::Refuse,
            after_last: AfterLast::Refuse,
            ..s.extrapolation()
        })
        .unwrap();
    let (t1, tn) = (s.slices()[0].t, s.slices().last().unwrap().t);
    for t in [t1, tn] {
        for k in [-0.3, 0.0, 0.2] {
            assert_eq!(
                r.total_variance(k, t),
                s.total_variance(k, t),
                "k {k}, t {t}"
            );
        }
    }
    assert!(r.total_variance(0.0, t1.next_down()).is_nan());
    assert!(r.total_variance(0.0, tn.next_up()).is_nan());
}
