//! The live tracker.

mod tracker;
