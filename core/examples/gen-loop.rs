//! Generates N characters from a random H=128, V=57, L=1 int8 blob, printing nothing: a
//! fixed workload for `perf stat` (instruction and cycle counts), next to the criterion bench.
//! `cargo run --release -p charlstm-core --example gen-loop -- [N] [f32]`

use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};

use charlstm_tests::{NIETZSCHE_VOCAB, random_blob};

/// A blob of random weights with the bundled model's shape (H = 128, V = 57, L = 1).
fn blob(quant: Quant) -> Vec<u8> {
    random_blob(NIETZSCHE_VOCAB, 128, 1, 1, quant)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let quant = if args.get(2).map(String::as_str) == Some("f32") {
        Quant::F32
    } else {
        Quant::I8RowScaled
    };
    let bytes = blob(quant);
    let model = Model::<128, 64, 1>::from_bytes(&bytes).unwrap();
    let mut g = Generator::new(&model, SamplerConfig::temperature(0.5), 1).unwrap();
    g.prime("the ", OnUnknown::Error).unwrap();
    let start = std::time::Instant::now();
    let mut check = 0u32;
    for ch in g.chars(n) {
        check = check.wrapping_mul(31).wrapping_add(ch as u32);
    }
    let s = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} chars in {s:.3} s: {:.0} chars/s (checksum {check:08x})",
        n as f64 / s
    );
}
