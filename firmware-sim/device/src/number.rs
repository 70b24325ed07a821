//! Decimal numbers as the console and the command line spell them: parsed to the same bits
//! on every target (a device and its host tools must agree on a temperature to the last bit,
//! or the same request gives different text), and printed without `core::fmt`'s float code.
//!
//! Syntax (docs/serial-protocol.md §4): whole numbers are ASCII digits only, no sign, at most
//! the type's maximum. Decimals are `[+-]digits[.digits][(e|E)[+-]digits]` (digits on at
//! least one side of the point), or `inf`, `infinity`, `nan` in any case, with at most 19
//! significant digits. Nonzero values below 1e-24 in magnitude may be refused as too small
//! (those needing more than 43 decimal places, and every one below f32's normal range). Every decimal in
//! that range is rounded correctly to the nearest f32 (ties to even), as Rust's own parser
//! does; the tests hold them equal.

use core::fmt;

/// Why a number did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Empty, or a character outside the syntax.
    Syntax,
    /// A whole number above the type's maximum.
    TooLarge,
    /// More than 19 significant digits.
    TooManyDigits,
    /// A nonzero decimal too small to read exactly (see the module docs).
    TooSmall,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Syntax => "is not a number",
            NumberError::TooLarge => "is too large",
            NumberError::TooManyDigits => "has more than 19 significant digits",
            NumberError::TooSmall => "is too small (use 0, or a value of at least 1e-24)",
        })
    }
}

/// Parses a whole number up to `u64::MAX`.
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn parse_u64(text: &str) -> Result<u64, NumberError> {
    if text.is_empty() {
        return Err(NumberError::Syntax);
    }
    let mut n: u64 = 0;
    for b in text.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return Err(NumberError::Syntax);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(digit as u64))
            .ok_or(NumberError::TooLarge)?;
    }
    Ok(n)
}

/// Parses a whole number up to `u32::MAX`.
pub fn parse_u32(text: &str) -> Result<u32, NumberError> {
    u32::try_from(parse_u64(text)?).map_err(|_| NumberError::TooLarge)
}

/// Parses a decimal to the nearest f32 (module docs give the syntax and range).
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn parse_f32(text: &str) -> Result<f32, NumberError> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        f32::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f32::NAN
    } else {
        let (digits, exp10) = decimal(body)?;
        round_to_f32(digits, exp10)?
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// `digits . fraction e exponent` as (significant digits, power of ten).
#[cfg_attr(charlstm_optimize, optimize(size))]
fn decimal(body: &str) -> Result<(u64, i32), NumberError> {
    let b = body.as_bytes();
    let mut i = 0;
    let mut digits: u64 = 0;
    let mut significant = 0u32; // digits counted from the first nonzero one
    let mut exp10: i32 = 0;
    let mut seen_digit = false;
    let mut after_point = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                seen_digit = true;
                if significant > 0 || c != b'0' {
                    significant += 1;
                    if significant > 19 {
                        return Err(NumberError::TooManyDigits);
                    }
                    digits = digits * 10 + (c - b'0') as u64;
                    if after_point {
                        exp10 -= 1;
                    }
                } else if after_point {
                    exp10 -= 1; // a leading zero after the point
                }
            }
            b'.' if !after_point => after_point = true,
            b'e' | b'E' => break,
            _ => return Err(NumberError::Syntax),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(NumberError::Syntax);
    }
    if i < b.len() {
        // The exponent: [+-]digits, clamped (a huge exponent only decides zero or overflow).
        let rest = &body[i + 1..];
        let (sign, exp_digits) = match rest.as_bytes().first() {
            Some(b'-') => (-1, &rest[1..]),
            Some(b'+') => (1, &rest[1..]),
            _ => (1, rest),
        };
        if exp_digits.is_empty() || !exp_digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(NumberError::Syntax);
        }
        let mut e: i32 = 0;
        for c in exp_digits.bytes() {
            e = (e * 10 + (c - b'0') as i32).min(100_000);
        }
        exp10 += sign * e;
    }
    Ok((digits, exp10))
}

/// The f32 nearest to `digits * 10^exp10` (ties to even), from exact integer arithmetic.
#[cfg_attr(charlstm_optimize, optimize(size))]
fn round_to_f32(mut digits: u64, mut exp10: i32) -> Result<f32, NumberError> {
    if digits == 0 {
        return Ok(0.0);
    }
    while digits.is_multiple_of(10) {
        digits /= 10;
        exp10 += 1;
    }
    if exp10 >= 0 {
        // digits * 10^exp10 exactly; past u128 it is far above f32::MAX.
        let exact = pow10(exp10 as u32).and_then(|p| p.checked_mul(digits as u128));
        // An integer-to-float `as` rounds to nearest, ties to even.
        return Ok(exact.map_or(f32::INFINITY, |x| x as f32));
    }
    // value = digits * 10^-k = digits / 5^k * 2^-k. With digits shifted into [2^63, 2^64)
    // and 64 more bits, the quotient keeps >= 26 significant bits while 5^k <= 2^102.
    let k = (-exp10) as u32;
    if k > 43 {
        return Err(NumberError::TooSmall);
    }
    let den = 5u128.pow(k);
    let shift = digits.leading_zeros();
    let num = ((digits << shift) as u128) << 64;
    let (q, rem) = divide(num, den);
    // value = (q + rem/den) * 2^-(64 + shift + k). Keep q's top 60 bits, folding everything
    // below (and a nonzero remainder) into one sticky bit: `as f32` then rounds correctly,
    // since f32 keeps 24 bits and the sticky bit lies far below the rounding position.
    let bits = 128 - q.leading_zeros();
    if bits < 26 {
        return Err(NumberError::TooSmall);
    }
    let drop = bits.saturating_sub(60);
    let sticky = (q & ((1u128 << drop) - 1) != 0) || rem != 0;
    let top = ((q >> drop) as u64) | sticky as u64;
    let rounded = top as f32;
    // Scale by 2^(drop - 64 - shift - k) through the exponent field, exact for a normal
    // result; a subnormal one is refused.
    let scale = drop as i32 - 64 - shift as i32 - k as i32;
    let biased = ((rounded.to_bits() >> 23) & 0xFF) as i32 + scale;
    if !(1..=254).contains(&biased) {
        return Err(NumberError::TooSmall);
    }
    Ok(f32::from_bits(
        (rounded.to_bits() & !(0xFF << 23)) | ((biased as u32) << 23),
    ))
}

/// `(num / den, num % den)` by shift and subtract, for `den < 2^127`: a few hundred bytes of
/// code on a 32-bit core where the general 128-bit division takes kilobytes.
#[cfg_attr(charlstm_optimize, optimize(size))]
fn divide(num: u128, den: u128) -> (u128, u128) {
    let (mut q, mut rem) = (0u128, 0u128);
    for bit in (0..128).rev() {
        rem = (rem << 1) | ((num >> bit) & 1);
        q <<= 1;
        if rem >= den {
            rem -= den;
            q |= 1;
        }
    }
    (q, rem)
}

fn pow10(k: u32) -> Option<u128> {
    10u128.checked_pow(k)
}

// ---------------------------------------------------------------------------
// Printing without core::fmt's float and padding code

/// Writes `n` in decimal into `buf`, returning the digits.
#[inline(never)]
pub fn format_u64(n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    // Nine digits at a time through u32 arithmetic: one 64-bit division per nine digits
    // keeps this small on 32-bit cores.
    let mut n = n;
    loop {
        let (rest, mut chunk) = (n / 1_000_000_000, (n % 1_000_000_000) as u32);
        // A chunk with more chunks before it keeps its leading zeros.
        let width = if rest == 0 { 1 } else { 9 };
        let mut written = 0;
        while written < width || chunk > 0 {
            i -= 1;
            buf[i] = b'0' + (chunk % 10) as u8;
            chunk /= 10;
            written += 1;
        }
        if rest == 0 {
            break;
        }
        n = rest;
    }
    // Only ASCII digits were written.
    core::str::from_utf8(&buf[i..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;

    /// Rust's parser (core's dec2flt, Eisel-Lemire with an exact fallback) is the reference.
    fn same_as_rust(text: &str) {
        let ours = parse_f32(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let reference: f32 = text.parse().unwrap();
        assert_eq!(
            ours.to_bits(),
            reference.to_bits(),
            "{text:?}: {ours:e} vs {reference:e}"
        );
    }

    #[test]
    fn parse_f32_gives_rusts_bits_on_known_values_and_infinities() {
        for t in [
            "0",
            "0.0",
            "-0",
            "1",
            "0.5",
            "0.2",
            "1.2",
            "1.0",
            "0.9",
            "0.8",
            "1.3",
            "+2.5",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "0.1e1",
            "3.4028235e38",
            "3.4028236e38",
            "1e38",
            "1e-30",
            "1e-24",
            "1.5e-38",
            "1234567890123456789e-42",
            "16777217",
            "16777219",
            "0.30000001",
            "7.038531e-26",
            "123456789012345678e-10",
            "9999999999999999999",
            "0.000000000000000000000000000001",
            "2.5e-0",
        ] {
            same_as_rust(t);
        }
        assert_eq!(parse_f32("inf"), Ok(f32::INFINITY));
        assert_eq!(parse_f32("-Infinity"), Ok(f32::NEG_INFINITY));
        assert!(parse_f32("NaN").unwrap().is_nan());
        assert_eq!(parse_f32("1e39"), Ok(f32::INFINITY));
        assert_eq!(parse_f32("1e100000000"), Ok(f32::INFINITY));
        assert_eq!(parse_f32("0e-999"), Ok(0.0));
    }

    #[test]
    fn malformed_too_small_and_too_large_numbers_are_refused_with_their_kind() {
        for t in [
            "", "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1 ", " 1", "1,5", "--1",
        ] {
            assert_eq!(parse_f32(t), Err(NumberError::Syntax), "{t:?}");
        }
        assert_eq!(parse_f32("1e-44"), Err(NumberError::TooSmall));
        assert_eq!(parse_f32("1e-39"), Err(NumberError::TooSmall));
        assert_eq!(
            parse_f32("12345678901234567890"),
            Err(NumberError::TooManyDigits)
        );
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_u64("18446744073709551616"),
            Err(NumberError::TooLarge)
        );
        assert_eq!(parse_u32("4294967296"), Err(NumberError::TooLarge));
        for t in ["", "+1", "-1", "1.0", "1e3", " 1"] {
            assert_eq!(parse_u64(t), Err(NumberError::Syntax), "{t:?}");
        }
    }

    #[test]
    fn format_u64_prints_what_std_prints() {
        let mut buf = [0; 20];
        assert_eq!(format_u64(0, &mut buf), "0");
        assert_eq!(format_u64(u64::MAX, &mut buf), "18446744073709551615");
        for n in [
            9,
            10,
            999_999_999,
            1_000_000_000,
            1_000_000_007,
            10_000_000_000_000_000_000,
        ] {
            assert_eq!(format_u64(n, &mut buf), std::format!("{n}"));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Random decimals in the supported range round as Rust's parser does.
        #[test]
        fn random_decimals_parse_to_rusts_f32_bits(digits in 1u64..10_000_000_000_000_000_000, point in 0usize..20, exp in -40i32..30) {
            let s = format!("{digits}");
            let point = point.min(s.len());
            let text: String = format!("{}.{}e{exp}", &s[..s.len() - point], &s[s.len() - point..]);
            let reference: f32 = text.parse().unwrap();
            match parse_f32(&text) {
                Ok(ours) => proptest::prop_assert_eq!(ours.to_bits(), reference.to_bits(), "{}", text),
                Err(NumberError::TooSmall) => proptest::prop_assert!(reference.abs() < 1e-24, "{}", text),
                Err(e) => proptest::prop_assert!(false, "{}: {}", text, e),
            }
        }

        /// Every f32 printed shortest (as the host client sends them) reads back to its bits.
        #[test]
        fn every_shortest_printed_f32_parses_back_to_its_bits(bits in 0u32..0x7F80_0000) {
            let x = f32::from_bits(bits);
            let text = format!("{x:e}");
            match parse_f32(&text) {
                Ok(y) => proptest::prop_assert_eq!(y.to_bits(), bits, "{}", text),
                Err(NumberError::TooSmall) => proptest::prop_assert!(x < 1e-24),
                Err(e) => proptest::prop_assert!(false, "{}: {}", text, e),
            }
        }

        /// Arbitrary text never panics.
        #[test]
        fn arbitrary_text_never_panics_the_number_parsers(text in "\\PC{0,30}") {
            let _ = parse_f32(&text);
            let _ = parse_u64(&text);
        }
    }
}
