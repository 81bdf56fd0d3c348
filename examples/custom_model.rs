//! Adding a smile model through the calibration seam, from outside the crate: the
//! practitioners' "ad hoc Black–Scholes" vol parabola of Dumas, Fleming & Whaley (*Implied
//! volatility functions: empirical tests*, J. Finance 53, 1998), in log-moneyness:
//! `σ(k) = s₀ + s₁k + s₂k²`. One `impl SmileModel` and one `impl Calibrate` — nothing in
//! volfit changes — and the generic fitter runs it under every optimiser and objective.
//!
//! The parabola has no no-arbitrage domain of its own (its wings break Lee's bound), so it
//! has no penalty rows; its butterfly verdict scans Durrleman's `g` over the quoted range,
//! and says so.
//!
//! Run: `cargo run --release --example custom_model`

use volfit::fit::{FitOptions, Optimizer, fit, fit_svi};
use volfit::models::SmileModel;
use volfit::models::arbitrage::{ButterflyVerdict, CheckDomain, Coordinate};
use volfit::models::calibrate::{Calibrate, JacRows, SpecError};
use volfit::quotes::{Format, read_chain};
use volfit::slice::{Points, SliceOptions, VolConvention, build_slices};

/// `σ(k) = s₀ + s₁k + s₂k²` at time to expiry `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct VolParabola {
    s: [f64; 3],
    t: f64,
    /// The quoted `k` range (where the parabola is fitted and checked).
    range: [f64; 2],
}

impl SmileModel for VolParabola {
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let [a, b, c] = self.s;
        let (v, v1, v2) = (a + b * k + c * k * k, b + 2.0 * c * k, 2.0 * c);
        let t = self.t;
        (v * v * t, 2.0 * v * v1 * t, 2.0 * (v1 * v1 + v * v2) * t)
    }
}

/// What a fit keeps fixed: the slice's time and quoted range.
struct Ctx {
    t: f64,
    range: [f64; 2],
}

impl Calibrate for VolParabola {
    const NAME: &'static str = "vol parabola";
    type Options = ();
    type Context = Ctx;

    fn context(data: &Points, (): &()) -> Result<Ctx, SpecError> {
        if data.convention() != VolConvention::Lognormal || data.groups().len() != 1 {
            return Err(SpecError::Unsupported {
                model: "vol parabola",
                reason: "one expiry of Black vols",
            });
        }
        Ok(Ctx {
            t: data.t(),
            range: data.k_range(0..data.len()),
        })
    }

    fn n_free(_: &Ctx) -> usize {
        3
    }

    fn param_names(_: &Ctx) -> &'static [&'static str] {
        &["s0", "s1", "s2"]
    }

    /// The start: the flat smile at the mean mid vol (the polish is linear least squares).
    fn guess(data: &Points, ctx: &Ctx, _: bool) -> Result<Self, SpecError> {
        let mean = data.mid().iter().sum::<f64>() / data.len() as f64;
        Ok(VolParabola {
            s: [mean, 0.0, 0.0],
            t: ctx.t,
            range: ctx.range,
        })
    }

    fn to_free(&self, _: &Ctx, x: &mut [f64]) {
        x.copy_from_slice(&self.s);
    }

    fn from_free(x: &[f64], ctx: &Ctx) -> Option<Self> {
        Some(VolParabola {
            s: [x[0], x[1], x[2]],
            t: ctx.t,
            range: ctx.range,
        })
    }

    fn bounds(_: &Ctx, _: &Self, lo: &mut [f64], hi: &mut [f64]) {
        lo.fill(f64::NEG_INFINITY);
        hi.fill(f64::INFINITY);
    }

    fn quote_vols(
        &self,
        data: &Points,
        _: &Ctx,
        vols: &mut [f64],
        mut jac: Option<&mut JacRows<'_>>,
    ) {
        for (i, (&k, v)) in data.k().iter().zip(vols.iter_mut()).enumerate() {
            *v = self.s[0] + self.s[1] * k + self.s[2] * k * k;
            if let Some(j) = jac.as_deref_mut() {
                let mut row = j.row(i, *v);
                row.set(0, 1.0);
                row.set(1, k);
                row.set(2, k * k);
            }
        }
    }

    fn w_grad(&self, _: &Ctx, _: usize, k: f64, grad: &mut [f64]) -> Option<f64> {
        let v = self.s[0] + self.s[1] * k + self.s[2] * k * k;
        let d = 2.0 * v * self.t;
        grad.copy_from_slice(&[d, d * k, d * k * k]);
        Some(v * v * self.t)
    }

    /// Durrleman's `g` on 201 points of the quoted range.
    fn butterfly(&self, _: &Ctx, _: usize) -> ButterflyVerdict {
        let [lo, hi] = self.range;
        let (mut at, mut min_g) = (lo, f64::INFINITY);
        for i in 0..=200 {
            let k = lo + (hi - lo) * f64::from(i) / 200.0;
            let g = self.durrleman_g(k);
            if !(g >= min_g) {
                (at, min_g) = (k, g);
            }
        }
        ButterflyVerdict {
            min_g,
            at,
            negative: Vec::new(),
            domain: CheckDomain::Scan {
                range: self.range,
                points: 201,
            },
            coordinate: Coordinate::LogMoneyness,
            free: min_g >= 0.0,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = "../shared/data/spx_gatheral/spx_ivols_20170424.csv";
    let (chain, _) = read_chain(path, Format::Auto)?;
    let (slices, _) = build_slices(&chain, &SliceOptions::default());
    println!("{path}: the vol parabola (DFW 1998) against SVI, expiry by expiry");
    println!(
        "{:>8} {:>7} {:>14} {:>14} {:>12}",
        "T", "quotes", "parabola RMSE", "SVI RMSE", "parabola g≥0"
    );
    for s in slices.iter().filter(|s| s.points().len() >= 8).take(8) {
        let p = fit::<VolParabola>(s, &FitOptions::default(), &())?;
        let v = fit_svi(s, &FitOptions::default())?;
        println!(
            "{:>8.4} {:>7} {:>14.5} {:>14.5} {:>12}",
            s.t(),
            s.points().len(),
            p.report.rmse_iv,
            v.report.rmse_iv,
            p.report.butterfly_free
        );
    }
    // The same model under the quasi-Newton optimisers: the fitter is generic in both.
    let s = &slices[slices.len() / 2];
    for optimizer in Optimizer::ALL {
        let f = fit::<VolParabola>(
            s,
            &FitOptions {
                optimizer,
                ..FitOptions::default()
            },
            &(),
        )?;
        println!(
            "{optimizer:>6}: s = {:?}, RMSE {:.5}",
            f.model.s, f.report.rmse_iv
        );
    }
    Ok(())
}
