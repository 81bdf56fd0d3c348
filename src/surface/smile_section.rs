//! The smile of one expiry as an object (QuantLib's `SmileSection`): vols by strike, the ATM
//! level, the quoted strike range, digital prices and the density, at one `t` of a surface.

use super::{FittedSurface, VolSurface};
use crate::OptionKind;
use crate::black::special::{norm_cdf, norm_pdf};

/// One expiry's smile, borrowed from its surface ([`FittedSurface::smile_section`]).
///
/// ```
/// use volfit::models::svi::Svi;
/// use volfit::surface::{FittedSurface, SliceModel, SurfaceSlice};
/// use volfit::OptionKind;
/// let slice = |t: f64| SurfaceSlice {
///     expiry: None, t, forward: 100.0, discount: 0.99,
///     model: SliceModel::Svi(Svi::new(0.04 * t, 0.1, -0.3, 0.0, 0.2).unwrap()),
///     quoted_k: Some([-0.3, 0.2]),
/// };
/// let s = FittedSurface::new("X".into(), None, None, vec![slice(0.5), slice(1.0)]).unwrap();
/// let smile = s.smile_section(1.0).unwrap();
/// assert_eq!(smile.atm_vol(), smile.vol(100.0));
/// let (c, p) = (smile.digital(OptionKind::Call, 105.0), smile.digital(OptionKind::Put, 105.0));
/// assert!((c + p - 0.99).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SmileSection<'a> {
    surface: &'a FittedSurface,
    t: f64,
    forward: f64,
    discount: f64,
}

impl FittedSurface {
    /// The smile at `t` (an expiry or any time the surface answers); `None` outside the
    /// query domain (`t` not finite and positive).
    pub fn smile_section(&self, t: f64) -> Option<SmileSection<'_>> {
        (t > 0.0 && t.is_finite()).then(|| SmileSection {
            surface: self,
            t,
            forward: self.forward(t),
            discount: self.discount(t).unwrap_or(1.0),
        })
    }
}

impl SmileSection<'_> {
    /// Its time to expiry.
    pub fn t(&self) -> f64 {
        self.t
    }
    /// Forward at `t`.
    pub fn forward(&self) -> f64 {
        self.forward
    }
    /// Discount factor to `t` (1 when the surface has none).
    pub fn discount(&self) -> f64 {
        self.discount
    }
    /// Black vol at `strike`; NaN outside the domain.
    pub fn vol(&self, strike: f64) -> f64 {
        self.surface.vol(strike, self.t)
    }
    /// The ATM-forward vol, `σ(F)`.
    pub fn atm_vol(&self) -> f64 {
        self.vol(self.forward)
    }
    /// The quoted strike range at `t` (from [`FittedSurface::location`]'s quoted `k` range);
    /// `None` where the slices record none.
    pub fn quoted_strikes(&self) -> Option<[f64; 2]> {
        let at = self.surface.location(self.forward, self.t)?;
        at.quoted_k
            .map(|[lo, hi]| [self.forward * lo.exp(), self.forward * hi.exp()])
    }
    /// Discounted price of a digital (cash-or-nothing, 1 paid at `t` if the option ends in
    /// the money) with the smile's slope: `−∂C/∂K = D·(Φ(d₂) − φ(d₂)·∂w/∂k / (2√w))` for a
    /// call (Gatheral, *The Volatility Surface*, 2006, ch. 1: the skew term), `D − call` for a
    /// put. NaN outside the domain.
    pub fn digital(&self, kind: OptionKind, strike: f64) -> f64 {
        if !(strike > 0.0 && strike.is_finite()) {
            return f64::NAN;
        }
        let k = (strike / self.forward).ln();
        let d = self.surface.variance_derivatives(k, self.t);
        let sw = d.w.sqrt();
        let d2 = -k / sw - 0.5 * sw;
        let call = self.discount * (norm_cdf(d2) - norm_pdf(d2) * d.w_k / (2.0 * sw));
        match kind {
            OptionKind::Call => call,
            OptionKind::Put => self.discount - call,
        }
    }
    /// Discounted Black price at the smile's vol.
    pub fn price(&self, kind: OptionKind, strike: f64) -> f64 {
        self.discount * self.surface.price(kind, strike, self.t)
    }
    /// Risk-neutral density per unit strike at `t`.
    pub fn density(&self, strike: f64) -> f64 {
        self.surface.density(strike, self.t)
    }
}
