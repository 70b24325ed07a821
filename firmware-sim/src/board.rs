//! Board profiles: the published flash, RAM and core figures of the microcontrollers the
//! simulator stands in for, and the budget check that decides whether a model fits one.
//!
//! Every profile has the same flash map (docs/flash-layout.md): firmware code in the first
//! `firmware` bytes, a partition header page, then the model region up to the end of flash.
//! RAM: [`RAM_RESERVE`] for the firmware's stack and runtime, the rest for the model view
//! and the generator's state (a build sized for the model, see `footprint`).

use std::fmt;

use crate::flash::HEADER_PAGE;
use crate::footprint::Build;

/// RAM kept for the firmware itself: an 8 KiB stack (the generation target) plus 4 KiB of
/// runtime (UART buffer, statics, vector table copy, allocator-free runtime data).
pub const STACK_RESERVE: u32 = 8 * 1024;
/// See [`STACK_RESERVE`].
pub const RAM_RESERVE: u32 = STACK_RESERVE + 4 * 1024;

/// One microcontroller board, with its datasheet figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The name used on the command line and stored in flash images (<= 16 ASCII bytes).
    pub name: &'static str,
    /// What it is, for humans.
    pub part: &'static str,
    /// CPU core.
    pub core: &'static str,
    /// Whether the core has a hardware FPU (the core's f32 cell math is soft-float without).
    pub fpu: bool,
    /// Core clock, MHz.
    pub clock_mhz: u32,
    /// Bytes of flash (the flash image is exactly this long).
    pub flash: u32,
    /// Flash reserved for firmware code from offset 0; the partition header follows it.
    /// Sized for the Cortex-M build (about 95 KiB with formatting, docs/flash-layout.md).
    pub firmware: u32,
    /// Address where flash is mapped (documentation; images are offsets from here).
    pub flash_base: u32,
    /// Bytes of RAM.
    pub ram: u32,
}

/// The profiles, smallest flash first. Figures from each vendor's datasheet.
pub const BOARDS: &[Board] = &[
    Board {
        name: "stm32f103",
        part: "STM32F103xB (\"blue pill\"), 128 KiB flash, 20 KiB SRAM",
        core: "Cortex-M3",
        fpu: false,
        clock_mhz: 72,
        flash: 128 * 1024,
        firmware: 48 * 1024,
        flash_base: 0x0800_0000,
        ram: 20 * 1024,
    },
    Board {
        name: "stm32f411",
        part: "STM32F411xE (\"black pill\", Nucleo-F411RE), 512 KiB flash, 128 KiB SRAM",
        core: "Cortex-M4F",
        fpu: true,
        clock_mhz: 100,
        flash: 512 * 1024,
        firmware: 128 * 1024,
        flash_base: 0x0800_0000,
        ram: 128 * 1024,
    },
    Board {
        name: "nrf52840",
        part: "Nordic nRF52840, 1 MiB flash, 256 KiB RAM",
        core: "Cortex-M4F",
        fpu: true,
        clock_mhz: 64,
        flash: 1024 * 1024,
        firmware: 128 * 1024,
        flash_base: 0x0000_0000,
        ram: 256 * 1024,
    },
    Board {
        name: "rp2040",
        part: "Raspberry Pi RP2040 (Pico: 2 MiB external QSPI flash), 264 KiB SRAM",
        core: "Cortex-M0+ (dual, no FPU)",
        fpu: false,
        clock_mhz: 133,
        flash: 2 * 1024 * 1024,
        firmware: 128 * 1024,
        flash_base: 0x1000_0000,
        ram: 264 * 1024,
    },
    Board {
        name: "mps2-an386",
        part: "Arm MPS2 AN386 (the QEMU machine): 4 MiB code SSRAM used as flash, 4 MiB RAM",
        core: "Cortex-M4F",
        fpu: true,
        clock_mhz: 25,
        flash: 4 * 1024 * 1024,
        firmware: 128 * 1024,
        flash_base: 0x0000_0000,
        ram: 4 * 1024 * 1024,
    },
];

/// The board used when none is named: the QEMU machine the Cortex-M firmware runs on, so
/// `charlstm-sim run` accepts the same models as the QEMU firmware.
pub const DEFAULT_BOARD: &str = "mps2-an386";

/// The profile called `name`.
pub fn find(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

/// clap value parser for `--board`.
pub fn parse(name: &str) -> Result<&'static Board, String> {
    find(name).ok_or_else(|| format!("unknown board `{name}`; known boards: {}", names()))
}

/// The known board names, comma separated.
pub fn names() -> String {
    BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// Budgets

/// How a model sits in one board's budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// Bytes of the model region (flash after firmware and header page).
    pub model_region: u32,
    /// Blob bytes.
    pub blob: usize,
    /// RAM the firmware needs: [`RAM_RESERVE`] plus the sized build's view and state.
    pub ram_needed: usize,
    /// The board's RAM.
    pub ram: u32,
}

impl Fit {
    /// Bytes the blob is over the model region (0 if it fits).
    pub fn flash_over(&self) -> usize {
        self.blob.saturating_sub(self.model_region as usize)
    }
    /// Bytes the RAM need is over the board's RAM (0 if it fits).
    pub fn ram_over(&self) -> usize {
        self.ram_needed.saturating_sub(self.ram as usize)
    }
    /// Both budgets hold.
    pub fn fits(&self) -> bool {
        self.flash_over() == 0 && self.ram_over() == 0
    }
}

impl Board {
    /// Offset of the partition header: right after the firmware reservation.
    pub fn header_offset(&self) -> u32 {
        self.firmware
    }
    /// Offset of the model region: after the header's page.
    pub fn model_offset(&self) -> u32 {
        self.firmware + HEADER_PAGE
    }
    /// Bytes available to a blob.
    pub fn model_region(&self) -> u32 {
        self.flash - self.model_offset()
    }

    /// Checks a blob of `blob` bytes needing `build`'s RAM against this board.
    pub fn fit(&self, blob: usize, build: &Build) -> Fit {
        Fit {
            model_region: self.model_region(),
            blob,
            ram_needed: RAM_RESERVE as usize + build.total(),
            ram: self.ram,
        }
    }

    /// `Err` with a one-line message naming the budget and the overshoot if the model does
    /// not fit.
    pub fn check(&self, what: &str, blob: usize, build: &Build) -> Result<Fit, String> {
        let fit = self.fit(blob, build);
        let bigger = |flash: bool| {
            let next = BOARDS.iter().find(|b| {
                let f = b.fit(blob, build);
                if flash {
                    f.flash_over() == 0
                } else {
                    f.ram_over() == 0
                }
            });
            next.map_or("train a smaller model".to_string(), |b| {
                format!(
                    "train a smaller model or pick a bigger board, e.g. --board {}",
                    b.name
                )
            })
        };
        if fit.flash_over() > 0 {
            return Err(format!(
                "{what} is {} bytes but {}'s model region holds {} bytes ({} KiB flash - {} KiB firmware - header page): over by {} bytes ({})",
                blob,
                self.name,
                fit.model_region,
                self.flash / 1024,
                self.firmware / 1024,
                fit.flash_over(),
                bigger(true)
            ));
        }
        if fit.ram_over() > 0 {
            return Err(format!(
                "{what} needs {} bytes of RAM ({} KiB firmware stack+runtime + {} bytes for a {} build) but {} has {} bytes: over by {} bytes ({})",
                fit.ram_needed,
                RAM_RESERVE / 1024,
                build.total(),
                build,
                self.name,
                self.ram,
                fit.ram_over(),
                bigger(false)
            ));
        }
        Ok(fit)
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} @ {} MHz, {} KiB flash, {} KiB RAM)",
            self.name,
            self.core,
            self.clock_mhz,
            self.flash / 1024,
            self.ram / 1024
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_image_header_and_are_unique() {
        for (i, b) in BOARDS.iter().enumerate() {
            assert!(b.name.len() <= 16 && b.name.is_ascii());
            assert!(BOARDS[i + 1..].iter().all(|o| o.name != b.name));
            assert!(b.flash > b.model_offset(), "{} has no model region", b.name);
            // Boot tells boards apart by flash size (flash::boot).
            assert!(BOARDS[i + 1..].iter().all(|o| o.flash != b.flash));
        }
        assert!(find(DEFAULT_BOARD).is_some());
    }

    #[test]
    fn overshoot_is_named() {
        let b = find("stm32f103").unwrap();
        let build = crate::footprint::smallest_build(128, 57, 1).unwrap();
        let region = b.model_region() as usize;
        assert!(b.check("m", region, &build).is_ok());
        let err = b.check("m", region + 10, &build).unwrap_err();
        assert!(err.contains("over by 10 bytes"), "{err}");
        let big = crate::footprint::smallest_build(512, 1024, 2).unwrap();
        let err = b.check("m", 100, &big).unwrap_err();
        assert!(
            err.contains("bytes of RAM") && err.contains("over by"),
            "{err}"
        );
    }
}
