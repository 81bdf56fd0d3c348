//! SABR (Hagan, Kumar, Lesniewski & Woodward, *Managing Smile Risk*, Wilmott 2002): the
//! forward `dF = V·(F + b)^β dW₁`, `dV = ν·V dW₂`, `d⟨W₁, W₂⟩ = ρ dt`, `V₀ = α`, with a shift
//! `b ≥ 0` for low or negative rates.
//!
//! Three implied-vol expansions ([`SabrExpansion`]):
//! * [`Hagan`](SabrExpansion::Hagan) — Hagan et al. (2002) eq. 2.17a, lognormal (Black) vol,
//!   with every term, including `(1−β)⁴/1920·log⁴(f/K)` (QuantLib's `sabrVolatility`).
//! * [`Obloj`](SabrExpansion::Obloj) — Obłój, *Fine-tune your smile* (2008): the leading term
//!   `ν·log(f/K)/x(ζ)` with `ζ = ν(f^{1−β} − K^{1−β})/(α(1−β))`, correct as `β → 1`.
//! * [`Normal`](SabrExpansion::Normal) — Hagan's normal (Bachelier) vol expansion in the form
//!   of Le Floc'h & Kennedy (2014, eq. 1), with Obłój's `ζ`:
//!   `σ_N = (f − K)·ν/x(ζ)·[1 + (g + ¼ρναβ((f+b)(K+b))^{(β−1)/2} + (2−3ρ²)ν²/24)T]`,
//!   `g = (β² − 2β)α²((f+b)(K+b))^{β−1}/24`.
//!
//! Numerics. The ratio `z/x(z)` is evaluated without cancellation everywhere: near `z = 0`
//! from the Legendre series `x(z)/z = Σ Pₙ(ρ) zⁿ/(n+1)` (the generating function
//! `(1 − 2ρz + z²)^{−1/2} = Σ Pₙ(ρ)zⁿ` integrated), elsewhere from `ln_1p` forms with the
//! differences rewritten as products, so the at-the-money limit is the formula itself, not a
//! special case. `(f^{1−β} − K^{1−β})` and `f − K` are written as `f^{1−β}·y·E((1−β)y)` with
//! `y = ln(f/K)` and `E(u) = (1 − e^{−u})/u`. The formula is written once over a number type,
//! so derivatives in strike (to second order) and in the parameters are exact (forward-mode
//! automatic differentiation).
//!
//! Files: [`expansion`](self) formulas; the at-the-money cubic; the density, scan and
//! [`SmileModel`](super::SmileModel) view; Le Floc'h–Kennedy's start; the calibration spec
//! ([`SabrOptions`]).

mod atm;
mod context;
mod convention;
mod density;
mod expansion;
mod guess;
mod spec;

pub use context::SabrContext;
pub use spec::{SabrBeta, SabrOptions};

use super::ParamError;
use super::ad::{Dual, Real, Taylor2};
use crate::black::{OptionKind, bachelier_price, black_price, implied_normal_vol, implied_vol};
use expansion::sabr_vol;
use serde::{Deserialize, Serialize};

/// Which implied-vol expansion of SABR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SabrExpansion {
    /// Hagan et al. (2002) eq. 2.17a: Black vols of `F + b`.
    #[default]
    Hagan,
    /// Obłój (2008): Black vols of `F + b`.
    Obloj,
    /// Hagan's normal-vol expansion (Le Floc'h & Kennedy 2014 form): Bachelier vols.
    Normal,
}

impl SabrExpansion {
    /// Whether the expansion gives normal (Bachelier) vols.
    pub fn is_normal(self) -> bool {
        self == SabrExpansion::Normal
    }

    /// Every expansion, in declaration order (the list `FromStr` and Python read).
    pub const ALL: [SabrExpansion; 3] = [
        SabrExpansion::Hagan,
        SabrExpansion::Obloj,
        SabrExpansion::Normal,
    ];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            SabrExpansion::Hagan => "hagan",
            SabrExpansion::Obloj => "obloj",
            SabrExpansion::Normal => "normal",
        }
    }
}

impl std::str::FromStr for SabrExpansion {
    type Err = crate::names::UnknownName;
    fn from_str(s: &str) -> Result<Self, crate::names::UnknownName> {
        let items = SabrExpansion::ALL.map(|e| (e, e.name(), &[] as &[&str]));
        crate::names::parse_name("SABR expansion", s, &items)
    }
}

/// A SABR smile at one expiry, valid by construction: [`Sabr::new`],
/// [`SabrParams::build`] and deserialisation check the domain ([`SabrParams::build`]'s
/// list); read the parameters through the getters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SabrParams", into = "SabrParams")]
pub struct Sabr {
    pub(crate) alpha: f64,
    pub(crate) beta: f64,
    pub(crate) rho: f64,
    pub(crate) nu: f64,
    pub(crate) shift: f64,
    pub(crate) forward: f64,
    pub(crate) t: f64,
    pub(crate) expansion: SabrExpansion,
}

/// The parameters of a [`Sabr`] smile as plain data: build one with [`SabrParams::build`],
/// which checks them.
///
/// ```
/// use volfit::models::sabr::{Sabr, SabrParams};
/// let s = Sabr::new(100.0, 0.5, 0.25, 1.0, -0.3, 0.8)?;
/// let bumped = SabrParams { nu: 0.81, ..s.params() }.build()?;
/// assert!(bumped.vol(90.0) != s.vol(90.0));
/// assert!(SabrParams { rho: 5.0, ..s.params() }.build().is_err());
/// # Ok::<(), volfit::models::ParamError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SabrParams {
    /// Initial volatility `α > 0`.
    pub alpha: f64,
    /// CEV exponent `β ∈ [0, 1]`.
    pub beta: f64,
    /// Correlation `ρ ∈ (−1, 1)`.
    pub rho: f64,
    /// Volatility of volatility `ν ≥ 0`.
    pub nu: f64,
    /// Shift `b ≥ 0` (`0`: classic SABR).
    pub shift: f64,
    /// Forward.
    pub forward: f64,
    /// Time to expiry in years.
    pub t: f64,
    /// The implied-vol expansion.
    pub expansion: SabrExpansion,
}

impl SabrParams {
    /// The smile, if the parameters are in SABR's domain: `α > 0`, `β ∈ [0, 1]`, `|ρ| < 1`,
    /// `0 ≤ ν ≤ 10³`, `b ≥ 0`, `T > 0`, all finite, `10⁻⁶ ≤ α·(F+b)^(β−1) ≤ 10³`
    /// where `F + b > 0` ([`MIN_LOGNORMAL_ALPHA`], [`MAX_SCALE`]), and `F + b > 0` unless the expansion is normal with
    /// `β = 0`.
    ///
    /// # Errors
    /// The first [`ParamError`] found.
    pub fn build(self) -> Result<Sabr, ParamError> {
        let s = Sabr {
            alpha: self.alpha,
            beta: self.beta,
            rho: self.rho,
            nu: self.nu,
            shift: self.shift,
            forward: self.forward,
            t: self.t,
            expansion: self.expansion,
        };
        s.validate()?;
        Ok(s)
    }
}

/// The largest `ν` and lognormal-equivalent `α·(F+b)^(β−1)` of a checked
/// [`Sabr`].
pub const MAX_SCALE: f64 = 1e3;

/// The smallest lognormal-equivalent `α·(F+b)^(β−1)` of a checked [`Sabr`] (`10⁻⁶`).
pub const MIN_LOGNORMAL_ALPHA: f64 = 1e-6;

impl TryFrom<SabrParams> for Sabr {
    type Error = ParamError;
    fn try_from(p: SabrParams) -> Result<Self, ParamError> {
        p.build()
    }
}

impl From<Sabr> for SabrParams {
    fn from(s: Sabr) -> Self {
        s.params()
    }
}

/// `v` if it is a vol (finite and positive), else NaN.
#[inline]
fn usable(v: f64) -> f64 {
    if v > 0.0 && v < f64::INFINITY {
        v
    } else {
        f64::NAN
    }
}

impl Sabr {
    /// The parameters as plain data.
    pub fn params(&self) -> SabrParams {
        SabrParams {
            alpha: self.alpha,
            beta: self.beta,
            rho: self.rho,
            nu: self.nu,
            shift: self.shift,
            forward: self.forward,
            t: self.t,
            expansion: self.expansion,
        }
    }
    /// Initial volatility `α`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// CEV exponent `β`.
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// Correlation `ρ`.
    pub fn rho(&self) -> f64 {
        self.rho
    }
    /// Volatility of volatility `ν`.
    pub fn nu(&self) -> f64 {
        self.nu
    }
    /// Shift `b`.
    pub fn shift(&self) -> f64 {
        self.shift
    }
    /// Forward.
    pub fn forward(&self) -> f64 {
        self.forward
    }
    /// Time to expiry.
    pub fn t(&self) -> f64 {
        self.t
    }
    /// The implied-vol expansion.
    pub fn expansion(&self) -> SabrExpansion {
        self.expansion
    }
}

impl Sabr {
    /// A classic (unshifted) SABR smile with Hagan's lognormal expansion.
    ///
    /// # Errors
    /// [`ParamError`] if a parameter is out of its domain ([`SabrParams::build`]).
    ///
    /// ```
    /// use volfit::models::sabr::Sabr;
    /// // QuantLib's testSabrInterpolation smile: F = 0.039, T = 1, α = 0.3, β = 0.6.
    /// let s = Sabr::new(0.039, 1.0, 0.3, 0.6, 0.01, 0.02)?;
    /// assert!((s.vol(0.03) - 1.16725837321531).abs() < 1e-12);
    /// # Ok::<(), volfit::models::ParamError>(())
    /// ```
    pub fn new(
        forward: f64,
        t: f64,
        alpha: f64,
        beta: f64,
        rho: f64,
        nu: f64,
    ) -> Result<Sabr, ParamError> {
        let s = Sabr {
            alpha,
            beta,
            rho,
            nu,
            shift: 0.0,
            forward,
            t,
            expansion: SabrExpansion::Hagan,
        };
        s.validate()?;
        Ok(s)
    }

    /// The same smile with another expansion.
    ///
    /// # Errors
    /// [`ParamError`] when the smile is outside the new expansion's domain (a lognormal
    /// expansion needs `F + b > 0`).
    pub fn with_expansion(mut self, e: SabrExpansion) -> Result<Sabr, ParamError> {
        self.expansion = e;
        self.validate()?;
        Ok(self)
    }

    /// The same smile with shift `b`.
    ///
    /// # Errors
    /// [`ParamError`] if `b` is negative or `F + b ≤ 0` with a lognormal expansion.
    pub fn with_shift(mut self, b: f64) -> Result<Sabr, ParamError> {
        self.shift = b;
        self.validate()?;
        Ok(self)
    }

    /// Checks the domain: `α > 0`, `β ∈ [0, 1]`, `|ρ| < 1`, `ν ≥ 0`, `b ≥ 0`, `T > 0`, all
    /// finite, and `F + b > 0` unless the expansion is normal with `β = 0`.
    ///
    /// # Errors
    /// The first [`ParamError`] found.
    fn validate(&self) -> Result<(), ParamError> {
        let err = |name, value, constraint| {
            Err(ParamError {
                model: "SABR",
                name,
                value,
                constraint,
            })
        };
        let finite = [
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("rho", self.rho),
            ("nu", self.nu),
            ("shift", self.shift),
            ("forward", self.forward),
            ("t", self.t),
        ];
        for (name, v) in finite {
            if !v.is_finite() {
                return err(name, v, "finite");
            }
        }
        if !(self.alpha > 0.0) {
            return err("alpha", self.alpha, "alpha > 0");
        }
        if !(0.0..=1.0).contains(&self.beta) {
            return err("beta", self.beta, "0 <= beta <= 1");
        }
        if !(self.rho.abs() < 1.0) {
            return err("rho", self.rho, "|rho| < 1");
        }
        if !(0.0..=MAX_SCALE).contains(&self.nu) {
            return err("nu", self.nu, "0 <= nu <= 1e3");
        }
        // α in lognormal units, α·(F+b)^(β−1): a vol of 10⁵ % is far beyond any smile, and
        // beyond it the expansions overflow (α = 1e300 in a surface.json answered NaN); below
        // 10⁻⁴ % the vols underflow (α = 1e-320 answered 0).
        let fb = self.forward + self.shift;
        if fb > 0.0
            && !(MIN_LOGNORMAL_ALPHA..=MAX_SCALE).contains(&(self.alpha * fb.powf(self.beta - 1.0)))
        {
            return err("alpha", self.alpha, "1e-6 <= alpha (F+b)^(beta-1) <= 1e3");
        }
        if !(self.shift >= 0.0) {
            return err("shift", self.shift, "shift >= 0");
        }
        if !(self.t > 0.0) {
            return err("t", self.t, "t > 0");
        }
        let f = self.forward + self.shift;
        if !(f > 0.0 || self.expansion.is_normal() && self.beta == 0.0) {
            return err(
                "forward",
                self.forward,
                "forward + shift > 0 (or the normal expansion with beta = 0)",
            );
        }
        Ok(())
    }

    /// Whether `strike` is inside the expansion's domain (`K + b > 0`, or any strike for the
    /// normal expansion with `β = 0`).
    pub fn in_domain(&self, strike: f64) -> bool {
        strike.is_finite()
            && (strike + self.shift > 0.0 || (self.expansion.is_normal() && self.beta == 0.0))
    }

    /// Implied vol at `strike` in the expansion's convention: the Black vol of the shifted
    /// forward `F + b` at `K + b` for the lognormal expansions (the plain Black vol when
    /// `b = 0`), the Bachelier vol for the normal one.
    ///
    /// NaN where no vol exists, never 0, negative or ±inf: outside the domain
    /// ([`Sabr::in_domain`]), and where the expansion itself gives no usable number — a value
    /// beyond the range of doubles (e.g. `β = 0` at a strike of `10⁻³⁰⁰`) or one that is not
    /// positive (the asymptotic expansions break down for very large `ν²T` or `αT`).
    ///
    /// ```
    /// use volfit::models::sabr::{SabrExpansion, SabrParams};
    /// let s = SabrParams { alpha: 0.03, beta: 0.0, rho: -0.3, nu: 0.4, shift: 0.0,
    ///                      forward: 0.03, t: 1.0, expansion: SabrExpansion::Hagan }
    ///     .build()
    ///     .unwrap();
    /// assert!(s.vol(0.03) > 0.0);
    /// assert!(s.vol(1e308) > 0.0); // the far wing stays finite and positive
    /// assert!(s.vol(1e-300).is_nan()); // beyond the double range: no vol, not ∞
    /// assert!(s.vol(-0.01).is_nan()); // outside the domain
    /// ```
    pub fn vol(&self, strike: f64) -> f64 {
        if !self.in_domain(strike) {
            return f64::NAN;
        }
        usable(sabr_vol(
            self.expansion,
            self.forward + self.shift,
            strike + self.shift,
            self.t,
            self.alpha,
            self.beta,
            self.rho,
            self.nu,
        ))
    }

    /// `(σ, ∂σ/∂K, ∂²σ/∂K²)` at `strike`, exact (forward-mode differentiation of the formula);
    /// all NaN where [`Sabr::vol`] is.
    pub fn vol_strike_derivatives(&self, strike: f64) -> (f64, f64, f64) {
        if !self.in_domain(strike) {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let v = sabr_vol(
            self.expansion,
            self.forward + self.shift,
            Taylor2::var(strike + self.shift),
            self.t,
            Taylor2::cst(self.alpha),
            Taylor2::cst(self.beta),
            Taylor2::cst(self.rho),
            Taylor2::cst(self.nu),
        );
        if usable(v.v).is_nan() {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        (v.v, v.d1, v.d2)
    }

    /// `σ` and its gradient in `(α, β, ρ, ν)` at `strike`, exact; all NaN where
    /// [`Sabr::vol`] is.
    ///
    /// ```
    /// use volfit::models::sabr::{Sabr, SabrParams};
    /// let s = Sabr::new(100.0, 0.5, 0.25, 1.0, -0.3, 0.8)?;
    /// let (v, g) = s.vol_gradient(90.0);
    /// let h = 1e-6;
    /// let bump = |d: f64| SabrParams { nu: s.nu() + d, ..s.params() }.build().unwrap().vol(90.0);
    /// let (up, dn) = (bump(h), bump(-h));
    /// assert!((g[3] - (up - dn) / (2.0 * h)).abs() < 1e-8);
    /// assert_eq!(v, s.vol(90.0));
    /// # Ok::<(), volfit::models::ParamError>(())
    /// ```
    pub fn vol_gradient(&self, strike: f64) -> (f64, [f64; 4]) {
        if !self.in_domain(strike) {
            return (f64::NAN, [f64::NAN; 4]);
        }
        let v = sabr_vol(
            self.expansion,
            self.forward + self.shift,
            Dual::cst(strike + self.shift),
            self.t,
            Dual::<4>::var(self.alpha, 0),
            Dual::var(self.beta, 1),
            Dual::var(self.rho, 2),
            Dual::var(self.nu, 3),
        );
        if usable(v.v).is_nan() {
            return (f64::NAN, [f64::NAN; 4]);
        }
        (v.v, v.d)
    }

    /// The at-the-money vol (in the expansion's convention).
    pub fn atm_vol(&self) -> f64 {
        self.vol(self.forward)
    }

    /// Undiscounted call price at `strike`: Black on `F + b, K + b` for the lognormal
    /// expansions, Bachelier for the normal one.
    ///
    /// At `K + b ≤ 0` (outside the lognormal domain) the call is worth `F − K` whatever the
    /// vol; NaN for a strike that is not finite or where [`Sabr::vol`] is NaN.
    pub fn call_price(&self, strike: f64) -> f64 {
        let (f, k) = (self.forward + self.shift, strike + self.shift);
        if !strike.is_finite() {
            return f64::NAN;
        }
        if !self.in_domain(strike) {
            return f - k;
        }
        let v = self.vol(strike);
        if self.expansion.is_normal() {
            bachelier_price(OptionKind::Call, f, k, self.t, v)
        } else {
            black_price(OptionKind::Call, f, k, self.t, v)
        }
    }

    /// Black vol (of the unshifted forward) of the model's price at `strike`: the vol itself
    /// for an unshifted lognormal expansion, else the exact conversion through the price.
    ///
    /// # Errors
    /// When the model price has no Black vol (e.g. `K ≤ 0`: an error, never `Ok(NaN)`).
    pub fn black_vol(&self, strike: f64) -> Result<f64, crate::black::ImpliedVolError> {
        if !self.expansion.is_normal() && self.shift == 0.0 {
            let v = self.vol(strike);
            if !v.is_nan() {
                return Ok(v);
            }
        }
        let kind = OptionKind::otm(self.forward, strike);
        let p = self.price(kind, strike);
        implied_vol(kind, p, self.forward, strike, self.t)
    }

    /// Normal (Bachelier) vol of the model's price at `strike`.
    ///
    /// # Errors
    /// When the model price has no normal vol (an error, never `Ok(NaN)`).
    pub fn normal_vol(&self, strike: f64) -> Result<f64, crate::black::ImpliedVolError> {
        if self.expansion.is_normal() {
            let v = self.vol(strike);
            if !v.is_nan() {
                return Ok(v);
            }
        }
        let kind = OptionKind::otm(self.forward, strike);
        let p = self.price(kind, strike);
        implied_normal_vol(kind, p, self.forward, strike, self.t)
    }

    /// Undiscounted price of a call or put at `strike`.
    pub fn price(&self, kind: OptionKind, strike: f64) -> f64 {
        let c = self.call_price(strike);
        match kind {
            OptionKind::Call => c,
            OptionKind::Put => c - (self.forward - strike),
        }
    }
}
