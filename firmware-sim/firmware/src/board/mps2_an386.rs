//! Arm MPS2 AN386 (QEMU `-M mps2-an386`, a Cortex-M4F): the CMSDK APB UART0, which QEMU's
//! `-serial stdio` connects to, and SysTick as the tick counter. Addresses and sizes of
//! flash and RAM come from the board table (`super::BOARD`); only peripheral registers are
//! written here.

use core::ptr::{read_volatile, write_volatile};

use charlstm_device::console::{ExitStatus, Hardware};

use super::BOARD;

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

// SysTick (Armv7-M ARM, B3.3): a 24-bit down-counter at the core clock.
const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;
const CSR_ENABLE: u32 = 1 << 0;
const CSR_CLKSOURCE_CORE: u32 = 1 << 2;
const TICK_MASK: u32 = 0x00FF_FFFF;

/// The board's console hardware: UART0 and SysTick, set up by [`Mps2An386::init`].
pub struct Mps2An386 {
    _initialized: (),
}

impl Mps2An386 {
    /// Enables UART0 (transmit and receive, 115200 baud) and starts SysTick free-running.
    /// Call once, at boot.
    pub fn init() -> Self {
        uart_enable();
        // SAFETY: SysTick's documented registers; nothing else uses SysTick and its
        // interrupt stays off (TICKINT clear), so reprogramming it affects nothing else.
        unsafe {
            write_volatile(SYST_CSR, 0);
            write_volatile(SYST_RVR, TICK_MASK);
            write_volatile(SYST_CVR, 0); // any write clears it; it reloads on the next tick
            write_volatile(SYST_CSR, CSR_ENABLE | CSR_CLKSOURCE_CORE);
        }
        Mps2An386 { _initialized: () }
    }
}

fn uart_enable() {
    // SAFETY: UART0's documented registers on this board; enabling is idempotent, and the
    // UART has no other user (the fault and panic handlers write lines the same way).
    unsafe {
        write_volatile(UART_BAUDDIV, BAUD_DIVISOR);
        write_volatile(UART_CTRL, CTRL_TX_ENABLE | CTRL_RX_ENABLE);
    }
}

fn uart_write(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: UART0's STATE and DATA registers; a write to DATA queues one byte once
        // the transmit buffer is not full.
        unsafe {
            while read_volatile(UART_STATE) & STATE_TX_FULL != 0 {}
            write_volatile(UART_DATA, b as u32);
        }
    }
}

/// Writes `line` on the UART from a fault or panic handler, whatever state the console was
/// in (it enables the UART again first).
pub fn fault_line(line: &[u8]) {
    uart_enable();
    uart_write(line);
}

impl Hardware for Mps2An386 {
    fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: UART0's STATE and DATA registers; reading DATA takes the received byte
        // (and clears RX full), which is what this method is for.
        unsafe {
            if read_volatile(UART_STATE) & STATE_RX_FULL != 0 {
                Some(read_volatile(UART_DATA) as u8)
            } else {
                None
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        uart_write(bytes);
    }

    fn ticks(&mut self) -> u32 {
        // SAFETY: SysTick's current value register; reading it has no side effect.
        unsafe { read_volatile(SYST_CVR) }
    }

    /// SysTick counts down: exact while `later` is less than 2^24 ticks after `earlier`.
    fn ticks_between(&self, earlier: u32, later: u32) -> u32 {
        earlier.wrapping_sub(later) & TICK_MASK
    }

    fn instructions_per_tick(&self) -> Option<(u32, u32)> {
        #[cfg(feature = "qemu")]
        {
            Some(super::instructions_per_tick())
        }
        #[cfg(not(feature = "qemu"))]
        {
            None
        }
    }

    fn code_bytes(&self) -> u32 {
        super::code_bytes()
    }

    fn ram_bytes(&self) -> u32 {
        super::ram_bytes()
    }

    fn quit(&mut self, status: ExitStatus) -> bool {
        #[cfg(feature = "qemu")]
        super::exit(status);
        #[cfg(not(feature = "qemu"))]
        {
            let _ = status;
            false
        }
    }

    fn reset(&mut self) -> ! {
        cortex_m::peripheral::SCB::sys_reset()
    }
}
