//! The core against the plain f64 reference LSTM (tests/src/reference.rs) on random weights:
//! the float path within 1e-5 relative; the int8 path within the error bound that int8 weight
//! rounding and i16 activation rounding imply, propagated step by step through the cell.

use charlstm_core::{Generator, Model, Quant, SamplerConfig};
use charlstm_tests::int8_bound::Int8Bound;
use charlstm_tests::random_weights;
use charlstm_tests::reference::Reference;
use charlstm_tests::test_meta as test_free_meta;
use charlstm_tests::weights::to_blob;

const VOCAB: &str = "abcdefghij klmnopq.,\n";
type M<'a> = Model<'a, 32, 32, 2>;

/// Character ids fed to both models: a fixed walk over the vocabulary.
fn inputs(v: usize, n: usize) -> Vec<usize> {
    (0..n).map(|t| (t * 7 + t / 3) % v).collect()
}

fn core_logits(blob: &[u8], xs: &[usize]) -> Vec<Vec<f32>> {
    let model = M::from_bytes(blob).expect("valid blob");
    let mut g = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    let mut out = vec![g.logits().to_vec()];
    for &x in xs {
        g.step(model.token_from_id(x).unwrap());
        out.push(g.logits().to_vec());
    }
    out
}

#[test]
fn float_logits_match_the_f64_reference_within_1e5_relative() {
    for (hidden, layers, seed) in [(16, 1, 1), (24, 2, 2), (32, 1, 3)] {
        let w = random_weights(VOCAB, hidden, layers, seed);
        let blob = to_blob(&w, &test_free_meta(), Quant::F32);
        let xs = inputs(w.b_out.len(), 40);
        let got = core_logits(&blob, &xs);
        let mut reference = Reference::new(&w);
        let mut worst = 0.0f64;
        for (t, logits) in got.iter().enumerate() {
            if t > 0 {
                reference.step(xs[t - 1]);
            }
            for (a, b) in logits.iter().zip(reference.logits()) {
                let rel = (*a as f64 - b).abs() / b.abs().max(1.0);
                worst = worst.max(rel);
            }
        }
        assert!(
            worst < 1e-5,
            "H={hidden} L={layers}: float path relative error {worst:e}"
        );
    }
}

#[test]
fn int8_logits_stay_within_the_propagated_rounding_bound() {
    for (hidden, layers, seed) in [(16, 1, 11), (24, 2, 12), (32, 1, 13)] {
        let w = random_weights(VOCAB, hidden, layers, seed);
        let blob = to_blob(&w, &test_free_meta(), Quant::I8RowScaled);
        let xs = inputs(w.b_out.len(), 8);
        let got = core_logits(&blob, &xs);
        let mut bound = Int8Bound::new(&w);
        let mut tightest = f64::INFINITY;
        for (t, logits) in got.iter().enumerate() {
            if t > 0 {
                bound.step(xs[t - 1]);
            }
            let bounds = bound.logit_bounds();
            let expected = bound.reference.logits();
            for (v, ((a, b), bound)) in logits.iter().zip(expected).zip(&bounds).enumerate() {
                let err = (*a as f64 - b).abs();
                assert!(
                    err <= *bound,
                    "H={hidden} L={layers} step {t} logit {v}: error {err:e} > bound {bound:e}"
                );
                tightest = tightest.min(bound / err.max(1e-12));
            }
            // Worst-case bounds grow each step; stop once one could no longer catch a bug
            // (an error of order 1), but only after a few steps were checked.
            let bound_max = bounds.iter().copied().fold(0.0, f64::max);
            if bound_max >= 1.0 {
                assert!(
                    t >= 2,
                    "H={hidden} L={layers}: bound {bound_max} too loose at step {t}"
                );
                break;
            }
        }
        assert!(tightest.is_finite());
    }
}

#[test]
fn int8_and_float_logits_have_the_same_argmax_on_nine_steps_in_ten() {
    // A sanity check that int8 is the same model: argmax paths agree on most steps.
    let w = random_weights(VOCAB, 32, 1, 5);
    let f = to_blob(&w, &test_free_meta(), Quant::F32);
    let q = to_blob(&w, &test_free_meta(), Quant::I8RowScaled);
    let xs = inputs(w.b_out.len(), 50);
    let (lf, lq) = (core_logits(&f, &xs), core_logits(&q, &xs));
    let argmax = |v: &Vec<f32>| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    let agree = lf
        .iter()
        .zip(&lq)
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
    assert!(
        agree * 10 >= lf.len() * 9,
        "argmax agrees on only {agree} of {} steps",
        lf.len()
    );
}

/// The logits along `xs` from `g` as it stands, then from the state the walk leaves it in.
fn walk(g: &mut Generator<'_, '_, 32, 32, 2>, model: &M<'_>, xs: &[usize]) -> Vec<Vec<f32>> {
    let mut out = vec![g.logits().to_vec()];
    for &x in xs {
        g.step(model.token_from_id(x).unwrap());
        out.push(g.logits().to_vec());
    }
    out
}

#[test]
fn in_place_and_reset_start_where_new_does_bit_for_bit() {
    let w = random_weights(VOCAB, 24, 2, 21);
    let xs = inputs(w.b_out.len(), 30);
    for quant in [Quant::F32, Quant::I8RowScaled] {
        let blob = to_blob(&w, &test_free_meta(), quant);
        let model = M::from_bytes(&blob).expect("valid blob");
        let config = SamplerConfig::temperature(1.0);
        let fresh = core_logits(&blob, &xs);

        let mut slot = None;
        let sampler = charlstm_core::Sampler::new(config, 0).unwrap();
        let placed = Generator::in_place(&mut slot, &model, sampler);
        assert_eq!(walk(placed, &model, &xs), fresh, "{quant}: in_place");

        let mut g = Generator::new(&model, config, 0).unwrap();
        walk(&mut g, &model, &xs[..7]);
        g.reset();
        assert_eq!(walk(&mut g, &model, &xs), fresh, "{quant}: after reset");
    }
}
