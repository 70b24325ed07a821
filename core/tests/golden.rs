//! Golden vectors written by the trainer (`charlstm-train golden --out tests/golden`, fields
//! in trainer/src/golden.rs): core must compute the log-probabilities the trainer's own f64
//! forward pass computed, within the tolerances fixed in tests/src/golden.rs from the error
//! bounds of each path. Sampled ids are checked against an independent f64 sampler in
//! tests/tests/golden_sampling.rs.

use charlstm_core::{Generator, Model, SamplerConfig};
use charlstm_tests::golden::{self, LOGP_TOL_F32, LOGP_TOL_I8};

fn log_softmax(z: &[f32]) -> Vec<f64> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
    z.iter().map(|&v| v as f64 - lse).collect()
}

fn check(kind: &str, tol: f64) {
    let g = golden::load();
    let bytes = golden::blob(kind);
    let model = Model::<16, 16, 2>::from_bytes(&bytes).expect("the golden blob loads");
    assert_eq!(model.vocab(), g.vocab);
    assert_eq!(g.steps.len(), g.prime.chars().count());

    let mut generator = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    for (t, ch) in g.prime.chars().enumerate() {
        generator.step(model.token(ch).expect("prime chars are in the vocabulary"));
        let got = log_softmax(&generator.logits());
        let step = &g.steps[t];
        assert_eq!((step.index, step.fed), (t, ch));
        assert_eq!(got.len(), step.logp.len());
        for (v, (a, b)) in got.iter().zip(&step.logp).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{kind} step {t} id {v}: core {a}, trainer {b}, tol {tol}"
            );
        }
    }
}

#[test]
fn float_blob_logp_within_1e4_of_the_trainer_along_the_prime() {
    check("f32", LOGP_TOL_F32);
}

#[test]
fn int8_blob_logp_within_the_int8_bound_of_the_trainer_along_the_prime() {
    check("i8", LOGP_TOL_I8);
}
