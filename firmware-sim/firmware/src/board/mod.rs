//! The board this firmware is built for, and what every Cortex-M board here shares.
//!
//! Exactly one board feature selects the board module (its UART and tick counter, behind
//! [`Hw`], charlstm-device's `console::Hardware`) and, in build.rs, the board table's entry
//! that the linker memory map is generated from and [`BOARD`] names. Every address and size
//! comes from that table (`charlstm_device::board::BOARDS`); the board modules hold only
//! their peripheral registers.
//!
//! Shared here, from cortex-m-rt's link: stack painting and the RAM and flash figures, and
//! the exit (semihosting under QEMU, a halt on hardware).

use core::ptr::{addr_of, read_volatile, write_volatile};

use charlstm_device::board::{BOARDS, Board};
use charlstm_device::console::ExitStatus;

#[cfg(feature = "mps2-an386")]
mod mps2_an386;
#[cfg(feature = "mps2-an386")]
pub use mps2_an386::Mps2An386 as Hw;
#[cfg(feature = "mps2-an386")]
use mps2_an386::fault_line;

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
// RAM and flash figures from cortex-m-rt's link.x

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
    let top = (cortex_m::register::msp::read() as usize).saturating_sub(64);
    let mut p = free_ram_start();
    while p < top {
        // SAFETY: `p` is word-aligned (cortex-m-rt aligns `__sheap` to 4) and lies in RAM
        // between the statics and the live stack, which no reference points into.
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

/// Flash bytes of the firmware: vector table, code, read-only data and .data's initial
/// values (where .data's load image ends, from the start of flash).
pub fn code_bytes() -> u32 {
    let data = addr_of!(__edata) as usize - addr_of!(__sdata) as usize;
    (addr_of!(__sidata) as usize - BOARD.flash_base as usize + data) as u32
}

// ---------------------------------------------------------------------------
// Exit

/// Guest instructions per tick of a counter at the board's core clock, under QEMU
/// `-icount shift=0` (one instruction per nanosecond): 1000 / clock_mhz, reduced.
#[cfg(feature = "qemu")]
pub const fn instructions_per_tick() -> (u32, u32) {
    let (mut a, mut b) = (1000, BOARD.clock_mhz);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    (1000 / a, BOARD.clock_mhz / a)
}

/// Ends the program: QEMU exits with `status` (semihosting).
#[cfg(feature = "qemu")]
pub fn exit(status: ExitStatus) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(match status {
        ExitStatus::Success => debug::EXIT_SUCCESS,
        ExitStatus::Failure => debug::EXIT_FAILURE,
    });
    halt()
}

/// Ends the program: real hardware has nothing to exit to, so it halts.
#[cfg(not(feature = "qemu"))]
pub fn exit(_status: ExitStatus) -> ! {
    halt()
}

/// A fault or panic: sends the fixed `line` on the UART and ends with failure. One copy,
/// shared by the handlers; nothing in it formats.
#[inline(never)]
pub fn fatal(line: &[u8]) -> ! {
    fault_line(line);
    exit(ExitStatus::Failure)
}

/// Stops here for good (until a reset).
pub fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
