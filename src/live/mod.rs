//! Live tracking: option quotes through time.
//!
//! * [`stream`] — the quote-update stream: JSON lines of Deribit `ticker` messages parsed into
//!   validated [`stream::QuoteUpdate`]s, and the ticks a snapshot chain would have produced.

pub mod stream;
