//! The crate-wide error: one variant per layer, each wrapping that layer's own error type, so
//! callers that mix layers use `?` throughout and keep every source.

use crate::black::ImpliedVolError;
use crate::black::batch::LengthMismatch;
use crate::fit::FitError;
use crate::models::{ParamError, SpecError};
use crate::names::UnknownName;
use crate::quotes::IngestError;
use crate::slice::SliceError;
use crate::surface::{QueryError, SurfaceError};

/// Any error volfit returns.
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
    /// A model parameter is outside its domain.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A model cannot be fitted to the data as given.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A fit failed.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// A surface could not be built, saved or loaded.
    #[error(transparent)]
    Surface(#[from] SurfaceError),
    /// A surface query has no answer.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Batch inputs of different lengths.
    #[error(transparent)]
    LengthMismatch(#[from] LengthMismatch),
    /// A name that is not one of a list's (format, model, optimiser, expansion).
    #[error(transparent)]
    UnknownName(#[from] UnknownName),
    /// A chart could not be drawn.
    #[cfg(feature = "plot")]
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}
