//! `calibrate_surface_from`: a calibration warm-started from the previous snapshot's surface is
//! as good as a cold one, says which expiries it warm-started, and starts cold — saying why —
//! where the prior cannot start it.

use super::diff::{JAN_SECOND, btc, svi_opts};
use super::metrics::JAN_FIRST;
use crate::common::shared_data;
use volfit::quotes::{Format, read_chains};
use volfit::surface::{
    SurfaceModel, SurfaceOptions, SurfaceReport, calibrate_surface, calibrate_surface_from,
};

/// `(share of two-sided quotes inside bid/ask, RMSE over all quotes)` of a report.
fn quality(r: &SurfaceReport) -> (f64, f64) {
    let (mut inside, mut two, mut se, mut n) = (0.0, 0.0, 0.0, 0.0);
    for s in &r.slices {
        let k = s
            .quotes
            .iter()
            .filter(|q| q.bid_iv.is_some() && q.ask_iv.is_some())
            .count() as f64;
        inside += s.within_spread.unwrap_or(0.0) * k;
        two += k;
        se += s.rmse_iv * s.rmse_iv * s.n_quotes as f64;
        n += s.n_quotes as f64;
    }
    (inside / two, (se / n).sqrt())
}

/// Snapshot N+1 warm-started from snapshot N's surface, for SVI and the spline smile (the
/// default): within one point of the cold fit's share inside bid/ask and within 10% of its
/// RMSE, as arbitrage-free; every expiry of N+1 that N had is warm-started (`warm_start`, and
/// the count in `prior`), and the others are listed cold as not in the prior.
#[test]
fn warm_start_from_the_previous_snapshot_is_as_good_as_cold() {
    let (prev, next) = (btc(JAN_FIRST), btc(JAN_SECOND));
    for opts in [svi_opts(), SurfaceOptions::default()] {
        let (prior, _) = calibrate_surface(&prev, &opts).unwrap();
        let (_, cold) = calibrate_surface(&next, &opts).unwrap();
        let (_, warm) = calibrate_surface_from(&next, &opts, &prior).unwrap();
        let ((ci, cr), (wi, wr)) = (quality(&cold), quality(&warm));
        println!(
            "{}: inside {:.2}% cold, {:.2}% warm; RMSE {:.4} / {:.4} vol pts",
            opts.model,
            100.0 * ci,
            100.0 * wi,
            100.0 * cr,
            100.0 * wr
        );
        assert!(wi >= ci - 0.01, "{}: inside {wi} vs {ci}", opts.model);
        assert!(wr <= 1.1 * cr, "{}: RMSE {wr} vs {cr}", opts.model);
        assert_eq!(warm.arbitrage_free, cold.arbitrage_free);
        assert!(cold.prior.is_none() && cold.slices.iter().all(|s| !s.warm_start));
        let p = warm.prior.as_ref().unwrap();
        assert_eq!((p.underlying.as_str(), p.as_of), ("BTC", prior.as_of()));
        let warm_n = warm.slices.iter().filter(|s| s.warm_start).count();
        assert_eq!(p.warm, warm_n);
        assert_eq!(p.warm + p.cold.len(), warm.slices.len());
        for s in &warm.slices {
            let known = prior.slices().iter().any(|x| x.expiry == s.expiry);
            assert_eq!(s.warm_start, known, "{:?}", s.expiry);
        }
        assert!(p.cold.iter().all(|c| c.reason == "not in the prior"));
        assert!(warm_n > 0);
    }
}

/// A prior that cannot start the fits: a SABR surface for SVI fits (every expiry cold, the
/// reason naming the prior's model), and a surface of another underlying (every expiry cold).
/// The calibration itself goes on as a cold one.
#[test]
fn a_prior_that_cannot_start_the_fit_starts_cold_and_says_why() {
    let next = btc(JAN_SECOND);
    let sabr = SurfaceOptions {
        model: SurfaceModel::Sabr,
        ..SurfaceOptions::default()
    };
    let (sabr_prior, _) = calibrate_surface(&btc(JAN_FIRST), &sabr).unwrap();
    let (_, cold) = calibrate_surface(&next, &svi_opts()).unwrap();
    let (_, r) = calibrate_surface_from(&next, &svi_opts(), &sabr_prior).unwrap();
    let p = r.prior.clone().unwrap();
    assert_eq!(p.warm, 0);
    assert!(r.slices.iter().all(|s| !s.warm_start));
    assert!(
        p.cold
            .iter()
            .all(|c| c.reason.contains("sabr") || c.reason == "not in the prior"),
        "{:?}",
        p.cold
    );
    assert!(p.cold.iter().any(|c| c.reason.contains("sabr")));
    let rmse = |r: &SurfaceReport| r.slices.iter().map(|s| s.rmse_iv).collect::<Vec<_>>();
    assert_eq!(
        rmse(&cold),
        rmse(&r),
        "a cold start is the cold calibration"
    );
    // Another underlying.
    let (chains, _) = read_chains(shared_data(JAN_FIRST), Format::Auto).unwrap();
    let eth = chains.iter().find(|c| c.underlying == "ETH").unwrap();
    let (eth_prior, _) = calibrate_surface(eth, &svi_opts()).unwrap();
    let (_, r) = calibrate_surface_from(&next, &svi_opts(), &eth_prior).unwrap();
    let p = r.prior.unwrap();
    assert_eq!(p.warm, 0);
    assert!(
        p.cold.iter().all(|c| c.reason.contains("ETH")),
        "{:?}",
        p.cold
    );
}

/// A spline prior seeds an SVI fit with its SVI base (and an SVI prior a spline fit's base).
#[test]
fn spline_and_svi_priors_start_each_other() {
    let (prev, next) = (btc(JAN_FIRST), btc(JAN_SECOND));
    let spline = SurfaceOptions::default();
    let (spline_prior, _) = calibrate_surface(&prev, &spline).unwrap();
    let (svi_prior, _) = calibrate_surface(&prev, &svi_opts()).unwrap();
    for (opts, prior) in [(svi_opts(), &spline_prior), (spline, &svi_prior)] {
        let (_, r) = calibrate_surface_from(&next, &opts, prior).unwrap();
        assert!(r.prior.unwrap().warm > 0, "{}", opts.model);
    }
}
