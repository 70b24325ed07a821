//! Export: quantize float weights and write them as a charlstm blob (spec in
//! docs/blob-format.md). The wire order and the quantization math live in charlstm-core;
//! this module only lays the trainer's weights out as core's records.

use charlstm_core::blob::{
    self, Description, Dims, LayerRecord, Meta, OutputRecord, Quant, TensorRecord,
};
use charlstm_core::quant::quantize_row;

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

/// A whole model's float weights, the exporter's input.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatWeights {
    pub vocab: String,
    pub lowercase: bool,
    pub hidden: usize,
    pub layers: Vec<LayerWeights>,
    pub w_out: Mat,      // (V, H)
    pub b_out: Vec<f32>, // V
}

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
    /// Stores `m` with `quant` (int8: symmetric, one scale per row, round to nearest).
    pub fn new(m: &Mat, quant: Quant) -> Self {
        match quant {
            Quant::F32 => StoredTensor {
                data: f32_bytes(&m.data),
                scales: Vec::new(),
            },
            Quant::I8RowScaled => {
                let mut q = vec![0i8; m.cols];
                let mut data = Vec::with_capacity(m.rows * m.cols);
                let mut scales = Vec::with_capacity(m.rows);
                for row in m.data.chunks_exact(m.cols.max(1)) {
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

    /// The values the device will use, dequantized (for reporting the quantization error).
    pub fn dequantized(&self, m: &Mat, quant: Quant) -> Vec<f32> {
        match quant {
            Quant::F32 => m.data.clone(),
            Quant::I8RowScaled => self
                .data
                .iter()
                .enumerate()
                .map(|(i, &q)| {
                    let s = charlstm_core::quant::read_f32(&self.scales, i / m.cols.max(1));
                    q as i8 as f32 * s
                })
                .collect(),
        }
    }

    fn record(&self, m: &Mat, quant: Quant) -> TensorRecord<'_> {
        TensorRecord {
            quant,
            rows: m.rows as u32,
            cols: m.cols as u32,
            data: &self.data,
            scales: &self.scales,
        }
    }
}

/// f32 values as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Encodes `w` as a complete blob with `quant`.
pub fn to_blob(w: &FloatWeights, meta: &BlobMeta, quant: Quant) -> Vec<u8> {
    let tool_version = concat!("charlstm-train ", env!("CARGO_PKG_VERSION"));
    let desc = Description {
        dims: Dims {
            vocab: w.vocab.chars().count() as u32,
            hidden: w.hidden as u32,
            layers: w.layers.len() as u32,
        },
        lowercase: w.lowercase,
        vocab: &w.vocab,
        meta: Meta {
            tool_version,
            recipe: &meta.recipe,
            corpus_name: &meta.corpus_name,
            corpus_chars: meta.corpus_chars,
            val_bpc_float: meta.val_bpc_float,
            val_bpc_quant: meta.val_bpc_quant,
        },
    };
    let stored: Vec<_> = w
        .layers
        .iter()
        .map(|l| {
            (
                StoredTensor::new(&l.w_ih, quant),
                StoredTensor::new(&l.w_hh, quant),
                f32_bytes(&l.b),
            )
        })
        .collect();
    let layers: Vec<LayerRecord<'_>> = w
        .layers
        .iter()
        .zip(&stored)
        .map(|(l, (ih, hh, b))| LayerRecord {
            w_ih: ih.record(&l.w_ih, quant),
            w_hh: hh.record(&l.w_hh, quant),
            bias: b,
        })
        .collect();
    let out_w = StoredTensor::new(&w.w_out, quant);
    let out_b = f32_bytes(&w.b_out);
    let output = OutputRecord {
        w: out_w.record(&w.w_out, quant),
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
    /// As charlstm-core names it, e.g. `layer 0 w_hh`.
    pub name: String,
    pub max_abs: f32,
    pub mean_abs: f32,
}

/// Max and mean |w − dequantized(quantized(w))| of every matrix (biases stay f32).
pub fn tensor_errors(w: &FloatWeights) -> Vec<TensorError> {
    let mut mats: Vec<(String, &Mat)> = Vec::new();
    for (l, layer) in w.layers.iter().enumerate() {
        mats.push((format!("layer {l} w_ih"), &layer.w_ih));
        mats.push((format!("layer {l} w_hh"), &layer.w_hh));
    }
    mats.push(("output w_out".into(), &w.w_out));
    mats.into_iter()
        .map(|(name, m)| {
            let q = StoredTensor::new(m, Quant::I8RowScaled).dequantized(m, Quant::I8RowScaled);
            let errs = m.data.iter().zip(&q).map(|(a, b)| (a - b).abs());
            let (max, sum) = errs.fold((0.0f32, 0.0f64), |(m, s), e| (m.max(e), s + e as f64));
            TensorError {
                name,
                max_abs: max,
                mean_abs: (sum / m.data.len().max(1) as f64) as f32,
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
    pub float: crate::eval::ValLoss,
    /// int8 model (charlstm-core).
    pub quant: crate::eval::ValLoss,
    pub errors: Vec<TensorError>,
}

/// Quantizes `params` to an int8 blob, measures float and int8 validation loss on `val`
/// (same definition, see `eval`) and stores both in the blob's metadata via `meta(float_bpc,
/// quant_bpc)`.
pub fn quantize_and_evaluate(
    params: &crate::model::Params<f32>,
    vocab: &str,
    lowercase: bool,
    val: &[crate::corpus::Tok],
    meta: impl Fn(f64, f64) -> BlobMeta,
) -> anyhow::Result<ExportReport> {
    let w = params.to_float_weights(vocab, lowercase);
    let float = crate::eval::val_loss_float(params, val)?;
    // The metadata does not change the weights, so the first encoding measures the int8 model.
    let probe = to_blob(&w, &meta(float.bpc(), f64::NAN), Quant::I8RowScaled);
    let model = crate::eval::HostModel::from_bytes(&probe)
        .map_err(|e| anyhow::anyhow!("the quantized model does not load in charlstm-core: {e}"))?;
    let quant = crate::eval::val_loss_blob(&model, val)?;
    let blob = to_blob(&w, &meta(float.bpc(), quant.bpc()), Quant::I8RowScaled);
    Ok(ExportReport {
        blob,
        float,
        quant,
        errors: tensor_errors(&w),
    })
}
