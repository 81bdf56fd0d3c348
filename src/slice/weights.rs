//! Fitting weights of a slice's points.

use super::{SmilePoint, Weighting};

/// Sets the weights of `points` by `weighting`, normalised to mean 1.
pub(super) fn set_weights(points: &mut [SmilePoint], weighting: Weighting) {
    match weighting {
        Weighting::Uniform => {
            for p in points.iter_mut() {
                p.weight = 1.0;
            }
        }
        Weighting::Vega => {
            for p in points.iter_mut() {
                p.weight = p.vega;
            }
        }
        Weighting::InverseSpread => {
            let mut spreads: Vec<f64> = points
                .iter()
                .filter_map(|p| Some(p.ask_iv? - p.bid_iv?))
                .filter(|s| *s > 0.0)
                .collect();
            if spreads.is_empty() {
                for p in points.iter_mut() {
                    p.weight = 1.0;
                }
            } else {
                spreads.sort_by(f64::total_cmp);
                let floor = spreads[spreads.len() / 10];
                let typical = spreads[spreads.len() / 2];
                for p in points.iter_mut() {
                    let s = match (p.bid_iv, p.ask_iv) {
                        (Some(b), Some(a)) if a > b => a - b,
                        // One-sided: as uncertain as a wide quote.
                        _ => 2.0 * typical,
                    };
                    p.weight = 1.0 / s.max(floor);
                }
            }
        }
    }
    let mean = points.iter().map(|p| p.weight).sum::<f64>() / points.len().max(1) as f64;
    if mean > 0.0 && mean.is_finite() {
        for p in points.iter_mut() {
            p.weight /= mean;
        }
    } else {
        for p in points.iter_mut() {
            p.weight = 1.0;
        }
    }
}
