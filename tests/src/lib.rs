//! Shared helpers for the cross-crate tests: random models and a plain f64 reference LSTM.
//!
//! [`random_blob`] is the workspace's one generator of random-weight blobs: the tests here,
//! the `random-blob` example (which the scripts call) and charlstm-core's bench and gen-loop
//! example (a dev-dependency of core) all use it. It lives here, not in core, because it goes
//! through the trainer's exporter ([`weights::to_blob`], core's quantizer and encoder), as a real blob
//! does; core's library never depends on it.

#![forbid(unsafe_code)]

use charlstm_core::Quant;
use charlstm_trainer::export::BlobMeta;

use crate::weights::{FloatWeights, LayerWeights, Mat, to_blob};
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// The 57 characters of the lowercased Nietzsche corpus, in id order: random blobs with the
/// bundled model's shape (H = 128, V = 57, L = 1) use them.
pub const NIETZSCHE_VOCAB: &str = "\n !\"'(),-.0123456789:;=?[]_abcdefghijklmnopqrstuvwxyzäæéë";

/// Uniform values in [-scale, scale) from a seeded xorshift.
pub fn uniform(rng: &mut XorShiftRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect()
}

/// A model with random weights: `vocab` is its characters in id order.
pub fn random_weights(vocab: &str, hidden: usize, layers: usize, seed: u64) -> FloatWeights {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let v = vocab.chars().count();
    let mut mat = |rows, cols, scale| Mat {
        rows,
        cols,
        data: uniform(&mut rng, rows * cols, scale),
    };
    let layers = (0..layers)
        .map(|l| LayerWeights {
            w_ih: mat(4 * hidden, if l == 0 { v } else { hidden }, 0.8),
            w_hh: mat(4 * hidden, hidden, 0.3),
            b: mat(1, 4 * hidden, 0.5).data,
        })
        .collect();
    FloatWeights {
        vocab: vocab.to_string(),
        lowercase: false,
        hidden,
        layers,
        w_out: mat(v, hidden, 1.5),
        b_out: mat(1, v, 0.5).data,
    }
}

/// Metadata for test blobs.
pub fn test_meta() -> BlobMeta {
    BlobMeta {
        recipe: "random weights (test)".into(),
        corpus_name: "none".into(),
        corpus_chars: 0,
        val_bpc_float: f32::NAN,
        val_bpc_quant: f32::NAN,
    }
}

/// A blob of random weights.
pub fn random_blob(vocab: &str, hidden: usize, layers: usize, seed: u64, quant: Quant) -> Vec<u8> {
    to_blob(
        &random_weights(vocab, hidden, layers, seed),
        &test_meta(),
        quant,
    )
}

pub mod golden;
pub mod int8_bound;
pub mod int8_reference;
pub mod reference;
pub mod reference_sampler;
pub mod weights;

/// The path of a workspace binary (`charlstm-train`, `charlstm-sim`), built on first use with
/// the cargo that runs the tests (a no-op when fresh): cargo gives integration tests of another
/// package no `CARGO_BIN_EXE_*`.
pub fn workspace_bin(package: &str, name: &str) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args(["build", "-q", "-p", package, "--bin", name]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cannot run cargo");
    assert!(status.success(), "building {name} failed");
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
