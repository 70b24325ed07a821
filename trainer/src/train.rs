//! The training loop: the two recipes, data-parallel shards on rayon, per-epoch validation,
//! samples, metrics.csv, loss.png and checkpoints, stopping on epochs, steps or time.
//!
//! Recipes:
//! - `tbptt` (default, char-rnn style): the training text cut into `batch` contiguous streams;
//!   each step reads the next `seq_len` characters of every stream, starting from the state the
//!   previous step left (truncated BPTT); Adam, lr decay per epoch, clipping by global norm.
//! - `keras` (the classic `lstm_text_generation` example): windows of `seq_len` (60) chars at
//!   stride 3, each from the zero state, predicting the character after it; reshuffled each
//!   epoch; RMSprop.
//!
//! Parallelism: a batch is split into `shards` slices of streams; each shard runs forward and
//! backward on its own rayon task into its own gradients, which are then summed in shard
//! order, so results do not depend on scheduling. No spinning thread pool.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::config::{
    KERAS_STEP, Limits, METRICS_HEADER, MetricsRow, PRIME_CHARS, Recipe, SampleEvery, TrainConfig,
};
use crate::corpus::{Corpus, Tok};
use crate::export;
use crate::model::{Init, Params, uniform01};
use crate::network::{Predict, State, Workspace, train_window};
use crate::optim::{Optimizer, clip_global_norm, ema_decay, ema_update};
use crate::{eval, plot};
use charlstm_files::write_atomic;

// ---------------------------------------------------------------------------
// Batches

/// The number of steps in one epoch.
pub fn steps_per_epoch(cfg: &TrainConfig, train_len: usize) -> usize {
    match cfg.recipe {
        Recipe::Tbptt => (train_len / cfg.batch).saturating_sub(1) / cfg.seq_len,
        Recipe::Keras => keras_windows(cfg, train_len).div_ceil(cfg.batch),
    }
}

fn keras_windows(cfg: &TrainConfig, train_len: usize) -> usize {
    if train_len <= cfg.seq_len {
        0
    } else {
        (train_len - cfg.seq_len - 1) / KERAS_STEP + 1
    }
}

/// Checks the corpus is large enough for the recipe's shapes.
pub fn check_corpus_size(cfg: &TrainConfig, corpus: &Corpus) -> Result<()> {
    if steps_per_epoch(cfg, corpus.train.len()) == 0 {
        let need = match cfg.recipe {
            Recipe::Tbptt => cfg.batch * (cfg.seq_len + 1),
            Recipe::Keras => cfg.seq_len + 1,
        };
        bail!(
            "{}: the training split has {} characters, too few for --batch {} and --seq-len {} \
             (needs at least {need}): use a larger corpus or lower --batch / --seq-len",
            cfg.corpus.display(),
            corpus.train.len(),
            cfg.batch,
            cfg.seq_len
        );
    }
    Ok(())
}

/// Which positions of a window the recipe predicts.
fn predict(cfg: &TrainConfig) -> Predict {
    match cfg.recipe {
        Recipe::Tbptt => Predict::All,
        Recipe::Keras => Predict::Last,
    }
}

/// One shard's buffers.
#[derive(Debug)]
struct Shard {
    grads: Params<f32>,
    ws: Workspace<f32>,
    ws_rows: usize,
    x: Vec<Tok>,
    y: Vec<Tok>,
}

/// The stream range of shard `k` of `n` over `b` rows.
fn shard_rows(k: usize, n: usize, b: usize) -> std::ops::Range<usize> {
    k * b / n..(k + 1) * b / n
}

// ---------------------------------------------------------------------------
// The run

/// A run in progress: the checkpoint is the live state.
#[derive(Debug)]
pub struct Trainer {
    pub ck: Checkpoint,
    pub corpus: Corpus,
    pub out: PathBuf,
    shards: Vec<Shard>,
    grads: Params<f32>,
    sample_every: SampleEvery,
}

impl Trainer {
    /// A fresh run.
    pub fn new(cfg: TrainConfig, corpus: Corpus, out: PathBuf) -> Result<Self> {
        check_corpus_size(&cfg, &corpus)?;
        let mut rng = XorShiftRng::seed_from_u64(cfg.seed);
        let init = match cfg.recipe {
            Recipe::Tbptt => Init::CharRnn,
            Recipe::Keras => Init::Keras,
        };
        let params = Params::init(corpus.vocab.len(), cfg.hidden, cfg.layers, init, &mut rng);
        let optimizer = match cfg.recipe {
            Recipe::Tbptt => Optimizer::adam(&params),
            Recipe::Keras => Optimizer::rmsprop(&params),
        };
        // The sample prime: a fixed slice of the training text chosen by the seed.
        let mut prime_rng = XorShiftRng::seed_from_u64(cfg.seed ^ 0x5EED_F00D);
        let span = corpus.train.len().saturating_sub(PRIME_CHARS).max(1);
        let start = (uniform01(&mut prime_rng) * span as f64) as usize;
        let prime: String = corpus.train[start..(start + PRIME_CHARS).min(corpus.train.len())]
            .iter()
            .map(|&t| corpus.vocab.chars[t as usize])
            .collect();
        let states = (0..cfg.shards)
            .map(|k| {
                State::zeros(
                    cfg.layers,
                    shard_rows(k, cfg.shards, cfg.batch).len(),
                    cfg.hidden,
                )
            })
            .collect();
        let ck = Checkpoint {
            vocab: corpus.vocab.as_string(),
            lowercase: corpus.lowercase,
            corpus_name: corpus.name.clone(),
            corpus_chars: corpus.chars() as u64,
            ema: (cfg.ema > 0.0).then(|| params.clone()),
            best: None,
            params,
            optimizer,
            rng,
            epoch: 0,
            step: 0,
            step_in_epoch: 0,
            epoch_loss_sum: 0.0,
            states,
            order: Vec::new(),
            elapsed_s: 0.0,
            prime,
            metrics: Vec::new(),
            config: cfg,
        };
        Self::from_checkpoint(ck, corpus, out)
    }

    /// Continues from a checkpoint.
    pub fn from_checkpoint(ck: Checkpoint, corpus: Corpus, out: PathBuf) -> Result<Self> {
        check_corpus_size(&ck.config, &corpus)?;
        let grads = ck.params.zeros_like();
        Ok(Trainer {
            shards: Vec::new(),
            grads,
            sample_every: SampleEvery::default_for(ck.config.recipe),
            ck,
            corpus,
            out,
        })
    }

    /// Sets how often the console shows the samples (default: the recipe's).
    pub fn with_sample_every(mut self, every: SampleEvery) -> Self {
        self.sample_every = every;
        self
    }

    fn cfg(&self) -> &TrainConfig {
        &self.ck.config
    }

    /// Trains until a limit is reached; writes checkpoint.bin, metrics.csv, samples.txt,
    /// loss.png after each epoch (and at a mid-epoch stop), and model.blob at the end.
    pub fn run(&mut self, limits: Limits) -> Result<()> {
        std::fs::create_dir_all(&self.out).with_context(|| {
            format!(
                "cannot create the output directory {} (check --out)",
                self.out.display()
            )
        })?;
        let start = Instant::now();
        let spe = steps_per_epoch(self.cfg(), self.corpus.train.len()) as u64;
        let chars_per_step = (self.cfg().batch * self.cfg().seq_len) as f64;
        let mut stopped = false;
        let mut last_shown = start;
        while self.ck.epoch < limits.epochs && !stopped {
            let epoch = self.ck.epoch;
            if self.ck.step_in_epoch == 0 {
                self.begin_epoch();
            }
            let lr = self.cfg().lr_at(epoch);
            let bar = progress_bar(limits.verbose, spe, self.ck.step_in_epoch);
            let epoch_start = Instant::now();
            let first_step = self.ck.step_in_epoch;
            while self.ck.step_in_epoch < spe {
                let loss = self.train_step(lr)?;
                self.ck.epoch_loss_sum += loss;
                self.ck.step_in_epoch += 1;
                self.ck.step += 1;
                let secs = epoch_start.elapsed().as_secs_f64();
                let cps = (self.ck.step_in_epoch - first_step) as f64 * chars_per_step / secs;
                bar.set_position(self.ck.step_in_epoch);
                bar.set_message(format!("loss {loss:.3}  {cps:.0} chars/s"));
                let out_of_steps = limits.max_steps.is_some_and(|m| self.ck.step >= m);
                let out_of_time = limits
                    .time_limit
                    .is_some_and(|t| start.elapsed().as_secs_f64() >= t);
                if out_of_steps || out_of_time {
                    stopped = true;
                    break;
                }
            }
            bar.finish_and_clear();
            let secs = epoch_start.elapsed().as_secs_f64();
            self.ck.elapsed_s += secs;
            let steps = self.ck.step_in_epoch - first_step;
            let train_loss = self.ck.epoch_loss_sum / self.ck.step_in_epoch.max(1) as f64;
            if self.ck.step_in_epoch == spe {
                self.ck.epoch += 1;
                self.ck.step_in_epoch = 0;
                self.ck.epoch_loss_sum = 0.0;
            }
            let row = MetricsRow {
                epoch: epoch + 1,
                step: self.ck.step,
                train_loss,
                val_loss: f64::NAN,
                val_bpc: f64::NAN,
                lr,
                chars_per_s: steps as f64 * chars_per_step / secs.max(1e-9),
                elapsed_s: self.ck.elapsed_s,
            };
            let last = stopped || self.ck.epoch >= limits.epochs;
            let due = match self.sample_every {
                SampleEvery::Epochs(n) => row.epoch.is_multiple_of(n),
                SampleEvery::Seconds(s) => last_shown.elapsed().as_secs_f64() >= s,
            };
            let show = limits.verbose && (last || due);
            if show {
                last_shown = Instant::now();
            }
            self.end_of_epoch(row, show)?;
        }
        self.export_blob(limits.verbose)?;
        Ok(())
    }

    /// Resets the carried state (TBPTT) or reshuffles the windows (Keras).
    pub fn begin_epoch(&mut self) {
        self.ck.states.iter_mut().for_each(State::reset);
        if self.cfg().recipe == Recipe::Keras {
            let n = keras_windows(self.cfg(), self.corpus.train.len());
            let mut order: Vec<u32> = (0..n as u32).collect();
            // Fisher-Yates with the run's RNG.
            for i in (1..n).rev() {
                let j = (uniform01(&mut self.ck.rng) * (i + 1) as f64) as usize;
                order.swap(i, j.min(i));
            }
            self.ck.order = order;
        }
    }

    /// One optimizer step; returns the batch's mean loss.
    pub fn train_step(&mut self, lr: f32) -> Result<f64> {
        let cfg = self.ck.config.clone();
        let predict = predict(&cfg);
        let train = &self.corpus.train;
        let (t_len, step) = (cfg.seq_len, self.ck.step_in_epoch as usize);
        // Rows of this batch (the last Keras batch may be short).
        let (rows, windows): (usize, &[u32]) = match cfg.recipe {
            Recipe::Tbptt => (cfg.batch, &[]),
            Recipe::Keras => {
                let o = &self.ck.order;
                let w = &o[step * cfg.batch..((step + 1) * cfg.batch).min(o.len())];
                (w.len(), w)
            }
        };
        let predicted = match predict {
            Predict::All => rows * t_len,
            Predict::Last => rows,
        };
        let scale = 1.0 / predicted as f32;
        let n_shards = cfg.shards.min(rows);
        let params = &self.ck.params;
        if self.shards.len() != cfg.shards {
            self.shards = (0..cfg.shards)
                .map(|_| Shard {
                    grads: params.zeros_like(),
                    ws: Workspace::new(params, 1, 1, predict),
                    ws_rows: 0,
                    x: Vec::new(),
                    y: Vec::new(),
                })
                .collect();
        }
        let stream_len = train.len() / cfg.batch;
        let step_index = self.ck.step;
        let loss: f64 = self
            .shards
            .par_iter_mut()
            .zip(self.ck.states.par_iter_mut())
            .enumerate()
            .take(n_shards)
            .map(|(k, (sh, state))| {
                let r = shard_rows(k, n_shards, rows);
                let b = r.len();
                if sh.ws_rows != b {
                    sh.ws = Workspace::new(params, t_len, b, predict);
                    sh.ws_rows = b;
                }
                sh.x.clear();
                sh.y.clear();
                match cfg.recipe {
                    Recipe::Tbptt => {
                        let pos = step * t_len;
                        for t in 0..t_len {
                            for s in r.clone() {
                                sh.x.push(train[s * stream_len + pos + t]);
                                sh.y.push(train[s * stream_len + pos + t + 1]);
                            }
                        }
                    }
                    Recipe::Keras => {
                        let starts = windows[r].iter().map(|&w| w as usize * KERAS_STEP);
                        for t in 0..t_len {
                            sh.x.extend(starts.clone().map(|s| train[s + t]));
                        }
                        sh.y.extend(starts.map(|s| train[s + t_len]));
                        // Every window starts from the zero state.
                        if state.h[0].nrows() == b {
                            state.reset();
                        } else {
                            *state = State::zeros(cfg.layers, b, cfg.hidden);
                        }
                    }
                }
                sh.grads.zero_grad();
                // The dropout masks of this step and shard: their own stream, a function of
                // (seed, step, shard) only, so runs and resumes repeat exactly.
                let mask_seed =
                    cfg.seed.rotate_left(32) ^ (step_index * n_shards as u64 + k as u64);
                let mut mask_rng = XorShiftRng::seed_from_u64(mask_seed);
                sh.ws.set_dropout(cfg.dropout as f64, &mut mask_rng);
                sh.ws.set_weight_drop(cfg.weight_drop as f64, &mut mask_rng);
                let (ws, x, y) = (&mut sh.ws, &sh.x, &sh.y);
                train_window(&mut sh.grads, params, ws, state, x, y, predict, scale)
            })
            .collect::<Vec<f64>>()
            .into_iter()
            .sum();
        let loss = loss / predicted as f64;
        // Sum the shards' gradients in shard order (deterministic).
        self.grads.zero_grad();
        for sh in self.shards.iter_mut().take(n_shards) {
            self.grads.add_assign(&mut sh.grads);
        }
        let step_no = self.ck.step + 1;
        if !loss.is_finite() {
            bail!(
                "step {step_no}: the training loss is {loss} (diverged); stopped, the last good \
                 checkpoint in {} is kept (lower --lr or --clip)",
                self.out.display()
            );
        }
        let norm = clip_global_norm(&mut self.grads, cfg.clip);
        if !norm.is_finite() {
            bail!(
                "step {step_no}: a gradient is NaN or infinite; stopped, the last good checkpoint \
                 in {} is kept (lower --lr or --clip)",
                self.out.display()
            );
        }
        self.ck
            .optimizer
            .step(&mut self.ck.params, &mut self.grads, lr);
        if let Some(avg) = &mut self.ck.ema {
            let decay = ema_decay(cfg.ema, self.ck.step);
            ema_update(avg, &mut self.ck.params, decay);
        }
        Ok(loss)
    }

    /// Validation, samples, metrics.csv, samples.txt, loss.png and the checkpoint; the report
    /// and samples go to stdout too if `show`.
    fn end_of_epoch(&mut self, mut row: MetricsRow, show: bool) -> Result<()> {
        let val = eval::val_loss_float(self.ck.latest_params(), &self.corpus.val)?;
        row.val_loss = val.nats;
        row.val_bpc = val.bpc();
        self.ck.record_validation(row.epoch, val.nats);
        let float_blob = self.float_blob()?;
        let model = eval::HostModel::from_bytes(&float_blob)
            .map_err(|e| anyhow::anyhow!("the float model does not load in charlstm-core: {e}"))?;
        let cfg = self.cfg();
        let seed = cfg.seed.wrapping_add(row.step);
        let samples = eval::samples(
            &model,
            &self.ck.prime,
            &cfg.temperatures,
            cfg.sample_chars,
            seed,
        )?;
        let mut text = format!(
            "==== epoch {} step {}: train loss {:.4}, val loss {:.4} nats ({:.4} bpc), {:.0} chars/s\n",
            row.epoch, row.step, row.train_loss, row.val_loss, row.val_bpc, row.chars_per_s
        );
        text += &format!("---- seed: {:?}\n", self.ck.prime);
        for (t, s) in &samples {
            text += &format!("---- temperature {t}\n{}{s}\n", self.ck.prime);
        }
        if show {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
        let path = self.out.join("samples.txt");
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("cannot append to {}", path.display()))?;
        self.ck.metrics.push(row);
        self.write_metrics()?;
        let title = run_name(&self.out);
        let plot = plot::LossPlot {
            title: &title,
            rows: &self.ck.metrics,
            steps_per_epoch: steps_per_epoch(self.cfg(), self.corpus.train.len()) as u64,
            text: true,
        };
        plot::loss_png(&self.out.join("loss.png"), &plot)?;
        write_atomic(&self.out.join("checkpoint.bin"), &self.ck.to_bytes()?)?;
        Ok(())
    }

    fn write_metrics(&self) -> Result<()> {
        let mut csv = format!("{METRICS_HEADER}\n");
        for r in &self.ck.metrics {
            csv += &r.csv();
            csv.push('\n');
        }
        write_atomic(&self.out.join("metrics.csv"), csv.as_bytes())
    }

    fn float_blob(&self) -> Result<Vec<u8>> {
        Ok(export::encode(
            self.ck.latest_params(),
            &self.ck.vocab,
            self.ck.lowercase,
            &self.ck.blob_meta(f64::NAN, f64::NAN),
            charlstm_core::Quant::F32,
        ))
    }

    /// Quantizes the checkpoint's model (the best validation's weights) and writes `model.blob`
    /// in the output directory.
    fn export_blob(&self, verbose: bool) -> Result<()> {
        let report = export::quantize_and_evaluate(
            self.ck.model_params(),
            &self.ck.vocab,
            self.ck.lowercase,
            &self.corpus.val,
            |f, q| self.ck.blob_meta(f, q),
        )?;
        let path = self.out.join("model.blob");
        write_atomic(&path, &report.blob)?;
        if verbose {
            let from = match &self.ck.best {
                Some(b) => format!("the best validation's weights, epoch {}", b.epoch),
                None => "the latest weights".into(),
            };
            println!(
                "wrote {} ({} bytes, {from}): val bpc float {:.4}, int8 {:.4} (gap {:+.4})",
                path.display(),
                report.blob.len(),
                report.float.bpc(),
                report.quant.bpc(),
                report.quant.bpc() - report.float.bpc()
            );
        }
        Ok(())
    }
}

fn progress_bar(verbose: bool, len: u64, pos: u64) -> ProgressBar {
    if !verbose {
        return ProgressBar::hidden();
    }
    // indicatif draws to stderr and hides itself when stderr is not a terminal.
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
            .expect("a valid template"),
    );
    bar.set_position(pos);
    bar
}

/// The run's name, shown as loss.png's title: its output directory's name.
pub fn run_name(out: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(out)
        .or_else(|| out.canonicalize().ok().as_deref().and_then(named))
        .unwrap_or_else(|| out.display().to_string())
}

/// The default output directory: `runs/<corpus stem>/`.
pub fn default_out(corpus: &Path) -> PathBuf {
    let stem = corpus
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into());
    Path::new("runs").join(stem)
}
