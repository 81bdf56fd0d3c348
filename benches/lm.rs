//! Levenberg–Marquardt: volfit's argmin solver (run inside argmin's `Executor`) against the
//! `levenberg-marquardt` crate (a MINPACK port) on the same problems, same residual and
//! Jacobian code: three NIST StRD problems and a 5-parameter SVI fit to 40 synthetic quotes.
//! Iterations and evaluations of each are printed before the timings.

use argmin::core::{Error, Jacobian, Operator};
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::{DMatrix, DVector, Dyn, OMatrix, OVector, Owned, SVector, U5};
use std::hint::black_box;
use std::path::Path;
use volfit::fit::pool::{PooledMatrix, PooledVec};
use volfit::fit::{SolveOptions, least_squares};

// ---------- NIST problems (data read from ../shared/reference/nist_strd) ----------

#[derive(Clone)]
struct Nist {
    model: fn(&[f64], f64, &mut [f64]) -> f64,
    x: Vec<f64>,
    y: Vec<f64>,
    n: usize,
}

fn misra1a(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let e = (-b[1] * x).exp();
    g[0] = 1.0 - e;
    g[1] = b[0] * x * e;
    b[0] * (1.0 - e)
}

fn mgh09(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let n = x * x + x * b[1];
    let d = x * x + x * b[2] + b[3];
    g[0] = n / d;
    g[1] = b[0] * x / d;
    g[2] = -b[0] * n * x / (d * d);
    g[3] = -b[0] * n / (d * d);
    b[0] * n / d
}

fn thurber(b: &[f64], x: f64, g: &mut [f64]) -> f64 {
    let num = b[0] + x * (b[1] + x * (b[2] + x * b[3]));
    let den = 1.0 + x * (b[4] + x * (b[5] + x * b[6]));
    let mut xp = 1.0;
    for gk in g.iter_mut().take(4) {
        *gk = xp / den;
        xp *= x;
    }
    let mut xp = x;
    for gk in g.iter_mut().skip(4).take(3) {
        *gk = -num * xp / (den * den);
        xp *= x;
    }
    num / den
}

/// Data and starting point `start` (0 or 1) of a NIST problem.
fn load(name: &str, start: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../shared/reference/nist_strd/{name}.dat"));
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let nums = |l: &str| {
        l.split_whitespace()
            .filter_map(|t| t.parse::<f64>().ok())
            .collect::<Vec<_>>()
    };
    let start: Vec<f64> = lines
        .iter()
        .filter(|l| l.trim_start().starts_with('b') && l.contains('='))
        .filter_map(|l| nums(&l[l.find('=')? + 1..]).get(start).copied())
        .collect();
    let data = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Data:"))?
        + 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for l in &lines[data..] {
        let v = nums(l);
        if v.len() >= 2 {
            y.push(v[0]);
            x.push(v[1]);
        }
    }
    Some((start, x, y))
}

impl Operator for Nist {
    type Param = DVector<f64>;
    type Output = PooledVec;
    fn apply(&self, b: &DVector<f64>) -> Result<PooledVec, Error> {
        let mut g = [0.0; 8];
        let mut r = PooledVec::zeros(self.x.len());
        for (i, ri) in r.iter_mut().enumerate() {
            *ri = (self.model)(b.as_slice(), self.x[i], &mut g) - self.y[i];
        }
        Ok(r)
    }
}

impl Jacobian for Nist {
    type Param = DVector<f64>;
    type Jacobian = PooledMatrix;
    fn jacobian(&self, b: &DVector<f64>) -> Result<PooledMatrix, Error> {
        let mut g = [0.0; 8];
        let mut j = PooledMatrix::zeros(self.x.len(), self.n);
        for i in 0..self.x.len() {
            (self.model)(b.as_slice(), self.x[i], &mut g);
            for (k, gk) in g.iter().take(self.n).enumerate() {
                j.set(i, k, *gk);
            }
        }
        Ok(j)
    }
}

struct NistMinpack {
    p: Nist,
    b: DVector<f64>,
}

impl levenberg_marquardt::LeastSquaresProblem<f64, Dyn, Dyn> for NistMinpack {
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
        let mut g = [0.0; 8];
        Some(DVector::from_iterator(
            self.p.x.len(),
            (0..self.p.x.len())
                .map(|i| (self.p.model)(self.b.as_slice(), self.p.x[i], &mut g) - self.p.y[i]),
        ))
    }
    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let mut g = [0.0; 8];
        let mut j = DMatrix::zeros(self.p.x.len(), self.p.n);
        for i in 0..self.p.x.len() {
            (self.p.model)(self.b.as_slice(), self.p.x[i], &mut g);
            for k in 0..self.p.n {
                j[(i, k)] = g[k];
            }
        }
        Some(j)
    }
}

// ---------- A raw-SVI slice fit: w(k) = a + b(ρ(k − m) + √((k − m)² + σ²)) ----------

#[derive(Clone)]
struct Svi {
    k: Vec<f64>,
    w: Vec<f64>,
}

fn svi(p: &[f64], k: f64, g: &mut [f64]) -> f64 {
    let (a, b, rho, m, s) = (p[0], p[1], p[2], p[3], p[4]);
    let d = k - m;
    let q = (d * d + s * s).sqrt();
    g[0] = 1.0;
    g[1] = rho * d + q;
    g[2] = b * d;
    g[3] = -b * (rho + d / q);
    g[4] = b * s / q;
    a + b * (rho * d + q)
}

impl Operator for Svi {
    type Param = SVector<f64, 5>;
    type Output = PooledVec;
    fn apply(&self, p: &SVector<f64, 5>) -> Result<PooledVec, Error> {
        let mut g = [0.0; 5];
        let mut r = PooledVec::zeros(self.k.len());
        for (i, ri) in r.iter_mut().enumerate() {
            *ri = svi(p.as_slice(), self.k[i], &mut g) - self.w[i];
        }
        Ok(r)
    }
}

impl Jacobian for Svi {
    type Param = SVector<f64, 5>;
    type Jacobian = PooledMatrix;
    fn jacobian(&self, p: &SVector<f64, 5>) -> Result<PooledMatrix, Error> {
        let mut g = [0.0; 5];
        let mut j = PooledMatrix::zeros(self.k.len(), 5);
        for i in 0..self.k.len() {
            svi(p.as_slice(), self.k[i], &mut g);
            for (c, gc) in g.iter().enumerate() {
                j.set(i, c, *gc);
            }
        }
        Ok(j)
    }
}

struct SviMinpack {
    p: Svi,
    x: SVector<f64, 5>,
}

impl levenberg_marquardt::LeastSquaresProblem<f64, Dyn, U5> for SviMinpack {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, U5>;
    type ParameterStorage = Owned<f64, U5>;
    fn set_params(&mut self, x: &SVector<f64, 5>) {
        self.x = *x;
    }
    fn params(&self) -> SVector<f64, 5> {
        self.x
    }
    fn residuals(&self) -> Option<OVector<f64, Dyn>> {
        let mut g = [0.0; 5];
        Some(OVector::<f64, Dyn>::from_iterator(
            self.p.k.len(),
            (0..self.p.k.len()).map(|i| svi(self.x.as_slice(), self.p.k[i], &mut g) - self.p.w[i]),
        ))
    }
    fn jacobian(&self) -> Option<OMatrix<f64, Dyn, U5>> {
        let mut g = [0.0; 5];
        let mut j = OMatrix::<f64, Dyn, U5>::zeros(self.p.k.len());
        for i in 0..self.p.k.len() {
            svi(self.x.as_slice(), self.p.k[i], &mut g);
            for c in 0..5 {
                j[(i, c)] = g[c];
            }
        }
        Some(j)
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("lm");
    g.sample_size(30);
    let opts = SolveOptions {
        max_iters: 1000,
        ..SolveOptions::default()
    };
    // MGH09 from its second start: from the first the MINPACK port runs out of evaluations.
    for (name, model, n, start) in [
        (
            "Misra1a",
            misra1a as fn(&[f64], f64, &mut [f64]) -> f64,
            2,
            0,
        ),
        ("Thurber", thurber, 7, 0),
        ("MGH09", mgh09, 4, 1),
    ] {
        let Some((start, x, y)) = load(name, start) else {
            eprintln!("skipping {name}: ../shared/reference not found");
            continue;
        };
        let p = Nist { model, x, y, n };
        let x0 = DVector::from_vec(start);
        let (_, rep, _) = least_squares(p.clone(), x0.clone(), &opts).unwrap();
        let (_, mrep) = levenberg_marquardt::LevenbergMarquardt::new().minimize(NistMinpack {
            p: p.clone(),
            b: x0.clone(),
        });
        println!(
            "{name}: volfit {} iterations / {} evaluations; MINPACK port {} evaluations",
            rep.iterations, rep.evaluations, mrep.number_of_evaluations
        );
        g.bench_function(format!("{name}/volfit_argmin"), |b| {
            b.iter(|| {
                least_squares(black_box(p.clone()), x0.clone(), &opts)
                    .unwrap()
                    .1
                    .cost
            });
        });
        g.bench_function(format!("{name}/levenberg_marquardt_crate"), |b| {
            b.iter(|| {
                levenberg_marquardt::LevenbergMarquardt::new()
                    .minimize(NistMinpack {
                        p: black_box(p.clone()),
                        b: x0.clone(),
                    })
                    .1
                    .objective_function
            });
        });
    }
    // SVI: 40 strikes from known parameters, a perturbed start.
    let truth = [0.04, 0.4, -0.4, 0.05, 0.2];
    let k: Vec<f64> = (0..40).map(|i| -1.0 + 1.6 * f64::from(i) / 39.0).collect();
    let mut gg = [0.0; 5];
    let w: Vec<f64> = k
        .iter()
        .enumerate()
        .map(|(i, &k)| svi(&truth, k, &mut gg) * (1.0 + 0.002 * ((i * 7 % 5) as f64 - 2.0)))
        .collect();
    let p = Svi { k, w };
    let x0 = SVector::<f64, 5>::from_column_slice(&[0.02, 0.3, -0.1, 0.0, 0.3]);
    let (x, rep, _) = least_squares(p.clone(), x0, &opts).unwrap();
    let (m, mrep) = levenberg_marquardt::LevenbergMarquardt::new().minimize(SviMinpack {
        p: p.clone(),
        x: x0,
    });
    println!(
        "SVI: volfit {} iterations / {} evaluations, cost {:.6e}; MINPACK port {} evaluations, cost {:.6e}; max |Δparam| {:.1e}",
        rep.iterations,
        rep.evaluations,
        rep.cost,
        mrep.number_of_evaluations,
        mrep.objective_function,
        (x - m.x).amax()
    );
    g.bench_function("svi_40_quotes/volfit_argmin", |b| {
        b.iter(|| {
            least_squares(black_box(p.clone()), x0, &opts)
                .unwrap()
                .1
                .cost
        });
    });
    g.bench_function("svi_40_quotes/levenberg_marquardt_crate", |b| {
        b.iter(|| {
            levenberg_marquardt::LevenbergMarquardt::new()
                .minimize(SviMinpack {
                    p: black_box(p.clone()),
                    x: x0,
                })
                .1
                .objective_function
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
