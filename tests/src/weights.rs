//! Plain weights: the tests' own float model (vectors, no ndarray), which the reference LSTM
//! reads and [`to_blob`] encodes through the trainer's exporter.

use charlstm_core::Quant;
use charlstm_trainer::export::{BlobMeta, encode};
use charlstm_trainer::model::{LstmLayer, Params};
use ndarray::{Array1, Array2};

/// A row-major (rows, cols) f32 matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

/// One LSTM layer's weights; gate rows ordered i | f | g | o.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    pub w_ih: Mat,   // (4H, V) layer 0, (4H, H) above
    pub w_hh: Mat,   // (4H, H)
    pub b: Vec<f32>, // 4H
}

/// A whole model's weights as plain vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatWeights {
    pub vocab: String,
    pub lowercase: bool,
    pub hidden: usize,
    pub layers: Vec<LayerWeights>,
    pub w_out: Mat,      // (V, H)
    pub b_out: Vec<f32>, // V
}

impl FloatWeights {
    /// The same weights as the trainer's parameters. Panics if a matrix's data does not hold
    /// rows × cols values.
    pub fn to_params(&self) -> Params<f32> {
        let arr = |m: &Mat| {
            Array2::from_shape_vec((m.rows, m.cols), m.data.clone())
                .expect("a Mat holds rows × cols values")
        };
        Params {
            layers: self
                .layers
                .iter()
                .map(|l| LstmLayer {
                    w_ih: arr(&l.w_ih),
                    w_hh: arr(&l.w_hh),
                    b: Array1::from(l.b.clone()),
                })
                .collect(),
            w_out: arr(&self.w_out),
            b_out: Array1::from(self.b_out.clone()),
        }
    }
}

impl FloatWeights {
    /// The trainer's parameters `p` as plain vectors.
    pub fn from_params(p: &Params<f32>, vocab: &str, lowercase: bool) -> FloatWeights {
        let mat = |a: &Array2<f32>| Mat {
            rows: a.nrows(),
            cols: a.ncols(),
            data: a.iter().copied().collect(),
        };
        FloatWeights {
            vocab: vocab.to_string(),
            lowercase,
            hidden: p.hidden(),
            layers: p
                .layers
                .iter()
                .map(|l| LayerWeights {
                    w_ih: mat(&l.w_ih),
                    w_hh: mat(&l.w_hh),
                    b: l.b.to_vec(),
                })
                .collect(),
            w_out: mat(&p.w_out),
            b_out: p.b_out.to_vec(),
        }
    }
}

/// Encodes `w` as a complete blob with `quant`: the trainer's exporter of the same parameters.
pub fn to_blob(w: &FloatWeights, meta: &BlobMeta, quant: Quant) -> Vec<u8> {
    encode(&w.to_params(), &w.vocab, w.lowercase, meta, quant)
}
