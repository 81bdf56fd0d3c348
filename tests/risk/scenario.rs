//! Scenarios: the P&L grid against an independent Black revaluation at the shifted vol, the
//! shocked surface's derivatives against finite differences, the zero shock, arbitrage
//! detection on a real surface, spec parse errors naming the field, the replay identity.

use crate::risk::greeks::january_surface;
use volfit::black::{OptionKind, black_price};
use volfit::risk::greeks::{Dynamics, Position};
use volfit::risk::scenario::{
    DAYS_PER_YEAR, GridSpec, Scenario, ScenarioError, ScenarioSpec, Shock, Shocked, run, run_fitted,
};
use volfit::surface::VolSurface;

/// Long a 30-day ATM straddle, short a 25Δ-ish risk reversal (strikes ±8% around the forward).
fn book(s: &dyn VolSurface) -> Vec<Position> {
    let t = 30.0 / DAYS_PER_YEAR;
    let f = s.forward(t);
    let p = |kind, strike, quantity| Position {
        kind,
        strike,
        t,
        quantity,
    };
    vec![
        p(OptionKind::Call, f, 1.0),
        p(OptionKind::Put, f, 1.0),
        p(OptionKind::Call, 1.08 * f, -1.0),
        p(OptionKind::Put, 0.92 * f, 1.0),
        // a second expiry, 90 days
        Position {
            t: 90.0 / DAYS_PER_YEAR,
            ..p(OptionKind::Put, 0.85 * f, -2.0)
        },
    ]
}

#[test]
fn grid_matches_black_at_the_shifted_vol() {
    let s = january_surface();
    let positions = book(s);
    let spec = ScenarioSpec::parse("spot=-0.2:0.2:0.1,vol=-0.1;0;0.05;0.2").unwrap();
    for dynamics in Dynamics::ALL {
        let r = run(s, &positions, dynamics, &spec).unwrap();
        let base: f64 = positions
            .iter()
            .map(|p| {
                let f = s.forward(p.t);
                p.quantity * black_price(p.kind, f, p.strike, p.t, s.vol(p.strike, p.t))
            })
            .sum();
        // Scale of the errors: the gross premium of the book.
        let gross: f64 = positions
            .iter()
            .map(|p| p.quantity.abs() * s.price(p.kind, p.strike, p.t))
            .sum();
        assert!(
            (r.grid.base_value - base).abs() < 1e-12 * gross,
            "base {} vs {base}",
            r.grid.base_value
        );
        let mut worst: f64 = 0.0;
        for (i, &ds) in spec.grid.spot_shifts.iter().enumerate() {
            for (j, &dv) in spec.grid.vol_shifts.iter().enumerate() {
                let lam = 1.0 + ds;
                let value: f64 = positions
                    .iter()
                    .map(|p| {
                        // The vol of the moved smile at K: at the same strike (sticky
                        // strike) or at the strike of the same K/F before the move.
                        let k_read = if dynamics.floats() {
                            p.strike / lam
                        } else {
                            p.strike
                        };
                        let vol = s.vol(k_read, p.t) + dv;
                        let f = lam * s.forward(p.t);
                        p.quantity * black_price(p.kind, f, p.strike, p.t, vol)
                    })
                    .sum();
                let err = (r.grid.pnl[i][j].expect("a price in every cell") - (value - base)).abs()
                    / gross;
                worst = worst.max(err);
            }
        }
        assert!(
            worst < 1e-10,
            "{dynamics:?}: worst relative error {worst:e}"
        );
        // A sticky-strike spot move leaves the ATM straddle's vol alone but the book's value
        // still moves: the grid is not flat.
        assert!(
            r.grid.pnl[0][1].unwrap().abs() > 1e-3 * gross,
            "{:?}",
            r.grid.pnl
        );
        assert!(
            r.grid.pnl[2][1].unwrap().abs() < 1e-12 * gross,
            "zero shift, zero P&L"
        );
    }
}

#[test]
fn a_vol_shift_without_price_names_cell_and_position() {
    let s = january_surface();
    let positions = book(s);
    let spec = ScenarioSpec::parse("spot=0,vol=-2").unwrap();
    let r = run(s, &positions, Dynamics::StickyStrike, &spec).unwrap();
    assert_eq!(r.grid.pnl, vec![vec![None]]);
    let cell = &r.grid.no_price[0];
    assert_eq!((cell.spot_shift, cell.vol_shift), (0.0, -2.0));
    assert!(
        cell.reason.contains("vol=-2") && cell.reason.contains("position 0"),
        "{}",
        cell.reason
    );
    // With no price on the base surface itself there is no grid at all: an error.
    let dead = [Position {
        kind: OptionKind::Call,
        strike: -1.0,
        t: 0.1,
        quantity: 1.0,
    }];
    match run(s, &dead, Dynamics::StickyStrike, &spec).unwrap_err() {
        ScenarioError::NoPrice {
            scenario, position, ..
        } => assert_eq!((scenario.as_str(), position), ("base", 0)),
        other => panic!("{other}"),
    }
}

#[test]
fn inline_spec_errors_name_the_field() {
    for (text, field) in [
        ("spot=-0.3:0.3", "spot"),
        ("vol=a;b", "vol"),
        ("spot=-1.5", "spot"),
        ("spto=0.1", "spto"),
        ("spot=0.3:-0.3:0.1", "spot"),
        ("spot=0:1:0", "spot"),
    ] {
        match ScenarioSpec::parse(text) {
            Err(ScenarioError::Spec { field: f, .. }) => assert_eq!(f, field, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    let d = ScenarioSpec::parse("").unwrap();
    assert_eq!(d.grid, GridSpec::default());
    assert_eq!(d.grid.spot_shifts.len(), 13);
    assert!(d.grid.spot_shifts.contains(&0.0) && d.grid.vol_shifts.contains(&0.0));
}

#[test]
fn toml_spec_errors_name_the_field_and_line() {
    let good = "[grid]\nspot = \"-0.1:0.1:0.05\"\nvol = [0.0, 0.01]\n\n[[scenario]]\nname = \"a\"\n\
                tilt = -0.05\ntwist = 0.01\npivot_days = 60\nroll_days = 2\n";
    let s = ScenarioSpec::from_toml(good, "good.toml").unwrap();
    assert_eq!(s.grid.spot_shifts, [-0.1, -0.05, 0.0, 0.05, 0.1]);
    assert_eq!(s.scenarios[0].shock.pivot, 60.0 / DAYS_PER_YEAR);
    assert_eq!(s.scenarios[0].roll_days, 2.0);
    for (text, want) in [
        ("[[scenario]]\nname = \"a\"\nspto = 0.1\n", "spto"),
        ("[[scenario]]\nspot = 0.1\n", "name"),
        ("[[scenario]]\nname = \"a\"\nroll_days = -1\n", "roll_days"),
        ("[[scenario]]\nname = \"a\"\npivot_days = 0\n", "pivot_days"),
        ("[[scenario]]\nname = \"a\"\nspot = -1\n", "spot"),
        ("[grid]\nspot = \"1:0:1\"\n", "grid.spot"),
        ("[grid]\nvol = []\n", "grid.vol"),
        (
            "[[scenario]]\nname = \"a\"\n[[scenario]]\nname = \"a\"\n",
            "name",
        ),
    ] {
        let e = ScenarioSpec::from_toml(text, "bad.toml").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains(want) && m.starts_with("bad.toml"),
            "{text:?}: {m}"
        );
    }
    // A type error names the line.
    let e = ScenarioSpec::from_toml("[[scenario]]\nname = \"a\"\n\ntilt = \"big\"\n", "f.toml")
        .unwrap_err();
    assert!(e.to_string().starts_with("f.toml:4"), "{e}");
    let missing = std::path::Path::new("/nonexistent/spec.toml");
    assert!(matches!(
        ScenarioSpec::from_file(missing),
        Err(ScenarioError::Io { .. })
    ));
}

#[test]
fn zero_shock_is_the_base_surface_exactly() {
    let s = january_surface();
    let shock = Shock::default();
    for dynamics in Dynamics::ALL {
        let z = Shocked {
            base: s,
            shock: &shock,
            dynamics,
        };
        for t in [0.01, 30.0 / 365.0, 0.3, 1.0] {
            assert_eq!(z.forward(t), s.forward(t));
            for k in [-1.0, -0.2, 0.0, 0.1, 0.7] {
                assert_eq!(z.variance_derivatives(k, t), s.variance_derivatives(k, t));
                assert_eq!(z.total_variance(k, t), s.total_variance(k, t));
                let strike = s.forward(t) * f64::exp(k);
                assert_eq!(z.vol(strike, t), s.vol(strike, t));
            }
        }
    }
}

/// Central differences of `w` in `k` and `t` with one Richardson step.
fn fd(s: &dyn VolSurface, k: f64, t: f64) -> [f64; 3] {
    let w = |k: f64, t: f64| s.total_variance(k, t);
    let rich = |g: &dyn Fn(f64) -> f64, h: f64| (4.0 * g(h / 2.0) - g(h)) / 3.0;
    // Steps on the smile's own scale, the total vol √w.
    let h = 0.05 * s.total_variance(k, t).sqrt();
    let wk = |h: f64| (w(k + h, t) - w(k - h, t)) / (2.0 * h);
    let wkk = |h: f64| (w(k + h, t) - 2.0 * w(k, t) + w(k - h, t)) / (h * h);
    let ht = 1e-4 * t;
    let wt = |h: f64| (w(k, t + h) - w(k, t - h)) / (2.0 * h);
    [rich(&wk, h), rich(&wkk, 2.0 * h), rich(&wt, ht)]
}

/// Whether the base surface's own analytic derivatives at `(k, t)` agree with its finite
/// differences (no kink of the served smile inside the stencil).
fn smooth_at(s: &dyn VolSurface, k: f64, t: f64) -> bool {
    let d = s.variance_derivatives(k, t);
    let [wk, wkk, wt] = fd(s, k, t);
    [(d.w_k, wk, d.w), (d.w_kk, wkk, d.w), (d.w_t, wt, d.w / t)]
        .iter()
        .all(|&(a, b, scale)| (a - b).abs() / b.abs().max(scale) < 1e-6)
}

#[test]
fn shocked_derivatives_match_finite_differences() {
    let s = january_surface();
    // Times strictly inside expiry intervals (w is piecewise in t).
    let ts: Vec<f64> = s
        .slices()
        .windows(2)
        .map(|p| 0.5 * (p[0].t + p[1].t))
        .take(6)
        .collect();
    let shocks = [
        Shock {
            spot: -0.1,
            vol: 0.03,
            ..Shock::default()
        },
        Shock {
            tilt: -0.05,
            ..Shock::default()
        },
        Shock {
            twist: 0.02,
            pivot: 0.1,
            ..Shock::default()
        },
        Shock {
            spot: 0.07,
            vol: -0.02,
            tilt: 0.04,
            twist: -0.01,
            ..Shock::default()
        },
    ];
    let mut worst: f64 = 0.0;
    let (mut checked, mut skipped) = (0_usize, 0_usize);
    for shock in &shocks {
        for dynamics in [Dynamics::StickyStrike, Dynamics::StickyMoneyness] {
            let z = Shocked {
                base: s,
                shock,
                dynamics,
            };
            for &t in &ts {
                for k in [-0.4, -0.15, 0.0, 0.05, 0.3] {
                    // The served base surface is only C⁰ in k where the calendar envelope
                    // switches smiles between expiries (w_k jumps: a point mass of the
                    // density); a stencil across such a kink measures the kink, not the shock.
                    let kb = if dynamics.floats() {
                        k
                    } else {
                        k + (1.0 + shock.spot).ln()
                    };
                    if !smooth_at(s, kb, t) {
                        skipped += 1;
                        continue;
                    }
                    checked += 1;
                    let d = z.variance_derivatives(k, t);
                    let [wk, wkk, wt] = fd(&z, k, t);
                    let w = d.w;
                    for (name, a, b, scale) in [
                        ("w_k", d.w_k, wk, w),
                        ("w_kk", d.w_kk, wkk, w),
                        ("w_t", d.w_t, wt, w / t),
                    ] {
                        let err = (a - b).abs() / b.abs().max(scale);
                        assert!(
                            err < 1e-5,
                            "{shock:?} {dynamics:?} k={k} t={t}: {name} {a} vs {b}"
                        );
                        worst = worst.max(err);
                    }
                }
            }
        }
    }
    assert!(
        checked >= 200 && skipped * 10 <= checked,
        "{checked} points checked, {skipped} skipped at kinks of the base surface"
    );
    // The shock did something: the tilted smile is steeper than the base.
    let tilted = Shocked {
        base: s,
        shock: &shocks[1],
        dynamics: Dynamics::StickyStrike,
    };
    let t = ts[2];
    let dk = tilted.variance_derivatives(0.0, t).w_k - s.variance_derivatives(0.0, t).w_k;
    let want = 2.0 * t * s.vol(s.forward(t), t) * (-0.05 / t.sqrt());
    assert!((dk - want).abs() < 1e-9 * want.abs(), "{dk} vs {want}");
    eprintln!("shocked derivatives: worst FD relative error {worst:e}");
}

#[test]
fn big_negative_tilt_is_reported_as_arbitrage_and_a_mild_shock_is_not() {
    let s = january_surface();
    let positions = book(s);
    let named = |name: &str, shock: Shock| Scenario {
        name: name.into(),
        shock,
        roll_days: 0.0,
    };
    let spec = ScenarioSpec {
        grid: GridSpec {
            spot_shifts: vec![0.0],
            vol_shifts: vec![0.0, 0.02],
        },
        scenarios: vec![
            named("zero", Shock::default()),
            named(
                "up",
                Shock {
                    vol: 0.02,
                    ..Shock::default()
                },
            ),
            named(
                "big tilt",
                Shock {
                    tilt: -0.6,
                    ..Shock::default()
                },
            ),
        ],
    };
    let r = run_fitted(s, &positions, Dynamics::StickyStrike, &spec).unwrap();
    let base = s.plane_scan();
    let base_failing: usize = base.by_region.iter().sum();
    let zero = &r.named[0];
    let (zero_pnl, zero_value) = (zero.pnl.unwrap(), zero.value.unwrap());
    assert!(zero_pnl.abs() < 1e-12 * zero_value.abs(), "{zero_pnl}");
    assert_eq!(zero.failing_points, base_failing);
    assert_eq!(zero.base_failing_points, base_failing);
    assert_eq!(zero.points, base.points);
    let up = &r.named[1];
    // A parallel shock is the grid's vol shift (Bumped), by another road.
    let bumped = r.grid.pnl[0][1].unwrap();
    let up_pnl = up.pnl.unwrap();
    assert!(
        (up_pnl - bumped).abs() < 1e-10 * bumped.abs(),
        "{up_pnl} vs {bumped}"
    );
    assert!(bumped.abs() > 0.0);
    let big = &r.named[2];
    assert!(!big.arbitrage_free);
    assert!(big.failing_points > base_failing + 100, "{big:?}");
    eprintln!(
        "base failing {base_failing}/{}; +2 vol {}; tilt -0.6 {} (butterfly {}, calendar {}, lv {})",
        base.points,
        up.failing_points,
        big.failing_points,
        big.butterfly,
        big.calendar,
        big.local_vol_undefined
    );
}

#[test]
fn time_roll_follows_the_theta_convention() {
    let s = january_surface();
    let positions = book(s);
    let spec = ScenarioSpec {
        grid: GridSpec {
            spot_shifts: vec![0.0],
            vol_shifts: vec![0.0],
        },
        scenarios: vec![Scenario {
            name: "one day".into(),
            shock: Shock::default(),
            roll_days: 1.0,
        }],
    };
    let r = run(s, &positions, Dynamics::StickyStrike, &spec).unwrap();
    // One day of theta (per year / 365.25) to first order.
    let theta: f64 = positions
        .iter()
        .map(|p| {
            volfit::risk::greeks::position_greeks(s, p, Dynamics::StickyStrike)
                .unwrap()
                .theta
        })
        .sum();
    let want = theta / DAYS_PER_YEAR;
    let got = r.named[0].pnl.unwrap();
    assert!(
        (got - want).abs() < 0.05 * want.abs(),
        "1-day roll {got} vs theta/365.25 {want}"
    );
    // Rolling past expiry: the option is worth its intrinsic value at the forward.
    let short = [Position {
        kind: OptionKind::Call,
        strike: 0.9 * s.forward(0.01),
        t: 0.01,
        quantity: 1.0,
    }];
    let spec = ScenarioSpec {
        scenarios: vec![Scenario {
            name: "expired".into(),
            shock: Shock::default(),
            roll_days: 10.0,
        }],
        ..spec
    };
    let r = run(s, &short, Dynamics::StickyStrike, &spec).unwrap();
    let intrinsic = 0.1 * s.forward(0.01);
    assert!((r.named[0].value.unwrap() - intrinsic).abs() < 1e-9 * intrinsic);
}

/// Two consecutive January snapshots, SVI per expiry.
fn pair() -> (
    std::sync::Arc<volfit::surface::FittedSurface>,
    std::sync::Arc<volfit::surface::FittedSurface>,
) {
    let fit = |name: &str| {
        let path = crate::common::shared_data(&format!("deribit_series/2026-01/{name}"));
        let (chain, _) =
            volfit::quotes::read_chain_for(&path, volfit::quotes::Format::Deribit, "BTC").unwrap();
        let opts = volfit::surface::SurfaceOptions {
            model: volfit::surface::SurfaceModel::Svi,
            ..volfit::surface::SurfaceOptions::default()
        };
        std::sync::Arc::new(volfit::calibrate_surface(&chain, &opts).unwrap().0)
    };
    (
        fit("deribit_options_snapshot_20260101T091835Z.csv"),
        fit("deribit_options_snapshot_20260101T211918Z.csv"),
    )
}

#[test]
fn replay_on_the_earlier_surface_reproduces_the_later_one() {
    let (a, b) = pair();
    let spot = |s: &volfit::surface::FittedSurface| s.spot().unwrap_or_else(|| s.forward(0.0));
    let shock = Shock {
        spot: spot(&b) / spot(&a) - 1.0,
        replay: Some(volfit::risk::scenario::Replay {
            from: a.clone(),
            to: b.clone(),
            label: "test".into(),
        }),
        ..Shock::default()
    };
    let z = Shocked {
        base: &*a,
        shock: &shock,
        dynamics: Dynamics::StickyMoneyness,
    };
    let (mut worst_k, mut worst_strike, mut moved): (f64, f64, f64) = (0.0, 0.0, 0.0);
    let mut n = 0;
    for slice in b.slices() {
        let [lo, hi] = slice.quoted_k.expect("quoted range");
        for i in 0..=10 {
            let k = lo + (hi - lo) * f64::from(i) / 10.0;
            let t = slice.t;
            let want = (b.total_variance(k, t) / t).sqrt();
            let got = (z.total_variance(k, t) / t).sqrt();
            worst_k = worst_k.max((got - want).abs());
            moved = moved.max(((a.total_variance(k, t) / t).sqrt() - want).abs());
            // At the later surface's strike: differs only by the change of carry.
            let strike = b.forward(t) * k.exp();
            worst_strike = worst_strike.max((z.vol(strike, t) - b.vol(strike, t)).abs());
            n += 1;
        }
    }
    eprintln!(
        "replay: {n} points, |Δσ| at fixed k {worst_k:e}, at fixed strike {worst_strike:e}; \
         the two surfaces differ by up to {moved:e}"
    );
    assert!(n > 50);
    assert!(moved > 1e-3, "the snapshots differ");
    assert!(worst_k < 1e-12, "{worst_k}");
    assert!(worst_strike < 0.1 * moved, "{worst_strike}");
}

#[test]
fn parametric_summary_moves_the_tenor_atm_by_the_observed_change() {
    use volfit::surface::metrics::{metrics_at, metrics_at_tenor};
    let (a, b) = pair();
    let (ma, mb) = (
        metrics_at_tenor(&a, 30.0).unwrap(),
        metrics_at_tenor(&b, 30.0).unwrap(),
    );
    let d_atm = mb.atm_vol - ma.atm_vol;
    let d_rr = mb.rr25.unwrap() - ma.rr25.unwrap();
    // Tilt from the RR change at a's 25Δ z = k/√t (as History::parametric).
    let z = |sigma: f64, delta: f64| {
        let sq = sigma * ma.t.sqrt();
        sq * (sq / 2.0 - volfit::black::special::inverse_norm_cdf(delta)) / ma.t.sqrt()
    };
    let tilt = d_rr / (z(ma.call25.unwrap(), 0.25).tanh() - z(ma.put25.unwrap(), 0.75).tanh());
    let shock = Shock {
        vol: d_atm,
        tilt,
        twist: 0.01,
        pivot: ma.t,
        ..Shock::default()
    };
    let s = Shocked {
        base: &*a,
        shock: &shock,
        dynamics: Dynamics::StickyMoneyness,
    };
    let m = metrics_at(&s, ma.t).unwrap();
    assert!(
        (m.atm_vol - mb.atm_vol).abs() < 1e-12,
        "{} vs {}",
        m.atm_vol,
        mb.atm_vol
    );
    let rr = m.rr25.unwrap();
    eprintln!(
        "parametric: ΔATM {d_atm:+.4}, ΔRR {d_rr:+.4} → tilt {tilt:+.4}; RR {:.4} → {rr:.4} (target {:.4})",
        ma.rr25.unwrap(),
        mb.rr25.unwrap()
    );
    assert!((rr - mb.rr25.unwrap()).abs() < 0.2 * d_rr.abs().max(1e-3));
}

#[test]
fn cells_and_scenarios_without_a_price_are_reported_and_the_rest_stands() {
    // A vol shift of −60 points takes every January BTC vol (≈ 35–90 %) below zero somewhere:
    // those cells have no P&L (with the position and the surface's answer); the other cells
    // are the same numbers as a grid without them.
    let s = january_surface();
    let positions = book(s);
    let full = ScenarioSpec::parse("spot=-0.1;0;0.1,vol=-0.6;0;0.02").unwrap();
    let r = run(s, &positions, Dynamics::StickyStrike, &full).unwrap();
    let clean = run(
        s,
        &positions,
        Dynamics::StickyStrike,
        &ScenarioSpec::parse("spot=-0.1;0;0.1,vol=0;0.02").unwrap(),
    )
    .unwrap();
    for i in 0..3 {
        assert_eq!(r.grid.pnl[i][0], None, "{:?}", r.grid.pnl);
        assert_eq!(r.grid.pnl[i][1..], clean.grid.pnl[i][..]);
    }
    assert_eq!(r.grid.no_price.len(), 3);
    assert!(r.grid.no_price.iter().all(|c| c.vol_shift == -0.6
        && c.reason.contains("position")
        && c.reason.contains("no vol")));
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["pnl"][0][0].is_null() && json["pnl"][0][1].is_number());
    // A named scenario without a price: no P&L, its reason; its scan still runs.
    let spec = ScenarioSpec {
        scenarios: vec![Scenario {
            name: "vol crush".into(),
            shock: Shock {
                vol: -0.6,
                ..Shock::default()
            },
            roll_days: 0.0,
        }],
        ..full
    };
    let r = run(s, &positions, Dynamics::StickyStrike, &spec).unwrap();
    let n = &r.named[0];
    assert_eq!((n.pnl, n.value), (None, None));
    assert!(
        n.no_price
            .as_deref()
            .is_some_and(|w| w.contains("vol crush"))
    );
    assert!(n.points > 0);
}
