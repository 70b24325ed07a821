//! charlstm-sim: flash a blob into a simulated microcontroller's flash image, boot it and
//! generate text over its UART, or describe a model and the boards it fits.
//!
//! Errors are one line on stderr, exit code 1 (clap's usage errors: 2). `run --raw` prints
//! only the generated characters on stdout, everything else goes to stderr.
//!
//! No `unsafe` here: the binary only installs the library's counting allocator
//! (`charlstm_sim::probe`, the simulator's one module allowed `unsafe`).
#![forbid(unsafe_code)]

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use charlstm_core::SamplerConfig;
use clap::{Args, Parser, Subcommand};

use charlstm_sim::board::{self, BOARDS, Board, Budget, DEFAULT_BOARD, RAM_RESERVE};
use charlstm_sim::device::{self, Flash, RunConfig, RunReport, Source};
use charlstm_sim::flash;
use charlstm_sim::footprint::{self, Build, SimModel};
use charlstm_sim::formats::{self, Format, Segment};
use charlstm_sim::group;
use charlstm_sim::probe::{self, CountingAlloc};
use charlstm_sim::uart::Uart;

mod boards_cmd;
mod serial_cmd;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The seed when `--seed` is not given: the console's default too.
const DEFAULT_SEED: u64 = charlstm_device::protocol::DEFAULT_SEED;

#[derive(Debug, Parser)]
#[command(
    name = "charlstm-sim",
    version,
    about = "A simulated microcontroller running a charlstm model: flash weights, boot, generate over a UART"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write a blob into a flash image, an Intel HEX or a UF2 file, then read it back and
    /// verify it.
    Flash(FlashArgs),
    /// Boot the simulated device and generate text to its UART (stdout).
    Run(RunArgs),
    /// Describe a model: dims, vocabulary, quantization, metadata, sizes, board fit.
    Info(InfoArgs),
    /// The classic recipe's samples: N chars at each temperature (0.2, 0.5, 1.0, 1.2), each
    /// from the same freshly primed state, on the simulated device.
    Samples(SamplesArgs),
    /// Generate on a real device (or QEMU) over its serial console: text to stdout as it
    /// arrives, the device's figures to stderr (docs/serial-protocol.md).
    Serial(serial_cmd::SerialArgs),
    /// The board table: addresses, sizes, budgets, and each firmware's measured figures.
    Boards(boards_cmd::BoardsArgs),
}

#[derive(Debug, Args)]
struct FlashArgs {
    /// The blob to flash (written by `charlstm-train export`).
    blob: PathBuf,
    /// The file to write: a bin flash image is created or updated (an existing one keeps its
    /// firmware region); a HEX or UF2 file is replaced.
    #[arg(long, value_name = "FILE")]
    image: PathBuf,
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BOARD, value_parser = board::parse,
          help = board_help("decides the addresses and the budgets"))]
    board: &'static Board,
    /// bin: the whole flash image (for the simulator); hex: Intel HEX of the header page and
    /// blob at CPU addresses (for probe-rs, openocd, STM32CubeProgrammer); uf2: the same as
    /// UF2 blocks (rp2040's boot ROM drive). Default: from FILE's extension (.hex, .uf2,
    /// anything else bin).
    #[arg(long, value_name = "F", value_enum)]
    format: Option<Format>,
    /// Merge this firmware (an ELF, or Intel HEX) into the file, for flashers that erase the
    /// whole chip (drag-and-drop); its bytes must lie in the board's firmware reservation.
    #[arg(long, value_name = "FW")]
    firmware: Option<PathBuf>,
    /// Write the image even if the model is above the board firmware's capacities or RAM
    /// budget (for a firmware built otherwise); a blob larger than the model region is
    /// still refused.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Boot from a file written by `charlstm-sim flash`: flash image, Intel HEX or UF2 (the
    /// board is the one its partition header names).
    #[arg(long, value_name = "FILE", conflicts_with = "blob")]
    image: Option<PathBuf>,
    /// Run a blob file directly (as if flashed). Without --image/--blob: the bundled model.
    #[arg(long, value_name = "FILE")]
    blob: Option<PathBuf>,
    #[command(flatten)]
    generation: serial_cmd::GenerationArgs,
    #[arg(long, value_name = "NAME", value_parser = board::parse, help = board_help(
        "default: the board an image's header names, which --board must agree with, else mps2-an386, the QEMU machine; budgets are enforced"
    ))]
    board: Option<&'static Board>,
    /// Pace the UART like a serial line at B baud (8N1: 10 bits per byte).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u32).range(1..))]
    baud: Option<u32>,
    /// After generating, report flash, RAM, peak stack, heap allocations and speed (stderr).
    #[arg(long)]
    stats: bool,
    /// Print exactly the generated characters on stdout: no prime, banner or newline.
    #[arg(long)]
    raw: bool,
}

#[derive(Debug, Args)]
struct SamplesArgs {
    /// Boot from a file written by `charlstm-sim flash`: flash image, Intel HEX or UF2 (the
    /// board is the one its partition header names).
    #[arg(long, value_name = "FILE", conflicts_with = "blob")]
    image: Option<PathBuf>,
    /// Run a blob file directly (as if flashed). Without --image/--blob: the bundled model.
    #[arg(long, value_name = "FILE")]
    blob: Option<PathBuf>,
    /// Text fed to the model before each sample (the classic recipe uses a corpus slice).
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_SAMPLE_PRIME, allow_hyphen_values = true)]
    prime: String,
    /// Sampling temperatures, one sample each.
    #[arg(long = "temperature", value_name = "T", num_args = 1.., default_values_t = [0.2f32, 0.5, 1.0, 1.2], value_parser = serial_cmd::parse_f32, allow_negative_numbers = true)]
    temperatures: Vec<f32>,
    /// Characters per sample.
    #[arg(long, value_name = "N", default_value_t = 400)]
    chars: usize,
    /// RNG seed of every sample.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Board profile (default: the board an image's header names, which --board must agree
    /// with, else mps2-an386); budgets are enforced.
    #[arg(long, value_name = "NAME", value_parser = board::parse)]
    board: Option<&'static Board>,
}

/// The prime of `samples`: the opening of Beyond Good and Evil, in the bundled model's vocabulary.
const DEFAULT_SAMPLE_PRIME: &str = "supposing that truth is a woman--what then? ";

#[derive(Debug, Args)]
struct InfoArgs {
    /// A blob file. Without it or --image: the bundled model.
    blob: Option<PathBuf>,
    /// A file written by `charlstm-sim flash`: flash image, Intel HEX or UF2.
    #[arg(long, value_name = "FILE", conflicts_with = "blob")]
    image: Option<PathBuf>,
}

/// `--board`'s help, listing the board table.
fn board_help(what: &str) -> String {
    format!("Board: {} ({what})", board::names())
}

fn main() -> ExitCode {
    probe::mark_allocator_installed();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Flash(a) => flash_cmd(a),
        Cmd::Run(a) => run_cmd(a),
        Cmd::Info(a) => info_cmd(a),
        Cmd::Samples(a) => samples_cmd(a),
        Cmd::Serial(a) => serial_cmd::serial_cmd(a),
        Cmd::Boards(a) => boards_cmd::boards_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed stdout (`| head`) ends the run, it is not an error.
        Err(e) if device::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<serial_cmd::UsageError>() => {
            eprintln!("charlstm-sim: error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("charlstm-sim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn source(image: Option<PathBuf>, blob: Option<PathBuf>) -> Source {
    match (image, blob) {
        (Some(p), _) => Source::Image(p),
        (None, Some(p)) => Source::Blob(p),
        (None, None) => Source::Bundled,
    }
}

// ---------------------------------------------------------------------------
// flash

fn flash_cmd(a: FlashArgs) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let board = a.board;
    let label = a.blob.display().to_string();
    let image_label = a.image.display().to_string();
    let format = a.format.unwrap_or_else(|| Format::from_extension(&a.image));
    // Refused before anything is read or written: no UF2 loader would take it.
    if format == Format::Uf2 {
        formats::uf2_family(board).map_err(|e| anyhow!("{image_label}: {e}"))?;
    }
    let blob = device::read_file(&a.blob)?;
    let model = device::load_model(&blob, &label)?;
    let build = footprint::build_for(&model);
    let fit = board.check(&label, blob.len(), model.dims(), &build);
    match fit {
        Err(e) if !a.force || board.fit(blob.len(), model.dims(), &build).flash_over() > 0 => {
            bail!(e)
        }
        Err(e) => eprintln!("charlstm-sim: warning: --force: {e}"),
        Ok(_) => {}
    }
    let firmware = match &a.firmware {
        Some(path) => Some(formats::read_firmware(path, board)?),
        None => None,
    };

    // Only a bin image is updated in place (it keeps its firmware region); a HEX or UF2
    // file holds what is flashed and nothing else, so it starts from erased flash.
    let existing = match std::fs::read(&a.image) {
        Ok(bytes) if format == Format::Bin => Some(bytes),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => bail!("{image_label}: cannot read it: {e} (check the path)"),
    };
    let kept_firmware = existing.is_some() && firmware.is_none();
    let mut image =
        flash::write_image(board, &blob, existing).map_err(|e| anyhow!("{image_label}: {e}"))?;
    let mut ranges = vec![formats::model_range(board, blob.len())];
    if let Some(fw) = &firmware {
        formats::place_firmware(&mut image, board, fw);
        let base = board.flash_base as u64;
        ranges.extend(
            fw.iter()
                .map(|s| s.addr - base..s.addr - base + s.data.len() as u64),
        );
    }
    let file = formats::encode(format, board, &image, &ranges)
        .map_err(|e| anyhow!("{image_label}: {e}"))?;
    charlstm_files::write_atomic(&a.image, &file).with_context(|| image_label.clone())?;

    // Verify as a flasher does: read back through the reader `--image` uses, compare the
    // whole flash it stands for, boot, load through the core.
    let back = device::read_file(&a.image)?;
    let decoded = formats::decode(back, &a.image)
        .map_err(|e| anyhow!("{image_label}: verify failed: {e:#}"))?;
    if decoded.format != format || decoded.image != image {
        bail!(
            "{image_label}: verify failed: the file read back differs from what was written (disk full or flaky storage? flash again)"
        );
    }
    let booted = flash::boot(&decoded.image, Some(board))
        .map_err(|e| anyhow!("{image_label}: verify failed: {e}"))?;
    if booted.blob != blob.as_slice() {
        bail!(
            "{image_label}: verify failed: the model region differs from {label} (disk full or flaky storage? flash again)"
        );
    }
    let check = device::load_model(booted.blob, &image_label)?;

    let d = check.dims();
    let region = board.model_region();
    writeln!(
        out,
        "flashed {label} -> {image_label} ({}) for {}",
        format.name(),
        board.shown()
    )?;
    let firmware_note = match (&firmware, format, kept_firmware) {
        (Some(_), _, _) => " (from --firmware)",
        (None, Format::Bin, true) => " (kept)",
        (None, Format::Bin, false) => " (erased)",
        (None, _, _) => " (not in the file: the flasher leaves it as it is)",
    };
    writeln!(
        out,
        "  layout     firmware 0x0..{:#x}{firmware_note}, header at {:#x}, model region {:#x}..{:#x} ({} bytes)",
        board.firmware,
        board.header_offset(),
        board.model_offset(),
        board.flash,
        group(region as u64)
    )?;
    print_written(format, board, &file, &ranges, firmware.as_deref());
    writeln!(
        out,
        "  model      {} bytes = {:.1}% of the model region, CRC-32 {:#010x}, H={} V={} L={} {}",
        group(blob.len() as u64),
        100.0 * blob.len() as f64 / region as f64,
        check.crc(),
        d.hidden,
        d.vocab,
        d.layers,
        check.quant()
    )?;
    match board.build {
        Some(fw) => writeln!(
            out,
            "  RAM        {} bytes (its firmware's, measured; built for H<={} V<={} L<={}) of the firmware's {}",
            group(fw.ram_bytes as u64),
            fw.hidden,
            fw.vocab,
            fw.layers,
            group(board.ram_budget as u64)
        )?,
        None => writeln!(
            out,
            "  RAM        {} bytes ({} KiB firmware + {} for a {build} build) of the firmware's {}",
            group((RAM_RESERVE as usize + build.total()) as u64),
            RAM_RESERVE / 1024,
            group(build.total() as u64),
            group(board.ram_budget as u64)
        )?,
    }
    writeln!(
        out,
        "  verified   read back as {}, same flash bytes, header and blob CRC-32 match, model loads",
        format.name()
    )?;
    Ok(())
}

/// What a flash file holds, at CPU addresses.
fn print_written(
    format: Format,
    board: &Board,
    file: &[u8],
    ranges: &[std::ops::Range<u64>],
    firmware: Option<&[Segment]>,
) {
    let base = board.flash_base as u64;
    if format == Format::Bin {
        println!(
            "  wrote      the whole flash, {} bytes (offset 0 = address {base:#x})",
            group(file.len() as u64)
        );
        return;
    }
    for r in formats::merge(ranges.to_vec()) {
        println!(
            "  wrote      {:#010x}..{:#010x} ({} bytes)",
            base + r.start,
            base + r.end,
            group(r.end - r.start)
        );
    }
    let model = formats::model_range(board, 0);
    println!(
        "             header page at {:#010x}, blob from {:#010x}{}",
        base + model.start,
        base + model.end,
        firmware.map_or(String::new(), |fw| format!(
            ", firmware {} bytes in {} segment(s)",
            group(fw.iter().map(|s| s.data.len() as u64).sum()),
            fw.len()
        ))
    );
    if format == Format::Uf2 {
        println!(
            "             {} UF2 blocks of 256 bytes, family {:#010x}",
            file.len() / 512,
            board.uf2_family.unwrap_or(0)
        );
    }
}

// ---------------------------------------------------------------------------
// run

/// A device booted from a flash image, a blob file or the bundled model, its budgets checked.
struct Booted<'f> {
    label: String,
    blob: &'f [u8],
    board: &'static Board,
    model: SimModel<'f>,
    build: Build,
}

/// Finds the model, picks the board (`--board`, else the image's, else the default), loads
/// the model through the core and checks it against the board's budgets.
fn boot<'f>(flash: &'f Flash, board_arg: Option<&'static Board>) -> anyhow::Result<Booted<'f>> {
    let label = flash.label();
    let (blob, boot) = flash.blob(board_arg)?;
    // An image's board is its header's (a disagreeing --board was refused by the boot).
    let board = match (board_arg, &boot) {
        (_, Some(boot)) => boot.board,
        (Some(b), None) => b,
        (None, None) => board::find(DEFAULT_BOARD).expect("the default board exists"),
    };
    let model = device::load_model(blob, &label)?;
    let build = footprint::build_for(&model);
    board
        .check(&label, blob.len(), model.dims(), &build)
        .map_err(|e| anyhow!(e))?;
    Ok(Booted {
        label,
        blob,
        board,
        model,
        build,
    })
}

fn run_cmd(a: RunArgs) -> anyhow::Result<()> {
    let flash = Flash::read(source(a.image.clone(), a.blob.clone()))?;
    let Booted {
        label,
        blob,
        board,
        model,
        build,
    } = boot(&flash, a.board)?;
    // The checks the device makes of the same request (charlstm_device::protocol).
    let request = a.generation.request()?;
    let cfg = RunConfig {
        prime: request.prime.to_string(),
        sampler: request.sampler,
        seed: request.seed,
        chars: request.chars as usize,
        echo_prime: !a.raw,
        measure: a.stats,
    };
    // stdout (and its buffer) is set up here, before generating: the loop allocates nothing.
    let mut uart = Uart::new(io::stdout(), a.baud).flush_each(io::stdout().is_terminal());
    let d = model.dims();
    let banner = || {
        if a.raw {
            return;
        }
        eprintln!(
            "charlstm-sim: {} booted from {label}: H={} V={} L={} {}, {} bytes, CRC-32 {:#010x}; T={} top-k={} top-p={} seed={}",
            board.shown(),
            d.hidden,
            d.vocab,
            d.layers,
            model.quant(),
            group(blob.len() as u64),
            model.crc(),
            cfg.sampler.temperature,
            cfg.sampler.top_k,
            cfg.sampler.top_p,
            cfg.seed
        );
    };
    let report = device::run(&model, &cfg, &mut uart, banner)?;
    if !a.raw {
        uart.write_str("\n")?;
    }
    uart.flush()?;
    if a.stats {
        print_stats(board, &model, &build, &report);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// samples

fn samples_cmd(a: SamplesArgs) -> anyhow::Result<()> {
    let flash = Flash::read(source(a.image.clone(), a.blob.clone()))?;
    let Booted {
        label,
        board,
        model,
        ..
    } = boot(&flash, a.board)?;
    let configs: Vec<SamplerConfig> = a
        .temperatures
        .iter()
        .map(|&t| {
            let cfg = SamplerConfig::temperature(t);
            cfg.validate().map(|()| cfg)
        })
        .collect::<Result<_, _>>()?;
    let d = model.dims();
    let meta = model.meta();
    println!(
        "{} booted from {label}: H={} V={} L={} {}, val bpc {:.3} (float {:.3}), seed {}",
        board.shown(),
        d.hidden,
        d.vocab,
        d.layers,
        model.quant(),
        meta.val_bpc_quant,
        meta.val_bpc_float,
        a.seed
    );
    println!("----- prime: {:?}", a.prime);
    let mut uart = Uart::new(io::stdout(), None).flush_each(io::stdout().is_terminal());
    for sampler in configs {
        uart.write_str(&format!("----- temperature {}\n", sampler.temperature))?;
        let cfg = RunConfig {
            prime: a.prime.clone(),
            sampler,
            seed: a.seed,
            chars: a.chars,
            echo_prime: true,
            measure: false,
        };
        device::run(&model, &cfg, &mut uart, || ())?;
        uart.write_str("\n")?;
    }
    uart.flush()?;
    Ok(())
}

fn print_stats(board: &Board, model: &SimModel<'_>, build: &Build, r: &RunReport) {
    let blob = model.blob_len();
    let used = board.model_offset() as usize + blob;
    let sim = footprint::sim_build();
    let d = model.dims();
    eprintln!("--- stats: {}", board.shown());
    eprintln!(
        "flash        {} bytes used of {} ({:.1}%): firmware {} KiB + header page + blob {}",
        group(used as u64),
        group(board.flash as u64),
        100.0 * used as f64 / board.flash as f64,
        board.firmware / 1024,
        group(blob as u64)
    );
    for (what, b) in [("this simulator", &sim), ("sized build", build)] {
        eprintln!(
            "RAM          {:>6} bytes  {what} ({b}): model view {} + generator (state, scratch, sampler) {}",
            group(b.total() as u64),
            b.model_bytes,
            group(b.generator_bytes as u64)
        );
    }
    match board.build {
        Some(fw) => eprintln!(
            "             this board's firmware (H={} V={} L={}): {} of its {} bytes RAM budget (measured under QEMU: statics + stack)",
            fw.hidden,
            fw.vocab,
            fw.layers,
            group(fw.ram_bytes as u64),
            group(board.ram_budget as u64)
        ),
        None => eprintln!(
            "             sized build + {} KiB firmware stack/runtime = {} of the firmware's {} bytes RAM budget (size_of on this 64-bit host)",
            RAM_RESERVE / 1024,
            group((RAM_RESERVE as usize + build.total()) as u64),
            group(board.ram_budget as u64)
        ),
    }
    match r.stack {
        Some(s) => eprintln!(
            "stack        {} peak for the prime ({} chars fed) + {} chars (painted {} KiB on a {} KiB device thread)",
            s.describe(),
            r.fed,
            r.chars,
            s.painted / 1024,
            device::DEVICE_STACK / 1024
        ),
        None => eprintln!("stack        not measured"),
    }
    match r.allocations {
        Some(n) => {
            eprintln!("heap         {n} allocations during prime + generation (counting allocator)")
        }
        None => eprintln!("heap         not measured (counting allocator not installed)"),
    }
    let secs = r.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        r.chars as f64 / secs
    } else {
        0.0
    };
    eprintln!(
        "speed        {} chars/s on this host ({} chars in {:.3} s, UART writes included)",
        group(rate as u64),
        group(r.chars as u64),
        secs
    );
    eprintln!(
        "compute      {} multiply-adds per char (H={} V={} L={}), {} parameters",
        group(model.macs_per_char() as u64),
        d.hidden,
        d.vocab,
        d.layers,
        group(model.param_count() as u64)
    );
}

// ---------------------------------------------------------------------------
// info

fn info_cmd(a: InfoArgs) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let flash = Flash::read(source(a.image, a.blob))?;
    let label = flash.label();
    let (blob, boot) = flash.blob(None)?;
    let model = device::load_model(blob, &label)?;
    let d = model.dims();
    let m = model.meta();
    let build = footprint::build_for(&model);

    writeln!(out, "model        {label}")?;
    if let Some(boot) = boot {
        let h = boot.header;
        writeln!(
            out,
            "image        {}, flashed for {}; header at {:#x} (flash offset {:#x}), model region {:#x}..{:#x} ({} bytes), blob {} bytes ({:.1}% used)",
            flash.format.unwrap_or(Format::Bin).name(),
            boot.board.shown(),
            boot.board.header_addr(),
            boot.board.header_offset(),
            h.model_offset,
            h.model_offset as u64 + h.model_len as u64,
            group(h.model_len as u64),
            group(h.blob_len as u64),
            100.0 * h.blob_len as f64 / h.model_len.max(1) as f64
        )?;
    }
    writeln!(
        out,
        "dims         vocab {}, hidden {}, layers {}",
        d.vocab, d.hidden, d.layers
    )?;
    writeln!(out, "quantization {}", model.quant())?;
    writeln!(
        out,
        "vocabulary   {:?}{}",
        model.vocab(),
        if model.lowercase() {
            " (lowercased corpus: prime text is lowercased)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "size         blob {} bytes, CRC-32 {:#010x}, {} parameters, {} multiply-adds per char",
        group(model.blob_len() as u64),
        model.crc(),
        group(model.param_count() as u64),
        group(model.macs_per_char() as u64)
    )?;
    writeln!(out, "recipe       {}", m.recipe)?;
    writeln!(
        out,
        "corpus       {} ({} chars)",
        m.corpus_name,
        group(m.corpus_chars)
    )?;
    writeln!(
        out,
        "val bpc      float {}, quantized {}",
        bpc(m.val_bpc_float),
        bpc(m.val_bpc_quant)
    )?;
    writeln!(out, "written by   {}", m.tool_version)?;
    writeln!(
        out,
        "RAM          {} bytes for a {build} build (model view {} + generator {}), + {} KiB firmware stack/runtime",
        group(build.total() as u64),
        build.model_bytes,
        group(build.generator_bytes as u64),
        RAM_RESERVE / 1024
    )?;
    writeln!(
        out,
        "boards       (flash: blob vs model region; RAM: needed vs the firmware's budget)"
    )?;
    for b in BOARDS {
        let fit = b.fit(blob.len(), d, &build);
        let verdict = match (fit.flash_over(), fit.ram_over()) {
            _ if fit.over_capacity.is_some() => {
                let fw = fit.over_capacity.unwrap_or_else(|| unreachable!());
                format!(
                    "no: its firmware holds at most H={} V={} L={}",
                    fw.hidden, fw.vocab, fw.layers
                )
            }
            (0, 0) => match (b.qemu_machine, b.build) {
                (Some(machine), Some(fw)) => format!(
                    "runs (QEMU {machine}: {} instructions/char, firmware {} B)",
                    group(fw.instructions_per_char as u64),
                    group(fw.code_bytes as u64)
                ),
                _ => "fits (a profile: no firmware here)".to_string(),
            },
            (f, 0) => format!("no: flash over by {} bytes", group(f as u64)),
            (0, r) => format!("no: RAM over by {} bytes", group(r as u64)),
            (f, r) => format!(
                "no: flash over by {} bytes, RAM over by {} bytes",
                group(f as u64),
                group(r as u64)
            ),
        };
        writeln!(
            out,
            "  {:<13} flash {:>9} / {:>9}  RAM {:>9} / {:>9}  {verdict}",
            b.name,
            group(fit.blob as u64),
            group(fit.model_region as u64),
            group(fit.ram_needed as u64),
            group(fit.ram_budget as u64)
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Formatting

fn bpc(v: f32) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "not measured".to_string()
    }
}
