//! Netduino Plus 2 (STM32F405RG, a Cortex-M4F; QEMU `-M netduinoplus2`): USART1 on PA9 (TX)
//! and PA10 (RX), which QEMU's `-serial stdio` connects to, and SysTick as the tick counter
//! (`super::arch`). Register offsets: STM32F405/415 reference manual (RM0090) §6 (RCC), §8
//! (GPIO), §30 (USART). Addresses and sizes of flash and RAM come from the board table.
//!
//! The core stays on its reset clock, the 16 MHz HSI, with APB2 undivided: setting up the
//! PLL means waiting for its ready bit, which QEMU (no RCC model: reads give 0) never sets.
//! So the USART's divisor is computed from 16 MHz. QEMU's SysTick runs at the board table's
//! 168 MHz whatever RCC says, which is what `INSTRUCTIONS_PER_TICK` converts from.

use core::ptr::{read_volatile, write_volatile};

use super::arch::{systick_between, systick_read, systick_start};

// RCC (RM0090 §6.3): peripheral clock enables.
const RCC: usize = 0x4002_3800;
const RCC_AHB1ENR: *mut u32 = (RCC + 0x30) as *mut u32;
const RCC_APB2ENR: *mut u32 = (RCC + 0x44) as *mut u32;
const AHB1ENR_GPIOAEN: u32 = 1 << 0;
const APB2ENR_USART1EN: u32 = 1 << 4;

// GPIOA (RM0090 §8.4): PA9 and PA10 in alternate function 7 (USART1_TX, USART1_RX; the
// STM32F405 datasheet's alternate function table).
const GPIOA: usize = 0x4002_0000;
const GPIOA_MODER: *mut u32 = GPIOA as *mut u32;
const GPIOA_AFRH: *mut u32 = (GPIOA + 0x24) as *mut u32;
const MODER_MASK: u32 = (0b11 << 18) | (0b11 << 20); // pins 9 and 10
const MODER_AF: u32 = (0b10 << 18) | (0b10 << 20);
const AFRH_MASK: u32 = (0xF << 4) | (0xF << 8); // pins 9 and 10 (AFRH holds pins 8..15)
const AFRH_AF7: u32 = (7 << 4) | (7 << 8);

// USART1 (RM0090 §30.6).
const USART1: usize = 0x4001_1000;
const USART_SR: *const u32 = USART1 as *const u32;
const USART_DR: *mut u32 = (USART1 + 0x04) as *mut u32;
const USART_BRR: *mut u32 = (USART1 + 0x08) as *mut u32;
const USART_CR1: *mut u32 = (USART1 + 0x0C) as *mut u32;
const SR_RXNE: u32 = 1 << 5;
const SR_TXE: u32 = 1 << 7;
const CR1_RE: u32 = 1 << 2;
const CR1_TE: u32 = 1 << 3;
const CR1_UE: u32 = 1 << 13;
/// USART1's clock (APB2) after reset: the HSI.
const PCLK2_HZ: u32 = 16_000_000;
/// The console's line rate.
const BAUD: u32 = 115_200;
/// With 16x oversampling BRR holds USARTDIV in 12.4 fixed point, i.e. pclk / baud rounded
/// (RM0090 §30.3.4): 139 = 8 + 11/16 for 115,200 baud (115,108, -0.08 %).
const BRR: u32 = (PCLK2_HZ + BAUD / 2) / BAUD;

/// SysTick at QEMU's 168 MHz core clock: 125/21 guest instructions per tick under
/// `-icount shift=0`.
#[cfg(feature = "qemu")]
pub const INSTRUCTIONS_PER_TICK: (u32, u32) = super::core_clock_instructions_per_tick();

/// Enables USART1 (transmit and receive, 115200 baud) and starts SysTick free-running.
pub fn init() {
    uart_enable();
    systick_start();
}

/// Clocks GPIOA and USART1, puts PA9/PA10 on USART1 and enables it; idempotent (the fault
/// path calls it again). Waits on no ready bit (QEMU's RCC would leave them at 0).
pub fn uart_enable() {
    // SAFETY: RCC, GPIOA and USART1 registers of this chip (RM0090), read-modify-write of
    // only the bits named; nothing else in the firmware uses these peripherals or pins.
    unsafe {
        write_volatile(RCC_AHB1ENR, read_volatile(RCC_AHB1ENR) | AHB1ENR_GPIOAEN);
        write_volatile(RCC_APB2ENR, read_volatile(RCC_APB2ENR) | APB2ENR_USART1EN);
        // Reading an enable register back gives the clock the two cycles it needs before
        // the peripheral's registers are written (the STM32F40x errata, ES0182:
        // "delay after an RCC peripheral clock enabling").
        let _ = read_volatile(RCC_APB2ENR);
        write_volatile(
            GPIOA_AFRH,
            (read_volatile(GPIOA_AFRH) & !AFRH_MASK) | AFRH_AF7,
        );
        write_volatile(
            GPIOA_MODER,
            (read_volatile(GPIOA_MODER) & !MODER_MASK) | MODER_AF,
        );
        write_volatile(USART_BRR, BRR);
        write_volatile(USART_CR1, CR1_UE | CR1_TE | CR1_RE);
    }
}

/// Queues one byte once the data register is empty.
pub fn write_byte(b: u8) {
    // SAFETY: USART1's SR and DR; a write to DR queues one byte once TXE is set.
    unsafe {
        while read_volatile(USART_SR) & SR_TXE == 0 {}
        write_volatile(USART_DR, b as u32);
    }
}

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    // SAFETY: USART1's SR and DR; reading DR takes the received byte (and clears RXNE),
    // which is what this function is for.
    unsafe {
        if read_volatile(USART_SR) & SR_RXNE != 0 {
            Some(read_volatile(USART_DR) as u8)
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
