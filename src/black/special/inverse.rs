//! The inverse standard normal CDF: Wichura's AS 241 (*Algorithm AS 241: The percentage points
//! of the normal distribution*, Applied Statistics 37, 1988), the 16-digit version.

const SPLIT1: f64 = 0.425;
const SPLIT2: f64 = 5.0;
const CONST1: f64 = 0.180_625;
const CONST2: f64 = 1.6;
// Wichura (1988), AS 241 PPND16.
const AS241_A: [f64; 8] = [
    3.387_132_872_796_366_5,
    133.141_667_891_784_38,
    1_971.590_950_306_551_3,
    13_731.693_765_509_461,
    45_921.953_931_549_87,
    67_265.770_927_008_7,
    33_430.575_583_588_13,
    2_509.080_928_730_122_7,
];
const AS241_B: [f64; 8] = [
    1.0,
    42.313_330_701_600_91,
    687.187_007_492_057_9,
    5_394.196_021_424_751,
    21_213.794_301_586_597,
    39_307.895_800_092_71,
    28_729.085_735_721_943,
    5_226.495_278_852_854_5,
];
const AS241_C: [f64; 8] = [
    1.423_437_110_749_683_5,
    4.630_337_846_156_545,
    5.769_497_221_460_691,
    3.647_848_324_763_204_5,
    1.270_458_252_452_368_4,
    0.241_780_725_177_450_6,
    0.022_723_844_989_269_184,
    7.745_450_142_783_414e-4,
];
const AS241_D: [f64; 8] = [
    1.0,
    2.053_191_626_637_758_8,
    1.676_384_830_183_803_8,
    0.689_767_334_985_1,
    0.148_103_976_427_480_07,
    0.015_198_666_563_616_457,
    5.475_938_084_995_345e-4,
    1.050_750_071_644_416_8e-9,
];
const AS241_E: [f64; 8] = [
    6.657_904_643_501_103,
    5.463_784_911_164_114,
    1.784_826_539_917_291_3,
    0.296_560_571_828_504_9,
    0.026_532_189_526_576_124,
    0.001_242_660_947_388_078_4,
    2.711_555_568_743_487_6e-5,
    2.010_334_399_292_288_1e-7,
];
const AS241_F: [f64; 8] = [
    1.0,
    0.599_832_206_555_888,
    0.136_929_880_922_735_8,
    0.014_875_361_290_850_615,
    7.868_691_311_456_133e-4,
    1.846_318_317_510_054_8e-5,
    1.421_511_758_316_446e-7,
    2.044_263_103_389_939_7e-15,
];

#[inline]
fn poly7(c: &[f64; 8], r: f64) -> f64 {
    ((((((c[7] * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
}

/// Inverse of the standard normal distribution function, `Φ⁻¹(p)` for `0 < p < 1` (AS 241),
/// `−∞`/`+∞` at 0/1 and NaN outside `[0, 1]`.
///
/// ```
/// use volfit::black::special::{inverse_norm_cdf, norm_cdf};
/// assert_eq!(inverse_norm_cdf(0.5), 0.0);
/// let z = inverse_norm_cdf(1e-100);
/// assert!((norm_cdf(z) / 1e-100 - 1.0).abs() < 1e-13);
/// ```
#[inline]
pub fn inverse_norm_cdf(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= SPLIT1 {
        let r = CONST1 - q * q;
        return q * poly7(&AS241_A, r) / poly7(&AS241_B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    if tail.is_nan() || tail < 0.0 {
        return f64::NAN;
    }
    if tail == 0.0 {
        return if q < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let r = (-tail.ln()).sqrt();
    let z = if r <= SPLIT2 {
        let r = r - CONST2;
        poly7(&AS241_C, r) / poly7(&AS241_D, r)
    } else {
        let r = r - SPLIT2;
        poly7(&AS241_E, r) / poly7(&AS241_F, r)
    };
    if q < 0.0 { -z } else { z }
}

/// `Φ⁻¹(p)` for `p ≤ 1/2` given `ln p` (and `p` itself only when it is needed), which avoids
/// forming `p` from a power in the tail: AS 241's tail branches take `√(−ln p)` directly.
#[inline]
pub(crate) fn inverse_norm_cdf_lower_from_ln(ln_p: f64) -> f64 {
    // AS 241 uses the central formula for p ≥ 0.5 − SPLIT1 = 0.075.
    const LN_CENTRAL: f64 = -2.590_267_165_445_826_7; // ln(0.075)
    if ln_p >= LN_CENTRAL {
        return inverse_norm_cdf(ln_p.exp());
    }
    let r = (-ln_p).sqrt();
    let z = if r <= SPLIT2 {
        let r = r - CONST2;
        poly7(&AS241_C, r) / poly7(&AS241_D, r)
    } else {
        let r = r - SPLIT2;
        poly7(&AS241_E, r) / poly7(&AS241_F, r)
    };
    -z
}
