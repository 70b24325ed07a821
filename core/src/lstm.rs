//! The stateful LSTM generator: one step per character, O(1) work per generated character.
//!
//! V = vocab size, H = hidden size, L = layers (compile-time capacities; the loaded blob's
//! dims may be smaller). Gates, per layer l and time t, with x the one-hot character (l = 0)
//! or the layer below's h (l > 0), rows ordered i | f | g | o (spec §5):
//!
//! ```text
//! z = W_ih x + W_hh h_{t-1} + b          i, f, o = sigmoid(z_i, z_f, z_o)   g = tanh(z_g)
//! c_t = f * c_{t-1} + i * g              h_t = o * tanh(c_t)
//! logits = W_out h_t(top layer) + b_out
//! ```
//!
//! The float path computes this in f32 with libm's sigmoid and tanh. The int8 path computes
//! it in integers ([`crate::fixed`], docs/int8-arithmetic.md): h in Q15, c and z in Q16.16,
//! table sigmoid and tanh, so every target computes the same bits at integer speed.

use crate::blob::{Model, Quant};
use crate::error::{ConfigError, UnknownChar};
use crate::fixed::{self, H_FRAC, H_MAX};
use crate::quant::{BLOCK, MAX_DOT_LEN, Prepared, f32s, set_bias};
use crate::sampler::{Sampler, SamplerConfig};

/// A character id of a loaded model: always < its vocab size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(u16);

impl Token {
    /// The id.
    pub fn id(self) -> usize {
        self.0 as usize
    }
}

impl<'a, const H: usize, const V: usize, const L: usize> Model<'a, H, V, L> {
    /// The token of `ch`, if it is in the vocabulary (no lowercasing).
    pub fn token(&self, ch: char) -> Option<Token> {
        self.desc
            .vocab
            .chars()
            .position(|c| c == ch)
            .map(|i| Token(i as u16))
    }
    /// The token with id `id`, if `id` < vocab size.
    pub fn token_from_id(&self, id: usize) -> Option<Token> {
        (id < self.desc.dims.vocab as usize).then_some(Token(id as u16))
    }
    /// The character of `token`.
    pub fn char_of(&self, token: Token) -> char {
        self.desc
            .vocab
            .chars()
            .nth(token.id())
            .unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

/// What priming does with a character outside the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnknown {
    /// Return [`UnknownChar`] and feed nothing.
    Error,
    /// Skip it.
    Skip,
}

/// The recurrent state: h and c per layer, in the model's arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub enum State<const H: usize, const L: usize> {
    /// The float path.
    Float {
        /// Each layer's output.
        h: [[f32; H]; L],
        /// Each layer's cell state.
        c: [[f32; H]; L],
    },
    /// The int8 path: h in Q15, c in Q16.16.
    Fixed {
        /// Each layer's output, Q15.
        h: [[i16; H]; L],
        /// Each layer's cell state, Q16.16.
        c: [[i32; H]; L],
    },
}

/// Per-step scratch: prepared activations, logits and the sampler's ranking.
#[derive(Debug, Clone)]
struct Scratch<const H: usize, const V: usize> {
    below: Prepared<H>,  // the layer below's h_t
    hidden: Prepared<H>, // h_{t-1} of a layer below the top
    // The top layer's h, prepared by `update_logits` for the output product. It is still the
    // top layer's h_{t-1} at the next step, so that step reuses it. Invariant: only
    // `update_logits` changes it.
    top: Prepared<H>,
    hf: [f32; H],     // h_{t-1} of the current layer, float path
    logits: [f32; V], // float path: the logits as computed
    z: [i32; V],      // the logits in Q16.16: the sampler's input, its weights after
    order: [u16; V],
    // Int8 path: a chunk's gate pre-activations (i, f, g, o), and the kernel's integer sums.
    // Kept here rather than on the stack, so that no step clears them.
    gates: [[i32; CHUNK]; 4],
    sums: [i32; BLOCK],
    // Int8 path: the first layer's bias (rows i | f | g | o) and the output bias in Q16.16,
    // converted by `reset` so that no step converts them ([`CACHED`]).
    bias0: [[[i32; H]; 4]; CACHED],
    b_out: [[i32; V]; CACHED],
}

/// Whether the generator keeps the biases it starts each step from in Q16.16 (1) or converts
/// them from the blob's f32 each step (0). 1 costs 16 (H + V / 4) bytes of RAM and saves
/// about 20 instructions per gate row per character; not on ARMv6-M, whose 16 KiB parts
/// need the RAM for the stack (the larger generator no longer builds in place there).
const CACHED: usize = if cfg!(all(target_arch = "arm", not(target_feature = "v7"))) {
    0
} else {
    1
};

impl<const H: usize, const V: usize> Scratch<H, V> {
    #[inline(always)] // built in place, inside the generator
    fn new() -> Self {
        Scratch {
            below: Prepared::new(),
            hidden: Prepared::new(),
            top: Prepared::new(),
            hf: [0.0; H],
            logits: [0.0; V],
            z: [0; V],
            order: [0; V],
            gates: [[0; CHUNK]; 4],
            sums: [0; BLOCK],
            bias0: [[[0; H]; 4]; CACHED],
            b_out: [[0; V]; CACHED],
        }
    }
}

/// Generates text from a [`Model`]: state, scratch and sampler, all fixed size, no heap.
///
/// ```
/// # use charlstm_core::*;
/// # fn demo(blob: &[u8]) -> Result<(), LoadError> {
/// let model = Model::<128, 64, 1>::from_bytes(blob)?;
/// let mut generator = Generator::new(&model, SamplerConfig::temperature(0.5), 42).unwrap();
/// generator.prime("the ", OnUnknown::Skip).unwrap();
/// for ch in generator.chars(100) { /* write ch to the UART */ }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Generator<'m, 'a, const H: usize, const V: usize, const L: usize> {
    model: &'m Model<'a, H, V, L>,
    state: State<H, L>,
    scratch: Scratch<H, V>,
    sampler: Sampler,
}

impl<'m, 'a, const H: usize, const V: usize, const L: usize> Generator<'m, 'a, H, V, L> {
    /// A generator at the zero state. Fails only on bad sampler settings.
    pub fn new(
        model: &'m Model<'a, H, V, L>,
        config: SamplerConfig,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        let mut g = Self::zeroed(model, Sampler::new(config, seed)?);
        g.reset();
        Ok(g)
    }

    /// A generator at the zero state drawing with `sampler`, built in `slot`: for a caller
    /// short of stack, since returning a generator moves it and the compiler may keep both
    /// copies in the frame (on a 16 KiB board a generator is a third of the RAM).
    pub fn in_place<'s>(
        slot: &'s mut Option<Self>,
        model: &'m Model<'a, H, V, L>,
        sampler: Sampler,
    ) -> &'s mut Self {
        let g = slot.insert(Self::zeroed(model, sampler));
        g.reset();
        g
    }

    /// The zero state, before its logits: every constructor's first half.
    #[inline(always)] // built where it is stored, not moved there
    fn zeroed(model: &'m Model<'a, H, V, L>, sampler: Sampler) -> Self {
        const {
            assert!(H >= 1 && V >= 1 && L >= 1, "capacities must be at least 1");
            assert!(
                H <= MAX_DOT_LEN,
                "H above MAX_DOT_LEN could overflow the i32 dot product"
            );
            assert!(V <= u16::MAX as usize, "token ids are u16");
        }
        // The state's variant is set by `reset`: a state chosen here would be built aside
        // and copied in.
        Generator {
            model,
            state: State::Fixed {
                h: [[0; H]; L],
                c: [[0; H]; L],
            },
            scratch: Scratch::new(),
            sampler,
        }
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'a, H, V, L> {
        self.model
    }

    /// Back to the zero state. Policy: the next character is then drawn from the logits of
    /// h = 0, which are the output bias (an empty prime starts here).
    pub fn reset(&mut self) {
        self.convert_biases();
        match (&mut self.state, self.model.quant()) {
            (State::Fixed { h, c }, Quant::I8RowScaled) => {
                h.iter_mut().for_each(|h| h.fill(0));
                c.iter_mut().for_each(|c| c.fill(0));
            }
            (State::Float { h, c }, Quant::F32) => {
                h.iter_mut().for_each(|h| h.fill(0.0));
                c.iter_mut().for_each(|c| c.fill(0.0));
            }
            // Only from `zeroed`, whose state is Fixed.
            (state, Quant::F32) => {
                *state = State::Float {
                    h: [[0.0; H]; L],
                    c: [[0.0; H]; L],
                }
            }
            (state, Quant::I8RowScaled) => {
                *state = State::Fixed {
                    h: [[0; H]; L],
                    c: [[0; H]; L],
                }
            }
        }
        self.update_logits();
    }

    /// The int8 path's cached biases ([`CACHED`]), from the blob's f32 values.
    fn convert_biases(&mut self) {
        if self.model.quant() != Quant::I8RowScaled {
            return;
        }
        let (h, v) = (self.model.desc.dims.hidden as usize, self.vocab());
        let Scratch { bias0, b_out, .. } = &mut self.scratch;
        let bias = self
            .model
            .layers
            .first()
            .map_or(&[][..], |layer| layer.bias);
        for gates in bias0.iter_mut() {
            for (j, gate) in gates.iter_mut().enumerate() {
                let bias = bias.get(4 * j * h..4 * (j + 1) * h);
                set_bias(bias.unwrap_or_default(), &mut gate[..h]);
            }
        }
        for b_out in b_out.iter_mut() {
            set_bias(
                self.model.b_out.get(..4 * v).unwrap_or_default(),
                &mut b_out[..v],
            );
        }
    }

    /// The recurrent state.
    pub fn state(&self) -> &State<H, L> {
        &self.state
    }

    /// Logits for the next character, one per vocabulary entry (valid until the next
    /// sample). The int8 path keeps them in Q16.16 and converts them here, off the
    /// generation path.
    pub fn logits(&self) -> heapless::Vec<f32, V> {
        let v = self.vocab();
        let mut out = heapless::Vec::new();
        for i in 0..v {
            let logit = match &self.state {
                State::Fixed { .. } => fixed::f32_of_q16(self.scratch.z[i]),
                State::Float { .. } => self.scratch.logits[i],
            };
            let _ = out.push(logit); // v <= V: always room
        }
        out
    }

    /// Feeds `text` one character at a time, lowercased first if the model's corpus was.
    /// With `OnUnknown::Error`, a character outside the vocabulary feeds nothing and names it.
    /// Returns how many characters were fed.
    pub fn prime(&mut self, text: &str, on_unknown: OnUnknown) -> Result<usize, UnknownChar> {
        let model = self.model;
        let lower = model.lowercase();
        if on_unknown == OnUnknown::Error {
            for (position, ch) in text.chars().enumerate() {
                if lowered(ch, lower).any(|c| model.token(c).is_none()) {
                    return Err(UnknownChar { ch, position });
                }
            }
        }
        let mut fed = 0;
        for ch in text.chars() {
            for token in lowered(ch, lower).filter_map(|c| model.token(c)) {
                self.step(token);
                fed += 1;
            }
        }
        Ok(fed)
    }

    /// Samples the next token from the current logits and feeds it back.
    pub fn next_token(&mut self) -> Token {
        let v = self.vocab();
        let id = self
            .sampler
            .sample(&mut self.scratch.z[..v], &mut self.scratch.order[..v]);
        let token = Token(id.min(v - 1) as u16);
        self.step(token);
        token
    }

    /// Samples the next character and feeds it back.
    pub fn next_char(&mut self) -> char {
        let token = self.next_token();
        self.model.char_of(token)
    }

    /// The next `n` characters, one at a time (no buffer of the whole output).
    pub fn chars(&mut self, n: usize) -> impl Iterator<Item = char> + '_ {
        (0..n).map(move |_| self.next_char())
    }

    /// Up to `n` characters into a fixed-capacity string; stops early when it is full.
    pub fn generate<const N: usize>(&mut self, n: usize) -> heapless::String<N> {
        let mut out = heapless::String::new();
        for _ in 0..n {
            let ch = self.next_char();
            if out.push(ch).is_err() {
                break;
            }
        }
        out
    }

    fn vocab(&self) -> usize {
        self.model.desc.dims.vocab as usize
    }

    // -----------------------------------------------------------------------
    // One time step

    /// Feeds one character: every layer advances one step, then the logits are updated.
    pub fn step(&mut self, token: Token) {
        match self.state {
            State::Fixed { .. } => self.step_fixed(token),
            State::Float { .. } => self.step_float(token),
        }
        self.update_logits();
    }

    /// The int8 path's step (docs/int8-arithmetic.md §4).
    fn step_fixed(&mut self, token: Token) {
        let State::Fixed { h: hs, c: cs } = &mut self.state else {
            return;
        };
        let h = self.model.desc.dims.hidden as usize;
        let top = self.model.layers.len().saturating_sub(1);
        let Scratch {
            below,
            hidden,
            top: top_h,
            gates,
            sums,
            bias0,
            ..
        } = &mut self.scratch;
        for (l, layer) in self.model.layers.iter().enumerate() {
            let (lower, this) = hs.split_at_mut(l);
            if let Some(h_below) = lower.last() {
                below.set(&h_below[..h]);
            }
            // h_{t-1} is overwritten unit by unit below, so the products read a copy (the
            // top layer's is already prepared).
            let h_prev = &mut this[0][..h];
            let hidden: &Prepared<H> = if l == top {
                top_h
            } else {
                hidden.set(h_prev);
                hidden
            };
            let c = &mut cs[l][..h];
            // Unit k's gate rows are k, h+k, 2h+k, 3h+k of both matrices (spec §5), so for a
            // chunk of units each gate's rows are consecutive in the blob: the products run
            // over contiguous rows, then the cell runs over the chunk.
            let chunks = h_prev.chunks_mut(CHUNK).zip(c.chunks_mut(CHUNK));
            for (n, (hc, cc)) in chunks.enumerate() {
                let units = hc.len();
                for (j, z) in gates.iter_mut().enumerate() {
                    let (first, z) = (j * h + n * CHUNK, &mut z[..units]);
                    // z = b + W_ih x (one-hot: b + the column), + W_hh h: saturating adds in this
                    // order; the first layer's b from the cache where the target keeps one.
                    let cached = bias0.first().filter(|_| l == 0);
                    let bias = layer.bias.get(4 * first..4 * (first + units));
                    let bias = bias.unwrap_or_default();
                    match cached.and_then(|b| b[j].get(n * CHUNK..n * CHUNK + units)) {
                        Some(cached) => layer.w_ih.bias_plus_column(cached, first, token.id(), z),
                        None => {
                            set_bias(bias, z);
                            match l {
                                0 => layer.w_ih.add_column(first, token.id(), z),
                                _ => layer.w_ih.add_scaled_dots(first, below, z, sums),
                            }
                        }
                    }
                    layer.w_hh.add_scaled_dots(first, hidden, z, sums);
                }
                for (u, (h, c)) in hc.iter_mut().zip(cc.iter_mut()).enumerate() {
                    *h = cell_fixed([gates[0][u], gates[1][u], gates[2][u], gates[3][u]], c);
                }
            }
        }
    }

    /// The float path's step.
    fn step_float(&mut self, token: Token) {
        let State::Float { h: hs, c: cs } = &mut self.state else {
            return;
        };
        let h = self.model.desc.dims.hidden as usize;
        let hf = &mut self.scratch.hf;
        for (l, layer) in self.model.layers.iter().enumerate() {
            let (lower, this) = hs.split_at_mut(l);
            let x = lower.last().map(|h_below| &h_below[..h]);
            let h_prev = &mut this[0][..h];
            hf[..h].copy_from_slice(h_prev);
            let c = &mut cs[l][..h];
            let mut z = [[0.0f32; CHUNK]; 4];
            let chunks = h_prev.chunks_mut(CHUNK).zip(c.chunks_mut(CHUNK));
            for (n, (hc, cc)) in chunks.enumerate() {
                let units = hc.len();
                for (j, z) in z.iter_mut().enumerate() {
                    let (first, z) = (j * h + n * CHUNK, &mut z[..units]);
                    // z = (b + W_ih x) + W_hh h, summed in this order on every target.
                    let bias = layer.bias.get(4 * first..4 * (first + units));
                    match x {
                        None => layer
                            .w_ih
                            .col_plus(bias.unwrap_or_default(), first, token.id(), z),
                        Some(x) => {
                            set_f32s(z, bias);
                            layer.w_ih.add_dot_rows(first, x, z);
                        }
                    }
                    layer.w_hh.add_dot_rows(first, &hf[..h], z);
                }
                for (u, (h, c)) in hc.iter_mut().zip(cc.iter_mut()).enumerate() {
                    *h = cell([z[0][u], z[1][u], z[2][u], z[3][u]], c);
                }
            }
        }
    }

    /// logits = W_out h_top + b_out.
    fn update_logits(&mut self) {
        let (h, v) = (self.model.desc.dims.hidden as usize, self.vocab());
        // The model's top layer, which may sit below the capacity L.
        let top_layer = self.model.layers.len().saturating_sub(1);
        let Scratch {
            top,
            logits,
            z,
            sums,
            b_out: b_out_q,
            ..
        } = &mut self.scratch;
        let (logits, z) = (&mut logits[..v], &mut z[..v]);
        let b_out = self.model.b_out.get(..4 * v).unwrap_or_default();
        match &self.state {
            State::Fixed { h: hs, .. } => {
                top.set(hs.get(top_layer).map_or(&[][..], |t| &t[..h]));
                match b_out_q.first() {
                    Some(b) => z.copy_from_slice(&b[..v]),
                    None => set_bias(b_out, z),
                }
                self.model.w_out.add_scaled_dots(0, top, z, sums);
            }
            State::Float { h: hs, .. } => {
                let x = hs.get(top_layer).map_or(&[][..], |t| &t[..h]);
                set_f32s(logits, Some(b_out));
                self.model.w_out.add_dot_rows(0, x, logits);
                for (z, &logit) in z.iter_mut().zip(logits.iter()) {
                    *z = fixed::q16_of_f32(logit);
                }
            }
        }
    }
}

/// `out` = the f32 LE values of `bytes`, which the loader sized to match; zeros if it is not
/// there (a dims mismatch the loader rules out).
fn set_f32s(out: &mut [f32], bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => out
            .iter_mut()
            .zip(f32s(bytes))
            .for_each(|(out, v)| *out = v),
        None => out.fill(0.0),
    }
}

/// `ch` as is, or its lowercase form (which may be several characters).
fn lowered(ch: char, lower: bool) -> impl Iterator<Item = char> {
    let plain = core::iter::once(ch).filter(move |_| !lower);
    plain.chain(ch.to_lowercase().filter(move |_| lower))
}

/// Units per chunk of [`Generator::step`]: 16 on hosts (256 bytes of pre-activations, a few
/// SIMD vectors); 64 on a microcontroller (1 KiB of scratch), where each chunk's product
/// calls cost about 150 instructions of setup.
const CHUNK: usize = if cfg!(target_os = "none") { 64 } else { 16 };

/// The float path's LSTM cell update for one unit from its four gate pre-activations
/// (i, f, g, o): updates `c` and returns the new h.
#[inline]
pub fn cell(z: [f32; 4], c: &mut f32) -> f32 {
    let sigmoid = |x: f32| 1.0 / (1.0 + libm::expf(-x));
    let (i, f, g, o) = (
        sigmoid(z[0]),
        sigmoid(z[1]),
        libm::tanhf(z[2]),
        sigmoid(z[3]),
    );
    *c = f * *c + i * g;
    o * libm::tanhf(*c)
}

/// The int8 path's cell (docs/int8-arithmetic.md §4): z in Q16.16, c in Q16.16, returns h in
/// Q15. `c' = round((f c + 2 i g) / 2^15)` (f, i, g in Q15), `h = round(o tanh(c') / 2^15)`.
#[inline]
pub fn cell_fixed(z: [i32; 4], c: &mut i32) -> i16 {
    let (i, f) = (fixed::sigmoid(z[0]), fixed::sigmoid(z[1]));
    let (g, o) = (fixed::tanh(z[2]), fixed::sigmoid(z[3]));
    *c = fixed::next_cell(f, *c, i * g); // |i g| <= 2^30 fits 32 bits
    let h = (o * fixed::tanh(*c) + (1 << (H_FRAC - 1))) >> H_FRAC; // |o tanh| <= 2^30
    h.clamp(-H_MAX, H_MAX) as i16
}
