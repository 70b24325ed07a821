//! Throughput figures for the README's "Benchmarks": sgemm GFLOP/s (the machine's
//! ceiling through matrixmultiply, 1 and 2 threads), the recurrent product's shape, a TBPTT
//! training step in chars/s at the default shape (H=128, batch 64, seq 64) and a Keras-recipe
//! step in windows/s (batch 128, window 60).
//!
//! `cargo bench -p charlstm-trainer --bench throughput [-- FILTER]`

use std::hint::black_box;
use std::time::Instant;

use charlstm_trainer::config::Recipe;
use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use rayon::prelude::*;

fn time<F: FnMut()>(mut f: F, min_secs: f64) -> f64 {
    f();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < min_secs {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn sgemm(m: usize, k: usize, n: usize, threads: usize) -> f64 {
    let a = Array2::<f32>::from_elem((m, k), 0.5);
    let b = Array2::<f32>::from_elem((k, n), 0.25);
    let mut cs: Vec<Array2<f32>> = (0..threads)
        .map(|_| Array2::zeros((m / threads, n)))
        .collect();
    let secs = time(
        || {
            cs.par_iter_mut().enumerate().for_each(|(i, c)| {
                let rows = m / threads;
                let a = a.slice(ndarray::s![i * rows..(i + 1) * rows, ..]);
                general_mat_mul(1.0, &a, &b, 0.0, c);
            });
            black_box(&cs);
        },
        1.0,
    );
    2.0 * (m / threads * threads) as f64 * k as f64 * n as f64 / secs / 1e9
}

fn main() {
    let filter = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let run = |name: &str| name.contains(&filter);
    if run("sgemm") {
        for threads in [1, 2] {
            println!(
                "sgemm 1024x1024x1024, {threads} thread(s): {:.1} GFLOP/s",
                sgemm(1024, 1024, 1024, threads)
            );
        }
        for threads in [1, 2] {
            println!(
                "sgemm recurrent shape (64x128)·(128x512), batch split over {threads} thread(s): {:.1} GFLOP/s",
                sgemm(64, 128, 512, threads)
            );
        }
    }
    if run("step") {
        for shards in [1, 2] {
            let cps = train_step(Recipe::Tbptt, shards, Regularize::NONE);
            println!(
                "tbptt train step H=128 V=57 batch 64 seq 64, {shards} shard(s): {cps:.0} chars/s"
            );
        }
        // The recipe's defaults on top (mask draws, masked products, the average's update):
        // their cost against the plain step above.
        let cps = train_step(Recipe::Tbptt, 2, Regularize::TBPTT_DEFAULTS);
        println!(
            "tbptt train step, same shape, 2 shards, --weight-drop 0.25 --ema 0.999: {cps:.0} chars/s"
        );
    }
    if run("keras") {
        for shards in [1, 2] {
            // chars/s counts 60 per window (each window is 60 LSTM steps).
            let wps = train_step(Recipe::Keras, shards, Regularize::NONE) / 60.0;
            println!(
                "keras train step H=128 V=57 batch 128 window 60, {shards} shard(s): {wps:.0} windows/s"
            );
        }
    }
}

/// The regularizers a benchmarked step runs with.
#[derive(Debug, Clone, Copy)]
struct Regularize {
    weight_drop: f32,
    ema: f32,
}

impl Regularize {
    const NONE: Self = Regularize {
        weight_drop: 0.0,
        ema: 0.0,
    };
    const TBPTT_DEFAULTS: Self = Regularize {
        weight_drop: 0.25,
        ema: 0.999,
    };
}

/// chars/s (LSTM steps × rows per second) of training steps on a synthetic 57-character
/// corpus at the recipe's default shape: tbptt batch 64 seq 64, keras batch 128 window 60.
fn train_step(recipe: Recipe, shards: usize, reg: Regularize) -> f64 {
    use charlstm_trainer::config::TrainConfig;
    use charlstm_trainer::corpus::{Corpus, Vocab};
    use charlstm_trainer::train::Trainer;
    let (batch, seq_len, lr) = match recipe {
        Recipe::Tbptt => (64, 64, 2e-3),
        Recipe::Keras => (128, 60, 1e-2),
    };
    let vocab: String = (0..57u8).map(|i| (b' ' + i) as char).collect();
    let mut x = 12345u32;
    let tokens: Vec<u16> = (0..600_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 57) as u16
        })
        .collect();
    let corpus = Corpus {
        name: "synthetic".into(),
        vocab: Vocab::from_string(&vocab),
        lowercase: false,
        train: tokens[..540_000].to_vec(),
        val: tokens[540_000..].to_vec(),
    };
    let cfg = TrainConfig {
        recipe,
        corpus: "synthetic".into(),
        lowercase: false,
        val_fraction: 0.1,
        max_vocab: 256,
        hidden: 128,
        layers: 1,
        seq_len,
        batch,
        lr,
        lr_decay: 0.97,
        lr_decay_after: 10,
        clip: 5.0,
        dropout: 0.0,
        weight_drop: reg.weight_drop,
        ema: reg.ema,
        seed: 1,
        shards,
        sample_chars: 0,
        temperatures: vec![],
    };
    let mut t = Trainer::new(cfg, corpus, std::env::temp_dir()).expect("a valid setup");
    t.begin_epoch();
    let cpu0 = cpu_secs();
    let mut steps = 0u64;
    let secs = time(
        || {
            black_box(t.train_step(lr).expect("finite"));
            steps += 1;
        },
        3.0,
    );
    let cpu = cpu_secs() - cpu0;
    let chars = (batch * seq_len) as f64;
    println!(
        "    ({:.0} per CPU-second: the figure that does not depend on other processes)",
        steps as f64 * chars / cpu / if recipe == Recipe::Keras { 60.0 } else { 1.0 }
    );
    chars / secs
}

/// User + system CPU seconds of this process (Linux /proc; 0 elsewhere).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
