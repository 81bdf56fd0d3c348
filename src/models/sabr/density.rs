//! The density of a SABR smile: call-price strike derivatives through the expansion's exact
//! strike derivatives, the normalised density (Durrleman's `g`), the butterfly scan, and the
//! [`SmileModel`] view in Black total variance.

use super::Sabr;
use crate::black::special::{norm_cdf, norm_pdf};
use crate::black::{OptionKind, bachelier_price, black_price, implied_vol};
use crate::models::SmileModel;
use crate::models::arbitrage::{ButterflyVerdict, CheckDomain, Coordinate, durrleman};

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
    /// density, `1` for a flat smile; NaN outside the expansion's domain (no vol, no density).
    pub fn normalised_density(&self, strike: f64) -> f64 {
        let (f, k) = (self.forward + self.shift, strike + self.shift);
        if !self.expansion.is_normal() {
            // Durrleman's g from σ and its strike derivatives (no normal functions needed).
            let (s, s1, s2) = self.vol_strike_derivatives(strike);
            if !(s > 0.0) {
                return f64::NAN;
            }
            let (sk, skk) = (k * s1, k * s1 + k * k * s2);
            let t = self.t;
            let (w, w1, w2) = (s * s * t, 2.0 * s * sk * t, 2.0 * (sk * sk + s * skk) * t);
            return durrleman((k / f).ln(), w, w1, w2);
        }
        let (_, _, q, s) = self.call_derivs(strike, false);
        if !(s > 0.0) {
            return f64::NAN;
        }
        let st = s * self.t.sqrt();
        let sqrt_2pi = (2.0 * std::f64::consts::PI).sqrt();
        let d = (f - k) / st;
        q * st * sqrt_2pi * (0.5 * d * d).exp()
    }

    /// The strikes of the density scan ([`Sabr::butterfly_scan`]): `(first, last, strike of
    /// u ∈ [0, 1])`.
    pub(crate) fn scan_strikes(&self) -> impl Fn(f64) -> f64 + use<> {
        let (f, b) = (self.forward + self.shift, self.shift);
        let st = self.atm_vol() * self.t.sqrt();
        let normal = self.expansion.is_normal();
        let (lo, hi) = if normal {
            let half = 6.0 * st;
            let lo = if self.beta == 0.0 {
                f - half
            } else {
                (f - half).max(1e-4 * f)
            };
            (lo, f + half)
        } else {
            let half = (6.0 * st).max(0.25);
            (-half, half)
        };
        move |u: f64| {
            let x = lo + (hi - lo) * u;
            if normal { x - b } else { f * x.exp() - b }
        }
    }

    /// Scans the density over a strike range and reports where it is negative (Hagan's
    /// expansion is not a model: far enough in the low-strike wing its density goes negative).
    /// The verdict's coordinate is the strike.
    ///
    /// The range is `k = ln((K+b)/(F+b)) ∈ [−n·s, n·s]` with `s = σ_ATM√T` and `n = 6`
    /// (at least `±0.25`) for the lognormal expansions, `K ∈ F ± 6σ_N√T` for the normal one,
    /// on 161 strikes uniform in that coordinate (a step of 0.075·s). A strike where the
    /// normalised density is NaN counts as negative.
    pub fn butterfly_scan(&self) -> ButterflyVerdict {
        const N: usize = 161;
        let strike_at = self.scan_strikes();
        let range = [strike_at(0.0), strike_at(1.0)];
        let (mut min_g, mut at) = (f64::INFINITY, self.forward);
        let mut negative = Vec::new();
        let mut open: Option<f64> = None;
        let mut prev = range[0];
        for i in 0..N {
            let strike = strike_at(i as f64 / (N - 1) as f64);
            let g = self.normalised_density(strike);
            let g = if g.is_nan() { f64::NEG_INFINITY } else { g };
            if g < min_g {
                min_g = g;
                at = strike;
            }
            match (g < 0.0, open) {
                (true, None) => open = Some(strike),
                (false, Some(lo)) => {
                    negative.push([lo, prev]);
                    open = None;
                }
                _ => {}
            }
            prev = strike;
        }
        if let Some(lo) = open {
            negative.push([lo, prev]);
        }
        if !min_g.is_finite() {
            min_g = -1e300;
        }
        ButterflyVerdict {
            min_g,
            at,
            free: negative.is_empty(),
            negative,
            domain: CheckDomain::Scan { range, points: N },
            coordinate: Coordinate::Strike,
        }
    }
}

impl SmileModel for Sabr {
    /// Total variance of the Black vol of `F + b` at `k = ln((K+b)/(F+b))` (lognormal
    /// expansions); for the normal expansion the Black vol of the same price. NaN where the
    /// price has no Black vol.
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let (v, v1, v2) = self.black_k_derivs(k);
        let t = self.t;
        (v * v * t, 2.0 * v * v1 * t, 2.0 * (v1 * v1 + v * v2) * t)
    }

    fn feature_scale(&self) -> (f64, f64) {
        let w = self.total_variance(0.0);
        (0.0, if w > 0.0 { w.sqrt() } else { 0.1 })
    }

    fn total_variance(&self, k: f64) -> f64 {
        if self.expansion.is_normal() {
            self.w_derivs(k).0
        } else {
            let v = self.vol((self.forward + self.shift) * k.exp() - self.shift);
            v * v * self.t
        }
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
                return (f64::NAN, f64::NAN, f64::NAN);
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
