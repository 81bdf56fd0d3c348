//! The quote-update stream (`volfit::live::stream`): real January 2026 snapshots replayed as
//! ticker lines and read back quote for quote, every kind of bad line named by line and field,
//! and property tests (no input panics; generated messages read back exactly).

use crate::common::shared_data;
use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::io::{self, Read};
use std::path::PathBuf;
use volfit::OptionKind;
use volfit::live::stream::{
    MAX_LINE_BYTES, QuoteUpdate, StreamError, parse_line, ticks_from_chain, updates,
};
use volfit::quotes::{Format, OptionQuote, read_chains};

/// The January 2026 snapshots, in time order.
fn january() -> Vec<PathBuf> {
    let dir = shared_data("deribit_series/2026-01");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 121);
    files
}

/// `t` cut to the millisecond, as a ticker's `timestamp` carries it.
fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

/// A snapshot's quote as the stream gives it back: the same, with its time in ms.
fn as_streamed(q: &OptionQuote) -> OptionQuote {
    OptionQuote {
        as_of: q.as_of.map(to_ms),
        ..q.clone()
    }
}

/// Five snapshots across January (the first, the last and three between), both underlyings:
/// every quote goes to a ticker line and comes back as the same `OptionQuote`, field by field
/// (the time to the ms), through `parse_line` and through the line iterator.
#[test]
fn real_january_snapshots_round_trip_quote_for_quote() {
    let files = january();
    let mut total = 0;
    for path in [0, 30, 60, 90, 120].map(|i| &files[i]) {
        let (chains, report) = read_chains(path, Format::Deribit).unwrap();
        assert!(report.rejected.is_empty(), "{}", path.display());
        let names: Vec<&str> = chains.iter().map(|c| c.underlying.as_str()).collect();
        assert_eq!(names, ["BTC", "ETH"], "{}", path.display());
        for chain in &chains {
            let ticks = ticks_from_chain(chain);
            assert_eq!(ticks.len(), chain.quotes.len());
            assert!(chain.quotes.len() > 400);
            // Real chains have quotes without a bid (0 on the wire) and with a bid.
            assert!(chain.quotes.iter().any(|q| q.bid.is_none()));
            assert!(chain.quotes.iter().any(|q| q.bid.is_some()));
            for (tick, q) in ticks.iter().zip(&chain.quotes) {
                let u = parse_line(tick, q.line)
                    .unwrap_or_else(|e| panic!("{e}: {tick}"))
                    .unwrap_or_else(|| panic!("not read as an update: {tick}"));
                assert_eq!(u.underlying, chain.underlying);
                let back = u.to_option_quote(q.line);
                let want = as_streamed(q);
                // Field by field, so that a failure names the field.
                assert_eq!(back.symbol, want.symbol);
                assert_eq!(back.expiry, want.expiry, "{}", q.symbol);
                assert_eq!(back.strike, want.strike, "{}", q.symbol);
                assert_eq!(back.kind, want.kind, "{}", q.symbol);
                assert_eq!(back.bid, want.bid, "{}", q.symbol);
                assert_eq!(back.ask, want.ask, "{}", q.symbol);
                assert_eq!(back.mark, want.mark, "{}", q.symbol);
                assert_eq!(back.bid_iv, want.bid_iv, "{}", q.symbol);
                assert_eq!(back.ask_iv, want.ask_iv, "{}", q.symbol);
                assert_eq!(back.mark_iv, want.mark_iv, "{}", q.symbol);
                assert_eq!(back.forward, want.forward, "{}", q.symbol);
                assert_eq!(back.discount, want.discount, "{}", q.symbol);
                assert_eq!(back.t, want.t, "{}", q.symbol);
                assert_eq!(back.as_of, want.as_of, "{}", q.symbol);
                assert_eq!(back.spot, want.spot, "{}", q.symbol);
                assert_eq!(back.line, want.line);
                assert_eq!(back, want);
            }
            // The same lines through the iterator, with blank lines and a heartbeat between.
            let mut text = String::new();
            for t in &ticks {
                text.push_str(t);
                text.push_str("\r\n\n{\"jsonrpc\":\"2.0\",\"method\":\"heartbeat\"}\n");
            }
            let mut it = updates(text.as_bytes());
            let mut n = 0;
            while let Some(u) = it.next() {
                let q = &chain.quotes[n];
                assert_eq!(it.line(), 3 * n as u64 + 1);
                assert_eq!(u.unwrap().to_option_quote(q.line), as_streamed(q));
                n += 1;
            }
            assert_eq!(n, chain.quotes.len());
            total += n;
        }
    }
    assert!(total > 5 * 1200, "{total} quotes");
}

const NAME: &str = "BTC-27MAR26-100000-C";
const TS: i64 = 1_767_259_115_173;

/// A valid bare ticker with `edit` applied to it (a `null` removes a field).
fn bare(edit: &Value) -> String {
    let mut data = json!({
        "timestamp": TS,
        "instrument_name": NAME,
        "best_bid_price": 0.0185,
        "best_ask_price": 0.019,
        "mark_price": 0.01874,
        "mark_iv": 42.5,
        "underlying_price": 88931.2,
        "index_price": 87799.1,
    });
    for (k, v) in edit.as_object().unwrap() {
        if v.is_null() {
            data.as_object_mut().unwrap().remove(k);
        } else {
            data[k] = v.clone();
        }
    }
    data.to_string()
}

/// A subscription notification of `data` on `channel`.
fn notification(channel: &str, data: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"{channel}","data":{data}}}}}"#
    )
}

/// A valid ticker cut a few bytes after `key`.
fn truncated_after(key: &str) -> String {
    let full = bare(&json!({}));
    let at = full.find(&format!("\"{key}\":")).unwrap() + key.len() + 5;
    full[..at].to_string()
}

fn err(line: &str, line_no: u64) -> StreamError {
    match parse_line(line, line_no) {
        Err(e) => e,
        Ok(u) => panic!("accepted {line}: {u:?}"),
    }
}

#[test]
fn a_full_deribit_notification_reads_into_its_update() {
    let line = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.ETH-5JUN26-2250d5-P.agg2","data":{"underlying_price":2981.5,"underlying_index":"SYN.ETH-5JUN26","timestamp":1767259115173,"stats":{"volume":null,"price_change":null,"low":null,"high":null},"state":"open","settlement_price":0.0021,"open_interest":0,"min_price":0.0001,"max_price":0.04,"mark_price":0.0207,"mark_iv":70,"last_price":null,"interest_rate":0,"instrument_name":"ETH-5JUN26-2250d5-P","index_price":2975.2,"greeks":{"vega":4.1,"theta":-1.2,"rho":-1.1,"gamma":0.0003,"delta":-0.18},"estimated_delivery_price":2975.2,"bid_iv":0,"best_bid_price":0,"best_bid_amount":0,"best_ask_price":0.021,"best_ask_amount":120,"ask_iv":71.2}}}"#;
    let u = parse_line(line, 1).unwrap().unwrap();
    let expiry = NaiveDate::from_ymd_opt(2026, 6, 5)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        u,
        QuoteUpdate {
            time: DateTime::from_timestamp_millis(TS).unwrap(),
            instrument: "ETH-5JUN26-2250d5-P".into(),
            underlying: "ETH".into(),
            expiry,
            strike: 2250.5,
            kind: OptionKind::Put,
            bid: None,
            ask: Some(0.021),
            mark: Some(0.0207),
            mark_iv: Some(0.7),
            forward: 2981.5,
            index: Some(2975.2),
        }
    );
    let q = u.to_option_quote(8);
    assert_eq!(
        (q.bid_iv, q.ask_iv, q.discount, q.t),
        (None, None, Some(1.0), None)
    );
}

#[test]
fn lines_that_are_not_option_updates_are_skipped() {
    let ok = bare(&json!({}));
    for line in [
        String::new(),
        " \t ".into(),
        "\u{feff}".into(),
        r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#.into(),
        r#"{"jsonrpc":"2.0","method":"heartbeat"}"#.into(),
        r#"{"jsonrpc":"2.0","id":42,"result":["ticker.BTC-27MAR26-100000-C.100ms"],"usIn":1,"usOut":2,"usDiff":1,"testnet":false}"#.into(),
        r#"{"jsonrpc":"2.0","id":8,"error":{"code":10009,"message":"not_enough_funds"}}"#.into(),
        r#"{"jsonrpc":"2.0","id":9,"result":null}"#.into(),
        r#"{"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["ticker.BTC-27MAR26-100000-C.100ms"]}}"#.into(),
        notification("deribit_price_index.btc_usd", r#"{"timestamp":1767259115173,"price":87799.1,"index_name":"btc_usd"}"#),
        notification("trades.option.BTC.100ms", r#"[{"trade_id":"1","price":0.01}]"#),
        notification("book.BTC-27MAR26-100000-C.100ms", r#"{"bids":[[0.018,1]],"asks":[],"change_id":3}"#),
        notification("ticker.BTC-PERPETUAL.100ms", &bare(&json!({"instrument_name": "BTC-PERPETUAL"}))),
        bare(&json!({"instrument_name": "BTC-27MAR26"})),
        bare(&json!({"instrument_name": "BTC_USDC"})),
        bare(&json!({"instrument_name": "ETH-PERPETUAL"})),
    ] {
        assert!(parse_line(&line, 1).unwrap().is_none(), "{line}");
    }
    assert!(parse_line(&ok, 1).unwrap().is_some());
    assert!(parse_line(&format!("\u{feff}{ok}\r"), 1).unwrap().is_some());
    let zero = bare(
        &json!({"best_bid_price": 0, "best_ask_price": 0, "mark_price": 0, "mark_iv": 0, "index_price": 0}),
    );
    let u = parse_line(&zero, 1).unwrap().unwrap();
    assert_eq!(
        (u.bid, u.ask, u.mark, u.mark_iv, u.index),
        (None, None, None, None, None)
    );
    let nulls = r#"{"timestamp":1767259115173,"instrument_name":"BTC-27MAR26-100000-C","best_bid_price":null,"best_ask_price":null,"mark_price":null,"underlying_price":88931.2,"index_price":null}"#;
    let u = parse_line(nulls, 1).unwrap().unwrap();
    assert_eq!((u.bid, u.ask, u.mark, u.index), (None, None, None, None));
    // A locked market (bid = ask) is a quote.
    let locked = bare(&json!({"best_bid_price": 0.019}));
    assert_eq!(parse_line(&locked, 1).unwrap().unwrap().bid, Some(0.019));
}

/// Every kind of bad line: the error names the line and the field.
#[test]
fn each_error_names_its_line_and_field() {
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        (bare(&json!({"best_ask_price": "abc"})), Some("best_ask_price"), "expected a number, got \"abc\""),
        (bare(&json!({"best_bid_price": "0.0185"})), Some("best_bid_price"), "expected a number, got \"0.0185\""),
        (bare(&json!({"mark_price": true})), Some("mark_price"), "expected a number, got true"),
        (bare(&json!({"index_price": [1]})), Some("index_price"), "expected a number, got an array"),
        (bare(&json!({"mark_iv": {"a": 1}})), Some("mark_iv"), "expected a number, got an object"),
        (bare(&json!({"instrument_name": "BTC-XX-1-C"})), Some("instrument_name"), "`BTC-XX-1-C` is not a Deribit option name"),
        (bare(&json!({"instrument_name": "BTC-27MAR26-100000"})), Some("instrument_name"), "is not a Deribit option name"),
        (bare(&json!({"instrument_name": "BTC-27MAR26-0-C"})), Some("instrument_name"), "is not a Deribit option name"),
        (bare(&json!({"instrument_name": "BTC-27MAR26-inf-C"})), Some("instrument_name"), "is not a Deribit option name"),
        (bare(&json!({"instrument_name": "btc-27MAR26-100000-C"})), Some("instrument_name"), "is not a Deribit option name"),
        (bare(&json!({"instrument_name": "SOL_USDC-27MAR26-150-C"})), Some("instrument_name"), "USDC-settled linear option"),
        (bare(&json!({"instrument_name": 5})), Some("instrument_name"), "expected a string, got 5"),
        (bare(&json!({"instrument_name": null})), Some("instrument_name"), "missing"),
        (bare(&json!({"timestamp": null})), Some("timestamp"), "missing"),
        (bare(&json!({"timestamp": "2026-01-01"})), Some("timestamp"), "expected a number"),
        (bare(&json!({"timestamp": 1_767_259_115})), Some("timestamp"), "out of range"),
        (bare(&json!({"timestamp": 1_767_259_115_173_000_i64})), Some("timestamp"), "out of range"),
        (bare(&json!({"timestamp": -1})), Some("timestamp"), "out of range"),
        (bare(&json!({"timestamp": 1e300})), Some("timestamp"), "out of range"),
        (bare(&json!({"underlying_price": null})), Some("underlying_price"), "missing"),
        (bare(&json!({"underlying_price": 0})), Some("underlying_price"), "not positive: 0"),
        (bare(&json!({"underlying_price": -5.5})), Some("underlying_price"), "not positive: -5.5"),
        (bare(&json!({"best_bid_price": -0.001})), Some("best_bid_price"), "negative: -0.001"),
        (bare(&json!({"best_ask_price": -1})), Some("best_ask_price"), "negative: -1"),
        (bare(&json!({"mark_price": -1})), Some("mark_price"), "negative"),
        (bare(&json!({"mark_iv": -3})), Some("mark_iv"), "negative"),
        (bare(&json!({"index_price": -3})), Some("index_price"), "negative"),
        (bare(&json!({"best_bid_price": 0.02})), Some("best_bid_price"), "the bid 0.02 is above the ask 0.019 (`best_ask_price`)"),
        // Non-finite numbers are not JSON: the error names the field they sit in.
        (bare(&json!({})).replace("0.0185", "1e400"), Some("best_bid_price"), "invalid JSON: number out of range"),
        (bare(&json!({})).replace("0.019,", "NaN,"), Some("best_ask_price"), "invalid JSON"),
        (bare(&json!({})).replace("88931.2", "Infinity"), Some("underlying_price"), "invalid JSON"),
        (bare(&json!({})).replace("88931.2", "-inf"), Some("underlying_price"), "invalid JSON"),
        (format!("{} trailing", bare(&json!({}))), None, "invalid JSON: trailing characters"),
        (truncated_after("underlying_price"), Some("underlying_price"), "invalid JSON: EOF while parsing"),
        (r#"{"timestamp":1,"timestamp":2}"#.into(), None, "duplicate field `timestamp`"),
        ("[1,2]".into(), None, "expected a JSON object, got an array"),
        ("42".into(), None, "expected a JSON object, got a number"),
        ("\"ticker\"".into(), None, "expected a JSON object, got a string"),
        ("null".into(), None, "expected a JSON object, got null"),
        ("{}".into(), Some("instrument_name"), "missing"),
        (notification("ticker.BTC-27MAR26-100000-C.100ms", &bare(&json!({"instrument_name": "BTC-27MAR26-110000-C"}))), Some("instrument_name"), "is not the channel's instrument `BTC-27MAR26-100000-C`"),
        (notification("ticker.BTC-27MAR26-100000-C.100ms", "[]"), Some("params.data"), "expected an object, got an array"),
        (r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27MAR26-100000-C.100ms"}}"#.into(), Some("params.data"), "missing"),
        (r#"{"jsonrpc":"2.0","method":"subscription","params":{"data":{}}}"#.into(), Some("params.channel"), "missing"),
        (r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":7,"data":{}}}"#.into(), Some("params.channel"), "expected a string, got 7"),
        (r#"{"jsonrpc":"2.0","method":"subscription","params":[1]}"#.into(), Some("params"), "expected an object, got an array"),
        (r#"{"jsonrpc":"2.0","method":"subscription"}"#.into(), Some("params"), "missing"),
        (r#"{"jsonrpc":"2.0","method":1}"#.into(), Some("method"), "expected a string, got 1"),
        (notification("incremental_ticker.BTC-27MAR26-100000-C", r#"{"type":"change","timestamp":1767259115173,"best_bid_price":0.02,"instrument_name":"BTC-27MAR26-100000-C"}"#), Some("params.channel"), "incremental tickers leave out"),
        (notification("ticker.BTC-27MAR26-100000-C.100ms", &bare(&json!({"best_ask_price": "x"}))), Some("best_ask_price"), "expected a number, got \"x\""),
    ];
    for (i, (line, field, reason)) in cases.iter().enumerate() {
        let line_no = 10 + i as u64;
        let e = err(line, line_no);
        let shown = e.to_string();
        assert_eq!(e.line(), line_no, "{shown}");
        assert_eq!(e.field(), *field, "{shown} (from {line})");
        let prefix = match field {
            Some(f) => format!("line {line_no}: field `{f}`: "),
            None => format!("line {line_no}: "),
        };
        assert!(shown.starts_with(&prefix), "{shown} (from {line})");
        assert!(
            shown.contains(reason),
            "{shown} lacks {reason:?} (from {line})"
        );
        assert!(shown.len() < 300, "{shown}");
    }
    // The messages as the brief has them.
    assert_eq!(
        err(&bare(&json!({"best_ask_price": "abc"})), 17).to_string(),
        "line 17: field `best_ask_price`: expected a number, got \"abc\""
    );
    assert_eq!(
        err(&bare(&json!({"instrument_name": "BTC-XX-1-C"})), 3).to_string(),
        "line 3: field `instrument_name`: `BTC-XX-1-C` is not a Deribit option name"
    );
    // Numbers as they would be written, not as 300 digits.
    assert_eq!(
        err(&bare(&json!({"timestamp": 1e300})), 2).to_string(),
        "line 2: field `timestamp`: 1e300 is out of range: expected ms since the epoch in \
         2000–2200 (a time in seconds or µs?)"
    );
    // A long bad value is quoted in part.
    let long = "x".repeat(5000);
    let e = err(&bare(&json!({"best_bid_price": long})), 1).to_string();
    assert!(e.len() < 200 && e.ends_with("…\""), "{e}");
}

/// A reader that serves some bytes, then fails.
struct Failing {
    data: io::Cursor<Vec<u8>>,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("connection reset")),
            n => Ok(n),
        }
    }
}

#[test]
fn the_iterator_names_lines_skips_bad_ones_and_stops_after_io_errors() {
    let good = bare(&json!({}));
    let mut input = Vec::new();
    input.extend_from_slice(b"\xef\xbb\xbf"); // a BOM on line 1
    input.extend_from_slice(good.as_bytes());
    input.extend_from_slice(b"\r\n\n"); // line 2 blank
    input.extend_from_slice(bare(&json!({"best_bid_price": "abc"})).as_bytes()); // line 3
    input.push(b'\n');
    let bad_utf8 = bare(&json!({})).replace("88931.2", "889\u{1}31.2"); // line 4
    input.extend_from_slice(
        &bad_utf8
            .into_bytes()
            .iter()
            .map(|&b| if b == 1 { 0xff } else { b })
            .collect::<Vec<u8>>(),
    );
    input.push(b'\n');
    input.extend_from_slice(&vec![b' '; MAX_LINE_BYTES + 10]); // line 5, too long
    input.push(b'\n');
    input.extend_from_slice(good.as_bytes()); // line 6, no final line end
    let got: Vec<(u64, Result<QuoteUpdate, String>)> = {
        let mut it = updates(io::BufReader::with_capacity(100, input.as_slice()));
        let mut v = Vec::new();
        while let Some(r) = it.next() {
            v.push((it.line(), r.map_err(|e| e.to_string())));
        }
        v
    };
    let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [1, 3, 4, 5, 6]);
    assert!(got[0].1.is_ok() && got[4].1.is_ok());
    assert_eq!(
        got[1].1.as_ref().unwrap_err(),
        "line 3: field `best_bid_price`: expected a number, got \"abc\""
    );
    let utf8 = got[2].1.as_ref().unwrap_err();
    assert!(
        utf8.starts_with("line 4: field `underlying_price`: not valid UTF-8 at byte"),
        "{utf8}"
    );
    assert_eq!(
        got[3].1.as_ref().unwrap_err(),
        &format!("line 5: longer than {MAX_LINE_BYTES} bytes")
    );

    // An I/O error is reported with its line, then the stream ends.
    let mut it = updates(io::BufReader::new(Failing {
        data: io::Cursor::new(format!("{good}\n{good}\n").into_bytes()),
    }));
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_ok());
    let e = it.next().unwrap().unwrap_err();
    assert!(matches!(e, StreamError::Io { line: 3, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "line 3: cannot read the stream: connection reset"
    );
    assert!(it.next().is_none());
    let _reader: io::BufReader<Failing> = it.into_inner();
}

// ---- property tests ----

const KEYS: [&str; 17] = [
    "timestamp",
    "instrument_name",
    "best_bid_price",
    "best_ask_price",
    "mark_price",
    "mark_iv",
    "underlying_price",
    "index_price",
    "jsonrpc",
    "method",
    "params",
    "channel",
    "data",
    "id",
    "result",
    "error",
    "greeks",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |x| x.is_finite())
            .prop_map(Value::from),
        (0.0..1.0f64).prop_map(Value::from),
        (1.6e12..1.9e12f64).prop_map(|x| Value::from(x.round() as i64)),
        prop::sample::select(vec![
            "BTC-27MAR26-100000-C",
            "ETH-5JUN26-2250d5-P",
            "BTC-XX-1-C",
            "BTC-PERPETUAL",
            "subscription",
            "heartbeat",
            "2.0",
            "ticker.BTC-27MAR26-100000-C.100ms",
            "ticker.",
            "incremental_ticker.BTC-27MAR26-100000-C",
            "BTC-31FEB26-1-P",
            "-27MAR26-1-C",
            "BTC-27MAR26-1e400-C",
            "BTC-27MAR26-NaN-P",
            "ÉTH-27MAR26-1-C",
        ])
        .prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS.to_vec()).prop_map(str::to_string),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..10
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// What must hold of any update the parser returns.
fn check_update(u: &QuoteUpdate) -> Result<(), TestCaseError> {
    prop_assert!(u.strike.is_finite() && u.strike > 0.0);
    prop_assert!(u.forward.is_finite() && u.forward > 0.0);
    for p in [u.bid, u.ask, u.mark, u.mark_iv, u.index]
        .into_iter()
        .flatten()
    {
        prop_assert!(p.is_finite() && p > 0.0, "{p}");
    }
    if let (Some(b), Some(a)) = (u.bid, u.ask) {
        prop_assert!(b <= a);
    }
    prop_assert!((2000..2200).contains(&chrono::Datelike::year(&u.time)));
    prop_assert!(!u.underlying.is_empty() && u.instrument.starts_with(&u.underlying));
    Ok(())
}

/// A valid ticker message and the update it must read as.
fn valid_message() -> impl Strategy<Value = (String, QuoteUpdate)> {
    let side = prop_oneof![Just(None), (1e-4..2.0f64).prop_map(Some)];
    (
        (
            prop::sample::select(vec!["BTC", "ETH", "SOL"]),
            (2024..2031i32, 1..=12u32, 1..=28u32),
            prop_oneof![
                (1..2_000_000u32).prop_map(|k| (k.to_string(), f64::from(k))),
                (1..5000u32, 1..10u32)
                    .prop_map(|(k, d)| (format!("{k}d{d}"), format!("{k}.{d}").parse().unwrap())),
            ],
            any::<bool>(),
        ),
        (side.clone(), side.clone(), side),
        (
            prop_oneof![Just(None), (0.01..500.0f64).prop_map(Some)],
            1e-3..1e7f64,
            prop_oneof![Just(None), (1e-3..1e7f64).prop_map(Some)],
            EARLIEST..END,
        ),
        (
            0..3u8,
            prop::collection::vec(("[a-z_]{1,12}", leaf()), 0..6),
        ),
    )
        .prop_map(
            |(
                (und, (y, m, d), (strike_text, strike), call),
                (b, a, mark),
                (iv, forward, index, ms),
                (shape, noise),
            )| {
                let (bid, ask) = match (b, a) {
                    (Some(b), Some(a)) if b > a => (Some(a), Some(b)),
                    other => other,
                };
                let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                let mon = date.format("%b").to_string().to_uppercase();
                let k = if call { "C" } else { "P" };
                let name = format!("{und}-{d}{mon}{:02}-{strike_text}-{k}", y % 100);
                let mut data = serde_json::Map::new();
                // Unknown fields first: they must not shadow the ones used.
                for (key, v) in noise {
                    if !KEYS.contains(&key.as_str()) {
                        data.insert(key, v);
                    }
                }
                data.insert("timestamp".into(), ms.into());
                data.insert("instrument_name".into(), name.clone().into());
                data.insert("best_bid_price".into(), bid.unwrap_or(0.0).into());
                data.insert(
                    "best_ask_price".into(),
                    ask.map_or(Value::Null, Value::from),
                );
                if let Some(mark) = mark {
                    data.insert("mark_price".into(), mark.into());
                }
                data.insert("mark_iv".into(), iv.unwrap_or(0.0).into());
                data.insert("underlying_price".into(), forward.into());
                if let Some(index) = index {
                    data.insert("index_price".into(), index.into());
                }
                data.insert("greeks".into(), json!({"delta": 0.5, "gamma": 0.0}));
                let data = Value::Object(data);
                let line = match shape {
                    0 => data.to_string(),
                    1 => notification(&format!("ticker.{name}.100ms"), &data.to_string()),
                    _ => serde_json::to_string_pretty(&data)
                        .unwrap()
                        .replace('\n', " "),
                };
                let update = QuoteUpdate {
                    time: DateTime::from_timestamp_millis(ms).unwrap(),
                    instrument: name,
                    underlying: und.to_string(),
                    expiry: date.and_hms_opt(8, 0, 0).unwrap().and_utc(),
                    strike,
                    kind: if call {
                        OptionKind::Call
                    } else {
                        OptionKind::Put
                    },
                    bid,
                    ask,
                    mark,
                    mark_iv: iv.map(|v| v / 100.0),
                    forward,
                    index,
                };
                (line, update)
            },
        )
}

/// 2000-01-01 and 2200-01-01 in ms since the epoch.
const EARLIEST: i64 = 946_684_800_000;
const END: i64 = 7_258_118_400_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_strings_never_panic(line in "\\PC{0,300}", n in any::<u64>()) {
        if let Ok(Some(u)) = parse_line(&line, n) {
            check_update(&u)?;
        }
    }

    #[test]
    fn json_ish_strings_never_panic(
        line in "[{}\\[\\]\":,0-9.eE+\\- a-z_]{0,200}",
    ) {
        match parse_line(&line, 1) {
            Ok(Some(u)) => check_update(&u)?,
            Ok(None) => {}
            Err(e) => prop_assert!(e.to_string().starts_with("line 1: ")),
        }
    }

    #[test]
    fn arbitrary_json_objects_never_panic(v in value(), wrap in any::<bool>()) {
        let line = if wrap {
            json!({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "ticker.BTC-27MAR26-100000-C.100ms", "data": v}}).to_string()
        } else {
            v.to_string()
        };
        match parse_line(&line, 5) {
            Ok(Some(u)) => check_update(&u)?,
            Ok(None) => {}
            Err(e) => {
                prop_assert_eq!(e.line(), 5);
                prop_assert!(e.to_string().len() < 400, "{}", e);
            }
        }
    }

    #[test]
    fn valid_messages_round_trip((line, want) in valid_message()) {
        let got = parse_line(&line, 1);
        prop_assert!(got.is_ok(), "{:?} from {}", got, line);
        let got = got.unwrap();
        prop_assert_eq!(got.as_ref(), Some(&want), "{}", line);
        let q = want.to_option_quote(3);
        prop_assert_eq!((q.bid, q.ask, q.forward, q.spot, q.as_of), (want.bid, want.ask, Some(want.forward), want.index, Some(want.time)));
        // And through the iterator.
        let text = format!("{line}\n");
        let mut it = updates(text.as_bytes());
        prop_assert_eq!(it.next().unwrap().unwrap(), want);
        prop_assert!(it.next().is_none());
    }
}
