//! The `volfit` command-line interface: a thin layer over the library.
//!
//! Exit codes: `0` success, `1` the command ran but found a problem it was asked to report
//! (e.g. `check` found arbitrage), `2` bad usage or unreadable input.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("volfit: error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-joined, leaving out a cause whose text the message already
/// ends with (library errors print their source themselves).
fn message(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.ends_with(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}
