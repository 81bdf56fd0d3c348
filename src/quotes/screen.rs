//! Whole-line screens that run before a reader sees the file: a line that is not UTF-8, or
//! whose quote `"` never closes, is rejected by itself with its line and the field at fault,
//! and blanked so that the reader never sees it.
//!
//! Without them one bad byte would reject the whole file (text decoding is all or nothing),
//! and one stray `"` would make the CSV parser read every following line into one field
//! (none of the chain formats has fields that span lines, so an odd number of quotes on a
//! line is always an error of that line). Blanking keeps every other line at its number.

use super::Rejection;
use std::borrow::Cow;

/// The file's text with its bad lines blanked, and the rejections of those lines.
pub(crate) struct Screened<'a> {
    /// The text (borrowed when nothing was blanked).
    pub text: Cow<'a, str>,
    /// The blanked lines, with the reason.
    pub rejected: Vec<Rejection>,
}

/// Why a header line cannot be screened: the file is then malformed at that line.
pub(crate) struct BadHeader {
    /// 1-based line.
    pub line: u64,
    /// The reason.
    pub reason: String,
}

/// The name of field `index` of a CSV line whose header is `header` (its position when the
/// header is shorter).
fn field_name(header: &[String], index: usize) -> String {
    header.get(index).filter(|h| !h.is_empty()).map_or_else(
        || format!("field {}", index + 1),
        |h| format!("field `{h}`"),
    )
}

/// The 0-based field holding byte `at` of a CSV line, and whether a quote is still open at
/// the end of the line (with the field that opened it).
fn fields_of(line: &[u8], at: Option<usize>) -> (usize, Option<usize>) {
    let (mut field, mut open, mut at_field) = (0usize, None, 0usize);
    for (i, &b) in line.iter().enumerate() {
        if Some(i) == at {
            at_field = field;
        }
        match b {
            b'"' => open = if open.is_some() { None } else { Some(field) },
            b',' if open.is_none() => field += 1,
            _ => {}
        }
    }
    (at_field, open)
}

/// Screens the lines of `bytes` after its `header_lines` header lines (counted from the first
/// non-blank line); with `csv` false (JSON)
/// only the UTF-8 screen runs, and a bad byte is replaced by U+FFFD instead of blanking a line
/// (a JSON document cannot lose a line), so that it fails where it is used.
///
/// # Errors
/// A [`BadHeader`] when a header line fails a screen.
pub(crate) fn screen(
    bytes: &[u8],
    header_lines: u64,
    csv: bool,
) -> Result<Screened<'_>, BadHeader> {
    let utf8 = std::str::from_utf8(bytes);
    if !csv {
        return Ok(Screened {
            text: String::from_utf8_lossy(bytes),
            rejected: Vec::new(),
        });
    }
    if let Ok(text) = utf8
        && !text.contains('"')
    {
        return Ok(Screened {
            text: Cow::Borrowed(text),
            rejected: Vec::new(),
        });
    }
    let mut header: Vec<String> = Vec::new();
    let mut out: Option<String> = None;
    let mut rejected = Vec::new();
    let mut line_no = 1u64;
    let mut start = 0usize;
    // Blank lines before the first header line do not count as header lines (the CSV reader
    // skips them too).
    let mut header_lines = header_lines;
    let mut seen_content = false;
    while start < bytes.len() {
        let (end, next) = line_end(bytes, start);
        let body = &bytes[start..end];
        if !seen_content {
            if body.iter().all(u8::is_ascii_whitespace) {
                header_lines += 1;
            } else {
                seen_content = true;
            }
        }
        let problem = match std::str::from_utf8(body) {
            Err(e) => {
                let at = e.valid_up_to();
                let (field, _) = fields_of(body, Some(at));
                Some(format!(
                    "not valid UTF-8: byte 0x{:02X} at column {} in {}",
                    body[at],
                    at + 1,
                    field_name(&header, field)
                ))
            }
            Ok(s) => {
                if let (_, Some(field)) = fields_of(body, None) {
                    Some(format!(
                        "{} opens a quote `\"` that never closes on this line",
                        field_name(&header, field)
                    ))
                } else {
                    if line_no == header_lines {
                        header = s
                            .split(',')
                            .map(|h| {
                                h.trim()
                                    .trim_matches('"')
                                    .trim_start_matches('\u{feff}')
                                    .to_string()
                            })
                            .collect();
                    }
                    None
                }
            }
        };
        let terminator = std::str::from_utf8(&bytes[end..next]).expect("line ends are ASCII");
        match problem {
            Some(reason) if line_no <= header_lines => {
                return Err(BadHeader {
                    line: line_no,
                    reason,
                });
            }
            Some(reason) => {
                // Everything before this line passed; the line itself is left out.
                let text = out.get_or_insert_with(|| {
                    lone_cr_to_lf(
                        String::from_utf8(bytes[..start].to_vec())
                            .expect("screened lines are UTF-8"),
                    )
                });
                text.push_str(lf(terminator));
                rejected.push(Rejection {
                    line: line_no,
                    reason,
                });
            }
            None => {
                if let Some(text) = out.as_mut() {
                    text.push_str(std::str::from_utf8(body).expect("checked above"));
                    text.push_str(lf(terminator));
                }
            }
        }
        line_no += 1;
        start = next;
    }
    Ok(match out {
        Some(text) => Screened {
            text: Cow::Owned(text),
            rejected,
        },
        None => Screened {
            text: Cow::Borrowed(utf8.expect("no line failed the UTF-8 screen")),
            rejected,
        },
    })
}

/// A line end as written to screened text: a lone `\r` becomes `\n`. A blanked line keeps only
/// its line end, so a lone `\r` before it and its `\n` would read as one `\r\n` and every
/// later line would be numbered one too low.
fn lf(terminator: &str) -> &str {
    if terminator == "\r" { "\n" } else { terminator }
}

/// `text` with every lone `\r` (one not followed by `\n`) replaced by `\n` (see [`lf`]).
fn lone_cr_to_lf(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        out.push(if c == b'\r' && b.get(i + 1) != Some(&b'\n') {
            b'\n'
        } else {
            c
        });
    }
    String::from_utf8(out).expect("only ASCII bytes changed")
}

/// The end of the line starting at `from` (before its terminator) and the start of the next
/// one; `\n`, `\r\n` and a lone `\r` end a line, as in [`super::util::CsvLines`].
fn line_end(bytes: &[u8], from: usize) -> (usize, usize) {
    match bytes[from..].iter().position(|&b| b == b'\n' || b == b'\r') {
        None => (bytes.len(), bytes.len()),
        Some(i) => {
            let end = from + i;
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            (end, end + 1 + usize::from(crlf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_blanked_and_named() {
        let text = b"a,b,c\r\n1,2,3\r\n4,\"5,6\r\n7,8\xE9,9\r\n10,11,12\r\n";
        let s = screen(text, 1, true).ok().expect("header is fine");
        assert_eq!(s.text, "a,b,c\r\n1,2,3\r\n\r\n\r\n10,11,12\r\n");
        let lines: Vec<u64> = s.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(
            s.rejected[0].reason.contains("field `b` opens a quote"),
            "{}",
            s.rejected[0].reason
        );
        assert!(
            s.rejected[1]
                .reason
                .contains("byte 0xE9 at column 4 in field `b`"),
            "{}",
            s.rejected[1].reason
        );
    }

    #[test]
    fn clean_text_is_borrowed_and_balanced_quotes_pass() {
        let text = b"a,b\n\"x, y\",\"say \"\"hi\"\"\"\n";
        let s = screen(text, 1, true).ok().expect("fine");
        assert!(matches!(s.text, Cow::Borrowed(_)));
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn blanked_lines_after_a_lone_cr_keep_the_numbering() {
        // Line 3 ends with a lone CR and line 4 is blanked: its LF must not pair with that CR.
        let text = b"h,x\n1,2\r3,2\ra,\"b\n5,6\n";
        let Ok(s) = screen(text, 1, true) else {
            panic!("header")
        };
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].line, 4);
        let mut lines = crate::quotes::util::CsvLines::new(s.text.as_ref() as &str);
        let at5 = s.text.find("5,6").unwrap() as u64;
        assert_eq!(lines.at(at5), 5);
    }

    #[test]
    fn blank_lines_before_the_header_are_not_header_lines() {
        let Ok(s) = screen(b"\n\nh,x\n1,\"2\n3,4\n", 1, true) else {
            panic!("header")
        };
        let lines: Vec<u64> = s.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [4]);
        assert!(
            s.rejected[0].reason.contains("`x`"),
            "{}",
            s.rejected[0].reason
        );
    }

    #[test]
    fn a_bad_header_is_an_error() {
        let e = screen(b"a,\"b\n1,2\n", 1, true).err().expect("bad header");
        assert_eq!(e.line, 1);
    }
}
