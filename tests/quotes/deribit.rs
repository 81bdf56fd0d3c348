use crate::common::shared_data;
use volfit::quotes::{Format, Premium, read_chains};

#[test]
fn deribit_snapshots_read_every_row() {
    for name in [
        "deribit/deribit_options_snapshot_20251230T173115Z.csv",
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_options_snapshot_20260415T161504Z.csv",
    ] {
        let path = shared_data(name);
        let (chains, report) = read_chains(&path, Format::Auto).unwrap();
        assert_eq!(report.format, Format::Deribit);
        assert_eq!(report.rows, report.quotes + report.rejected.len());
        assert!(report.rows > 1000, "{name}: {} rows", report.rows);
        let names: Vec<&str> = chains.iter().map(|c| c.underlying.as_str()).collect();
        assert_eq!(names, ["BTC", "ETH"], "{name}");
        for c in &chains {
            assert_eq!(c.premium, Premium::Coin);
            assert!(c.as_of.is_some());
            assert!(
                c.quotes
                    .iter()
                    .all(|q| q.forward.unwrap() > 0.0 && q.expiry > c.as_of.unwrap())
            );
            assert!(
                c.quotes
                    .iter()
                    .all(|q| q.expiry.format("%H:%M").to_string() == "08:00")
            );
        }
    }
}

/// The API's JSON (`get_book_summary_by_currency` result, `mark_iv` in percent,
/// `underlying_price`, `creation_timestamp` in ms) gives the same quotes as the CSV layout.
#[test]
fn deribit_json_matches_the_csv() {
    let path = shared_data("deribit/deribit_options_snapshot_20251230T173115Z.csv");
    let (csv_chains, _) = read_chains(&path, Format::Deribit).unwrap();
    let btc = &csv_chains[0];
    let rows = crate::common::deribit_json_rows(btc, 40);
    for text in [
        serde_json::to_string(&rows).unwrap(),
        serde_json::json!({"jsonrpc": "2.0", "result": rows}).to_string(),
    ] {
        let (chains, report) = volfit::quotes::read_chains_from_str(
            &text,
            std::path::Path::new("book.json"),
            Format::Auto,
        )
        .unwrap();
        assert_eq!((report.rows, report.quotes), (40, 40));
        let q = &chains[0].quotes;
        for (a, b) in q.iter().zip(&btc.quotes) {
            assert_eq!(
                (a.expiry, a.strike, a.kind, a.bid, a.ask, a.forward),
                (b.expiry, b.strike, b.kind, b.bid, b.ask, b.forward)
            );
            assert!((a.mark_iv.unwrap() - b.mark_iv.unwrap()).abs() < 1e-15);
        }
        assert_eq!(
            chains[0].as_of.unwrap().timestamp_millis(),
            btc.as_of.unwrap().timestamp_millis()
        );
    }
    // A row without an instrument name is rejected, not dropped.
    let bad = r#"[{"underlying_price": 1.0}, {"instrument_name": "BTC-1JAN30-1000-C", "underlying_price": 900}]"#;
    let (_, report) =
        volfit::quotes::read_chains_from_str(bad, std::path::Path::new("b.json"), Format::Deribit)
            .unwrap();
    assert_eq!(
        (report.rows, report.quotes, report.rejected[0].line),
        (2, 1, 1)
    );
    assert!(report.rejected[0].reason.contains("instrument_name"));
}
