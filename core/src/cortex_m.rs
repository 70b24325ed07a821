//! The int8 matrix kernels on Cortex-M: [`row_dots`] for the three kinds of core.
//!
//! - With the DSP extension (M4, M7, M33): two multiply-adds per instruction. `SXTB16`
//!   sign-extends bytes 0 and 2 of a word of four weights into two 16-bit lanes (with
//!   `ROR #8`, bytes 1 and 3); `SMLAD` multiplies two lane pairs and adds both products to an
//!   i32 accumulator. So the activations are stored in *lane order*: in each block of four,
//!   (x0, x2, x1, x3), and one word load gives the pair each `SXTB16` result meets
//!   (`quant::lanes`, applied by `Prepared::set` on this target only). Four rows at a time,
//!   four columns a block: one `LDM` of the activations, then per row a weight load, two
//!   `SXTB16` and two `SMLAD`, 21 instructions per 16 multiply-adds, and a compare and
//!   branch per 8 blocks where the row divides by 32 (1.33 per multiply-add; the floor of
//!   this scheme, with the `LDM` free, is 1.25).
//! - ARMv6-M (M0, M0+): no multiply-accumulate, and loads of signed bytes take only a register
//!   offset. Four rows at a time, one column at a time: the column's activation (widened to
//!   i32 by `Prepared::set`, so one `LDM` loads it and steps on), then per row `LDRSB` at the
//!   row's offset, `MULS`, and an `ADD` into one of four accumulators in the high registers:
//!   58 instructions per 16 multiply-adds.
//! - Others (an M3): the plain loop.
//!
//! LLVM forms neither loop from plain code, and the intrinsics in `core::arch::arm` are
//! unstable, so the loops are `asm!`: each only reads the slices it is given and writes its
//! outputs. This module is the crate's only `unsafe`. The sums are exact integer sums, so the
//! results equal [`crate::quant::dot_i8`]'s bit for bit (tested on the host for the lane
//! order; `scripts/ci-qemu.sh` checks the generated text against the host's on each core).
#![allow(unsafe_code)]

#[cfg(any(target_feature = "dsp", not(target_feature = "v7")))]
use core::arch::asm;

use crate::quant::Lane;

/// [`crate::quant::row_dots`] with DSP: groups of four rows go through the assembly loop
/// when it can take every column (a multiple of 4, from a word-aligned x: LDM needs it;
/// `Prepared` is aligned); anything else, and the last rows of a partial group, take the
/// plain path (in lane order).
#[cfg(target_feature = "dsp")]
pub fn row_dots(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    use crate::quant::lanes::dot_lanes;
    let cols = x.len();
    let fast = cols > 0 && cols % 4 == 0 && x.as_ptr() as usize % 4 == 0;
    let quads = if fast {
        (out.len() / 4).min(rows.len() / cols / 4)
    } else {
        0
    };
    if let Some(out) = out.get_mut(..4 * quads).filter(|out| !out.is_empty()) {
        // As many blocks of four columns per pass as divide the row: fewer compares and
        // branches.
        match cols % 32 {
            0 => smlad_quads::<8>(rows, x, out),
            16 => smlad_quads::<4>(rows, x, out),
            8 | 24 => smlad_quads::<2>(rows, x, out),
            _ => smlad_quads::<1>(rows, x, out),
        }
    }
    let done = 4 * quads;
    let rest = out.get_mut(done..).unwrap_or_default().iter_mut();
    let rows = rows
        .get(done * cols..)
        .unwrap_or_default()
        .chunks_exact(cols.max(1));
    for (out, row) in rest.zip(rows) {
        *out = dot_lanes(row, x);
    }
}

/// The DSP loop: for each group of four rows (a, b, c, d), `out[a..=d] = Σ row × x`.
///
/// Preconditions (checked by [`row_dots`], then asserted here without panicking: a
/// violation does nothing): `out` holds a nonzero multiple of 4 values, `rows` at least
/// that many rows of `x.len()` bytes; `x.len()` is a nonzero multiple of 4 × BLOCKS and `x`
/// is word-aligned.
#[cfg(target_feature = "dsp")]
fn smlad_quads<const BLOCKS: usize>(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    let (n, cols) = (out.len(), x.len());
    if n == 0 || n % 4 != 0 || cols == 0 || cols % (4 * BLOCKS) != 0 || x.as_ptr() as usize % 4 != 0
    {
        return;
    }
    if rows.len() / cols < n {
        return;
    }
    let out = out.as_mut_ptr_range();
    // The outer loop's state, kept in memory: the loop needs every register it may use.
    let mut state = [out.start as u32, out.end as u32];
    // SAFETY: the loop reads `n` rows of `cols` bytes from `rows` (LDR allows any alignment;
    // rows b, c, d at `cols`, `2 cols` and `3 cols` past row a's pointer), `x` (n / 4 times,
    // 4 i16 per LDM from a word-aligned start, stopping exactly at its end since cols is a
    // nonzero multiple of the 4 × BLOCKS a pass takes), writes the `n` i32 of `out` and reads
    // and writes `state`, all checked above. r7 (which asm! may not name) is pushed with
    // &state and popped before it ends; it writes no other register but those it declares.
    unsafe {
        asm!(
            "push {{r0, r7}}",            // [sp] = &state
            "add r7, {cols}, {cols}, lsl #1", // 3 cols: row d's offset
            "2:",                         // a group of four rows
            "mov {acc0}, #0",
            "mov {acc1}, #0",
            "mov {acc2}, #0",
            "mov {acc3}, #0",
            "3:",                         // BLOCKS blocks of 4 columns of rows a, b, c, d
            ".rept {blocks}",
            "ldm {px}!, {{r0, r1}}",      // x: 4 activations in lane order
            "ldr {w}, [{pa}, {cols}]",    // b
            "sxtb16 {t}, {w}",
            "smlad {acc1}, {t}, r0, {acc1}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc1}, {w}, r1, {acc1}",
            "ldr {w}, [{pa}, {cols}, lsl #1]", // c
            "sxtb16 {t}, {w}",
            "smlad {acc2}, {t}, r0, {acc2}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc2}, {w}, r1, {acc2}",
            "ldr {w}, [{pa}, r7]",        // d
            "sxtb16 {t}, {w}",
            "smlad {acc3}, {t}, r0, {acc3}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc3}, {w}, r1, {acc3}",
            "ldr {w}, [{pa}], #4",        // a, and on to the next 4 columns
            "sxtb16 {t}, {w}",
            "smlad {acc0}, {t}, r0, {acc0}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {acc0}, {w}, r1, {acc0}",
            ".endr",
            "cmp {px}, {end}",
            "bne 3b",
            // The group is done: store its sums, then on to the next group or out.
            "ldr {t}, [sp]",
            "ldm {t}, {{r0, r1}}",        // out, out end
            "str {acc0}, [r0], #4",
            "str {acc1}, [r0], #4",
            "str {acc2}, [r0], #4",
            "str {acc3}, [r0], #4",
            "str r0, [{t}]",
            "cmp r0, r1",
            "beq 4f",
            "add {pa}, {pa}, r7",         // skip rows b, c, d: the next group
            "sub {px}, {end}, {cols}, lsl #1", // x from the start
            "b 2b",
            "4:",
            "pop {{r0, r7}}",
            pa = inout(reg) rows.as_ptr() => _,
            cols = in(reg) cols,
            px = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr_range().end,
            blocks = const BLOCKS,
            acc0 = out(reg) _,
            acc1 = out(reg) _,
            acc2 = out(reg) _,
            acc3 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            inout("r0") state.as_mut_ptr() => _,
            out("r1") _,
        );
    }
}

/// [`crate::quant::row_dots`] on ARMv6-M: groups of four rows through the assembly loop over
/// the columns it takes (a multiple of 4); the other columns and a last partial group take
/// the plain path.
#[cfg(not(target_feature = "v7"))]
pub fn row_dots(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    use crate::quant::dot_i8;
    let cols = x.len();
    if cols == 0 {
        out.fill(0);
        return;
    }
    let n = out.len().min(rows.len() / cols);
    let (out, rows) = (&mut out[..n], rows.get(..n * cols).unwrap_or_default());
    let body = cols / 4 * 4;
    let (x_body, x_tail) = x.split_at(body);
    let mut groups = out.chunks_exact_mut(4);
    let mut row_groups = rows.chunks_exact(4 * cols);
    for (out, group) in (&mut groups).zip(&mut row_groups) {
        let sums = quad_dots(group, cols, x_body);
        for ((out, sum), row) in out.iter_mut().zip(sums).zip(group.chunks_exact(cols)) {
            *out = sum.wrapping_add(dot_i8(row.get(body..).unwrap_or_default(), x_tail));
        }
    }
    let rest = groups.into_remainder().iter_mut();
    for (out, row) in rest.zip(row_groups.remainder().chunks_exact(cols)) {
        *out = dot_i8(row, x);
    }
}

/// The ARMv6-M loop: Σ row r × x over the first `x.len()` columns of the four rows of
/// `group` (stride `cols`). Preconditions (checked, a violation gives zeros): `x.len()` is a
/// multiple of 4 and at most `cols`, `group` holds 4 rows of `cols` bytes, `x` is
/// word-aligned (it is: `Lane` is i32 here).
#[cfg(not(target_feature = "v7"))]
fn quad_dots(group: &[u8], cols: usize, x: &[Lane]) -> [i32; 4] {
    let n = x.len();
    if n == 0 || n % 4 != 0 || n > cols || group.len() < 4 * cols {
        return [0; 4];
    }
    let (a0, a1, a2, a3): (i32, i32, i32, i32);
    let end = x.as_ptr_range().end;
    // SAFETY: the loop reads the first `n` bytes of each of the 4 rows of `group` (offsets 0,
    // cols, 2 cols, 3 cols from a pointer that steps one byte per column, n columns in all:
    // within `group`, checked above) and the `n` i32 of `x` (one LDM each, from its
    // word-aligned start, stopping exactly at its end since n is a nonzero multiple of 4 and
    // the loop takes 4 columns per pass). r6 and r7 (which asm! may not name) are pushed and
    // popped; the high registers (which Thumb-1 asm! may only clobber) are declared
    // clobbered; it writes no other register but those it declares.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "mov r12, r4",                // x end
            "movs r4, #0",
            "mov r8, r4",                 // the four sums
            "mov r9, r4",
            "mov r10, r4",
            "mov r11, r4",
            "adds r6, r2, r3",            // 3 cols
            "movs r7, #0",
            "2:",
            ".rept 4",
            "ldm r1!, {{r5}}",            // x[j]
            "ldrsb r4, [r0, r7]",         // row 0
            "muls r4, r5, r4",
            "add r8, r4",
            "ldrsb r4, [r0, r2]",         // row 1
            "muls r4, r5, r4",
            "add r9, r4",
            "ldrsb r4, [r0, r3]",         // row 2
            "muls r4, r5, r4",
            "add r10, r4",
            "ldrsb r4, [r0, r6]",         // row 3
            "muls r4, r5, r4",
            "add r11, r4",
            "adds r0, #1",
            ".endr",
            "cmp r1, r12",
            "bne 2b",
            "pop {{r6, r7}}",
            "mov r2, r8",
            "mov r3, r9",
            "mov r4, r10",
            "mov r5, r11",
            inout("r0") group.as_ptr() => _,
            inout("r1") x.as_ptr() => _,
            inout("r2") cols => a0,
            inout("r3") 2 * cols => a1,
            inout("r4") end => a2,
            out("r5") a3,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
        );
    }
    [a0, a1, a2, a3]
}

/// [`crate::quant::row_dots`] on an Arm core with neither: the plain loop.
#[cfg(all(target_feature = "v7", not(target_feature = "dsp")))]
pub fn row_dots(rows: &[u8], x: &[Lane], out: &mut [i32]) {
    let rows = rows.chunks_exact(x.len().max(1));
    for (out, row) in out.iter_mut().zip(rows) {
        *out = crate::quant::dot_i8(row, x);
    }
}
