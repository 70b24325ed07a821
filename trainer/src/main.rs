//! charlstm-train: the command line (train, eval, export, sample).
//!
//! Exit codes: 0 success, 1 runtime error (one line naming the file and the remedy), 2 usage
//! error (clap's own message).

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use charlstm_core::{Quant, SamplerConfig};
use clap::{Args, Parser, Subcommand};

use charlstm_trainer::checkpoint::Checkpoint;
use charlstm_trainer::config::{Limits, Recipe, SampleEvery, TrainConfig};
use charlstm_trainer::corpus::{self, Vocab};
use charlstm_trainer::eval::{self, HostModel};
use charlstm_trainer::export;
use charlstm_trainer::train::{self, Trainer};

#[derive(Parser, Debug)]
#[command(
    name = "charlstm-train",
    version,
    about = "Train a char-LSTM, quantize it to int8, write a charlstm blob"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train on a corpus; writes checkpoint.bin, model.blob (the best validation's weights),
    /// metrics.csv, loss.png, samples.txt.
    Train(TrainArgs),
    /// Validation loss (nats/char and bits/char) of a checkpoint (float) or a blob (core's path).
    Eval(EvalArgs),
    /// Quantize a checkpoint to an int8 blob; prints float vs int8 val bpc and weight errors.
    Export(ExportArgs),
    /// Generate text from a checkpoint or a blob.
    Sample(SampleArgs),
    /// Write the golden vectors shared with charlstm-core's tests (tests/golden).
    #[command(hide = true)]
    Golden {
        /// Directory to write into.
        #[arg(long, default_value = "tests/golden")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// UTF-8 text file to train on.
    #[arg(long, required_unless_present = "resume")]
    corpus: Option<PathBuf>,
    /// Output directory [default: runs/<corpus stem>/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in DIR exactly where its checkpoint.bin left off (its settings are kept;
    /// --epochs, --max-steps and --time-limit apply).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Training recipe.
    #[arg(long, value_enum, default_value = "tbptt")]
    recipe: Recipe,
    /// Lowercase the corpus [default: true for keras, false for tbptt].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    lowercase: Option<bool>,
    /// Fraction of the corpus (its end) held out for validation.
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Largest vocabulary accepted.
    #[arg(long, default_value_t = 256)]
    max_vocab: usize,
    /// Hidden size H (at most 512).
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// LSTM layers (1 or 2).
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Truncated-BPTT length (tbptt) or window length (keras) [default: 64 / 60].
    #[arg(long)]
    seq_len: Option<usize>,
    /// Streams (tbptt) or windows (keras) per batch [default: 64 / 128].
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate [default: 8e-3 Adam (tbptt) / 1e-2 RMSprop (keras)]. The tbptt default is
    /// 4x char-rnn's 2e-3: it learns the most per second at this model size.
    #[arg(long)]
    lr: Option<f32>,
    /// Learning-rate factor per epoch after --lr-decay-after epochs [default: 0.99 / 1]. Slow,
    /// because with weight drop the model keeps learning for hundreds of epochs, past where
    /// char-rnn's 0.97 would have stopped it.
    #[arg(long)]
    lr_decay: Option<f32>,
    /// Epochs before the learning rate starts to decay.
    #[arg(long, default_value_t = 10)]
    lr_decay_after: u64,
    /// Clip the gradient's global norm to this; 0 = off [default: 5 / 0].
    #[arg(long)]
    clip: Option<f32>,
    /// Dropout rate of the output layer's input (the top h, never the carried state) during
    /// training, for larger models that overfit. Off by default: at H=128 it does not help,
    /// --weight-drop does.
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    /// DropConnect rate of the recurrent weights w_hh during training (AWD-LSTM's weight drop:
    /// one mask per step and shard, for every time step; the device runs the plain weights)
    /// [default: 0.25 / 0]. It regularizes the recurrence, so an H=128 model keeps improving on
    /// Nietzsche for hundreds of epochs instead of overfitting within about 50.
    #[arg(long)]
    weight_drop: Option<f32>,
    /// Keep an exponential moving average of the weights with this decay per step (Polyak
    /// averaging) and validate, sample and export it instead of the raw weights, which
    /// validate better; 0 = off [default: 0.999 / 0]. The decay warms up as
    /// min(d, (1+t)/(10+t)) at step t, so a short run averages only its last tenth or so.
    #[arg(long)]
    ema: Option<f32>,
    /// Seed of initialization, order and sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Total epochs, counting those of a resumed run [default: 50, or no limit with
    /// --time-limit].
    #[arg(long)]
    epochs: Option<u64>,
    /// Stop after this many optimizer steps in total.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Stop cleanly (checkpoint and model.blob) once this many seconds have passed.
    #[arg(long, value_name = "SECS")]
    time_limit: Option<f64>,
    /// Data-parallel shards per batch [default: the number of CPU threads].
    #[arg(long)]
    shards: Option<usize>,
    /// Characters per sample after each epoch.
    #[arg(long, default_value_t = 400)]
    sample_chars: usize,
    /// Sampling temperatures after each epoch.
    #[arg(long = "temperature", num_args = 1.., default_values_t = [0.2, 0.5, 1.0, 1.2])]
    temperatures: Vec<f32>,
    /// How often the console shows an epoch's report and samples: every N epochs (`5`), or at
    /// the end of the first epoch N seconds after the last one shown (`60s`); the last epoch is
    /// always shown and samples.txt keeps every epoch's. A tbptt epoch can last a second, so
    /// printing each one would flood the terminal [default: 60s for tbptt, 1 for keras].
    #[arg(long, value_name = "N|Ns")]
    sample_every: Option<SampleEvery>,
    /// No per-epoch report or progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("model").required(true).args(["checkpoint", "blob"])))]
struct EvalArgs {
    /// The corpus the model was trained on (its last --val-fraction is evaluated).
    #[arg(long)]
    corpus: PathBuf,
    /// A checkpoint.bin: its float model, the best validation's weights (ndarray forward).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A blob: charlstm-core's path, what the device computes.
    #[arg(long)]
    blob: Option<PathBuf>,
    /// Validation fraction [default: the checkpoint's, 0.1 for a blob].
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// The checkpoint.bin to quantize (its best validation's weights).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the blob.
    #[arg(long)]
    out: PathBuf,
    /// Corpus for the validation figures [default: the path the checkpoint was trained on].
    #[arg(long)]
    corpus: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("model").required(true).args(["checkpoint", "blob"])))]
struct SampleArgs {
    /// A checkpoint.bin: its best validation's weights, sampled through a float blob in
    /// charlstm-core.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A blob.
    #[arg(long)]
    blob: Option<PathBuf>,
    /// Text to start from [default: the checkpoint's seed text; empty for a blob].
    #[arg(long)]
    prime: Option<String>,
    /// Temperatures (0 = argmax).
    #[arg(long = "temperature", num_args = 1.., default_values_t = [0.2, 0.5, 1.0, 1.2])]
    temperatures: Vec<f32>,
    /// Characters per temperature.
    #[arg(long, default_value_t = 400)]
    chars: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> ExitCode {
    // A bug must still end in one line and exit code 1, never a panic trace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info} (please report this)");
        std::process::exit(1);
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => cmd_train(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Export(a) => cmd_export(a),
        Command::Sample(a) => cmd_sample(a),
        Command::Golden { out } => charlstm_trainer::golden::write(&out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

// ---------------------------------------------------------------------------
// train

fn cmd_train(a: TrainArgs) -> Result<()> {
    let default_epochs = if a.time_limit.is_some() { u64::MAX } else { 50 };
    let limits = Limits {
        epochs: a.epochs.unwrap_or(default_epochs),
        max_steps: a.max_steps,
        time_limit: a.time_limit,
        verbose: !a.quiet,
    };
    if let Some(dir) = &a.resume {
        let ck = Checkpoint::load(&dir.join("checkpoint.bin"))?;
        let cfg = &ck.config;
        let path = a.corpus.clone().unwrap_or_else(|| cfg.corpus.clone());
        let vocab = Vocab::from_string(&ck.vocab);
        let corpus = corpus::load_with_vocab(&path, vocab, ck.lowercase, cfg.val_fraction)?;
        if corpus.chars() as u64 != ck.corpus_chars {
            bail!(
                "{}: the corpus has {} characters but the run was trained on {} (resume with the same corpus)",
                path.display(),
                corpus.chars(),
                ck.corpus_chars
            );
        }
        let every = a
            .sample_every
            .unwrap_or(SampleEvery::default_for(ck.config.recipe));
        return Trainer::from_checkpoint(ck, corpus, dir.clone())?
            .with_sample_every(every)
            .run(limits);
    }
    let path = a
        .corpus
        .clone()
        .expect("clap requires --corpus without --resume");
    let keras = a.recipe == Recipe::Keras;
    let pick = |v: Option<f32>, tbptt: f32, k: f32| v.unwrap_or(if keras { k } else { tbptt });
    if !(1..=512).contains(&a.hidden) {
        bail!("--hidden {} is out of range: use 1 to 512", a.hidden);
    }
    if !(1..=2).contains(&a.layers) {
        bail!("--layers {} is out of range: use 1 or 2", a.layers);
    }
    let batch = a.batch.unwrap_or(if keras { 128 } else { 64 });
    let seq_len = a.seq_len.unwrap_or(if keras { 60 } else { 64 });
    if !(0.0..1.0).contains(&a.dropout) {
        bail!(
            "--dropout {} is out of range: use a rate in [0, 1)",
            a.dropout
        );
    }
    let weight_drop = pick(a.weight_drop, 0.25, 0.0);
    if !(0.0..1.0).contains(&weight_drop) {
        bail!("--weight-drop {weight_drop} is out of range: use a rate in [0, 1)");
    }
    let ema = pick(a.ema, 0.999, 0.0);
    if !(0.0..1.0).contains(&ema) {
        bail!("--ema {ema} is out of range: use a decay in [0, 1)");
    }
    if batch == 0 || seq_len == 0 {
        bail!("--batch and --seq-len must be at least 1");
    }
    let shards = a
        .shards
        .unwrap_or_else(rayon::current_num_threads)
        .clamp(1, batch);
    let cfg = TrainConfig {
        recipe: a.recipe,
        corpus: path.clone(),
        lowercase: a.lowercase.unwrap_or(keras),
        val_fraction: a.val_fraction,
        max_vocab: a.max_vocab,
        hidden: a.hidden,
        layers: a.layers,
        seq_len,
        batch,
        lr: pick(a.lr, 8e-3, 1e-2),
        lr_decay: pick(a.lr_decay, 0.99, 1.0),
        lr_decay_after: a.lr_decay_after,
        clip: pick(a.clip, 5.0, 0.0),
        dropout: a.dropout,
        weight_drop,
        ema,
        seed: a.seed,
        shards,
        sample_chars: a.sample_chars,
        temperatures: a.temperatures.clone(),
    };
    for &t in &cfg.temperatures {
        SamplerConfig::temperature(t)
            .validate()
            .map_err(|e| anyhow!("--temperature: {e}"))?;
    }
    let corpus = corpus::load(&path, cfg.lowercase, cfg.val_fraction, cfg.max_vocab)?;
    let out = a.out.clone().unwrap_or_else(|| train::default_out(&path));
    if out.join("checkpoint.bin").exists() {
        bail!(
            "{} already holds a run (continue it with --resume {}, or pick another --out)",
            out.display(),
            out.display()
        );
    }
    let every = a.sample_every.unwrap_or(SampleEvery::default_for(a.recipe));
    Trainer::new(cfg, corpus, out)?
        .with_sample_every(every)
        .run(limits)
}

// ---------------------------------------------------------------------------
// eval

fn read_blob(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "cannot read blob {} (give a model.blob written by charlstm-train)",
            path.display()
        )
    })
}

fn load_model<'a>(path: &Path, bytes: &'a [u8]) -> Result<HostModel<'a>> {
    HostModel::from_bytes(bytes).map_err(|e| {
        anyhow!(
            "{}: {e} (re-run charlstm-train export to write a valid blob)",
            path.display()
        )
    })
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let json = if let Some(path) = &a.checkpoint {
        let ck = Checkpoint::load(path)?;
        let vf = a.val_fraction.unwrap_or(ck.config.val_fraction);
        let corpus =
            corpus::load_with_vocab(&a.corpus, Vocab::from_string(&ck.vocab), ck.lowercase, vf)?;
        let val = eval::val_loss_float(ck.model_params(), &corpus.val)?;
        serde_json::json!({
            "model": "checkpoint",
            "val_loss_nats": val.nats,
            "val_bpc": val.bpc(),
            "val_chars": val.chars,
            "vocab": ck.params.vocab(),
            "hidden": ck.params.hidden(),
            "layers": ck.params.layers.len(),
            "step": ck.step,
            "epoch": ck.best.as_ref().map(|b| b.epoch),
        })
    } else {
        let path = a
            .blob
            .as_ref()
            .expect("clap requires --checkpoint or --blob");
        let bytes = read_blob(path)?;
        let model = load_model(path, &bytes)?;
        let vocab = Vocab::from_string(model.vocab());
        let vf = a.val_fraction.unwrap_or(0.1);
        let corpus = corpus::load_with_vocab(&a.corpus, vocab, model.lowercase(), vf)?;
        let val = eval::val_loss_blob(&model, &corpus.val)?;
        let d = model.dims();
        serde_json::json!({
            "model": "blob",
            "val_loss_nats": val.nats,
            "val_bpc": val.bpc(),
            "val_chars": val.chars,
            "crc": format!("0x{:08x}", model.crc()),
            "vocab": d.vocab,
            "hidden": d.hidden,
            "layers": d.layers,
            "quant": model.quant().name(),
            "blob_bytes": model.blob_len(),
        })
    };
    if a.json {
        println!("{json}");
    } else {
        println!(
            "val loss {:.4} nats/char, {:.4} bits/char over {} characters",
            json["val_loss_nats"].as_f64().unwrap_or(f64::NAN),
            json["val_bpc"].as_f64().unwrap_or(f64::NAN),
            json["val_chars"]
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// export

fn cmd_export(a: ExportArgs) -> Result<()> {
    let ck = Checkpoint::load(&a.checkpoint)?;
    let path = a.corpus.clone().unwrap_or_else(|| ck.config.corpus.clone());
    let corpus = corpus::load_with_vocab(
        &path,
        Vocab::from_string(&ck.vocab),
        ck.lowercase,
        ck.config.val_fraction,
    )
    .with_context(|| "the validation figures need the training corpus (pass it with --corpus)")?;
    let report = export::quantize_and_evaluate(
        ck.model_params(),
        &ck.vocab,
        ck.lowercase,
        &corpus.val,
        |f, q| ck.blob_meta(f, q),
    )?;
    charlstm_files::write_atomic(&a.out, &report.blob)?;
    println!("{:<14} {:>12} {:>12}", "tensor", "max |err|", "mean |err|");
    for e in &report.errors {
        println!(
            "{:<14} {:>12.3e} {:>12.3e}",
            e.name.to_string(),
            e.max_abs,
            e.mean_abs
        );
    }
    println!(
        "val bpc: float {:.4}, int8 {:.4} (gap {:+.4}) over {} characters",
        report.float.bpc(),
        report.quant.bpc(),
        report.quant.bpc() - report.float.bpc(),
        report.float.chars
    );
    println!("wrote {} ({} bytes)", a.out.display(), report.blob.len());
    Ok(())
}

// ---------------------------------------------------------------------------
// sample

fn cmd_sample(a: SampleArgs) -> Result<()> {
    let (bytes, default_prime, path) = if let Some(path) = &a.checkpoint {
        let ck = Checkpoint::load(path)?;
        let meta = ck.blob_meta(f64::NAN, f64::NAN);
        (
            export::encode(
                ck.model_params(),
                &ck.vocab,
                ck.lowercase,
                &meta,
                Quant::F32,
            ),
            ck.prime.clone(),
            path.clone(),
        )
    } else {
        let path = a
            .blob
            .clone()
            .expect("clap requires --checkpoint or --blob");
        (read_blob(&path)?, String::new(), path)
    };
    let model = load_model(&path, &bytes)?;
    let prime = a.prime.unwrap_or(default_prime);
    let samples = eval::samples(&model, &prime, &a.temperatures, a.chars, a.seed)?;
    for (t, s) in samples {
        println!("----- temperature: {t}\n{prime}{s}\n");
    }
    Ok(())
}
