//! `charlstm-sim serial`: generate on a real device over its serial console, and the
//! generation flags it shares with `run` (parsed by the device's own number parser, so a
//! temperature is the same f32 on the host, in the simulator and on the device).

use std::io::{self, Write};
use std::time::Duration;

use anyhow::anyhow;
use charlstm_core::SamplerConfig;
use charlstm_device::number;
use charlstm_device::protocol::{self, Generate};
use charlstm_sim::serial::{self, Console, value};
use clap::Args;

/// The generation settings of `run` and `serial` (docs/serial-protocol.md §3).
#[derive(Debug, Clone, Args)]
pub struct GenerationArgs {
    /// Text fed to the model before generating (lowercased if the model's corpus was).
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub prime: String,
    /// Sampling temperature: finite, >= 0; 0 = always the most likely character.
    #[arg(long, value_name = "T", default_value_t = protocol::DEFAULT_TEMPERATURE, value_parser = parse_f32, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Characters to generate.
    #[arg(long, value_name = "N", default_value_t = protocol::DEFAULT_CHARS, value_parser = parse_u32)]
    pub chars: u32,
    /// RNG seed: the same seed, settings and model give the same text on every target.
    #[arg(long, value_name = "S", default_value_t = protocol::DEFAULT_SEED, value_parser = parse_u64)]
    pub seed: u64,
    /// Keep only the K most likely characters; 0 = off.
    #[arg(long, value_name = "K", default_value_t = protocol::DEFAULT_TOP_K, value_parser = parse_u32)]
    pub top_k: u32,
    /// Keep the smallest most-likely set with probability >= P; in (0, 1], 1 = off.
    #[arg(long, value_name = "P", default_value_t = protocol::DEFAULT_TOP_P, value_parser = parse_f32, allow_negative_numbers = true)]
    pub top_p: f32,
}

/// A flag's value the device would refuse: a usage error (exit status 2), like clap's own.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl GenerationArgs {
    /// The request these flags make, checked as the device checks it.
    pub fn request(&self) -> anyhow::Result<Generate<'_>> {
        let sampler = SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
        };
        let (t, p) = (self.temperature.to_string(), self.top_p.to_string());
        protocol::check_sampler(sampler, &t, &p).map_err(|e| UsageError(e.to_string()))?;
        Ok(Generate {
            prime: &self.prime,
            chars: self.chars,
            seed: self.seed,
            sampler,
        })
    }
}

pub fn parse_f32(text: &str) -> Result<f32, String> {
    number::parse_f32(text).map_err(|e| format!("`{text}` {e}"))
}
fn parse_u32(text: &str) -> Result<u32, String> {
    number::parse_u32(text).map_err(|e| format!("`{text}` {e}"))
}
fn parse_u64(text: &str) -> Result<u64, String> {
    number::parse_u64(text).map_err(|e| format!("`{text}` {e}"))
}

#[derive(Debug, Args)]
pub struct SerialArgs {
    /// The device's serial port, e.g. /dev/ttyACM0, /dev/ttyUSB0, or the /dev/pts/N QEMU's
    /// `-serial pty` made.
    #[arg(long, value_name = "PATH")]
    pub port: String,
    /// Baud rate (8N1, no flow control).
    #[arg(long, value_name = "B", default_value_t = 115_200, value_parser = clap::value_parser!(u32).range(1..))]
    pub baud: u32,
    #[command(flatten)]
    pub generation: GenerationArgs,
    /// Print exactly the generated characters on stdout: no prime, no newline.
    #[arg(long)]
    pub raw: bool,
    /// Give up after this many seconds without the whole reply.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
    /// After the reply, send `quit` (a QEMU build exits; real hardware says it cannot).
    #[arg(long)]
    pub quit: bool,
}

/// Runs one request; the text goes to stdout as it arrives, the device's figures to stderr.
pub fn serial_cmd(a: SerialArgs) -> anyhow::Result<()> {
    let request = a.generation.request()?;
    if !(a.timeout.is_finite() && a.timeout > 0.0) {
        let e = format!("--timeout {}: use a positive number of seconds", a.timeout);
        return Err(UsageError(e).into());
    }
    let port = serial::open(&a.port, a.baud)?;
    let mut console = Console::new(port, Duration::from_secs_f64(a.timeout));
    let label = a.port.clone();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !a.raw {
        out.write_all(request.prime.as_bytes())?;
    }
    let reply = match console.generate(&request, &mut out) {
        Ok(reply) => reply,
        Err(e) => {
            // A device that refused to boot answers every request with its error line and
            // stops on `quit` (docs/serial-protocol.md §5): end it as asked.
            if a.quit && e.downcast_ref::<serial::SerialError>().is_some() {
                console.quit().ok();
            }
            return Err(e.context(label));
        }
    };
    if !a.raw {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    for key in ["board", "ram_budget"] {
        if let Some(v) = value(&reply.info, key) {
            eprintln!("{key}: {v}");
        }
    }
    for (key, v) in &reply.end {
        eprintln!("{key}: {v}");
    }
    if a.quit {
        console.quit().map_err(|e| e.context(label.clone()))?;
    }
    if value(&reply.end, "status") != Some("ok") {
        return Err(anyhow!("{label}: the reply was interrupted"));
    }
    Ok(())
}
