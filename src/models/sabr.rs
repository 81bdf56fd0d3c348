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

use super::ad::{Dual, Real, Taylor2};
use super::{ParamError, SmileModel};
use crate::black::special::{norm_cdf, norm_pdf};
use crate::black::{OptionKind, bachelier_price, black_price, implied_normal_vol, implied_vol};
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
}

/// A SABR smile at one expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sabr {
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

/// Where a SABR smile's density is negative ([`Sabr::butterfly_scan`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButterflyScan {
    /// Strike range scanned.
    pub range: [f64; 2],
    /// Strikes scanned.
    pub points: usize,
    /// Smallest normalised density `g` seen (Durrleman's `g` for lognormal expansions, its
    /// Bachelier analogue `q·σ√T·√(2π)·e^{d²/2}` for the normal one; `1` for a flat smile,
    /// negative where the density is).
    pub min_g: f64,
    /// Strike of `min_g`.
    pub min_g_strike: f64,
    /// Strike intervals in which the density is negative (to the scan's resolution).
    pub negative: Vec<[f64; 2]>,
}

impl ButterflyScan {
    /// No negative density in the scanned range.
    pub fn is_free(&self) -> bool {
        self.negative.is_empty()
    }
}

/// `E(u) = (1 − e^{−u})/u`, `E(0) = 1`.
#[inline]
fn e_ratio<T: Real>(u: T) -> T {
    if u.re().abs() < 0.1 {
        // Σ (−u)ⁿ/(n+1)!, n ≤ 11: truncation < 1e-18 for |u| < 0.1.
        const C: [f64; 12] = {
            let mut c = [0.0; 12];
            let mut f = 1.0;
            let mut n = 0;
            while n < 12 {
                f *= (n + 1) as f64;
                c[n] = if n % 2 == 0 { 1.0 / f } else { -1.0 / f };
                n += 1;
            }
            c
        };
        let mut s = T::cst(C[11]);
        for &c in C[..11].iter().rev() {
            s = s * u + c;
        }
        s
    } else {
        -(-u).exp_m1() / u
    }
}

/// `z/x(z)` with `x(z) = ln((√(1 − 2ρz + z²) + z − ρ)/(1 − ρ))`, free of cancellation.
#[inline]
fn z_over_x<T: Real>(z: T, rho: T) -> T {
    let zr = z.re();
    if zr.abs() < 0.02 {
        // x(z)/z = Σ Pₙ(ρ) zⁿ/(n+1); |Pₙ| ≤ 1, so 12 terms leave < 0.02¹²/13 ≈ 3e-22.
        let mut c = [T::cst(0.0); 12];
        let (mut p0, mut p1) = (T::cst(1.0), rho);
        c[0] = p0;
        c[1] = p1 * 0.5;
        for n in 1..11 {
            let nf = n as f64;
            let p2 = (rho * p1 * (2.0 * nf + 1.0) - p0 * nf) / (nf + 1.0);
            c[n + 1] = p2 / (nf + 2.0);
            (p0, p1) = (p1, p2);
        }
        let mut s = c[11];
        for &ci in c[..11].iter().rev() {
            s = s * z + ci;
        }
        return T::cst(1.0) / s;
    }
    let one = T::cst(1.0);
    let zmr = z - rho;
    let a = (zmr * zmr + (one - rho) * (one + rho)).sqrt();
    let x = if zr < rho.re() {
        // √A + z − ρ = (1 − ρ²)/(√A − (z − ρ)): no cancellation for z < ρ.
        let den = a - zmr;
        let ratio = (one + rho) / den;
        if (0.5..=2.0).contains(&ratio.re()) {
            (z * (one + rho) * 2.0 / ((a + z + 1.0) * den)).ln_1p()
        } else {
            ratio.ln()
        }
    } else {
        let ratio = (a + zmr) / (one - rho);
        if (0.5..=2.0).contains(&ratio.re()) {
            (z * (a + (one - rho) + zmr) / ((a + 1.0) * (one - rho))).ln_1p()
        } else {
            ratio.ln()
        }
    };
    z / x
}

/// The parts of the SABR formula that depend on the strike and `β` but not on `(α, ρ, ν)`:
/// computed once per strike in fits with `β` fixed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrikeTerms<T> {
    /// `ln(f/k)`, or `f − k` on the non-positive normal path.
    y: T,
    /// Hagan: `(fk)^{(1−β)/2}`; Obłój and normal: the same (for the correction term).
    fk_half: T,
    /// Hagan: `1 + (1−β)²y²/24 + (1−β)⁴y⁴/1920`. Obłój and normal: `f^{1−β}·E((1−β)y)`.
    den: T,
    /// Normal: `f^β·E(y)/E((1−β)y)`; otherwise unused (1).
    lead: T,
    /// The non-positive-rates normal path (`β = 0`, `ζ = ν(f − k)/α`).
    linear: bool,
}

impl<T: Real> StrikeTerms<T> {
    /// The terms of expansion `e` at shifted strike `k` for shifted forward `f`.
    #[inline]
    pub(crate) fn new(e: SabrExpansion, f: f64, k: T, beta: T) -> Self {
        let one = T::cst(1.0);
        if e == SabrExpansion::Normal && (f <= 0.0 || k.re() <= 0.0) {
            return StrikeTerms {
                y: k * -1.0 + f,
                fk_half: one,
                den: one,
                lead: one,
                linear: true,
            };
        }
        let lf = T::cst(f.ln());
        let lk = k.ln();
        let y = lf - lk;
        let omb = one - beta;
        let fk_half = ((lf + lk) * omb * 0.5).exp();
        match e {
            SabrExpansion::Hagan => {
                let oy2 = (omb * y).sq();
                StrikeTerms {
                    y,
                    fk_half,
                    den: one + oy2 / 24.0 + oy2 * oy2 / 1920.0,
                    lead: one,
                    linear: false,
                }
            }
            SabrExpansion::Obloj | SabrExpansion::Normal => {
                let er = e_ratio(omb * y);
                let lead = if e == SabrExpansion::Normal {
                    (beta * lf).exp() * e_ratio(y) / er
                } else {
                    one
                };
                StrikeTerms {
                    y,
                    fk_half,
                    den: (omb * lf).exp() * er,
                    lead,
                    linear: false,
                }
            }
        }
    }

    /// The same terms as constants of another number type.
    #[inline]
    pub(crate) fn lift<U: Real>(self) -> StrikeTerms<U>
    where
        T: Into<f64>,
    {
        StrikeTerms {
            y: U::cst(self.y.into()),
            fk_half: U::cst(self.fk_half.into()),
            den: U::cst(self.den.into()),
            lead: U::cst(self.lead.into()),
            linear: self.linear,
        }
    }
}

/// The SABR implied vol of expansion `e` from its strike terms and `(α, β, ρ, ν)`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sabr_vol_terms<T: Real>(
    e: SabrExpansion,
    st: &StrikeTerms<T>,
    t: f64,
    alpha: T,
    beta: T,
    rho: T,
    nu: T,
) -> T {
    let one = T::cst(1.0);
    let nu2_term = nu * nu * (T::cst(2.0) - rho * rho * 3.0) / 24.0;
    if st.linear {
        let zeta = nu / alpha * st.y;
        return alpha * z_over_x(zeta, rho) * (one + nu2_term * t);
    }
    let ab_term = rho * beta * nu * alpha / (st.fk_half * 4.0);
    let a_fk2 = (alpha / st.fk_half).sq();
    match e {
        SabrExpansion::Hagan => {
            let omb = one - beta;
            let z = nu / alpha * st.fk_half * st.y;
            let corr = one + ((omb * omb) * a_fk2 / 24.0 + ab_term + nu2_term) * t;
            alpha / (st.fk_half * st.den) * z_over_x(z, rho) * corr
        }
        SabrExpansion::Obloj => {
            let omb = one - beta;
            let zeta = nu / alpha * st.den * st.y;
            let corr = one + ((omb * omb) * a_fk2 / 24.0 + ab_term + nu2_term) * t;
            alpha / st.den * z_over_x(zeta, rho) * corr
        }
        SabrExpansion::Normal => {
            let zeta = nu / alpha * st.den * st.y;
            let g = (beta * beta - beta * 2.0) * a_fk2 / 24.0;
            let corr = one + (g + ab_term + nu2_term) * t;
            alpha * st.lead * z_over_x(zeta, rho) * corr
        }
    }
}

/// The SABR implied vol of expansion `e` at shifted strike `k` (`K + b`) for shifted forward
/// `f` (`F + b`), generic over the number type for exact derivatives. Lognormal expansions
/// need `f, k > 0`; the normal expansion also takes `f, k ≤ 0` when `β = 0`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sabr_vol<T: Real>(
    e: SabrExpansion,
    f: f64,
    k: T,
    t: f64,
    alpha: T,
    beta: T,
    rho: T,
    nu: T,
) -> T {
    sabr_vol_terms(e, &StrikeTerms::new(e, f, k, beta), t, alpha, beta, rho, nu)
}

/// Coefficients `(c₃, c₂, c₁, s, scale)` of the at-the-money equation
/// `c₃u³ + c₂u² + c₁u = s` with `α = scale·u`, for vol `atm` (in the expansion's convention).
fn atm_cubic<T: Real>(
    e: SabrExpansion,
    f: f64,
    t: f64,
    atm: f64,
    beta: T,
    rho: T,
    nu: T,
) -> (T, T, T, f64, T) {
    let one = T::cst(1.0);
    let c1 = one + nu * nu * (T::cst(2.0) - rho * rho * 3.0) / 24.0 * t;
    let c2 = rho * beta * nu / 4.0 * t;
    if e.is_normal() {
        if f <= 0.0 {
            return (T::cst(0.0), T::cst(0.0), c1, atm, one);
        }
        // σ_N = α f^β [...] : with u = α f^{β−1}, σ_N/f = u[1 + t((β²−2β)u²/24 + ρβνu/4 + …)].
        let c3 = (beta * beta - beta * 2.0) / 24.0 * t;
        let scale = ((one - beta) * f.ln()).exp();
        (c3, c2, c1, atm / f, scale)
    } else {
        let c3 = (one - beta).sq() / 24.0 * t;
        let scale = ((one - beta) * f.ln()).exp();
        (c3, c2, c1, atm, scale)
    }
}

/// Smallest positive root of `c₃u³ + c₂u² + c₁u − s` (`s > 0`), by safeguarded Newton in the
/// first bracket of a sign change (the polynomial is `−s < 0` at 0).
fn smallest_positive_root(c3: f64, c2: f64, c1: f64, s: f64) -> Option<f64> {
    let p = |u: f64| ((c3 * u + c2) * u + c1) * u - s;
    let dp = |u: f64| (3.0 * c3 * u + 2.0 * c2) * u + c1;
    // Critical points (roots of p'), positive ones ascending, then an upper bound.
    let mut pts = Vec::with_capacity(3);
    let (qa, qb, qc) = (3.0 * c3, 2.0 * c2, c1);
    if qa.abs() > 1e-300 {
        let disc = qb * qb - 4.0 * qa * qc;
        if disc >= 0.0 {
            let sq = disc.sqrt();
            let q = -0.5 * (qb + sq.copysign(qb));
            for r in [q / qa, if q == 0.0 { f64::NAN } else { qc / q }] {
                if r > 0.0 && r.is_finite() {
                    pts.push(r);
                }
            }
        }
    } else if qb != 0.0 {
        let r = -qc / qb;
        if r > 0.0 {
            pts.push(r);
        }
    }
    pts.sort_by(f64::total_cmp);
    // Cauchy's bound on the roots.
    let lead = [c3, c2, c1].into_iter().find(|c| *c != 0.0)?;
    let bound = 1.0
        + [c3, c2, c1, s]
            .iter()
            .map(|c| (c / lead).abs())
            .fold(0.0, f64::max);
    pts.push(bound);
    let mut lo = 0.0;
    for &hi_pt in &pts {
        if p(hi_pt) > 0.0 {
            let mut hi = hi_pt;
            let mut u = if c1 > 0.0 {
                (s / c1).clamp(lo, hi)
            } else {
                0.5 * (lo + hi)
            };
            for _ in 0..200 {
                let pu = p(u);
                if pu == 0.0 {
                    return Some(u);
                }
                if pu > 0.0 {
                    hi = u;
                } else {
                    lo = u;
                }
                let d = dp(u);
                let mut next = u - pu / d;
                if !(next >= lo && next <= hi && next.is_finite()) {
                    next = 0.5 * (lo + hi);
                }
                if (next - u).abs() <= 4.0 * f64::EPSILON * u.abs() {
                    return Some(next);
                }
                u = next;
            }
            return Some(u);
        }
        lo = hi_pt;
    }
    None
}

/// Black partials in strike of an undiscounted call on `f` at `k` with vol `s`:
/// `(C, C_K, C_KK, C_σ, C_Kσ, C_σσ)`; `C` only if `with_price`, else 0.
fn black_strike_partials(f: f64, k: f64, t: f64, sigma: f64, with_price: bool) -> [f64; 6] {
    let st = t.sqrt();
    let s = sigma * st;
    let d1 = (f / k).ln() / s + 0.5 * s;
    let d2 = d1 - s;
    let pdf2 = norm_pdf(d2);
    let vega = k * pdf2 * st;
    [
        if with_price {
            black_price(OptionKind::Call, f, k, t, sigma)
        } else {
            0.0
        },
        -norm_cdf(d2),
        pdf2 / (k * s),
        vega,
        pdf2 * d1 / sigma,
        vega * d1 * d2 / sigma,
    ]
}

/// Bachelier partials in strike, as [`black_strike_partials`].
fn bachelier_strike_partials(f: f64, k: f64, t: f64, sigma: f64, with_price: bool) -> [f64; 6] {
    let st = t.sqrt();
    let d = (f - k) / (sigma * st);
    let pdf = norm_pdf(d);
    [
        if with_price {
            bachelier_price(OptionKind::Call, f, k, t, sigma)
        } else {
            0.0
        },
        -norm_cdf(d),
        pdf / (sigma * st),
        st * pdf,
        pdf * d / sigma,
        st * pdf * d * d / sigma,
    ]
}

impl Sabr {
    /// A classic (unshifted) SABR smile with Hagan's lognormal expansion.
    ///
    /// # Errors
    /// [`ParamError`] if a parameter is out of its domain ([`Sabr::validate`]).
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
    #[must_use]
    pub fn with_expansion(mut self, e: SabrExpansion) -> Sabr {
        self.expansion = e;
        self
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
    pub fn validate(&self) -> Result<(), ParamError> {
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
        if !(self.nu >= 0.0) {
            return err("nu", self.nu, "nu >= 0");
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
    /// `b = 0`), the Bachelier vol for the normal one. Outside the domain
    /// ([`Sabr::in_domain`]) it returns `0` (the option is worth its intrinsic value there).
    pub fn vol(&self, strike: f64) -> f64 {
        if !self.in_domain(strike) {
            return 0.0;
        }
        sabr_vol(
            self.expansion,
            self.forward + self.shift,
            strike + self.shift,
            self.t,
            self.alpha,
            self.beta,
            self.rho,
            self.nu,
        )
    }

    /// `(σ, ∂σ/∂K, ∂²σ/∂K²)` at `strike`, exact (forward-mode differentiation of the formula).
    pub fn vol_strike_derivatives(&self, strike: f64) -> (f64, f64, f64) {
        if !self.in_domain(strike) {
            return (0.0, 0.0, 0.0);
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
        (v.v, v.d1, v.d2)
    }

    /// `σ` and its gradient in `(α, β, ρ, ν)` at `strike`, exact.
    ///
    /// ```
    /// use volfit::models::sabr::Sabr;
    /// let s = Sabr::new(100.0, 0.5, 0.25, 1.0, -0.3, 0.8)?;
    /// let (v, g) = s.vol_gradient(90.0);
    /// let h = 1e-6;
    /// let up = Sabr { nu: s.nu + h, ..s }.vol(90.0);
    /// let dn = Sabr { nu: s.nu - h, ..s }.vol(90.0);
    /// assert!((g[3] - (up - dn) / (2.0 * h)).abs() < 1e-8);
    /// assert_eq!(v, s.vol(90.0));
    /// # Ok::<(), volfit::models::ParamError>(())
    /// ```
    pub fn vol_gradient(&self, strike: f64) -> (f64, [f64; 4]) {
        if !self.in_domain(strike) {
            return (0.0, [0.0; 4]);
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
        (v.v, v.d)
    }

    /// The at-the-money vol (in the expansion's convention).
    pub fn atm_vol(&self) -> f64 {
        self.vol(self.forward)
    }

    /// Undiscounted call price at `strike`: Black on `F + b, K + b` for the lognormal
    /// expansions, Bachelier for the normal one.
    pub fn call_price(&self, strike: f64) -> f64 {
        let (f, k) = (self.forward + self.shift, strike + self.shift);
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

    /// The model's call price and its first two strike derivatives, `(C, ∂C/∂K, ∂²C/∂K²)`,
    /// with the vol's strike dependence included (`∂²C/∂K²` is the risk-neutral density).
    pub fn call_strike_derivatives(&self, strike: f64) -> (f64, f64, f64) {
        let (c, c1, c2, _) = self.call_derivs(strike, true);
        (c, c1, c2)
    }

    /// `(C, ∂C/∂K, ∂²C/∂K², σ)`; `C = 0` unless `with_price`.
    fn call_derivs(&self, strike: f64, with_price: bool) -> (f64, f64, f64, f64) {
        let (f, k) = (self.forward + self.shift, strike + self.shift);
        let (s, s1, s2) = self.vol_strike_derivatives(strike);
        if !(s > 0.0) {
            return ((f - k).max(0.0), if f > k { -1.0 } else { 0.0 }, 0.0, 0.0);
        }
        let [c, ck, ckk, cs, cks, css] = if self.expansion.is_normal() {
            bachelier_strike_partials(f, k, self.t, s, with_price)
        } else {
            black_strike_partials(f, k, self.t, s, with_price)
        };
        (
            c,
            ck + cs * s1,
            ckk + 2.0 * cks * s1 + css * s1 * s1 + cs * s2,
            s,
        )
    }

    /// Risk-neutral density of `F_T` at `strike`: `∂²C/∂K²` (Breeden–Litzenberger).
    pub fn density(&self, strike: f64) -> f64 {
        self.call_derivs(strike, false).2
    }

    /// The density normalised by the density of the model's flat smile through the same
    /// point: Durrleman's `g` (lognormal), `q·σ√T·√(2π)·e^{d²/2}` (normal). Same sign as the
    /// density, `1` for a flat smile.
    pub fn normalised_density(&self, strike: f64) -> f64 {
        let (f, k) = (self.forward + self.shift, strike + self.shift);
        if !self.expansion.is_normal() {
            // Durrleman's g from σ and its strike derivatives (no normal functions needed).
            let (s, s1, s2) = self.vol_strike_derivatives(strike);
            if !(s > 0.0) {
                return 1.0;
            }
            let (sk, skk) = (k * s1, k * s1 + k * k * s2);
            let t = self.t;
            let (w, w1, w2) = (s * s * t, 2.0 * s * sk * t, 2.0 * (sk * sk + s * skk) * t);
            return super::durrleman((k / f).ln(), w, w1, w2);
        }
        let (_, _, q, s) = self.call_derivs(strike, false);
        if !(s > 0.0) {
            return 1.0;
        }
        let st = s * self.t.sqrt();
        let sqrt_2pi = (2.0 * std::f64::consts::PI).sqrt();
        let d = (f - k) / st;
        q * st * sqrt_2pi * (0.5 * d * d).exp()
    }

    /// Scans the density over a strike range and reports where it is negative (Hagan's
    /// expansion is not a model: far enough in the low-strike wing its density goes negative).
    ///
    /// The range is `k = ln((K+b)/(F+b)) ∈ [−n·s, n·s]` with `s = σ_ATM√T` and `n = 6`
    /// (at least `±0.25`) for the lognormal expansions, `K ∈ F ± 6σ_N√T` for the normal one,
    /// on 161 strikes uniform in that coordinate (a step of 0.075·s).
    pub fn butterfly_scan(&self) -> ButterflyScan {
        let n = 161;
        let (f, b) = (self.forward + self.shift, self.shift);
        let atm = self.atm_vol();
        let st = atm * self.t.sqrt();
        let strike_at: Box<dyn Fn(f64) -> f64> = if self.expansion.is_normal() {
            let half = 6.0 * st;
            let lo = if self.beta == 0.0 {
                f - half
            } else {
                (f - half).max(1e-4 * f)
            };
            let hi = f + half;
            Box::new(move |u| lo + (hi - lo) * u - b)
        } else {
            let half = (6.0 * st).max(0.25);
            Box::new(move |u| f * (-half + 2.0 * half * u).exp() - b)
        };
        let mut scan = ButterflyScan {
            range: [strike_at(0.0), strike_at(1.0)],
            points: n,
            min_g: f64::INFINITY,
            min_g_strike: self.forward,
            negative: Vec::new(),
        };
        let mut open: Option<f64> = None;
        let mut prev = scan.range[0];
        for i in 0..n {
            let strike = strike_at(i as f64 / (n - 1) as f64);
            let g = self.normalised_density(strike);
            let g = if g.is_nan() { f64::NEG_INFINITY } else { g };
            if g < scan.min_g {
                scan.min_g = g;
                scan.min_g_strike = strike;
            }
            match (g < 0.0, open) {
                (true, None) => open = Some(strike),
                (false, Some(lo)) => {
                    scan.negative.push([lo, prev]);
                    open = None;
                }
                _ => {}
            }
            prev = strike;
        }
        if let Some(lo) = open {
            scan.negative.push([lo, prev]);
        }
        if !scan.min_g.is_finite() {
            scan.min_g = -1e300;
        }
        scan
    }

    /// `α` that reproduces the at-the-money vol `atm` (in the expansion's convention) for the
    /// other parameters: the smallest positive root of the cubic in `α` of the at-the-money
    /// formula (West 2005; Le Floc'h & Kennedy 2014 §4). `None` if no positive root exists.
    ///
    /// ```
    /// use volfit::models::sabr::{Sabr, SabrExpansion};
    /// let s = Sabr::new(0.039, 1.0, 0.3, 0.6, 0.01, 0.02)?;
    /// let a = Sabr::alpha_from_atm(SabrExpansion::Hagan, 0.039, 0.0, 1.0, s.atm_vol(), 0.6, 0.01, 0.02);
    /// assert!((a.unwrap() - 0.3).abs() < 1e-15);
    /// # Ok::<(), volfit::models::ParamError>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn alpha_from_atm(
        e: SabrExpansion,
        forward: f64,
        shift: f64,
        t: f64,
        atm: f64,
        beta: f64,
        rho: f64,
        nu: f64,
    ) -> Option<f64> {
        let (c3, c2, c1, s, scale) = atm_cubic(e, forward + shift, t, atm, beta, rho, nu);
        if !(s > 0.0) || !s.is_finite() {
            return None;
        }
        smallest_positive_root(c3, c2, c1, s).map(|u| u * scale)
    }

    /// `α` from the at-the-money vol as a function of `(β, ρ, ν)` with its gradient in them
    /// (implicit differentiation of the at-the-money equation), for fits of `(ρ, ν)` or
    /// `(β, ρ, ν)` with `α` tied to the at-the-money quote.
    pub(crate) fn alpha_from_atm_dual<const N: usize>(
        e: SabrExpansion,
        f_shifted: f64,
        t: f64,
        atm: f64,
        beta: Dual<N>,
        rho: Dual<N>,
        nu: Dual<N>,
    ) -> Option<Dual<N>> {
        let (c3, c2, c1, s, scale) = atm_cubic(e, f_shifted, t, atm, beta, rho, nu);
        if !(s > 0.0) {
            return None;
        }
        let u = smallest_positive_root(c3.v, c2.v, c1.v, s)?;
        // G(u, θ) = c3 u³ + c2 u² + c1 u − s = 0  ⇒  du/dθ = −G_θ/G_u.
        let g_theta = (c3 * u + c2) * (u * u) + c1 * u;
        let g_u = (3.0 * c3.v * u + 2.0 * c2.v) * u + c1.v;
        if g_u == 0.0 {
            return None;
        }
        let ud = Dual {
            v: u,
            d: g_theta.d.map(|x| -x / g_u),
        };
        Some(ud * scale)
    }

    /// Black vol (of the unshifted forward) of the model's price at `strike`: the vol itself
    /// for an unshifted lognormal expansion, else the exact conversion through the price.
    ///
    /// # Errors
    /// When the model price has no Black vol (e.g. `K ≤ 0`).
    pub fn black_vol(&self, strike: f64) -> Result<f64, crate::black::ImpliedVolError> {
        if !self.expansion.is_normal() && self.shift == 0.0 {
            return Ok(self.vol(strike));
        }
        let kind = OptionKind::otm(self.forward, strike);
        let p = self.price(kind, strike);
        implied_vol(kind, p, self.forward, strike, self.t)
    }

    /// Normal (Bachelier) vol of the model's price at `strike`.
    ///
    /// # Errors
    /// When the model price has no normal vol.
    pub fn normal_vol(&self, strike: f64) -> Result<f64, crate::black::ImpliedVolError> {
        if self.expansion.is_normal() {
            return Ok(self.vol(strike));
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

impl SmileModel for Sabr {
    /// Total variance of the Black vol of `F + b` at `k = ln((K+b)/(F+b))` (lognormal
    /// expansions); for the normal expansion the Black vol of the same price.
    fn total_variance(&self, k: f64) -> f64 {
        let (v, _, _) = self.black_k_derivs(k);
        v * v * self.t
    }
    fn dw_dk(&self, k: f64) -> f64 {
        let (v, v1, _) = self.black_k_derivs(k);
        2.0 * v * v1 * self.t
    }
    fn d2w_dk2(&self, k: f64) -> f64 {
        let (v, v1, v2) = self.black_k_derivs(k);
        2.0 * (v1 * v1 + v * v2) * self.t
    }
}

impl Sabr {
    /// Shifted-Black vol and its first two derivatives in `k = ln((K+b)/(F+b))`; for the
    /// normal expansion by exact conversion of the price and implicit differentiation of
    /// `Black(σ_B(K)) = Bachelier(σ_N(K))`.
    fn black_k_derivs(&self, k: f64) -> (f64, f64, f64) {
        let f = self.forward + self.shift;
        let kk = f * k.exp();
        let strike = kk - self.shift;
        let (s, s1, s2) = if self.expansion.is_normal() {
            let (c, c1, c2) = self.call_strike_derivatives(strike);
            let kind = OptionKind::otm(f, kk);
            let p = match kind {
                OptionKind::Call => c,
                OptionKind::Put => c - (f - kk),
            };
            let Ok(sb) = implied_vol(kind, p, f, kk, self.t) else {
                return (0.0, 0.0, 0.0);
            };
            let [_, bk, bkk, bs, bks, bss] = black_strike_partials(f, kk, self.t, sb, false);
            let sb1 = (c1 - bk) / bs;
            let sb2 = (c2 - bkk - 2.0 * bks * sb1 - bss * sb1 * sb1) / bs;
            (sb, sb1, sb2)
        } else {
            self.vol_strike_derivatives(strike)
        };
        // K = f e^k: dσ/dk = K σ', d²σ/dk² = K σ' + K² σ''.
        (s, kk * s1, kk * s1 + kk * kk * s2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_over_x_is_continuous_across_its_branches() {
        for &rho in &[-0.999, -0.7, 0.0, 0.4, 0.999] {
            for &z in &[
                -3.0, -0.5, -0.0200001, -0.0199999, 0.0199999, 0.0200001, 0.7, 4.0,
            ] {
                let r = z_over_x(z, rho);
                // Reference by quadrature of x(z) = ∫₀^z (1 − 2ρt + t²)^{−1/2} dt (Simpson).
                let n = 20_000;
                let h = z / f64::from(n);
                let fx = |t: f64| 1.0 / (1.0 - 2.0 * rho * t + t * t).sqrt();
                let mut s = fx(0.0) + fx(z);
                for i in 1..n {
                    s += fx(f64::from(i) * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
                }
                let x = s * h / 3.0;
                assert!(
                    (r - z / x).abs() < 1e-11 * (z / x).abs(),
                    "rho {rho} z {z}: {r} vs {}",
                    z / x
                );
            }
        }
    }

    #[test]
    fn cubic_root_is_the_smallest_positive() {
        // (u − 1)(u − 2)(u − 3) = u³ − 6u² + 11u − 6.
        assert!((smallest_positive_root(1.0, -6.0, 11.0, 6.0).unwrap() - 1.0).abs() < 1e-15);
        // Linear.
        assert!((smallest_positive_root(0.0, 0.0, 2.0, 1.0).unwrap() - 0.5).abs() < 1e-16);
        // No positive root: −u³ − u − 1 < 0 for u > 0.
        assert!(smallest_positive_root(-1.0, 0.0, -1.0, 1.0).is_none());
    }
}
