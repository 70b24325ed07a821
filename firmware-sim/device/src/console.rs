//! The serial console: boot from the flashed partition, then serve request lines until
//! `quit`. Written once, generic over the board's [`Hardware`], so every firmware runs the
//! same loop and the same generation sequence as `charlstm-sim run` (docs/serial-protocol.md
//! is the spec; section numbers below cite it).

use core::fmt::{self, Write};

use charlstm_core::{Generator, LoadError, Model, OnUnknown, Sampler, UnknownChar};

use crate::board::Board;
use crate::image::{self, ImageError};
use crate::number::format_u64;
use crate::protocol::{
    self, Generate, INTERRUPT, LINE_MAX, PROTOCOL_VERSION, Request, RequestError,
};

/// What the console needs from a board: a UART, a tick counter, memory figures and an exit.
pub trait Hardware {
    /// A received byte, if one is waiting (never blocks).
    fn read_byte(&mut self) -> Option<u8>;
    /// Sends `bytes` on the UART (blocks until they are queued).
    fn write(&mut self, bytes: &[u8]);
    /// A free-running tick counter.
    fn ticks(&mut self) -> u32;
    /// Ticks from `earlier` to `later`; exact for spans shorter than the counter's period.
    fn ticks_between(&self, earlier: u32, later: u32) -> u32;
    /// Guest instructions per tick as (numerator, denominator) under QEMU `-icount shift=0`;
    /// `None` on real hardware, where ticks are clock cycles.
    fn instructions_per_tick(&self) -> Option<(u32, u32)>;
    /// Flash bytes of the firmware: vectors, code, read-only data, .data's initial values.
    fn code_bytes(&self) -> u32;
    /// RAM used so far: statics plus the stack's high-water mark.
    fn ram_bytes(&self) -> u32;
    /// Stops the device with `status`: a QEMU build exits and does not return; hardware that
    /// cannot stop returns `false` and the console goes on (a host test harness returns
    /// `true`, and [`run`] returns `status`).
    fn quit(&mut self, status: ExitStatus) -> bool;
    /// `reset`: a system reset; the device boots again and sends its ready line.
    fn reset(&mut self) -> !;
}

/// How a console session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `quit` after a good boot.
    Success,
    /// The boot failed.
    Failure,
}

/// Why the device cannot serve: its flash holds no model it can run (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootError {
    /// The partition header or the blob's CRC (docs/flash-layout.md §4).
    Image(ImageError),
    /// The blob itself, or capacities this firmware was not built for (docs/blob-format.md §7).
    Model(LoadError),
}

impl fmt::Display for BootError {
    #[cfg_attr(charlstm_optimize, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Image(e) => write!(f, "{e}"),
            BootError::Model(e) => write!(f, "model: {e}"),
        }
    }
}

/// Checks the partition at `from_header` and loads its model (zero-copy).
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn boot<'f, const H: usize, const V: usize, const L: usize>(
    board: &Board,
    from_header: &'f [u8],
) -> Result<Model<'f, H, V, L>, BootError> {
    let partition = image::read_partition(board, from_header).map_err(BootError::Image)?;
    Model::from_bytes(partition.blob).map_err(BootError::Model)
}

/// Boots from the partition at `from_header` (the board's flash from its header offset on)
/// and serves requests until `quit`. On a failed boot it sends one error line instead of the
/// ready line, answers every request with that line, and stops with `Failure` on `quit`
/// (spec §5: a host that has read the line ends the device, so no exit races the line).
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn run<Hw: Hardware, const H: usize, const V: usize, const L: usize>(
    hw: &mut Hw,
    board: &'static Board,
    from_header: &[u8],
) -> ExitStatus {
    let mut line = LineBuffer::new();
    let model = match boot::<H, V, L>(board, from_header) {
        Ok(model) => model,
        Err(e) => {
            write_line(hw, format_args!("error {e}"));
            loop {
                let Some(request) = line.current.read(hw) else {
                    continue;
                };
                let quit = matches!(request.map(protocol::parse_request), Ok(Ok(Request::Quit)));
                line.clear();
                write_line(hw, format_args!("error {e}"));
                if quit && hw.quit(ExitStatus::Failure) {
                    return ExitStatus::Failure;
                }
            }
        }
    };
    let device = Device {
        board,
        model: &model,
        capacity: (H, V, L),
    };
    device.describe(hw, "ready");
    loop {
        let Some(result) = line.current.read(hw) else {
            continue;
        };
        let request = match result {
            Ok(bytes) => protocol::parse_request(bytes),
            Err(e) => Err(e),
        };
        match request {
            Ok(Request::Generate(g)) => generate(hw, &device, &g, &mut line.ahead),
            Ok(Request::Info) => device.describe(hw, "info"),
            Ok(Request::Reset) => hw.reset(),
            Ok(Request::Quit) => {
                write_line(hw, format_args!("bye"));
                if hw.quit(ExitStatus::Success) {
                    return ExitStatus::Success;
                }
                write_line(
                    hw,
                    format_args!(
                        "error unsupported: this build runs on hardware and cannot quit (reset restarts it)"
                    ),
                );
            }
            Err(e) => write_line(hw, format_args!("error {}: {e}", e.kind())),
        }
        line.clear();
    }
}

// ---------------------------------------------------------------------------
// Replies (spec §3)

struct Device<'m, 'f, const H: usize, const V: usize, const L: usize> {
    board: &'static Board,
    model: &'m Model<'f, H, V, L>,
    capacity: (usize, usize, usize),
}

impl<const H: usize, const V: usize, const L: usize> Device<'_, '_, H, V, L> {
    /// The ready line, or with `info` the model's and the firmware's figures too.
    #[cfg_attr(charlstm_optimize, optimize(size))]
    fn describe(&self, hw: &mut impl Hardware, word: &str) {
        let d = self.model.dims();
        let quant = self.model.quant().name();
        let mut out = Out(hw);
        write!(
            out,
            "{word} protocol={PROTOCOL_VERSION} board={} hidden={} vocab={} layers={} quant={quant} crc={:#010x}",
            self.board.name,
            d.hidden,
            d.vocab,
            d.layers,
            self.model.crc()
        )
        .ok();
        if word == "info" {
            let (h, v, l) = self.capacity;
            let (code, ram) = (out.0.code_bytes(), out.0.ram_bytes());
            write!(
                out,
                " blob_bytes={} capacity={h}/{v}/{l} line_max={LINE_MAX} code_bytes={code} ram_bytes={ram} ram_budget={}",
                self.model.blob_len(),
                self.board.ram_budget
            )
            .ok();
        }
        out.0.write(b"\n");
    }
}

/// A generate request (spec §3): a fresh generator, the prime, then `text chars=N`, the
/// characters as they are made, LF, and the `end` line with the figures.
#[inline(never)] // the generator lives in this frame only
fn generate<Hw: Hardware, const H: usize, const V: usize, const L: usize>(
    hw: &mut Hw,
    device: &Device<'_, '_, H, V, L>,
    g: &Generate<'_>,
    pending: &mut Pending,
) {
    let sampler = match Sampler::new(g.sampler, g.seed) {
        Ok(sampler) => sampler,
        // The request's checks make this unreachable; answered all the same.
        Err(_) => {
            return write_line(
                hw,
                format_args!("error temperature: invalid sampler settings"),
            );
        }
    };
    let mut slot = None;
    let generator = Generator::in_place(&mut slot, device.model, sampler);
    let t = hw.ticks();
    let fed = match generator.prime(g.prime, OnUnknown::Error) {
        Ok(fed) => fed,
        Err(e) => return write_prime_error(hw, e),
    };
    let now = hw.ticks();
    let prime_ticks = hw.ticks_between(t, now) as u64;

    write_line(hw, format_args!("text chars={}", g.chars));
    let mut ticks = 0u64;
    let mut made_chars = 0u32;
    let mut interrupted = false;
    let mut utf8 = [0; 4];
    while made_chars < g.chars {
        // Once a whole next line is in, further bytes wait in the UART.
        if let Some(b) = (!pending.ended).then(|| hw.read_byte()).flatten() {
            if b == INTERRUPT {
                interrupted = true;
                break;
            }
            pending.push(b);
        }
        let t = hw.ticks();
        let ch = generator.next_char();
        let now = hw.ticks();
        ticks += hw.ticks_between(t, now) as u64;
        hw.write(ch.encode_utf8(&mut utf8).as_bytes());
        made_chars += 1;
    }
    let counts = Counts {
        chars: made_chars,
        ticks,
        prime_chars: fed,
        prime_ticks,
    };
    write_end(hw, if interrupted { "interrupted" } else { "ok" }, &counts);
}

/// What a generate request made and spent, for its end line.
struct Counts {
    chars: u32,
    ticks: u64,
    prime_chars: usize,
    prime_ticks: u64,
}

/// The `end` line of a generate reply, after the LF that closes the text.
#[inline(never)]
#[cfg_attr(charlstm_optimize, optimize(size))]
fn write_end(hw: &mut impl Hardware, status: &str, c: &Counts) {
    let mut out = Out(hw);
    write!(
        out,
        "\nend status={status} chars={} ticks={} prime_chars={} prime_ticks={}",
        c.chars, c.ticks, c.prime_chars, c.prime_ticks
    )
    .ok();
    if let Some((num, den)) = out.0.instructions_per_tick() {
        let per = |ticks: u64, n: u64| {
            if n == 0 {
                0
            } else {
                ticks * num as u64 / (den as u64 * n)
            }
        };
        let mut buf = [0; 20];
        out.0.write(b" instructions_per_char=");
        out.0
            .write(format_u64(per(c.ticks, c.chars as u64), &mut buf).as_bytes());
        out.0.write(b" instructions_per_prime_char=");
        out.0
            .write(format_u64(per(c.prime_ticks, c.prime_chars as u64), &mut buf).as_bytes());
    }
    let (code, ram) = (out.0.code_bytes(), out.0.ram_bytes());
    writeln!(out, " code_bytes={code} ram_bytes={ram}").ok();
}

/// The reply to a prime character outside the vocabulary.
#[inline(never)]
#[cfg_attr(charlstm_optimize, optimize(size))]
fn write_prime_error(hw: &mut impl Hardware, e: UnknownChar) {
    let mut utf8 = [0; 4];
    let shown = if e.ch.is_control() {
        "?"
    } else {
        e.ch.encode_utf8(&mut utf8)
    };
    // U+XXXX: at least four hex digits, as Unicode writes them.
    write_line(
        hw,
        format_args!(
            "error prime: character `{shown}` (U+{:04x}) at position {} is not in the model's vocabulary",
            e.ch as u32, e.position
        ),
    );
}

/// `fmt::Write` onto the UART.
struct Out<'h, Hw: Hardware>(&'h mut Hw);

impl<Hw: Hardware> Write for Out<'_, Hw> {
    #[inline(never)] // one copy of the UART loop for every reply
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

/// One reply line: the text, then LF.
#[inline(never)]
#[cfg_attr(charlstm_optimize, optimize(size))]
fn write_line(hw: &mut impl Hardware, args: fmt::Arguments<'_>) {
    let mut out = Out(hw);
    out.write_fmt(args).ok();
    out.0.write(b"\n");
}

// ---------------------------------------------------------------------------
// Request lines (spec §2)

/// Bytes that arrived while a reply streamed: the start of the next request.
struct Pending {
    buf: [u8; LINE_MAX],
    len: usize,
    ended: bool,
    too_long: bool,
}

impl Pending {
    /// Takes one received byte: CR or LF ends the line (an empty line is no line), Ctrl-C
    /// discards it, past [`LINE_MAX`] bytes the rest is dropped and the line is refused.
    fn push(&mut self, b: u8) {
        match b {
            b'\r' | b'\n' => self.ended = self.len > 0 || self.too_long,
            INTERRUPT => self.reset(),
            _ if self.len == LINE_MAX => self.too_long = true,
            _ => {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    /// Reads what has arrived; a whole line (or its refusal) once one has ended.
    fn read<Hw: Hardware>(
        &mut self,
        hw: &mut Hw,
    ) -> Option<Result<&mut [u8], RequestError<'static>>> {
        while !self.ended {
            self.push(hw.read_byte()?);
        }
        if self.too_long {
            return Some(Err(RequestError::LineTooLong));
        }
        Some(Ok(&mut self.buf[..self.len]))
    }

    fn reset(&mut self) {
        self.len = 0;
        self.ended = false;
        self.too_long = false;
    }
}

/// The line being read, and the one that arrives while a reply streams.
struct LineBuffer {
    current: Pending,
    ahead: Pending,
}

impl LineBuffer {
    fn new() -> Self {
        let empty = Pending {
            buf: [0; LINE_MAX],
            len: 0,
            ended: false,
            too_long: false,
        };
        LineBuffer {
            current: Pending { ..empty },
            ahead: empty,
        }
    }

    /// Done with the current line: the bytes that came during its reply start the next.
    fn clear(&mut self) {
        core::mem::swap(&mut self.current, &mut self.ahead);
        self.ahead.reset();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::VecDeque;
    use std::string::String;
    use std::vec::Vec;

    /// A board made of two byte queues and a clock that advances one tick per read.
    struct Loopback {
        rx: VecDeque<u8>,
        tx: Vec<u8>,
        clock: u32,
        quits: Vec<ExitStatus>,
    }

    impl Hardware for Loopback {
        fn read_byte(&mut self) -> Option<u8> {
            self.rx.pop_front()
        }
        fn write(&mut self, bytes: &[u8]) {
            self.tx.extend_from_slice(bytes);
        }
        fn ticks(&mut self) -> u32 {
            self.clock += 1;
            self.clock
        }
        fn ticks_between(&self, earlier: u32, later: u32) -> u32 {
            later.wrapping_sub(earlier)
        }
        fn instructions_per_tick(&self) -> Option<(u32, u32)> {
            Some((40, 1))
        }
        fn code_bytes(&self) -> u32 {
            1000
        }
        fn ram_bytes(&self) -> u32 {
            2000
        }
        fn quit(&mut self, status: ExitStatus) -> bool {
            self.quits.push(status);
            false
        }
        fn reset(&mut self) -> ! {
            panic!("reset")
        }
    }

    #[test]
    fn line_buffer_ends_lines_on_cr_lf_and_crlf() {
        let mut hw = Loopback {
            rx: b"a\r\nb\rc\n\n\x03junk\x03d\n".iter().copied().collect(),
            tx: Vec::new(),
            clock: 0,
            quits: Vec::new(),
        };
        let mut lines = LineBuffer::new();
        let mut got: Vec<String> = Vec::new();
        while let Some(line) = lines.current.read(&mut hw) {
            got.push(String::from_utf8(line.unwrap().to_vec()).unwrap());
            lines.clear();
        }
        assert_eq!(got, ["a", "b", "c", "d"]);
        let mut long = [b'x'; LINE_MAX + 1].to_vec();
        long.extend_from_slice(b"\nok\n");
        hw.rx = long.into_iter().collect();
        assert_eq!(
            lines.current.read(&mut hw).map(|r| r.err()),
            Some(Some(RequestError::LineTooLong))
        );
        lines.clear();
        assert_eq!(lines.current.read(&mut hw).unwrap().unwrap(), b"ok");
    }
}
