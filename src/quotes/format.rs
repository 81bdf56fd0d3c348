//! Chain file formats, declared once: [`Format`] and ONE table of readers (name, header sniff,
//! reader). `FromStr`, the names in errors, the CLI's `--format` values, the Python package's
//! `format=` and the dispatch of [`read_chains`](super::read_chains) all derive from it.
//!
//! Adding a reader: its module, a variant of [`Format`], and its row in `READERS`.

use super::{Chain, IngestError, IngestReport};
use super::{cboe, consensus, deribit, deribit_api, generic, ivtable, optionmetrics};
use crate::names::{UnknownName, parse_name};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Chain file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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

/// The first line of a file, split for sniffing: the line (BOM and spaces trimmed) and its
/// comma-separated cells, unquoted and lower-cased.
pub(crate) struct Header<'a> {
    line: &'a str,
    cols: Vec<String>,
}

impl Header<'_> {
    fn has(&self, c: &str) -> bool {
        self.cols.iter().any(|x| x == c)
    }
}

/// A reader: its format, its name, how it recognises a header, how many lines its header
/// takes, and how it reads text.
pub(crate) struct Reader {
    pub format: Format,
    pub name: &'static str,
    sniff: fn(&Header<'_>) -> bool,
    /// Lines before the first data row (title, time and column lines).
    pub header_lines: u64,
    /// The columns of the values its rows share ([`super::consensus`]).
    pub shared: consensus::Columns,
    pub read: fn(&str, &Path) -> Result<(Vec<Chain>, IngestReport), IngestError>,
}

/// Every reader, in sniffing order (the first whose sniff accepts a header reads the file).
const READERS: [Reader; 6] = [
    Reader {
        format: Format::Deribit,
        name: "deribit",
        sniff: |h| {
            h.line.starts_with('{')
                || h.line.starts_with('[')
                || (h.has("instrument_name") && h.has("underlying") && h.has("bid_price"))
        },
        header_lines: 1,
        shared: consensus::Columns {
            time: "timestamp|creation_timestamp",
            spot: "index_price|estimated_delivery_price",
            t: "",
            forward: "underlying|underlying_price",
            discount: "",
        },
        read: deribit::read,
    },
    Reader {
        format: Format::DeribitApi,
        name: "deribit-api",
        sniff: |h| h.has("instrument_name") && h.has("best_bid_price") && h.has("mark_iv"),
        header_lines: 1,
        shared: consensus::Columns {
            time: "timestamp",
            spot: "index_price",
            t: "",
            forward: "underlying_price",
            discount: "",
        },
        read: deribit_api::read,
    },
    Reader {
        format: Format::Optionmetrics,
        name: "optionmetrics",
        sniff: |h| h.has("secid") && h.has("strike_price") && h.has("best_bid"),
        header_lines: 1,
        shared: consensus::Columns {
            time: "date",
            spot: "",
            t: "",
            forward: "",
            discount: "",
        },
        read: optionmetrics::read,
    },
    Reader {
        format: Format::Ivtable,
        name: "ivtable",
        sniff: |h| h.has("texp") && h.has("strike") && h.has("bid") && h.has("ask"),
        header_lines: 1,
        shared: consensus::Columns {
            time: "",
            spot: "",
            t: "Texp",
            forward: "Fwd",
            discount: "PV",
        },
        read: ivtable::read,
    },
    Reader {
        format: Format::Csv,
        name: "csv",
        sniff: |h| h.has("expiry") && h.has("strike") && h.has("kind"),
        header_lines: 1,
        shared: consensus::Columns {
            time: "as_of",
            spot: "spot",
            t: "t",
            forward: "forward",
            discount: "discount",
        },
        read: generic::read,
    },
    Reader {
        format: Format::Cboe,
        name: "cboe",
        // "SPX (S&P 500 INDEX),1290.59,+7.24,"
        sniff: |h| h.cols.len() >= 2 && h.cols[1].parse::<f64>().is_ok() && h.line.contains('('),
        header_lines: 3,
        shared: consensus::Columns {
            time: "",
            spot: "",
            t: "",
            forward: "",
            discount: "",
        },
        read: cboe::read,
    },
];

/// The reader of a format (`None` for [`Format::Auto`]).
pub(crate) fn reader(f: Format) -> Option<&'static Reader> {
    READERS.iter().find(|r| r.format == f)
}

impl Format {
    /// The names accepted by `FromStr` and the CLI: `auto`, then every reader's.
    pub fn names() -> Vec<&'static str> {
        std::iter::once("auto")
            .chain(READERS.iter().map(|r| r.name))
            .collect()
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        reader(self).map_or("auto", |r| r.name)
    }

    /// Recognises a format from the first line of a file (and, for JSON, its first bytes).
    ///
    /// ```
    /// use volfit::quotes::Format;
    /// assert_eq!(Format::sniff("Expiry,Texp,Strike,Bid,Ask,Fwd,CallMid"), Some(Format::Ivtable));
    /// assert_eq!(Format::sniff("SPX (S&P 500 INDEX),1290.59,+7.24,"), Some(Format::Cboe));
    /// assert_eq!(Format::sniff("hello"), None);
    /// ```
    pub fn sniff(first_line: &str) -> Option<Format> {
        let line = first_line.trim_start_matches('\u{feff}').trim();
        let cols = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        let h = Header { line, cols };
        READERS.iter().find(|r| (r.sniff)(&h)).map(|r| r.format)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = std::iter::once((Format::Auto, "auto", &[] as &[&str]))
            .chain(READERS.iter().map(|r| (r.format, r.name, &[] as &[&str])))
            .collect();
        parse_name("format", s, &items)
    }
}
