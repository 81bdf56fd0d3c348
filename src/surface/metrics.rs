//! What a reviewer reads off a surface: ATM vol, 25Δ risk reversal and butterfly per expiry,
//! strikes at a delta, and the same at constant maturity — at any `t`, read off the served
//! surface (the review flags are in [`super::flags`]). The charts and the page draw these
//! numbers; they do not compute them.
//!
//! **Conventions.** ATM is the forward: `k = ln(K/F) = 0`. Deltas are Black-76 forward
//! deltas of the undiscounted option, `Φ(d₁)` for a call, not premium-adjusted (a Deribit
//! premium-adjusted delta in coin is `Φ(d₂)·K/F` for a call); a put's delta is the call's
//! minus 1, so the 25Δ put is the strike where `Φ(d₁) = 0.75`. The risk reversal is
//! `σ(25Δ call) − σ(25Δ put)` and the butterfly `(σ(25Δ call) + σ(25Δ put))/2 − σ_ATM` (the
//! "smile" butterfly, not the market-strangle one; Clark, *Foreign Exchange Option Pricing*,
//! 2011, §3.7).
//!
//! **Units.** Vols are decimals in the library — and in the constant-maturity metrics
//! ([`metrics_at`], [`metrics_at_tenor`], [`TenorMetrics`]: 0.45 is 45%) — but vol points
//! (percent) in the per-expiry [`term_structure`] ([`TermPoint`]: 45.0 is 45%), which the
//! charts draw.
//!
//! **Constant maturity.** [`metrics_at`] reads the surface at one `t` through
//! [`VolSurface::total_variance`] and [`VolSurface::forward`] only — whatever the surface does
//! there (an expiry's served smile, the interpolation between two, the extrapolation before the
//! first or after the last), so a 30-day point between two expiries is the interpolated
//! surface's, not a blend of per-expiry numbers. The strike of a delta solves
//! `d₁(k) = −k/√w(k, t) + √w(k, t)/2 = Φ⁻¹(Δ)` by the Illinois variant of regula falsi
//! (Dowell & Jarratt, *BIT* 11, 1971) on a bracket found by doubling away from the money: about
//! ten evaluations of `w` per delta, no allocation.

use super::{FittedSurface, Num, SliceModel, VolSurface};
use crate::black::special::{inverse_norm_cdf, norm_cdf};
use serde::{Deserialize, Serialize};

/// `k` where the Black call delta `Φ(d₁)` of smile `m` equals `target` (bisection on
/// `k ∈ ±8√w(0)`); `None` if the delta does not cross `target` there.
///
/// ```
/// use volfit::models::svi::Svi;
/// use volfit::surface::{SliceModel, metrics::k_at_delta};
/// let flat = SliceModel::Svi(Svi::new(0.04, 0.0, 0.0, 0.0, 0.1)?); // σ√T = 0.2
/// let k = k_at_delta(&flat, 0.5).unwrap();
/// assert!((k - 0.02).abs() < 1e-12); // Φ(d₁) = ½ at d₁ = 0: k = w/2
/// # Ok::<(), volfit::models::ParamError>(())
/// ```
pub fn k_at_delta(m: &SliceModel, target: f64) -> Option<f64> {
    let d1 = |k: f64| {
        let w = m.w(k).max(1e-300);
        -k / w.sqrt() + 0.5 * w.sqrt()
    };
    let delta = |k: f64| norm_cdf(d1(k));
    let s = m.w(0.0).max(1e-12).sqrt();
    let (mut lo, mut hi) = (-8.0 * s, 8.0 * s);
    if !(delta(lo) > target && delta(hi) < target) {
        return None;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if delta(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// ATM vol, 25Δ risk reversal and butterfly of one expiry, in vol points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermPoint {
    /// Time to expiry.
    pub t: f64,
    /// ATM (forward) vol, vol points.
    pub atm: f64,
    /// `σ(25Δ call) − σ(25Δ put)`, vol points.
    pub rr25: Option<f64>,
    /// `(σ(25Δ call) + σ(25Δ put))/2 − σ_ATM`, vol points.
    pub bf25: Option<f64>,
}

/// ATM vol, 25-delta risk reversal and butterfly of each expiry of the surface.
pub fn term_structure(surface: &FittedSurface) -> Vec<TermPoint> {
    surface
        .slices()
        .iter()
        .map(|s| {
            let v = |k: f64| 100.0 * (s.model.w(k).max(0.0) / s.t).sqrt();
            let atm = v(0.0);
            let c = k_at_delta(&s.model, 0.25).map(v);
            let p = k_at_delta(&s.model, 0.75).map(v);
            TermPoint {
                t: s.t,
                atm,
                rr25: c.zip(p).map(|(c, p)| c - p),
                bf25: c.zip(p).map(|(c, p)| 0.5 * (c + p) - atm),
            }
        })
        .collect()
}

/// A point of the delta grid of a smile: the 10Δ and 25Δ puts and calls and the forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pillar {
    /// The put of delta −0.10 (call delta `Φ(d₁) = 0.90`).
    Put10,
    /// The put of delta −0.25 (call delta 0.75).
    Put25,
    /// At the money: the forward, `k = 0`.
    Atm,
    /// The call of delta 0.25.
    Call25,
    /// The call of delta 0.10.
    Call10,
}

impl Pillar {
    /// The pillars from the low strikes to the high: 10Δ put, 25Δ put, ATM, 25Δ call, 10Δ
    /// call.
    pub const ALL: [Pillar; 5] = [
        Pillar::Put10,
        Pillar::Put25,
        Pillar::Atm,
        Pillar::Call25,
        Pillar::Call10,
    ];

    /// The Black call delta `Φ(d₁)` of the pillar's strike (a put's delta plus 1); `None` for
    /// [`Pillar::Atm`], which is the forward rather than a delta.
    ///
    /// ```
    /// use volfit::surface::metrics::Pillar;
    /// assert_eq!(Pillar::Put25.call_delta(), Some(0.75));
    /// assert_eq!(Pillar::Atm.call_delta(), None);
    /// ```
    pub fn call_delta(self) -> Option<f64> {
        match self {
            Pillar::Put10 => Some(0.9),
            Pillar::Put25 => Some(0.75),
            Pillar::Atm => None,
            Pillar::Call25 => Some(0.25),
            Pillar::Call10 => Some(0.1),
        }
    }

    /// The short name in tables and JSON keys: `10p`, `25p`, `atm`, `25c`, `10c`.
    pub fn name(self) -> &'static str {
        match self {
            Pillar::Put10 => "10p",
            Pillar::Put25 => "25p",
            Pillar::Atm => "atm",
            Pillar::Call25 => "25c",
            Pillar::Call10 => "10c",
        }
    }
}

/// ATM vol, risk reversals and butterflies of a surface at one time to expiry, read off the
/// surface itself ([`metrics_at`]). **Decimals** (0.45 is 45%), unlike [`TermPoint`].
///
/// A wing pillar is `None` where no strike at `t` has its delta (a wing slope at Lee's bound
/// keeps the call delta above 0.25, say); a risk reversal or butterfly is `None` where one of
/// its pillars is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TenorMetrics {
    /// Time to expiry in years.
    pub t: f64,
    /// The surface's forward `F(t)`.
    pub forward: f64,
    /// ATM (forward, `k = 0`) vol.
    pub atm_vol: f64,
    /// Vol of the 25Δ put.
    pub put25: Option<f64>,
    /// Vol of the 25Δ call.
    pub call25: Option<f64>,
    /// Vol of the 10Δ put.
    pub put10: Option<f64>,
    /// Vol of the 10Δ call.
    pub call10: Option<f64>,
    /// `σ(25Δ call) − σ(25Δ put)`.
    pub rr25: Option<f64>,
    /// `(σ(25Δ call) + σ(25Δ put))/2 − σ_ATM`.
    pub bf25: Option<f64>,
    /// `σ(10Δ call) − σ(10Δ put)`.
    pub rr10: Option<f64>,
    /// `(σ(10Δ call) + σ(10Δ put))/2 − σ_ATM`.
    pub bf10: Option<f64>,
}

impl TenorMetrics {
    /// The vol at a pillar (decimal); `None` where no strike has its delta.
    pub fn vol(&self, pillar: Pillar) -> Option<f64> {
        match pillar {
            Pillar::Put10 => self.put10,
            Pillar::Put25 => self.put25,
            Pillar::Atm => Some(self.atm_vol),
            Pillar::Call25 => self.call25,
            Pillar::Call10 => self.call10,
        }
    }
}

/// Why a surface gives no metrics at a time to expiry.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The time (or tenor) is not finite and positive.
    #[error("{what} must be finite and > 0, got {}", Num(*value))]
    BadTime {
        /// `"t"` (years) or `"tenor"` (calendar days).
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// The surface has no forward at `t` (one beyond the range of doubles).
    #[error("the surface has no forward at t = {}", Num(*t))]
    NoForward {
        /// Time in years.
        t: f64,
    },
    /// The surface has no positive, finite total variance at `(k, t)`: its extrapolation
    /// policy refuses there ([`super::BeforeFirst::Refuse`], [`super::AfterLast::Refuse`]), or
    /// the variance is not a number a vol can be taken of.
    #[error(
        "the surface has no total variance at k = {}, t = {} (got {}): its extrapolation \
         policy refuses there, or the variance is not positive",
        Num(*k),
        Num(*t),
        Num(*w)
    )]
    NoVariance {
        /// Log-forward-moneyness.
        k: f64,
        /// Time in years.
        t: f64,
        /// The total variance found (NaN for a refusal).
        w: f64,
    },
    /// No strike at `t` has this Black call delta `Φ(d₁)`.
    #[error("no strike at t = {} has a Black call delta of {delta}", Num(*t))]
    NoStrike {
        /// Time in years.
        t: f64,
        /// The call delta sought.
        delta: f64,
    },
}

/// Doublings of the bracket away from the money before a delta counts as unattainable.
const BRACKET_DOUBLINGS: u32 = 40;
/// The largest `|k|` a bracket reaches (strikes `e^±200` times the forward).
const BRACKET_K_MAX: f64 = 200.0;
/// Illinois steps at most (it needs about ten).
const ILLINOIS_STEPS: u32 = 100;
/// Converged when `|d₁ − target| ≤ D1_TOL` (a vol error of `~D1_TOL·|∂σ/∂k|·√w`), or when
/// the bracket is this narrow relative to `1 + |k|`.
const D1_TOL: f64 = 1e-13;

/// `d₁(k) = −k/√w + √w/2`, or `None` where `w(k)` is not positive and finite.
#[inline]
fn d1_of(w: f64, k: f64) -> Option<f64> {
    (w > 0.0 && w.is_finite()).then(|| {
        let s = w.sqrt();
        -k / s + 0.5 * s
    })
}

/// The `k` where `d₁(k) = target` on the smile `w(k)` (`w0 = w(0) > 0`): a bracket from
/// the money doubling outward (to higher strikes when `d₁(0) > target`, to lower ones
/// otherwise; the first crossing on that side), then Illinois. `None` where `w` stops being
/// positive and finite on the way, or no crossing lies within `|k| ≤ 200`.
fn k_at_d1(w: &impl Fn(f64) -> f64, w0: f64, target: f64) -> Option<f64> {
    let f = |k: f64| d1_of(w(k), k).map(|d| d - target);
    let f0 = f(0.0)?;
    if f0 == 0.0 {
        return Some(0.0);
    }
    // The side of the root: d₁ above the target at the money means a higher strike.
    let dir = if f0 > 0.0 { 1.0 } else { -1.0 };
    let (mut near, mut f_near) = (0.0, f0);
    let mut step = w0.sqrt().clamp(1e-4, 1.0);
    let (far, f_far) = 'search: {
        for _ in 0..BRACKET_DOUBLINGS {
            let k = (near + dir * step).clamp(-BRACKET_K_MAX, BRACKET_K_MAX);
            let fk = f(k)?;
            if fk == 0.0 {
                return Some(k);
            }
            if fk.signum() != f0.signum() {
                break 'search (k, fk);
            }
            if k.abs() >= BRACKET_K_MAX {
                return None;
            }
            (near, f_near) = (k, fk);
            step *= 2.0;
        }
        return None;
    };
    // Illinois on [a, b] with f(a), f(b) of opposite signs.
    let (mut a, mut fa, mut b, mut fb) = (near, f_near, far, f_far);
    let mut kept = 0i8; // +1: a was kept last step, −1: b was.
    for _ in 0..ILLINOIS_STEPS {
        let mut c = (a * fb - b * fa) / (fb - fa);
        if !(c > a.min(b) && c < a.max(b)) {
            c = 0.5 * (a + b);
        }
        let fc = f(c)?;
        if fc.abs() <= D1_TOL || (b - a).abs() <= 1e-15 * (1.0 + c.abs()) {
            return Some(c);
        }
        if fc.signum() == fb.signum() {
            (b, fb) = (c, fc);
            if kept == 1 {
                fa *= 0.5;
            }
            kept = 1;
        } else {
            (a, fa) = (c, fc);
            if kept == -1 {
                fb *= 0.5;
            }
            kept = -1;
        }
    }
    Some(if fa.abs() < fb.abs() { a } else { b })
}

/// The log-forward-moneyness `k = ln(K/F(t))` of the strike whose Black call delta `Φ(d₁)` is
/// `call_delta` on `surface` at time `t`, with `d₁ = −k/√w(k, t) + √w(k, t)/2` (a put of
/// delta `−p` has call delta `1 − p`).
///
/// # Errors
/// [`MetricsError::BadTime`] for `t` not finite and positive; [`MetricsError::NoVariance`]
/// where the surface has no variance at the money at `t`; [`MetricsError::NoStrike`] for a
/// delta outside `(0, 1)` or where no strike has that delta.
///
/// ```
/// use volfit::surface::metrics::k_at_call_delta;
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// struct Flat; // 20% everywhere
/// impl VolSurface for Flat {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, _k: f64, t: f64) -> VarianceDerivatives {
///         VarianceDerivatives { w: 0.04 * t, w_k: 0.0, w_kk: 0.0, w_t: 0.04 }
///     }
/// }
/// // Φ(d₁) = ½ at d₁ = 0: k = w/2 = 0.02 at t = 1.
/// assert!((k_at_call_delta(&Flat, 1.0, 0.5).unwrap() - 0.02).abs() < 1e-14);
/// assert!(k_at_call_delta(&Flat, -1.0, 0.5).is_err());
/// ```
pub fn k_at_call_delta<S: VolSurface + ?Sized>(
    surface: &S,
    t: f64,
    call_delta: f64,
) -> Result<f64, MetricsError> {
    let w0 = atm_variance(surface, t)?;
    if !(call_delta > 0.0 && call_delta < 1.0) {
        return Err(MetricsError::NoStrike {
            t,
            delta: call_delta,
        });
    }
    let w = |k: f64| surface.total_variance(k, t);
    k_at_d1(&w, w0, inverse_norm_cdf(call_delta)).ok_or(MetricsError::NoStrike {
        t,
        delta: call_delta,
    })
}

/// `w(0, t)`, checked: `t` finite and positive, the variance positive and finite.
fn atm_variance<S: VolSurface + ?Sized>(surface: &S, t: f64) -> Result<f64, MetricsError> {
    if !(t > 0.0 && t.is_finite()) {
        return Err(MetricsError::BadTime {
            what: "t",
            value: t,
        });
    }
    let w0 = surface.total_variance(0.0, t);
    if w0 > 0.0 && w0.is_finite() {
        Ok(w0)
    } else {
        Err(MetricsError::NoVariance { k: 0.0, t, w: w0 })
    }
}

/// ATM vol, 25Δ and 10Δ risk reversals and butterflies of `surface` at time `t` in years, read
/// off the surface at that `t` ([module documentation](self): the served total variance and
/// the forward at `t`, deltas `Φ(d₁)` of the forward Black delta). **Decimals.** Any
/// [`VolSurface`]; for a [`FittedSurface`] and a tenor in days, [`metrics_at_tenor`].
///
/// # Errors
/// [`MetricsError::BadTime`] for `t` not finite and positive; [`MetricsError::NoForward`] and
/// [`MetricsError::NoVariance`] where the surface gives no forward or no ATM variance at `t`
/// (e.g. a policy that refuses to extrapolate). A missing wing pillar is a `None` in the
/// result, not an error.
///
/// ```
/// use volfit::models::svi::Svi;
/// use volfit::surface::metrics::metrics_at;
/// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice};
/// let slice = |t: f64, a: f64| SurfaceSlice {
///     expiry: None, t, forward: 100.0, discount: 1.0,
///     model: SliceModel::Svi(Svi::new(a, 0.0, 0.0, 0.0, 0.1).unwrap()), // w = a: flat
///     quoted_k: None,
/// };
/// let s = FittedSurface::new("X".into(), None, None, vec![slice(0.5, 0.02), slice(1.0, 0.04)])?;
/// let m = metrics_at(&s, 0.75)?; // between the expiries: w = 0.03, σ = 0.2
/// assert!((m.atm_vol - 0.2).abs() < 1e-15);
/// assert_eq!((m.rr25, m.bf25), (Some(0.0), Some(0.0)));
/// assert!(metrics_at(&s, 0.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn metrics_at<S: VolSurface + ?Sized>(
    surface: &S,
    t: f64,
) -> Result<TenorMetrics, MetricsError> {
    let w0 = atm_variance(surface, t)?;
    let forward = surface.forward(t);
    if !(forward > 0.0 && forward.is_finite()) {
        return Err(MetricsError::NoForward { t });
    }
    let w = |k: f64| surface.total_variance(k, t);
    let atm_vol = (w0 / t).sqrt();
    let at = |pillar: Pillar| {
        let k = k_at_d1(&w, w0, inverse_norm_cdf(pillar.call_delta()?))?;
        let v = (w(k) / t).sqrt();
        (v > 0.0 && v.is_finite()).then_some(v)
    };
    let (put25, call25) = (at(Pillar::Put25), at(Pillar::Call25));
    let (put10, call10) = (at(Pillar::Put10), at(Pillar::Call10));
    let rr = |c: Option<f64>, p: Option<f64>| c.zip(p).map(|(c, p)| c - p);
    let bf = |c: Option<f64>, p: Option<f64>| c.zip(p).map(|(c, p)| 0.5 * (c + p) - atm_vol);
    Ok(TenorMetrics {
        t,
        forward,
        atm_vol,
        put25,
        call25,
        put10,
        call10,
        rr25: rr(call25, put25),
        bf25: bf(call25, put25),
        rr10: rr(call10, put10),
        bf10: bf(call10, put10),
    })
}

/// The year fraction of a tenor of `days` calendar days under the surface's day count
/// ([`FittedSurface::day_count`]: `days × 86 400 s / seconds per year`).
///
/// ```
/// use volfit::surface::metrics::tenor_years;
/// use volfit::slice::DayCount;
/// assert_eq!(tenor_years(DayCount::Act365, 73.0), 0.2);
/// ```
pub fn tenor_years(day_count: crate::slice::DayCount, days: f64) -> f64 {
    days * 86_400.0 / day_count.seconds_per_year()
}

/// [`metrics_at`] for a constant-maturity tenor of `days` calendar days, turned into years by
/// the surface's day count ([`tenor_years`]; the `t` of the result). **Decimals.**
///
/// # Errors
/// [`MetricsError::BadTime`] (`what: "tenor"`) for `days` not finite and positive; otherwise
/// those of [`metrics_at`].
pub fn metrics_at_tenor(surface: &FittedSurface, days: f64) -> Result<TenorMetrics, MetricsError> {
    if !(days > 0.0 && days.is_finite()) {
        return Err(MetricsError::BadTime {
            what: "tenor",
            value: days,
        });
    }
    metrics_at(surface, tenor_years(surface.day_count(), days))
}
