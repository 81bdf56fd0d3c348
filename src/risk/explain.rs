//! P&L explain between two snapshots of a chain: the actual change in value of a book, its
//! Taylor explanation term by term off the first surface's greeks, the unexplained rest, and
//! the full revaluation on the second surface.
//!
//! **Value.** An option is valued undiscounted in the quote currency (USD for Deribit):
//! Black-76 at the surface's forward of its expiry and the surface's vol
//! ([`option_greeks`]). Deribit options are inverse (coin-settled): the readers store coin
//! premiums ([`Premium::Coin`]) and `coin × forward` is the undiscounted USD value of the same
//! payoff, so every number here is USD. The coin P&L of a coin-denominated account also moves
//! with the forward itself (`C = V/F`, see [`inverse_greeks`](crate::risk::greeks::inverse_greeks));
//! it is not what this module explains.
//!
//! **Decomposition** (a second-order Taylor expansion, as in Hull, *Options, Futures and Other
//! Derivatives*, 10th ed., §19.11 "Taylor series expansions", with the smile moving under a
//! [`Dynamics`] as in Bergomi, *Stochastic Volatility Modeling*, 2016, ch. 2). Surface `A`
//! (at time `a`) prices an option of strike `K` and expiry `T` as the function
//!
//! `U(F, τ, ε) = Black(F, K, τ, σ_A(k(F), τ) + ε)`,
//!
//! where `τ` is the time to expiry, `ε` a parallel vol shift, and the smile is read at
//! `k(F) = ln(K/F)` (sticky moneyness / delta: the smile moves with the forward) or at
//! `k = ln(K/F_A)` with `F_A = A.forward(τ_a)` (sticky strike: it does not). `U` at
//! `(F_A, τ_a, 0)` is `A`'s price, and its partials there are exactly `A`'s greeks from
//! [`option_greeks`] (delta, gamma, theta `= −∂U/∂τ` per year, vega, vanna, volga per 1.00
//! of vol). Between the snapshots three things move, each measured once:
//!
//! * time: `Δt = τ_a − τ_b` (years; `τ_b` is `B`'s time to the same expiry);
//! * the forward of the position's expiry: `ΔF = F_B − F_A`, `F_B = B.forward(τ_b)`;
//! * the vol, *net of what the dynamics and the time roll predict*: `Δσ = σ_B(K, τ_b) −
//!   σ_A(k(F_B), τ_b)`. So `U(F_B, τ_b, Δσ)` is `B`'s price exactly, and under sticky
//!   moneyness the smile's move with the forward is in delta (and gamma), not in vega.
//!
//! The terms are `theta·Δt`, `delta·ΔF`, `½gamma·ΔF²`, `vega·Δσ`, `vanna·ΔF·Δσ`,
//! `½volga·Δσ²`, each times the quantity; nothing is counted twice because each is one
//! coefficient of the expansion of the single function `U` in `(ΔF, Δσ, Δt)`.
//! `full_reval = B's price − A's price = U(F_B, τ_b, Δσ) − U(F_A, τ_a, 0)`, so
//! `full_reval − Σ terms` is the expansion's remainder: third order in `(ΔF, Δσ)` and the
//! cross terms with time (charm `ΔF·Δt`, veta `Δσ·Δt`, `Δt²`). The `actual` P&L is the change
//! of the exchange's marks (mids where a snapshot has no mark, the surface's price where it
//! does not quote the instrument at all — flagged in [`PriceSource`]), and
//! `unexplained = actual − Σ terms`.
//!
//! **Limits.** (1) Discrete time: over six hours a move of a few percent in BTC makes the
//! third-order terms and the cross terms with time visible, most of all for short expiries
//! near the money, where gamma is large and changes fast. (2) Marks against fit:
//! `actual − full_reval` is the change of the difference between the exchange's marks and the
//! fitted surface; the Taylor terms can explain no more than the surface's own move. (3) Model
//! error: the greeks are those of the fitted smile under an assumed dynamics, and the smile's
//! actual move is neither sticky strike nor sticky moneyness.
//!
//! **Summary statistics** ([`Fit`]): across the positions, with prediction `p_i = Σ terms` and
//! target `y_i` (actual, or full revaluation): `R² = 1 − Σ(y_i − p_i)²/Σ(y_i − ȳ)²` (the
//! prediction is not regressed: `R²` can be negative), the unexplained fraction
//! `Σ|y_i − p_i| / Σ|y_i|`, and for the book total `|Σy − Σp| / |Σy|`.

use crate::OptionKind;
use crate::black::{Greeks, black_price};
use crate::quotes::{Chain, OptionQuote, Premium};
use crate::risk::greeks::{Dynamics, option_greeks};
use crate::surface::{FittedSurface, QueryError, VolSurface};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One option held between two surfaces, with its time to expiry on each surface's clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    /// Call or put.
    pub kind: OptionKind,
    /// Strike (quote currency).
    pub strike: f64,
    /// Time to expiry (years) at the first snapshot.
    pub t_a: f64,
    /// Time to expiry (years) at the second snapshot.
    pub t_b: f64,
    /// Number of options (negative: short).
    pub quantity: f64,
}

/// The Taylor terms of a P&L explain (quote currency, already times the quantity).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Terms {
    /// `delta·ΔF`.
    pub delta: f64,
    /// `½·gamma·ΔF²`.
    pub gamma: f64,
    /// `vega·Δσ`.
    pub vega: f64,
    /// `theta·Δt`.
    pub theta: f64,
    /// `vanna·ΔF·Δσ`.
    pub vanna: f64,
    /// `½·volga·Δσ²`.
    pub volga: f64,
}

impl Terms {
    /// The sum of the terms.
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.delta + self.gamma + self.vega + self.theta + self.vanna + self.volga
    }

    /// The terms in the order of [`Terms::NAMES`].
    #[must_use]
    pub fn values(&self) -> [f64; 6] {
        [
            self.delta, self.gamma, self.vega, self.theta, self.vanna, self.volga,
        ]
    }

    /// Names of the terms, as in the JSON.
    pub const NAMES: [&'static str; 6] = ["delta", "gamma", "vega", "theta", "vanna", "volga"];

    fn add(&mut self, o: &Terms) {
        self.delta += o.delta;
        self.gamma += o.gamma;
        self.vega += o.vega;
        self.theta += o.theta;
        self.vanna += o.vanna;
        self.volga += o.volga;
    }
}

/// What moved between the snapshots for one leg (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moves {
    /// `Δt = τ_a − τ_b` (years).
    pub dt: f64,
    /// `F_A`: the first surface's forward of the leg's expiry.
    pub forward_a: f64,
    /// `F_B`: the second surface's forward of the leg's expiry.
    pub forward_b: f64,
    /// The first surface's vol at the strike.
    pub vol_a: f64,
    /// The second surface's vol at the strike.
    pub vol_b: f64,
    /// The first surface's vol after the time roll and the forward move under the dynamics.
    pub vol_predicted: f64,
    /// `Δσ = vol_b − vol_predicted`.
    pub d_vol: f64,
}

/// The Taylor explanation of one leg between two surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LegExplain {
    /// The first surface's greeks, per option ([`option_greeks`]).
    pub greeks: Greeks,
    /// The moves.
    pub moves: Moves,
    /// The terms, times the quantity.
    pub terms: Terms,
    /// `quantity × (B's price − A's price)`.
    pub full_reval: f64,
    /// `quantity × A's price`.
    pub value_a: f64,
    /// `quantity × B's price`.
    pub value_b: f64,
    /// B's price per option.
    pub price_b: f64,
}

/// Explains one leg from surface `a` to surface `b` under `dynamics` (decomposition in the
/// [module docs](self)).
///
/// # Errors
/// [`QueryError`] where either surface has no price or `a` no greeks for the leg.
///
/// ```
/// use volfit::risk::explain::{explain_leg, Leg};
/// use volfit::risk::greeks::{Bumped, Dynamics};
/// use volfit::surface::{VarianceDerivatives, VolSurface};
/// use volfit::OptionKind;
/// struct Skew;
/// impl VolSurface for Skew {
///     fn forward_impl(&self, _t: f64) -> f64 { 100.0 }
///     fn variance_derivatives_impl(&self, k: f64, t: f64) -> VarianceDerivatives {
///         let v = 0.2 - 0.1 * k;
///         VarianceDerivatives { w: v * v * t, w_k: -0.2 * v * t, w_kk: 0.02 * t, w_t: v * v }
///     }
/// }
/// let leg = Leg { kind: OptionKind::Call, strike: 105.0, t_a: 0.5, t_b: 0.5, quantity: 2.0 };
/// let d = Dynamics::StickyMoneyness;
/// let b = Bumped { base: &Skew, forward_scale: 1.01, vol_shift: 0.002, dynamics: d };
/// let e = explain_leg(&Skew, &b, &leg, d)?;
/// assert!((e.moves.d_vol - 0.002).abs() < 1e-12); // the smile's move with F is not vega
/// assert!((e.full_reval - e.terms.sum()).abs() < 1e-2 * e.full_reval.abs());
/// # Ok::<(), volfit::surface::QueryError>(())
/// ```
pub fn explain_leg(
    a: &dyn VolSurface,
    b: &dyn VolSurface,
    leg: &Leg,
    dynamics: Dynamics,
) -> Result<LegExplain, QueryError> {
    let (kind, strike, q) = (leg.kind, leg.strike, leg.quantity);
    let g = option_greeks(a, kind, strike, leg.t_a, dynamics)?;
    let price_b = b.try_price(kind, strike, leg.t_b)?;
    let forward_a = a.forward(leg.t_a);
    let forward_b = b.forward(leg.t_b);
    let vol_a = a.try_vol(strike, leg.t_a)?;
    let vol_b = b.try_vol(strike, leg.t_b)?;
    let k_pred = if dynamics.floats() {
        (strike / forward_b).ln()
    } else {
        (strike / forward_a).ln()
    };
    let w_pred = a.total_variance(k_pred, leg.t_b);
    if !(w_pred > 0.0 && w_pred.is_finite()) {
        return Err(QueryError::Unrepresentable {
            what: "rolled total variance",
            strike,
            t: leg.t_b,
            value: w_pred,
        });
    }
    let vol_predicted = (w_pred / leg.t_b).sqrt();
    let d_vol = vol_b - vol_predicted;
    let dt = leg.t_a - leg.t_b;
    let df = forward_b - forward_a;
    let terms = Terms {
        delta: q * g.delta * df,
        gamma: q * 0.5 * g.gamma * df * df,
        vega: q * g.vega * d_vol,
        theta: q * g.theta * dt,
        vanna: q * g.vanna * df * d_vol,
        volga: q * 0.5 * g.volga * d_vol * d_vol,
    };
    Ok(LegExplain {
        greeks: g,
        moves: Moves {
            dt,
            forward_a,
            forward_b,
            vol_a,
            vol_b,
            vol_predicted,
            d_vol,
        },
        terms,
        full_reval: q * (price_b - g.price),
        value_a: q * g.price,
        value_b: q * price_b,
        price_b,
    })
}

/// A position of a book: an instrument, its contract and the quantity held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookPosition {
    /// The instrument's name (e.g. `BTC-27MAR26-100000-C`).
    pub instrument: String,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike (quote currency).
    pub strike: f64,
    /// Expiry instant (UTC).
    pub expiry: DateTime<Utc>,
    /// Number of options (negative: short).
    pub quantity: f64,
}

/// Where a snapshot's value of an instrument came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// The exchange's mark price.
    Mark,
    /// `(bid + ask)/2`: no mark, both sides quoted.
    Mid,
    /// The fitted surface's price: the snapshot does not quote the instrument (no row, or a
    /// row with neither a mark nor both sides).
    Surface,
}

/// One snapshot: its calibrated surface and the chain it was calibrated from (for marks).
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// The surface.
    pub surface: &'a FittedSurface,
    /// The chain.
    pub chain: &'a Chain,
}

/// The explain of one position (quote currency, times the quantity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionExplain {
    /// The instrument's name.
    pub instrument: String,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike.
    pub strike: f64,
    /// Expiry.
    pub expiry: DateTime<Utc>,
    /// Quantity.
    pub quantity: f64,
    /// The actual P&L: value at the second snapshot − value at the first.
    pub actual: f64,
    /// `delta·ΔF`.
    pub delta: f64,
    /// `½·gamma·ΔF²`.
    pub gamma: f64,
    /// `vega·Δσ`.
    pub vega: f64,
    /// `theta·Δt`.
    pub theta: f64,
    /// `vanna·ΔF·Δσ`.
    pub vanna: f64,
    /// `½·volga·Δσ²`.
    pub volga: f64,
    /// `actual − Σ terms`.
    pub unexplained: f64,
    /// The second surface's value − the first's.
    pub full_reval: f64,
    /// Source of the value at the first snapshot.
    pub source_a: PriceSource,
    /// Source of the value at the second snapshot.
    pub source_b: PriceSource,
    /// Value at the first snapshot (quantity × per-option USD value).
    pub value_a: f64,
    /// Value at the second snapshot.
    pub value_b: f64,
    /// The moves behind the terms.
    pub moves: Moves,
}

impl PositionExplain {
    /// The Taylor terms.
    #[must_use]
    pub fn terms(&self) -> Terms {
        Terms {
            delta: self.delta,
            gamma: self.gamma,
            vega: self.vega,
            theta: self.theta,
            vanna: self.vanna,
            volga: self.volga,
        }
    }
}

/// Book totals.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Σ actual.
    pub actual: f64,
    /// Σ `delta·ΔF`.
    pub delta: f64,
    /// Σ `½gamma·ΔF²`.
    pub gamma: f64,
    /// Σ `vega·Δσ`.
    pub vega: f64,
    /// Σ `theta·Δt`.
    pub theta: f64,
    /// Σ `vanna·ΔF·Δσ`.
    pub vanna: f64,
    /// Σ `½volga·Δσ²`.
    pub volga: f64,
    /// Σ unexplained.
    pub unexplained: f64,
    /// Σ full revaluation.
    pub full_reval: f64,
}

impl Totals {
    /// The Taylor terms of the totals.
    #[must_use]
    pub fn terms(&self) -> Terms {
        Terms {
            delta: self.delta,
            gamma: self.gamma,
            vega: self.vega,
            theta: self.theta,
            vanna: self.vanna,
            volga: self.volga,
        }
    }
}

/// How well a prediction explains a target across positions (definitions in the
/// [module docs](self)); `None` where there is no answer (no positions, a target with no
/// spread or all zero).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Fit {
    /// Number of positions.
    pub n: usize,
    /// `1 − Σ(y − p)²/Σ(y − ȳ)²`.
    pub r2: Option<f64>,
    /// `Σ|y − p| / Σ|y|`.
    pub unexplained_fraction: Option<f64>,
    /// `|Σy − Σp| / |Σy|`.
    pub book_unexplained_fraction: Option<f64>,
}

impl Fit {
    /// The statistics of predictions `p` against targets `y` (pairs `(y, p)`).
    ///
    /// ```
    /// use volfit::risk::explain::Fit;
    /// let f = Fit::of(&[(1.0, 1.0), (3.0, 2.0)]);
    /// assert_eq!(f.r2, Some(0.5)); // Σ(y−p)² = 1, Σ(y−ȳ)² = 2
    /// assert_eq!(f.unexplained_fraction, Some(0.25));
    /// assert_eq!(f.book_unexplained_fraction, Some(0.25));
    /// assert_eq!(Fit::of(&[]).r2, None);
    /// ```
    #[must_use]
    pub fn of(pairs: &[(f64, f64)]) -> Fit {
        let n = pairs.len();
        if n == 0 {
            return Fit::default();
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = pairs.iter().map(|p| p.0).sum::<f64>() / n as f64;
        let ss_tot: f64 = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum();
        let ss_res: f64 = pairs.iter().map(|p| (p.0 - p.1).powi(2)).sum();
        let abs_y: f64 = pairs.iter().map(|p| p.0.abs()).sum();
        let abs_res: f64 = pairs.iter().map(|p| (p.0 - p.1).abs()).sum();
        let sum_y: f64 = pairs.iter().map(|p| p.0).sum();
        let sum_p: f64 = pairs.iter().map(|p| p.1).sum();
        let ratio = |a: f64, b: f64| (b > 0.0 && (a / b).is_finite()).then_some(a / b);
        Fit {
            n,
            r2: ratio(ss_res, ss_tot).map(|r| 1.0 - r),
            unexplained_fraction: ratio(abs_res, abs_y),
            book_unexplained_fraction: ratio((sum_y - sum_p).abs(), sum_y.abs()),
        }
    }
}

/// The statistics of a book's explain.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Σ terms against the actual P&L.
    pub terms_vs_actual: Fit,
    /// Σ terms against the full revaluation (the expansion's remainder alone).
    pub terms_vs_full_reval: Fit,
    /// The full revaluation against the actual P&L (marks against the fit).
    pub full_reval_vs_actual: Fit,
    /// Positions whose actual used a mark at both ends.
    pub marked_both: usize,
}

/// A position that could not be explained, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The instrument.
    pub instrument: String,
    /// Why.
    pub reason: String,
}

/// The P&L explain of a book between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explain {
    /// The dynamics of the greeks.
    pub dynamics: Dynamics,
    /// The first snapshot's time.
    pub as_of_a: Option<DateTime<Utc>>,
    /// The second snapshot's time.
    pub as_of_b: Option<DateTime<Utc>>,
    /// One entry per explained position, in book order.
    pub positions: Vec<PositionExplain>,
    /// Sums over the positions.
    pub totals: Totals,
    /// Statistics.
    pub summary: Summary,
    /// Positions not explained.
    pub skipped: Vec<Skipped>,
}

/// Time to `expiry` on a surface: the slice's own `t` where the surface has that expiry (the
/// clock its fit used), else [`FittedSurface::year_fraction`].
fn time_to(surface: &FittedSurface, expiry: DateTime<Utc>) -> Option<f64> {
    surface
        .slices()
        .iter()
        .find(|s| s.expiry == Some(expiry))
        .map(|s| s.t)
        .or_else(|| surface.year_fraction(expiry))
}

/// The undiscounted quote-currency value of one option from a chain row: mark, else mid,
/// converted from the chain's premium unit (`coin × forward` for inverse options; quoted
/// premium / discount factor; Black at the mark or mid vol for vol chains).
fn quote_value(
    chain: &Chain,
    q: &OptionQuote,
    forward: f64,
    discount: f64,
    t: f64,
) -> Option<(f64, PriceSource)> {
    let mid = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(f64::midpoint(a, b)),
        _ => None,
    };
    let f = q.forward.unwrap_or(forward);
    let (v, src) = match chain.premium {
        Premium::ImpliedVol => {
            let (iv, src) = q
                .mark_iv
                .map(|v| (v, PriceSource::Mark))
                .or_else(|| mid(q.bid_iv, q.ask_iv).map(|v| (v, PriceSource::Mid)))?;
            (black_price(q.kind, f, q.strike, t, iv), src)
        }
        Premium::Coin | Premium::Quote => {
            let (p, src) = q
                .mark
                .map(|v| (v, PriceSource::Mark))
                .or_else(|| mid(q.bid, q.ask).map(|v| (v, PriceSource::Mid)))?;
            if chain.premium == Premium::Coin {
                (p * f, src)
            } else {
                (p / q.discount.unwrap_or(discount), src)
            }
        }
    };
    v.is_finite().then_some((v, src))
}

/// The value of one option at a snapshot: from its chain row where it has one, else the
/// surface's price.
fn snapshot_value(
    s: &Snapshot<'_>,
    p: &BookPosition,
    t: f64,
    surface_price: f64,
) -> (f64, PriceSource) {
    let row = s
        .chain
        .quotes
        .iter()
        .find(|q| q.kind == p.kind && q.strike == p.strike && q.expiry == p.expiry);
    let forward = s.surface.forward(t);
    let discount = s.surface.discount(t).unwrap_or(1.0);
    row.and_then(|q| quote_value(s.chain, q, forward, discount, t))
        .unwrap_or((surface_price, PriceSource::Surface))
}

/// Explains a book from snapshot `a` to snapshot `b` under `dynamics`: per position the
/// actual P&L (marks, mids, or surface prices, flagged), the Taylor terms off `a`'s greeks,
/// the unexplained rest and the full revaluation (see the [module docs](self)), with totals
/// and [`Summary`] statistics. Positions that cannot be explained (expired by `b`, no price
/// on a surface) are listed in [`Explain::skipped`] with the reason.
#[must_use]
pub fn explain_book(
    a: &Snapshot<'_>,
    b: &Snapshot<'_>,
    positions: &[BookPosition],
    dynamics: Dynamics,
) -> Explain {
    let mut out = Explain {
        dynamics,
        as_of_a: a.surface.as_of(),
        as_of_b: b.surface.as_of(),
        positions: Vec::new(),
        totals: Totals::default(),
        summary: Summary::default(),
        skipped: Vec::new(),
    };
    for p in positions {
        let skip = |reason: String| Skipped {
            instrument: p.instrument.clone(),
            reason,
        };
        let (Some(t_a), Some(t_b)) = (time_to(a.surface, p.expiry), time_to(b.surface, p.expiry))
        else {
            out.skipped.push(skip(format!(
                "expiry {} is not after both snapshots (as of {} and {})",
                p.expiry.format("%Y-%m-%d %H:%M UTC"),
                a.surface.as_of().map_or_else(
                    || "unknown".into(),
                    |t| t.format("%Y-%m-%d %H:%M UTC").to_string()
                ),
                b.surface.as_of().map_or_else(
                    || "unknown".into(),
                    |t| t.format("%Y-%m-%d %H:%M UTC").to_string()
                )
            )));
            continue;
        };
        let leg = Leg {
            kind: p.kind,
            strike: p.strike,
            t_a,
            t_b,
            quantity: p.quantity,
        };
        let e = match explain_leg(a.surface, b.surface, &leg, dynamics) {
            Ok(e) => e,
            Err(err) => {
                out.skipped.push(skip(format!("no price or greeks: {err}")));
                continue;
            }
        };
        let (va, source_a) = snapshot_value(a, p, t_a, e.greeks.price);
        let (vb, source_b) = snapshot_value(b, p, t_b, e.price_b);
        let (value_a, value_b) = (p.quantity * va, p.quantity * vb);
        let actual = value_b - value_a;
        let t = e.terms;
        out.positions.push(PositionExplain {
            instrument: p.instrument.clone(),
            kind: p.kind,
            strike: p.strike,
            expiry: p.expiry,
            quantity: p.quantity,
            actual,
            delta: t.delta,
            gamma: t.gamma,
            vega: t.vega,
            theta: t.theta,
            vanna: t.vanna,
            volga: t.volga,
            unexplained: actual - t.sum(),
            full_reval: e.full_reval,
            source_a,
            source_b,
            value_a,
            value_b,
            moves: e.moves,
        });
    }
    let mut terms = Terms::default();
    for p in &out.positions {
        terms.add(&p.terms());
        out.totals.actual += p.actual;
        out.totals.unexplained += p.unexplained;
        out.totals.full_reval += p.full_reval;
    }
    out.totals.delta = terms.delta;
    out.totals.gamma = terms.gamma;
    out.totals.vega = terms.vega;
    out.totals.theta = terms.theta;
    out.totals.vanna = terms.vanna;
    out.totals.volga = terms.volga;
    let pairs = |f: &dyn Fn(&PositionExplain) -> (f64, f64)| -> Vec<(f64, f64)> {
        out.positions.iter().map(f).collect()
    };
    out.summary = Summary {
        terms_vs_actual: Fit::of(&pairs(&|p| (p.actual, p.terms().sum()))),
        terms_vs_full_reval: Fit::of(&pairs(&|p| (p.full_reval, p.terms().sum()))),
        full_reval_vs_actual: Fit::of(&pairs(&|p| (p.actual, p.full_reval))),
        marked_both: out
            .positions
            .iter()
            .filter(|p| p.source_a == PriceSource::Mark && p.source_b == PriceSource::Mark)
            .count(),
    };
    out
}
