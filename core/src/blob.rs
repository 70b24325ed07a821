//! Blob format v1: the wire types, the one encoder and the one validating loader.
//! `docs/blob-format.md` is the spec; section numbers below cite it.
//!
//! The blob is a sequence of postcard values followed by a CRC-32:
//! `Header, Description, LayerRecord × layers, OutputRecord, crc32 (u32 LE)`.
//! Weights are borrowed (`&'a [u8]` straight from flash); nothing assumes alignment.

use serde::{Deserialize, Serialize};

use crate::error::{LoadError, TensorName};
use crate::quant::{Matrix, Weights, read_f32};

/// The first four bytes of every blob (spec §1).
pub const MAGIC: [u8; 4] = *b"CLSM";
/// The format version this build writes and reads (spec §2).
pub const FORMAT_VERSION: u16 = 1;
/// CRC-32/ISO-HDLC (the zlib/PNG CRC), as postcard's `use-crc` flavor appends it (spec §6).
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
/// Magic, a one-byte version varint and the checksum: nothing shorter can be a blob.
const MIN_LEN: usize = 4 + 1 + 4;

// ---------------------------------------------------------------------------
// Wire types, in wire order (spec §2 to §5)

/// Spec §2. Decoded first, so a blob of another version is told apart from garbage.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// [`MAGIC`]: b"CLSM".
    pub magic: [u8; 4],
    /// [`FORMAT_VERSION`] when written by this build.
    pub version: u16,
}

/// Spec §3. V = vocab size, H = hidden size, L = layers.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// V: characters in the vocabulary.
    pub vocab: u32,
    /// H: units per layer.
    pub hidden: u32,
    /// L: stacked LSTM layers.
    pub layers: u32,
}

/// Spec §3. What a user wants to see about where a model came from.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Meta<'a> {
    /// `charlstm-train x.y.z` that wrote the blob.
    pub tool_version: &'a str,
    /// Training recipe and its main settings, e.g. `tbptt seq=64 batch=64 adam lr=0.002`.
    pub recipe: &'a str,
    /// File name of the corpus.
    pub corpus_name: &'a str,
    /// Corpus length in characters.
    pub corpus_chars: u64,
    /// Validation bits per character of the float model (NaN if not measured).
    pub val_bpc_float: f32,
    /// Validation bits per character of this blob's quantized model (NaN if not measured).
    pub val_bpc_quant: f32,
}

/// Spec §3: dims, vocabulary and metadata.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Description<'a> {
    /// The model's shape.
    pub dims: Dims,
    /// The corpus was lowercased before training, so prime text is lowercased too.
    pub lowercase: bool,
    /// The characters in id order, concatenated (UTF-8).
    pub vocab: &'a str,
    /// Provenance: corpus, training figures, validation bpc (spec §3).
    #[serde(borrow)]
    pub meta: Meta<'a>,
}

/// Spec §4: how a tensor's values are stored.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    /// int8 symmetric, one f32 scale per output row: w = q × scale[row].
    I8RowScaled,
    /// Plain f32 little-endian; `scales` is empty.
    F32,
}

impl Quant {
    /// The scheme's short name, `int8` or `f32`: what every tool prints (one spelling).
    pub const fn name(self) -> &'static str {
        match self {
            Quant::I8RowScaled => "int8",
            Quant::F32 => "f32",
        }
    }
}

impl core::fmt::Display for Quant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Spec §4: a row-major (rows, cols) matrix.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorRecord<'a> {
    /// How the values are stored.
    pub quant: Quant,
    /// Rows (outputs).
    pub rows: u32,
    /// Columns (inputs).
    pub cols: u32,
    /// rows × cols values: int8 or f32 LE, per `quant`.
    pub data: &'a [u8],
    /// One f32 LE per row for `I8RowScaled`, empty for `F32`.
    pub scales: &'a [u8],
}

/// Spec §5: one LSTM layer. Gate rows are ordered i | f | g | o.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerRecord<'a> {
    /// (4H, V) for layer 0 (one-hot input: a column lookup), (4H, H) above.
    #[serde(borrow)]
    pub w_ih: TensorRecord<'a>,
    /// (4H, H).
    #[serde(borrow)]
    pub w_hh: TensorRecord<'a>,
    /// 4H f32 LE, one bias per gate row.
    pub bias: &'a [u8],
}

/// Spec §5: the dense softmax output.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputRecord<'a> {
    /// (V, H).
    #[serde(borrow)]
    pub w: TensorRecord<'a>,
    /// V f32 LE.
    pub bias: &'a [u8],
}

// ---------------------------------------------------------------------------
// Encoding: the trainer writes blobs through this, so the wire order lives here only

/// Writes a complete blob (header, records, CRC) into `buf`; returns the used prefix.
/// Fails only if `buf` is too small (postcard's `SerializeBufferFull`).
pub fn encode<'b>(
    desc: &Description<'_>,
    layers: &[LayerRecord<'_>],
    output: &OutputRecord<'_>,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], postcard::Error> {
    let header = Header {
        magic: MAGIC,
        version: FORMAT_VERSION,
    };
    let mut used = postcard::to_slice(&header, buf)?.len();
    used += postcard::to_slice(desc, buf.get_mut(used..).unwrap_or_default())?.len();
    for layer in layers {
        used += postcard::to_slice(layer, buf.get_mut(used..).unwrap_or_default())?.len();
    }
    used += postcard::to_slice(output, buf.get_mut(used..).unwrap_or_default())?.len();
    let (body, rest) = buf.split_at_mut(used);
    let crc = CRC32.checksum(body).to_le_bytes();
    rest.get_mut(..4)
        .ok_or(postcard::Error::SerializeBufferFull)?
        .copy_from_slice(&crc);
    Ok(&mut buf[..used + 4])
}

/// An upper bound on the encoded size, for sizing the buffer given to [`encode`].
pub fn encoded_len_bound(
    desc: &Description<'_>,
    layers: &[LayerRecord<'_>],
    output: &OutputRecord<'_>,
) -> usize {
    // Each varint is at most 10 bytes; each record has a handful of them.
    let tensor = |t: &TensorRecord<'_>| t.data.len() + t.scales.len() + 40;
    let strings = desc.vocab.len()
        + desc.meta.tool_version.len()
        + desc.meta.recipe.len()
        + desc.meta.corpus_name.len();
    let layers: usize = layers
        .iter()
        .map(|l| tensor(&l.w_ih) + tensor(&l.w_hh) + l.bias.len() + 10)
        .sum();
    16 + 80 + strings + layers + tensor(&output.w) + output.bias.len() + 10 + 4
}

// ---------------------------------------------------------------------------
// Loading: validate every byte, borrow the weights

/// One validated LSTM layer.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// Input weights: (4H, V) in layer 0 (one-hot input), (4H, H) above; rows i|f|g|o.
    pub w_ih: Matrix<'a>,
    /// Recurrent weights, (4H, H).
    pub w_hh: Matrix<'a>,
    /// The gates' bias: 4H f32 LE, rows i|f|g|o.
    pub bias: &'a [u8],
}

/// A validated blob that fits the capacities H, V, L this code was built with. It borrows
/// the blob: on a device the weights stay in flash and this view is a few hundred bytes.
#[derive(Debug, Clone)]
pub struct Model<'a, const H: usize, const V: usize, const L: usize> {
    pub(crate) desc: Description<'a>,
    pub(crate) layers: heapless::Vec<Layer<'a>, L>,
    pub(crate) w_out: Matrix<'a>, // (V, H)
    pub(crate) b_out: &'a [u8],   // V f32 LE
    pub(crate) quant: Quant,
    pub(crate) crc: u32,
    pub(crate) len: usize,
}

impl<'a, const H: usize, const V: usize, const L: usize> Model<'a, H, V, L> {
    /// Validates `bytes` as a v1 blob (spec §7 lists every rejection) and borrows its weights.
    ///
    /// ```
    /// use charlstm_core::{LoadError, Model};
    /// let err = Model::<128, 64, 1>::from_bytes(b"not a blob at all").unwrap_err();
    /// assert_eq!(err, LoadError::BadMagic);
    /// ```
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, LoadError> {
        if bytes.len() < MIN_LEN {
            return Err(LoadError::TooShort { len: bytes.len() });
        }
        if bytes[..4] != MAGIC {
            return Err(LoadError::BadMagic);
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = CRC32.checksum(body);
        if stored != computed {
            return Err(LoadError::BadChecksum { stored, computed });
        }

        let (header, rest) = take::<Header>(body, "header")?;
        if header.version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion {
                found: header.version,
                supported: FORMAT_VERSION,
            });
        }
        let (desc, mut rest) = take::<Description<'a>>(rest, "description")?;
        let dims = check_dims::<H, V, L>(&desc)?;
        check_vocab(&desc)?;

        let (v, h) = (dims.vocab, dims.hidden);
        let mut layers = heapless::Vec::new();
        let mut quant = None;
        for l in 0..dims.layers {
            let (rec, next) = take::<LayerRecord<'a>>(rest, "layer")?;
            rest = next;
            let n = l as u8; // l < L <= u8::MAX is checked by check_dims
            let input = if l == 0 { v } else { h };
            let layer = Layer {
                w_ih: check_tensor(
                    &rec.w_ih,
                    TensorName::InputGates(n),
                    4 * h,
                    input,
                    &mut quant,
                )?,
                w_hh: check_tensor(&rec.w_hh, TensorName::HiddenGates(n), 4 * h, h, &mut quant)?,
                bias: check_bias(rec.bias, TensorName::GateBias(n), 4 * h)?,
            };
            // Cannot fail: dims.layers <= L was checked above.
            layers
                .push(layer)
                .map_err(|_| LoadError::Malformed { field: "layer" })?;
        }
        let (out, rest) = take::<OutputRecord<'a>>(rest, "output")?;
        let w_out = check_tensor(&out.w, TensorName::Output, v, h, &mut quant)?;
        let b_out = check_bias(out.bias, TensorName::OutputBias, v)?;
        if !rest.is_empty() {
            return Err(LoadError::TrailingBytes { count: rest.len() });
        }
        Ok(Model {
            desc,
            layers,
            w_out,
            b_out,
            quant: quant.unwrap_or(Quant::F32),
            crc: stored,
            len: bytes.len(),
        })
    }

    /// Dims as stored in the blob.
    pub fn dims(&self) -> Dims {
        self.desc.dims
    }
    /// The characters in id order.
    pub fn vocab(&self) -> &'a str {
        self.desc.vocab
    }
    /// Whether prime text is lowercased before lookup (the corpus was).
    pub fn lowercase(&self) -> bool {
        self.desc.lowercase
    }
    /// Training metadata.
    pub fn meta(&self) -> &Meta<'a> {
        &self.desc.meta
    }
    /// How the weights are stored (all tensors of a v1 blob share one scheme).
    pub fn quant(&self) -> Quant {
        self.quant
    }
    /// The blob's CRC-32: its identity.
    pub fn crc(&self) -> u32 {
        self.crc
    }
    /// The blob's length in bytes.
    pub fn blob_len(&self) -> usize {
        self.len
    }
    /// Number of weights and biases.
    pub fn param_count(&self) -> usize {
        let (v, h) = (
            self.desc.dims.vocab as usize,
            self.desc.dims.hidden as usize,
        );
        let per_layer = |input: usize| 4 * h * (input + h + 1);
        per_layer(v) + (self.layers.len() - 1) * per_layer(h) + v * (h + 1)
    }
    /// Multiply-adds per generated character: the one-hot input is a column lookup, so
    /// layer 0 costs only its hidden-to-gates product.
    pub fn macs_per_char(&self) -> usize {
        let (v, h) = (
            self.desc.dims.vocab as usize,
            self.desc.dims.hidden as usize,
        );
        4 * h * h + (self.layers.len() - 1) * 8 * h * h + v * h
    }
}

fn take<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    field: &'static str,
) -> Result<(T, &'a [u8]), LoadError> {
    postcard::take_from_bytes(bytes).map_err(|_| LoadError::Malformed { field })
}

fn check_dims<const H: usize, const V: usize, const L: usize>(
    desc: &Description<'_>,
) -> Result<Dims, LoadError> {
    let d = desc.dims;
    for (field, found, capacity) in [
        ("vocab", d.vocab, V),
        ("hidden", d.hidden, H),
        ("layers", d.layers, L.min(u8::MAX as usize)),
    ] {
        if found == 0 {
            return Err(LoadError::ZeroDim { field });
        }
        if found as usize > capacity {
            let capacity = capacity.try_into().unwrap_or(u32::MAX);
            return Err(LoadError::ExceedsCapacity {
                field,
                capacity,
                found,
            });
        }
    }
    Ok(d)
}

fn check_vocab(desc: &Description<'_>) -> Result<(), LoadError> {
    let found = desc.vocab.chars().count();
    if found != desc.dims.vocab as usize {
        return Err(LoadError::VocabLength {
            declared: desc.dims.vocab,
            found: found as u32,
        });
    }
    // O(V²) with V at most a few thousand: microseconds, once, at boot.
    for (i, ch) in desc.vocab.chars().enumerate() {
        if desc.vocab.chars().skip(i + 1).any(|other| other == ch) {
            return Err(LoadError::DuplicateChar { ch });
        }
    }
    Ok(())
}

fn check_tensor<'a>(
    rec: &TensorRecord<'a>,
    tensor: TensorName,
    rows: u32,
    cols: u32,
    quant: &mut Option<Quant>,
) -> Result<Matrix<'a>, LoadError> {
    if (rec.rows, rec.cols) != (rows, cols) {
        return Err(LoadError::TensorShape {
            tensor,
            expected: (rows, cols),
            found: (rec.rows, rec.cols),
        });
    }
    // Every tensor of a v1 blob uses the scheme of the first one (spec §4).
    if *quant.get_or_insert(rec.quant) != rec.quant {
        return Err(LoadError::Malformed { field: "quant" });
    }
    let n = rows as usize * cols as usize;
    let (value_size, scales_len) = match rec.quant {
        Quant::I8RowScaled => (1, 4 * rows as usize),
        Quant::F32 => (4, 0),
    };
    if rec.data.len() != n * value_size {
        return Err(LoadError::TensorLength {
            tensor,
            expected: n * value_size,
            found: rec.data.len(),
        });
    }
    if rec.scales.len() != scales_len {
        return Err(LoadError::TensorLength {
            tensor,
            expected: scales_len,
            found: rec.scales.len(),
        });
    }
    let weights = match rec.quant {
        Quant::I8RowScaled => {
            if !all_f32(rec.scales, |s| s.is_finite() && s >= 0.0) {
                return Err(LoadError::NotFinite { tensor });
            }
            Weights::I8 {
                q: rec.data,
                scales: rec.scales,
            }
        }
        Quant::F32 => {
            if !all_f32(rec.data, f32::is_finite) {
                return Err(LoadError::NotFinite { tensor });
            }
            Weights::F32(rec.data)
        }
    };
    Ok(Matrix {
        rows: rows as usize,
        cols: cols as usize,
        weights,
    })
}

fn check_bias(bytes: &[u8], tensor: TensorName, n: u32) -> Result<&[u8], LoadError> {
    let expected = 4 * n as usize;
    if bytes.len() != expected {
        return Err(LoadError::TensorLength {
            tensor,
            expected,
            found: bytes.len(),
        });
    }
    if !all_f32(bytes, f32::is_finite) {
        return Err(LoadError::NotFinite { tensor });
    }
    Ok(bytes)
}

fn all_f32(bytes: &[u8], ok: impl Fn(f32) -> bool) -> bool {
    (0..bytes.len() / 4).all(|i| ok(read_f32(bytes, i)))
}
