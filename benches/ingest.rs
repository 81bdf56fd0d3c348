//! Ingestion to slices: read a chain file from memory, parse every row, find forwards, filter
//! and invert bid/mid/ask to vols — throughput in rows per second for the largest real files.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use volfit::quotes::{Format, read_chains_from_str};
use volfit::slice::{SliceOptions, build_slices};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut g = c.benchmark_group("ingest_to_slices");
    g.sample_size(20);
    for name in [
        "spx_gatheral/spx_ivols_20191220.csv", // largest file: 6 456 rows of vols
        "spx_gatheral/spx_optionmetrics_20110915.csv", // largest price file: 2 352 rows, parity forwards
        "deribit/deribit_options_snapshot_20260415T161504Z.csv", // 1 630 rows, coin premiums, 2 underlyings
    ] {
        let path = root.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping {name}: ../shared/data not found");
            continue;
        };
        let rows = read_chains_from_str(&text, &path, Format::Auto)
            .unwrap()
            .1
            .rows;
        g.throughput(Throughput::Elements(rows as u64));
        let opts = SliceOptions::default();
        g.bench_function(name.rsplit('/').next().unwrap(), |b| {
            b.iter(|| {
                let (chains, report) =
                    read_chains_from_str(black_box(&text), &path, Format::Auto).unwrap();
                let n: usize = chains
                    .iter()
                    .map(|ch| build_slices(ch, &opts).0.len())
                    .sum();
                black_box((n, report.rows))
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
