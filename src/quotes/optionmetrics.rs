//! OptionMetrics (IvyDB) raw end-of-day option quotes, one option per row:
//! `secid, date, symbol, symbol_flag, exdate, last_date, cp_flag, strike_price, best_bid,
//! best_offer, volume, open_interest, optionid, cfadj, ss_flag, root, suffix, ticker, index_flag,
//! issuer, div_convention, exercise_style, am_set_flag`.
//!
//! * Required columns: `date`, `exdate`, `cp_flag`, `strike_price`, `best_bid`, `best_offer`;
//!   `symbol`, `ticker`, `root` and `am_set_flag` are read where present, the others not at all.
//! * **`strike_price` is the strike × 1000** (`1200000` is a strike of 1200).
//! * `best_bid`, `best_offer`: premiums in index points, as traded (discounted); a zero or empty
//!   cell means no quote on that side. `cp_flag` is `C` or `P`.
//! * The underlying is the `ticker` column (else `root`, else `UNKNOWN`); a file with several
//!   tickers gives one [`Chain`] per ticker. All rows of one ticker must carry the same `date`:
//!   a row of another day is rejected.
//! * `date` (`yyyymmdd`) is the quote date; the quotes are end-of-day, so `as_of` is 16:00
//!   New York that day.
//! * Expiry from `exdate` and `am_set_flag`. AM-settled (`am_set_flag` = 1): an `exdate` on a
//!   Saturday (the old monthly convention, the Saturday after the third Friday) settles on the
//!   opening prints of the Friday before, so the expiry is that Friday at 09:30 New York; any
//!   other `exdate` gives 09:30 New York that day. PM-settled (`am_set_flag` = 0, empty or no
//!   such column): 16:00 New York on `exdate`. An `exdate` before `date` is rejected.
//!
//! OptionMetrics sets `am_set_flag` per underlying rather than per product: in
//! `spx_optionmetrics_20110915.csv` the PM-settled `SPXW` weeklies and `SPXQ` quarterlies carry
//! `am_set_flag` = 1 as well. The product root overrides the flag for the PM-settled SPX roots
//! `SPXW`, `SPXQ` and `SPXPM`: those settle at 16:00 New York on `exdate`.
//!
//! The file gives no underlying level, forward, rate or discount factor: forwards and discount
//! factors come later from put–call parity ([`super::parity`]).

use super::util::CsvLines;

/// Roots of PM-settled SPX products (weeklies, quarterlies, end-of-month), whatever
/// `am_set_flag` says.
const PM_SETTLED_ROOTS: [&str; 3] = ["SPXW", "SPXQ", "SPXPM"];
use super::util::{
    Columns, cell, csv_reader, excerpt, new_york, next_record, nonneg, num, opt_num, parse_date,
};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use crate::black::OptionKind;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use std::collections::BTreeMap;
use std::path::Path;

/// Minimum premium increment of SPX options (index points) below 3.00.
pub const TICK: f64 = 0.05;

/// The expiry instant (UTC) of an option expiring on `exdate`: AM-settled options at 09:30 New
/// York (on the Friday before a Saturday `exdate`), PM-settled ones at 16:00 New York on
/// `exdate`.
///
/// ```
/// use chrono::NaiveDate;
/// use volfit::quotes::optionmetrics::expiry;
/// let saturday = NaiveDate::from_ymd_opt(2011, 9, 17).unwrap();
/// assert_eq!(expiry(saturday, true).unwrap().to_rfc3339(), "2011-09-16T13:30:00+00:00");
/// assert_eq!(expiry(saturday, false).unwrap().to_rfc3339(), "2011-09-17T20:00:00+00:00");
/// ```
pub fn expiry(exdate: NaiveDate, am_settled: bool) -> Option<DateTime<Utc>> {
    if am_settled {
        let day = if exdate.weekday() == Weekday::Sat {
            exdate.pred_opt()?
        } else {
            exdate
        };
        new_york(day, 9, 30)
    } else {
        new_york(exdate, 16, 0)
    }
}

/// Reads an OptionMetrics raw-quote file.
pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let mut rdr = csv_reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| IngestError::malformed(path, 1, None, format!("cannot read the header: {e}")))?
        .clone();
    let cols = Columns::new(&header);
    let c_date = cols.require(path, 1, "date")?;
    let c_exdate = cols.require(path, 1, "exdate")?;
    let c_cp = cols.require(path, 1, "cp_flag")?;
    let c_strike = cols.require(path, 1, "strike_price")?;
    let c_bid = cols.require(path, 1, "best_bid")?;
    let c_ask = cols.require(path, 1, "best_offer")?;
    let c_symbol = cols.find("symbol");
    let c_ticker = cols.find("ticker");
    let c_root = cols.find("root");
    let c_am = cols.find("am_set_flag");

    let mut report = IngestReport::new(path, Format::Optionmetrics);
    // Per underlying, its quotes; the quote date of the chain is the rows' consensus
    // (`super::consensus`: one snapshot per file, rows of another date are rejected).
    let mut by_underlying: BTreeMap<String, Vec<OptionQuote>> = BTreeMap::new();
    // File lines from byte offsets: `csv::Position::line` is off after CRLF line ends.
    let mut lines = CsvLines::new(text);
    let mut rec = csv::StringRecord::new();
    while next_record(&mut rdr, &mut rec, path, text)? {
        let line = lines.of(&rec);
        report.rows += 1;
        let text_of = |c: Option<usize>| c.map(|c| cell(&rec, c)).filter(|s| !s.is_empty());
        let row = || -> Result<(String, OptionQuote), String> {
            // The underlying is the ticker (else the root); a file with either column must
            // name it on every row, or a row would start a chain of its own.
            let underlying = match (
                text_of(c_ticker).or_else(|| text_of(c_root)),
                c_ticker.or(c_root),
            ) {
                (Some(u), _) => u.to_string(),
                (None, None) => "UNKNOWN".to_string(),
                (None, Some(_)) => {
                    return Err(format!(
                        "field `{}` is empty",
                        if c_ticker.is_some() { "ticker" } else { "root" }
                    ));
                }
            };
            let date_of = |c: usize, name: &str| {
                let raw = cell(&rec, c);
                parse_date(raw)
                    .ok_or_else(|| format!("field `{name}` is not a date: {}", excerpt(raw)))
            };
            let date = date_of(c_date, "date")?;
            let exdate = date_of(c_exdate, "exdate")?;
            if exdate < date {
                return Err(format!(
                    "field `exdate` {exdate} is before the quote `date` {date}"
                ));
            }
            let cp = cell(&rec, c_cp);
            let kind = match cp {
                "C" | "c" => OptionKind::Call,
                "P" | "p" => OptionKind::Put,
                _ => return Err(format!("field `cp_flag` is not C or P: {}", excerpt(cp))),
            };
            let strike_price = num(&rec, c_strike, "strike_price")?;
            if strike_price <= 0.0 {
                return Err(format!(
                    "field `strike_price` is not positive: {strike_price}"
                ));
            }
            let flag = match text_of(c_am) {
                None | Some("0") => false,
                Some("1") => true,
                Some(raw) => {
                    return Err(format!(
                        "field `am_set_flag` is not 0 or 1: {}",
                        excerpt(raw)
                    ));
                }
            };
            // The product root (the `root` column, else the symbol's first word) overrides the
            // per-underlying flag for the PM-settled SPX products.
            let root = text_of(c_root)
                .or_else(|| text_of(c_symbol).and_then(|s| s.split([' ', '.']).next()))
                .unwrap_or("");
            let am_settled = flag && !PM_SETTLED_ROOTS.contains(&root);
            let expiry = expiry(exdate, am_settled).ok_or_else(|| {
                format!("field `exdate`: no New York settlement time on {exdate}")
            })?;
            let symbol = text_of(c_symbol).map_or_else(
                || {
                    let root = text_of(c_root).unwrap_or(&underlying);
                    format!(
                        "{root} {}{cp}{}",
                        exdate.format("%y%m%d"),
                        cell(&rec, c_strike)
                    )
                },
                str::to_string,
            );
            let q = OptionQuote {
                symbol,
                expiry,
                strike: strike_price / 1000.0,
                kind,
                bid: nonneg(opt_num(&rec, Some(c_bid), "best_bid")?, "best_bid")?,
                ask: nonneg(opt_num(&rec, Some(c_ask), "best_offer")?, "best_offer")?,
                mark: None,
                bid_iv: None,
                ask_iv: None,
                mark_iv: None,
                forward: None,
                discount: None,
                t: None,
                as_of: new_york(date, 16, 0),
                spot: None,
                line,
            };
            Ok((underlying, q))
        };
        match row() {
            Ok((underlying, q)) => {
                report.quotes += 1;
                by_underlying.entry(underlying).or_default().push(q);
            }
            Err(reason) => report.reject(line, reason),
        }
    }
    let chains = by_underlying
        .into_iter()
        .map(|(underlying, quotes)| Chain {
            underlying,
            as_of: None,
            spot: None,
            premium: Premium::Quote,
            tick: Some(TICK),
            format: Format::Optionmetrics,
            source: path.to_path_buf(),
            quotes,
        })
        .collect();
    Ok((chains, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlement() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let at = |date, am| expiry(date, am).unwrap().to_rfc3339();
        // Saturday exdate, AM-settled: Friday's open (EDT in September).
        assert_eq!(at(d(2005, 9, 17), true), "2005-09-16T13:30:00+00:00");
        // Friday exdate, AM-settled: that Friday's open (EST in December).
        assert_eq!(at(d(2011, 12, 30), true), "2011-12-30T14:30:00+00:00");
        // PM-settled: 16:00 on the exdate.
        assert_eq!(at(d(2011, 9, 23), false), "2011-09-23T20:00:00+00:00");
        assert_eq!(at(d(2011, 12, 17), false), "2011-12-17T21:00:00+00:00");
    }
}
