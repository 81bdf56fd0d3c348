//! `BOOK.csv`: the reader against a real Deribit chain's own columns (round trips of
//! instrument names and of `kind, strike, expiry` rows), every field error with its line and
//! field, and book greeks against the per-option greeks and Black at the surface's vol.

use super::greeks::january_surface;
use crate::common::{rel, shared_data};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use volfit::OptionKind;
use volfit::black::black_price;
use volfit::risk::book::{Book, BookError, book_risk, read_book, read_book_from_bytes};
use volfit::risk::greeks::{Dynamics, inverse_greeks, option_greeks};
use volfit::surface::VolSurface;

pub const SNAPSHOT: &str = "deribit_series/2026-01/deribit_options_snapshot_20260115T092130Z.csv";

/// A BTC row of the snapshot: its instrument name and its own kind, strike, expiry columns.
pub struct ChainRow {
    pub name: String,
    pub kind: OptionKind,
    pub strike: f64,
    pub expiry: DateTime<Utc>,
}

/// Every `step`-th BTC row of the January snapshot.
pub fn chain_rows(step: usize) -> Vec<ChainRow> {
    let mut r = csv::Reader::from_path(shared_data(SNAPSHOT)).expect("snapshot");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let (name, ty, k, e, cur) = (
        col("instrument_name"),
        col("option_type"),
        col("strike"),
        col("expiry_datetime"),
        col("currency"),
    );
    r.records()
        .map(|rec| rec.expect("row"))
        .filter(|rec| &rec[cur] == "BTC")
        .step_by(step)
        .map(|rec| ChainRow {
            name: rec[name].to_string(),
            kind: rec[ty].parse().expect("kind"),
            strike: rec[k].parse().expect("strike"),
            expiry: DateTime::parse_from_rfc3339(&rec[e])
                .expect("expiry")
                .with_timezone(&Utc),
        })
        .collect()
}

/// A quantity for row `i`: long and short, not round.
pub fn qty(i: usize) -> f64 {
    (i as f64 - 4.5) * 0.37
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-book-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn instrument_names_round_trip() {
    let rows = chain_rows(11);
    assert!(rows.len() > 40, "{} rows", rows.len());
    let mut text = String::from("Instrument,QUANTITY\n");
    for (i, r) in rows.iter().enumerate() {
        text += &format!("{},{}\n", r.name, qty(i));
    }
    let path = tmp("names.csv");
    std::fs::write(&path, &text).unwrap();
    let (book, rejected) = read_book(&path).expect("book");
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(book.entries.len(), rows.len());
    for (i, (e, r)) in book.entries.iter().zip(&rows).enumerate() {
        assert_eq!(e.instrument, r.name);
        assert_eq!(
            (e.kind, e.strike, e.expiry),
            (r.kind, r.strike, r.expiry),
            "{}",
            r.name
        );
        assert_eq!(e.quantity, qty(i));
        assert_eq!(e.line, i as u64 + 2);
    }
}

#[test]
fn kind_strike_expiry_rows_read_as_the_names() {
    let rows = chain_rows(23);
    let by_name = {
        let mut t = String::from("instrument,quantity\n");
        for (i, r) in rows.iter().enumerate() {
            t += &format!("{},{}\n", r.name, qty(i));
        }
        read_book_from_bytes("names", t.as_bytes()).unwrap().0
    };
    // The three expiry forms: RFC 3339 (another offset), a date, a Deribit date.
    for form in 0..3 {
        let mut t = String::from(" kind , Strike,EXPIRY,quantity\n");
        for (i, r) in rows.iter().enumerate() {
            let e = match form {
                0 => r
                    .expiry
                    .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
                    .to_rfc3339(),
                1 => r.expiry.format("%Y-%m-%d").to_string(),
                _ => r.name.split('-').nth(1).unwrap().to_string(),
            };
            let k = if i % 2 == 0 { "C" } else { "call" };
            let k = if r.kind == OptionKind::Put { "put" } else { k };
            t += &format!("{k},{},{e},{}\n", r.strike, qty(i));
        }
        let (book, rejected) = read_book_from_bytes("ks", t.as_bytes()).unwrap();
        assert!(rejected.is_empty(), "form {form}: {rejected:?}");
        assert_eq!(book.entries.len(), by_name.entries.len());
        for (a, b) in book.entries.iter().zip(&by_name.entries) {
            assert_eq!(
                (a.kind, a.strike, a.expiry, a.quantity, a.line),
                (b.kind, b.strike, b.expiry, b.quantity, b.line),
                "form {form}"
            );
            assert_eq!(a.underlying(), None);
        }
    }
}

#[test]
fn every_field_error_names_line_and_field() {
    let text = "instrument,kind,strike,expiry,quantity\n\
        BTC-27MAR26-100000-C,,,,1\n\
        BTC-27XYZ26-100000-C,,,,1\n\
        BTC-27MAR26-100000-C,,,,abc\n\
        BTC-27MAR26-100000-C,,,,inf\n\
        BTC-27MAR26-100000-C,,,,NaN\n\
        BTC-27MAR26-100000-C,,,,\n\
        ,call,-5,2026-03-27,1\n\
        ,call,1e5,2026-13-27,1\n\
        ,cal,1e5,2026-03-27,1\n\
        ,call,1e5,,1\n\
        ,,1e5,2026-03-27,1\n\
        ,call,,2026-03-27,1\n\
        BTC-27MAR26-100000-C,put,,,1\n\
        BTC-27MAR26-100000-C,,90000,,1\n\
        BTC-27MAR26-100000-C,,,2026-03-28,1\n\
        ,put,90000,27MAR26,-2\n\
        ,call,abc,27MAR26,-2\n";
    let (book, rejected) = read_book_from_bytes("bad.csv", text.as_bytes()).unwrap();
    let expect = [
        (3, "instrument"),
        (4, "quantity"),
        (5, "quantity"),
        (6, "quantity"),
        (7, "quantity"),
        (8, "strike"),
        (9, "expiry"),
        (10, "kind"),
        (11, "expiry"),
        (12, "kind"),
        (13, "strike"),
        (14, "kind"),
        (15, "strike"),
        (16, "expiry"),
        (18, "strike"),
    ];
    let got: Vec<(u64, &str)> = rejected
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(got, expect.map(|(l, f)| (l as u64, f)));
    for r in &rejected {
        assert_eq!(r.file, "bad.csv");
        assert!(!r.reason.is_empty());
        let s = r.to_string();
        assert!(
            s.starts_with(&format!("bad.csv:{}: field `{}`", r.line, r.field)),
            "{s}"
        );
    }
    assert_eq!(
        book.entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        [2, 17]
    );
    // Invalid UTF-8 in one cell: that row is rejected, the next kept.
    let mut bytes = b"instrument,quantity\nBTC-27MAR26-100000-C,\xff\xfe\n".to_vec();
    bytes.extend_from_slice(b"BTC-27MAR26-100000-P,3\n");
    let (book, rejected) = read_book_from_bytes("u.csv", &bytes).unwrap();
    assert_eq!(
        (rejected[0].line, rejected[0].field.as_str()),
        (2, "quantity")
    );
    assert_eq!(book.entries.len(), 1);
}

#[test]
fn a_file_without_a_usable_header_is_an_error_naming_it() {
    for text in [
        "",
        "\n\n",
        "instrument,qty\nBTC-27MAR26-100000-C,1\n",
        "kind,strike,quantity\ncall,1,1\n",
        "BTC-27MAR26-100000-C,1\n",
    ] {
        match read_book_from_bytes("nohead.csv", text.as_bytes()) {
            Err(e @ BookError::Header { .. }) => {
                assert!(e.to_string().starts_with("nohead.csv: "), "{e}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let missing = tmp("does-not-exist.csv");
    let e = read_book(&missing).unwrap_err();
    assert!(e.to_string().contains("does-not-exist.csv"), "{e}");
}

#[test]
fn expired_and_foreign_positions_are_errors_naming_the_line() {
    let s = january_surface();
    let text = "instrument,quantity\nBTC-27MAR26-100000-C,1\nBTC-9JAN26-90000-C,1\n\
                ETH-27MAR26-3000-C,1\n";
    let (book, _) = read_book_from_bytes("b", text.as_bytes()).unwrap();
    let p = book.entries[0].position(s).expect("live position");
    assert_eq!(Some(p.t), s.year_fraction(book.entries[0].expiry));
    assert!(matches!(
        book.entries[1].position(s),
        Err(BookError::Expired { line: 3, .. })
    ));
    let e = book.entries[2].position(s).unwrap_err();
    assert!(matches!(e, BookError::Underlying { line: 4, .. }), "{e}");
    assert!(e.to_string().contains("line 4"), "{e}");
    assert!(book_risk(s, &book, Dynamics::StickyStrike).is_err());
}

/// A book of real instrument names that the January surface prices.
pub fn live_book(step: usize) -> Book {
    let s = january_surface();
    let mut t = String::from("instrument,quantity\n");
    for (i, r) in chain_rows(step).iter().enumerate() {
        if r.expiry > s.as_of().unwrap() {
            t += &format!("{},{}\n", r.name, qty(i));
        }
    }
    read_book_from_bytes("live", t.as_bytes()).unwrap().0
}

#[test]
fn book_greeks_are_the_sum_of_option_greeks() {
    let s = january_surface();
    let book = live_book(13);
    assert!(book.entries.len() > 30);
    for d in Dynamics::ALL {
        let risk = book_risk(s, &book, d).expect("risk");
        assert!(risk.inverse);
        let (mut vega, mut delta, mut gamma, mut coin_price) = (0.0, 0.0, 0.0, 0.0);
        for (e, p) in book.entries.iter().zip(&risk.positions) {
            let t = s.year_fraction(e.expiry).unwrap();
            let one = option_greeks(s, e.kind, e.strike, t, d).unwrap();
            assert_eq!(p.greeks.vega, e.quantity * one.vega);
            assert_eq!(p.greeks.theta, e.quantity * one.theta);
            assert_eq!(p.greeks.volga, e.quantity * one.volga);
            // The price against Black at the surface's forward and vol, computed here.
            let f = s.forward(t);
            let black = black_price(e.kind, f, e.strike, t, s.vol(e.strike, t));
            assert!(
                rel(p.greeks.price, e.quantity * black) < 1e-12,
                "{}",
                e.instrument
            );
            let coin = inverse_greeks(&one, f).coin;
            assert!(rel(p.coin.unwrap().price, e.quantity * black / f) < 1e-12);
            assert!(rel(p.coin.unwrap().delta, e.quantity * coin.delta) < 1e-12);
            vega += e.quantity * one.vega;
            delta += e.quantity * one.delta;
            gamma += e.quantity * one.gamma;
            coin_price += e.quantity * black / f;
        }
        assert!(rel(risk.totals.vega, vega) < 1e-12);
        assert!(rel(risk.totals.delta, delta) < 1e-12);
        assert!(rel(risk.totals.gamma, gamma) < 1e-12);
        assert!(rel(risk.coin_totals.unwrap().price, coin_price) < 1e-12);
        // Vega by expiry: one entry per distinct expiry, summing to the total vega.
        let mut expiries: Vec<_> = book.entries.iter().map(|e| e.expiry).collect();
        expiries.sort();
        expiries.dedup();
        let listed: Vec<_> = risk.vega_by_expiry.iter().map(|x| x.expiry).collect();
        assert_eq!(listed, expiries);
        let n: usize = risk.vega_by_expiry.iter().map(|x| x.positions).sum();
        assert_eq!(n, book.entries.len());
        let by: f64 = risk.vega_by_expiry.iter().map(|x| x.greeks.vega).sum();
        let scale: f64 = risk.positions.iter().map(|p| p.greeks.vega.abs()).sum();
        assert!(
            (by - risk.totals.vega).abs() < 1e-12 * scale,
            "{by} vs {}",
            risk.totals.vega
        );
    }
}
