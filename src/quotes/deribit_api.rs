//! Deribit `public/get_order_book` results saved one option per row, with the API's field names
//! as columns (a collector's pandas dump: the first column is an unnamed row index).
//!
//! | column | use |
//! |---|---|
//! | `instrument_name` (required) | symbol; currency (the chain's underlying) from its prefix; expiry, strike and kind where their columns are absent or empty |
//! | `expiration_timestamp` | expiry, ms since the epoch (08:00 UTC) |
//! | `option_type` | `call`/`put` |
//! | `strike` | strike (USD) |
//! | `underlying_price` (required) | the forward of the expiry (a future or a synthetic `SYN.` forward) |
//! | `best_bid_price`, `best_ask_price` (required) | bid/ask premiums in coin; 0 means no quote |
//! | `mark_price` | Deribit's mark (coin); 0 is read as none |
//! | `bid_iv`, `ask_iv`, `mark_iv` | implied vols **in percent**, stored as decimals (85.05 → 0.8505) |
//! | `timestamp` | ms since the epoch; the chain's `as_of` is the latest of the rows that agree ([`super::consensus`]) |
//! | `index_price` | the chain's spot: the index on the latest agreeing row |
//!
//! Every other column (`stats`, `greeks`, `bids`, `asks` — Python-literal strings, not JSON —
//! `state`, `open_interest`, …) is ignored.
//!
//! Conventions:
//! - Premiums are in coin (inverse options); the chain's tick is [`deribit::TICK`](super::deribit::TICK).
//! - A side has no implied vol when it has no quote, or when Deribit reports none: `bid_iv` is 0
//!   (also on bids below intrinsic value) and `ask_iv` is capped at 500 (an ask too dear to
//!   imply). An IV of 0 or ≥ 500 % is therefore stored as `None`.
//! - The discount factor is 1: Deribit quotes against the forward with a zero rate, and the
//!   `interest_rate` column (0 in every file seen) is ignored.
//! - Rows are read as they are: a snapshot taken over a few minutes has forwards and index levels
//!   that move a little between rows of one expiry.

use super::deribit::{TICK, agrees_with_name, parse_instrument};
use super::util::{
    Columns, CsvLines, cell, csv_reader, excerpt, next_record, nonneg, num, opt_num,
};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;

/// Deribit reports an ask implied vol it cannot compute as 500 (percent).
const IV_CAP: f64 = 500.0;

/// Reads a file of `get_order_book` rows.
pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let mut rdr = csv_reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| IngestError::malformed(path, 1, None, format!("cannot read the header: {e}")))?
        .clone();
    let cols = Columns::new(&header);
    let c_name = cols.require(path, 1, "instrument_name")?;
    let c_fwd = cols.require(path, 1, "underlying_price")?;
    let c_bid = cols.require(path, 1, "best_bid_price")?;
    let c_ask = cols.require(path, 1, "best_ask_price")?;
    let c_expiry = cols.find("expiration_timestamp");
    let c_type = cols.find("option_type");
    let c_strike = cols.find("strike");
    let c_ts = cols.find("timestamp");
    let c_mark = cols.find("mark_price");
    let c_mark_iv = cols.find("mark_iv");
    let c_bid_iv = cols.find("bid_iv");
    let c_ask_iv = cols.find("ask_iv");
    let c_index = cols.find("index_price");

    let mut report = IngestReport::new(path, Format::DeribitApi);
    // Per currency, its quotes; the chain's time and index level are the rows' consensus
    // (`super::consensus`).
    let mut by_currency: BTreeMap<String, Vec<OptionQuote>> = BTreeMap::new();
    let mut lines = CsvLines::new(text);
    let mut rec = csv::StringRecord::new();
    while next_record(&mut rdr, &mut rec, path, text)? {
        let line = lines.of(&rec);
        report.rows += 1;
        let row = || -> Result<(String, OptionQuote), String> {
            let name = cell(&rec, c_name);
            let instrument = parse_instrument(name).ok_or_else(|| {
                format!(
                    "field `instrument_name` is not a Deribit option: {}",
                    excerpt(name)
                )
            })?;
            let strike = match c_strike.filter(|&c| !cell(&rec, c).is_empty()) {
                Some(c) => num(&rec, c, "strike")?,
                None => instrument.2,
            };
            let kind = match c_type.map(|c| cell(&rec, c)) {
                Some("") | None => instrument.3,
                Some(k) => k.parse().map_err(|e| format!("field `option_type`: {e}"))?,
            };
            let expiry = millis(&rec, c_expiry, "expiration_timestamp")?.unwrap_or(instrument.1);
            let currency = instrument.0.clone();
            agrees_with_name(&instrument, strike, kind, expiry, &currency)?;
            let forward = num(&rec, c_fwd, "underlying_price")?;
            if forward <= 0.0 {
                return Err(format!(
                    "field `underlying_price` is not positive: {forward}"
                ));
            }
            if strike <= 0.0 {
                return Err(format!("field `strike` is not positive: {strike}"));
            }
            let bid = nonneg(
                opt_num(&rec, Some(c_bid), "best_bid_price")?,
                "best_bid_price",
            )?;
            let ask = nonneg(
                opt_num(&rec, Some(c_ask), "best_ask_price")?,
                "best_ask_price",
            )?;
            let quote = OptionQuote {
                symbol: name.to_string(),
                expiry,
                strike,
                kind,
                bid,
                ask,
                mark: nonneg(opt_num(&rec, c_mark, "mark_price")?, "mark_price")?,
                bid_iv: percent_iv(&rec, c_bid_iv, "bid_iv")?.filter(|_| bid.is_some()),
                ask_iv: percent_iv(&rec, c_ask_iv, "ask_iv")?.filter(|_| ask.is_some()),
                mark_iv: percent_iv(&rec, c_mark_iv, "mark_iv")?,
                forward: Some(forward),
                discount: Some(1.0),
                t: None,
                as_of: millis(&rec, c_ts, "timestamp")?,
                spot: opt_num(&rec, c_index, "index_price")?.filter(|&s| s > 0.0),
                line,
            };
            Ok((currency, quote))
        };
        match row() {
            Ok((currency, quote)) => {
                report.quotes += 1;
                by_currency.entry(currency).or_default().push(quote);
            }
            Err(reason) => report.reject(line, reason),
        }
    }
    let chains = by_currency
        .into_iter()
        .map(|(underlying, quotes)| Chain {
            underlying,
            as_of: None,
            spot: None,
            premium: Premium::Coin,
            tick: Some(TICK),
            format: Format::DeribitApi,
            source: path.to_path_buf(),
            quotes,
        })
        .collect();
    Ok((chains, report))
}

/// An optional time in milliseconds since the epoch.
fn millis(
    rec: &csv::StringRecord,
    col: Option<usize>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, String> {
    let Some(ms) = opt_num(rec, col, name)? else {
        return Ok(None);
    };
    DateTime::from_timestamp_millis(ms.round() as i64)
        .map(Some)
        .ok_or_else(|| format!("field `{name}` is not a time in ms since the epoch: {ms}"))
}

/// An optional implied vol in percent, as a decimal; `None` where Deribit has none (0, or the
/// 500 % cap).
fn percent_iv(
    rec: &csv::StringRecord,
    col: Option<usize>,
    name: &str,
) -> Result<Option<f64>, String> {
    let v = opt_num(rec, col, name)?;
    if let Some(v) = v
        && v < 0.0
    {
        return Err(format!("field `{name}` is negative: {v}"));
    }
    Ok(v.filter(|&v| v > 0.0 && v < IV_CAP).map(|v| v / 100.0))
}
