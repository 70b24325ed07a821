//! The int8 matrix kernel on a Cortex-M with the DSP extension (M4, M7, M33): two
//! multiply-adds per instruction.
//!
//! `SXTB16` sign-extends bytes 0 and 2 of a word of four weights into two 16-bit lanes (with
//! `ROR #8`, bytes 1 and 3); `SMLAD` multiplies two lane pairs and adds both products to an
//! i32 accumulator. So the activations are stored in *lane order*: in each block of four,
//! (x0, x2, x1, x3), and one word load gives the pair each `SXTB16` result meets
//! ([`to_lane_order`], applied by the quantizer on this target only). The loop then costs
//! 23 instructions per 16 multiply-adds (two rows, eight columns: one `LDM` of the
//! activations, four weight loads, eight `SXTB16`, eight `SMLAD`, compare, branch), as
//! CMSIS-NN's int8 kernels do.
//!
//! LLVM neither forms these instructions from plain code nor keeps this loop's 12 values in
//! registers, and the intrinsics in `core::arch::arm` are unstable, so the loop is
//! `asm!`: it only reads the three slices it is given. This module is the crate's only
//! `unsafe`. The sums are exact integer sums, so the results equal
//! [`crate::quant::dot_i8`]'s bit for bit (`scripts/ci-qemu.sh` checks the generated text
//! against the host's on several models).
#![allow(unsafe_code)]

use core::arch::asm;

use crate::quant::{dequantize, f32s};

/// Puts quantized activations into lane order: (x0, x1, x2, x3) -> (x0, x2, x1, x3) in each
/// whole block of four; a last partial block stays as it is.
pub fn to_lane_order(x: &mut [i16]) {
    for block in x.chunks_exact_mut(4) {
        block.swap(1, 2);
    }
}

/// [`crate::quant::add_row_dots`] with `x` in lane order. Pairs of rows go through the
/// assembly loop when it can take every column (a multiple of 8, from a word-aligned x: LDM
/// needs it; the generator's buffers are aligned); anything else, and a last odd row, takes
/// the plain path.
pub fn add_row_dots(rows: &[u8], scales: &[u8], x: &[i16], scale: f32, out: &mut [f32]) {
    let cols = x.len().max(1);
    let scales = scales.get(..4 * out.len()).unwrap_or(scales);
    let mut done = 0;
    if x.len() % 8 == 0 && x.as_ptr().align_offset(4) == 0 {
        let pairs = out.chunks_exact_mut(2).zip(rows.chunks_exact(2 * cols));
        for ((out, rows), s) in pairs.zip(scales.chunks_exact(8)) {
            let (a, b) = rows.split_at(cols);
            let [acc0, acc1] = dot2(a, b, x);
            let s = |i: usize| f32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
            out[0] += dequantize(acc0, s(0), scale);
            out[1] += dequantize(acc1, s(4), scale);
            done += 2;
        }
    }
    let rest = out.get_mut(done..).unwrap_or_default().iter_mut();
    let rows = rows.get(done * cols..).unwrap_or_default().chunks_exact(cols);
    let scales = f32s(scales.get(4 * done..).unwrap_or_default());
    for ((out, row), s) in rest.zip(rows).zip(scales) {
        *out += dequantize(dot_lanes(row, x), s, scale);
    }
}

/// Σ w·x with x in lane order, in plain Rust: the columns the assembly loop leaves.
fn dot_lanes(w: &[u8], x: &[i16]) -> i32 {
    let n = w.len().min(x.len());
    let body = n / 4 * 4;
    let (w_body, x_body) = (
        w.get(..body).unwrap_or_default(),
        x.get(..body).unwrap_or_default(),
    );
    let blocks = w_body.chunks_exact(4).zip(x_body.chunks_exact(4));
    let acc = blocks.fold(0i32, |acc, (w, x)| {
        let w = |j: usize| w[j] as i8 as i32;
        let sum = w(0) * x[0] as i32 + w(1) * x[2] as i32 + w(2) * x[1] as i32 + w(3) * x[3] as i32;
        acc.wrapping_add(sum)
    });
    let (w_tail, x_tail) = (
        w.get(body..n).unwrap_or_default(),
        x.get(body..n).unwrap_or_default(),
    );
    acc.wrapping_add(crate::quant::dot_i8(w_tail, x_tail))
}

/// Rows `a` and `b` times `x` (lane order), all three of one length `n`, a multiple of 8, with
/// `x` word-aligned. Anything else gives [0, 0].
#[inline(always)]
fn dot2(a: &[u8], b: &[u8], x: &[i16]) -> [i32; 2] {
    let n = x.len();
    if a.len() != n || b.len() != n || n == 0 || n % 8 != 0 || x.as_ptr().align_offset(4) != 0 {
        return [0; 2];
    }
    let (mut acc0, mut acc1) = (0i32, 0i32);
    // SAFETY: the loop reads exactly `a`, `b` (n bytes each, 4 at a time, LDR allows any
    // alignment) and `x` (n i16, 8 at a time with LDM from a word-aligned start, checked
    // above), and stops when the x pointer reaches the end of `x`: n is a nonzero multiple
    // of 8, so it gets there exactly. It writes only the registers it declares, and no memory.
    unsafe {
        asm!(
            "2:",
            "ldm {px}!, {{r0, r1, r2, r3}}", // x: 8 activations in lane order
            "ldr {w}, [{pa}], #4",
            "sxtb16 {t}, {w}",
            "smlad {acc0}, {t}, r0, {acc0}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc0}, {w}, r1, {acc0}",
            "ldr {w}, [{pb}], #4",
            "sxtb16 {t}, {w}",
            "smlad {acc1}, {t}, r0, {acc1}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc1}, {w}, r1, {acc1}",
            "ldr {w}, [{pa}], #4",
            "sxtb16 {t}, {w}",
            "smlad {acc0}, {t}, r2, {acc0}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc0}, {w}, r3, {acc0}",
            "ldr {w}, [{pb}], #4",
            "sxtb16 {t}, {w}",
            "smlad {acc1}, {t}, r2, {acc1}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc1}, {w}, r3, {acc1}",
            "cmp {px}, {end}",
            "bne 2b",
            px = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr_range().end,
            pa = inout(reg) a.as_ptr() => _,
            pb = inout(reg) b.as_ptr() => _,
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            w = out(reg) _,
            t = out(reg) _,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            options(nostack, readonly),
        );
    }
    [acc0, acc1]
}
