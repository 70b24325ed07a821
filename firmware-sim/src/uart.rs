//! The simulated UART: bytes go to a writer (stdout in the binary). With a baud rate the
//! line is paced like a real 8N1 serial port: 10 bit times per byte (start, 8 data, stop).

use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

/// Bits on the wire per byte in 8N1 framing.
pub const BITS_PER_BYTE: u32 = 10;
/// A byte that is late by less than this keeps the line's schedule, so sleep overshoot does
/// not slow the average rate; a line idle for longer (the generator was slower) restarts it.
const SLACK: Duration = Duration::from_millis(5);

/// A transmit-only UART.
#[derive(Debug)]
pub struct Uart<W: Write> {
    out: W,
    /// Time on the wire of one byte; `None` = unpaced.
    byte_time: Option<Duration>,
    /// When the line is free for the next byte.
    free_at: Option<Instant>,
    /// Flush after every character even when unpaced (a terminal watching the text).
    flush_each: bool,
}

impl<W: Write> Uart<W> {
    /// A UART writing to `out`, paced at `baud` bits/s if given (must be > 0).
    pub fn new(out: W, baud: Option<u32>) -> Self {
        let byte_time = baud.map(|b| Duration::from_secs(BITS_PER_BYTE as u64) / b.max(1));
        Uart {
            out,
            byte_time,
            free_at: None,
            flush_each: false,
        }
    }

    /// Flush after every character even when unpaced, so a terminal shows the text as it
    /// is generated (a pipe or file gets it line-buffered, which is faster).
    pub fn flush_each(mut self, on: bool) -> Self {
        self.flush_each = on;
        self
    }

    /// Sends the UTF-8 bytes of `ch`.
    pub fn write_char(&mut self, ch: char) -> io::Result<()> {
        let mut buf = [0u8; 4];
        self.write_bytes(ch.encode_utf8(&mut buf).as_bytes())
    }

    /// Sends `s`.
    pub fn write_str(&mut self, s: &str) -> io::Result<()> {
        self.write_bytes(s.as_bytes())
    }

    /// Sends bytes; paced, each is flushed when its slot on the line comes.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(byte_time) = self.byte_time else {
            self.out.write_all(bytes)?;
            return if self.flush_each {
                self.out.flush()
            } else {
                Ok(())
            };
        };
        for byte in bytes {
            let now = Instant::now();
            let slot = match self.free_at {
                Some(t) if t + SLACK >= now => t,
                _ => now,
            };
            if slot > now {
                thread::sleep(slot - now);
            }
            self.out.write_all(std::slice::from_ref(byte))?;
            self.out.flush()?;
            self.free_at = Some(slot + byte_time);
        }
        Ok(())
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer back (the tests read what was sent).
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaced_writes_every_byte_in_order() {
        let mut u = Uart::new(Vec::new(), None);
        u.write_str("ab").unwrap();
        u.write_char('é').unwrap();
        assert_eq!(u.into_inner(), "abé".as_bytes());
    }

    #[test]
    fn paced_line_takes_ten_bit_times_per_byte() {
        // 49 bytes at 9600 baud: the last one leaves 48 byte times (50 ms) after the first.
        let mut u = Uart::new(Vec::new(), Some(9600));
        let start = Instant::now();
        u.write_str(&"x".repeat(49)).unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(50),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(u.into_inner().len(), 49);
    }
}
