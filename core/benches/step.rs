//! Generation speed: one LSTM step + one sample per character, H = 128, V = 57, L = 1, on
//! one thread. Baselines in the same run: the float path, and the classic recipe's way of
//! generating (re-run a 60-character window from the zero state for every character).
//! `cargo bench -p charlstm-core`; criterion prints chars/s (elements/s).

use std::hint::black_box;

use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use charlstm_tests::{NIETZSCHE_VOCAB, random_blob};

/// A blob of random weights with the bundled model's shape (H = 128, V = 57, L = 1).
fn blob(quant: Quant) -> Vec<u8> {
    random_blob(NIETZSCHE_VOCAB, 128, 1, 1, quant)
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
