//! The board this firmware is built for, and what every board here shares.
//!
//! Exactly one board feature selects the board module (`chip`: its UART and tick counter)
//! and, in build.rs, the board table's entry that the linker memory map is generated from and
//! [`BOARD`] names. Every address and size comes from that table
//! (`charlstm_device::board::BOARDS`); the board modules hold only their peripheral registers
//! and counters. The architecture module (`arch`: Cortex-M or RISC-V) holds the entry point,
//! the stack pointer, the fault handler, the exit and the halt.
//!
//! Shared here: [`Hw`], charlstm-device's `console::Hardware` over the board module; stack
//! painting and the RAM and flash figures, from the link symbols cortex-m-rt and riscv-rt
//! both define (`__sheap`, `_stack_start`, `__sidata`, `__sdata`, `__edata`).

use core::ptr::{addr_of, read_volatile, write_volatile};

use charlstm_device::board::{BOARDS, Board};
use charlstm_device::console::{ExitStatus, Hardware};

#[cfg(target_arch = "arm")]
#[path = "arm.rs"]
mod arch;
#[cfg(target_arch = "riscv32")]
#[path = "rv32.rs"]
mod arch;

pub use arch::{entry, halt};

#[cfg(feature = "mps2-an386")]
#[path = "mps2_an386.rs"]
mod chip;
#[cfg(feature = "netduinoplus2")]
#[path = "netduinoplus2.rs"]
mod chip;
#[cfg(feature = "microbit")]
#[path = "microbit.rs"]
mod chip;
#[cfg(feature = "sifive_e")]
#[path = "sifive_e.rs"]
mod chip;

/// This build's entry of the board table: the one build.rs generated memory.x from.
pub const BOARD: &Board = board_named(env!("CHARLSTM_BOARD"));

/// The table's board called `name`, looked up at compile time (a missing name is a build
/// error, not a runtime one).
const fn board_named(name: &str) -> &'static Board {
    let mut i = 0;
    while i < BOARDS.len() {
        if same_bytes(BOARDS[i].name.as_bytes(), name.as_bytes()) {
            return &BOARDS[i];
        }
        i += 1;
    }
    panic!("CHARLSTM_BOARD is not in charlstm_device::board::BOARDS")
}

const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// ---------------------------------------------------------------------------
// The console's hardware: the board module's UART and counter

/// The board's console hardware, set up by [`Hw::init`].
pub struct Hw {
    _initialized: (),
}

impl Hw {
    /// Sets up the board's UART (transmit and receive, 115,200 baud) and starts its tick
    /// counter. Call once, at boot.
    pub fn init() -> Self {
        chip::init();
        Hw { _initialized: () }
    }
}

impl Hardware for Hw {
    fn read_byte(&mut self) -> Option<u8> {
        chip::read_byte()
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            chip::write_byte(b);
        }
    }

    fn ticks(&mut self) -> u32 {
        chip::ticks()
    }

    fn ticks_between(&self, earlier: u32, later: u32) -> u32 {
        chip::ticks_between(earlier, later)
    }

    fn instructions_per_tick(&self) -> Option<(u32, u32)> {
        #[cfg(feature = "qemu")]
        {
            Some(chip::INSTRUCTIONS_PER_TICK)
        }
        #[cfg(not(feature = "qemu"))]
        {
            None
        }
    }

    fn code_bytes(&self) -> u32 {
        code_bytes()
    }

    fn ram_bytes(&self) -> u32 {
        ram_bytes()
    }

    fn quit(&mut self, status: ExitStatus) -> bool {
        #[cfg(feature = "qemu")]
        exit(status);
        #[cfg(not(feature = "qemu"))]
        {
            let _ = status;
            false
        }
    }

    fn reset(&mut self) -> ! {
        arch::reset()
    }
}

/// Guest instructions per tick of a counter at the board's core clock (SysTick), under QEMU
/// `-icount shift=0` (one instruction per nanosecond): 1000 / clock_mhz, reduced.
#[cfg(all(feature = "qemu", target_arch = "arm"))]
pub const fn core_clock_instructions_per_tick() -> (u32, u32) {
    let (mut a, mut b) = (1000, BOARD.clock_mhz);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    (1000 / a, BOARD.clock_mhz / a)
}

// ---------------------------------------------------------------------------
// RAM and flash figures from the runtime crate's link.x

unsafe extern "C" {
    // End of .bss/.uninit (the start of the free RAM), the initial stack pointer (end of the
    // RAM region, i.e. of the RAM budget), and the flash extent of .data's load image.
    static __sheap: u32;
    static _stack_start: u32;
    static __sidata: u32;
    static __sdata: u32;
    static __edata: u32;
}

/// Fill pattern of the unused stack, to find its high-water mark.
const PAINT: u32 = 0xDEAD_BEEF;

// Only the addresses of the linker symbols are taken (no unsafe needed for that).
fn free_ram_start() -> usize {
    addr_of!(__sheap) as usize
}
fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}

/// Fills the free RAM between the statics and the caller's frame with `PAINT`. Call it
/// first thing in `main`.
#[inline(never)]
pub fn paint_stack() {
    // Nothing runs below the current stack pointer (no interrupt is enabled), so every word
    // from the end of the statics up to it is unused; 64 bytes of margin for this frame.
    let top = arch::stack_pointer().saturating_sub(64);
    let mut p = free_ram_start();
    while p < top {
        // SAFETY: `p` is word-aligned (both runtimes' link.x align `__sheap` to 4) and lies
        // in RAM between the statics and the live stack, which no reference points into.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Statics (.data, .bss, .uninit) plus the deepest the stack has reached so far.
pub fn ram_bytes() -> u32 {
    let mut p = free_ram_start();
    // SAFETY: reads aligned words of the region `paint_stack` filled, inside RAM; the live
    // stack above the lowest changed word is never reached by the scan.
    while p < stack_top() && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    let statics = free_ram_start().saturating_sub(BOARD.ram_base as usize);
    (statics + (stack_top() - p)) as u32
}

/// Flash bytes of the firmware: vector table (or RISC-V start code), code, read-only data and
/// .data's initial values (where .data's load image ends, from the start of flash).
pub fn code_bytes() -> u32 {
    let data = addr_of!(__edata) as usize - addr_of!(__sdata) as usize;
    (addr_of!(__sidata) as usize - BOARD.flash_base as usize + data) as u32
}

// ---------------------------------------------------------------------------
// Exit

/// Ends the program: QEMU exits with `status` (semihosting).
#[cfg(feature = "qemu")]
pub fn exit(status: ExitStatus) -> ! {
    arch::semihosting_exit(status);
    halt()
}

/// Ends the program: real hardware has nothing to exit to, so it halts.
#[cfg(not(feature = "qemu"))]
pub fn exit(_status: ExitStatus) -> ! {
    halt()
}

/// A fault or panic: sends the fixed `line` on the UART (enabled again first, whatever
/// state the console left it in) and ends with failure. One copy, shared by the handlers;
/// nothing in it formats.
#[inline(never)]
pub fn fatal(line: &[u8]) -> ! {
    chip::uart_enable();
    for &b in line {
        chip::write_byte(b);
    }
    exit(ExitStatus::Failure)
}
