//! Golden vectors written by the trainer (`charlstm-train golden --out tests/golden`, see
//! trainer/src/golden.rs for the JSON fields): core must compute the log-probabilities the
//! trainer's own forward pass computed (within the file's tolerance, per blob kind) and draw
//! exactly the recorded ids at the recorded temperature and seed.

use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};
use serde::Deserialize;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden");

/// `tests/golden/tiny.json` (trainer/src/golden.rs documents each field).
#[derive(Debug, Deserialize)]
struct Golden {
    prime: String,
    tolerances: Vec<Tolerance>,
    steps: Vec<Step>,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Tolerance {
    blob: String,
    max_abs_logp_error: f64,
}

#[derive(Debug, Deserialize)]
struct Step {
    index: usize,
    logp: Vec<f64>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    blob: String,
    temperature: f32,
    seed: u64,
    ids: Vec<usize>,
}

fn load() -> Golden {
    let text = std::fs::read_to_string(format!("{DIR}/tiny.json")).expect("tests/golden/tiny.json");
    serde_json::from_str(&text).expect("tests/golden/tiny.json parses")
}

fn log_softmax(z: &[f32]) -> Vec<f64> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
    z.iter().map(|&v| v as f64 - lse).collect()
}

fn check(kind: &str) {
    let g = load();
    let bytes = std::fs::read(format!("{DIR}/tiny-{kind}.blob")).expect("golden blob");
    let model = Model::<16, 16, 2>::from_bytes(&bytes).expect("the golden blob loads");
    let tol = g
        .tolerances
        .iter()
        .find(|t| t.blob == kind)
        .expect("a tolerance")
        .max_abs_logp_error;
    assert_eq!(g.steps.len(), g.prime.chars().count());

    let mut generator = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    for (t, ch) in g.prime.chars().enumerate() {
        generator.step(model.token(ch).expect("prime chars are in the vocabulary"));
        let got = log_softmax(generator.logits());
        let step = &g.steps[t];
        assert_eq!(step.index, t);
        assert_eq!(got.len(), step.logp.len());
        for (v, (a, b)) in got.iter().zip(&step.logp).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{kind} step {t} id {v}: core {a}, trainer {b}, tol {tol}"
            );
        }
    }

    let Sample {
        temperature,
        seed,
        ids,
        ..
    } = g.samples.iter().find(|s| s.blob == kind).expect("samples");
    let mut generator =
        Generator::new(&model, SamplerConfig::temperature(*temperature), *seed).unwrap();
    generator.prime(&g.prime, OnUnknown::Error).unwrap();
    let got: Vec<usize> = (0..ids.len())
        .map(|_| generator.next_token().id())
        .collect();
    assert_eq!(&got, ids, "{kind}: sampled ids");
}

#[test]
fn float_blob_matches_the_trainer() {
    check("f32");
}

#[test]
fn int8_blob_matches_the_trainer() {
    check("i8");
}
