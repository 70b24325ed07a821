//! The board table: every address and size a flash image, a firmware link or a budget check
//! needs, once. docs/flash-layout.md §5 prints it; firmware build scripts generate their
//! linker memory map from it; `charlstm-sim info` and the README's boards table come from it.
//!
//! Flash map of every board (docs/flash-layout.md §1), offsets from `flash_base`:
//!
//! ```text
//! 0            .. firmware        firmware code (vector table first)
//! firmware     .. firmware + 256  header page: the partition header, then erased bytes
//! firmware+256 .. flash           model region: the blob, then erased bytes
//! ```

/// Bytes of the page that holds the partition header (a flash program unit on every board).
pub const HEADER_PAGE: u32 = 256;

/// One microcontroller board, with its datasheet figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The name used on the command line and stored in the partition header (<= 16 ASCII bytes).
    pub name: &'static str,
    /// What it is, for people.
    pub part: &'static str,
    /// CPU core.
    pub core: &'static str,
    /// Core clock, MHz.
    pub clock_mhz: u32,
    /// Address where flash is mapped in the CPU's view.
    pub flash_base: u32,
    /// Bytes of flash.
    pub flash: u32,
    /// Flash reserved for firmware code from offset 0; the header page follows it.
    pub firmware: u32,
    /// Address of the RAM the firmware uses.
    pub ram_base: u32,
    /// Bytes of RAM on the board.
    pub ram: u32,
    /// Bytes of RAM the firmware may use, statics and stack (its linker map's RAM length).
    pub ram_budget: u32,
    /// The UF2 family id, if the board's boot ROM takes UF2 files.
    pub uf2_family: Option<u32>,
    /// The QEMU machine that models it, if this repository has a firmware that runs there.
    pub qemu_machine: Option<&'static str>,
    /// This repository's firmware for the board, if it has one.
    pub build: Option<FirmwareBuild>,
}

/// A firmware of this repository: the capacities it is built with and its figures, measured
/// under QEMU with the bundled model and the console's defaults (scripts/ci-qemu.sh; the
/// date is in docs/qemu-m4.md). The firmware takes its capacities from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareBuild {
    /// Largest hidden size, vocabulary and layer count it loads; a larger blob is refused.
    pub hidden: u32,
    /// See [`FirmwareBuild::hidden`].
    pub vocab: u32,
    /// See [`FirmwareBuild::hidden`].
    pub layers: u32,
    /// RAM used: statics plus the stack's high-water mark (it does not depend on the model:
    /// the generator is sized by the capacities).
    pub ram_bytes: u32,
    /// Flash of the firmware itself: vectors, code, read-only data, .data's image.
    pub code_bytes: u32,
    /// Guest instructions per generated character.
    pub instructions_per_char: u32,
    /// The most instructions per generated character the board may take: its target, which
    /// CI holds the measured figure to.
    pub instructions_budget: u32,
}

const KIB: u32 = 1024;

/// The boards, smallest flash first. Figures from each vendor's datasheet; the QEMU
/// machines' from QEMU 7.2 (../shared/notes/boards.md).
pub const BOARDS: &[Board] = &[
    Board {
        name: "microbit",
        part: "Nordic nRF51822 (BBC micro:bit v1), 256 KiB flash, 16 KiB RAM",
        core: "Cortex-M0 (ARMv6-M: no FPU, no DSP)",
        clock_mhz: 16,
        flash_base: 0x0000_0000,
        flash: 256 * KIB,
        firmware: 64 * KIB,
        ram_base: 0x2000_0000,
        ram: 16 * KIB,
        ram_budget: 16 * KIB,
        uf2_family: None,
        qemu_machine: Some("microbit"),
        build: Some(FirmwareBuild {
            hidden: 128,
            vocab: 96,
            layers: 2,
            ram_bytes: 11_784,
            code_bytes: 60_712,
            instructions_per_char: 392_363,
            instructions_budget: 400_000,
        }),
    },
    Board {
        name: "stm32f103",
        part: "STM32F103xB (\"blue pill\"), 128 KiB flash, 20 KiB SRAM",
        core: "Cortex-M3",
        clock_mhz: 72,
        flash_base: 0x0800_0000,
        flash: 128 * KIB,
        firmware: 48 * KIB,
        ram_base: 0x2000_0000,
        ram: 20 * KIB,
        ram_budget: 20 * KIB,
        uf2_family: None,
        qemu_machine: None,
        build: None,
    },
    Board {
        name: "stm32f411",
        part: "STM32F411xE (\"black pill\", Nucleo-F411RE), 512 KiB flash, 128 KiB SRAM",
        core: "Cortex-M4F",
        clock_mhz: 100,
        flash_base: 0x0800_0000,
        flash: 512 * KIB,
        firmware: 128 * KIB,
        ram_base: 0x2000_0000,
        ram: 128 * KIB,
        ram_budget: 128 * KIB,
        uf2_family: None,
        qemu_machine: None,
        build: None,
    },
    Board {
        name: "nrf52840",
        part: "Nordic nRF52840, 1 MiB flash, 256 KiB RAM",
        core: "Cortex-M4F",
        clock_mhz: 64,
        flash_base: 0x0000_0000,
        flash: 1024 * KIB,
        firmware: 128 * KIB,
        ram_base: 0x2000_0000,
        ram: 256 * KIB,
        ram_budget: 256 * KIB,
        uf2_family: None,
        qemu_machine: None,
        build: None,
    },
    Board {
        name: "netduinoplus2",
        part: "STM32F405RG (Netduino Plus 2; an STM32F4 Discovery's F407 is its sibling), 1 MiB flash, 128 KiB SRAM",
        core: "Cortex-M4F",
        clock_mhz: 168,
        flash_base: 0x0800_0000,
        flash: 1024 * KIB,
        // Flash sectors 0 to 4 (4 x 16 KiB + 64 KiB): the partition starts on sector 5.
        firmware: 128 * KIB,
        ram_base: 0x2000_0000,
        ram: 128 * KIB,
        ram_budget: 16 * KIB,
        uf2_family: None,
        qemu_machine: Some("netduinoplus2"),
        build: Some(FirmwareBuild {
            hidden: 128,
            vocab: 96,
            layers: 2,
            ram_bytes: 13_048,
            code_bytes: 51_544,
            instructions_per_char: 146_230,
            instructions_budget: 150_000,
        }),
    },
    Board {
        name: "rp2040",
        part: "Raspberry Pi RP2040 (Pico: 2 MiB external QSPI flash), 264 KiB SRAM",
        core: "Cortex-M0+ (dual, no FPU)",
        clock_mhz: 133,
        flash_base: 0x1000_0000,
        flash: 2 * 1024 * KIB,
        firmware: 128 * KIB,
        ram_base: 0x2000_0000,
        ram: 264 * KIB,
        ram_budget: 264 * KIB,
        // The RP2040 boot ROM's UF2 family (RP2040 datasheet §2.8.4, "Raspberry Pi RP2040").
        uf2_family: Some(0xe48b_ff56),
        qemu_machine: None,
        build: None,
    },
    Board {
        name: "mps2-an386",
        part: "Arm MPS2 AN386 (the QEMU machine): 4 MiB code SSRAM used as flash, 4 MiB RAM",
        core: "Cortex-M4F",
        clock_mhz: 25,
        flash_base: 0x0000_0000,
        flash: 4 * 1024 * KIB,
        firmware: 128 * KIB,
        ram_base: 0x2000_0000,
        ram: 4 * 1024 * KIB,
        // The firmware's budget, far below the board's 4 MiB: the size of a small MCU.
        ram_budget: 16 * KIB,
        uf2_family: None,
        qemu_machine: Some("mps2-an386"),
        build: Some(FirmwareBuild {
            hidden: 128,
            vocab: 96,
            layers: 2,
            ram_bytes: 13_040,
            code_bytes: 51_520,
            instructions_per_char: 146_288,
            instructions_budget: 150_000,
        }),
    },
    Board {
        name: "sifive_e",
        part: "SiFive FE310 (HiFive1): XIP flash from 0x2000_0000, programs from 0x2040_0000, 16 KiB RAM",
        core: "RV32IMAC (no FPU)",
        clock_mhz: 320,
        // The mask ROM jumps to 0x2040_0000; the flash below it is the boot loader's.
        flash_base: 0x2040_0000,
        flash: 4 * 1024 * KIB,
        firmware: 128 * KIB,
        ram_base: 0x8000_0000,
        ram: 16 * KIB,
        ram_budget: 16 * KIB,
        uf2_family: None,
        qemu_machine: Some("sifive_e"),
        build: Some(FirmwareBuild {
            hidden: 128,
            vocab: 96,
            layers: 2,
            ram_bytes: 13_056,
            code_bytes: 58_840,
            instructions_per_char: 342_927,
            instructions_budget: 400_000,
        }),
    },
];

/// The board used when none is named: the QEMU machine the Cortex-M firmware runs on.
pub const DEFAULT_BOARD: &str = "mps2-an386";

/// The board called `name`.
pub fn find(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

impl Board {
    /// Offset of the partition header from the start of flash: right after the firmware.
    pub const fn header_offset(&self) -> u32 {
        self.firmware
    }
    /// Offset of the model region: after the header's page.
    pub const fn model_offset(&self) -> u32 {
        self.firmware + HEADER_PAGE
    }
    /// Bytes available to a blob.
    pub const fn model_region(&self) -> u32 {
        self.flash - self.model_offset()
    }
    /// CPU address of the partition header.
    pub const fn header_addr(&self) -> u32 {
        self.flash_base + self.header_offset()
    }
    /// The board name as stored in a partition header: ASCII, NUL padded to 16 bytes.
    pub fn name_field(&self) -> [u8; 16] {
        let mut field = [0u8; 16];
        for (dst, src) in field.iter_mut().zip(self.name.bytes()) {
            *dst = src;
        }
        field
    }
    /// Whether `addr .. addr + len` lies inside this board's flash.
    pub fn in_flash(&self, addr: u64, len: u64) -> bool {
        let base = self.flash_base as u64;
        addr >= base && addr + len <= base + self.flash as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_has_a_unique_name_a_model_region_and_budgets_within_its_chip() {
        for (i, b) in BOARDS.iter().enumerate() {
            assert!(b.name.len() <= 16 && b.name.is_ascii(), "{}", b.name);
            assert!(BOARDS[i + 1..].iter().all(|o| o.name != b.name));
            assert!(b.flash > b.model_offset(), "{} has no model region", b.name);
            assert!(b.ram_budget <= b.ram, "{}", b.name);
            // The header page is aligned to a page, so rewriting it never touches firmware.
            assert_eq!(b.firmware % HEADER_PAGE, 0, "{}", b.name);
            assert!((b.flash_base as u64 + b.flash as u64) <= 1 << 32);
            if let Some(fw) = b.build {
                assert!(b.qemu_machine.is_some(), "{}", b.name);
                assert!(
                    fw.ram_bytes <= b.ram_budget && fw.code_bytes <= b.firmware,
                    "{}",
                    b.name
                );
            }
        }
        assert!(find(DEFAULT_BOARD).is_some_and(|b| b.qemu_machine.is_some()));
    }

    #[test]
    fn name_field_is_nul_padded() {
        let f = find("stm32f411").unwrap().name_field();
        assert_eq!(&f, b"stm32f411\0\0\0\0\0\0\0");
    }
}
