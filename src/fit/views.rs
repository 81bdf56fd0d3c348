//! How the least-squares solvers see parameter vectors, residual vectors and Jacobians: as
//! contiguous `f64` slices (column-major for matrices). Implemented for nalgebra's owned
//! vectors and matrices (static or dynamic sizes), `Vec<f64>`, and the pooled buffers of
//! [`super::pool`], so problems choose their own storage and static-size problems allocate
//! nothing.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix, OVector};

/// A parameter vector the solvers can read, write and rebuild.
pub trait ParamVector: Clone {
    /// The components.
    fn as_slice(&self) -> &[f64];
    /// The components, mutably.
    fn as_mut_slice(&mut self) -> &mut [f64];
    /// Number of components.
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    /// Whether the vector is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A residual vector the solvers can read.
pub trait ResidualVector {
    /// The residuals.
    fn as_slice(&self) -> &[f64];
}

/// A Jacobian the solvers can read: `nrows` residuals × `ncols` parameters, column-major.
pub trait JacobianMatrix {
    /// Number of residuals.
    fn nrows(&self) -> usize;
    /// Number of parameters.
    fn ncols(&self) -> usize;
    /// The entries in column-major order (`∂r_i/∂p_j` at `i + j·nrows`).
    fn as_col_major(&self) -> &[f64];
}

impl<D: Dim> ParamVector for OVector<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    fn as_slice(&self) -> &[f64] {
        nalgebra::Matrix::as_slice(self)
    }
    fn as_mut_slice(&mut self) -> &mut [f64] {
        nalgebra::Matrix::as_mut_slice(self)
    }
}

impl ParamVector for Vec<f64> {
    fn as_slice(&self) -> &[f64] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [f64] {
        self
    }
}

impl<D: Dim> ResidualVector for OVector<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    fn as_slice(&self) -> &[f64] {
        nalgebra::Matrix::as_slice(self)
    }
}

impl ResidualVector for Vec<f64> {
    fn as_slice(&self) -> &[f64] {
        self
    }
}

impl<R: Dim, C: Dim> JacobianMatrix for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn nrows(&self) -> usize {
        self.shape().0
    }
    fn ncols(&self) -> usize {
        self.shape().1
    }
    fn as_col_major(&self) -> &[f64] {
        nalgebra::Matrix::as_slice(self)
    }
}
