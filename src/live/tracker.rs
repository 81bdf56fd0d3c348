//! The tracker: one underlying's surface through time (see the [module documentation](super)).

use super::filter::{self, FilterParams, FilterState};
use crate::fit::{FitError, FitOptions, FitReport, fit_sabr_from, fit_svi_from};
use crate::models::spline::SplineOptions;
use crate::models::svi::Svi;
use crate::quotes::{Chain, OptionQuote, Premium};
use crate::slice::{Patch, SliceOptions, SmileSlice, build_slices, patch_slice};
use crate::surface::{
    Extrapolation, FittedSurface, SliceModel, SurfaceError, SurfaceModel, SurfaceSlice,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Seconds in a year of the filter's clock (365.25 days).
const YEAR_SECONDS: f64 = 365.25 * 86_400.0;

/// Which temporal filter a tracker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum FilterKind {
    /// The Kalman filter of [`super::filter`] on each expiry's SVI (jump-wings coordinates).
    #[default]
    Kalman,
    /// Plain refits, each warm-started from the expiry's previous fit.
    None,
}

impl FilterKind {
    /// The name on the command line and in `track.json`.
    pub fn name(self) -> &'static str {
        match self {
            FilterKind::Kalman => "kalman",
            FilterKind::None => "none",
        }
    }
}

/// How a [`Tracker`] follows the market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerOptions {
    /// The smile model of each expiry (the Kalman filter needs [`SurfaceModel::Svi`]; with
    /// [`FilterKind::None`] also SABR and the spline smile).
    pub model: SurfaceModel,
    /// The temporal filter.
    pub filter: FilterKind,
    /// The filter's noises.
    pub params: FilterParams,
    /// Fit options.
    pub fit: FitOptions,
    /// Slice building (filters, weights, day count).
    pub slices: SliceOptions,
    /// The served surface's extrapolation policy.
    pub extrapolation: Extrapolation,
    /// An expiry is refitted when a quote's mid vol moved by more than this many of its
    /// half-spreads since its last fit (or a quote appeared or went).
    pub quote_tolerance: f64,
    /// … or its forward moved by more than this relative amount …
    pub forward_tolerance: f64,
    /// … or its time to expiry by more than this fraction.
    pub time_tolerance: f64,
    /// Refit several dirty expiries in parallel (rayon; a single dirty expiry is refitted in
    /// the calling thread).
    pub parallel: bool,
    /// The filter commits a posterior as the prior of later updates once this many seconds
    /// have passed since the last commit; updates in between start from the same committed
    /// prior, so quotes that persist are not counted as new measurements again and again.
    pub commit_seconds: f64,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            model: SurfaceModel::Svi,
            filter: FilterKind::Kalman,
            params: FilterParams::default(),
            fit: FitOptions::default(),
            slices: SliceOptions::default(),
            extrapolation: Extrapolation::default(),
            quote_tolerance: 0.25,
            forward_tolerance: 5e-4,
            time_tolerance: 0.01,
            parallel: true,
            commit_seconds: 300.0,
        }
    }
}

/// Why a tracker refused an update.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// The options cannot be run.
    #[error("tracker options: {0}")]
    Options(String),
    /// The chain is of another underlying.
    #[error("chain of {got}, tracker of {want}")]
    Underlying {
        /// The tracker's.
        want: String,
        /// The chain's.
        got: String,
    },
    /// The update has no time (the chain has no `as_of`).
    #[error("the update has no snapshot time")]
    NoTime,
    /// Updates must come in time order.
    #[error("update at {got} is before the tracker's last at {last}")]
    OutOfOrder {
        /// The tracker's last update.
        last: DateTime<Utc>,
        /// The update's.
        got: DateTime<Utc>,
    },
    /// No expiry could be fitted, so there is no surface.
    #[error("no surface: {0}")]
    Surface(#[from] SurfaceError),
}

/// A quote the filter's gate left out of an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatedQuote {
    /// Expiry.
    pub expiry: DateTime<Utc>,
    /// Strike.
    pub strike: f64,
    /// Mid vol quoted.
    pub mid_iv: f64,
    /// Standardised innovation `ν/√S`.
    pub innovation: f64,
    /// Line of the input, where known.
    pub line: Option<u64>,
}

/// An expiry whose refit failed (it keeps its previous smile, or is left out if new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRefit {
    /// Expiry.
    pub expiry: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// The account of one tracker update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The update's time.
    pub as_of: DateTime<Utc>,
    /// Wall time of the update (slices, fits, the new surface), microseconds.
    pub update_micros: f64,
    /// Expiries refitted.
    pub expiries_refitted: Vec<DateTime<Utc>>,
    /// Expiries seen for the first time.
    pub expiries_listed: Vec<DateTime<Utc>>,
    /// Expiries gone (expired or no longer quoted).
    pub expiries_retired: Vec<DateTime<Utc>>,
    /// Quotes in the surface's slices.
    pub quotes_used: usize,
    /// Fraction of the two-sided quotes of the refitted expiries whose fitted vol lies inside
    /// their bid/ask (`None` when nothing was refitted).
    pub within_spread: Option<f64>,
    /// Quotes the gate left out.
    pub gated: Vec<GatedQuote>,
    /// Normalised innovation squared over the refitted expiries (Kalman filter with a
    /// prediction only).
    pub nis: Option<f64>,
    /// Its degrees of freedom (quotes kept).
    pub nis_dof: usize,
    /// The two-sided 95% band of a `χ²` with `nis_dof` degrees of freedom.
    pub nis_band: Option<[f64; 2]>,
    /// Refits that failed.
    pub failed: Vec<FailedRefit>,
}

/// The fit state of one expiry.
#[derive(Debug, Clone)]
struct ExpiryState {
    /// The expiry's latest quotes.
    book: Vec<OptionQuote>,
    /// The slice last fitted.
    slice: SmileSlice,
    /// Its smile and fit report (`None` until the first fit).
    fit: Option<(SliceModel, FitReport)>,
    /// The filter's committed posterior and its time.
    committed: Option<(DateTime<Utc>, FilterState)>,
    /// The latest posterior (for uncertainty bands).
    posterior: Option<FilterState>,
    /// The slice now (differs from `slice` after quote updates not yet fitted).
    current: SmileSlice,
}

/// A surface that follows one underlying's market: successive chains or single quote
/// updates in, an updated [`FittedSurface`] out (see the [module documentation](super)).
#[derive(Debug)]
pub struct Tracker {
    underlying: String,
    opts: TrackerOptions,
    premium: Premium,
    tick: Option<f64>,
    expiries: BTreeMap<DateTime<Utc>, ExpiryState>,
    /// Expiries whose current slice differs from the fitted one.
    pending: Vec<DateTime<Utc>>,
    surface: Option<Arc<FittedSurface>>,
    as_of: Option<DateTime<Utc>>,
    spot: Option<f64>,
}

impl Tracker {
    /// A tracker of `underlying`.
    ///
    /// # Errors
    /// [`TrackError::Options`] when the Kalman filter is asked of a model other than SVI.
    pub fn new(underlying: impl Into<String>, opts: TrackerOptions) -> Result<Self, TrackError> {
        if opts.filter == FilterKind::Kalman && opts.model != SurfaceModel::Svi {
            return Err(TrackError::Options(format!(
                "the Kalman filter runs on SVI's jump-wings coordinates; use --model svi or \
                 --filter none with --model {}",
                opts.model
            )));
        }
        if !matches!(
            opts.model,
            SurfaceModel::Svi | SurfaceModel::Sabr | SurfaceModel::Spline
        ) {
            return Err(TrackError::Options(format!(
                "the tracker fits expiry by expiry: svi, sabr or spline, not {}",
                opts.model
            )));
        }
        opts.extrapolation.check().map_err(TrackError::Options)?;
        Ok(Tracker {
            underlying: underlying.into(),
            opts,
            premium: Premium::Coin,
            tick: None,
            expiries: BTreeMap::new(),
            pending: Vec::new(),
            surface: None,
            as_of: None,
            spot: None,
        })
    }

    /// The underlying.
    pub fn underlying(&self) -> &str {
        &self.underlying
    }

    /// The options.
    pub fn options(&self) -> &TrackerOptions {
        &self.opts
    }

    /// The latest surface, shared: a pricer may hold it while later updates run.
    pub fn surface(&self) -> Option<Arc<FittedSurface>> {
        self.surface.clone()
    }

    /// The time of the latest update.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The filter's posterior of an expiry: its coordinates' mean and covariance
    /// ([`filter::COORDINATES`]); `None` without the Kalman filter or for an unknown expiry.
    pub fn posterior(&self, expiry: DateTime<Utc>) -> Option<FilterState> {
        self.expiries.get(&expiry)?.posterior
    }

    /// The fit report of an expiry's latest fit.
    pub fn fit_report(&self, expiry: DateTime<Utc>) -> Option<&FitReport> {
        self.expiries.get(&expiry)?.fit.as_ref().map(|f| &f.1)
    }

    /// The expiries tracked, in order.
    pub fn expiries(&self) -> Vec<DateTime<Utc>> {
        self.expiries.keys().copied().collect()
    }

    fn check_time(&self, at: DateTime<Utc>) -> Result<(), TrackError> {
        match self.as_of {
            Some(last) if at < last => Err(TrackError::OutOfOrder { last, got: at }),
            _ => Ok(()),
        }
    }

    /// A whole new snapshot of the chain: its slices replace the tracked ones (expiries no
    /// longer quoted or expired are retired, new ones listed), every expiry whose quotes,
    /// forward or time moved materially is refitted from its previous state, and the new
    /// surface is published.
    ///
    /// # Errors
    /// [`TrackError`] for a chain of another underlying, without a time, out of order, or
    /// when no expiry can be fitted.
    pub fn update_chain(&mut self, chain: &Chain) -> Result<UpdateReport, TrackError> {
        let clock = Instant::now();
        if chain.underlying != self.underlying {
            return Err(TrackError::Underlying {
                want: self.underlying.clone(),
                got: chain.underlying.clone(),
            });
        }
        let at = self
            .opts
            .slices
            .as_of
            .or(chain.as_of)
            .ok_or(TrackError::NoTime)?;
        self.check_time(at)?;
        self.premium = chain.premium;
        self.tick = chain.tick;
        let (slices, _) = build_slices(chain, &self.opts.slices);
        let mut books: BTreeMap<DateTime<Utc>, Vec<OptionQuote>> = BTreeMap::new();
        for q in &chain.quotes {
            books.entry(q.expiry).or_default().push(q.clone());
        }
        let mut retired = Vec::new();
        let quoted: Vec<DateTime<Utc>> = slices.iter().filter_map(SmileSlice::expiry).collect();
        self.expiries.retain(|e, _| {
            let keep = quoted.contains(e);
            if !keep {
                retired.push(*e);
            }
            keep
        });
        let mut dirty = Vec::new();
        let mut listed = Vec::new();
        for s in slices {
            let Some(e) = s.expiry() else { continue };
            let book = books.remove(&e).unwrap_or_default();
            if let Some(st) = self.expiries.get_mut(&e) {
                st.current = s;
                st.book = book;
            } else {
                listed.push(e);
                self.fresh(e, s, book);
            }
            dirty.push(e);
        }
        self.pending.clear();
        self.as_of = Some(at);
        self.spot = chain.spot.or(self.spot);
        let mut report = self.refit(at, &dirty, !retired.is_empty())?;
        report.expiries_listed = listed;
        report.expiries_retired = retired;
        report.update_micros = clock.elapsed().as_secs_f64() * 1e6;
        Ok(report)
    }

    /// Puts a new expiry in with its first slice (fitted at the next refit).
    fn fresh(&mut self, e: DateTime<Utc>, s: SmileSlice, book: Vec<OptionQuote>) {
        self.expiries.insert(
            e,
            ExpiryState {
                book,
                slice: s.clone(),
                fit: None,
                committed: None,
                posterior: None,
                current: s,
            },
        );
    }

    /// The slice of expiry `e` rebuilt from its book at time `at` (the whole pipeline of
    /// [`build_slices`] on the expiry's quotes).
    fn rebuild(&self, e: DateTime<Utc>, at: DateTime<Utc>) -> Option<SmileSlice> {
        let st = self.expiries.get(&e)?;
        let chain = Chain {
            underlying: self.underlying.clone(),
            as_of: Some(at),
            spot: self.spot,
            premium: self.premium,
            tick: self.tick,
            format: crate::quotes::Format::Auto,
            source: std::path::PathBuf::new(),
            quotes: st.book.clone(),
        };
        let opts = SliceOptions {
            as_of: Some(at),
            ..self.opts.slices.clone()
        };
        build_slices(&chain, &opts).0.into_iter().next()
    }

    /// One quote update (a changed bid, ask or mark of one option): the quote's point of its
    /// expiry's slice is re-derived (one implied-vol inversion per side) at the slice's
    /// forward — or, when the quote's forward moved more than
    /// [`TrackerOptions::forward_tolerance`], the expiry waits for its next chain. Nothing is
    /// refitted until [`Tracker::refresh`]. Returns whether the expiry became dirty.
    ///
    /// Quotes of expiries the tracker has no slice of yet are ignored (an expiry is listed
    /// by a chain): returns `false`.
    pub fn apply_quote(&mut self, q: &OptionQuote) -> bool {
        let Some(st) = self.expiries.get_mut(&q.expiry) else {
            return false;
        };
        match st
            .book
            .iter_mut()
            .find(|b| b.strike == q.strike && b.kind == q.kind)
        {
            Some(b) => *b = q.clone(),
            None => st.book.push(q.clone()),
        }
        let moved = q
            .forward
            .is_some_and(|f| (f / st.current.forward()).ln().abs() > self.opts.forward_tolerance);
        if moved {
            // The forward moved: every point of the expiry moves with it.
            let f = q.forward.unwrap_or(f64::NAN);
            for b in &mut st.book {
                b.forward = Some(f);
            }
            let at = q.as_of.or(self.as_of).unwrap_or_else(Utc::now);
            match self.rebuild(q.expiry, at) {
                Some(s) => {
                    if let Some(st) = self.expiries.get_mut(&q.expiry) {
                        st.current = s;
                    }
                }
                None => return false,
            }
            if !self.pending.contains(&q.expiry) {
                self.pending.push(q.expiry);
            }
            return true;
        }
        match patch_slice(&st.current, self.premium, q, &self.opts.slices) {
            Patch::Point(s, _) | Patch::Removed(Some(s), _) => st.current = s,
            Patch::Unused | Patch::Removed(None, _) => return false,
        }
        if !self.pending.contains(&q.expiry) {
            self.pending.push(q.expiry);
        }
        true
    }

    /// Refits the expiries that quote updates moved materially since their last fit and
    /// publishes the new surface (the same surface, shared, when nothing moved).
    ///
    /// # Errors
    /// [`TrackError::OutOfOrder`] for a time before the last update; [`TrackError::Surface`]
    /// when no expiry can be served.
    pub fn refresh(&mut self, at: DateTime<Utc>) -> Result<UpdateReport, TrackError> {
        let clock = Instant::now();
        self.check_time(at)?;
        self.as_of = Some(at);
        let mut pending = std::mem::take(&mut self.pending);
        // Time moves every expiry: those whose time to expiry moved materially are rebuilt.
        let tol = self.opts.time_tolerance;
        let day_count = self.opts.slices.day_count;
        let stale: Vec<DateTime<Utc>> = self
            .expiries
            .iter()
            .filter(|(e, st)| {
                let t = day_count.year_fraction(at, **e);
                (t - st.current.t()).abs() > tol * st.current.t()
            })
            .map(|(e, _)| *e)
            .collect();
        let mut retired = Vec::new();
        for e in stale {
            if let Some(s) = self.rebuild(e, at) {
                if let Some(st) = self.expiries.get_mut(&e) {
                    st.current = s;
                }
                if !pending.contains(&e) {
                    pending.push(e);
                }
            } else {
                self.expiries.remove(&e);
                retired.push(e);
            }
        }
        let mut report = self.refit(at, &pending, !retired.is_empty())?;
        report.expiries_retired = retired;
        report.update_micros = clock.elapsed().as_secs_f64() * 1e6;
        Ok(report)
    }

    /// Whether expiry `e`'s current slice moved materially from the one last fitted.
    fn moved(&self, st: &ExpiryState) -> bool {
        if st.fit.is_none() {
            return true;
        }
        let (a, b) = (&st.slice, &st.current);
        if (b.forward() / a.forward()).ln().abs() > self.opts.forward_tolerance
            || (b.t() - a.t()).abs() > self.opts.time_tolerance * a.t()
            || a.points().len() != b.points().len()
        {
            return true;
        }
        a.points().iter().zip(b.points()).any(|(p, q)| {
            if p.strike() != q.strike() || p.kind() != q.kind() {
                return true;
            }
            let half = q
                .bid_ask()
                .map_or(f64::INFINITY, |(b, a)| 0.5 * (a - b))
                .max(1e-6);
            (p.mid_iv() - q.mid_iv()).abs() > self.opts.quote_tolerance * half
        })
    }

    fn refit(
        &mut self,
        at: DateTime<Utc>,
        candidates: &[DateTime<Utc>],
        changed: bool,
    ) -> Result<UpdateReport, TrackError> {
        let mut refitted = Vec::new();
        let mut failed = Vec::new();
        let mut gated = Vec::new();
        let (mut nis, mut dof, mut any_nis) = (0.0, 0usize, false);
        let (mut inside, mut two_sided) = (0.0, 0usize);
        let dirty: Vec<DateTime<Utc>> = candidates
            .iter()
            .copied()
            .filter(|e| self.expiries.get(e).is_some_and(|st| self.moved(st)))
            .collect();
        let fit = |e: &DateTime<Utc>| (*e, self.fit_one(at, &self.expiries[e]));
        // Several dirty expiries are refitted in parallel (a whole chain); one in this thread.
        let results: Vec<(DateTime<Utc>, Result<Refit, FitError>)> =
            if self.opts.parallel && dirty.len() > 1 {
                use rayon::prelude::*;
                dirty.par_iter().map(fit).collect()
            } else {
                dirty.iter().map(fit).collect()
            };
        for (e, result) in results {
            match result {
                Ok(out) => {
                    let st = self.expiries.get_mut(&e).expect("the expiry exists");
                    if let Some(n) = out.nis {
                        nis += n.0;
                        dof += n.1;
                        any_nis = true;
                    }
                    for &(i, z) in &out.gated {
                        let p = &st.current.points()[i];
                        gated.push(GatedQuote {
                            expiry: e,
                            strike: p.strike(),
                            mid_iv: p.mid_iv(),
                            innovation: z,
                            line: p.line(),
                        });
                    }
                    let n2 = st
                        .current
                        .points()
                        .iter()
                        .filter(|p| p.bid_ask().is_some())
                        .count();
                    if let Some(w) = out.report.within_spread {
                        inside += w * n2 as f64;
                        two_sided += n2;
                    }
                    st.slice = st.current.clone();
                    st.fit = Some((out.model, out.report));
                    st.posterior = out.posterior;
                    if let Some(c) = out.commit {
                        st.committed = Some((at, c));
                    }
                    refitted.push(e);
                }
                Err(err) => failed.push(FailedRefit {
                    expiry: e,
                    reason: error_chain(&err),
                }),
            }
        }
        // New expiries whose first fit failed are not served.
        self.expiries
            .retain(|e, st| st.fit.is_some() || !failed.iter().any(|f| f.expiry == *e));
        if changed || !refitted.is_empty() || self.surface.is_none() {
            self.publish(at)?;
        }
        let quotes_used = self.expiries.values().map(|s| s.slice.points().len()).sum();
        let band = (any_nis && dof > 0).then(|| chi2_band(dof));
        Ok(UpdateReport {
            as_of: at,
            update_micros: 0.0,
            expiries_refitted: refitted,
            expiries_listed: Vec::new(),
            expiries_retired: Vec::new(),
            quotes_used,
            within_spread: (two_sided > 0).then(|| inside / two_sided as f64),
            gated,
            nis: any_nis.then_some(nis),
            nis_dof: dof,
            nis_band: band,
            failed,
        })
    }

    /// The refit of one expiry under the tracker's filter.
    fn fit_one(&self, at: DateTime<Utc>, st: &ExpiryState) -> Result<Refit, FitError> {
        let slice = &st.current;
        let opts = &self.opts.fit;
        let first = st.fit.is_none();
        let prev_model = st.fit.as_ref().map(|f| f.0);
        match (self.opts.filter, self.opts.model) {
            (FilterKind::Kalman, _) => {
                let params = &self.opts.params;
                let up = match (st.committed, prev_model) {
                    (Some((when, state)), Some(SliceModel::Svi(prev))) => {
                        let dt = (at - when).as_seconds_f64() / YEAR_SECONDS;
                        let predicted = state.predict(params, dt);
                        filter::update(slice, opts, params, &predicted, &prev)?
                    }
                    _ => filter::first_update(slice, opts, params, None)?,
                };
                let commit = match st.committed {
                    Some((when, _))
                        if !first && (at - when).as_seconds_f64() < self.opts.commit_seconds =>
                    {
                        None
                    }
                    _ => Some(up.state),
                };
                Ok(Refit {
                    model: up.model.into(),
                    report: up.report,
                    posterior: Some(up.state),
                    commit,
                    nis: up.nis,
                    gated: up.gated,
                })
            }
            (FilterKind::None, model) => {
                let (m, report) = match (model, prev_model) {
                    (SurfaceModel::Sabr, Some(SliceModel::Sabr(w))) => {
                        let f = fit_sabr_from(slice, opts, Some(&w.sabr))?;
                        (f.model.into(), f.report)
                    }
                    (SurfaceModel::Sabr, _) => {
                        let f = crate::fit::fit_sabr(slice, opts)?;
                        (f.model.into(), f.report)
                    }
                    (SurfaceModel::Spline, prev) => {
                        let start = match prev {
                            Some(SliceModel::Spline(s)) => Some(*s.base()),
                            _ => None,
                        };
                        let start = start.map(|s| better_start(slice, opts, s));
                        let base = fit_svi_from(slice, opts, start.as_ref())?;
                        let spline = SplineOptions {
                            base: Some(base.model),
                            ..opts.spline
                        };
                        let mut f = crate::fit::fit::<crate::models::spline::SplineSmile>(
                            slice, opts, &spline,
                        )?;
                        f.report.fit_micros += base.report.fit_micros;
                        (f.model.into(), f.report)
                    }
                    (_, Some(SliceModel::Svi(prev))) => {
                        let f = fit_svi_from(slice, opts, Some(&better_start(slice, opts, prev)))?;
                        (f.model.into(), f.report)
                    }
                    _ => {
                        let f = crate::fit::fit_svi(slice, opts)?;
                        (f.model.into(), f.report)
                    }
                };
                Ok(Refit {
                    model: m,
                    report,
                    posterior: None,
                    commit: None,
                    nis: None,
                    gated: Vec::new(),
                })
            }
        }
    }

    /// Builds and publishes the surface of the fitted expiries.
    fn publish(&mut self, at: DateTime<Utc>) -> Result<(), TrackError> {
        let slices: Vec<SurfaceSlice> = self
            .expiries
            .iter()
            .filter_map(|(e, st)| {
                let (model, _) = st.fit.as_ref()?;
                Some(SurfaceSlice {
                    expiry: Some(*e),
                    t: st.slice.t(),
                    forward: st.slice.forward(),
                    discount: st.slice.discount(),
                    model: *model,
                    quoted_k: Some(st.slice.k_range()),
                })
            })
            .collect();
        let surface = match &self.surface {
            Some(old) => old.rebuilt(Some(at), self.spot, slices)?,
            None => FittedSurface::new(self.underlying.clone(), Some(at), self.spot, slices)?
                .with_day_count(self.opts.slices.day_count)
                .with_extrapolation(self.opts.extrapolation)?,
        };
        self.surface = Some(Arc::new(surface));
        Ok(())
    }
}

/// What one expiry's refit gives.
struct Refit {
    model: SliceModel,
    report: FitReport,
    posterior: Option<FilterState>,
    commit: Option<FilterState>,
    nis: Option<(f64, usize)>,
    gated: Vec<(usize, f64)>,
}

/// The warm start of a refit: the previous smile, or the quasi-explicit guess of the new
/// quotes when that is closer to them (weighted squared vol errors) — after a large move a
/// stale start makes the polish crawl: on the January series warm starts from the previous
/// snapshot took 4 times the time of cold fits before this choice.
fn better_start(slice: &SmileSlice, opts: &FitOptions, prev: Svi) -> Svi {
    let t = slice.t();
    let cost = |m: &Svi| {
        slice
            .points()
            .iter()
            .map(|p| p.weight() * ((m.w(p.k()).max(0.0) / t).sqrt() - p.mid_iv()).powi(2))
            .sum::<f64>()
    };
    match crate::fit::initial_guess::<Svi>(slice, opts, &()) {
        Ok(g) if cost(&g) < cost(&prev) => g,
        _ => prev,
    }
}

/// The 2.5% and 97.5% quantiles of `χ²` with `dof` degrees of freedom.
pub fn chi2_band(dof: usize) -> [f64; 2] {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    match ChiSquared::new(dof.max(1) as f64) {
        Ok(c) => [c.inverse_cdf(0.025), c.inverse_cdf(0.975)],
        Err(_) => [0.0, f64::INFINITY],
    }
}

/// An error and its sources, `: `-joined.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
