//! Core's sampled ids against an independent reference: the f64 sampler of
//! tests/src/reference_sampler.rs, fed the trainer-written log-probabilities of
//! tests/golden/tiny.json and the same RNG words. Nothing core computed is in the fixture, so
//! a core bug cannot be written into the expected ids.
//!
//! The fixture's log-probabilities follow the prime (a fixed text), not a sampled path, so
//! each draw is made from a prime prefix: a generator seeded with `seed` is primed with
//! `prime[..=t]` and draws one id, which must be the reference's draw from step t's logp with
//! the first RNG word of `seed`. Many seeds and temperatures per step give a few thousand
//! draws. A second test draws once per step from one sampler, checking that draw k uses the
//! k-th word. A draw whose `u` lies within the epsilon that the logp tolerance implies of a
//! cumulative threshold could go either way; it is skipped and counted, and the count must
//! stay small.

use charlstm_core::{Generator, Model, OnUnknown, Sampler, SamplerConfig};
use charlstm_tests::golden::{self, LOGP_TOL_F32, LOGP_TOL_I8};
use charlstm_tests::int8_bound::{Q15_HALF_STEP, matvec_error, row_half_steps};
use charlstm_tests::reference::Reference;
use charlstm_tests::reference_sampler::{draw, first_word, words};

type M<'a> = Model<'a, 16, 16, 2>;

const TEMPERATURES: &[f32] = &[0.0, 0.5, 0.8, 1.0, 1.2];
const SEEDS: std::ops::Range<u64> = 0..24;

/// Draws and skips of one blob.
struct Tally {
    draws: usize,
    skipped: usize,
}

fn prefix_draws(kind: &str, delta: f64, temperatures: &[f32]) -> Tally {
    let g = golden::load();
    let bytes = golden::blob(kind);
    let model = M::from_bytes(&bytes).expect("the golden blob loads");
    let chars: Vec<char> = g.prime.chars().collect();
    let mut tally = Tally {
        draws: 0,
        skipped: 0,
    };
    for (t, step) in g.steps.iter().enumerate() {
        let prefix: String = chars[..=t].iter().collect();
        for &temperature in temperatures {
            for seed in SEEDS {
                let expected = draw(&step.logp, temperature as f64, first_word(seed), delta);
                tally.draws += 1;
                if expected.near {
                    tally.skipped += 1;
                    continue;
                }
                let mut generator =
                    Generator::new(&model, SamplerConfig::temperature(temperature), seed).unwrap();
                generator.prime(&prefix, OnUnknown::Error).unwrap();
                let got = generator.next_token().id();
                assert_eq!(
                    got, expected.id,
                    "{kind}: after {prefix:?} at T = {temperature}, seed {seed}: core drew {got}, \
                     the reference {}",
                    expected.id
                );
            }
        }
    }
    tally
}

#[test]
fn float_blob_draws_the_reference_ids_from_the_trainer_logp_after_every_prefix() {
    // The float tolerance moves a threshold by at most ~2e-4 / T of C (1 - C): 2 of 3,720
    // draws skipped with these files.
    let tally = prefix_draws("f32", LOGP_TOL_F32, TEMPERATURES);
    assert!(
        tally.skipped * 100 < tally.draws,
        "{} of {} draws near a threshold",
        tally.skipped,
        tally.draws
    );
}

#[test]
fn int8_blob_draws_the_reference_ids_from_the_trainer_logp_after_every_prefix() {
    // The int8 tolerance moves a threshold C by up to C (1 - C) (e^{0.1 / T} - 1), 10 % of
    // C (1 - C) at T = 1, so about a fifth of the draws fall near some threshold (719 of
    // 3,720 with these files); the other ~3,000 must all agree.
    let tally = prefix_draws("i8", LOGP_TOL_I8, TEMPERATURES);
    assert!(
        tally.skipped * 4 < tally.draws,
        "{} of {} draws near a threshold",
        tally.skipped,
        tally.draws
    );
}

#[test]
fn sampler_draw_k_uses_the_kth_rng_word() {
    // One sampler, one draw per prime step from the float blob's logits, against the
    // reference with the seed's words in order.
    let g = golden::load();
    let bytes = golden::blob("f32");
    let model = M::from_bytes(&bytes).unwrap();
    let mut generator = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    let (mut checked, mut skipped) = (0, 0);
    for seed in SEEDS {
        generator.reset();
        let mut sampler = Sampler::new(SamplerConfig::temperature(0.8), seed).unwrap();
        for ((step, ch), r) in g.steps.iter().zip(g.prime.chars()).zip(words(seed)) {
            generator.step(model.token(ch).unwrap());
            // The sampler reads Q16.16 logits (docs/int8-arithmetic.md §5).
            let logits = generator.logits();
            let mut logits: Vec<i32> = logits
                .iter()
                .map(|&z| charlstm_core::fixed::q16_of_f32(z))
                .collect();
            let mut order = vec![0u16; logits.len()];
            let got = sampler.sample(&mut logits, &mut order);
            let expected = draw(&step.logp, 0.8, r, LOGP_TOL_F32);
            if expected.near {
                skipped += 1;
            } else {
                assert_eq!(got, expected.id, "seed {seed}, step {}", step.index);
                checked += 1;
            }
        }
    }
    assert!(
        skipped * 100 < checked,
        "{skipped} skipped, {checked} checked"
    );
}

#[test]
fn int8_tolerance_is_the_output_rounding_bound_along_the_prime_rounded_up() {
    // tests/src/golden.rs reasons LOGP_TOL_I8 from the worst-case error of the int8 output
    // product, sum_k |w_vk - q_vk s_v| |h_k| <= sum_k s_v / 2 |h_k| (plus the i16 rounding of
    // h), computed here from the float weights and the f64 reference's h along the prime.
    let g = golden::load();
    let bytes = golden::blob("f32");
    let fb = charlstm_trainer::golden::float_blob_of(&bytes).unwrap();
    let w = charlstm_tests::weights::FloatWeights::from_params(&fb.params, &fb.vocab, fb.lowercase);
    let model = M::from_bytes(&bytes).unwrap();
    let mut reference = Reference::new(&w);
    let half_steps = row_half_steps(&w.w_out);
    let mut worst = 0.0f64;
    for ch in g.prime.chars() {
        reference.step(model.token(ch).unwrap().id());
        let h = reference.state.h.last().unwrap();
        let exact = vec![0.0; h.len()];
        let q = Q15_HALF_STEP;
        for (v, &dw) in half_steps.iter().enumerate() {
            worst = worst.max(matvec_error(&w.w_out, v, dw, h, &exact, q));
        }
    }
    assert!(
        worst > 0.5 * LOGP_TOL_I8 && worst <= LOGP_TOL_I8,
        "output rounding bound {worst}: LOGP_TOL_I8 = {LOGP_TOL_I8} no longer follows from it"
    );
}
