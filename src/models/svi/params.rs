//! The natural and jump-wings parameterisations of SVI (Gatheral & Jacquier 2014, §3.2–3.3),
//! their maps to and from raw SVI, and the jump-wings butterfly repairs (§5.1).

use super::{Svi, check};
use crate::models::ParamError;
use serde::{Deserialize, Serialize};

/// Natural SVI parameters `(Δ, μ, ρ, ω, ζ)`:
/// `w(k) = Δ + ω/2·(1 + ζρ(k − μ) + √((ζ(k − μ) + ρ)² + 1 − ρ²))` (GJ 2014, §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NaturalSvi {
    /// `Δ`.
    pub delta: f64,
    /// `μ`.
    pub mu: f64,
    /// `ρ`.
    pub rho: f64,
    /// `ω`.
    pub omega: f64,
    /// `ζ`.
    pub zeta: f64,
}

/// SVI jump-wings parameters of a slice at time `t` (GJ 2014, §3.3): ATM variance `v`, ATM skew
/// `ψ`, left and right wing slopes `p`, `c`, and minimum implied variance `ṽ` — all in
/// implied-variance (not total-variance) units, so they read like market quantities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SviJw {
    /// ATM implied variance `v_t`.
    pub v: f64,
    /// ATM skew `ψ_t`.
    pub psi: f64,
    /// Left wing slope `p_t`.
    pub p: f64,
    /// Right wing slope `c_t`.
    pub c: f64,
    /// Minimum implied variance `ṽ_t`.
    pub v_tilde: f64,
}

impl Svi {
    /// The natural parameters (GJ 2014, Lemma 3.3): `ζ = √(1−ρ²)/σ`, `ω = 2b/ζ`,
    /// `μ = m + ρ/ζ`, `Δ = a − ω(1 − ρ²)/2`.
    pub fn to_natural(&self) -> NaturalSvi {
        let r = (1.0 - self.rho * self.rho).sqrt();
        let zeta = r / self.sigma;
        let omega = 2.0 * self.b / zeta;
        NaturalSvi {
            delta: self.a - 0.5 * omega * (1.0 - self.rho * self.rho),
            mu: self.m + self.rho / zeta,
            rho: self.rho,
            omega,
            zeta,
        }
    }

    /// From natural parameters: `a = Δ + ω(1−ρ²)/2`, `b = ωζ/2`, `m = μ − ρ/ζ`,
    /// `σ = √(1−ρ²)/ζ`.
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// let s = Svi::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
    /// let back = Svi::from_natural(&s.to_natural());
    /// assert!((back.w(0.3) - s.w(0.3)).abs() < 1e-15);
    /// ```
    pub fn from_natural(n: &NaturalSvi) -> Svi {
        let r2 = 1.0 - n.rho * n.rho;
        Svi {
            a: n.delta + 0.5 * n.omega * r2,
            b: 0.5 * n.omega * n.zeta,
            rho: n.rho,
            m: n.mu - n.rho / n.zeta,
            sigma: r2.sqrt() / n.zeta,
        }
    }

    /// Jump-wings parameters of the slice at time `t` (GJ 2014, eq. 3.5): with
    /// `w_t = a + b(−ρm + √(m² + σ²))`: `v = w_t/t`,
    /// `ψ = b/(2√w_t)·(−m/√(m²+σ²) + ρ)`, `p = b(1−ρ)/√w_t`, `c = b(1+ρ)/√w_t`,
    /// `ṽ = (a + bσ√(1−ρ²))/t`.
    pub fn to_jump_wings(&self, t: f64) -> SviJw {
        let (a, b, rho, m, s) = (self.a, self.b, self.rho, self.m, self.sigma);
        let r = (m * m + s * s).sqrt();
        let wt = a + b * (-rho * m + r);
        let sw = wt.sqrt();
        SviJw {
            v: wt / t,
            psi: b / (2.0 * sw) * (-m / r + rho),
            p: b * (1.0 - rho) / sw,
            c: b * (1.0 + rho) / sw,
            v_tilde: (a + b * s * (1.0 - rho * rho).sqrt()) / t,
        }
    }

    /// Raw parameters from jump-wings at time `t` (GJ 2014, Lemma 3.5): with `w = vt`,
    /// `b = √w(c + p)/2`, `ρ = 1 − p√w/b`, `β = ρ − 2ψ√w/b`, `α = sign(β)√(1/β² − 1)`,
    /// `m = (v − ṽ)t / (b(−ρ + sign(α)√(1+α²) − α√(1−ρ²)))`, `σ = αm`, `a = ṽt − bσ√(1−ρ²)`.
    ///
    /// # Errors
    /// [`ParamError`] when the jump-wings set has no raw SVI (e.g. `|β| > 1`).
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// let s = Svi::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
    /// let back = Svi::from_jump_wings(&s.to_jump_wings(1.0), 1.0).unwrap();
    /// for k in [-1.0, 0.0, 0.7, 2.0] {
    ///     assert!((back.w(k) - s.w(k)).abs() < 1e-13);
    /// }
    /// ```
    pub fn from_jump_wings(jw: &SviJw, t: f64) -> Result<Svi, ParamError> {
        let w = jw.v * t;
        check("v", jw.v, w > 0.0, "v > 0")?;
        let sw = w.sqrt();
        let b = 0.5 * sw * (jw.c + jw.p);
        check("c + p", jw.c + jw.p, b > 0.0, "c + p > 0")?;
        let rho = 1.0 - jw.p * sw / b;
        check("rho", rho, rho.abs() < 1.0, "|ρ| < 1 (p, c > 0)")?;
        let beta = rho - 2.0 * jw.psi * sw / b;
        check(
            "beta",
            beta,
            beta.abs() <= 1.0,
            "|β| ≤ 1 (ψ within the wings)",
        )?;
        let r = (1.0 - rho * rho).sqrt();
        // v = ṽ (β = 0) puts the minimum at the money with σ undetermined: no unique raw SVI.
        check("beta", beta, beta != 0.0, "β ≠ 0 (v > ṽ)")?;
        let alpha = beta.signum() * (1.0 / (beta * beta) - 1.0).sqrt();
        let denom = b * (-rho + alpha.signum() * (1.0 + alpha * alpha).sqrt() - alpha * r);
        let m = (jw.v - jw.v_tilde) * t / denom;
        let sigma = alpha * m;
        check("sigma", sigma, sigma > 0.0, "σ > 0")?;
        let a = jw.v_tilde * t - b * sigma * r;
        Svi::new(a, b, rho, m, sigma)
    }
}

impl SviJw {
    /// Gatheral & Jacquier's guaranteed butterfly repair (2014, §5.1): keep `v`, `ψ`, `p` and
    /// set `c' = p + 2ψ`, `ṽ' = 4vpc'/(p + c')²`, which lies in their arbitrage-free SVI family
    /// (Theorem 4.2 with the SSVI-like constraint).
    ///
    /// ```
    /// use volfit::models::svi::SviJw;
    /// let jw = SviJw { v: 0.01742625, psi: -0.1752111, p: 0.6997381, c: 1.316798, v_tilde: 0.0116249 };
    /// let r = jw.repaired_guaranteed();
    /// assert!((r.c - 0.3493158).abs() < 1e-6 && (r.v_tilde - 0.01548182).abs() < 1e-7);
    /// ```
    #[must_use]
    pub fn repaired_guaranteed(&self) -> SviJw {
        let c = self.p + 2.0 * self.psi;
        let v_tilde = 4.0 * self.v * self.p * c / ((self.p + c) * (self.p + c));
        SviJw {
            c,
            v_tilde,
            ..*self
        }
    }
}

impl SviJw {
    /// A repair closer to the original than [`SviJw::repaired_guaranteed`]: keep `v`, `ψ`, `p`
    /// and `ṽ`, and take the largest right-wing slope `c` between the guaranteed `c' = p + 2ψ`
    /// and the original whose smile (at time `t`) is free of butterfly arbitrage (bisection on
    /// `c`, exact `min g ≥ 0`). Falls back to the guaranteed set when no such `c` exists.
    ///
    /// ```
    /// use volfit::models::svi::{Svi, SviJw};
    /// let vogt = Svi::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
    /// let r = vogt.to_jump_wings(1.0).repaired_closest(1.0);
    /// let s = Svi::from_jump_wings(&r, 1.0).unwrap();
    /// assert!(s.is_butterfly_free() && r.c > 0.349 && r.c < 1.317);
    /// ```
    #[must_use]
    pub fn repaired_closest(&self, t: f64) -> SviJw {
        let guaranteed = self.repaired_guaranteed();
        let free = |c: f64| {
            Svi::from_jump_wings(&SviJw { c, ..*self }, t).is_ok_and(|s| s.is_butterfly_free())
        };
        if free(self.c) {
            return *self;
        }
        if !free(guaranteed.c) {
            return guaranteed;
        }
        let (mut lo, mut hi) = (guaranteed.c, self.c);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if free(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        SviJw { c: lo, ..*self }
    }
}
