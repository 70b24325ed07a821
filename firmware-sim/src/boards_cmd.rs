//! `charlstm-sim boards`: the board table (charlstm_device::board), every address and figure
//! as `key: value` lines, for people and for scripts (scripts/qemu.sh takes the header
//! address from here instead of holding one).

use std::io::{self, Write};

use charlstm_sim::board::{self, BOARDS, Board};
use clap::Args;

#[derive(Debug, Args)]
pub struct BoardsArgs {
    /// Only this board.
    #[arg(long, value_name = "NAME", value_parser = board::parse)]
    pub board: Option<&'static Board>,
}

pub fn boards_cmd(a: BoardsArgs) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let chosen: Vec<&Board> = match a.board {
        Some(b) => vec![b],
        None => BOARDS.iter().collect(),
    };
    for (i, b) in chosen.into_iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_board(&mut out, b)?;
    }
    Ok(())
}

fn write_board(out: &mut impl Write, b: &Board) -> io::Result<()> {
    let kib = |n: u32| format!("{} KiB", n / 1024);
    writeln!(out, "board: {}", b.name)?;
    writeln!(out, "part: {}", b.part)?;
    writeln!(out, "core: {} @ {} MHz", b.core, b.clock_mhz)?;
    writeln!(out, "flash: {:#010x}, {}", b.flash_base, kib(b.flash))?;
    writeln!(out, "firmware: {:#010x}, {}", b.flash_base, kib(b.firmware))?;
    writeln!(
        out,
        "header: {:#010x} (flash offset {:#x})",
        b.header_addr(),
        b.header_offset()
    )?;
    writeln!(
        out,
        "model region: {:#010x}, {} bytes",
        b.flash_base + b.model_offset(),
        b.model_region()
    )?;
    writeln!(
        out,
        "ram: {:#010x}, {} (firmware budget {} bytes)",
        b.ram_base,
        kib(b.ram),
        b.ram_budget
    )?;
    if let Some(family) = b.uf2_family {
        writeln!(out, "uf2 family: {family:#010x}")?;
    }
    match (b.qemu_machine, b.build) {
        (Some(machine), Some(fw)) => {
            writeln!(
                out,
                "firmware build: QEMU {machine}, capacities H={} V={} L={}, RAM {} bytes, code {} bytes, {} instructions/char",
                fw.hidden,
                fw.vocab,
                fw.layers,
                fw.ram_bytes,
                fw.code_bytes,
                fw.instructions_per_char
            )?;
            writeln!(
                out,
                "instructions budget: {} per char",
                fw.instructions_budget
            )
        }
        _ => writeln!(out, "firmware build: none (a profile: figures only)"),
    }
}
