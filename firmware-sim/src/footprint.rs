//! RAM footprints, measured with `size_of` on real instantiations of the core's types.
//!
//! A firmware is compiled for fixed capacities (H, V, L). Its RAM for the model is the
//! model view (`Model<H, V, L>`: borrowed slices into flash, a few hundred bytes) plus the
//! generator (`Generator<H, V, L>`: h and c per layer, scratch, logits, sampler). The
//! simulator itself is built for the largest capacities; to say what a firmware for a given
//! blob needs, a set of capacity presets is instantiated here and the smallest that holds
//! the blob is reported. Sizes are the host's (64-bit pointers), an upper bound for a
//! 32-bit Cortex-M where each slice is 8 bytes instead of 16.

use std::fmt;
use std::mem::size_of;

use charlstm_core::{Generator, Model};

/// The simulator's capacities: vocabulary 1,024 (a Korean text alone has hundreds of
/// characters), hidden 512 (the core allows H <= 512 for its i32 dot product), 2 layers.
pub const SIM_H: usize = 512;
/// See [`SIM_H`].
pub const SIM_V: usize = 1024;
/// See [`SIM_H`].
pub const SIM_L: usize = 2;

/// The model type of the simulator build.
pub type SimModel<'a> = Model<'a, SIM_H, SIM_V, SIM_L>;

/// One capacity preset and its measured sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Build {
    pub hidden: usize,
    pub vocab: usize,
    pub layers: usize,
    /// `size_of::<Model<H, V, L>>()`.
    pub model_bytes: usize,
    /// `size_of::<Generator<H, V, L>>()`.
    pub generator_bytes: usize,
}

impl Build {
    /// Model view plus generator.
    pub fn total(&self) -> usize {
        self.model_bytes + self.generator_bytes
    }
    /// Whether a blob of these dims loads into this build.
    pub fn holds(&self, hidden: usize, vocab: usize, layers: usize) -> bool {
        hidden <= self.hidden && vocab <= self.vocab && layers <= self.layers
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "H={} V={} L={}", self.hidden, self.vocab, self.layers)
    }
}

macro_rules! build {
    ($h:expr, $v:expr, $l:expr) => {
        Build {
            hidden: $h,
            vocab: $v,
            layers: $l,
            model_bytes: size_of::<Model<'static, $h, $v, $l>>(),
            generator_bytes: size_of::<Generator<'static, 'static, $h, $v, $l>>(),
        }
    };
}

/// Pushes a build for each vocab in the list and each layer count, at hidden `$h`.
macro_rules! builds_for_hidden {
    ($out:ident, $h:literal) => {
        builds_for_hidden!(@v $out, $h, 64, 128, 256, 512, 1024);
    };
    (@v $out:ident, $h:literal, $($v:literal),*) => {
        $( $out.extend([build!($h, $v, 1), build!($h, $v, 2)]); )*
    };
}

/// The build the simulator runs.
pub fn sim_build() -> Build {
    build!(SIM_H, SIM_V, SIM_L)
}

/// Every preset: H in {64, 128, 256, 512} x V in {64, 128, 256, 512, 1024} x L in {1, 2}.
pub fn presets() -> Vec<Build> {
    let mut out = Vec::new();
    builds_for_hidden!(out, 64);
    builds_for_hidden!(out, 128);
    builds_for_hidden!(out, 256);
    builds_for_hidden!(out, 512);
    out
}

/// The preset with the least RAM that holds a blob of these dims.
pub fn smallest_build(hidden: usize, vocab: usize, layers: usize) -> Option<Build> {
    presets()
        .into_iter()
        .filter(|b| b.holds(hidden, vocab, layers))
        .min_by_key(Build::total)
}

/// [`smallest_build`] for a loaded model (always exists: the presets cover the simulator's
/// capacities).
pub fn build_for(model: &SimModel<'_>) -> Build {
    let d = model.dims();
    smallest_build(d.hidden as usize, d.vocab as usize, d.layers as usize).unwrap_or_else(sim_build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_shapes_smallest_build_is_h128_v64_l1_within_6_kib() {
        let b = smallest_build(128, 57, 1).unwrap();
        assert_eq!((b.hidden, b.vocab, b.layers), (128, 64, 1));
        assert!(b.total() <= 6 * 1024, "{} bytes", b.total());
        // The state alone is h and c: 2 x 128 f32.
        assert!(b.generator_bytes >= 2 * 128 * 4);
    }

    #[test]
    fn presets_cover_the_simulator_and_grow_with_capacity() {
        let sim = sim_build();
        assert!(presets().contains(&sim));
        assert_eq!(smallest_build(SIM_H, SIM_V, SIM_L), Some(sim));
        assert_eq!(smallest_build(SIM_H + 1, 1, 1), None);
        let small = smallest_build(64, 64, 1).unwrap();
        assert!(small.total() < sim.total());
    }
}
