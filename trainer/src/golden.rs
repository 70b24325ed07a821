//! Golden vectors shared by the trainer and charlstm-core (`charlstm-train golden --out
//! tests/golden`): a tiny 2-layer model trained on a synthetic text, written as an int8 and a
//! float blob, plus what the trainer's own forward pass (ndarray, f64) expects core to compute
//! and the ids core's sampler drew when the files were written. core/tests/golden.rs reads
//! them: log-probabilities within a tolerance, sampled ids exactly.
//!
//! `tiny.txt` format, one record per line, fields separated by single spaces:
//! `prime TEXT` (the rest of the line), `tol f32|i8 X` (max |Δ log p| allowed),
//! `logp STEP p_0 .. p_{V-1}` (log-softmax after feeding prime[..=STEP], from the zero state),
//! `sample f32|i8 TEMPERATURE SEED id id ..` (ids drawn after priming with the whole prime).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use charlstm_core::{Generator, OnUnknown, Quant, SamplerConfig};

use crate::checkpoint::write_atomic;
use crate::corpus::{Corpus, Vocab};
use crate::eval::HostModel;
use crate::export::{BlobMeta, to_blob};
use crate::layers::{Predict, State, Workspace, forward};
use crate::train::{Limits, Recipe, TrainConfig, Trainer};

/// The prime text fed to both sides.
pub const PRIME: &str = "the cat sat on the mat. the dog";
/// Sampling settings recorded in the file.
const TEMPERATURE: f32 = 0.8;
const SEED: u64 = 7;
const SAMPLE_IDS: usize = 48;

/// Trains the tiny model and writes tiny-i8.blob, tiny-f32.blob and tiny.txt into `dir`.
pub fn write(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
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
    let params = &trainer.ck.params;
    let meta = BlobMeta {
        recipe: "golden vectors (charlstm-train golden)".into(),
        corpus_name: "golden-synthetic".into(),
        corpus_chars: text.chars().count() as u64,
        val_bpc_float: f32::NAN,
        val_bpc_quant: f32::NAN,
    };
    let w = params.to_float_weights(&vocab.as_string(), false);
    let blobs = [
        ("f32", to_blob(&w, &meta, Quant::F32)),
        ("i8", to_blob(&w, &meta, Quant::I8RowScaled)),
    ];

    // Expected log-probabilities: the trainer's forward in f64 over the prime.
    let p64 = params.cast::<f64>();
    let prime: Vec<u16> = PRIME
        .chars()
        .map(|c| vocab.id(c).expect("prime chars are in the vocabulary"))
        .collect();
    let mut ws = Workspace::new(&p64, prime.len(), 1, Predict::All);
    let mut state = State::zeros(2, 1, 8);
    forward(&p64, &mut ws, &mut state, &prime, &prime, Predict::All);
    let logp: Vec<Vec<f64>> = ws
        .probs()
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|p| p.ln()).collect())
        .collect();

    let mut out = String::from(
        "# charlstm golden vectors: written by `charlstm-train golden`; format in trainer/src/golden.rs\n",
    );
    writeln!(out, "prime {PRIME}")?;
    let mut worst = [0.0f64; 2];
    let mut samples = String::new();
    for (k, (name, blob)) in blobs.iter().enumerate() {
        let model = HostModel::from_bytes(blob).map_err(|e| anyhow!("golden blob: {e}"))?;
        let mut g = Generator::new(&model, SamplerConfig::temperature(1.0), 0)
            .map_err(|e| anyhow!("{e}"))?;
        for (t, &id) in prime.iter().enumerate() {
            g.step(model.token_from_id(id as usize).expect("in range"));
            let z = g.logits();
            let lse = crate::eval::nll(z, 0) + z[0] as f64; // logsumexp
            for (v, &zv) in z.iter().enumerate() {
                worst[k] = worst[k].max((zv as f64 - lse - logp[t][v]).abs());
            }
        }
        let mut g = Generator::new(&model, SamplerConfig::temperature(TEMPERATURE), SEED)
            .map_err(|e| anyhow!("{e}"))?;
        g.prime(PRIME, OnUnknown::Error)
            .map_err(|e| anyhow!("{e}"))?;
        let ids: Vec<String> = (0..SAMPLE_IDS)
            .map(|_| g.next_token().id().to_string())
            .collect();
        writeln!(
            samples,
            "sample {name} {TEMPERATURE} {SEED} {}",
            ids.join(" ")
        )?;
        write_atomic(&dir.join(format!("tiny-{name}.blob")), blob)?;
    }
    // Tolerances: 1e-4 for the float path (f32 vs f64 rounding), and for int8 twice the error
    // measured when the files were written, at least 0.02.
    writeln!(out, "tol f32 1e-4")?;
    writeln!(out, "tol i8 {:.4}", (2.0 * worst[1]).max(0.02))?;
    if worst[0] > 1e-4 {
        return Err(anyhow!(
            "the float blob disagrees with the trainer by {:e}",
            worst[0]
        ));
    }
    for (t, row) in logp.iter().enumerate() {
        let vals: Vec<String> = row.iter().map(|v| format!("{v:.7}")).collect();
        writeln!(out, "logp {t} {}", vals.join(" "))?;
    }
    out += &samples;
    write_atomic(&dir.join("tiny.txt"), out.as_bytes())?;
    println!(
        "wrote {}/tiny-f32.blob, tiny-i8.blob, tiny.txt (max |Δ log p|: f32 {:.2e}, int8 {:.2e})",
        dir.display(),
        worst[0],
        worst[1]
    );
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("charlstm-golden-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| anyhow!("cannot create {}: {e}", d.display()))?;
    Ok(d)
}
