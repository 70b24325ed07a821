//! Statistical test of the sampler: 200,000 draws at each of the classic recipe's
//! temperatures match `softmax(logits / T)` (computed here in f64, independently, from the
//! f32 logits; the sampler gets them in Q16.16, within 8e-6 of them).
//!
//! Bound: each character's frequency lies within 5 standard errors of its probability,
//! |f - p| <= 5·sqrt(p(1-p)/n) + 1/n, and Pearson's chi-square stays below 35.3, the 0.9999
//! quantile for 7 degrees of freedom. With a fixed seed the test is deterministic; a correct
//! sampler fails it with probability < 1e-4 per seed, a sampler off by 1% of mass does not pass.

use charlstm_core::fixed::q16_of_f32;
use charlstm_core::{Sampler, SamplerConfig};

const LOGITS: [f32; 8] = [1.2, -0.3, 0.0, 2.5, 0.7, -1.5, 1.9, 0.1];
const N: usize = 200_000;

fn softmax(logits: &[f32], t: f64) -> Vec<f64> {
    let e: Vec<f64> = logits.iter().map(|&z| (z as f64 / t).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn frequencies_match_softmax_over_temperature_at_four_temperatures() {
    for (i, t) in [0.2f32, 0.5, 1.0, 1.2].into_iter().enumerate() {
        let mut s = Sampler::new(SamplerConfig::temperature(t), 1000 + i as u64).unwrap();
        let mut counts = [0usize; 8];
        let mut order = [0u16; 8];
        for _ in 0..N {
            let mut z = LOGITS.map(q16_of_f32);
            counts[s.sample(&mut z, &mut order)] += 1;
        }
        let p = softmax(&LOGITS, t as f64);
        let mut chi2 = 0.0;
        for (c, &p) in counts.iter().zip(&p) {
            let f = *c as f64 / N as f64;
            let se = (p * (1.0 - p) / N as f64).sqrt();
            assert!(
                (f - p).abs() <= 5.0 * se + 1.0 / N as f64,
                "T={t}: frequency {f} vs p {p}"
            );
            if p > 0.0 {
                chi2 += (*c as f64 - N as f64 * p).powi(2) / (N as f64 * p);
            }
        }
        assert!(chi2 < 35.3, "T={t}: chi-square {chi2}");
    }
}

#[test]
fn chi_square_catches_a_temperature_off_by_10_percent() {
    // The bound has teeth: draws at T = 1.0 do not pass as T = 1.1.
    let mut s = Sampler::new(SamplerConfig::temperature(1.0), 5).unwrap();
    let mut counts = [0usize; 8];
    let mut order = [0u16; 8];
    for _ in 0..N {
        let mut z = LOGITS.map(q16_of_f32);
        counts[s.sample(&mut z, &mut order)] += 1;
    }
    let p = softmax(&LOGITS, 1.1);
    let chi2: f64 = counts
        .iter()
        .zip(&p)
        .map(|(&c, &p)| (c as f64 - N as f64 * p).powi(2) / (N as f64 * p))
        .sum();
    assert!(chi2 > 35.3, "chi-square {chi2} did not notice T off by 10%");
}

#[test]
fn top_k_and_top_p_frequencies_are_renormalized_over_the_kept_set() {
    // top-k 3 keeps ids 3, 6, 0 (the three largest logits), renormalized.
    let cfg = SamplerConfig {
        temperature: 0.8,
        top_k: 3,
        top_p: 1.0,
    };
    let mut s = Sampler::new(cfg, 9).unwrap();
    let mut counts = [0usize; 8];
    let mut order = [0u16; 8];
    for _ in 0..N {
        let mut z = LOGITS.map(q16_of_f32);
        counts[s.sample(&mut z, &mut order)] += 1;
    }
    let p = softmax(&LOGITS, 0.8);
    let kept = [3, 6, 0];
    let mass: f64 = kept.iter().map(|&i| p[i]).sum();
    for (id, &c) in counts.iter().enumerate() {
        let expected = if kept.contains(&id) {
            p[id] / mass
        } else {
            0.0
        };
        let f = c as f64 / N as f64;
        let se = (expected * (1.0 - expected) / N as f64).sqrt();
        assert!(
            (f - expected).abs() <= 5.0 * se + 1.0 / N as f64,
            "id {id}: {f} vs {expected}"
        );
    }
}
