//! Deribit `public/get_book_summary_by_currency`: the CSV snapshot layout
//! (`timestamp, instrument_name, underlying, option_type, strike, expiry_datetime, bid_price,
//! ask_price, mark_price, implied_volatility, currency, …`) and the API's JSON result as a user
//! would save it (an array of book summaries, or the whole response with a `result` array).
//!
//! Premiums are in coin (inverse options): a quote-currency premium is coin × forward. The
//! forward of each expiry is the `underlying` column (`underlying_price` in the JSON): a future,
//! a synthetic `SYN.` forward, or the index for the shortest expiries. Expiries are 08:00 UTC.
//! `implied_volatility` is Deribit's mark IV as a decimal (`mark_iv` in the JSON is in percent).
//! For JSON the "line" of a row is its 1-based position in the array.

use super::util::{
    Columns, CsvLines, Memo, cell, csv_reader, excerpt, next_record, nonneg, num, opt_num,
    parse_datetime,
};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use crate::black::OptionKind;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::path::Path;

/// Deribit's minimum premium increment for options (coin).
pub const TICK: f64 = 0.0001;

/// Parses a Deribit option instrument name `BTC-16JAN26-82000-C` into
/// (currency, expiry at 08:00 UTC, strike, kind); `None` for anything else, including any
/// name that is not ASCII (Deribit's names are).
///
/// ```
/// use volfit::quotes::deribit::parse_instrument;
/// let (cur, expiry, strike, kind) = parse_instrument("ETH-5JUN20-250-P").unwrap();
/// assert_eq!((cur.as_str(), strike), ("ETH", 250.0));
/// assert_eq!(expiry.to_rfc3339(), "2020-06-05T08:00:00+00:00");
/// assert_eq!(kind, volfit::OptionKind::Put);
/// ```
pub fn parse_instrument(name: &str) -> Option<(String, DateTime<Utc>, f64, OptionKind)> {
    let name = name.trim();
    if !name.is_ascii() {
        return None;
    }
    let mut parts = name.split('-');
    let currency = parts.next()?.to_string();
    let date = parts.next()?;
    let strike: f64 = parts.next()?.replace('d', ".").parse().ok()?;
    let kind = match parts.next()? {
        "C" => OptionKind::Call,
        "P" => OptionKind::Put,
        _ => return None,
    };
    if parts.next().is_some() || date.len() < 6 {
        return None;
    }
    let (day, rest) = date.split_at(date.len() - 5);
    let (mon, yy) = rest.split_at(3);
    let month = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    .iter()
    .position(|m| *m == mon)? as u32
        + 1;
    let d = NaiveDate::from_ymd_opt(2000 + yy.parse::<i32>().ok()?, month, day.parse().ok()?)?;
    Some((currency, d.and_hms_opt(8, 0, 0)?.and_utc(), strike, kind))
}

/// The fields of an instrument name (currency, expiry, strike, kind).
pub(crate) type Instrument = (String, DateTime<Utc>, f64, OptionKind);

/// Checks the row's own columns against its instrument name: a strike, kind, expiry or
/// currency column that disagrees with the name means one of them was corrupted, so the row
/// is rejected rather than read with either.
pub(crate) fn agrees_with_name(
    (cur, expiry_i, strike_i, kind_i): &Instrument,
    strike: f64,
    kind: OptionKind,
    expiry: DateTime<Utc>,
    currency: &str,
) -> Result<(), String> {
    if (strike / strike_i - 1.0).abs() > 1e-9 {
        return Err(format!(
            "field `strike` {strike} disagrees with the instrument name's strike {strike_i}"
        ));
    }
    if kind != *kind_i {
        return Err(format!(
            "field `option_type` {kind} disagrees with the instrument name's {kind_i}"
        ));
    }
    if expiry != *expiry_i {
        return Err(format!(
            "the expiry {} disagrees with the instrument name's {}",
            expiry.to_rfc3339(),
            expiry_i.to_rfc3339()
        ));
    }
    if currency != cur {
        return Err(format!(
            "field `currency` {} disagrees with the instrument name's {cur}",
            excerpt(currency)
        ));
    }
    Ok(())
}

/// Reads a Deribit book-summary file (CSV or JSON).
pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let first = text.trim_start_matches('\u{feff}').trim_start();
    if first.starts_with('{') || first.starts_with('[') {
        read_json(first, path)
    } else {
        read_csv(text, path)
    }
}

/// One parsed row: the quote (with its own snapshot time and index level) and its currency.
struct Row {
    currency: String,
    quote: OptionQuote,
}

/// Quotes grouped by currency, then assembled into chains (their snapshot time and index level
/// are the rows' consensus, [`super::consensus`]).
#[derive(Default)]
struct Builder {
    by_currency: BTreeMap<String, Vec<OptionQuote>>,
}

impl Builder {
    fn push(&mut self, row: Row) {
        self.by_currency
            .entry(row.currency)
            .or_default()
            .push(row.quote);
    }

    fn finish(self, path: &Path) -> Vec<Chain> {
        self.by_currency
            .into_iter()
            .map(|(underlying, quotes)| Chain {
                underlying,
                as_of: None,
                spot: None,
                premium: Premium::Coin,
                tick: Some(TICK),
                format: Format::Deribit,
                source: path.to_path_buf(),
                quotes,
            })
            .collect()
    }
}

fn read_csv(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let mut rdr = csv_reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| IngestError::malformed(path, 1, None, format!("cannot read the header: {e}")))?
        .clone();
    let cols = Columns::new(&header);
    let c_name = cols.require(path, 1, "instrument_name")?;
    let c_under = cols.require(path, 1, "underlying")?;
    let c_bid = cols.require(path, 1, "bid_price")?;
    let c_ask = cols.require(path, 1, "ask_price")?;
    let c_strike = cols.find("strike");
    let c_type = cols.find("option_type");
    let c_expiry = cols.find("expiry_datetime");
    let c_mark = cols.find("mark_price");
    let c_iv = cols.find("implied_volatility");
    let c_ts = cols.find("timestamp");
    let c_cur = cols.find("currency");
    let c_index = cols.find("index_price");

    let mut report = IngestReport::new(path, Format::Deribit);
    let mut b = Builder::default();
    let mut lines = CsvLines::new(text);
    let (mut expiries, mut stamps) = (Memo::new(), Memo::new());
    let mut rec = csv::StringRecord::new();
    while next_record(&mut rdr, &mut rec, path, text)? {
        let line = lines.of(&rec);
        report.rows += 1;
        let mut row = || -> Result<Row, String> {
            let name = cell(&rec, c_name);
            let instrument = parse_instrument(name).ok_or_else(|| {
                format!(
                    "field `instrument_name` is not a Deribit option: {}",
                    excerpt(name)
                )
            })?;
            let strike = match c_strike {
                Some(c) => num(&rec, c, "strike")?,
                None => instrument.2,
            };
            let kind = match c_type.map(|c| cell(&rec, c)) {
                Some("") | None => instrument.3,
                Some(k) => k.parse().map_err(|e| format!("field `option_type`: {e}"))?,
            };
            let expiry = match c_expiry.map(|c| cell(&rec, c)) {
                Some("") | None => instrument.1,
                Some(raw) => expiries.get(raw, parse_datetime).ok_or_else(|| {
                    format!("field `expiry_datetime` is not a date: {}", excerpt(raw))
                })?,
            };
            let forward = num(&rec, c_under, "underlying")?;
            if forward <= 0.0 || strike <= 0.0 {
                return Err(format!(
                    "non-positive `underlying` {forward} or `strike` {strike}"
                ));
            }
            let currency = c_cur
                .map(|c| cell(&rec, c).to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| instrument.0.clone());
            agrees_with_name(&instrument, strike, kind, expiry, &currency)?;
            let as_of =
                match c_ts.map(|c| cell(&rec, c)).filter(|s| !s.is_empty()) {
                    None => None,
                    Some(raw) => Some(stamps.get(raw, parse_datetime).ok_or_else(|| {
                        format!("field `timestamp` is not a date: {}", excerpt(raw))
                    })?),
                };
            let q = OptionQuote {
                symbol: name.to_string(),
                expiry,
                strike,
                kind,
                bid: nonneg(opt_num(&rec, Some(c_bid), "bid_price")?, "bid_price")?,
                ask: nonneg(opt_num(&rec, Some(c_ask), "ask_price")?, "ask_price")?,
                mark: nonneg(opt_num(&rec, c_mark, "mark_price")?, "mark_price")?,
                bid_iv: None,
                ask_iv: None,
                mark_iv: nonneg(
                    opt_num(&rec, c_iv, "implied_volatility")?,
                    "implied_volatility",
                )?,
                forward: Some(forward),
                discount: Some(1.0),
                t: None,
                as_of,
                spot: opt_num(&rec, c_index, "index_price")?.filter(|&s| s > 0.0),
                line,
            };
            Ok(Row { currency, quote: q })
        };
        match row() {
            Ok(r) => {
                report.quotes += 1;
                b.push(r);
            }
            Err(reason) => report.reject(line, reason),
        }
    }
    Ok((b.finish(path), report))
}

fn read_json(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        IngestError::malformed(path, e.line() as u64, None, format!("invalid JSON: {e}"))
    })?;
    let rows = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("result") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(IngestError::malformed(
                    path,
                    1,
                    Some("result"),
                    "expected an array of book summaries or an object with a `result` array",
                ));
            }
        },
        _ => {
            return Err(IngestError::malformed(
                path,
                1,
                None,
                "expected a JSON array or object",
            ));
        }
    };
    let mut report = IngestReport::new(path, Format::Deribit);
    let mut b = Builder::default();
    for (i, obj) in rows.iter().enumerate() {
        let line = i as u64 + 1;
        report.rows += 1;
        // A field that is present must be a number (or null): `"abc"` or `true` where a number
        // belongs rejects the row instead of reading as "not given".
        let field_checked = |k: &str| -> Result<Option<f64>, String> {
            match obj.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| {
                        format!("field `{k}` is not a number: {}", excerpt(&v.to_string()))
                    }),
            }
        };
        let row = || -> Result<Row, String> {
            let field = |k: &str| field_checked(k);
            let name = obj
                .get("instrument_name")
                .and_then(|v| v.as_str())
                .ok_or("field `instrument_name` is missing")?;
            let (cur, expiry, strike, kind) = parse_instrument(name).ok_or_else(|| {
                format!(
                    "field `instrument_name` is not a Deribit option: {}",
                    excerpt(name)
                )
            })?;
            let forward = match field("underlying_price")? {
                Some(f) => Some(f),
                None => field("underlying")?,
            }
            .filter(|f| *f > 0.0)
            .ok_or("field `underlying_price` is missing or not positive")?;
            // The API gives mark_iv in percent; the CSV layout's implied_volatility is a decimal.
            let mark_iv = match nonneg(field("mark_iv")?, "mark_iv")? {
                Some(v) => Some(v / 100.0),
                None => nonneg(field("implied_volatility")?, "implied_volatility")?,
            };
            let as_of = field("creation_timestamp")?
                .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
                .or_else(|| {
                    obj.get("timestamp")
                        .and_then(|v| v.as_str())
                        .and_then(parse_datetime)
                });
            let q = OptionQuote {
                symbol: name.to_string(),
                expiry,
                strike,
                kind,
                bid: nonneg(field("bid_price")?, "bid_price")?,
                ask: nonneg(field("ask_price")?, "ask_price")?,
                mark: nonneg(field("mark_price")?, "mark_price")?,
                bid_iv: None,
                ask_iv: None,
                mark_iv,
                forward: Some(forward),
                discount: Some(1.0),
                t: None,
                as_of,
                spot: match field("estimated_delivery_price")? {
                    Some(s) => Some(s),
                    None => field("index_price")?,
                }
                .filter(|&s| s > 0.0),
                line,
            };
            let currency = obj
                .get("base_currency")
                .and_then(|v| v.as_str())
                .map_or(cur, str::to_string);
            // A byte that was not UTF-8 reads as U+FFFD (a JSON document cannot lose a line):
            // a currency holding one would make a chain of its own.
            if currency.contains('\u{fffd}') {
                return Err("field `base_currency` is not valid UTF-8".into());
            }
            Ok(Row { currency, quote: q })
        };
        match row() {
            Ok(r) => {
                report.quotes += 1;
                b.push(r);
            }
            Err(reason) => report.reject(line, reason),
        }
    }
    Ok((b.finish(path), report))
}
