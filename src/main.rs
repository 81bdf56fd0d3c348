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
            eprintln!("volfit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
