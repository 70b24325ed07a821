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
//! sigmoid and tanh come from libm (float path) or a compile-time table (int8 path, see
//! `activation.rs`), exp from libm, so the host and a Cortex-M compute the same bits.

use crate::activation::{Activations, Exact, Table};
use crate::blob::{Model, Quant};
use crate::error::{ConfigError, UnknownChar};
use crate::quant::{MAX_DOT_LEN, Operand, f32s, quantize_activations};
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

/// The recurrent state: h and c per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct State<const H: usize, const L: usize> {
    pub h: [[f32; H]; L],
    pub c: [[f32; H]; L],
}

/// Per-step scratch: quantized (or copied) activations, logits and the sampler's ranking.
#[derive(Debug, Clone)]
struct Scratch<const H: usize, const V: usize> {
    hq: Words<H>, // h_{t-1} of a layer below the top, quantized
    xq: Words<H>, // the layer below's h_t, quantized
    // The top layer's h, quantized by `update_logits` for the output product. It is still the
    // top layer's h_{t-1} at the next step, so that step reuses it (same bits, one
    // quantization less per character). Invariant: only `update_logits` changes it.
    top_q: Words<H>,
    top_scale: f32,
    hf: [f32; H], // h_{t-1} of the current layer, float path
    logits: [f32; V],
    order: [u16; V],
}

/// A quantized activation vector, word-aligned: the Cortex-M kernel loads it words at a time.
#[derive(Debug, Clone)]
#[repr(align(4))]
struct Words<const H: usize>([i16; H]);

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
        const {
            assert!(H >= 1 && V >= 1 && L >= 1, "capacities must be at least 1");
            assert!(
                H <= MAX_DOT_LEN,
                "H above MAX_DOT_LEN could overflow the i32 dot product"
            );
            assert!(V <= u16::MAX as usize, "token ids are u16");
        }
        let mut g = Generator {
            model,
            state: State {
                h: [[0.0; H]; L],
                c: [[0.0; H]; L],
            },
            scratch: Scratch {
                hq: Words([0; H]),
                xq: Words([0; H]),
                top_q: Words([0; H]),
                top_scale: 0.0,
                hf: [0.0; H],
                logits: [0.0; V],
                order: [0; V],
            },
            sampler: Sampler::new(config, seed)?,
        };
        g.reset();
        Ok(g)
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'a, H, V, L> {
        self.model
    }

    /// Back to the zero state. Policy: the next character is then drawn from the logits of
    /// h = 0, which are the output bias (an empty prime starts here).
    pub fn reset(&mut self) {
        self.state.h = [[0.0; H]; L];
        self.state.c = [[0.0; H]; L];
        self.update_logits();
    }

    /// The recurrent state.
    pub fn state(&self) -> &State<H, L> {
        &self.state
    }

    /// Logits for the next character (valid until the next sample).
    pub fn logits(&self) -> &[f32] {
        &self.scratch.logits[..self.vocab()]
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
            .sample(&mut self.scratch.logits[..v], &mut self.scratch.order[..v]);
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
        let h = self.model.desc.dims.hidden as usize;
        let quantized = self.model.quant() == Quant::I8RowScaled;
        let top = self.model.layers.len().saturating_sub(1);
        let Scratch {
            hq,
            xq,
            hf,
            top_q,
            top_scale,
            ..
        } = &mut self.scratch;
        for (l, layer) in self.model.layers.iter().enumerate() {
            let (below, this) = self.state.h.split_at_mut(l);
            let h_prev = &mut this[0][..h];
            // The layer's input contribution for row r: a column lookup for the one-hot
            // character at layer 0, a product with the layer below's h_t above it.
            let x = match below.last() {
                None => None,
                Some(h_below) if quantized => {
                    let scale = quantize_activations(&h_below[..h], &mut xq.0[..h]);
                    Some(Operand::I16 {
                        q: &xq.0[..h],
                        scale,
                    })
                }
                Some(h_below) => Some(Operand::F32(&h_below[..h])),
            };
            // h_{t-1} is overwritten unit by unit below, so the product reads a copy.
            let hidden = if quantized && l == top {
                Operand::I16 {
                    q: &top_q.0[..h],
                    scale: *top_scale,
                }
            } else if quantized {
                let scale = quantize_activations(h_prev, &mut hq.0[..h]);
                Operand::I16 {
                    q: &hq.0[..h],
                    scale,
                }
            } else {
                hf[..h].copy_from_slice(h_prev);
                Operand::F32(&hf[..h])
            };
            let c = &mut self.state.c[l][..h];
            // Unit k's gate rows are k, h+k, 2h+k, 3h+k of both matrices (spec §5), so for a
            // chunk of units each gate's rows are consecutive in the blob: the products run
            // over contiguous rows, then the cell runs over the chunk (its table lookups are
            // independent, so a SIMD host does them side by side; the float operations per
            // unit, and so the bits, are the same either way).
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
                    layer.w_hh.add_dot_rows(first, hidden, z);
                }
                if quantized {
                    cells::<Table>(&z, hc, cc);
                } else {
                    cells::<Exact>(&z, hc, cc);
                }
            }
        }
        self.update_logits();
    }

    /// logits = W_out h_top + b_out.
    fn update_logits(&mut self) {
        let (h, v) = (self.model.desc.dims.hidden as usize, self.vocab());
        // The model's top layer, which may sit below the capacity L.
        let top_layer = self.model.layers.len().saturating_sub(1);
        let top = self.state.h.get(top_layer).map_or(&[][..], |t| &t[..h]);
        let x = if self.model.quant() == Quant::I8RowScaled {
            let scale = quantize_activations(top, &mut self.scratch.top_q.0[..h]);
            self.scratch.top_scale = scale;
            Operand::I16 {
                q: &self.scratch.top_q.0[..h],
                scale,
            }
        } else {
            Operand::F32(top)
        };
        let logits = &mut self.scratch.logits[..v];
        set_f32s(logits, self.model.b_out.get(..4 * v));
        self.model.w_out.add_dot_rows(0, x, logits);
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
/// SIMD vectors); 64 on a Cortex-M (1 KiB of stack), where each chunk's product calls cost
/// about 150 instructions of setup.
const CHUNK: usize = if cfg!(target_arch = "arm") { 64 } else { 16 };

/// [`cell`] for each unit of a chunk: `z[j][u]` is gate j (i, f, g, o) of unit u.
#[inline]
fn cells<A: Activations>(z: &[[f32; CHUNK]; 4], h: &mut [f32], c: &mut [f32]) {
    for (u, (h, c)) in h.iter_mut().zip(c.iter_mut()).enumerate().take(CHUNK) {
        *h = cell::<A>([z[0][u], z[1][u], z[2][u], z[3][u]], c);
    }
}

/// The LSTM cell update for one unit from its four gate pre-activations (i, f, g, o):
/// updates `c` and returns the new h. `A` is exact (float path) or a table (int8 path).
#[inline]
pub fn cell<A: Activations>(z: [f32; 4], c: &mut f32) -> f32 {
    let i = A::sigmoid(z[0]);
    let f = A::sigmoid(z[1]);
    let g = A::tanh(z[2]);
    let o = A::sigmoid(z[3]);
    *c = f * *c + i * g;
    o * A::tanh(*c)
}
