use super::volfit;
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
