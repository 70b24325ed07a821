//! Quantization and the matrix kernels (spec §4, §8).
//!
//! Weights: int8 symmetric with one f32 scale per output row, `w ≈ q × s`, `s = max|w_row| / 127`.
//! Activations: quantized per step to i16 with one scale per vector, `x ≈ xq × sx`,
//! `sx = max|x| / 32767`, so a matrix-vector product is an integer dot product with i32
//! accumulation (as llama2.c's runq and CMSIS-NN do) and one float multiply per row:
//! `W x ≈ (s_row × sx) × Σ q·xq`. i16 activations keep the activation rounding error
//! ~256× below the weight rounding error, so the int8 model tracks the float one.
//!
//! The float path (`Quant::F32`) uses the same kernels' shape with f32 arithmetic.

/// Largest |q| of a weight.
pub const Q_WEIGHT_MAX: f32 = 127.0;
/// Largest |xq| of an activation.
pub const Q_ACT_MAX: f32 = 32767.0;
/// Largest dot-product length for which Σ q·xq cannot overflow i32: 127 × 32767 × 516 < 2³¹.
pub const MAX_DOT_LEN: usize = 516;

/// Reads the `i`-th f32 (little-endian) of `bytes`; 0.0 past the end. Blobs are not aligned.
#[inline(always)]
pub fn read_f32(bytes: &[u8], i: usize) -> f32 {
    match bytes.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

/// Quantizes one weight row to int8 (round to nearest, ties away from zero); returns its scale.
/// Policy: an all-zero row gets scale 0 and all-zero q (no NaN).
pub fn quantize_row(row: &[f32], q: &mut [i8]) -> f32 {
    let max = row.iter().fold(0.0f32, |m, &w| m.max(libm::fabsf(w)));
    if max == 0.0 {
        q.iter_mut().for_each(|q| *q = 0);
        return 0.0;
    }
    let inv = Q_WEIGHT_MAX / max;
    for (q, &w) in q.iter_mut().zip(row) {
        *q = libm::roundf(w * inv) as i8; // |w × inv| <= 127, the cast saturates anyway
    }
    max / Q_WEIGHT_MAX
}

/// Quantizes an activation vector to i16; returns its scale (0 for an all-zero vector).
/// Policy: NaN entries are skipped by the max and quantize to 0.
#[inline]
pub fn quantize_activations(x: &[f32], q: &mut [i16]) -> f32 {
    // max |v| over the non-NaN entries, on the bit patterns: for non-negative floats integer
    // order is float order, and an integer max vectorizes where a float one cannot (NaN rules).
    let max_bits = x.iter().fold(0u32, |m, &v| {
        let a = v.to_bits() & 0x7fff_ffff; // |v|
        m.max(if a > f32::INFINITY.to_bits() { 0 } else { a }) // NaN -> 0
    });
    let max = f32::from_bits(max_bits);
    if max == 0.0 || !max.is_finite() {
        q.iter_mut().for_each(|q| *q = 0);
        return 0.0;
    }
    let inv = Q_ACT_MAX / max;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = round_to_i16(v * inv);
    }
    max / Q_ACT_MAX
}

/// `libm::roundf(t) as i16` (round half away from zero, saturating, NaN -> 0), bit for bit,
/// without the libm call: the integer part is exact, and so is `t - trunc(t)` (Sterbenz).
#[inline(always)]
pub fn round_to_i16(t: f32) -> i16 {
    let i = t as i32; // truncates toward zero; saturates; NaN -> 0
    let frac = t - i as f32; // exact: |t| < 2^23 here, or t is an integer and frac = 0
    let r = if frac >= 0.5 {
        i.saturating_add(1)
    } else if frac <= -0.5 {
        i.saturating_sub(1)
    } else {
        i
    };
    r.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

// ---------------------------------------------------------------------------
// Matrices borrowed from the blob

/// How a validated matrix stores its values.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// rows × cols int8, plus rows f32 LE scales.
    I8 { q: &'a [u8], scales: &'a [u8] },
    /// rows × cols f32 LE.
    F32(&'a [u8]),
}

/// A validated row-major matrix borrowed from a blob.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    pub rows: usize,
    pub cols: usize,
    pub weights: Weights<'a>,
}

/// A vector prepared as the right-hand side of a matrix product: quantized for int8
/// matrices, as is for float ones.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'s> {
    I16 { q: &'s [i16], scale: f32 },
    F32(&'s [f32]),
}

impl<'a> Matrix<'a> {
    /// The weight at (row, col), dequantized: the one-hot input's column lookup.
    #[inline]
    pub fn get(&self, row: usize, col: usize) -> f32 {
        let i = row * self.cols + col;
        match self.weights {
            Weights::I8 { q, scales } => {
                q.get(i).map_or(0.0, |&q| q as i8 as f32) * read_f32(scales, row)
            }
            Weights::F32(w) => read_f32(w, i),
        }
    }

    /// Row `row` times `x`. The operand kind matches the weights by construction (the
    /// generator prepares it from `Model::quant`); a mismatch contributes 0.
    #[inline]
    pub fn dot(&self, row: usize, x: Operand<'_>) -> f32 {
        let span = row * self.cols..(row + 1) * self.cols;
        match (self.weights, x) {
            (Weights::I8 { q, scales }, Operand::I16 { q: xq, scale }) => {
                let acc = dot_i8(q.get(span).unwrap_or_default(), xq);
                acc as f32 * (read_f32(scales, row) * scale)
            }
            (Weights::F32(w), Operand::F32(x)) => {
                dot_f32(w.get(span.start * 4..span.end * 4).unwrap_or_default(), x)
            }
            _ => 0.0,
        }
    }

    /// Rows `rows` times `x`, four at once: the four gates of one LSTM unit share each load
    /// of `x`, and on a Cortex-M4 the four accumulators live in registers.
    #[inline]
    pub fn dot4(&self, rows: [usize; 4], x: Operand<'_>) -> [f32; 4] {
        self.rows4(rows).dot(x)
    }

    /// Rows `rows`, borrowed for [`Rows4::dot`] and [`Rows4::col`].
    #[inline]
    pub fn rows4(&self, rows: [usize; 4]) -> Rows4<'a> {
        let n = self.cols;
        match self.weights {
            Weights::I8 { q, scales } => Rows4 {
                rows: rows.map(|r| q.get(r * n..(r + 1) * n).unwrap_or_default()),
                scales: Some(rows.map(|r| read_f32(scales, r))),
            },
            Weights::F32(w) => Rows4 {
                rows: rows.map(|r| w.get(4 * r * n..4 * (r + 1) * n).unwrap_or_default()),
                scales: None,
            },
        }
    }

    /// The gate rows of each LSTM unit of a (4h, cols) gate matrix, unit by unit: rows
    /// k, h+k, 2h+k, 3h+k (i|f|g|o, spec §5) for k = 0..h. Walking the four gate blocks in
    /// step saves the per-unit row arithmetic and bounds checks of [`Matrix::rows4`] (on a
    /// Cortex-M4 about 150 instructions per unit); the rows and scales are the same.
    pub fn gate_rows(&self, h: usize) -> impl Iterator<Item = Rows4<'a>> + use<'a> {
        let (bytes, scales, width) = match self.weights {
            Weights::I8 { q, scales } => (q, Some(scales), self.cols),
            Weights::F32(w) => (w, None, 4 * self.cols),
        };
        let width = width.max(1); // the loader rejects cols = 0; never panic regardless
        let block = move |g: usize| {
            let rows = bytes.get(g * h * width..(g + 1) * h * width);
            rows.unwrap_or_default().chunks_exact(width)
        };
        let units = block(0).zip(block(1)).zip(block(2)).zip(block(3));
        units.enumerate().map(move |(k, (((i, f), g), o))| Rows4 {
            rows: [i, f, g, o],
            scales: scales.map(|s| core::array::from_fn(|j| read_f32(s, j * h + k))),
        })
    }
}

/// Four rows of a [`Matrix`], borrowed from the blob, with their scales (int8) or none (f32).
#[derive(Debug, Clone, Copy)]
pub struct Rows4<'a> {
    rows: [&'a [u8]; 4],
    scales: Option<[f32; 4]>,
}

impl Rows4<'_> {
    /// The four rows times `x`. A mismatch of operand and weight kind contributes 0.
    #[inline]
    pub fn dot(&self, x: Operand<'_>) -> [f32; 4] {
        match (self.scales, x) {
            (Some(s), Operand::I16 { q: xq, scale }) => {
                let acc = dot4_i8(self.rows, xq);
                core::array::from_fn(|j| acc[j] as f32 * (s[j] * scale))
            }
            (None, Operand::F32(x)) => dot4_f32(self.rows, x),
            _ => [0.0; 4],
        }
    }

    /// The four weights of column `col`, dequantized (the same bits as [`Matrix::get`]).
    #[inline]
    pub fn col(&self, col: usize) -> [f32; 4] {
        match self.scales {
            Some(s) => core::array::from_fn(|j| {
                self.rows[j].get(col).map_or(0.0, |&q| q as i8 as f32) * s[j]
            }),
            None => self.rows.map(|w| read_f32(w, col)),
        }
    }
}

// ---------------------------------------------------------------------------
// Kernels. The naive one-row versions are the reference the four-row ones are tested against.

/// Σ q·x over int8 weights (as bytes) and i16 activations, i32 accumulation: the reference.
#[inline]
pub fn dot_i8(q: &[u8], x: &[i16]) -> i32 {
    q.iter().zip(x).fold(0i32, |acc, (&q, &x)| {
        acc.wrapping_add(q as i8 as i32 * x as i32)
    })
}

/// Four rows of [`dot_i8`] at once, exactly equal to it (integer sums are exact in any order),
/// shaped for each target's instruction set.
///
/// Cortex-M (no SIMD): one pass over x, four accumulators in registers, so each activation
/// load serves four multiply-accumulates. Not inlined: in its own function the loop gets
/// all the registers (11 instructions per column of four rows, no spills, on a Cortex-M4).
#[cfg(target_arch = "arm")]
#[inline(never)]
pub fn dot4_i8(q: [&[u8]; 4], x: &[i16]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let rows = q[0].iter().zip(q[1]).zip(q[2]).zip(q[3]).zip(x);
    for ((((&a, &b), &c), &d), &x) in rows {
        let x = x as i32;
        // wrapping: cannot overflow for cols <= MAX_DOT_LEN, and must not panic if it did.
        acc[0] = acc[0].wrapping_add(a as i8 as i32 * x);
        acc[1] = acc[1].wrapping_add(b as i8 as i32 * x);
        acc[2] = acc[2].wrapping_add(c as i8 as i32 * x);
        acc[3] = acc[3].wrapping_add(d as i8 as i32 * x);
    }
    acc
}

/// Four rows of [`dot_i8`] at once, exactly equal to it (integer sums are exact in any order).
///
/// Hosts: four plain reductions, which LLVM turns into wide SIMD multiply-adds
/// (`vpmaddwd`/`vpdpwssd` with AVX2/AVX-512; the build targets the native CPU).
#[cfg(not(target_arch = "arm"))]
#[inline]
pub fn dot4_i8(q: [&[u8]; 4], x: &[i16]) -> [i32; 4] {
    [
        dot_i8(q[0], x),
        dot_i8(q[1], x),
        dot_i8(q[2], x),
        dot_i8(q[3], x),
    ]
}

/// Σ w·x over f32 LE weights (as bytes), summed in index order.
#[inline]
pub fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4).zip(x).fold(0.0, |acc, (w, &x)| {
        acc + f32::from_le_bytes([w[0], w[1], w[2], w[3]]) * x
    })
}

/// Four rows of [`dot_f32`] at once, each summed in index order (same bits as `dot_f32`).
#[inline]
pub fn dot4_f32(w: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let mut acc = [0.0f32; 4];
    let f = |w: &[u8]| f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    let rows = w[0]
        .chunks_exact(4)
        .zip(w[1].chunks_exact(4))
        .zip(w[2].chunks_exact(4));
    for ((((a, b), c), d), &x) in rows.zip(w[3].chunks_exact(4)).zip(x) {
        acc[0] += f(a) * x;
        acc[1] += f(b) * x;
        acc[2] += f(c) * x;
        acc[3] += f(d) * x;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_zero_row_quantizes_to_zeros() {
        let mut q = [1i8; 4];
        assert_eq!(quantize_row(&[0.0; 4], &mut q), 0.0);
        assert_eq!(q, [0; 4]);
    }

    #[test]
    fn quantize_row_rounds_to_nearest_and_hits_127() {
        let mut q = [0i8; 3];
        let s = quantize_row(&[-2.0, 1.0, 0.01], &mut q);
        assert_eq!(q, [-127, 64, 1]);
        assert!((s - 2.0 / 127.0).abs() < 1e-9);
    }

    #[test]
    fn four_row_kernels_equal_the_naive_ones() {
        // 37 columns: SIMD blocks and a tail on hosts.
        let q: [u8; 148] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let x: [i16; 37] = core::array::from_fn(|i| (i as i16 - 18) * 1801);
        let rows: [&[u8]; 4] = [&q[0..37], &q[37..74], &q[74..111], &q[111..148]];
        let acc = dot4_i8(rows, &x);
        for j in 0..4 {
            assert_eq!(acc[j], dot_i8(rows[j], &x));
        }
        let wf: [u8; 160] =
            core::array::from_fn(|i| (((i / 4) as f32 * 0.37 - 3.0).to_le_bytes())[i % 4]);
        let xf: [f32; 10] = core::array::from_fn(|i| i as f32 * 0.1 - 0.45);
        let rows: [&[u8]; 4] = [&wf[0..40], &wf[40..80], &wf[80..120], &wf[120..160]];
        let acc = dot4_f32(rows, &xf);
        for j in 0..4 {
            assert_eq!(acc[j].to_bits(), dot_f32(rows[j], &xf).to_bits());
        }
    }

    #[test]
    fn round_to_i16_is_roundf_then_cast() {
        let special = [
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999997,
            -0.49999997,
            32766.5,
            32767.0,
            32767.5,
            -32768.5,
            -32769.0,
            1e9,
            -1e9,
            8388607.5,
            16777217.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-40,
        ];
        // and a sweep over many magnitudes, including every half-integer step near zero
        let sweep = (0..200_000u32).flat_map(|i| {
            let t = f32::from_bits(0x3000_0000 + i * 0x1F00);
            [t, -t, (i as f32 - 100_000.0) * 0.25]
        });
        for t in special.into_iter().chain(sweep) {
            assert_eq!(round_to_i16(t), libm::roundf(t) as i16, "t = {t:e}");
        }
    }

    #[test]
    fn dot_cannot_overflow_at_max_len() {
        let q = [0x81u8; MAX_DOT_LEN]; // -127
        let x = [-32767i16; MAX_DOT_LEN];
        let exact = 127i64 * 32767 * MAX_DOT_LEN as i64;
        assert_eq!(dot_i8(&q, &x) as i64, exact);
    }
}
