//! The damping of a Levenberg–Marquardt step from its trust radius (Moré 1978, §5: MINPACK's
//! `lmpar`).

use super::{LevenbergMarquardt, Workspace};
use crate::fit::linalg::{damped_solve, st_solve};

impl LevenbergMarquardt {
    /// The damping `μ` whose step has `‖Dδ‖` within 10% of the radius (Moré 1978, §5), with the
    /// step left in `ws.delta`. `g` is `Jᵀr` of the (active-set reduced) problem.
    pub(super) fn lm_parameter(&mut self, m: usize, n: usize) -> f64 {
        let delta_r = self.radius;
        let ws = &mut self.ws;
        let solve = |ws: &mut Workspace, mu: f64| {
            damped_solve(
                &ws.qr,
                m,
                n,
                &ws.rdiag,
                &ws.qtr,
                &ws.diag,
                mu,
                &mut ws.s,
                &mut ws.w,
                &mut ws.zz,
                &mut ws.delta,
            );
            ws.delta
                .iter()
                .zip(&ws.diag)
                .map(|(d, s)| (d * s) * (d * s))
                .sum::<f64>()
                .sqrt()
        };
        // Gauss–Newton step.
        let p0 = solve(ws, 0.0);
        let full_rank = ws
            .rdiag
            .iter()
            .zip(&ws.active)
            .all(|(d, a)| *a || *d != 0.0);
        if p0 <= 1.1 * delta_r && full_rank {
            return 0.0;
        }
        // Bracket: hi from the gradient (for μ ≥ hi the step is inside), lo from the Newton
        // step at μ = 0 when R has full rank.
        let gnorm = ws
            .grad
            .iter()
            .zip(&ws.diag)
            .enumerate()
            .filter(|(j, _)| !ws.active[*j])
            .map(|(_, (g, d))| (g / d) * (g / d))
            .sum::<f64>()
            .sqrt();
        let mut hi = gnorm / delta_r;
        if hi == 0.0 {
            hi = f64::MIN_POSITIVE / delta_r.min(0.1);
        }
        let mut lo = 0.0;
        if full_rank {
            let qn = newton_denominator(ws, n, p0);
            if qn > 0.0 {
                lo = ((p0 - delta_r) / delta_r) / qn;
            }
        }
        let mut mu = self.mu.max(lo).min(hi.max(lo));
        if mu == 0.0 {
            mu = gnorm / p0;
        }
        for _ in 0..10 {
            if mu <= 0.0 || !mu.is_finite() {
                mu = (0.001 * hi).max(lo.max(f64::MIN_POSITIVE));
            }
            let p = solve(ws, mu);
            let fp = p - delta_r;
            if fp.abs() <= 0.1 * delta_r || (lo == 0.0 && fp <= 0.0 && mu <= 0.001 * hi) {
                break;
            }
            let qn = newton_denominator(ws, n, p);
            let corr = if qn > 0.0 { (fp / delta_r) / qn } else { 0.0 };
            if fp > 0.0 {
                lo = lo.max(mu);
            } else {
                hi = hi.min(mu);
            }
            mu = lo.max(mu + corr);
        }
        mu
    }
}

/// `‖S⁻ᵀ·D²δ/p‖²` after a solve (MINPACK's `temp²`): the denominator of the Newton
/// correction `(p − Δ)/Δ / ‖·‖²` of the damping.
pub(super) fn newton_denominator(ws: &mut Workspace, n: usize, p: f64) -> f64 {
    for j in 0..n {
        ws.zz[j] = ws.diag[j] * ws.diag[j] * ws.delta[j] / p;
    }
    st_solve(&ws.s, n, &ws.zz, &mut ws.w);
    ws.w[..n].iter().map(|v| v * v).sum()
}

pub(super) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}
