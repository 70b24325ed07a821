//! charlstm firmware: the serial console of charlstm-device (docs/serial-protocol.md),
//! running charlstm-core unchanged, on the board its Cargo feature selects (src/board/).
//!
//! At boot it paints the stack (for the RAM figure), sets up the board's UART and tick
//! counter, and hands the console the board's flash from the partition header on: the
//! console checks the header and the blob (`charlstm_device::image::read_partition`), loads
//! the model in place and serves requests until `quit`. The firmware is built with
//! `panic = "abort"`; its panic handler and the architecture's fault handler (HardFault,
//! RISC-V exceptions: src/board/) send one fixed `error fault: ...` line and exit with
//! failure (QEMU build) or halt.
#![no_std]
#![no_main]

mod board;

use board::entry;
use charlstm_device::board::FirmwareBuild;
use charlstm_device::console;

/// Capacities, from the board table's `build` (where `charlstm-sim flash` reads them too):
/// the bundled Nietzsche model is H=128, V=57, L=1; V=96 leaves room for any printable-ASCII
/// corpus, L=2 for the trainer's two-layer models. A larger blob is refused by the loader at
/// boot (an `error` line).
const BUILD: FirmwareBuild = match board::BOARD.build {
    Some(build) => build,
    None => panic!("the board table has no firmware build for this board"),
};
const H: usize = BUILD.hidden as usize;
const V: usize = BUILD.vocab as usize;
const L: usize = BUILD.layers as usize;

// The partition header follows the firmware reservation, so its address is never 0.
const _: () = assert!(board::BOARD.header_offset() > 0);

#[entry]
fn main() -> ! {
    board::paint_stack();
    let mut hw = board::Hw::init();
    let status = console::run::<_, H, V, L>(&mut hw, board::BOARD, flash_from_header());
    board::exit(status)
}

/// The board's flash from its partition header (flash base + header offset) to its end.
fn flash_from_header() -> &'static [u8] {
    let b = board::BOARD;
    let len = (b.flash - b.header_offset()) as usize;
    // SAFETY: the board table says flash is mapped at `flash_base` for `flash` bytes, so
    // this range (after the firmware reservation, at a non-zero address) is readable memory
    // for the whole run. Nothing writes it: the linker keeps the firmware's code and data
    // inside the reservation and RAM elsewhere, and the firmware never programs flash.
    unsafe { core::slice::from_raw_parts(b.header_addr() as usize as *const u8, len) }
}

/// Nothing in the firmware is expected to panic; if something does, a fixed line (no
/// formatting of the panic message) and a failed exit.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    board::fatal(b"error fault: panic\n")
}
