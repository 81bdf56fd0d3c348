use std::path::Path;
use volfit::OptionKind;
use volfit::quotes::{Format, IngestError, IngestReport, Premium, read_chains_from_str};

fn read(text: &str) -> Result<(Vec<volfit::Chain>, IngestReport), IngestError> {
    read_chains_from_str(text, Path::new("x.csv"), Format::Csv)
}

#[test]
fn generic_round_trips_values() {
    let text = "Underlying,Symbol,Expiry,Expiry_Time,Strike,Kind,Bid,Ask,Mark,Bid_IV,Ask_IV,IV,Forward,Discount,T,As_Of,Spot,Extra\n\
                SPX,SPXW260320C06000,2026-03-20,20:00,6000,call,101.5,103.0,102.2,0.18,0.185,0.182,6012.5,0.995,0.25,2026-01-02T20:30:00Z,6001.0,x\n\
                SPX,,20260320,,5900,P,88,89.5,,,,,6012.5,0.995,,2026-01-02T15:31:00-05:00,,y\n\
                SPX,,2026-03-20T20:15:00Z,09:00,5800,put,0,70.5,,,,,,,,2026-01-02T20:00,,z\n";
    let (chains, report) = read(text).unwrap();
    assert_eq!(report.format, Format::Csv);
    assert_eq!(
        (report.rows, report.quotes),
        (3, 3),
        "{:?}",
        report.rejected
    );
    assert_eq!(chains.len(), 1);
    let c = &chains[0];
    assert_eq!(
        (c.underlying.as_str(), c.premium, c.tick, c.format),
        ("SPX", Premium::Quote, None, Format::Csv)
    );
    // The latest as_of of the rows (which agree within an hour): 15:31 New York time is
    // 20:31 UTC; a datetime without offset is UTC.
    assert_eq!(c.as_of.unwrap().to_rfc3339(), "2026-01-02T20:31:00+00:00");
    assert_eq!(c.spot, Some(6001.0));

    let a = &c.quotes[0];
    assert_eq!(a.symbol, "SPXW260320C06000");
    assert_eq!(a.expiry.to_rfc3339(), "2026-03-20T20:00:00+00:00");
    assert_eq!((a.strike, a.kind), (6000.0, OptionKind::Call));
    assert_eq!(
        (a.bid, a.ask, a.mark),
        (Some(101.5), Some(103.0), Some(102.2))
    );
    assert_eq!(
        (a.bid_iv, a.ask_iv, a.mark_iv),
        (Some(0.18), Some(0.185), Some(0.182))
    );
    assert_eq!(
        (a.forward, a.discount, a.t),
        (Some(6012.5), Some(0.995), Some(0.25))
    );
    assert_eq!(a.line, 2);

    // A bare date without expiry_time expires at 16:00 UTC; no symbol gives a made-up one.
    let b = &c.quotes[1];
    assert_eq!(b.expiry.to_rfc3339(), "2026-03-20T16:00:00+00:00");
    assert_eq!(b.symbol, "SPX-20260320-5900-P");
    assert_eq!(
        (b.kind, b.mark, b.bid_iv, b.t),
        (OptionKind::Put, None, None, None)
    );

    // A datetime expiry ignores expiry_time; a zero bid is no bid.
    let d = &c.quotes[2];
    assert_eq!(d.expiry.to_rfc3339(), "2026-03-20T20:15:00+00:00");
    assert_eq!((d.bid, d.ask, d.forward), (None, Some(70.5), None));
    assert_eq!(d.line, 4);
}

#[test]
fn generic_two_underlyings_give_two_chains() {
    let text = "expiry,strike,kind,bid,ask,underlying,premium_unit\n\
                2026-03-27,100000,c,0.05,0.055,BTC,coin\n\
                2026-03-27,6000,p,10,11,SPX,\n\
                2026-03-27,90000,p,0.02,0.021,BTC,\n\
                2026-03-27,6100,c,12,13,,\n";
    let (chains, report) = read(text).unwrap();
    assert_eq!(
        (report.rows, report.quotes),
        (4, 4),
        "{:?}",
        report.rejected
    );
    let names: Vec<&str> = chains.iter().map(|c| c.underlying.as_str()).collect();
    assert_eq!(names, ["BTC", "SPX", "UNDERLYING"]);
    assert_eq!(chains[0].premium, Premium::Coin);
    assert_eq!(chains[0].quotes.len(), 2);
    assert_eq!(chains[1].premium, Premium::Quote);
    assert_eq!(chains[2].quotes[0].strike, 6100.0);
}

#[test]
fn generic_bad_rows_are_rejected_with_line_and_field() {
    let text = "expiry,strike,kind,bid,ask,forward,iv,premium_unit,symbol\n\
                2026-03-27,abc,call,1,2,100,,,\n\
                2026-03-27,100,call,1,2,100,,,\n\
                2026-13-45,100,call,1,2,100,,,\n\
                2026-03-27,100,straddle,1,2,100,,,\n\
                2026-03-27,100,put,,0,100,,,\n\
                2026-03-27,100,put,1,2,-5,,,\n\
                2026-03-27,-100,put,1,2,100,,,\n\
                2026-03-27,100,put,1,x,100,,,\n\
                2026-03-27,100,put,1,2,100,-0.2,,\n\
                2026-03-27,100,put,1,2,100,,quote,\n\
                2026-03-27,100,put,1,2,100,,coin,\n\
                2026-03-27,100,put,1,2,100,,dollars,\n\
                2026-03-27,100,put,1,2,100,,,\"two\nlines\"\n\
                2026-03-27,,put,1,2,100,,,\n";
    let (chains, report) = read(text).unwrap();
    // No chain field spans lines: the quote opened on line 14 is rejected with its line, and
    // line 15 (which closes it) too; each counts as a row.
    assert_eq!(report.rows, 15);
    assert_eq!(report.rows, report.quotes + report.rejected.len());
    let got: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    let expect: [(u64, &str); 13] = [
        (2, "`strike`"),
        (4, "`expiry`"),
        (5, "`kind`"),
        (6, "no price or vol on the row"),
        (7, "`forward`"),
        (8, "`strike`"),
        (9, "`ask`"),
        (10, "`iv`"),
        (12, "`premium_unit`"),
        (13, "`premium_unit`"),
        (14, "field `symbol` opens a quote"),
        (15, "field `expiry` opens a quote"),
        (16, "`strike`"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for ((line, reason), (want_line, want)) in got.iter().zip(expect) {
        assert_eq!(*line, want_line, "{got:?}");
        assert!(reason.contains(want), "line {line}: {reason}");
    }
    // Line 11 stated `quote` first, so line 12's `coin` is the odd one out.
    assert_eq!(chains[0].premium, Premium::Quote);
    let lines: Vec<u64> = chains[0].quotes.iter().map(|q| q.line).collect();
    assert_eq!(lines, [3, 11]);
}

#[test]
fn generic_missing_required_column_is_malformed() {
    for (header, missing) in [
        ("expiry,strike,bid,ask", "kind"),
        ("strike,kind,bid,ask", "expiry"),
        ("expiry,kind,bid_iv,ask_iv", "strike"),
        ("expiry,strike,kind,bid", "ask"),
        ("expiry,strike,kind,ask_iv", "bid_iv"),
        ("expiry,strike,kind,mark", "bid"),
    ] {
        let text = format!("{header}\n2026-03-27,1,2,3\n");
        match read(&text) {
            Err(IngestError::Malformed {
                line: 1,
                column: Some(c),
                ..
            }) => assert_eq!(c, missing, "{header}"),
            other => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn generic_iv_only_file_is_implied_vol() {
    let text = "EXPIRY,STRIKE,KIND,BID_IV,ASK_IV,FORWARD,T\n\
                2026-03-27,95,put,0.21,0.23,100,0.5\n\
                2026-03-27,105,call,,0.19,100,0.5\n";
    let (chains, report) = read(text).unwrap();
    assert_eq!((report.rows, report.quotes), (2, 2));
    assert_eq!(chains[0].premium, Premium::ImpliedVol);
    assert_eq!(chains[0].quotes[1].bid_iv, None);
    assert_eq!(chains[0].quotes[1].ask_iv, Some(0.19));

    let (chains, _) = read("expiry,strike,kind,iv\n2026-03-27,100,c,0.2\n").unwrap();
    assert_eq!(chains[0].premium, Premium::ImpliedVol);
    assert_eq!(chains[0].quotes[0].mark_iv, Some(0.2));
}

#[test]
fn generic_header_is_sniffed() {
    assert_eq!(
        Format::sniff("underlying,expiry,strike,kind,bid,ask"),
        Some(Format::Csv)
    );
    assert_eq!(
        Format::sniff("Expiry,Strike,Kind,Bid_IV,Ask_IV"),
        Some(Format::Csv)
    );
    let (_, report) = read_chains_from_str(
        "expiry,strike,kind,bid,ask\n2026-03-27,100,c,1,2\n",
        Path::new("x.csv"),
        Format::Auto,
    )
    .unwrap();
    assert_eq!(report.format, Format::Csv);
}
