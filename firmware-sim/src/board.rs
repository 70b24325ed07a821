//! Board profiles and the budget check that decides whether a model fits one.
//!
//! The table itself (flash base and size, firmware reservation, RAM and the firmware's RAM
//! budget, UF2 family) lives once, in `charlstm_device::board`, which the firmware shares;
//! this module re-exports it and adds the std side: `--board` parsing, the budget check
//! and the way a board is shown in messages.
//!
//! Every profile has the same flash map (docs/flash-layout.md): firmware code in the first
//! `firmware` bytes, a partition header page, then the model region up to the end of flash.
//! RAM: [`RAM_RESERVE`] for the firmware's stack and runtime, the rest for the model view
//! and the generator's state (a build sized for the model, see `footprint`), all within the
//! board's `ram_budget`.

use std::fmt;

use charlstm_core::Dims;
pub use charlstm_device::board::{BOARDS, Board, DEFAULT_BOARD, FirmwareBuild, HEADER_PAGE, find};

use crate::footprint::Build;

/// RAM kept for the firmware itself: an 8 KiB stack (the generation target) plus 4 KiB of
/// runtime (UART buffer, statics, vector table copy, allocator-free runtime data).
pub const STACK_RESERVE: u32 = 8 * 1024;
/// See [`STACK_RESERVE`].
pub const RAM_RESERVE: u32 = STACK_RESERVE + 4 * 1024;

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
    /// RAM the firmware needs: the measured RAM of the board's firmware where it has one,
    /// else [`RAM_RESERVE`] plus a build sized for the model (a 64-bit host's `size_of`).
    pub ram_needed: usize,
    /// The firmware's RAM budget on the board (`Board::ram_budget`, its linker map's RAM).
    pub ram_budget: u32,
    /// The board's firmware, when the model is above its capacities.
    pub over_capacity: Option<FirmwareBuild>,
}

impl Fit {
    /// Bytes the blob is over the model region (0 if it fits).
    pub fn flash_over(&self) -> usize {
        self.blob.saturating_sub(self.model_region as usize)
    }
    /// Bytes the RAM need is over the firmware's RAM budget (0 if it fits).
    pub fn ram_over(&self) -> usize {
        self.ram_needed.saturating_sub(self.ram_budget as usize)
    }
    /// Both budgets hold, and the board's firmware (if any) holds the model.
    pub fn fits(&self) -> bool {
        self.flash_over() == 0 && self.ram_over() == 0 && self.over_capacity.is_none()
    }
}

/// The budget check, for the board table of `charlstm_device` (a trait, since that crate
/// owns `Board`).
pub trait Budget {
    /// Checks a blob of `blob` bytes with `dims`, needing `build`'s RAM, against this board.
    fn fit(&self, blob: usize, dims: Dims, build: &Build) -> Fit;
    /// `Err` with a one-line message naming the budget and the overshoot if the model does
    /// not fit.
    fn check(&self, what: &str, blob: usize, dims: Dims, build: &Build) -> Result<Fit, String>;
    /// The board for messages: `name (core @ clock, flash, RAM)`.
    fn shown(&self) -> Shown<'_>;
}

impl Budget for Board {
    fn fit(&self, blob: usize, dims: Dims, build: &Build) -> Fit {
        let (ram_needed, over_capacity) = match self.build {
            // The generator is sized by the firmware's capacities: its RAM is the measured one.
            Some(fw) => {
                let over =
                    dims.hidden > fw.hidden || dims.vocab > fw.vocab || dims.layers > fw.layers;
                (fw.ram_bytes as usize, over.then_some(fw))
            }
            None => (RAM_RESERVE as usize + build.total(), None),
        };
        Fit {
            model_region: self.model_region(),
            blob,
            ram_needed,
            ram_budget: self.ram_budget,
            over_capacity,
        }
    }

    fn check(&self, what: &str, blob: usize, dims: Dims, build: &Build) -> Result<Fit, String> {
        let fit = self.fit(blob, dims, build);
        let bigger = |flash: bool| {
            let next = BOARDS.iter().find(|b| {
                let f = b.fit(blob, dims, build);
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
        if let Some(fw) = fit.over_capacity {
            return Err(format!(
                "{what} is H={} V={} L={} but {}'s firmware is built for at most H={} V={} L={} (train a smaller model, or pick another board)",
                dims.hidden, dims.vocab, dims.layers, self.name, fw.hidden, fw.vocab, fw.layers
            ));
        }
        if fit.ram_over() > 0 {
            return Err(format!(
                "{what} needs {} bytes of RAM ({} KiB firmware stack+runtime + {} bytes for a {} build) but {}'s firmware RAM budget is {} bytes: over by {} bytes ({})",
                fit.ram_needed,
                RAM_RESERVE / 1024,
                build.total(),
                build,
                self.name,
                self.ram_budget,
                fit.ram_over(),
                bigger(false)
            ));
        }
        Ok(fit)
    }

    fn shown(&self) -> Shown<'_> {
        Shown(self)
    }
}

/// A board as messages show it (see [`Budget::shown`]).
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a Board);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{} ({} @ {} MHz, {} KiB flash, {} KiB RAM)",
            b.name,
            b.core,
            b.clock_mhz,
            b.flash / 1024,
            b.ram / 1024
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(hidden: u32, vocab: u32, layers: u32) -> Dims {
        Dims {
            vocab,
            hidden,
            layers,
        }
    }

    #[test]
    fn ram_is_checked_against_the_firmware_budget_not_the_boards_ram() {
        // A profile: the RAM estimate against its budget.
        let b = find("stm32f103").unwrap();
        let big = crate::footprint::smallest_build(512, 1024, 2).unwrap();
        let fit = b.fit(100, dims(64, 64, 1), &big);
        assert_eq!(fit.ram_budget, b.ram_budget);
        assert!(fit.ram_over() > 0);
        let err = b.check("m", 100, dims(64, 64, 1), &big).unwrap_err();
        assert!(err.contains("RAM budget is 20480 bytes"), "{err}");
        // mps2-an386 has 4 MiB of RAM, but its firmware is given a small MCU's 16 KiB and
        // needs what it was measured to use, whatever the model, up to its capacities.
        let b = find(DEFAULT_BOARD).unwrap();
        let fw = b.build.unwrap();
        assert!(b.ram_budget < b.ram);
        let fit = b.fit(100, dims(128, 57, 1), &big);
        assert_eq!(fit.ram_needed, fw.ram_bytes as usize);
        assert!(fit.fits());
        let err = b.check("m", 100, dims(256, 57, 1), &big).unwrap_err();
        assert!(
            err.contains("H=256") && err.contains("at most H=128"),
            "{err}"
        );
        assert!(parse("arduino-uno").unwrap_err().contains(&names()));
        assert!(
            b.shown()
                .to_string()
                .starts_with("mps2-an386 (Cortex-M4F @ 25 MHz")
        );
    }

    #[test]
    fn overshoot_is_named() {
        let b = find("stm32f103").unwrap();
        let build = crate::footprint::smallest_build(128, 57, 1).unwrap();
        let region = b.model_region() as usize;
        assert!(b.check("m", region, dims(128, 57, 1), &build).is_ok());
        let err = b
            .check("m", region + 10, dims(128, 57, 1), &build)
            .unwrap_err();
        assert!(err.contains("over by 10 bytes"), "{err}");
        let big = crate::footprint::smallest_build(512, 1024, 2).unwrap();
        let err = b.check("m", 100, dims(64, 64, 1), &big).unwrap_err();
        assert!(
            err.contains("bytes of RAM") && err.contains("over by"),
            "{err}"
        );
    }
}
