//! Property tests of the readers: arbitrary input never panics, and whatever is read is
//! accounted for row by row.

use proptest::prelude::*;
use std::path::Path;
use volfit::quotes::{Format, read_chains_from_str};

const FORMATS: [Format; 7] = [
    Format::Auto,
    Format::Deribit,
    Format::DeribitApi,
    Format::Cboe,
    Format::Optionmetrics,
    Format::Ivtable,
    Format::Csv,
];

const HEADERS: [&str; 6] = [
    "timestamp,instrument_name,underlying,option_type,strike,expiry_datetime,bid_price,ask_price,mark_price,implied_volatility,currency",
    ",expiration_timestamp,option_type,instrument_name,strike,underlying_price,timestamp,mark_price,mark_iv,best_bid_price,best_ask_price,bid_iv,ask_iv",
    "secid,date,symbol,exdate,cp_flag,strike_price,best_bid,best_offer,ticker,am_set_flag",
    "Expiry,Texp,Strike,Bid,Ask,Fwd",
    "expiry,strike,kind,bid,ask,forward",
    "SPX (S&P 500 INDEX),1290.59,+7.24,\nJan 24 2011 @ 14:03 ET,\nCalls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Ask,Vol,Open Int,",
];

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "-?[0-9]{1,6}(\\.[0-9]{0,4})?".prop_map(|s| s),
        Just("BTC-16JAN26-82000-C".to_string()),
        Just("2026-01-16T08:00:00+00:00".to_string()),
        Just("20050917".to_string()),
        Just("call".to_string()),
        Just("P".to_string()),
        Just("11 Jan 1075.00 (SPXW1128A1075-E)".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
        Just("\"a,\nb\"".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn readers_never_panic_and_account_for_every_row(
        header in 0..HEADERS.len(),
        rows in prop::collection::vec(prop::collection::vec(cell(), 0..16), 0..8),
        format in 0..FORMATS.len(),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = HEADERS[header].replace('\n', nl);
        for r in &rows {
            text.push_str(nl);
            text.push_str(&r.join(","));
        }
        if let Ok((chains, report)) = read_chains_from_str(&text, Path::new("fuzz.csv"), FORMATS[format]) {
            prop_assert_eq!(report.rows, report.quotes + report.rejected.len());
            prop_assert_eq!(report.quotes, chains.iter().map(|c| c.quotes.len()).sum::<usize>());
            for c in &chains {
                for q in &c.quotes {
                    prop_assert!(q.strike.is_finite() && q.strike > 0.0);
                    prop_assert!(q.line >= 1);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(text in "\\PC{0,400}", format in 0..FORMATS.len()) {
        let _ = read_chains_from_str(&text, Path::new("junk"), FORMATS[format]);
    }
}
