//! The NIST StRD nonlinear least-squares problems (`../shared/reference/nist_strd/`): all 27
//! from both starting points, solved with volfit's LM (and BFGS / L-BFGS), compared with the
//! certified parameters and residual sum of squares, and with the `levenberg-marquardt` crate
//! (a MINPACK port) on the same problems.

use crate::common::shared_reference;
use argmin::core::{Error, Jacobian, Operator};
use nalgebra::{DMatrix, DVector, Dyn, Owned};
use std::f64::consts::PI;
use volfit::fit::{Optimizer, SolveOptions, least_squares};

/// One NIST problem: data, two starts, certified values.
pub struct Nist {
    pub name: String,
    pub x: Vec<Vec<f64>>,
    pub y: Vec<f64>,
    pub starts: [Vec<f64>; 2],
    pub certified: Vec<f64>,
    pub certified_rss: f64,
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .filter_map(|t| t.parse::<f64>().ok())
        .collect()
}

/// Parses a NIST StRD `.dat` file.
pub fn load(name: &str) -> Nist {
    let text = std::fs::read_to_string(shared_reference(&format!("nist_strd/{name}.dat"))).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut starts = [Vec::new(), Vec::new()];
    let mut certified = Vec::new();
    let mut rss = f64::NAN;
    for l in &lines {
        let t = l.trim_start();
        if t.starts_with('b')
            && t.contains('=')
            && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            let v = numbers(&t[t.find('=').unwrap() + 1..]);
            if v.len() >= 4 {
                starts[0].push(v[0]);
                starts[1].push(v[1]);
                certified.push(v[2]);
            }
        }
        if t.starts_with("Residual Sum of Squares:") {
            rss = numbers(t)[0];
        }
    }
    // Data follow the last "Data:" header line.
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Data:"))
        .unwrap()
        + 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for l in &lines[start..] {
        let v = numbers(l);
        if v.len() >= 2 {
            y.push(v[0]);
            x.push(v[1..].to_vec());
        }
    }
    Nist {
        name: name.to_string(),
        x,
        y,
        starts,
        certified,
        certified_rss: rss,
    }
}

/// Model value and gradient in the parameters at one observation.
pub fn model(name: &str, b: &[f64], x: &[f64], g: &mut [f64]) -> f64 {
    let x0 = x[0];
    match name {
        "Misra1a" | "BoxBOD" => {
            let e = (-b[1] * x0).exp();
            g[0] = 1.0 - e;
            g[1] = b[0] * x0 * e;
            b[0] * (1.0 - e)
        }
        "Chwirut1" | "Chwirut2" => {
            let e = (-b[0] * x0).exp();
            let d = b[1] + b[2] * x0;
            g[0] = -x0 * e / d;
            g[1] = -e / (d * d);
            g[2] = -x0 * e / (d * d);
            e / d
        }
        "Lanczos1" | "Lanczos2" | "Lanczos3" => {
            let mut f = 0.0;
            for k in 0..3 {
                let e = (-b[2 * k + 1] * x0).exp();
                g[2 * k] = e;
                g[2 * k + 1] = -x0 * b[2 * k] * e;
                f += b[2 * k] * e;
            }
            f
        }
        "Gauss1" | "Gauss2" | "Gauss3" => {
            let e = (-b[1] * x0).exp();
            g[0] = e;
            g[1] = -b[0] * x0 * e;
            let mut f = b[0] * e;
            for (a, c, w) in [(2, 3, 4), (5, 6, 7)] {
                let d = x0 - b[c];
                let q = (-(d * d) / (b[w] * b[w])).exp();
                g[a] = q;
                g[c] = b[a] * q * 2.0 * d / (b[w] * b[w]);
                g[w] = b[a] * q * 2.0 * d * d / (b[w] * b[w] * b[w]);
                f += b[a] * q;
            }
            f
        }
        "DanWood" => {
            let p = x0.powf(b[1]);
            g[0] = p;
            g[1] = b[0] * p * x0.ln();
            b[0] * p
        }
        "Misra1b" => {
            let u = 1.0 + b[1] * x0 / 2.0;
            g[0] = 1.0 - u.powi(-2);
            g[1] = b[0] * x0 * u.powi(-3);
            b[0] * (1.0 - u.powi(-2))
        }
        "Kirby2" | "Hahn1" | "Thurber" => {
            let nn = if name == "Kirby2" { 3 } else { 4 };
            let (mut num, mut den, mut xp) = (0.0, 1.0, 1.0);
            for bk in &b[..nn] {
                num += bk * xp;
                xp *= x0;
            }
            let mut xp = x0;
            for bk in &b[nn..] {
                den += bk * xp;
                xp *= x0;
            }
            let mut xp = 1.0;
            for gk in g.iter_mut().take(nn) {
                *gk = xp / den;
                xp *= x0;
            }
            let mut xp = x0;
            for gk in g.iter_mut().take(b.len()).skip(nn) {
                *gk = -num * xp / (den * den);
                xp *= x0;
            }
            num / den
        }
        "Nelson" => {
            let (x1, x2) = (x[0], x[1]);
            let e = (-b[2] * x2).exp();
            g[0] = 1.0;
            g[1] = -x1 * e;
            g[2] = b[1] * x1 * x2 * e;
            b[0] - b[1] * x1 * e
        }
        "MGH17" => {
            let (e4, e5) = ((-x0 * b[3]).exp(), (-x0 * b[4]).exp());
            g[0] = 1.0;
            g[1] = e4;
            g[2] = e5;
            g[3] = -x0 * b[1] * e4;
            g[4] = -x0 * b[2] * e5;
            b[0] + b[1] * e4 + b[2] * e5
        }
        "Misra1c" => {
            let u = 1.0 + 2.0 * b[1] * x0;
            g[0] = 1.0 - u.powf(-0.5);
            g[1] = b[0] * x0 * u.powf(-1.5);
            b[0] * (1.0 - u.powf(-0.5))
        }
        "Misra1d" => {
            let u = 1.0 + b[1] * x0;
            g[0] = b[1] * x0 / u;
            g[1] = b[0] * x0 / (u * u);
            b[0] * b[1] * x0 / u
        }
        "Roszman1" => {
            let d = x0 - b[3];
            let w = b[2] / d;
            let c = 1.0 / (PI * (1.0 + w * w));
            g[0] = 1.0;
            g[1] = -x0;
            g[2] = -c / d;
            g[3] = -c * b[2] / (d * d);
            b[0] - b[1] * x0 - w.atan() / PI
        }
        "ENSO" => {
            let a = 2.0 * PI * x0;
            let (c12, s12) = ((a / 12.0).cos(), (a / 12.0).sin());
            let (c4, s4) = ((a / b[3]).cos(), (a / b[3]).sin());
            let (c7, s7) = ((a / b[6]).cos(), (a / b[6]).sin());
            g[0] = 1.0;
            g[1] = c12;
            g[2] = s12;
            g[4] = c4;
            g[5] = s4;
            g[3] = (-b[4] * s4 + b[5] * c4) * (-a / (b[3] * b[3]));
            g[7] = c7;
            g[8] = s7;
            g[6] = (-b[7] * s7 + b[8] * c7) * (-a / (b[6] * b[6]));
            b[0] + b[1] * c12 + b[2] * s12 + b[4] * c4 + b[5] * s4 + b[7] * c7 + b[8] * s7
        }
        "MGH09" => {
            let n = x0 * x0 + x0 * b[1];
            let d = x0 * x0 + x0 * b[2] + b[3];
            g[0] = n / d;
            g[1] = b[0] * x0 / d;
            g[2] = -b[0] * n * x0 / (d * d);
            g[3] = -b[0] * n / (d * d);
            b[0] * n / d
        }
        "Rat42" => {
            let e = (b[1] - b[2] * x0).exp();
            let d = 1.0 + e;
            g[0] = 1.0 / d;
            g[1] = -b[0] * e / (d * d);
            g[2] = b[0] * x0 * e / (d * d);
            b[0] / d
        }
        "MGH10" => {
            let q = x0 + b[2];
            let e = (b[1] / q).exp();
            g[0] = e;
            g[1] = b[0] * e / q;
            g[2] = -b[0] * e * b[1] / (q * q);
            b[0] * e
        }
        "Eckerle4" => {
            let z = (x0 - b[2]) / b[1];
            let e = (-0.5 * z * z).exp();
            g[0] = e / b[1];
            g[1] = b[0] * e / (b[1] * b[1]) * (z * z - 1.0);
            g[2] = b[0] * e * z / (b[1] * b[1]);
            b[0] / b[1] * e
        }
        "Rat43" => {
            let e = (b[1] - b[2] * x0).exp();
            let d = 1.0 + e;
            let p = d.powf(-1.0 / b[3]);
            g[0] = p;
            g[1] = -b[0] * p * e / (d * b[3]);
            g[2] = b[0] * p * x0 * e / (d * b[3]);
            g[3] = b[0] * p * d.ln() / (b[3] * b[3]);
            b[0] * p
        }
        "Bennett5" => {
            let q = b[1] + x0;
            let p = q.powf(-1.0 / b[2]);
            g[0] = p;
            g[1] = -b[0] * p / (b[2] * q);
            g[2] = b[0] * p * q.ln() / (b[2] * b[2]);
            b[0] * p
        }
        other => panic!("no model for {other}"),
    }
}

/// The problem as argmin sees it (dynamic sizes: the parameter count varies by problem).
pub struct Problem<'a>(pub &'a Nist);

impl Problem<'_> {
    fn response(&self, i: usize) -> f64 {
        // Nelson's model is for log(y).
        if self.0.name == "Nelson" {
            self.0.y[i].ln()
        } else {
            self.0.y[i]
        }
    }
}

impl Operator for Problem<'_> {
    type Param = DVector<f64>;
    type Output = DVector<f64>;
    fn apply(&self, b: &DVector<f64>) -> Result<DVector<f64>, Error> {
        let mut g = vec![0.0; b.len()];
        Ok(DVector::from_iterator(
            self.0.y.len(),
            (0..self.0.y.len()).map(|i| {
                model(&self.0.name, b.as_slice(), &self.0.x[i], &mut g) - self.response(i)
            }),
        ))
    }
}

impl Jacobian for Problem<'_> {
    type Param = DVector<f64>;
    type Jacobian = DMatrix<f64>;
    fn jacobian(&self, b: &DVector<f64>) -> Result<DMatrix<f64>, Error> {
        let (m, n) = (self.0.y.len(), b.len());
        let mut j = DMatrix::zeros(m, n);
        let mut g = vec![0.0; n];
        for i in 0..m {
            model(&self.0.name, b.as_slice(), &self.0.x[i], &mut g);
            for k in 0..n {
                j[(i, k)] = g[k];
            }
        }
        Ok(j)
    }
}

/// The same problem for the `levenberg-marquardt` crate.
pub struct Minpack<'a> {
    pub nist: &'a Nist,
    pub b: DVector<f64>,
}

impl levenberg_marquardt::LeastSquaresProblem<f64, Dyn, Dyn> for Minpack<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;
    fn set_params(&mut self, b: &DVector<f64>) {
        self.b.copy_from(b);
    }
    fn params(&self) -> DVector<f64> {
        self.b.clone()
    }
    fn residuals(&self) -> Option<DVector<f64>> {
        Problem(self.nist).apply(&self.b).ok()
    }
    fn jacobian(&self) -> Option<DMatrix<f64>> {
        Problem(self.nist).jacobian(&self.b).ok()
    }
}

/// Correct significant digits of `got` against `want` (LRE, capped at 11).
pub fn digits(got: f64, want: f64) -> f64 {
    if got == want {
        return 11.0;
    }
    let e = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    (-e.log10()).clamp(0.0, 11.0)
}

pub const NAMES: [&str; 27] = [
    "Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2", "DanWood", "Misra1b",
    "Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1", "Lanczos2", "Gauss3", "Misra1c", "Misra1d",
    "Roszman1", "ENSO", "MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43",
    "Bennett5",
];

/// Minimum over parameters of the correct digits, and the digits of the RSS.
pub fn score(p: &Nist, b: &[f64], cost: f64) -> (f64, f64) {
    let pd = b
        .iter()
        .zip(&p.certified)
        .map(|(g, w)| digits(*g, *w))
        .fold(11.0, f64::min);
    (pd, digits(2.0 * cost, p.certified_rss))
}

#[test]
fn model_gradients_match_finite_differences() {
    for name in NAMES {
        let p = load(name);
        let b = &p.starts[1];
        let n = b.len();
        let mut g = vec![0.0; n];
        let mut g2 = vec![0.0; n];
        for xi in p.x.iter().step_by(7) {
            model(name, b, xi, &mut g);
            for k in 0..n {
                let h = 1e-5 * if b[k] == 0.0 { 1e-3 } else { b[k].abs() };
                let mut at = |d: f64| {
                    let mut bb = b.clone();
                    bb[k] += d;
                    model(name, &bb, xi, &mut g2)
                };
                // Five-point central difference (truncation O(h⁴)).
                let fd = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
                // Absolute floor: round-off of the central difference, ε·|f|/h.
                let f = model(name, b, xi, &mut g2).abs();
                let floor = 1e-8_f64.max(1e2 * f64::EPSILON * f / h);
                assert!(
                    (fd - g[k]).abs() <= 1e-6 * (g[k].abs() + fd.abs()) + floor,
                    "{name} b{}: {} vs fd {fd}",
                    k + 1,
                    g[k]
                );
            }
        }
    }
}

/// LM from both starts on all 27 problems: at least 6 correct digits of every parameter and of
/// the residual sum of squares, everywhere but Lanczos1's RSS (certified 1.4e-25: below the
/// rounding of its 13-digit data, so no double-precision fit reproduces it; the MINPACK port
/// gets 2.8 digits, volfit 3.0). The MINPACK port (`levenberg-marquardt` crate), BFGS and L-BFGS
/// run beside it; the table is printed for the record.
#[test]
fn lm_reaches_the_certified_values() {
    println!(
        "{:<9} {:>5} | {:>6} {:>6} {:>4} {:>4} | {:>6} {:>6} {:>4} | {:>6} {:>6}",
        "problem",
        "start",
        "params",
        "rss",
        "iter",
        "eval",
        "mp.par",
        "mp.rss",
        "mp.ev",
        "bfgs",
        "lbfgs"
    );
    let mut failures = Vec::new();
    let mut below_six = Vec::new();
    for name in NAMES {
        let p = load(name);
        for (s, start) in p.starts.iter().enumerate() {
            let x0 = DVector::from_vec(start.clone());
            let opts = SolveOptions {
                max_iters: 1000,
                ..SolveOptions::default()
            };
            let (ours, ours_it, ours_ev) = match least_squares(Problem(&p), x0.clone(), &opts) {
                Ok((b, rep, _)) => (
                    score(&p, b.as_slice(), rep.cost),
                    rep.iterations,
                    rep.evaluations,
                ),
                Err(_) => ((0.0, 0.0), 0, 0),
            };
            let (mp, report) = levenberg_marquardt::LevenbergMarquardt::new().minimize(Minpack {
                nist: &p,
                b: x0.clone(),
            });
            let mp_cost = report.objective_function;
            let minpack = score(&p, mp.b.as_slice(), mp_cost);
            let mut qn = [0.0; 2];
            for (k, optimizer) in [Optimizer::Bfgs, Optimizer::Lbfgs].into_iter().enumerate() {
                let opts = SolveOptions {
                    optimizer,
                    max_iters: 5000,
                    ..SolveOptions::default()
                };
                qn[k] = least_squares(Problem(&p), x0.clone(), &opts)
                    .map_or(0.0, |(b, rep, _)| score(&p, b.as_slice(), rep.cost).0);
            }
            println!(
                "{name:<9} {:>5} | {:>6.1} {:>6.1} {:>4} {:>4} | {:>6.1} {:>6.1} {:>4} | {:>6.1} {:>6.1}",
                s + 1,
                ours.0,
                ours.1,
                ours_it,
                ours_ev,
                minpack.0,
                minpack.1,
                report.number_of_evaluations,
                qn[0],
                qn[1]
            );
            if ours.0.min(ours.1) < 6.0 {
                below_six.push(format!("{name} start {}", s + 1));
            }
            let rss_exempt = name == "Lanczos1";
            if ours.0 < 6.0 || (ours.1 < 6.0 && !rss_exempt) {
                failures.push(format!(
                    "{name} start {}: {ours:?} (MINPACK port {minpack:?})",
                    s + 1
                ));
            }
        }
    }
    println!("below 6 digits: {below_six:?}");
    assert!(failures.is_empty(), "{failures:#?}");
}
