use crate::common::shared_data;
use std::path::Path;
use volfit::OptionKind;
use volfit::quotes::deribit::TICK;
use volfit::quotes::{Format, IngestError, Premium, read_chains, read_chains_from_str};

const FILE: &str = "deribit/deribit_api_book_20200521.csv";

#[test]
fn deribit_api_book_reads_every_row() {
    let path = shared_data(FILE);
    let (chains, report) = read_chains(&path, Format::Auto).unwrap();
    assert_eq!(report.format, Format::DeribitApi);
    assert_eq!(
        (report.rows, report.quotes, report.rejected.len()),
        (326, 326, 0),
        "{:?}",
        report.rejected
    );
    assert_eq!(chains.len(), 1);
    let c = &chains[0];
    assert_eq!(c.underlying, "BTC");
    assert_eq!(
        (c.premium, c.tick, c.format),
        (Premium::Coin, Some(TICK), Format::DeribitApi)
    );
    assert_eq!(c.quotes.len(), 326);
    // The snapshot ran from 23:19:53 to 23:22:35 UTC; as_of is the latest row, and the spot is
    // the index on that row (BTC-25SEP20-8000-C).
    assert_eq!(
        c.as_of.unwrap().to_rfc3339(),
        "2020-05-21T23:22:35.277+00:00"
    );
    assert_eq!(c.spot, Some(9081.63));

    let mut expiries: Vec<_> = c.quotes.iter().map(|q| q.expiry).collect();
    expiries.sort();
    expiries.dedup();
    assert_eq!(expiries.len(), 7);
    assert_eq!(expiries[0].to_rfc3339(), "2020-05-22T08:00:00+00:00");
    assert_eq!(expiries[6].to_rfc3339(), "2020-12-25T08:00:00+00:00");
    for q in &c.quotes {
        assert_eq!(
            q.expiry.format("%H:%M:%S").to_string(),
            "08:00:00",
            "{}",
            q.symbol
        );
        assert!(q.expiry > c.as_of.unwrap());
        assert!(
            q.forward.unwrap() > 9000.0 && q.forward.unwrap() < 9300.0,
            "{}",
            q.symbol
        );
        assert_eq!(q.discount, Some(1.0));
        assert!(q.strike > 0.0);
        // IVs are decimals, and only where the side is quoted.
        for iv in [q.bid_iv, q.ask_iv, q.mark_iv].into_iter().flatten() {
            assert!(iv > 0.0 && iv < 5.0, "{}: {iv}", q.symbol);
        }
        assert!(q.bid.is_some() || q.bid_iv.is_none());
        assert!(q.ask.is_some() || q.ask_iv.is_none());
    }
    // Data rows are lines 2..=327, one line each.
    assert_eq!(c.quotes[0].line, 2);
    assert_eq!(c.quotes[325].line, 327);
    let no_bid = c.quotes.iter().filter(|q| q.bid.is_none()).count();
    let no_ask = c.quotes.iter().filter(|q| q.ask.is_none()).count();
    assert_eq!((no_bid, no_ask), (64, 49));
    // bid_iv is 0 on 147 rows: 64 without a bid and 83 with a bid Deribit cannot imply.
    assert_eq!(c.quotes.iter().filter(|q| q.bid_iv.is_none()).count(), 147);
    // ask_iv is 0 on the 49 rows without an ask and capped at 500 on 49 rows with one.
    assert_eq!(c.quotes.iter().filter(|q| q.ask_iv.is_none()).count(), 98);
}

#[test]
fn deribit_api_ivs_are_percent_and_zero_is_no_quote() {
    let (chains, _) = read_chains(shared_data(FILE), Format::DeribitApi).unwrap();
    let q = |name: &str| {
        chains[0]
            .quotes
            .iter()
            .find(|q| q.symbol == name)
            .unwrap()
            .clone()
    };

    // Line 2: mark_iv 85.05, bid_iv 72.4, ask_iv 101.17 (percent).
    let a = q("BTC-22MAY20-9250-P");
    assert_eq!(a.line, 2);
    assert_eq!((a.strike, a.kind), (9250.0, OptionKind::Put));
    assert_eq!(
        (a.bid, a.ask, a.mark),
        (Some(0.02), Some(0.023), Some(0.02124908))
    );
    assert!((a.mark_iv.unwrap() - 0.8505).abs() < 1e-12);
    assert!((a.bid_iv.unwrap() - 0.724).abs() < 1e-12);
    assert!((a.ask_iv.unwrap() - 1.0117).abs() < 1e-12);
    assert_eq!(a.forward, Some(9096.11));
    assert_eq!(a.expiry.to_rfc3339(), "2020-05-22T08:00:00+00:00");

    // Line 5: best_bid_price 0 (bid_iv 0), ask 0.521 with ask_iv at the 500 cap.
    let b = q("BTC-5JUN20-6750-C");
    assert_eq!((b.bid, b.bid_iv), (None, None));
    assert_eq!((b.ask, b.ask_iv), (Some(0.521), None));
    assert!((b.mark_iv.unwrap() - 1.2174).abs() < 1e-12);

    // Line 15: a bid Deribit gives no IV for (bid_iv 0), and no ask (ask_iv 0).
    let c = q("BTC-22MAY20-12000-P");
    assert_eq!((c.bid, c.bid_iv), (Some(0.114), None));
    assert_eq!((c.ask, c.ask_iv), (None, None));

    // Line 6: mark_price 0 is no mark, but the mark IV stays.
    let d = q("BTC-22MAY20-12000-C");
    assert_eq!(d.mark, None);
    assert!((d.mark_iv.unwrap() - 1.0757).abs() < 1e-12);
}

#[test]
fn deribit_api_header_is_sniffed() {
    let text = std::fs::read_to_string(shared_data(FILE)).unwrap();
    assert_eq!(
        Format::sniff(text.lines().next().unwrap()),
        Some(Format::DeribitApi)
    );
}

const HEADER: &str = ",expiration_timestamp,option_type,instrument_name,strike,underlying_price,timestamp,\
mark_price,mark_iv,best_bid_price,best_ask_price,bid_iv,ask_iv,index_price\n";

#[test]
fn deribit_api_bad_rows_are_rejected_with_line_and_field() {
    let text = format!(
        "{HEADER}\
         0,1590134400000,put,BTC-22MAY20-9250-P,9250.0,9096.11,1590103193775,0.021,85.05,0.02,0.023,72.4,101.17,9095.83\n\
         1,1590134400000,put,BTC-22MAY20-9250-P,9250.0,abc,1590103193775,0.021,85.05,0.02,0.023,72.4,101.17,9095.83\n\
         2,1590134400000,put,BTC-22MAY20-9250-P,9250.0,9096.11,1590103193775,0.021,85.05,0.02,0.023,-3,101.17,9095.83\n\
         3,1590134400000,put,ETH-22MAY20,9250.0,9096.11,1590103193775,0.021,85.05,0.02,0.023,72.4,101.17,9095.83\n\
         4,1590134400000,put,BTC-22MAY20-9250-P,0,9096.11,1590103193775,0.021,85.05,0.02,0.023,72.4,101.17,9095.83\n\
         5,soon,put,BTC-22MAY20-9250-P,9250,9096.11,1590103193775,0.021,85.05,0.02,0.023,72.4,101.17,9095.83\n"
    );
    let (chains, report) = read_chains_from_str(&text, Path::new("x.csv"), Format::Auto).unwrap();
    assert_eq!(report.format, Format::DeribitApi);
    assert_eq!((report.rows, report.quotes), (6, 1));
    let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7]);
    for (r, field) in report.rejected.iter().zip([
        "underlying_price",
        "bid_iv",
        "instrument_name",
        "strike",
        "expiration_timestamp",
    ]) {
        assert!(r.reason.contains(&format!("`{field}`")), "{r:?}");
    }
    assert_eq!(chains[0].quotes.len(), 1);
}

#[test]
fn deribit_api_missing_column_is_malformed() {
    let text =
        "instrument_name,best_bid_price,best_ask_price,mark_iv\nBTC-22MAY20-9250-P,0.02,0.023,85\n";
    match read_chains_from_str(text, Path::new("x.csv"), Format::DeribitApi) {
        Err(IngestError::Malformed {
            line: 1,
            column: Some(c),
            ..
        }) => assert_eq!(c, "underlying_price"),
        other => panic!("{other:?}"),
    }
}
