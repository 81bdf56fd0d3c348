//! Day counts: seconds between two instants as a year fraction.

use crate::names::{UnknownName, parse_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Seconds in a year of the day count.
///
/// Named `act365` and `act36525` on the command line and in files (`act/365`, `act/365f` and
/// `act/365.25` are accepted too):
///
/// ```
/// use volfit::slice::DayCount;
/// assert_eq!("ACT/365.25".parse::<DayCount>(), Ok(DayCount::Act36525));
/// assert_eq!(DayCount::Act365.to_string(), "act365");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DayCount {
    /// ACT/365 Fixed: calendar seconds / (365 × 86 400).
    #[default]
    Act365,
    /// ACT/365.25: calendar seconds / (365.25 × 86 400) (Deribit's `time_to_maturity`).
    Act36525,
}

impl DayCount {
    /// Every day count, in declaration order.
    pub const ALL: [DayCount; 2] = [DayCount::Act365, DayCount::Act36525];

    /// The name used on the command line, in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            DayCount::Act365 => "act365",
            DayCount::Act36525 => "act36525",
        }
    }

    /// Other names accepted by `FromStr`.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            DayCount::Act365 => &["act/365", "act/365f", "act365f"],
            DayCount::Act36525 => &["act/365.25", "act365.25"],
        }
    }

    /// Year fraction between two instants, to the millisecond.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use volfit::slice::DayCount;
    /// let a = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    /// let b = Utc.with_ymd_and_hms(2027, 1, 1, 8, 0, 0).unwrap();
    /// assert_eq!(DayCount::Act365.year_fraction(a, b), 1.0);
    /// ```
    pub fn year_fraction(self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let secs = (to - from).num_milliseconds() as f64 / 1000.0;
        secs / self.seconds_per_year()
    }

    /// Seconds in one year of this day count.
    pub fn seconds_per_year(self) -> f64 {
        match self {
            DayCount::Act365 => 365.0 * 86_400.0,
            DayCount::Act36525 => 365.25 * 86_400.0,
        }
    }
}

impl fmt::Display for DayCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DayCount {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = DayCount::ALL
            .iter()
            .map(|&d| (d, d.name(), d.aliases()))
            .collect();
        parse_name("day count", s, &items)
    }
}
