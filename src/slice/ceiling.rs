//! Know the ceiling: can *any* arbitrage-free smile pass inside every bid/ask band of an
//! expiry?
//!
//! A fit's "within spread" share (the fraction of two-sided quotes whose fitted vol lies in
//! `[bid IV, ask IV]`) means little on its own: when the quotes themselves are inconsistent
//! (one quote's bid above the chord of its neighbours' asks, a call dearer than the forward),
//! no arbitrage-free smile, fitted by any model, reaches 100 %. [`ceiling`] decides, from the
//! quotes alone, what is attainable, with a small linear programme on discrete call prices.
//!
//! # The conditions
//!
//! Undiscounted call prices `c_i = C(K_i)/F` at strikes `x_i = K_i/F` (sorted, distinct) are
//! the prices of *some* arbitrage-free model — a distribution of `F_T/F ≥ 0` with mean 1 —
//! exactly when, with the anchor `x_0 = 0, c_0 = 1` (the call struck at zero is the forward):
//!
//! 1. the slopes `s_i = (c_{i+1} − c_i)/(x_{i+1} − x_i)` are non-decreasing (butterflies
//!    cost ≥ 0: convexity),
//! 2. the first slope, from the anchor, is `≥ −1`, and the last is `≤ 0` (call spreads cost
//!    between 0 and the strike difference),
//! 3. `c_n ≥ 0`.
//!
//! These are the static no-arbitrage conditions on a finite strip of calls of Carr & Madan,
//! "A note on sufficient conditions for no arbitrage", *Finance Research Letters* 2(3), 2005,
//! and of Davis & Hobson, "The range of traded option prices", *Mathematical Finance* 17(1),
//! 2007 (Theorem 3.1: with the anchor and these inequalities a consistent model exists; the
//! strict versions exclude weak arbitrage too — here the closed versions are used, so a
//! price sequence on the boundary counts as attainable). They imply `(1 − x_i)⁺ ≤ c_i ≤ 1`.
//! For normal-vol (Bachelier) slices the underlying may take any sign: there is no anchor,
//! the first slope between quotes is `≥ −1`, and `c ≥ (F − K)⁺` at both ends (which implies
//! it everywhere); prices are measured in units of `σ_ATM √T` and strikes as `(K − F)/(σ_ATM √T)`.
//!
//! # The programme
//!
//! Each two-sided quote gives a band of undiscounted prices — Black at the bid and ask vols
//! (Bachelier for normal-vol slices) — of the *out-of-the-money* option, i.e. the time value
//! `c − (1 − x)⁺`, which by put–call parity is the same for the call and the put at that
//! strike. Working in time values keeps the relative accuracy of deep in-the-money calls
//! (whose price `≈ 1 − x` would swamp a band `1e-9` wide); the intrinsic part enters every
//! constraint through its exact slopes (`−1`, `0`, or the one segment across the forward).
//!
//! The price of quote `j` is written `tv_j = bid_j + w_j·z_j` with `w_j` the band width, so
//! `z_j ∈ [0, 1]` is inside the band and `z_j = y_j + a_j − b_j` with `y_j ∈ [0, 1]`,
//! `a_j, b_j ≥ 0` the violation above the ask and below the bid **in units of the spread**.
//! The programme minimises `Σ (a_j + b_j)`, the total violation in spreads — an L1
//! objective, which favours moving few quotes; up to three reweighted solves (cost
//! `1/(violation + 0.1)` per quote, reweighted L1) then look for a solution with fewer quotes
//! outside, so a lone bad quote is named rather than its fix spread over its neighbours. Quotes at one strike share one price (equality rows); when their bands do not
//! overlap, the programme pays for the gap and names the quote it moves.
//!
//! Every row is divided by its largest coefficient, and the variables are in spreads, so the
//! simplex ([`microlp`], feasibility tolerance `1e-7`) works on numbers of order one even
//! where a band is `1e-9` wide. The returned prices are then checked in `f64` against every
//! row as written ([`Ceiling::max_residual`], in the same scaled units, must be at most
//! [`VERIFY_TOL`]`= 1e-6`, ten times the simplex's tolerance), and a quote counts as inside
//! when its violation is at most [`INSIDE_TOL`]` = 1e-6` of its spread.
//!
//! [`Ceiling::attainable_within`] is the share of quotes inside in that solution: the
//! L1 optimum need not maximise the *count* of quotes inside (that is a combinatorial
//! problem), so it is an attainable share — a lower bound on the best any arbitrage-free
//! smile can do; it is exactly 1 when, and only when, the quotes are consistent
//! ([`Ceiling::feasible`]).
//!
//! # The shortcut: the hull of the asks
//!
//! Most chains are consistent, and for them no programme is needed. Any convex, non-increasing
//! price sequence with slopes `≥ −1` lying under the asks lies under the *largest* such
//! sequence: the lower convex hull of the ask prices (with the anchor), made flat after its
//! minimum (and, without an anchor, of slope −1 before its slope first reaches −1). So the
//! quotes are consistent exactly when that hull is at or above every bid, and then its prices
//! are the answer. [`ceiling`] computes it in `O(n)` (monotone chain, slopes as the intrinsic
//! part's exact slope plus time-value difference quotients), checks it against the same rows
//! and bands in `f64`, and solves the programme only if the check fails
//! ([`Ceiling::solved_lp`]; [`CeilingMethod::Lp`] forces the programme). On the shared SPX
//! chains this takes the median time per expiry from 0.3–0.7 ms (programme) to 30–45 µs.

use super::{SmilePoint, SmileSlice, VolConvention};
use crate::OptionKind;
use crate::black::{bachelier_price, black_price};
use microlp::{ComparisonOp, OptimizationDirection, Problem, Variable};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A quote counts as inside its band when the programme's violation is at most this many
/// spreads.
pub const INSIDE_TOL: f64 = 1e-6;

/// The returned prices must meet every no-arbitrage row within this (in the row's scaled
/// units: spreads of the quote with the largest coefficient in the row).
pub const VERIFY_TOL: f64 = 1e-6;

/// The narrowest band width used, in normalised price (a band narrower than this is widened
/// to it; `1e-13` of the forward is far below any tick).
pub const MIN_BAND: f64 = 1e-13;

/// Which side of its band a quote's attainable price leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BandSide {
    /// The attainable price is below the bid: the bid is too high for the other quotes.
    Bid,
    /// The attainable price is above the ask: the ask is too low.
    Ask,
}

/// A quote that no arbitrage-free smile passes through together with the others (in the
/// programme's solution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InconsistentQuote {
    /// Strike.
    pub strike: f64,
    /// Log-moneyness `ln(K/F)` (`K − F` for normal-vol slices).
    pub k: f64,
    /// The file line of the quote, where it has one.
    pub line: Option<u64>,
    /// The side of the band the attainable price leaves.
    pub side: BandSide,
    /// How far outside, in units of the quote's bid/ask spread (in price).
    pub spreads: f64,
}

/// What is attainable on one expiry (see the [module doc](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ceiling {
    /// Two-sided quotes (points with a bid and an ask vol) in the programme.
    pub n_quotes: usize,
    /// Every two-sided quote can be inside its band at once, by one arbitrage-free set of
    /// call prices.
    pub feasible: bool,
    /// Share of the two-sided quotes inside their band in the programme's solution: attainable
    /// by an arbitrage-free smile (a lower bound on the best possible share; 1 iff feasible).
    pub attainable_within: f64,
    /// Total violation of the returned prices, in spreads (0 when feasible; the L1 optimum,
    /// or more where reweighting found fewer quotes outside).
    pub total_violation: f64,
    /// The quotes outside their band in the solution, largest violation first.
    pub inconsistent: Vec<InconsistentQuote>,
    /// Largest violation of a no-arbitrage row by the returned prices, checked in `f64` in the
    /// row's scaled units (at most [`VERIFY_TOL`]).
    pub max_residual: f64,
    /// Whether the programme was solved (`false`: the exact hull showed the quotes consistent,
    /// and its prices are the answer).
    #[serde(default)]
    pub solved_lp: bool,
    /// Time to decide (bands, hull and, where solved, the programme), microseconds.
    pub lp_micros: f64,
}

/// [`Ceiling`] with the attainable prices themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingSolution {
    /// The summary.
    pub ceiling: Ceiling,
    /// Whether the prices are anchored at `x = 0, c = 1` (Black slices) or not (normal vols).
    pub anchored: bool,
    /// Distinct strikes, ascending.
    pub strikes: Vec<f64>,
    /// Normalised strikes: `K/F` (Black), `(K − F)/L + 1` (normal, `L` = [`Self::scale`]).
    pub x: Vec<f64>,
    /// Attainable normalised undiscounted call prices `C/F` (`C/L` for normal vols).
    pub call: Vec<f64>,
    /// Their time values `c − (1 − x)⁺` (the out-of-the-money option's normalised price).
    pub time_value: Vec<f64>,
    /// The intersected band of each strike in time value, `(low, high)` (`low > high` where
    /// the quotes at a strike do not overlap).
    pub band: Vec<(f64, f64)>,
    /// The price unit: the forward (Black) or `σ_ATM √T` (normal vols).
    pub scale: f64,
}

/// Why [`ceiling`] has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CeilingError {
    /// Fewer than three two-sided quotes.
    #[error("{0} two-sided quotes; the ceiling needs at least 3")]
    TooFewQuotes(usize),
    /// A bid or ask vol gave no finite price.
    #[error("the bid/ask vols of the quote at strike {0} give no finite price")]
    BadPrice(f64),
    /// The simplex failed.
    #[error("the ceiling LP failed: {0}")]
    Lp(String),
    /// The solution does not meet the constraints within [`VERIFY_TOL`].
    #[error("the ceiling LP solution violates a no-arbitrage row by {0:e} (> {VERIFY_TOL:e})")]
    Unverified(f64),
}

/// The ceiling of one expiry: whether an arbitrage-free set of call prices passes inside every
/// two-sided quote's band, the attainable share and the quotes that cannot be inside (see the
/// [module doc](self)).
///
/// # Errors
/// [`CeilingError::TooFewQuotes`] below three two-sided quotes; the others if the programme
/// cannot be built or solved, or its solution fails the `f64` check.
///
/// ```
/// use volfit::SmileSlice;
/// use volfit::slice::ceiling::ceiling;
/// let quotes: Vec<(f64, f64, f64)> =
///     (80..=120).step_by(5).map(|k| (f64::from(k), 0.19, 0.21)).collect();
/// let s = SmileSlice::from_bid_ask(0.5, 100.0, &quotes)?;
/// let c = ceiling(&s)?;
/// assert!(c.feasible && c.attainable_within == 1.0 && c.inconsistent.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ceiling(slice: &SmileSlice) -> Result<Ceiling, CeilingError> {
    ceiling_solution(slice).map(|s| s.ceiling)
}

/// One two-sided quote's band in normalised time value.
struct Band<'a> {
    point: &'a SmilePoint,
    x: f64,
    lo: f64,
    w: f64,
}

/// How [`ceiling_solution_with`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CeilingMethod {
    /// The exact hull first (the largest arbitrage-free prices under the asks); the programme
    /// only when the hull leaves a bid above it, i.e. the quotes are inconsistent.
    #[default]
    Auto,
    /// Always the programme (to compare timings, or the two answers).
    Lp,
}

/// [`ceiling`] with the attainable prices.
///
/// # Errors
/// As [`ceiling`].
pub fn ceiling_solution(slice: &SmileSlice) -> Result<CeilingSolution, CeilingError> {
    ceiling_solution_with(slice, CeilingMethod::Auto)
}

/// [`ceiling_solution`] by the given method.
///
/// # Errors
/// As [`ceiling`].
pub fn ceiling_solution_with(
    slice: &SmileSlice,
    method: CeilingMethod,
) -> Result<CeilingSolution, CeilingError> {
    let clock = Instant::now();
    let normal = slice.convention() == VolConvention::Normal;
    let (f, t) = (slice.forward(), slice.t());
    let two_sided: Vec<(&SmilePoint, f64, f64)> = slice
        .points()
        .iter()
        .filter_map(|p| p.bid_ask().map(|(b, a)| (p, b, a)))
        .collect();
    let n = two_sided.len();
    if n < 3 {
        return Err(CeilingError::TooFewQuotes(n));
    }
    // The price unit and the normalised strike.
    let scale = if normal {
        let atm = slice
            .points()
            .iter()
            .min_by(|a, b| a.k().abs().total_cmp(&b.k().abs()))
            .map_or(1.0, SmilePoint::mid_iv);
        atm * t.sqrt()
    } else {
        f
    };
    let norm_x = |k: f64| {
        if normal { (k - f) / scale + 1.0 } else { k / f }
    };
    let otm_price = |k: f64, vol: f64| {
        let kind = OptionKind::otm(f, k);
        if normal {
            bachelier_price(kind, f, k, t, vol) / scale
        } else {
            black_price(kind, 1.0, k / f, t, vol)
        }
    };
    let mut bands = Vec::with_capacity(n);
    for &(p, bid, ask) in &two_sided {
        let (lo, hi) = (otm_price(p.strike(), bid), otm_price(p.strike(), ask));
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(CeilingError::BadPrice(p.strike()));
        }
        bands.push(Band {
            point: p,
            x: norm_x(p.strike()),
            lo,
            w: (hi - lo).max(MIN_BAND),
        });
    }
    bands.sort_by(|a, b| a.x.total_cmp(&b.x));
    // Distinct strikes: the first quote of each is its representative.
    let mut groups: Vec<(usize, usize)> = Vec::new(); // [start, end) into bands
    for i in 0..n {
        match groups.last_mut() {
            Some(g) if bands[g.0].point.strike() == bands[i].point.strike() => g.1 = i + 1,
            _ => groups.push((i, i + 1)),
        }
    }
    let m = groups.len();
    if m < if normal { 2 } else { 1 } {
        return Err(CeilingError::TooFewQuotes(n));
    }

    // Rows over the representatives' time values: Σ coef·tv (≤ | ≥ | =) rhs.
    let mut rows: Vec<Row> = Vec::new();
    // The nodes: the anchor (x = 0, tv = 0, Black only), then the distinct strikes.
    let node_x = |g: usize| bands[groups[g].0].x;
    // The intrinsic value's slope on [a, b], exact: −1 left of 1, 0 right, the chord across.
    let g_slope = |a: f64, b: f64| {
        if b <= 1.0 {
            -1.0
        } else if a >= 1.0 {
            0.0
        } else {
            -(1.0 - a) / (b - a)
        }
    };
    // Segment slope of c between node indices (None = the anchor) as (tv coefficients, constant).
    let segment = |a: Option<usize>, b: usize| -> (Vec<(usize, f64)>, f64) {
        let xb = node_x(b);
        match a {
            None => (vec![(b, 1.0 / xb)], g_slope(0.0, xb)),
            Some(a) => {
                let xa = node_x(a);
                let d = xb - xa;
                (vec![(a, -1.0 / d), (b, 1.0 / d)], g_slope(xa, xb))
            }
        }
    };
    let mut segments: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    if !normal {
        segments.push(segment(None, 0));
    }
    for g in 1..m {
        segments.push(segment(Some(g - 1), g));
    }
    // First slope ≥ −1 and last ≤ 0.
    if let Some((c, k)) = segments.first() {
        rows.push(Row::new(c.clone(), ComparisonOp::Ge, -1.0 - k));
    }
    if let Some((c, k)) = segments.last() {
        rows.push(Row::new(c.clone(), ComparisonOp::Le, -k));
    }
    // Convexity: s_j − s_{j+1} ≤ 0.
    for j in 1..segments.len() {
        let (ca, ka) = &segments[j - 1];
        let (cb, kb) = &segments[j];
        let mut c = ca.clone();
        for &(v, q) in cb {
            match c.iter_mut().find(|(u, _)| *u == v) {
                Some(e) => e.1 -= q,
                None => c.push((v, -q)),
            }
        }
        rows.push(Row::new(c, ComparisonOp::Le, kb - ka));
    }
    // Prices at or above intrinsic at both ends (with the slopes, everywhere).
    rows.push(Row::new(vec![(0, 1.0)], ComparisonOp::Ge, 0.0));
    rows.push(Row::new(vec![(m - 1, 1.0)], ComparisonOp::Ge, 0.0));

    // Band-level rows: a representative index is a band index (groups[g].0).
    let mut scaled: Vec<ScaledRow> = Vec::new();
    for r in &rows {
        // tv_g = lo + w z  ⇒  Σ coef w z (op) rhs − Σ coef lo.
        let terms: Vec<(usize, f64)> = r
            .coef
            .iter()
            .map(|&(g, a)| (groups[g].0, a * bands[groups[g].0].w))
            .collect();
        let rhs = r.rhs
            - r.coef
                .iter()
                .map(|&(g, a)| a * bands[groups[g].0].lo)
                .sum::<f64>();
        let big = terms.iter().fold(0.0_f64, |s, &(_, a)| s.max(a.abs()));
        let terms: Vec<(usize, f64)> = terms.into_iter().map(|(j, a)| (j, a / big)).collect();
        scaled.push((terms, r.op, rhs / big, big));
    }
    // Quotes sharing a strike share a price: w_j z_j − w_r z_r = lo_r − lo_j.
    for &(start, end) in &groups {
        for j in start + 1..end {
            let (r, q) = (&bands[start], &bands[j]);
            let big = r.w.max(q.w);
            scaled.push((
                vec![(j, q.w / big), (start, -r.w / big)],
                ComparisonOp::Eq,
                (r.lo - q.lo) / big,
                big,
            ));
        }
    }
    // The maximal arbitrage-free prices under the asks (exact, O(n)): when they are inside
    // every band the quotes are consistent and no programme is needed.
    let hull = upper_hull(
        &node_xs(&bands, &groups),
        &upper_tv(&bands, &groups),
        normal,
    );
    let candidate: Vec<f64> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, &(start, end))| {
            let tv = hull[g];
            bands[start..end].iter().map(move |b| (tv - b.lo) / b.w)
        })
        .collect();
    let hull_holds = method == CeilingMethod::Auto
        && residual(&scaled, &candidate) <= VERIFY_TOL
        && candidate
            .iter()
            .all(|&z| (-INSIDE_TOL..=1.0 + INSIDE_TOL).contains(&z));
    let (z, objective) = if hull_holds {
        (candidate, 0.0)
    } else {
        sparse_lp(&scaled, n)?
    };

    // Check the solution in f64 against every row as written, in its scaled units.
    let max_residual = residual(&scaled, &z);
    if !(max_residual <= VERIFY_TOL) {
        return Err(CeilingError::Unverified(max_residual));
    }

    let mut inconsistent: Vec<InconsistentQuote> = bands
        .iter()
        .zip(&z)
        .filter_map(|(b, &z)| {
            let (side, spreads) = if z < 0.0 {
                (BandSide::Bid, -z)
            } else {
                (BandSide::Ask, z - 1.0)
            };
            (spreads > INSIDE_TOL).then_some(InconsistentQuote {
                strike: b.point.strike(),
                k: b.point.k(),
                line: b.point.line(),
                side,
                spreads,
            })
        })
        .collect();
    inconsistent.sort_by(|a, b| b.spreads.total_cmp(&a.spreads));
    let inside = n - inconsistent.len();
    let lp_micros = clock.elapsed().as_secs_f64() * 1e6;

    let mut strikes = Vec::with_capacity(m);
    let mut x = Vec::with_capacity(m);
    let mut call = Vec::with_capacity(m);
    let mut time_value = Vec::with_capacity(m);
    let mut band = Vec::with_capacity(m);
    for &(start, end) in &groups {
        let r = &bands[start];
        let tv = r.lo + r.w * z[start];
        strikes.push(r.point.strike());
        x.push(r.x);
        time_value.push(tv);
        call.push(tv + (1.0 - r.x).max(0.0));
        band.push(
            bands[start..end]
                .iter()
                .fold((f64::NEG_INFINITY, f64::INFINITY), |(l, h), b| {
                    (l.max(b.lo), h.min(b.lo + b.w))
                }),
        );
    }
    Ok(CeilingSolution {
        ceiling: Ceiling {
            n_quotes: n,
            feasible: inconsistent.is_empty(),
            attainable_within: inside as f64 / n as f64,
            total_violation: objective,
            inconsistent,
            max_residual,
            solved_lp: !hull_holds,
            lp_micros,
        },
        anchored: !normal,
        strikes,
        x,
        call,
        time_value,
        band,
        scale,
    })
}

/// One no-arbitrage row over the distinct strikes' time values.
struct Row {
    coef: Vec<(usize, f64)>,
    op: ComparisonOp,
    rhs: f64,
}

impl Row {
    fn new(coef: Vec<(usize, f64)>, op: ComparisonOp, rhs: f64) -> Row {
        Row { coef, op, rhs }
    }
}

/// A row over band variables `z_j`: `(terms, op, rhs, the divisor it was scaled by)`.
type ScaledRow = (Vec<(usize, f64)>, ComparisonOp, f64, f64);

/// The largest violation of the rows by `z`, in the rows' scaled units.
fn residual(rows: &[ScaledRow], z: &[f64]) -> f64 {
    let mut worst = 0.0_f64;
    for (terms, op, rhs, _) in rows {
        let lhs: f64 = terms.iter().map(|&(j, a)| a * z[j]).sum();
        let violation = match op {
            ComparisonOp::Le => lhs - rhs,
            ComparisonOp::Ge => rhs - lhs,
            ComparisonOp::Eq => (lhs - rhs).abs(),
        };
        // NaN counts as a violation.
        worst = if violation <= worst { worst } else { violation };
    }
    worst
}

/// The L1 programme over `n` bands: `z_j = y_j + a_j − b_j`, minimise `Σ a_j + b_j`. Returns `z`
/// and the optimum.
fn solve_lp(rows: &[ScaledRow], cost: &[f64]) -> Result<Vec<f64>, CeilingError> {
    let mut lp = Problem::new(OptimizationDirection::Minimize);
    let vars: Vec<[Variable; 3]> = cost
        .iter()
        .map(|&c| {
            [
                lp.add_var(0.0, (0.0, 1.0)),
                lp.add_var(c, (0.0, f64::INFINITY)),
                lp.add_var(c, (0.0, f64::INFINITY)),
            ]
        })
        .collect();
    for (terms, op, rhs, _) in rows {
        let mut e = Vec::with_capacity(3 * terms.len());
        for &(j, a) in terms {
            let [y, up, down] = vars[j];
            e.extend([(y, a), (up, a), (down, -a)]);
        }
        lp.add_constraint(e.as_slice(), *op, *rhs);
    }
    let solution = lp
        .solve()
        .map_err(|e| CeilingError::Lp(e.to_string()))?
        .into_solution()
        .map_err(|e| CeilingError::Lp(format!("{:?}", e.termination_reason())))?;
    let z = vars
        .iter()
        .map(|v| solution.var_value(v[0]) + solution.var_value(v[1]) - solution.var_value(v[2]))
        .collect();
    Ok(z)
}

/// Rounds of reweighting after the L1 programme ([`sparse_lp`]).
const REWEIGHT_ROUNDS: usize = 3;

/// The programme, made sparser: the L1 optimum first, then up to [`REWEIGHT_ROUNDS`] solves
/// with each quote's cost `1/(v_j + 0.1)` from its violation `v_j` (spreads) in the previous
/// solve (reweighted L1, Candès, Wakin & Boyd 2008: it approximates the fewest quotes
/// outside, and stops a lone bad quote's fix from being spread over its neighbours). Keeps the
/// solution with the most quotes inside (then the least total violation). Returns `z` and
/// that solution's total violation in spreads.
fn sparse_lp(rows: &[ScaledRow], n: usize) -> Result<(Vec<f64>, f64), CeilingError> {
    let violation =
        |z: &[f64]| -> Vec<f64> { z.iter().map(|&z| (-z).max(z - 1.0).max(0.0)).collect() };
    let score = |v: &[f64]| {
        (
            v.iter().filter(|&&v| v > INSIDE_TOL).count(),
            v.iter().sum::<f64>(),
        )
    };
    let mut z = solve_lp(rows, &vec![1.0; n])?;
    let mut v = violation(&z);
    let mut best = (score(&v), z.clone());
    for _ in 0..REWEIGHT_ROUNDS {
        let cost: Vec<f64> = v.iter().map(|&v| 1.0 / (v + 0.1)).collect();
        z = solve_lp(rows, &cost)?;
        v = violation(&z);
        let sc = score(&v);
        if sc.0 < best.0.0 || (sc.0 == best.0.0 && sc.1 < best.0.1 - 1e-9) {
            best = (sc, z.clone());
        } else {
            break;
        }
    }
    let ((_, total), z) = best;
    Ok((z, total))
}

/// The normalised strikes of the distinct strikes.
fn node_xs(bands: &[Band<'_>], groups: &[(usize, usize)]) -> Vec<f64> {
    groups.iter().map(|&(s, _)| bands[s].x).collect()
}

/// The upper end of each distinct strike's intersected band, in time value.
fn upper_tv(bands: &[Band<'_>], groups: &[(usize, usize)]) -> Vec<f64> {
    groups
        .iter()
        .map(|&(s, e)| {
            bands[s..e]
                .iter()
                .fold(f64::INFINITY, |u, b| u.min(b.lo + b.w))
        })
        .collect()
}

/// The intrinsic value `(1 − x)⁺`.
fn intrinsic(x: f64) -> f64 {
    (1.0 - x).max(0.0)
}

/// The intrinsic value's slope on `[a, b]`, exactly: −1 left of 1, 0 right, the chord across.
fn intrinsic_slope(a: f64, b: f64) -> f64 {
    if b <= 1.0 {
        -1.0
    } else if a >= 1.0 {
        0.0
    } else {
        -(1.0 - a) / (b - a)
    }
}

/// The largest arbitrage-free call prices at or below the upper ends `upper` (time values at
/// strikes `xs`), as time values: the lower convex hull of the points (with the anchor
/// `(0, 1)` for Black slices), then its slopes clipped to `[−1, 0]` — flat after its minimum,
/// and (normal vols, no anchor) slope −1 before the point where it first reaches −1. Any
/// arbitrage-free prices under `upper` lie below it, so the quotes are consistent exactly when
/// it is above every bid (see the module doc). Slopes are computed as the intrinsic part's
/// exact slope plus the time values' difference quotient, so deep in-the-money calls keep
/// their relative accuracy.
fn upper_hull(xs: &[f64], upper: &[f64], normal: bool) -> Vec<f64> {
    // Nodes: the anchor (x = 0, tv = 0) for Black slices, then the strikes.
    let mut nx = Vec::with_capacity(xs.len() + 1);
    let mut nt = Vec::with_capacity(xs.len() + 1);
    if !normal {
        nx.push(0.0);
        nt.push(0.0);
    }
    nx.extend_from_slice(xs);
    nt.extend_from_slice(upper);
    let slope =
        |a: usize, b: usize| intrinsic_slope(nx[a], nx[b]) + (nt[b] - nt[a]) / (nx[b] - nx[a]);
    let mut hull: Vec<usize> = Vec::with_capacity(nx.len());
    for p in 0..nx.len() {
        while hull.len() >= 2
            && slope(hull[hull.len() - 2], hull[hull.len() - 1]) >= slope(hull[hull.len() - 1], p)
        {
            hull.pop();
        }
        hull.push(p);
    }
    // The hull's time value at node p, on its segment [a, b].
    let on_segment = |a: usize, b: usize, p: usize| {
        let (xa, xb, x) = (nx[a], nx[b], nx[p]);
        let lambda = (x - xa) / (xb - xa);
        // The intrinsic part's chord above the intrinsic value (0 unless [a, b] spans 1).
        let kink = if xb <= 1.0 || xa >= 1.0 {
            0.0
        } else {
            intrinsic(xa) * (1.0 - lambda) - intrinsic(x)
        };
        nt[a] + (nt[b] - nt[a]) * lambda + kink
    };
    // The vertex after which the hull is flat (first vertex whose next slope is ≥ 0), and
    // (normal vols) the one before which it has slope −1.
    let last = hull.len() - 1;
    let flat = (0..last)
        .find(|&i| slope(hull[i], hull[i + 1]) >= 0.0)
        .map_or(hull[last], |i| hull[i]);
    let steep = if normal {
        (0..last)
            .find(|&i| slope(hull[i], hull[i + 1]) >= -1.0)
            .map_or(hull[last], |i| hull[i])
    } else {
        0
    };
    let mut out = Vec::with_capacity(nx.len());
    let mut seg = 0;
    for p in 0..nx.len() {
        while seg + 1 < last && hull[seg + 1] < p {
            seg += 1;
        }
        let tv = if p > flat {
            // c = c_flat: tv = tv_flat + I(x_flat) − I(x_p).
            nt[flat] + (intrinsic(nx[flat]) - intrinsic(nx[p]))
        } else if p < steep {
            // c = c_steep + (x_steep − x_p): the intrinsic part has slope −1 left of 1.
            let (xs_, x) = (nx[steep], nx[p]);
            if xs_ <= 1.0 {
                nt[steep]
            } else {
                nt[steep] + intrinsic(xs_) + (xs_ - x) - intrinsic(x)
            }
        } else if last == 0 || hull[seg] == p {
            nt[p]
        } else {
            on_segment(hull[seg], hull[seg + 1], p)
        };
        out.push(tv);
    }
    if normal { out } else { out.split_off(1) }
}
