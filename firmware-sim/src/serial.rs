//! The host side of the serial console (docs/serial-protocol.md): ask a device over a real
//! serial port (a tty: a USB serial adapter, a board's debug probe, QEMU's `-serial pty`)
//! for text, stream it to stdout as it arrives and report the device's figures.
//!
//! Requests are written by `charlstm_device::protocol`, the code the device parses them
//! with, so a temperature is the same f32 on both sides.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use charlstm_device::protocol::Generate;

/// How long one read waits before the overall deadline is checked again.
const POLL: Duration = Duration::from_millis(50);
/// How often `info` is re-sent while the device has not answered (it may still be booting,
/// or its UART may have dropped bytes sent before it was ready).
const INFO_RETRY: Duration = Duration::from_millis(250);

/// How a serial session went wrong, for the exit message.
#[derive(Debug)]
pub enum SerialError {
    /// The device answered with an `error` line (the line, without `error `).
    Device(String),
    /// Nothing (or not the whole reply) came within the timeout; says what was awaited.
    Timeout {
        waited: Duration,
        what: &'static str,
    },
}

impl std::fmt::Display for SerialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerialError::Device(line) => write!(f, "the device reports: {line}"),
            SerialError::Timeout { waited, what } => write!(
                f,
                "timed out after {:.1} s waiting for {what} (is the device running and on this port at this baud rate? raise --timeout for long runs)",
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for SerialError {}

/// What one `generate` returned.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The `info` line's `key=value` pairs.
    pub info: Vec<(String, String)>,
    /// The `end` line's `key=value` pairs.
    pub end: Vec<(String, String)>,
}

/// A console session on an open port.
#[derive(Debug)]
pub struct Console<P: Read + Write> {
    port: P,
    deadline: Instant,
    started: Instant,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
}

impl<P: Read + Write> Console<P> {
    /// A session that gives up `timeout` from now.
    pub fn new(port: P, timeout: Duration) -> Self {
        let now = Instant::now();
        Console {
            port,
            deadline: now + timeout,
            started: now,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) -> anyhow::Result<()> {
        self.port
            .write_all(line.as_bytes())
            .and_then(|()| self.port.write_all(b"\n"))
            .and_then(|()| self.port.flush())
            .context("cannot write to the port")
    }

    /// Reads more bytes into `buf`; `Ok(false)` when the poll interval passed with none.
    fn fill(&mut self, what: &'static str) -> anyhow::Result<bool> {
        if Instant::now() >= self.deadline {
            return Err(SerialError::Timeout {
                waited: self.started.elapsed(),
                what,
            }
            .into());
        }
        let mut chunk = [0u8; 512];
        match self.port.read(&mut chunk) {
            Ok(0) => bail!("the device closed the port while we waited for {what}"),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            // A pty whose other side has gone reads EIO.
            Err(e) => Err(anyhow!(e).context(format!(
                "the port failed while we waited for {what} (did the device stop?)"
            ))),
        }
    }

    /// The next whole line (LF ended, CR dropped), or `None` if none came this poll.
    fn line(&mut self, what: &'static str) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if !self.fill(what)? {
                return Ok(None);
            }
        }
    }

    /// Asks `info` until the device answers it; a boot failure's error line is an error.
    pub fn info(&mut self) -> anyhow::Result<Vec<(String, String)>> {
        let mut asked: Option<Instant> = None;
        loop {
            if asked.is_none_or(|t| t.elapsed() >= INFO_RETRY) {
                self.send("info")?;
                asked = Some(Instant::now());
            }
            let Some(line) = self.line("the device's info line")? else {
                continue;
            };
            if let Some(rest) = line.strip_prefix("info ") {
                return Ok(pairs(rest));
            }
            if let Some(rest) = line.strip_prefix("error ") {
                return Err(SerialError::Device(rest.to_string()).into());
            }
            // A ready line, or what a device printed before we asked: not the answer.
        }
    }

    /// Sends `request` and streams the text to `out` as it arrives.
    pub fn generate(
        &mut self,
        request: &Generate<'_>,
        out: &mut impl Write,
    ) -> anyhow::Result<Reply> {
        let info = self.info()?;
        let mut line = String::new();
        request
            .write_line(&mut line)
            .expect("writing to a String cannot fail");
        self.send(&line)?;
        let chars = loop {
            let Some(line) = self.line("the reply to generate")? else {
                continue;
            };
            if let Some(rest) = line.strip_prefix("text ") {
                let chars = value(&pairs(rest), "chars")
                    .and_then(|c| c.parse::<u64>().ok())
                    .ok_or_else(|| anyhow!("the device sent a malformed text line: {line:?}"))?;
                break chars;
            }
            if let Some(rest) = line.strip_prefix("error ") {
                return Err(SerialError::Device(rest.to_string()).into());
            }
            // An info line answering a retried request: skip it.
        };
        // The text: `chars` characters, counted as UTF-8 lead bytes, written as they come.
        let mut seen = 0u64;
        while seen < chars {
            if self.buf.is_empty() && !self.fill("the generated text")? {
                continue;
            }
            let mut take = 0;
            while take < self.buf.len() {
                let lead = self.buf[take] & 0xC0 != 0x80;
                if lead {
                    if seen == chars {
                        break;
                    }
                    seen += 1;
                }
                take += 1;
            }
            // Keep a character's continuation bytes together with it.
            let text: Vec<u8> = self.buf.drain(..take).collect();
            out.write_all(&text).context("cannot write the text")?;
            out.flush().context("cannot write the text")?;
        }
        // The last character's continuation bytes, then the LF that closes the text.
        loop {
            match self.buf.first() {
                Some(&b) if b & 0xC0 == 0x80 => {
                    out.write_all(&[b]).context("cannot write the text")?;
                    self.buf.remove(0);
                }
                Some(_) => break,
                None => {
                    self.fill("the end of the text")?;
                }
            }
        }
        out.flush().context("cannot write the text")?;
        let end = loop {
            if let Some(line) = self.line("the end line")? {
                match line.strip_prefix("end ") {
                    Some(rest) => break pairs(rest),
                    None if line.is_empty() => continue,
                    None => bail!("the device sent {line:?} where the end line belongs"),
                }
            }
        };
        Ok(Reply { info, end })
    }

    /// Sends `quit` and waits for `bye` (or for the device to go away, as QEMU does).
    pub fn quit(&mut self) -> anyhow::Result<()> {
        self.send("quit")?;
        loop {
            match self.line("the answer to quit") {
                Ok(Some(line)) if line == "bye" => return Ok(()),
                Ok(Some(line)) if line.starts_with("error ") => {
                    return Err(SerialError::Device(line[6..].to_string()).into());
                }
                Ok(_) => {}
                // The QEMU build exits right after `bye`: a closed port is the goodbye.
                Err(e) if e.downcast_ref::<SerialError>().is_none() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// `a=1 b=x` as pairs.
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.split(' ')
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of `key` in `pairs`.
pub fn value<'p>(pairs: &'p [(String, String)], key: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Opens a serial device (a tty) at `baud`, 8N1, raw, no flow control.
pub fn open(path: &str, baud: u32) -> anyhow::Result<serialport::TTYPort> {
    serialport::new(path, baud)
        .timeout(POLL)
        .open_native()
        .map_err(|e| anyhow!("{path}: cannot open the serial port: {e} (check the path and that nothing else holds it)"))
}
