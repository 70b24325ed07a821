//! An independent reference for the int8 run-time arithmetic, written from
//! docs/int8-arithmetic.md (§1-§6) and docs/blob-format.md alone: it decodes the blob itself
//! and never calls into charlstm-core's arithmetic (core/src/fixed.rs, quant.rs, lstm.rs and
//! sampler.rs were not read while writing it). Deliberately plain: i64/i128 everywhere, one
//! loop per formula, the doc's names for the variables. `tests/tests/int8_spec.rs` holds core
//! to it bit for bit.

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// The blob, decoded per docs/blob-format.md (only what a valid int8 blob holds)

/// An int8 row-scaled matrix: `q` row-major, one f32 scale per row (kept as its bits).
#[derive(Debug, Clone)]
pub struct I8Matrix {
    pub rows: usize,
    pub cols: usize,
    pub q: Vec<i8>,
    pub scales: Vec<u32>,
}

impl I8Matrix {
    pub fn at(&self, r: usize, k: usize) -> i8 {
        self.q[r * self.cols + k]
    }
}

/// One LSTM layer: rows in i | f | g | o order (blob-format.md §5).
#[derive(Debug, Clone)]
pub struct I8Layer {
    pub w_ih: I8Matrix,
    pub w_hh: I8Matrix,
    /// 4H f32 biases, as bits.
    pub bias: Vec<u32>,
}

/// A decoded int8 blob.
#[derive(Debug, Clone)]
pub struct I8Blob {
    pub vocab: Vec<char>,
    pub hidden: usize,
    pub layers: Vec<I8Layer>,
    pub w_out: I8Matrix,
    /// V f32 output biases, as bits.
    pub b_out: Vec<u32>,
}

impl I8Blob {
    /// A character's id: its position in the vocabulary string, counted in characters (§3).
    pub fn id_of(&self, ch: char) -> Option<usize> {
        self.vocab.iter().position(|&c| c == ch)
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes[self.pos];
        self.pos += 1;
        b
    }

    fn raw(&mut self, n: usize) -> &'b [u8] {
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    /// An unsigned LEB128 varint (§1).
    fn varint(&mut self) -> u64 {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte();
            value |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
            assert!(shift < 70, "varint too long");
        }
    }

    fn bytes(&mut self) -> &'b [u8] {
        let n = self.varint() as usize;
        self.raw(n)
    }

    fn str(&mut self) -> &'b str {
        std::str::from_utf8(self.bytes()).expect("UTF-8 string")
    }

    fn f32_bits_list(&mut self) -> Vec<u32> {
        let b = self.bytes();
        assert_eq!(b.len() % 4, 0);
        b.chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    }

    fn tensor(&mut self, rows: usize, cols: usize) -> I8Matrix {
        let quant = self.varint();
        assert_eq!(quant, 0, "not an I8RowScaled tensor");
        assert_eq!(self.varint() as usize, rows);
        assert_eq!(self.varint() as usize, cols);
        let q: Vec<i8> = self.bytes().iter().map(|&b| b as i8).collect();
        assert_eq!(q.len(), rows * cols);
        let scales = self.f32_bits_list();
        assert_eq!(scales.len(), rows);
        I8Matrix {
            rows,
            cols,
            q,
            scales,
        }
    }
}

/// Decodes an int8 blob (blob-format.md §1-§6). Panics on anything else: the tests only
/// hand it blobs that core also loads.
pub fn decode_blob(blob: &[u8]) -> I8Blob {
    let body = &blob[..blob.len() - 4];
    let stored = u32::from_le_bytes(blob[blob.len() - 4..].try_into().unwrap());
    assert_eq!(crc32(body), stored, "blob CRC-32");
    let mut r = Reader {
        bytes: body,
        pos: 0,
    };
    assert_eq!(r.raw(4), b"CLSM");
    assert_eq!(r.varint(), 1, "format version");
    let v = r.varint() as usize;
    let hidden = r.varint() as usize;
    let n_layers = r.varint() as usize;
    let _lowercase = r.byte();
    let vocab: Vec<char> = r.str().chars().collect();
    assert_eq!(vocab.len(), v);
    let _tool_version = r.str();
    let _recipe = r.str();
    let _corpus_name = r.str();
    let _corpus_chars = r.varint();
    let _val_bpc_float = r.raw(4);
    let _val_bpc_quant = r.raw(4);
    let mut layers = Vec::new();
    for l in 0..n_layers {
        let w_ih = r.tensor(4 * hidden, if l == 0 { v } else { hidden });
        let w_hh = r.tensor(4 * hidden, hidden);
        let bias = r.f32_bits_list();
        assert_eq!(bias.len(), 4 * hidden);
        layers.push(I8Layer { w_ih, w_hh, bias });
    }
    let w_out = r.tensor(v, hidden);
    let b_out = r.f32_bits_list();
    assert_eq!(b_out.len(), v);
    assert_eq!(r.pos, body.len(), "trailing bytes");
    I8Blob {
        vocab,
        hidden,
        layers,
        w_out,
        b_out,
    }
}

/// CRC-32/ISO-HDLC, bit by bit (reflected polynomial 0xEDB88320, init and xorout all ones).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0xffff_ffff;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            if crc & 1 == 1 {
                crc = (crc >> 1) ^ 0xedb8_8320;
            } else {
                crc >>= 1;
            }
        }
    }
    !crc
}

// ---------------------------------------------------------------------------
// §1, §2: numbers and the one multiply by an f32

/// Clamps to [i32::MIN, i32::MAX].
pub fn saturate(x: i128) -> i32 {
    x.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

/// The saturating i32 sum.
pub fn sat_add(a: i32, b: i32) -> i32 {
    saturate(a as i128 + b as i128)
}

/// floor(a / b) for b > 0.
fn floor_div(a: i128, b: i128) -> i128 {
    assert!(b > 0);
    a.div_euclid(b)
}

/// `mul(v, f, p) = saturate(floor(v × f × 2^p + 1/2))`, exactly, with `f` given by its f32
/// bits (§2). `f` is decoded as `±m × 2^e`; the product `v × m` is exact in i128 and the power
/// of two is applied either as an exact left shift or as a floor division with the half added.
pub fn mul(v: i32, f_bits: u32, p: i32) -> i32 {
    assert!(p <= 24, "p = {p} > 24");
    let negative = f_bits >> 31 == 1;
    let biased = ((f_bits >> 23) & 0xff) as i32;
    let fraction = (f_bits & 0x7f_ffff) as i128;
    if biased == 0 {
        // zero or subnormal: |v × f × 2^p| < 2^31 × 2^-126 × 2^24, rounds to 0
        return 0;
    }
    if biased == 255 {
        assert_eq!(fraction, 0, "mul of a NaN");
        // The doc: "infinities saturate". 0 × inf is not covered; this reference says 0.
        if v == 0 {
            return 0;
        }
        return if (v < 0) == negative {
            i32::MAX
        } else {
            i32::MIN
        };
    }
    let m = fraction | (1 << 23);
    let e = biased - 150;
    let signed_m = if negative { -m } else { m };
    let product = v as i128 * signed_m; // |product| < 2^55
    let k = e + p; // v × f × 2^p = product × 2^k
    let result: i128 = if k >= 0 {
        if product == 0 {
            0
        } else if k >= 64 {
            if product > 0 { i128::MAX } else { i128::MIN }
        } else {
            product << k // exact: |product| < 2^55, k < 64
        }
    } else {
        let n = -k;
        if n > 100 {
            0 // |product × 2^-n| < 2^-45: floor(x + 1/2) = 0
        } else {
            // floor(product / 2^n + 1/2) = floor((2 × product + 2^n) / 2^(n+1))
            floor_div(2 * product + (1i128 << n), 1i128 << (n + 1))
        }
    };
    saturate(result)
}

// ---------------------------------------------------------------------------
// §6: the tables

/// The fractional part of `x` is at least this far from 1/2 (§6 says 10^-6 for σ).
fn assert_not_near_tie(x: f64, what: &str, i: usize) {
    let frac = x - x.floor();
    assert!(
        (frac - 0.5).abs() > 1e-6,
        "{what}[{i}] = {x} lies within 1e-6 of a rounding tie"
    );
}

/// `T[i] = floor(32768 / (1 + exp(-(i - 512) / 32)) + 1/2)`, i = 0..=1024, `T[1025] = T[1024]`.
pub fn sigmoid_table() -> &'static [u16] {
    static T: OnceLock<Vec<u16>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Vec::new();
        for i in 0..=1024usize {
            let x = (i as f64 - 512.0) / 32.0;
            let exact = 32768.0 / (1.0 + (-x).exp());
            assert_not_near_tie(exact, "T", i);
            t.push((exact + 0.5).floor() as u16);
        }
        t.push(t[1024]);
        t
    })
}

/// `E[j] = floor(2^24 × 2^(-j / 256) + 1/2)`, j = 0..=256.
pub fn exp2_table() -> &'static [u32] {
    static E: OnceLock<Vec<u32>> = OnceLock::new();
    E.get_or_init(|| {
        let mut e = Vec::new();
        for j in 0..=256usize {
            let exact = 16777216.0 * (-(j as f64) / 256.0 * std::f64::consts::LN_2).exp();
            assert_not_near_tie(exact, "E", j);
            e.push((exact + 0.5).floor() as u32);
        }
        e
    })
}

/// σ(z) for z in Q16.16, in Q15.
pub fn sigmoid(z: i32) -> i32 {
    let t_tab = sigmoid_table();
    let t = (z as i64).clamp(-16 * 65536, 16 * 65536) + 16 * 65536;
    let i = (t >> 11) as usize;
    let u = (t & 2047) as i128;
    let a = t_tab[i] as i128;
    let b = t_tab[i + 1] as i128;
    (a + floor_div((b - a) * u + 1024, 2048)) as i32
}

/// tanh(z) for z in Q16.16, in Q15.
pub fn tanh(z: i32) -> i32 {
    let clamped = (z as i64).clamp(-8 * 65536, 8 * 65536) as i32;
    2 * sigmoid(2 * clamped) - 32768
}

/// `exp2_neg(t)` = 2^(-t) in Q24 for t in Q16.16 (§5 step 3).
pub fn exp2_neg(t: i32) -> u32 {
    let e = exp2_table();
    let t = t.max(0) as i64;
    let n = t >> 16;
    if n >= 32 {
        return 0;
    }
    let j = ((t >> 8) & 255) as usize;
    let r = (t & 255) as i128;
    let ej = e[j] as i128;
    let ej1 = e[j + 1] as i128;
    let interpolated = ej - floor_div((ej - ej1) * r + 128, 256);
    (interpolated >> n) as u32
}

// ---------------------------------------------------------------------------
// §3-§5: the step and the logits

/// The reference int8 LSTM: h in Q15, c and logits in Q16.16.
#[derive(Debug, Clone)]
pub struct RefLstm<'b> {
    pub blob: &'b I8Blob,
    /// Per layer, h in Q15.
    pub h: Vec<Vec<i16>>,
    /// Per layer, c in Q16.16.
    pub c: Vec<Vec<i32>>,
    /// Q16.16 logits of the current top-layer h.
    pub logits: Vec<i32>,
}

/// `S = Σ_k q[r][k] × x[k]`, exact (in i64, then checked to fit i32 as §3 says it does).
fn dot(m: &I8Matrix, r: usize, x: &[i16]) -> i32 {
    assert_eq!(x.len(), m.cols);
    let mut s: i64 = 0;
    for (k, &xk) in x.iter().enumerate() {
        s += m.at(r, k) as i64 * xk as i64;
    }
    i32::try_from(s).expect("the dot product fits i32")
}

impl<'b> RefLstm<'b> {
    /// The zero state; the logits are those of h = 0.
    pub fn new(blob: &'b I8Blob) -> Self {
        let hidden = blob.hidden;
        let n = blob.layers.len();
        let mut lstm = RefLstm {
            blob,
            h: vec![vec![0; hidden]; n],
            c: vec![vec![0; hidden]; n],
            logits: Vec::new(),
        };
        lstm.update_logits();
        lstm
    }

    /// `z_v = sat_add(mul(1, b_out[v], 16), mul(S_out, s_out[v], 1))` over the top h (§5).
    fn update_logits(&mut self) {
        let top = self.h.last().unwrap();
        let w = &self.blob.w_out;
        self.logits = (0..w.rows)
            .map(|v| {
                sat_add(
                    mul(1, self.blob.b_out[v], 16),
                    mul(dot(w, v, top), w.scales[v], 1),
                )
            })
            .collect();
    }

    /// Feeds the character with id `token`: every layer in order (§3, §4), then the logits.
    pub fn step(&mut self, token: usize) {
        let hidden = self.blob.hidden;
        for l in 0..self.blob.layers.len() {
            let layer = &self.blob.layers[l];
            // §3: one pre-activation per row, rows i | f | g | o.
            let mut z = vec![0i32; 4 * hidden];
            for (r, zr) in z.iter_mut().enumerate() {
                let bias = mul(1, layer.bias[r], 16);
                let mut value = if l == 0 {
                    let q = layer.w_ih.at(r, token) as i32;
                    sat_add(bias, mul(q, layer.w_ih.scales[r], 16))
                } else {
                    // the layer below's h of this same step (already updated)
                    let s_ih = dot(&layer.w_ih, r, &self.h[l - 1]);
                    sat_add(bias, mul(s_ih, layer.w_ih.scales[r], 1))
                };
                let s_hh = dot(&layer.w_hh, r, &self.h[l]);
                value = sat_add(value, mul(s_hh, layer.w_hh.scales[r], 1));
                *zr = value;
            }
            // §4: the cell, every unit from the previous step's h (z is already complete).
            for k in 0..hidden {
                let i = sigmoid(z[k]) as i128;
                let f = sigmoid(z[hidden + k]) as i128;
                let g = tanh(z[2 * hidden + k]) as i128;
                let o = sigmoid(z[3 * hidden + k]) as i128;
                let c_prev = self.c[l][k] as i128;
                let c_new = saturate(floor_div(f * c_prev + 2 * i * g + (1 << 14), 1 << 15));
                let tanh_c = tanh(c_new) as i128;
                let h_new = floor_div(o * tanh_c + (1 << 14), 1 << 15).clamp(-32767, 32767);
                self.c[l][k] = c_new;
                self.h[l][k] = h_new as i16;
            }
        }
        self.update_logits();
    }
}

// ---------------------------------------------------------------------------
// §5: the sampler

/// The reference sampler over Q16.16 logits.
#[derive(Debug, Clone)]
pub struct RefSampler {
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub rng: XorShiftRng,
}

impl RefSampler {
    pub fn new(temperature: f32, top_k: u32, top_p: f32, seed: u64) -> Self {
        RefSampler {
            temperature,
            top_k,
            top_p,
            rng: XorShiftRng::seed_from_u64(seed),
        }
    }

    /// The Q24 weights of step 2: `exp2_neg(mul(gap, L, 0))`, `L = log2(e) as f32 / T`.
    pub fn weights(&self, z: &[i32]) -> Vec<u32> {
        let max = *z.iter().max().unwrap();
        let l = (std::f64::consts::LOG2_E as f32 / self.temperature).to_bits();
        z.iter()
            .map(|&zv| {
                let gap = (max as i64 - zv as i64).min(i32::MAX as i64) as i32;
                exp2_neg(mul(gap, l, 0))
            })
            .collect()
    }

    /// Draws one id from the logits (§5 steps 1-5).
    pub fn sample(&mut self, z: &[i32]) -> usize {
        let v = z.len();
        // 1. T = 0: the first index of the maximum, no RNG word.
        if self.temperature == 0.0 {
            let mut best = 0;
            for id in 1..v {
                if z[id] > z[best] {
                    best = id;
                }
            }
            return best;
        }
        // 2, 3. the weights
        let w = self.weights(z);
        // 4. filtering
        let filtered = (self.top_k >= 1 && (self.top_k as usize) < v) || self.top_p < 1.0;
        let candidates: Vec<usize> = if filtered {
            let mut ranked: Vec<usize> = (0..v).collect();
            ranked.sort_by(|&a, &b| w[b].cmp(&w[a]).then(a.cmp(&b)));
            if self.top_k != 0 {
                ranked.truncate(self.top_k as usize);
            }
            if self.top_p < 1.0 {
                let p = mul(1, self.top_p.to_bits(), 24) as u128;
                let total: u128 = ranked.iter().map(|&id| w[id] as u128).sum();
                let mut cumulative: u128 = 0;
                let mut keep = ranked.len();
                for (n, &id) in ranked.iter().enumerate() {
                    cumulative += w[id] as u128;
                    if cumulative * (1 << 24) >= p * total {
                        keep = n + 1;
                        break;
                    }
                }
                ranked.truncate(keep);
            }
            ranked
        } else {
            (0..v).collect()
        };
        // 5. one RNG word; target = floor(r × total / 2^32) over the kept ids
        let total: u128 = candidates.iter().map(|&id| w[id] as u128).sum();
        let r = self.rng.next_u32() as u128;
        let target = (r * total) >> 32;
        let mut cumulative: u128 = 0;
        for &id in &candidates {
            cumulative += w[id] as u128;
            if cumulative > target {
                return id;
            }
        }
        candidates[0]
    }
}
