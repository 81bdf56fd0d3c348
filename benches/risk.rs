//! Greeks off the surface: `volfit::risk::greeks::option_greeks` (analytic, all seven greeks,
//! the smile's moves included) against full revaluation by bump-and-reprice, and against the
//! nearest peers, on every listed option of a real Deribit BTC snapshot, in one criterion run.
//!
//! **The peers have no greeks.** `volsurf` 4 (read in its source: `implied::black` has
//! `black_price` and `BlackImpliedVol` only; its `SmileSection`/`VolSurface` traits give vol,
//! variance, density, forward and arbitrage diagnostics, no delta, vega or any sensitivity) and
//! `implied-vol` 2.1 (`PriceBlackScholes`, `ImpliedBlackVolatility`, Bachelier; its normalised
//! vega is internal to the solver, not public) compute no greeks. So the bench times the closest
//! thing each offers:
//! * `volsurf`: a `PiecewiseSurface` with, at each expiry of the volfit surface, volsurf's
//!   `SplineSmile` through the volfit surface's vols at the listed strikes of that expiry (the
//!   same forwards and times; volfit's default slices are SVI plus a B-spline correction, which
//!   volsurf has no exact counterpart for, so its interpolating spline through the same vols
//!   is the closest surface it holds); greeks by the same bump-and-reprice a desk would write with
//!   it (vols from `black_vol`, prices from `volsurf::implied::black_price`, the same bumps and
//!   the same 11 prices per option as the volfit revaluation), sticky strike and sticky
//!   moneyness; and, the cheapest thing it allows, one `black_vol` lookup followed by volfit's
//!   closed-form Black greeks at that vol (sticky-strike greeks without the smile's terms: not
//!   the same numbers as `option_greeks` under sticky moneyness, nor its theta).
//! * `implied-vol`: its Black price (`PriceBlackScholes`) for the 11 revaluations per option at
//!   vols read beforehand from the volfit surface (the pricer's share of a revaluation, no
//!   surface lookups at all).
//!
//! Full revaluation on volfit's own surface uses [`volfit::risk::greeks::Bumped`] (spot moved by
//! `±h` relative, vols shifted by `±e`, both for the cross term) and
//! [`volfit::risk::greeks::price_rolled`] for theta (second-order backward difference in the
//! time to expiry: the surface's `∂w/∂t` is the left derivative at an expiry):
//! 1 + 2 (delta, gamma) + 2 (vega, volga) + 4 (vanna) + 2 (theta) = 11 prices per option.
//! The same vol-lookup revaluation as the volsurf one, on volfit's surface with volfit's Black
//! price (`volfit_vol_lookup_bump_reprice_x11`), separates the surfaces' query cost from the
//! method's: it reads 3 or 5 vols per option where [`volfit::risk::greeks::Bumped`] queries the
//! surface for each of its 11 prices.
//!
//! Timings on a shared machine are under load: compare within one run.
//!
//! The first lines printed are how far the revaluation's greeks are from the analytic ones
//! (largest difference over the book, relative to the book's largest greek of that kind).
//!
//! `cargo bench --bench risk -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use implied_vol::{DefaultSpecialFn, PriceBlackScholes};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use volfit::quotes::{Format, read_chains};
use volfit::risk::greeks::{Bumped, Dynamics, option_greeks, price_rolled};
use volfit::surface::{FittedSurface, SurfaceOptions, VolSurface, calibrate_surface};
use volfit::{Greeks, OptionKind, black_greeks, black_price};
use volsurf::smile::{SmileSection, SplineSmile};
use volsurf::surface::{PiecewiseSurface, VolSurface as _};
use volsurf::{OptionType, Strike, Tenor, Vol};

/// The snapshot: the February 2026 Deribit chain, BTC.
const SNAPSHOT: &str = "deribit/deribit_options_snapshot_20260215T153420Z.csv";
/// Relative spot bump.
const H_SPOT: f64 = 1e-3;
/// Absolute vol bump (0.01 vol point).
const H_VOL: f64 = 1e-4;
/// Relative time step of theta.
const H_TIME: f64 = 1e-3;

/// The 11 revaluations: forward scale, vol shift, time factor.
const REVALUATIONS: [(f64, f64, f64); 11] = [
    (1.0, 0.0, 1.0),
    (1.0 + H_SPOT, 0.0, 1.0),
    (1.0 - H_SPOT, 0.0, 1.0),
    (1.0, H_VOL, 1.0),
    (1.0, -H_VOL, 1.0),
    (1.0 + H_SPOT, H_VOL, 1.0),
    (1.0 + H_SPOT, -H_VOL, 1.0),
    (1.0 - H_SPOT, H_VOL, 1.0),
    (1.0 - H_SPOT, -H_VOL, 1.0),
    (1.0, 0.0, 1.0 - H_TIME),
    (1.0, 0.0, 1.0 - 2.0 * H_TIME),
];

/// One listed option: kind, strike, time to expiry on the surface's clock.
#[derive(Clone, Copy)]
struct Opt {
    kind: OptionKind,
    strike: f64,
    t: f64,
}

/// Greeks of `o` by central differences of full revaluation on [`Bumped`] surfaces (11 prices).
fn bumped_greeks(s: &FittedSurface, o: Opt, dynamics: Dynamics) -> Option<Greeks> {
    let price = |forward_scale: f64, vol_shift: f64| {
        Bumped {
            base: s,
            forward_scale,
            vol_shift,
            dynamics,
        }
        .try_price(o.kind, o.strike, o.t)
        .ok()
    };
    let f = s.forward(o.t);
    let (up, dn, df) = (1.0 + H_SPOT, 1.0 - H_SPOT, f * H_SPOT);
    let v0 = price(1.0, 0.0)?;
    let (vu, vd) = (price(up, 0.0)?, price(dn, 0.0)?);
    let (vs_u, vs_d) = (price(1.0, H_VOL)?, price(1.0, -H_VOL)?);
    let cross = price(up, H_VOL)? - price(up, -H_VOL)? - price(dn, H_VOL)? + price(dn, -H_VOL)?;
    let dt = o.t * H_TIME;
    let r1 = price_rolled(s, o.kind, o.strike, o.t, o.t - dt).ok()?;
    let r2 = price_rolled(s, o.kind, o.strike, o.t, o.t - 2.0 * dt).ok()?;
    Some(Greeks {
        price: v0,
        delta: (vu - vd) / (2.0 * df),
        gamma: (vu - 2.0 * v0 + vd) / (df * df),
        vega: (vs_u - vs_d) / (2.0 * H_VOL),
        theta: -(3.0 * v0 - 4.0 * r1 + r2) / (2.0 * dt),
        vanna: cross / (4.0 * df * H_VOL),
        volga: (vs_u - 2.0 * v0 + vs_d) / (H_VOL * H_VOL),
    })
}

fn vs_kind(kind: OptionKind) -> OptionType {
    match kind {
        OptionKind::Call => OptionType::Call,
        OptionKind::Put => OptionType::Put,
    }
}

/// The revaluation a desk writes on a library that gives vols and Black prices only: the same
/// 11 prices as [`bumped_greeks`], with the vol read off the surface 3 times (sticky strike:
/// at the strike, and at the same `K/F` at `τ − h`, `τ − 2h` for theta with the forward of
/// `T` held) or 5 times (sticky moneyness: also at `K/λ` for the moved forwards), the vol
/// shift added to the vol read. Returns price, delta, gamma, vega, theta, vanna, volga.
fn lookup_bumped(
    forward: impl Fn(f64) -> Option<f64>,
    vol: impl Fn(f64, f64) -> Option<f64>,
    price: impl Fn(f64, f64, f64) -> Option<f64>,
    o: Opt,
    floats: bool,
) -> Option<[f64; 7]> {
    let f = forward(o.t)?;
    let px = |fwd: f64, sigma: f64, t: f64| price(fwd, sigma, t);
    let (up, dn, df) = (1.0 + H_SPOT, 1.0 - H_SPOT, f * H_SPOT);
    let s0 = vol(o.strike, o.t)?;
    let (su, sd) = if floats {
        (vol(o.strike / up, o.t)?, vol(o.strike / dn, o.t)?)
    } else {
        (s0, s0)
    };
    let v0 = px(f, s0, o.t)?;
    let (vu, vd) = (px(f * up, su, o.t)?, px(f * dn, sd, o.t)?);
    let (vs_u, vs_d) = (px(f, s0 + H_VOL, o.t)?, px(f, s0 - H_VOL, o.t)?);
    let cross =
        px(f * up, su + H_VOL, o.t)? - px(f * up, su - H_VOL, o.t)? - px(f * dn, sd + H_VOL, o.t)?
            + px(f * dn, sd - H_VOL, o.t)?;
    let dt = o.t * H_TIME;
    let rolled = |tau: f64| {
        let k_tau = o.strike * forward(tau)? / f;
        px(f, vol(k_tau, tau)?, tau)
    };
    let (r1, r2) = (rolled(o.t - dt)?, rolled(o.t - 2.0 * dt)?);
    Some([
        v0,
        (vu - vd) / (2.0 * df),
        (vu - 2.0 * v0 + vd) / (df * df),
        (vs_u - vs_d) / (2.0 * H_VOL),
        -(3.0 * v0 - 4.0 * r1 + r2) / (2.0 * dt),
        cross / (4.0 * df * H_VOL),
        (vs_u - 2.0 * v0 + vs_d) / (H_VOL * H_VOL),
    ])
}

/// [`lookup_bumped`] with volsurf's surface (`forward`, `black_vol`) and Black price.
fn volsurf_bumped(vs: &PiecewiseSurface, o: Opt, floats: bool) -> Option<[f64; 7]> {
    let ty = vs_kind(o.kind);
    lookup_bumped(
        |t| vs.forward(Tenor(t)).ok(),
        |k, t| vs.black_vol(Tenor(t), Strike(k)).ok().map(|v| v.0),
        |fwd, sigma, t| volsurf::implied::black_price(fwd, o.strike, Vol(sigma), t, ty).ok(),
        o,
        floats,
    )
}

/// [`lookup_bumped`] with volfit's surface (`forward`, `try_vol`) and Black price.
fn volfit_lookup_bumped(s: &FittedSurface, o: Opt, floats: bool) -> Option<[f64; 7]> {
    lookup_bumped(
        |t| Some(s.forward(t)),
        |k, t| s.try_vol(k, t).ok(),
        |fwd, sigma, t| {
            Some(black_price(o.kind, fwd, o.strike, t, sigma)).filter(|p| p.is_finite())
        },
        o,
        floats,
    )
}

/// Sum of every field (what the timed loops return, so nothing is optimised away).
fn total(g: &Greeks) -> f64 {
    g.price + g.delta + g.gamma + g.vega + g.theta + g.vanna + g.volga
}

/// Largest `|fd − analytic|` over the book per greek, relative to the book's largest
/// `|analytic|` of that greek.
fn report_accuracy(label: &str, pairs: &[(Greeks, Greeks)]) {
    let fields = |g: &Greeks| [g.delta, g.gamma, g.vega, g.theta, g.vanna, g.volga];
    let names = ["delta", "gamma", "vega", "theta", "vanna", "volga"];
    let mut line = format!("{label}: bump-and-reprice vs analytic, max |diff| / max |greek|:");
    for i in 0..names.len() {
        let scale = pairs
            .iter()
            .map(|(a, _)| fields(a)[i].abs())
            .fold(0.0, f64::max);
        let worst = pairs
            .iter()
            .map(|(a, b)| (fields(a)[i] - fields(b)[i]).abs())
            .fold(0.0, f64::max);
        let _ = write!(line, " {}={:.1e}", names[i], worst / scale);
    }
    println!("{line}");
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(SNAPSHOT);
    let Ok((chains, _)) = read_chains(&path, Format::Auto) else {
        eprintln!("{} not found: nothing to bench", path.display());
        return;
    };
    let Some(chain) = chains.into_iter().find(|c| c.underlying == "BTC") else {
        eprintln!("no BTC chain in {SNAPSHOT}");
        return;
    };
    let (surface, _) = calibrate_surface(&chain, &SurfaceOptions::default()).expect("surface");

    // The listed options the surface prices under both dynamics.
    let listed = chain.quotes.len();
    let book: Vec<Opt> = chain
        .quotes
        .iter()
        .filter_map(|q| {
            let o = Opt {
                kind: q.kind,
                strike: q.strike,
                t: surface.year_fraction(q.expiry)?,
            };
            Dynamics::ALL[..2]
                .iter()
                .all(|&d| option_greeks(&surface, o.kind, o.strike, o.t, d).is_ok())
                .then_some(o)
        })
        .collect();

    // volsurf's surface: at each expiry, its spline smile through volfit's vols at the listed
    // strikes of that expiry (volfit's default slices are SVI + B-spline, which volsurf has no
    // exact counterpart for; a spline through the same vols is the closest it holds).
    let mut tenors = Vec::new();
    let mut smiles: Vec<Box<dyn SmileSection>> = Vec::new();
    let mut skipped = 0;
    for s in surface.slices() {
        let mut strikes: Vec<f64> = book
            .iter()
            .filter(|o| o.t == s.t)
            .map(|o| o.strike)
            .collect();
        strikes.sort_by(f64::total_cmp);
        strikes.dedup();
        let points: Vec<(f64, f64)> = strikes.iter().map(|&k| (k, surface.vol(k, s.t))).collect();
        match SplineSmile::calibrate(s.forward, s.t, &points) {
            Ok(smile) => {
                tenors.push(s.t);
                smiles.push(Box::new(smile));
            }
            Err(_) => skipped += 1,
        }
    }
    let vs = PiecewiseSurface::new(tenors, smiles).expect("piecewise");
    let worst_vol = book
        .iter()
        .map(|o| {
            let a = surface.vol(o.strike, o.t);
            vs.black_vol(Tenor(o.t), Strike(o.strike))
                .map_or(f64::INFINITY, |v| (v.0 - a).abs())
        })
        .fold(0.0, f64::max);
    println!(
        "{SNAPSHOT} BTC: {listed} listed options, {} priced by the surface ({} expiries, {skipped} \
         without a volsurf smile); largest |vol volfit − volsurf| over them {worst_vol:.1e}",
        book.len(),
        surface.slices().len(),
    );

    for d in [Dynamics::StickyStrike, Dynamics::StickyMoneyness] {
        let pairs: Vec<(Greeks, Greeks)> = book
            .iter()
            .filter_map(|&o| {
                let a = option_greeks(&surface, o.kind, o.strike, o.t, d).ok()?;
                Some((a, bumped_greeks(&surface, o, d)?))
            })
            .collect();
        report_accuracy(
            &format!("{} ({} of {} options)", d.name(), pairs.len(), book.len()),
            &pairs,
        );
    }

    // The two vol-lookup revaluations: same vols at the listed strikes, so any difference is
    // the surfaces between expiries (theta) and between strikes (sticky-moneyness bumps).
    for d in [Dynamics::StickyStrike, Dynamics::StickyMoneyness] {
        let pairs: Vec<([f64; 7], [f64; 7])> = book
            .iter()
            .filter_map(|&o| {
                Some((
                    volfit_lookup_bumped(&surface, o, d.floats())?,
                    volsurf_bumped(&vs, o, d.floats())?,
                ))
            })
            .collect();
        let mut line = format!(
            "{} ({} options): vol-lookup revaluation volsurf vs volfit, max |diff| / max |volfit|:",
            d.name(),
            pairs.len()
        );
        for (i, name) in ["price", "delta", "gamma", "vega", "theta", "vanna", "volga"]
            .iter()
            .enumerate()
        {
            let scale = pairs.iter().map(|(a, _)| a[i].abs()).fold(0.0, f64::max);
            let worst = pairs
                .iter()
                .map(|(a, b)| (a[i] - b[i]).abs())
                .fold(0.0, f64::max);
            let _ = write!(line, " {name}={:.1e}", worst / scale);
        }
        println!("{line}");
    }

    // Vols at the book's strikes, for the pricer-only comparisons.
    let vols: Vec<(Opt, f64, f64)> = book
        .iter()
        .map(|&o| (o, surface.forward(o.t), surface.vol(o.strike, o.t)))
        .collect();

    let mut g = c.benchmark_group("risk_greeks_book");
    g.throughput(Throughput::Elements(book.len() as u64));
    for d in [Dynamics::StickyStrike, Dynamics::StickyMoneyness] {
        g.bench_function(format!("volfit_option_greeks_analytic/{}", d.name()), |b| {
            b.iter(|| {
                book.iter()
                    .filter_map(|o| {
                        option_greeks(&surface, o.kind, black_box(o.strike), o.t, d).ok()
                    })
                    .map(|g| total(&g))
                    .sum::<f64>()
            });
        });
        g.bench_function(
            format!("volfit_Bumped_bump_reprice_x11/{}", d.name()),
            |b| {
                b.iter(|| {
                    book.iter()
                        .filter_map(|&o| bumped_greeks(&surface, black_box(o), d))
                        .map(|g| total(&g))
                        .sum::<f64>()
                });
            },
        );
        g.bench_function(
            format!("volfit_vol_lookup_bump_reprice_x11/{}", d.name()),
            |b| {
                b.iter(|| {
                    book.iter()
                        .filter_map(|&o| volfit_lookup_bumped(&surface, black_box(o), d.floats()))
                        .map(|g| g.iter().sum::<f64>())
                        .sum::<f64>()
                });
            },
        );
        g.bench_function(format!("volsurf_bump_reprice_x11/{}", d.name()), |b| {
            b.iter(|| {
                book.iter()
                    .filter_map(|&o| volsurf_bumped(&vs, black_box(o), d.floats()))
                    .map(|g| g.iter().sum::<f64>())
                    .sum::<f64>()
            });
        });
    }
    g.bench_function(
        "volsurf_black_vol+volfit_black_greeks/sticky-strike-no-smile",
        |b| {
            b.iter(|| {
                book.iter()
                    .filter_map(|o| {
                        let f = vs.forward(Tenor(o.t)).ok()?;
                        let v = vs.black_vol(Tenor(o.t), Strike(black_box(o.strike))).ok()?;
                        Some(total(&black_greeks(o.kind, f, o.strike, o.t, v.0)))
                    })
                    .sum::<f64>()
            });
        },
    );
    g.bench_function("volfit_black_greeks_at_given_vols", |b| {
        b.iter(|| {
            vols.iter()
                .map(|&(o, f, v)| total(&black_greeks(o.kind, f, black_box(o.strike), o.t, v)))
                .sum::<f64>()
        });
    });
    g.bench_function("implied-vol_PriceBlackScholes_x11_at_given_vols", |b| {
        b.iter(|| {
            vols.iter()
                .map(|&(o, f, v)| {
                    let mut sum = 0.0;
                    for (fs, dv, tf) in REVALUATIONS {
                        sum += PriceBlackScholes::builder()
                            .forward(f * fs)
                            .strike(black_box(o.strike))
                            .volatility(v + dv)
                            .expiry(o.t * tf)
                            .is_call(o.kind == OptionKind::Call)
                            .build()
                            .map_or(0.0, |p| p.calculate::<DefaultSpecialFn>());
                    }
                    sum
                })
                .sum::<f64>()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
