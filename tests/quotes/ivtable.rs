use crate::common::shared_data;
use volfit::quotes::{Format, Premium, read_chain};
use volfit::slice::{SliceOptions, build_slices};

#[test]
fn iv_tables_read_every_row_and_build_slices() {
    for (name, rows, expiries) in [
        ("spx_gatheral/spx_ivols_20050915.csv", 313, 8),
        ("spx_gatheral/spx_ivols_20170424.csv", 2921, 0),
        ("spx_gatheral/spx_ivols_20170519.csv", 0, 0),
        ("spx_gatheral/spx_ivols_20191220.csv", 0, 0),
    ] {
        let (chain, report) = read_chain(shared_data(name), Format::Auto).unwrap();
        assert_eq!(report.format, Format::Ivtable, "{name}");
        assert_eq!(report.rows, report.quotes + report.rejected.len());
        if rows > 0 {
            assert_eq!(report.rows, rows, "{name}");
        }
        assert_eq!(chain.underlying, "SPX");
        assert_eq!(chain.premium, Premium::ImpliedVol);
        assert!(chain.as_of.is_some(), "{name}: date from the file name");
        // OTM convention: puts at and below the forward.
        for q in &chain.quotes {
            assert_eq!(
                q.kind == volfit::OptionKind::Put,
                q.strike <= q.forward.unwrap()
            );
            assert!(q.t.unwrap() > 0.0);
        }
        let (slices, srep) = build_slices(&chain, &SliceOptions::default());
        if expiries > 0 {
            assert_eq!(slices.len() + srep.dropped.len(), expiries, "{name}");
        }
        assert!(!slices.is_empty());
        let n_expiries = chain
            .quotes
            .iter()
            .map(|q| q.expiry)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        assert_eq!(
            slices.len() + srep.dropped.len(),
            n_expiries,
            "{name}: every expiry accounted for"
        );
        assert_eq!(
            srep.quotes_used + srep.rejected.len() + srep.itm_side_unused,
            chain.quotes.len(),
            "{name}: every quote accounted for"
        );
        for s in &slices {
            assert!(s.points().iter().all(|p| p.mid_iv() > 0.0
                && p.weight() > 0.0
                && p.bid_iv().unwrap() < p.ask_iv().unwrap()));
        }
    }
}

#[test]
fn discount_factor_column_is_read() {
    let (chain, _) = read_chain(
        shared_data("spx_gatheral/spx_ivols_20170424.csv"),
        Format::Ivtable,
    )
    .unwrap();
    let q = &chain.quotes[0];
    assert!((q.discount.unwrap() - 0.998).abs() < 1e-12);
    assert!((q.forward.unwrap() - 2387.86740146961).abs() < 1e-9);
    assert_eq!(q.expiry.date_naive().to_string(), "2017-04-26");
}
