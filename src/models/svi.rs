//! SVI: the raw, natural and jump-wings parameterisations of one smile (Gatheral & Jacquier,
//! *Arbitrage-free SVI volatility surfaces*, Quantitative Finance 14 (2014) 59–71, §3).
//!
//! Raw SVI, in total variance and log-moneyness `k = ln(K/F)`, with `d = k − m`,
//! `q = √(d² + σ²)`:
//!
//! ```text
//! w(k) = a + b(ρd + q),   w' = b(ρ + d/q),   w'' = bσ²/q³,   w''' = −3bσ²d/q⁵
//! ```
//!
//! with `b ≥ 0`, `|ρ| < 1`, `σ > 0` and `min w = a + bσ√(1−ρ²) ≥ 0`. The wings are linear with
//! slopes `b(1 − ρ)` (left) and `b(1 + ρ)` (right); Roger Lee's moment formula requires
//! `b(1 + |ρ|) ≤ 2`. Butterfly arbitrage is absent iff Durrleman's `g(k) ≥ 0` on the whole
//! real line ([`Svi::min_g`] finds its global minimum) — the exact domain that Martini & Mingone
//! (*No arbitrage SVI*, SIAM J. Financial Math. 13, 2022) characterise in closed form.

use super::{ParamError, SmileModel, durrleman, durrleman_partials, global_min};
use serde::{Deserialize, Serialize};

/// Raw SVI parameters `(a, b, ρ, m, σ)` of one expiry's total variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Svi {
    /// Level.
    pub a: f64,
    /// Angle between the wings (`≥ 0`).
    pub b: f64,
    /// Rotation, `|ρ| < 1`.
    pub rho: f64,
    /// Translation.
    pub m: f64,
    /// ATM curvature, `> 0`.
    pub sigma: f64,
}

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

fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    constraint: &'static str,
) -> Result<(), ParamError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(ParamError {
            model: "SVI",
            name,
            value,
            constraint,
        })
    }
}

impl Svi {
    /// Checked raw SVI.
    ///
    /// # Errors
    /// [`ParamError`] if a parameter is not finite, `b < 0`, `|ρ| ≥ 1`, `σ ≤ 0`, or the minimum
    /// total variance `a + bσ√(1−ρ²)` is negative.
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// assert!(Svi::new(0.04, 0.4, -0.4, 0.05, 0.2).is_ok());
    /// assert!(Svi::new(0.04, 0.4, -1.2, 0.05, 0.2).is_err());
    /// ```
    pub fn new(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Result<Self, ParamError> {
        check("a", a, true, "finite")?;
        check("m", m, true, "finite")?;
        check("b", b, b >= 0.0, "b ≥ 0")?;
        check("rho", rho, rho.abs() < 1.0, "|ρ| < 1")?;
        check("sigma", sigma, sigma > 0.0, "σ > 0")?;
        let s = Svi {
            a,
            b,
            rho,
            m,
            sigma,
        };
        check("a", a, s.min_total_variance() >= 0.0, "a + bσ√(1−ρ²) ≥ 0")?;
        Ok(s)
    }

    /// Raw SVI without checks (for hot loops that keep parameters in range themselves).
    pub const fn new_unchecked(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Self {
        Svi {
            a,
            b,
            rho,
            m,
            sigma,
        }
    }

    /// The parameters as `[a, b, ρ, m, σ]`.
    pub fn to_array(&self) -> [f64; 5] {
        [self.a, self.b, self.rho, self.m, self.sigma]
    }

    /// From `[a, b, ρ, m, σ]` (unchecked).
    pub fn from_array(p: [f64; 5]) -> Self {
        Svi {
            a: p[0],
            b: p[1],
            rho: p[2],
            m: p[3],
            sigma: p[4],
        }
    }

    /// `w(k)`.
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// let s = Svi::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
    /// // At k = m: w = a + bσ.
    /// assert!((s.w(0.05) - (0.04 + 0.4 * 0.2)).abs() < 1e-16);
    /// ```
    #[inline]
    pub fn w(&self, k: f64) -> f64 {
        let d = k - self.m;
        self.a + self.b * (self.rho * d + (d * d + self.sigma * self.sigma).sqrt())
    }

    /// `(w, w', w'')` at `k` in one pass.
    #[inline]
    pub fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let d = k - self.m;
        let s2 = self.sigma * self.sigma;
        let q = (d * d + s2).sqrt();
        (
            self.a + self.b * (self.rho * d + q),
            self.b * (self.rho + d / q),
            self.b * s2 / (q * q * q),
        )
    }

    /// `w'''(k) = −3bσ²d/q⁵`.
    pub fn d3w_dk3(&self, k: f64) -> f64 {
        let d = k - self.m;
        let q2 = d * d + self.sigma * self.sigma;
        -3.0 * self.b * self.sigma * self.sigma * d / (q2 * q2 * q2.sqrt())
    }

    /// Gradients of `w`, `w'` and `w''` in the parameters `(a, b, ρ, m, σ)` at `k`.
    #[inline]
    pub fn param_gradients(&self, k: f64) -> ([f64; 5], [f64; 5], [f64; 5]) {
        let (b, rho, s) = (self.b, self.rho, self.sigma);
        let d = k - self.m;
        let q2 = d * d + s * s;
        let q = q2.sqrt();
        let q3 = q2 * q;
        let q5 = q3 * q2;
        let gw = [1.0, rho * d + q, b * d, -b * (rho + d / q), b * s / q];
        let gw1 = [0.0, rho + d / q, b, -b * s * s / q3, -b * d * s / q3];
        let gw2 = [
            0.0,
            s * s / q3,
            0.0,
            3.0 * b * s * s * d / q5,
            b * s * (2.0 * q2 - 3.0 * s * s) / q5,
        ];
        (gw, gw1, gw2)
    }

    /// The minimum of `w`, `a + bσ√(1 − ρ²)`, reached at `k = m − ρσ/√(1 − ρ²)`.
    pub fn min_total_variance(&self) -> f64 {
        self.a + self.b * self.sigma * (1.0 - self.rho * self.rho).sqrt()
    }

    /// Wing slopes of `w`: `(b(1 − ρ), b(1 + ρ))` for `k → −∞`, `k → +∞`.
    pub fn wing_slopes(&self) -> (f64, f64) {
        (self.b * (1.0 - self.rho), self.b * (1.0 + self.rho))
    }

    /// Roger Lee's bound `b(1 + |ρ|) ≤ 2` on the wings of total variance.
    pub fn satisfies_lee(&self) -> bool {
        self.b * (1.0 + self.rho.abs()) <= 2.0
    }

    /// Infimum of Durrleman's `g` over the real line: `(k*, g(k*))` (`k* = ±∞` when the
    /// infimum is a wing's limit `1/4 − slope²/16`). The smile is free of butterfly arbitrage
    /// iff this is `≥ 0` (with `w > 0`; Lee's bound makes both limits `≥ 0`).
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// // Gatheral & Jacquier's Example 3.1 (Vogt): arbitrage near k ≈ 0.88.
    /// let vogt = Svi::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
    /// let (k, g) = vogt.min_g();
    /// assert!(g < -0.03 && (k - 0.88).abs() < 0.1);
    /// ```
    pub fn min_g(&self) -> (f64, f64) {
        let (k, g) = global_min(self.m, self.sigma, |k| {
            let (w, w1, w2) = self.w_derivs(k);
            if w > 0.0 {
                durrleman(k, w, w1, w2)
            } else {
                f64::NEG_INFINITY
            }
        });
        // g tends to 1/4 − β²/16 in a wing of slope β; beyond the search range the infimum may
        // be that limit (not attained: k = ±∞).
        let (left, right) = self.wing_slopes();
        let (gl, gr) = (0.25 - left * left / 16.0, 0.25 - right * right / 16.0);
        if gl < g && gl <= gr {
            (f64::NEG_INFINITY, gl)
        } else if gr < g {
            (f64::INFINITY, gr)
        } else {
            (k, g)
        }
    }

    /// A cheap screen of `min g`: the smallest of 17 samples at `k = m + σ·sinh(u)`,
    /// `u ∈ [−8, 8]` (an upper bound of the true minimum, for steering searches; use
    /// [`Svi::min_g`] to decide).
    pub fn min_g_coarse(&self) -> f64 {
        static SINH: std::sync::LazyLock<[f64; 17]> =
            std::sync::LazyLock::new(|| std::array::from_fn(|i| (i as f64 - 8.0).sinh()));
        let mut best = f64::INFINITY;
        for sh in SINH.iter() {
            let k = self.m + self.sigma * sh;
            let (w, w1, w2) = self.w_derivs(k);
            let g = if w > 0.0 {
                durrleman(k, w, w1, w2)
            } else {
                f64::NEG_INFINITY
            };
            best = best.min(g);
        }
        best
    }

    /// Gradient of `g(k)` in the parameters at fixed `k` (at `k*` of [`Svi::min_g`] this is the
    /// gradient of the minimum itself, by the envelope theorem).
    pub fn g_gradient(&self, k: f64) -> [f64; 5] {
        if k.is_infinite() {
            // d(1/4 − β²/16) with β = b(1 ± ρ).
            let sgn = if k > 0.0 { 1.0 } else { -1.0 };
            let beta = self.b * (1.0 + sgn * self.rho);
            return [
                0.0,
                -beta * (1.0 + sgn * self.rho) / 8.0,
                -beta * sgn * self.b / 8.0,
                0.0,
                0.0,
            ];
        }
        let (w, w1, _) = self.w_derivs(k);
        let (gw, gw1, gw2) = durrleman_partials(k, w, w1);
        let (a, b, c) = self.param_gradients(k);
        std::array::from_fn(|i| gw * a[i] + gw1 * b[i] + gw2 * c[i])
    }

    /// Whether the smile is free of butterfly arbitrage: `min w > 0`, Lee's bound and
    /// `min g ≥ 0`.
    pub fn is_butterfly_free(&self) -> bool {
        self.min_total_variance() > 0.0 && self.satisfies_lee() && self.min_g().1 >= 0.0
    }

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

impl SmileModel for Svi {
    fn total_variance(&self, k: f64) -> f64 {
        self.w(k)
    }
    fn dw_dk(&self, k: f64) -> f64 {
        self.w_derivs(k).1
    }
    fn d2w_dk2(&self, k: f64) -> f64 {
        self.w_derivs(k).2
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let s = Svi::new(0.02, 0.3, -0.6, 0.1, 0.15).unwrap();
        for &k in &[-1.5, -0.3, 0.1, 0.12, 0.8] {
            let h = 1e-5;
            let (w, w1, w2) = s.w_derivs(k);
            assert!((w1 - (s.w(k + h) - s.w(k - h)) / (2.0 * h)).abs() < 1e-9);
            assert!((w2 - (s.w(k + h) - 2.0 * w + s.w(k - h)) / (h * h)).abs() < 1e-5);
            let d3 = (s.w_derivs(k + h).2 - s.w_derivs(k - h).2) / (2.0 * h);
            assert!((s.d3w_dk3(k) - d3).abs() < 1e-5 * (1.0 + d3.abs()));
            let (gw, gw1, gw2) = s.param_gradients(k);
            let g = s.g_gradient(k);
            let p = s.to_array();
            for i in 0..5 {
                let (mut pp, mut pm) = (p, p);
                pp[i] += h;
                pm[i] -= h;
                let (sp, sm) = (Svi::from_array(pp), Svi::from_array(pm));
                let fd = |f: &dyn Fn(&Svi) -> f64| (f(&sp) - f(&sm)) / (2.0 * h);
                assert!((gw[i] - fd(&|x| x.w(k))).abs() < 1e-8, "w param {i}");
                assert!(
                    (gw1[i] - fd(&|x| x.w_derivs(k).1)).abs() < 1e-7,
                    "w' param {i}"
                );
                assert!(
                    (gw2[i] - fd(&|x| x.w_derivs(k).2)).abs() < 1e-5 * (1.0 + gw2[i].abs()),
                    "w'' param {i}"
                );
                assert!(
                    (g[i] - fd(&|x| x.durrleman_g(k))).abs() < 1e-5 * (1.0 + g[i].abs()),
                    "g param {i}"
                );
            }
        }
    }
}
