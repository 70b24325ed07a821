//! Every way the core can fail. Only loading a blob, priming with an unknown character and
//! building a sampler from bad settings can fail; a step of inference cannot.

use core::fmt;

/// Names one tensor of a blob in error messages (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorName {
    /// Input-to-gates weights of layer `n`.
    InputGates(u8),
    /// Hidden-to-gates weights of layer `n`.
    HiddenGates(u8),
    /// Gate bias of layer `n`.
    GateBias(u8),
    /// Output projection (V, H).
    Output,
    /// Output bias (V).
    OutputBias,
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorName::InputGates(l) => write!(f, "layer {l} w_ih"),
            TensorName::HiddenGates(l) => write!(f, "layer {l} w_hh"),
            TensorName::GateBias(l) => write!(f, "layer {l} bias"),
            TensorName::Output => f.write_str("output w_out"),
            TensorName::OutputBias => f.write_str("output bias"),
        }
    }
}

/// Why a blob was rejected (spec §7 tabulates each case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// Fewer bytes than the smallest possible blob (magic, version, checksum).
    TooShort {
        /// The blob's length in bytes.
        len: usize,
    },
    /// The first four bytes are not [`crate::MAGIC`] (spec §1).
    BadMagic,
    /// The CRC-32 in the last four bytes does not match the bytes before it (spec §6).
    BadChecksum {
        /// The CRC-32 the blob carries.
        stored: u32,
        /// The CRC-32 of its bytes.
        computed: u32,
    },
    /// The blob uses a format version this build does not read (spec §2).
    UnsupportedVersion {
        /// The blob's version.
        found: u16,
        /// The version this build reads ([`crate::FORMAT_VERSION`]).
        supported: u16,
    },
    /// A field could not be decoded (truncated, bad varint, invalid UTF-8, unknown tag).
    Malformed {
        /// The field being decoded.
        field: &'static str,
    },
    /// A dimension is zero.
    ZeroDim {
        /// `vocab`, `hidden` or `layers`.
        field: &'static str,
    },
    /// A dimension is larger than the capacity this firmware was built with.
    ExceedsCapacity {
        /// `vocab`, `hidden` or `layers`.
        field: &'static str,
        /// The largest value this build accepts.
        capacity: u32,
        /// The blob's value.
        found: u32,
    },
    /// The vocabulary string does not hold exactly `vocab` characters.
    VocabLength {
        /// `dims.vocab`.
        declared: u32,
        /// The characters in the vocabulary string.
        found: u32,
    },
    /// The vocabulary lists a character twice.
    DuplicateChar {
        /// The repeated character.
        ch: char,
    },
    /// A tensor's declared shape disagrees with the dims.
    TensorShape {
        /// Which tensor.
        tensor: TensorName,
        /// (rows, cols) the dims imply.
        expected: (u32, u32),
        /// (rows, cols) the record declares.
        found: (u32, u32),
    },
    /// A tensor's byte length disagrees with its shape and quantization.
    TensorLength {
        /// Which tensor.
        tensor: TensorName,
        /// Bytes its shape and quantization imply.
        expected: usize,
        /// Bytes it holds.
        found: usize,
    },
    /// A scale, weight or bias is NaN or infinite, or a scale is negative.
    NotFinite {
        /// Which tensor.
        tensor: TensorName,
    },
    /// Bytes are left between the last tensor and the checksum.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::TooShort { len } => {
                write!(f, "blob is {len} bytes, too short to be a charlstm blob")
            }
            LoadError::BadMagic => f.write_str("not a charlstm blob (bad magic bytes)"),
            LoadError::BadChecksum { stored, computed } => write!(
                f,
                "blob is corrupted: stored CRC-32 {stored:#010x} but the bytes give {computed:#010x}"
            ),
            LoadError::UnsupportedVersion { found, supported } => write!(
                f,
                "blob format version {found}, this build reads version {supported}"
            ),
            LoadError::Malformed { field } => write!(f, "blob field `{field}` cannot be decoded"),
            LoadError::ZeroDim { field } => write!(f, "blob dimension `{field}` is zero"),
            LoadError::ExceedsCapacity {
                field,
                capacity,
                found,
            } => write!(
                f,
                "blob {field} is {found} but this build holds at most {capacity}"
            ),
            LoadError::VocabLength { declared, found } => write!(
                f,
                "blob declares {declared} vocabulary characters but lists {found}"
            ),
            LoadError::DuplicateChar { ch } => {
                // U+ form, not `{:?}`: no Unicode escape tables on a device.
                write!(
                    f,
                    "blob vocabulary lists the character U+{:04X} twice",
                    *ch as u32
                )
            }
            LoadError::TensorShape {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor {tensor} has shape {}x{} but the dims require {}x{}",
                found.0, found.1, expected.0, expected.1
            ),
            LoadError::TensorLength {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor {tensor} holds {found} bytes but its shape requires {expected}"
            ),
            LoadError::NotFinite { tensor } => {
                write!(
                    f,
                    "tensor {tensor} holds a NaN, infinite or negative-scale value"
                )
            }
            LoadError::TrailingBytes { count } => {
                write!(f, "blob has {count} unexpected bytes before its checksum")
            }
        }
    }
}

impl core::error::Error for LoadError {}

/// A prime text held a character the model's vocabulary lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownChar {
    /// The character.
    pub ch: char,
    /// Its position in the prime text, counted in characters.
    pub position: usize,
}

impl fmt::Display for UnknownChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prime character {:?} (U+{:04X}, position {}) is not in the model's vocabulary",
            self.ch, self.ch as u32, self.position
        )
    }
}

impl core::error::Error for UnknownChar {}

/// Sampler settings out of range.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Temperature must be finite and >= 0 (0 means argmax).
    Temperature(f32),
    /// top-p must lie in (0, 1].
    TopP(f32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Temperature(t) => {
                write!(
                    f,
                    "temperature {t} is invalid: use a finite value >= 0 (0 = argmax)"
                )
            }
            ConfigError::TopP(p) => write!(f, "top-p {p} is invalid: use a value in (0, 1]"),
        }
    }
}

impl core::error::Error for ConfigError {}
