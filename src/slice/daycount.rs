//! Day counts: seconds between two instants as a year fraction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Seconds in a year of the day count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayCount {
    /// ACT/365 Fixed: calendar seconds / (365 × 86 400).
    #[default]
    Act365,
    /// ACT/365.25: calendar seconds / (365.25 × 86 400) (Deribit's `time_to_maturity`).
    Act36525,
}

impl DayCount {
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
