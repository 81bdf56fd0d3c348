//! The crate-wide error: one variant per layer, each wrapping that layer's own error type.

use crate::black::ImpliedVolError;
use crate::fit::FitError;
use crate::quotes::IngestError;
use crate::slice::SliceError;
use crate::surface::SurfaceError;

/// Any error volfit returns. Each layer has its own error type with structured fields; this
/// enum lets callers that mix layers use `?` throughout.
///
/// ```
/// fn vol_of_first_quote(path: &str) -> Result<f64, volfit::Error> {
///     let (chain, _report) = volfit::read_chain(path, volfit::Format::Auto)?; // IngestError
///     let q = &chain.quotes[0];
///     Ok(volfit::implied_vol(q.kind, 1.0, 100.0, 100.0, 1.0)?) // ImpliedVolError
/// }
/// assert!(matches!(vol_of_first_quote("no/such/file.csv"), Err(volfit::Error::Ingest(_))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No implied volatility exists for a price.
    #[error(transparent)]
    ImpliedVol(#[from] ImpliedVolError),
    /// A chain file could not be read.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A smile slice could not be built.
    #[error(transparent)]
    Slice(#[from] SliceError),
    /// A fit failed.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// A surface could not be built, saved or loaded.
    #[error(transparent)]
    Surface(#[from] SurfaceError),
}
