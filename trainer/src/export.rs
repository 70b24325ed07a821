//! Export: quantize the trainer's parameters and write them as a charlstm blob (spec in
//! docs/blob-format.md). The wire order and the quantization math live in charlstm-core;
//! this module only lays the parameters out as core's records (their layouts are already
//! core's: row-major, gate rows i | f | g | o).

use charlstm_core::TensorName;
use charlstm_core::blob::{
    self, Description, Dims, LayerRecord, Meta, OutputRecord, Quant, TensorRecord,
};
use charlstm_core::quant::quantize_row;
use ndarray::Array2;

use crate::corpus::Tok;
use crate::eval::{self, HostModel, ValLoss};
use crate::model::Params;

/// Metadata written into the blob.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobMeta {
    pub recipe: String,
    pub corpus_name: String,
    pub corpus_chars: u64,
    pub val_bpc_float: f32,
    pub val_bpc_quant: f32,
}

/// A tensor's bytes as stored in the blob: values plus per-row scales.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    pub data: Vec<u8>,
    pub scales: Vec<u8>,
}

impl StoredTensor {
    /// Stores the row-major (rows, `cols`) matrix `values` with `quant` (int8: symmetric, one
    /// scale per row, round to nearest).
    pub fn from_rows(values: &[f32], cols: usize, quant: Quant) -> Self {
        match quant {
            Quant::F32 => StoredTensor {
                data: f32_bytes(values),
                scales: Vec::new(),
            },
            Quant::I8RowScaled => {
                let mut q = vec![0i8; cols];
                let mut data = Vec::with_capacity(values.len());
                let mut scales = Vec::with_capacity(values.len() / cols.max(1));
                for row in values.chunks_exact(cols.max(1)) {
                    scales.push(quantize_row(row, &mut q));
                    data.extend(q.iter().map(|&q| q as u8));
                }
                StoredTensor {
                    data,
                    scales: f32_bytes(&scales),
                }
            }
        }
    }

    /// The values the device will use, dequantized (for reporting the quantization error):
    /// `values` (what was stored, `cols` per row) as they come back.
    pub fn dequantized(&self, values: &[f32], cols: usize, quant: Quant) -> Vec<f32> {
        match quant {
            Quant::F32 => values.to_vec(),
            Quant::I8RowScaled => self.dequantized_i8(cols),
        }
    }

    /// The int8 values times their row's scale; `cols` per row.
    fn dequantized_i8(&self, cols: usize) -> Vec<f32> {
        self.data
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                let s = charlstm_core::quant::read_f32(&self.scales, i / cols.max(1));
                q as i8 as f32 * s
            })
            .collect()
    }

    fn record(&self, rows: usize, cols: usize, quant: Quant) -> TensorRecord<'_> {
        TensorRecord {
            quant,
            rows: rows as u32,
            cols: cols as u32,
            data: &self.data,
            scales: &self.scales,
        }
    }
}

/// f32 values as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A matrix's values, row-major (parameters are in standard layout).
fn values(a: &Array2<f32>) -> &[f32] {
    a.as_slice().expect("parameters are in standard layout")
}

/// Stores matrix `a` with `quant`.
fn stored(a: &Array2<f32>, quant: Quant) -> StoredTensor {
    StoredTensor::from_rows(values(a), a.ncols(), quant)
}

/// Encodes `p` (with its vocabulary, the characters in id order) as a complete blob with
/// `quant`.
pub fn encode(
    p: &Params<f32>,
    vocab: &str,
    lowercase: bool,
    meta: &BlobMeta,
    quant: Quant,
) -> Vec<u8> {
    let tool_version = concat!("charlstm-train ", env!("CARGO_PKG_VERSION"));
    let desc = Description {
        dims: Dims {
            vocab: vocab.chars().count() as u32,
            hidden: p.hidden() as u32,
            layers: p.layers.len() as u32,
        },
        lowercase,
        vocab,
        meta: Meta {
            tool_version,
            recipe: &meta.recipe,
            corpus_name: &meta.corpus_name,
            corpus_chars: meta.corpus_chars,
            val_bpc_float: meta.val_bpc_float,
            val_bpc_quant: meta.val_bpc_quant,
        },
    };
    let tensors: Vec<_> = p
        .layers
        .iter()
        .map(|l| {
            let b = l.b.as_slice().expect("parameters are in standard layout");
            (stored(&l.w_ih, quant), stored(&l.w_hh, quant), f32_bytes(b))
        })
        .collect();
    let layers: Vec<LayerRecord<'_>> = p
        .layers
        .iter()
        .zip(&tensors)
        .map(|(l, (ih, hh, b))| LayerRecord {
            w_ih: ih.record(l.w_ih.nrows(), l.w_ih.ncols(), quant),
            w_hh: hh.record(l.w_hh.nrows(), l.w_hh.ncols(), quant),
            bias: b,
        })
        .collect();
    let out_w = stored(&p.w_out, quant);
    let out_b = f32_bytes(p.b_out.as_slice().expect("standard layout"));
    let output = OutputRecord {
        w: out_w.record(p.w_out.nrows(), p.w_out.ncols(), quant),
        bias: &out_b,
    };
    let mut buf = vec![0u8; blob::encoded_len_bound(&desc, &layers, &output)];
    let len = blob::encode(&desc, &layers, &output, &mut buf)
        .expect("encoded_len_bound is an upper bound")
        .len();
    buf.truncate(len);
    buf
}

// ---------------------------------------------------------------------------
// Quantization report: the int8 blob, float vs int8 validation loss, weight errors

/// Quantization error of one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorError {
    /// As charlstm-core names it (displayed as e.g. `layer 0 w_hh`).
    pub name: TensorName,
    pub max_abs: f32,
    pub mean_abs: f32,
}

/// Max and mean |w − dequantized(quantized(w))| of every matrix (biases stay f32).
pub fn tensor_errors(p: &Params<f32>) -> Vec<TensorError> {
    let mut mats: Vec<(TensorName, &Array2<f32>)> = Vec::new();
    for (l, layer) in p.layers.iter().enumerate() {
        mats.push((TensorName::InputGates(l as u8), &layer.w_ih));
        mats.push((TensorName::HiddenGates(l as u8), &layer.w_hh));
    }
    mats.push((TensorName::Output, &p.w_out));
    mats.into_iter()
        .map(|(name, m)| {
            let q = stored(m, Quant::I8RowScaled).dequantized_i8(m.ncols());
            let errs = values(m).iter().zip(&q).map(|(a, b)| (a - b).abs());
            let (max, sum) = errs.fold((0.0f32, 0.0f64), |(m, s), e| (m.max(e), s + e as f64));
            TensorError {
                name,
                max_abs: max,
                mean_abs: (sum / m.len().max(1) as f64) as f32,
            }
        })
        .collect()
}

/// The result of [`quantize_and_evaluate`].
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The int8 blob, with both validation figures in its metadata.
    pub blob: Vec<u8>,
    /// Float model (ndarray forward).
    pub float: ValLoss,
    /// int8 model (charlstm-core).
    pub quant: ValLoss,
    pub errors: Vec<TensorError>,
}

/// Quantizes `params` to an int8 blob, measures float and int8 validation loss on `val`
/// (same definition, see `eval`) and stores both in the blob's metadata via `meta(float_bpc,
/// quant_bpc)`.
pub fn quantize_and_evaluate(
    params: &Params<f32>,
    vocab: &str,
    lowercase: bool,
    val: &[Tok],
    meta: impl Fn(f64, f64) -> BlobMeta,
) -> anyhow::Result<ExportReport> {
    let float = eval::val_loss_float(params, val)?;
    let int8 = |m: &BlobMeta| encode(params, vocab, lowercase, m, Quant::I8RowScaled);
    // The metadata does not change the weights, so the first encoding measures the int8 model.
    let probe = int8(&meta(float.bpc(), f64::NAN));
    let model = HostModel::from_bytes(&probe)
        .map_err(|e| anyhow::anyhow!("the quantized model does not load in charlstm-core: {e}"))?;
    let quant = eval::val_loss_blob(&model, val)?;
    Ok(ExportReport {
        blob: int8(&meta(float.bpc(), quant.bpc())),
        float,
        quant,
        errors: tensor_errors(params),
    })
}
