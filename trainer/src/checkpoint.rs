//! Checkpoints: everything a run needs to continue exactly (float weights, optimizer moments,
//! RNG, position, carried state, metrics so far), as postcard (written with
//! `charlstm_files::write_atomic`, so a kill at any moment leaves the last checkpoint intact), and the
//! blob metadata a checkpoint's model is exported with.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rand_xorshift::XorShiftRng;
use serde::{Deserialize, Serialize};

use crate::config::{MetricsRow, TrainConfig};
use crate::export::BlobMeta;
use crate::model::Params;
use crate::network::State;
use crate::optim::Optimizer;

/// First bytes of a checkpoint file.
pub const MAGIC: [u8; 8] = *b"CLSMCKPT";
/// Bumped whenever `Checkpoint` changes shape.
pub const VERSION: u32 = 4; // 2: TrainConfig.dropout; 3: Checkpoint.ema, TrainConfig.ema;
// 4: TrainConfig.weight_drop, Checkpoint.best

/// A training run's complete state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub config: TrainConfig,
    /// The characters in id order.
    pub vocab: String,
    pub lowercase: bool,
    pub corpus_name: String,
    pub corpus_chars: u64,
    pub params: Params<f32>,
    /// The exponential moving average of `params` (with `TrainConfig::ema` > 0).
    pub ema: Option<Params<f32>>,
    /// The validated weights with the lowest validation loss so far (none before the first
    /// validation).
    pub best: Option<Best>,
    pub optimizer: Optimizer,
    /// The run's RNG (shuffling), as it is after `step` updates.
    pub rng: XorShiftRng,
    /// Completed epochs.
    pub epoch: u64,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Steps done in the current, unfinished epoch (0 at an epoch boundary).
    pub step_in_epoch: u64,
    /// Sum of the per-step training losses of the current epoch so far.
    pub epoch_loss_sum: f64,
    /// The carried recurrent state of each shard (TBPTT).
    pub states: Vec<State<f32>>,
    /// The order of the current epoch's windows (Keras recipe).
    pub order: Vec<u32>,
    /// Training seconds so far (for metrics.csv's `elapsed_s`).
    pub elapsed_s: f64,
    /// The text every epoch's samples start from.
    pub prime: String,
    /// metrics.csv, row by row (the file is rewritten from these).
    pub metrics: Vec<MetricsRow>,
}

/// The best weights of a run and when they were validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Best {
    /// The epoch whose validation they had (1-based, as in metrics.csv).
    pub epoch: u64,
    pub val_loss: f64,
    pub params: Params<f32>,
}

impl Checkpoint {
    /// The weights as they are now, the ones training validates: the moving average if the run
    /// keeps one, else the raw weights.
    pub fn latest_params(&self) -> &Params<f32> {
        self.ema.as_ref().unwrap_or(&self.params)
    }

    /// The checkpoint's model, what `eval`, `export`, `sample` and the final model.blob use: the
    /// weights with the best validation loss so far (on a small corpus a long run ends past its
    /// best), or the latest ones before any validation.
    pub fn model_params(&self) -> &Params<f32> {
        self.best
            .as_ref()
            .map_or_else(|| self.latest_params(), |b| &b.params)
    }

    /// Keeps the latest weights as the best if `val_loss` (theirs) beats the best so far.
    pub fn record_validation(&mut self, epoch: u64, val_loss: f64) {
        if self.best.as_ref().is_none_or(|b| val_loss < b.val_loss) {
            self.best = Some(Best {
                epoch,
                val_loss,
                params: self.latest_params().clone(),
            });
        }
    }

    /// The metadata a blob of this checkpoint's model carries, with its validation figures
    /// (NaN when not measured).
    pub fn blob_meta(&self, val_bpc_float: f64, val_bpc_quant: f64) -> BlobMeta {
        BlobMeta {
            recipe: self.config.describe(),
            corpus_name: self.corpus_name.clone(),
            corpus_chars: self.corpus_chars,
            val_bpc_float: val_bpc_float as f32,
            val_bpc_quant: val_bpc_quant as f32,
        }
    }

    /// Serialized with a magic and version in front.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        out.extend(VERSION.to_le_bytes());
        out.extend(postcard::to_allocvec(self).context("serializing the checkpoint")?);
        Ok(out)
    }

    /// Reads and validates a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read checkpoint {} (give the checkpoint.bin a training run wrote)",
                path.display()
            )
        })?;
        if bytes.len() < 12 || bytes[..8] != MAGIC {
            bail!(
                "{}: not a charlstm-train checkpoint (give the checkpoint.bin a training run wrote; \
                 for a model.blob use --blob)",
                path.display()
            );
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let body = &bytes[12..];
        let ck = match version {
            VERSION => postcard::from_bytes::<Checkpoint>(body),
            3 => postcard::from_bytes::<v3::Checkpoint>(body).map(Checkpoint::from),
            _ => bail!(
                "{}: checkpoint version {version}, this build reads 3 and {VERSION} (retrain with \
                 this version)",
                path.display()
            ),
        };
        ck.with_context(|| {
            format!(
                "{}: the checkpoint is truncated or corrupted (use an intact one or retrain)",
                path.display()
            )
        })
    }
}

/// Version 3 (before `--weight-drop` and the best weights), read so that older runs can still
/// be evaluated, exported, sampled and resumed (without weight drop, their best weights
/// tracked from the resume on).
mod v3 {
    use super::*;
    use crate::config::Recipe;
    use std::path::PathBuf;

    #[derive(Debug, Deserialize)]
    pub struct TrainConfig {
        recipe: Recipe,
        corpus: PathBuf,
        lowercase: bool,
        val_fraction: f64,
        max_vocab: usize,
        hidden: usize,
        layers: usize,
        seq_len: usize,
        batch: usize,
        lr: f32,
        lr_decay: f32,
        lr_decay_after: u64,
        clip: f32,
        dropout: f32,
        ema: f32,
        seed: u64,
        shards: usize,
        sample_chars: usize,
        temperatures: Vec<f32>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Checkpoint {
        config: TrainConfig,
        vocab: String,
        lowercase: bool,
        corpus_name: String,
        corpus_chars: u64,
        params: Params<f32>,
        ema: Option<Params<f32>>,
        optimizer: Optimizer,
        rng: XorShiftRng,
        epoch: u64,
        step: u64,
        step_in_epoch: u64,
        epoch_loss_sum: f64,
        states: Vec<State<f32>>,
        order: Vec<u32>,
        elapsed_s: f64,
        prime: String,
        metrics: Vec<MetricsRow>,
    }

    impl From<Checkpoint> for super::Checkpoint {
        fn from(c: Checkpoint) -> Self {
            let k = c.config;
            super::Checkpoint {
                config: super::TrainConfig {
                    recipe: k.recipe,
                    corpus: k.corpus,
                    lowercase: k.lowercase,
                    val_fraction: k.val_fraction,
                    max_vocab: k.max_vocab,
                    hidden: k.hidden,
                    layers: k.layers,
                    seq_len: k.seq_len,
                    batch: k.batch,
                    lr: k.lr,
                    lr_decay: k.lr_decay,
                    lr_decay_after: k.lr_decay_after,
                    clip: k.clip,
                    dropout: k.dropout,
                    weight_drop: 0.0,
                    ema: k.ema,
                    seed: k.seed,
                    shards: k.shards,
                    sample_chars: k.sample_chars,
                    temperatures: k.temperatures,
                },
                vocab: c.vocab,
                lowercase: c.lowercase,
                corpus_name: c.corpus_name,
                corpus_chars: c.corpus_chars,
                params: c.params,
                ema: c.ema,
                best: None,
                optimizer: c.optimizer,
                rng: c.rng,
                epoch: c.epoch,
                step: c.step,
                step_in_epoch: c.step_in_epoch,
                epoch_loss_sum: c.epoch_loss_sum,
                states: c.states,
                order: c.order,
                elapsed_s: c.elapsed_s,
                prime: c.prime,
                metrics: c.metrics,
            }
        }
    }
}
