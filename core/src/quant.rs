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

/// The f32 LE values of `bytes`, in order (a partial last value is dropped).
#[inline(always)]
pub fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
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
/// Policy: NaN entries are skipped by the max and quantize to 0. `q` comes out in the order
/// [`row_dots`] takes: as `x` on hosts, in `dsp`'s lane order on a Cortex-M with DSP.
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
    #[cfg(all(target_arch = "arm", target_feature = "dsp", target_abi = "eabihf"))]
    lanes::to_lane_order(q);
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
    /// The weight at (row, col), dequantized.
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

    /// `out[i] += row first + i times x`, for consecutive rows: a block of one gate's rows, or
    /// the output layer, contiguous in the blob. The operand kind matches the weights by construction (the generator prepares it
    /// from `Model::quant`); a mismatch, or a row past the matrix, adds nothing.
    pub fn add_dot_rows(&self, first: usize, x: Operand<'_>, out: &mut [f32]) {
        let cols = self.cols.max(1); // the loader rejects cols = 0; never panic regardless
        let span = |size: usize| first * cols * size..(first + out.len()) * cols * size;
        match (self.weights, x) {
            (Weights::I8 { q, scales }, Operand::I16 { q: xq, scale }) => {
                let rows = q.get(span(1)).unwrap_or_default();
                let scales = scales.get(4 * first..).unwrap_or_default();
                add_row_dots(rows, scales, xq, scale, out);
            }
            (Weights::F32(w), Operand::F32(x)) => {
                // Four rows per pass: four independent sums in flight instead of one chain.
                let w = w.get(span(4)).unwrap_or_default();
                let mut quads = out.chunks_exact_mut(4);
                let mut rows = w.chunks_exact(4 * cols);
                for out in &mut quads {
                    let four = [(); 4].map(|_| rows.next().unwrap_or_default());
                    for (out, dot) in out.iter_mut().zip(dot4_f32(four, x)) {
                        *out += dot;
                    }
                }
                for (out, row) in quads.into_remainder().iter_mut().zip(rows) {
                    *out += dot_f32(row, x);
                }
            }
            _ => {}
        }
    }

    /// `out[i] = base[i] +` the weight at (row `first + i`, `col`), dequantized (the same bits
    /// as [`Matrix::get`]), with `base` f32 LE values: the bias plus the one-hot input's
    /// column, in one pass.
    pub fn col_plus(&self, base: &[u8], first: usize, col: usize, out: &mut [f32]) {
        let stride = self.cols.max(1);
        let outs = out.iter_mut().zip(f32s(base));
        match self.weights {
            Weights::I8 { q, scales } => {
                let rows = q.get(first * stride..).unwrap_or_default();
                let rows = rows.chunks_exact(stride);
                let scales = f32s(scales.get(4 * first..).unwrap_or_default());
                for ((out, b), (row, s)) in outs.zip(rows.zip(scales)) {
                    *out = b + row.get(col).map_or(0.0, |&q| q as i8 as f32) * s;
                }
            }
            Weights::F32(w) => {
                let rows = w.get(4 * first * stride..).unwrap_or_default();
                for ((out, b), row) in outs.zip(rows.chunks_exact(4 * stride)) {
                    *out = b + read_f32(row, col);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Kernels

/// Σ q·x over int8 weights (as bytes) and i16 activations, i32 accumulation: the reference.
#[inline]
pub fn dot_i8(q: &[u8], x: &[i16]) -> i32 {
    q.iter().zip(x).fold(0i32, |acc, (&q, &x)| {
        // wrapping: cannot overflow for cols <= MAX_DOT_LEN, and must not panic if it did.
        acc.wrapping_add(q as i8 as i32 * x as i32)
    })
}

/// `out[r] += dequantize(dot_i8(row r, x), s_r, scale)` for each row of `rows` (row-major
/// int8, `x.len()` columns) and its scale `s_r` (f32 LE in `scales`): the kernel of
/// [`Matrix::add_dot_rows`]. On hosts each row is a plain reduction, which LLVM turns into
/// wide SIMD multiply-adds (`vpmaddwd`/`vpdpwssd`; the build targets the native CPU). A
/// Cortex-M with the DSP extension (M4, M7) uses `crate::dsp::add_row_dots` instead: two
/// multiply-adds per instruction, with `x` in that module's lane order.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp", target_abi = "eabihf")))]
#[inline]
pub fn add_row_dots(rows: &[u8], scales: &[u8], x: &[i16], scale: f32, out: &mut [f32]) {
    let rows = rows.chunks_exact(x.len().max(1));
    for ((out, row), s) in out.iter_mut().zip(rows).zip(f32s(scales)) {
        *out += dequantize(dot_i8(row, x), s, scale);
    }
}

#[cfg(all(target_arch = "arm", target_feature = "dsp", target_abi = "eabihf"))]
pub use crate::dsp::add_row_dots;

/// The real value of an integer dot product of a weight row (scale `s`) and an activation
/// vector (scale `scale`).
#[inline(always)]
pub fn dequantize(acc: i32, s: f32, scale: f32) -> f32 {
    acc as f32 * (s * scale)
}

/// The Cortex-M kernel's activation order (`crate::dsp`), in plain Rust so that host tests
/// hold it to the reference [`dot_i8`].
#[cfg(any(
    test,
    all(target_arch = "arm", target_feature = "dsp", target_abi = "eabihf")
))]
pub(crate) mod lanes {
    /// Puts quantized activations into lane order: (x0, x1, x2, x3) -> (x0, x2, x1, x3) in
    /// each whole block of four (the pairs `SXTB16` makes of four weights); a last partial
    /// block stays as it is. Its own inverse.
    pub fn to_lane_order(x: &mut [i16]) {
        for block in x.chunks_exact_mut(4) {
            block.swap(1, 2);
        }
    }

    /// [`super::dot_i8`] with `x` in lane order: the rows and columns the assembly loop
    /// leaves.
    pub fn dot_lanes(w: &[u8], x: &[i16]) -> i32 {
        let n = w.len().min(x.len());
        let body = n / 4 * 4;
        let (w_body, x_body) = (
            w.get(..body).unwrap_or_default(),
            x.get(..body).unwrap_or_default(),
        );
        let blocks = w_body.chunks_exact(4).zip(x_body.chunks_exact(4));
        let acc = blocks.fold(0i32, |acc, (w, x)| {
            let w = |j: usize| w[j] as i8 as i32;
            let sum =
                w(0) * x[0] as i32 + w(1) * x[2] as i32 + w(2) * x[1] as i32 + w(3) * x[3] as i32;
            acc.wrapping_add(sum)
        });
        let (w_tail, x_tail) = (
            w.get(body..n).unwrap_or_default(),
            x.get(body..n).unwrap_or_default(),
        );
        acc.wrapping_add(super::dot_i8(w_tail, x_tail))
    }
}

/// Σ w·x over f32 LE weights (as bytes), summed in index order.
#[inline]
pub fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4).zip(x).fold(0.0, |acc, (w, &x)| {
        acc + f32::from_le_bytes([w[0], w[1], w[2], w[3]]) * x
    })
}

/// Four rows of [`dot_f32`] at once, each summed in index order (the same bits as `dot_f32`).
#[inline]
pub fn dot4_f32(w: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let mut acc = [0.0f32; 4];
    let f = |w: &[u8]| f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    let [a, b, c, d] = w.map(|w| w.chunks_exact(4));
    for ((((a, b), c), d), &x) in a.zip(b).zip(c).zip(d).zip(x) {
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
    fn row_kernel_equals_the_naive_one() {
        // 7 rows of 37 columns (SIMD blocks and a tail on hosts), 8 outputs: the missing row
        // adds nothing.
        let q: [u8; 259] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let x: [i16; 37] = core::array::from_fn(|i| (i as i16 - 18) * 1801);
        let scales: [u8; 32] =
            core::array::from_fn(|i| ((i / 4) as f32 * 0.5 + 0.25).to_le_bytes()[i % 4]);
        let mut out = [1.0f32; 8];
        add_row_dots(&q, &scales, &x, 0.125, &mut out);
        for (r, &out) in out.iter().enumerate().take(7) {
            let s = r as f32 * 0.5 + 0.25;
            let expected = 1.0 + dequantize(dot_i8(&q[37 * r..37 * (r + 1)], &x), s, 0.125);
            assert_eq!(out.to_bits(), expected.to_bits(), "row {r}");
        }
        assert_eq!(out[7], 1.0);
    }

    #[test]
    fn four_row_float_kernel_equals_the_one_row_one() {
        let w: [u8; 160] =
            core::array::from_fn(|i| (((i / 4) as f32 * 0.37 - 3.0).to_le_bytes())[i % 4]);
        let x: [f32; 10] = core::array::from_fn(|i| i as f32 * 0.1 - 0.45);
        let rows: [&[u8]; 4] = [&w[0..40], &w[40..80], &w[80..120], &w[120..160]];
        for (row, dot) in rows.iter().zip(dot4_f32(rows, &x)) {
            assert_eq!(dot.to_bits(), dot_f32(row, &x).to_bits());
        }
    }

    #[test]
    fn lane_order_dot_equals_the_reference() {
        // Every length from 0 to 40: whole blocks of four and each partial tail.
        let w: [u8; 40] = core::array::from_fn(|i| (i as u8).wrapping_mul(101).wrapping_add(7));
        let x: [i16; 40] = core::array::from_fn(|i| (i as i16).wrapping_mul(2711) ^ -1237);
        for n in 0..=40 {
            let mut lanes = x;
            lanes::to_lane_order(&mut lanes[..n]);
            assert_eq!(
                lanes::dot_lanes(&w[..n], &lanes[..n]),
                dot_i8(&w[..n], &x[..n]),
                "n = {n}"
            );
            lanes::to_lane_order(&mut lanes[..n]);
            assert_eq!(lanes, x, "its own inverse, n = {n}");
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
