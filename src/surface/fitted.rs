//! [`FittedSurface`]: the per-expiry smiles of a calibrated surface, the interpolation and
//! extrapolation in time, and the queries (see the [parent module](super) for the rules).

use super::arbitrage::{
    ArbitrageReport, ButterflyStatus, ServedRange, butterflies, calendar_report,
};
use super::envelope::{Envelope, Wing, served, served_one};
use super::interp;
use super::{SliceModel, VarianceDerivatives, VolSurface};
use crate::slice::DayCount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One expiry of a [`FittedSurface`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceSlice {
    /// Expiry instant, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Time to expiry in years.
    pub t: f64,
    /// Forward.
    pub forward: f64,
    /// Discount factor.
    pub discount: f64,
    /// The smile.
    pub model: SliceModel,
    /// `[k_min, k_max]` of the quotes it was fitted to, where known (the calendar check's
    /// domain).
    #[serde(default)]
    pub quoted_k: Option<[f64; 2]>,
}

/// A calibrated implied-volatility surface (see the [module documentation](super) for the
/// interpolation and extrapolation rules).
///
/// Immutable once built, `Send + Sync`: share it behind an `Arc` across threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "super::file::SurfaceFile",
    into = "super::file::SurfaceFile"
)]
pub struct FittedSurface {
    pub(super) underlying: String,
    pub(super) as_of: Option<DateTime<Utc>>,
    pub(super) spot: Option<f64>,
    pub(super) slices: Vec<SurfaceSlice>,
    /// How the slices' `t` relate to dates (`surface.json`'s `day_count`).
    pub(super) day_count: DayCount,
    /// How the surface answers outside its expiries (`surface.json`'s `extrapolation`).
    pub(super) extrapolation: Extrapolation,
    /// The slices' fitted smiles with the wing policy, contiguous (what the served smiles'
    /// pieces index).
    models: Vec<Wing>,
    /// The served smile of each expiry ([`super::envelope`]).
    served: Vec<Envelope>,
    /// Forward variance rate after the last expiry (`σ∞²`).
    after_rate: f64,
    /// Per interval between expiries: interpolate prices (else total variance).
    price_between: Vec<bool>,
    /// Node times for forwards and discounts (with `t = 0` when the spot is known).
    node_t: Vec<f64>,
    node_ln_f: Vec<f64>,
    node_ln_d: Vec<f64>,
}

/// How a surface answers where no expiry was fitted: before the first expiry, after the last,
/// and between consecutive served smiles (stored in `surface.json`; files without it load
/// with the default). Every choice keeps the surface free of static arbitrage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Extrapolation {
    /// The smallest forward vol `σ_min` between consecutive served smiles: each expiry's
    /// smile is served at least `σ_min²·Δt` above the previous one at every `k` (default
    /// 0.01, one vol point; see [`super::envelope`]). Must be finite and `> 0`: local vol is
    /// `√(∂ₜw/g)`, positive only where `∂ₜw > 0`.
    pub min_forward_vol: f64,
    /// Before the first expiry.
    pub before_first: BeforeFirst,
    /// After the last expiry.
    pub after_last: AfterLast,
    /// The wings beyond each expiry's quoted range (default [`Wings::Model`]).
    pub wings: Wings,
    /// Between consecutive served smiles (default [`Between::Auto`]).
    pub between: Between,
    /// Serve each expiry's smile raised to the previous one where it dips below (default
    /// `true`; [`super::envelope`]). `false` serves the fits as they are, calendar arbitrage
    /// and all ([`CalendarPolicy::Report`](super::CalendarPolicy::Report) sets it), for
    /// research on the raw fits.
    pub calendar_envelope: bool,
}

impl Default for Extrapolation {
    fn default() -> Self {
        Extrapolation {
            wings: Wings::Model,
            between: Between::Auto,
            calendar_envelope: true,
            min_forward_vol: 0.01,
            before_first: BeforeFirst::FlatVol,
            after_last: AfterLast::ForwardVariance { vol: None },
        }
    }
}

/// The wings of each expiry beyond its quoted `k` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Wings {
    /// The fitted model's own wings (SVI: its asymptotes, slopes within Lee's bound; SABR:
    /// the expansion on its scan range, then linear).
    #[default]
    Model,
    /// Linear in total variance beyond the quoted range, with the edge slope (outward, at
    /// most Lee's bound 2): no curvature the quotes did not show. `C¹` at the edges (unless the
    /// edge slope had to be clamped); its
    /// butterfly condition is checked by the served verdict and the plane scan, not implied.
    Linear,
}

/// The surface between two served expiries `tᵢ < t < tᵢ₊₁`, at fixed `k = ln(K/F(t))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Between {
    /// Total variance linear in `t` in every interval where that is free of butterfly
    /// arbitrage on a dense scan (11 interior times × the plane scan's `k` grid, a superset
    /// of [`FittedSurface::plane_scan`]'s points), [`Between::Price`] in the others (decided
    /// when the surface is built or loaded). A flat-vol surface stays flat; the SVI surfaces
    /// of the shared chains keep the classical rule everywhere; spline surfaces take prices
    /// where their mixture would not be convex.
    #[default]
    Auto,
    /// Out-of-the-money prices (per forward) linear in `t` at fixed `k`
    /// (at fixed `k`, `w` recovered by the implied-vol inversion): free of butterfly arbitrage by construction whatever the
    /// smiles' models (a convex combination of convex price curves), and of calendar
    /// arbitrage since the served smiles increase. Not flat between two flat-vol expiries
    /// (prices, not variances, are linear). Where a price has no implied vol in a double (far
    /// wings), total variance is mixed.
    Price,
    /// Total variance linear in `t`: the classical rule and the cheaper query (no implied-vol
    /// inversion), calendar-free; its butterfly condition is checked by the plane scan, not
    /// implied (on the shared SPX chains fitted by the spline smile, 5 to 51 scanned points
    /// fail between expiries).
    Variance,
}

/// The surface before its first expiry `t₁`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeforeFirst {
    /// Implied vol flat in time at each `k`: `w(k, t) = w₁(k)·t/t₁`. Free of butterfly
    /// arbitrage because scaling a butterfly-free `w` by `r ∈ (0, 1]` keeps Durrleman's `g`
    /// non-negative (`g` is concave in `r`, `g(0) = (1 − kw'/2w)² ≥ 0`, `g(1) ≥ 0`), and of
    /// calendar arbitrage because `∂ₜw = w₁/t₁ > 0`.
    #[default]
    FlatVol,
    /// No answer (NaN; `try_vol` errs) before the first expiry.
    Refuse,
}

/// The surface after its last expiry `tₙ`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AfterLast {
    /// Constant forward variance `σ∞²` added at every `k`: `w(k, t) = w̃ₙ(k) + σ∞²(t − tₙ)`,
    /// with `σ∞ = vol`, or by default the ATM forward vol of the last interval (`θ̃ₙ/tₙ` for a
    /// single expiry), at least [`Extrapolation::min_forward_vol`]. Calendar-free
    /// (`∂ₜw = σ∞² > 0`), Lee's bound unchanged (the wing slopes are the last smile's), local
    /// vol `σ∞/√g`; butterfly-free where `g` stays positive as `w` grows, which the surface
    /// scan ([`super::arbitrage::plane_scan`]) checks.
    ForwardVariance {
        /// `σ∞`; `None` for the last interval's ATM forward vol.
        vol: Option<f64>,
    },
    /// No answer (NaN; `try_vol` errs) after the last expiry.
    Refuse,
}

impl Default for AfterLast {
    fn default() -> Self {
        AfterLast::ForwardVariance { vol: None }
    }
}

impl Extrapolation {
    /// Checks the policy's numbers.
    ///
    /// # Errors
    /// What is out of its domain.
    pub fn check(&self) -> Result<(), String> {
        let v = self.min_forward_vol;
        if !(v > 0.0 && v.is_finite() && v <= 10.0) {
            return Err(format!("min_forward_vol must be in (0, 10], got {v}"));
        }
        if let AfterLast::ForwardVariance { vol: Some(x) } = self.after_last
            && !(x > 0.0 && x.is_finite() && x <= 10.0)
        {
            return Err(format!("after_last vol must be in (0, 10], got {x}"));
        }
        Ok(())
    }
}

/// Why a surface cannot be built, saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurfaceError {
    /// No expiry could be fitted.
    #[error("no expiry could be fitted: {0}")]
    Empty(String),
    /// A slice is invalid.
    #[error("slice {index} (t = {t}): {reason}")]
    BadSlice {
        /// Position in the file.
        index: usize,
        /// Its time.
        t: f64,
        /// What is wrong.
        reason: String,
    },
    /// Wrong file format or version.
    #[error("not a volfit surface file: {0}")]
    Format(String),
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// [`FittedSurface::save`] refused to write a surface that would not load back (a value
    /// out of its domain that serialises as `null`, say): nothing is written.
    #[error("{}: not written: the surface would not load back ({reason})", path.display())]
    Unloadable {
        /// The file that was not written.
        path: PathBuf,
        /// The loader's complaint.
        reason: String,
    },
    /// The file is not valid surface JSON (the message names the line and column).
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
}

/// The shortest expiry a surface slice may have, in years (about 32 ms): below it a
/// slice's total variance is too small for its vols to be computed in double precision (a
/// `surface.json` edited to `t = 1e-320` used to load and answer NaN).
pub const MIN_SLICE_T: f64 = 1e-9;

impl FittedSurface {
    /// A surface from its slices (sorted here by `t`).
    ///
    /// # Errors
    /// [`SurfaceError`] if there are no slices, two share a time, a time is below
    /// [`MIN_SLICE_T`], or a time, forward,
    /// discount, quoted range or a model's own data (SABR's wings) is out of its domain (the
    /// models' parameters are valid by construction: their constructors and deserialisation
    /// check them).
    pub fn new(
        underlying: String,
        as_of: Option<DateTime<Utc>>,
        spot: Option<f64>,
        slices: Vec<SurfaceSlice>,
    ) -> Result<Self, SurfaceError> {
        let mut out = Self::unserved(underlying, as_of, spot, slices)?;
        out.serve();
        Ok(out)
    }

    /// The checked surface before its served smiles are derived.
    fn unserved(
        underlying: String,
        as_of: Option<DateTime<Utc>>,
        spot: Option<f64>,
        mut slices: Vec<SurfaceSlice>,
    ) -> Result<Self, SurfaceError> {
        if slices.is_empty() {
            return Err(SurfaceError::Empty("no slices".into()));
        }
        slices.sort_by(|a, b| a.t.total_cmp(&b.t));
        for (index, s) in slices.iter().enumerate() {
            let bad = |reason: &str| SurfaceError::BadSlice {
                index,
                t: s.t,
                reason: reason.into(),
            };
            if !(s.t >= MIN_SLICE_T && s.t.is_finite()) {
                return Err(bad("time must be finite and at least 1e-9 years (32 ms)"));
            }
            if !(s.forward > 0.0 && s.forward.is_finite()) {
                return Err(bad("forward must be finite and > 0"));
            }
            if !(s.discount > 0.0 && s.discount.is_finite()) {
                return Err(bad("discount must be finite and > 0"));
            }
            // The model's own data (SABR's wings): what deserialisation checks, so a surface
            // that exists can always be saved and loaded back.
            s.model.smile().check().map_err(bad)?;
            if let SliceModel::Sabr(w) = &s.model {
                let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
                if !(same(w.sabr.forward(), s.forward) && same(w.sabr.t(), s.t)) {
                    return Err(bad("the SABR smile's forward and t must be the slice's"));
                }
            }
            if index > 0 && s.t <= slices[index - 1].t {
                return Err(bad("two slices share a time"));
            }
            if s.quoted_k
                .is_some_and(|q| !(q[0] <= q[1] && q[0].is_finite() && q[1].is_finite()))
            {
                return Err(bad("quoted k range must be finite and ordered"));
            }
        }
        let spot = spot.filter(|s| *s > 0.0 && s.is_finite());
        let mut node_t = Vec::with_capacity(slices.len() + 1);
        let mut node_ln_f = Vec::with_capacity(slices.len() + 1);
        let mut node_ln_d = Vec::with_capacity(slices.len() + 1);
        if let Some(s) = spot {
            node_t.push(0.0);
            node_ln_f.push(s.ln());
            node_ln_d.push(0.0);
        }
        for s in &slices {
            node_t.push(s.t);
            node_ln_f.push(s.forward.ln());
            node_ln_d.push(s.discount.ln());
        }
        let models: Vec<Wing> = slices
            .iter()
            .map(|s| Wing {
                model: s.model,
                linear: None,
            })
            .collect();
        let out = FittedSurface {
            underlying,
            as_of,
            spot,
            slices,
            day_count: DayCount::default(),
            extrapolation: Extrapolation::default(),
            models,
            served: Vec::new(),
            after_rate: 0.0,
            price_between: Vec::new(),
            node_t,
            node_ln_f,
            node_ln_d,
        };
        Ok(out)
    }

    /// Derives the served smiles and the rate after the last expiry from the fits and the
    /// extrapolation policy.
    fn serve(&mut self) {
        let linear = self.extrapolation.wings == Wings::Linear;
        for (m, s) in self.models.iter_mut().zip(&self.slices) {
            m.linear = s.quoted_k.filter(|_| linear);
        }
        let ts: Vec<f64> = self.slices.iter().map(|s| s.t).collect();
        let sigma_min = self.extrapolation.min_forward_vol;
        self.served = if self.extrapolation.calendar_envelope {
            served(&self.models, &ts, sigma_min * sigma_min)
        } else {
            (0..ts.len()).map(Envelope::single).collect()
        };
        self.finish_serving(None);
    }

    /// The rate after the last expiry and the between-expiry rule of each interval, from the
    /// served smiles; with `reuse = (previous rules, served smile changed)`, the rules of the
    /// intervals between two unchanged served smiles are kept.
    fn finish_serving(&mut self, reuse: Option<(&[bool], &[bool])>) {
        let ts: Vec<f64> = self.slices.iter().map(|s| s.t).collect();
        let sigma_min = self.extrapolation.min_forward_vol;
        let n = ts.len();
        let theta = |i: usize| self.served[i].w(&self.models, 0.0);
        let atm_rate = if n == 1 {
            theta(0) / ts[0]
        } else {
            (theta(n - 1) - theta(n - 2)) / (ts[n - 1] - ts[n - 2])
        };
        self.after_rate = match self.extrapolation.after_last {
            AfterLast::ForwardVariance { vol: Some(v) } => v * v,
            _ => atm_rate.max(sigma_min * sigma_min),
        };
        self.price_between = match self.extrapolation.between {
            Between::Price => vec![true; n.saturating_sub(1)],
            Between::Variance => vec![false; n.saturating_sub(1)],
            Between::Auto => {
                let grid = self.plane_grid();
                (0..n.saturating_sub(1))
                    .map(|i| match reuse {
                        Some((old, changed))
                            if old.len() + 1 == n && !changed[i] && !changed[i + 1] =>
                        {
                            old[i]
                        }
                        _ => !self.variance_mix_free(i, &grid),
                    })
                    .collect()
            }
        };
    }

    /// The surface with its slices replaced by `slices` (same policy, day count, underlying
    /// and spot; `as_of` given): what [`FittedSurface::new`] and
    /// [`FittedSurface::with_extrapolation`] would build, derived incrementally when the
    /// expiries are the same and only some smiles, forwards or quoted ranges changed — the
    /// served smiles before the first change are kept, those after it are derived again until
    /// one comes out as before, and the between-expiry rule is decided again only on the
    /// intervals next to a changed served smile. The live tracker's publish path.
    ///
    /// # Errors
    /// As [`FittedSurface::new`].
    pub fn rebuilt(
        &self,
        as_of: Option<DateTime<Utc>>,
        spot: Option<f64>,
        slices: Vec<SurfaceSlice>,
    ) -> Result<FittedSurface, SurfaceError> {
        let same_times = slices.len() == self.slices.len()
            && slices.iter().zip(&self.slices).all(|(a, b)| a.t == b.t);
        if !same_times || self.extrapolation.wings == Wings::Linear {
            return FittedSurface::new(self.underlying.clone(), as_of, spot, slices)?
                .with_day_count(self.day_count)
                .with_extrapolation(self.extrapolation);
        }
        // Validate as `new` does, on a surface built without serving.
        let mut next = FittedSurface::unserved(self.underlying.clone(), as_of, spot, slices)?;
        next.day_count = self.day_count;
        next.extrapolation = self.extrapolation;
        let n = next.slices.len();
        let changed: Vec<bool> = (0..n).map(|i| next.slices[i] != self.slices[i]).collect();
        let Some(first) = changed.iter().position(|c| *c) else {
            let mut same = self.clone();
            same.as_of = as_of;
            if spot != self.spot {
                same = FittedSurface::unserved(self.underlying.clone(), as_of, spot, same.slices)?
                    .with_served_of(self);
            }
            return Ok(same);
        };
        let ts: Vec<f64> = next.slices.iter().map(|s| s.t).collect();
        let sigma_min = next.extrapolation.min_forward_vol;
        let mut served_changed = vec![false; n];
        if next.extrapolation.calendar_envelope {
            let mut env: Vec<Envelope> = self.served[..first].to_vec();
            for i in first..n {
                let e = if i == 0 {
                    Envelope::single(0)
                } else {
                    served_one(&next.models, &ts, sigma_min * sigma_min, &env[i - 1], i)
                };
                // Pieces are (from, model, shift): the same pieces over unchanged models are the
                // same smile.
                served_changed[i] =
                    changed[i] || e != self.served[i] || e.pieces.iter().any(|p| changed[p.model]);
                env.push(e);
                if i > first && !served_changed[i] && !changed[i + 1..].iter().any(|c| *c) {
                    env.extend_from_slice(&self.served[i + 1..]);
                    break;
                }
            }
            next.served = env;
        } else {
            next.served = (0..n).map(Envelope::single).collect();
            served_changed.clone_from(&changed);
        }
        // The between-expiry scan runs on a grid over every quoted range: kept only if those
        // are unchanged.
        let same_grid = next
            .slices
            .iter()
            .zip(&self.slices)
            .all(|(a, b)| a.quoted_k == b.quoted_k);
        next.finish_serving(same_grid.then_some((&self.price_between[..], &served_changed[..])));
        Ok(next)
    }

    /// This surface (built unserved) with `other`'s policy and served smiles (same slices).
    fn with_served_of(mut self, other: &FittedSurface) -> FittedSurface {
        self.day_count = other.day_count;
        self.extrapolation = other.extrapolation;
        self.models.clone_from(&other.models);
        self.served.clone_from(&other.served);
        self.after_rate = other.after_rate;
        self.price_between.clone_from(&other.price_between);
        self
    }

    /// Whether total variance linear in `t` between expiries `i` and `i + 1` keeps
    /// Durrleman's `g ≥ 0` at 11 interior times on `grid`'s `k` values.
    fn variance_mix_free(&self, i: usize, grid: &super::arbitrage::PlaneGrid) -> bool {
        let (m, e) = (&self.models, &self.served);
        grid.ks().all(|k| {
            let (a, a1, a2) = e[i].w_derivs(m, k);
            let (b, b1, b2) = e[i + 1].w_derivs(m, k);
            (1..12).all(|j| {
                let l = f64::from(j) / 12.0;
                let w = a + l * (b - a);
                let g = crate::models::arbitrage::durrleman(
                    k,
                    w,
                    a1 + l * (b1 - a1),
                    a2 + l * (b2 - a2),
                );
                // NaN (no smile there) is not a failure of the mixing rule.
                !(w > 0.0 && g < -1e-10)
            })
        })
    }

    /// The surface with another extrapolation policy (the fits are unchanged; the served
    /// smiles are derived again).
    ///
    /// # Errors
    /// [`SurfaceError::Format`] when the policy's numbers are out of their domain
    /// ([`Extrapolation::check`]).
    pub fn with_extrapolation(mut self, policy: Extrapolation) -> Result<Self, SurfaceError> {
        policy.check().map_err(SurfaceError::Format)?;
        if policy != self.extrapolation {
            self.extrapolation = policy;
            self.serve();
        }
        Ok(self)
    }

    /// The extrapolation policy.
    pub fn extrapolation(&self) -> Extrapolation {
        self.extrapolation
    }

    /// The forward vol `σ∞` after the last expiry ([`AfterLast::ForwardVariance`]); `None`
    /// when the policy refuses queries there.
    pub fn after_last_vol(&self) -> Option<f64> {
        (self.extrapolation.after_last != AfterLast::Refuse).then(|| self.after_rate.sqrt())
    }

    /// The `k` intervals where expiry `index` is served an earlier expiry's smile (raised)
    /// instead of its own fit, because its own would fall below it (empty when it is served
    /// as fitted; `None` for an index out of range).
    pub fn borrowed_k(&self, index: usize) -> Option<Vec<[f64; 2]>> {
        Some(self.served.get(index)?.borrowed(index))
    }

    /// The point masses of the risk-neutral density at time `t`: where the served smile
    /// switches from one expiry's fit to another's (the maximum of two call-price curves has
    /// a convex kink there, so the terminal distribution has an atom), as `(k, mass)` with
    /// `mass = φ(d₂)·(∂w/∂k⁺ − ∂w/∂k⁻)/(2√w)`, the drop of `P(F_T > K)` across `k`.
    /// [`VolSurface::density`] is the continuous part; with these it integrates to one.
    /// Empty outside the query domain.
    pub fn atoms(&self, t: f64) -> Vec<(f64, f64)> {
        if !(t > 0.0 && t.is_finite()) {
            return Vec::new();
        }
        let loc = self.locate(t);
        let idx: Vec<usize> = match loc {
            Loc::Before => vec![0],
            Loc::Between(i, _) => vec![i, i + 1],
            Loc::After => vec![self.slices.len() - 1],
        };
        let mut ks: Vec<f64> = idx
            .iter()
            .flat_map(|&i| self.served[i].pieces.iter().skip(1).map(|p| p.from))
            .filter(|k| k.is_finite())
            .collect();
        ks.sort_by(f64::total_cmp);
        ks.dedup();
        ks.into_iter()
            .filter_map(|k| {
                let right = self.derivs_at(k, t, loc);
                let left = self.derivs_at(k.next_down(), t, loc);
                let sw = right.w.sqrt();
                let d2 = -k / sw - 0.5 * sw;
                let phi = (-0.5 * d2 * d2).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let mass = phi * (right.w_k - left.w_k) / (2.0 * sw);
                (mass > 0.0 && mass.is_finite()).then_some((k, mass))
            })
            .collect()
    }

    /// The served total variance of expiry `index` at `k` (its fit, raised where the
    /// previous expiry's served smile is above it; [`super::envelope`]).
    pub fn served_w(&self, index: usize, k: f64) -> Option<f64> {
        Some(self.served.get(index)?.w(&self.models, k))
    }

    /// The underlying's name.
    pub fn underlying(&self) -> &str {
        &self.underlying
    }

    /// Snapshot time of the data.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// Spot or index level, when the chain gave one.
    pub fn spot(&self) -> Option<f64> {
        self.spot
    }

    /// The surface with another day count for date queries (the slices' `t` are unchanged:
    /// they are what the fits used; this says how they relate to dates).
    #[must_use]
    pub fn with_day_count(mut self, day_count: DayCount) -> Self {
        self.day_count = day_count;
        self
    }

    /// The day count that turns dates into the slices' year fractions (stored in
    /// `surface.json`; files written before it was stored load as ACT/365).
    pub fn day_count(&self) -> DayCount {
        self.day_count
    }

    /// The year fraction from the surface's `as_of` to `expiry` under its day count, the `t`
    /// to query at; `None` without an `as_of` or for an expiry not after it.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use volfit::models::svi::Svi;
    /// use volfit::slice::DayCount;
    /// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice, VolSurface};
    /// let as_of = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    /// let slice = SurfaceSlice {
    ///     expiry: None, t: 1.0, forward: 100.0, discount: 1.0,
    ///     model: SliceModel::Svi(Svi::new(0.04, 0.1, -0.3, 0.0, 0.2).unwrap()),
    ///     quoted_k: None,
    /// };
    /// let s = FittedSurface::new("X".into(), Some(as_of), None, vec![slice])
    ///     .unwrap()
    ///     .with_day_count(DayCount::Act36525);
    /// let expiry = Utc.with_ymd_and_hms(2027, 1, 1, 14, 0, 0).unwrap(); // 365.25 days later
    /// assert_eq!(s.year_fraction(expiry), Some(1.0));
    /// assert_eq!(s.vol_at(100.0, expiry), Some(s.vol(100.0, 1.0)));
    /// ```
    pub fn year_fraction(&self, expiry: DateTime<Utc>) -> Option<f64> {
        let t = self.day_count.year_fraction(self.as_of?, expiry);
        (t > 0.0).then_some(t)
    }

    /// Black vol at `strike` for an expiry date ([`FittedSurface::year_fraction`]); `None`
    /// where that has no `t` or the surface no vol.
    pub fn vol_at(&self, strike: f64, expiry: DateTime<Utc>) -> Option<f64> {
        self.try_vol(strike, self.year_fraction(expiry)?).ok()
    }

    /// The expiries.
    pub fn slices(&self) -> &[SurfaceSlice] {
        &self.slices
    }

    /// The dense `(k, t)` arbitrage scan of the surface ([`super::arbitrage::plane_scan`]) on
    /// its [`PlaneGrid`](super::arbitrage::PlaneGrid).
    pub fn plane_scan(&self) -> super::arbitrage::PlaneScan {
        let ts: Vec<f64> = self.slices.iter().map(|s| s.t).collect();
        super::arbitrage::plane_scan(self, &ts, self.plane_grid())
    }

    /// The surface's [`PlaneGrid`](super::arbitrage::PlaneGrid): twice the union of the quoted
    /// ranges in `k`, the scan's times.
    fn plane_grid(&self) -> super::arbitrage::PlaneGrid {
        let ts: Vec<f64> = self.slices.iter().map(|s| s.t).collect();
        let mut q = [f64::INFINITY, f64::NEG_INFINITY];
        for s in &self.slices {
            let r = s
                .quoted_k
                .unwrap_or_else(|| super::arbitrage::unquoted_domain(&s.model));
            q = [q[0].min(r[0]), q[1].max(r[1])];
        }
        super::arbitrage::PlaneGrid::new(&ts, q)
    }

    /// The static-arbitrage verdict of the surface ([`super::arbitrage`]): the fits'
    /// calendar gaps on their quoted domains (reported), the served smiles' butterfly
    /// verdicts and calendar gaps over the whole real line, and the dense plane scan — the
    /// one check the build, `volfit check`, `report.json` and the charts share.
    pub fn arbitrage_check(&self) -> ArbitrageReport {
        let butterfly = self.served_butterflies();
        let pairs: Vec<(f64, SliceModel, Option<[f64; 2]>)> = self
            .slices
            .iter()
            .map(|s| (s.t, s.model, s.quoted_k))
            .collect();
        let mut calendar = calendar_report(&pairs);
        calendar.calendar_free = self.served_calendar_free();
        calendar.served = self.served_ranges();
        let plane = self.plane_scan();
        ArbitrageReport {
            arbitrage_free: calendar.calendar_free
                && butterfly.iter().all(|b| b.free)
                && plane.is_clean(),
            butterfly,
            calendar,
            plane,
            domain: super::arbitrage::VERDICT_DOMAIN.to_string(),
        }
    }

    /// The butterfly verdict of each served smile: the minimum over its pieces of the
    /// piece's own verdict (the fit's, raised by the piece's shift where the model can
    /// express it); the maximum of butterfly-free call-price curves is butterfly-free.
    fn served_butterflies(&self) -> Vec<ButterflyStatus> {
        let own = butterflies(self.slices.iter().map(|s| (s.t, &s.model)));
        self.served
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut st = own[i].clone();
                for p in &e.pieces {
                    let m = &self.models[p.model];
                    let v = if p.shift > 0.0 {
                        m.model
                            .smile()
                            .lifted(p.shift)
                            .map_or_else(|| m.model.smile().butterfly(), |l| l.smile().butterfly())
                    } else if p.model == i {
                        continue;
                    } else {
                        m.model.smile().butterfly()
                    };
                    st.min_g = st.min_g.min(v.min_g);
                    st.free &= v.free;
                }
                // Linear wings: Durrleman's g on each piece's wing beyond its quoted range
                // (w'' = 0 there; g tends to 1 − s²/16 > 0, so 20 units of k decide it).
                for p in &e.pieces {
                    let m = &self.models[p.model];
                    let Some([lo, hi]) = m.linear else { continue };
                    for j in 0..=400 {
                        let d = 20.0 * f64::from(j) / 400.0;
                        for k in [lo - d, hi + d] {
                            let (w, w1, w2) = m.w_derivs(k);
                            let g = crate::models::arbitrage::durrleman(k, w + p.shift, w1, w2);
                            if g < st.min_g {
                                st.min_g = g;
                            }
                            st.free &= g >= 0.0;
                        }
                    }
                }
                st
            })
            .collect()
    }

    /// Whether each served smile lies above its predecessor over the whole real line (the
    /// one calendar method).
    fn served_calendar_free(&self) -> bool {
        (1..self.served.len()).all(|i| {
            let (a, b) = (&self.served[i - 1], &self.served[i]);
            let ((c1, s1), (c2, s2)) = (
                self.models[i - 1].model.smile().feature_scale(),
                self.models[i].model.smile().feature_scale(),
            );
            !crate::models::arbitrage::calendar_gap(
                |k| a.w(&self.models, k),
                |k| b.w(&self.models, k),
                crate::models::arbitrage::CheckDomain::RealLine,
                (0.5 * (c1 + c2), s1.min(s2)),
            )
            .violated()
        })
    }

    /// Where expiries are served an earlier expiry's smile.
    fn served_ranges(&self) -> Vec<ServedRange> {
        let finite = |x: f64| x.is_finite().then_some(x);
        (0..self.served.len())
            .flat_map(|i| {
                self.served[i]
                    .borrowed(i)
                    .into_iter()
                    .map(move |r| ServedRange {
                        t: self.slices[i].t,
                        k_from: finite(r[0]),
                        k_to: finite(r[1]),
                    })
            })
            .collect()
    }
}

/// Where `t` falls: `Before` the first expiry, `Between(i, λ)` expiries `i` and `i + 1`, or
/// `After` the last.
#[derive(Clone, Copy)]
enum Loc {
    Before,
    Between(usize, f64),
    After,
}

impl FittedSurface {
    #[inline]
    fn locate(&self, t: f64) -> Loc {
        let s = &self.slices;
        let n = s.len();
        if t < s[0].t {
            return Loc::Before;
        }
        if t >= s[n - 1].t {
            return Loc::After;
        }
        // Last slice with t_i <= t (n is small; binary search over the sorted times).
        let i = s.partition_point(|x| x.t <= t) - 1;
        Loc::Between(i, (t - s[i].t) / (s[i + 1].t - s[i].t))
    }

    /// Log-linear interpolation of node values `ys` at `t` (linear extrapolation of the log
    /// beyond the last node, flat before the first when it is not `t = 0`).
    #[inline]
    fn log_interp(&self, ys: &[f64], t: f64) -> f64 {
        let ts = &self.node_t;
        let n = ts.len();
        if n == 1 || t <= ts[0] {
            return ys[0].exp();
        }
        let i = (ts.partition_point(|x| *x <= t)).clamp(1, n - 1) - 1;
        let l = (t - ts[i]) / (ts[i + 1] - ts[i]);
        (ys[i] + l * (ys[i + 1] - ys[i])).exp()
    }

    /// `ln F(t)` given the location of `t` among the expiries (no second search).
    #[inline]
    fn ln_forward_at(&self, t: f64, loc: Loc) -> f64 {
        let o = usize::from(self.spot.is_some());
        let y = &self.node_ln_f;
        let nodes = |j: usize, l: f64| y[j] + l * (y[j + 1] - y[j]);
        match loc {
            Loc::Between(i, l) => nodes(i + o, l),
            Loc::Before => {
                if o == 1 {
                    nodes(0, t / self.node_t[1])
                } else {
                    y[0]
                }
            }
            Loc::After => {
                let n = y.len();
                if n == 1 {
                    y[0]
                } else {
                    let (ta, tb) = (self.node_t[n - 2], self.node_t[n - 1]);
                    nodes(n - 2, (t - ta) / (tb - ta))
                }
            }
        }
    }

    /// `w` with its `k`- and `t`-derivatives, given the location.
    #[inline]
    fn derivs_at(&self, k: f64, t: f64, loc: Loc) -> VarianceDerivatives {
        let s = &self.slices;
        let (m, e) = (&self.models, &self.served);
        match loc {
            Loc::Before => {
                if t < s[0].t && self.extrapolation.before_first == BeforeFirst::Refuse {
                    return VarianceDerivatives::NAN;
                }
                let (w, w1, w2) = e[0].w_derivs(m, k);
                let r = t / s[0].t;
                VarianceDerivatives {
                    w: w * r,
                    w_k: w1 * r,
                    w_kk: w2 * r,
                    w_t: w / s[0].t,
                }
            }
            Loc::Between(i, l) => {
                let (a, a1, a2) = e[i].w_derivs(m, k);
                let (b, b1, b2) = e[i + 1].w_derivs(m, k);
                if self.price_between[i]
                    && let Some(d) =
                        interp::mix(k, (a, a1, a2), (b, b1, b2), l, s[i + 1].t - s[i].t)
                {
                    return d;
                }
                VarianceDerivatives {
                    w: a + l * (b - a),
                    w_k: a1 + l * (b1 - a1),
                    w_kk: a2 + l * (b2 - a2),
                    w_t: (b - a) / (s[i + 1].t - s[i].t),
                }
            }
            Loc::After => {
                let n = s.len();
                if t > s[n - 1].t && self.extrapolation.after_last == AfterLast::Refuse {
                    return VarianceDerivatives::NAN;
                }
                let (w, w1, w2) = e[n - 1].w_derivs(m, k);
                VarianceDerivatives {
                    w: w + (t - s[n - 1].t) * self.after_rate,
                    w_k: w1,
                    w_kk: w2,
                    w_t: self.after_rate,
                }
            }
        }
    }

    /// `w(k, t)` alone (the fast path of [`VolSurface::total_variance`]).
    #[inline]
    fn w_at(&self, k: f64, t: f64, loc: Loc) -> f64 {
        let (m, e) = (&self.models, &self.served);
        match loc {
            Loc::Between(i, l) => {
                let (a, b) = (e[i].w(m, k), e[i + 1].w(m, k));
                if self.price_between[i]
                    && let Some(w) = interp::mix_w(k, a, b, l)
                {
                    return w;
                }
                a + l * (b - a)
            }
            Loc::Before | Loc::After => self.derivs_at(k, t, loc).w,
        }
    }
}

impl VolSurface for FittedSurface {
    #[inline]
    fn forward_impl(&self, t: f64) -> f64 {
        self.log_interp(&self.node_ln_f, t)
    }

    fn discount_impl(&self, t: f64) -> Option<f64> {
        if self.spot.is_none() {
            // Without a t = 0 node, anchor the discount curve at D(0) = 1.
            let ts = &self.node_t;
            if t <= ts[0] {
                return Some((self.node_ln_d[0] * t / ts[0]).exp());
            }
        }
        Some(self.log_interp(&self.node_ln_d, t))
    }

    fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
        self.derivs_at(k, t, self.locate(t))
    }

    #[inline]
    fn total_variance_impl(&self, k: f64, t: f64) -> f64 {
        self.w_at(k, t, self.locate(t))
    }

    #[inline]
    fn vol_impl(&self, strike: f64, t: f64) -> f64 {
        let loc = self.locate(t);
        let k = strike.ln() - self.ln_forward_at(t, loc);
        let w_over_t = match loc {
            // Flat vol before the first expiry: w₁(k)/t₁, without forming w₁·t/t₁ (which
            // underflows for tiny t).
            Loc::Before if self.extrapolation.before_first == BeforeFirst::FlatVol => {
                self.served[0].w(&self.models, k) / self.slices[0].t
            }
            _ => self.w_at(k, t, loc) / t,
        };
        if w_over_t >= 0.0 {
            w_over_t.sqrt()
        } else {
            f64::NAN
        }
    }
}
