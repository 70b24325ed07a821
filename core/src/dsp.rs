//! The int8 matrix kernel on a Cortex-M with the DSP extension (M4, M7, M33): two
//! multiply-adds per instruction.
//!
//! `SXTB16` sign-extends bytes 0 and 2 of a word of four weights into two 16-bit lanes (with
//! `ROR #8`, bytes 1 and 3); `SMLAD` multiplies two lane pairs and adds both products to an
//! i32 accumulator. So the activations are stored in *lane order*: in each block of four,
//! (x0, x2, x1, x3), and one word load gives the pair each `SXTB16` result meets
//! (`quant::lanes`, applied by the quantizer on this target only). The loop then costs
//! 23 instructions per 16 multiply-adds (two rows, eight columns: one `LDM` of the
//! activations, four weight loads, eight `SXTB16`, eight `SMLAD`, compare, branch), as
//! CMSIS-NN's int8 kernels do, and about 25 more per pair of rows to scale and add the two
//! sums.
//!
//! LLVM neither forms these instructions from plain code nor keeps this loop's values in
//! registers (it needs all twelve that inline assembly may use, so the pair loop's own state
//! lives in memory), and the intrinsics in `core::arch::arm` are unstable, so the loop is
//! `asm!`: it only reads the slices it is given and writes its outputs. This module is the
//! crate's only `unsafe`. The sums are exact integer sums, so the results equal
//! [`crate::quant::dot_i8`]'s bit for bit (`scripts/ci-qemu.sh` checks the generated text
//! against the host's on several models).
#![allow(unsafe_code)]

use core::arch::asm;

use crate::quant::lanes::dot_lanes;
use crate::quant::{dequantize, f32s};

/// [`crate::quant::add_row_dots`] with `x` in lane order. Pairs of rows go through the
/// assembly loop when it can take every column (a multiple of 8, from a word-aligned x: LDM
/// needs it; the generator's buffers are aligned); anything else, and a last odd row, takes
/// the plain path.
pub fn add_row_dots(rows: &[u8], scales: &[u8], x: &[i16], scale: f32, out: &mut [f32]) {
    let cols = x.len();
    let fast = cols > 0 && cols % 8 == 0 && x.as_ptr() as usize % 4 == 0;
    // Whole pairs that rows, scales and out all hold.
    let pairs = if fast {
        (out.len() / 2)
            .min(rows.len() / cols / 2)
            .min(scales.len() / 8)
    } else {
        0
    };
    if let Some(out) = out.get_mut(..2 * pairs).filter(|out| !out.is_empty()) {
        add_pair_dots(rows, scales, x, scale, out);
    }
    let done = 2 * pairs;
    let rest = out.get_mut(done..).unwrap_or_default().iter_mut();
    let rows = rows
        .get(done * cols..)
        .unwrap_or_default()
        .chunks_exact(cols.max(1));
    let scales = f32s(scales.get(4 * done..).unwrap_or_default());
    for ((out, row), s) in rest.zip(rows).zip(scales) {
        *out += dequantize(dot_lanes(row, x), s, scale);
    }
}

/// The assembly loop: for each pair of rows (a, b) and of outputs,
/// `out += dequantize(Σ row × x, s_row, scale)`, with the arithmetic of
/// [`crate::quant::dequantize`] and `+=` (VMLA rounds the product, then the sum).
///
/// Preconditions (checked by [`add_row_dots`], then asserted here without panicking: a
/// violation does nothing): `out` holds a nonzero even number of values, `rows` at least
/// that many rows of `x.len()` bytes, `scales` that many f32; `x.len()` is a nonzero
/// multiple of 8 and `x` is word-aligned.
fn add_pair_dots(rows: &[u8], scales: &[u8], x: &[i16], scale: f32, out: &mut [f32]) {
    let (n, cols) = (out.len(), x.len());
    if n == 0 || n % 2 != 0 || cols == 0 || cols % 8 != 0 || x.as_ptr() as usize % 4 != 0 {
        return;
    }
    if rows.len() / cols < n || scales.len() / 4 < n {
        return;
    }
    let out = out.as_mut_ptr_range();
    // The outer loop's state, kept in memory: the loop needs every register it may use.
    let mut state = [
        scales.as_ptr() as u32,
        out.start as u32,
        out.end as u32,
        scale.to_bits(),
    ];
    // SAFETY: the loop reads `n` rows of `cols` bytes from `rows` (LDR allows any alignment),
    // `n` f32 from `scales` (LDR), `x` (n / 2 times, 8 i16 per LDM from a word-aligned start,
    // stopping exactly at its end since cols is a nonzero multiple of 8), and reads and
    // writes the `n` f32 of `out` and `state`, all checked above. It pushes 40 bytes and pops
    // them before it ends; it writes only the registers it declares, and s0-s7, which it
    // restores.
    unsafe {
        asm!(
            // Rust's asm! offers no FP register class on this target, so the FP registers the
            // loop uses are saved and restored here.
            "vpush {{s0-s7}}",
            "push {{r0, r1}}",            // [sp] = &state
            "mov {acc0}, #0",
            "mov {acc1}, #0",
            "2:",                         // one block of 8 columns of rows a and b
            "ldm {px}!, {{r0, r1, r2, r3}}", // x: 8 activations in lane order
            "ldr {w}, [{pa}, {cols}]",    // b, columns 0..4
            "sxtb16 {t}, {w}",
            "smlad {acc1}, {t}, r0, {acc1}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc1}, {w}, r1, {acc1}",
            "ldr {w}, [{pa}], #4",        // a, columns 0..4
            "sxtb16 {t}, {w}",
            "smlad {acc0}, {t}, r0, {acc0}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc0}, {w}, r1, {acc0}",
            "ldr {w}, [{pa}, {cols}]",    // b, columns 4..8
            "sxtb16 {t}, {w}",
            "smlad {acc1}, {t}, r2, {acc1}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc1}, {w}, r3, {acc1}",
            "ldr {w}, [{pa}], #4",        // a, columns 4..8
            "sxtb16 {t}, {w}",
            "smlad {acc0}, {t}, r2, {acc0}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc0}, {w}, r3, {acc0}",
            "cmp {px}, {end}",
            "bne 2b",
            // The pair is done: out[a] += acc0 as f32 * (s_a * scale), same for b.
            "ldr {t}, [sp]",
            "ldm {t}, {{r0, r1, r2}}",    // scales, out, out end
            "vldr s6, [{t}, #12]",        // scale
            "ldr r3, [r0], #4",
            "vmov s2, r3",
            "ldr r3, [r0], #4",
            "vmov s3, r3",
            "vmul.f32 s2, s2, s6",
            "vmul.f32 s3, s3, s6",
            "vmov s0, {acc0}",
            "vcvt.f32.s32 s0, s0",
            "vmov s1, {acc1}",
            "vcvt.f32.s32 s1, s1",
            "vldr s4, [r1]",
            "vldr s5, [r1, #4]",
            "vmla.f32 s4, s0, s2",
            "vmla.f32 s5, s1, s3",
            "vstr s4, [r1]",
            "vstr s5, [r1, #4]",
            "add r1, r1, #8",
            "stm {t}, {{r0, r1}}",
            "cmp r1, r2",
            "beq 3f",
            "add {pa}, {pa}, {cols}",     // skip row b: the next pair
            "sub {px}, {end}, {cols}, lsl #1", // x from the start
            "mov {acc0}, #0",
            "mov {acc1}, #0",
            "b 2b",
            "3:",
            "add sp, sp, #8",
            "vpop {{s0-s7}}",
            pa = inout(reg) rows.as_ptr() => _,
            cols = in(reg) cols,
            px = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr_range().end,
            acc0 = out(reg) _,
            acc1 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            inout("r0") state.as_mut_ptr() => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
        );
    }
}
