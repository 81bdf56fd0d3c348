//! Forward-mode automatic differentiation for closed-form smile formulas.
//!
//! A formula written once over [`Real`] evaluates to its value (`f64`), its gradient in up to
//! `N` parameters ([`Dual<N>`]) or its first two derivatives in one variable ([`Taylor2`]).
//! The derivatives are those of the formula as evaluated, exact up to rounding — no finite
//! differences. Every elementary function goes through [`Real::lift`] with its value and first
//! two derivatives, so a new number type only implements arithmetic and `lift`.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number type a formula can be evaluated in.
pub(crate) trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant.
    fn cst(x: f64) -> Self;
    /// The value.
    fn re(self) -> f64;
    /// `f(self)` given `f(v), f'(v), f''(v)` at the value `v`.
    fn lift(self, f0: f64, f1: f64, f2: f64) -> Self;

    /// `ln x`.
    #[inline]
    fn ln(self) -> Self {
        let v = self.re();
        self.lift(v.ln(), 1.0 / v, -1.0 / (v * v))
    }
    /// `eˣ`.
    #[inline]
    fn exp(self) -> Self {
        let e = self.re().exp();
        self.lift(e, e, e)
    }
    /// `√x`.
    #[inline]
    fn sqrt(self) -> Self {
        let s = self.re().sqrt();
        self.lift(s, 0.5 / s, -0.25 / (s * s * s))
    }
    /// `ln(1 + x)`.
    #[inline]
    fn ln_1p(self) -> Self {
        let v = self.re();
        let d = 1.0 / (1.0 + v);
        self.lift(v.ln_1p(), d, -d * d)
    }
    /// `eˣ − 1`.
    #[inline]
    fn exp_m1(self) -> Self {
        let v = self.re();
        let e = v.exp();
        self.lift(v.exp_m1(), e, e)
    }
    /// `x²`.
    #[inline]
    fn sq(self) -> Self {
        self * self
    }
    /// `|x|` (derivative `sign x`, 0 at 0).
    #[inline]
    fn abs(self) -> Self {
        let v = self.re();
        self.lift(v.abs(), if v == 0.0 { 0.0 } else { v.signum() }, 0.0)
    }
}

impl Real for f64 {
    #[inline]
    fn cst(x: f64) -> Self {
        x
    }
    #[inline]
    fn re(self) -> f64 {
        self
    }
    #[inline]
    fn lift(self, f0: f64, _f1: f64, _f2: f64) -> Self {
        f0
    }
    #[inline]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline]
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
}

/// A value with its gradient in `N` variables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// Variable number `i` with value `v`.
    #[inline]
    pub fn var(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Dual { v, d }
    }
}

impl<const N: usize> Real for Dual<N> {
    #[inline]
    fn cst(x: f64) -> Self {
        Dual { v: x, d: [0.0; N] }
    }
    #[inline]
    fn re(self) -> f64 {
        self.v
    }
    #[inline]
    fn lift(self, f0: f64, f1: f64, _f2: f64) -> Self {
        Dual {
            v: f0,
            d: self.d.map(|x| f1 * x),
        }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a += b;
        }
        Dual { v: self.v + o.v, d }
    }
}
impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a -= b;
        }
        Dual { v: self.v - o.v, d }
    }
}
impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a = *a * o.v + self.v * b;
        }
        Dual { v: self.v * o.v, d }
    }
}
impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        // The value as `f64` computes it, so that values agree bit for bit.
        let inv = 1.0 / o.v;
        let v = self.v / o.v;
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a = (*a - v * b) * inv;
        }
        Dual { v, d }
    }
}
impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Dual {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}
impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: f64) -> Self {
        Dual {
            v: self.v + o,
            d: self.d,
        }
    }
}
impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: f64) -> Self {
        Dual {
            v: self.v - o,
            d: self.d,
        }
    }
}
impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        Dual {
            v: self.v * o,
            d: self.d.map(|x| x * o),
        }
    }
}
impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        let inv = 1.0 / o;
        Dual {
            v: self.v / o,
            d: self.d.map(|x| x * inv),
        }
    }
}

/// A value with its first and second derivative in one variable (truncated Taylor
/// arithmetic; `d2` is the second derivative, not the Taylor coefficient).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Taylor2 {
    pub v: f64,
    pub d1: f64,
    pub d2: f64,
}

impl Taylor2 {
    /// The variable itself at `v`.
    #[inline]
    pub fn var(v: f64) -> Self {
        Taylor2 {
            v,
            d1: 1.0,
            d2: 0.0,
        }
    }
}

impl Real for Taylor2 {
    #[inline]
    fn cst(x: f64) -> Self {
        Taylor2 {
            v: x,
            d1: 0.0,
            d2: 0.0,
        }
    }
    #[inline]
    fn re(self) -> f64 {
        self.v
    }
    #[inline]
    fn lift(self, f0: f64, f1: f64, f2: f64) -> Self {
        Taylor2 {
            v: f0,
            d1: f1 * self.d1,
            d2: f2 * self.d1 * self.d1 + f1 * self.d2,
        }
    }
}

impl Add for Taylor2 {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        Taylor2 {
            v: self.v + o.v,
            d1: self.d1 + o.d1,
            d2: self.d2 + o.d2,
        }
    }
}
impl Sub for Taylor2 {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        Taylor2 {
            v: self.v - o.v,
            d1: self.d1 - o.d1,
            d2: self.d2 - o.d2,
        }
    }
}
impl Mul for Taylor2 {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        Taylor2 {
            v: self.v * o.v,
            d1: self.d1 * o.v + self.v * o.d1,
            d2: self.d2 * o.v + 2.0 * self.d1 * o.d1 + self.v * o.d2,
        }
    }
}
impl Div for Taylor2 {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let v = self.v / o.v;
        let d1 = (self.d1 - v * o.d1) * inv;
        let d2 = (self.d2 - 2.0 * d1 * o.d1 - v * o.d2) * inv;
        Taylor2 { v, d1, d2 }
    }
}
impl Neg for Taylor2 {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Taylor2 {
            v: -self.v,
            d1: -self.d1,
            d2: -self.d2,
        }
    }
}
impl Add<f64> for Taylor2 {
    type Output = Self;
    #[inline]
    fn add(self, o: f64) -> Self {
        Taylor2 {
            v: self.v + o,
            ..self
        }
    }
}
impl Sub<f64> for Taylor2 {
    type Output = Self;
    #[inline]
    fn sub(self, o: f64) -> Self {
        Taylor2 {
            v: self.v - o,
            ..self
        }
    }
}
impl Mul<f64> for Taylor2 {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        Taylor2 {
            v: self.v * o,
            d1: self.d1 * o,
            d2: self.d2 * o,
        }
    }
}
impl Div<f64> for Taylor2 {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        let inv = 1.0 / o;
        Taylor2 {
            v: self.v / o,
            d1: self.d1 * inv,
            d2: self.d2 * inv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(x) = ln(1 + x²)·e^{√x}/x` and its derivatives by hand.
    fn f<T: Real>(x: T) -> T {
        (x * x).ln_1p() * x.sqrt().exp() / x
    }

    #[test]
    fn taylor2_and_dual_match_hand_derivatives() {
        let x = 0.7_f64;
        let h = |x: f64| f(x);
        // Central differences of high order as an independent check (h = 1e-3, error ~1e-12).
        let e = 1e-3;
        let d1 = (-h(x + 2.0 * e) + 8.0 * h(x + e) - 8.0 * h(x - e) + h(x - 2.0 * e)) / (12.0 * e);
        let d2 = (-h(x + 2.0 * e) + 16.0 * h(x + e) - 30.0 * h(x) + 16.0 * h(x - e)
            - h(x - 2.0 * e))
            / (12.0 * e * e);
        let t = f(Taylor2::var(x));
        assert!((t.v - h(x)).abs() < 1e-15);
        assert!((t.d1 - d1).abs() < 1e-9, "{} {}", t.d1, d1);
        assert!((t.d2 - d2).abs() < 1e-6, "{} {}", t.d2, d2);
        let g = f(Dual::<2>::var(x, 1));
        assert_eq!(g.d[0], 0.0);
        assert!((g.d[1] - t.d1).abs() < 1e-15);
    }
}
