//! Validation loss, defined once and computed two ways so float and int8 are comparable.
//!
//! Definition: the validation text is cut into [`CHUNKS`] equal contiguous chunks (the
//! remainder at the end is dropped); each chunk runs from the zero state and predicts
//! chunk[1..] from chunk[..n-1]. The loss is the mean cross-entropy in nats over all predicted
//! characters; bpc = nats / ln 2.
//! - [`val_loss_float`]: the trainer's ndarray forward, the 16 chunks as a batch.
//! - [`val_loss_blob`]: charlstm-core's `Generator` (`step`, then `logits()`), what the device
//!   computes; the loss of each prediction is logsumexp − logit[target] in f64.

use anyhow::{Result, bail};
use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};
use rayon::prelude::*;

use crate::corpus::Tok;
use crate::model::Params;
use crate::network::{Predict, State, Workspace, eval_window};

/// Number of validation chunks.
pub const CHUNKS: usize = 16;
/// The capacities the trainer loads blobs with: hidden <= 512, vocab <= 1024, layers <= 2.
pub type HostModel<'a> = Model<'a, 512, 1024, 2>;

/// A validation result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValLoss {
    /// Mean cross-entropy, nats per predicted character.
    pub nats: f64,
    /// Predicted characters.
    pub chars: usize,
}

impl ValLoss {
    pub fn bpc(&self) -> f64 {
        self.nats / std::f64::consts::LN_2
    }
}

/// The chunks of the definition above.
pub fn chunks(val: &[Tok]) -> Result<Vec<&[Tok]>> {
    let n = val.len() / CHUNKS;
    if n < 2 {
        bail!(
            "the validation split has {} characters, fewer than 2 per chunk for {CHUNKS} chunks",
            val.len()
        );
    }
    Ok(val.chunks_exact(n).take(CHUNKS).collect())
}

/// Validation loss of float parameters: the chunks run as a batch, in windows of 128 steps
/// carrying the state, split over the rayon threads.
pub fn val_loss_float(p: &Params<f32>, val: &[Tok]) -> Result<ValLoss> {
    let chunks = chunks(val)?;
    let n = chunks[0].len();
    let shards = rayon::current_num_threads().clamp(1, CHUNKS);
    let per = CHUNKS.div_ceil(shards);
    let groups: Vec<&[&[Tok]]> = chunks.chunks(per).collect();
    let total: f64 = groups
        .par_iter()
        .map(|group| {
            let b = group.len();
            let window = 128.min(n - 1);
            let mut state = State::zeros(p.layers.len(), b, p.hidden());
            let mut ws = Workspace::new(p, window, b, Predict::All);
            let (mut x, mut y) = (Vec::new(), Vec::new());
            let mut loss = 0.0;
            let mut pos = 0;
            while pos < n - 1 {
                let t = window.min(n - 1 - pos);
                if t != window {
                    ws = Workspace::new(p, t, b, Predict::All);
                }
                x.clear();
                y.clear();
                for i in 0..t {
                    x.extend(group.iter().map(|c| c[pos + i]));
                    y.extend(group.iter().map(|c| c[pos + i + 1]));
                }
                loss += eval_window(p, &mut ws, &mut state, &x, &y);
                pos += t;
            }
            loss
        })
        .sum();
    let chars = CHUNKS * (n - 1);
    Ok(ValLoss {
        nats: total / chars as f64,
        chars,
    })
}

/// Validation loss of a loaded blob through charlstm-core (int8 or float blob), the chunks
/// spread over the rayon threads. `val` must use the blob's vocabulary ids.
pub fn val_loss_blob(model: &HostModel<'_>, val: &[Tok]) -> Result<ValLoss> {
    let chunks = chunks(val)?;
    let total: f64 = chunks
        .par_iter()
        .map(|chunk| {
            let mut g = Generator::new(model, SamplerConfig::temperature(1.0), 0)
                .expect("temperature 1 is a valid setting");
            let mut loss = 0.0;
            for w in chunk.windows(2) {
                let token = model
                    .token_from_id(w[0] as usize)
                    .expect("ids come from the blob's vocabulary");
                g.step(token);
                loss += nll(&g.logits(), w[1] as usize);
            }
            loss
        })
        .sum();
    let chars = chunks.len() * (chunks[0].len() - 1);
    Ok(ValLoss {
        nats: total / chars as f64,
        chars,
    })
}

/// −ln softmax(logits)[target] = logsumexp(logits) − logits[target], in f64.
pub fn nll(logits: &[f32], target: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&z| (z as f64 - max).exp()).sum();
    max + sum.ln() - logits[target] as f64
}

/// Generated text from `model` (through charlstm-core's sampler): for each temperature,
/// `chars` characters after priming with `prime`, each with its own seed derived from `seed`.
pub fn samples(
    model: &HostModel<'_>,
    prime: &str,
    temperatures: &[f32],
    chars: usize,
    seed: u64,
) -> Result<Vec<(f32, String)>> {
    temperatures
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let mut g = Generator::new(
                model,
                SamplerConfig::temperature(t),
                seed.wrapping_add(i as u64),
            )
            .map_err(|e| anyhow::anyhow!("--temperature {t}: {e}"))?;
            g.prime(prime, OnUnknown::Error)
                .map_err(|e| anyhow::anyhow!("--prime: {e} (use characters of the corpus)"))?;
            Ok((t, g.chars(chars).collect()))
        })
        .collect()
}
