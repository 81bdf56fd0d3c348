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
