//! Generation speed: one LSTM step + one sample per character, H = 128, V = 57, L = 1, on
//! one thread. Baselines in the same run: the float path, and the classic recipe's way of
//! generating (re-run a 60-character window from the zero state for every character).
//! `cargo bench -p charlstm-core`; criterion prints chars/s (elements/s).

use std::hint::black_box;

use charlstm_core::blob::{
    Description, Dims, LayerRecord, Meta, OutputRecord, TensorRecord, encode,
};
use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

const V: usize = 57;
const H: usize = 128;
const VOCAB: &str = "\n !\"'(),-.0123456789:;=?[]_abcdefghijklmnopqrstuvwxyzäæéë";

/// A blob of random weights with the Nietzsche model's shape.
fn blob(quant: Quant) -> Vec<u8> {
    let mut rng = XorShiftRng::seed_from_u64(1);
    let mut values = |rows: usize, cols: usize| -> (Vec<u8>, Vec<u8>) {
        let n = rows * cols;
        match quant {
            Quant::I8RowScaled => {
                let q = (0..n).map(|_| (rng.next_u32() % 255) as u8).collect();
                let s = (0..rows)
                    .flat_map(|_| (0.3f32 / 127.0).to_le_bytes())
                    .collect();
                (q, s)
            }
            Quant::F32 => {
                let w = (0..n)
                    .flat_map(|_| {
                        ((rng.next_u32() % 1000) as f32 / 1000.0 * 0.6 - 0.3).to_le_bytes()
                    })
                    .collect();
                (w, vec![])
            }
        }
    };
    let (ih, ih_s) = values(4 * H, V);
    let (hh, hh_s) = values(4 * H, H);
    let (out, out_s) = values(V, H);
    let t = |rows, cols, data, scales| TensorRecord {
        quant,
        rows,
        cols,
        data,
        scales,
    };
    let bias = vec![0u8; 4 * 4 * H];
    let out_bias = vec![0u8; 4 * V];
    let desc = Description {
        dims: Dims {
            vocab: V as u32,
            hidden: H as u32,
            layers: 1,
        },
        lowercase: true,
        vocab: VOCAB,
        meta: Meta {
            tool_version: "bench",
            recipe: "random",
            corpus_name: "",
            corpus_chars: 0,
            val_bpc_float: f32::NAN,
            val_bpc_quant: f32::NAN,
        },
    };
    let layer = LayerRecord {
        w_ih: t(4 * H as u32, V as u32, &ih, &ih_s),
        w_hh: t(4 * H as u32, H as u32, &hh, &hh_s),
        bias: &bias,
    };
    let output = OutputRecord {
        w: t(V as u32, H as u32, &out, &out_s),
        bias: &out_bias,
    };
    let mut buf = vec![0u8; 1 << 20];
    encode(&desc, &[layer], &output, &mut buf).unwrap().to_vec()
}

fn generation(c: &mut Criterion) {
    let (q, f) = (blob(Quant::I8RowScaled), blob(Quant::F32));
    let int8 = Model::<128, 64, 1>::from_bytes(&q).unwrap();
    let float = Model::<128, 64, 1>::from_bytes(&f).unwrap();
    let mut group = c.benchmark_group("generate H=128 V=57 L=1");
    group.throughput(Throughput::Elements(1));
    for (name, model) in [
        ("int8 stateful step+sample", &int8),
        ("f32 stateful step+sample", &float),
    ] {
        let mut g = Generator::new(model, SamplerConfig::temperature(0.5), 1).unwrap();
        g.prime("the ", OnUnknown::Error).unwrap();
        group.bench_function(name, |b| b.iter(|| black_box(g.next_char())));
    }
    // The classic recipe: each char re-runs the last 60 chars from the zero state.
    let mut g = Generator::new(&int8, SamplerConfig::temperature(0.5), 1).unwrap();
    let window: String = "the meaning of life is what you make of it, said nietzsche "
        .chars()
        .take(60)
        .collect();
    group.bench_function("int8 60-char window re-run (classic)", |b| {
        b.iter(|| {
            g.reset();
            g.prime(&window, OnUnknown::Error).unwrap();
            black_box(g.next_char())
        })
    });
    group.finish();
}

criterion_group!(benches, generation);
criterion_main!(benches);
