//! The crate-wide error: one variant per layer, each wrapping that layer's own error type.

use crate::black::ImpliedVolError;

/// Any error volfit returns. Each layer has its own error type with structured fields; this
/// enum lets callers that mix layers use `?` throughout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No implied volatility exists for a price.
    #[error(transparent)]
    ImpliedVol(#[from] ImpliedVolError),
}
