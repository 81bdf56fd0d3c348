//! The dense linear algebra of the Levenberg–Marquardt step, on caller-owned buffers (no
//! allocation): a Householder QR of the Jacobian, and the damped least-squares solve
//! `min ‖Rδ + Qᵀr‖² + μ‖Dδ‖²` by Givens rotations of the rows `√μ·D` into `R` (Moré, *The
//! Levenberg–Marquardt algorithm: implementation and theory*, 1978, §3; MINPACK's `qrsolv`).
//! Working on `R` rather than on `JᵀJ` keeps the condition number of `J`, not its square.

/// Householder QR of the column-major `m × n` matrix `a` (`m ≥ n`), in place: on return the
/// strict upper triangle of `a`'s first `n` rows holds `R` above the diagonal, `rdiag` the
/// diagonal of `R`, and the columns below the diagonal the Householder vectors (with `beta`
/// their scale factors). `qtr` (length `m`) is overwritten with `Qᵀ·qtr`.
pub(crate) fn householder_qr(
    a: &mut [f64],
    m: usize,
    n: usize,
    rdiag: &mut [f64],
    beta: &mut [f64],
    qtr: &mut [f64],
) {
    debug_assert!(m >= n && a.len() >= m * n);
    for j in 0..n {
        let (head, tail) = a.split_at_mut((j + 1) * m);
        let col = &mut head[j * m..];
        let Some((alpha, b)) = reflector(&mut col[j..]) else {
            rdiag[j] = 0.0;
            beta[j] = 0.0;
            continue;
        };
        beta[j] = b;
        rdiag[j] = alpha;
        // The reflections of the remaining columns, four at a time: their dot products with
        // `v` are four independent sequential sums in one pass (each in the same order as a
        // lone `Iterator::sum`, so the factors are the same bit for bit; a sum is one chain of
        // dependent additions, and four interleaved chains run about four times as fast).
        let v = &col[j..];
        let rest = n - j - 1;
        let mut k = 0;
        while k + 4 <= rest {
            let c = &tail[k * m..(k + 4) * m];
            let (c0, c1, c2, c3) = (
                &c[j..m],
                &c[m + j..2 * m],
                &c[2 * m + j..3 * m],
                &c[3 * m + j..],
            );
            let (mut s0, mut s1, mut s2, mut s3) = (-0.0, -0.0, -0.0, -0.0);
            for ((((vi, x0), x1), x2), x3) in v.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
                s0 += vi * x0;
                s1 += vi * x1;
                s2 += vi * x2;
                s3 += vi * x3;
            }
            for (q, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                let s = s * b;
                let c = &mut tail[(k + q) * m + j..(k + q + 1) * m];
                for (x, v) in c.iter_mut().zip(v) {
                    *x -= s * v;
                }
            }
            k += 4;
        }
        for k in k..rest {
            reflect(v, b, &mut tail[k * m + j..(k + 1) * m]);
        }
        reflect(v, b, &mut qtr[j..m]);
    }
}

/// The Householder vector of the column (from the diagonal down) `x`, in place: `x₀ −= α` with
/// `α = −sign(x₀)·‖x‖`, so that `H = I − β·v·vᵀ` with `v = x` and `β = 1/(−α·v₀) = 2/‖v‖²` maps
/// the column to `α·e₀`. Returns `(α, β)`, `None` for a zero column.
fn reflector(x: &mut [f64]) -> Option<(f64, f64)> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm == 0.0 {
        return None;
    }
    let alpha = if x[0] > 0.0 { -norm } else { norm };
    x[0] -= alpha;
    Some((alpha, -1.0 / (alpha * x[0])))
}

/// `x ← (I − β·v·vᵀ)·x` for one column `x` (the dot product a plain sequential sum).
fn reflect(v: &[f64], b: f64, x: &mut [f64]) {
    let s: f64 = v.iter().zip(&*x).map(|(v, x)| v * x).sum::<f64>() * b;
    for (x, v) in x.iter_mut().zip(v) {
        *x -= s * v;
    }
}

/// `R·x` for the triangular factor left by [`householder_qr`] (`out` has length `n`).
pub(crate) fn r_times(a: &[f64], m: usize, n: usize, rdiag: &[f64], x: &[f64], out: &mut [f64]) {
    for i in 0..n {
        let mut s = rdiag[i] * x[i];
        for j in i + 1..n {
            s += a[j * m + i] * x[j];
        }
        out[i] = s;
    }
}

/// `Rᵀ·y` (the gradient `Jᵀr` when `y = (Qᵀr)[..n]`).
#[cfg(test)]
pub(crate) fn rt_times(a: &[f64], m: usize, n: usize, rdiag: &[f64], y: &[f64], out: &mut [f64]) {
    for j in 0..n {
        let mut s = rdiag[j] * y[j];
        for i in 0..j {
            s += a[j * m + i] * y[i];
        }
        out[j] = s;
    }
}

/// Solves `min ‖R·δ + z‖² + μ‖D·δ‖²` for `δ`, given the factor of [`householder_qr`], `z =
/// (Qᵀr)[..n]`, the scaling `diag` and `μ > 0`. `s` (`n × n`, column-major) and `w`, `zz`
/// (length `n`) are workspace.
#[allow(clippy::too_many_arguments)]
pub(crate) fn damped_solve(
    a: &[f64],
    m: usize,
    n: usize,
    rdiag: &[f64],
    z: &[f64],
    diag: &[f64],
    mu: f64,
    s: &mut [f64],
    w: &mut [f64],
    zz: &mut [f64],
    delta: &mut [f64],
) {
    // S ← R (upper triangle), zz ← z.
    for j in 0..n {
        for i in 0..j {
            s[j * n + i] = a[j * m + i];
        }
        s[j * n + j] = rdiag[j];
        for i in j + 1..n {
            s[j * n + i] = 0.0;
        }
    }
    zz[..n].copy_from_slice(&z[..n]);
    let sqrt_mu = mu.sqrt();
    for j in 0..n {
        let dj = sqrt_mu * diag[j];
        if dj == 0.0 {
            continue;
        }
        // The extra row dj·e_j with right-hand side 0, rotated into rows j..n of S.
        w[j..n].iter_mut().for_each(|x| *x = 0.0);
        w[j] = dj;
        let mut zw = 0.0;
        for k in j..n {
            if w[k] == 0.0 {
                continue;
            }
            let skk = s[k * n + k];
            let (cos, sin) = if skk.abs() < w[k].abs() {
                let cot = skk / w[k];
                let sin = 1.0 / (1.0 + cot * cot).sqrt();
                (sin * cot, sin)
            } else {
                let tan = w[k] / skk;
                let cos = 1.0 / (1.0 + tan * tan).sqrt();
                (cos, cos * tan)
            };
            s[k * n + k] = cos * skk + sin * w[k];
            let t = cos * zz[k] + sin * zw;
            zw = -sin * zz[k] + cos * zw;
            zz[k] = t;
            for i in k + 1..n {
                let sk = s[i * n + k];
                let t = cos * sk + sin * w[i];
                w[i] = -sin * sk + cos * w[i];
                s[i * n + k] = t;
            }
        }
    }
    // Back substitution S·δ = −zz.
    for i in (0..n).rev() {
        let sii = s[i * n + i];
        if sii == 0.0 {
            delta[i] = 0.0;
            continue;
        }
        let mut acc = -zz[i];
        for j in i + 1..n {
            acc -= s[j * n + i] * delta[j];
        }
        delta[i] = acc / sii;
    }
}

/// Solves `Sᵀ·w = v` for the upper-triangular `n × n` factor `s` left by [`damped_solve`]
/// (zero pivots give zero components).
pub(crate) fn st_solve(s: &[f64], n: usize, v: &[f64], w: &mut [f64]) {
    for i in 0..n {
        let mut acc = v[i];
        for k in 0..i {
            acc -= s[i * n + k] * w[k];
        }
        let sii = s[i * n + i];
        w[i] = if sii == 0.0 { 0.0 } else { acc / sii };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: one column at a time, each dot product a lone `Iterator::sum` (what
    /// [`householder_qr`] computed before it took four columns per pass; the same
    /// [`reflector`], so only the column loop under test differs).
    fn householder_qr_columnwise(
        a: &mut [f64],
        m: usize,
        n: usize,
        rdiag: &mut [f64],
        beta: &mut [f64],
        qtr: &mut [f64],
    ) {
        for j in 0..n {
            let (head, tail) = a.split_at_mut((j + 1) * m);
            let col = &mut head[j * m..];
            let Some((alpha, b)) = reflector(&mut col[j..]) else {
                rdiag[j] = 0.0;
                beta[j] = 0.0;
                continue;
            };
            beta[j] = b;
            rdiag[j] = alpha;
            for k in 0..n - j - 1 {
                reflect(&col[j..], b, &mut tail[k * m + j..(k + 1) * m]);
            }
            reflect(&col[j..], b, &mut qtr[j..m]);
        }
    }

    /// Four columns per pass give the column-at-a-time factors bit for bit, for every
    /// remainder of the column count modulo four (and a zero column), with `m` from square to
    /// tall.
    #[test]
    fn blocked_qr_equals_columnwise_bit_for_bit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for (m, n) in [(1, 1), (5, 5), (9, 6), (40, 7), (301, 26), (64, 33)] {
            let mut a: Vec<f64> = (0..m * n).map(|_| next()).collect();
            if n > 2 {
                a[2 * m..3 * m].fill(0.0);
            }
            let r: Vec<f64> = (0..m).map(|_| next()).collect();
            let (mut a1, mut d1, mut b1, mut q1) =
                (a.clone(), vec![0.0; n], vec![0.0; n], r.clone());
            let (mut a2, mut d2, mut b2, mut q2) = (a, vec![0.0; n], vec![0.0; n], r);
            householder_qr(&mut a1, m, n, &mut d1, &mut b1, &mut q1);
            householder_qr_columnwise(&mut a2, m, n, &mut d2, &mut b2, &mut q2);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a1), bits(&a2), "m = {m}, n = {n}: factors");
            assert_eq!(bits(&d1), bits(&d2), "m = {m}, n = {n}: diagonal of R");
            assert_eq!(bits(&b1), bits(&b2), "m = {m}, n = {n}: beta");
            assert_eq!(bits(&q1), bits(&q2), "m = {m}, n = {n}: Qᵀr");
        }
    }

    #[test]
    fn qr_and_damped_solve_match_normal_equations() {
        // J (4×2), r; solve (JᵀJ + μD²)δ = −Jᵀr directly and through QR.
        let j = [1.0, 2.0, 0.5, -1.0, 0.3, 1.5, -2.0, 0.7];
        let r = [0.4, -0.2, 1.1, 0.3];
        let (m, n) = (4, 2);
        let d = [1.3, 0.7];
        let mu = 0.25;
        let mut a = j;
        let (mut rdiag, mut beta, mut qtr) = ([0.0; 2], [0.0; 2], r);
        householder_qr(&mut a, m, n, &mut rdiag, &mut beta, &mut qtr);
        let (mut s, mut w, mut zz, mut delta) = ([0.0; 4], [0.0; 2], [0.0; 2], [0.0; 2]);
        damped_solve(
            &a, m, n, &rdiag, &qtr, &d, mu, &mut s, &mut w, &mut zz, &mut delta,
        );
        // Normal equations.
        let col = |c: usize| &j[c * m..(c + 1) * m];
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        let a11 = dot(col(0), col(0)) + mu * d[0] * d[0];
        let a22 = dot(col(1), col(1)) + mu * d[1] * d[1];
        let a12 = dot(col(0), col(1));
        let (g1, g2) = (dot(col(0), &r), dot(col(1), &r));
        let det = a11 * a22 - a12 * a12;
        let want = [-(a22 * g1 - a12 * g2) / det, -(a11 * g2 - a12 * g1) / det];
        assert!(
            (delta[0] - want[0]).abs() < 1e-14 && (delta[1] - want[1]).abs() < 1e-14,
            "{delta:?} vs {want:?}"
        );
        // Gradient through Rᵀ(Qᵀr).
        let mut g = [0.0; 2];
        rt_times(&a, m, n, &rdiag, &qtr, &mut g);
        assert!((g[0] - g1).abs() < 1e-14 && (g[1] - g2).abs() < 1e-14);
        // ‖Jδ‖ = ‖Rδ‖.
        let mut rd = [0.0; 2];
        r_times(&a, m, n, &rdiag, &delta, &mut rd);
        let jd: Vec<f64> = (0..m)
            .map(|i| j[i] * delta[0] + j[m + i] * delta[1])
            .collect();
        assert!((dot(&rd, &rd) - dot(&jd, &jd)).abs() < 1e-14);
    }
}
