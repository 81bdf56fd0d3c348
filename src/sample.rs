//! A realistic synthetic option chain from a known arbitrage-free surface (`volfit sample`):
//! Deribit-like BTC inverse options (premiums in BTC, 08:00 UTC expiries, futures forwards),
//! bid/ask quotes with vol-dependent spreads, tick rounding and noise, in Deribit's CSV layout
//! so that every reader and the whole pipeline run on it.
//!
//! The truth is an SSVI surface (Gatheral & Jacquier 2014, power-law `φ`, `η(1+|ρ|) ≤ 2`, so
//! free of static arbitrage) with an upward-sloping ATM term structure, and forwards
//! `F(t) = S·e^{bt}`. Everything is deterministic for a given seed.

use crate::black::{OptionKind, black_price};
use crate::models::ssvi::{Phi, Ssvi};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::fmt::Write as _;

/// Parameters of a sample chain.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    /// Snapshot time.
    pub as_of: DateTime<Utc>,
    /// Index (spot) price.
    pub spot: f64,
    /// Futures basis (continuous, per year).
    pub basis: f64,
    /// SSVI correlation.
    pub rho: f64,
    /// Power-law `φ(θ) = η/(θ^γ(1+θ)^{1−γ})`.
    pub eta: f64,
    /// Power-law exponent.
    pub gamma: f64,
    /// Short-end ATM vol.
    pub atm_short: f64,
    /// Long-end ATM vol (the ATM vol rises from the short to the long level over ~3 months).
    pub atm_long: f64,
    /// Standard deviation of the noise added to mid vols.
    pub noise: f64,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            as_of: Utc
                .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .unwrap_or_default(),
            spot: 95_000.0,
            basis: 0.06,
            rho: -0.12,
            eta: 1.4,
            gamma: 0.45,
            atm_short: 0.42,
            atm_long: 0.52,
            noise: 0.002,
            seed: 7,
        }
    }
}

/// SplitMix64: a small, well-mixed deterministic generator for the noise.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

impl SampleSpec {
    /// The true SSVI surface.
    ///
    /// # Errors
    /// [`ParamError`](crate::models::ParamError) when the spec's `ρ`, `η` or `γ` are outside
    /// SSVI's domain.
    pub fn surface(&self) -> Result<Ssvi, crate::models::ParamError> {
        Ssvi::new(
            self.rho,
            Phi::PowerLaw {
                eta: self.eta,
                gamma: self.gamma,
            },
        )
    }

    /// ATM total variance `θ(t)`.
    pub fn theta(&self, t: f64) -> f64 {
        let v = self.atm_long + (self.atm_short - self.atm_long) * (-t / 0.25).exp();
        v * v * t
    }

    /// Forward for expiry time `t`.
    pub fn forward(&self, t: f64) -> f64 {
        self.spot * (self.basis * t).exp()
    }

    /// True implied vol at log-moneyness `k` and time `t`.
    pub fn vol(&self, k: f64, t: f64) -> f64 {
        self.surface()
            .map_or(f64::NAN, |s| (s.w(k, self.theta(t)) / t).sqrt())
    }

    /// Expiries: the next two dailies, two weeklies, three monthlies and three quarterlies,
    /// at 08:00 UTC (Deribit's).
    pub fn expiries(&self) -> Vec<DateTime<Utc>> {
        let day0 = self.as_of.date_naive();
        let at8 = |d: chrono::NaiveDate| {
            Utc.from_utc_datetime(&d.and_hms_opt(8, 0, 0).unwrap_or_default())
        };
        let mut out = vec![at8(day0 + Duration::days(1)), at8(day0 + Duration::days(2))];
        // Fridays.
        let mut d = day0 + Duration::days(3);
        while out.len() < 4 {
            if d.format("%a").to_string() == "Fri" {
                out.push(at8(d));
            }
            d += Duration::days(1);
        }
        for days in [35, 63, 98, 161, 252, 343] {
            let mut e = day0 + Duration::days(days);
            while e.format("%a").to_string() != "Fri" {
                e += Duration::days(1);
            }
            out.push(at8(e));
        }
        out
    }

    /// The chain as Deribit CSV text.
    pub fn to_deribit_csv(&self) -> String {
        let mut rng = SplitMix(self.seed);
        let mut s = String::from(
            "timestamp,instrument_name,underlying,option_type,strike,expiry_datetime,bid_price,\
             ask_price,mark_price,implied_volatility,currency,index_price\n",
        );
        let stamp = self.as_of.to_rfc3339();
        for e in self.expiries() {
            let t = (e - self.as_of).num_milliseconds() as f64 / (365.0 * 86_400_000.0);
            let f = self.forward(t);
            let atm = (self.theta(t) / t).sqrt();
            let half = (3.5 * atm * t.sqrt()).clamp(0.04, 1.2);
            let raw = f * 2.0 * half.sinh() / 30.0;
            let step = [250.0, 500.0, 1000.0, 2000.0, 2500.0, 5000.0, 10_000.0]
                .into_iter()
                .find(|s| *s >= raw)
                .unwrap_or(10_000.0);
            let lo = (f * (-half).exp() / step).ceil() * step;
            let hi = (f * half.exp() / step).floor() * step;
            let name_date = e.format("%-d%b%y").to_string().to_uppercase();
            let mut strike = lo;
            while strike <= hi + 1e-9 {
                let k = (strike / f).ln();
                let sigma = self.vol(k, t);
                let mid_vol = sigma + self.noise * rng.normal();
                // Half-spread: 1 vol point near the money, widening in the wings and at the
                // short end.
                let hs = 0.005
                    + 0.006 * (k.abs() / (atm * t.sqrt())).min(4.0)
                    + 0.002 / (t * 52.0).max(0.2);
                for kind in [OptionKind::Call, OptionKind::Put] {
                    let coin = |v: f64| black_price(kind, f, strike, t, v.max(0.01)) / f;
                    let tick = |p: f64| if p < 0.005 { 0.0001 } else { 0.0005 };
                    let (b, a) = (coin(mid_vol - hs), coin(mid_vol + hs));
                    let bid = (b / tick(b)).floor() * tick(b);
                    let ask = (a / tick(a)).ceil() * tick(a);
                    let bid = if bid >= 0.0001 {
                        format!("{bid:.4}")
                    } else {
                        String::new()
                    };
                    let cp = if kind == OptionKind::Call { "C" } else { "P" };
                    let _ = writeln!(
                        s,
                        "{stamp},BTC-{name_date}-{strike:.0}-{cp},{f:.2},{},{strike:.1},{},{bid},{ask:.4},{:.8},{:.4},BTC,{:.2}",
                        if kind == OptionKind::Call {
                            "call"
                        } else {
                            "put"
                        },
                        e.to_rfc3339(),
                        coin(sigma),
                        sigma,
                        self.spot
                    );
                }
                strike += step;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_is_free_of_static_arbitrage() {
        let spec = SampleSpec::default();
        let ssvi = spec.surface().unwrap();
        let ts: Vec<f64> = (1..200).map(|i| f64::from(i) * 0.01).collect();
        for w in ts.windows(2) {
            let (a, b) = (spec.theta(w[0]), spec.theta(w[1]));
            assert!(b > a);
            assert!(ssvi.butterfly_sufficient(a) && ssvi.calendar_condition(a));
        }
        let csv = spec.to_deribit_csv();
        assert!(csv.lines().count() > 400, "{}", csv.lines().count());
    }
}
