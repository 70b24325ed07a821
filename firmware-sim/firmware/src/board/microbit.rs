//! BBC micro:bit v1 (nRF51822, a Cortex-M0; QEMU `-M microbit`): UART0 on P0.24 (TX) and
//! P0.25 (RX), the pins of the board's USB interface chip, which QEMU's `-serial stdio`
//! connects to, and SysTick as the tick counter (`super::arch`). Register offsets: nRF51
//! Series Reference Manual v3.0, chapters UART and GPIO. Addresses and sizes of flash and
//! RAM come from the board table.

use core::ptr::{read_volatile, write_volatile};

use super::arch::{systick_between, systick_read, systick_start};

// GPIO: the TX pin drives high while idle, RX is an input (the UART chapter's pin
// configuration).
const GPIO: usize = 0x5000_0000;
const GPIO_OUTSET: *mut u32 = (GPIO + 0x508) as *mut u32;
const GPIO_DIRSET: *mut u32 = (GPIO + 0x518) as *mut u32;
const GPIO_DIRCLR: *mut u32 = (GPIO + 0x51C) as *mut u32;
const TX_PIN: u32 = 24;
const RX_PIN: u32 = 25;

// UART0's registers.
const UART0: usize = 0x4000_2000;
const TASKS_STARTRX: *mut u32 = UART0 as *mut u32;
const TASKS_STARTTX: *mut u32 = (UART0 + 0x008) as *mut u32;
const EVENTS_RXDRDY: *mut u32 = (UART0 + 0x108) as *mut u32;
const EVENTS_TXDRDY: *mut u32 = (UART0 + 0x11C) as *mut u32;
const ENABLE: *mut u32 = (UART0 + 0x500) as *mut u32;
const PSELRTS: *mut u32 = (UART0 + 0x508) as *mut u32;
const PSELTXD: *mut u32 = (UART0 + 0x50C) as *mut u32;
const PSELCTS: *mut u32 = (UART0 + 0x510) as *mut u32;
const PSELRXD: *mut u32 = (UART0 + 0x514) as *mut u32;
const RXD: *const u32 = (UART0 + 0x518) as *const u32;
const TXD: *mut u32 = (UART0 + 0x51C) as *mut u32;
const BAUDRATE: *mut u32 = (UART0 + 0x524) as *mut u32;
const CONFIG: *mut u32 = (UART0 + 0x56C) as *mut u32;
const ENABLE_UART: u32 = 4;
const PIN_DISCONNECTED: u32 = 0xFFFF_FFFF;
/// BAUDRATE's value for 115,200 baud (the register is not the rate itself).
const BAUD_115200: u32 = 0x01D7_E000;

/// SysTick at the 16 MHz core clock: 125/2 guest instructions per tick under
/// `-icount shift=0`.
#[cfg(feature = "qemu")]
pub const INSTRUCTIONS_PER_TICK: (u32, u32) = super::core_clock_instructions_per_tick();

/// Enables UART0 (transmit and receive, 115200 baud) and starts SysTick free-running.
pub fn init() {
    uart_enable();
    systick_start();
}

/// Routes UART0 to its pins at 115,200 baud, 8N1 without flow control, and starts its
/// receiver and transmitter; idempotent (the fault path calls it again).
pub fn uart_enable() {
    // SAFETY: GPIO and UART0 registers of this chip (nRF51 reference manual); the pins and
    // the UART have no other user in the firmware. The task writes only start the UART.
    unsafe {
        write_volatile(GPIO_OUTSET, 1 << TX_PIN);
        write_volatile(GPIO_DIRSET, 1 << TX_PIN);
        write_volatile(GPIO_DIRCLR, 1 << RX_PIN);
        write_volatile(PSELTXD, TX_PIN);
        write_volatile(PSELRXD, RX_PIN);
        write_volatile(PSELRTS, PIN_DISCONNECTED);
        write_volatile(PSELCTS, PIN_DISCONNECTED);
        write_volatile(BAUDRATE, BAUD_115200);
        write_volatile(CONFIG, 0); // no parity, no hardware flow control
        write_volatile(ENABLE, ENABLE_UART);
        write_volatile(TASKS_STARTTX, 1);
        write_volatile(TASKS_STARTRX, 1);
    }
}

/// Sends one byte and waits until it has left TXD.
pub fn write_byte(b: u8) {
    // SAFETY: UART0's TXD and EVENTS_TXDRDY; one byte at a time, each acknowledged by the
    // event, which is cleared for the next.
    unsafe {
        write_volatile(TXD, b as u32);
        while read_volatile(EVENTS_TXDRDY) == 0 {}
        write_volatile(EVENTS_TXDRDY, 0);
    }
}

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    // SAFETY: UART0's EVENTS_RXDRDY and RXD; the event is cleared before RXD is read, so the
    // next byte's event is not lost.
    unsafe {
        if read_volatile(EVENTS_RXDRDY) != 0 {
            write_volatile(EVENTS_RXDRDY, 0);
            Some(read_volatile(RXD) as u8)
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
