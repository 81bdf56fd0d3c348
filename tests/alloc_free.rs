//! A slice-sized fit allocates nothing per iteration: static-size parameters, pooled residual
//! and Jacobian buffers. Counted with a global allocator, so this is its own test binary.

use argmin::core::{Error, Jacobian, Operator};
use nalgebra::Vector2;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use volfit::fit::pool::{PooledMatrix, PooledVec};
use volfit::fit::{SolveOptions, least_squares};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// y = a·exp(b·x) on 40 points, from a start far enough away to need many iterations.
struct Exp {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Operator for Exp {
    type Param = Vector2<f64>;
    type Output = PooledVec;
    fn apply(&self, p: &Vector2<f64>) -> Result<PooledVec, Error> {
        let mut r = PooledVec::zeros(self.x.len());
        for ((ri, x), y) in r.iter_mut().zip(&self.x).zip(&self.y) {
            *ri = p[0] * (p[1] * x).exp() - y;
        }
        Ok(r)
    }
}

impl Jacobian for Exp {
    type Param = Vector2<f64>;
    type Jacobian = PooledMatrix;
    fn jacobian(&self, p: &Vector2<f64>) -> Result<PooledMatrix, Error> {
        let mut j = PooledMatrix::zeros(self.x.len(), 2);
        for (i, x) in self.x.iter().enumerate() {
            let e = (p[1] * x).exp();
            j.set(i, 0, e);
            j.set(i, 1, p[0] * x * e);
        }
        Ok(j)
    }
}

#[test]
fn iterations_allocate_nothing() {
    let x: Vec<f64> = (0..40).map(|i| 0.1 * f64::from(i)).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|x| 3.0 * (-1.3 * x).exp() + 0.01 * (7.0 * x).sin())
        .collect();
    let run = |iters: u64| {
        let problem = Exp {
            x: x.clone(),
            y: y.clone(),
        };
        let opts = SolveOptions {
            max_iters: iters,
            ..SolveOptions::default()
        };
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let (_, report, _) = least_squares(problem, Vector2::new(0.1, 1.5), &opts).unwrap();
        (
            ALLOCATIONS.load(Ordering::Relaxed) - before,
            report.iterations,
        )
    };
    run(3); // warm the per-thread pool
    let (few, it_few) = run(3);
    let (many, it_many) = run(12);
    assert_eq!(
        (it_few, it_many),
        (3, 12),
        "both runs stop on the iteration limit"
    );
    assert_eq!(
        few,
        many,
        "{} allocations per extra iteration",
        (many as f64 - few as f64) / 9.0
    );
}
