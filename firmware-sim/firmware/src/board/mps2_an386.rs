//! Arm MPS2 AN386 (QEMU `-M mps2-an386`, a Cortex-M4F): the CMSDK APB UART0, which QEMU's
//! `-serial stdio` connects to, and SysTick as the tick counter (`super::arch`). Addresses
//! and sizes of flash and RAM come from the board table (`super::BOARD`); only peripheral
//! registers are written here.

use core::ptr::{read_volatile, write_volatile};

use super::BOARD;
use super::arch::{systick_between, systick_read, systick_start};

// CMSDK APB UART0 (Arm CMSDK technical reference, "APB UART").
const UART0: usize = 0x4000_4000;
const UART_DATA: *mut u32 = UART0 as *mut u32;
const UART_STATE: *const u32 = (UART0 + 0x04) as *const u32;
const UART_CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const UART_BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_ENABLE: u32 = 1 << 0;
const CTRL_RX_ENABLE: u32 = 1 << 1;
/// The console's line rate. QEMU ignores it; the real board's UART runs at the core clock.
const BAUD: u32 = 115_200;
const BAUD_DIVISOR: u32 = BOARD.clock_mhz * 1_000_000 / BAUD;

/// SysTick at the 25 MHz core clock: 40 guest instructions per tick under `-icount shift=0`.
#[cfg(feature = "qemu")]
pub const INSTRUCTIONS_PER_TICK: (u32, u32) = super::core_clock_instructions_per_tick();

/// Enables UART0 (transmit and receive, 115200 baud) and starts SysTick free-running.
pub fn init() {
    uart_enable();
    systick_start();
}

/// Enables UART0; idempotent (the fault path calls it again).
pub fn uart_enable() {
    // SAFETY: UART0's documented registers on this board; enabling is idempotent, and the
    // UART has no other user (the fault and panic handlers write lines the same way).
    unsafe {
        write_volatile(UART_BAUDDIV, BAUD_DIVISOR);
        write_volatile(UART_CTRL, CTRL_TX_ENABLE | CTRL_RX_ENABLE);
    }
}

/// Queues one byte once the transmit buffer is not full.
pub fn write_byte(b: u8) {
    // SAFETY: UART0's STATE and DATA registers; a write to DATA queues one byte once the
    // transmit buffer is not full.
    unsafe {
        while read_volatile(UART_STATE) & STATE_TX_FULL != 0 {}
        write_volatile(UART_DATA, b as u32);
    }
}

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    // SAFETY: UART0's STATE and DATA registers; reading DATA takes the received byte (and
    // clears RX full), which is what this function is for.
    unsafe {
        if read_volatile(UART_STATE) & STATE_RX_FULL != 0 {
            Some(read_volatile(UART_DATA) as u8)
        } else {
            None
        }
    }
}

/// SysTick's current value.
pub fn ticks() -> u32 {
    systick_read()
}

/// SysTick counts down: exact while `later` is less than 2^24 ticks after `earlier`.
pub fn ticks_between(earlier: u32, later: u32) -> u32 {
    systick_between(earlier, later)
}
