//! Pooled residual and Jacobian buffers: a problem whose residual count varies (one per quote)
//! returns these from argmin's `Operator::apply` / `Jacobian::jacobian`; dropping one hands
//! its storage back to a small per-thread pool, so after the first iteration a fit allocates
//! nothing.

use super::views::{JacobianMatrix, ResidualVector};
use std::cell::RefCell;

/// Buffers kept per thread (a fit holds at most a handful at a time).
const POOL_CAPACITY: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// A `Vec<f64>` whose storage returns to a per-thread pool when dropped.
#[derive(Debug, Default)]
pub struct PooledVec {
    buf: Vec<f64>,
}

impl PooledVec {
    /// A zeroed buffer of `len` values, reusing pooled storage when there is some.
    ///
    /// ```
    /// use volfit::fit::pool::PooledVec;
    /// let v = PooledVec::zeros(3);
    /// assert_eq!(&v[..], &[0.0, 0.0, 0.0]);
    /// ```
    pub fn zeros(len: usize) -> Self {
        let mut buf = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
        buf.clear();
        buf.resize(len, 0.0);
        PooledVec { buf }
    }
}

impl Clone for PooledVec {
    fn clone(&self) -> Self {
        let mut v = PooledVec::zeros(self.buf.len());
        v.buf.copy_from_slice(&self.buf);
        v
    }
}

impl Drop for PooledVec {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.capacity() > 0 {
            // `try_with`: during thread teardown the pool may be gone; then just free.
            let _ = POOL.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < POOL_CAPACITY {
                    p.push(buf);
                }
            });
        }
    }
}

impl std::ops::Deref for PooledVec {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.buf
    }
}

impl std::ops::DerefMut for PooledVec {
    fn deref_mut(&mut self) -> &mut [f64] {
        &mut self.buf
    }
}

impl ResidualVector for PooledVec {
    fn as_slice(&self) -> &[f64] {
        &self.buf
    }
}

/// A column-major `nrows × ncols` matrix in a [`PooledVec`].
#[derive(Debug, Clone)]
pub struct PooledMatrix {
    data: PooledVec,
    nrows: usize,
    ncols: usize,
}

impl PooledMatrix {
    /// A zeroed matrix.
    pub fn zeros(nrows: usize, ncols: usize) -> Self {
        PooledMatrix {
            data: PooledVec::zeros(nrows * ncols),
            nrows,
            ncols,
        }
    }

    /// The entries in column-major order, mutably.
    pub fn as_col_major_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Column `j`, mutably.
    pub fn column_mut(&mut self, j: usize) -> &mut [f64] {
        &mut self.data[j * self.nrows..(j + 1) * self.nrows]
    }

    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[j * self.nrows + i]
    }

    /// Sets entry `(i, j)`.
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[j * self.nrows + i] = v;
    }
}

impl JacobianMatrix for PooledMatrix {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn as_col_major(&self) -> &[f64] {
        &self.data
    }
}
