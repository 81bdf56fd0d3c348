//! Values that many rows share — the snapshot time and spot of a chain, the time to expiry,
//! forward and discount factor of an expiry — estimated from all the rows that carry them,
//! never from one row.
//!
//! Each value is the median of the rows' values; a row whose value is outside the value's
//! tolerance of that median disagrees with its chain and is rejected with the field, its value
//! and the consensus (so one row dated a day late, or one `Texp` × 100, no longer re-times a
//! chain or an expiry). When the rows that agree are not a strict majority there is no
//! consensus, and every row carrying the value is rejected. The tolerances are several times
//! the spread seen in real files (Deribit: rows of one snapshot within 82 s, index levels
//! within 0.45 %, per-expiry forwards within 0.15 %).

use super::{Chain, IngestReport, OptionQuote};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Rows of one chain whose quote times differ by more than this from their median disagree.
pub const TIME_TOLERANCE_SECONDS: i64 = 3600;
/// Relative tolerance of a row's spot (index) level around the chain's median.
pub const SPOT_TOLERANCE: f64 = 0.02;
/// Relative tolerance of a row's forward around its expiry's median.
pub const FORWARD_TOLERANCE: f64 = 0.01;
/// Relative tolerance of a row's discount factor around its expiry's median.
pub const DISCOUNT_TOLERANCE: f64 = 1e-3;
/// Relative tolerance of a row's time to expiry around its expiry's median (or one hour,
/// whichever is larger).
pub const T_TOLERANCE: f64 = 1e-3;
const HOUR_IN_YEARS: f64 = 1.0 / (365.25 * 24.0);

/// The columns that carry the shared values in a format (empty where it has none), so that a
/// reason names the field as the file does (`csv|json` where the CSV and JSON layouts name it
/// differently).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    /// The row's quote time.
    pub time: &'static str,
    /// The row's spot or index level.
    pub spot: &'static str,
    /// The row's time to expiry.
    pub t: &'static str,
    /// The row's forward.
    pub forward: &'static str,
    /// The row's discount factor.
    pub discount: &'static str,
}

/// A value carried by rows: what it is, and when a row's value agrees with the consensus.
struct Shared {
    /// What the value is, as the reasons print it.
    what: &'static str,
    /// Whether `value` agrees with the consensus `center`.
    agrees: fn(value: f64, center: f64) -> bool,
}

const TIME: Shared = Shared {
    what: "quote time",
    agrees: |v, c| (v - c).abs() <= TIME_TOLERANCE_SECONDS as f64,
};
const SPOT: Shared = Shared {
    what: "spot",
    agrees: |v, c| (v / c - 1.0).abs() <= SPOT_TOLERANCE,
};
const FORWARD: Shared = Shared {
    what: "forward",
    agrees: |v, c| (v / c - 1.0).abs() <= FORWARD_TOLERANCE,
};
const DISCOUNT: Shared = Shared {
    what: "discount factor",
    agrees: |v, c| (v / c - 1.0).abs() <= DISCOUNT_TOLERANCE,
};
const TIME_TO_EXPIRY: Shared = Shared {
    what: "time to expiry",
    agrees: |v, c| (v - c).abs() <= (T_TOLERANCE * c).max(HOUR_IN_YEARS),
};

/// The median of `values` (upper median for an even count); `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    Some(*m)
}

/// Rows (by index into `quotes`) whose value of `shared` disagrees with the consensus, with
/// the reason; `show` prints a value.
fn disagreeing(
    quotes: &[&OptionQuote],
    value: impl Fn(&OptionQuote) -> Option<f64>,
    (shared, column): (&Shared, &str),
    show: impl Fn(f64) -> String,
    scope: &str,
) -> Vec<(usize, String)> {
    let field = if column.is_empty() {
        String::new()
    } else {
        // `csv|json`: the column's name in the CSV layout and in the JSON one.
        match column.split_once('|') {
            Some((csv, json)) => format!("field `{csv}` (`{json}` in JSON): "),
            None => format!("field `{column}`: "),
        }
    };
    let carried: Vec<(usize, f64)> = quotes
        .iter()
        .enumerate()
        .filter_map(|(i, q)| value(q).map(|v| (i, v)))
        .collect();
    let mut values: Vec<f64> = carried.iter().map(|&(_, v)| v).collect();
    let Some(center) = median(&mut values) else {
        return Vec::new();
    };
    let agree = carried
        .iter()
        .filter(|&&(_, v)| (shared.agrees)(v, center))
        .count();
    if agree == carried.len() {
        return Vec::new();
    }
    let n = carried.len();
    if 2 * agree <= n {
        return carried
            .iter()
            .map(|&(i, v)| {
                (
                    i,
                    format!(
                        "{field}the {} of {scope} has no consensus: fewer than half of its {n} rows agree within tolerance (this row: {})",
                        shared.what,
                        show(v)
                    ),
                )
            })
            .collect();
    }
    carried
        .iter()
        .filter(|&&(_, v)| !(shared.agrees)(v, center))
        .map(|&(i, v)| {
            (
                i,
                format!(
                    "{field}{} {} disagrees with the {} of {scope}, {} (median of {n} rows)",
                    shared.what,
                    show(v),
                    shared.what,
                    show(center)
                ),
            )
        })
        .collect()
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9
}

fn show_time(s: f64) -> String {
    DateTime::from_timestamp(s.floor() as i64, 0).map_or_else(
        || format!("{s} s"),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// Rejects the rows of every chain that disagree with a shared value, and sets each chain's
/// `as_of` (the latest agreeing quote time) and `spot` (the spot of the latest agreeing row)
/// where the file gives them per row.
pub(crate) fn reconcile(chains: &mut Vec<Chain>, report: &mut IngestReport, columns: &Columns) {
    let mut emptied = Vec::new();
    for (c, chain) in chains.iter_mut().enumerate() {
        let mut rejected: BTreeMap<usize, String> = BTreeMap::new();
        let scope = format!("the {} chain", chain.underlying);
        {
            let all: Vec<&OptionQuote> = chain.quotes.iter().collect();
            let time = |q: &OptionQuote| q.as_of.map(seconds);
            for (i, why) in disagreeing(&all, time, (&TIME, columns.time), show_time, &scope) {
                rejected.entry(i).or_insert(why);
            }
            let spot = |q: &OptionQuote| q.spot;
            for (i, why) in disagreeing(
                &all,
                spot,
                (&SPOT, columns.spot),
                |v| format!("{v:?}"),
                &scope,
            ) {
                rejected.entry(i).or_insert(why);
            }
        }
        let mut by_expiry: BTreeMap<DateTime<Utc>, Vec<usize>> = BTreeMap::new();
        for (i, q) in chain.quotes.iter().enumerate() {
            by_expiry.entry(q.expiry).or_default().push(i);
        }
        for (expiry, rows) in &by_expiry {
            let scope = format!("expiry {}", expiry.format("%Y-%m-%d %H:%M UTC"));
            let group: Vec<&OptionQuote> = rows.iter().map(|&i| &chain.quotes[i]).collect();
            let checks: [(&Shared, &str, fn(&OptionQuote) -> Option<f64>); 3] = [
                (&TIME_TO_EXPIRY, columns.t, |q| q.t),
                (&FORWARD, columns.forward, |q| q.forward),
                (&DISCOUNT, columns.discount, |q| q.discount),
            ];
            for (shared, column, value) in checks {
                let show = |v: f64| format!("{v:?}");
                for (j, why) in disagreeing(&group, value, (shared, column), show, &scope) {
                    rejected.entry(rows[j]).or_insert(why);
                }
            }
        }
        if !rejected.is_empty() {
            let mut kept = Vec::with_capacity(chain.quotes.len() - rejected.len());
            for (i, q) in std::mem::take(&mut chain.quotes).into_iter().enumerate() {
                match rejected.remove(&i) {
                    Some(why) => {
                        report.quotes -= 1;
                        report.reject(q.line, why);
                    }
                    None => kept.push(q),
                }
            }
            if kept.is_empty() {
                emptied.push(c);
            }
            chain.quotes = kept;
        }
        if chain.as_of.is_none() {
            chain.as_of = chain.quotes.iter().filter_map(|q| q.as_of).max();
        }
        if chain.spot.is_none() {
            chain.spot = chain
                .quotes
                .iter()
                .filter_map(|q| q.spot.map(|s| (q.as_of, s)))
                .reduce(|a, b| if b.0 >= a.0 { b } else { a })
                .map(|(_, s)| s);
        }
    }
    // A chain whose every row disagreed is gone (its rows are listed as rejected).
    for c in emptied.into_iter().rev() {
        chains.remove(c);
    }
    report.rejected.sort_by_key(|r| r.line);
}
