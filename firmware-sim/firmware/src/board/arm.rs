//! What the Cortex-M boards share (Armv6-M and Armv7-M alike): cortex-m-rt's entry and
//! HardFault, the main stack pointer, SysTick as the tick counter, the system reset, the
//! semihosting exit and the halt.

use core::ptr::{read_volatile, write_volatile};

#[cfg(feature = "qemu")]
use charlstm_device::console::ExitStatus;
use cortex_m_rt::{ExceptionFrame, exception};

pub use cortex_m_rt::entry;

/// The current (main) stack pointer.
pub fn stack_pointer() -> usize {
    cortex_m::register::msp::read() as usize
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    super::fatal(b"error fault: hard fault\n")
}

// ---------------------------------------------------------------------------
// SysTick (Armv6-M and Armv7-M ARM, B3.3): a 24-bit down-counter at the core clock

const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;
const CSR_ENABLE: u32 = 1 << 0;
const CSR_CLKSOURCE_CORE: u32 = 1 << 2;
const TICK_MASK: u32 = 0x00FF_FFFF;

/// Starts SysTick free-running at the core clock, its interrupt off.
pub fn systick_start() {
    // SAFETY: SysTick's architected registers; nothing else uses SysTick and its interrupt
    // stays off (TICKINT clear), so reprogramming it affects nothing else.
    unsafe {
        write_volatile(SYST_CSR, 0);
        write_volatile(SYST_RVR, TICK_MASK);
        write_volatile(SYST_CVR, 0); // any write clears it; it reloads on the next tick
        write_volatile(SYST_CSR, CSR_ENABLE | CSR_CLKSOURCE_CORE);
    }
}

/// SysTick's current value.
pub fn systick_read() -> u32 {
    // SAFETY: SysTick's current value register; reading it has no side effect.
    unsafe { read_volatile(SYST_CVR) }
}

/// SysTick counts down: exact while `later` is less than 2^24 ticks after `earlier`.
pub fn systick_between(earlier: u32, later: u32) -> u32 {
    earlier.wrapping_sub(later) & TICK_MASK
}

// ---------------------------------------------------------------------------
// Reset, exit, halt

/// A system reset (SCB AIRCR.SYSRESETREQ).
pub fn reset() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}

/// QEMU exits with `status` (semihosting `SYS_EXIT`: 0 or 1 on 32-bit Arm).
#[cfg(feature = "qemu")]
pub fn semihosting_exit(status: ExitStatus) {
    use cortex_m_semihosting::debug;
    debug::exit(match status {
        ExitStatus::Success => debug::EXIT_SUCCESS,
        ExitStatus::Failure => debug::EXIT_FAILURE,
    });
}

/// Stops here for good (until a reset).
pub fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
