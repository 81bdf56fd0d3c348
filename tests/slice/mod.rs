//! Slice building: synthetic chains with known answers, and every real chain.

mod ceiling;

use crate::common::shared_data;
use chrono::{Duration, TimeZone, Utc};
use std::path::PathBuf;
use volfit::OptionKind;
use volfit::black::black_price;
use volfit::quotes::{Chain, Format, OptionQuote, Premium, read_chains};
use volfit::slice::{ForwardSource, SliceOptions, Weighting, build_slices};

fn smile(k: f64) -> f64 {
    0.2 - 0.1 * k + 0.3 * k * k
}

/// A quote-currency chain (discounted premiums, no forward column) from a known smile.
fn synthetic_chain(forward: f64, discount: f64, days: i64, premium: Premium) -> Chain {
    let as_of = Utc.with_ymd_and_hms(2025, 3, 3, 15, 0, 0).unwrap();
    let expiry = as_of + Duration::days(days);
    let t = days as f64 / 365.0;
    let mut quotes = Vec::new();
    let mut line = 2;
    for i in -12..=12 {
        let strike = (forward * (0.05 * f64::from(i)).exp()).round();
        let vol = smile((strike / forward).ln());
        for kind in [OptionKind::Call, OptionKind::Put] {
            let undiscounted = black_price(kind, forward, strike, t, vol);
            let (mid, half) = match premium {
                Premium::Coin => (undiscounted / forward, 0.0005),
                _ => (discount * undiscounted, 0.05),
            };
            quotes.push(OptionQuote {
                symbol: format!("X-{strike}-{kind}"),
                expiry,
                strike,
                kind,
                bid: Some(mid - half).filter(|b| *b > 0.0),
                ask: Some(mid + half),
                mark: None,
                bid_iv: None,
                ask_iv: None,
                mark_iv: None,
                forward: (premium == Premium::Coin).then_some(forward),
                discount: None,
                t: None,
                as_of: None,
                spot: None,
                line,
            });
            line += 1;
        }
    }
    Chain {
        underlying: "X".into(),
        as_of: Some(as_of),
        spot: Some(forward * discount),
        premium,
        tick: Some(if premium == Premium::Coin {
            0.0001
        } else {
            0.05
        }),
        format: Format::Csv,
        source: PathBuf::from("synthetic.csv"),
        quotes,
    }
}

#[test]
fn parity_recovers_forward_discount_and_the_smile() {
    let chain = synthetic_chain(105.0, 0.98, 120, Premium::Quote);
    let (slices, report) = build_slices(&chain, &SliceOptions::default());
    assert_eq!(slices.len(), 1);
    let s = &slices[0];
    assert_eq!(s.forward_source(), ForwardSource::Parity);
    // Symmetric spreads: parity on mids is exact up to the mid rounding of nothing.
    assert!((s.forward() - 105.0).abs() < 1e-9, "{}", s.forward());
    assert!((s.discount() - 0.98).abs() < 1e-12, "{}", s.discount());
    assert!((s.t() - 120.0 / 365.0).abs() < 1e-15);
    for p in s.points() {
        assert!(
            (p.mid_iv() - smile(p.k())).abs() < 1e-9,
            "K={}: {} vs {}",
            p.strike(),
            p.mid_iv(),
            smile(p.k())
        );
        assert!(p.bid_iv().unwrap() < p.mid_iv() && p.mid_iv() < p.ask_iv().unwrap());
        assert_eq!(p.kind(), OptionKind::otm(s.forward(), p.strike()));
    }
    let mean_w = s
        .points()
        .iter()
        .map(volfit::slice::SmilePoint::weight)
        .sum::<f64>()
        / s.points().len() as f64;
    assert!((mean_w - 1.0).abs() < 1e-12);
    assert_eq!(
        report.quotes_used + report.itm_side_unused + report.rejected.len(),
        chain.quotes.len()
    );
}

#[test]
fn coin_premiums_are_converted_with_the_forward() {
    let chain = synthetic_chain(60_000.0, 1.0, 30, Premium::Coin);
    let (slices, _) = build_slices(
        &chain,
        &SliceOptions {
            weighting: Weighting::Vega,
            ..SliceOptions::default()
        },
    );
    let s = &slices[0];
    assert_eq!(s.forward_source(), ForwardSource::Input);
    for p in s.points() {
        assert!((p.mid_iv() - smile(p.k())).abs() < 1e-9, "K={}", p.strike());
    }
}

#[test]
fn filters_reject_with_line_and_reason_and_expiries_are_accounted_for() {
    let mut chain = synthetic_chain(105.0, 0.98, 60, Premium::Quote);
    let otm = |q: &OptionQuote| q.kind == OptionKind::otm(105.0, q.strike);
    let lines: Vec<u64> = chain
        .quotes
        .iter()
        .filter(|q| otm(q))
        .map(|q| q.line)
        .take(4)
        .collect();
    for q in &mut chain.quotes {
        if q.line == lines[0] {
            q.bid = None;
        } else if q.line == lines[1] {
            q.bid = Some(q.ask.unwrap() + 0.1); // crossed
        } else if q.line == lines[2] {
            q.bid = q.ask; // locked
        } else if q.line == lines[3] {
            q.bid = Some(0.05); // one tick
        }
    }
    // A second expiry with only three quotes.
    let few = chain.quotes[0].expiry + Duration::days(30);
    for (i, q) in chain
        .quotes
        .clone()
        .into_iter()
        .filter(|q| otm(q))
        .take(3)
        .enumerate()
    {
        chain.quotes.push(OptionQuote {
            expiry: few,
            line: 1000 + i as u64,
            ..q
        });
    }
    let (slices, report) = build_slices(&chain, &SliceOptions::default());
    assert_eq!(slices.len(), 1);
    assert_eq!(report.dropped.len(), 1);
    assert!(
        report.dropped[0].reason.to_string().contains("too few"),
        "{}",
        report.dropped[0].reason
    );
    let reason_of = |line: u64| {
        report
            .rejected
            .iter()
            .find(|r| r.line == line)
            .map(|r| r.reason.clone())
            .unwrap_or_default()
    };
    assert!(reason_of(lines[0]).starts_with("no_bid"));
    assert!(reason_of(lines[1]).starts_with("crossed"));
    assert!(reason_of(lines[2]).starts_with("locked"));
    assert!(reason_of(lines[3]).starts_with("one_tick_bid"));
    // The quotes of the dropped expiry are each listed (as points of a too-small slice or for
    // their own reason).
    for line in 1000..1003 {
        assert!(!reason_of(line).is_empty(), "line {line} unaccounted");
    }
    for line in &lines {
        assert!(
            slices[0].excluded().iter().any(|e| e.line == *line),
            "line {line} not shown as excluded"
        );
    }
    assert_eq!(
        report.quotes_used + report.itm_side_unused + report.rejected.len(),
        chain.quotes.len()
    );
}

/// Every chain file in ../shared/data: every quote and every expiry accounted for, no NaN.
#[test]
fn every_real_chain_builds_slices() {
    let files = [
        "deribit/deribit_options_snapshot_20251230T173115Z.csv",
        "deribit/deribit_options_snapshot_20260215T153420Z.csv",
        "deribit/deribit_options_snapshot_20260415T161504Z.csv",
        "deribit/deribit_api_book_20200521.csv",
        "spx_cboe_2011/SPX-Options-24jan2011.csv",
        "spx_gatheral/spx_optionmetrics_20050915.csv",
        "spx_gatheral/spx_optionmetrics_20110915.csv",
        "spx_gatheral/spx_ivols_20050915.csv",
        "spx_gatheral/spx_ivols_20170424.csv",
        "spx_gatheral/spx_ivols_20170519.csv",
        "spx_gatheral/spx_ivols_20191220.csv",
    ];
    for name in files {
        let (chains, ingest) = read_chains(shared_data(name), Format::Auto).unwrap();
        assert_eq!(ingest.rows, ingest.quotes + ingest.rejected.len());
        for chain in &chains {
            let (slices, report) = build_slices(chain, &SliceOptions::default());
            let expiries: std::collections::BTreeSet<_> =
                chain.quotes.iter().map(|q| q.expiry).collect();
            assert_eq!(
                slices.len() + report.dropped.len(),
                expiries.len(),
                "{name} {}",
                chain.underlying
            );
            assert_eq!(
                report.quotes_used + report.itm_side_unused + report.rejected.len(),
                chain.quotes.len(),
                "{name}"
            );
            assert!(!slices.is_empty(), "{name}");
            for s in &slices {
                assert!(
                    s.t() > 0.0 && s.forward() > 0.0 && s.discount() > 0.0 && s.discount() <= 1.1,
                    "{name}"
                );
                for p in s.points() {
                    assert!(
                        p.mid_iv().is_finite()
                            && p.mid_iv() > 0.0
                            && p.weight().is_finite()
                            && p.weight() > 0.0,
                        "{name} {p:?}"
                    );
                }
            }
            println!(
                "{name} {}: {} quotes → {} slices, {} used, {} ITM side, {} rejected, {} expiries dropped",
                chain.underlying,
                chain.quotes.len(),
                slices.len(),
                report.quotes_used,
                report.itm_side_unused,
                report.rejected.len(),
                report.dropped.len()
            );
        }
    }
}
