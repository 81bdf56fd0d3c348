use volfit::black::{BatchInput, implied_vol_batch, implied_vol_par};
use volfit::{OptionKind, black_price, implied_vol};

#[test]
fn batch_and_parallel_agree_bit_for_bit_with_scalar() {
    // Below, at and above one 128-option task; a 1,431-option chain (8 tasks on 2 workers);
    // 20,011, not a multiple of any chunk size.
    for n in [1, 127, 129, 1431, 5000, 20_011] {
        agree_bit_for_bit(n);
    }
}

fn agree_bit_for_bit(n: usize) {
    let mut kinds = Vec::new();
    let mut prices = Vec::new();
    let mut strikes = Vec::new();
    let mut times = Vec::new();
    for i in 0..n {
        let u = (i as f64 * 0.618_033_988_749_895).fract();
        let w = (i as f64 * 0.414_213_562_373_095).fract();
        let kind = if i % 3 == 0 {
            OptionKind::Put
        } else {
            OptionKind::Call
        };
        let strike = 100.0 * ((u - 0.5) * 4.0).exp();
        let t = 0.01 + 3.0 * w;
        let vol = 0.05 + 1.5 * (u * w);
        // Every 97th price is invalid (negative) to exercise the error path inside chunks.
        let p = if i % 97 == 0 {
            -1.0
        } else {
            black_price(kind, 100.0, strike, t, vol)
        };
        kinds.push(kind);
        prices.push(p);
        strikes.push(strike);
        times.push(t);
    }
    let forwards = vec![100.0; n];
    let input = BatchInput {
        kinds: &kinds,
        prices: &prices,
        forwards: &forwards,
        strikes: &strikes,
        times: &times,
    };
    let mut batch = vec![Ok(0.0); n];
    let mut par = vec![Ok(0.0); n];
    implied_vol_batch(&input, &mut batch).unwrap();
    implied_vol_par(&input, &mut par).unwrap();
    for i in 0..n {
        let scalar = implied_vol(kinds[i], prices[i], 100.0, strikes[i], times[i]);
        assert_eq!(batch[i], scalar, "n = {n}, batch {i}");
        assert_eq!(par[i], scalar, "n = {n}, par {i}");
    }
}

#[test]
fn length_mismatch_is_an_error() {
    let input = BatchInput {
        kinds: &[OptionKind::Call],
        prices: &[1.0, 2.0],
        forwards: &[100.0],
        strikes: &[100.0],
        times: &[1.0],
    };
    let mut out = vec![Ok(0.0); 2];
    assert!(implied_vol_batch(&input, &mut out).is_err());
}
