//! Delta space: FX delta conventions, strikes from deltas, ATM conventions, vols at a delta
//! and the smile from broker quotes.
//!
//! References: D. Reiswich & U. Wystup, *FX Volatility Smile Construction*, CPQF Working
//! Paper 20 (2010) / Wilmott (2012) — "R&W" below; I. Clark, *Foreign Exchange Option
//! Pricing: A Practitioner's Guide* (Wiley 2011), ch. 3; A. Castagna & F. Mercurio, *The
//! vanna–volga method for implied volatilities*, Risk (January 2007).
//!
//! Notation: spot `S` (domestic units per foreign unit), continuously compounded domestic and
//! foreign rates `r_d`, `r_f`, time `τ`, forward `f = S·e^{(r_d − r_f)τ}`, `φ = ±1` for a
//! call / put, `d₁,₂ = (ln(f/K) ± σ²τ/2)/(σ√τ)`. Deltas (R&W eqs. 1–4):
//!
//! | convention | delta |
//! |---|---|
//! | [`DeltaConvention::Spot`] | `Δ_S = φ e^{−r_f τ} N(φ d₁)` |
//! | [`DeltaConvention::Forward`] | `Δ_F = φ N(φ d₁)` |
//! | [`DeltaConvention::SpotPremiumAdjusted`] | `Δ_{S,pa} = φ e^{−r_f τ} (K/f) N(φ d₂)` |
//! | [`DeltaConvention::ForwardPremiumAdjusted`] | `Δ_{F,pa} = φ (K/f) N(φ d₂)` |
//!
//! Premiums are discounted domestic prices `v = e^{−r_d τ}·Black(f, K, τ, σ)` per unit of
//! foreign notional. No function returns NaN: where no answer exists the error says why.
//!
//! ```
//! use volfit::risk::delta::{DeltaConvention, FxMarket};
//! use volfit::OptionKind;
//! let m = FxMarket::new(1.3088, 31.0 / 365.0, 0.003525, 0.020113)?;
//! let k = m.strike_from_delta(DeltaConvention::Spot, OptionKind::Call, 0.25, 0.221092)?;
//! assert!((k - 1.3677).abs() < 5e-5); // R&W Table 6, EURUSD 25Δ call
//! let d = m.delta(DeltaConvention::Spot, OptionKind::Call, k, 0.221092)?;
//! assert!((d - 0.25).abs() < 1e-14);
//! # Ok::<(), volfit::risk::delta::DeltaError>(())
//! ```

use crate::black::special::{inverse_norm_cdf, norm_cdf, norm_pdf};
use crate::{OptionKind, black_price};

/// Why a delta-space computation has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// An input outside its domain (e.g. a vol that is not finite and positive).
    #[error("{name} = {value} is outside its domain ({constraint})")]
    Input {
        /// The input's name.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The domain.
        constraint: &'static str,
    },
    /// No strike has this delta under the convention (the attainable range is given).
    #[error("no strike has delta {delta} (attainable: {min} < Δ ≤ {max})")]
    Unattainable {
        /// The requested delta.
        delta: f64,
        /// Lower end of the attainable range (exclusive).
        min: f64,
        /// Upper end of the attainable range.
        max: f64,
    },
    /// The smile gives no vol at a strike the search visited.
    #[error("the smile has no vol at strike {strike} (gave {vol})")]
    NoVol {
        /// The strike.
        strike: f64,
        /// What the smile returned.
        vol: f64,
    },
    /// An iteration (the smile fixed point, a calibration) did not converge.
    #[error("{what} did not converge in {iterations} iterations (last step {step:e})")]
    NoConvergence {
        /// What was being solved.
        what: &'static str,
        /// Iterations run.
        iterations: usize,
        /// The last relative step.
        step: f64,
    },
}

/// The four FX delta conventions (R&W section 1.2; Clark 2011, section 3.2).
///
/// The premium-adjusted deltas are the deltas of a position whose premium is paid in the
/// foreign currency (e.g. USDJPY, where the premium is in USD): `Δ_pa = Δ − v/S` (spot) and
/// `Δ_{F,pa} = Δ_F − v/(S·e^{−r_f τ})·…`, which R&W write as `φ (K/f) N(φ d₂)` (times
/// `e^{−r_f τ}` for spot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DeltaConvention {
    /// Spot delta `φ e^{−r_f τ} N(φ d₁)`.
    Spot,
    /// Forward delta `φ N(φ d₁)`.
    Forward,
    /// Premium-adjusted spot delta `φ e^{−r_f τ} (K/f) N(φ d₂)`.
    SpotPremiumAdjusted,
    /// Premium-adjusted forward delta `φ (K/f) N(φ d₂)`.
    ForwardPremiumAdjusted,
}

impl DeltaConvention {
    /// All four conventions.
    pub const ALL: [Self; 4] = [
        Self::Spot,
        Self::Forward,
        Self::SpotPremiumAdjusted,
        Self::ForwardPremiumAdjusted,
    ];

    /// Whether the premium is included (the `(K/f) N(φ d₂)` forms).
    ///
    /// ```
    /// use volfit::risk::delta::DeltaConvention;
    /// assert!(DeltaConvention::SpotPremiumAdjusted.is_premium_adjusted());
    /// assert!(!DeltaConvention::Forward.is_premium_adjusted());
    /// ```
    #[must_use]
    pub fn is_premium_adjusted(self) -> bool {
        matches!(
            self,
            Self::SpotPremiumAdjusted | Self::ForwardPremiumAdjusted
        )
    }

    /// Whether it is a spot delta (the `e^{−r_f τ}` factor).
    ///
    /// ```
    /// use volfit::risk::delta::DeltaConvention;
    /// assert!(DeltaConvention::Spot.is_spot());
    /// ```
    #[must_use]
    pub fn is_spot(self) -> bool {
        matches!(self, Self::Spot | Self::SpotPremiumAdjusted)
    }
}

/// ATM conventions (R&W section 1.3; Clark 2011, section 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AtmConvention {
    /// `K = f` (ATM forward).
    Forward,
    /// `K = S` (ATM spot).
    Spot,
    /// The delta-neutral straddle: the call's and put's deltas sum to zero. `K = f·e^{σ²τ/2}`
    /// for the plain deltas, `K = f·e^{−σ²τ/2}` for the premium-adjusted ones.
    DeltaNeutral {
        /// Whether the straddle is neutral in premium-adjusted delta.
        premium_adjusted: bool,
    },
}

impl AtmConvention {
    /// The delta-neutral straddle in the premium adjustment of `conv`.
    ///
    /// ```
    /// use volfit::risk::delta::{AtmConvention, DeltaConvention};
    /// assert_eq!(
    ///     AtmConvention::delta_neutral(DeltaConvention::SpotPremiumAdjusted),
    ///     AtmConvention::DeltaNeutral { premium_adjusted: true }
    /// );
    /// ```
    #[must_use]
    pub fn delta_neutral(conv: DeltaConvention) -> Self {
        Self::DeltaNeutral {
            premium_adjusted: conv.is_premium_adjusted(),
        }
    }
}

/// An FX market for one expiry: spot, time and continuously compounded rates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FxMarket {
    spot: f64,
    tau: f64,
    r_d: f64,
    r_f: f64,
}

fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    constraint: &'static str,
) -> Result<(), DeltaError> {
    if ok {
        Ok(())
    } else {
        Err(DeltaError::Input {
            name,
            value,
            constraint,
        })
    }
}

fn check_vol(vol: f64) -> Result<(), DeltaError> {
    check("vol", vol, vol > 0.0 && vol < f64::INFINITY, "finite, > 0")
}

fn check_strike(strike: f64) -> Result<(), DeltaError> {
    check(
        "strike",
        strike,
        strike > 0.0 && strike < f64::INFINITY,
        "finite, > 0",
    )
}

/// Bisection for `g(x) = 0` on `[lo, hi]` with `g(lo)` and `g(hi)` of opposite signs (or
/// zero); stops at a relative width of a few ulps.
fn bisect(mut lo: f64, mut hi: f64, g: impl Fn(f64) -> f64) -> f64 {
    let g_lo = g(lo);
    if g_lo == 0.0 {
        return lo;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        let g_mid = g(mid);
        if g_mid == 0.0 {
            return mid;
        }
        if (g_mid > 0.0) == (g_lo > 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl FxMarket {
    /// A market from spot `S`, time `τ` (years) and continuously compounded domestic and
    /// foreign rates.
    ///
    /// # Errors
    /// [`DeltaError::Input`] unless `S` and `τ` are finite and positive and the rates finite.
    ///
    /// ```
    /// use volfit::risk::delta::FxMarket;
    /// let m = FxMarket::new(1.3088, 31.0 / 365.0, 0.003525, 0.020113)?;
    /// assert!((m.forward() - 1.3070).abs() < 5e-5); // R&W Table 4
    /// assert!(FxMarket::new(1.3, 0.0, 0.0, 0.0).is_err());
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn new(spot: f64, tau: f64, r_d: f64, r_f: f64) -> Result<Self, DeltaError> {
        check(
            "spot",
            spot,
            spot > 0.0 && spot < f64::INFINITY,
            "finite, > 0",
        )?;
        check("tau", tau, tau > 0.0 && tau < f64::INFINITY, "finite, > 0")?;
        check("r_d", r_d, r_d.is_finite(), "finite")?;
        check("r_f", r_f, r_f.is_finite(), "finite")?;
        let m = Self {
            spot,
            tau,
            r_d,
            r_f,
        };
        let f = m.forward();
        check("forward", f, f > 0.0 && f < f64::INFINITY, "finite, > 0")?;
        Ok(m)
    }

    /// Spot `S`.
    #[must_use]
    pub fn spot(&self) -> f64 {
        self.spot
    }

    /// Time to expiry `τ`.
    #[must_use]
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// Domestic rate `r_d`.
    #[must_use]
    pub fn r_d(&self) -> f64 {
        self.r_d
    }

    /// Foreign rate `r_f`.
    #[must_use]
    pub fn r_f(&self) -> f64 {
        self.r_f
    }

    /// Forward `f = S·e^{(r_d − r_f)τ}`.
    #[must_use]
    pub fn forward(&self) -> f64 {
        self.spot * ((self.r_d - self.r_f) * self.tau).exp()
    }

    /// The delta's scale: `e^{−r_f τ}` for spot deltas, 1 for forward deltas.
    fn scale(&self, conv: DeltaConvention) -> f64 {
        if conv.is_spot() {
            (-self.r_f * self.tau).exp()
        } else {
            1.0
        }
    }

    /// Discounted (domestic) Black premium per unit of foreign notional,
    /// `e^{−r_d τ}·Black(f, K, τ, σ)`.
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a strike or vol that is not finite and positive.
    ///
    /// ```
    /// use volfit::risk::delta::FxMarket;
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(1.3088, 31.0 / 365.0, 0.003525, 0.020113)?;
    /// // R&W Table 7: the EURUSD market strangle, 0.0254782 USD per EUR.
    /// let v = m.premium(OptionKind::Call, 1.368462, 0.22359)?
    ///     + m.premium(OptionKind::Put, 1.253528, 0.22359)?;
    /// assert!((v - 0.0254782).abs() < 5e-8);
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn premium(&self, kind: OptionKind, strike: f64, vol: f64) -> Result<f64, DeltaError> {
        check_strike(strike)?;
        check_vol(vol)?;
        Ok((-self.r_d * self.tau).exp() * black_price(kind, self.forward(), strike, self.tau, vol))
    }

    /// Delta of an option at `strike` and `vol` under `conv` (R&W eqs. 1–4).
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a strike or vol that is not finite and positive.
    ///
    /// ```
    /// use volfit::risk::delta::{DeltaConvention, FxMarket};
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(100.0, 0.5, 0.0, 0.0)?;
    /// // At K = f·e^{σ²τ/2}, d₁ = 0: forward deltas ±1/2.
    /// let k = 100.0 * (0.5f64 * 0.04 * 0.5).exp();
    /// let d = m.delta(DeltaConvention::Forward, OptionKind::Put, k, 0.2)?;
    /// assert!((d + 0.5).abs() < 1e-15);
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn delta(
        &self,
        conv: DeltaConvention,
        kind: OptionKind,
        strike: f64,
        vol: f64,
    ) -> Result<f64, DeltaError> {
        check_strike(strike)?;
        check_vol(vol)?;
        Ok(self.delta_unchecked(conv, kind, strike, vol))
    }

    fn delta_unchecked(
        &self,
        conv: DeltaConvention,
        kind: OptionKind,
        strike: f64,
        vol: f64,
    ) -> f64 {
        let f = self.forward();
        let phi = kind.theta();
        let s = vol * self.tau.sqrt();
        let d1 = (f / strike).ln() / s + 0.5 * s;
        let base = if conv.is_premium_adjusted() {
            strike / f * norm_cdf(phi * (d1 - s))
        } else {
            norm_cdf(phi * d1)
        };
        phi * self.scale(conv) * base
    }

    /// The strike of the premium-adjusted call's maximum delta at `vol`: where
    /// `σ√τ·N(d₂) = n(d₂)` (R&W section 1.2, eq. 6). Below it the premium-adjusted call delta
    /// rises with the strike, above it falls.
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a vol that is not finite and positive.
    ///
    /// ```
    /// use volfit::risk::delta::{DeltaConvention, FxMarket};
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(90.68, 31.0 / 365.0, 0.0042875, 0.003525)?;
    /// let k = m.max_premium_adjusted_call_delta_strike(0.21)?;
    /// let c = DeltaConvention::ForwardPremiumAdjusted;
    /// let d = |k: f64| m.delta(c, OptionKind::Call, k, 0.21).unwrap();
    /// assert!(d(k) > d(k * 0.999) && d(k) > d(k * 1.001));
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn max_premium_adjusted_call_delta_strike(&self, vol: f64) -> Result<f64, DeltaError> {
        check_vol(vol)?;
        let s = vol * self.tau.sqrt();
        // h(d) = s·N(d) − n(d) < 0 on (−∞, −s], increasing after, → s > 0.
        let h = |d: f64| s * norm_cdf(d) - norm_pdf(d);
        let mut hi = 1.0_f64;
        while h(hi) <= 0.0 {
            hi *= 2.0;
            if hi > 64.0 {
                break;
            }
        }
        let d2 = bisect(-s, hi, h);
        Ok(self.forward() * (-d2 * s - 0.5 * s * s).exp())
    }

    /// The range of deltas attainable under `conv` for `kind` at `vol`: `(min, max]` for
    /// positive (call) deltas, `[min, max)` for negative (put) deltas.
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a vol that is not finite and positive.
    ///
    /// ```
    /// use volfit::risk::delta::{DeltaConvention, FxMarket};
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(1.3, 0.5, 0.01, 0.03)?;
    /// let (lo, hi) = m.delta_range(DeltaConvention::Spot, OptionKind::Call, 0.2)?;
    /// assert_eq!(lo, 0.0);
    /// assert!((hi - (-0.03f64 * 0.5).exp()).abs() < 1e-15);
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn delta_range(
        &self,
        conv: DeltaConvention,
        kind: OptionKind,
        vol: f64,
    ) -> Result<(f64, f64), DeltaError> {
        check_vol(vol)?;
        let d = self.scale(conv);
        Ok(match (kind, conv.is_premium_adjusted()) {
            (OptionKind::Call, false) => (0.0, d),
            (OptionKind::Put, false) => (-d, 0.0),
            (OptionKind::Call, true) => {
                let k = self.max_premium_adjusted_call_delta_strike(vol)?;
                (0.0, self.delta_unchecked(conv, kind, k, vol))
            }
            (OptionKind::Put, true) => (f64::NEG_INFINITY, 0.0),
        })
    }

    /// The strike whose delta under `conv` is `delta` at the fixed vol `vol`.
    ///
    /// Plain deltas in closed form, `K = f·exp(−φ N⁻¹(φΔ/D)·σ√τ + σ²τ/2)` with `D = e^{−r_f τ}`
    /// (spot) or 1 (forward). Premium-adjusted deltas by bisection in the bracket of R&W
    /// (section 1.2): a call between the strike of maximum delta
    /// ([`FxMarket::max_premium_adjusted_call_delta_strike`]) and the plain-delta strike of the
    /// same delta (the premium-adjusted call delta is not monotone; the root on the upper
    /// branch is the quoted one); a put (monotone) below the plain-delta strike.
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a vol that is not finite and positive, a `delta` not finite;
    /// [`DeltaError::Unattainable`] outside [`FxMarket::delta_range`].
    ///
    /// ```
    /// use volfit::risk::delta::{DeltaConvention, FxMarket};
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(90.68, 31.0 / 365.0, 0.0042875, 0.003525)?;
    /// let c = DeltaConvention::SpotPremiumAdjusted;
    /// let k = m.strike_from_delta(c, OptionKind::Call, 0.25, 0.187693)?;
    /// assert!((k - 94.10).abs() < 5e-3); // R&W Table 6, USDJPY 25Δ call
    /// assert!(m.strike_from_delta(c, OptionKind::Call, 0.99, 0.187693).is_err());
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn strike_from_delta(
        &self,
        conv: DeltaConvention,
        kind: OptionKind,
        delta: f64,
        vol: f64,
    ) -> Result<f64, DeltaError> {
        check_vol(vol)?;
        check("delta", delta, delta.is_finite(), "finite")?;
        let (min, max) = self.delta_range(conv, kind, vol)?;
        let inside = match kind {
            OptionKind::Call => delta > min && delta <= max,
            OptionKind::Put => delta >= min && delta < max,
        };
        if !inside {
            return Err(DeltaError::Unattainable { delta, min, max });
        }
        let f = self.forward();
        let s = vol * self.tau.sqrt();
        let phi = kind.theta();
        let d = self.scale(conv);
        // Plain: φ N(φ d₁) = Δ/D. At the end of the range (Δ = D) the strike is 0.
        let p = (phi * delta / d).min(1.0);
        let plain = |p: f64| f * (-phi * inverse_norm_cdf(p) * s + 0.5 * s * s).exp();
        if !conv.is_premium_adjusted() {
            let k = plain(p);
            return if k > 0.0 && k < f64::INFINITY {
                Ok(k)
            } else {
                Err(DeltaError::Unattainable { delta, min, max })
            };
        }
        let g = |ln_k: f64| self.delta_unchecked(conv, kind, ln_k.exp(), vol) - delta;
        match kind {
            OptionKind::Call => {
                let k_max = self.max_premium_adjusted_call_delta_strike(vol)?;
                if delta == max {
                    return Ok(k_max);
                }
                // The plain strike of the same delta lies above the root (Δ_pa < Δ).
                let k_plain = plain(p).max(k_max);
                Ok(bisect(k_max.ln(), k_plain.ln(), g).exp())
            }
            OptionKind::Put => {
                // Δ_pa falls (|Δ_pa| rises) with K and |Δ_pa| ≥ |Δ| at one strike: the root is
                // below the plain strike (for |Δ| < D). g > 0 below the root, < 0 above.
                let hi = if p < 1.0 { plain(p) } else { f * (s * s).exp() };
                let mut hi_ln = hi.ln();
                while g(hi_ln) > 0.0 {
                    hi_ln += s.max(1e-3);
                    if hi_ln > 700.0 {
                        return Err(DeltaError::Unattainable { delta, min, max });
                    }
                }
                let mut lo_ln = hi_ln - s.max(1e-3);
                while g(lo_ln) < 0.0 {
                    lo_ln -= (hi_ln - lo_ln).max(s);
                    if lo_ln < -700.0 {
                        return Err(DeltaError::Unattainable { delta, min, max });
                    }
                }
                Ok(bisect(lo_ln, hi_ln, g).exp())
            }
        }
    }

    /// The ATM strike under `atm` at the ATM vol `vol` (R&W Table 2).
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a vol that is not finite and positive.
    ///
    /// ```
    /// use volfit::risk::delta::{AtmConvention, FxMarket};
    /// let m = FxMarket::new(1.3088, 31.0 / 365.0, 0.003525, 0.020113)?;
    /// let atm = AtmConvention::DeltaNeutral { premium_adjusted: false };
    /// assert!((m.atm_strike(atm, 0.216215)? - 1.3096).abs() < 5e-5); // R&W Table 5
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn atm_strike(&self, atm: AtmConvention, vol: f64) -> Result<f64, DeltaError> {
        check_vol(vol)?;
        let half_var = 0.5 * vol * vol * self.tau;
        Ok(match atm {
            AtmConvention::Forward => self.forward(),
            AtmConvention::Spot => self.spot,
            AtmConvention::DeltaNeutral {
                premium_adjusted: false,
            } => self.forward() * half_var.exp(),
            AtmConvention::DeltaNeutral {
                premium_adjusted: true,
            } => self.forward() * (-half_var).exp(),
        })
    }

    /// The strike where the smile's own vol gives `delta`: the fixed point
    /// `K = K_Δ(σ(K))` (R&W section 3; Clark 2011, section 3.6), iterated from the
    /// fixed-vol strike at `σ(f)`. Returns `(K, σ(K))`.
    ///
    /// `smile` maps a strike to a vol; a value that is not finite and positive is "no vol".
    ///
    /// # Errors
    /// [`DeltaError::NoVol`] where the smile has no vol, the errors of
    /// [`FxMarket::strike_from_delta`], [`DeltaError::NoConvergence`] after 200 iterations.
    ///
    /// ```
    /// use volfit::risk::delta::{DeltaConvention, FxMarket};
    /// use volfit::OptionKind;
    /// let m = FxMarket::new(100.0, 0.25, 0.02, 0.01)?;
    /// let smile = |k: f64| 0.2 + 0.1 * (k / m.forward()).ln().powi(2);
    /// let c = DeltaConvention::Forward;
    /// let (k, v) = m.strike_from_delta_on_smile(c, OptionKind::Put, -0.1, smile)?;
    /// assert!((m.delta(c, OptionKind::Put, k, v)? + 0.1).abs() < 1e-12);
    /// assert!((v - smile(k)).abs() < 1e-15);
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn strike_from_delta_on_smile(
        &self,
        conv: DeltaConvention,
        kind: OptionKind,
        delta: f64,
        smile: impl Fn(f64) -> f64,
    ) -> Result<(f64, f64), DeltaError> {
        let vol_at = |k: f64| {
            let v = smile(k);
            if v > 0.0 && v < f64::INFINITY {
                Ok(v)
            } else {
                Err(DeltaError::NoVol { strike: k, vol: v })
            }
        };
        let mut k = self.forward();
        let mut step = f64::INFINITY;
        for _ in 0..200 {
            let v = vol_at(k)?;
            let next = self.strike_from_delta(conv, kind, delta, v)?;
            step = (next / k - 1.0).abs();
            k = next;
            if step <= 1e-15 {
                return Ok((k, vol_at(k)?));
            }
        }
        if step <= 1e-12 {
            return Ok((k, vol_at(k)?));
        }
        Err(DeltaError::NoConvergence {
            what: "strike-from-delta fixed point on the smile",
            iterations: 200,
            step,
        })
    }

    /// ATM vol, risk reversal and smile strangle (butterfly) at `delta` (e.g. 0.25 or 0.1) of
    /// a smile (R&W section 2: `σ_RR = σ(K_C) − σ(K_P)`, smile strangle
    /// `σ_SS = (σ(K_C) + σ(K_P))/2 − σ_ATM`), with the strikes.
    ///
    /// For a [`crate::VolSurface`] at expiry `t`, pass `|k| surface.vol(k, t)` and build the
    /// market with the surface's forward (`FxMarket::new(surface.forward(t)·e^{−(r_d−r_f)t},
    /// t, r_d, r_f)`).
    ///
    /// # Errors
    /// As [`FxMarket::strike_from_delta_on_smile`]; [`DeltaError::Input`] for `delta` outside
    /// `(0, 1)`.
    ///
    /// ```
    /// use volfit::risk::delta::{AtmConvention, DeltaConvention, FxMarket};
    /// let m = FxMarket::new(100.0, 0.25, 0.0, 0.0)?;
    /// let q = m.smile_quotes(
    ///     DeltaConvention::Forward,
    ///     AtmConvention::Forward,
    ///     0.25,
    ///     |_k: f64| 0.2,
    /// )?;
    /// assert!(q.risk_reversal.abs() < 1e-15 && q.butterfly.abs() < 1e-15);
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn smile_quotes(
        &self,
        conv: DeltaConvention,
        atm: AtmConvention,
        delta: f64,
        smile: impl Fn(f64) -> f64,
    ) -> Result<SmileQuotes, DeltaError> {
        check("delta", delta, delta > 0.0 && delta < 1.0, "0 < Δ < 1")?;
        let (k_call, vol_call) =
            self.strike_from_delta_on_smile(conv, OptionKind::Call, delta, &smile)?;
        let (k_put, vol_put) =
            self.strike_from_delta_on_smile(conv, OptionKind::Put, -delta, &smile)?;
        // The ATM strike depends on the ATM vol for the delta-neutral straddle: fixed point.
        let mut vol_atm = smile(self.forward());
        let mut k_atm = self.forward();
        for _ in 0..200 {
            if !(vol_atm > 0.0 && vol_atm < f64::INFINITY) {
                return Err(DeltaError::NoVol {
                    strike: k_atm,
                    vol: vol_atm,
                });
            }
            let next = self.atm_strike(atm, vol_atm)?;
            let done = (next / k_atm - 1.0).abs() <= 1e-15;
            k_atm = next;
            vol_atm = smile(k_atm);
            if done {
                break;
            }
        }
        check_vol(vol_atm)?;
        Ok(SmileQuotes {
            delta,
            k_atm,
            vol_atm,
            k_call,
            vol_call,
            k_put,
            vol_put,
            risk_reversal: vol_call - vol_put,
            butterfly: 0.5 * (vol_call + vol_put) - vol_atm,
        })
    }
}

/// A smile read at one delta: ATM, the call and put at `±delta`, the risk reversal and the
/// smile strangle ("butterfly" in the smile convention of R&W section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SmileQuotes {
    /// The delta level (e.g. 0.25).
    pub delta: f64,
    /// ATM strike.
    pub k_atm: f64,
    /// ATM vol.
    pub vol_atm: f64,
    /// The call strike at `+delta`.
    pub k_call: f64,
    /// Its vol.
    pub vol_call: f64,
    /// The put strike at `−delta`.
    pub k_put: f64,
    /// Its vol.
    pub vol_put: f64,
    /// `σ(K_C) − σ(K_P)`.
    pub risk_reversal: f64,
    /// `(σ(K_C) + σ(K_P))/2 − σ_ATM`.
    pub butterfly: f64,
}

/// Broker quotes for one expiry at one delta level (R&W section 2): ATM vol, risk reversal
/// `σ_RR` and the quoted market strangle `σ_SQ` ("broker butterfly").
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BrokerQuotes {
    /// The delta level (0.25 for the 25Δ quotes).
    pub delta: f64,
    /// ATM vol `σ_ATM`.
    pub atm_vol: f64,
    /// Risk reversal `σ_RR = σ(K_C) − σ(K_P)` on the smile.
    pub risk_reversal: f64,
    /// Quoted market strangle `σ_SQ`: the strangle at `σ_ATM + σ_SQ` struck at that vol's
    /// `±delta` strikes sets the price the smile must match.
    pub strangle: f64,
}

/// The smile built from [`BrokerQuotes`] (R&W sections 2–3): the three pillars, the market
/// strangle, and the polynomial in delta through the pillars.
///
/// The smile is the quadratic in the convention's call delta `x(K, σ)` (premium-adjusted
/// where the convention is) through `(x_P, σ_25P)`, `(x_ATM, σ_ATM)`, `(x_C, σ_25C)`, read at a
/// strike as the fixed point `σ(K) = Q(x(K, σ(K)))`. With `σ_25C = σ_ATM + σ_RR/2 + σ_SS`,
/// `σ_25P = σ_ATM − σ_RR/2 + σ_SS` the smile strangle `σ_SS` is solved so the smile prices
/// the market strangle. For the forward delta this is Malz's parabola
/// `σ(Δ) = σ_ATM − 2σ_RR(Δ − ½) + 16σ_SS(Δ − ½)²`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FxSmile {
    /// The market.
    pub market: FxMarket,
    /// The delta convention of the quotes.
    pub convention: DeltaConvention,
    /// The ATM convention.
    pub atm: AtmConvention,
    /// The quotes.
    pub quotes: BrokerQuotes,
    /// `K_ATM`.
    pub k_atm: f64,
    /// `K_25C` (the call pillar at `+delta` and `σ_25C`).
    pub k_call: f64,
    /// `K_25P`.
    pub k_put: f64,
    /// `σ(K_25C) = σ_ATM + σ_RR/2 + σ_SS`.
    pub vol_call: f64,
    /// `σ(K_25P) = σ_ATM − σ_RR/2 + σ_SS`.
    pub vol_put: f64,
    /// The smile strangle `σ_SS = (σ(K_25C) + σ(K_25P))/2 − σ_ATM`.
    pub smile_strangle: f64,
    /// The market strangle's call strike `K_25C_S_M` (`+delta` at `σ_ATM + σ_SQ`).
    pub k_call_market_strangle: f64,
    /// The market strangle's put strike `K_25P_S_M`.
    pub k_put_market_strangle: f64,
    /// The market strangle's price `v_25_S_M` (domestic per unit foreign).
    pub market_strangle_price: f64,
    /// `(a, b, c)` of `Q(x) = a + b x + c x²`.
    pub coefficients: [f64; 3],
}

impl FxSmile {
    /// The smile's vol at `strike`: the root of `σ = Q(x(K, σ))` by bisection.
    ///
    /// # Errors
    /// [`DeltaError::Input`] for a strike that is not finite and positive;
    /// [`DeltaError::NoVol`] where the quadratic gives no positive vol.
    pub fn vol(&self, strike: f64) -> Result<f64, DeltaError> {
        check_strike(strike)?;
        let [a, b, c] = self.coefficients;
        let q = |s: f64| {
            let x = self
                .market
                .delta_unchecked(self.convention, OptionKind::Call, strike, s);
            a + x * (b + c * x)
        };
        let r = |s: f64| s - q(s);
        // Call deltas lie in [0, 1]: Q is bounded by |a| + |b| + |c| there.
        let lo = 1e-8;
        let hi = a.abs() + b.abs() + c.abs() + 1.0;
        if r(lo) >= 0.0 {
            return Err(DeltaError::NoVol { strike, vol: q(lo) });
        }
        Ok(bisect(lo, hi, r))
    }
}

fn quadratic_through(x: [f64; 3], y: [f64; 3]) -> [f64; 3] {
    // Newton divided differences, expanded to a + b x + c x².
    let d01 = (y[1] - y[0]) / (x[1] - x[0]);
    let d12 = (y[2] - y[1]) / (x[2] - x[1]);
    let c = (d12 - d01) / (x[2] - x[0]);
    let b = d01 - c * (x[0] + x[1]);
    let a = y[0] - x[0] * (b + c * x[0]);
    [a, b, c]
}

impl FxMarket {
    /// The smile from broker quotes (R&W sections 2–3, their Tables 5–8): the ATM strike, the
    /// market strangle strikes and price at `σ_ATM + σ_SQ`, then the smile strangle `σ_SS`
    /// (secant iteration from `σ_SQ`) such that the polynomial-in-delta smile through the three
    /// pillars prices the market strangle. See [`FxSmile`].
    ///
    /// # Errors
    /// [`DeltaError::Input`] for quotes outside their domains; the errors of the strike
    /// solves; [`DeltaError::NoConvergence`] if the secant iteration fails.
    ///
    /// ```
    /// use volfit::risk::delta::{AtmConvention, BrokerQuotes, DeltaConvention, FxMarket};
    /// let m = FxMarket::new(1.3088, 31.0 / 365.0, 0.003525, 0.020113)?;
    /// let q = BrokerQuotes { delta: 0.25, atm_vol: 0.216215, risk_reversal: -0.005, strangle: 0.007375 };
    /// let atm = AtmConvention::DeltaNeutral { premium_adjusted: false };
    /// let s = m.smile_from_broker_quotes(DeltaConvention::Spot, atm, q)?;
    /// assert!((s.smile_strangle - 0.007377).abs() < 5e-7); // R&W Table 8
    /// # Ok::<(), volfit::risk::delta::DeltaError>(())
    /// ```
    pub fn smile_from_broker_quotes(
        &self,
        conv: DeltaConvention,
        atm: AtmConvention,
        quotes: BrokerQuotes,
    ) -> Result<FxSmile, DeltaError> {
        let BrokerQuotes {
            delta,
            atm_vol,
            risk_reversal: rr,
            strangle: sq,
        } = quotes;
        check("delta", delta, delta > 0.0 && delta < 0.5, "0 < Δ < 0.5")?;
        check_vol(atm_vol)?;
        check("risk_reversal", rr, rr.is_finite(), "finite")?;
        check(
            "strangle",
            sq,
            (atm_vol + sq) > 0.0 && sq.is_finite(),
            "σ_ATM + σ_SQ > 0",
        )?;
        let k_atm = self.atm_strike(atm, atm_vol)?;
        let vol_ms = atm_vol + sq;
        let kc_ms = self.strike_from_delta(conv, OptionKind::Call, delta, vol_ms)?;
        let kp_ms = self.strike_from_delta(conv, OptionKind::Put, -delta, vol_ms)?;
        let price_ms = self.premium(OptionKind::Call, kc_ms, vol_ms)?
            + self.premium(OptionKind::Put, kp_ms, vol_ms)?;
        let x_of = |k: f64, s: f64| self.delta_unchecked(conv, OptionKind::Call, k, s);
        let build = |ss: f64| -> Result<FxSmile, DeltaError> {
            let vol_call = atm_vol + 0.5 * rr + ss;
            let vol_put = atm_vol - 0.5 * rr + ss;
            let k_call = self.strike_from_delta(conv, OptionKind::Call, delta, vol_call)?;
            let k_put = self.strike_from_delta(conv, OptionKind::Put, -delta, vol_put)?;
            let x = [
                x_of(k_put, vol_put),
                x_of(k_atm, atm_vol),
                x_of(k_call, vol_call),
            ];
            Ok(FxSmile {
                market: *self,
                convention: conv,
                atm,
                quotes,
                k_atm,
                k_call,
                k_put,
                vol_call,
                vol_put,
                smile_strangle: ss,
                k_call_market_strangle: kc_ms,
                k_put_market_strangle: kp_ms,
                market_strangle_price: price_ms,
                coefficients: quadratic_through(x, [vol_put, atm_vol, vol_call]),
            })
        };
        let mismatch = |ss: f64| -> Result<(FxSmile, f64), DeltaError> {
            let s = build(ss)?;
            let v = self.premium(OptionKind::Call, kc_ms, s.vol(kc_ms)?)?
                + self.premium(OptionKind::Put, kp_ms, s.vol(kp_ms)?)?;
            Ok((s, v - price_ms))
        };
        let (mut x0, mut x1) = (sq, sq + 1e-4 * atm_vol);
        let (_, mut g0) = mismatch(x0)?;
        let mut step = f64::INFINITY;
        for _ in 0..60 {
            let (s1, g1) = mismatch(x1)?;
            if g1 == 0.0 || (x1 - x0).abs() <= 1e-15 * atm_vol {
                return Ok(s1);
            }
            let x2 = x1 - g1 * (x1 - x0) / (g1 - g0);
            step = (x2 - x1).abs();
            (x0, g0, x1) = (x1, g1, x2);
            if !x1.is_finite() {
                break;
            }
        }
        Err(DeltaError::NoConvergence {
            what: "smile strangle from the market strangle price",
            iterations: 60,
            step,
        })
    }
}

/// The vanna–volga smile's first-order approximation (Castagna & Mercurio 2007, the
/// approximation `σ(K) ≈ σ₁(K)` of their section 3): the log-strike Lagrange interpolation
///
/// `σ(K) = Σᵢ σᵢ ∏_{j≠i} ln(K/K_j) / ln(K_i/K_j)`
///
/// through the three pillars `(K₁, σ₁) = (K_25P, σ_25P)`, `(K₂, σ₂) = (K_ATM, σ_ATM)`,
/// `(K₃, σ₃) = (K_25C, σ_25C)`; it reproduces the pillar vols exactly.
///
/// # Errors
/// [`DeltaError::Input`] for strikes or vols that are not finite and positive, or pillar
/// strikes not strictly increasing; [`DeltaError::NoVol`] where the approximation is not
/// positive (far wings).
///
/// ```
/// use volfit::risk::delta::vanna_volga_first_order;
/// let p = [(1.172, 0.0979), (1.2115, 0.09375), (1.2504, 0.0929)];
/// assert_eq!(vanna_volga_first_order(p, 1.2115)?, 0.09375);
/// # Ok::<(), volfit::risk::delta::DeltaError>(())
/// ```
pub fn vanna_volga_first_order(pillars: [(f64, f64); 3], strike: f64) -> Result<f64, DeltaError> {
    check_strike(strike)?;
    for (k, v) in pillars {
        check_strike(k)?;
        check_vol(v)?;
    }
    let [(k1, _), (k2, _), (k3, _)] = pillars;
    check("pillar strikes", k2, k1 < k2 && k2 < k3, "K₁ < K₂ < K₃")?;
    if let Some(&(_, v)) = pillars.iter().find(|p| p.0 == strike) {
        return Ok(v);
    }
    let ln = |a: f64, b: f64| (a / b).ln();
    let y1 = ln(k2, strike) * ln(k3, strike) / (ln(k2, k1) * ln(k3, k1));
    let y2 = ln(strike, k1) * ln(k3, strike) / (ln(k2, k1) * ln(k3, k2));
    let y3 = ln(strike, k1) * ln(strike, k2) / (ln(k3, k1) * ln(k3, k2));
    let v = y1 * pillars[0].1 + y2 * pillars[1].1 + y3 * pillars[2].1;
    if v > 0.0 && v < f64::INFINITY {
        Ok(v)
    } else {
        Err(DeltaError::NoVol { strike, vol: v })
    }
}
