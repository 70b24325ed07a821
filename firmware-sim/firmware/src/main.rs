//! charlstm firmware for a Cortex-M4F: QEMU's mps2-an386 board (docs/qemu-m4.md).
//!
//! charlstm-core runs unchanged. The model blob is flashed separately from the code at
//! `MODEL_ADDR` (as a flasher would; under QEMU `-device loader,file=model.blob,addr=...`);
//! the generation settings come in a params block at `PARAMS_ADDR` (format below and in
//! docs/qemu-m4.md §"Params block"). The firmware loads the model, primes, generates the
//! requested characters to the CMSDK UART0 (QEMU's stdout), and reports on semihosting stderr:
//! RAM (static + painted-stack high-water), flash (code + blob) and guest instructions per
//! character, read from SysTick (under `-icount shift=0` one tick is 40 instructions).
//! It exits through semihosting: 0 on success, 1 on any error (the message names it).
//!
//! The exact call sequence is the simulator's: `Generator::new`, `prime(.., OnUnknown::Error)`,
//! then `next_char()` N times, so the same blob, prime, temperature and seed give the same bytes.
#![no_std]
#![no_main]

use core::fmt::Write;
use core::ptr::{addr_of, read_volatile, write_volatile};

use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, heprintln};

// ---------------------------------------------------------------------------
// Build configuration: capacities and the flash layout (memory.x)

/// Capacities: the bundled Nietzsche model is H=128, V=57, L=1; V=96 leaves room for any
/// printable-ASCII corpus, L=2 for the trainer's two-layer models (and lets CI run the
/// layer-above path on the M4). A larger blob is rejected by the loader with `ExceedsCapacity`.
const H: usize = 128;
const V: usize = 96;
const L: usize = 2;

/// Where scripts/qemu-m4.sh loads the params block, and its largest size.
const PARAMS_ADDR: usize = 0x0020_0000;
const PARAMS_MAX: usize = 0x0010_0000;
/// Where the model blob is flashed, and the size of that region.
const MODEL_ADDR: usize = 0x0030_0000;
const MODEL_MAX: usize = 0x0010_0000;

/// mps2-an386 runs its CPU (and SysTick) at 25 MHz; `-icount shift=0` makes one guest
/// instruction take 1 ns of virtual time, so one SysTick tick is 40 instructions.
const INSNS_PER_TICK: u64 = 40;
/// Fill pattern of the unused stack, to find its high-water mark.
const PAINT: u32 = 0xDEAD_BEEF;
/// The firmware's RAM budget (issue 5).
const RAM_BUDGET: usize = 16 * 1024;

// ---------------------------------------------------------------------------
// Params block (docs/qemu-m4.md): all integers little-endian
//
//   0  magic "CLPR"          4 B
//   4  version u16 = 1,  6  reserved u16 = 0
//   8  blob_len u32          length of the blob at MODEL_ADDR
//  12  chars u32             characters to generate
//  16  seed u64
//  24  top_k u32             0 = off
//  28  temperature_len u16, 30  top_p_len u16
//  32  prime_len u32
//  36  temperature text, top_p text, prime text (UTF-8, lengths above)
//
// Temperature and top-p travel as the text the user typed and are parsed here with core's
// `f32::from_str`, the parser the simulator's command line uses, so both get the same f32.

const PARAMS_MAGIC: [u8; 4] = *b"CLPR";
const PARAMS_VERSION: u16 = 1;
const PARAMS_HEADER: usize = 36;

/// Generation settings decoded from the params block.
struct Params<'a> {
    blob_len: usize,
    chars: u32,
    seed: u64,
    config: SamplerConfig,
    prime: &'a str,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes and checks the params block; the error says what is wrong.
fn parse_params(b: &[u8]) -> Result<Params<'_>, &'static str> {
    if b.len() < PARAMS_HEADER || b[0..4] != PARAMS_MAGIC {
        return Err("no params block (bad magic): load one with scripts/qemu-m4.sh");
    }
    if u16_at(b, 4) != PARAMS_VERSION {
        return Err("params block version is not 1: rebuild with the matching scripts/qemu-m4.sh");
    }
    let blob_len = u32_at(b, 8) as usize;
    if blob_len > MODEL_MAX {
        return Err("blob is larger than the 1 MiB model region");
    }
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&b[16..24]);
    let lens = [
        u16_at(b, 28) as usize,
        u16_at(b, 30) as usize,
        u32_at(b, 32) as usize,
    ];
    let mut at = PARAMS_HEADER;
    let mut texts = [""; 3];
    for (text, len) in texts.iter_mut().zip(lens) {
        let bytes = b.get(at..at + len).ok_or("params block is truncated")?;
        *text = core::str::from_utf8(bytes).map_err(|_| "params text is not UTF-8")?;
        at += len;
    }
    let [temperature, top_p, prime] = texts;
    Ok(Params {
        blob_len,
        chars: u32_at(b, 12),
        seed: u64::from_le_bytes(seed),
        config: SamplerConfig {
            temperature: temperature
                .parse()
                .map_err(|_| "temperature is not a number")?,
            top_k: u32_at(b, 24),
            top_p: top_p.parse().map_err(|_| "top-p is not a number")?,
        },
        prime,
    })
}

// ---------------------------------------------------------------------------
// Board I/O: CMSDK APB UART0 (QEMU routes it to stdout), SysTick, stack painting

const UART0: usize = 0x4000_4000;
const UART_DATA: *mut u32 = UART0 as *mut u32;
const UART_STATE: *const u32 = (UART0 + 0x04) as *const u32;
const UART_CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const UART_BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;

/// The board's UART0, transmit only.
struct Uart;

impl Uart {
    fn init() -> Uart {
        // SAFETY: UART0's documented registers on mps2-an386; nothing else drives them.
        unsafe {
            write_volatile(UART_BAUDDIV, 16);
            write_volatile(UART_CTRL, 1); // TX enable
        }
        Uart
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: as in `init`; bit 0 of STATE is "TX buffer full".
            unsafe {
                while read_volatile(UART_STATE) & 1 != 0 {}
                write_volatile(UART_DATA, b as u32);
            }
        }
        Ok(())
    }
}

/// SysTick as a free-running 24-bit down-counter of core clock ticks.
struct Ticks;

impl Ticks {
    const MASK: u32 = 0x00FF_FFFF;

    fn start(mut syst: SYST) -> Ticks {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(Self::MASK);
        syst.clear_current();
        syst.enable_counter();
        Ticks
    }
    fn now(&self) -> u32 {
        SYST::get_current()
    }
    /// Ticks from `earlier` to `later` (a down-counter; exact while under 2^24 ticks apart).
    fn since(earlier: u32, later: u32) -> u64 {
        (earlier.wrapping_sub(later) & Self::MASK) as u64
    }
}

unsafe extern "C" {
    // cortex-m-rt's link.x: end of .bss/.uninit (start of the free RAM), the initial stack
    // pointer, and the flash extent of code + read-only data + .data's load image.
    static __sheap: u32;
    static _stack_start: u32;
    static __sidata: u32;
    static __sdata: u32;
    static __edata: u32;
}

const RAM_ORIGIN: usize = 0x2000_0000;

// Only the addresses of these linker symbols are taken (no unsafe needed for that).
fn heap_start() -> usize {
    addr_of!(__sheap) as usize
}
fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}
/// Flash bytes of the firmware image: vectors, code, read-only data and .data's initial values.
fn code_bytes() -> usize {
    addr_of!(__sidata) as usize + (addr_of!(__edata) as usize - addr_of!(__sdata) as usize)
}

/// Fills the free RAM between the statics and this function's frame with `PAINT`.
#[inline(never)]
fn paint_stack() {
    // Nothing runs below the current stack pointer (no interrupts are enabled), so every
    // word from the end of the statics up to it is unused; 64 bytes of margin for this frame.
    let top = cortex_m::register::msp::read() as usize - 64;
    let mut p = heap_start();
    while p < top {
        // SAFETY: p is word-aligned, in RAM, between the statics and the live stack.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// The deepest the stack has reached: from its top down to the lowest overwritten word.
fn stack_high_water() -> usize {
    let mut p = heap_start();
    // SAFETY: reads words of the painted region, which lies inside RAM.
    while p < stack_top() && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    stack_top() - p
}

/// SysTick ticks spent priming and generating.
struct Counts {
    primed: usize,
    prime_ticks: u64,
    gen_ticks: u64,
}

/// The simulator's sequence: `Generator::new`, `prime(.., OnUnknown::Error)`, then
/// `next_char()` `params.chars` times, each character's UTF-8 bytes to the UART. Its own
/// function (not inlined) so the generator, the largest value in RAM, lives in one stack
/// slot instead of several copies in `main`'s frame.
#[inline(never)]
fn generate(
    model: &Model<'_, H, V, L>,
    params: &Params<'_>,
    ticks: &Ticks,
    uart: &mut Uart,
) -> Counts {
    // Borrowed inside the Result, not moved out of it: moving a 4 KiB value costs a stack copy.
    let mut made = Generator::new(model, params.config, params.seed);
    let generator = match &mut made {
        Ok(generator) => generator,
        Err(e) => fail("sampler settings", e),
    };
    let t0 = ticks.now();
    let primed = match generator.prime(params.prime, OnUnknown::Error) {
        Ok(primed) => primed,
        Err(e) => fail("prime", e),
    };
    let prime_ticks = Ticks::since(t0, ticks.now());

    // Only next_char() is timed; each character is shorter than SysTick's 2^24-tick period.
    let mut gen_ticks = 0u64;
    let mut buf = [0u8; 4];
    for _ in 0..params.chars {
        let t = ticks.now();
        let ch = generator.next_char();
        gen_ticks += Ticks::since(t, ticks.now());
        uart.write_str(ch.encode_utf8(&mut buf)).ok();
    }
    Counts {
        primed,
        prime_ticks,
        gen_ticks,
    }
}

/// Reports `msg` on stderr and exits with status 1.
fn fail(what: &str, msg: impl core::fmt::Display) -> ! {
    heprintln!("charlstm-qemu-m4: {}: {}", what, msg);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fail("panic", info)
}

// ---------------------------------------------------------------------------
// Main: load, prime, generate, report

#[entry]
fn main() -> ! {
    paint_stack();
    let cp = cortex_m::Peripherals::take().unwrap_or_else(|| fail("boot", "no peripherals"));
    let ticks = Ticks::start(cp.SYST);
    let mut uart = Uart::init();

    // SAFETY: both regions lie in the board's 4 MiB SSRAM1 (used as flash), above the code
    // (memory.x stops the firmware at 2 MiB), and nothing writes them while we run.
    let params_region =
        unsafe { core::slice::from_raw_parts(PARAMS_ADDR as *const u8, PARAMS_MAX) };
    let params = parse_params(params_region).unwrap_or_else(|e| fail("params block", e));
    // SAFETY: as above; blob_len <= MODEL_MAX was checked.
    let blob = unsafe { core::slice::from_raw_parts(MODEL_ADDR as *const u8, params.blob_len) };

    let model = match Model::<H, V, L>::from_bytes(blob) {
        Ok(model) => model,
        Err(e) => fail("model blob rejected by the loader", e),
    };
    let counts = generate(&model, &params, &ticks, &mut uart);

    let dims = model.dims();
    let quant = match model.quant() {
        Quant::I8RowScaled => "int8",
        Quant::F32 => "f32",
    };
    heprintln!(
        "model: H={} V={} L={} {}, {} parameters, {} multiply-adds/char",
        dims.hidden,
        dims.vocab,
        dims.layers,
        quant,
        model.param_count(),
        model.macs_per_char()
    );
    let (code, blob_len) = (code_bytes(), blob.len());
    heprintln!(
        "flash: code {} B + blob {} B = {} B",
        code,
        blob_len,
        code + blob_len
    );
    let (statics, stack) = (heap_start() - RAM_ORIGIN, stack_high_water());
    heprintln!(
        "generator: {} B (state, scratch and sampler, on the stack)",
        core::mem::size_of::<Generator<'static, 'static, H, V, L>>()
    );
    heprintln!(
        "ram: static {} B + stack high-water {} B = {} B (budget {} B)",
        statics,
        stack,
        statics + stack,
        RAM_BUDGET
    );
    if counts.primed > 0 {
        heprintln!(
            "instructions_per_prime_char: {}",
            counts.prime_ticks * INSNS_PER_TICK / counts.primed as u64
        );
    }
    if params.chars > 0 {
        heprintln!(
            "instructions_per_char: {}",
            counts.gen_ticks * INSNS_PER_TICK / params.chars as u64
        );
    }
    debug::exit(debug::EXIT_SUCCESS);
    loop {}
}
