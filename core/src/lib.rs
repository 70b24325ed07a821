//! charlstm-core: run a character-level LSTM on a microcontroller.
//!
//! `#![no_std]`, no allocator, no panics on any input, and no `unsafe` outside the Cortex-M
//! kernels (`cortex_m`, assembly, compiled only for Arm targets). The int8 path is integer
//! arithmetic throughout ([`fixed`], docs/int8-arithmetic.md), so a core without an FPU runs
//! it at integer speed and every target computes the same bits. A blob (the trainer's
//! output, spec in `docs/blob-format.md`) is validated by [`Model::from_bytes`] and borrowed
//! zero-copy, so on a device the weights stay in flash; [`Generator`] holds the fixed-size
//! state and generates one character per LSTM step.
//!
//! Capacities are const generics: `Model<'a, H, V, L>` accepts any blob with hidden size
//! <= H, vocabulary <= V and layers <= L, and rejects a larger one with
//! [`LoadError::ExceedsCapacity`]. RAM for `H = 128, V = 64, L = 1` on a 32-bit target:
//! see `docs/design.md` (the simulator's `--stats` prints the measured `size_of`s).
//!
//! ```
//! use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};
//! fn run(blob: &[u8]) -> Result<(), Box<dyn core::error::Error>> {
//!     let model = Model::<128, 64, 1>::from_bytes(blob)?;
//!     let mut generator = Generator::new(&model, SamplerConfig::temperature(0.5), 7)?;
//!     generator.prime("the meaning of ", OnUnknown::Error)?;
//!     let text: heapless::String<256> = generator.generate(200);
//!     Ok(())
//! }
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)] // the one exception: `cortex_m`, the int8 kernels in assembly

pub mod blob;
#[cfg(target_arch = "arm")]
mod cortex_m;
pub mod error;
pub mod fixed;
pub mod lstm;
pub mod quant;
pub mod sampler;

pub use blob::{
    CRC32, Description, Dims, FORMAT_VERSION, Header, LayerRecord, MAGIC, Meta, Model,
    OutputRecord, Quant, TensorRecord,
};
pub use error::{ConfigError, LoadError, TensorName, UnknownChar};
pub use lstm::{Generator, OnUnknown, State, Token};
pub use sampler::{Sampler, SamplerConfig};
