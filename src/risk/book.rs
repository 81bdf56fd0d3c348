//! Books of positions (`BOOK.csv`) and their greeks.
//!
//! **The file.** A CSV file with a header row; header names are matched ignoring case and
//! surrounding blanks. Each row is one position:
//! * `instrument` (or `instrument_name`): an exchange instrument name, Deribit's
//!   `BTC-27MAR26-100000-C` ([`parse_instrument`]), giving the underlying, expiry
//!   (08:00 UTC, Deribit's), strike and kind; **or** the three columns `kind` (`call`/`put`/`c`/`p`,
//!   any case), `strike` (quote currency, finite and positive) and `expiry`;
//! * `quantity`: number of options, finite (negative: short; zero is kept).
//!
//! A row with a non-empty `instrument` cell is read from the name; if the same row also fills
//! `kind`, `strike` or `expiry`, they must agree with the name (otherwise the row is rejected:
//! one of them is wrong). Other columns are ignored.
//!
//! **Expiry forms** (the `expiry` column): RFC 3339 (`2026-03-27T08:00:00Z`, any offset,
//! converted to UTC); a date `YYYY-MM-DD`; a Deribit date `27MAR26` (also `5JUN20`). A
//! date-only expiry means **08:00 UTC** on that date — Deribit's expiry time, the same as the
//! instrument names; give the time in RFC 3339 for other venues (e.g. `…T21:00:00Z`).
//!
//! **Errors.** A row that cannot be read (unknown instrument name, bad number, non-finite
//! quantity, missing field, invalid UTF-8) is a [`RejectedBookRow`] naming the file, line,
//! field and reason, and is skipped. A file without a usable header (no `quantity` column,
//! or neither `instrument` nor all of `kind, strike, expiry`) is a [`BookError::Header`]
//! naming the file.
//!
//! **Positions on a surface** ([`BookEntry::position`]): the time to expiry is the surface's
//! [`FittedSurface::year_fraction`] from its `as_of` under its day count. A position that has
//! expired at the surface's `as_of`, or whose underlying (from the instrument name) is not the
//! surface's, is an error naming the line — never a silent zero.
//!
//! **Book risk** ([`book_risk`]): per position, quantity × the
//! [`option_greeks`](crate::risk::greeks::option_greeks) numbers, in the surface's quote
//! currency, undiscounted: `price` (quote currency), `delta = ∂V/∂F(T)` (quote currency per
//! unit of the expiry's forward), `gamma = ∂²V/∂F²`, `vega` per 1.00 of vol (100 vol points),
//! `theta` per year (divide by 365.25 for a calendar day), `vanna = ∂²V/∂F∂σ`,
//! `volga = ∂²V/∂σ²`. Totals are the sums. `vega_by_expiry` sums the positions of each expiry
//! (all their greeks, the vega among them), so its vegas sum to the total vega.
//!
//! **Inverse books.** A surface whose underlying is `BTC` or `ETH` (volfit's Deribit readers
//! name chains by currency) is of Deribit's coin-settled options: [`book_risk`] then also gives
//! each position's coin greeks ([`inverse_greeks`]: value `C = V/F` in coin) and their totals.

use crate::black::{Greeks, OptionKind};
use crate::quotes::deribit::parse_instrument;
use crate::risk::greeks::{Dynamics, Position, inverse_greeks, option_greeks, scale};
use crate::surface::{FittedSurface, QueryError, VolSurface};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One position of a book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookEntry {
    /// The instrument name as written, or, for a `kind, strike, expiry` row, a name built from
    /// them: `call 100000 2026-03-27T08:00:00Z`.
    pub instrument: String,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike (quote currency).
    pub strike: f64,
    /// Expiry instant (UTC).
    pub expiry: DateTime<Utc>,
    /// Number of options (negative: short).
    pub quantity: f64,
    /// 1-based line of the row in its file.
    pub line: u64,
}

/// The positions of a `BOOK.csv`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    /// The positions.
    pub entries: Vec<BookEntry>,
}

/// A row of a book file that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedBookRow {
    /// The file (as given).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// The field at fault (`instrument`, `kind`, `strike`, `expiry`, `quantity`, or `row`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for RejectedBookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: field `{}`: {}",
            self.file, self.line, self.field, self.reason
        )
    }
}

/// Why a book could not be read, or a position not placed on a surface.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// The file could not be read.
    #[error("{file}: cannot read the book: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has no usable header.
    #[error("{file}: not a book: {reason}")]
    Header {
        /// The file.
        file: String,
        /// What is missing.
        reason: String,
    },
    /// The surface has no `as_of`, so no time to expiry.
    #[error("line {line} ({instrument}): the surface has no as_of time, so no time to expiry")]
    NoAsOf {
        /// Line of the position.
        line: u64,
        /// Its instrument.
        instrument: String,
    },
    /// The position has expired at the surface's `as_of`.
    #[error(
        "line {line} ({instrument}): expired at {expiry}, not after the surface's as_of {as_of}"
    )]
    Expired {
        /// Line of the position.
        line: u64,
        /// Its instrument.
        instrument: String,
        /// Its expiry (RFC 3339).
        expiry: String,
        /// The surface's `as_of` (RFC 3339).
        as_of: String,
    },
    /// The instrument's underlying is not the surface's.
    #[error("line {line} ({instrument}): underlying {book} but the surface is of {surface}")]
    Underlying {
        /// Line of the position.
        line: u64,
        /// Its instrument.
        instrument: String,
        /// The underlying in the instrument name.
        book: String,
        /// The surface's underlying.
        surface: String,
    },
    /// The surface has no price or greeks for the position.
    #[error("line {line} ({instrument}): {source}")]
    Greeks {
        /// Line of the position.
        line: u64,
        /// Its instrument.
        instrument: String,
        /// Why.
        source: QueryError,
    },
}

/// Reads a book file (see the [module docs](self) for the layout).
///
/// # Errors
/// [`BookError::Io`] if the file cannot be read, [`BookError::Header`] if it has no usable
/// header. Bad rows are returned as [`RejectedBookRow`]s, not errors.
pub fn read_book(path: &Path) -> Result<(Book, Vec<RejectedBookRow>), BookError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| BookError::Io {
        file: name.clone(),
        source,
    })?;
    read_book_from_bytes(&name, &bytes)
}

/// Column indices of a book's header.
struct Cols {
    instrument: Option<usize>,
    kind: Option<usize>,
    strike: Option<usize>,
    expiry: Option<usize>,
    quantity: usize,
}

/// Reads a book from the bytes of a file called `name` (named in rejections and errors).
///
/// ```
/// use volfit::risk::book::read_book_from_bytes;
/// let text = "Instrument,Quantity\nBTC-27MAR26-100000-C,2\nBTC-27MAR26-1e5-X,1\n\
///             BTC-27MAR26-90000-P,-1.5\n";
/// let (book, rejected) = read_book_from_bytes("book.csv", text.as_bytes())?;
/// assert_eq!(book.entries.len(), 2);
/// assert_eq!((book.entries[1].strike, book.entries[1].quantity, book.entries[1].line), (90_000.0, -1.5, 4));
/// assert_eq!(book.entries[0].expiry.to_rfc3339(), "2026-03-27T08:00:00+00:00");
/// assert_eq!((rejected[0].line, rejected[0].field.as_str()), (3, "instrument"));
/// # Ok::<(), volfit::risk::book::BookError>(())
/// ```
///
/// # Errors
/// [`BookError::Header`] if the bytes have no usable header.
pub fn read_book_from_bytes(
    name: &str,
    bytes: &[u8],
) -> Result<(Book, Vec<RejectedBookRow>), BookError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let header_err = |reason: &str| BookError::Header {
        file: name.to_string(),
        reason: reason.to_string(),
    };
    let mut rec = csv::ByteRecord::new();
    let header = loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return Err(header_err("the file is empty (no header row)")),
            Ok(true) if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) => {}
            Ok(true) => break rec.clone(),
            Err(e) => return Err(header_err(&format!("the header row is not CSV: {e}"))),
        }
    };
    let names: Vec<String> = header
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase())
        .collect();
    let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
    let Some(quantity) = find(&["quantity"]) else {
        return Err(header_err(&format!(
            "no `quantity` column in the header ({})",
            excerpt(&names.join(","))
        )));
    };
    let cols = Cols {
        instrument: find(&["instrument", "instrument_name"]),
        kind: find(&["kind"]),
        strike: find(&["strike"]),
        expiry: find(&["expiry"]),
        quantity,
    };
    if cols.instrument.is_none()
        && (cols.kind.is_none() || cols.strike.is_none() || cols.expiry.is_none())
    {
        return Err(header_err(
            "neither an `instrument` column nor all of `kind`, `strike`, `expiry`",
        ));
    }
    let mut book = Book::default();
    let mut rejected = Vec::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map_or(line, csv::Position::line);
                if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                match read_row(&rec, &cols, line) {
                    Ok(entry) => book.entries.push(entry),
                    Err((field, reason)) => rejected.push(RejectedBookRow {
                        file: name.to_string(),
                        line,
                        field: field.to_string(),
                        reason,
                    }),
                }
            }
            Err(e) => {
                let line = e.position().map_or(line, csv::Position::line);
                rejected.push(RejectedBookRow {
                    file: name.to_string(),
                    line,
                    field: "row".into(),
                    reason: format!("not CSV: {e}"),
                });
                if rdr.is_done() {
                    break;
                }
            }
        }
    }
    Ok((book, rejected))
}

/// At most 40 characters of `raw`, for messages.
fn excerpt(raw: &str) -> String {
    let s: String = raw.chars().take(40).collect();
    if s.len() < raw.len() {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// The trimmed text of column `col`, `Ok(None)` when absent or blank.
fn text<'r>(
    rec: &'r csv::ByteRecord,
    col: Option<usize>,
    field: &'static str,
) -> Result<Option<&'r str>, (&'static str, String)> {
    let Some(raw) = col.and_then(|c| rec.get(c)) else {
        return Ok(None);
    };
    let s = std::str::from_utf8(raw)
        .map_err(|_| (field, "is not valid UTF-8".to_string()))?
        .trim();
    Ok((!s.is_empty()).then_some(s))
}

/// Parses an `expiry` cell (RFC 3339, `YYYY-MM-DD`, Deribit `27MAR26`; a date at 08:00 UTC).
fn parse_expiry(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(d.and_hms_opt(8, 0, 0)?.and_utc());
    }
    if !raw.contains('-') {
        return parse_instrument(&format!("X-{}-1-C", raw.to_ascii_uppercase())).map(|i| i.1);
    }
    None
}

/// One data row, or the field at fault and why.
fn read_row(
    rec: &csv::ByteRecord,
    cols: &Cols,
    line: u64,
) -> Result<BookEntry, (&'static str, String)> {
    let quantity = match text(rec, Some(cols.quantity), "quantity")? {
        None => return Err(("quantity", "missing".into())),
        Some(q) => match q.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            Ok(_) => return Err(("quantity", format!("{} is not finite", excerpt(q)))),
            Err(_) => return Err(("quantity", format!("{} is not a number", excerpt(q)))),
        },
    };
    let kind = text(rec, cols.kind, "kind")?
        .map(|k| {
            k.parse::<OptionKind>()
                .map_err(|_| ("kind", format!("{} is not call/put/c/p", excerpt(k))))
        })
        .transpose()?;
    let strike = text(rec, cols.strike, "strike")?
        .map(|s| match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            Ok(_) => Err((
                "strike",
                format!("{} is not finite and positive", excerpt(s)),
            )),
            Err(_) => Err(("strike", format!("{} is not a number", excerpt(s)))),
        })
        .transpose()?;
    let expiry = text(rec, cols.expiry, "expiry")?
        .map(|e| {
            parse_expiry(e).ok_or((
                "expiry",
                format!(
                    "{} is not RFC 3339, YYYY-MM-DD or a Deribit date like 27MAR26",
                    excerpt(e)
                ),
            ))
        })
        .transpose()?;
    if let Some(name) = text(rec, cols.instrument, "instrument")? {
        let Some((_, expiry_i, strike_i, kind_i)) = parse_instrument(name) else {
            return Err((
                "instrument",
                format!(
                    "{} is not an instrument name like BTC-27MAR26-100000-C",
                    excerpt(name)
                ),
            ));
        };
        if kind.is_some_and(|k| k != kind_i) {
            return Err((
                "kind",
                format!("disagrees with the instrument name's {kind_i}"),
            ));
        }
        if strike.is_some_and(|s| (s / strike_i - 1.0).abs() > 1e-12) {
            return Err((
                "strike",
                format!("disagrees with the instrument name's {strike_i}"),
            ));
        }
        if expiry.is_some_and(|e| e != expiry_i) {
            return Err((
                "expiry",
                format!(
                    "disagrees with the instrument name's {}",
                    expiry_i.to_rfc3339()
                ),
            ));
        }
        if !(strike_i.is_finite() && strike_i > 0.0) {
            return Err((
                "instrument",
                format!("{}: the strike is not finite and positive", excerpt(name)),
            ));
        }
        return Ok(BookEntry {
            instrument: name.to_string(),
            kind: kind_i,
            strike: strike_i,
            expiry: expiry_i,
            quantity,
            line,
        });
    }
    let missing = |f: &'static str| {
        let why = if cols.instrument.is_some() {
            "missing (and no instrument name)"
        } else {
            "missing"
        };
        (f, why.to_string())
    };
    let kind = kind.ok_or_else(|| missing("kind"))?;
    let strike = strike.ok_or_else(|| missing("strike"))?;
    let expiry = expiry.ok_or_else(|| missing("expiry"))?;
    Ok(BookEntry {
        instrument: format!(
            "{kind} {strike} {}",
            expiry.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
        kind,
        strike,
        expiry,
        quantity,
        line,
    })
}

impl BookEntry {
    /// The underlying named by the instrument (`BTC` of `BTC-27MAR26-100000-C`); `None` for a
    /// `kind, strike, expiry` row.
    #[must_use]
    pub fn underlying(&self) -> Option<String> {
        parse_instrument(&self.instrument).map(|i| i.0)
    }

    /// The position on `surface`: `t` is [`FittedSurface::year_fraction`] of the expiry.
    ///
    /// # Errors
    /// [`BookError::Underlying`] if the instrument's underlying is not the surface's,
    /// [`BookError::NoAsOf`] if the surface has no `as_of`, [`BookError::Expired`] if the
    /// expiry is not after it; each names the line.
    pub fn position(&self, surface: &FittedSurface) -> Result<Position, BookError> {
        if let Some(u) = self.underlying()
            && !u.eq_ignore_ascii_case(surface.underlying())
        {
            return Err(BookError::Underlying {
                line: self.line,
                instrument: self.instrument.clone(),
                book: u,
                surface: surface.underlying().to_string(),
            });
        }
        let Some(as_of) = surface.as_of() else {
            return Err(BookError::NoAsOf {
                line: self.line,
                instrument: self.instrument.clone(),
            });
        };
        let expired = || BookError::Expired {
            line: self.line,
            instrument: self.instrument.clone(),
            expiry: self.expiry.to_rfc3339(),
            as_of: as_of.to_rfc3339(),
        };
        if self.expiry <= as_of {
            return Err(expired());
        }
        let t = surface.year_fraction(self.expiry).ok_or_else(expired)?;
        Ok(Position {
            kind: self.kind,
            strike: self.strike,
            t,
            quantity: self.quantity,
        })
    }
}

impl Book {
    /// Every entry's [`BookEntry::position`] on `surface`, in order.
    ///
    /// # Errors
    /// The first entry's error.
    pub fn positions(&self, surface: &FittedSurface) -> Result<Vec<Position>, BookError> {
        self.entries.iter().map(|e| e.position(surface)).collect()
    }
}

/// Whether a surface is of coin-settled (inverse) options: its underlying is `BTC` or `ETH`
/// (Deribit's option currencies, which volfit's Deribit readers use as the chain's name).
#[must_use]
pub fn is_inverse(surface: &FittedSurface) -> bool {
    matches!(
        surface.underlying().to_ascii_uppercase().as_str(),
        "BTC" | "ETH"
    )
}

/// Risk of one position: quantity × the per-option numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionRisk {
    /// The instrument (as in [`BookEntry::instrument`]).
    pub instrument: String,
    /// Line in the book file.
    pub line: u64,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike.
    pub strike: f64,
    /// Expiry.
    pub expiry: DateTime<Utc>,
    /// Time to expiry (years, the surface's clock).
    pub t: f64,
    /// Number of options.
    pub quantity: f64,
    /// The surface's forward at the expiry.
    pub forward: f64,
    /// The surface's Black vol at the strike.
    pub vol: f64,
    /// Price and greeks of the position (see the [module docs](self) for units).
    #[serde(flatten)]
    pub greeks: Greeks,
    /// Coin greeks of the position (inverse surfaces only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin: Option<Greeks>,
}

/// Greeks of the positions of one expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryRisk {
    /// The expiry.
    pub expiry: DateTime<Utc>,
    /// Its time to expiry (years).
    pub t: f64,
    /// Number of positions.
    pub positions: usize,
    /// Sums of the positions' greeks (`vega` is the expiry's vega).
    #[serde(flatten)]
    pub greeks: Greeks,
}

/// Greeks of a book on a surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookRisk {
    /// The surface's underlying.
    pub underlying: String,
    /// The surface's `as_of`.
    pub as_of: Option<DateTime<Utc>>,
    /// The smile dynamics.
    pub dynamics: Dynamics,
    /// Whether the book is of inverse (coin-settled) options ([`is_inverse`]).
    pub inverse: bool,
    /// Per position, in book order.
    pub positions: Vec<PositionRisk>,
    /// Sums over the positions.
    pub totals: Greeks,
    /// Sums of the coin greeks (inverse books only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin_totals: Option<Greeks>,
    /// Per expiry, earliest first: the sums of its positions.
    pub vega_by_expiry: Vec<ExpiryRisk>,
}

/// Field-by-field sum.
fn add(a: &Greeks, b: &Greeks) -> Greeks {
    Greeks {
        price: a.price + b.price,
        delta: a.delta + b.delta,
        gamma: a.gamma + b.gamma,
        vega: a.vega + b.vega,
        theta: a.theta + b.theta,
        vanna: a.vanna + b.vanna,
        volga: a.volga + b.volga,
    }
}

/// All zero: the start of a sum.
const ZERO: Greeks = Greeks {
    price: 0.0,
    delta: 0.0,
    gamma: 0.0,
    vega: 0.0,
    theta: 0.0,
    vanna: 0.0,
    volga: 0.0,
};

/// Greeks of every position of `book` on `surface` under `dynamics`, their totals and sums
/// per expiry (definitions and units in the [module docs](self); the per-option numbers are
/// [`option_greeks`], after Derman 1999 and Bergomi 2016 for the dynamics, and for inverse
/// surfaces [`inverse_greeks`]).
///
/// # Errors
/// The first position's [`BookEntry::position`] error, or [`BookError::Greeks`] where the
/// surface has no greeks for it.
pub fn book_risk(
    surface: &FittedSurface,
    book: &Book,
    dynamics: Dynamics,
) -> Result<BookRisk, BookError> {
    let inverse = is_inverse(surface);
    let mut positions = Vec::with_capacity(book.entries.len());
    let mut totals = ZERO;
    let mut coin_totals = ZERO;
    let mut by_expiry: BTreeMap<DateTime<Utc>, ExpiryRisk> = BTreeMap::new();
    for e in &book.entries {
        let p = e.position(surface)?;
        let err = |source| BookError::Greeks {
            line: e.line,
            instrument: e.instrument.clone(),
            source,
        };
        let one = option_greeks(surface, p.kind, p.strike, p.t, dynamics).map_err(err)?;
        let vol = surface.try_vol(p.strike, p.t).map_err(err)?;
        let forward = surface.forward(p.t);
        let g = scale(&one, p.quantity);
        let coin = inverse.then(|| scale(&inverse_greeks(&one, forward).coin, p.quantity));
        totals = add(&totals, &g);
        if let Some(c) = &coin {
            coin_totals = add(&coin_totals, c);
        }
        let slot = by_expiry.entry(e.expiry).or_insert(ExpiryRisk {
            expiry: e.expiry,
            t: p.t,
            positions: 0,
            greeks: ZERO,
        });
        slot.positions += 1;
        slot.greeks = add(&slot.greeks, &g);
        positions.push(PositionRisk {
            instrument: e.instrument.clone(),
            line: e.line,
            kind: p.kind,
            strike: p.strike,
            expiry: e.expiry,
            t: p.t,
            quantity: p.quantity,
            forward,
            vol,
            greeks: g,
            coin,
        });
    }
    Ok(BookRisk {
        underlying: surface.underlying().to_string(),
        as_of: surface.as_of(),
        dynamics,
        inverse,
        positions,
        totals,
        coin_totals: inverse.then_some(coin_totals),
        vega_by_expiry: by_expiry.into_values().collect(),
    })
}
