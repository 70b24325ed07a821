//! The int8 path's fixed-point arithmetic (spec: docs/int8-arithmetic.md): integers only from
//! the blob's values to the sampled character, so a core without an FPU (Cortex-M0, RV32IMAC)
//! runs it at integer speed and every target computes the same bits by construction.
//!
//! Formats: h (the activations the matrices read) in Q15 as i16; gate values (sigmoid, tanh)
//! in Q15 as i32 in [-32768, 32768]; pre-activations, the cell state c and the logits in
//! Q16.16 as i32. Every rounding is half up (`floor(x + 1/2)`), every overflow saturates.

/// Fraction bits of pre-activations, c and logits (Q16.16).
pub const Z_FRAC: i32 = 16;
/// Fraction bits of h and of the gate values (Q15).
pub const H_FRAC: i32 = 15;
/// 1.0 in Q15.
pub const ONE_Q15: i32 = 1 << H_FRAC;
/// Largest |h| in Q15: h is stored as i16, symmetric.
pub const H_MAX: i32 = 32767;

/// `round(v × f × 2^pow2)`, half up, saturated to i32, for `f` given by its f32 bits and
/// `pow2 <= 24`: the one multiply that turns a blob's f32 (a row scale, a bias, a float
/// logit) into fixed point. Exact: `f = ±m × 2^e` with an integer `m < 2^24`, so the product
/// is the integer `v × m` and a shift. Zero and subnormal `f` give 0 (`|v × f × 2^pow2| <
/// 2^31 × 2^-126 × 2^24`, which rounds to 0), so they are decoded as if normal: one path, no
/// branch. NaN and infinities saturate like huge values (the loader admits neither).
#[inline(always)]
pub fn mul_f32(v: i32, f: u32, pow2: i32) -> i32 {
    let m = ((f & 0x7f_ffff) | 0x80_0000) as i32;
    let sign = (f as i32) >> 31; // 0 or -1: m negated in two's complement
    let m = (m ^ sign) - sign;
    let n = 150 - ((f >> 23) & 0xff) as i32 - pow2; // the product is v × m / 2^n
    // From n = 26 on (a row's scale times its sum), the high word of v × m × 2^7 holds every
    // bit the rounding reads, n + 7 - 1 >= 32: one high multiply and a 32-bit shift.
    // floor(p / 2^n + 1/2) = floor((floor(p / 2^(n-1)) + 1) / 2): no rounding constant to
    // overflow.
    if n >= 26 {
        let high = mul_high(v, m << 7); // |m| < 2^24, so |m × 2^7| < 2^31
        return ((high >> (n - 26).clamp(0, 31)) + 1) >> 1; // n >= 26: one `USAT` on Arm
    }
    // A bias, a weight times a one-hot 1: |v × m| < 128 × 2^24 = 2^31 fits 32 bits.
    if n >= 1 && (-128..=128).contains(&v) {
        return ((v * m) >> (n - 1)).wrapping_add(1) >> 1;
    }
    mul_wide_rounded(v, m, n)
}

/// The rest of [`mul_f32`]: `round(v × m / 2^n)` from the 64-bit product (`n <= 25`, so
/// `|v × m| < 2^55`). Out of line: rare (a large scale, a float logit), and long on ARMv6-M.
#[inline(never)]
fn mul_wide_rounded(v: i32, m: i32, n: i32) -> i32 {
    match n {
        1.. => round_shift(mul_wide(v, m), n as u32),
        _ => shift_left(v as i64 * m as i64, -n),
    }
}

/// `floor(a × b / 2^32)`, the high word of the exact product. ARMv6-M has no 32 × 32 ->
/// 64-bit multiply, so there it is [`mul_high_halves`]; elsewhere one instruction
/// (`SMMUL`, `MULH`).
#[inline(always)]
pub fn mul_high(a: i32, b: i32) -> i32 {
    #[cfg(all(target_arch = "arm", not(target_feature = "v7")))]
    return mul_high_halves(a, b);
    #[cfg(not(all(target_arch = "arm", not(target_feature = "v7"))))]
    return ((a as i64 * b as i64) >> 32) as i32;
}

/// [`mul_high`] from four 16-bit partial products: `a × b = ah bh 2^32 + (ah bl + al bh)
/// 2^16 + al bl`, each fitting 32 bits; the middle ones are split at bit 16 so that their
/// sum's carry into the high word is exact.
#[cfg(any(test, all(target_arch = "arm", not(target_feature = "v7"))))]
#[inline(always)]
fn mul_high_halves(a: i32, b: i32) -> i32 {
    let (ah, al) = (a >> 16, a & 0xffff);
    let (bh, bl) = (b >> 16, b & 0xffff);
    let (x, y) = (ah * bl, al * bh); // |x|, |y| < 2^31
    let low = ((al as u32 * bl as u32) >> 16) as i32;
    let carry = ((x & 0xffff) + (y & 0xffff) + low) >> 16;
    ah * bh + (x >> 16) + (y >> 16) + carry
}

/// `a × b` exactly, for `|b| < 2^24`. ARMv6-M has no 32 × 32 -> 64-bit multiply (LLVM calls
/// `__aeabi_lmul`, about 45 instructions), so there it is [`mul_halves`]; elsewhere the plain
/// product.
#[inline(always)]
pub fn mul_wide(a: i32, b: i32) -> i64 {
    #[cfg(all(target_arch = "arm", not(target_feature = "v7")))]
    return mul_halves(a, b);
    #[cfg(not(all(target_arch = "arm", not(target_feature = "v7"))))]
    return a as i64 * b as i64;
}

/// `a × b` for `|b| < 2^24` from four 16-bit partial products, each of which fits 32 bits.
#[cfg(any(test, all(target_arch = "arm", not(target_feature = "v7"))))]
#[inline(always)]
fn mul_halves(a: i32, b: i32) -> i64 {
    let (ah, al) = (a >> 16, (a & 0xffff) as u32);
    let (bh, bl) = (b >> 16, (b & 0xffff) as u32);
    // |ah bl| < 2^31, |al bh| < 2^24, |ah bh| < 2^23, al bl < 2^32
    let mid = (ah * bl as i32) as i64 + (al as i32 * bh) as i64;
    (((ah * bh) as i64) << 32) + (mid << 16) + (al * bl) as i64
}

/// `floor(p / 2^n + 1/2)` saturated to i32, for `1 <= n <= 62` and `|p| < 2^62`. On
/// ARMv6-M [`round_shift_halves`] (a variable 64-bit shift is a library call there).
#[inline(always)]
pub fn round_shift(p: i64, n: u32) -> i32 {
    #[cfg(all(target_arch = "arm", not(target_feature = "v7")))]
    return round_shift_halves(p, n);
    #[cfg(not(all(target_arch = "arm", not(target_feature = "v7"))))]
    {
        // floor(p / 2^n + 1/2) = floor((floor(p / 2^(n-1)) + 1) / 2)
        let r = ((p >> (n - 1)) + 1) >> 1;
        if r as i32 as i64 == r {
            r as i32
        } else if r < 0 {
            i32::MIN
        } else {
            i32::MAX
        }
    }
}

/// [`round_shift`] in 32-bit halves, with constant 64-bit shifts only.
#[cfg(any(test, all(target_arch = "arm", not(target_feature = "v7"))))]
#[inline(always)]
fn round_shift_halves(p: i64, n: u32) -> i32 {
    let half = match n - 1 {
        k @ 0..32 => (1u32 << k) as i64,
        k => ((1u32 << (k - 32)) as i64) << 32,
    };
    let p = p + half;
    let (hi, lo) = ((p >> 32) as i32, p as u32);
    if n >= 32 {
        return hi >> (n - 32);
    }
    let low = ((lo >> n) | ((hi as u32) << (32 - n))) as i32;
    if hi >> n == low >> 31 {
        low
    } else if hi < 0 {
        i32::MIN
    } else {
        i32::MAX
    }
}

/// The cell update `round((f c + 2 ig) / 2^15)` saturated to i32 (docs/int8-arithmetic.md
/// §4), for `f` in [0, 2^15] and `|ig| <= 2^30`, in 32-bit arithmetic (no 64-bit product on
/// ARMv6-M): with `c = ch 2^16 + cl`, `f cl` and `ig` are split at the bits the division
/// drops, so every partial value fits 32 bits and only the final sum can overflow.
#[inline]
pub fn next_cell(f: i32, c: i32, ig: i32) -> i32 {
    let (ch, cl) = (c >> 16, c & 0xffff);
    let fcl = f * cl; // < 2^31
    let low = (fcl & 0x7fff) + 2 * (ig & 0x3fff) + (1 << (H_FRAC - 1)); // < 2^17
    let rest = (fcl >> 15) + (ig >> 14) + (low >> 15);
    (2 * f * ch).saturating_add(rest) // |2 f ch| <= 2^31
}

/// `p × 2^shift` saturated to i32 (`shift >= 0`).
#[cold]
fn shift_left(p: i64, shift: i32) -> i32 {
    let r = if p == 0 {
        0
    } else if shift > 31 {
        p.signum() * i64::MAX // far beyond i32 either way
    } else {
        p.saturating_mul(1 << shift)
    };
    r.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// A float logit in Q16.16 (`mul_f32(1, z, 16)`), NaN as the least value: the float path's
/// logits meet the same sampler.
#[inline]
pub fn q16_of_f32(z: f32) -> i32 {
    if z.is_nan() {
        i32::MIN
    } else {
        mul_f32(1, z.to_bits(), Z_FRAC)
    }
}

/// `z / 2^16` as an f32 (rounded to nearest, ties to even, as `z as f32` rounds): the
/// int8 path's logits for [`crate::Generator::logits`]. Built from the bits on cores without
/// an FPU, where `as f32` and a multiply are two soft-float calls; the same value either way.
#[inline]
pub fn f32_of_q16(z: i32) -> f32 {
    #[cfg(any(
        all(target_arch = "arm", not(target_abi = "eabihf")),
        all(target_arch = "riscv32", not(target_feature = "f"))
    ))]
    return soft_f32_of_q16(z);
    #[cfg(not(any(
        all(target_arch = "arm", not(target_abi = "eabihf")),
        all(target_arch = "riscv32", not(target_feature = "f"))
    )))]
    return z as f32 * (1.0 / (1 << Z_FRAC) as f32);
}

/// [`f32_of_q16`] from the bits.
#[cfg(any(
    test,
    all(target_arch = "arm", not(target_abi = "eabihf")),
    all(target_arch = "riscv32", not(target_feature = "f"))
))]
fn soft_f32_of_q16(z: i32) -> f32 {
    if z == 0 {
        return 0.0;
    }
    let sign = (z as u32) & 0x8000_0000;
    let a = z.unsigned_abs();
    let top = 31 - a.leading_zeros(); // a's highest set bit
    // 24 significant bits: shift a to have its top bit at bit 23, rounding to nearest even.
    let mantissa = if top <= 23 {
        a << (23 - top)
    } else {
        let drop = top - 23;
        let (kept, rest, half) = (a >> drop, a & ((1 << drop) - 1), 1 << (drop - 1));
        kept + (rest > half || (rest == half && kept & 1 == 1)) as u32
    };
    // The exponent of 2^top × 2^-16; a carry out of the mantissa steps it by one (+ does).
    let exponent = (top + 127 - Z_FRAC as u32) << 23;
    f32::from_bits(sign | (exponent + mantissa - (1 << 23)))
}

/// sigmoid(z) in Q15 for z in Q16.16: the table at x = (i - 512) / 32, linearly interpolated.
#[inline]
pub fn sigmoid(z: i32) -> i32 {
    // One table step is 2^16 / 32 = 2^11 units of z; t is z's position from the first point.
    // Clamped to [-16, 16 - 2^-16] (one `SSAT` on Arm): at the top end that is table[1023]
    // + 2047/2048 of a zero step (the table's top is flat), the same value as at 16.
    let t = z.clamp(-(16 << Z_FRAC), (16 << Z_FRAC) - 1) + (16 << Z_FRAC);
    let i = (t >> 11) as usize; // 0..=1023
    let frac = t & 0x7ff;
    let Some(&step) = SIGMOID_STEPS.get(i) else {
        return ONE_Q15; // unreachable: i <= 1023
    };
    let (a, rise) = ((step & 0xffff) as i32, (step >> 16) as i32);
    a + ((rise * frac + 0x400) >> 11)
}

/// The table's steps, one word each: `T[i]` in the low half, `T[i + 1] - T[i]` (>= 0) in the
/// high half, so one load serves an interpolation.
static SIGMOID_STEPS: [u32; SIGMOID_POINTS - 1] = {
    let mut steps = [0u32; SIGMOID_POINTS - 1];
    let mut i = 0;
    while i < SIGMOID_POINTS - 1 {
        steps[i] = SIGMOID[i] as u32 | ((SIGMOID[i + 1] - SIGMOID[i]) as u32) << 16;
        i += 1;
    }
    steps
};

/// tanh(z) = 2 sigmoid(2z) - 1 in Q15 for z in Q16.16.
#[inline]
pub fn tanh(z: i32) -> i32 {
    // As in `sigmoid`: [-8, 8 - 2^-16] gives the values of [-8, 8].
    2 * sigmoid(2 * z.clamp(-(8 << Z_FRAC), (8 << Z_FRAC) - 1)) - ONE_Q15
}

/// Points of the sigmoid table: x = (i - 512) / 32 for i = 0..=1024, so [-16, 16].
const SIGMOID_POINTS: usize = 1025;

/// round(2^15 × sigmoid(x)) at the points, and the last point once more (so i + 1 is always
/// a point). Computed by the compiler in f64, so every target reads the same values.
pub static SIGMOID: [u16; SIGMOID_POINTS + 1] = sigmoid_table();

const fn sigmoid_table() -> [u16; SIGMOID_POINTS + 1] {
    let mut table = [0u16; SIGMOID_POINTS + 1];
    let mut i = 0;
    while i < SIGMOID_POINTS {
        let x = (i as f64 - 512.0) / 32.0;
        table[i] = round_half_up(32768.0 / (1.0 + exp(-x))) as u16;
        i += 1;
    }
    table[SIGMOID_POINTS] = table[SIGMOID_POINTS - 1];
    table
}

/// Fraction bits of the sampler's weights: the most likely character weighs 2^24.
pub const WEIGHT_FRAC: u32 = 24;

/// 2^-t for t >= 0 in Q16.16, as a weight in Q24: the table of 2^-(j/256), linearly
/// interpolated, then shifted right by t's integer part (0 from 32 on).
#[inline]
pub fn exp2_neg(t: i32) -> u32 {
    let t = t.max(0) as u32;
    let n = t >> 16;
    if n >= 32 {
        return 0;
    }
    let (j, r) = (((t >> 8) & 0xff) as usize, t & 0xff);
    let (a, b) = match (EXP2.get(j), EXP2.get(j + 1)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return 0, // unreachable: j <= 255 and the table has 257 entries
    };
    (a - (((a - b) * r + 0x80) >> 8)) >> n
}

/// round(2^24 × 2^(-j/256)) for j = 0..=256 (2^24 down to 2^23), computed by the compiler.
pub static EXP2: [u32; 257] = exp2_table();

const fn exp2_table() -> [u32; 257] {
    let mut table = [0u32; 257];
    let mut j = 0;
    while j <= 256 {
        let x = -(j as f64) / 256.0 * core::f64::consts::LN_2;
        table[j] = round_half_up(16_777_216.0 * exp(x)) as u32;
        j += 1;
    }
    table
}

/// floor(x + 1/2) for 0 <= x < 2^52, at compile time (`as` truncates).
const fn round_half_up(x: f64) -> u64 {
    (x + 0.5) as u64
}

/// e^x for |x| <= 16, at compile time: (e^(x/64))^64, with a 14-term Taylor series for
/// |x/64| <= 1/4 (truncation error < 1e-19, rounding ~1e-14 relative after six squarings).
const fn exp(x: f64) -> f64 {
    let r = x / 64.0;
    let (mut term, mut sum, mut n) = (1.0, 1.0, 1);
    while n < 14 {
        term = term * r / n as f64;
        sum += term;
        n += 1;
    }
    let mut i = 0;
    while i < 6 {
        sum *= sum;
        i += 1;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v × f × 2^pow2 in exact rational arithmetic (f64 holds every value these tests use
    /// exactly: |v × f| < 2^53 after scaling), rounded half up and saturated.
    fn reference(v: i32, f: f32, pow2: i32) -> i32 {
        let exact = v as f64 * f as f64 * 2f64.powi(pow2);
        (exact + 0.5)
            .floor()
            .clamp(i32::MIN as f64, i32::MAX as f64) as i32
    }

    #[test]
    fn mul_f32_is_the_rounded_exact_product() {
        let fs = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.003_1,
            1.0 / 127.0,
            2.5e-3,
            7.0,
            -3.25,
            1e-40,
            3e-38,
            2e-10,
            -7e-11,
            6e-8,
            -1.3e-5,
            65_504.0,
            1e9,
            -1e9,
        ];
        let vs = [
            0,
            1,
            -1,
            2,
            3,
            -3,
            127,
            -127,
            128,
            -128,
            129,
            -129,
            32767,
            1 << 20,
            -(1 << 28),
            536_870_911,
        ];
        for &f in &fs {
            for &v in &vs {
                for pow2 in [-20, -1, 0, 1, 15, 16, 24] {
                    let exact = v as f64 * f as f64;
                    if exact.abs() > 2f64.powi(52) {
                        continue;
                    }
                    assert_eq!(
                        mul_f32(v, f.to_bits(), pow2),
                        reference(v, f, pow2),
                        "v {v} f {f:e} pow2 {pow2}"
                    );
                }
            }
        }
        // ties round up, on both sides of zero
        assert_eq!(mul_f32(1, 0.5f32.to_bits(), 0), 1);
        assert_eq!(mul_f32(-1, 0.5f32.to_bits(), 0), 0);
        assert_eq!(mul_f32(3, 0.5f32.to_bits(), 0), 2);
        assert_eq!(mul_f32(-3, 0.5f32.to_bits(), 0), -1);
        // saturation
        assert_eq!(mul_f32(i32::MAX, 1e9f32.to_bits(), 16), i32::MAX);
        assert_eq!(mul_f32(1, f32::INFINITY.to_bits(), 0), i32::MAX);
        assert_eq!(mul_f32(1, f32::NEG_INFINITY.to_bits(), 0), i32::MIN);
    }

    #[test]
    fn mul_wide_and_round_shift_are_the_i64_arithmetic() {
        let a_s = [
            0,
            1,
            -1,
            0xffff,
            -0x10000,
            0x7fff_ffff,
            i32::MIN,
            123_456_789,
            -987_654_321,
        ];
        let b_s = [
            0, 1, -1, 0xffff, 0x10000, -0x10000, 0x7f_ffff, -0xff_ffff, 0x12_3457,
        ];
        for &a in &a_s {
            for &b in &b_s {
                let exact = a as i64 * b as i64;
                assert_eq!(mul_wide(a, b), exact, "{a} × {b}");
                assert_eq!(mul_halves(a, b), exact, "{a} × {b} in halves");
                for n in 1..=62 {
                    let r = (exact + (1i64 << (n - 1))) >> n;
                    let saturated = r.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                    assert_eq!(round_shift(exact, n), saturated, "{exact} >> {n}");
                    assert_eq!(
                        round_shift_halves(exact, n),
                        saturated,
                        "{exact} >> {n} in halves"
                    );
                }
            }
        }
    }

    #[test]
    fn mul_high_is_the_high_word_of_the_i64_product() {
        let edges = [0, 1, -1, 0xffff, 0x10000, -0x10000, 0x7fff, -0x8000];
        let wide = [
            i32::MIN,
            i32::MAX,
            i32::MIN + 1,
            0x7f_ffff << 7,
            -(0xff_ffff << 7),
        ];
        let mut x = 0x1234_5678u32; // xorshift32: spread values of every magnitude
        let spread: [i32; 300] = core::array::from_fn(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as i32) >> (x % 31)
        });
        let values = || edges.iter().chain(&wide).chain(&spread).copied();
        for a in values() {
            for b in values() {
                let exact = ((a as i64 * b as i64) >> 32) as i32;
                assert_eq!(mul_high(a, b), exact, "{a} × {b}");
                assert_eq!(mul_high_halves(a, b), exact, "{a} × {b} in halves");
            }
        }
    }

    #[test]
    fn next_cell_is_the_rounded_i64_update() {
        let fs = [0, 1, 2, 16_383, 16_384, 32_767, 32_768];
        let igs = [
            0,
            1,
            -1,
            0x3fff,
            -0x4000,
            1 << 30,
            -(1 << 30),
            123_456_789,
            -987_654,
        ];
        let mut x = 0x9e37_79b9u32; // xorshift32: cell states of every magnitude
        let spread: [i32; 200] = core::array::from_fn(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as i32) >> (x % 31)
        });
        let edges = [0, 1, -1, 0xffff, -0x10000, i32::MAX, i32::MIN, i32::MAX - 7];
        for &c in edges.iter().chain(&spread) {
            for &f in &fs {
                for &ig in &igs {
                    let exact = (f as i64 * c as i64 + 2 * ig as i64 + (1 << 14)) >> 15;
                    let saturated = exact.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                    assert_eq!(next_cell(f, c, ig), saturated, "f {f} c {c} ig {ig}");
                }
            }
        }
    }

    #[test]
    fn sigmoid_and_tanh_are_within_their_error_of_libm() {
        let (mut worst_s, mut worst_t) = (0.0f64, 0.0f64);
        for z in (-(20 << 16)..=(20 << 16)).step_by(97) {
            let x = z as f64 / 65536.0;
            let s = sigmoid(z) as f64 / 32768.0;
            let t = tanh(z) as f64 / 32768.0;
            worst_s = worst_s.max((s - 1.0 / (1.0 + libm::exp(-x))).abs());
            worst_t = worst_t.max((t - libm::tanh(x)).abs());
        }
        // Bounds: the entries' rounding (2^-16), the interpolation's rounding (2^-16) and the
        // linear interpolation's error (max |sigmoid''| / 8 × (1/32)^2 < 1.2e-5): 4.3e-5;
        // tanh = 2 sigmoid(2x) - 1 doubles it.
        assert!(worst_s < 4.3e-5, "sigmoid error {worst_s}");
        assert!(worst_t < 8.6e-5, "tanh error {worst_t}");
        assert_eq!(sigmoid(0), 16384);
        assert_eq!(tanh(0), 0);
        assert_eq!(sigmoid(i32::MAX), ONE_Q15);
        assert_eq!(sigmoid(i32::MIN), 0);
        assert_eq!(tanh(i32::MIN), -ONE_Q15);
    }

    #[test]
    fn sigmoid_table_entries_are_rounded_sigmoids() {
        for (i, &s) in SIGMOID[..SIGMOID_POINTS].iter().enumerate() {
            let x = (i as f64 - 512.0) / 32.0;
            let exact = 32768.0 / (1.0 + libm::exp(-x));
            assert!(
                (s as f64 - exact).abs() <= 0.5 + 1e-9,
                "entry {i}: {s} vs {exact}"
            );
        }
    }

    #[test]
    fn sigmoid_and_tanh_near_and_past_their_clamps_are_the_specs_interpolation() {
        // docs/int8-arithmetic.md §5: z clamped to [-16, 16] (tanh: [-8, 8], doubled), the
        // point at or below, interpolated; the code clamps one unit short of the top.
        let spec_sigmoid = |z: i64| {
            let t = z.clamp(-(16 << 16), 16 << 16) + (16 << 16);
            let (i, frac) = ((t >> 11) as usize, t & 0x7ff);
            let (a, b) = (SIGMOID[i] as i64, SIGMOID[(i + 1).min(1024)] as i64);
            (a + (((b - a) * frac + 0x400) >> 11)) as i32
        };
        let spec_tanh = |z: i64| 2 * spec_sigmoid(2 * z.clamp(-(8 << 16), 8 << 16)) - ONE_Q15;
        let edges = [-(16 << 16), 16 << 16, -(8 << 16), 8 << 16];
        let near = edges.iter().flat_map(|&e| e - 5000..=e + 5000);
        let far = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            1 << 30,
            i32::MAX - 1,
            i32::MAX,
        ];
        for z in near.chain(far).chain((-40_000..40_000).map(|k| k * 53)) {
            assert_eq!(sigmoid(z), spec_sigmoid(z as i64), "sigmoid z = {z}");
            assert_eq!(tanh(z), spec_tanh(z as i64), "tanh z = {z}");
        }
    }

    #[test]
    fn f32_of_q16_is_the_float_division() {
        let check = |z: i32| {
            let exact = z as f32 * (1.0 / 65536.0);
            assert_eq!(soft_f32_of_q16(z).to_bits(), exact.to_bits(), "z = {z}");
        };
        for z in [
            0,
            1,
            -1,
            i32::MIN,
            i32::MAX,
            1 << 24,
            (1 << 24) + 1,
            -(1 << 25) - 3,
        ] {
            check(z);
        }
        // Every magnitude, each with neighbours that round up, down and to even.
        let mut z = 1i64;
        while z < i32::MAX as i64 {
            for v in [z, z * 3 / 2, z - 1, z + 1] {
                let v = v.min(i32::MAX as i64) as i32;
                check(v);
                check(-v);
            }
            z = z * 5 / 3 + 1;
        }
    }

    #[test]
    fn tables_have_the_checksums_the_spec_gives() {
        // docs/int8-arithmetic.md §6; the values were computed there in Python (f64 math.exp).
        let crc = |bytes: &mut dyn Iterator<Item = u8>| {
            let mut digest = crate::CRC32.digest();
            bytes.for_each(|b| digest.update(&[b]));
            digest.finalize()
        };
        assert_eq!(
            crc(&mut SIGMOID.iter().flat_map(|s| s.to_le_bytes())),
            0xe77e_0eb2
        );
        assert_eq!(SIGMOID.iter().map(|&s| s as u64).sum::<u64>(), 16_826_368);
        assert_eq!(
            crc(&mut EXP2.iter().flat_map(|e| e.to_le_bytes())),
            0x7308_adce
        );
        assert_eq!(EXP2.iter().map(|&e| e as u64).sum::<u64>(), 3_110_748_820);
    }

    #[test]
    fn exp2_neg_is_within_its_error_of_libm() {
        let mut worst = 0.0f64;
        for t in (0..(26 << 16)).step_by(61) {
            let exact = libm::exp2(-(t as f64) / 65536.0) * 16_777_216.0;
            let got = exp2_neg(t) as f64;
            // relative to the value, plus the floor of the final shift (< 1 unit)
            worst = worst.max((got - exact).abs() / exact.max(1.0) - 1.0 / exact.max(1.0));
        }
        assert!(worst < 2e-6, "exp2 error {worst}");
        assert_eq!(exp2_neg(0), 1 << 24);
        assert_eq!(exp2_neg(1 << 16), 1 << 23);
        assert_eq!(exp2_neg(32 << 16), 0);
        assert_eq!(exp2_neg(-5), 1 << 24);
    }
}
