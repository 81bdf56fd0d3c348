use super::{volfit, volfit_bytes};
use std::fmt::Write;
use volfit::{OptionKind, black_price};

#[test]
fn iv_round_trips_prices_and_reports_every_row() {
    let mut input = String::from("kind,price,forward,strike,t,tag\n");
    let cases = [
        (OptionKind::Call, 100.0, 120.0, 0.5, 0.3),
        (OptionKind::Put, 100.0, 80.0, 2.0, 0.45),
    ];
    for (kind, f, k, t, v) in cases {
        writeln!(
            input,
            "{kind},{},{f},{k},{t},ok",
            black_price(kind, f, k, t, v)
        )
        .unwrap();
    }
    input += "put,0,100,90,1,zero\n";
    input += "call,abc,100,90,1,garbage\n";
    input += "call,5\n";
    let out = volfit(&["iv", "-"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        [
            "kind", "price", "forward", "strike", "t", "tag", "iv", "error"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "every input row is in the output");
    for (row, (_, _, _, _, v)) in rows.iter().zip(cases) {
        let iv: f64 = row[6].parse().unwrap();
        assert!((iv - v).abs() < 1e-14, "{iv} vs {v}");
        assert_eq!(&row[7], "");
    }
    assert_eq!(&rows[2][6], "");
    assert!(rows[2][7].starts_with("no_time_value"), "{}", &rows[2][7]);
    assert!(
        rows[3][7].contains("line 5") && rows[3][7].contains("`price`"),
        "{}",
        &rows[3][7]
    );
    assert!(rows[4][7].contains("line 6"), "{}", &rows[4][7]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 rows, 2 with an implied vol"), "{stderr}");
}

#[test]
fn iv_refuses_a_file_without_the_required_columns() {
    let out = volfit(&["iv", "-"], "kind,price,strike\ncall,1,100\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1") && stderr.contains("`forward`"),
        "{stderr}"
    );
}

#[test]
fn iv_reports_a_missing_file() {
    let out = volfit(&["iv", "/definitely/not/here.csv"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/definitely/not/here.csv"));
}

/// CRLF line ends and blank lines: every `error` names the row's real file line (csv's own
/// line count is one short after each CRLF and each blank line).
#[test]
fn iv_names_the_file_line_after_crlf_and_blank_lines() {
    let input = "kind,price,forward,strike,t\r\n\
                 call,5,100,100,1\r\n\
                 \r\n\
                 call,abc,100,100,1\r\n\
                 \n\
                 \r\n\
                 put,x,100,90,1\n\
                 call,1,100,100,-1\r\n";
    let out = volfit(&["iv", "-"], input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(out.stdout.as_slice())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4, "blank lines are not rows");
    assert!(rows[0][5].parse::<f64>().is_ok() && rows[0][6].is_empty());
    assert!(
        rows[1][6].contains("line 4:") && rows[1][6].contains("`price`"),
        "{}",
        &rows[1][6]
    );
    assert!(
        rows[2][6].contains("line 7:") && rows[2][6].contains("`price`"),
        "{}",
        &rows[2][6]
    );
    assert!(
        rows[3][6].starts_with("non_positive_input"),
        "{}",
        &rows[3][6]
    );
}

/// A byte that is not UTF-8 in a pass-through column leaves the batch alone and comes out as
/// it went in; in a required field it is that row's `error`, naming line and field.
#[test]
fn iv_passes_non_utf8_bytes_through_and_names_them_in_required_fields() {
    let price = black_price(OptionKind::Call, 100.0, 110.0, 1.0, 0.2);
    let mut input = b"kind,price,forward,strike,t,note\n".to_vec();
    input.extend(format!("call,{price},100,110,1,caf").as_bytes());
    input.extend(b"\xe9 \xff\n"); // Latin-1 "café" and a stray 0xFF
    input.extend(b"call,1\xff,100,110,1,ok\n");
    input.extend(format!("call,{price},100,110,1,plain\n").as_bytes());
    let out = volfit_bytes(&["iv", "-"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(out.stdout.as_slice());
    let rows: Vec<csv::ByteRecord> = rdr.byte_records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "every row is in the output");
    assert_eq!(
        &rows[0][5], b"caf\xe9 \xff",
        "the pass-through bytes survive"
    );
    for r in [&rows[0], &rows[2]] {
        let iv: f64 = std::str::from_utf8(&r[6]).unwrap().parse().unwrap();
        assert!((iv - 0.2).abs() < 1e-14, "{iv}");
    }
    let err = String::from_utf8_lossy(&rows[1][7]);
    assert!(
        err.contains("line 3") && err.contains("`price`") && err.contains("not UTF-8"),
        "{err}"
    );
    assert!(rows[1][6].is_empty());
}

/// Scale: the examples give their vols (checked against mpmath in the black tests),
/// not 0, NaN or a wrong bound.
#[test]
fn iv_at_extreme_scales() {
    let input = "kind,price,forward,strike,t\n\
                 call,1e154,1e155,1e155,1\n\
                 put,1e-14,1e308,1e-8,30\n\
                 call,1e-201,1e-200,1e-200,1\n\
                 call,1e-300,1e10,1e10,1\n";
    let out = volfit(&["iv", "-"], input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(out.stdout.as_slice())
        .records()
        .map(Result::unwrap)
        .collect();
    for (row, want) in rows
        .iter()
        .zip([0.2513226937101481, 6.155203282763606, 0.25132269371014804])
    {
        let iv: f64 = row[5].parse().unwrap_or_else(|_| panic!("{row:?}"));
        assert!((iv / want - 1.0).abs() < 1e-15, "{row:?}");
        assert_eq!(&row[6], "");
    }
    assert_eq!(&rows[3][5], "");
    assert!(rows[3][6].starts_with("unrepresentable"), "{:?}", &rows[3]);
}
