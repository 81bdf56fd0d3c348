//! Small helpers shared by the readers: header lookup, field parsing with row-level errors,
//! dates and the New York clock.

use super::IngestError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use std::path::Path;

/// Column positions by (case-insensitive, trimmed, unquoted) header name.
pub(crate) struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub fn new(header: &csv::StringRecord) -> Self {
        Self {
            names: header
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Position of a column that may be absent.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Position of a required column, or a `Malformed` error naming it (line 1 is the header).
    pub fn require(&self, file: &Path, line: u64, name: &str) -> Result<usize, IngestError> {
        self.find(name).ok_or_else(|| {
            IngestError::malformed(
                file,
                line,
                Some(name),
                format!("missing column (header has: {})", self.names.join(",")),
            )
        })
    }
}

/// Longest excerpt of file text quoted in a reason.
const EXCERPT: usize = 40;

/// `raw` as quoted in a rejection reason: at most [`EXCERPT`] characters, then `…`, so that a
/// reason never carries a whole file.
pub(crate) fn excerpt(raw: &str) -> String {
    match raw.char_indices().nth(EXCERPT) {
        None => format!("{raw:?}"),
        Some((cut, _)) => format!("{:?}…", &raw[..cut]),
    }
}

/// A field of a record as text (empty if the row is short).
pub(crate) fn cell(rec: &csv::StringRecord, col: usize) -> &str {
    rec.get(col).map_or("", str::trim)
}

/// A required number: `Err(reason)` naming the field if empty or not a number.
pub(crate) fn num(rec: &csv::StringRecord, col: usize, name: &str) -> Result<f64, String> {
    let raw = cell(rec, col);
    if raw.is_empty() {
        return Err(format!("field `{name}` is empty"));
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("field `{name}` is not a number: {}", excerpt(raw))),
    }
}

/// An optional number: empty → `None`; present but not a number → `Err(reason)`.
pub(crate) fn opt_num(
    rec: &csv::StringRecord,
    col: Option<usize>,
    name: &str,
) -> Result<Option<f64>, String> {
    let Some(col) = col else { return Ok(None) };
    let raw = cell(rec, col);
    if raw.is_empty() || raw.eq_ignore_ascii_case("nan") || raw.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!("field `{name}` is not a number: {}", excerpt(raw))),
    }
}

/// A premium: `None` when absent or not positive (no quote on that side).
pub(crate) fn premium(v: Option<f64>) -> Option<f64> {
    v.filter(|&p| p > 0.0)
}

/// A price or vol field: empty or 0 means no quote on that side; a negative value is not a
/// quote at all and rejects the row (it is never read as "no quote").
pub(crate) fn nonneg(v: Option<f64>, name: &str) -> Result<Option<f64>, String> {
    match v {
        Some(p) if p < 0.0 => Err(format!("field `{name}` is negative: {p:?}")),
        Some(p) if p > 0.0 => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// Parses an ISO 8601 / RFC 3339 timestamp (`2026-01-16T08:00:00+00:00`, with or without
/// offset — none means UTC — or a bare date meaning midnight UTC).
pub(crate) fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, fmt) {
            return Some(t.and_utc());
        }
    }
    parse_date(raw).map(|d| d.and_time(NaiveTime::MIN).and_utc())
}

/// Parses a date as `yyyymmdd`, `yyyy-mm-dd` or US `m/d/yy(yy)`.
pub(crate) fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim().trim_matches('"');
    if raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(raw, "%Y%m%d").ok();
    }
    if raw.contains('/') {
        // US order; a two-digit year is 20yy (chrono's %Y would read "17" as the year 17).
        let two_digit_year = raw.rsplit('/').next().is_some_and(|y| y.len() == 2);
        let fmt = if two_digit_year {
            "%m/%d/%y"
        } else {
            "%m/%d/%Y"
        };
        return NaiveDate::parse_from_str(raw, fmt).ok();
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// A wall-clock time in New York (the SPX clock) as UTC; `None` only for times that do not
/// exist (the spring-forward gap).
pub(crate) fn new_york(date: NaiveDate, hour: u32, minute: u32) -> Option<DateTime<Utc>> {
    let local = date.and_hms_opt(hour, minute, 0)?;
    New_York
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Remembers the last parsed value of a text field: chain files repeat the same expiry or
/// timestamp on consecutive rows, and date parsing (time zones in particular) is dear.
pub(crate) struct Memo<T: Clone> {
    key: String,
    value: Option<T>,
}

impl<T: Clone> Memo<T> {
    pub fn new() -> Self {
        Self {
            key: String::new(),
            value: None,
        }
    }

    /// `parse(raw)`, reusing the previous result when `raw` repeats.
    pub fn get(&mut self, raw: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        if self.value.is_none() || self.key != raw {
            self.key.clear();
            self.key.push_str(raw);
            self.value = parse(raw);
        }
        self.value.clone()
    }
}

/// A CSV reader over text that tolerates ragged rows (fields are trimmed by [`cell`] when read,
/// which is cheaper than trimming whole records).
pub(crate) fn csv_reader(text: &str, has_headers: bool) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(has_headers)
        .from_reader(text.as_bytes())
}

/// Reads the next record into `rec` (reusing its buffers): `Ok(false)` at the end, a
/// `Malformed` error naming the line for malformed CSV.
pub(crate) fn next_record(
    rdr: &mut csv::Reader<&[u8]>,
    rec: &mut csv::StringRecord,
    path: &Path,
    text: &str,
) -> Result<bool, IngestError> {
    rdr.read_record(rec).map_err(|e| {
        let line = e.position().map_or(0, |p| CsvLines::new(text).at(p.byte()));
        IngestError::malformed(path, line, None, e.to_string())
    })
}

/// The 1-based file lines of CSV records, found from their byte offsets.
///
/// `csv::Position::line` is one line short after CRLF line ends and after blank lines
/// (BurntSushi/rust-csv#395, #208), and real chain files come with CRLF line ends.
/// A record's byte offset is right but may point at the line ends before it, so they are
/// skipped before counting `\n`, `\r\n` and lone `\r` line breaks. Every chain reader names
/// lines this way, and so does `volfit iv`; it works on the raw bytes, so text that is not
/// UTF-8 is fine.
///
/// ```
/// use volfit::quotes::CsvLines;
/// let text = b"kind,price\r\ncall,1\r\n\r\nput,2\r\n";
/// let mut rdr = csv::ReaderBuilder::new().from_reader(&text[..]);
/// let mut lines = CsvLines::new(text);
/// let got: Vec<u64> = rdr
///     .byte_records()
///     .map(|r| lines.at(r.unwrap().position().unwrap().byte()))
///     .collect();
/// assert_eq!(got, [2, 4]); // line 3 is blank
/// ```
pub struct CsvLines<'a> {
    text: &'a [u8],
    /// Byte offset up to which breaks were counted.
    at: usize,
    /// The line at `at`.
    line: u64,
}

impl<'a> CsvLines<'a> {
    /// Line numbers for the CSV `text` (a `&str`, `&[u8]`, `Vec<u8>`, …), from line 1.
    pub fn new<T: AsRef<[u8]> + ?Sized>(text: &'a T) -> Self {
        Self {
            text: text.as_ref(),
            at: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after offset `byte` that is not a line end: for a
    /// record's `csv::Position::byte`, the line the record starts on. Cheap for increasing
    /// offsets (records in file order).
    pub fn at(&mut self, byte: u64) -> u64 {
        let t = self.text;
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(t.len());
        while start < t.len() && matches!(t[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.at {
            (self.at, self.line) = (0, 1);
        }
        let from = self.at;
        let breaks = t[from..start]
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && t.get(from + i + 1) != Some(&b'\n')))
            .count();
        self.line += breaks as u64;
        self.at = start;
        self.line
    }

    /// The line a record starts on (0 if the record has no position).
    pub(crate) fn of(&mut self, rec: &csv::StringRecord) -> u64 {
        rec.position().map_or(0, |p| self.at(p.byte()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short() {
        let long = "x".repeat(1000);
        assert!(excerpt(&long).len() < 50);
        assert_eq!(excerpt("é1"), "\"é1\"");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("20050917"), NaiveDate::from_ymd_opt(2005, 9, 17));
        assert_eq!(parse_date("4/26/17"), NaiveDate::from_ymd_opt(2017, 4, 26));
        assert_eq!(
            parse_datetime("2026-01-16T08:00:00+00:00")
                .unwrap()
                .to_rfc3339(),
            "2026-01-16T08:00:00+00:00"
        );
        // 16:00 New York in January is 21:00 UTC, in July 20:00 UTC.
        let d = NaiveDate::from_ymd_opt(2011, 1, 28).unwrap();
        assert_eq!(
            new_york(d, 16, 0).unwrap().to_rfc3339(),
            "2011-01-28T21:00:00+00:00"
        );
        let d = NaiveDate::from_ymd_opt(2011, 7, 29).unwrap();
        assert_eq!(
            new_york(d, 16, 0).unwrap().to_rfc3339(),
            "2011-07-29T20:00:00+00:00"
        );
    }

    #[test]
    fn lines_from_byte_offsets() {
        for text in [
            "a\r\nb\r\n\r\nc\r\n",
            "a\nb\n\nc\n",
            "a\rb\r\rc\r",
            "a\nb\r\n\nc",
        ] {
            let mut rdr = csv_reader(text, false);
            let mut lines = CsvLines::new(text);
            let got: Vec<u64> = rdr.records().map(|r| lines.of(&r.unwrap())).collect();
            assert_eq!(got, [1, 2, 4], "{text:?}");
        }
        // A quoted field across lines: the next record starts two lines later.
        let text = "\"a\r\nx\",b\r\nc,d\r\n";
        let mut lines = CsvLines::new(text);
        let got: Vec<u64> = csv_reader(text, false)
            .records()
            .map(|r| lines.of(&r.unwrap()))
            .collect();
        assert_eq!(got, [1, 3]);
    }
}
