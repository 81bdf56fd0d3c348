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
pub mod deribit;
pub mod deribit_api;
pub mod generic;
pub mod ivtable;
pub mod optionmetrics;
pub mod parity;
pub(crate) mod util;

use crate::black::OptionKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// Snapshot time, when the file says.
    pub as_of: Option<DateTime<Utc>>,
    /// Spot or index level, when the file gives it.
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
    #[error("{file}: cannot tell the format from the header {header:?}; pass one of {}", Format::NAMES.join(", "))]
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

/// Chain file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Sniff the format from the file's first lines.
    Auto,
    /// Deribit `get_book_summary_by_currency` (CSV snapshot or the API's JSON).
    Deribit,
    /// Deribit raw `get_order_book` rows.
    DeribitApi,
    /// CBOE delayed-quote table.
    Cboe,
    /// OptionMetrics raw quotes.
    Optionmetrics,
    /// Bid/ask implied-vol table.
    Ivtable,
    /// volfit's generic CSV.
    Csv,
}

impl Format {
    /// The names accepted by `FromStr` and the CLI.
    pub const NAMES: [&'static str; 7] = [
        "auto",
        "deribit",
        "deribit-api",
        "cboe",
        "optionmetrics",
        "ivtable",
        "csv",
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Deribit => "deribit",
            Format::DeribitApi => "deribit-api",
            Format::Cboe => "cboe",
            Format::Optionmetrics => "optionmetrics",
            Format::Ivtable => "ivtable",
            Format::Csv => "csv",
        }
    }

    /// Recognises a format from the first line of a file (and, for JSON, its first bytes).
    ///
    /// ```
    /// use volfit::quotes::Format;
    /// assert_eq!(Format::sniff("Expiry,Texp,Strike,Bid,Ask,Fwd,CallMid"), Some(Format::Ivtable));
    /// assert_eq!(Format::sniff("SPX (S&P 500 INDEX),1290.59,+7.24,"), Some(Format::Cboe));
    /// ```
    pub fn sniff(first_line: &str) -> Option<Format> {
        let line = first_line.trim_start_matches('\u{feff}').trim();
        if line.starts_with('{') || line.starts_with('[') {
            return Some(Format::Deribit);
        }
        let cols: Vec<String> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        let has = |c: &str| cols.iter().any(|x| x == c);
        if has("instrument_name") && has("underlying") && has("bid_price") {
            Some(Format::Deribit)
        } else if has("instrument_name") && has("best_bid_price") && has("mark_iv") {
            Some(Format::DeribitApi)
        } else if has("secid") && has("strike_price") && has("best_bid") {
            Some(Format::Optionmetrics)
        } else if has("texp") && has("strike") && has("bid") && has("ask") {
            Some(Format::Ivtable)
        } else if has("expiry") && has("strike") && has("kind") {
            Some(Format::Csv)
        } else if cols.len() >= 2 && cols[1].parse::<f64>().is_ok() && line.contains('(') {
            // CBOE: "SPX (S&P 500 INDEX),1290.59,+7.24,"
            Some(Format::Cboe)
        } else {
            None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        [
            Format::Auto,
            Format::Deribit,
            Format::DeribitApi,
            Format::Cboe,
            Format::Optionmetrics,
            Format::Ivtable,
            Format::Csv,
        ]
        .into_iter()
        .find(|f| f.name() == s)
        .ok_or_else(|| {
            format!(
                "unknown format {s:?}: expected one of {}",
                Format::NAMES.join(", ")
            )
        })
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
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_chains_from_str(&text, path, format)
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
    let format = match format {
        Format::Auto => {
            let first = text.lines().next().unwrap_or("");
            Format::sniff(first).ok_or_else(|| IngestError::UnknownFormat {
                file: path.to_path_buf(),
                header: first.chars().take(200).collect(),
            })?
        }
        f => f,
    };
    let (mut chains, report) = match format {
        Format::Deribit => deribit::read(text, path)?,
        Format::DeribitApi => deribit_api::read(text, path)?,
        Format::Cboe => cboe::read(text, path)?,
        Format::Optionmetrics => optionmetrics::read(text, path)?,
        Format::Ivtable => ivtable::read(text, path)?,
        Format::Csv => generic::read(text, path)?,
        Format::Auto => unreachable!("resolved above"),
    };
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
