//! Bid/ask implied-volatility tables: `Expiry, Texp, Strike, Bid, Ask, Fwd[, CallMid][, PV]`
//! (the layout of Gatheral's SPX course data, `spx_ivols_*.csv`).
//!
//! * `Bid`, `Ask`: Black implied vols (decimals) of the out-of-the-money option — a put for
//!   `K ≤ Fwd`, a call above. An empty `Bid` means the bid price was zero (no bid).
//! * `Texp`: time to expiry in years as the table computed it (it is used as given).
//! * `Fwd`: the forward of the expiry; `PV`, where present, its discount factor.
//! * `Expiry`: `yyyymmdd` or `m/d/yy`; the expiry instant is taken as 16:00 New York that day
//!   (only `Texp` enters the numbers).
//! * A leading unnamed or `X` column (a row index) is ignored.
//!
//! The table names neither the underlying nor the snapshot date: the underlying is the first
//! `_`-separated token of the file name in upper case (`spx_ivols_20170424.csv` → `SPX`) and the
//! snapshot date the first 8-digit token that is a date (16:00 New York), if any.

use super::util::{
    Columns, CsvLines, Memo, cell, csv_reader, excerpt, new_york, next_record, num, opt_num,
    parse_date,
};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use crate::black::OptionKind;
use chrono::{DateTime, Utc};
use std::path::Path;

/// Underlying and snapshot time from a file name such as `spx_ivols_20170424.csv`.
fn from_file_name(path: &Path) -> (String, Option<DateTime<Utc>>) {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let underlying = stem
        .split('_')
        .next()
        .filter(|s| !s.is_empty())
        .map_or_else(|| "UNDERLYING".to_string(), str::to_ascii_uppercase);
    let as_of = stem
        .split(['_', '-', '.'])
        .filter(|t| t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()))
        .find_map(parse_date)
        .and_then(|d| new_york(d, 16, 0));
    (underlying, as_of)
}

pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let mut rdr = csv_reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| IngestError::malformed(path, 1, None, format!("cannot read the header: {e}")))?
        .clone();
    let cols = Columns::new(&header);
    let c_exp = cols.require(path, 1, "expiry")?;
    let c_t = cols.require(path, 1, "texp")?;
    let c_k = cols.require(path, 1, "strike")?;
    let c_bid = cols.require(path, 1, "bid")?;
    let c_ask = cols.require(path, 1, "ask")?;
    let c_fwd = cols.require(path, 1, "fwd")?;
    let c_pv = cols.find("pv");

    let (underlying, as_of) = from_file_name(path);
    let mut report = IngestReport::new(path, Format::Ivtable);
    let mut quotes = Vec::new();
    let mut lines = CsvLines::new(text);
    let mut expiries = Memo::new();
    let mut rec = csv::StringRecord::new();
    while next_record(&mut rdr, &mut rec, path, text)? {
        let line = lines.of(&rec);
        report.rows += 1;
        let mut row = || -> Result<OptionQuote, String> {
            let raw = cell(&rec, c_exp);
            let expiry = expiries
                .get(raw, |r| parse_date(r).and_then(|d| new_york(d, 16, 0)))
                .ok_or_else(|| format!("field `Expiry` is not a date: {}", excerpt(raw)))?;
            let t = num(&rec, c_t, "Texp")?;
            let strike = num(&rec, c_k, "Strike")?;
            let forward = num(&rec, c_fwd, "Fwd")?;
            if t <= 0.0 || strike <= 0.0 || forward <= 0.0 {
                return Err(format!(
                    "non-positive `Texp` {t}, `Strike` {strike} or `Fwd` {forward}"
                ));
            }
            let bid_iv = opt_num(&rec, Some(c_bid), "Bid")?.filter(|v| *v > 0.0);
            let ask_iv = opt_num(&rec, Some(c_ask), "Ask")?.filter(|v| *v > 0.0);
            if bid_iv.is_none() && ask_iv.is_none() {
                return Err("neither `Bid` nor `Ask` holds a volatility".into());
            }
            let kind = if strike <= forward {
                OptionKind::Put
            } else {
                OptionKind::Call
            };
            Ok(OptionQuote {
                symbol: format!("{underlying} {raw} {} {kind}", cell(&rec, c_k)),
                expiry,
                strike,
                kind,
                bid: None,
                ask: None,
                mark: None,
                bid_iv,
                ask_iv,
                mark_iv: None,
                forward: Some(forward),
                discount: opt_num(&rec, c_pv, "PV")?,
                t: Some(t),
                as_of: None,
                spot: None,
                line,
            })
        };
        match row() {
            Ok(q) => {
                report.quotes += 1;
                quotes.push(q);
            }
            Err(reason) => report.reject(line, reason),
        }
    }
    let chain = Chain {
        underlying,
        as_of,
        spot: None,
        premium: Premium::ImpliedVol,
        tick: None,
        format: Format::Ivtable,
        source: path.to_path_buf(),
        quotes,
    };
    Ok((
        if chain.quotes.is_empty() {
            Vec::new()
        } else {
            vec![chain]
        },
        report,
    ))
}
