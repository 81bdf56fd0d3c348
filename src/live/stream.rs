//! The quote-update stream: JSON lines of Deribit `ticker` messages, one option quote each.
//!
//! `volfit track -` reads quote updates on stdin, one JSON object a line, with the fields of
//! Deribit's `ticker.{instrument_name}.{interval}` subscription: either the whole JSON-RPC
//! notification as the WebSocket delivers it,
//!
//! ```text
//! {"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27MAR26-100000-C.100ms","data":{…}}}
//! ```
//!
//! or the bare `data` object. [`parse_line`] reads one line, [`updates`] every line of a
//! [`BufRead`]; [`QuoteUpdate::to_option_quote`] gives the [`OptionQuote`] that the Deribit
//! snapshot reader ([`crate::quotes::deribit`]) makes of the same quote, for a
//! [`Chain`] with [`Premium::Coin`](crate::quotes::Premium::Coin) premiums.
//! [`ticks_from_chain`] goes the other way: the ticker lines a snapshot chain would have
//! produced, to replay real snapshots through the stream.
//!
//! ```
//! use volfit::live::stream::parse_line;
//! use volfit::OptionKind;
//! let line = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27MAR26-100000-C.100ms","data":{"timestamp":1767259115173,"instrument_name":"BTC-27MAR26-100000-C","best_bid_price":0.0185,"best_bid_amount":12.5,"best_ask_price":0.019,"best_ask_amount":3.1,"mark_price":0.01874,"mark_iv":42.5,"bid_iv":41.8,"ask_iv":42.6,"underlying_price":88931.2,"underlying_index":"BTC-27MAR26","index_price":87799.1,"estimated_delivery_price":87799.1,"interest_rate":0,"greeks":{"delta":0.21,"gamma":0.00002,"vega":130.2,"theta":-52.1,"rho":30.4},"stats":{"volume":12.3,"high":0.02,"low":0.017,"price_change":-2.5},"open_interest":1530.2,"state":"open"}}}"#;
//! let u = parse_line(line, 1)?.expect("a ticker message");
//! assert_eq!(u.time.to_rfc3339(), "2026-01-01T09:18:35.173+00:00");
//! assert_eq!((u.underlying.as_str(), u.strike, u.kind), ("BTC", 100_000.0, OptionKind::Call));
//! assert_eq!(u.expiry.to_rfc3339(), "2026-03-27T08:00:00+00:00");
//! assert_eq!((u.bid, u.ask, u.mark), (Some(0.0185), Some(0.019), Some(0.01874)));
//! assert_eq!((u.forward, u.index), (88931.2, Some(87799.1)));
//! assert_eq!(u.mark_iv, Some(0.425));
//!
//! // A zero bid is no bid; heartbeats and responses are not updates.
//! let bare = r#"{"timestamp":1767259115173,"instrument_name":"ETH-27MAR26-2500-P","best_bid_price":0,"best_ask_price":0.0005,"underlying_price":2981.5}"#;
//! assert_eq!(parse_line(bare, 2)?.unwrap().bid, None);
//! assert!(parse_line(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#, 3)?.is_none());
//! assert!(parse_line(r#"{"jsonrpc":"2.0","id":7,"result":["ticker.BTC-27MAR26-100000-C.100ms"]}"#, 4)?.is_none());
//!
//! // A bad line is an error naming its line and field.
//! let e = parse_line(r#"{"timestamp":1767259115173,"instrument_name":"BTC-27MAR26-100000-C","best_ask_price":"abc","underlying_price":88931.2}"#, 17).unwrap_err();
//! assert_eq!(e.to_string(), "line 17: field `best_ask_price`: expected a number, got \"abc\"");
//! # Ok::<(), volfit::live::stream::StreamError>(())
//! ```
//!
//! ## Fields
//!
//! | field | becomes | unit and reading |
//! |---|---|---|
//! | `timestamp` (required) | [`QuoteUpdate::time`] | ms since the Unix epoch (rounded to the ms), between 2000 and 2200 |
//! | `instrument_name` (required) | name, underlying, expiry, strike, kind | a Deribit option name, `BTC-27MAR26-100000-C`, read by [`parse_instrument`]: expiry at 08:00 UTC on the date in the name, strike in USD (`d` is the decimal point) |
//! | `underlying_price` (required) | [`QuoteUpdate::forward`] | USD, > 0: the expiry's forward (its future, a synthetic `SYN.` forward, or the index for the shortest expiries), as the snapshots' `underlying` column |
//! | `best_bid_price`, `best_ask_price` | [`QuoteUpdate::bid`], [`QuoteUpdate::ask`] | **coin** per option on one coin; 0, `null` or absent: no quote on that side (Deribit documents `null` for an empty side; its option rows carry 0) |
//! | `mark_price` | [`QuoteUpdate::mark`] | coin; 0, `null` or absent: none |
//! | `mark_iv` | [`QuoteUpdate::mark_iv`] | **percent** on the wire, stored as a decimal (42.5 → 0.425); 0, `null` or absent: none |
//! | `index_price` | [`QuoteUpdate::index`] | USD; 0, `null` or absent: none |
//!
//! Every other field is ignored: `bid_iv` and `ask_iv` (volfit implies bid and ask vols from
//! the premiums, as it does for the snapshots, which have none), `greeks`, `stats`,
//! `open_interest`, `best_bid_amount`, `best_ask_amount`, `last_price`, `min_price`,
//! `max_price`, `settlement_price`, `estimated_delivery_price`, `underlying_index`,
//! `interest_rate` (Deribit's options are on the forward with a zero rate: the discount factor
//! is 1), `state`, and any field added later.
//!
//! ## Lines
//!
//! | line | [`parse_line`] |
//! |---|---|
//! | a `subscription` notification on a `ticker.{instrument_name}.{interval}` channel | the update in `params.data` (its `instrument_name` must be the channel's) |
//! | a bare ticker `data` object (no `jsonrpc`, `method`, `params`, `id`, `result`, `error`) | its update |
//! | a ticker of a future, perpetual or spot pair (`BTC-27MAR26`, `BTC-PERPETUAL`, `BTC_USDC`: a name of one or two parts) | `Ok(None)`: not an option quote |
//! | a notification on another channel (`book.…`, `trades.…`, `deribit_price_index.…`) | `Ok(None)` |
//! | any other JSON-RPC message: responses (`result`, `error`), `heartbeat`, `test_request` | `Ok(None)` |
//! | blank | `Ok(None)` |
//! | an `incremental_ticker.…` notification | error (field `params.channel`): its changes leave out the fields that did not change |
//!
//! A line is an error ([`StreamError`], naming the line and, where one is at fault, the field)
//! when it is not UTF-8, longer than [`MAX_LINE_BYTES`], not a JSON object, or when a field
//! used above is missing (the required ones), not a number (or a string for the name), not
//! finite, negative, or out of range: a timestamp outside 2000–2200 (seconds or microseconds
//! for milliseconds), a name that is not a Deribit option name, a USDC-settled linear option
//! (`SOL_USDC-…`: premiums in USDC, not coin), a bid above the ask. A bad line is
//! the caller's to report and skip; nothing here panics on any input.

use crate::OptionKind;
use crate::quotes::deribit::parse_instrument;
use crate::quotes::{Chain, OptionQuote};
use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::marker::PhantomData;

/// The longest line read (1 MiB); a longer line is an error and the stream goes on after it.
/// A ticker message is about 1 kB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The earliest timestamp accepted, 2000-01-01T00:00:00Z in ms since the epoch.
const EARLIEST_MS: i64 = 946_684_800_000;
/// The end of the timestamps accepted, 2200-01-01T00:00:00Z in ms since the epoch.
const END_MS: i64 = 7_258_118_400_000;

/// One option's quote at one time, parsed from a ticker message and checked.
///
/// What [`parse_line`] guarantees: the instrument is a Deribit coin-settled option whose name
/// gives the underlying, the expiry (08:00 UTC) and a finite positive strike; `time` is in
/// 2000–2200; premiums are finite and positive where given (no quote is `None`), and the bid is
/// not above the ask; `forward` is finite and positive, `index` and `mark_iv` finite and
/// positive where given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteUpdate {
    /// The quote's time (`timestamp`, ms precision).
    pub time: DateTime<Utc>,
    /// The instrument name, e.g. `BTC-27MAR26-100000-C` (`instrument_name`).
    pub instrument: String,
    /// The underlying coin, from the name (`BTC`, `ETH`).
    pub underlying: String,
    /// Expiry: 08:00 UTC on the name's date.
    pub expiry: DateTime<Utc>,
    /// Strike in USD, from the name.
    pub strike: f64,
    /// Call or put, from the name.
    pub kind: OptionKind,
    /// Best bid in coin (`best_bid_price`); `None` for no bid (0, `null` or absent).
    pub bid: Option<f64>,
    /// Best ask in coin (`best_ask_price`); `None` for no ask.
    pub ask: Option<f64>,
    /// Deribit's mark price in coin (`mark_price`).
    pub mark: Option<f64>,
    /// Deribit's mark implied vol as a decimal (`mark_iv`, percent on the wire).
    pub mark_iv: Option<f64>,
    /// The expiry's forward in USD (`underlying_price`).
    pub forward: f64,
    /// The index in USD (`index_price`).
    pub index: Option<f64>,
}

impl QuoteUpdate {
    /// The quote as the Deribit snapshot reader ([`crate::quotes::deribit`]) makes it from a
    /// row with the same values: premiums as quoted in coin, the forward and a discount factor
    /// of 1, the update's time and index level as the row's own (`as_of`, `spot`), no bid or ask
    /// vol (they are implied from the premiums), and `line` as its line.
    ///
    /// ```
    /// use volfit::live::stream::parse_line;
    /// let line = r#"{"timestamp":1767259115173,"instrument_name":"BTC-27MAR26-100000-C","best_bid_price":0,"best_ask_price":0.019,"mark_price":0.01874,"underlying_price":88931.2,"index_price":87799.1}"#;
    /// let q = parse_line(line, 5)?.unwrap().to_option_quote(5);
    /// assert_eq!((q.bid, q.ask, q.forward, q.spot), (None, Some(0.019), Some(88931.2), Some(87799.1)));
    /// assert_eq!((q.discount, q.t, q.line), (Some(1.0), None, 5));
    /// assert_eq!(q.as_of.unwrap().timestamp_millis(), 1767259115173);
    /// # Ok::<(), volfit::live::stream::StreamError>(())
    /// ```
    pub fn to_option_quote(&self, line: u64) -> OptionQuote {
        OptionQuote {
            symbol: self.instrument.clone(),
            expiry: self.expiry,
            strike: self.strike,
            kind: self.kind,
            bid: self.bid,
            ask: self.ask,
            mark: self.mark,
            bid_iv: None,
            ask_iv: None,
            mark_iv: self.mark_iv,
            forward: Some(self.forward),
            discount: Some(1.0),
            t: None,
            as_of: Some(self.time),
            spot: self.index,
            line,
        }
    }
}

/// A line of the stream that is not a quote update.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading the stream failed (the iterator of [`updates`] ends after it).
    #[error("line {line}: cannot read the stream: {source}")]
    Io {
        /// 1-based line being read.
        line: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The line is not a JSON object: not UTF-8, too long, not JSON, or a JSON value that is
    /// not an object. `field` is the last field name before the fault, where there is one.
    #[error("line {line}: {}{reason}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Malformed {
        /// 1-based line.
        line: u64,
        /// The field at (or just before) the fault.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A field is missing, or its value is not one the field can hold.
    #[error("line {line}: field `{field}`: {reason}")]
    Field {
        /// 1-based line.
        line: u64,
        /// The field, as the message names it (`params.channel` inside the envelope).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl StreamError {
    /// The 1-based line.
    ///
    /// ```
    /// let e = volfit::live::stream::parse_line("[1,2]", 9).unwrap_err();
    /// assert_eq!(e.line(), 9);
    /// ```
    pub fn line(&self) -> u64 {
        match self {
            StreamError::Io { line, .. }
            | StreamError::Malformed { line, .. }
            | StreamError::Field { line, .. } => *line,
        }
    }

    /// The field at fault, where one is.
    ///
    /// ```
    /// let e = volfit::live::stream::parse_line(r#"{"timestamp":1767259115173}"#, 1).unwrap_err();
    /// assert_eq!(e.field(), Some("instrument_name"));
    /// ```
    pub fn field(&self) -> Option<&str> {
        match self {
            StreamError::Io { .. } => None,
            StreamError::Malformed { field, .. } => field.as_deref(),
            StreamError::Field { field, .. } => Some(field),
        }
    }
}

/// Longest excerpt of a value quoted in a reason.
const EXCERPT: usize = 40;

/// `raw` with control characters escaped, cut to [`EXCERPT`] characters.
fn shown(raw: &str) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i == EXCERPT {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

/// A number as a reason shows it: an integer as one, anything else in Rust's shortest form
/// (`1e300`, not 301 digits).
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.fract() == 0.0 && x.abs() < 1e16 {
            write!(f, "{}", x as i64)
        } else {
            write!(f, "{x:?}")
        }
    }
}

/// A JSON value kept without judging it, so that the field it sits in names the fault.
enum Json<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(x) => write!(f, "{}", Num(*x)),
            Json::Str(s) => write!(f, "\"{}\"", shown(s)),
            Json::Array => f.write_str("an array"),
            Json::Object => f.write_str("an object"),
        }
    }
}

struct JsonVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Num(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor(PhantomData))
    }
}

/// A JSON object read as `T`, or what the value was instead (never fails on the value's type).
enum Obj<T> {
    Is(T),
    Not(&'static str),
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Obj::Is)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Obj::Not("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Obj::Not("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Obj::Not("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Obj::Not("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Obj::Not("a string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Obj::Not("null"))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Obj::Not("null"))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::Not("an array"))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// The fields of a line that matter: the ticker's (bare, or in `params.data`) and the JSON-RPC
/// envelope's. Every other field is skipped unread.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    instrument_name: Option<Json<'a>>,
    #[serde(borrow)]
    best_bid_price: Option<Json<'a>>,
    #[serde(borrow)]
    best_ask_price: Option<Json<'a>>,
    #[serde(borrow)]
    mark_price: Option<Json<'a>>,
    #[serde(borrow)]
    mark_iv: Option<Json<'a>>,
    #[serde(borrow)]
    underlying_price: Option<Json<'a>>,
    #[serde(borrow)]
    index_price: Option<Json<'a>>,
    jsonrpc: Option<IgnoredAny>,
    id: Option<IgnoredAny>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
    #[serde(borrow)]
    method: Option<Json<'a>>,
    #[serde(borrow)]
    params: Option<Obj<Params<'a>>>,
}

impl Message<'_> {
    /// Whether this is a JSON-RPC message rather than bare ticker data.
    fn is_envelope(&self) -> bool {
        self.jsonrpc.is_some()
            || self.id.is_some()
            || self.result.is_some()
            || self.error.is_some()
            || self.method.is_some()
            || self.params.is_some()
    }
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    channel: Option<Json<'a>>,
    /// Boxed: the type is recursive (a `data` with envelope fields of its own is read, and then
    /// only its ticker fields are used).
    #[serde(borrow)]
    data: Option<Obj<Box<Message<'a>>>>,
}

fn field_error(line: u64, field: &'static str, reason: impl Into<String>) -> StreamError {
    StreamError::Field {
        line,
        field,
        reason: reason.into(),
    }
}

/// The last `"key":` before byte `at` of `text`: the field a JSON syntax error is in.
fn key_before(text: &str, at: usize) -> Option<String> {
    let b = text.as_bytes();
    let mut i = at.min(b.len());
    while i > 0 {
        i -= 1;
        if b[i] != b':' {
            continue;
        }
        let mut j = i;
        while j > 0 && b[j - 1].is_ascii_whitespace() {
            j -= 1;
        }
        if j == 0 || b[j - 1] != b'"' {
            continue;
        }
        let end = j - 1;
        let mut s = end;
        while s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_') {
            s -= 1;
        }
        if s > 0 && b[s - 1] == b'"' && s < end {
            return Some(text[s..end].to_string());
        }
    }
    None
}

/// A serde_json error on one line, with the field it is in.
fn json_error(line: u64, text: &str, e: &serde_json::Error) -> StreamError {
    let mut msg = e.to_string();
    if let Some(i) = msg.rfind(" at line ") {
        msg.truncate(i);
    }
    // The column counts bytes from 1 on the (single) line.
    let column = e.column();
    // Characters after the object are in no field.
    let field = if (e.is_syntax() || e.is_eof()) && !msg.starts_with("trailing") {
        key_before(text, column)
    } else {
        None
    };
    StreamError::Malformed {
        line,
        field,
        reason: format!("invalid JSON: {msg} at column {column}"),
    }
}

/// An optional number: absent or `null` is `None`; a value that is not a finite number is an
/// error naming the field.
fn number(v: Option<&Json>, field: &'static str, line: u64) -> Result<Option<f64>, StreamError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Num(x)) if x.is_finite() => Ok(Some(*x)),
        Some(Json::Num(x)) => Err(field_error(line, field, format!("not finite: {}", Num(*x)))),
        Some(other) => Err(field_error(
            line,
            field,
            format!("expected a number, got {other}"),
        )),
    }
}

/// A price or vol: positive, or `None` for 0 / `null` / absent (no quote); negative is an
/// error (it is never read as "no quote"), as in the snapshot readers.
fn positive(v: Option<&Json>, field: &'static str, line: u64) -> Result<Option<f64>, StreamError> {
    match number(v, field, line)? {
        Some(x) if x < 0.0 => Err(field_error(line, field, format!("negative: {}", Num(x)))),
        Some(x) if x > 0.0 => Ok(Some(x)),
        _ => Ok(None),
    }
}

/// The `instrument_name` text.
fn name<'v>(v: Option<&'v Json>, line: u64) -> Result<&'v str, StreamError> {
    const FIELD: &str = "instrument_name";
    match v {
        None | Some(Json::Null) => Err(field_error(line, FIELD, "missing")),
        Some(Json::Str(s)) => Ok(s.trim()),
        Some(other) => Err(field_error(
            line,
            FIELD,
            format!("expected a string, got {other}"),
        )),
    }
}

/// Whether `name` is a Deribit future, perpetual, spot pair or index (one or two parts, the
/// last not `C`/`P`): a ticker that is not an option quote.
fn is_not_an_option(name: &str) -> bool {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    parts.next().is_none()
        && !first.is_empty()
        && second.is_none_or(|s| !s.is_empty() && s != "C" && s != "P")
}

/// The update of one ticker data object.
fn ticker(
    m: &Message,
    channel_instrument: Option<&str>,
    line: u64,
) -> Result<Option<QuoteUpdate>, StreamError> {
    const NAME: &str = "instrument_name";
    let instrument = name(m.instrument_name.as_ref(), line)?;
    if let Some(expected) = channel_instrument
        && expected != instrument
    {
        return Err(field_error(
            line,
            NAME,
            format!(
                "`{}` is not the channel's instrument `{}`",
                shown(instrument),
                shown(expected)
            ),
        ));
    }
    let Some((underlying, expiry, strike, kind)) = parse_instrument(instrument) else {
        if is_not_an_option(instrument) {
            return Ok(None);
        }
        return Err(field_error(
            line,
            NAME,
            format!("`{}` is not a Deribit option name", shown(instrument)),
        ));
    };
    if underlying.contains('_') {
        return Err(field_error(
            line,
            NAME,
            format!(
                "`{}` is a USDC-settled linear option (premiums not in coin); not supported",
                shown(instrument)
            ),
        ));
    }
    if underlying.is_empty()
        || !underlying
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        || !(strike.is_finite() && strike > 0.0)
    {
        return Err(field_error(
            line,
            NAME,
            format!("`{}` is not a Deribit option name", shown(instrument)),
        ));
    }
    let time = {
        const FIELD: &str = "timestamp";
        let ms = number(m.timestamp.as_ref(), FIELD, line)?
            .ok_or_else(|| field_error(line, FIELD, "missing"))?
            .round();
        if !(EARLIEST_MS as f64..END_MS as f64).contains(&ms) {
            return Err(field_error(
                line,
                FIELD,
                format!(
                    "{} is out of range: expected ms since the epoch in 2000–2200 \
                     (a time in seconds or µs?)",
                    Num(ms)
                ),
            ));
        }
        DateTime::from_timestamp_millis(ms as i64)
            .ok_or_else(|| field_error(line, FIELD, format!("{} is out of range", Num(ms))))?
    };
    let forward = {
        const FIELD: &str = "underlying_price";
        match number(m.underlying_price.as_ref(), FIELD, line)? {
            None => return Err(field_error(line, FIELD, "missing")),
            Some(f) if f > 0.0 => f,
            Some(f) => {
                return Err(field_error(
                    line,
                    FIELD,
                    format!("not positive: {}", Num(f)),
                ));
            }
        }
    };
    let bid = positive(m.best_bid_price.as_ref(), "best_bid_price", line)?;
    let ask = positive(m.best_ask_price.as_ref(), "best_ask_price", line)?;
    if let (Some(b), Some(a)) = (bid, ask)
        && b > a
    {
        return Err(field_error(
            line,
            "best_bid_price",
            format!(
                "the bid {} is above the ask {} (`best_ask_price`)",
                Num(b),
                Num(a)
            ),
        ));
    }
    let mark = positive(m.mark_price.as_ref(), "mark_price", line)?;
    let mark_iv = positive(m.mark_iv.as_ref(), "mark_iv", line)?.map(|v| v / 100.0);
    let index = positive(m.index_price.as_ref(), "index_price", line)?;
    Ok(Some(QuoteUpdate {
        time,
        instrument: instrument.to_string(),
        underlying,
        expiry,
        strike,
        kind,
        bid,
        ask,
        mark,
        mark_iv,
        forward,
        index,
    }))
}

/// The update of a JSON-RPC message: the data of a `ticker.` notification, `None` for any
/// other message.
fn envelope(m: &Message, line: u64) -> Result<Option<QuoteUpdate>, StreamError> {
    match &m.method {
        Some(Json::Str(method)) if method == "subscription" => {}
        Some(Json::Str(_)) | None => return Ok(None),
        Some(other) => {
            return Err(field_error(
                line,
                "method",
                format!("expected a string, got {other}"),
            ));
        }
    }
    let params = match &m.params {
        Some(Obj::Is(p)) => p,
        Some(Obj::Not(what)) => {
            return Err(field_error(
                line,
                "params",
                format!("expected an object, got {what}"),
            ));
        }
        None => return Err(field_error(line, "params", "missing")),
    };
    let channel = match &params.channel {
        Some(Json::Str(c)) => c,
        None | Some(Json::Null) => return Err(field_error(line, "params.channel", "missing")),
        Some(other) => {
            return Err(field_error(
                line,
                "params.channel",
                format!("expected a string, got {other}"),
            ));
        }
    };
    if channel.starts_with("incremental_ticker.") {
        return Err(field_error(
            line,
            "params.channel",
            format!(
                "`{}`: incremental tickers leave out the fields that did not change; \
                 subscribe to `ticker.{{instrument_name}}.{{interval}}`",
                shown(channel)
            ),
        ));
    }
    let Some(rest) = channel.strip_prefix("ticker.") else {
        return Ok(None);
    };
    // `ticker.{instrument_name}.{interval}`; Deribit's names hold no `.`.
    let instrument = rest.rsplit_once('.').map_or(rest, |(name, _)| name);
    match &params.data {
        Some(Obj::Is(data)) => ticker(data, Some(instrument), line),
        Some(Obj::Not(what)) => Err(field_error(
            line,
            "params.data",
            format!("expected an object, got {what}"),
        )),
        None => Err(field_error(line, "params.data", "missing")),
    }
}

/// Reads one line of the stream: `Ok(Some(update))` for a ticker message of an option,
/// `Ok(None)` for a line that is not one (blank, heartbeat, response, another channel, a
/// future's ticker: see the [module docs](self)); `line_no` (1-based) names the line in errors.
///
/// # Errors
/// [`StreamError`] naming the line and the field at fault when the line is not a JSON object
/// or a ticker field is missing or invalid (the module docs list the checks).
///
/// ```
/// use volfit::live::stream::parse_line;
/// let e = parse_line(r#"{"timestamp":1767259115173,"instrument_name":"BTC-XX-1-C","underlying_price":1}"#, 3).unwrap_err();
/// assert_eq!(e.to_string(), "line 3: field `instrument_name`: `BTC-XX-1-C` is not a Deribit option name");
/// assert!(parse_line("   ", 4)?.is_none());
/// # Ok::<(), volfit::live::stream::StreamError>(())
/// ```
pub fn parse_line(line: &str, line_no: u64) -> Result<Option<QuoteUpdate>, StreamError> {
    let text = line.trim_start_matches('\u{feff}').trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    let message: Obj<Message> =
        serde_json::from_str(text).map_err(|e| json_error(line_no, text, &e))?;
    match message {
        Obj::Is(m) if m.is_envelope() => envelope(&m, line_no),
        Obj::Is(m) => ticker(&m, None, line_no),
        Obj::Not(what) => Err(StreamError::Malformed {
            line: line_no,
            field: None,
            reason: format!("expected a JSON object, got {what}"),
        }),
    }
}

/// The quote updates of a stream of JSON lines: see [`updates`].
#[derive(Debug)]
pub struct Updates<R> {
    reader: R,
    /// The line last read (1-based; 0 before the first).
    line: u64,
    buf: Vec<u8>,
    /// Set after an I/O error: the stream is not read further.
    failed: bool,
}

/// Iterates over the quote updates of `reader`, one JSON line each (`\n` or `\r\n` line ends):
/// every line [`parse_line`] makes an update of is an `Ok`, every line it rejects an `Err`
/// (lines that are not updates are skipped). A bad line does not end the stream: report it and
/// go on. A line longer than [`MAX_LINE_BYTES`] or not UTF-8 is an error too; after an I/O
/// error the iterator ends.
///
/// ```
/// use volfit::live::stream::updates;
/// let input = b"{\"timestamp\":1767259115173,\"instrument_name\":\"BTC-27MAR26-100000-C\",\"best_bid_price\":0.0185,\"best_ask_price\":0.019,\"underlying_price\":88931.2}\n\
///               {\"jsonrpc\":\"2.0\",\"method\":\"heartbeat\"}\n\
///               {\"timestamp\":1767259115173,\"instrument_name\":\"BTC-27MAR26-100000-C\",\"best_bid_price\":-1,\"underlying_price\":88931.2}\n";
/// let mut it = updates(&input[..]);
/// let first = it.next().unwrap()?;
/// assert_eq!((first.strike, it.line()), (100_000.0, 1));
/// let e = it.next().unwrap().unwrap_err();
/// assert_eq!(e.to_string(), "line 3: field `best_bid_price`: negative: -1");
/// assert!(it.next().is_none());
/// # Ok::<(), volfit::live::stream::StreamError>(())
/// ```
pub fn updates<R: BufRead>(reader: R) -> Updates<R> {
    Updates {
        reader,
        line: 0,
        buf: Vec::with_capacity(2048),
        failed: false,
    }
}

impl<R: BufRead> Updates<R> {
    /// The 1-based line of the item last returned (of the update, for
    /// [`QuoteUpdate::to_option_quote`]); 0 before the first.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Reads the next line into `buf` (without its `\n`): `None` at the end, `Some(true)` when
    /// the line was longer than [`MAX_LINE_BYTES`] (then `buf` is empty and the line skipped).
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        if (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?
            == 0
        {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE_BYTES {
            self.buf.clear();
            self.reader.skip_until(b'\n')?;
            return Ok(Some(true));
        }
        Ok(Some(false))
    }
}

impl<R: BufRead> Iterator for Updates<R> {
    type Item = Result<QuoteUpdate, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            let read = self.read_line();
            self.line += 1;
            let too_long = match read {
                Ok(None) => {
                    self.line -= 1;
                    return None;
                }
                Ok(Some(too_long)) => too_long,
                Err(source) => {
                    self.failed = true;
                    return Some(Err(StreamError::Io {
                        line: self.line,
                        source,
                    }));
                }
            };
            if too_long {
                return Some(Err(StreamError::Malformed {
                    line: self.line,
                    field: None,
                    reason: format!("longer than {MAX_LINE_BYTES} bytes"),
                }));
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t,
                Err(e) => {
                    return Some(Err(StreamError::Malformed {
                        line: self.line,
                        field: key_before(
                            &String::from_utf8_lossy(&self.buf[..e.valid_up_to()]),
                            e.valid_up_to(),
                        ),
                        reason: format!("not valid UTF-8 at byte {}", e.valid_up_to() + 1),
                    }));
                }
            };
            match parse_line(text, self.line) {
                Ok(Some(u)) => return Some(Ok(u)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

/// `v` in percent, chosen so that `percent / 100` gives `v` back exactly where a nearby
/// double does (`mark_iv` is in percent on the wire).
fn to_percent(v: f64) -> f64 {
    let p = v * 100.0;
    if p / 100.0 == v {
        return p;
    }
    let (mut up, mut down) = (p, p);
    for _ in 0..4 {
        up = up.next_up();
        down = down.next_down();
        for c in [up, down] {
            if c / 100.0 == v {
                return c;
            }
        }
    }
    p
}

/// The ticker lines a snapshot would have produced: one `subscription` notification on
/// `ticker.{instrument_name}.100ms` per quote of a Deribit chain (read with
/// [`read_chains`](crate::quotes::read_chains)), in the chain's order, with the quote's own
/// time (else the chain's `as_of`) in ms, its premiums in coin (0 for no quote, as Deribit
/// sends), `mark_iv` in percent, its forward as `underlying_price` and its index level as
/// `index_price`.
///
/// A quote without a forward or a time, or whose symbol is not a Deribit option name, would
/// not make a ticker and is left out. [`parse_line`] reads every line back into the quote, up
/// to the time's rounding to the ms (the round trip is tested on real snapshots).
///
/// ```
/// use volfit::live::stream::{parse_line, ticks_from_chain};
/// use volfit::quotes::{deribit::TICK, Chain, Format, Premium};
/// let line = r#"{"timestamp":1767259115173,"instrument_name":"ETH-27MAR26-2500-P","best_bid_price":0,"best_ask_price":0.0005,"mark_price":0.0004,"mark_iv":71.3,"underlying_price":2981.5,"index_price":2975.2}"#;
/// let quote = parse_line(line, 1)?.unwrap().to_option_quote(1);
/// let chain = Chain {
///     underlying: "ETH".into(),
///     as_of: quote.as_of,
///     spot: quote.spot,
///     premium: Premium::Coin,
///     tick: Some(TICK),
///     format: Format::Deribit,
///     source: "stream".into(),
///     quotes: vec![quote.clone()],
/// };
/// let ticks = ticks_from_chain(&chain);
/// assert!(ticks[0].contains(r#""channel":"ticker.ETH-27MAR26-2500-P.100ms""#));
/// assert_eq!(parse_line(&ticks[0], 1)?.unwrap().to_option_quote(1), quote);
/// # Ok::<(), volfit::live::stream::StreamError>(())
/// ```
pub fn ticks_from_chain(chain: &Chain) -> Vec<String> {
    let price = |p: Option<f64>| p.unwrap_or(0.0);
    chain
        .quotes
        .iter()
        .filter(|q| parse_instrument(&q.symbol).is_some())
        .filter_map(|q| {
            let forward = q.forward?;
            let time = q.as_of.or(chain.as_of)?;
            let mut data = serde_json::json!({
                "timestamp": time.timestamp_millis(),
                "instrument_name": q.symbol,
                "best_bid_price": price(q.bid),
                "best_ask_price": price(q.ask),
                "mark_price": price(q.mark),
                "mark_iv": q.mark_iv.map_or(0.0, to_percent),
                "underlying_price": forward,
                "state": "open",
            });
            if let Some(index) = q.spot {
                data["index_price"] = index.into();
            }
            let message = serde_json::json!({
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": {
                    "channel": format!("ticker.{}.100ms", q.symbol),
                    "data": data,
                },
            });
            Some(message.to_string())
        })
        .collect()
}
