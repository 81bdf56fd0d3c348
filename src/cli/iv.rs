//! `volfit iv`: implied volatilities of a CSV of prices.
//!
//! The input is read as bytes (`csv::ByteRecord`): only the five required fields are decoded
//! (a required field that is not UTF-8 is that row's `error`), every other column is passed
//! through byte for byte, and rows are named by their file line ([`CsvLines`]), right after
//! CRLF line ends and blank lines.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use volfit::OptionKind;
use volfit::black::{BatchInput, implied_vol_batch, implied_vol_par};
use volfit::quotes::CsvLines;
use volfit::surface::Num;

const REQUIRED: [&str; 5] = ["kind", "price", "forward", "strike", "t"];
const PARALLEL_ABOVE: usize = 20_000;

/// One input row, parsed or with the reason it could not be.
struct Row {
    fields: csv::ByteRecord,
    parsed: Result<(OptionKind, [f64; 4]), String>,
}

pub fn run(input: &Path, parallel: Option<bool>) -> anyhow::Result<ExitCode> {
    let stdin = input.as_os_str() == "-";
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        input.display().to_string()
    };
    // The whole input in memory: the line of a record is found from its byte offset.
    let mut text = Vec::new();
    if stdin {
        std::io::stdin()
            .read_to_end(&mut text)
            .with_context(|| format!("cannot read {name}"))?;
    } else {
        text = std::fs::read(input).with_context(|| format!("cannot open {name}"))?;
    }
    let mut lines = CsvLines::new(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_slice());
    let headers = rdr
        .byte_headers()
        .with_context(|| format!("{name}: cannot read the header line"))?
        .clone();
    let header_names: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut cols = [0usize; 5];
    for (c, want) in cols.iter_mut().zip(REQUIRED) {
        *c = match header_names
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(want))
        {
            Some(i) => i,
            None => bail!(
                "{name}: line 1: missing column `{want}` (need {}; found {})",
                REQUIRED.join(","),
                header_names.join(",")
            ),
        };
    }

    let mut rows = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                bail!("{name}: line {line}: malformed CSV: {e}");
            }
        }
        let line = rec.position().map_or(0, |p| lines.at(p.byte()));
        rows.push(Row {
            parsed: parse_row(&rec, &cols, line),
            fields: rec.clone(),
        });
    }

    // Solve the parsed rows as one batch.
    let n = rows.len();
    let mut kinds = Vec::with_capacity(n);
    let mut cols_f: [Vec<f64>; 4] = Default::default();
    for r in &rows {
        let (k, v) = r
            .parsed
            .clone()
            .unwrap_or((OptionKind::Call, [f64::NAN; 4]));
        kinds.push(k);
        for (c, x) in cols_f.iter_mut().zip(v) {
            c.push(x);
        }
    }
    let batch = BatchInput {
        kinds: &kinds,
        prices: &cols_f[0],
        forwards: &cols_f[1],
        strikes: &cols_f[2],
        times: &cols_f[3],
    };
    let mut out = vec![Ok(0.0); n];
    if parallel.unwrap_or(n > PARALLEL_ABOVE) {
        implied_vol_par(&batch, &mut out)?;
    } else {
        implied_vol_batch(&batch, &mut out)?;
    }

    let stdout = std::io::stdout();
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(stdout.lock());
    let mut head: Vec<&[u8]> = headers.iter().collect();
    head.extend([&b"iv"[..], b"error"]);
    w.write_record(&head)?;
    for (r, res) in rows.iter().zip(&out) {
        let (iv, error) = match (&r.parsed, res) {
            (Err(msg), _) => (String::new(), msg.clone()),
            (Ok(_), Ok(v)) => (Num(*v).to_string(), String::new()),
            (Ok(_), Err(e)) => (String::new(), format!("{}: {e}", e.reason())),
        };
        // Short rows are padded so that `iv` and `error` stay in their columns.
        let pad = headers.len().saturating_sub(r.fields.len());
        let rec = r
            .fields
            .iter()
            .chain(std::iter::repeat_n(&b""[..], pad))
            .chain([iv.as_bytes(), error.as_bytes()]);
        w.write_record(rec)?;
    }
    w.flush()?;
    std::io::stdout().flush()?;
    let solved = out
        .iter()
        .zip(&rows)
        .filter(|(o, r)| o.is_ok() && r.parsed.is_ok())
        .count();
    let unparsed = rows.iter().filter(|r| r.parsed.is_err()).count();
    eprintln!(
        "volfit iv: {name}: {n} rows, {solved} with an implied vol, {} without one (see `error`), {unparsed} unparseable",
        n - solved - unparsed
    );
    Ok(ExitCode::SUCCESS)
}

/// The five required fields of a row, decoded (UTF-8) and trimmed, or why they cannot be.
fn parse_row(
    rec: &csv::ByteRecord,
    cols: &[usize; 5],
    line: u64,
) -> Result<(OptionKind, [f64; 4]), String> {
    let field = |i: usize| -> Result<&str, String> {
        let raw = rec.get(cols[i]).unwrap_or(b"");
        std::str::from_utf8(raw).map(str::trim).map_err(|e| {
            format!(
                "invalid_row: line {line}: field `{}`: not UTF-8 ({e}): {:?}",
                REQUIRED[i],
                String::from_utf8_lossy(raw)
            )
        })
    };
    let kind: OptionKind = field(0)?
        .parse()
        .map_err(|e| format!("invalid_row: line {line}: field `kind`: {e}"))?;
    let mut v = [0.0; 4];
    for (j, x) in v.iter_mut().enumerate() {
        let raw = field(j + 1)?;
        *x = raw.parse().map_err(|_| {
            format!(
                "invalid_row: line {line}: field `{}`: not a number: {raw:?}",
                REQUIRED[j + 1]
            )
        })?;
    }
    Ok((kind, v))
}
