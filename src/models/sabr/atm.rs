//! `α` from the at-the-money vol: the smallest positive root of the cubic of the at-the-money
//! formula (West 2005; Le Floc'h & Kennedy 2014 §4), and its gradient by implicit
//! differentiation.

use super::{Sabr, SabrExpansion};
use crate::models::ad::{Dual, Real};

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

impl Sabr {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
