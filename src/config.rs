//! The options of a calibration run as one flat table: what `volfit calibrate` takes as flags,
//! reads from `--config FILE.toml` and echoes in `report.json`'s `options`.
//!
//! Every key is the long flag's name with `_` for `-` (`min_quotes` ↔ `--min-quotes`), and every
//! value is spelled as on the command line. A [`CalibrateConfig`] is partial (a key left out
//! keeps the library default); [`CalibrateConfig::or`] lays flags over a file, and
//! [`CalibrateConfig::apply`] writes the result into [`SurfaceOptions`].
//! [`CalibrateConfig::from_options`] goes back: the complete table of a [`SurfaceOptions`],
//! which, read as a config file, gives the same options again.
//!
//! | key | values | library field |
//! |---|---|---|
//! | `model` | `svi`, `ssvi`, `essvi`, `sabr` | [`SurfaceOptions::model`] |
//! | `optimizer` | `lm`, `bfgs`, `lbfgs` | [`FitOptions::optimizer`](crate::fit::FitOptions::optimizer) |
//! | `weighting` | `inverse-spread`, `vega`, `uniform` | [`SliceOptions::weighting`](crate::slice::SliceOptions::weighting) |
//! | `objective` | `vol`, `bid-ask` | [`FitOptions::objective`](crate::fit::FitOptions::objective) |
//! | `mid_weight` | number ≥ 0 (with `bid-ask`; default 0.2) | [`Objective::BidAsk`] |
//! | `day_count` | `act365`, `act36525` | [`SliceOptions::day_count`](crate::slice::SliceOptions::day_count) |
//! | `calendar` | `repair`, `report` | [`SurfaceOptions::calendar`] |
//! | `sabr_beta` | `default`, `fitted`, or a number in `[0, 1]` | [`SabrOptions::beta`](crate::fit::SabrOptions::beta) |
//! | `min_quotes` | integer ≥ 1 | [`SliceOptions::min_quotes`](crate::slice::SliceOptions::min_quotes) |
//! | `keep_outliers` | `true`/`false` | `!`[`SurfaceOptions::outliers`] |
//! | `keep_no_bid` | `true`/`false` | `!`[`Filters::no_bid`](crate::slice::Filters::no_bid) |
//! | `keep_crossed_or_locked` | `true`/`false` | `!`[`Filters::crossed_or_locked`](crate::slice::Filters::crossed_or_locked) |
//! | `keep_one_tick_bid` | `true`/`false` | `!`[`Filters::one_tick_bid`](crate::slice::Filters::one_tick_bid) |
//! | `max_iv_spread` | positive number or `"off"` | [`Filters::max_iv_spread`](crate::slice::Filters::max_iv_spread) |
//! | `max_log_moneyness` | positive number or `"off"` | [`Filters::max_log_moneyness`](crate::slice::Filters::max_log_moneyness) |
//! | `max_vol` | positive number or `"off"` | [`Filters::max_vol`](crate::slice::Filters::max_vol) |
//!
//! ```
//! use volfit::config::{CalibrateConfig, Limit};
//! use volfit::slice::Weighting;
//! use volfit::surface::SurfaceOptions;
//! let file = CalibrateConfig { weighting: Some(Weighting::Vega), min_quotes: Some(7), ..Default::default() };
//! let flags = CalibrateConfig { min_quotes: Some(6), max_vol: Some(Limit::Off), ..Default::default() };
//! let mut opts = SurfaceOptions::default();
//! flags.or(file).apply(&mut opts).unwrap();
//! assert_eq!((opts.slices.weighting, opts.slices.min_quotes, opts.slices.filters.max_vol),
//!            (Weighting::Vega, 6, None));
//! assert_eq!(CalibrateConfig::from_options(&opts).min_quotes, Some(6));
//! ```

use crate::fit::{Optimizer, SabrBeta};
use crate::names::{UnknownName, parse_name};
use crate::slice::{DayCount, Objective, Weighting};
use crate::surface::{
    AfterLast, BeforeFirst, Between, CalendarPolicy, SurfaceModel, SurfaceOptions, Wings,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The default [`CalibrateConfig::mid_weight`] of [`Objective::BidAsk`].
pub const DEFAULT_MID_WEIGHT: f64 = 0.2;

/// A value of the table that is out of its domain.
///
/// ```
/// let e = "1.5".parse::<volfit::config::BetaSetting>().unwrap_err();
/// assert_eq!(e.to_string(), "sabr_beta must be `default`, `fitted` or a number in [0, 1], got \"1.5\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} must be {expected}, got {got:?}")]
pub struct ConfigError {
    /// The key (`sabr_beta`, `min_quotes`, ...).
    pub key: &'static str,
    /// What it must be.
    pub expected: &'static str,
    /// What was given.
    pub got: String,
}

/// What the surface answers before its first expiry ([`BeforeFirst`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum BeforeFirstName {
    /// Implied vol flat in time at each `k` ([`BeforeFirst::FlatVol`]).
    FlatVol,
    /// No answer ([`BeforeFirst::Refuse`]).
    Refuse,
}

/// What the surface answers after its last expiry ([`AfterLast`]; the vol of
/// `forward-variance` is [`CalibrateConfig::after_last_vol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum AfterLastName {
    /// Constant forward variance ([`AfterLast::ForwardVariance`]).
    ForwardVariance,
    /// No answer ([`AfterLast::Refuse`]).
    Refuse,
}

/// The objective's name (the kind of [`Objective`]; the weight of the bid–ask objective's mid
/// term is [`CalibrateConfig::mid_weight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ObjectiveName {
    /// Weighted implied-vol residuals ([`Objective::Vol`]).
    Vol,
    /// Distance outside `[bid IV, ask IV]` plus `mid_weight` times the mid residual
    /// ([`Objective::BidAsk`]).
    BidAsk,
}

impl ObjectiveName {
    /// Both names, in declaration order.
    pub const ALL: [ObjectiveName; 2] = [ObjectiveName::Vol, ObjectiveName::BidAsk];

    /// `vol` or `bid-ask`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectiveName::Vol => "vol",
            ObjectiveName::BidAsk => "bid-ask",
        }
    }
}

impl fmt::Display for ObjectiveName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ObjectiveName {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = ObjectiveName::ALL
            .iter()
            .map(|&o| (o, o.name(), &[] as &[&str]))
            .collect();
        parse_name("objective", s, &items)
    }
}

impl CalendarPolicy {
    /// Both policies, in declaration order.
    pub const ALL: [CalendarPolicy; 2] = [CalendarPolicy::Repair, CalendarPolicy::Report];

    /// `repair` or `report`.
    pub fn name(self) -> &'static str {
        match self {
            CalendarPolicy::Repair => "repair",
            CalendarPolicy::Report => "report",
        }
    }
}

impl fmt::Display for CalendarPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CalendarPolicy {
    type Err = UnknownName;
    /// ```
    /// use volfit::surface::CalendarPolicy;
    /// assert_eq!("report".parse::<CalendarPolicy>(), Ok(CalendarPolicy::Report));
    /// assert!("fix".parse::<CalendarPolicy>().unwrap_err().to_string().contains("repair, report"));
    /// ```
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let items: Vec<_> = CalendarPolicy::ALL
            .iter()
            .map(|&p| (p, p.name(), &[] as &[&str]))
            .collect();
        parse_name("calendar policy", s, &items)
    }
}

#[cfg(feature = "cli")]
impl clap::ValueEnum for CalendarPolicy {
    fn value_variants<'a>() -> &'a [Self] {
        &CalendarPolicy::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// SABR's `β` as the table spells it: `default`, `fitted`, or the fixed value.
///
/// ```
/// use volfit::config::BetaSetting;
/// use volfit::fit::SabrBeta;
/// assert_eq!("0.5".parse::<BetaSetting>().unwrap().0, SabrBeta::Fixed(0.5));
/// assert_eq!("fitted".parse::<BetaSetting>().unwrap().0, SabrBeta::Fitted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaSetting(pub SabrBeta);

impl BetaSetting {
    fn new(b: SabrBeta, got: &str) -> Result<Self, ConfigError> {
        match b {
            SabrBeta::Fixed(v) if !(0.0..=1.0).contains(&v) => Err(ConfigError {
                key: "sabr_beta",
                expected: "`default`, `fitted` or a number in [0, 1]",
                got: got.to_string(),
            }),
            b => Ok(BetaSetting(b)),
        }
    }
}

impl FromStr for BetaSetting {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let key = s.trim().to_ascii_lowercase();
        let beta = match key.as_str() {
            "default" => SabrBeta::Default,
            "fitted" | "fit" => SabrBeta::Fitted,
            _ => SabrBeta::Fixed(key.parse().unwrap_or(f64::NAN)),
        };
        BetaSetting::new(beta, s.trim())
    }
}

impl fmt::Display for BetaSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SabrBeta::Default => f.write_str("default"),
            SabrBeta::Fitted => f.write_str("fitted"),
            SabrBeta::Fixed(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for BetaSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            SabrBeta::Fixed(v) => s.serialize_f64(v),
            _ => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for BetaSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrName::deserialize(d)? {
            NumberOrName::Number(v) => BetaSetting::new(SabrBeta::Fixed(v), &v.to_string())
                .map_err(serde::de::Error::custom),
            NumberOrName::Name(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A number or a word in a file.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrName {
    Number(f64),
    Name(String),
}

/// A filter threshold: a positive number, or `off` (no such filter).
///
/// ```
/// use volfit::config::Limit;
/// assert_eq!("0.5".parse::<Limit>(), Ok(Limit::Max(0.5)));
/// assert_eq!("off".parse::<Limit>(), Ok(Limit::Off));
/// assert!("-1".parse::<Limit>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// The filter is off.
    Off,
    /// The filter's maximum (positive, finite).
    Max(f64),
}

impl Limit {
    /// The threshold as the filter fields hold it.
    pub fn get(self) -> Option<f64> {
        match self {
            Limit::Off => None,
            Limit::Max(v) => Some(v),
        }
    }

    /// The limit of a filter field.
    pub fn of(v: Option<f64>) -> Limit {
        v.map_or(Limit::Off, Limit::Max)
    }

    fn checked(v: f64, got: &str) -> Result<Limit, ConfigError> {
        if v > 0.0 && v.is_finite() {
            Ok(Limit::Max(v))
        } else {
            Err(ConfigError {
                key: "a filter threshold",
                expected: "a positive number or `off`",
                got: got.to_string(),
            })
        }
    }
}

impl FromStr for Limit {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
            return Ok(Limit::Off);
        }
        Limit::checked(s.parse().unwrap_or(f64::NAN), s)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Off => f.write_str("off"),
            Limit::Max(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Off => s.serialize_str("off"),
            Limit::Max(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrName::deserialize(d)? {
            NumberOrName::Number(v) => {
                Limit::checked(v, &v.to_string()).map_err(serde::de::Error::custom)
            }
            NumberOrName::Name(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The options of a calibration run (see the [module doc](self) for the keys); `None` leaves
/// the library default. Unknown keys are an error when the table is read.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrateConfig {
    /// Surface model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<SurfaceModel>,
    /// Optimiser of the fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Optimizer>,
    /// Fitting weights of the quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighting: Option<Weighting>,
    /// What the fits minimise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveName>,
    /// Weight of the mid term of the `bid-ask` objective (ignored by `vol`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid_weight: Option<f64>,
    /// Day count of times to expiry (where the file gives none) and of the stored surface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_count: Option<DayCount>,
    /// Calendar arbitrage between per-expiry fits: repair or report only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarPolicy>,
    /// SABR's `β`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sabr_beta: Option<BetaSetting>,
    /// An expiry with fewer usable quotes is dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_quotes: Option<usize>,
    /// Switch the post-fit outlier rule off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_outliers: Option<bool>,
    /// Keep quotes without a bid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_no_bid: Option<bool>,
    /// Keep crossed (bid > ask) and locked (bid = ask) quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_crossed_or_locked: Option<bool>,
    /// Keep quotes whose bid is one price tick.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_one_tick_bid: Option<bool>,
    /// Widest bid–ask vol spread kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iv_spread: Option<Limit>,
    /// Largest `|ln(K/F)|` kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_log_moneyness: Option<Limit>,
    /// Largest bid or ask vol of a vol quote kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_vol: Option<Limit>,
    /// Smallest forward vol between consecutive served smiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_forward_vol: Option<f64>,
    /// The surface before its first expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_first: Option<BeforeFirstName>,
    /// The surface after its last expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_last: Option<AfterLastName>,
    /// The forward vol after the last expiry (`off`: the last interval's ATM forward vol).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_last_vol: Option<Limit>,
    /// The wings beyond each expiry's quoted range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wings: Option<Wings>,
    /// The rule between expiries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub between: Option<Between>,
    /// The spline smile's roughness weight `λ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spline_smoothing: Option<f64>,
}

impl CalibrateConfig {
    /// `self`'s values, and `base`'s where `self` has none (flags over a file).
    #[must_use]
    pub fn or(self, base: CalibrateConfig) -> CalibrateConfig {
        CalibrateConfig {
            model: self.model.or(base.model),
            optimizer: self.optimizer.or(base.optimizer),
            weighting: self.weighting.or(base.weighting),
            objective: self.objective.or(base.objective),
            mid_weight: self.mid_weight.or(base.mid_weight),
            day_count: self.day_count.or(base.day_count),
            calendar: self.calendar.or(base.calendar),
            sabr_beta: self.sabr_beta.or(base.sabr_beta),
            min_quotes: self.min_quotes.or(base.min_quotes),
            keep_outliers: self.keep_outliers.or(base.keep_outliers),
            keep_no_bid: self.keep_no_bid.or(base.keep_no_bid),
            keep_crossed_or_locked: self.keep_crossed_or_locked.or(base.keep_crossed_or_locked),
            keep_one_tick_bid: self.keep_one_tick_bid.or(base.keep_one_tick_bid),
            max_iv_spread: self.max_iv_spread.or(base.max_iv_spread),
            max_log_moneyness: self.max_log_moneyness.or(base.max_log_moneyness),
            max_vol: self.max_vol.or(base.max_vol),
            min_forward_vol: self.min_forward_vol.or(base.min_forward_vol),
            before_first: self.before_first.or(base.before_first),
            after_last: self.after_last.or(base.after_last),
            after_last_vol: self.after_last_vol.or(base.after_last_vol),
            wings: self.wings.or(base.wings),
            between: self.between.or(base.between),
            spline_smoothing: self.spline_smoothing.or(base.spline_smoothing),
        }
    }

    /// Writes the values given into `opts` (the others stay as they are).
    ///
    /// # Errors
    /// [`ConfigError`] for `min_quotes = 0` or a `mid_weight` that is negative or not finite
    /// (the other values are checked when they are parsed).
    pub fn apply(&self, opts: &mut SurfaceOptions) -> Result<(), ConfigError> {
        if let Some(m) = self.model {
            opts.model = m;
        }
        if let Some(o) = self.optimizer {
            opts.fit.optimizer = o;
        }
        if let Some(w) = self.weighting {
            opts.slices.weighting = w;
        }
        if let Some(w) = self.mid_weight
            && !(w >= 0.0 && w.is_finite())
        {
            return Err(ConfigError {
                key: "mid_weight",
                expected: "a number ≥ 0",
                got: w.to_string(),
            });
        }
        match self.objective {
            Some(ObjectiveName::Vol) => opts.fit.objective = Objective::Vol,
            Some(ObjectiveName::BidAsk) => {
                opts.fit.objective = Objective::BidAsk {
                    mid_weight: self.mid_weight.unwrap_or(DEFAULT_MID_WEIGHT),
                };
            }
            None => {
                if let (Objective::BidAsk { mid_weight }, Some(w)) =
                    (&mut opts.fit.objective, self.mid_weight)
                {
                    *mid_weight = w;
                }
            }
        }
        if let Some(d) = self.day_count {
            opts.slices.day_count = d;
        }
        if let Some(c) = self.calendar {
            opts.calendar = c;
        }
        if let Some(b) = self.sabr_beta {
            opts.fit.sabr.beta = b.0;
        }
        if let Some(n) = self.min_quotes {
            if n == 0 {
                return Err(ConfigError {
                    key: "min_quotes",
                    expected: "an integer ≥ 1",
                    got: n.to_string(),
                });
            }
            opts.slices.min_quotes = n;
        }
        if let Some(k) = self.keep_outliers {
            opts.outliers = !k;
        }
        let f = &mut opts.slices.filters;
        if let Some(k) = self.keep_no_bid {
            f.no_bid = !k;
        }
        if let Some(k) = self.keep_crossed_or_locked {
            f.crossed_or_locked = !k;
        }
        if let Some(k) = self.keep_one_tick_bid {
            f.one_tick_bid = !k;
        }
        if let Some(l) = self.max_iv_spread {
            f.max_iv_spread = l.get();
        }
        if let Some(l) = self.max_log_moneyness {
            f.max_log_moneyness = l.get();
        }
        if let Some(l) = self.max_vol {
            f.max_vol = l.get();
        }
        if let Some(l) = self.spline_smoothing {
            if !(l >= 0.0 && l.is_finite()) {
                return Err(ConfigError {
                    key: "spline_smoothing",
                    expected: "a finite number ≥ 0",
                    got: l.to_string(),
                });
            }
            opts.fit.spline.smoothing = l;
        }
        let e = &mut opts.extrapolation;
        if let Some(w) = self.wings {
            e.wings = w;
        }
        if let Some(b) = self.between {
            e.between = b;
        }
        if let Some(v) = self.min_forward_vol {
            if !(v > 0.0 && v <= 10.0) {
                return Err(ConfigError {
                    key: "min_forward_vol",
                    expected: "a number in (0, 10]",
                    got: v.to_string(),
                });
            }
            e.min_forward_vol = v;
        }
        if let Some(b) = self.before_first {
            e.before_first = match b {
                BeforeFirstName::FlatVol => BeforeFirst::FlatVol,
                BeforeFirstName::Refuse => BeforeFirst::Refuse,
            };
        }
        let vol = match self.after_last_vol {
            Some(l) => l.get(),
            None => match e.after_last {
                AfterLast::ForwardVariance { vol } => vol,
                AfterLast::Refuse => None,
            },
        };
        if let Some(v) = vol
            && v > 10.0
        {
            return Err(ConfigError {
                key: "after_last_vol",
                expected: "a number in (0, 10] or `off`",
                got: v.to_string(),
            });
        }
        match self.after_last {
            Some(AfterLastName::Refuse) => e.after_last = AfterLast::Refuse,
            Some(AfterLastName::ForwardVariance) => {
                e.after_last = AfterLast::ForwardVariance { vol };
            }
            None => {
                if let AfterLast::ForwardVariance { vol: v } = &mut e.after_last {
                    *v = vol;
                }
            }
        }
        Ok(())
    }

    /// The complete table of `opts` (every key; `mid_weight` only with the `bid-ask`
    /// objective): what `report.json` echoes, and a config file that reproduces the run.
    pub fn from_options(opts: &SurfaceOptions) -> CalibrateConfig {
        let f = &opts.slices.filters;
        let (objective, mid_weight) = match opts.fit.objective {
            Objective::Vol => (ObjectiveName::Vol, None),
            Objective::BidAsk { mid_weight } => (ObjectiveName::BidAsk, Some(mid_weight)),
        };
        CalibrateConfig {
            model: Some(opts.model),
            optimizer: Some(opts.fit.optimizer),
            weighting: Some(opts.slices.weighting),
            objective: Some(objective),
            mid_weight,
            day_count: Some(opts.slices.day_count),
            calendar: Some(opts.calendar),
            sabr_beta: Some(BetaSetting(opts.fit.sabr.beta)),
            min_quotes: Some(opts.slices.min_quotes),
            keep_outliers: Some(!opts.outliers),
            keep_no_bid: Some(!f.no_bid),
            keep_crossed_or_locked: Some(!f.crossed_or_locked),
            keep_one_tick_bid: Some(!f.one_tick_bid),
            max_iv_spread: Some(Limit::of(f.max_iv_spread)),
            max_log_moneyness: Some(Limit::of(f.max_log_moneyness)),
            max_vol: Some(Limit::of(f.max_vol)),
            min_forward_vol: Some(opts.extrapolation.min_forward_vol),
            before_first: Some(match opts.extrapolation.before_first {
                BeforeFirst::FlatVol => BeforeFirstName::FlatVol,
                BeforeFirst::Refuse => BeforeFirstName::Refuse,
            }),
            after_last: Some(match opts.extrapolation.after_last {
                AfterLast::ForwardVariance { .. } => AfterLastName::ForwardVariance,
                AfterLast::Refuse => AfterLastName::Refuse,
            }),
            after_last_vol: match opts.extrapolation.after_last {
                AfterLast::ForwardVariance { vol } => Some(Limit::of(vol)),
                AfterLast::Refuse => None,
            },
            wings: Some(opts.extrapolation.wings),
            between: Some(opts.extrapolation.between),
            spline_smoothing: Some(opts.fit.spline.smoothing),
        }
    }
}
