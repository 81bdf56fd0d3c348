//! Option chains in: readers for each file format, the quote and chain types, the row-level
//! account of what was read and what was rejected, and put–call-parity forwards.
//!
//! Every reader turns one file into [`Chain`]s (one per underlying) of [`OptionQuote`]s and an
//! [`IngestReport`] that accounts for every data row: it became a quote, or it is listed in
//! `rejected` with its line and the reason. A file that cannot be read as its format at all is an
//! [`IngestError`] naming the file, line and column. Readers never panic on bad input.
//!
//! Formats ([`Format`], sniffed from the header by [`Format::Auto`]):
//!
//! | format | files | premiums | forward |
//! |---|---|---|---|
//! | `deribit` | `get_book_summary_by_currency` as CSV or JSON | coin | `underlying` column |
//! | `deribit-api` | raw `get_order_book` rows | coin (IVs in percent) | `underlying_price` |
//! | `cboe` | CBOE delayed-quote download | index points, discounted | parity |
//! | `optionmetrics` | OptionMetrics raw quotes (strike × 1000) | index points, discounted | parity |
//! | `ivtable` | bid/ask implied-vol tables (`Expiry,Texp,Strike,Bid,Ask,Fwd`) | implied vols | `Fwd` |
//! | `csv` | volfit's generic CSV (see [`generic`]) | as stated | optional column / parity |

pub mod cboe;
pub mod consensus;
pub mod deribit;
pub mod deribit_api;
mod format;
pub mod generic;
pub mod ivtable;
pub mod optionmetrics;
pub mod parity;
mod screen;
pub(crate) mod util;

pub use format::Format;
pub use util::CsvLines;

use crate::black::OptionKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One option quote as the file gave it, with the line it came from.
///
/// Premiums are in the chain's [`Premium`] unit and **as quoted** (discounted for cash-settled
/// index options, coin for inverse options); `None` means no quote on that side (an empty cell
/// or a zero bid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionQuote {
    /// Instrument name or symbol as in the file.
    pub symbol: String,
    /// Expiry instant (UTC), with the settlement convention of the product applied.
    pub expiry: DateTime<Utc>,
    /// Strike in quote currency.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionKind,
    /// Best bid premium.
    pub bid: Option<f64>,
    /// Best ask premium.
    pub ask: Option<f64>,
    /// Exchange mark price, where the file has one.
    pub mark: Option<f64>,
    /// Bid implied volatility (decimal) where the file gives vols instead of or besides prices.
    pub bid_iv: Option<f64>,
    /// Ask implied volatility (decimal).
    pub ask_iv: Option<f64>,
    /// The exchange's mark implied volatility (decimal), where given.
    pub mark_iv: Option<f64>,
    /// Forward for this expiry when the file gives one.
    pub forward: Option<f64>,
    /// Discount factor to expiry when the file gives one.
    pub discount: Option<f64>,
    /// Time to expiry in years when the file gives it (otherwise computed from the dates).
    pub t: Option<f64>,
    /// The row's own quote time, when the file gives one per row (the chain's snapshot time is
    /// their consensus, [`Chain::as_of`]).
    pub as_of: Option<DateTime<Utc>>,
    /// The row's spot or index level, when the file gives one per row.
    pub spot: Option<f64>,
    /// 1-based line of the file the quote came from.
    pub line: u64,
}

/// The unit of the premiums in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Premium {
    /// Premiums in quote currency (e.g. index points, USD).
    Quote,
    /// Premiums in the underlying coin (inverse options): quote-currency premium = coin × F.
    Coin,
    /// The file carries implied volatilities, not premiums.
    ImpliedVol,
}

/// All quotes of one underlying from one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// Underlying name (`BTC`, `ETH`, `SPX`, …).
    pub underlying: String,
    /// Snapshot time, when the file says: the file's own (a CBOE time line, a date in the file
    /// name), or the latest quote time among the rows that agree on it ([`consensus`]).
    pub as_of: Option<DateTime<Utc>>,
    /// Spot or index level, when the file gives it: the file's own, or the spot of the latest
    /// row among those that agree on it ([`consensus`]).
    pub spot: Option<f64>,
    /// Unit of the premiums.
    pub premium: Premium,
    /// Minimum price increment of the premiums, used by the one-tick-bid filter.
    pub tick: Option<f64>,
    /// The format the file was read as.
    pub format: Format,
    /// The file.
    pub source: PathBuf,
    /// The quotes, in file order.
    pub quotes: Vec<OptionQuote>,
}

/// A data row that did not become a quote, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// 1-based line in the file.
    pub line: u64,
    /// Why it was rejected (names the field where one is at fault).
    pub reason: String,
}

/// The account of one file: every data row is a quote or a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// The file.
    pub source: PathBuf,
    /// The format it was read as.
    pub format: Format,
    /// Data rows read (header and preamble lines excluded). A CBOE line holds a call and a
    /// put and counts as two rows.
    pub rows: usize,
    /// Rows that became quotes.
    pub quotes: usize,
    /// Rows that did not, with line and reason.
    pub rejected: Vec<Rejection>,
}

impl IngestReport {
    pub(crate) fn new(source: &Path, format: Format) -> Self {
        Self {
            source: source.to_path_buf(),
            format,
            rows: 0,
            quotes: 0,
            rejected: Vec::new(),
        }
    }

    pub(crate) fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected.push(Rejection {
            line,
            reason: reason.into(),
        });
    }

    /// Why the file gave no chain: no data rows, or all rejected with the first three
    /// rejections' lines and reasons.
    ///
    /// ```
    /// use volfit::quotes::{Format, read_chains_from_str};
    /// let text = "expiry,strike,kind,bid_iv,ask_iv,forward,as_of\n\
    ///             2030-01-01,-1,call,0.2,0.21,100,2029-01-01\n";
    /// let (chains, ingest) =
    ///     read_chains_from_str(text, std::path::Path::new("x.csv"), Format::Csv).unwrap();
    /// assert!(chains.is_empty());
    /// assert!(ingest.why_empty().starts_with("all 1 rows rejected (line 2: "));
    /// ```
    #[must_use]
    pub fn why_empty(&self) -> String {
        if self.rows == 0 {
            return "the file has no data rows".into();
        }
        let first: Vec<String> = self
            .rejected
            .iter()
            .take(3)
            .map(|r| format!("line {}: {}", r.line, r.reason))
            .collect();
        format!(
            "all {} rows rejected ({}{})",
            self.rows,
            first.join("; "),
            match self.rejected.len() {
                n if n > 3 => format!("; and {} more", n - 3),
                _ => String::new(),
            }
        )
    }
}

/// A file that cannot be read as the requested format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's structure is not the format's (missing column, malformed CSV/JSON, …).
    #[error("{file}: line {line}{}: {reason}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Malformed {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column at fault, if one is.
        column: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// `Format::Auto` could not recognise the file.
    #[error("{file}: cannot tell the format from the header {header:?}; pass one of {}", Format::names().join(", "))]
    UnknownFormat {
        /// The file.
        file: PathBuf,
        /// Its first line.
        header: String,
    },
    /// The file holds several underlyings where one was expected.
    #[error("{file}: holds several underlyings ({}); choose one (e.g. --underlying {})", found.join(", "), found[0])]
    SeveralUnderlyings {
        /// The file.
        file: PathBuf,
        /// The underlyings found.
        found: Vec<String>,
    },
    /// A requested underlying is not in the file.
    #[error("{file}: no quotes on underlying {wanted} (found {})", found.join(", "))]
    NoSuchUnderlying {
        /// The file.
        file: PathBuf,
        /// The underlying asked for.
        wanted: String,
        /// The underlyings found.
        found: Vec<String>,
    },
}

impl IngestError {
    pub(crate) fn malformed(
        file: &Path,
        line: u64,
        column: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        IngestError::Malformed {
            file: file.to_path_buf(),
            line,
            column: column.map(str::to_string),
            reason: reason.into(),
        }
    }
}

/// Reads every underlying in a chain file: one [`Chain`] per underlying, sorted by name, and
/// the account of every row.
///
/// # Errors
/// [`IngestError`] when the file cannot be opened, its format cannot be recognised
/// (`Format::Auto`), or its structure is not the format's. Bad rows are not errors: they are
/// listed in the report.
pub fn read_chains(
    path: impl AsRef<Path>,
    format: Format,
) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_chains_from_bytes(&bytes, path, format)
}

/// [`read_chains`] on text already in memory; `path` only names the source in reports and errors.
///
/// # Errors
/// As [`read_chains`].
pub fn read_chains_from_str(
    text: &str,
    path: &Path,
    format: Format,
) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    read_chains_from_bytes(text.as_bytes(), path, format)
}

/// [`read_chains`] on a file's bytes already in memory; `path` only names the source in
/// reports and errors.
///
/// Before the reader runs, every data line is screened: a line that is not valid UTF-8, or
/// whose quote `"` never closes on the line, is rejected by itself (line, column and field in
/// the reason) and the rest of the file is read as usual; it counts as one row. After the
/// reader, values that many rows share (snapshot time, spot; per expiry the time to expiry,
/// forward and discount factor) are their rows' [`consensus`], and rows that disagree are
/// rejected with the field and both values.
///
/// # Errors
/// As [`read_chains`]; a header line that fails a screen is [`IngestError::Malformed`].
pub fn read_chains_from_bytes(
    bytes: &[u8],
    path: &Path,
    format: Format,
) -> Result<(Vec<Chain>, IngestReport), IngestError> {
    // The first non-blank line (the CSV readers skip blank lines before the header too).
    let lead = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[lead..];
    let first_end = rest
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(rest.len());
    let first = String::from_utf8_lossy(&rest[..first_end]);
    let reader = match format {
        Format::Auto => Format::sniff(&first),
        f => Some(f),
    }
    .and_then(format::reader)
    .ok_or_else(|| IngestError::UnknownFormat {
        file: path.to_path_buf(),
        header: first.chars().take(200).collect(),
    })?;
    let json = {
        let start = first.trim_start_matches('\u{feff}').trim_start();
        start.starts_with('{') || start.starts_with('[')
    };
    let screened = screen::screen(bytes, reader.header_lines, !json)
        .map_err(|bad| IngestError::malformed(path, bad.line, None, bad.reason))?;
    let (mut chains, mut report) = (reader.read)(&screened.text, path)?;
    report.rows += screened.rejected.len();
    report.rejected.extend(screened.rejected);
    consensus::reconcile(&mut chains, &mut report, &reader.shared);
    chains.sort_by(|a, b| a.underlying.cmp(&b.underlying));
    debug_assert_eq!(
        report.rows,
        report.quotes + report.rejected.len(),
        "every row accounted for"
    );
    Ok((chains, report))
}

/// Reads a chain file holding one underlying.
///
/// # Errors
/// As [`read_chains`], and [`IngestError::SeveralUnderlyings`] when the file holds several
/// underlyings (use [`read_chain_for`] or [`read_chains`] then).
///
/// ```no_run
/// use volfit::quotes::{read_chain, Format};
/// let (chain, report) = read_chain("../shared/data/spx_cboe_2011/SPX-Options-24jan2011.csv", Format::Auto)?;
/// println!("{}: {} quotes, {} rows rejected", chain.underlying, chain.quotes.len(), report.rejected.len());
/// # Ok::<(), volfit::quotes::IngestError>(())
/// ```
pub fn read_chain(
    path: impl AsRef<Path>,
    format: Format,
) -> Result<(Chain, IngestReport), IngestError> {
    pick(path.as_ref(), format, None)
}

/// Reads the quotes on one underlying (matched case-insensitively) from a chain file.
///
/// # Errors
/// As [`read_chains`], and [`IngestError::NoSuchUnderlying`] when it is not in the file.
pub fn read_chain_for(
    path: impl AsRef<Path>,
    format: Format,
    underlying: &str,
) -> Result<(Chain, IngestReport), IngestError> {
    pick(path.as_ref(), format, Some(underlying))
}

fn pick(
    path: &Path,
    format: Format,
    underlying: Option<&str>,
) -> Result<(Chain, IngestReport), IngestError> {
    let (chains, report) = read_chains(path, format)?;
    let found: Vec<String> = chains.iter().map(|c| c.underlying.clone()).collect();
    let chain = match underlying {
        Some(u) => chains
            .into_iter()
            .find(|c| c.underlying.eq_ignore_ascii_case(u))
            .ok_or_else(|| IngestError::NoSuchUnderlying {
                file: path.to_path_buf(),
                wanted: u.to_string(),
                found: found.clone(),
            })?,
        None if chains.len() == 1 => chains.into_iter().next().expect("one chain"),
        None if chains.is_empty() => {
            return Err(IngestError::malformed(
                path,
                1,
                None,
                "no valid quote in the file",
            ));
        }
        None => {
            return Err(IngestError::SeveralUnderlyings {
                file: path.to_path_buf(),
                found,
            });
        }
    };
    Ok((chain, report))
}
