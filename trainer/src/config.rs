//! What defines a run and what it records: the recipe and its settings (stored in the
//! checkpoint, so `--resume` reuses them), the limits and console schedule of one invocation
//! (not stored), and the rows of metrics.csv. Plain data: the checkpoint, the training loop
//! and the plot all read it, and it reads none of them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The training recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Recipe {
    /// char-rnn-style truncated BPTT with carried state, Adam.
    Tbptt,
    /// The classic Keras example: zero-state windows of 60 chars, stride 3, RMSprop.
    Keras,
}

/// Stride between Keras windows.
pub const KERAS_STEP: usize = 3;
/// Length of the text each epoch's samples start from.
pub const PRIME_CHARS: usize = 60;

/// Everything that defines a run (stored in the checkpoint; `--resume` reuses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub recipe: Recipe,
    pub corpus: PathBuf,
    pub lowercase: bool,
    pub val_fraction: f64,
    pub max_vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    /// TBPTT length, or the Keras window length.
    pub seq_len: usize,
    pub batch: usize,
    pub lr: f32,
    /// Learning rate factor per epoch once `lr_decay_after` epochs are done.
    pub lr_decay: f32,
    pub lr_decay_after: u64,
    /// Max global gradient norm; 0 = no clipping.
    pub clip: f32,
    /// Dropout rate of the output layer's input during training (0 = none).
    pub dropout: f32,
    /// DropConnect rate of the recurrent weights w_hh during training (0 = none).
    pub weight_drop: f32,
    /// Decay of the exponential moving average of the weights (bias-corrected), updated after
    /// every step and used for validation, samples and export (0 = off: the raw weights).
    pub ema: f32,
    pub seed: u64,
    /// Data-parallel shards of each batch (fixed for the run, so results are reproducible).
    pub shards: usize,
    pub sample_chars: usize,
    pub temperatures: Vec<f32>,
}

impl TrainConfig {
    /// The learning rate during epoch `epoch` (0-based).
    pub fn lr_at(&self, epoch: u64) -> f32 {
        let decays = epoch.saturating_sub(self.lr_decay_after);
        self.lr * self.lr_decay.powi(decays.min(i32::MAX as u64) as i32)
    }

    /// A one-line description stored in the blob's metadata.
    pub fn describe(&self) -> String {
        match self.recipe {
            Recipe::Tbptt => format!(
                "tbptt seq={} batch={} adam lr={} decay={}@{} clip={}{}{} hidden={} layers={} seed={}",
                self.seq_len,
                self.batch,
                self.lr,
                self.lr_decay,
                self.lr_decay_after,
                self.clip,
                self.dropout_desc(),
                if self.ema > 0.0 {
                    format!(" ema={}", self.ema)
                } else {
                    String::new()
                },
                self.hidden,
                self.layers,
                self.seed
            ),
            Recipe::Keras => format!(
                "keras window={} step={KERAS_STEP} batch={} rmsprop lr={}{} hidden={} layers={} seed={}",
                self.seq_len,
                self.batch,
                self.lr,
                self.dropout_desc(),
                self.hidden,
                self.layers,
                self.seed
            ),
        }
    }

    fn dropout_desc(&self) -> String {
        let mut s = String::new();
        if self.dropout > 0.0 {
            s += &format!(" dropout={}", self.dropout);
        }
        if self.weight_drop > 0.0 {
            s += &format!(" weight-drop={}", self.weight_drop);
        }
        s
    }
}

/// When to stop this invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Total epochs (counting those of a resumed run).
    pub epochs: u64,
    /// Total optimizer steps.
    pub max_steps: Option<u64>,
    /// Seconds of this invocation.
    pub time_limit: Option<f64>,
    /// Print per-epoch reports (and the progress bar).
    pub verbose: bool,
}

/// When the console shows an epoch's report and samples (samples.txt gets every epoch's, and
/// the last epoch of an invocation is always shown).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleEvery {
    /// Every N epochs: those whose number (1-based, counted over the whole run) N divides.
    Epochs(u64),
    /// The first epoch that ends at least this many seconds after the last shown one (or the
    /// start of the invocation).
    Seconds(f64),
}

impl SampleEvery {
    /// The recipe's default: every epoch for keras (minute-long epochs, the classic output),
    /// about once a minute for tbptt (whose epochs can last a second).
    pub fn default_for(recipe: Recipe) -> Self {
        match recipe {
            Recipe::Tbptt => SampleEvery::Seconds(60.0),
            Recipe::Keras => SampleEvery::Epochs(1),
        }
    }
}

impl std::str::FromStr for SampleEvery {
    type Err = String;

    /// `N` (epochs, at least 1) or `Ns` (seconds, more than 0).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is neither a number of epochs (5) nor of seconds (60s)");
        match s.strip_suffix('s') {
            Some(secs) => match secs.parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(SampleEvery::Seconds(x)),
                Ok(_) => Err("the seconds must be more than 0".into()),
                Err(_) => Err(bad()),
            },
            None => match s.parse::<u64>() {
                Ok(0) => Err("the epochs must be at least 1".into()),
                Ok(n) => Ok(SampleEvery::Epochs(n)),
                Err(_) => Err(bad()),
            },
        }
    }
}

/// One metrics.csv row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub epoch: u64,
    pub step: u64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_bpc: f64,
    pub lr: f32,
    pub chars_per_s: f64,
    pub elapsed_s: f64,
}

/// metrics.csv's header: the columns, exactly.
pub const METRICS_HEADER: &str = "epoch,step,train_loss,val_loss,val_bpc,lr,chars_per_s,elapsed_s";

impl MetricsRow {
    /// The row as metrics.csv writes it.
    pub fn csv(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.6e},{:.0},{:.2}",
            self.epoch,
            self.step,
            self.train_loss,
            self.val_loss,
            self.val_bpc,
            self.lr,
            self.chars_per_s,
            self.elapsed_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_every_parses_epochs_and_seconds() {
        assert_eq!("5".parse(), Ok(SampleEvery::Epochs(5)));
        assert_eq!("60s".parse(), Ok(SampleEvery::Seconds(60.0)));
        assert_eq!("0.5s".parse(), Ok(SampleEvery::Seconds(0.5)));
        for bad in ["0", "0s", "-1s", "nans", "infs", "5m", "", "s", "1.5"] {
            assert!(bad.parse::<SampleEvery>().is_err(), "{bad:?}");
        }
        assert_eq!(
            SampleEvery::default_for(Recipe::Keras),
            SampleEvery::Epochs(1)
        );
        assert_eq!(
            SampleEvery::default_for(Recipe::Tbptt),
            SampleEvery::Seconds(60.0)
        );
    }
}
