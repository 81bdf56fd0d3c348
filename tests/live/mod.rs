//! The live layer: the tracker and the quote-update stream.

mod stream;
mod tracker;
