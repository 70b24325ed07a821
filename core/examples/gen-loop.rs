//! Generates N characters from a random H=128, V=57, L=1 int8 blob, printing nothing: a
//! fixed workload for `perf stat` (instruction and cycle counts), next to the criterion bench.
//! `cargo run --release -p charlstm-core --example gen-loop -- [N] [f32]`

use charlstm_core::blob::{
    Description, Dims, LayerRecord, Meta, OutputRecord, TensorRecord, encode,
};
use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
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
