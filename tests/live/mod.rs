//! The live layer: the quote-update stream.
mod stream;
