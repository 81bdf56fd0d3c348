//! The FX smile references of `../shared/reference` (Reiswich & Wystup 2010; Castagna &
//! Mercurio 2007), read from the files and reproduced with `volfit::risk::delta`; shared by
//! `examples/delta_space.rs` and the test suite (`tests/risk`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Months, NaiveDate};
use volfit::OptionKind;
use volfit::risk::delta::{
    AtmConvention, BrokerQuotes, DeltaConvention, FxMarket, FxSmile, vanna_volga_first_order,
};

/// One pair of the Reiswich–Wystup example: its market, quotes and published values.
pub struct RwPair {
    /// "EURUSD" or "USDJPY".
    pub pair: String,
    /// Spot, τ (1M from the valuation date, ACT/365) and rates.
    pub market: FxMarket,
    /// The delta convention the file's note gives for the risk reversal.
    pub convention: DeltaConvention,
    /// ATM, 25Δ RR and quoted strangle.
    pub quotes: BrokerQuotes,
    /// The published numbers by quantity (the name before any " (").
    pub published: BTreeMap<String, f64>,
}

fn key(q: &str) -> String {
    q.split(" (").next().unwrap_or(q).trim().to_string()
}

/// Reads `reiswich_wystup_2010_fx_smile_example.csv`.
///
/// τ: the file gives the valuation date and "maturity 1M"; 2009-01-20 + 1 month is
/// 2009-02-20, 31 days, ACT/365 (the paper's printed τ = 0.0849 is this rounded; with 0.0849
/// itself the market strangle price misses the printed 0.0254782 by 5e-6).
pub fn read_rw(path: &Path) -> Vec<RwPair> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.expect("csv record");
        rows.entry(rec[0].to_string()).or_default().push((
            key(&rec[1]),
            rec[2].to_string(),
            rec[5].to_string(),
        ));
    }
    rows.into_iter()
        .map(|(pair, rows)| {
            let get = |k: &str| -> &(String, String, String) {
                rows.iter()
                    .find(|r| r.0 == k)
                    .unwrap_or_else(|| panic!("{pair}: no {k}"))
            };
            let num = |k: &str| -> f64 { get(k).1.parse().unwrap_or_else(|e| panic!("{k}: {e}")) };
            let date = NaiveDate::parse_from_str(&get("valuation_date").1, "%Y-%m-%d").unwrap();
            let expiry = date + Months::new(1);
            let tau = (expiry - date).num_days() as f64 / 365.0;
            let market = FxMarket::new(num("S0"), tau, num("r_d"), num("r_f")).unwrap();
            let note = &get("sigma_25RR").2;
            let convention = if note.contains("not premium") {
                DeltaConvention::Spot
            } else if note.contains("premium-adjusted spot") {
                DeltaConvention::SpotPremiumAdjusted
            } else {
                panic!("{pair}: unknown delta convention in {note:?}")
            };
            let quotes = BrokerQuotes {
                delta: 0.25,
                atm_vol: num("sigma_ATM"),
                risk_reversal: num("sigma_25RR"),
                strangle: num("sigma_25SQ"),
            };
            let published = rows
                .iter()
                .filter_map(|(k, v, _)| v.parse::<f64>().ok().map(|v| (k.clone(), v)))
                .collect();
            RwPair {
                pair,
                market,
                convention,
                quotes,
                published,
            }
        })
        .collect()
}

/// The ATM convention R&W's Table 5 strikes follow for both pairs: the delta-neutral straddle
/// `K = f·e^{σ²τ/2}` (for USDJPY, quoted in premium-adjusted delta, the premium-adjusted
/// straddle `f·e^{−σ²τ/2}` = 90.52 would differ from the printed 90.86).
pub const RW_ATM: AtmConvention = AtmConvention::DeltaNeutral {
    premium_adjusted: false,
};

impl RwPair {
    /// The smile volfit builds from the pair's quotes.
    pub fn smile(&self) -> FxSmile {
        self.market
            .smile_from_broker_quotes(self.convention, RW_ATM, self.quotes)
            .unwrap()
    }

    /// `(quantity, published, volfit, printed decimals)` for every published output.
    pub fn reproduction(&self) -> Vec<(&'static str, f64, f64, usize)> {
        let s = self.smile();
        let strike_dp = if self.pair.ends_with("JPY") { 2 } else { 4 };
        let rows: [(&'static str, f64, usize); 11] = [
            ("K_ATM", s.k_atm, strike_dp),
            ("K_25C", s.k_call, strike_dp),
            ("K_25P", s.k_put, strike_dp),
            ("sigma(K_25C)", s.vol_call, 6),
            ("sigma(K_25P)", s.vol_put, 6),
            ("K_25C_S_M", s.k_call_market_strangle, strike_dp),
            ("K_25P_S_M", s.k_put_market_strangle, strike_dp),
            (
                "sigma(K_25C_S_M)",
                s.vol(s.k_call_market_strangle).unwrap(),
                6,
            ),
            (
                "sigma(K_25P_S_M)",
                s.vol(s.k_put_market_strangle).unwrap(),
                6,
            ),
            (
                "v_25_S_M",
                s.market_strangle_price,
                if strike_dp == 2 { 5 } else { 7 },
            ),
            (
                "sigma_25_S_S",
                s.smile_strangle,
                if strike_dp == 2 { 5 } else { 6 },
            ),
        ];
        rows.into_iter()
            .map(|(k, v, dp)| (k, self.published[k], v, dp))
            .collect()
    }
}

/// The Castagna–Mercurio EURUSD 3M example.
pub struct CmExample {
    /// Spot, τ = 94/365 and the rates of the discount factors.
    pub market: FxMarket,
    /// `(K_25P, σ_25P), (K_ATM, σ_ATM), (K_25C, σ_25C)`.
    pub pillars: [(f64, f64); 3],
    /// Market 10Δ put and call vols.
    pub vol_10p: f64,
    /// Market 10Δ call vol.
    pub vol_10c: f64,
}

/// Reads `castagna_mercurio_2007_eurusd_vanna_volga.csv` (τ from the note's "94 days",
/// ACT/365).
pub fn read_cm(path: &Path) -> CmExample {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut m = BTreeMap::new();
    let mut days = None;
    for rec in r.records() {
        let rec = rec.expect("csv record");
        if &rec[0] == "valuation_date" {
            let note = &rec[2];
            let i = note.find(" days").expect("days in the note");
            let start = note[..i].rfind(' ').map_or(0, |j| j + 1);
            days = Some(note[start..i].parse::<f64>().unwrap());
        }
        if let Ok(v) = rec[1].parse::<f64>() {
            m.insert(rec[0].to_string(), v);
        }
    }
    let tau = days.unwrap() / 365.0;
    let r_d = -m["DF_USD(3M)"].ln() / tau;
    let r_f = -m["DF_EUR(3M)"].ln() / tau;
    CmExample {
        market: FxMarket::new(m["S0"], tau, r_d, r_f).unwrap(),
        pillars: [
            (m["K_25P"], m["sigma_25P"]),
            (m["K_ATM"], m["sigma_ATM"]),
            (m["K_25C"], m["sigma_25C"]),
        ],
        vol_10p: m["sigma_10P_market"],
        vol_10c: m["sigma_10C_market"],
    }
}

impl CmExample {
    /// The vanna–volga first-order smile through the pillars.
    pub fn vv(&self, k: f64) -> f64 {
        vanna_volga_first_order(self.pillars, k).unwrap_or(f64::NAN)
    }

    /// `(K, σ_VV(K))` at `delta` (±0.1) on the VV smile under `conv`.
    pub fn wing(&self, conv: DeltaConvention, kind: OptionKind, delta: f64) -> (f64, f64) {
        self.market
            .strike_from_delta_on_smile(conv, kind, delta, |k| self.vv(k))
            .unwrap()
    }
}
