//! SVI: the raw, natural and jump-wings parameterisations of one smile (Gatheral & Jacquier,
//! *Arbitrage-free SVI volatility surfaces*, Quantitative Finance 14 (2014) 59–71, §3).
//!
//! Raw SVI, in total variance and log-moneyness `k = ln(K/F)`, with `d = k − m`,
//! `q = √(d² + σ²)`:
//!
//! ```text
//! w(k) = a + b(ρd + q),   w' = b(ρ + d/q),   w'' = bσ²/q³,   w''' = −3bσ²d/q⁵
//! ```
//!
//! with `b ≥ 0`, `|ρ| < 1`, `σ > 0` and `min w = a + bσ√(1−ρ²) ≥ 0`. The wings are linear with
//! slopes `b(1 − ρ)` (left) and `b(1 + ρ)` (right); Roger Lee's moment formula requires
//! `b(1 + |ρ|) ≤ 2`. Butterfly arbitrage is absent iff Durrleman's `g(k) ≥ 0` on the whole
//! real line ([`Svi::min_g`] finds its global minimum) — the exact domain that Martini & Mingone
//! (*No arbitrage SVI*, SIAM J. Financial Math. 13, 2022) characterise in closed form.

mod guess;
mod params;
mod spec;

pub(crate) use guess::quasi_explicit_seeded;
pub use params::{NaturalSvi, SviJw};

use super::arbitrage::{
    ButterflyVerdict, CheckDomain, Coordinate, durrleman, durrleman_partials, negative_intervals,
};
use super::numerics::{brent, global_min_sampled};
use super::{ParamError, SmileModel};
use serde::{Deserialize, Serialize};

/// `|k − m|` from which [`Svi::w`] takes the wing asymptote (`d²` would overflow near 10¹⁵⁴).
const FAR_WING: f64 = 1e150;

/// Raw SVI parameters `(a, b, ρ, m, σ)` of one expiry's total variance.
///
/// Valid by construction: [`Svi::new`] (and deserialisation) check `b ≥ 0`, `|ρ| < 1`,
/// `σ > 0` and `min w ≥ 0`; read the parameters with [`Svi::a`] and the other getters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SviParams")]
pub struct Svi {
    pub(crate) a: f64,
    pub(crate) b: f64,
    pub(crate) rho: f64,
    pub(crate) m: f64,
    pub(crate) sigma: f64,
}

/// The largest `|a|`, `b`, `|m|` and `σ` of a checked [`Svi`] (see [`Svi::new`]).
pub const MAX_PARAM: f64 = 1e6;

/// A node `u` of the grids in `u = asinh((k − m)/σ)` on which min g is searched: the values
/// [`Svi::g_node`] reads, computed once per grid.
struct Node {
    sinh: f64,
    cosh: f64,
    tanh: f64,
    /// `1/cosh³u`.
    sech3: f64,
}

impl Node {
    fn new(u: f64) -> Node {
        let (sinh, cosh) = (u.sinh(), u.cosh());
        Node {
            sinh,
            cosh,
            tanh: u.tanh(),
            sech3: 1.0 / (cosh * cosh * cosh),
        }
    }
}

/// The nodes `u = −12 + 24i/(N − 1)` of the coarse (33) and fine (129) grids of the min-g
/// searches (`numerics::global_min_sampled`).
static COARSE_NODES: std::sync::LazyLock<[Node; 33]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|i| Node::new(-12.0 + 24.0 * i as f64 / 32.0)));
static FINE_NODES: std::sync::LazyLock<[Node; 129]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|i| Node::new(-12.0 + 24.0 * i as f64 / 128.0))
});

/// The stored form of [`Svi`], checked on the way in.
#[derive(Deserialize)]
struct SviParams {
    a: f64,
    b: f64,
    rho: f64,
    m: f64,
    sigma: f64,
}

impl TryFrom<SviParams> for Svi {
    type Error = ParamError;
    fn try_from(p: SviParams) -> Result<Self, ParamError> {
        Svi::new(p.a, p.b, p.rho, p.m, p.sigma)
    }
}

pub(super) fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    constraint: &'static str,
) -> Result<(), ParamError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(ParamError {
            model: "SVI",
            name,
            value,
            constraint,
        })
    }
}

impl Svi {
    /// Checked raw SVI.
    ///
    /// # Errors
    /// [`ParamError`] if a parameter is not finite, `b < 0`, `|ρ| ≥ 1`, `σ ≤ 0`, the minimum
    /// total variance `a + bσ√(1−ρ²)` is negative, or `|a|`, `b`, `|m|` or `σ` exceeds
    /// [`MAX_PARAM`] (`10⁶`: far beyond any smile, and small enough that `w(k)` cannot
    /// overflow to `inf − inf` on the strikes a surface answers; a `surface.json` with
    /// `m = 1e300` used to load and answer NaN).
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// assert!(Svi::new(0.04, 0.4, -0.4, 0.05, 0.2).is_ok());
    /// assert!(Svi::new(0.04, 0.4, -1.2, 0.05, 0.2).is_err());
    /// ```
    pub fn new(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Result<Self, ParamError> {
        check("a", a, a.abs() <= MAX_PARAM, "|a| ≤ 1e6")?;
        check("m", m, m.abs() <= MAX_PARAM, "|m| ≤ 1e6")?;
        check("b", b, (0.0..=MAX_PARAM).contains(&b), "0 ≤ b ≤ 1e6")?;
        check("rho", rho, rho.abs() < 1.0, "|ρ| < 1")?;
        check(
            "sigma",
            sigma,
            sigma > 0.0 && sigma <= MAX_PARAM,
            "0 < σ ≤ 1e6",
        )?;
        let s = Svi {
            a,
            b,
            rho,
            m,
            sigma,
        };
        check("a", a, s.min_total_variance() >= 0.0, "a + bσ√(1−ρ²) ≥ 0")?;
        Ok(s)
    }

    /// Raw SVI without checks (for hot loops that keep parameters in range themselves).
    pub(crate) const fn new_unchecked(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Self {
        Svi {
            a,
            b,
            rho,
            m,
            sigma,
        }
    }

    /// Level `a`.
    pub fn a(&self) -> f64 {
        self.a
    }
    /// Angle between the wings `b ≥ 0`.
    pub fn b(&self) -> f64 {
        self.b
    }
    /// Rotation `ρ`, `|ρ| < 1`.
    pub fn rho(&self) -> f64 {
        self.rho
    }
    /// Translation `m`.
    pub fn m(&self) -> f64 {
        self.m
    }
    /// ATM curvature `σ > 0`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The parameters as `[a, b, ρ, m, σ]`.
    pub fn to_array(&self) -> [f64; 5] {
        [self.a, self.b, self.rho, self.m, self.sigma]
    }

    /// From `[a, b, ρ, m, σ]` (unchecked).
    pub(crate) fn from_array(p: [f64; 5]) -> Self {
        Svi {
            a: p[0],
            b: p[1],
            rho: p[2],
            m: p[3],
            sigma: p[4],
        }
    }

    /// `w(k)`.
    ///
    /// NaN where no total variance exists: `k` not finite, or a wing so far out (`|k| ≳
    /// 10³⁰⁸/b`) that `w` is beyond the range of doubles (never ±inf). From `|k − m| = 10¹⁵⁰`
    /// on the wing is evaluated as its asymptote `a + b(ρd + |d|)` (equal to `w` there to the
    /// last bit), so `d²` cannot overflow.
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// let s = Svi::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
    /// // At k = m: w = a + bσ.
    /// assert!((s.w(0.05) - (0.04 + 0.4 * 0.2)).abs() < 1e-16);
    /// // Far out the wing is linear with slope b(1 + ρ); at k = ±∞ there is no w.
    /// assert!((s.w(1e300) / (0.4 * 0.6 * 1e300) - 1.0).abs() < 1e-15);
    /// assert!(s.w(f64::INFINITY).is_nan() && s.w(f64::NEG_INFINITY).is_nan());
    /// ```
    #[inline]
    pub fn w(&self, k: f64) -> f64 {
        let d = k - self.m;
        // NaN fails the comparison and goes to the wing branch.
        if d.abs() < FAR_WING {
            self.a + self.b * (self.rho * d + (d * d + self.sigma * self.sigma).sqrt())
        } else {
            self.far_wing(d).0
        }
    }

    /// `(w, w', w'')` at `k` in one pass; all NaN where [`Svi::w`] is.
    #[inline]
    pub fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        let d = k - self.m;
        if !(d.abs() < FAR_WING) {
            return self.far_wing(d);
        }
        let s2 = self.sigma * self.sigma;
        let q = (d * d + s2).sqrt();
        (
            self.a + self.b * (self.rho * d + q),
            self.b * (self.rho + d / q),
            self.b * s2 / (q * q * q),
        )
    }

    /// `(w, w', w'')` for `|d| ≥ 10¹⁵⁰` from the asymptotes (`q = |d|` to within
    /// `σ²/(2d²) < 10⁻³⁰⁰` relative; `w'' = bσ²/|d|³` underflows to 0), NaN for `d` not
    /// finite or `w` beyond the double range.
    #[cold]
    fn far_wing(&self, d: f64) -> (f64, f64, f64) {
        let w = self.a + self.b * (self.rho * d + d.abs());
        if w.is_finite() {
            (w, self.b * (self.rho + d.signum()), 0.0)
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        }
    }

    /// `w'''(k) = −3bσ²d/q⁵`.
    pub fn d3w_dk3(&self, k: f64) -> f64 {
        let d = k - self.m;
        let q2 = d * d + self.sigma * self.sigma;
        -3.0 * self.b * self.sigma * self.sigma * d / (q2 * q2 * q2.sqrt())
    }

    /// Gradients of `w`, `w'` and `w''` in the parameters `(a, b, ρ, m, σ)` at `k`.
    #[inline]
    pub fn param_gradients(&self, k: f64) -> ([f64; 5], [f64; 5], [f64; 5]) {
        let (b, rho, s) = (self.b, self.rho, self.sigma);
        let d = k - self.m;
        let q2 = d * d + s * s;
        let q = q2.sqrt();
        let q3 = q2 * q;
        let q5 = q3 * q2;
        let gw = [1.0, rho * d + q, b * d, -b * (rho + d / q), b * s / q];
        let gw1 = [0.0, rho + d / q, b, -b * s * s / q3, -b * d * s / q3];
        let gw2 = [
            0.0,
            s * s / q3,
            0.0,
            3.0 * b * s * s * d / q5,
            b * s * (2.0 * q2 - 3.0 * s * s) / q5,
        ];
        (gw, gw1, gw2)
    }

    /// The minimum of `w`, `a + bσ√(1 − ρ²)`, reached at `k = m − ρσ/√(1 − ρ²)`.
    pub fn min_total_variance(&self) -> f64 {
        self.a + self.b * self.sigma * (1.0 - self.rho * self.rho).sqrt()
    }

    /// Wing slopes of `w`: `(b(1 − ρ), b(1 + ρ))` for `k → −∞`, `k → +∞`.
    pub fn wing_slopes(&self) -> (f64, f64) {
        (self.b * (1.0 - self.rho), self.b * (1.0 + self.rho))
    }

    /// Roger Lee's bound `b(1 + |ρ|) ≤ 2` on the wings of total variance.
    pub fn satisfies_lee(&self) -> bool {
        self.b * (1.0 + self.rho.abs()) <= 2.0
    }

    /// Infimum of Durrleman's `g` over the real line: `(k*, g(k*))` (`k* = ±∞` when the
    /// infimum is a wing's limit `1/4 − slope²/16`). The smile is free of butterfly arbitrage
    /// iff this is `≥ 0` (with `w > 0`; Lee's bound makes both limits `≥ 0`). The search is
    /// a 129-point grid in `u = asinh((k − m)/σ)` with Brent refinement of its three lowest
    /// local minima (see its accuracy on random smiles in the crate's numerics).
    ///
    /// ```
    /// use volfit::models::svi::Svi;
    /// // Gatheral & Jacquier's Example 3.1 (Vogt): arbitrage near k ≈ 0.88.
    /// let vogt = Svi::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
    /// let (k, g) = vogt.min_g();
    /// assert!(g < -0.03 && (k - 0.88).abs() < 0.1);
    /// ```
    pub fn min_g(&self) -> (f64, f64) {
        self.min_g_with(true)
    }

    /// [`Svi::min_g`] on the 33-point coarse grid: what the fit's penalty row reads at every
    /// residual evaluation (a quarter of the cost; its rare misses of a second dip inside one
    /// coarse cell are caught by the verdict, which uses [`Svi::min_g`], and the repair).
    pub(crate) fn min_g_fast(&self) -> (f64, f64) {
        self.min_g_with(false)
    }

    /// The two lowest dips of Durrleman's `g` as `(k, g)`, lowest first: the two lowest local
    /// minima of the 33-point coarse grid of [`Svi::min_g_fast`], each refined by Brent's
    /// method, and the wing limits `1/4 − β²/16` (at `k = ±∞`) as candidates too; `(NaN, +∞)`
    /// where there is no second dip. What the fit's penalty rows read: one row per dip keeps
    /// the penalty smooth where the lowest dip changes sides (a short-dated smile fitted
    /// against the constraint often has two nearly equal dips, one in each wing; with one row
    /// on the lowest only, its gradient jumps between them and the polish stalls).
    pub(crate) fn min_g_dips(&self) -> [(f64, f64); 2] {
        const N: usize = 33;
        const U: f64 = 12.0;
        let g = |k: f64| {
            let (w, w1, w2) = self.w_derivs(k);
            if w > 0.0 {
                durrleman(k, w, w1, w2)
            } else {
                f64::NEG_INFINITY
            }
        };
        let at = |u: f64| self.m + self.sigma * u.sinh();
        let h = 2.0 * U / (N - 1) as f64;
        let fs = self.g_nodes(&COARSE_NODES);
        // Candidates: the two lowest local minima of the samples (refined), the wing limits.
        let mut cand = [(f64::NAN, f64::INFINITY); 4];
        let mut lowest = [(f64::INFINITY, 0usize); 2];
        for i in 0..N {
            let left = if i == 0 { f64::INFINITY } else { fs[i - 1] };
            let right = if i + 1 == N { f64::INFINITY } else { fs[i + 1] };
            if fs[i] <= left && fs[i] <= right && fs[i] < lowest[1].0 {
                if fs[i] < lowest[0].0 {
                    lowest[1] = lowest[0];
                    lowest[0] = (fs[i], i);
                } else {
                    lowest[1] = (fs[i], i);
                }
            }
        }
        for (c, &(fv, i)) in cand.iter_mut().zip(&lowest) {
            let ui = -U + h * i as f64;
            *c = if fv == f64::INFINITY {
                (f64::NAN, f64::INFINITY)
            } else if fv == f64::NEG_INFINITY || i == 0 || i + 1 == N {
                (at(ui), fv)
            } else {
                let (u, v) = brent(|u| g(at(u)), ui - h, ui, ui + h, fv);
                if v <= fv { (at(u), v) } else { (at(ui), fv) }
            };
        }
        let (left, right) = self.wing_slopes();
        cand[2] = (f64::NEG_INFINITY, 0.25 - left * left / 16.0);
        cand[3] = (f64::INFINITY, 0.25 - right * right / 16.0);
        cand.sort_by(|a, b| a.1.total_cmp(&b.1));
        [cand[0], cand[1]]
    }

    fn min_g_with(&self, fine: bool) -> (f64, f64) {
        let g = |k: f64| {
            let (w, w1, w2) = self.w_derivs(k);
            if w > 0.0 {
                durrleman(k, w, w1, w2)
            } else {
                f64::NEG_INFINITY
            }
        };
        let (k, g) = if fine {
            global_min_sampled::<129, 3>(&self.g_nodes(&FINE_NODES), self.m, self.sigma, g)
        } else {
            global_min_sampled::<33, 2>(&self.g_nodes(&COARSE_NODES), self.m, self.sigma, g)
        };
        // g tends to 1/4 − β²/16 in a wing of slope β; beyond the search range the infimum may
        // be that limit (not attained: k = ±∞).
        let (left, right) = self.wing_slopes();
        let (gl, gr) = (0.25 - left * left / 16.0, 0.25 - right * right / 16.0);
        if gl < g && gl <= gr {
            (f64::NEG_INFINITY, gl)
        } else if gr < g {
            (f64::INFINITY, gr)
        } else {
            (k, g)
        }
    }

    /// A cheap screen of `min g`: the smallest of 17 samples at `k = m + σ·sinh(u)`,
    /// `u ∈ [−8, 8]` (an upper bound of the true minimum, for steering searches; use
    /// [`Svi::min_g`] to decide).
    pub fn min_g_coarse(&self) -> f64 {
        static NODES: std::sync::LazyLock<[Node; 17]> =
            std::sync::LazyLock::new(|| std::array::from_fn(|i| Node::new(i as f64 - 8.0)));
        NODES
            .iter()
            .fold(f64::INFINITY, |best, n| best.min(self.g_node(n)))
    }

    /// [`Svi::g_node`] at every node of a grid, NaN as `+∞` (the samples of the min-g searches).
    fn g_nodes<const N: usize>(&self, nodes: &[Node; N]) -> [f64; N] {
        std::array::from_fn(|i| {
            let y = self.g_node(&nodes[i]);
            if y.is_nan() { f64::INFINITY } else { y }
        })
    }

    /// Durrleman's `g` at `k = m + σ·sinh(u)` from the node's `sinh u`, `cosh u`, `tanh u` and
    /// `1/cosh³u`: there `k − m = σ sinh u` and `√((k − m)² + σ²) = σ cosh u`, so
    /// `w = a + bσ(ρ sinh u + cosh u)`, `w' = b(ρ + tanh u)`, `w'' = b/(σ cosh³u)` with no
    /// square root or division per node ([`Svi::w_derivs`] at the same `k`, to rounding).
    /// `−∞` where `w ≤ 0`.
    #[inline]
    fn g_node(&self, n: &Node) -> f64 {
        let k = self.m + self.sigma * n.sinh;
        let w = self.a + self.b * self.sigma * (self.rho * n.sinh + n.cosh);
        if !(w > 0.0) {
            return if w.is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
        }
        let w1 = self.b * (self.rho + n.tanh);
        let w2 = self.b * n.sech3 / self.sigma;
        durrleman(k, w, w1, w2)
    }

    /// Gradient of `g(k)` in the parameters at fixed `k` (at `k*` of [`Svi::min_g`] this is the
    /// gradient of the minimum itself, by the envelope theorem).
    pub fn g_gradient(&self, k: f64) -> [f64; 5] {
        if k.is_infinite() {
            // d(1/4 − β²/16) with β = b(1 ± ρ).
            let sgn = if k > 0.0 { 1.0 } else { -1.0 };
            let beta = self.b * (1.0 + sgn * self.rho);
            return [
                0.0,
                -beta * (1.0 + sgn * self.rho) / 8.0,
                -beta * sgn * self.b / 8.0,
                0.0,
                0.0,
            ];
        }
        let (w, w1, _) = self.w_derivs(k);
        let (gw, gw1, gw2) = durrleman_partials(k, w, w1);
        let (a, b, c) = self.param_gradients(k);
        std::array::from_fn(|i| gw * a[i] + gw1 * b[i] + gw2 * c[i])
    }

    /// Whether the smile is free of butterfly arbitrage: `min w > 0`, Lee's bound and
    /// `min g ≥ 0` ([`Svi::butterfly`]).
    pub fn is_butterfly_free(&self) -> bool {
        self.min_total_variance() > 0.0 && self.satisfies_lee() && self.min_g().1 >= 0.0
    }

    /// [`Svi::is_butterfly_free`] with the fast search of `min g` (for steering starts).
    pub(crate) fn is_butterfly_free_fast(&self) -> bool {
        self.min_total_variance() > 0.0 && self.satisfies_lee() && self.min_g_fast().1 >= 0.0
    }

    /// The smile raised by `dw` in total variance everywhere (`a + dw`); `None` where that is
    /// not a valid SVI (`min w < 0`).
    pub fn lifted(&self, dw: f64) -> Option<Svi> {
        Svi::new(self.a + dw, self.b, self.rho, self.m, self.sigma).ok()
    }

    /// The butterfly verdict over the whole real line: the exact infimum of Durrleman's `g`
    /// ([`Svi::min_g`]); free iff it is `≥ 0`, `min w > 0` and Lee's bound holds. The
    /// negative interval, when there is one, is located on a 401-point `sinh` grid around `m`.
    pub fn butterfly(&self) -> ButterflyVerdict {
        self.butterfly_from(self.min_g())
    }

    /// [`Svi::butterfly`] given `min_g()` already computed.
    pub(crate) fn butterfly_from(&self, (at, min_g): (f64, f64)) -> ButterflyVerdict {
        /// `sinh(i/20)`, `i = −200..=200`: the grid that locates negative intervals.
        static SINH: std::sync::LazyLock<[f64; 401]> = std::sync::LazyLock::new(|| {
            std::array::from_fn(|i| ((i as f64 - 200.0) / 20.0).sinh())
        });
        let free = self.min_total_variance() > 0.0 && self.satisfies_lee() && min_g >= 0.0;
        let mut negative = Vec::new();
        if min_g < 0.0 {
            negative = negative_intervals(
                SINH.iter().map(|sh| self.m + self.sigma * sh),
                |k| self.durrleman_g(k),
                f64::INFINITY,
            );
            if negative.is_empty() {
                negative.push([at, at]);
            }
        }
        ButterflyVerdict {
            min_g,
            at,
            negative,
            domain: CheckDomain::RealLine,
            coordinate: Coordinate::LogMoneyness,
            free,
        }
    }
}

impl SmileModel for Svi {
    #[inline]
    fn w_derivs(&self, k: f64) -> (f64, f64, f64) {
        Svi::w_derivs(self, k)
    }
    #[inline]
    fn total_variance(&self, k: f64) -> f64 {
        self.w(k)
    }
    fn feature_scale(&self) -> (f64, f64) {
        (self.m, self.sigma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The min-g grids read `g` at their nodes in closed form (`σ cosh u` for the square
    /// root): the same `g` as at `k = m + σ sinh u` through `w_derivs`, to rounding, across
    /// the whole grid (u up to ±12, k up to ±8·10⁴σ) and for a smile that goes negative.
    #[test]
    fn node_values_are_g_at_the_nodes() {
        for s in [
            Svi::new(0.02, 0.3, -0.6, 0.1, 0.15).unwrap(),
            Svi::new(0.001, 1.2, 0.9, -0.3, 0.01).unwrap(),
            Svi::new_unchecked(-0.05, 0.2, 0.0, 0.0, 0.1),
        ] {
            for (i, n) in FINE_NODES.iter().enumerate() {
                let k = s.m + s.sigma * n.sinh;
                let (w, w1, w2) = s.w_derivs(k);
                let want = if w > 0.0 {
                    durrleman(k, w, w1, w2)
                } else {
                    f64::NEG_INFINITY
                };
                let got = s.g_node(n);
                assert!(
                    got == want || (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
                    "node {i} (k = {k}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let s = Svi::new(0.02, 0.3, -0.6, 0.1, 0.15).unwrap();
        for &k in &[-1.5, -0.3, 0.1, 0.12, 0.8] {
            let h = 1e-5;
            let (w, w1, w2) = s.w_derivs(k);
            assert!((w1 - (s.w(k + h) - s.w(k - h)) / (2.0 * h)).abs() < 1e-9);
            assert!((w2 - (s.w(k + h) - 2.0 * w + s.w(k - h)) / (h * h)).abs() < 1e-5);
            let d3 = (s.w_derivs(k + h).2 - s.w_derivs(k - h).2) / (2.0 * h);
            assert!((s.d3w_dk3(k) - d3).abs() < 1e-5 * (1.0 + d3.abs()));
            let (gw, gw1, gw2) = s.param_gradients(k);
            let g = s.g_gradient(k);
            let p = s.to_array();
            for i in 0..5 {
                let (mut pp, mut pm) = (p, p);
                pp[i] += h;
                pm[i] -= h;
                let (sp, sm) = (Svi::from_array(pp), Svi::from_array(pm));
                let fd = |f: &dyn Fn(&Svi) -> f64| (f(&sp) - f(&sm)) / (2.0 * h);
                assert!((gw[i] - fd(&|x| x.w(k))).abs() < 1e-8, "w param {i}");
                assert!(
                    (gw1[i] - fd(&|x| x.w_derivs(k).1)).abs() < 1e-7,
                    "w' param {i}"
                );
                assert!(
                    (gw2[i] - fd(&|x| x.w_derivs(k).2)).abs() < 1e-5 * (1.0 + gw2[i].abs()),
                    "w'' param {i}"
                );
                assert!(
                    (g[i] - fd(&|x| x.durrleman_g(k))).abs() < 1e-5 * (1.0 + g[i].abs()),
                    "g param {i}"
                );
            }
        }
    }
}
