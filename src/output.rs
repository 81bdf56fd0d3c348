//! Output files: directory names made from untrusted names, and atomic writes.
//!
//! The CLI writes each calibration into a directory named after an underlying (from the chain
//! file) or a file stem. Those names come from data, so [`path_component`] turns any of them
//! into **one** safe path component, [`assign_components`] keeps the components of one run
//! apart on case-insensitive filesystems, and [`write_atomic`] makes every file appear whole
//! or not at all.
//!
//! ```
//! use volfit::output::{assign_components, path_component};
//! assert_eq!(path_component("BTC"), "BTC");
//! assert_eq!(path_component("../../x"), "%2E.%2F..%2Fx");
//! assert_eq!(path_component("/abs/x"), "%2Fabs%2Fx");
//! assert_eq!(assign_components(&["x", "X", "x"]), ["x", "X-2", "x-3"]);
//! ```

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest component [`path_component`] returns, in bytes (well below the 255 of common
/// filesystems, leaving room for a collision suffix and for the temporary names of
/// [`write_atomic`]).
pub const MAX_COMPONENT_LEN: usize = 100;

/// Windows device names: a file or directory called one of these (with any extension) is the
/// device, not a file.
const WINDOWS_DEVICES: [&str; 24] = [
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Bytes that may stand for themselves in a component (elsewhere than its first or last byte,
/// see [`path_component`]).
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'=' | b'@')
}

/// Whether the part of `name` before its first `.` is a Windows device name (any case).
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("");
    WINDOWS_DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem))
}

/// Whether [`path_component`] keeps `name` as it is: 1 to [`MAX_COMPONENT_LEN`] bytes of
/// `A–Z a–z 0–9 . _ - + = @`, not starting with `.` or `-`, not ending with `.`, and not a
/// Windows device name (`CON`, `NUL`, `COM1`, … with or without an extension).
///
/// ```
/// use volfit::output::is_safe_component;
/// assert!(is_safe_component("spx_ivols_20050915"));
/// assert!(!is_safe_component("./A") && !is_safe_component("..") && !is_safe_component(""));
/// ```
pub fn is_safe_component(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_COMPONENT_LEN
        && b.iter().copied().all(plain)
        && !matches!(b[0], b'.' | b'-')
        && b[b.len() - 1] != b'.'
        && !is_windows_device(name)
}

/// 64-bit FNV-1a: a hash that is the same on every platform, build and run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Turns an underlying name or a file stem into one safe path component.
///
/// * A name that is already safe ([`is_safe_component`]: `BTC`, `SPX`, `ETH_USDC`, `BRK.B`,
///   `spx_ivols_20050915`, …) is returned unchanged.
/// * Otherwise every byte of its UTF-8 that may not stand for itself is written `%XX`
///   (uppercase hex): separators `/` and `\`, control characters, spaces, `%`, non-ASCII, a
///   leading `.` or `-`, a trailing `.`, and the first letter of a Windows device name. So
///   `../../x` becomes `%2E.%2F..%2Fx`, `/abs/x` becomes `%2Fabs%2Fx`, `./A` becomes
///   `%2E%2FA`, `CON` becomes `%43ON`. The empty name becomes `%`.
/// * A result longer than [`MAX_COMPONENT_LEN`] bytes is cut to 83 bytes followed by `~` and
///   16 hex digits of a hash of the whole name ([`MAX_COMPONENT_LEN`] bytes in all).
///
/// The result is never empty, `.` or `..`, holds no separator or control character, does not
/// start with `.` or `-`, and is ASCII. Below the length bound the encoding is injective
/// (`%` only ever starts an escape), so distinct names give distinct components — except for
/// case: `A` and `a` stay apart only on case-sensitive filesystems, which is what
/// [`assign_components`] is for.
pub fn path_component(name: &str) -> String {
    if is_safe_component(name) {
        return name.to_string();
    }
    if name.is_empty() {
        return "%".to_string();
    }
    let bytes = name.as_bytes();
    let last = bytes.len() - 1;
    let device = is_windows_device(name);
    let mut out = String::with_capacity(bytes.len() + 8);
    for (i, &b) in bytes.iter().enumerate() {
        let keep = plain(b)
            && !(i == 0 && (matches!(b, b'.' | b'-') || device))
            && !(i == last && b == b'.');
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() > MAX_COMPONENT_LEN {
        // Cut without splitting an escape, then name the whole by its hash.
        let mut cut = MAX_COMPONENT_LEN - 17;
        if let Some(p) = out[..cut].rfind('%')
            && p + 3 > cut
        {
            cut = p;
        }
        out.truncate(cut);
        let _ = write!(out, "~{:016x}", fnv1a(bytes));
    }
    out
}

/// The output components of a run's names, in order: each name's [`path_component`], unique
/// ignoring ASCII case.
///
/// The first name (in the order given — the CLI gives sorted input order) to claim a
/// component keeps it; a later name whose component equals an earlier one ignoring case gets
/// the first of `<component>-2`, `<component>-3`, … that no name of the run claims or was
/// given. The rule is deterministic: the same names in the same order always give the same
/// components.
///
/// ```
/// use volfit::output::assign_components;
/// // Files x.CSV and x.csv (sorted) both have the stem x.
/// assert_eq!(assign_components(&["x", "x"]), ["x", "x-2"]);
/// // A name that is really "x-2" keeps it; the duplicate moves on.
/// assert_eq!(assign_components(&["x", "x", "x-2"]), ["x", "x-3", "x-2"]);
/// assert_eq!(assign_components(&["./A", "A", "a"]), ["%2E%2FA", "A", "a-2"]);
/// ```
pub fn assign_components<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    use std::collections::HashSet;
    let wanted: Vec<String> = names.iter().map(|n| path_component(n.as_ref())).collect();
    let claimed: HashSet<String> = wanted.iter().map(|c| c.to_ascii_lowercase()).collect();
    let mut given: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(wanted.len());
    for c in wanted {
        if given.insert(c.to_ascii_lowercase()) {
            out.push(c);
            continue;
        }
        let mut n = 2usize;
        let chosen = loop {
            let suffix = format!("-{n}");
            let base_len = c.len().min(MAX_COMPONENT_LEN - suffix.len());
            // Components are ASCII, so any byte index is a character boundary.
            let candidate = format!("{}{suffix}", &c[..base_len]);
            let key = candidate.to_ascii_lowercase();
            if !claimed.contains(&key) && given.insert(key) {
                break candidate;
            }
            n += 1;
        };
        out.push(chosen);
    }
    out
}

/// Counter of temporary names within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the file at `path` — an earlier run's output that this run replaces with nothing —
/// and is done when there is no such file.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("volfit-doc-remove-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let stale = dir.join("surface.json");
/// std::fs::write(&stale, b"{}")?;
/// volfit::output::remove_if_present(&stale)?;
/// assert!(!stale.exists());
/// volfit::output::remove_if_present(&stale)?; // already gone: not an error
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// The I/O error of the removal, unless it is [`ErrorKind::NotFound`].
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a reader of `path` sees the old file or the new one,
/// never a part.
///
/// The bytes go into a new temporary file beside `path` (same directory, so the rename stays
/// on one filesystem; the current directory when `path` has no parent), named
/// `.<name>.<pid>-<n>.tmp` with a per-process counter `n` and created exclusively, so
/// concurrent writers — threads or processes — never share one. The file is flushed to disk
/// (`fsync`) and renamed over `path`; on Unix the directory is then synced too (best effort).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when `path` has no file name (`/`, `..`), else the I/O error of
/// the step that failed; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        )
    })?;
    // The temporary name need not hold the whole name: keep it well within 255 bytes.
    let name: String = name.to_string_lossy().chars().take(100).collect();
    let mut attempts = 0;
    let (tmp, file) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => break (tmp, f),
            // A stale file of a crashed run with this pid: take the next number.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempts < 64 => attempts += 1,
            Err(e) => return Err(e),
        }
    };
    let result = fill_and_rename(file, bytes, &tmp, path);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

/// Writes and syncs the temporary file, closes it, and renames it over `path`.
fn fill_and_rename(mut file: File, bytes: &[u8], tmp: &Path, path: &Path) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)
}

/// Makes a rename in `dir` durable. Best effort: some filesystems refuse to sync a
/// directory, which loses nothing but durability across a crash.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Nothing to do where directories cannot be synced.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}
