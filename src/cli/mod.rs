//! Subcommands of the `volfit` binary.

mod iv;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// volfit — implied-volatility surface calibration.
///
/// Turns option quotes into implied volatilities and fitted, arbitrage-checked volatility
/// surfaces.
#[derive(Debug, Parser)]
#[command(name = "volfit", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Implied Black volatilities of undiscounted option prices in a CSV file.
    ///
    /// Input columns (header required, any order, extra columns passed through):
    /// kind (call/put or c/p), price (undiscounted, forward premium), forward, strike,
    /// t (years). Output on stdout: the input columns plus `iv` (empty where none exists) and
    /// `error` (the reason, e.g. below_intrinsic, else empty). Rows that cannot be parsed are
    /// reported in `error` with their line and field, never dropped.
    ///
    /// Example:
    ///
    ///   printf 'kind,price,forward,strike,t\ncall,7.9655674554058,100,100,1\n' | volfit iv -
    #[command(verbatim_doc_comment)]
    Iv {
        /// CSV file to read, or `-` for standard input.
        input: PathBuf,
        /// Solve on all cores (rayon); the default switches on above 20 000 rows.
        #[arg(long)]
        parallel: Option<bool>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Iv { input, parallel } => iv::run(&input, parallel),
    }
}
