//! Scenarios and stress: a spot × vol P&L grid by full revaluation, shocked surfaces that are
//! themselves surfaces, named scenarios (shock + time roll) with an arbitrage verdict, and
//! historical stresses replayed from a snapshot series.
//!
//! **Grid.** [`PnlGrid`] is the book's P&L on the [`Bumped`] surfaces of every relative spot
//! shift `s` (forwards × `1 + s`) and absolute vol shift `ε` (every implied vol `+ ε`) of a
//! [`GridSpec`], under the chosen [`Dynamics`]: full Black-76 revaluation of every
//! [`Position`] minus the base value. A cell where a position has no price (a vol shift that
//! makes a vol `≤ 0`, a spot shift `≤ −100%`) is an error naming the cell and the position —
//! never NaN.
//!
//! **Shocks** ([`Shock`], applied by [`Shocked`]). After the spot move `λ = 1 + spot` under the
//! dynamics (as [`Bumped`]: the base vol at the same strike for sticky strike, at the same
//! `k = ln(K/F)` against the moved forward for sticky moneyness and delta), the implied vol at
//! log-moneyness `k` (against the *moved* forward) and time `t` (years) changes by
//!
//! `Δσ(k, t) = vol + tilt · tanh(k/√t) + twist · ln(t/t_pivot) + replay(k, t)`.
//!
//! * *Parallel*: `vol` vol points (0.01 = +1 point) everywhere.
//! * *Skew tilt*: proportional to the standardised moneyness `z = k/√t` near the money, the
//!   coordinate in which smiles of different maturities look alike (the skew of a diffusive or
//!   stochastic-vol smile scales as `1/√t` at short and medium maturities: Bergomi, *Stochastic
//!   Volatility Modeling*, 2016, ch. 8 and Gatheral, *The Volatility Surface*, 2006, ch. 7), so
//!   one `tilt` moves the 25Δ risk reversal of every expiry by about the same amount. It is
//!   saturated by `tanh` so that the change is bounded by `|tilt|` in the far wings: a linear
//!   tilt drives the vol negative somewhere on every expiry, and the shocked surface would not be a
//!   surface. (A tilt in *delta* was rejected: it depends on the base vol, coupling the shock
//!   to the surface it shocks, and its derivatives need the base's.) `tilt < 0` raises puts
//!   (`k < 0`) and lowers calls: the 25Δ risk reversal falls by about `0.6·|tilt|` on a 50%-vol
//!   surface (`z ≈ ±0.3`).
//! * *Term-structure twist*: linear in `ln t` around the pivot `t_pivot` (default 30 days):
//!   `twist > 0` lowers the short end and raises the back end. Unbounded as `t → 0`: a positive
//!   twist makes very short vols negative, which the arbitrage scan reports.
//! * *Replay* ([`Replay`]): the observed change between two surfaces at fixed `k` and remaining
//!   time, `σ_to(k, t) − σ_from(k, t)`. Under a floating dynamics, replay on `from` with `from`'s
//!   spot move to `to` reproduces `to`'s vols at every `(k, t)` (to rounding).
//!
//! The total variance of the shocked surface is `w = (σ_base + Δσ)²t`, its `∂w/∂k`, `∂²w/∂k²`,
//! `∂w/∂t` are exact (chain rule through `σ = √(w/t)`), so Dupire local vol, densities and the
//! arbitrage scan of the shocked surface work. Where `σ_base + Δσ ≤ 0` the surface has no vol
//! (NaN derivatives, [`VolSurface::try_price`] errs).
//!
//! **Time roll.** `roll_days` moves the clock forward: positions keep their expiry dates, so a
//! position of time to expiry `t` is valued at `τ = t − roll_days/365.25` with the forward of
//! its expiry and its log-moneyness held and the shocked surface read at `(k, τ)` — the
//! convention of theta in [`crate::risk::greeks`] ([`price_rolled`]). A position that expires
//! during the roll is worth its intrinsic value at the shocked forward of its expiry.
//!
//! **Arbitrage.** Every named scenario's shocked surface is scanned with
//! [`crate::surface::arbitrage::plane_scan`]; the result says whether it is arbitrage-free and
//! how many plane points fail, beside the base surface's own count: a shock that creates
//! arbitrage is reported, not hidden.
//!
//! **Historical stresses** ([`historical_stresses`]): calibrate every snapshot of a series,
//! find the largest moves between snapshots (consecutive, and about 24 h apart) in spot, 30-day
//! ATM vol and 30-day 25Δ risk reversal, and turn each into a replay scenario and a parametric
//! summary.

use crate::OptionKind;
use crate::black::special::inverse_norm_cdf;
use crate::quotes::{Format, read_chain_for};
use crate::risk::greeks::{Bumped, Dynamics, Position, price_rolled};
use crate::surface::arbitrage::{PlaneGrid, PlaneScan, plane_scan};
use crate::surface::metrics::metrics_at_tenor;
use crate::surface::{
    FittedSurface, SurfaceModel, SurfaceOptions, VarianceDerivatives, VolSurface, calibrate_surface,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Calendar days per year of a time roll (the per-day theta convention of
/// [`crate::risk::greeks`]).
pub const DAYS_PER_YEAR: f64 = 365.25;

/// Default twist pivot: 30 calendar days, in years.
pub const DEFAULT_PIVOT_DAYS: f64 = 30.0;

/// What went wrong building or running scenarios.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A scenario specification (inline or file) is malformed.
    #[error("{source_name}: {field}: {message}")]
    Spec {
        /// `inline` or the file's path (with the line where known).
        source_name: String,
        /// The field at fault, e.g. `grid.spot` or `scenario[2].roll_days`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A position has no price in a scenario.
    #[error("scenario {scenario}: position {position} ({kind:?} K = {strike}, t = {t}): {reason}")]
    NoPrice {
        /// The scenario (`base`, `grid spot=… vol=…` or a named scenario).
        scenario: String,
        /// Index of the position in the book (0-based).
        position: usize,
        /// Its kind.
        kind: OptionKind,
        /// Its strike.
        strike: f64,
        /// Its time to expiry (years, before any roll).
        t: f64,
        /// Why there is no price.
        reason: String,
    },
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        message: String,
    },
    /// A snapshot series gives no stress.
    #[error("{dir}: {message}")]
    Series {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        message: String,
    },
}

/// Relative spot shifts (`-0.1` = spot −10%) × absolute vol shifts (`0.01` = +1 vol point).
#[allow(clippy::struct_field_names)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSpec {
    /// Relative spot shifts, each `> −1`.
    pub spot_shifts: Vec<f64>,
    /// Absolute vol shifts (decimals).
    pub vol_shifts: Vec<f64>,
}

impl Default for GridSpec {
    /// A desk grid: spot −30% … +30% by 5% (13), vol −10 … +10 points by 2 (11).
    fn default() -> Self {
        GridSpec {
            spot_shifts: steps(-0.3, 0.3, 0.05),
            vol_shifts: steps(-0.1, 0.1, 0.02),
        }
    }
}

/// `lo, lo + step, …` up to `hi` (inclusive to rounding), each rounded to 12 decimals so that
/// `0` is exactly `0`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn steps(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step + 1e-9).floor() as usize;
    (0..=n)
        .map(|i| ((lo + step * i as f64) * 1e12).round() / 1e12)
        .collect()
}

/// The book's P&L on a spot × vol grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PnlGrid {
    /// Relative spot shifts (rows).
    pub spot_shifts: Vec<f64>,
    /// Absolute vol shifts (columns).
    pub vol_shifts: Vec<f64>,
    /// `pnl[i][j]`: value at spot shift `i`, vol shift `j`, minus `base_value`; `None` (`null`
    /// in JSON) where some position has no price on that cell's surface — e.g. a vol shift
    /// that takes a low wing vol to ≤ 0 — with the reason in [`PnlGrid::no_price`].
    pub pnl: Vec<Vec<Option<f64>>>,
    /// The book's value on the base surface.
    pub base_value: f64,
    /// The cells without a P&L and why (the first position without a price there).
    pub no_price: Vec<NoPriceCell>,
}

/// A cell of the P&L grid where the book has no value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoPriceCell {
    /// Its relative spot shift.
    pub spot_shift: f64,
    /// Its absolute vol shift.
    pub vol_shift: f64,
    /// Why: the position and the surface's answer.
    pub reason: String,
}

/// A grid and named scenarios.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSpec {
    /// The spot × vol grid.
    pub grid: GridSpec,
    /// Named scenarios.
    pub scenarios: Vec<Scenario>,
}

/// The observed change of implied vol between two surfaces at fixed log-moneyness and remaining
/// time: `Δσ(k, t) = σ_to(k, t) − σ_from(k, t)`.
#[derive(Clone)]
pub struct Replay {
    /// The earlier surface.
    pub from: Arc<FittedSurface>,
    /// The later surface.
    pub to: Arc<FittedSurface>,
    /// A label, e.g. the two snapshot times.
    pub label: String,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Serialize for Replay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label)
    }
}

/// A shock of the surface (definitions in the [module docs](self)).
#[derive(Debug, Clone, Serialize)]
pub struct Shock {
    /// Relative spot move (`-0.1` = −10%), `> −1`.
    pub spot: f64,
    /// Parallel vol shift (decimal).
    pub vol: f64,
    /// Skew tilt: `Δσ = tilt · tanh(k/√t)`.
    pub tilt: f64,
    /// Term-structure twist: `Δσ = twist · ln(t/pivot)`.
    pub twist: f64,
    /// The twist's pivot (years, `> 0`).
    pub pivot: f64,
    /// An observed change of the surface, added to the parametric one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
}

impl Default for Shock {
    /// No shock (pivot 30 days).
    fn default() -> Self {
        Shock {
            spot: 0.0,
            vol: 0.0,
            tilt: 0.0,
            twist: 0.0,
            pivot: DEFAULT_PIVOT_DAYS / DAYS_PER_YEAR,
            replay: None,
        }
    }
}

impl Shock {
    /// Whether the vol part is identically zero (the shocked surface's variance is the base's,
    /// bit for bit).
    #[must_use]
    pub fn vol_is_zero(&self) -> bool {
        self.vol == 0.0 && self.tilt == 0.0 && self.twist == 0.0 && self.replay.is_none()
    }

    /// `Δσ` and its partials `(Δσ, ∂k, ∂kk, ∂t)` at `(k, t)`; `None` where the replay's
    /// surfaces have no vol.
    fn dsigma(&self, k: f64, t: f64) -> Option<[f64; 4]> {
        let rt = t.sqrt();
        let th = (k / rt).tanh();
        let sech2 = 1.0 - th * th;
        let mut a = [
            self.vol + self.tilt * th + self.twist * (t / self.pivot).ln(),
            self.tilt * sech2 / rt,
            -2.0 * self.tilt * th * sech2 / t,
            // ∂z/∂t = −z/(2t)
            -self.tilt * sech2 * k / (2.0 * t * rt) + self.twist / t,
        ];
        if let Some(r) = &self.replay {
            let to = vol_partials(&r.to.variance_derivatives(k, t), t)?;
            let from = vol_partials(&r.from.variance_derivatives(k, t), t)?;
            for ((x, t1), f1) in a.iter_mut().zip(to).zip(from) {
                *x += t1 - f1;
            }
        }
        Some(a)
    }
}

/// `(σ, σ_k, σ_kk, σ_t)` from `w` and its partials, `σ = √(w/t)`; `None` unless `w > 0`.
fn vol_partials(d: &VarianceDerivatives, t: f64) -> Option<[f64; 4]> {
    if !(d.w > 0.0 && d.w.is_finite()) {
        return None;
    }
    let s = (d.w / t).sqrt();
    Some([
        s,
        d.w_k / (2.0 * s * t),
        d.w_kk / (2.0 * s * t) - d.w_k * d.w_k / (4.0 * s * s * s * t * t),
        (d.w_t - s * s) / (2.0 * s * t),
    ])
}

/// A surface under a [`Shock`]: itself a [`VolSurface`] with exact variance derivatives.
///
/// ```
/// use volfit::risk::greeks::Dynamics;
/// use volfit::risk::scenario::{Shock, Shocked};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let shock = Shock { spot: -0.1, vol: 0.05, ..Shock::default() };
/// let s = Shocked { base: &Flat, shock: &shock, dynamics: Dynamics::StickyStrike };
/// assert_eq!(s.forward(1.0), 90.0);
/// assert!((s.vol(120.0, 1.0) - 0.25).abs() < 1e-15);
/// ```
#[derive(Clone, Copy)]
pub struct Shocked<'a> {
    /// The surface before the shock.
    pub base: &'a dyn VolSurface,
    /// The shock.
    pub shock: &'a Shock,
    /// How the smile moves with the spot.
    pub dynamics: Dynamics,
}

impl Shocked<'_> {
    /// The base surface's `k` of the shocked surface's `k`: the same (floating dynamics) or
    /// that of the same strike (sticky strike); `None` for a spot move `≤ −100%`.
    fn base_k(&self, k: f64) -> Option<f64> {
        let lam = 1.0 + self.shock.spot;
        if !(lam > 0.0) {
            return None;
        }
        Some(if self.dynamics.floats() {
            k
        } else {
            k + lam.ln()
        })
    }
}

impl VolSurface for Shocked<'_> {
    fn forward_impl(&self, t: f64) -> f64 {
        (1.0 + self.shock.spot) * self.base.forward_impl(t)
    }

    fn discount_impl(&self, t: f64) -> Option<f64> {
        self.base.discount_impl(t)
    }

    fn vol_impl(&self, strike: f64, t: f64) -> f64 {
        if self.shock.vol_is_zero() {
            let lam = 1.0 + self.shock.spot;
            if !(lam > 0.0) {
                return f64::NAN;
            }
            let at = if self.dynamics.floats() {
                strike / lam
            } else {
                strike
            };
            return self.base.vol(at, t);
        }
        let k = (strike / self.forward_impl(t)).ln();
        let w = self.variance_derivatives_impl(k, t).w;
        if w >= 0.0 { (w / t).sqrt() } else { f64::NAN }
    }

    fn total_variance_impl(&self, k: f64, t: f64) -> f64 {
        if self.shock.vol_is_zero() {
            return match self.base_k(k) {
                Some(kb) => self.base.total_variance(kb, t),
                None => f64::NAN,
            };
        }
        self.variance_derivatives_impl(k, t).w
    }

    fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
        let Some(kb) = self.base_k(k) else {
            return VarianceDerivatives::NAN;
        };
        let d = self.base.variance_derivatives(kb, t);
        if self.shock.vol_is_zero() {
            return d;
        }
        let (Some(s), Some(a)) = (vol_partials(&d, t), self.shock.dsigma(k, t)) else {
            return VarianceDerivatives::NAN;
        };
        let sig = s[0] + a[0];
        if !(sig > 0.0) {
            return VarianceDerivatives::NAN;
        }
        let (sk, skk, st) = (s[1] + a[1], s[2] + a[2], s[3] + a[3]);
        VarianceDerivatives {
            w: sig * sig * t,
            w_k: 2.0 * sig * t * sk,
            w_kk: 2.0 * t * (sk * sk + sig * skk),
            w_t: sig * sig + 2.0 * sig * t * st,
        }
    }
}

/// A named scenario: a shock and a time roll.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The shock.
    pub shock: Shock,
    /// Calendar days the clock moves forward (`≥ 0`).
    pub roll_days: f64,
}

/// A named scenario's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Book value after the shock and roll minus the base value; `None` (`null` in JSON) where
    /// some position has no price on the shocked surface (see `no_price`).
    pub pnl: Option<f64>,
    /// Book value after the shock and roll (`None` as `pnl`).
    pub value: Option<f64>,
    /// Why the scenario has no value: the position without a price and the surface's answer.
    pub no_price: Option<String>,
    /// The roll (days).
    pub roll_days: f64,
    /// No plane point of the shocked surface fails.
    pub arbitrage_free: bool,
    /// Plane points of the shocked surface that fail (any condition).
    pub failing_points: usize,
    /// Of which calendar.
    pub calendar: usize,
    /// Of which butterfly.
    pub butterfly: usize,
    /// Of which without a finite positive local vol.
    pub local_vol_undefined: usize,
    /// Failing plane points of the base surface on the same grid.
    pub base_failing_points: usize,
    /// Points scanned.
    pub points: usize,
}

/// The grid and the named scenarios' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The spot × vol grid (flattened when serialised).
    #[serde(flatten)]
    pub grid: PnlGrid,
    /// Named scenarios, in the spec's order.
    pub named: Vec<ScenarioResult>,
}

fn spec_err(source: &str, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Spec {
        source_name: source.to_string(),
        field: field.into(),
        message: message.into(),
    }
}

/// Parses one axis: `lo:hi:step` or values separated by `;` (or a single value).
fn parse_axis(source: &str, field: &str, text: &str) -> Result<Vec<f64>, ScenarioError> {
    let num = |s: &str| -> Result<f64, ScenarioError> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| spec_err(source, field, format!("`{s}` is not a finite number")))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let values = match parts.as_slice() {
        [lo, hi, step] => {
            let (lo, hi, step) = (num(lo)?, num(hi)?, num(step)?);
            if !(step > 0.0) || hi < lo {
                return Err(spec_err(
                    source,
                    field,
                    format!("`{text}`: need lo ≤ hi and step > 0"),
                ));
            }
            if (hi - lo) / step > 10_000.0 {
                return Err(spec_err(source, field, "more than 10 000 steps"));
            }
            steps(lo, hi, step)
        }
        [one] => one.split(';').map(num).collect::<Result<_, _>>()?,
        _ => {
            return Err(spec_err(
                source,
                field,
                format!("`{text}`: expected lo:hi:step or v1;v2;…"),
            ));
        }
    };
    check_axis(source, field, &values)?;
    Ok(values)
}

fn check_axis(source: &str, field: &str, values: &[f64]) -> Result<(), ScenarioError> {
    if values.is_empty() {
        return Err(spec_err(source, field, "no values"));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(spec_err(source, field, format!("{v} is not finite")));
    }
    let too_low = values.iter().find(|v| **v <= -1.0);
    if let (true, Some(v)) = (field.ends_with("spot"), too_low) {
        return Err(spec_err(
            source,
            field,
            format!("spot shift {v} ≤ −1 (−100%)"),
        ));
    }
    Ok(())
}

/// The TOML file: `[grid]` and `[[scenario]]` tables.
#[cfg(feature = "cli")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    grid: Option<GridFile>,
    #[serde(default)]
    scenario: Vec<ScenarioFile>,
}

#[cfg(feature = "cli")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    spot: Option<AxisFile>,
    vol: Option<AxisFile>,
}

#[cfg(feature = "cli")]
#[derive(Deserialize)]
#[serde(untagged)]
enum AxisFile {
    List(Vec<f64>),
    Range(String),
}

#[cfg(feature = "cli")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    spot: f64,
    #[serde(default)]
    vol: f64,
    #[serde(default)]
    tilt: f64,
    #[serde(default)]
    twist: f64,
    #[serde(default)]
    pivot_days: Option<f64>,
    #[serde(default)]
    roll_days: f64,
}

impl ScenarioSpec {
    /// Parses the inline grid syntax: comma-separated `spot=AXIS` and `vol=AXIS`, each axis
    /// `lo:hi:step` (inclusive) or values separated by `;`. A missing axis keeps the
    /// [`GridSpec::default`] one. No named scenarios.
    ///
    /// # Errors
    /// [`ScenarioError::Spec`] naming the field (`spot`, `vol`, or the unknown key).
    ///
    /// ```
    /// use volfit::risk::scenario::ScenarioSpec;
    /// let s = ScenarioSpec::parse("spot=-0.2:0.2:0.1,vol=-0.05;0;0.05")?;
    /// assert_eq!(s.grid.spot_shifts, [-0.2, -0.1, 0.0, 0.1, 0.2]);
    /// assert_eq!(s.grid.vol_shifts, [-0.05, 0.0, 0.05]);
    /// assert!(ScenarioSpec::parse("spto=0.1").unwrap_err().to_string().contains("spto"));
    /// # Ok::<(), volfit::risk::scenario::ScenarioError>(())
    /// ```
    pub fn parse(inline: &str) -> Result<Self, ScenarioError> {
        let mut grid = GridSpec::default();
        for item in inline.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(spec_err("inline", item, "expected key=value"));
            };
            match key.trim() {
                "spot" => grid.spot_shifts = parse_axis("inline", "spot", value)?,
                "vol" => grid.vol_shifts = parse_axis("inline", "vol", value)?,
                other => {
                    return Err(spec_err(
                        "inline",
                        other,
                        "unknown key (expected spot or vol)",
                    ));
                }
            }
        }
        Ok(ScenarioSpec {
            grid,
            scenarios: Vec::new(),
        })
    }

    /// Reads a TOML spec: an optional `[grid]` table with `spot` and `vol` (arrays of numbers
    /// or `"lo:hi:step"` strings; missing: the default axis) and `[[scenario]]` tables with
    /// `name` (required), `spot`, `vol`, `tilt`, `twist`, `pivot_days` (default 30) and
    /// `roll_days` (all optional, default 0). Unknown fields are errors.
    ///
    /// Needs the `cli` feature (which brings the `toml` crate).
    ///
    /// # Errors
    /// [`ScenarioError::Io`] if the file cannot be read; [`ScenarioError::Spec`] naming the
    /// file, the line (for TOML syntax and type errors) and the field.
    #[cfg(feature = "cli")]
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// [`ScenarioSpec::from_file`] on the text of a file; `source` names it in errors.
    ///
    /// # Errors
    /// [`ScenarioError::Spec`] naming `source`, the line and the field.
    ///
    /// ```
    /// use volfit::risk::scenario::ScenarioSpec;
    /// let s = ScenarioSpec::from_toml(
    ///     "[grid]\nspot = [-0.1, 0.0, 0.1]\nvol = \"-0.02:0.02:0.01\"\n\
    ///      [[scenario]]\nname = \"crash\"\nspot = -0.2\nvol = 0.1\nroll_days = 1\n",
    ///     "spec.toml",
    /// )?;
    /// assert_eq!(s.grid.vol_shifts.len(), 5);
    /// assert_eq!(s.scenarios[0].shock.spot, -0.2);
    /// let e = ScenarioSpec::from_toml("[[scenario]]\nname = \"x\"\ntilt = \"big\"\n", "f.toml");
    /// assert!(e.unwrap_err().to_string().contains("tilt"));
    /// # Ok::<(), volfit::risk::scenario::ScenarioError>(())
    /// ```
    #[cfg(feature = "cli")]
    pub fn from_toml(text: &str, source: &str) -> Result<Self, ScenarioError> {
        let file: SpecFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start.min(text.len()));
            let line = at.map(|a| text[..a].lines().count().max(1));
            let src = match line {
                Some(l) => format!("{source}:{l}"),
                None => source.to_string(),
            };
            // The field: the key of the line the error points into (`tilt = "big"`).
            let key = at.and_then(|a| {
                let start = text[..a].rfind('\n').map_or(0, |i| i + 1);
                let end = text[a..].find('\n').map_or(text.len(), |i| a + i);
                let (k, _) = text[start..end].split_once('=')?;
                let k = k.trim();
                (!k.is_empty()).then(|| k.to_string())
            });
            spec_err(
                &src,
                key.as_deref().unwrap_or("toml"),
                e.message().to_string(),
            )
        })?;
        let mut grid = GridSpec::default();
        if let Some(g) = file.grid {
            for (field, axis, out) in [
                ("grid.spot", g.spot, &mut grid.spot_shifts),
                ("grid.vol", g.vol, &mut grid.vol_shifts),
            ] {
                match axis {
                    Some(AxisFile::List(v)) => {
                        check_axis(source, field, &v)?;
                        *out = v;
                    }
                    Some(AxisFile::Range(r)) => *out = parse_axis(source, field, &r)?,
                    None => {}
                }
            }
        }
        let mut scenarios = Vec::new();
        for (i, s) in file.scenario.into_iter().enumerate() {
            let field = |f: &str| format!("scenario[{i}] ({}).{f}", s.name);
            let pivot_days = s.pivot_days.unwrap_or(DEFAULT_PIVOT_DAYS);
            for (name, v) in [
                ("spot", s.spot),
                ("vol", s.vol),
                ("tilt", s.tilt),
                ("twist", s.twist),
                ("pivot_days", pivot_days),
                ("roll_days", s.roll_days),
            ] {
                if !v.is_finite() {
                    return Err(spec_err(source, field(name), "not finite"));
                }
            }
            if s.spot <= -1.0 {
                return Err(spec_err(source, field("spot"), "spot move ≤ −1 (−100%)"));
            }
            if !(pivot_days > 0.0) {
                return Err(spec_err(source, field("pivot_days"), "must be positive"));
            }
            if s.roll_days < 0.0 {
                return Err(spec_err(source, field("roll_days"), "must be ≥ 0"));
            }
            if scenarios.iter().any(|x: &Scenario| x.name == s.name) {
                return Err(spec_err(source, field("name"), "duplicate name"));
            }
            scenarios.push(Scenario {
                shock: Shock {
                    spot: s.spot,
                    vol: s.vol,
                    tilt: s.tilt,
                    twist: s.twist,
                    pivot: pivot_days / DAYS_PER_YEAR,
                    replay: None,
                },
                roll_days: s.roll_days,
                name: s.name,
            });
        }
        Ok(ScenarioSpec { grid, scenarios })
    }
}

/// Value of the book on `surface`, the clock rolled by `roll` years; errors name `scenario`.
fn book_value(
    surface: &dyn VolSurface,
    positions: &[Position],
    roll: f64,
    scenario: &str,
) -> Result<f64, ScenarioError> {
    let mut total = 0.0;
    for (i, p) in positions.iter().enumerate() {
        let no_price = |reason: String| ScenarioError::NoPrice {
            scenario: scenario.to_string(),
            position: i,
            kind: p.kind,
            strike: p.strike,
            t: p.t,
            reason,
        };
        let v = if roll == 0.0 {
            surface
                .try_price(p.kind, p.strike, p.t)
                .map_err(|e| no_price(e.to_string()))?
        } else if p.t > roll {
            price_rolled(surface, p.kind, p.strike, p.t, p.t - roll)
                .map_err(|e| no_price(format!("after a roll to t = {}: {e}", p.t - roll)))?
        } else {
            let f = surface.forward(p.t);
            if !f.is_finite() {
                return Err(no_price("no forward".into()));
            }
            match p.kind {
                OptionKind::Call => (f - p.strike).max(0.0),
                OptionKind::Put => (p.strike - f).max(0.0),
            }
        };
        total += p.quantity * v;
    }
    Ok(total)
}

/// The spot × vol P&L grid of a book by full revaluation on [`Bumped`] surfaces.
///
/// A cell where some position has no price is `None` with its reason in
/// [`PnlGrid::no_price`]: the rest of the grid stands.
///
/// # Errors
/// [`ScenarioError::NoPrice`] naming `base` and the position when the book has no value on
/// the base surface itself.
pub fn pnl_grid(
    surface: &dyn VolSurface,
    positions: &[Position],
    dynamics: Dynamics,
    grid: &GridSpec,
) -> Result<PnlGrid, ScenarioError> {
    let base_value = book_value(surface, positions, 0.0, "base")?;
    let mut pnl = Vec::with_capacity(grid.spot_shifts.len());
    let mut no_price = Vec::new();
    for &s in &grid.spot_shifts {
        let mut row = Vec::with_capacity(grid.vol_shifts.len());
        for &e in &grid.vol_shifts {
            let b = Bumped {
                base: surface,
                forward_scale: 1.0 + s,
                vol_shift: e,
                dynamics,
            };
            let name = format!("grid spot={s:+} vol={e:+}");
            match book_value(&b, positions, 0.0, &name) {
                Ok(v) => row.push(Some(v - base_value)),
                Err(e_) => {
                    row.push(None);
                    no_price.push(NoPriceCell {
                        spot_shift: s,
                        vol_shift: e,
                        reason: e_.to_string(),
                    });
                }
            }
        }
        pnl.push(row);
    }
    Ok(PnlGrid {
        spot_shifts: grid.spot_shifts.clone(),
        vol_shifts: grid.vol_shifts.clone(),
        pnl,
        base_value,
        no_price,
    })
}

/// The arbitrage scan grid of an arbitrary surface holding `positions`: their distinct times
/// to expiry as the expiries, their log-moneyness range (at least `[−1, 1]`, doubled) in `k`.
fn positions_scan_grid(surface: &dyn VolSurface, positions: &[Position]) -> (Vec<f64>, PlaneGrid) {
    let mut ts: Vec<f64> = positions.iter().map(|p| p.t).collect();
    ts.sort_by(f64::total_cmp);
    ts.dedup();
    let mut q = [f64::INFINITY, f64::NEG_INFINITY];
    for p in positions {
        let k = (p.strike / surface.forward(p.t)).ln();
        if k.is_finite() {
            q = [q[0].min(k), q[1].max(k)];
        }
    }
    let grid = PlaneGrid::new(&ts, q);
    (ts, grid)
}

/// The scan grid of a fitted surface: its expiries and quoted `k` range (as
/// [`FittedSurface::plane_scan`]).
fn fitted_scan_grid(surface: &FittedSurface) -> (Vec<f64>, PlaneGrid) {
    let ts: Vec<f64> = surface.slices().iter().map(|s| s.t).collect();
    let mut q = [f64::INFINITY, f64::NEG_INFINITY];
    for s in surface.slices() {
        if let Some(r) = s.quoted_k {
            q = [q[0].min(r[0]), q[1].max(r[1])];
        }
    }
    let grid = PlaneGrid::new(&ts, q);
    (ts, grid)
}

/// Runs a spec: the P&L grid, and each named scenario's P&L with the arbitrage verdict of its
/// shocked surface, scanned on the positions' expiries (use [`run_fitted`] for a fitted
/// surface's own expiries and quoted range).
///
/// A grid cell or a scenario where some position has no price is reported without a P&L
/// (`None`, with the reason), the rest stands.
///
/// # Errors
/// [`ScenarioError::NoPrice`] when the book has no value on the base surface;
/// [`ScenarioError::Spec`] for a scenario whose roll is not finite and ≥ 0.
///
/// ```
/// use volfit::risk::greeks::{Dynamics, Position};
/// use volfit::risk::scenario::{run, ScenarioSpec};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// use volfit::{black_price, OptionKind};
/// struct Flat;
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// let book = [Position { kind: OptionKind::Call, strike: 100.0, t: 0.5, quantity: 2.0 }];
/// let spec = ScenarioSpec::parse("spot=-0.1;0.1,vol=0.05")?;
/// let r = run(&Flat, &book, Dynamics::StickyStrike, &spec)?;
/// let want = 2.0 * (black_price(OptionKind::Call, 110.0, 100.0, 0.5, 0.25)
///     - black_price(OptionKind::Call, 100.0, 100.0, 0.5, 0.2));
/// assert!((r.grid.pnl[1][0].unwrap() - want).abs() < 1e-12);
/// // A vol shift of −25 points leaves a 20 % vol no price: that cell is None, with a reason.
/// let r = run(&Flat, &book, Dynamics::StickyStrike, &ScenarioSpec::parse("spot=0,vol=-0.25;0")?)?;
/// assert_eq!(r.grid.pnl[0][0], None);
/// assert!(r.grid.no_price[0].reason.contains("no vol"));
/// # Ok::<(), volfit::risk::scenario::ScenarioError>(())
/// ```
pub fn run(
    surface: &dyn VolSurface,
    positions: &[Position],
    dynamics: Dynamics,
    spec: &ScenarioSpec,
) -> Result<ScenarioReport, ScenarioError> {
    let (ts, grid) = positions_scan_grid(surface, positions);
    run_scanned(surface, positions, dynamics, spec, &ts, &grid)
}

/// [`run`] on a fitted surface, the arbitrage scans on its own expiries and quoted `k` range
/// (the grid of [`FittedSurface::plane_scan`]).
///
/// # Errors
/// Those of [`run`].
pub fn run_fitted(
    surface: &FittedSurface,
    positions: &[Position],
    dynamics: Dynamics,
    spec: &ScenarioSpec,
) -> Result<ScenarioReport, ScenarioError> {
    let (ts, grid) = fitted_scan_grid(surface);
    run_scanned(surface, positions, dynamics, spec, &ts, &grid)
}

fn run_scanned(
    surface: &dyn VolSurface,
    positions: &[Position],
    dynamics: Dynamics,
    spec: &ScenarioSpec,
    ts: &[f64],
    scan_grid: &PlaneGrid,
) -> Result<ScenarioReport, ScenarioError> {
    let grid = pnl_grid(surface, positions, dynamics, &spec.grid)?;
    let base_scan = plane_scan(surface, ts, scan_grid.clone());
    let base_failing = failing(&base_scan);
    let mut named = Vec::with_capacity(spec.scenarios.len());
    for sc in &spec.scenarios {
        named.push(run_one(
            surface,
            positions,
            dynamics,
            sc,
            grid.base_value,
            ts,
            scan_grid,
            base_failing,
        )?);
    }
    Ok(ScenarioReport { grid, named })
}

/// Plane points failing any condition.
fn failing(scan: &PlaneScan) -> usize {
    scan.by_region.iter().sum()
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    surface: &dyn VolSurface,
    positions: &[Position],
    dynamics: Dynamics,
    sc: &Scenario,
    base_value: f64,
    ts: &[f64],
    scan_grid: &PlaneGrid,
    base_failing: usize,
) -> Result<ScenarioResult, ScenarioError> {
    if !(sc.roll_days >= 0.0 && sc.roll_days.is_finite()) {
        return Err(ScenarioError::Spec {
            source_name: "scenario".into(),
            field: format!("{}.roll_days", sc.name),
            message: format!("{} is not finite and ≥ 0", sc.roll_days),
        });
    }
    let shocked = Shocked {
        base: surface,
        shock: &sc.shock,
        dynamics,
    };
    let (value, no_price) =
        match book_value(&shocked, positions, sc.roll_days / DAYS_PER_YEAR, &sc.name) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let scan = plane_scan(&shocked, ts, scan_grid.clone());
    let n = failing(&scan);
    Ok(ScenarioResult {
        name: sc.name.clone(),
        pnl: value.map(|v| v - base_value),
        value,
        no_price,
        roll_days: sc.roll_days,
        arbitrage_free: n == 0,
        failing_points: n,
        calendar: scan.calendar,
        butterfly: scan.butterfly,
        local_vol_undefined: scan.local_vol_undefined,
        base_failing_points: base_failing,
        points: scan.points,
    })
}

/// Settings of [`historical_stresses`].
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// The surface model each snapshot is calibrated with (default SVI per expiry: the
    /// fastest of the library's fits).
    pub model: SurfaceModel,
    /// The constant maturity of the ATM vol and risk reversal watched (days, default 30).
    pub tenor_days: f64,
    /// The short and long maturities whose ATM change sets the parametric twist (days,
    /// default 7 and 90).
    pub twist_days: [f64; 2],
    /// The long horizon (hours, default 24) and the tolerance on it (hours, default 3): pairs
    /// of snapshots whose distance is within it.
    pub day_hours: [f64; 2],
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            model: SurfaceModel::Svi,
            tenor_days: 30.0,
            twist_days: [7.0, 90.0],
            day_hours: [24.0, 3.0],
        }
    }
}

/// One calibrated snapshot of a series and what the stresses watch on it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The file.
    pub path: PathBuf,
    /// Its valuation time.
    pub as_of: DateTime<Utc>,
    /// Spot (the surface's, else the forward at `t = 0`).
    pub spot: f64,
    /// ATM vol at the tenor (decimal).
    pub atm: f64,
    /// 25Δ risk reversal at the tenor (decimal), where the surface has the deltas.
    pub rr25: Option<f64>,
    /// The tenor's 25Δ call and put `z = k/√t` (the parametric tilt's coordinates).
    pub z25: Option<[f64; 2]>,
    /// ATM vols at the twist maturities.
    pub atm_twist: [f64; 2],
    /// The surface.
    pub surface: Arc<FittedSurface>,
}

/// A calibrated series: the snapshots in time order and the files skipped, with why.
#[derive(Debug, Clone)]
pub struct History {
    /// Calibrated snapshots, by `as_of`.
    pub snapshots: Vec<Snapshot>,
    /// Files that could not be read or calibrated, and the error.
    pub skipped: Vec<(PathBuf, String)>,
    /// The settings.
    pub options: HistoryOptions,
}

/// What a stress moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// The largest spot fall.
    SpotFall,
    /// The largest spot rise.
    SpotRise,
    /// The largest rise of the tenor's ATM vol.
    AtmRise,
    /// The largest fall of the tenor's ATM vol.
    AtmFall,
    /// The largest move (either sign) of the tenor's 25Δ risk reversal.
    RiskReversal,
}

impl Measure {
    /// All, in declaration order.
    pub const ALL: [Measure; 5] = [
        Measure::SpotFall,
        Measure::SpotRise,
        Measure::AtmRise,
        Measure::AtmFall,
        Measure::RiskReversal,
    ];

    /// Short name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Measure::SpotFall => "spot-fall",
            Measure::SpotRise => "spot-rise",
            Measure::AtmRise => "atm-rise",
            Measure::AtmFall => "atm-fall",
            Measure::RiskReversal => "rr25-move",
        }
    }
}

/// The largest move of a [`Measure`] over a horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// What moved.
    pub measure: Measure,
    /// `true`: about 24 h apart; `false`: consecutive snapshots.
    pub day: bool,
    /// Index of the earlier snapshot in [`History::snapshots`].
    pub from: usize,
    /// Index of the later one.
    pub to: usize,
    /// Relative spot change, ATM vol change or risk-reversal change (decimals).
    pub change: f64,
    /// Hours between the snapshots.
    pub hours: f64,
}

impl History {
    /// Reads and calibrates every `deribit_options_snapshot_*.csv` of `dir` for `underlying`
    /// (in parallel; default calibration settings but the model). A file that cannot be read
    /// or calibrated, or whose surface has no ATM vol at the tenor, is skipped and listed in
    /// [`History::skipped`].
    ///
    /// # Errors
    /// [`ScenarioError::Io`] if `dir` cannot be listed; [`ScenarioError::Series`] if fewer
    /// than two snapshots calibrate.
    pub fn load(
        dir: &Path,
        underlying: &str,
        options: &HistoryOptions,
    ) -> Result<History, ScenarioError> {
        use rayon::prelude::*;
        let io = |e: std::io::Error| ScenarioError::Io {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let p = entry.map_err(io)?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("deribit_options_snapshot_")
                && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                files.push(p);
            }
        }
        files.sort();
        let results: Vec<Result<Snapshot, (PathBuf, String)>> = files
            .par_iter()
            .map(|p| snapshot(p, underlying, options).map_err(|e| (p.clone(), e)))
            .collect();
        let mut snapshots = Vec::new();
        let mut skipped = Vec::new();
        for r in results {
            match r {
                Ok(s) => snapshots.push(s),
                Err(e) => skipped.push(e),
            }
        }
        snapshots.sort_by_key(|s| s.as_of);
        if snapshots.len() < 2 {
            return Err(ScenarioError::Series {
                dir: dir.to_path_buf(),
                message: format!(
                    "{} of {} snapshots calibrated for {underlying}: need two",
                    snapshots.len(),
                    files.len()
                ),
            });
        }
        Ok(History {
            snapshots,
            skipped,
            options: options.clone(),
        })
    }

    /// The pairs compared: consecutive snapshots (`day = false`) and pairs about
    /// [`HistoryOptions::day_hours`] apart (`day = true`, for each earlier snapshot the later one
    /// closest to the horizon within the tolerance).
    fn pairs(&self, day: bool) -> Vec<(usize, usize)> {
        let n = self.snapshots.len();
        if !day {
            return (1..n).map(|i| (i - 1, i)).collect();
        }
        let [h, tol] = self.options.day_hours;
        let mut out = Vec::new();
        for i in 0..n {
            let best = (i + 1..n)
                .map(|j| (j, (self.hours(i, j) - h).abs()))
                .filter(|(_, d)| *d <= tol)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((j, _)) = best {
                out.push((i, j));
            }
        }
        out
    }

    fn hours(&self, i: usize, j: usize) -> f64 {
        (self.snapshots[j].as_of - self.snapshots[i].as_of).num_seconds() as f64 / 3600.0
    }

    /// The largest move of every [`Measure`] over both horizons (consecutive first).
    #[must_use]
    pub fn largest_moves(&self) -> Vec<Move> {
        let mut out = Vec::new();
        for day in [false, true] {
            let pairs = self.pairs(day);
            for measure in Measure::ALL {
                let change = |&(i, j): &(usize, usize)| -> Option<f64> {
                    let (a, b) = (&self.snapshots[i], &self.snapshots[j]);
                    match measure {
                        Measure::SpotFall | Measure::SpotRise => Some(b.spot / a.spot - 1.0),
                        Measure::AtmRise | Measure::AtmFall => Some(b.atm - a.atm),
                        Measure::RiskReversal => Some(b.rr25? - a.rr25?),
                    }
                };
                let key = |c: f64| match measure {
                    Measure::SpotFall | Measure::AtmFall => -c,
                    Measure::SpotRise | Measure::AtmRise => c,
                    Measure::RiskReversal => c.abs(),
                };
                let best = pairs
                    .iter()
                    .filter_map(|p| change(p).map(|c| (*p, c)))
                    .max_by(|a, b| key(a.1).total_cmp(&key(b.1)));
                if let Some(((from, to), change)) = best {
                    out.push(Move {
                        measure,
                        day,
                        from,
                        to,
                        change,
                        hours: self.hours(from, to),
                    });
                }
            }
        }
        out
    }

    /// The replay scenario of a move: the spot move and the observed change of implied vol at
    /// fixed `k` and remaining time ([`Replay`]), no roll.
    #[must_use]
    pub fn replay(&self, m: &Move) -> Scenario {
        let (a, b) = (&self.snapshots[m.from], &self.snapshots[m.to]);
        let label = format!(
            "{} → {}",
            a.as_of.format("%Y-%m-%dT%H:%MZ"),
            b.as_of.format("%Y-%m-%dT%H:%MZ")
        );
        Scenario {
            name: format!("{} replay", self.move_name(m)),
            shock: Shock {
                spot: b.spot / a.spot - 1.0,
                replay: Some(Replay {
                    from: a.surface.clone(),
                    to: b.surface.clone(),
                    label,
                }),
                ..Shock::default()
            },
            roll_days: 0.0,
        }
    }

    /// The parametric summary of a move: the spot move; the tenor's ATM change as a parallel
    /// shift; the tenor's 25Δ risk-reversal change as a tilt,
    /// `tilt = ΔRR/(tanh z_c − tanh z_p)` at the earlier surface's 25Δ `z = k/√t` (0 where it
    /// has no 25Δ strikes); the difference of the ATM changes at the twist maturities as a
    /// twist per unit `ln t` pivoted at the tenor (so that the tenor's ATM change is the parallel
    /// shift alone).
    #[must_use]
    pub fn parametric(&self, m: &Move) -> Scenario {
        let (a, b) = (&self.snapshots[m.from], &self.snapshots[m.to]);
        let tilt = match (a.rr25, b.rr25, a.z25) {
            (Some(ra), Some(rb), Some([zc, zp])) => {
                let d = zc.tanh() - zp.tanh();
                if d > 0.0 { (rb - ra) / d } else { 0.0 }
            }
            _ => 0.0,
        };
        let [short, long] = self.options.twist_days;
        let twist = ((b.atm_twist[1] - a.atm_twist[1]) - (b.atm_twist[0] - a.atm_twist[0]))
            / (long / short).ln();
        Scenario {
            name: format!("{} parametric", self.move_name(m)),
            shock: Shock {
                spot: b.spot / a.spot - 1.0,
                vol: b.atm - a.atm,
                tilt,
                twist,
                pivot: crate::surface::metrics::tenor_years(
                    a.surface.day_count(),
                    self.options.tenor_days,
                ),
                replay: None,
            },
            roll_days: 0.0,
        }
    }

    fn move_name(&self, m: &Move) -> String {
        let change = match m.measure {
            Measure::SpotFall | Measure::SpotRise => format!("{:+.2}%", 100.0 * m.change),
            _ => format!("{:+.2} vol pts", 100.0 * m.change),
        };
        format!(
            "{} {} ({}, {:.0} h from {})",
            m.measure.name(),
            if m.day { "24h" } else { "1-snapshot" },
            change,
            m.hours,
            self.snapshots[m.from].as_of.format("%Y-%m-%dT%H:%MZ")
        )
    }

    /// The replay and the parametric scenario of every largest move.
    #[must_use]
    pub fn stresses(&self) -> Vec<Scenario> {
        self.largest_moves()
            .iter()
            .flat_map(|m| [self.replay(m), self.parametric(m)])
            .collect()
    }
}

/// Calibrates one snapshot file.
fn snapshot(path: &Path, underlying: &str, o: &HistoryOptions) -> Result<Snapshot, String> {
    let (chain, _) =
        read_chain_for(path, Format::Deribit, underlying).map_err(|e| ToString::to_string(&e))?;
    let opts = SurfaceOptions {
        model: o.model,
        ..SurfaceOptions::default()
    };
    let surface = calibrate_surface(&chain, &opts)
        .map_err(|e| ToString::to_string(&e))?
        .0;
    let as_of = surface
        .as_of()
        .ok_or_else(|| "the surface has no valuation time".to_string())?;
    let spot = surface.spot().unwrap_or_else(|| surface.forward(0.0));
    if !(spot > 0.0 && spot.is_finite()) {
        return Err("no spot".into());
    }
    let tm = metrics_at_tenor(&surface, o.tenor_days).map_err(|e| ToString::to_string(&e))?;
    let atm_at = |days: f64| {
        metrics_at_tenor(&surface, days)
            .map(|m| m.atm_vol)
            .map_err(|e| ToString::to_string(&e))
    };
    let atm_twist = [atm_at(o.twist_days[0])?, atm_at(o.twist_days[1])?];
    // z = k/√t of the 25Δ strikes from their vols: d₁ = −k/(σ√t) + σ√t/2 = Φ⁻¹(Δ).
    let z_at = |sigma: f64, delta: f64| {
        let sq = sigma * tm.t.sqrt();
        sq * (sq / 2.0 - inverse_norm_cdf(delta)) / tm.t.sqrt()
    };
    let z25 = match (tm.call25, tm.put25) {
        (Some(c), Some(p)) => Some([z_at(c, 0.25), z_at(p, 0.75)]),
        _ => None,
    };
    Ok(Snapshot {
        path: path.to_path_buf(),
        as_of,
        spot,
        atm: tm.atm_vol,
        rr25: tm.rr25,
        z25,
        atm_twist,
        surface: Arc::new(surface),
    })
}

/// Historical stresses of a snapshot series ([`History::load`], [`History::stresses`]): for
/// the largest spot fall and rise, 30-day ATM vol rise and fall and 30-day 25Δ risk-reversal
/// move between consecutive snapshots and over about 24 h, a replay scenario and a
/// parametric summary.
///
/// # Errors
/// Those of [`History::load`].
pub fn historical_stresses(
    dir: &Path,
    underlying: &str,
    options: &HistoryOptions,
) -> Result<Vec<Scenario>, ScenarioError> {
    Ok(History::load(dir, underlying, options)?.stresses())
}
