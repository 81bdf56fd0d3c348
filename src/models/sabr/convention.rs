//! Vol quoting conventions of SABR fits: the expansion's (Black of `F + b`, or normal) and the
//! slice's, with exact conversion through the option price and its vega ratio.

use crate::black::{
    OptionKind, bachelier_greeks, bachelier_price, black_greeks, black_price, implied_normal_vol,
    implied_vol,
};

/// A vol quoting convention: normal, or Black on `F + shift`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Quote {
    pub normal: bool,
    pub shift: f64,
}

impl Quote {
    fn price(self, kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
        if self.normal {
            bachelier_price(kind, f, k, t, vol)
        } else {
            black_price(kind, f + self.shift, k + self.shift, t, vol)
        }
    }

    fn vega(self, kind: OptionKind, f: f64, k: f64, t: f64, vol: f64) -> f64 {
        if self.normal {
            bachelier_greeks(kind, f, k, t, vol).vega
        } else {
            black_greeks(kind, f + self.shift, k + self.shift, t, vol).vega
        }
    }

    fn implied(self, kind: OptionKind, price: f64, f: f64, k: f64, t: f64) -> Option<f64> {
        if self.normal {
            implied_normal_vol(kind, price, f, k, t).ok()
        } else {
            implied_vol(kind, price, f + self.shift, k + self.shift, t).ok()
        }
    }

    /// `vol` in convention `self` as a vol in `to`, with `∂(to vol)/∂(self vol)`.
    pub fn convert(self, to: Quote, f: f64, k: f64, t: f64, vol: f64) -> Option<(f64, f64)> {
        if self == to {
            return Some((vol, 1.0));
        }
        let kind = OptionKind::otm(f, k);
        let p = self.price(kind, f, k, t, vol);
        let v = to.implied(kind, p, f, k, t)?;
        let d = self.vega(kind, f, k, t, vol) / to.vega(kind, f, k, t, v);
        (v.is_finite() && d.is_finite()).then_some((v, d))
    }
}
