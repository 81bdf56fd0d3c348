//! The LM solver on small problems with known answers: bounds, the final Jacobian, covariance.
use argmin::core::{Error, Executor, Jacobian, Operator, State};
use nalgebra::{Dyn, OMatrix, OVector, U2, Vector2};
use volfit::fit::{LevenbergMarquardt, Optimizer, SolveOptions, covariance, least_squares};

/// Rosenbrock as least squares: r = (10(y − x²), 1 − x); minimum at (1, 1).
struct Rosenbrock;
impl Operator for Rosenbrock {
    type Param = Vector2<f64>;
    type Output = OVector<f64, Dyn>;
    fn apply(&self, p: &Vector2<f64>) -> Result<Self::Output, Error> {
        Ok(OVector::<f64, Dyn>::from_vec(vec![
            10.0 * (p[1] - p[0] * p[0]),
            1.0 - p[0],
        ]))
    }
}
impl Jacobian for Rosenbrock {
    type Param = Vector2<f64>;
    type Jacobian = OMatrix<f64, Dyn, U2>;
    fn jacobian(&self, p: &Vector2<f64>) -> Result<Self::Jacobian, Error> {
        Ok(OMatrix::<f64, Dyn, U2>::from_row_slice(&[
            -20.0 * p[0],
            10.0,
            -1.0,
            0.0,
        ]))
    }
}

#[test]
fn rosenbrock_from_the_classic_start() {
    let res = Executor::new(Rosenbrock, LevenbergMarquardt::new())
        .configure(|s| s.param(Vector2::new(-1.2, 1.0)).max_iters(100))
        .run()
        .unwrap();
    let p = res.state.get_best_param().unwrap();
    assert!(
        (p[0] - 1.0).abs() < 1e-12 && (p[1] - 1.0).abs() < 1e-12,
        "{p}"
    );
    assert!(
        res.state.get_jacobian().is_some(),
        "final Jacobian kept in the state"
    );
}

#[test]
fn bounds_hold_and_an_active_bound_is_reached_exactly() {
    // Constrain x ≤ 0.5: the constrained minimum of Rosenbrock is at x = 0.5, y = 0.25.
    for optimizer in [
        Optimizer::LevenbergMarquardt,
        Optimizer::Bfgs,
        Optimizer::Lbfgs,
    ] {
        let opts = SolveOptions {
            optimizer,
            lower: vec![-2.0, -2.0],
            upper: vec![0.5, 2.0],
            max_iters: 2000,
            ..SolveOptions::default()
        };
        let (p, rep, _) = least_squares(Rosenbrock, Vector2::new(-1.2, 1.0), &opts).unwrap();
        assert!(p[0] <= 0.5 && p[1] <= 2.0, "{optimizer}: {p}");
        // LM stops on ftol = 30ε relative to the cost, which the active residual 1 − x dominates.
        let tol = if optimizer == Optimizer::LevenbergMarquardt {
            1e-9
        } else {
            1e-5
        };
        assert!(
            (p[0] - 0.5).abs() < tol && (p[1] - 0.25).abs() < tol,
            "{optimizer}: {p} {rep:?}"
        );
        if optimizer == Optimizer::LevenbergMarquardt {
            assert_eq!(p[0], 0.5, "projection lands exactly on the bound");
            assert!(rep.iterations < 60, "{rep:?}");
        }
    }
}

#[test]
fn covariance_of_a_linear_fit_matches_the_textbook_formula() {
    // y = a + b x with noise; covariance σ²(XᵀX)⁻¹.
    struct Line {
        x: Vec<f64>,
        y: Vec<f64>,
    }
    impl Operator for Line {
        type Param = Vector2<f64>;
        type Output = OVector<f64, Dyn>;
        fn apply(&self, p: &Vector2<f64>) -> Result<Self::Output, Error> {
            Ok(OVector::<f64, Dyn>::from_iterator(
                self.x.len(),
                self.x.iter().zip(&self.y).map(|(x, y)| p[0] + p[1] * x - y),
            ))
        }
    }
    impl Jacobian for Line {
        type Param = Vector2<f64>;
        type Jacobian = OMatrix<f64, Dyn, U2>;
        fn jacobian(&self, _: &Vector2<f64>) -> Result<Self::Jacobian, Error> {
            Ok(OMatrix::<f64, Dyn, U2>::from_fn(self.x.len(), |i, j| {
                if j == 0 { 1.0 } else { self.x[i] }
            }))
        }
    }
    let x: Vec<f64> = (0..10).map(f64::from).collect();
    let noise = [0.1, -0.2, 0.05, 0.0, 0.15, -0.1, 0.2, -0.05, 0.0, -0.15];
    let y: Vec<f64> = x
        .iter()
        .zip(noise)
        .map(|(x, e)| 1.0 + 2.0 * x + e)
        .collect();
    let (p, rep, jac) = least_squares(
        Line { x: x.clone(), y },
        Vector2::new(0.0, 0.0),
        &SolveOptions::default(),
    )
    .unwrap();
    let cov = covariance(&jac, rep.cost, 10).unwrap();
    let (sx, sxx) = (x.iter().sum::<f64>(), x.iter().map(|v| v * v).sum::<f64>());
    let det = 10.0 * sxx - sx * sx;
    let s2 = 2.0 * rep.cost / 8.0;
    assert!(
        (cov[0] - s2 * sxx / det).abs() < 1e-14
            && (cov[3] - s2 * 10.0 / det).abs() < 1e-14
            && (cov[1] + s2 * sx / det).abs() < 1e-14
    );
    assert!((p[1] - 2.0).abs() < 0.05);
}
