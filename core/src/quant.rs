//! Quantization and the matrix kernels (spec: docs/blob-format.md §4, docs/int8-arithmetic.md).
//!
//! Weights: int8 symmetric with one f32 scale per output row, `w ≈ q × s`, `s = max|w_row| / 127`.
//! Activations (h) are Q15 integers (`crate::fixed`), so a matrix-vector product is an
//! integer dot product with i32 accumulation (as llama2.c's runq and CMSIS-NN do) and one
//! exact fixed-point multiply by the row's scale.
//!
//! The float path (`Quant::F32`) uses the same shape with f32 arithmetic.

use crate::fixed::{H_FRAC, Z_FRAC, mul_f32};

/// Largest |q| of a weight.
pub const Q_WEIGHT_MAX: f32 = 127.0;
/// Largest dot-product length for which Σ q·x cannot overflow i32 with |q| <= 128 (the
/// loader admits -128) and |x| <= 32767 (h is clamped): 128 × 32767 × 512 < 2³¹.
pub const MAX_DOT_LEN: usize = 512;

/// Reads the `i`-th f32 (little-endian) of `bytes`; 0.0 past the end. Blobs are not aligned.
#[inline(always)]
pub fn read_f32(bytes: &[u8], i: usize) -> f32 {
    match bytes.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

/// The u32 LE values of `bytes` (f32 bits), in order (a partial last value is dropped): one
/// unaligned word load each where the core has them.
#[inline(always)]
pub fn words(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .as_chunks::<4>()
        .0
        .iter()
        .map(|&w| u32::from_le_bytes(w))
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

// ---------------------------------------------------------------------------
// Matrices borrowed from the blob

/// How a validated matrix stores its values.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// rows × cols int8, plus rows f32 LE scales.
    I8 {
        /// rows × cols int8 values, row-major.
        q: &'a [u8],
        /// rows f32 LE scales: w ≈ q × scale of its row.
        scales: &'a [u8],
    },
    /// rows × cols f32 LE.
    F32(&'a [u8]),
}

/// A validated row-major matrix borrowed from a blob.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    /// Rows (outputs).
    pub rows: usize,
    /// Columns (inputs).
    pub cols: usize,
    /// The values, as the blob stores them.
    pub weights: Weights<'a>,
}

/// Rows per call of the integer kernel: the length of the sums buffer the generator gives
/// [`Matrix::add_scaled_dots`]. On a microcontroller as many as the generator's chunk of
/// units, since each call costs about a hundred instructions of setup there.
pub const BLOCK: usize = if cfg!(target_os = "none") { 64 } else { 16 };

impl<'a> Matrix<'a> {
    /// Float path: `out[i] += row first + i · x`, for consecutive rows (a block of one
    /// gate's rows, or the output layer, contiguous in the blob). Adds nothing for an int8
    /// matrix or a row past the matrix.
    pub fn add_dot_rows(&self, first: usize, x: &[f32], out: &mut [f32]) {
        let Weights::F32(w) = self.weights else {
            return;
        };
        let cols = self.cols.max(1); // the loader rejects cols = 0; never panic regardless
        let w = w
            .get(4 * first * cols..4 * (first + out.len()) * cols)
            .unwrap_or_default();
        // Four rows per pass: four independent sums in flight instead of one chain.
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

    /// Float path: `out[i] = base[i] +` the weight at (row `first + i`, `col`), with `base`
    /// f32 LE values: the bias plus the one-hot input's column, in one pass.
    pub fn col_plus(&self, base: &[u8], first: usize, col: usize, out: &mut [f32]) {
        let Weights::F32(w) = self.weights else {
            return;
        };
        let stride = self.cols.max(1);
        let rows = w.get(4 * first * stride..).unwrap_or_default();
        for ((out, b), row) in out
            .iter_mut()
            .zip(f32s(base))
            .zip(rows.chunks_exact(4 * stride))
        {
            *out = b + read_f32(row, col);
        }
    }

    /// Int8 path: `z[i] += round(s · Σ q·x · 2^(16 - 15))` for rows `first + i`, with `x` in
    /// Q15 and `z` in Q16.16 (docs/int8-arithmetic.md §3): the integer dot product, then the
    /// row's scale. Adds nothing for a float matrix or a row past the matrix. `sums` is
    /// scratch for the integer sums (its old values are never read): the rows go in blocks
    /// of its length; the caller keeps it, so that no call clears a buffer.
    pub fn add_scaled_dots<const H: usize>(
        &self,
        first: usize,
        x: &Prepared<H>,
        z: &mut [i32],
        sums: &mut [i32],
    ) {
        let Weights::I8 { q, scales } = self.weights else {
            return;
        };
        let block = sums.len();
        if block == 0 {
            return; // no room for a sum; never panic regardless
        }
        let cols = x.len();
        if cols != self.cols {
            return; // the generator prepares x from this matrix's input; never panic regardless
        }
        let rows = q.get(first * cols..).unwrap_or_default();
        let scales = scales.get(4 * first..).unwrap_or_default();
        let blocks = z
            .chunks_mut(block)
            .zip(rows.chunks(block * cols.max(1)))
            .zip(scales.chunks(4 * block));
        for ((z, rows), scales) in blocks {
            let sums = &mut sums[..z.len()];
            row_dots(rows, x.lanes(), sums);
            for ((z, &sum), s) in z.iter_mut().zip(sums.iter()).zip(words(scales)) {
                *z = z.saturating_add(scale_sum(sum, s));
            }
        }
    }

    /// Int8 path, one-hot input, in one pass: `z[i] = bias[i] + round(q · s · 2^16)` (adding
    /// with saturation), a bias already in Q16.16 plus [`Matrix::add_column`]'s weight; the
    /// bias alone where that adds nothing. Sets no row past `bias`.
    pub fn bias_plus_column(&self, bias: &[i32], first: usize, col: usize, z: &mut [i32]) {
        let n = z.len().min(bias.len());
        let (z, bias) = (&mut z[..n], &bias[..n]);
        let Weights::I8 { q, scales } = self.weights else {
            return z.copy_from_slice(bias);
        };
        let stride = self.cols.max(1);
        let scales = scales.get(4 * first..).unwrap_or_default();
        if col >= stride || scales.len() / 4 < n {
            z.copy_from_slice(bias);
            return self.add_column(first, col, z);
        }
        let column = column(q, stride, first, col);
        for ((z, (&b, s)), q) in z.iter_mut().zip(bias.iter().zip(words(scales))).zip(column) {
            *z = b.saturating_add(mul_f32(q, s, Z_FRAC));
        }
    }

    /// Int8 path, one-hot input: `z[i] += round(q · s · 2^16)` (adding with saturation), the
    /// weight at (row `first + i`, `col`) in Q16.16 onto z's bias (docs/int8-arithmetic.md
    /// §3). Adds nothing for a float matrix, a row past the matrix or a `col` past the row
    /// (the loader rules both out).
    #[inline(never)] // a pass of its own, with the registers to itself
    pub fn add_column(&self, first: usize, col: usize, z: &mut [i32]) {
        let Weights::I8 { q, scales } = self.weights else {
            return;
        };
        let stride = self.cols.max(1);
        let scales = scales.get(4 * first..).unwrap_or_default();
        let n = z.len().min(scales.len() / 4);
        let z = &mut z[..n];
        if col >= stride {
            return;
        }
        let column = column(q, stride, first, col);
        for ((z, s), q) in z.iter_mut().zip(words(scales)).zip(column) {
            *z = z.saturating_add(mul_f32(q, s, Z_FRAC));
        }
    }
}

/// The int8 weights at column `col` of the rows from `first` on (row-major, `stride` per row),
/// row by row; 0 for a `col` past the row.
#[inline(always)]
fn column(q: &[u8], stride: usize, first: usize, col: usize) -> impl Iterator<Item = i32> + '_ {
    let rows = q.get(first * stride..).unwrap_or_default();
    rows.chunks_exact(stride)
        .map(move |row| row.get(col).map_or(0, |&q| q as i8 as i32))
}

/// `mul_f32(sum, s, 16 - 15)`: a row's dot product in Q16.16. Out of line on ARMv6-M, where
/// inlined into the loop its eight low registers spill.
#[cfg_attr(all(target_arch = "arm", not(target_feature = "v7")), inline(never))]
#[cfg_attr(
    not(all(target_arch = "arm", not(target_feature = "v7"))),
    inline(always)
)]
fn scale_sum(sum: i32, s: u32) -> i32 {
    mul_f32(sum, s, Z_FRAC - H_FRAC)
}

/// `z[i] = round(b_i · 2^16)` for the f32 LE values `b`: a bias in Q16.16 (0 past its end).
#[inline(never)] // a pass of its own, with the registers to itself
pub fn set_bias(bias: &[u8], z: &mut [i32]) {
    let n = z.len().min(bias.len() / 4);
    let (z, rest) = z.split_at_mut(n);
    for (z, b) in z.iter_mut().zip(words(bias)) {
        *z = mul_f32(1, b, Z_FRAC);
    }
    rest.fill(0);
}

// ---------------------------------------------------------------------------
// The integer operand and kernels

/// One activation as the integer kernel reads it: i16 on most targets; widened to i32 on
/// ARMv6-M, whose kernel loads one per `LDM` (`crate::cortex_m`).
#[cfg(not(all(target_arch = "arm", not(target_feature = "v7"))))]
pub type Lane = i16;
/// One activation as the integer kernel reads it: i16 on most targets; widened to i32 on
/// ARMv6-M, whose kernel loads one per `LDM` (`crate::cortex_m`).
#[cfg(all(target_arch = "arm", not(target_feature = "v7")))]
pub type Lane = i32;

/// A Q15 vector laid out for this target's kernel ([`Prepared::set`]): a copy, so the state
/// it came from may change while products read it. Word-aligned: the Cortex-M kernels load
/// it words at a time.
#[derive(Debug, Clone)]
#[repr(align(4))]
pub struct Prepared<const H: usize> {
    lanes: [Lane; H],
    len: usize,
}

impl<const H: usize> Prepared<H> {
    /// An empty vector.
    pub const fn new() -> Self {
        Prepared {
            lanes: [0; H],
            len: 0,
        }
    }

    /// Copies `h` (at most H values), in `lanes::to_lane_order` on a Cortex-M with DSP.
    #[inline]
    pub fn set(&mut self, h: &[i16]) {
        self.len = h.len().min(H);
        for (lane, &v) in self.lanes.iter_mut().zip(h) {
            *lane = v as Lane;
        }
        #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
        lanes::to_lane_order(&mut self.lanes[..self.len]);
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values in the kernel's layout.
    pub fn lanes(&self) -> &[Lane] {
        self.lanes.get(..self.len).unwrap_or_default()
    }
}

impl<const H: usize> Default for Prepared<H> {
    fn default() -> Self {
        Self::new()
    }
}

/// Σ q·x over int8 weights (as bytes) and Q15 activations, i32 accumulation: the reference.
#[inline]
pub fn dot_i8(q: &[u8], x: &[Lane]) -> i32 {
    q.iter().zip(x).fold(0i32, |acc, (&q, &x)| {
        // wrapping: cannot overflow for cols <= MAX_DOT_LEN, and must not panic if it did.
        acc.wrapping_add(q as i8 as i32 * x as i32)
    })
}

/// `out[r] = Σ row r × x` for the rows of `rows` (row-major int8, `x.len()` columns): the
/// kernel of [`Matrix::add_scaled_dots`]. On hosts each row is a plain reduction (LLVM turns
/// it into SIMD multiply-adds); RV32 takes four rows per pass ([`quad_rows`]); Cortex-M cores
/// use `crate::cortex_m`'s assembly (two multiply-adds per instruction with DSP, four rows
/// per column on ARMv6-M). Exact integer sums, so every kernel gives [`dot_i8`]'s values.
#[cfg(not(any(target_arch = "arm", target_arch = "riscv32")))]
#[inline]
pub fn row_dots(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    let rows = rows.chunks_exact(x.len().max(1));
    for (out, row) in out.iter_mut().zip(rows) {
        *out = dot_i8(row, x);
    }
}

/// [`row_dots`] on RV32, four rows per pass: one load of each activation serves four rows.
#[cfg(any(test, target_arch = "riscv32"))]
pub fn quad_rows(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    let cols = x.len().max(1);
    let mut groups = out.chunks_exact_mut(4);
    let mut row_groups = rows.chunks_exact(4 * cols);
    for (out, group) in (&mut groups).zip(&mut row_groups) {
        let (r0, rest) = group.split_at(cols);
        let (r1, rest) = rest.split_at(cols);
        let (r2, r3) = rest.split_at(cols);
        let mut acc = [0i32; 4];
        // Four columns per iteration: immediate offsets instead of pointer steps.
        let quads = r0
            .chunks_exact(4)
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4))
            .zip(x.chunks_exact(4));
        for ((((a, b), c), d), x) in quads {
            for k in 0..4 {
                let x = x[k] as i32;
                acc[0] = acc[0].wrapping_add(a[k] as i8 as i32 * x);
                acc[1] = acc[1].wrapping_add(b[k] as i8 as i32 * x);
                acc[2] = acc[2].wrapping_add(c[k] as i8 as i32 * x);
                acc[3] = acc[3].wrapping_add(d[k] as i8 as i32 * x);
            }
        }
        let body = cols / 4 * 4;
        let x_tail = x.get(body..).unwrap_or_default();
        for ((out, acc), row) in out.iter_mut().zip(acc).zip([r0, r1, r2, r3]) {
            *out = acc.wrapping_add(dot_i8(row.get(body..).unwrap_or_default(), x_tail));
        }
    }
    let rest = groups.into_remainder().iter_mut();
    for (out, row) in rest.zip(row_groups.remainder().chunks_exact(cols)) {
        *out = dot_i8(row, x);
    }
}

/// [`row_dots`] on RV32: [`quad_rows`], with the row length a constant for the usual hidden
/// sizes, so each group's four rows are immediate offsets from one pointer (RV32 loads take
/// no register offset): about 3.4 instructions per multiply-add instead of 4.1.
#[cfg(target_arch = "riscv32")]
pub fn row_dots(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    match x.len() {
        64 => quad_rows_of::<64>(rows, x, out),
        128 => quad_rows_of::<128>(rows, x, out),
        256 => quad_rows_of::<256>(rows, x, out),
        _ => quad_rows(rows, x, out),
    }
}

/// [`quad_rows`] for rows of exactly `C` columns (`x.len() == C`, a multiple of 4).
#[cfg(any(test, target_arch = "riscv32"))]
fn quad_rows_of<const C: usize>(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    let Ok(x) = <&[Lane; C]>::try_from(x) else {
        return quad_rows(rows, x, out);
    };
    let mut groups = out.chunks_exact_mut(4);
    let mut row_groups = rows.chunks_exact(4 * C);
    for (out, group) in (&mut groups).zip(&mut row_groups) {
        let mut acc = [0i32; 4];
        // A window that steps 4 columns on: its rows sit at the constant offsets 0, C, 2C, 3C.
        let (mut w, mut xs) = (group, &x[..]);
        while let (Some(xq), true) = (xs.first_chunk::<4>(), w.len() > 3 * C + 3) {
            for (j, &x) in xq.iter().enumerate() {
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc = acc.wrapping_add(w[r * C + j] as i8 as i32 * x as i32);
                }
            }
            (w, xs) = (&w[4..], &xs[4..]);
        }
        out.copy_from_slice(&acc);
    }
    let rest_out = groups.into_remainder().iter_mut();
    for (out, row) in rest_out.zip(row_groups.remainder().chunks_exact(C)) {
        *out = dot_i8(row, x);
    }
}

#[cfg(target_arch = "arm")]
pub use crate::cortex_m::row_dots;

/// The DSP kernel's activation order (`crate::cortex_m`), in plain Rust so that host tests
/// hold it to the reference [`dot_i8`].
#[cfg(any(test, all(target_arch = "arm", target_feature = "dsp")))]
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
        // is left as it was.
        let q: [u8; 259] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let x: [Lane; 37] = core::array::from_fn(|i| (i as Lane - 18) * 1801);
        let mut out = [1i32; 8];
        row_dots(&q, &x, &mut out);
        for (r, &out) in out.iter().enumerate().take(7) {
            let naive: i32 = (0..37)
                .map(|c| q[37 * r + c] as i8 as i32 * x[c] as i32)
                .sum();
            assert_eq!(out, naive, "row {r}");
        }
        assert_eq!(out[7], 1);
    }

    #[test]
    fn four_row_int8_kernel_equals_the_naive_one() {
        // 9 rows (two groups of four and one left over) of 1 to 13 columns (whole blocks of
        // four and tails); a tenth output past the rows stays as it was.
        for cols in 1..=13 {
            let q: [u8; 117] = core::array::from_fn(|i| (i as u8).wrapping_mul(89) ^ 0x5a);
            let x: [Lane; 13] = core::array::from_fn(|i| (i as Lane - 6) * 5003);
            let (q, x) = (&q[..9 * cols], &x[..cols]);
            let mut out = [7i32; 10];
            quad_rows(q, x, &mut out);
            for (r, &out) in out.iter().enumerate().take(9) {
                assert_eq!(
                    out,
                    dot_i8(&q[cols * r..cols * (r + 1)], x),
                    "cols {cols} row {r}"
                );
            }
            assert_eq!(out[9], 7);
            if cols == 12 {
                let mut fixed = [7i32; 10];
                quad_rows_of::<12>(q, x, &mut fixed);
                assert_eq!(fixed, out, "the constant-length kernel");
            }
        }
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
    fn dot_cannot_overflow_at_max_len() {
        let q = [0x80u8; MAX_DOT_LEN]; // -128
        let x = [-32767 as Lane; MAX_DOT_LEN];
        let exact = 128i64 * 32767 * MAX_DOT_LEN as i64;
        assert_eq!(dot_i8(&q, &x) as i64, exact);
    }
}
