//! `volfit iv`: implied volatilities of a CSV of prices.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use volfit::OptionKind;
use volfit::black::{BatchInput, implied_vol_batch, implied_vol_par};

const REQUIRED: [&str; 5] = ["kind", "price", "forward", "strike", "t"];
const PARALLEL_ABOVE: usize = 20_000;

/// One input row, parsed or with the reason it could not be.
struct Row {
    fields: csv::StringRecord,
    parsed: Result<(OptionKind, [f64; 4]), String>,
}

pub fn run(input: &Path, parallel: Option<bool>) -> anyhow::Result<ExitCode> {
    let stdin = input.as_os_str() == "-";
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        input.display().to_string()
    };
    let reader: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(input).with_context(|| format!("cannot open {name}"))?)
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .with_context(|| format!("{name}: cannot read the header line"))?
        .clone();
    let mut cols = [0usize; 5];
    for (c, want) in cols.iter_mut().zip(REQUIRED) {
        *c = match headers.iter().position(|h| h.eq_ignore_ascii_case(want)) {
            Some(i) => i,
            None => bail!(
                "{name}: line 1: missing column `{want}` (need {}; found {})",
                REQUIRED.join(","),
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        };
    }

    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{name}: malformed CSV"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let parsed = parse_row(&rec, &cols, line);
        rows.push(Row {
            fields: rec,
            parsed,
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
    let mut head: Vec<&str> = headers.iter().collect();
    head.extend(["iv", "error"]);
    w.write_record(&head)?;
    for (r, res) in rows.iter().zip(&out) {
        // Short rows are padded so that `iv` and `error` stay in their columns.
        let mut rec: Vec<String> = r.fields.iter().map(str::to_string).collect();
        rec.resize(rec.len().max(headers.len()), String::new());
        match (&r.parsed, res) {
            (Err(msg), _) => rec.extend([String::new(), msg.clone()]),
            (Ok(_), Ok(v)) => rec.extend([v.to_string(), String::new()]),
            (Ok(_), Err(e)) => rec.extend([String::new(), format!("{}: {e}", e.reason())]),
        }
        w.write_record(&rec)?;
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

fn parse_row(
    rec: &csv::StringRecord,
    cols: &[usize; 5],
    line: u64,
) -> Result<(OptionKind, [f64; 4]), String> {
    let field = |i: usize| rec.get(cols[i]).unwrap_or("");
    let kind: OptionKind = field(0)
        .parse()
        .map_err(|e| format!("invalid_row: line {line}: field `kind`: {e}"))?;
    let mut v = [0.0; 4];
    for (j, x) in v.iter_mut().enumerate() {
        let raw = field(j + 1);
        *x = raw.parse().map_err(|_| {
            format!(
                "invalid_row: line {line}: field `{}`: not a number: {raw:?}",
                REQUIRED[j + 1]
            )
        })?;
    }
    Ok((kind, v))
}
