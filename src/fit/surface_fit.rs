//! Surface fits over the same seam: SSVI (one `(ρ, φ)` for all expiries) and eSSVI (per-expiry
//! `(θ, ρ, ψ)` fitted in turn from the SSVI fit, each against the previous expiry), both free
//! of butterfly and calendar arbitrage. The models' specs are in
//! [`crate::models::ssvi`]; this module only orders the expiries and chains the fits.

use super::FitError;
use super::smile::{FitOptions, FitReport, fit_from, fit_points};
use crate::models::Calibrate;
use crate::models::arbitrage::{CalendarCheck, calendar_check};
use crate::models::ssvi::{EssviOptions, EssviSlice, Ssvi, SsviOptions};
use crate::slice::{Points, SmileSlice};
use serde::{Deserialize, Serialize};

/// An SSVI surface fitted to several expiries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsviFit {
    /// The surface parameters.
    pub model: Ssvi,
    /// `(t, θ_t)` per expiry.
    pub thetas: Vec<(f64, f64)>,
    /// Per-expiry fit statistics.
    pub reports: Vec<FitReport>,
    /// Calendar check over the real line.
    pub calendar: CalendarCheck,
    /// Polish iterations.
    pub iterations: u64,
    /// Whether the polish converged.
    pub converged: bool,
}

/// An eSSVI surface: one `(θ, ρ, ψ)` per expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EssviFit {
    /// `(t, slice)` per expiry, sorted by `t`.
    pub slices: Vec<(f64, EssviSlice)>,
    /// Per-expiry fit statistics.
    pub reports: Vec<FitReport>,
    /// Calendar check over the real line.
    pub calendar: CalendarCheck,
}

/// The slices sorted by time.
fn sorted(slices: &[SmileSlice]) -> Vec<&SmileSlice> {
    let mut s: Vec<&SmileSlice> = slices.iter().collect();
    s.sort_by(|a, b| a.t().total_cmp(&b.t()));
    s
}

/// Fits an SSVI surface to the slices (any order) with the power-law `φ`
/// ([`fit_ssvi_with`] chooses the form).
///
/// # Errors
/// [`FitError`] when there are fewer than 3 quotes in all, or the optimiser fails.
pub fn fit_ssvi(slices: &[SmileSlice], opts: &FitOptions) -> Result<SsviFit, FitError> {
    fit_ssvi_with(slices, opts, &SsviOptions::default())
}

/// Fits an SSVI surface with the form of `φ` given in `ssvi` (power law or Heston-like).
///
/// # Errors
/// As [`fit_ssvi`].
///
/// ```
/// use volfit::fit::{fit_ssvi_with, FitOptions};
/// use volfit::models::ssvi::{Phi, PhiKind, Ssvi, SsviOptions};
/// use volfit::SmileSlice;
/// let truth = Ssvi::new(-0.5, Phi::HestonLike { lambda: 20.0 })?;
/// let slices: Vec<SmileSlice> = [0.25, 1.0].iter().map(|&t| {
///     let theta = 0.04 * t;
///     let q: Vec<(f64, f64)> = (-6..=6).map(|i| {
///         let k = 0.05 * f64::from(i);
///         (100.0 * k.exp(), (truth.w(k, theta) / t).sqrt())
///     }).collect();
///     SmileSlice::from_vols(t, 100.0, &q).unwrap()
/// }).collect();
/// let f = fit_ssvi_with(&slices, &FitOptions::default(), &SsviOptions { phi: PhiKind::HestonLike })?;
/// assert!((f.model.rho() + 0.5).abs() < 1e-3, "{:?}", f.model);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_ssvi_with(
    slices: &[SmileSlice],
    opts: &FitOptions,
    ssvi: &SsviOptions,
) -> Result<SsviFit, FitError> {
    let slices = sorted(slices);
    let data = Points::of_slices(slices.iter().copied());
    let (model, reports) = fit_points::<Ssvi>(&data, opts, ssvi, None, &[])?;
    // The θ_t the fit used (the spec's context, rebuilt: it is cheap and not kept).
    let ctx = <Ssvi as Calibrate>::context(&data, ssvi)?;
    let thetas: Vec<(f64, f64)> = slices
        .iter()
        .map(|s| s.t())
        .zip(ctx.thetas().iter().copied())
        .collect();
    let svis: Vec<_> = thetas.iter().map(|&(t, th)| (t, model.slice(th))).collect();
    let (iterations, converged) = reports
        .first()
        .map_or((0, false), |r| (r.iterations, r.converged));
    Ok(SsviFit {
        model,
        calendar: calendar_check(&svis),
        thetas,
        reports,
        iterations,
        converged,
    })
}

/// Fits an eSSVI surface: an SSVI fit, then each expiry's `(θ, ρ, ψ)` refitted in turn from
/// its SSVI slice under its butterfly conditions and the calendar condition against the
/// previous expiry (Corbetta, Cohort, Laachir & Martini 2019).
///
/// # Errors
/// As [`fit_ssvi`].
pub fn fit_essvi(slices: &[SmileSlice], opts: &FitOptions) -> Result<EssviFit, FitError> {
    let ssvi = fit_ssvi(slices, opts)?;
    let sorted = sorted(slices);
    let mut out: Vec<(f64, EssviSlice)> = Vec::with_capacity(sorted.len());
    let mut reports = Vec::with_capacity(sorted.len());
    for (slice, &(t, theta)) in sorted.iter().zip(&ssvi.thetas) {
        let previous = out.last().map(|p| p.1);
        let mut start = ssvi.model.essvi(theta);
        if let Some(prev) = previous {
            // Start on or above the previous slice (the SSVI slices are, by construction).
            start.theta = start.theta.max(prev.theta);
        }
        let f = fit_from(slice, opts, &EssviOptions { previous }, Some(&start), &[])?;
        reports.push(f.report);
        out.push((t, f.model));
    }
    let calendar = calendar_check(&out);
    Ok(EssviFit {
        slices: out,
        reports,
        calendar,
    })
}
