//! Implied Black volatility to machine precision: Jäckel, *Let's Be Rational*, Wilmott (2015)
//! 47–53, with the evaluation of the normalised Black function of [`super::normalised`].
//!
//! For a normalised out-of-the-money call price `β ∈ (0, b_max)`, `b_max = e^{x/2}`, `x ≤ 0`:
//!
//! 1. the inflexion point `s_c = √(2|x|)` of `s ↦ b(x, s)` and the tangents there give
//!    `s_l = s_c − b_c/b'_c`, `s_u = s_c + (b_max − b_c)/b'_c` and four branches
//!    `(0, b_l)`, `[b_l, b_c)`, `[b_c, b_u]`, `(b_u, b_max)` (§4);
//! 2. on each branch a rational cubic (Delbourgo–Gregory) interpolates the inverse: directly
//!    `s(β)` on the two middle branches, and the transformed maps
//!    `f_l(s) = 2π|x|/(3√3)·Φ(x/(√3 s))³` (lowest) and `f_u(s) = Φ(−s/2)` (highest), whose slopes
//!    at `β = 0` and `β = b_max` are exactly `1` and `−1/2` (§4.1–4.3);
//! 3. two Householder steps of order 3 (quartic convergence) on an objective chosen per branch:
//!    `1/ln b(s) − 1/ln β` on the lowest, `b(s) − β` on the middle two and
//!    `ln(b_max − b(s)) − ln(b_max − β)` on the highest (§5), all evaluated in scaled form so that
//!    neither underflow nor cancellation limits the result.
//!
//! The derivatives of `b` in `s` are closed form: with `b' = e^{−(x²/s² + s²/4)/2}/√(2π)`,
//! `b''/b' = x²/s³ − s/4` and `b'''/b' = (b''/b')² − 3x²/s⁴ − 1/4`.

use super::normalised::{
    otm_call_and_vega, otm_call_at_inflexion, otm_call_complement_ln_and_scaled,
    otm_call_ln_and_scaled,
};
use super::rational_cubic::RationalCubic;
use super::special::{
    FRAC_1_SQRT_2PI, SQRT_2PI, inverse_norm_cdf, inverse_norm_cdf_lower_from_ln, norm_pdf,
    phi_ratio,
};

/// Number of Householder(3) iterations after the rational initial guess (Jäckel 2015).
pub const HOUSEHOLDER_ITERATIONS: usize = 2;

const SQRT_3: f64 = 1.732_050_807_568_877_2;

/// The branch of `β` that fixes the initial-guess map and the iteration's objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Branch {
    /// `β < b_l`: objective `1/ln b − 1/ln β`.
    Lowest,
    /// `b_l ≤ β ≤ b_u`: objective `b − β`.
    Middle,
    /// `β > b_u`: objective `ln(b_max − b) − ln(b_max − β)`.
    Highest,
}

/// A normalised inversion problem after its initial guess: everything the iterations need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Guess {
    pub branch: Branch,
    /// Current total volatility.
    pub s: f64,
    /// `1/ln β` (lowest branch) or `ln(b_max − β)` (highest branch); unused in the middle.
    pub target: f64,
}

/// Second and third derivative ratios at `s` (with `1/s` given).
#[inline]
fn curvature_ratios(x: f64, s: f64, inv_s: f64) -> (f64, f64) {
    let xs = x * inv_s;
    let xs2 = xs * xs; // h²
    let q2 = xs2 * inv_s - 0.25 * s;
    let q3 = q2 * q2 - 3.0 * xs2 * inv_s * inv_s - 0.25;
    (q2, q3)
}

/// The Householder update factor of order 3: `x_{n+1} = x_n + ν·factor` with `ν = −f/f'`,
/// `h2 = f''/f'`, `h3 = f'''/f'`.
#[inline]
fn householder3(nu: f64, h2: f64, h3: f64) -> f64 {
    (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu / 6.0))
}

/// Total implied volatility `s = σ√T` of a normalised out-of-the-money call price
/// `0 < beta < b_max = e^{x/2}` with `x ≤ 0`. The caller checks the bounds.
#[inline]
pub(crate) fn otm_total_vol(beta: f64, x: f64, b_max: f64) -> f64 {
    let mut g = initial_guess(beta, x, b_max);
    for _ in 0..HOUSEHOLDER_ITERATIONS {
        g.s = householder_step(beta, x, b_max, g);
    }
    g.s
}

/// Branch selection and rational initial guess (Jäckel 2015, §4).
#[inline]
pub(crate) fn initial_guess(beta: f64, x: f64, b_max: f64) -> Guess {
    debug_assert!(x <= 0.0);
    // Inflexion point s_c = √(2|x|) where b'' = 0; there b' = e^{x/2}/√(2π).
    let v_c = FRAC_1_SQRT_2PI * b_max;
    let (s_c, b_c) = if x == 0.0 {
        (0.0, 0.0)
    } else {
        ((-2.0 * x).sqrt(), otm_call_at_inflexion(x, b_max))
    };

    if beta < b_c {
        let s_l = s_c - b_c / v_c;
        let (b_l, v_l) = otm_call_and_vega(x, s_l, b_max);
        let (q2_l, _) = curvature_ratios(x, s_l, 1.0 / s_l);
        if beta < b_l {
            Guess {
                branch: Branch::Lowest,
                s: lowest_guess(beta, x, s_l, b_l, v_l, q2_l),
                target: 1.0 / beta.ln(),
            }
        } else {
            // s(β) on [b_l, b_c]; d²s/db² = −(b''/b')/b'².
            let rc = RationalCubic::with_left_curvature(
                b_l,
                b_c,
                s_l,
                s_c,
                1.0 / v_l,
                1.0 / v_c,
                -q2_l / (v_l * v_l),
            );
            Guess {
                branch: Branch::Middle,
                s: rc.eval_with_distances(beta - b_l, b_c - beta),
                target: 0.0,
            }
        }
    } else {
        let s_u = s_c + (b_max - b_c) / v_c;
        let (b_u, v_u) = otm_call_and_vega(x, s_u, b_max);
        let (q2_u, _) = curvature_ratios(x, s_u, 1.0 / s_u);
        if beta <= b_u {
            let rc = RationalCubic::with_right_curvature(
                b_c,
                b_u,
                s_c,
                s_u,
                1.0 / v_c,
                1.0 / v_u,
                -q2_u / (v_u * v_u),
            );
            Guess {
                branch: Branch::Middle,
                s: rc.eval_with_distances(beta - b_c, b_u - beta),
                target: 0.0,
            }
        } else {
            let c_beta = b_max - beta;
            Guess {
                branch: Branch::Highest,
                s: highest_guess(b_max, c_beta, s_u, b_u, v_u, q2_u),
                target: c_beta.ln(),
            }
        }
    }
}

/// One Householder(3) step on the branch's objective (Jäckel 2015, §5); returns the new `s`.
#[inline]
pub(crate) fn householder_step(beta: f64, x: f64, b_max: f64, g: Guess) -> f64 {
    let s = g.s;
    let inv_s = 1.0 / s;
    let (q2, q3) = curvature_ratios(x, s, inv_s);
    let (nu, h2, h3) = match g.branch {
        Branch::Lowest => {
            // g(s) = 1/ln b − 1/ln β with λ = ln b and r1 = b'/b = 1/D.
            let (lam, d) = otm_call_ln_and_scaled(x, s, inv_s, b_max);
            let r1 = 1.0 / d;
            let inv_lam = 1.0 / lam;
            let nu = lam * (1.0 - lam * g.target) * d;
            let r1_lam = r1 * inv_lam;
            let h2 = (q2 - r1) - 2.0 * r1_lam;
            let h3 = (q3 - 3.0 * q2 * r1 + 2.0 * r1 * r1) - 6.0 * r1_lam * (q2 - r1)
                + 6.0 * r1_lam * r1_lam;
            (nu, h2, h3)
        }
        Branch::Middle => {
            let (b, vega) = otm_call_and_vega(x, s, b_max);
            ((beta - b) / vega, q2, q3)
        }
        Branch::Highest => {
            // g(s) = ln c − ln c_β with c = b_max − b and r = b'/c = 1/C.
            let (ln_c, c) = otm_call_complement_ln_and_scaled(x, s, inv_s, b_max);
            let r = 1.0 / c;
            let nu = (ln_c - g.target) * c;
            (nu, q2 + r, q3 + 3.0 * q2 * r + 2.0 * r * r)
        }
    };
    let next = s + nu * householder3(nu, h2, h3);
    if next > 0.0 && next.is_finite() {
        next
    } else if s + nu > 0.0 && (s + nu).is_finite() {
        s + nu
    } else {
        0.5 * s
    }
}

/// Initial guess on the lowest branch `β < b_l` through the map
/// `f_l(s) = 2π|x|/(3√3)·Φ(z)³`, `z = x/(√3 s)`, which behaves like `b` itself as `s → 0`
/// (so `df_l/dβ = 1` at `β = 0`).
#[inline]
fn lowest_guess(beta: f64, x: f64, s_l: f64, b_l: f64, v_l: f64, q2_l: f64) -> f64 {
    let ax = -x;
    let k1 = 2.0 * std::f64::consts::PI * ax / (3.0 * SQRT_3);
    let z_l = x / (SQRT_3 * s_l);
    let pdf = norm_pdf(z_l);
    let cdf = pdf * phi_ratio(z_l);
    let f_l = k1 * cdf * cdf * cdf;
    // df/ds = (2πx²/3)·Φ(z)²φ(z)/s²;  dz/ds = |x|/(√3 s²).
    let k = 2.0 * std::f64::consts::PI * x * x / 3.0;
    let s_l2 = s_l * s_l;
    let f_s = k * cdf * cdf * pdf / s_l2;
    let dz = ax / (SQRT_3 * s_l2);
    let f_ss = k * pdf * cdf * ((2.0 * pdf - z_l * cdf) * dz / s_l2 - 2.0 * cdf / (s_l2 * s_l));
    let f_b = f_s / v_l;
    let f_bb = (f_ss - f_s * q2_l) / (v_l * v_l);
    let rc = RationalCubic::with_right_curvature(0.0, b_l, 0.0, f_l, 1.0, f_b, f_bb);
    let mut f = rc.eval_with_distances(beta, b_l - beta);
    if !(f > 0.0) {
        f = beta;
    }
    // Φ(z) = (f/k1)^{1/3}, taken through its logarithm.
    let ln_p = ((f / k1).ln() / 3.0).min(-f64::EPSILON);
    let z = inverse_norm_cdf_lower_from_ln(ln_p);
    let s = x / (SQRT_3 * z);
    if s > 0.0 && s.is_finite() {
        s
    } else {
        0.5 * s_l
    }
}

/// Initial guess on the highest branch `β > b_u` through the map `f_u(s) = Φ(−s/2)`, with
/// `df_u/dβ = −1/2` at `β = b_max`.
#[inline]
fn highest_guess(b_max: f64, c_beta: f64, s_u: f64, b_u: f64, v_u: f64, q2_u: f64) -> f64 {
    let half_s = 0.5 * s_u;
    let pdf = norm_pdf(half_s);
    let f_u = pdf * phi_ratio(-half_s);
    let f_s = -0.5 * pdf;
    let f_ss = 0.125 * s_u * pdf;
    let f_b = f_s / v_u;
    let f_bb = (f_ss - f_s * q2_u) / (v_u * v_u);
    let rc = RationalCubic::with_left_curvature(b_u, b_max, f_u, 0.0, f_b, -0.5, f_bb);
    let mut f = rc.eval_with_distances(b_max - c_beta - b_u, c_beta);
    if !(f > 0.0) || f >= f_u {
        // Linear in the complement as a safe fallback.
        f = 0.5 * c_beta;
    }
    let s = -2.0 * inverse_norm_cdf(f);
    if s > 0.0 && s.is_finite() {
        s
    } else {
        s_u + SQRT_2PI
    }
}
