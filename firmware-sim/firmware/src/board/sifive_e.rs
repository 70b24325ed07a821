//! SiFive FE310 (HiFive1; QEMU `-M sifive_e`, RV32IMAC): UART0, which QEMU's `-serial stdio`
//! connects to, and the `minstret` counter (instructions retired) as the tick counter.
//! Register offsets: SiFive FE310-G000 manual, chapters PRCI and UART. Addresses and sizes
//! of flash and RAM come from the board table.
//!
//! The core runs from the 16 MHz crystal oscillator (HFXOSC) with the PLL bypassed, so the
//! UART divisor is computed from 16 MHz. (The board table's 320 MHz is the PLL's top speed;
//! a bypassed PLL needs no lock, and the PRCI's ready bit is waited for a bounded time.)

use core::ptr::{read_volatile, write_volatile};

// PRCI: clock generation.
const PRCI: usize = 0x1000_8000;
const PRCI_HFXOSCCFG: *mut u32 = (PRCI + 0x04) as *mut u32;
const PRCI_PLLCFG: *mut u32 = (PRCI + 0x08) as *mut u32;
const HFXOSC_EN: u32 = 1 << 30;
const HFXOSC_RDY: u32 = 1 << 31;
const PLL_SEL: u32 = 1 << 16; // hfclk from the PLL block's output ...
const PLL_REFSEL: u32 = 1 << 17; // ... whose reference is HFXOSC ...
const PLL_BYPASS: u32 = 1 << 18; // ... passed straight through
/// Polls of HFXOSC's ready bit before going on anyway (the crystal starts within a
/// millisecond; a board without the crystal keeps its reset clock rather than hanging).
const HFXOSC_POLLS: u32 = 1_000_000;
/// hfclk = tlclk (the UART's clock) once HFXOSC drives it.
const TLCLK_HZ: u32 = 16_000_000;

// UART0.
const UART0: usize = 0x1001_3000;
const UART_TXDATA: *mut u32 = UART0 as *mut u32;
const UART_RXDATA: *const u32 = (UART0 + 0x04) as *const u32;
const UART_TXCTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const UART_RXCTRL: *mut u32 = (UART0 + 0x0C) as *mut u32;
const UART_DIV: *mut u32 = (UART0 + 0x18) as *mut u32;
const TXDATA_FULL: u32 = 1 << 31;
const RXDATA_EMPTY: u32 = 1 << 31;
const CTRL_ENABLE: u32 = 1 << 0; // txen / rxen; txctrl's nstop (bit 1) 0 = one stop bit
/// The console's line rate.
const BAUD: u32 = 115_200;
/// baud = tlclk / (div + 1): 138 gives 115,108 baud (-0.08 %).
const DIV: u32 = (TLCLK_HZ + BAUD / 2) / BAUD - 1;

/// `minstret` counts instructions: one per tick, also on hardware.
#[cfg(feature = "qemu")]
pub const INSTRUCTIONS_PER_TICK: (u32, u32) = (1, 1);

/// Switches hfclk to HFXOSC, enables UART0 (transmit and receive, 115200 baud). The
/// instruction counter runs from reset.
pub fn init() {
    // SAFETY: the PRCI's documented registers. HFXOSC is enabled (it is at reset); only once
    // it reports ready (or after a bounded wait) does hfclk switch to it, through the
    // bypassed PLL, which needs no lock. Nothing else in the firmware touches the clocks.
    unsafe {
        write_volatile(PRCI_HFXOSCCFG, read_volatile(PRCI_HFXOSCCFG) | HFXOSC_EN);
        let mut polls = 0;
        while read_volatile(PRCI_HFXOSCCFG) & HFXOSC_RDY == 0 && polls < HFXOSC_POLLS {
            polls += 1;
        }
        if read_volatile(PRCI_HFXOSCCFG) & HFXOSC_RDY != 0 {
            let pll = read_volatile(PRCI_PLLCFG);
            write_volatile(PRCI_PLLCFG, pll | PLL_REFSEL | PLL_BYPASS);
            write_volatile(PRCI_PLLCFG, pll | PLL_REFSEL | PLL_BYPASS | PLL_SEL);
        }
    }
    uart_enable();
}

/// Sets UART0's divisor and enables its transmitter and receiver; idempotent (the fault
/// path calls it again).
pub fn uart_enable() {
    // SAFETY: UART0's documented registers; the UART has no other user in the firmware.
    unsafe {
        write_volatile(UART_DIV, DIV);
        write_volatile(UART_TXCTRL, CTRL_ENABLE);
        write_volatile(UART_RXCTRL, CTRL_ENABLE);
    }
}

/// Queues one byte once the transmit FIFO has room.
pub fn write_byte(b: u8) {
    // SAFETY: UART0's txdata: reading it reports whether the FIFO is full (no side effect),
    // writing it queues one byte.
    unsafe {
        while read_volatile(UART_TXDATA) & TXDATA_FULL != 0 {}
        write_volatile(UART_TXDATA, b as u32);
    }
}

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    // SAFETY: UART0's rxdata; one read takes one byte from the FIFO, or reports it empty.
    let rx = unsafe { read_volatile(UART_RXDATA) };
    if rx & RXDATA_EMPTY == 0 {
        Some(rx as u8)
    } else {
        None
    }
}

/// Instructions retired (the low 32 bits of `minstret`).
pub fn ticks() -> u32 {
    riscv::register::minstret::read() as u32
}

/// `minstret` counts up: exact while `later` is less than 2^32 instructions after `earlier`.
pub fn ticks_between(earlier: u32, later: u32) -> u32 {
    later.wrapping_sub(earlier)
}
