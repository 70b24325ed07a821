//! The golden vectors of `charlstm-train golden` (tests/golden): the fixture's fields, and the
//! tolerances the tests hold core to, fixed here from the error bounds (not from any error
//! core measured): core/tests/golden.rs checks the log-probabilities with them,
//! tests/tests/golden_sampling.rs derives its near-threshold epsilon from them.

use serde::Deserialize;

/// tests/golden.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");

/// Largest |Δ log p| between core's float blob and the trainer's f64 forward. Core computes
/// in f32: each product sums at most H + 1 = 9 terms, the cell and the log-softmax a few more
/// operations, each rounding by at most 2^-24 relative on values of magnitude below ~10, which
/// is about 1e-6 per step and stays there (the f32 state rounds again each step; the forget
/// gate damps what is carried). 1e-4 leaves a factor of ~100 for accumulation over the prime
/// and libm's exp/tanh (<= 1 ulp).
pub const LOGP_TOL_F32: f64 = 1e-4;

/// Largest |Δ log p| between core's int8 blob and the trainer's f64 forward. int8 rounding
/// moves each weight by at most half its row's step, `max|row| / 254`; the output product of
/// a unit-bounded h (|h_k| < 1) then moves a logit by at most `H · max|w_out row| / 254`,
/// which for this model (H = 8, max |w_out| = 1.36) is 0.043 (tests/tests/golden_sampling.rs
/// computes it from the float blob along the prime: 0.043 at most). That bound is the
/// worst case of a sum of 8 independent roundings; the state's own rounding error feeds the
/// same product and is of the same order (the i16 activations add 1/256 of that). A log p is
/// a logit minus the log-sum-exp, whose error is a weighted mean of the logits' errors, so
/// the errors mostly cancel and rarely add. 0.05 is that bound rounded up; a bug (a wrong
/// scale, a gate in the wrong place) moves logits by 0.1 to several units.
pub const LOGP_TOL_I8: f64 = 0.05;

/// `tiny.json` (trainer/src/golden.rs documents every field).
#[derive(Debug, Deserialize)]
pub struct Golden {
    /// The text fed from the zero state.
    pub prime: String,
    /// The model's characters in id order.
    pub vocab: String,
    /// One per prime character: the trainer's log-softmax after feeding it.
    pub steps: Vec<Step>,
}

/// The trainer's prediction after feeding `prime[..=index]`.
#[derive(Debug, Deserialize)]
pub struct Step {
    /// Position in the prime, in characters.
    pub index: usize,
    /// The character fed.
    pub fed: char,
    /// Log-softmax over the vocabulary, id order (f64 forward of the float weights).
    pub logp: Vec<f64>,
}

/// Reads tests/golden/tiny.json.
pub fn load() -> Golden {
    let path = format!("{DIR}/tiny.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The bytes of tests/golden/tiny-{kind}.blob (`f32` or `i8`).
pub fn blob(kind: &str) -> Vec<u8> {
    let path = format!("{DIR}/tiny-{kind}.blob");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
