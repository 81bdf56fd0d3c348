//! The `volfit` binary, run as a user would.
mod calibrate;
mod iv;

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `volfit ARGS` with `stdin` piped in.
pub fn volfit(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volfit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn volfit");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
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
