//! Rational cubic interpolation (Delbourgo & Gregory, *Shape preserving piecewise rational
//! interpolation*, SIAM J. Sci. Stat. Comput. 6 (1985) 967–976), as used by Jäckel (2015, §4)
//! for the initial guess of the implied volatility.
//!
//! On `[x_l, x_r]` with `h = x_r − x_l`, `u = (x − x_l)/h` and `v = 1 − u`:
//!
//! ```text
//! R(x) = [y_r·u³ + (r·y_r − h·d_r)·u²v + (r·y_l + h·d_l)·u·v² + y_l·v³] / [1 + (r − 3)·u·v]
//! ```
//!
//! matches values `y_l, y_r` and slopes `d_l, d_r` at both ends for any control parameter
//! `r > −1`; `r = 3` is the cubic Hermite interpolant. `r` is chosen to match a second derivative
//! at one end, then raised if needed to the Delbourgo–Gregory bound that keeps monotone data
//! monotone.

/// Interpolation data on one interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RationalCubic {
    pub x_l: f64,
    pub x_r: f64,
    pub y_l: f64,
    pub y_r: f64,
    pub d_l: f64,
    pub d_r: f64,
    pub r: f64,
}

/// Lower bound for `r` beyond which the interpolant's denominator stays positive.
const R_MIN: f64 = -(1.0 - 1e-9);
/// Upper bound for `r` (the interpolant tends to linear as `r → ∞`).
const R_MAX: f64 = 2.0 / (f64::EPSILON * f64::EPSILON);

impl RationalCubic {
    fn bounded(self, r: f64) -> Self {
        let delta = (self.y_r - self.y_l) / (self.x_r - self.x_l);
        // Delbourgo–Gregory (1985): monotone data stay monotone for r ≥ (d_l + d_r)/Δ.
        let monotone = if delta != 0.0 && (self.d_l + self.d_r) / delta >= 0.0 {
            (self.d_l + self.d_r) / delta
        } else {
            R_MIN
        };
        let r = if r.is_finite() { r } else { R_MAX };
        Self {
            r: r.max(monotone).clamp(R_MIN, R_MAX),
            ..self
        }
    }

    /// The interpolant whose second derivative at the left end is `y2_l`.
    ///
    /// From `R''(x_l) = 2[r(Δ − d_l) + d_l − d_r]/h` with `Δ = (y_r − y_l)/h`.
    pub fn with_left_curvature(
        x_l: f64,
        x_r: f64,
        y_l: f64,
        y_r: f64,
        d_l: f64,
        d_r: f64,
        y2_l: f64,
    ) -> Self {
        let h = x_r - x_l;
        let delta = (y_r - y_l) / h;
        let r = (0.5 * h * y2_l + d_r - d_l) / (delta - d_l);
        Self {
            x_l,
            x_r,
            y_l,
            y_r,
            d_l,
            d_r,
            r: 3.0,
        }
        .bounded(r)
    }

    /// The interpolant whose second derivative at the right end is `y2_r`.
    ///
    /// From `R''(x_r) = 2[r(d_r − Δ) + d_l − d_r]/h`.
    pub fn with_right_curvature(
        x_l: f64,
        x_r: f64,
        y_l: f64,
        y_r: f64,
        d_l: f64,
        d_r: f64,
        y2_r: f64,
    ) -> Self {
        let h = x_r - x_l;
        let delta = (y_r - y_l) / h;
        let r = (0.5 * h * y2_r + d_r - d_l) / (d_r - delta);
        Self {
            x_l,
            x_r,
            y_l,
            y_r,
            d_l,
            d_r,
            r: 3.0,
        }
        .bounded(r)
    }

    /// Evaluates at the point whose distances to the ends are `x − x_l` and `x_r − x` (passed
    /// separately so that a caller who knows `x_r − x` more accurately than by subtraction keeps
    /// those digits).
    #[inline]
    pub fn eval_with_distances(&self, from_left: f64, to_right: f64) -> f64 {
        let h = self.x_r - self.x_l;
        let u = from_left / h;
        let v = to_right / h;
        let num = self.y_r * u * u * u
            + (self.r * self.y_r - h * self.d_r) * u * u * v
            + (self.r * self.y_l + h * self.d_l) * u * v * v
            + self.y_l * v * v * v;
        num / (1.0 + (self.r - 3.0) * u * v)
    }

    /// Evaluates at `x`.
    #[cfg(test)]
    pub fn eval(&self, x: f64) -> f64 {
        self.eval_with_distances(x - self.x_l, self.x_r - x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second_derivative(rc: &RationalCubic, x: f64) -> f64 {
        let e = 1e-4 * (rc.x_r - rc.x_l);
        (rc.eval(x + e) - 2.0 * rc.eval(x) + rc.eval(x - e)) / (e * e)
    }

    #[test]
    fn matches_values_slopes_and_curvature() {
        // Data from f(x) = exp(x) on [0, 1].
        let (y_l, y_r) = (1.0, 1f64.exp());
        let left = RationalCubic::with_left_curvature(0.0, 1.0, y_l, y_r, y_l, y_r, 1.0);
        let right = RationalCubic::with_right_curvature(0.0, 1.0, y_l, y_r, y_l, y_r, y_r);
        for rc in [left, right] {
            assert!((rc.eval(0.0) - y_l).abs() < 1e-15);
            assert!((rc.eval(1.0) - y_r).abs() < 1e-15);
            let e = 1e-6;
            assert!(((rc.eval(e) - rc.eval(0.0)) / e - y_l).abs() < 1e-5);
            assert!(((rc.eval(1.0) - rc.eval(1.0 - e)) / e - y_r).abs() < 1e-5);
        }
        assert!((second_derivative(&left, 1e-3) - 1.0).abs() < 1e-2);
        assert!((second_derivative(&right, 1.0 - 1e-3) - y_r).abs() < 1e-2);
        // Both are close to exp in the middle.
        assert!((left.eval(0.5) - 0.5f64.exp()).abs() < 1e-3);
    }
}
