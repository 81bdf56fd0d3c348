//! The quasi-Newton path: the same least-squares problems minimised by argmin's BFGS and L-BFGS
//! (More–Thuente line search) on the cost `½‖r‖²` with gradient `Jᵀr`.
//!
//! argmin's quasi-Newton solvers know no bounds, so bounded components are mapped to the real
//! line smoothly: `x = lo + e^u` (lower bound), `x = hi − e^u` (upper bound),
//! `x = lo + (hi − lo)/(1 + e^{−u})` (both), with the chain rule applied to the gradient.
//! Parameters live in `Vec<f64>` on this path (argmin's BFGS needs outer products that its
//! nalgebra backend lacks; argmin issue #337).

use super::views::{JacobianMatrix, ParamVector, ResidualVector};
use argmin::core::{CostFunction, Error, Gradient, Jacobian, Operator};

/// How one component of `x` is obtained from the unconstrained `u`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Map {
    Free,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
}

impl Map {
    pub fn new(lo: f64, hi: f64) -> Self {
        match (lo.is_finite(), hi.is_finite()) {
            (false, false) => Map::Free,
            (true, false) => Map::Lower(lo),
            (false, true) => Map::Upper(hi),
            (true, true) => Map::Both(lo, hi),
        }
    }

    /// `(x, dx/du)`.
    pub fn forward(self, u: f64) -> (f64, f64) {
        match self {
            Map::Free => (u, 1.0),
            Map::Lower(lo) => {
                let e = u.exp();
                (lo + e, e)
            }
            Map::Upper(hi) => {
                let e = u.exp();
                (hi - e, -e)
            }
            Map::Both(lo, hi) => {
                let s = 1.0 / (1.0 + (-u).exp());
                (lo + (hi - lo) * s, (hi - lo) * s * (1.0 - s))
            }
        }
    }

    /// `u` for `x` (pulled strictly inside the bounds first).
    pub fn inverse(self, x: f64) -> f64 {
        let tiny = 1e-12;
        match self {
            Map::Free => x,
            Map::Lower(lo) => (x - lo).max(tiny * (1.0 + lo.abs())).ln(),
            Map::Upper(hi) => (hi - x).max(tiny * (1.0 + hi.abs())).ln(),
            Map::Both(lo, hi) => {
                let s = ((x - lo) / (hi - lo)).clamp(tiny, 1.0 - tiny);
                (s / (1.0 - s)).ln()
            }
        }
    }
}

/// A least-squares problem seen as a smooth cost of unconstrained, scaled parameters `v`:
/// `u_j = scale_j·v_j` and `x_j = map_j(u_j)`. The scales make the diagonal of the
/// Gauss–Newton matrix one at the start, so that the identity is a sensible first inverse
/// Hessian (BFGS) and the first step is of the right length (L-BFGS).
pub(crate) struct QuasiNewtonAdapter<'a, O, P> {
    pub inner: &'a O,
    pub template: P,
    pub maps: Vec<Map>,
    pub scale: Vec<f64>,
}

impl<O, P: Clone> Clone for QuasiNewtonAdapter<'_, O, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner,
            template: self.template.clone(),
            maps: self.maps.clone(),
            scale: self.scale.clone(),
        }
    }
}

impl<O, P: ParamVector> QuasiNewtonAdapter<'_, O, P> {
    pub fn to_param(&self, v: &[f64]) -> P {
        let mut p = self.template.clone();
        for (((x, &vi), map), s) in p
            .as_mut_slice()
            .iter_mut()
            .zip(v)
            .zip(&self.maps)
            .zip(&self.scale)
        {
            *x = map.forward(vi * s).0;
        }
        p
    }

    pub fn to_unconstrained(&self, x: &P) -> Vec<f64> {
        x.as_slice()
            .iter()
            .zip(&self.maps)
            .zip(&self.scale)
            .map(|((&x, m), s)| m.inverse(x) / s)
            .collect()
    }

    /// Sets the scales from the Jacobian at `x0`.
    pub fn set_scales<R, J>(&mut self, x0: &P) -> Result<(), Error>
    where
        O: Jacobian<Param = P, Jacobian = J> + Operator<Param = P, Output = R>,
        J: JacobianMatrix,
    {
        let jac = self.inner.jacobian(x0)?;
        let (m, n) = (jac.nrows(), jac.ncols());
        let a = jac.as_col_major();
        let x = x0.as_slice();
        self.scale = (0..n)
            .map(|j| {
                let dxdu = self.maps[j].forward(self.maps[j].inverse(x[j])).1;
                let d = a[j * m..(j + 1) * m]
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
                    * dxdu.abs();
                if d > 0.0 && d.is_finite() {
                    1.0 / d
                } else {
                    1.0
                }
            })
            .collect();
        Ok(())
    }
}

impl<O, P, R, J> CostFunction for QuasiNewtonAdapter<'_, O, P>
where
    O: Operator<Param = P, Output = R> + Jacobian<Param = P, Jacobian = J>,
    P: ParamVector,
    R: ResidualVector,
{
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Vec<f64>) -> Result<f64, Error> {
        let r = self.inner.apply(&self.to_param(u))?;
        let c = 0.5 * r.as_slice().iter().map(|v| v * v).sum::<f64>();
        // A non-finite cost would derail the line search: report it as very large instead.
        Ok(if c.is_finite() { c } else { f64::MAX })
    }
}

impl<O, P, R, J> Gradient for QuasiNewtonAdapter<'_, O, P>
where
    O: Operator<Param = P, Output = R> + Jacobian<Param = P, Jacobian = J>,
    P: ParamVector,
    R: ResidualVector,
    J: JacobianMatrix,
{
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, v: &Vec<f64>) -> Result<Vec<f64>, Error> {
        let p = self.to_param(v);
        let r = self.inner.apply(&p)?;
        let jac = self.inner.jacobian(&p)?;
        let (m, n) = (jac.nrows(), jac.ncols());
        let a = jac.as_col_major();
        let rs = r.as_slice();
        Ok((0..n)
            .map(|j| {
                let g: f64 = a[j * m..(j + 1) * m]
                    .iter()
                    .zip(rs)
                    .map(|(x, y)| x * y)
                    .sum();
                let d = self.maps[j].forward(v[j] * self.scale[j]).1 * self.scale[j];
                let gv = g * d;
                if gv.is_finite() { gv } else { 0.0 }
            })
            .collect())
    }
}
