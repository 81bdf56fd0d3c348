//! Special functions of the normal distribution to full double precision.
//!
//! * [`erfcx`], [`erfc`], [`erf`]: W. J. Cody, *Rational Chebyshev approximations for the error
//!   function*, Math. Comp. 23 (1969) 631–637, with the coefficients of Cody's `CALERF` (netlib
//!   `specfun`), accurate to about 1e-16 relative in each of the three ranges
//!   `|x| ≤ 0.46875`, `0.46875 < |x| ≤ 4`, `|x| > 4`.
//! * [`inverse_norm_cdf`]: M. J. Wichura, *Algorithm AS 241: the percentage points of the normal
//!   distribution*, Applied Statistics 37 (1988) 477–484 (`PPND16`, about 1e-16 relative).
//! * [`norm_cdf`] uses `erfc` and, far in the lower tail, the asymptotic series of the Mills ratio
//!   so that no accuracy is lost to the scaling `x/√2`.
//!
//! All functions are branch-light, allocation-free and `#[inline]`, because the implied-volatility
//! solver calls them a handful of times per option.

mod inverse;

pub use inverse::inverse_norm_cdf;
pub(crate) use inverse::inverse_norm_cdf_lower_from_ln;

/// `1/√(2π)`.
pub const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2π)`.
pub const SQRT_2PI: f64 = 2.506_628_274_631_000_5;
/// `ln √(2π)`.
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// `√(π/2)`.
pub const SQRT_PI_OVER_2: f64 = 1.253_314_137_315_500_3;
/// `1/√π`.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;

const CODY_THRESHOLD: f64 = 0.46875;

// Cody (1969), erf on |x| ≤ 0.46875: erf(x) = x·P(x²)/Q(x²).
const A: [f64; 5] = [
    3.161_123_743_870_565_6,
    113.864_154_151_050_16,
    377.485_237_685_302,
    3_209.377_589_138_469_5,
    0.185_777_706_184_603_15,
];
const B: [f64; 4] = [
    23.601_290_952_344_12,
    244.024_637_934_444_17,
    1_282.616_526_077_372_3,
    2_844.236_833_439_170_6,
];
// Cody (1969), erfcx on 0.46875 < x ≤ 4: erfcx(x) = P(x)/Q(x).
const C: [f64; 9] = [
    0.564_188_496_988_670_1,
    8.883_149_794_388_376,
    66.119_190_637_141_63,
    298.635_138_197_400_13,
    881.952_221_241_769_1,
    1_712.047_612_634_070_6,
    2_051.078_377_826_071_6,
    1_230.339_354_797_997_2,
    2.153_115_354_744_038_5e-8,
];
const D: [f64; 8] = [
    15.744_926_110_709_835,
    117.693_950_891_312_5,
    537.181_101_862_009_9,
    1_621.389_574_566_690_2,
    3_290.799_235_733_459_7,
    4_362.619_090_143_247,
    3_439.367_674_143_721_6,
    1_230.339_354_803_749_4,
];
// Cody (1969), erfcx on x > 4: erfcx(x) = (1/√π − x⁻²·P(x⁻²)/Q(x⁻²))/x.
const P: [f64; 6] = [
    0.305_326_634_961_232_36,
    0.360_344_899_949_804_45,
    0.125_781_726_111_229_26,
    0.016_083_785_148_742_275,
    6.587_491_615_298_378e-4,
    0.016_315_387_137_302_097,
];
const Q: [f64; 5] = [
    2.568_520_192_289_822,
    1.872_952_849_923_460_4,
    0.527_905_102_951_428_5,
    0.060_518_341_312_441_32,
    0.002_335_204_976_268_691_8,
];

/// erf(x) for |x| ≤ 0.46875 (Cody's first range).
#[inline]
fn erf_small(x: f64) -> f64 {
    let y = x * x;
    let mut num = A[4] * y;
    let mut den = y;
    for i in 0..3 {
        num = (num + A[i]) * y;
        den = (den + B[i]) * y;
    }
    x * (num + A[3]) / (den + B[3])
}

/// erfcx(y) = exp(y²)·erfc(y) for 0.46875 < y ≤ 4 (Cody's second range), evaluated by
/// Estrin's scheme (all coefficients and `y` are positive, so the reordering costs no accuracy
/// and halves the dependency chain of Horner's rule).
#[inline]
fn erfcx_mid(y: f64) -> f64 {
    let y2 = y * y;
    let y4 = y2 * y2;
    let y8 = y4 * y4;
    // num = c8·y⁸ + c0·y⁷ + c1·y⁶ + … + c6·y + c7 ; den = y⁸ + d0·y⁷ + … + d6·y + d7.
    let num = (C[7] + C[6] * y)
        + (C[5] + C[4] * y) * y2
        + ((C[3] + C[2] * y) + (C[1] + C[0] * y) * y2) * y4
        + C[8] * y8;
    let den = (D[7] + D[6] * y)
        + (D[5] + D[4] * y) * y2
        + ((D[3] + D[2] * y) + (D[1] + D[0] * y) * y2) * y4
        + y8;
    num / den
}

/// erfcx(y) for y > 4 (Cody's third range) with one division: Cody's
/// `(1/√π − z·N(z)/M(z))/y`, `z = 1/y²`, multiplied through by `y¹⁰` so that
/// `erfcx = (y²·M̃/√π − Ñ)/(y³·M̃)` with `M̃, Ñ` polynomials in `y²`.
#[inline]
fn erfcx_large(y: f64) -> f64 {
    if y > 1e10 {
        // erfcx(y) = 1/(y√π)·(1 − 1/(2y²) + …), the correction below 1e-20.
        return FRAC_1_SQRT_PI / y;
    }
    let u = y * y;
    let u2 = u * u;
    // N(z)·y¹⁰ = p5 + p0·u + p1·u² + p2·u³ + p3·u⁴ + p4·u⁵ (u = y²), times z for Cody's r.
    let n = (P[5] + P[0] * u) + (P[1] + P[2] * u) * u2 + (P[3] + P[4] * u) * u2 * u2;
    // M(z)·y¹⁰ = 1 + q0·u + q1·u² + q2·u³ + q3·u⁴ + q4·u⁵.
    let m = (1.0 + Q[0] * u) + (Q[1] + Q[2] * u) * u2 + (Q[3] + Q[4] * u) * u2 * u2;
    (u * m * FRAC_1_SQRT_PI - n) / (u * y * m)
}

/// erfcx on `|y| ≤ 0.46875`: a degree-18 polynomial fitted to erfcx (relative error below
/// 3e-18, see `tests/reference/gen_erfcx_small.py`), evaluated by Estrin's scheme. Its constant
/// term is exactly 1, so [`one_minus_erfcx`] drops it without cancellation.
#[inline]
fn erfcx_small(y: f64) -> f64 {
    1.0 - y * erfcx_small_deficit_over_y(y)
}

/// `(1 − erfcx(y))/y` on `|y| ≤ 0.46875` (the fitted polynomial less its constant term, over y).
#[inline]
fn erfcx_small_deficit_over_y(y: f64) -> f64 {
    const E: [f64; 18] = [
        std::f64::consts::FRAC_2_SQRT_PI, // the fit reproduces 2/√π to 1e-20
        -1.000_000_000_000_000_026_2,
        7.522_527_780_636_520_226_4e-1,
        -4.999_999_999_999_928_411_1e-1,
        3.009_011_112_273_129_062_3e-1,
        -1.666_666_666_672_396_344_4e-1,
        8.597_174_599_741_741_329e-2,
        -4.166_666_664_583_371_941_9e-2,
        1.910_483_377_725_467_093_5e-2,
        -8.333_333_743_329_815_177_2e-3,
        3.473_590_678_534_707_990_1e-3,
        -1.388_884_154_445_270_388_4e-3,
        5.345_069_290_341_567_941_9e-4,
        -1.984_456_793_388_267_700_4e-4,
        7.081_633_582_031_318_525_2e-5,
        -2.466_555_297_689_082_322_6e-5,
        9.358_900_300_868_838_56e-6,
        -3.059_770_606_784_497_745_2e-6,
    ];
    let y2 = y * y;
    let y4 = y2 * y2;
    let y8 = y4 * y4;
    let y16 = y8 * y8;
    let p0 = (E[0] + E[1] * y) + (E[2] + E[3] * y) * y2;
    let p1 = (E[4] + E[5] * y) + (E[6] + E[7] * y) * y2;
    let p2 = (E[8] + E[9] * y) + (E[10] + E[11] * y) * y2;
    let p3 = (E[12] + E[13] * y) + (E[14] + E[15] * y) * y2;
    let p4 = E[16] + E[17] * y;
    (p0 + p1 * y4) + (p2 + p3 * y4) * y8 + p4 * y16
}

/// erfcx(y) for y ≥ 0.
#[inline]
fn erfcx_nonneg(y: f64) -> f64 {
    if y <= CODY_THRESHOLD {
        erfcx_small(y)
    } else if y <= 4.0 {
        erfcx_mid(y)
    } else {
        erfcx_large(y)
    }
}

/// `1 − y·√π·erfcx(y)` for `y ≥ 0`, without cancellation for large `y` (where it tends to
/// `1/(2y²)`): beyond `y = 4` it is Cody's tail term itself. This is `Y'(−y√2)`, the normalised
/// Bachelier time value's shape function.
#[inline]
pub(crate) fn erfcx_deficit(y: f64) -> f64 {
    if y > 4.0 {
        let z = 1.0 / (y * y);
        let z2 = z * z;
        let num = (P[4] + P[3] * z) + (P[2] + P[1] * z) * z2 + (P[0] + P[5] * z) * z2 * z2;
        let den = (Q[4] + Q[3] * z) + (Q[2] + Q[1] * z) * z2 + (Q[0] + z) * z2 * z2;
        std::f64::consts::PI.sqrt() * z * num / den
    } else {
        1.0 - y * std::f64::consts::PI.sqrt() * erfcx_nonneg(y)
    }
}

/// `exp(y²)` without the relative error `2y²·ε` that squaring `y` first would cost: `y` is split
/// into a part with few bits (whose square is exact) and a remainder (Cody 1969).
#[inline]
fn exp_square(y: f64) -> f64 {
    let y0 = (y * 16.0).trunc() / 16.0;
    let del = (y - y0) * (y + y0);
    (y0 * y0).exp() * del.exp()
}

/// `exp(−y²)`, accurate to a few ulps for large `y` (see [`exp_square`]).
#[inline]
fn exp_neg_square(y: f64) -> f64 {
    let y0 = (y * 16.0).trunc() / 16.0;
    let del = (y - y0) * (y + y0);
    (-y0 * y0).exp() * (-del).exp()
}

/// The scaled complementary error function `erfcx(x) = exp(x²)·erfc(x)`.
///
/// For large positive `x`, `erfcx(x) ≈ 1/(x√π)`: it carries the tail of `erfc` without underflow,
/// which is what makes the Black function computable without cancellation deep out of the money.
/// Overflows to `+∞` for `x < −26.6`.
///
/// ```
/// use volfit::black::special::erfcx;
/// assert_eq!(erfcx(0.0), 1.0);
/// assert!((erfcx(1.0) - 0.427_583_576_155_807).abs() < 1e-16);
/// assert!((erfcx(100.0) * 100.0 * std::f64::consts::PI.sqrt() - 1.0).abs() < 1e-4);
/// ```
#[inline]
pub fn erfcx(x: f64) -> f64 {
    if x >= 0.0 {
        erfcx_nonneg(x)
    } else if x >= -CODY_THRESHOLD {
        erfcx_small(x)
    } else if x < -26.7 {
        f64::INFINITY
    } else {
        let y = -x;
        2.0 * exp_square(y) - erfcx_nonneg(y)
    }
}

/// `1 − erfcx(y)` for `y ≥ 0`, without cancellation as `y → 0` (where it is `2y/√π + O(y²)`):
/// there it is computed as `e^{y²}·erf(y) − expm1(y²)`.
#[inline]
pub(crate) fn one_minus_erfcx(y: f64) -> f64 {
    if y <= CODY_THRESHOLD {
        y * erfcx_small_deficit_over_y(y)
    } else {
        1.0 - erfcx_nonneg(y)
    }
}

/// The complementary error function `erfc(x) = 1 − erf(x)`, relative accuracy ~1e-16 also in the
/// upper tail (down to the underflow at `x ≈ 26.5`).
///
/// ```
/// use volfit::black::special::erfc;
/// assert!((erfc(0.5) - 0.479_500_122_186_953_5).abs() < 1e-16);
/// assert!((erfc(10.0) / 2.088_487_583_762_544_8e-45 - 1.0).abs() < 1e-15);
/// ```
#[inline]
pub fn erfc(x: f64) -> f64 {
    let y = x.abs();
    if y <= CODY_THRESHOLD {
        return 1.0 - erf_small(x);
    }
    let r = if y > 26.6 {
        0.0
    } else {
        exp_neg_square(y)
            * if y <= 4.0 {
                erfcx_mid(y)
            } else {
                erfcx_large(y)
            }
    };
    if x < 0.0 { 2.0 - r } else { r }
}

/// The error function.
///
/// ```
/// use volfit::black::special::erf;
/// assert!((erf(0.3) - 0.328_626_759_459_127_4).abs() < 1e-16);
/// assert_eq!(erf(-0.3), -erf(0.3));
/// ```
#[inline]
pub fn erf(x: f64) -> f64 {
    if x.abs() <= CODY_THRESHOLD {
        erf_small(x)
    } else {
        let r = erfc(x.abs());
        if x < 0.0 { r - 1.0 } else { 1.0 - r }
    }
}

/// Standard normal density `φ(x) = exp(−x²/2)/√(2π)`.
///
/// ```
/// use volfit::black::special::norm_pdf;
/// assert!((norm_pdf(0.0) - 0.398_942_280_401_432_7).abs() < 1e-17);
/// ```
#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `φ(x)` with `x²/2` split so that its rounding error is not magnified by the exponential
/// (plain `exp(−x²/2)` has relative error up to `x²/2·ε`): a few ulps even at `|x| = 38`.
#[inline]
fn norm_pdf_accurate(x: f64) -> f64 {
    let x0 = (x * 16.0).trunc() / 16.0; // x0² is exact
    let dx = x - x0;
    FRAC_1_SQRT_2PI * (-0.5 * x0 * x0).exp() * (-0.5 * dx * (x + x0)).exp()
}

/// Below this argument `norm_cdf` uses the asymptotic Mills-ratio series instead of `erfc`.
const NORM_CDF_ASYMPTOTIC_BELOW: f64 = -10.0;

/// Standard normal distribution function `Φ(x)`, relative accuracy ~1e-16 including the lower
/// tail down to underflow (`x ≈ −38.5`).
///
/// ```
/// use volfit::black::special::norm_cdf;
/// assert_eq!(norm_cdf(0.0), 0.5);
/// assert!((norm_cdf(-1.0) - 0.158_655_253_931_457_05).abs() < 6e-17);
/// assert!((norm_cdf(-20.0) / 2.753_624_118_606_233_7e-89 - 1.0).abs() < 4e-16);
/// ```
#[inline]
pub fn norm_cdf(x: f64) -> f64 {
    if x < NORM_CDF_ASYMPTOTIC_BELOW {
        // Φ(x) = φ(x)·Y(x) with the Mills-ratio series Y(x) = −1/x·Σ (−1)ⁿ(2n−1)!!/x²ⁿ.
        norm_pdf_accurate(x) * mills_ratio_asymptotic(x)
    } else if x < -1.0 {
        // Φ(x) = φ(x)·Y(x), Y through erfcx: no exponential magnification of the rounding of x/√2.
        norm_pdf_accurate(x) * phi_ratio(x)
    } else {
        0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
    }
}

/// `Y(z) = Φ(z)/φ(z)` for `z ≤ −10` by its asymptotic series (error below 1e-17 there).
#[inline]
fn mills_ratio_asymptotic(z: f64) -> f64 {
    let w = 1.0 / (z * z);
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while k < 40.0 {
        term *= -k * w;
        sum += term;
        if term.abs() < 1e-17 * sum {
            break;
        }
        k += 2.0;
    }
    -sum / z
}

/// `Y(z) = Φ(z)/φ(z) = √(π/2)·erfcx(−z/√2)`, the reciprocal of the Mills ratio of `−z`; finite
/// for every `z ≤ 26` and smooth, the building block of the scaled Black function.
///
/// ```
/// use volfit::black::special::{norm_cdf, norm_pdf, phi_ratio};
/// assert!((phi_ratio(-2.0) - norm_cdf(-2.0) / norm_pdf(-2.0)).abs() < 1e-15);
/// ```
#[inline]
pub fn phi_ratio(z: f64) -> f64 {
    SQRT_PI_OVER_2 * erfcx(-z * std::f64::consts::FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfcx_is_continuous_across_cody_ranges() {
        for &x in &[CODY_THRESHOLD, 4.0, -CODY_THRESHOLD] {
            let lo = erfcx(x.next_down());
            let hi = erfcx(x.next_up());
            assert!(
                (lo / hi - 1.0).abs() < 12.0 * f64::EPSILON,
                "jump at {x}: {lo} vs {hi}"
            );
        }
    }

    #[test]
    fn norm_cdf_symmetry() {
        for i in 0..200 {
            let x = -10.0 + 0.1 * f64::from(i);
            let s = norm_cdf(x) + norm_cdf(-x);
            assert!((s - 1.0).abs() < 2e-16, "{x}: {s}");
        }
    }

    #[test]
    fn inverse_norm_cdf_round_trip() {
        // Lower half only: above the median p = Φ(z) rounds near 1 and the tail is lost.
        for i in 1..=148 {
            let z = -37.0 + 0.25 * f64::from(i);
            let back = inverse_norm_cdf(norm_cdf(z));
            assert!((back - z).abs() <= 1e-14 * z.abs().max(1.0), "{z}: {back}");
            assert_eq!(inverse_norm_cdf(1.0 - norm_cdf(z)).signum(), 1.0);
        }
    }
}
