//! Implied volatility over many options at once.
//!
//! [`implied_vol_batch`] works on structure-of-arrays input (one slice per field) and writes
//! into a caller-provided output slice, so a calibration can reuse its buffers;
//! [`implied_vol_par`] splits the same work over rayon's thread pool: about four tasks per
//! worker, of 128 to 4,096 options (so a 1,431-option chain uses both cores of a laptop).

use super::lets_be_rational::{Guess, HOUSEHOLDER_ITERATIONS, householder_step, initial_guess};
use super::{ImpliedVolError, Normalised, OptionKind};
use rayon::prelude::*;

/// Columns of a batch of undiscounted option prices (all slices of equal length).
#[derive(Debug, Clone, Copy)]
pub struct BatchInput<'a> {
    /// Call or put per option.
    pub kinds: &'a [OptionKind],
    /// Undiscounted prices.
    pub prices: &'a [f64],
    /// Forwards.
    pub forwards: &'a [f64],
    /// Strikes.
    pub strikes: &'a [f64],
    /// Times to expiry in years.
    pub times: &'a [f64],
}

/// The columns of a [`BatchInput`] differ in length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "batch columns differ in length: kinds {kinds}, prices {prices}, forwards {forwards}, strikes {strikes}, times {times}, output {output}"
)]
pub struct LengthMismatch {
    /// Length of `kinds`.
    pub kinds: usize,
    /// Length of `prices`.
    pub prices: usize,
    /// Length of `forwards`.
    pub forwards: usize,
    /// Length of `strikes`.
    pub strikes: usize,
    /// Length of `times`.
    pub times: usize,
    /// Length of the output slice.
    pub output: usize,
}

impl BatchInput<'_> {
    /// Number of options.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    fn check(&self, output: usize) -> Result<(), LengthMismatch> {
        let n = self.prices.len();
        if [
            self.kinds.len(),
            self.forwards.len(),
            self.strikes.len(),
            self.times.len(),
            output,
        ]
        .iter()
        .all(|&l| l == n)
        {
            Ok(())
        } else {
            Err(LengthMismatch {
                kinds: self.kinds.len(),
                prices: n,
                forwards: self.forwards.len(),
                strikes: self.strikes.len(),
                times: self.times.len(),
                output,
            })
        }
    }
}

/// Implied Black volatilities of a batch, single-threaded, into `out`.
///
/// # Errors
/// [`LengthMismatch`] if the columns or `out` differ in length; per-option failures are the
/// `Err` entries of `out`.
///
/// ```
/// use volfit::black::{implied_vol_batch, BatchInput};
/// use volfit::{black_price, OptionKind};
/// let kinds = [OptionKind::Call, OptionKind::Put];
/// let prices = [black_price(OptionKind::Call, 100.0, 110.0, 1.0, 0.25), 0.0];
/// let input = BatchInput { kinds: &kinds, prices: &prices, forwards: &[100.0; 2],
///                          strikes: &[110.0, 90.0], times: &[1.0; 2] };
/// let mut out = vec![Ok(0.0); 2];
/// implied_vol_batch(&input, &mut out).unwrap();
/// assert!((out[0].unwrap() - 0.25).abs() < 1e-15);
/// assert!(out[1].is_err()); // a zero put price has no volatility
/// ```
pub fn implied_vol_batch(
    input: &BatchInput<'_>,
    out: &mut [Result<f64, ImpliedVolError>],
) -> Result<(), LengthMismatch> {
    input.check(out.len())?;
    let n = input.len();
    let mut lo = 0;
    while lo < n {
        let hi = (lo + LANES).min(n);
        solve_chunk(input, lo, hi, &mut out[lo..hi]);
        lo = hi;
    }
    Ok(())
}

/// Options solved in lock-step: each stage runs over the whole chunk before the next starts, so
/// the long dependency chain of one inversion overlaps with those of its neighbours.
const LANES: usize = 32;

fn solve_chunk(
    input: &BatchInput<'_>,
    lo: usize,
    hi: usize,
    out: &mut [Result<f64, ImpliedVolError>],
) {
    let m = hi - lo;
    let mut probs = [Normalised {
        x: -0.0,
        beta: 0.1,
        b_max: 1.0,
        inv_sqrt_t: 1.0,
    }; LANES];
    let mut valid = [false; LANES];
    for j in 0..m {
        let i = lo + j;
        match Normalised::new(
            input.kinds[i],
            input.prices[i],
            input.forwards[i],
            input.strikes[i],
            input.times[i],
        ) {
            Ok(p) => {
                probs[j] = p;
                valid[j] = true;
            }
            Err(e) => out[j] = Err(e),
        }
    }
    let mut guesses: [Guess; LANES] = std::array::from_fn(|j| {
        let p = &probs[j.min(m.saturating_sub(1))];
        initial_guess(p.beta, p.x, p.b_max)
    });
    for _ in 0..HOUSEHOLDER_ITERATIONS {
        for (g, p) in guesses[..m].iter_mut().zip(&probs[..m]) {
            g.s = householder_step(p.beta, p.x, p.b_max, *g);
        }
    }
    for j in 0..m {
        if valid[j] {
            out[j] = probs[j].vol(guesses[j].s);
        }
    }
}

/// The most options per rayon task (larger batches are cut into more tasks, never larger ones).
const PAR_CHUNK: usize = 4096;
/// The fewest options per rayon task: 128 inversions take ~25 µs, two orders of magnitude
/// above the cost of stealing a task, so splitting a batch down to this size still pays.
const PAR_MIN_CHUNK: usize = 4 * LANES;

/// Options per rayon task for a batch of `n` on `threads` workers: about four tasks per worker
/// (so an uneven split or a busy worker costs at most a quarter of the share), a multiple of
/// [`LANES`], between [`PAR_MIN_CHUNK`] and [`PAR_CHUNK`].
fn par_chunk(n: usize, threads: usize) -> usize {
    let per_task = n.div_ceil(4 * threads.max(1));
    per_task
        .next_multiple_of(LANES)
        .clamp(PAR_MIN_CHUNK, PAR_CHUNK)
}

/// Implied Black volatilities of a batch on rayon's thread pool, into `out`.
///
/// # Errors
/// [`LengthMismatch`] if the columns or `out` differ in length.
///
/// ```
/// use volfit::black::{implied_vol_par, BatchInput};
/// use volfit::{black_price, OptionKind};
/// let n = 10_000;
/// let strikes: Vec<f64> = (0..n).map(|i| 50.0 + 0.01 * i as f64).collect();
/// let prices: Vec<f64> = strikes.iter().map(|&k| black_price(OptionKind::Call, 100.0, k, 1.0, 0.3)).collect();
/// let input = BatchInput { kinds: &vec![OptionKind::Call; n], prices: &prices,
///                          forwards: &vec![100.0; n], strikes: &strikes, times: &vec![1.0; n] };
/// let mut out = vec![Ok(0.0); n];
/// implied_vol_par(&input, &mut out).unwrap();
/// assert!(out.iter().all(|v| (v.unwrap() - 0.3).abs() < 1e-13));
/// ```
pub fn implied_vol_par(
    input: &BatchInput<'_>,
    out: &mut [Result<f64, ImpliedVolError>],
) -> Result<(), LengthMismatch> {
    input.check(out.len())?;
    let chunk_len = par_chunk(out.len(), rayon::current_num_threads());
    if out.len() <= chunk_len {
        return implied_vol_batch(input, out);
    }
    out.par_chunks_mut(chunk_len)
        .enumerate()
        .for_each(|(c, chunk)| {
            let lo = c * chunk_len;
            let hi = lo + chunk.len();
            let sub = BatchInput {
                kinds: &input.kinds[lo..hi],
                prices: &input.prices[lo..hi],
                forwards: &input.forwards[lo..hi],
                strikes: &input.strikes[lo..hi],
                times: &input.times[lo..hi],
            };
            // Lengths were checked above.
            let _ = implied_vol_batch(&sub, chunk);
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_small_batches_across_workers() {
        // 1,431 options on 2 workers: 8 tasks of 192 (the last shorter), not one of 4,096.
        assert_eq!(par_chunk(1431, 2), 192);
        assert_eq!(1431usize.div_ceil(par_chunk(1431, 2)), 8);
        // Never below 128 nor above 4,096, always a multiple of the lane count.
        assert_eq!(par_chunk(10, 2), PAR_MIN_CHUNK);
        assert_eq!(par_chunk(10_000_000, 2), PAR_CHUNK);
        for n in [1, 31, 33, 500, 1431, 9_999, 123_457] {
            for threads in [0, 1, 2, 3, 8, 64] {
                let c = par_chunk(n, threads);
                assert!(c.is_multiple_of(LANES) && (PAR_MIN_CHUNK..=PAR_CHUNK).contains(&c));
            }
        }
    }
}
