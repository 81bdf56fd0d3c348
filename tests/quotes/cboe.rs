use crate::common::shared_data;
use std::path::Path;
use volfit::OptionKind;
use volfit::quotes::{
    Chain, Format, IngestError, OptionQuote, Premium, read_chains, read_chains_from_str,
};

const FILE: &str = "spx_cboe_2011/SPX-Options-24jan2011.csv";

fn chain() -> Chain {
    let (mut chains, report) = read_chains(shared_data(FILE), Format::Auto).unwrap();
    assert_eq!(report.format, Format::Cboe);
    assert_eq!(chains.len(), 1);
    chains.pop().unwrap()
}

fn find<'a>(chain: &'a Chain, symbol: &str) -> &'a OptionQuote {
    chain
        .quotes
        .iter()
        .find(|q| q.symbol == symbol)
        .unwrap_or_else(|| panic!("no {symbol}"))
}

#[test]
fn cboe_file_reads_every_row() {
    let (chains, report) = read_chains(shared_data(FILE), Format::Cboe).unwrap();
    // 960 data lines, each a call and a put.
    assert_eq!(report.rows, 1920);
    assert_eq!(report.rows, report.quotes + report.rejected.len());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.quotes, 1920);
    let c = &chains[0];
    assert_eq!(c.underlying, "SPX");
    assert_eq!(c.spot, Some(1290.59));
    // 14:03 New York in January (EST) is 19:03 UTC.
    assert_eq!(c.as_of.unwrap().to_rfc3339(), "2011-01-24T19:03:00+00:00");
    assert_eq!(
        (c.premium, c.tick, c.format),
        (Premium::Quote, Some(0.05), Format::Cboe)
    );
    assert_eq!(c.quotes.len(), 1920);
    let calls = c
        .quotes
        .iter()
        .filter(|q| q.kind == OptionKind::Call)
        .count();
    assert_eq!(calls, 960);
    assert!(
        c.quotes
            .iter()
            .all(|q| q.forward.is_none() && q.discount.is_none() && q.t.is_none())
    );
    assert!(
        c.quotes
            .iter()
            .all(|q| q.expiry > c.as_of.unwrap() && q.strike > 0.0)
    );
    assert!(c.quotes.iter().all(|q| (4..=963).contains(&q.line)));
}

#[test]
fn cboe_quotes_and_sides() {
    let c = chain();
    // Line 4: both sides of the first line.
    let call = find(&c, "SPXW1128A1075-E");
    assert_eq!(
        (call.strike, call.kind, call.bid, call.ask, call.line),
        (1075.0, OptionKind::Call, Some(215.30), Some(217.00), 4)
    );
    let put = find(&c, "SPXW1128M1075-E");
    assert_eq!(
        (put.strike, put.kind, put.bid, put.ask, put.line),
        (1075.0, OptionKind::Put, Some(0.05), Some(0.10), 4)
    );
    // A zero bid is no bid.
    let wing = find(&c, "SPX1321L3000-E");
    assert_eq!((wing.bid, wing.ask), (None, Some(2.00)));
    // A line of zeros (line 393) is a quote with neither side.
    let dead = find(&c, "SPX1116D460-E");
    assert_eq!((dead.bid, dead.ask, dead.line), (None, None, 393));
}

#[test]
fn cboe_expiries_follow_settlement() {
    let c = chain();
    let at = |s: &str| find(&c, s).expiry.to_rfc3339();
    // SPX monthly, symbol date Saturday 19 March 2011: Friday 18 March 09:30 New York, which is
    // EDT (daylight time started 13 March) = 13:30 UTC.
    assert_eq!(at("SPX1119C1300-E"), "2011-03-18T13:30:00+00:00");
    assert_eq!(at("SPX1119O1300-E"), "2011-03-18T13:30:00+00:00");
    // Saturday 19 February 2011: Friday 18 February 09:30 EST = 14:30 UTC.
    assert_eq!(at("SPX1119B1300-E"), "2011-02-18T14:30:00+00:00");
    // SPXW weekly: Friday 28 January 2011 16:00 EST = 21:00 UTC.
    assert_eq!(at("SPXW1128A1300-E"), "2011-01-28T21:00:00+00:00");
    // SPXPM quarterlies: Thursday 31 March 2011 16:00 EDT, Friday 30 December 2011 16:00 EST.
    assert_eq!(at("SPXPM1131C1300-E"), "2011-03-31T20:00:00+00:00");
    assert_eq!(at("SPXPM1130L1300-E"), "2011-12-30T21:00:00+00:00");
    // All SPX monthlies settle at 09:30, all others at 16:00 New York.
    for q in &c.quotes {
        let ny = q
            .expiry
            .with_timezone(&chrono_tz::America::New_York)
            .format("%a %H:%M")
            .to_string();
        if q.symbol.starts_with("SPX1") {
            assert_eq!(ny, "Fri 09:30", "{}", q.symbol);
        } else {
            assert!(ny.ends_with("16:00"), "{}: {ny}", q.symbol);
        }
    }
}

const PREAMBLE: &str = "SPX (S&P 500 INDEX),1290.59,+7.24,\nJan 24 2011 @ 14:03 ET,\n\
    Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Ask,Vol,Open Int,\n";
const GOOD: &str = "11 Jan 1075.00 (SPXW1128A1075-E),0.0,0.0,215.30,217.00,0,0,11 Jan 1075.00 (SPXW1128M1075-E),0.05,-0.10,0.05,0.10,10,15535,\n";

fn read(text: &str) -> Result<(Vec<Chain>, volfit::quotes::IngestReport), IngestError> {
    read_chains_from_str(text, Path::new("x.csv"), Format::Cboe)
}

#[test]
fn cboe_bad_bid_is_rejected_with_line_and_field() {
    let bad = "11 Jan 1100.00 (SPXW1128A1100-E),0.0,0.0,190.60,191.80,0,0,11 Jan 1100.00 (SPXW1128M1100-E),0.10,-0.10,abc,0.15,688,5448,\n";
    let (chains, report) = read(&format!("{PREAMBLE}{GOOD}{bad}")).unwrap();
    assert_eq!((report.rows, report.quotes), (4, 3));
    assert_eq!(report.rejected.len(), 1);
    let r = &report.rejected[0];
    assert_eq!(r.line, 5);
    assert!(
        r.reason.contains("`Bid`") && r.reason.contains("put side") && r.reason.contains("abc"),
        "{}",
        r.reason
    );
    assert_eq!(chains[0].quotes.len(), 3);
    assert_eq!(chains[0].quotes[2].line, 5);
}

#[test]
fn cboe_side_mismatch_and_bad_descriptions_are_rejected() {
    // A put symbol (month letter M) in the calls column, a call symbol in the puts column.
    let swapped = "11 Jan 1075.00 (SPXW1128M1075-E),0.0,0.0,1,2,0,0,11 Jan 1075.00 (SPXW1128A1075-E),0,0,1,2,0,0,\n";
    // No symbol; a bad symbol; an empty put side.
    let odd = "11 Jan 1075.00,0,0,1,2,0,0,11 Jan 1075.00 (SPXW1128Z1075-E),0,0,1,2,0,0,\n";
    let short = "11 Jan 1075.00 (SPXW1128A1075-E),0,0,1,2,0,0\n";
    let (_, report) = read(&format!("{PREAMBLE}{swapped}{odd}{short}")).unwrap();
    assert_eq!((report.rows, report.quotes), (6, 1));
    let reasons: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 5);
    assert_eq!(reasons[0].0, 4);
    assert!(
        reasons[0].1.contains("`Calls`") && reasons[0].1.contains("put"),
        "{}",
        reasons[0].1
    );
    assert!(
        reasons[1].1.contains("`Puts`") && reasons[1].1.contains("call"),
        "{}",
        reasons[1].1
    );
    assert_eq!((reasons[2].0, reasons[3].0, reasons[4].0), (5, 5, 6));
    assert!(reasons[2].1.contains("`Calls`"), "{}", reasons[2].1);
    assert!(
        reasons[3].1.contains("`Puts`") && reasons[3].1.contains("SPXW1128Z1075-E"),
        "{}",
        reasons[3].1
    );
    assert!(reasons[4].1.contains("`Puts` is empty"), "{}", reasons[4].1);
}

#[test]
fn cboe_expired_option_is_rejected() {
    // A weekly that expired on 21 January, before the 24 January snapshot.
    let old = "11 Jan 1075.00 (SPXW1121A1075-E),0,0,1,2,0,0,11 Jan 1075.00 (SPXW1121M1075-E),0,0,1,2,0,0,\n";
    let (_, report) = read(&format!("{PREAMBLE}{old}")).unwrap();
    assert_eq!(
        (report.rows, report.quotes, report.rejected.len()),
        (2, 0, 2)
    );
    assert!(
        report.rejected[0].reason.contains("before the snapshot"),
        "{}",
        report.rejected[0].reason
    );
}

#[test]
fn cboe_missing_column_is_malformed() {
    let no_ask = "SPX (S&P 500 INDEX),1290.59,+7.24,\nJan 24 2011 @ 14:03 ET,\n\
        Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Vol,Open Int,\n";
    match read(no_ask) {
        Err(IngestError::Malformed { line, column, .. }) => {
            assert_eq!((line, column.as_deref()), (3, Some("Ask")));
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let no_puts = "SPX (S&P 500 INDEX),1290.59,+7.24,\nJan 24 2011 @ 14:03 ET,\nCalls,Last Sale,Net,Bid,Ask,Vol,Open Int,\n";
    match read(no_puts) {
        Err(IngestError::Malformed { line, column, .. }) => {
            assert_eq!((line, column.as_deref()), (3, Some("Puts")));
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn cboe_bad_preamble_is_malformed() {
    for (text, bad_line) in [
        (
            "SPX (S&P 500 INDEX),abc,+7.24,\nJan 24 2011 @ 14:03 ET,\n",
            1,
        ),
        ("SPX (S&P 500 INDEX),1290.59,+7.24,\n24/01/2011 14:03,\n", 2),
        ("SPX (S&P 500 INDEX),1290.59,+7.24,\n", 2),
        (
            "SPX (S&P 500 INDEX),1290.59,+7.24,\nJan 24 2011 @ 14:03 ET,\n",
            3,
        ),
        ("", 1),
    ] {
        match read(text) {
            Err(IngestError::Malformed { line, .. }) => assert_eq!(line, bad_line, "{text:?}"),
            other => panic!("{text:?}: expected Malformed, got {other:?}"),
        }
    }
    // Only a header: no rows, no error.
    let (chains, report) = read(PREAMBLE).unwrap();
    assert_eq!((report.rows, chains[0].quotes.len()), (0, 0));
}
