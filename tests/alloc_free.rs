//! A slice-sized fit allocates nothing per iteration: static-size parameters, pooled residual
//! and Jacobian buffers. Counted per thread with a global allocator, so this is its own test
//! binary.

use argmin::core::{Error, Jacobian, Operator};
use nalgebra::Vector2;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use volfit::fit::pool::{PooledMatrix, PooledVec};
use volfit::fit::{SolveOptions, least_squares};

struct Counting;

thread_local! {
    /// Allocations made by this thread (the test harness allocates on its own threads).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
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
        let before = allocations();
        let (_, report, _) = least_squares(problem, Vector2::new(0.1, 1.5), &opts).unwrap();
        (allocations() - before, report.iterations)
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

/// The generic fitter (here SVI through the calibration seam, with its penalty rows) allocates
/// nothing per polish iteration either: a warm-started fit from a far start, stopped by the
/// iteration limit after 3 and after 12 iterations, makes the same number of allocations.
#[test]
fn generic_fit_iterations_allocate_nothing() {
    use volfit::SmileSlice;
    use volfit::fit::{FitOptions, fit_svi_from};
    use volfit::models::svi::Svi;
    let truth = Svi::new(0.02, 0.3, -0.6, 0.05, 0.2).unwrap();
    let quotes: Vec<(f64, f64)> = (-12..=12)
        .map(|i| {
            let k = 0.05 * f64::from(i);
            (
                100.0 * k.exp(),
                (truth.w(k) / 0.5).sqrt() * (1.0 + 0.01 * (3.0 * k).sin()),
            )
        })
        .collect();
    let slice = SmileSlice::from_vols(0.5, 100.0, &quotes).unwrap();
    let start = Svi::new(0.05, 0.05, 0.5, -0.3, 0.6).unwrap();
    let run = |iters: u64| {
        let opts = FitOptions {
            max_iters: iters,
            ..FitOptions::default()
        };
        let before = allocations();
        let fit = fit_svi_from(&slice, &opts, Some(&start)).unwrap();
        (allocations() - before, fit.report.iterations)
    };
    run(3);
    let (few, it_few) = run(3);
    let (many, it_many) = run(12);
    assert!(it_many > it_few, "{it_few} vs {it_many} iterations");
    assert_eq!(
        few,
        many,
        "{} allocations per extra iteration",
        (many as f64 - few as f64) / (it_many - it_few) as f64
    );
}
