//! The serial console's requests: one parser and one set of checks for the device and the
//! host, so a request cannot mean one thing on one side and another on the other.
//! docs/serial-protocol.md is the spec; section numbers below cite it.
//!
//! ```text
//! generate prime="the meaning of " temperature=0.5 seed=42 chars=400 top-k=0 top-p=1
//! info
//! reset
//! quit
//! ```

use core::fmt;

use charlstm_core::SamplerConfig;

use crate::number::{self, NumberError};

/// The protocol version the ready and info lines name (spec §1); bumped when a request or
/// reply changes meaning.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request line a device buffers, in bytes, without its line end (spec §2).
pub const LINE_MAX: usize = 255;
/// Ctrl-C: interrupts a reply in flight, or discards a half-typed line (spec §6).
pub const INTERRUPT: u8 = 0x03;
/// Arguments a request may carry at most (every key once).
const MAX_ARGS: usize = 6;

/// The defaults of every generate argument, which `charlstm-sim run` shares (spec §3).
pub const DEFAULT_CHARS: u32 = 400;
/// See [`DEFAULT_CHARS`].
pub const DEFAULT_SEED: u64 = 42;
/// See [`DEFAULT_CHARS`].
pub const DEFAULT_TEMPERATURE: f32 = 0.5;
/// See [`DEFAULT_CHARS`]; 0 = off.
pub const DEFAULT_TOP_K: u32 = 0;
/// See [`DEFAULT_CHARS`]; 1 = off.
pub const DEFAULT_TOP_P: f32 = 1.0;

// ---------------------------------------------------------------------------
// Requests

/// A generate request: a fresh generator, primed, then `chars` characters (spec §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generate<'a> {
    pub prime: &'a str,
    pub chars: u32,
    pub seed: u64,
    pub sampler: SamplerConfig,
}

impl Default for Generate<'_> {
    fn default() -> Self {
        Generate {
            prime: "",
            chars: DEFAULT_CHARS,
            seed: DEFAULT_SEED,
            sampler: SamplerConfig {
                temperature: DEFAULT_TEMPERATURE,
                top_k: DEFAULT_TOP_K,
                top_p: DEFAULT_TOP_P,
            },
        }
    }
}

/// One request line, decoded (spec §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request<'a> {
    Generate(Generate<'a>),
    Info,
    Reset,
    Quit,
}

/// Why a request line was refused; each is one `error` line (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError<'a> {
    /// The first word is no command.
    UnknownCommand(&'a str),
    /// An argument whose key the command does not take.
    UnknownArgument(&'a str),
    /// A key given twice.
    DuplicateArgument(&'a str),
    /// An argument without `=value`.
    MissingValue(&'a str),
    /// More arguments than the six keys.
    TooManyArguments,
    /// A quoted value without its closing quote, or text right after it.
    BadQuote,
    /// A backslash escape that is not in spec §4.
    BadEscape,
    /// The line is not UTF-8.
    NotUtf8,
    /// A number that does not parse, with its key and text.
    Number {
        key: &'a str,
        text: &'a str,
        error: NumberError,
    },
    /// A temperature below 0, infinite or NaN.
    Temperature(&'a str),
    /// A top-p outside (0, 1].
    TopP(&'a str),
    /// The line is longer than [`LINE_MAX`] bytes (it is discarded).
    LineTooLong,
}

impl RequestError<'_> {
    /// The word after `error` on the reply line (spec §5).
    pub fn kind(&self) -> &'static str {
        match self {
            RequestError::UnknownCommand(_) => "unknown-command",
            RequestError::UnknownArgument(_)
            | RequestError::DuplicateArgument(_)
            | RequestError::MissingValue(_)
            | RequestError::TooManyArguments => "bad-argument",
            RequestError::BadQuote | RequestError::BadEscape | RequestError::NotUtf8 => "bad-text",
            RequestError::Number { .. } => "bad-number",
            RequestError::Temperature(_) => "temperature",
            RequestError::TopP(_) => "top-p",
            RequestError::LineTooLong => "line-too-long",
        }
    }
}

impl fmt::Display for RequestError<'_> {
    #[cfg_attr(charlstm_optimize, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::UnknownCommand(c) => write!(
                f,
                "unknown command `{c}`: use generate, info, reset or quit"
            ),
            RequestError::UnknownArgument(k) => write!(
                f,
                "unknown argument `{k}`: generate takes prime, temperature, seed, chars, top-k, top-p; the others take none"
            ),
            RequestError::DuplicateArgument(k) => write!(f, "argument `{k}` is given twice"),
            RequestError::MissingValue(k) => write!(f, "argument `{k}` needs `=value`"),
            RequestError::TooManyArguments => {
                write!(f, "more than {MAX_ARGS} arguments: give each key once")
            }
            RequestError::BadQuote => {
                f.write_str("a quoted value needs its closing quote, then a space or the line end")
            }
            RequestError::BadEscape => {
                f.write_str("unknown escape: use \\\\ \\\" \\n \\r \\t or \\u{hex} inside quotes")
            }
            RequestError::NotUtf8 => f.write_str("the line is not UTF-8"),
            RequestError::Number { key, text, error } => {
                write!(f, "{key} `{text}` {error}")
            }
            RequestError::Temperature(t) => write!(
                f,
                "temperature `{t}` is invalid: use a finite value >= 0 (0 = argmax)"
            ),
            RequestError::TopP(p) => write!(f, "top-p `{p}` is invalid: use a value in (0, 1]"),
            RequestError::LineTooLong => write!(
                f,
                "the line is longer than {LINE_MAX} bytes and was discarded"
            ),
        }
    }
}

/// Checks a temperature and a top-p given as text, as `SamplerConfig::validate` would,
/// keeping the text for the message (no float formatting on a device).
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn check_sampler<'t>(
    sampler: SamplerConfig,
    temperature: &'t str,
    top_p: &'t str,
) -> Result<(), RequestError<'t>> {
    let t = sampler.temperature;
    if !(t.is_finite() && t >= 0.0) {
        return Err(RequestError::Temperature(temperature));
    }
    let p = sampler.top_p;
    if !(p > 0.0 && p <= 1.0) {
        return Err(RequestError::TopP(top_p));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Parsing (spec §2, §4)

#[derive(Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

/// A line split into words, values unescaped in place.
struct Words {
    command: Span,
    args: [(Span, Span); MAX_ARGS],
    count: usize,
}

enum SplitError {
    TooMany,
    MissingValue(Span),
    BadQuote,
    BadEscape,
}

/// Parses one request line (without its line end). Quoted values are unescaped in place,
/// so the request borrows from `line`.
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn parse_request(line: &mut [u8]) -> Result<Request<'_>, RequestError<'_>> {
    if core::str::from_utf8(line).is_err() {
        return Err(RequestError::NotUtf8);
    }
    let split = split(line);
    let line: &[u8] = line;
    // Unescaping writes only whole UTF-8 sequences, so every span stays valid UTF-8.
    let text = |s: Span| core::str::from_utf8(&line[s.start..s.end]).unwrap_or("");
    let words = match split {
        Ok(words) => words,
        Err(SplitError::TooMany) => return Err(RequestError::TooManyArguments),
        Err(SplitError::MissingValue(key)) => return Err(RequestError::MissingValue(text(key))),
        Err(SplitError::BadQuote) => return Err(RequestError::BadQuote),
        Err(SplitError::BadEscape) => return Err(RequestError::BadEscape),
    };
    let args = &words.args[..words.count];
    let no_args = |request| match args.first() {
        Some((key, _)) => Err(RequestError::UnknownArgument(text(*key))),
        None => Ok(request),
    };
    match text(words.command) {
        "generate" => {}
        "info" => return no_args(Request::Info),
        "reset" => return no_args(Request::Reset),
        "quit" => return no_args(Request::Quit),
        other => return Err(RequestError::UnknownCommand(other)),
    }
    let mut g = Generate::default();
    let (mut temperature, mut top_p) = ("0.5", "1");
    let mut seen = [false; MAX_ARGS];
    for &(key, value) in args {
        let (key, value) = (text(key), text(value));
        let number = |error| RequestError::Number {
            key,
            text: value,
            error,
        };
        let slot = match key {
            "prime" => {
                g.prime = value;
                0
            }
            "temperature" => {
                g.sampler.temperature = number::parse_f32(value).map_err(number)?;
                temperature = value;
                1
            }
            "seed" => {
                g.seed = number::parse_u64(value).map_err(number)?;
                2
            }
            "chars" => {
                g.chars = number::parse_u32(value).map_err(number)?;
                3
            }
            "top-k" => {
                g.sampler.top_k = number::parse_u32(value).map_err(number)?;
                4
            }
            "top-p" => {
                g.sampler.top_p = number::parse_f32(value).map_err(number)?;
                top_p = value;
                5
            }
            _ => return Err(RequestError::UnknownArgument(key)),
        };
        if core::mem::replace(&mut seen[slot], true) {
            return Err(RequestError::DuplicateArgument(key));
        }
    }
    check_sampler(g.sampler, temperature, top_p)?;
    Ok(Request::Generate(g))
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits `line` into the command and `key=value` arguments, unescaping quoted values in
/// place (an escape is never shorter than what it stands for).
#[cfg_attr(charlstm_optimize, optimize(size))]
fn split(line: &mut [u8]) -> Result<Words, SplitError> {
    let mut words = Words {
        command: Span::default(),
        args: [(Span::default(), Span::default()); MAX_ARGS],
        count: 0,
    };
    let mut i = 0;
    let mut first = true;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(words);
        }
        let start = i;
        if first {
            while i < line.len() && !is_space(line[i]) {
                i += 1;
            }
            words.command = Span { start, end: i };
            first = false;
            continue;
        }
        while i < line.len() && !is_space(line[i]) && line[i] != b'=' {
            i += 1;
        }
        let key = Span { start, end: i };
        if i == line.len() || line[i] != b'=' {
            return Err(SplitError::MissingValue(key));
        }
        i += 1;
        let value = if line.get(i) == Some(&b'"') {
            let (value, next) = unquote(line, i)?;
            i = next;
            value
        } else {
            let start = i;
            while i < line.len() && !is_space(line[i]) {
                if line[i] == b'"' {
                    return Err(SplitError::BadQuote);
                }
                i += 1;
            }
            Span { start, end: i }
        };
        if words.count == MAX_ARGS {
            return Err(SplitError::TooMany);
        }
        words.args[words.count] = (key, value);
        words.count += 1;
    }
}

/// Decodes the quoted value whose opening quote is at `open`; returns its span (written
/// from `open` on) and the index after the closing quote.
#[cfg_attr(charlstm_optimize, optimize(size))]
fn unquote(line: &mut [u8], open: usize) -> Result<(Span, usize), SplitError> {
    let (mut r, mut w) = (open + 1, open);
    loop {
        let b = *line.get(r).ok_or(SplitError::BadQuote)?;
        r += 1;
        let decoded = match b {
            b'"' => break,
            b'\\' => {
                let e = *line.get(r).ok_or(SplitError::BadEscape)?;
                r += 1;
                match e {
                    b'\\' => '\\',
                    b'"' => '"',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let (ch, next) = unicode_escape(line, r)?;
                        r = next;
                        ch
                    }
                    _ => return Err(SplitError::BadEscape),
                }
            }
            _ => {
                line[w] = b;
                w += 1;
                continue;
            }
        };
        let mut utf8 = [0u8; 4];
        for &byte in decoded.encode_utf8(&mut utf8).as_bytes() {
            line[w] = byte;
            w += 1;
        }
    }
    if r < line.len() && !is_space(line[r]) {
        return Err(SplitError::BadQuote);
    }
    Ok((
        Span {
            start: open,
            end: w,
        },
        r,
    ))
}

/// `{hex}` after `\u`, 1 to 6 digits, a Unicode scalar value.
#[cfg_attr(charlstm_optimize, optimize(size))]
fn unicode_escape(line: &[u8], at: usize) -> Result<(char, usize), SplitError> {
    if line.get(at) != Some(&b'{') {
        return Err(SplitError::BadEscape);
    }
    let mut i = at + 1;
    let mut code: u32 = 0;
    let mut digits = 0;
    loop {
        let b = *line.get(i).ok_or(SplitError::BadEscape)?;
        i += 1;
        if b == b'}' {
            break;
        }
        let d = (b as char).to_digit(16).ok_or(SplitError::BadEscape)?;
        digits += 1;
        if digits > 6 {
            return Err(SplitError::BadEscape);
        }
        code = code * 16 + d;
    }
    if digits == 0 {
        return Err(SplitError::BadEscape);
    }
    Ok((char::from_u32(code).ok_or(SplitError::BadEscape)?, i))
}

// ---------------------------------------------------------------------------
// Writing requests (host side)

/// Writes `text` as a quoted value (spec §4): `\\`, `\"`, `\n`, `\r`, `\t`, other control
/// characters as `\u{hex}`, everything else as its UTF-8.
pub fn write_quoted(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    for ch in text.chars() {
        match ch {
            '\\' => out.write_str("\\\\")?,
            '"' => out.write_str("\\\"")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c.is_control() => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

impl Generate<'_> {
    /// The request line (no line end), every argument spelled out; floats in the shortest
    /// form that reads back to the same bits.
    pub fn write_line(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str("generate prime=")?;
        write_quoted(out, self.prime)?;
        let s = &self.sampler;
        write!(
            out,
            " temperature={:e} seed={} chars={} top-k={} top-p={:e}",
            s.temperature, self.seed, self.chars, s.top_k, s.top_p
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn parse(line: &str) -> Result<Request<'static>, String> {
        let buf: &'static mut [u8] = Vec::leak(line.as_bytes().to_vec());
        parse_request(buf).map_err(|e| std::format!("{} {e}", e.kind()))
    }

    fn generate(line: &str) -> Generate<'static> {
        match parse(line) {
            Ok(Request::Generate(g)) => g,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn each_command_parses_and_generate_takes_each_argument_or_its_default() {
        assert_eq!(parse("info"), Ok(Request::Info));
        assert_eq!(parse("  reset\t"), Ok(Request::Reset));
        assert_eq!(parse("quit"), Ok(Request::Quit));
        assert_eq!(generate("generate"), Generate::default());
        let g = generate(
            "generate prime=\"the meaning of \" temperature=0.8 seed=7 chars=12 top-k=5 top-p=0.9",
        );
        assert_eq!(g.prime, "the meaning of ");
        assert_eq!(g.sampler.temperature, 0.8);
        assert_eq!((g.seed, g.chars, g.sampler.top_k), (7, 12, 5));
        assert_eq!(g.sampler.top_p, 0.9);
        assert_eq!(generate("generate prime=abc").prime, "abc");
        assert_eq!(generate("generate prime=\"\"").prime, "");
    }

    #[test]
    fn prime_escapes_decode_and_bad_quotes_or_escapes_are_bad_text() {
        let g = generate(r#"generate prime="a \"b\" \\ \n\r\t \u{e9}\u{D55C} é""#);
        assert_eq!(g.prime, "a \"b\" \\ \n\r\t é한 é");
        for bad in [
            r#"generate prime="abc"#,
            r#"generate prime="abc"x"#,
            r#"generate prime=ab"c"#,
        ] {
            assert!(parse(bad).unwrap_err().starts_with("bad-text"), "{bad}");
        }
        for bad in [
            r#"generate prime="\q""#,
            r#"generate prime="\u{}""#,
            r#"generate prime="\u{110000}""#,
            r#"generate prime="\u{d800}""#,
            r#"generate prime="\u{1234567}""#,
            r#"generate prime="\u12""#,
            "generate prime=\"\\",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().split(' ').next(),
                Some("bad-text"),
                "{bad}"
            );
        }
        assert!(parse_request(&mut [b'i', 0xFF]).is_err());
    }

    #[test]
    fn every_bad_input_names_its_kind() {
        let kind = |line: &str| {
            let e = parse(line).unwrap_err();
            e.split(' ').next().unwrap().to_string()
        };
        use std::string::ToString;
        assert_eq!(kind("hello"), "unknown-command");
        assert_eq!(kind("generate colour=red"), "bad-argument");
        assert_eq!(kind("generate chars"), "bad-argument");
        assert_eq!(kind("generate chars=1 chars=2"), "bad-argument");
        assert_eq!(kind("info chars=1"), "bad-argument");
        assert_eq!(kind("generate chars=-1"), "bad-number");
        assert_eq!(kind("generate chars=4294967296"), "bad-number");
        assert_eq!(kind("generate seed=x"), "bad-number");
        assert_eq!(kind("generate temperature=warm"), "bad-number");
        assert_eq!(kind("generate temperature=-0.1"), "temperature");
        assert_eq!(kind("generate temperature=nan"), "temperature");
        assert_eq!(kind("generate temperature=inf"), "temperature");
        assert_eq!(kind("generate top-p=0"), "top-p");
        assert_eq!(kind("generate top-p=1.5"), "top-p");
        assert_eq!(kind("generate top-p=NaN"), "top-p");
        assert!(
            parse("generate temperature=nan")
                .unwrap_err()
                .contains("`nan`")
        );
    }

    #[test]
    fn a_written_generate_request_parses_back_equal_bit_for_bit() {
        let g = Generate {
            prime: "he said \"hi\"\n\\ é\u{7}",
            chars: 9,
            seed: u64::MAX,
            sampler: SamplerConfig {
                temperature: 0.1 + 0.2,
                top_k: 3,
                top_p: 0.95,
            },
        };
        let mut line = String::new();
        g.write_line(&mut line).unwrap();
        let back = generate(&line);
        assert_eq!(back.prime, g.prime);
        assert_eq!(
            back.sampler.temperature.to_bits(),
            g.sampler.temperature.to_bits()
        );
        assert_eq!(back, g);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any bytes never panic the parser.
        #[test]
        fn arbitrary_bytes_never_panic_the_request_parser(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut b = bytes;
            let _ = parse_request(&mut b);
        }

        /// Any prime and numbers survive writing and reading back.
        #[test]
        fn any_written_generate_request_parses_back_equal(prime in "\\PC{0,40}", t in 0f32..100.0, p in 0.001f32..=1.0, seed: u64, chars: u32, k: u32) {
            let g = Generate { prime: &prime, chars, seed, sampler: SamplerConfig { temperature: t, top_k: k, top_p: p } };
            let mut line = String::new();
            g.write_line(&mut line).unwrap();
            let mut buf = line.into_bytes();
            match parse_request(&mut buf) {
                Ok(Request::Generate(back)) => proptest::prop_assert_eq!(back, g),
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }
}
