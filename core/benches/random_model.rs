//! A random-weights blob with the bundled Nietzsche model's shape (H = 128, V = 57, L = 1),
//! shared by the generation bench and the gen-loop example.

use charlstm_core::Quant;
use charlstm_core::blob::{
    Description, Dims, LayerRecord, Meta, OutputRecord, TensorRecord, encode,
};
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

pub const V: usize = 57;
pub const H: usize = 128;
pub const VOCAB: &str = "\n !\"'(),-.0123456789:;=?[]_abcdefghijklmnopqrstuvwxyzäæéë";

/// A blob of random weights with the Nietzsche model's shape.
pub fn blob(quant: Quant) -> Vec<u8> {
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
