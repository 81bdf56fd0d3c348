//! CBOE delayed-quote downloads: the comma-separated "quote table" of an index's whole option
//! chain (`SPX-Options-24jan2011.csv`).
//!
//! Layout:
//!
//! * line 1, `SPX (S&P 500 INDEX),1290.59,+7.24,`: the underlying (the text before ` (`) and
//!   its level (the second field), which becomes the chain's `spot`;
//! * line 2, `Jan 24 2011 @ 14:03 ET,`: the snapshot time on the New York clock (`as_of`);
//! * line 3, the header `Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Ask,Vol,Open Int,`;
//! * then one line per expiry and strike holding a call (the columns from `Calls` up to `Puts`)
//!   and a put (the columns from `Puts` on). **Each line counts as two rows** in the
//!   [`IngestReport`], one per option, both reported under that line's number.
//!
//! The description in the `Calls`/`Puts` column, `11 Jan 1075.00 (SPXW1128A1075-E)`, gives the
//! strike (`1075.00`, the number before the parenthesis) and the symbol in parentheses, read by
//! [`parse_symbol`]: the root (`SPX`, `SPXW`, `SPXPM`, … letters), the year (2 digits), the day
//! (2 digits), a month letter that also tells the side (`A`–`L`: calls January–December,
//! `M`–`X`: puts January–December), the strike digits and an optional exchange suffix (`-E`).
//! A symbol whose side disagrees with its column is rejected. The symbol is kept as written
//! (with its suffix) in [`OptionQuote::symbol`].
//!
//! Expiry instants follow each root's settlement ([`expiry`]):
//!
//! * `SPX`, the monthly AM-settled options: in these old files the symbol date is the Saturday
//!   after the third Friday, and the option settles on the opening prints of the Friday before
//!   it, so the expiry is that **Friday at 09:30 New York** (a symbol date that is a Friday, or
//!   any other weekday, gives 09:30 that day);
//! * `SPXW` (weeklies) and `SPXPM` (PM-settled quarterlies and end-of-month options):
//!   **16:00 New York** on the symbol date;
//! * any other root: 16:00 New York on the symbol date as well — an assumption (PM
//!   settlement) that should be checked against the product's terms.
//!
//! `Bid` and `Ask` are premiums in index points, as traded (so discounted: cash-settled index
//! options); a zero or empty cell means no quote on that side. `Last Sale`, `Net`, `Vol` and
//! `Open Int` are not read. An option whose expiry is before the snapshot is rejected.
//!
//! The file gives the index level but no forward, rate or discount factor: forwards and discount
//! factors come later from put–call parity ([`super::parity`]).

use super::util::{CsvLines, cell, csv_reader, excerpt, new_york, opt_num, premium};
use super::{Chain, Format, IngestError, IngestReport, OptionQuote, Premium};
use crate::black::OptionKind;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};
use std::path::Path;

/// Minimum premium increment of SPX options (index points) below 3.00.
pub const TICK: f64 = 0.05;

/// A CBOE option symbol such as `SPXW1128A1075-E`, taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    /// The root: `SPX`, `SPXW`, `SPXPM`, ….
    pub root: String,
    /// The date in the symbol (for `SPX` monthlies the Saturday after the third Friday).
    pub date: NaiveDate,
    /// Call (month letters `A`–`L`) or put (`M`–`X`).
    pub kind: OptionKind,
    /// The strike digits as a number (the description's strike is the one used for quotes).
    pub strike: f64,
}

/// Parses a CBOE option symbol: root letters, 2-digit year (20yy), 2-digit day, month letter
/// (`A`–`L` calls January–December, `M`–`X` puts January–December), strike digits, and an
/// optional exchange suffix such as `-E`. `None` if it is not of that form or the date does not
/// exist.
///
/// ```
/// use volfit::quotes::cboe::parse_symbol;
/// let s = parse_symbol("SPX1119O1300-E").unwrap();
/// assert_eq!((s.root.as_str(), s.date.to_string(), s.strike), ("SPX", "2011-03-19".to_string(), 1300.0));
/// assert_eq!(s.kind, volfit::OptionKind::Put);
/// ```
pub fn parse_symbol(symbol: &str) -> Option<Symbol> {
    let s = symbol.trim();
    // An exchange suffix: `-` and letters or digits after the strike.
    let s = match s.split_once('-') {
        Some((head, suffix))
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            head
        }
        Some(_) => return None,
        None => s,
    };
    let root_len = s.bytes().take_while(u8::is_ascii_uppercase).count();
    if root_len == 0 {
        return None;
    }
    let (root, rest) = s.split_at(root_len);
    let b = rest.as_bytes();
    if b.len() < 6 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let yy: i32 = rest[..2].parse().ok()?;
    let day: u32 = rest[2..4].parse().ok()?;
    let (kind, month) = match b[4] {
        c @ b'A'..=b'L' => (OptionKind::Call, u32::from(c - b'A') + 1),
        c @ b'M'..=b'X' => (OptionKind::Put, u32::from(c - b'M') + 1),
        _ => return None,
    };
    let digits = &rest[5..];
    if !digits.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let strike: f64 = digits.parse().ok().filter(|k: &f64| k.is_finite())?;
    let date = NaiveDate::from_ymd_opt(2000 + yy, month, day)?;
    Some(Symbol {
        root: root.to_string(),
        date,
        kind,
        strike,
    })
}

/// The expiry instant (UTC) of an option with this root and symbol date, with the root's
/// settlement applied (see the module documentation): `SPX` settles at 09:30 New York on the
/// Friday before a Saturday symbol date (on the symbol date otherwise); every other root at
/// 16:00 New York on the symbol date.
///
/// ```
/// use chrono::NaiveDate;
/// use volfit::quotes::cboe::expiry;
/// let saturday = NaiveDate::from_ymd_opt(2011, 2, 19).unwrap();
/// assert_eq!(expiry("SPX", saturday).unwrap().to_rfc3339(), "2011-02-18T14:30:00+00:00");
/// let friday = NaiveDate::from_ymd_opt(2011, 1, 28).unwrap();
/// assert_eq!(expiry("SPXW", friday).unwrap().to_rfc3339(), "2011-01-28T21:00:00+00:00");
/// ```
pub fn expiry(root: &str, date: NaiveDate) -> Option<DateTime<Utc>> {
    if root.eq_ignore_ascii_case("SPX") {
        let day = if date.weekday() == Weekday::Sat {
            date.pred_opt()?
        } else {
            date
        };
        new_york(day, 9, 30)
    } else {
        new_york(date, 16, 0)
    }
}

/// Parses the snapshot line `Jan 24 2011 @ 14:03 ET` (New York clock) as UTC.
fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let raw = raw.strip_suffix("ET").unwrap_or(raw).trim();
    let t = ["%b %d %Y @ %H:%M", "%b %d %Y @ %H:%M:%S"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(raw, fmt).ok())?;
    new_york(t.date(), t.hour(), t.minute())
}

/// One side (calls or puts) of the table: its kind and columns.
struct Side {
    kind: OptionKind,
    /// `Calls` or `Puts`: the description column's name.
    name: &'static str,
    /// `call side` or `put side`, to name the block in reasons.
    label: &'static str,
    desc: usize,
    bid: usize,
    ask: usize,
}

impl Side {
    /// Finds the side's columns in `header[start..end]` (`start` is the description column).
    fn new(
        header: &csv::StringRecord,
        path: &Path,
        line: u64,
        kind: OptionKind,
        start: usize,
        end: usize,
    ) -> Result<Self, IngestError> {
        let (name, label) = match kind {
            OptionKind::Call => ("Calls", "call side"),
            OptionKind::Put => ("Puts", "put side"),
        };
        let find = |col: &str| {
            header
                .iter()
                .enumerate()
                .take(end)
                .skip(start + 1)
                .find(|(_, h)| h.trim().eq_ignore_ascii_case(col))
                .map(|(i, _)| i)
                .ok_or_else(|| {
                    IngestError::malformed(
                        path,
                        line,
                        Some(col),
                        format!("missing column in the {label} (after `{name}`)"),
                    )
                })
        };
        Ok(Self {
            kind,
            name,
            label,
            desc: start,
            bid: find("Bid")?,
            ask: find("Ask")?,
        })
    }

    /// The quote of this side of a data line, or the reason it is rejected.
    fn quote(
        &self,
        rec: &csv::StringRecord,
        line: u64,
        as_of: DateTime<Utc>,
    ) -> Result<OptionQuote, String> {
        let name = self.name;
        let desc = cell(rec, self.desc);
        if desc.is_empty() {
            return Err(format!("field `{name}` is empty"));
        }
        let (text, symbol) = desc
            .rfind('(')
            .and_then(|open| {
                let close = open + desc[open..].find(')')?;
                Some((desc[..open].trim(), desc[open + 1..close].trim()))
            })
            .ok_or_else(|| {
                format!("field `{name}` is not a description like `11 Jan 1075.00 (SPXW1128A1075-E)`: {}", excerpt(desc))
            })?;
        let strike: f64 = text
            .split_whitespace()
            .next_back()
            .and_then(|k| k.parse().ok())
            .filter(|k: &f64| k.is_finite() && *k > 0.0)
            .ok_or_else(|| {
                format!(
                    "field `{name}`: no positive strike before the symbol in {}",
                    excerpt(desc)
                )
            })?;
        let sym = parse_symbol(symbol).ok_or_else(|| {
            format!("field `{name}`: {} is not a CBOE option symbol (root, yy, dd, month letter A–X, strike)", excerpt(symbol))
        })?;
        if sym.kind != self.kind {
            let letter = symbol
                .as_bytes()
                .get(sym.root.len() + 4)
                .map_or('?', |&b| b as char);
            return Err(format!(
                "field `{name}`: symbol {symbol} is a {} (month letter {letter}) in the {} column",
                sym.kind, self.name
            ));
        }
        let expiry = expiry(&sym.root, sym.date)
            .ok_or_else(|| format!("field `{name}`: no New York settlement time for {symbol}"))?;
        if expiry < as_of {
            return Err(format!(
                "field `{name}`: {symbol} expired at {expiry} before the snapshot {as_of}"
            ));
        }
        let side = |col: usize, field: &str| {
            opt_num(rec, Some(col), field)
                .map(premium)
                .map_err(|e| format!("{}: {e}", self.label))
        };
        Ok(OptionQuote {
            symbol: symbol.to_string(),
            expiry,
            strike,
            kind: self.kind,
            bid: side(self.bid, "Bid")?,
            ask: side(self.ask, "Ask")?,
            mark: None,
            bid_iv: None,
            ask_iv: None,
            mark_iv: None,
            forward: None,
            discount: None,
            t: None,
            as_of: None,
            spot: None,
            line,
        })
    }
}

/// Reads a CBOE delayed-quote table.
pub(crate) fn read(text: &str, path: &Path) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let csv_error = |e: csv::Error| {
        IngestError::malformed(
            path,
            e.position().map_or(0, |p| CsvLines::new(text).at(p.byte())),
            None,
            e.to_string(),
        )
    };
    let mut lines = CsvLines::new(text);
    let mut records = csv_reader(text, false).into_records();
    let mut preamble = |line: u64, what: &str| -> Result<csv::StringRecord, IngestError> {
        records
            .next()
            .transpose()
            .map_err(csv_error)?
            .ok_or_else(|| {
                IngestError::malformed(path, line, None, format!("the file ends before {what}"))
            })
    };

    let title = preamble(1, "the underlying line `SPX (S&P 500 INDEX),1290.59,…`")?;
    let title_line = lines.of(&title);
    let first = cell(&title, 0).trim_start_matches('\u{feff}').trim();
    let underlying = first
        .split_once(" (")
        .map_or(first, |(u, _)| u)
        .trim()
        .to_string();
    if underlying.is_empty() {
        return Err(IngestError::malformed(
            path,
            title_line,
            None,
            "the first line does not name the underlying",
        ));
    }
    let raw_spot = cell(&title, 1);
    let spot = raw_spot
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            IngestError::malformed(
                path,
                title_line,
                None,
                format!(
                    "the underlying level (second field) is not a positive number: {}",
                    excerpt(raw_spot)
                ),
            )
        })?;

    let time = preamble(2, "the time line `Jan 24 2011 @ 14:03 ET`")?;
    let raw_time = cell(&time, 0);
    let as_of = parse_time(raw_time).ok_or_else(|| {
        IngestError::malformed(
            path,
            lines.of(&time),
            None,
            format!(
                "cannot read the snapshot time {} (expected e.g. `Jan 24 2011 @ 14:03 ET`)",
                excerpt(raw_time)
            ),
        )
    })?;

    let header = preamble(
        3,
        "the header `Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,…`",
    )?;
    let header_line = lines.of(&header);
    let position = |col: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(col))
            .ok_or_else(|| {
                IngestError::malformed(
                    path,
                    header_line,
                    Some(col),
                    format!("missing column (header is {:?})", header.as_slice()),
                )
            })
    };
    let c_calls = position("Calls")?;
    let c_puts = position("Puts")?;
    if c_puts <= c_calls {
        return Err(IngestError::malformed(
            path,
            header_line,
            Some("Puts"),
            "the `Puts` block must follow the `Calls` block",
        ));
    }
    let sides = [
        Side::new(
            &header,
            path,
            header_line,
            OptionKind::Call,
            c_calls,
            c_puts,
        )?,
        Side::new(
            &header,
            path,
            header_line,
            OptionKind::Put,
            c_puts,
            header.len(),
        )?,
    ];

    let mut report = IngestReport::new(path, Format::Cboe);
    let mut quotes = Vec::new();
    for rec in records {
        let rec = rec.map_err(csv_error)?;
        let line = lines.of(&rec);
        for side in &sides {
            report.rows += 1;
            match side.quote(&rec, line, as_of) {
                Ok(q) => {
                    report.quotes += 1;
                    quotes.push(q);
                }
                Err(reason) => report.reject(line, reason),
            }
        }
    }
    let chain = Chain {
        underlying,
        as_of: Some(as_of),
        spot: Some(spot),
        premium: Premium::Quote,
        tick: Some(TICK),
        format: Format::Cboe,
        source: path.to_path_buf(),
        quotes,
    };
    Ok((vec![chain], report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        parse_symbol(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn symbols() {
        let s = sym("SPXW1128A1075-E");
        assert_eq!(s.root, "SPXW");
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2011, 1, 28).unwrap());
        assert_eq!((s.kind, s.strike), (OptionKind::Call, 1075.0));

        let s = sym("SPXPM1130X1255-E");
        assert_eq!(s.root, "SPXPM");
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2011, 12, 30).unwrap());
        assert_eq!((s.kind, s.strike), (OptionKind::Put, 1255.0));

        // Without a suffix, every month letter.
        let s = sym("SPX1321L3000");
        assert_eq!(
            (s.date, s.kind),
            (
                NaiveDate::from_ymd_opt(2013, 12, 21).unwrap(),
                OptionKind::Call
            )
        );
        for (i, c) in ('A'..='L').enumerate() {
            let call = sym(&format!("SPX1119{c}1300"));
            let put = sym(&format!("SPX1119{}1300", (b'M' + i as u8) as char));
            assert_eq!(call.date.month() as usize, i + 1);
            assert_eq!(put.date, call.date);
            assert_eq!((call.kind, put.kind), (OptionKind::Call, OptionKind::Put));
        }
        assert_eq!(sym("SPX1116D460-E").strike, 460.0);
    }

    #[test]
    fn bad_symbols() {
        for s in [
            "",
            "1128A1075",      // no root
            "SPXW1128Y1075",  // Y is no month letter
            "SPXW1128a1075",  // lower-case letter
            "SPXW1128A",      // no strike
            "SPXW112A1075",   // 3-digit date
            "SPXW1131B1075",  // 31 February
            "SPXW1128A10x5",  // bad strike
            "SPXW1128A1075-", // empty suffix
            "SPXW1128A1075-E-E",
            "spx1119C1300",
        ] {
            assert_eq!(parse_symbol(s), None, "{s:?}");
        }
    }

    #[test]
    fn settlement() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let at = |root, date| expiry(root, date).unwrap().to_rfc3339();
        // SPX monthly: Saturday symbol date → Friday's open (EDT after 13 March 2011).
        assert_eq!(at("SPX", d(2011, 3, 19)), "2011-03-18T13:30:00+00:00");
        assert_eq!(at("SPX", d(2011, 2, 19)), "2011-02-18T14:30:00+00:00");
        assert_eq!(at("SPX", d(2011, 2, 18)), "2011-02-18T14:30:00+00:00");
        // Weekly and PM-settled: 16:00 on the symbol date.
        assert_eq!(at("SPXW", d(2011, 1, 28)), "2011-01-28T21:00:00+00:00");
        assert_eq!(at("SPXPM", d(2011, 3, 31)), "2011-03-31T20:00:00+00:00");
        assert_eq!(at("XYZ", d(2011, 6, 30)), "2011-06-30T20:00:00+00:00");
    }

    #[test]
    fn snapshot_time() {
        assert_eq!(
            parse_time("Jan 24 2011 @ 14:03 ET").unwrap().to_rfc3339(),
            "2011-01-24T19:03:00+00:00"
        );
        assert_eq!(
            parse_time("Jul 4 2011 @ 9:05 ET").unwrap().to_rfc3339(),
            "2011-07-04T13:05:00+00:00"
        );
        assert_eq!(parse_time("24 Jan 2011"), None);
    }
}
