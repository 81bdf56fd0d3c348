//! Implied-volatility throughput: the same 100 000 options (and, in a second group, the
//! 1,431-option grid of issue 19) through volfit (scalar, batch,
//! rayon) and through the `implied-vol` crate (its default hybrid solver and its Jäckel solver).
//!
//! Inputs: σ log-uniform in [0.05, 2], T log-uniform in [1 day, 5 years], ln(K/F) uniform within
//! ±3 standard deviations σ√T, calls and puts at random (so half are in the money), F = 100.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use implied_vol::{DefaultSpecialFn, ImpliedBlackVolatility, solver::Jaeckel};
use std::hint::black_box;
use volfit::black::{BatchInput, implied_vol_batch, implied_vol_par};
use volfit::{OptionKind, black_price, implied_vol};

const N: usize = 100_000;

/// SplitMix64: a seeded, dependency-free uniform generator.
struct SplitMix(u64);
impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Inputs {
    kinds: Vec<OptionKind>,
    prices: Vec<f64>,
    forwards: Vec<f64>,
    strikes: Vec<f64>,
    times: Vec<f64>,
}

fn inputs() -> Inputs {
    let mut rng = SplitMix(20_261_122);
    let mut inp = Inputs {
        kinds: Vec::with_capacity(N),
        prices: Vec::with_capacity(N),
        forwards: Vec::with_capacity(N),
        strikes: Vec::with_capacity(N),
        times: Vec::with_capacity(N),
    };
    while inp.prices.len() < N {
        let vol = 0.05 * 40f64.powf(rng.next_f64());
        let t = (1.0 / 365.0) * (5.0 * 365.0f64).powf(rng.next_f64());
        let k = 100.0 * ((rng.next_f64() * 6.0 - 3.0) * vol * t.sqrt()).exp();
        let kind = if rng.next_f64() < 0.5 {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let p = black_price(kind, 100.0, k, t, vol);
        if implied_vol(kind, p, 100.0, k, t).is_err() {
            continue; // keep only attainable prices so every solver does the same work
        }
        inp.kinds.push(kind);
        inp.prices.push(p);
        inp.forwards.push(100.0);
        inp.strikes.push(k);
        inp.times.push(t);
    }
    inp
}

/// Every solver on the same options, in one group.
fn solvers(c: &mut Criterion, name: &str, inp: &Inputs) {
    let n = inp.prices.len();
    let batch = BatchInput {
        kinds: &inp.kinds,
        prices: &inp.prices,
        forwards: &inp.forwards,
        strikes: &inp.strikes,
        times: &inp.times,
    };
    let mut out = vec![Ok(0.0); n];
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function("volfit_scalar", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for i in 0..n {
                acc += implied_vol(
                    inp.kinds[i],
                    inp.prices[i],
                    inp.forwards[i],
                    inp.strikes[i],
                    inp.times[i],
                )
                .unwrap_or(0.0);
            }
            black_box(acc)
        });
    });
    g.bench_function("volfit_batch", |b| {
        b.iter(|| {
            implied_vol_batch(black_box(&batch), &mut out).unwrap();
            black_box(&out);
        });
    });
    g.bench_function("volfit_rayon", |b| {
        b.iter(|| {
            implied_vol_par(black_box(&batch), &mut out).unwrap();
            black_box(&out);
        });
    });
    let peers: Vec<ImpliedBlackVolatility> = (0..n)
        .map(|i| {
            ImpliedBlackVolatility::builder()
                .option_price(inp.prices[i])
                .forward(inp.forwards[i])
                .strike(inp.strikes[i])
                .expiry(inp.times[i])
                .is_call(inp.kinds[i] == OptionKind::Call)
                .build()
                .expect("valid inputs")
        })
        .collect();
    g.bench_function("implied_vol_crate_default", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for p in &peers {
                acc += black_box(p).calculate::<DefaultSpecialFn>().unwrap_or(0.0);
            }
            black_box(acc)
        });
    });
    g.bench_function("implied_vol_crate_jaeckel", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for p in &peers {
                acc += black_box(p).calculate_with::<Jaeckel>().unwrap_or(0.0);
            }
            black_box(acc)
        });
    });
    g.finish();
}

/// The 1,431-option grid of issue 19: 9 expiries × 3 vols × 53 strikes at
/// `z = ln(K/F)/(σ√T)` evenly spaced in `[−3, 3]`, out of the money (puts below the forward),
/// F = 100: the size of one real chain, deterministic, every price attainable.
fn grid_1431() -> Inputs {
    const TIMES: [f64; 9] = [
        1.0 / 365.0,
        7.0 / 365.0,
        1.0 / 12.0,
        0.25,
        0.5,
        1.0,
        2.0,
        5.0,
        10.0,
    ];
    const VOLS: [f64; 3] = [0.1, 0.3, 0.8];
    let mut inp = Inputs {
        kinds: Vec::new(),
        prices: Vec::new(),
        forwards: Vec::new(),
        strikes: Vec::new(),
        times: Vec::new(),
    };
    for t in TIMES {
        for vol in VOLS {
            for i in 0..53 {
                let z = -3.0 + 6.0 * f64::from(i) / 52.0;
                let k = 100.0 * (z * vol * t.sqrt()).exp();
                let kind = if k < 100.0 {
                    OptionKind::Put
                } else {
                    OptionKind::Call
                };
                inp.kinds.push(kind);
                inp.prices.push(black_price(kind, 100.0, k, t, vol));
                inp.forwards.push(100.0);
                inp.strikes.push(k);
                inp.times.push(t);
            }
        }
    }
    assert_eq!(inp.prices.len(), 1431);
    inp
}

fn bench(c: &mut Criterion) {
    let inp = inputs();
    solvers(c, "implied_vol_100k", &inp);
    solvers(c, "implied_vol_grid_1431", &grid_1431());
    // The forward direction on the same options: the price function's hot path.
    let vols: Vec<f64> = (0..N)
        .map(|i| {
            implied_vol(
                inp.kinds[i],
                inp.prices[i],
                inp.forwards[i],
                inp.strikes[i],
                inp.times[i],
            )
            .unwrap_or(0.2)
        })
        .collect();
    let mut g = c.benchmark_group("black_price_100k");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("volfit_black_price", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for i in 0..N {
                acc += black_price(
                    inp.kinds[i],
                    black_box(inp.forwards[i]),
                    inp.strikes[i],
                    inp.times[i],
                    vols[i],
                );
            }
            black_box(acc)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
