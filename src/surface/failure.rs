//! [`failure_report`]: the account of a calibration that fitted no expiry (what `report.json`
//! says when [`calibrate_surface`](super::calibrate_surface) returns
//! [`SurfaceError::Empty`](super::SurfaceError::Empty)).

use super::report::error_chain;
use super::{CalendarReport, FailedExpiry, SurfaceModel, SurfaceOptions, SurfaceReport, Timing};
use crate::fit::{fit_essvi, fit_sabr, fit_ssvi, fit_svi};
use crate::quotes::Chain;
use crate::slice::{SmileSlice, build_slices};
use std::time::Instant;

/// The report of a calibration of `chain` under `opts` that fitted no expiry: the quotes the
/// filters rejected and the expiries dropped (as [`calibrate_surface`](super::calibrate_surface)
/// built them), and every slice that was built with the reason its fit failed. `slices` is
/// empty and the calendar check has nothing to check (`calendar_free` is `false`: no surface
/// was built to be free of anything).
///
/// Slices are built and fitted again: call it only after a failed calibration (the fits that
/// fail usually fail fast).
///
/// ```
/// use volfit::quotes::{Format, read_chains_from_str};
/// use volfit::surface::{SurfaceOptions, calibrate_surface, failure_report};
/// let text = "expiry,strike,kind,bid_iv,ask_iv,forward,as_of\n\
///             2030-01-01,100,call,0.2,0.21,100,2029-01-01\n";
/// let (chains, _) = read_chains_from_str(text, std::path::Path::new("x.csv"), Format::Csv).unwrap();
/// let opts = SurfaceOptions::default();
/// assert!(calibrate_surface(&chains[0], &opts).is_err());
/// let r = failure_report(&chains[0], &opts);
/// assert!(r.slices.is_empty() && r.failed.is_empty());
/// assert_eq!(r.slice_report.dropped.len(), 1);
/// assert_eq!(r.slice_report.dropped[0].reason.to_string(), "too few usable quotes (1 < 5)");
/// ```
pub fn failure_report(chain: &Chain, opts: &SurfaceOptions) -> SurfaceReport {
    let clock = Instant::now();
    let (slices, slice_report) = build_slices(chain, &opts.slices);
    let iv_micros = clock.elapsed().as_secs_f64() * 1e6;
    let failed_as = |s: &SmileSlice, reason: String| FailedExpiry {
        expiry: s.expiry(),
        t: s.t(),
        reason,
    };
    let per_expiry = |s: &SmileSlice| match opts.model {
        SurfaceModel::Sabr => fit_sabr(s, &opts.fit).err().map(|e| error_chain(&e)),
        _ => fit_svi(s, &opts.fit).err().map(|e| error_chain(&e)),
    };
    let joint = match opts.model {
        SurfaceModel::Ssvi if !slices.is_empty() => fit_ssvi(&slices, &opts.fit).err(),
        SurfaceModel::Essvi if !slices.is_empty() => fit_essvi(&slices, &opts.fit).err(),
        _ => None,
    }
    .map(|e| error_chain(&e));
    let failed = slices
        .iter()
        .map(|s| {
            let why = match opts.model {
                SurfaceModel::Svi | SurfaceModel::Sabr => per_expiry(s),
                SurfaceModel::Ssvi | SurfaceModel::Essvi => joint.clone(),
            };
            // A fit that succeeds here failed in the calibration for a reason it reported
            // there; say so rather than leave the expiry out of the account.
            failed_as(
                s,
                why.unwrap_or_else(|| "not fitted in the calibration".into()),
            )
        })
        .collect();
    SurfaceReport {
        underlying: chain.underlying.clone(),
        as_of: chain.as_of,
        model: opts.model,
        optimizer: opts.fit.optimizer,
        slices: Vec::new(),
        failed,
        slice_report,
        calendar: CalendarReport {
            k_range: [0.0, 0.0],
            violations: Vec::new(),
            calendar_free: false,
            wing_crossings: Vec::new(),
        },
        timing_micros: Timing {
            ingest: 0.0,
            implied_vol: iv_micros,
            fit: 0.0,
            total: clock.elapsed().as_secs_f64() * 1e6,
        },
    }
}
