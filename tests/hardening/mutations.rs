//! Mutation fuzzing of the real chains: every reader, the quote-update stream (ticker JSON
//! lines replayed from a real snapshot), `surface.json` loading and `BOOK.csv` books (of a real
//! chain's instrument names), fed
//! mutated copies of real inputs (flipped, inserted and deleted bytes, truncations, duplicated
//! and swapped lines, swapped fields, numbers replaced by `NaN`/`inf`/`1e308`/`1e-320`, stray
//! quotes, non-UTF-8 bytes, multibyte characters, CRLF line ends).
//!
//! What must hold for every input: no panic; a file is either refused with an error naming it
//! or read with every data line accounted for (a quote or a rejected row with its line, so
//! nothing is dropped silently), short rejection reasons, quotes in their domain; slices built
//! from what was read have finite points; a mutated `surface.json` either fails to load with
//! an error or loads into a surface that answers finite positive vols and saves back; every
//! line of a mutated stream is an update, a skipped line or an error naming that line, the
//! same as the line read alone, and the updates make chains whose slices are finite.
//!
//! `VOLFIT_FUZZ_CASES` sets the inputs per target (default 48 in the test suite; the long run
//! in the README uses 1,000,000: `VOLFIT_FUZZ_CASES=1000000 cargo test --release --test lib
//! hardening::mutations`).

use crate::common::shared_data;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use volfit::quotes::{Format, read_chains, read_chains_from_bytes};
use volfit::slice::{SliceOptions, build_slices};
use volfit::surface::{FittedSurface, SurfaceModel, SurfaceOptions, VolSurface, calibrate_surface};

/// Inputs per target.
fn cases() -> u32 {
    std::env::var("VOLFIT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// One mutation of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    SwapFields(usize, usize, usize),
    Number(usize, &'static str),
    Multibyte(usize),
    Crlf,
}

const NUMBERS: [&str; 10] = [
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e308",
    "1e-320",
    "",
    "99999999999999999999",
    "1e300",
];
const BYTES: [u8; 8] = [b'"', b',', b'\n', b'\r', 0xff, 0xc3, 0x00, b' '];

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        (pos, 1..=255u8).prop_map(|(p, x)| Mutation::Flip(p, x)),
        (
            pos,
            prop_oneof![prop::sample::select(BYTES.to_vec()), any::<u8>()]
        )
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (pos, 1..64usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        pos.prop_map(Mutation::Truncate),
        pos.prop_map(Mutation::DuplicateLine),
        (pos, pos).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (pos, 0..24usize, 0..24usize).prop_map(|(l, a, b)| Mutation::SwapFields(l, a, b)),
        (pos, prop::sample::select(NUMBERS.to_vec())).prop_map(|(p, n)| Mutation::Number(p, n)),
        pos.prop_map(Mutation::Multibyte),
        Just(Mutation::Crlf),
    ]
}

/// Byte ranges of the lines of `b` (without their line ends). With `cr`, a lone `\r` ends a
/// line too, as it does for the readers (and for most editors); the mutations themselves cut
/// at `\n` only.
fn lines_of(b: &[u8], cr: bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' || (cr && c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            let end = if c == b'\n' && i > start && b[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            out.push((start, end));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

fn line_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    lines_of(b, false)
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    if b.is_empty() {
        return;
    }
    let at = |p: usize, len: usize| p % len.max(1);
    match *m {
        Mutation::Flip(p, x) => {
            let i = at(p, b.len());
            b[i] ^= x;
        }
        Mutation::Insert(p, c) => {
            let i = at(p, b.len() + 1);
            b.insert(i, c);
        }
        Mutation::Delete(p, n) => {
            let i = at(p, b.len());
            let end = (i + n).min(b.len());
            b.drain(i..end);
        }
        Mutation::Truncate(p) => b.truncate(at(p, b.len())),
        Mutation::DuplicateLine(p) => {
            let lines = line_ranges(b);
            let (s, e) = lines[at(p, lines.len())];
            let mut copy = b[s..e].to_vec();
            copy.push(b'\n');
            b.splice(s..s, copy);
        }
        Mutation::SwapLines(x, y) => {
            let lines = line_ranges(b);
            let (i, j) = (at(x, lines.len()), at(y, lines.len()));
            let (i, j) = (i.min(j), i.max(j));
            if i == j {
                return;
            }
            let (a, c) = (lines[i], lines[j]);
            let mut out = b[..a.0].to_vec();
            out.extend_from_slice(&b[c.0..c.1]);
            out.extend_from_slice(&b[a.1..c.0]);
            out.extend_from_slice(&b[a.0..a.1]);
            out.extend_from_slice(&b[c.1..]);
            *b = out;
        }
        Mutation::SwapFields(l, x, y) => {
            let lines = line_ranges(b);
            let (s, e) = lines[at(l, lines.len())];
            let mut fields: Vec<Vec<u8>> =
                b[s..e].split(|&c| c == b',').map(<[u8]>::to_vec).collect();
            let (i, j) = (at(x, fields.len()), at(y, fields.len()));
            fields.swap(i, j);
            b.splice(s..e, fields.join(&b','));
        }
        Mutation::Number(p, n) => {
            // The numeric token (digits, '.', '-', 'e') around a position.
            let mut i = at(p, b.len());
            let is_num = |c: u8| c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'e';
            while i < b.len() && !b[i].is_ascii_digit() {
                i += 1;
            }
            if i == b.len() {
                return;
            }
            let (mut s, mut e) = (i, i);
            while s > 0 && is_num(b[s - 1]) {
                s -= 1;
            }
            while e < b.len() && is_num(b[e]) {
                e += 1;
            }
            b.splice(s..e, n.bytes());
        }
        Mutation::Multibyte(p) => {
            let i = at(p, b.len() + 1);
            let i = (0..=i)
                .rev()
                .find(|&j| j == 0 || j == b.len() || b[j] < 0x80)
                .unwrap_or(0);
            b.splice(i..i, "é".bytes());
        }
        Mutation::Crlf => {
            let mut out = Vec::with_capacity(b.len() + b.len() / 40);
            for (i, &c) in b.iter().enumerate() {
                if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
                    out.push(b'\r');
                }
                out.push(c);
            }
            *b = out;
        }
    }
}

/// Writes a failing input to the temporary directory (named in the failure), to replay it.
fn keep_failing_input(name: &str, bytes: &[u8]) {
    let path = std::env::temp_dir().join(name);
    if std::fs::write(&path, bytes).is_ok() {
        eprintln!("failing input kept in {}", path.display());
    }
}

/// The longest rejection reason allowed (the issue saw a 338 kB one).
const MAX_REASON: usize = 600;

/// Reads one mutated input and checks what must hold.
fn check_read(
    bytes: &[u8],
    name: &str,
    format: Format,
    header_lines: usize,
) -> Result<(), TestCaseError> {
    let path = Path::new(name);
    let Ok((chains, report)) = read_chains_from_bytes(bytes, path, format) else {
        // Refused: the error names the file (checked on the text).
        let e = read_chains_from_bytes(bytes, path, format)
            .unwrap_err()
            .to_string();
        prop_assert!(e.contains(name), "error does not name the file: {e}");
        return Ok(());
    };
    prop_assert_eq!(report.rows, report.quotes + report.rejected.len());
    prop_assert_eq!(
        report.quotes,
        chains.iter().map(|c| c.quotes.len()).sum::<usize>()
    );
    for r in &report.rejected {
        prop_assert!(r.line >= 1, "rejection without a line: {:?}", r);
        prop_assert!(
            r.reason.len() <= MAX_REASON,
            "reason of {} bytes",
            r.reason.len()
        );
    }
    for c in &chains {
        for q in &c.quotes {
            prop_assert!(
                q.strike.is_finite() && q.strike > 0.0,
                "strike {}",
                q.strike
            );
            prop_assert!(q.forward.is_none_or(|f| f.is_finite() && f > 0.0));
            prop_assert!(q.t.is_none_or(|t| t.is_finite() && t > 0.0));
            for p in [q.bid, q.ask, q.mark, q.bid_iv, q.ask_iv, q.mark_iv]
                .into_iter()
                .flatten()
            {
                prop_assert!(p.is_finite() && p >= 0.0, "price or vol {p}");
            }
        }
        let (slices, _) = build_slices(c, &SliceOptions::default());
        for s in &slices {
            prop_assert!(
                s.t() > 0.0 && s.t().is_finite() && s.forward() > 0.0 && s.forward().is_finite()
            );
            for p in s.points() {
                prop_assert!(p.k().is_finite() && p.mid_iv() > 0.0 && p.mid_iv().is_finite());
            }
        }
    }
    // CSV layouts: every non-blank data line is a quote or a rejected row (nothing dropped
    // silently). The screens make every record one line.
    if !matches!(format, Format::Deribit) || !bytes.trim_ascii_start().starts_with(b"[") {
        let mut seen = std::collections::BTreeSet::new();
        for c in &chains {
            seen.extend(c.quotes.iter().map(|q| q.line));
        }
        seen.extend(report.rejected.iter().map(|r| r.line));
        let all = lines_of(bytes, true);
        // Header lines count from the first non-blank line, as the readers count them.
        let blank_lead = all
            .iter()
            .take_while(|&&(s, e)| bytes[s..e].iter().all(u8::is_ascii_whitespace))
            .count();
        for (n, (s, e)) in all.into_iter().enumerate().skip(blank_lead + header_lines) {
            let line = &bytes[s..e];
            let blank = line.iter().all(|c| c.is_ascii_whitespace() || *c == b',');
            if !(blank || seen.contains(&(n as u64 + 1))) {
                keep_failing_input(&format!("fuzzfail_{}", name.replace('/', "_")), bytes);
            }
            prop_assert!(
                blank || seen.contains(&(n as u64 + 1)),
                "line {} neither read nor rejected: {:?} (of {} lines; rows {}, last seen {:?})",
                n + 1,
                String::from_utf8_lossy(&line[..line.len().min(160)]),
                lines_of(bytes, true).len(),
                report.rows,
                seen.last()
            );
        }
    }
    Ok(())
}

/// Runs `cases()` mutated copies of `base` through `check`.
fn fuzz(base: &[u8], check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(mutation(), 1..5), |ms| {
            let mut b = base.to_vec();
            for m in &ms {
                apply(&mut b, m);
            }
            check(&b)
        })
        .unwrap();
}

fn real(name: &str) -> Vec<u8> {
    std::fs::read(shared_data(name)).unwrap()
}

#[test]
fn unmutated_real_files_account_for_every_line() {
    for (name, format, header) in [
        (
            "deribit/deribit_options_snapshot_20251230T173115Z.csv",
            Format::Deribit,
            1,
        ),
        (
            "deribit/deribit_api_book_20200521.csv",
            Format::DeribitApi,
            1,
        ),
        ("spx_cboe_2011/SPX-Options-24jan2011.csv", Format::Cboe, 3),
        (
            "spx_gatheral/spx_optionmetrics_20050915.csv",
            Format::Optionmetrics,
            1,
        ),
        ("spx_gatheral/spx_ivols_20050915.csv", Format::Ivtable, 1),
    ] {
        let b = real(name);
        check_read(&b, name, format, header).unwrap();
        check_read(&b, name, Format::Auto, header).unwrap();
    }
}

macro_rules! reader_fuzz {
    ($test:ident, $file:expr, $format:expr, $header:expr) => {
        #[test]
        fn $test() {
            let base = real($file);
            fuzz(&base, |b| {
                check_read(b, $file, $format, $header)?;
                check_read(b, $file, Format::Auto, $header)
            });
        }
    };
}

reader_fuzz!(
    deribit_csv,
    "deribit/deribit_options_snapshot_20251230T173115Z.csv",
    Format::Deribit,
    1
);
reader_fuzz!(
    deribit_api,
    "deribit/deribit_api_book_20200521.csv",
    Format::DeribitApi,
    1
);
reader_fuzz!(
    cboe,
    "spx_cboe_2011/SPX-Options-24jan2011.csv",
    Format::Cboe,
    3
);
reader_fuzz!(
    optionmetrics,
    "spx_gatheral/spx_optionmetrics_20050915.csv",
    Format::Optionmetrics,
    1
);
reader_fuzz!(
    ivtable,
    "spx_gatheral/spx_ivols_20050915.csv",
    Format::Ivtable,
    1
);

/// The BTC quotes of a real Deribit snapshot, as the API's JSON and as volfit's generic CSV.
fn derived() -> &'static (Vec<u8>, Vec<u8>) {
    static D: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    D.get_or_init(|| {
        let (chains, _) = read_chains(
            shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
            Format::Deribit,
        )
        .unwrap();
        let btc = &chains[0];
        let rows = crate::common::deribit_json_rows(btc, 300);
        let json = serde_json::to_vec_pretty(&rows).unwrap();
        let mut csv =
            String::from("underlying,expiry,strike,kind,bid,ask,forward,as_of,premium_unit\n");
        for q in btc.quotes.iter().take(300) {
            let side = |p: Option<f64>| p.map_or(String::new(), |p| p.to_string());
            let _ = writeln!(
                csv,
                "BTC,{},{},{},{},{},{},{},coin",
                q.expiry.to_rfc3339(),
                q.strike,
                q.kind,
                side(q.bid),
                side(q.ask),
                q.forward.unwrap(),
                btc.as_of.unwrap().to_rfc3339()
            );
        }
        (json, csv.into_bytes())
    })
}

#[test]
fn deribit_json() {
    let base = derived().0.clone();
    // JSON rows are array positions, not lines: the line coverage check does not apply.
    fuzz(&base, |b| {
        let path = Path::new("book.json");
        if let Ok((chains, report)) = read_chains_from_bytes(b, path, Format::Deribit) {
            prop_assert_eq!(report.rows, report.quotes + report.rejected.len());
            prop_assert_eq!(
                report.quotes,
                chains.iter().map(|c| c.quotes.len()).sum::<usize>()
            );
            for r in &report.rejected {
                prop_assert!(r.reason.len() <= MAX_REASON);
            }
        }
        Ok(())
    });
}

#[test]
fn generic_csv() {
    let base = derived().1.clone();
    check_read(&base, "chain.csv", Format::Csv, 1).unwrap();
    fuzz(&base, |b| check_read(b, "chain.csv", Format::Csv, 1));
}

/// Real surfaces (SVI and SABR on the BTC chain) as `surface.json` text.
fn surfaces() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let (chains, _) = read_chains(
            shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
            Format::Deribit,
        )
        .unwrap();
        [SurfaceModel::Svi, SurfaceModel::Sabr]
            .into_iter()
            .map(|model| {
                let o = SurfaceOptions {
                    model,
                    ..SurfaceOptions::default()
                };
                let (s, _) = calibrate_surface(&chains[0], &o).unwrap();
                serde_json::to_vec_pretty(&s).unwrap()
            })
            .collect()
    })
}

#[test]
fn surface_json_loading() {
    let dir = std::env::temp_dir().join(format!("volfit-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, base) in surfaces().iter().enumerate() {
        let path = dir.join(format!("surface-{i}.json"));
        fuzz(base, |b| {
            let Ok(text) = std::str::from_utf8(b) else {
                return Ok(());
            };
            let Ok(s) = serde_json::from_str::<FittedSurface>(text) else {
                return Ok(());
            };
            // A surface that loads answers where it is defined, and saves back.
            let (t0, t1) = (s.slices()[0].t, s.slices()[s.slices().len() - 1].t);
            for t in [t0, 0.5 * (t0 + t1), t1] {
                let f = s.forward(t);
                prop_assert!(f.is_finite() && f > 0.0, "forward {f} at t {t}");
                for m in [0.7, 1.0, 1.4] {
                    let v = s.vol(m * f, t);
                    if !(v.is_finite() && v > 0.0) {
                        keep_failing_input("fuzzfail_surface.json", b);
                    }
                    prop_assert!(v.is_finite() && v > 0.0, "vol {v} at K {} t {t}", m * f);
                }
            }
            prop_assert!(s.save(&path).is_ok());
            prop_assert_eq!(FittedSurface::load(&path).unwrap(), s);
            Ok(())
        });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `volfit iv` input made from a real chain: the undiscounted mark premium of every BTC quote
/// of a Deribit snapshot, with a pass-through column.
fn iv_input() -> &'static Vec<u8> {
    static I: OnceLock<Vec<u8>> = OnceLock::new();
    I.get_or_init(|| {
        let (chains, _) = read_chains(
            shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv"),
            Format::Deribit,
        )
        .unwrap();
        let btc = &chains[0];
        let as_of = btc.as_of.unwrap();
        let mut out = String::from("kind,price,forward,strike,t,symbol\n");
        for q in btc.quotes.iter().take(400) {
            let (Some(mark), Some(f)) = (q.mark, q.forward) else {
                continue;
            };
            let t = (q.expiry - as_of).num_milliseconds() as f64 / (365.0 * 86_400_000.0);
            let _ = writeln!(
                out,
                "{},{},{f},{},{t},{}",
                q.kind,
                mark * f,
                q.strike,
                q.symbol
            );
        }
        out.into_bytes()
    })
}

/// `volfit iv` on mutated input: exit 0 with one output row per input record, each with a
/// finite positive vol or a reason, or exit 2 with a message; never a panic.
#[test]
fn volfit_iv_input() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let base = iv_input().clone();
    let mut runner = TestRunner::new(Config {
        cases: (cases() / 4).max(8),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(mutation(), 1..5), |ms| {
            let mut b = base.clone();
            for m in &ms {
                apply(&mut b, m);
            }
            let mut child = Command::new(env!("CARGO_BIN_EXE_volfit"))
                .args(["iv", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&b).unwrap();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!stderr.contains("panicked"), "{stderr}");
            match out.status.code() {
                Some(0) => {
                    let input_records = csv::ReaderBuilder::new()
                        .flexible(true)
                        .from_reader(b.as_slice())
                        .byte_records()
                        .filter(|r| r.as_ref().is_ok_and(|r| !(r.len() == 1 && r[0].is_empty())))
                        .count();
                    let mut rdr = csv::ReaderBuilder::new()
                        .flexible(true)
                        .from_reader(out.stdout.as_slice());
                    let mut n = 0;
                    for r in rdr.byte_records() {
                        let r = r.unwrap();
                        n += 1;
                        // `iv` and `error` are the last two fields of every output row.
                        prop_assert!(r.len() >= 2);
                        let (v, error) = (&r[r.len() - 2], &r[r.len() - 1]);
                        if v.is_empty() {
                            prop_assert!(!error.is_empty(), "a row with neither vol nor reason");
                        } else {
                            let text = String::from_utf8_lossy(v);
                            let v: f64 = text.parse().map_err(|_| {
                                TestCaseError::fail(format!("iv {text:?} is not a number"))
                            })?;
                            prop_assert!(v.is_finite() && v > 0.0, "iv {v}");
                        }
                    }
                    prop_assert_eq!(n, input_records);
                }
                Some(2) => prop_assert!(stderr.contains("volfit: error"), "{stderr}"),
                other => prop_assert!(false, "exit {other:?}: {stderr}"),
            }
            Ok(())
        })
        .unwrap();
}

/// The ticker lines of a real January snapshot (both underlyings, 150 quotes each), as
/// `volfit track -` would read them.
fn stream_input() -> &'static Vec<u8> {
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    S.get_or_init(|| {
        let (chains, _) = read_chains(
            shared_data("deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv"),
            Format::Deribit,
        )
        .unwrap();
        let mut out = String::new();
        for c in &chains {
            for t in volfit::live::stream::ticks_from_chain(c).iter().take(150) {
                out.push_str(t);
                out.push('\n');
            }
        }
        out.into_bytes()
    })
}

/// One mutated stream: what the line iterator makes of every line is what `parse_line` makes
/// of that line alone; errors name their line; updates are in their domain and build finite
/// slices.
fn check_stream(bytes: &[u8]) -> Result<(), TestCaseError> {
    use volfit::live::stream::{MAX_LINE_BYTES, QuoteUpdate, parse_line, updates};
    use volfit::quotes::{Chain, OptionQuote, Premium, deribit::TICK};
    let mut seen: std::collections::BTreeMap<u64, Result<QuoteUpdate, String>> =
        std::collections::BTreeMap::new();
    let mut it = updates(bytes);
    while let Some(r) = it.next() {
        let line = match &r {
            Ok(_) => it.line(),
            Err(e) => e.line(),
        };
        prop_assert!(line >= 1);
        let r = r.map_err(|e| e.to_string());
        if let Err(e) = &r {
            prop_assert!(e.starts_with(&format!("line {line}: ")), "{e}");
            prop_assert!(e.len() <= MAX_REASON, "reason of {} bytes", e.len());
        }
        prop_assert!(seen.insert(line, r).is_none(), "line {line} twice");
    }
    // The iterator cuts lines at `\n` only.
    let lines: Vec<&[u8]> = if bytes.is_empty() {
        Vec::new()
    } else {
        bytes
            .strip_suffix(b"\n")
            .unwrap_or(bytes)
            .split(|&b| b == b'\n')
            .collect()
    };
    prop_assert!(
        seen.keys()
            .last()
            .is_none_or(|&l| l as usize <= lines.len())
    );
    let mut quotes: std::collections::BTreeMap<String, Vec<OptionQuote>> =
        std::collections::BTreeMap::new();
    for (i, raw) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let alone = match std::str::from_utf8(raw) {
            _ if raw.len() > MAX_LINE_BYTES => Err(String::new()),
            Ok(text) => parse_line(text, n).map_err(|e| e.to_string()),
            Err(_) => Err(String::new()),
        };
        match (alone, seen.get(&n)) {
            (Ok(None), None) => {}
            (Ok(Some(a)), Some(Ok(b))) => {
                prop_assert_eq!(&a, b);
                let q = a.to_option_quote(n);
                prop_assert!(a.strike.is_finite() && a.strike > 0.0);
                prop_assert!(a.forward.is_finite() && a.forward > 0.0);
                for p in [q.bid, q.ask, q.mark, q.mark_iv, q.spot]
                    .into_iter()
                    .flatten()
                {
                    prop_assert!(p.is_finite() && p > 0.0, "price or vol {p}");
                }
                if let (Some(b), Some(a)) = (q.bid, q.ask) {
                    prop_assert!(b <= a);
                }
                quotes.entry(a.underlying.clone()).or_default().push(q);
            }
            (Err(a), Some(Err(b))) => {
                prop_assert!(a.is_empty() || &a == b, "{a} vs {b}");
            }
            (alone, got) => {
                keep_failing_input("fuzzfail_stream.jsonl", bytes);
                prop_assert!(false, "line {n}: alone {alone:?}, in the stream {got:?}");
            }
        }
    }
    for (underlying, quotes) in quotes {
        let chain = Chain {
            underlying,
            as_of: quotes.iter().filter_map(|q| q.as_of).max(),
            spot: None,
            premium: Premium::Coin,
            tick: Some(TICK),
            format: Format::Deribit,
            source: "stream.jsonl".into(),
            quotes,
        };
        let (slices, _) = build_slices(&chain, &SliceOptions::default());
        for s in &slices {
            prop_assert!(
                s.t() > 0.0 && s.t().is_finite() && s.forward() > 0.0 && s.forward().is_finite()
            );
            for p in s.points() {
                prop_assert!(p.k().is_finite() && p.mid_iv() > 0.0 && p.mid_iv().is_finite());
            }
        }
    }
    Ok(())
}

#[test]
fn quote_stream() {
    let base = stream_input().clone();
    check_stream(&base).unwrap();
    fuzz(&base, check_stream);
}

/// A book of the BTC instrument names of a real Deribit snapshot: half the rows by name, half
/// as `kind, strike, expiry` (the expiry forms alternating), quantities long and short.
fn book_input() -> &'static Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut r = csv::Reader::from_path(shared_data(
            "deribit/deribit_options_snapshot_20251230T173115Z.csv",
        ))
        .unwrap();
        let h = r.headers().unwrap().clone();
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (name, ty, k, e) = (
            col("instrument_name"),
            col("option_type"),
            col("strike"),
            col("expiry_datetime"),
        );
        let mut out = String::from("instrument,kind,strike,expiry,quantity\n");
        for (i, rec) in r
            .records()
            .map(Result::unwrap)
            .step_by(5)
            .take(200)
            .enumerate()
        {
            let q = (i as f64 - 7.5) * 0.25;
            if i % 2 == 0 {
                let _ = writeln!(out, "{},,,,{q}", &rec[name]);
            } else {
                let expiry = match i % 3 {
                    0 => rec[e].to_string(),
                    1 => rec[e][..10].to_string(),
                    _ => rec[name].split('-').nth(1).unwrap().to_string(),
                };
                let _ = writeln!(out, ",{},{},{expiry},{q}", &rec[ty], &rec[k]);
            }
        }
        out.into_bytes()
    })
}

/// A mutated book is refused with an error naming the file, or read with every position in
/// its domain and every rejection naming the file, a line of it, a field and a short reason.
fn check_book(bytes: &[u8]) -> Result<(), TestCaseError> {
    use volfit::risk::book::read_book_from_bytes;
    let lines = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64 + 1;
    match read_book_from_bytes("book.csv", bytes) {
        Err(e) => prop_assert!(e.to_string().starts_with("book.csv: "), "{}", e),
        Ok((book, rejected)) => {
            prop_assert!(book.entries.len() + rejected.len() <= lines as usize);
            let mut seen = std::collections::BTreeSet::new();
            for p in &book.entries {
                prop_assert!(p.strike.is_finite() && p.strike > 0.0 && p.quantity.is_finite());
                prop_assert!(p.line >= 2 && p.line <= lines, "line {}", p.line);
                prop_assert!(seen.insert(p.line), "line {} twice", p.line);
            }
            for r in &rejected {
                prop_assert_eq!(r.file.as_str(), "book.csv");
                prop_assert!(r.line >= 1 && r.line <= lines, "line {}", r.line);
                prop_assert!(!r.field.is_empty() && !r.reason.is_empty());
                prop_assert!(r.reason.len() <= MAX_REASON, "{}", r.reason.len());
                prop_assert!(seen.insert(r.line), "line {} twice", r.line);
            }
        }
    }
    Ok(())
}

#[test]
fn book_csv() {
    let base = book_input().clone();
    let (book, rejected) = volfit::risk::book::read_book_from_bytes("book.csv", &base).unwrap();
    assert_eq!(
        (book.entries.len(), rejected.len()),
        (200, 0),
        "{rejected:?}"
    );
    fuzz(&base, check_book);
}
