//! Temperature sampling, as in the classic recipe: `p' = softmax(log(p) / T)`, which equals
//! `softmax(logits / T)` since `log(softmax(z)) = z - logsumexp(z)` and the constant cancels.
//! In integers (docs/int8-arithmetic.md §5): logits in Q16.16, weights
//! `2^-((max - z) log2(e) / T)` in Q24 from a table, a draw `floor(r × total / 2^32)` from one
//! RNG word `r`, so every target draws the same ids.
//!
//! Policies: T = 0 means argmax (the first maximum). Optional top-k keeps the k most likely
//! characters, optional top-p the smallest most-likely set whose probability reaches p; ties
//! rank the lower id first, so the kept set is the same on every target. The RNG is
//! `rand_xorshift` seeded from a u64 (via `SeedableRng::seed_from_u64`, so seed 0 is fine).

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

use crate::error::ConfigError;
use crate::fixed::{WEIGHT_FRAC, exp2_neg, mul_f32};

/// Sampling settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; 0 = argmax. Must be finite and >= 0.
    pub temperature: f32,
    /// Keep only the k most likely characters; 0 = off.
    pub top_k: u32,
    /// Keep the smallest most-likely set with probability >= p; 1.0 = off. In (0, 1].
    pub top_p: f32,
}

impl SamplerConfig {
    /// Plain temperature sampling, no top-k or top-p.
    pub const fn temperature(temperature: f32) -> Self {
        SamplerConfig {
            temperature,
            top_k: 0,
            top_p: 1.0,
        }
    }

    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(ConfigError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ConfigError::TopP(self.top_p));
        }
        Ok(())
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::temperature(1.0)
    }
}

/// Draws character ids from logits.
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplerConfig,
    rng: XorShiftRng,
    /// log2(e) / T as f32 bits: turns a logit gap into a base-2 exponent (0 when T = 0).
    log2e_over_t: u32,
    /// top-p in Q24.
    top_p: u64,
}

impl Sampler {
    /// A sampler with validated settings and a deterministic RNG.
    pub fn new(config: SamplerConfig, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let log2e_over_t = if config.temperature == 0.0 {
            0
        } else {
            (core::f32::consts::LOG2_E / config.temperature).to_bits()
        };
        Ok(Sampler {
            config,
            rng: XorShiftRng::seed_from_u64(seed),
            log2e_over_t,
            top_p: mul_f32(1, config.top_p.to_bits(), WEIGHT_FRAC as i32) as u64,
        })
    }

    /// The settings.
    pub fn config(&self) -> SamplerConfig {
        self.config
    }

    /// Draws one id from `logits` (Q16.16, docs/int8-arithmetic.md §5), overwriting them
    /// with the weights it drew from (Q24, the most likely 2^24). `order` is scratch of the
    /// same length, used only by top-k/top-p. Returns an index of `logits` (0 for an empty
    /// slice).
    pub fn sample(&mut self, logits: &mut [i32], order: &mut [u16]) -> usize {
        let cfg = self.config;
        let max = logits.iter().copied().max().unwrap_or(0);
        if cfg.temperature == 0.0 {
            return logits.iter().position(|&z| z == max).unwrap_or(0);
        }
        // 2^-((max - z) log2(e) / T) = exp((z - max) / T): the max weighs 2^24, nothing more.
        for z in logits.iter_mut() {
            let gap = (max as i64 - *z as i64).min(i32::MAX as i64) as i32;
            *z = exp2_neg(mul_f32(gap, self.log2e_over_t, 0)) as i32;
        }
        let weights = &*logits;
        let r = self.rng.next_u32();
        let w = |i: u16| weights.get(i as usize).map_or(0, |&w| w as u64);

        let n = weights.len().min(order.len());
        let filtered = (cfg.top_k != 0 && (cfg.top_k as usize) < n) || cfg.top_p < 1.0;
        if !filtered {
            let total = weights.iter().map(|&w| w as u64).sum();
            let items = weights.iter().enumerate().map(|(i, &w)| (i, w as u64));
            return draw(items, scaled(r, total)).unwrap_or(0);
        }

        // Rank ids by weight (descending), ties by id: a total order, so any sort agrees.
        let order = &mut order[..n];
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u16;
        }
        rank(order, weights);
        let mut keep = if cfg.top_k == 0 {
            n
        } else {
            n.min(cfg.top_k as usize)
        };
        if cfg.top_p < 1.0 {
            // The smallest prefix with cumulative / total >= p, compared exactly in integers
            // (cumulative and total < 2^40, p <= 2^24).
            let total: u64 = order[..keep].iter().map(|&i| w(i)).sum();
            let needed = self.top_p.saturating_mul(total);
            let mut cumulative = 0u64;
            for (rank, &i) in order[..keep].iter().enumerate() {
                cumulative += w(i);
                if cumulative << WEIGHT_FRAC >= needed {
                    keep = rank + 1;
                    break;
                }
            }
        }
        let kept = &order[..keep];
        let total = kept.iter().map(|&i| w(i)).sum();
        let pick = draw(kept.iter().map(|&i| (i as usize, w(i))), scaled(r, total));
        pick.or(kept.first().map(|&i| i as usize)).unwrap_or(0)
    }
}

/// floor(r × total / 2^32): a uniform draw from [0, total) for a uniform u32 `r`, exact for
/// total < 2^64 (two 32 × 32-bit products).
fn scaled(r: u32, total: u64) -> u64 {
    let (hi, lo) = (total >> 32, total & 0xffff_ffff);
    r as u64 * hi + ((r as u64 * lo) >> 32)
}

/// Whether id `a` (weight `wa`) ranks after id `b`: a lower weight, or the same and a
/// higher id. A total order, so every correct sort gives the same result.
fn ranks_after(wa: i32, a: u16, wb: i32, b: u16) -> bool {
    wa < wb || (wa == wb && a > b)
}

/// Sorts the ids in `order` best first by `ranks_after` (weight descending, ties by id).
/// A plain heapsort (a heap whose root is the worst id, moved to the end each round):
/// O(n log n), no recursion, a few hundred bytes of code where core's `sort_unstable_by`
/// brings about 12 KB. Its result is exactly `sort_unstable_by`'s (tested).
fn rank(order: &mut [u16], w: &[i32]) {
    for root in (0..order.len() / 2).rev() {
        sift_down(order, root, w);
    }
    for end in (1..order.len()).rev() {
        order.swap(0, end);
        if let Some(heap) = order.get_mut(..end) {
            sift_down(heap, 0, w);
        }
    }
}

/// Moves the id at `root` down `heap` until neither child ranks after it.
fn sift_down(heap: &mut [u16], mut root: usize, w: &[i32]) {
    let key = |id: u16| w.get(id as usize).copied().unwrap_or(0);
    let Some(&id) = heap.get(root) else { return };
    let k = key(id);
    loop {
        let mut child = 2 * root + 1;
        let Some(&left) = heap.get(child) else { break };
        let (mut worst, mut worst_key) = (left, key(left));
        if let Some(&right) = heap.get(child + 1) {
            let right_key = key(right);
            if ranks_after(right_key, right, worst_key, worst) {
                child += 1;
                (worst, worst_key) = (right, right_key);
            }
        }
        if !ranks_after(worst_key, worst, k, id) {
            break;
        }
        if let Some(slot) = heap.get_mut(root) {
            *slot = worst;
        }
        root = child;
    }
    if let Some(slot) = heap.get_mut(root) {
        *slot = id;
    }
}

/// The first id whose cumulative weight exceeds `target` (< the total, so one does).
fn draw(items: impl Iterator<Item = (usize, u64)>, target: u64) -> Option<usize> {
    let mut cumulative = 0;
    for (id, w) in items {
        cumulative += w;
        if target < cumulative {
            return Some(id);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits in Q16.16.
    fn q16(z: &[f32]) -> [i32; 6] {
        core::array::from_fn(|i| z.get(i).map_or(i32::MIN, |&z| (z * 65536.0) as i32))
    }

    #[test]
    fn draws_follow_f64_softmax_thresholds() -> Result<(), ConfigError> {
        // The same RNG words against f64 softmax cumulative thresholds: the integer weights
        // are within 2e-6 of exact, so a draw may differ only within that of a threshold.
        let logits = [0.5f32, -1.0, 2.0, 0.0, 1.0];
        for temperature in [1.0f32, 0.5, 1.2] {
            let mut s = Sampler::new(SamplerConfig::temperature(temperature), 42)?;
            let mut rng = XorShiftRng::seed_from_u64(42);
            let e = logits.map(|z| libm::exp((z as f64 - 2.0) / temperature as f64));
            let total: f64 = e.iter().sum();
            let mut order = [0u16; 5];
            let mut near = 0;
            for _ in 0..5000 {
                let mut z = q16(&logits);
                let id = s.sample(&mut z[..5], &mut order);
                let u = rng.next_u32() as f64 / 4_294_967_296.0;
                let mut cumulative = 0.0;
                let mut expected = 4;
                for (i, p) in e.iter().enumerate() {
                    let next = cumulative + p / total;
                    if (u - next).abs() < 1e-5 {
                        near += 1;
                    }
                    if u < next {
                        expected = i;
                        break;
                    }
                    cumulative = next;
                }
                if id != expected {
                    assert!(near > 0, "T {temperature}: drew {id}, f64 says {expected}");
                }
            }
            assert!(near < 50, "{near} draws near a threshold");
        }
        Ok(())
    }

    #[test]
    fn rank_is_sort_unstable_by() {
        // Random lengths and weights with many ties: the heapsort must give core's order.
        let mut rng = XorShiftRng::seed_from_u64(3);
        let values = [0i32, 1 << 24, 1 << 23, 1, 3 << 20, 7];
        for case in 0..2000 {
            let n = (rng.next_u32() % 100) as usize;
            let distinct = 1 + rng.next_u32() as usize % values.len();
            let w: [i32; 100] = core::array::from_fn(|_| {
                if case % 3 == 0 {
                    (rng.next_u32() >> 8) as i32
                } else {
                    values[rng.next_u32() as usize % distinct]
                }
            });
            let w = &w[..n];
            let mut ours: [u16; 100] = core::array::from_fn(|i| i as u16);
            let mut core_order = ours;
            rank(&mut ours[..n], w);
            core_order[..n]
                .sort_unstable_by(|&a, &b| w[b as usize].cmp(&w[a as usize]).then(a.cmp(&b)));
            assert_eq!(ours[..n], core_order[..n], "case {case}, n {n}");
        }
    }

    #[test]
    fn temperature_zero_is_argmax() -> Result<(), ConfigError> {
        let mut s = Sampler::new(SamplerConfig::temperature(0.0), 1)?;
        let mut order = [0u16; 4];
        for _ in 0..100 {
            assert_eq!(
                s.sample(&mut [6553, 196608, 196608, -131072], &mut order),
                1
            );
        }
        Ok(())
    }

    #[test]
    fn scaled_is_the_exact_floor() {
        for (r, total) in [
            (0u32, 1u64),
            (u32::MAX, 1),
            (u32::MAX, 1 << 40),
            (12_345, (1 << 40) - 1),
            (0x8000_0000, 3),
        ] {
            let exact = ((r as u128 * total as u128) >> 32) as u64;
            assert_eq!(scaled(r, total), exact);
            assert!(scaled(r, total) < total);
        }
    }

    #[test]
    fn bad_settings_are_rejected() {
        for t in [-0.1, f32::NAN, f32::INFINITY] {
            assert!(matches!(
                Sampler::new(SamplerConfig::temperature(t), 0),
                Err(ConfigError::Temperature(_))
            ));
        }
        for p in [0.0, -1.0, 1.5, f32::NAN] {
            let cfg = SamplerConfig {
                top_p: p,
                ..SamplerConfig::default()
            };
            assert!(matches!(Sampler::new(cfg, 0), Err(ConfigError::TopP(_))));
        }
    }

    #[test]
    fn top_k_and_top_p_stay_in_the_kept_set() -> Result<(), ConfigError> {
        let logits = q16(&[1.0, 3.0, 0.5, 2.9, -1.0, 2.0]);
        let mut order = [0u16; 6];
        let cfg = SamplerConfig {
            temperature: 1.5,
            top_k: 2,
            top_p: 1.0,
        };
        let mut s = Sampler::new(cfg, 7)?;
        for _ in 0..2000 {
            let id = s.sample(&mut logits.clone(), &mut order);
            assert!(id == 1 || id == 3, "top-k 2 picked {id}");
        }
        // softmax(logits): p1 ≈ 0.39, p3 ≈ 0.35, p5 ≈ 0.14: top-p 0.7 keeps {1, 3} only.
        let cfg = SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.7,
        };
        let mut s = Sampler::new(cfg, 8)?;
        let mut seen = [false; 6];
        for _ in 0..2000 {
            seen[s.sample(&mut logits.clone(), &mut order)] = true;
        }
        assert_eq!(seen, [false, true, false, true, false, false]);
        Ok(())
    }
}
