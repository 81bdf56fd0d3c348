//! volfit's generic CSV (`--format csv`): one option per row, columns found by name, so any chain
//! can be brought in with a header line and a little renaming.
//!
//! Header names are matched case-insensitively (surrounding spaces ignored), in any order; other
//! columns are ignored. Empty cells are "not given".
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `expiry` | yes | expiry date `2026-03-27`, `20260327` (or US `3/27/2026`), or an RFC 3339 datetime `2026-03-27T20:00:00Z` (no offset means UTC). A bare date expires at `expiry_time`, or **16:00 UTC** when that is not given |
//! | `expiry_time` | no | `HH:MM` (or `HH:MM:SS`), UTC, for bare-date expiries; ignored when `expiry` has a time |
//! | `strike` | yes | strike, > 0 |
//! | `kind` | yes | `call`/`put` (or `c`/`p`, any case) |
//! | `bid`, `ask` | one pair of these or `iv` | premiums; empty or ≤ 0 means no quote on that side |
//! | `bid_iv`, `ask_iv` | | bid/ask Black implied vols as **decimals** (0.25 = 25 %); empty or 0 means none |
//! | `iv` | | mark or mid implied vol (decimal); in a file without `bid`/`ask` premiums, a row with `iv` and neither `bid_iv` nor `ask_iv` is a mid-vol quote, fitted at that vol with no spread |
//! | `mark` | no | mark premium |
//! | `underlying` | no | underlying name; `UNDERLYING` when absent. Each underlying becomes its own chain |
//! | `symbol` | no | instrument name; `{underlying}-{yyyymmdd}-{strike}-{C\|P}` when absent |
//! | `as_of` | no | quote time, RFC 3339 or a date (midnight UTC); the chain's `as_of` is the latest of the rows that agree ([`super::consensus`]) |
//! | `forward` | no | forward of the expiry, > 0 (otherwise found from put–call parity) |
//! | `discount` | no | discount factor to expiry, > 0 |
//! | `t` | no | time to expiry in years, > 0; when given it is used instead of `expiry` − `as_of` |
//! | `spot` | no | spot level; the chain's spot is that of the latest agreeing row |
//! | `premium_unit` | no | `quote` or `coin` (see below) |
//!
//! `bid` and `ask` come as a pair, and so do `bid_iv` and `ask_iv`; a file needs at least one of
//! the pairs or `iv`, otherwise it is malformed.
//!
//! **Premium unit** (one per chain): a file with `bid`/`ask` (or `mark`) columns holds premiums in
//! quote currency ([`Premium::Quote`]), or in the underlying coin ([`Premium::Coin`], inverse
//! options) for an underlying whose rows say `coin` in `premium_unit`. The first row of an
//! underlying that states a unit sets it; a row stating the other unit is rejected. A file with
//! only implied-vol columns is [`Premium::ImpliedVol`] (and `premium_unit` is not read). The tick
//! is unknown (`None`).
//!
//! A row is rejected (with its line and the field at fault) when a required field is empty or
//! unparseable, a number is not a number, strike, forward, discount, `t` or spot is not positive,
//! an implied vol is negative, or the row has no bid, ask, bid_iv, ask_iv or iv at all.
//!
//! ```
//! use std::path::Path;
//! use volfit::quotes::{Format, Premium, read_chains_from_str};
//! let text = "underlying,expiry,strike,kind,bid,ask,forward\n\
//!             SPX,2026-03-20,6000,call,101.5,103.0,6012.5\n\
//!             SPX,2026-03-20,6000,put,88.0,89.5,6012.5\n";
//! let (chains, report) = read_chains_from_str(text, Path::new("chain.csv"), Format::Auto).unwrap();
//! assert_eq!((report.rows, report.quotes), (2, 2));
//! assert_eq!(chains[0].premium, Premium::Quote);
//! assert_eq!(chains[0].quotes[0].expiry.to_rfc3339(), "2026-03-20T16:00:00+00:00");
//! ```

use super::util::{
    Columns, CsvLines, cell, csv_reader, excerpt, next_record, nonneg, num, opt_num, parse_date,
    parse_datetime,
};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use crate::black::OptionKind;
use chrono::{DateTime, NaiveTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;

/// The underlying of rows without an `underlying` column or cell.
const DEFAULT_UNDERLYING: &str = "UNDERLYING";

/// Hour (UTC) of a bare-date expiry when no `expiry_time` is given.
const DEFAULT_EXPIRY_HOUR: u32 = 16;

/// Column positions of the layout.
struct Cols {
    expiry: usize,
    expiry_time: Option<usize>,
    strike: usize,
    kind: usize,
    bid: Option<usize>,
    ask: Option<usize>,
    bid_iv: Option<usize>,
    ask_iv: Option<usize>,
    iv: Option<usize>,
    mark: Option<usize>,
    underlying: Option<usize>,
    symbol: Option<usize>,
    as_of: Option<usize>,
    forward: Option<usize>,
    discount: Option<usize>,
    t: Option<usize>,
    spot: Option<usize>,
    unit: Option<usize>,
}

/// One underlying's quotes, each with the unit its row stated (the chain's time and spot are
/// the rows' consensus, [`super::consensus`]).
#[derive(Default)]
struct Acc {
    quotes: Vec<(OptionQuote, Option<Premium>)>,
}

/// A row that became a quote, with the unit it stated.
struct Row {
    underlying: String,
    quote: OptionQuote,
    unit: Option<Premium>,
}

/// Reads a generic CSV chain file.
pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let mut rdr = csv_reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| IngestError::malformed(path, 1, None, format!("cannot read the header: {e}")))?
        .clone();
    let cols = columns(&Columns::new(&header), path)?;
    let has_premiums = cols.bid.is_some() || cols.mark.is_some();

    let mut report = IngestReport::new(path, Format::Csv);
    let mut by_underlying: BTreeMap<String, Acc> = BTreeMap::new();
    let mut lines = CsvLines::new(text);
    let mut rec = csv::StringRecord::new();
    while next_record(&mut rdr, &mut rec, path, text)? {
        let line = lines.of(&rec);
        report.rows += 1;
        match row(&rec, &cols, has_premiums, line) {
            Ok(Row {
                underlying,
                quote,
                unit,
            }) => {
                report.quotes += 1;
                by_underlying
                    .entry(underlying)
                    .or_default()
                    .quotes
                    .push((quote, unit));
            }
            Err(reason) => report.reject(line, reason),
        }
    }

    let mut chains = Vec::with_capacity(by_underlying.len());
    for (underlying, acc) in by_underlying {
        let stated = acc.quotes.iter().find_map(|(q, u)| u.map(|u| (u, q.line)));
        let premium = match stated {
            Some((unit, _)) => unit,
            None if has_premiums => Premium::Quote,
            None => Premium::ImpliedVol,
        };
        let mut quotes = Vec::with_capacity(acc.quotes.len());
        for (q, unit) in acc.quotes {
            match (unit, stated) {
                (Some(u), Some((chain_unit, from))) if u != chain_unit => {
                    report.quotes -= 1;
                    report.reject(
                        q.line,
                        format!(
                            "field `premium_unit` is {} but the {underlying} chain is in {} (set on line {from})",
                            unit_name(u),
                            unit_name(chain_unit)
                        ),
                    );
                }
                _ => quotes.push(q),
            }
        }
        chains.push(Chain {
            underlying,
            as_of: None,
            spot: None,
            premium,
            tick: None,
            format: Format::Csv,
            source: path.to_path_buf(),
            quotes,
        });
    }
    report.rejected.sort_by_key(|r| r.line);
    Ok((chains, report))
}

/// Finds the layout's columns; a missing required column or half of a pair is malformed.
fn columns(cols: &Columns, path: &Path) -> Result<Cols, IngestError> {
    let pair = |a: &str, b: &str| -> Result<(Option<usize>, Option<usize>), IngestError> {
        match (cols.find(a), cols.find(b)) {
            (Some(_), None) => Err(IngestError::malformed(
                path,
                1,
                Some(b),
                format!("missing column: `{a}` needs `{b}`"),
            )),
            (None, Some(_)) => Err(IngestError::malformed(
                path,
                1,
                Some(a),
                format!("missing column: `{b}` needs `{a}`"),
            )),
            found => Ok(found),
        }
    };
    let expiry = cols.require(path, 1, "expiry")?;
    let strike = cols.require(path, 1, "strike")?;
    let kind = cols.require(path, 1, "kind")?;
    let (bid, ask) = pair("bid", "ask")?;
    let (bid_iv, ask_iv) = pair("bid_iv", "ask_iv")?;
    let iv = cols.find("iv");
    if bid.is_none() && bid_iv.is_none() && iv.is_none() {
        return Err(IngestError::malformed(
            path,
            1,
            Some("bid"),
            "missing columns: a chain needs `bid` and `ask` premiums, `bid_iv` and `ask_iv` implied vols, or `iv`",
        ));
    }
    Ok(Cols {
        expiry,
        expiry_time: cols.find("expiry_time"),
        strike,
        kind,
        bid,
        ask,
        bid_iv,
        ask_iv,
        iv,
        mark: cols.find("mark"),
        underlying: cols.find("underlying"),
        symbol: cols.find("symbol"),
        as_of: cols.find("as_of"),
        forward: cols.find("forward"),
        discount: cols.find("discount"),
        t: cols.find("t"),
        spot: cols.find("spot"),
        unit: cols.find("premium_unit"),
    })
}

/// Reads one data row, or the reason it is rejected.
fn row(rec: &csv::StringRecord, cols: &Cols, has_premiums: bool, line: u64) -> Result<Row, String> {
    let text = |c: Option<usize>| c.map_or("", |c| cell(rec, c));
    let underlying = Some(text(cols.underlying))
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_UNDERLYING);

    let raw_kind = cell(rec, cols.kind);
    if raw_kind.is_empty() {
        return Err("field `kind` is empty".into());
    }
    let kind: OptionKind = raw_kind.parse().map_err(|e| format!("field `kind`: {e}"))?;
    let strike = num(rec, cols.strike, "strike")?;
    if strike <= 0.0 {
        return Err(format!("field `strike` is not positive: {strike}"));
    }
    let expiry = expiry(cell(rec, cols.expiry), text(cols.expiry_time))?;

    let bid = nonneg(opt_num(rec, cols.bid, "bid")?, "bid")?;
    let ask = nonneg(opt_num(rec, cols.ask, "ask")?, "ask")?;
    let bid_iv = vol(rec, cols.bid_iv, "bid_iv")?;
    let ask_iv = vol(rec, cols.ask_iv, "ask_iv")?;
    let iv = vol(rec, cols.iv, "iv")?;
    if bid.is_none() && ask.is_none() && bid_iv.is_none() && ask_iv.is_none() && iv.is_none() {
        return Err(
            "no price or vol on the row (bid, ask, bid_iv, ask_iv and iv all empty or zero)".into(),
        );
    }

    let as_of =
        match text(cols.as_of) {
            "" => None,
            raw => Some(parse_datetime(raw).ok_or_else(|| {
                format!("field `as_of` is not a date or datetime: {}", excerpt(raw))
            })?),
        };
    let unit = if has_premiums {
        premium_unit(text(cols.unit))?
    } else {
        None
    };
    let symbol = match text(cols.symbol) {
        "" => format!(
            "{underlying}-{}-{strike}-{}",
            expiry.format("%Y%m%d"),
            if kind == OptionKind::Call { "C" } else { "P" }
        ),
        s => s.to_string(),
    };
    let quote = OptionQuote {
        symbol,
        expiry,
        strike,
        kind,
        bid,
        ask,
        mark: nonneg(opt_num(rec, cols.mark, "mark")?, "mark")?,
        bid_iv,
        ask_iv,
        mark_iv: iv,
        forward: positive(opt_num(rec, cols.forward, "forward")?, "forward")?,
        discount: positive(opt_num(rec, cols.discount, "discount")?, "discount")?,
        t: positive(opt_num(rec, cols.t, "t")?, "t")?,
        as_of,
        spot: positive(opt_num(rec, cols.spot, "spot")?, "spot")?,
        line,
    };
    Ok(Row {
        underlying: underlying.to_string(),
        quote,
        unit,
    })
}

/// The expiry instant: a datetime as given, or a bare date at `time` (UTC; 16:00 when empty).
fn expiry(raw: &str, time: &str) -> Result<DateTime<Utc>, String> {
    if raw.is_empty() {
        return Err("field `expiry` is empty".into());
    }
    if let Some(date) = parse_date(raw) {
        let at = if time.is_empty() {
            NaiveTime::from_hms_opt(DEFAULT_EXPIRY_HOUR, 0, 0)
        } else {
            NaiveTime::parse_from_str(time, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M:%S"))
                .ok()
        };
        let at =
            at.ok_or_else(|| format!("field `expiry_time` is not HH:MM: {}", excerpt(time)))?;
        return Ok(date.and_time(at).and_utc());
    }
    parse_datetime(raw)
        .ok_or_else(|| format!("field `expiry` is not a date or datetime: {}", excerpt(raw)))
}

/// A stated premium unit (`quote`/`coin`, any case), `None` when the cell is empty.
fn premium_unit(raw: &str) -> Result<Option<Premium>, String> {
    if raw.is_empty() {
        Ok(None)
    } else if raw.eq_ignore_ascii_case("quote") {
        Ok(Some(Premium::Quote))
    } else if raw.eq_ignore_ascii_case("coin") {
        Ok(Some(Premium::Coin))
    } else {
        Err(format!(
            "field `premium_unit` is neither `quote` nor `coin`: {}",
            excerpt(raw)
        ))
    }
}

/// An optional implied vol (decimal): 0 means none, negative is an error.
fn vol(rec: &csv::StringRecord, col: Option<usize>, name: &str) -> Result<Option<f64>, String> {
    match opt_num(rec, col, name)? {
        Some(v) if v < 0.0 => Err(format!("field `{name}` is negative: {v}")),
        v => Ok(v.filter(|&v| v > 0.0)),
    }
}

/// An optional number that must be positive when given.
fn positive(v: Option<f64>, name: &str) -> Result<Option<f64>, String> {
    match v {
        Some(x) if x <= 0.0 => Err(format!("field `{name}` is not positive: {x}")),
        v => Ok(v),
    }
}

/// How a premium unit is written in `premium_unit` and messages.
fn unit_name(p: Premium) -> &'static str {
    match p {
        Premium::Quote => "quote",
        Premium::Coin => "coin",
        Premium::ImpliedVol => "implied vol",
    }
}
