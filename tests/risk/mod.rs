//! `volfit::risk`.

mod delta;
