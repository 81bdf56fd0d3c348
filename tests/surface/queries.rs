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
