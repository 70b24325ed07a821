//! A plain f64 temperature sampler, written from the definition and not from core's code, to
//! hold core's sampler (core/src/sampler.rs) to: `p_i ∝ exp((z_i - max) / T)`, T = 0 the
//! argmax (the first maximum); one RNG word `r` per draw (`XorShiftRng::seed_from_u64(seed)`,
//! `next_u32()`), `u = r / 2^32`, and the id drawn is the first i with `C_i > u`, where
//! `C_i = (p_0 + .. + p_i) / total` is the cumulative threshold of id i.
//!
//! Core's sampler (docs/int8-arithmetic.md §5) draws with the same word in integers, its
//! weights from a 2^-x table in Q24, and its logits differ from the reference's by the blob's
//! error, so the two can disagree when `u` falls next to a threshold: a draw reports how close
//! it came (`Draw::near`), and a test skips (and counts) the draws within its stated epsilon.

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// One reference draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// The id drawn.
    pub id: usize,
    /// Whether a logit error of `delta` (per id, any sign) could change the id: `u` lies
    /// within `margin(C_k, delta, T)` of some threshold `C_k` (T > 0), or the two largest
    /// logits are within `2 delta` (T = 0).
    pub near: bool,
}

/// How far a threshold `c` can move when each logit moves by at most `delta` at temperature
/// `t`: every weight `exp(z_i / T)` changes by a factor within `e^{±delta/T}`, and
/// `C = A / (A + B)` (A the weights up to k, B the rest) then moves by at most
/// `C (1 - C) (e^{2 delta / T} - 1)`, which is at most `(e^{2 delta / T} - 1) / 4`.
/// Plus `2^-20` for core's own arithmetic: its draw `floor(r × total / 2^32)` is exact, its
/// weights are whole Q24 units (each off by < 1 unit of the largest weight's 2^24, so a
/// threshold by < V 2^-24 <= 2^-20 with V <= 16 here), and their table's relative error
/// (< 6e-6: the Q16.16 exponent's half unit and the table's 2e-6) is a logit error of under
/// 6e-6 T, well inside any `delta` the tests pass.
pub fn threshold_margin(c: f64, delta: f64, t: f64) -> f64 {
    c * (1.0 - c) * ((2.0 * delta / t).exp() - 1.0) + 1.0 / (1u32 << 20) as f64
}

/// Draws from `logits` (any offset: log-probabilities work as well) at temperature `t` with
/// the RNG word `r`, and tells whether a logit error of `delta` could change the draw.
pub fn draw(logits: &[f64], t: f64, r: u32, delta: f64) -> Draw {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if t == 0.0 {
        let id = logits
            .iter()
            .position(|&z| z == max)
            .expect("non-empty logits");
        let second = logits
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != id)
            .map(|(_, &z)| z)
            .fold(f64::NEG_INFINITY, f64::max);
        return Draw {
            id,
            near: max - second <= 2.0 * delta,
        };
    }
    let weights: Vec<f64> = logits.iter().map(|&z| ((z - max) / t).exp()).collect();
    let total: f64 = weights.iter().sum();
    let u = r as f64 / 4_294_967_296.0;
    let mut cumulative = 0.0;
    let mut id = None;
    let mut near = false;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        let c = cumulative / total;
        if id.is_none() && c > u {
            id = Some(i);
        }
        if i + 1 < weights.len() && (u - c).abs() < threshold_margin(c, delta, t) {
            near = true;
        }
    }
    Draw {
        id: id.unwrap_or(weights.len() - 1),
        near,
    }
}

/// The first RNG word of a generator seeded with `seed`: what core's first draw uses.
pub fn first_word(seed: u64) -> u32 {
    XorShiftRng::seed_from_u64(seed).next_u32()
}

/// The RNG words of `seed`, one per draw.
pub fn words(seed: u64) -> impl Iterator<Item = u32> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    std::iter::repeat_with(move || rng.next_u32())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_picks_the_first_id_whose_threshold_exceeds_u() {
        // ln of (1, 2, 1): thresholds 0.25, 0.75, 1.
        let z = [0.0, 2f64.ln(), 0.0];
        let at = |u: f64| draw(&z, 1.0, (u * 4_294_967_296.0) as u32, 0.0).id;
        assert_eq!(
            [at(0.0), at(0.2), at(0.3), at(0.7), at(0.8)],
            [0, 0, 1, 1, 2]
        );
        assert!(draw(&z, 1.0, 1 << 30, 1e-3).near); // u = 0.25, on the threshold
        assert!(!draw(&z, 1.0, 1 << 31, 1e-3).near); // u = 0.5
        assert_eq!(draw(&[1.0, 3.0, 3.0], 0.0, 0, 0.0).id, 1);
        assert!(draw(&[1.0, 3.0, 2.99], 0.0, 0, 0.01).near);
    }
}
