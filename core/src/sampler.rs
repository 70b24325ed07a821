//! Temperature sampling, as in the classic recipe: `p' = softmax(log(p) / T)`, which equals
//! `softmax(logits / T)` since `log(softmax(z)) = z - logsumexp(z)` and the constant cancels.
//!
//! Policies: T = 0 means argmax (the first maximum). Optional top-k keeps the k most likely
//! characters, optional top-p the smallest most-likely set whose probability reaches p; ties
//! rank the lower id first, so the kept set is the same on every target. The RNG is
//! `rand_xorshift` seeded from a u64 (via `SeedableRng::seed_from_u64`, so seed 0 is fine).

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

use crate::error::ConfigError;

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
}

impl Sampler {
    /// A sampler with validated settings and a deterministic RNG.
    pub fn new(config: SamplerConfig, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Sampler {
            config,
            rng: XorShiftRng::seed_from_u64(seed),
        })
    }

    /// The settings.
    pub fn config(&self) -> SamplerConfig {
        self.config
    }

    /// Draws one id from `logits`, overwriting them with unnormalized probabilities.
    /// `order` is scratch of the same length, used only by top-k/top-p. Returns an index
    /// of `logits` (0 for an empty slice).
    pub fn sample(&mut self, logits: &mut [f32], order: &mut [u16]) -> usize {
        let cfg = self.config;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if cfg.temperature == 0.0 {
            return logits.iter().position(|&z| z == max).unwrap_or(0);
        }
        // exp((z - max) / T): the max maps to 1, so the total is >= 1 and nothing overflows.
        for z in logits.iter_mut() {
            *z = libm::expf((*z - max) / cfg.temperature);
        }
        let u = (self.rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32);

        let n = logits.len().min(order.len());
        let filtered = (cfg.top_k != 0 && (cfg.top_k as usize) < n) || cfg.top_p < 1.0;
        if !filtered {
            let total: f32 = logits.iter().sum();
            return draw(logits.iter().copied().enumerate(), u * total).unwrap_or(0);
        }

        // Rank ids by probability (descending), ties by id: a total order, so any sort agrees.
        let order = &mut order[..n];
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u16;
        }
        let p = |i: u16| logits.get(i as usize).copied().unwrap_or(0.0);
        rank(order, logits);
        let mut keep = if cfg.top_k == 0 {
            n
        } else {
            n.min(cfg.top_k as usize)
        };
        if cfg.top_p < 1.0 {
            let total: f32 = order[..keep].iter().map(|&i| p(i)).sum();
            let mut cumulative = 0.0;
            for (rank, &i) in order[..keep].iter().enumerate() {
                cumulative += p(i);
                if cumulative >= cfg.top_p * total {
                    keep = rank + 1;
                    break;
                }
            }
        }
        let kept = &order[..keep];
        let total: f32 = kept.iter().map(|&i| p(i)).sum();
        let pick = draw(kept.iter().map(|&i| (i as usize, p(i))), u * total);
        pick.or(kept.first().map(|&i| i as usize)).unwrap_or(0)
    }
}

/// `p[id]` as an integer that orders as `f32::total_cmp` does (NaN and -0.0 included).
fn key(p: &[f32], id: u16) -> i32 {
    let bits = p.get(id as usize).copied().unwrap_or(0.0).to_bits() as i32;
    bits ^ (((bits >> 31) as u32) >> 1) as i32
}

/// Whether id `a` (with key `ka`) ranks after id `b`: a lower probability, or the same and a
/// higher id. A total order, so every correct sort gives the same result.
fn ranks_after(ka: i32, a: u16, kb: i32, b: u16) -> bool {
    ka < kb || (ka == kb && a > b)
}

/// Sorts the ids in `order` best first by `ranks_after` (probability descending, ties by id).
/// A plain heapsort (a heap whose root is the worst id, moved to the end each round):
/// O(n log n), no recursion, a few hundred bytes of code where core's `sort_unstable_by`
/// brings about 12 KB. Its result is exactly `sort_unstable_by`'s (tested).
fn rank(order: &mut [u16], p: &[f32]) {
    for root in (0..order.len() / 2).rev() {
        sift_down(order, root, p);
    }
    for end in (1..order.len()).rev() {
        order.swap(0, end);
        if let Some(heap) = order.get_mut(..end) {
            sift_down(heap, 0, p);
        }
    }
}

/// Moves the id at `root` down `heap` until neither child ranks after it.
fn sift_down(heap: &mut [u16], mut root: usize, p: &[f32]) {
    let Some(&id) = heap.get(root) else { return };
    let k = key(p, id);
    loop {
        let mut child = 2 * root + 1;
        let Some(&left) = heap.get(child) else { break };
        let (mut worst, mut worst_key) = (left, key(p, left));
        if let Some(&right) = heap.get(child + 1) {
            let right_key = key(p, right);
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

/// The first id whose cumulative probability exceeds `target`; the last id if rounding
/// leaves `target` at the very top.
fn draw(items: impl Iterator<Item = (usize, f32)>, target: f32) -> Option<usize> {
    let mut cumulative = 0.0;
    let mut last = None;
    for (id, p) in items {
        cumulative += p;
        if target < cumulative {
            return Some(id);
        }
        if p > 0.0 {
            last = Some(id);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_at_fixed_seed() -> Result<(), ConfigError> {
        // Pinned so a change to the RNG, the draw or the softmax is noticed.
        let logits = [0.5f32, -1.0, 2.0, 0.0, 1.0];
        let mut s = Sampler::new(SamplerConfig::temperature(1.0), 42)?;
        let mut order = [0u16; 5];
        let ids: [usize; 12] = core::array::from_fn(|_| {
            let mut z = logits;
            s.sample(&mut z, &mut order)
        });
        assert_eq!(ids, KNOWN_IDS);
        // Independently: the same RNG words against f64 softmax cumulative thresholds.
        let mut rng = XorShiftRng::seed_from_u64(42);
        let e = logits.map(|z| libm::exp(z as f64 - 2.0));
        let total: f64 = e.iter().sum();
        for &id in &KNOWN_IDS {
            let u = (rng.next_u32() >> 8) as f64 / (1u64 << 24) as f64;
            let mut acc = 0.0;
            let expected = e.iter().position(|p| {
                acc += p / total;
                u < acc
            });
            assert_eq!(Some(id), expected);
        }
        Ok(())
    }
    #[test]
    fn rank_is_sort_unstable_by() {
        // Random lengths and probabilities with many ties (values from a small set, zeros,
        // NaN and infinity too): the heapsort must give core's order exactly.
        let mut rng = XorShiftRng::seed_from_u64(3);
        let values = [0.0f32, 1.0, 0.5, 1e-30, 3.0, f32::INFINITY, f32::NAN, -0.0];
        for case in 0..2000 {
            let n = (rng.next_u32() % 100) as usize;
            let distinct = 1 + rng.next_u32() as usize % values.len();
            let p: [f32; 100] = core::array::from_fn(|_| {
                if case % 3 == 0 {
                    (rng.next_u32() >> 8) as f32 / 16_777_216.0
                } else {
                    values[rng.next_u32() as usize % distinct]
                }
            });
            let p = &p[..n];
            let mut ours: [u16; 100] = core::array::from_fn(|i| i as u16);
            let mut core_order = ours;
            rank(&mut ours[..n], p);
            core_order[..n]
                .sort_unstable_by(|&a, &b| p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b)));
            assert_eq!(ours[..n], core_order[..n], "case {case}, n {n}");
        }
    }

    const KNOWN_IDS: [usize; 12] = [4, 2, 4, 4, 3, 2, 2, 2, 0, 2, 0, 2];

    #[test]
    fn temperature_zero_is_argmax() -> Result<(), ConfigError> {
        let mut s = Sampler::new(SamplerConfig::temperature(0.0), 1)?;
        let mut order = [0u16; 4];
        for _ in 0..100 {
            assert_eq!(s.sample(&mut [0.1, 3.0, 3.0, -2.0], &mut order), 1);
        }
        Ok(())
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
        let logits = [1.0f32, 3.0, 0.5, 2.9, -1.0, 2.0];
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
