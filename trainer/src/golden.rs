//! Golden vectors shared by the trainer and charlstm-core (`charlstm-train golden --out
//! tests/golden`): a tiny 2-layer model trained on a synthetic text, written as an int8 and a
//! float blob, plus what the trainer's own forward pass (ndarray, f64) expects core to compute.
//! core/tests/golden.rs holds core's log-probabilities to them, and
//! tests/tests/golden_sampling.rs core's sampled ids to an independent f64 sampler fed these
//! log-probabilities. The tolerances are fixed in tests/src/golden.rs, from error bounds; the
//! file records nothing core computed, so a core bug cannot be written into it.
//!
//! `tiny.json` is [`Golden`] through serde_json: every field is named there.

use std::path::Path;

use anyhow::{Result, anyhow};
use charlstm_core::blob::{Description, Header, LayerRecord, OutputRecord, TensorRecord};
use charlstm_core::{Generator, Quant, SamplerConfig};
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::config::{Limits, Recipe, TrainConfig};
use crate::corpus::{Corpus, Vocab};
use crate::eval::HostModel;
use crate::export::{BlobMeta, encode};
use crate::model::{LstmLayer, Params};
use crate::network::{Predict, State, Workspace, forward};
use crate::train::Trainer;
use charlstm_files::write_atomic;

/// The prime text fed to both sides.
pub const PRIME: &str = "the cat sat on the mat. the dog";

/// `tiny.json`.
#[derive(Debug, Serialize)]
pub struct Golden {
    /// What the file is and who writes it.
    pub about: String,
    /// The text fed to both sides, from the zero state.
    pub prime: String,
    /// The model's vocabulary, in id order.
    pub vocab: String,
    /// One entry per prime character: the trainer's log-softmax after feeding it.
    pub steps: Vec<Step>,
}

/// The trainer's prediction after feeding `prime[..=index]`.
#[derive(Debug, Serialize)]
pub struct Step {
    /// Position of the fed character in the prime (in characters).
    pub index: usize,
    /// The character fed at this step.
    pub fed: char,
    /// Log-softmax over the vocabulary (V values, id order), f64 forward.
    pub logp: Vec<f64>,
}

/// `x` rounded to `decimals` decimals, as the value of that decimal text.
fn rounded(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}")
        .parse()
        .expect("a formatted f64 parses")
}

/// Writes tiny-i8.blob, tiny-f32.blob and tiny.json into `dir`. The weights are those of
/// `dir/tiny-f32.blob` when it exists (a float blob holds the f32 weights exactly), so a
/// change to the trainer's training code leaves the goldens alone; with
/// `CHARLSTM_GOLDEN_RETRAIN=1`, or without that file, the tiny model is trained again.
pub fn write(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
    let stored = dir.join("tiny-f32.blob");
    let retrain = std::env::var_os("CHARLSTM_GOLDEN_RETRAIN").is_some_and(|v| v == "1");
    let model = if stored.exists() && !retrain {
        let bytes =
            std::fs::read(&stored).map_err(|e| anyhow!("cannot read {}: {e}", stored.display()))?;
        float_blob_of(&bytes).map_err(|e| anyhow!("{}: {e}", stored.display()))?
    } else {
        train()?
    };
    let vocab = Vocab::from_string(&model.vocab);
    let blob = |quant| {
        encode(
            &model.params,
            &model.vocab,
            model.lowercase,
            &model.meta,
            quant,
        )
    };
    let blobs = [("f32", blob(Quant::F32)), ("i8", blob(Quant::I8RowScaled))];
    let params = &model.params;

    // Expected log-probabilities: the trainer's forward in f64 over the prime.
    let p64 = params.cast::<f64>();
    let hidden = params.hidden();
    let prime: Vec<u16> = PRIME
        .chars()
        .map(|c| vocab.id(c).expect("prime chars are in the vocabulary"))
        .collect();
    let mut ws = Workspace::new(&p64, prime.len(), 1, Predict::All);
    let mut state = State::zeros(params.layers.len(), 1, hidden);
    forward(&p64, &mut ws, &mut state, &prime, &prime, Predict::All);
    let logp: Vec<Vec<f64>> = ws
        .probs()
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|p| p.ln()).collect())
        .collect();

    let mut worst = [0.0f64; 2];
    for (k, (name, blob)) in blobs.iter().enumerate() {
        let model = HostModel::from_bytes(blob).map_err(|e| anyhow!("golden blob: {e}"))?;
        let mut g = Generator::new(&model, SamplerConfig::temperature(1.0), 0)
            .map_err(|e| anyhow!("{e}"))?;
        for (t, &id) in prime.iter().enumerate() {
            g.step(model.token_from_id(id as usize).expect("in range"));
            let z = g.logits();
            let lse = crate::eval::nll(&z, 0) + z[0] as f64; // logsumexp
            for (v, &zv) in z.iter().enumerate() {
                worst[k] = worst[k].max((zv as f64 - lse - logp[t][v]).abs());
            }
        }
        write_atomic(&dir.join(format!("tiny-{name}.blob")), blob)?;
    }
    if worst[0] > 1e-4 {
        return Err(anyhow!(
            "the float blob disagrees with the trainer by {:e}",
            worst[0]
        ));
    }
    let golden = Golden {
        about: "charlstm golden vectors, written by `charlstm-train golden` \
                (trainer/src/golden.rs documents every field)"
            .into(),
        prime: PRIME.into(),
        vocab: vocab.as_string(),
        steps: logp
            .iter()
            .zip(PRIME.chars())
            .enumerate()
            .map(|(index, (row, fed))| Step {
                index,
                fed,
                // 7 decimals: far below any tolerance, and the file stays readable.
                logp: row.iter().map(|&v| rounded(v, 7)).collect(),
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&golden)?;
    json.push('\n');
    write_atomic(&dir.join("tiny.json"), json.as_bytes())?;
    println!(
        "wrote {}/tiny-f32.blob, tiny-i8.blob, tiny.json (max |Δ log p|: f32 {:.2e}, int8 {:.2e})",
        dir.display(),
        worst[0],
        worst[1]
    );
    Ok(())
}

/// A float blob's contents: the parameters, the vocabulary and the metadata.
#[derive(Debug, Clone)]
pub struct FloatBlob {
    /// The weights, exactly as stored.
    pub params: Params<f32>,
    /// The characters in id order.
    pub vocab: String,
    /// Whether the corpus was lowercased.
    pub lowercase: bool,
    /// The blob's metadata.
    pub meta: BlobMeta,
}

/// Trains the tiny model on a synthetic text: its parameters and blob metadata.
fn train() -> Result<FloatBlob> {
    let sentences = [
        "the cat sat on the mat. ",
        "the dog ate the hat. ",
        "a cat and a dog. ",
    ];
    let mut text = String::new();
    let mut x = 12345u32;
    while text.len() < 20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        text += sentences[(x % 3) as usize];
    }
    let vocab = Vocab::from_text(&text);
    let ids: Vec<u16> = text
        .chars()
        .map(|c| vocab.id(c).expect("own char"))
        .collect();
    let split = ids.len() * 9 / 10;
    let corpus = Corpus {
        name: "golden-synthetic".into(),
        vocab: vocab.clone(),
        lowercase: false,
        train: ids[..split].to_vec(),
        val: ids[split..].to_vec(),
    };
    let cfg = TrainConfig {
        recipe: Recipe::Tbptt,
        corpus: "golden-synthetic".into(),
        lowercase: false,
        val_fraction: 0.1,
        max_vocab: 256,
        hidden: 8,
        layers: 2,
        seq_len: 16,
        batch: 8,
        lr: 1e-2,
        lr_decay: 1.0,
        lr_decay_after: 0,
        clip: 5.0,
        dropout: 0.0,
        weight_drop: 0.0,
        ema: 0.0,
        seed: 3,
        shards: 1,
        sample_chars: 0,
        temperatures: vec![],
    };
    let scratch = tempfile_dir()?;
    let mut trainer = Trainer::new(cfg, corpus, scratch.clone())?;
    trainer.run(Limits {
        epochs: 2,
        max_steps: None,
        time_limit: None,
        verbose: false,
    })?;
    let _ = std::fs::remove_dir_all(&scratch);
    let meta = BlobMeta {
        recipe: "golden vectors (charlstm-train golden)".into(),
        corpus_name: "golden-synthetic".into(),
        corpus_chars: text.chars().count() as u64,
        val_bpc_float: f32::NAN,
        val_bpc_quant: f32::NAN,
    };
    Ok(FloatBlob {
        params: trainer.ck.params,
        vocab: vocab.as_string(),
        lowercase: false,
        meta,
    })
}

/// The weights and metadata of a float blob (spec §1: the records in wire order, then the
/// CRC), after core has validated it.
pub fn float_blob_of(bytes: &[u8]) -> Result<FloatBlob> {
    let model = HostModel::from_bytes(bytes).map_err(|e| anyhow!("{e}"))?;
    if model.quant() != Quant::F32 {
        return Err(anyhow!("not a float blob"));
    }
    let body = &bytes[..bytes.len() - 4];
    let bad = |e: postcard::Error| anyhow!("{e}");
    let (_, rest) = postcard::take_from_bytes::<Header>(body).map_err(bad)?;
    let (desc, mut rest) = postcard::take_from_bytes::<Description>(rest).map_err(bad)?;
    let floats = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let mat = |t: &TensorRecord| {
        Array2::from_shape_vec((t.rows as usize, t.cols as usize), floats(t.data))
            .map_err(|e| anyhow!("{e}"))
    };
    let mut layers = Vec::new();
    for _ in 0..desc.dims.layers {
        let (rec, next) = postcard::take_from_bytes::<LayerRecord>(rest).map_err(bad)?;
        rest = next;
        layers.push(LstmLayer {
            w_ih: mat(&rec.w_ih)?,
            w_hh: mat(&rec.w_hh)?,
            b: Array1::from(floats(rec.bias)),
        });
    }
    let (out, _) = postcard::take_from_bytes::<OutputRecord>(rest).map_err(bad)?;
    let params = Params {
        layers,
        w_out: mat(&out.w)?,
        b_out: Array1::from(floats(out.bias)),
    };
    let meta = BlobMeta {
        recipe: desc.meta.recipe.to_string(),
        corpus_name: desc.meta.corpus_name.to_string(),
        corpus_chars: desc.meta.corpus_chars,
        val_bpc_float: desc.meta.val_bpc_float,
        val_bpc_quant: desc.meta.val_bpc_quant,
    };
    Ok(FloatBlob {
        params,
        vocab: desc.vocab.to_string(),
        lowercase: desc.lowercase,
        meta,
    })
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("charlstm-golden-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| anyhow!("cannot create {}: {e}", d.display()))?;
    Ok(d)
}
