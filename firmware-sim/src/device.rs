//! The device: where the model comes from (a flash image, a blob file or the bundled
//! model), loading it through charlstm-core, and one generation run on a thread with a
//! fixed stack, as a firmware's main loop would do it.
//!
//! The generation sequence is the firmware's, call for call, so `--raw` output is
//! byte-identical to the QEMU build's: `Generator::new(&model, config, seed)`,
//! `prime(text, OnUnknown::Error)`, then `next_char()` N times.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use charlstm_core::{Generator, LoadError, OnUnknown, SamplerConfig};

use crate::board::Board;
use crate::bundled::BUNDLED_BLOB;
use crate::flash::{self, Boot};
use crate::footprint::{SIM_H, SIM_L, SIM_V, SimModel};
use crate::formats::{self, Format};
use crate::probe::{self, StackUse};
use crate::uart::Uart;

/// Stack of the device thread. The generator (about 18 KiB at the simulator's capacities)
/// lives in its outer frame; generation itself is measured in the band below.
pub const DEVICE_STACK: usize = 256 * 1024;
/// Depth of the painted band for `--stats`.
pub const PAINT_DEPTH: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Sources

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flash image written by `charlstm-sim flash`.
    Image(PathBuf),
    /// A blob file written by the trainer.
    Blob(PathBuf),
    /// The model built into this binary.
    Bundled,
}

/// The bytes of a source: a whole flash image (a HEX or UF2 file already laid out as the
/// board's flash) or a blob.
#[derive(Debug)]
pub struct Flash {
    pub source: Source,
    pub bytes: Cow<'static, [u8]>,
    /// The file format an image was read from (`None` for a blob).
    pub format: Option<Format>,
}

impl Flash {
    /// Reads the file (or takes the bundled bytes).
    pub fn read(source: Source) -> anyhow::Result<Flash> {
        let mut format = None;
        let bytes = match &source {
            Source::Image(path) => {
                let decoded = formats::decode(read_file(path)?, path)
                    .with_context(|| path.display().to_string())?;
                format = Some(decoded.format);
                Cow::Owned(decoded.image)
            }
            Source::Blob(path) => Cow::Owned(read_file(path)?),
            Source::Bundled => Cow::Borrowed(BUNDLED_BLOB.ok_or_else(|| {
                anyhow!(
                    "this build has no bundled model: pass --blob or --image, or train one: see README"
                )
            })?),
        };
        Ok(Flash {
            source,
            bytes,
            format,
        })
    }

    /// How to name this source in messages.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Image(p) | Source::Blob(p) => p.display().to_string(),
            Source::Bundled => "bundled model".to_string(),
        }
    }

    /// Boots an image (the blob is its model region's slice) as the board its header names,
    /// which `board` (from `--board`) must agree with; hands out a blob as is.
    pub fn blob(&self, board: Option<&'static Board>) -> anyhow::Result<(&[u8], Option<Boot<'_>>)> {
        match self.source {
            Source::Image(_) => {
                let boot = flash::boot(&self.bytes, board).with_context(|| self.label())?;
                Ok((boot.blob, Some(boot)))
            }
            Source::Blob(_) | Source::Bundled => Ok((&self.bytes, None)),
        }
    }
}

/// Reads a whole file, with a message naming it.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| anyhow!("{}: cannot read it: {e} (check the path)", path.display()))
}

/// Validates `blob` through the core (zero-copy); the error names `label` and the remedy.
pub fn load_model<'a>(blob: &'a [u8], label: &str) -> anyhow::Result<SimModel<'a>> {
    SimModel::from_bytes(blob).map_err(|e| anyhow!("{label}: {e} ({})", remedy(&e)))
}

fn remedy(e: &LoadError) -> String {
    match e {
        LoadError::ExceedsCapacity { .. } => format!(
            "the simulator holds hidden <= {SIM_H}, vocab <= {SIM_V}, layers <= {SIM_L}: train a smaller model"
        ),
        LoadError::TooShort { .. } | LoadError::BadMagic => {
            "pass a blob written by `charlstm-train export`, or an image with --image".into()
        }
        LoadError::UnsupportedVersion { .. } => {
            "re-export it with this release's charlstm-train".into()
        }
        _ => "the file is damaged or truncated: copy or export it again".into(),
    }
}

// ---------------------------------------------------------------------------
// A generation run

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub prime: String,
    pub sampler: SamplerConfig,
    pub seed: u64,
    pub chars: usize,
    /// Send the prime text over the UART before the generated text.
    pub echo_prime: bool,
    /// Measure stack and heap (`--stats`).
    pub measure: bool,
}

/// What a run measured.
#[derive(Debug, Clone, Copy)]
pub struct RunReport {
    /// Characters generated.
    pub chars: usize,
    /// Characters fed by the prime (after lowercasing).
    pub fed: usize,
    /// Wall time of the generation loop (sampling, LSTM steps and UART writes).
    pub elapsed: Duration,
    /// Peak stack of prime plus generation, if measured.
    pub stack: Option<StackUse>,
    /// Heap allocations during prime plus generation, if measured (and the counting
    /// allocator is installed).
    pub allocations: Option<u64>,
}

/// Runs the device: a thread with a [`DEVICE_STACK`] stack creates the generator, primes
/// it, calls `ready` (the caller's banner: the prime is known good by then), and sends
/// `chars` characters to the UART.
pub fn run<W: Write + Send>(
    model: &SimModel<'_>,
    cfg: &RunConfig,
    uart: &mut Uart<W>,
    ready: impl FnOnce() + Send,
) -> anyhow::Result<RunReport> {
    thread::scope(|s| {
        let device = thread::Builder::new()
            .name("device".into())
            .stack_size(DEVICE_STACK)
            .spawn_scoped(s, || device_main(model, cfg, uart, ready))
            .context("cannot start the device thread")?;
        device
            .join()
            .map_err(|_| anyhow!("the device thread stopped unexpectedly"))?
    })
}

fn device_main<W: Write>(
    model: &SimModel<'_>,
    cfg: &RunConfig,
    uart: &mut Uart<W>,
    ready: impl FnOnce(),
) -> anyhow::Result<RunReport> {
    // The generator lives here, above the measured band, as a firmware's static would.
    let mut generator = Generator::new(model, cfg.sampler, cfg.seed)?;
    let probe = Probe { on: cfg.measure };

    let (fed, prime_stack, prime_allocs) =
        probe.measure(|| generator.prime(&cfg.prime, OnUnknown::Error));
    let fed = fed.map_err(|e| {
        anyhow!(
            "--prime: {e} (use only characters the model knows: `charlstm-sim info` lists them)"
        )
    })?;
    ready();
    if cfg.echo_prime {
        uart.write_str(&cfg.prime)?;
    }

    let (elapsed, gen_stack, gen_allocs) = probe.measure(|| -> io::Result<Duration> {
        let start = Instant::now();
        for _ in 0..cfg.chars {
            let ch = generator.next_char();
            uart.write_char(ch)?;
        }
        Ok(start.elapsed())
    });
    Ok(RunReport {
        chars: cfg.chars,
        fed,
        elapsed: elapsed?,
        stack: prime_stack.max(gen_stack),
        allocations: prime_allocs.zip(gen_allocs).map(|(a, b)| a + b),
    })
}

/// Stack and heap measurement of one phase, when `--stats` asks for it.
#[derive(Debug, Clone, Copy)]
struct Probe {
    on: bool,
}

impl Probe {
    fn measure<R>(self, f: impl FnOnce() -> R) -> (R, Option<StackUse>, Option<u64>) {
        if !self.on {
            return (f(), None, None);
        }
        let before = probe::allocations();
        let (result, stack) = probe::measure_stack(PAINT_DEPTH, f);
        let allocs = before.zip(probe::allocations()).map(|(b, a)| a - b);
        (result, Some(stack), allocs)
    }
}

/// True if `e` is a closed stdout (e.g. `| head`): not a failure of the simulator.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_the_firmware_sequence_and_reports_what_it_fed() {
        let Some(blob) = BUNDLED_BLOB else {
            return; // built without models/nietzsche.blob: nothing to run
        };
        let model = load_model(blob, "bundled model").unwrap();
        assert!(model.lowercase());
        let cfg = RunConfig {
            prime: "The ".into(), // lowercased first: 4 characters fed
            sampler: SamplerConfig::temperature(0.5),
            seed: 7,
            chars: 20,
            echo_prime: true,
            measure: true,
        };
        let mut uart = Uart::new(Vec::new(), None);
        let mut ready = false;
        let report = run(&model, &cfg, &mut uart, || ready = true).unwrap();
        assert!(ready);
        assert_eq!((report.fed, report.chars), (4, 20));
        assert!(report.stack.is_some());
        // The unit tests do not install the counting allocator.
        assert_eq!(report.allocations, None);
        // The firmware's calls, made by hand, give the same bytes.
        let mut g = Generator::new(&model, cfg.sampler, cfg.seed).unwrap();
        assert_eq!(g.prime(&cfg.prime, OnUnknown::Error), Ok(4));
        let expected = cfg.prime.clone() + &g.chars(20).collect::<String>();
        assert_eq!(uart.into_inner(), expected.as_bytes());
    }
}
