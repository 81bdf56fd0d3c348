//! [`SurfaceDiff`]: what moved between two surfaces (`volfit diff A.json B.json`) — the vols
//! on a grid of constant-maturity tenors × deltas, and per expiry the two have in common the
//! vols at the same deltas and the moves of the fitted model's parameters; the expiries only
//! in A (expired) and only in B (new).
//!
//! **Vols** are read off each surface at its own `t` ([`super::metrics::metrics_at`]: the
//! served total variance and the forward at `t`, deltas `Φ(d₁)` of the forward Black delta,
//! not premium-adjusted, ATM = the forward). At a tenor of `d` calendar days each surface is
//! read at `t = d/365` (or `/365.25`, its own day count); at a common expiry each is read at
//! its own `t` to that expiry (B's is shorter when B was taken later), so the change is the
//! change of the same option's vol. **Decimals** throughout (0.01 is one vol point); changes
//! are `B − A`.
//!
//! **Matching expiries.** Two slices are the same expiry when both carry an expiry date
//! ([`SurfaceSlice::expiry`](super::SurfaceSlice::expiry)) and the dates are equal; when
//! either has no date, when their times agree within [`T_MATCH`] years once A's `t` is moved
//! by the time from A's `as_of` to B's (when both surfaces have one).
//!
//! **Parameter moves** are the numbers of each model's `params` (the `params` of
//! `report.json`, nested objects as dotted names: a spline's `base.a`) present in both, when
//! both expiries were fitted by the same model. Array entries (a spline's B-spline
//! coefficients) are not compared: they sit on knots placed on each snapshot's own quoted
//! range, so the same index is not the same strike; the pillar vols say how that smile moved.

use super::metrics::{Pillar, TenorMetrics, metrics_at, tenor_years};
use super::{FittedSurface, SurfaceSlice};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The constant-maturity tenors of [`SurfaceDiff::between`], in calendar days (those of
/// `volfit track`'s `timeseries.csv`).
pub const DIFF_TENORS_DAYS: [f64; 4] = [7.0, 30.0, 90.0, 180.0];

/// Years within which two undated slices' times (A's moved to B's `as_of`) are the same
/// expiry (about 5 minutes).
pub const T_MATCH: f64 = 1e-5;

/// What a diff says about each of its surfaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceInfo {
    /// Underlying.
    pub underlying: String,
    /// Snapshot time.
    pub as_of: Option<DateTime<Utc>>,
    /// Number of expiries.
    pub expiries: usize,
    /// The models of its expiries (`svi`, `spline`, `sabr`; several joined by `+`).
    pub model: String,
}

impl SurfaceInfo {
    fn of(s: &FittedSurface) -> SurfaceInfo {
        let mut names: Vec<&str> = Vec::new();
        for x in s.slices() {
            let n = x.model.smile().name();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        SurfaceInfo {
            underlying: s.underlying().to_string(),
            as_of: s.as_of(),
            expiries: s.slices().len(),
            model: names.join("+"),
        }
    }
}

/// The vol at one delta pillar in A and in B and its change `B − A` (decimals); `None` where
/// that surface has no strike of the delta (or no answer at that `t`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PillarDiff {
    /// The pillar.
    pub pillar: Pillar,
    /// Vol in A.
    pub a: Option<f64>,
    /// Vol in B.
    pub b: Option<f64>,
    /// `b − a`.
    pub change: Option<f64>,
}

/// The pillars of two metrics (either may be missing).
fn pillars(a: Option<&TenorMetrics>, b: Option<&TenorMetrics>) -> Vec<PillarDiff> {
    Pillar::ALL
        .iter()
        .map(|&pillar| {
            let va = a.and_then(|m| m.vol(pillar));
            let vb = b.and_then(|m| m.vol(pillar));
            PillarDiff {
                pillar,
                a: va,
                b: vb,
                change: va.zip(vb).map(|(x, y)| y - x),
            }
        })
        .collect()
}

/// One constant-maturity tenor of a diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenorDiff {
    /// Tenor in calendar days.
    pub days: f64,
    /// Its `t` in A's day count.
    pub t_a: f64,
    /// Its `t` in B's day count.
    pub t_b: f64,
    /// Why A has no vols at this tenor (e.g. its policy refuses to extrapolate), else `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_a: Option<String>,
    /// Why B has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_b: Option<String>,
    /// The vols at [`Pillar::ALL`], low strikes to high.
    pub pillars: Vec<PillarDiff>,
}

/// One parameter of an expiry's model in A and in B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamMove {
    /// Its name in `params` (nested objects dotted: `base.rho`).
    pub name: String,
    /// In A.
    pub a: f64,
    /// In B.
    pub b: f64,
    /// `b − a`.
    pub change: f64,
}

/// An expiry present in both surfaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryDiff {
    /// The expiry date (A's, or B's when A's slice has none).
    pub expiry: Option<DateTime<Utc>>,
    /// Its time to expiry in A.
    pub t_a: f64,
    /// In B.
    pub t_b: f64,
    /// A's model of it.
    pub model_a: String,
    /// B's.
    pub model_b: String,
    /// A's forward.
    pub forward_a: f64,
    /// B's.
    pub forward_b: f64,
    /// ATM vol in A (at A's forward and `t_a`; `None` where A has no answer).
    pub atm_a: Option<f64>,
    /// ATM vol in B.
    pub atm_b: Option<f64>,
    /// `atm_b − atm_a`.
    pub atm_change: Option<f64>,
    /// The vols at [`Pillar::ALL`], each surface at its own `t`.
    pub pillars: Vec<PillarDiff>,
    /// The parameter moves (empty when the two models differ).
    pub params: Vec<ParamMove>,
}

/// An expiry present in one surface only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryInfo {
    /// Its date, when known.
    pub expiry: Option<DateTime<Utc>>,
    /// Its time to expiry in the surface that has it.
    pub t: f64,
    /// Its model.
    pub model: String,
    /// Its ATM vol (`None` where the surface has no answer).
    pub atm: Option<f64>,
}

/// What moved between surface A and surface B (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceDiff {
    /// Surface A (the earlier, usually).
    pub a: SurfaceInfo,
    /// Surface B.
    pub b: SurfaceInfo,
    /// Vols at the constant-maturity tenors.
    pub tenors: Vec<TenorDiff>,
    /// Expiries in both, in A's order (by time).
    pub expiries: Vec<ExpiryDiff>,
    /// Expiries only in A (expired, or delisted).
    pub expired: Vec<ExpiryInfo>,
    /// Expiries only in B (newly listed).
    pub new: Vec<ExpiryInfo>,
}

impl SurfaceDiff {
    /// The diff of `a` and `b` at the tenors of [`DIFF_TENORS_DAYS`].
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// use volfit::surface::diff::SurfaceDiff;
    /// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice};
    /// let surface = |a: f64| {
    ///     let slice = |t: f64| SurfaceSlice {
    ///         expiry: None, t, forward: 100.0, discount: 1.0,
    ///         model: SliceModel::Svi(Svi::new(a * t, 0.0, 0.0, 0.0, 0.1).unwrap()),
    ///         quoted_k: None,
    ///     };
    ///     FittedSurface::new("X".into(), None, None, vec![slice(0.1), slice(0.5)]).unwrap()
    /// };
    /// // Flat 20% then flat 21%: every vol moves by one point, and so does `a` (per year).
    /// let d = SurfaceDiff::between(&surface(0.04), &surface(0.0441));
    /// assert_eq!(d.expiries.len(), 2);
    /// assert!(d.tenors.iter().flat_map(|t| &t.pillars)
    ///     .all(|p| (p.change.unwrap() - 0.01).abs() < 1e-12));
    /// assert_eq!(d.expiries[1].params[0].name, "a");
    /// assert!((d.expiries[1].params[0].change - 0.00205).abs() < 1e-15);
    /// ```
    pub fn between(a: &FittedSurface, b: &FittedSurface) -> SurfaceDiff {
        Self::between_at(a, b, &DIFF_TENORS_DAYS)
    }

    /// The diff of `a` and `b` at the given tenors in calendar days.
    pub fn between_at(a: &FittedSurface, b: &FittedSurface, tenors_days: &[f64]) -> SurfaceDiff {
        let tenors = tenors_days
            .iter()
            .map(|&days| {
                let (t_a, t_b) = (
                    tenor_years(a.day_count(), days),
                    tenor_years(b.day_count(), days),
                );
                let (ma, mb) = (metrics_at(a, t_a), metrics_at(b, t_b));
                TenorDiff {
                    days,
                    t_a,
                    t_b,
                    error_a: ma.as_ref().err().map(ToString::to_string),
                    error_b: mb.as_ref().err().map(ToString::to_string),
                    pillars: pillars(ma.as_ref().ok(), mb.as_ref().ok()),
                }
            })
            .collect();
        let shift = shift_years(a, b.as_of());
        let mut used = vec![false; b.slices().len()];
        let mut expiries = Vec::new();
        let mut expired = Vec::new();
        for sa in a.slices() {
            let found = b
                .slices()
                .iter()
                .enumerate()
                .position(|(j, sb)| !used[j] && same_expiry(sa, sb, shift));
            let Some(j) = found else {
                expired.push(info(a, sa));
                continue;
            };
            used[j] = true;
            expiries.push(expiry_diff(a, sa, b, &b.slices()[j]));
        }
        let new = b
            .slices()
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(sb, _)| info(b, sb))
            .collect();
        SurfaceDiff {
            a: SurfaceInfo::of(a),
            b: SurfaceInfo::of(b),
            tenors,
            expiries,
            expired,
            new,
        }
    }
}

/// Years from `surface`'s `as_of` to `other` (0 when either is unknown): what to add to a time
/// to expiry seen from `other` to get it seen from `surface`.
pub(super) fn shift_years(surface: &FittedSurface, other: Option<DateTime<Utc>>) -> f64 {
    match (surface.as_of(), other) {
        (Some(from), Some(to)) => surface.day_count().year_fraction(from, to),
        _ => 0.0,
    }
}

/// Whether `x` (of the surface seen from the earlier `as_of`) and `y` (seen `shift` years
/// later) are the same expiry: equal dates when both have one, else times within [`T_MATCH`].
pub(super) fn same_expiry(x: &SurfaceSlice, y: &SurfaceSlice, shift: f64) -> bool {
    same_expiry_at(x, y.expiry, y.t, shift)
}

/// [`same_expiry`] against an expiry date and time rather than a slice.
pub(super) fn same_expiry_at(
    x: &SurfaceSlice,
    expiry: Option<DateTime<Utc>>,
    t: f64,
    shift: f64,
) -> bool {
    match (x.expiry, expiry) {
        (Some(a), Some(b)) => a == b,
        _ => (x.t - (t + shift)).abs() <= T_MATCH,
    }
}

fn info(s: &FittedSurface, x: &SurfaceSlice) -> ExpiryInfo {
    ExpiryInfo {
        expiry: x.expiry,
        t: x.t,
        model: x.model.smile().name().to_string(),
        atm: metrics_at(s, x.t).ok().map(|m| m.atm_vol),
    }
}

fn expiry_diff(
    a: &FittedSurface,
    sa: &SurfaceSlice,
    b: &FittedSurface,
    sb: &SurfaceSlice,
) -> ExpiryDiff {
    let (ma, mb) = (metrics_at(a, sa.t).ok(), metrics_at(b, sb.t).ok());
    let (name_a, name_b) = (sa.model.smile().name(), sb.model.smile().name());
    let params = if name_a == name_b {
        let pa = flat_params(&sa.model.smile().params_json());
        let pb = flat_params(&sb.model.smile().params_json());
        pa.into_iter()
            .filter_map(|(name, x)| {
                let y = pb.iter().find(|(n, _)| *n == name)?.1;
                Some(ParamMove {
                    name,
                    a: x,
                    b: y,
                    change: y - x,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let (atm_a, atm_b) = (ma.map(|m| m.atm_vol), mb.map(|m| m.atm_vol));
    ExpiryDiff {
        expiry: sa.expiry.or(sb.expiry),
        t_a: sa.t,
        t_b: sb.t,
        model_a: name_a.to_string(),
        model_b: name_b.to_string(),
        forward_a: sa.forward,
        forward_b: sb.forward,
        atm_a,
        atm_b,
        atm_change: atm_a.zip(atm_b).map(|(x, y)| y - x),
        pillars: pillars(ma.as_ref(), mb.as_ref()),
        params,
    }
}

/// The finite numbers of a `params` object by dotted name (arrays and strings left out).
fn flat_params(v: &serde_json::Value) -> Vec<(String, f64)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
        match v {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_f64().filter(|x| x.is_finite()) {
                    out.push((prefix.to_string(), x));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, x) in map {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}
