//! The `volfit` binary, run as a user would.
mod calibrate;
mod diff;
mod explain;
mod iv;
mod options;
mod risk;
mod track;

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `volfit ARGS` with `stdin` piped in.
pub fn volfit(args: &[&str], stdin: &str) -> Output {
    volfit_bytes(args, stdin.as_bytes())
}

/// Runs `volfit ARGS` with raw bytes (not necessarily UTF-8) piped in.
pub fn volfit_bytes(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn volfit");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `volfit ARGS` in the directory `dir`.
pub fn volfit_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn volfit")
}
