//! The live tracker on the January 2026 Deribit series: latency of one changed quote, of a
//! whole changed chain, stream throughput, against calibrating from scratch each time.
//!
//! `cargo bench --bench live` prints percentiles over the series (one pass, one thread) and
//! then runs the criterion groups.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;
use volfit::live::stream::{parse_line, ticks_from_chain};
use volfit::live::{FilterKind, Tracker, TrackerOptions};
use volfit::quotes::{Chain, Format, OptionQuote, read_chains};
use volfit::{SurfaceModel, SurfaceOptions, calibrate_surface};

fn series(underlying: &str, n: usize) -> Vec<Chain> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/deribit_series/2026-01");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the January series")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    files
        .iter()
        .take(n)
        .filter_map(|f| read_chains(f, Format::Auto).ok())
        .flat_map(|(c, _)| c)
        .filter(|c| c.underlying == underlying)
        .collect()
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// One quote of `q`'s expiry with its bid and ask moved by `ticks` ticks of 0.0001 coin.
fn nudged(q: &OptionQuote, ticks: f64) -> OptionQuote {
    let d = 1e-4 * ticks;
    OptionQuote {
        bid: q.bid.map(|b| (b + d).max(1e-4)),
        ask: q.ask.map(|a| a + d),
        ..q.clone()
    }
}

/// Percentiles printed once: the numbers of the note.
fn report() {
    for u in ["BTC", "ETH"] {
        let chains = series(u, 121);
        let opts = TrackerOptions::default();
        // Whole changed chain: every snapshot after the first.
        let mut tracker = Tracker::new(u, opts.clone()).expect("options");
        let mut whole = Vec::new();
        for c in &chains {
            let clock = Instant::now();
            let r = tracker.update_chain(c).expect("update");
            whole.push(clock.elapsed().as_secs_f64() * 1e6);
            black_box(r);
        }
        // From scratch: calibrate_surface (SVI, one thread) on every snapshot.
        let scratch_opts = SurfaceOptions {
            model: SurfaceModel::Svi,
            parallel: false,
            ..SurfaceOptions::default()
        };
        let mut scratch = Vec::new();
        for c in &chains {
            let clock = Instant::now();
            black_box(calibrate_surface(c, &scratch_opts).ok());
            scratch.push(clock.elapsed().as_secs_f64() * 1e6);
        }
        // One changed quote → updated surface: on the last snapshot's tracker, each OTM
        // quote in turn nudged by one tick (alternately up and down), then refreshed.
        let last = chains.last().expect("a snapshot");
        let at = last.as_of.expect("time");
        let mut single = Vec::new();
        let mut refitted = 0usize;
        for round in 0..4 {
            for (i, q) in last.quotes.iter().enumerate() {
                let sign = if (i + round) % 2 == 0 { 1.0 } else { -1.0 };
                let u = nudged(q, sign);
                let clock = Instant::now();
                let dirty = tracker.apply_quote(&u);
                let r = tracker.refresh(at).expect("refresh");
                let us = clock.elapsed().as_secs_f64() * 1e6;
                if dirty {
                    single.push(us);
                    refitted += usize::from(!r.expiries_refitted.is_empty());
                }
                black_box(tracker.surface());
            }
        }
        // Stream throughput through the JSON-lines path: the next snapshot's quotes as the
        // Deribit ticker lines they would have been (`live::stream::ticks_from_chain`),
        // parsed, turned into quotes (their forwards move: those expiries are rebuilt, every
        // changed point inverted) and applied onto the previous snapshot's state, one refresh
        // per 1,000 updates.
        let mut t2 = Tracker::new(u, opts.clone()).expect("options");
        t2.update_chain(&chains[chains.len() - 2]).expect("update");
        let lines = ticks_from_chain(last);
        let mut moved = last.clone();
        moved.quotes = last.quotes.iter().map(|q| nudged(q, 1.0)).collect();
        let nudged_lines = ticks_from_chain(&moved);
        let n_rounds = 20;
        let clock = Instant::now();
        let mut n = 0usize;
        for round in 0..n_rounds {
            let src = if round % 2 == 0 {
                &lines
            } else {
                &nudged_lines
            };
            for (i, line) in src.iter().enumerate() {
                let Ok(Some(up)) = parse_line(line, i as u64 + 1) else {
                    continue;
                };
                t2.apply_quote(&up.to_option_quote(i as u64 + 1));
                n += 1;
                if n.is_multiple_of(1000) {
                    t2.refresh(at).expect("refresh");
                }
            }
        }
        t2.refresh(at).expect("refresh");
        let rate = n as f64 / clock.elapsed().as_secs_f64();
        println!(
            "live {u}: whole chain update p50 {:.0} us p99 {:.0} us ({} updates); from scratch \
             p50 {:.0} us (ratio {:.2}); one changed quote p50 {:.1} us p99 {:.1} us ({} \
             updates, {refitted} refits); stream {:.0} quote updates/s",
            percentile(&mut whole.clone(), 0.5),
            percentile(&mut whole.clone(), 0.99),
            whole.len(),
            percentile(&mut scratch.clone(), 0.5),
            percentile(&mut scratch.clone(), 0.5) / percentile(&mut whole.clone(), 0.5),
            percentile(&mut single.clone(), 0.5),
            percentile(&mut single.clone(), 0.99),
            single.len(),
            rate
        );
    }
}

fn bench(c: &mut Criterion) {
    report();
    let chains = series("BTC", 3);
    let mut g = c.benchmark_group("live BTC");
    g.sample_size(20);
    g.bench_function("tracker update_chain (kalman)", |b| {
        let mut t = Tracker::new("BTC", TrackerOptions::default()).expect("options");
        t.update_chain(&chains[0]).expect("update");
        let mut i = 0usize;
        b.iter(|| {
            // Alternate between two snapshots with the time moved on each call.
            let mut c = chains[1 + i % 2].clone();
            c.as_of = t.as_of().map(|a| a + chrono::Duration::seconds(1));
            i += 1;
            black_box(t.update_chain(&c).expect("update"))
        });
    });
    g.bench_function("tracker update_chain (no filter)", |b| {
        let opts = TrackerOptions {
            filter: FilterKind::None,
            ..TrackerOptions::default()
        };
        let mut t = Tracker::new("BTC", opts).expect("options");
        t.update_chain(&chains[0]).expect("update");
        let mut i = 0usize;
        b.iter(|| {
            let mut c = chains[1 + i % 2].clone();
            c.as_of = t.as_of().map(|a| a + chrono::Duration::seconds(1));
            i += 1;
            black_box(t.update_chain(&c).expect("update"))
        });
    });
    g.bench_function("calibrate_surface from scratch (svi, 1 thread)", |b| {
        let opts = SurfaceOptions {
            model: SurfaceModel::Svi,
            parallel: false,
            ..SurfaceOptions::default()
        };
        b.iter(|| black_box(calibrate_surface(&chains[1], &opts).ok()));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
