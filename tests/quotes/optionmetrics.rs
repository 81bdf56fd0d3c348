use crate::common::shared_data;
use std::path::Path;
use volfit::OptionKind;
use volfit::quotes::{
    Chain, Format, IngestError, IngestReport, OptionQuote, Premium, read_chains,
    read_chains_from_str,
};

fn read_file(name: &str) -> (Chain, IngestReport) {
    let (mut chains, report) = read_chains(shared_data(name), Format::Auto).unwrap();
    assert_eq!(report.format, Format::Optionmetrics);
    assert_eq!(report.rows, report.quotes + report.rejected.len());
    assert_eq!(chains.len(), 1, "{name}");
    (chains.pop().unwrap(), report)
}

fn find<'a>(chain: &'a Chain, symbol: &str) -> &'a OptionQuote {
    chain
        .quotes
        .iter()
        .find(|q| q.symbol == symbol)
        .unwrap_or_else(|| panic!("no {symbol}"))
}

#[test]
fn optionmetrics_2005_reads_every_row() {
    let (c, report) = read_file("spx_gatheral/spx_optionmetrics_20050915.csv");
    assert_eq!(
        (report.rows, report.quotes),
        (626, 626),
        "{:?}",
        report.rejected
    );
    assert_eq!(c.underlying, "SPX");
    assert_eq!(
        (c.premium, c.tick, c.format, c.spot),
        (Premium::Quote, Some(0.05), Format::Optionmetrics, None)
    );
    // End of day: 16:00 EDT = 20:00 UTC.
    assert_eq!(c.as_of.unwrap().to_rfc3339(), "2005-09-15T20:00:00+00:00");
    // Line 2: SPB.FT, strike_price 1600000, best_bid 0, exdate Saturday 2006-06-17.
    let q = find(&c, "SPB.FT");
    assert_eq!(
        (q.strike, q.kind, q.bid, q.ask, q.line),
        (1600.0, OptionKind::Call, None, Some(0.5), 2)
    );
    assert_eq!(q.expiry.to_rfc3339(), "2006-06-16T13:30:00+00:00");
    // Line 6: strike_price 700000 → 700.
    let q = find(&c, "SPL.FA");
    assert_eq!(
        (q.strike, q.bid, q.ask, q.line),
        (700.0, Some(538.3), Some(541.3), 6)
    );
    assert!(
        c.quotes
            .iter()
            .all(|q| (100.0..=2000.0).contains(&q.strike))
    );
    assert!(
        c.quotes
            .iter()
            .all(|q| q.forward.is_none() && q.discount.is_none() && q.t.is_none())
    );
    assert!(c.quotes.iter().all(|q| q.expiry > c.as_of.unwrap()));
}

#[test]
fn optionmetrics_2011_reads_every_row() {
    let (c, report) = read_file("spx_gatheral/spx_optionmetrics_20110915.csv");
    assert_eq!(
        (report.rows, report.quotes),
        (2352, 2352),
        "{:?}",
        report.rejected
    );
    assert_eq!(c.underlying, "SPX");
    assert_eq!(c.as_of.unwrap().to_rfc3339(), "2011-09-15T20:00:00+00:00");
    assert_eq!(
        c.quotes
            .iter()
            .filter(|q| q.kind == OptionKind::Put)
            .count(),
        1176
    );
    // Monthly, exdate Saturday 17 September: Friday 16 September 09:30 EDT.
    let q = find(&c, "SPX 110917C1200000");
    assert_eq!(
        (q.strike, q.kind, q.bid, q.ask, q.line),
        (1200.0, OptionKind::Call, Some(11.4), Some(12.2), 43)
    );
    assert_eq!(q.expiry.to_rfc3339(), "2011-09-16T13:30:00+00:00");
    // Saturday 22 October: Friday 21 October 09:30 EDT.
    let q = find(&c, "SPX 111022P1000000");
    assert_eq!((q.strike, q.kind), (1000.0, OptionKind::Put));
    assert_eq!(q.expiry.to_rfc3339(), "2011-10-21T13:30:00+00:00");
    // The file flags the Friday SPXW weekly and SPXQ quarterly as AM-settled too; their roots
    // are PM-settled products: 16:00 New York (20:00 UTC in September).
    assert_eq!(
        find(&c, "SPXW 110923P1150000").expiry.to_rfc3339(),
        "2011-09-23T20:00:00+00:00"
    );
    assert_eq!(
        find(&c, "SPXQ 110930C1200000").expiry.to_rfc3339(),
        "2011-09-30T20:00:00+00:00"
    );
    // December: EST.
    assert!(
        c.quotes
            .iter()
            .filter(|q| q.symbol.starts_with("SPX 111217"))
            .all(|q| q.expiry.to_rfc3339() == "2011-12-16T14:30:00+00:00")
    );
}

const HEADER: &str = "secid,date,symbol,symbol_flag,exdate,last_date,cp_flag,strike_price,best_bid,best_offer,volume,open_interest,optionid,cfadj,ss_flag,root,suffix,ticker,index_flag,issuer,div_convention,exercise_style,am_set_flag\n";

fn read(text: &str) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    read_chains_from_str(text, Path::new("x.csv"), Format::Optionmetrics)
}

/// A data row from `[date, exdate, cp_flag, strike_price, best_bid, best_offer, ticker, am_set_flag]`.
fn row([date, exdate, cp, strike, bid, ask, ticker, am]: [&str; 8]) -> String {
    format!(
        "108105,{date},SYM,1,{exdate},,{cp},{strike},{bid},{ask},0,0,1,1,0,,,{ticker},1,X,I,E,{am}\n"
    )
}

#[test]
fn optionmetrics_bad_rows_are_rejected_with_the_field() {
    let text = [
        HEADER.to_string(),
        row([
            "20110915", "20110917", "C", "1200000", "11.4", "12.2", "SPX", "1",
        ]), // line 2: good
        row([
            "20110915", "20110917", "C", "1200000", "x", "12.2", "SPX", "1",
        ]), // 3: best_bid
        row([
            "20110915",
            "2011-13-45",
            "C",
            "1200000",
            "1",
            "2",
            "SPX",
            "1",
        ]), // 4: exdate
        row(["20110915", "20110910", "C", "1200000", "1", "2", "SPX", "1"]), // 5: exdate < date
        row(["20110915", "20110917", "X", "1200000", "1", "2", "SPX", "1"]), // 6: cp_flag
        row(["20110915", "20110917", "P", "abc", "1", "2", "SPX", "1"]),     // 7: strike_price
        row(["20110915", "20110917", "P", "1200000", "1", "2", "SPX", "2"]), // 8: am_set_flag
        row(["2011091", "20110917", "P", "1200000", "1", "2", "SPX", "1"]),  // 9: date
        row(["20110916", "20110917", "P", "1200000", "1", "2", "SPX", "1"]), // 10: another day
        row(["20110915", "20110917", "P", "1200000", "1", "2", "SPX", "0"]), // 11: good, PM
    ]
    .concat();
    // The same lines with CRLF line ends (as Windows exports have) give the same line numbers.
    let (_, crlf) = read(&text.replace('\n', "\r\n")).unwrap();
    let (chains, report) = read(&text).unwrap();
    assert_eq!(crlf.rejected, report.rejected);
    assert_eq!((report.rows, report.quotes), (10, 2));
    let got: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    let want = [
        (3, "`best_bid`"),
        (4, "`exdate`"),
        (5, "`exdate`"),
        (6, "`cp_flag`"),
        (7, "`strike_price`"),
        (8, "`am_set_flag`"),
        (9, "`date`"),
        (10, "`date`"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((line, reason), (want_line, field)) in got.iter().zip(want) {
        assert_eq!(*line, want_line);
        assert!(reason.contains(field), "line {line}: {reason}");
    }
    let q = &chains[0].quotes;
    assert_eq!(
        (q[0].line, q[0].expiry.to_rfc3339().as_str()),
        (2, "2011-09-16T13:30:00+00:00")
    );
    // am_set_flag 0: 16:00 New York on the (Saturday) exdate.
    assert_eq!(
        (q[1].line, q[1].expiry.to_rfc3339().as_str()),
        (11, "2011-09-17T20:00:00+00:00")
    );
}

#[test]
fn optionmetrics_tickers_make_chains() {
    let text = [
        HEADER.to_string(),
        row([
            "20110915", "20110917", "C", "1200000", "0", "12.2", "SPX", "1",
        ]),
        row(["20110915", "20110917", "C", "50000", "1", "2", "NDX", ""]),
        row(["20110915", "20110917", "P", "50000", "1", "2", "", ""]),
    ]
    .concat();
    let (chains, report) = read(&text).unwrap();
    // A file with a `ticker` column must name the underlying on every row: the third row
    // would otherwise start a one-row chain of its own, far from its line.
    assert_eq!((report.rows, report.quotes), (3, 2));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 4);
    assert!(
        report.rejected[0]
            .reason
            .contains("field `ticker` is empty"),
        "{}",
        report.rejected[0].reason
    );
    let names: Vec<&str> = chains.iter().map(|c| c.underlying.as_str()).collect();
    assert_eq!(names, ["NDX", "SPX"]);
    assert_eq!(
        (chains[1].quotes[0].strike, chains[1].quotes[0].bid),
        (1200.0, None)
    );
    assert_eq!(chains[0].quotes[0].strike, 50.0);
    // No am_set_flag: PM-settled.
    assert_eq!(
        chains[0].quotes[0].expiry.to_rfc3339(),
        "2011-09-17T20:00:00+00:00"
    );
}

#[test]
fn optionmetrics_missing_column_is_malformed() {
    let text = "secid,date,symbol,exdate,cp_flag,strike_price,best_offer\n108105,20110915,S,20110917,C,1200000,1\n";
    match read(text) {
        Err(IngestError::Malformed { line, column, .. }) => {
            assert_eq!((line, column.as_deref()), (1, Some("best_bid")));
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}
