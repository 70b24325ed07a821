//! The README's boards table comes from the board table (charlstm_device::board) and the
//! firmware figures recorded there: each row is rendered here and must appear in README.md
//! as is. When a figure changes, the failure message holds the row to paste.

use charlstm_core::Model;
use charlstm_sim::board::{BOARDS, Board, Budget};
use charlstm_sim::bundled::BUNDLED_BLOB;
use charlstm_sim::footprint::{self, SimModel};
use charlstm_sim::group;

fn size(bytes: u32) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// The row of `b` for the bundled model.
fn row(b: &Board, blob: &[u8], model: &SimModel<'_>) -> String {
    let build = footprint::build_for(model);
    let fit = b.fit(blob.len(), model.dims(), &build);
    let verdict = match (b.qemu_machine, b.build) {
        _ if fit.flash_over() > 0 => {
            format!("no: flash over by {} bytes", group(fit.flash_over() as u64))
        }
        _ if !fit.fits() => "no".to_string(),
        (Some(machine), Some(fw)) => format!(
            "**runs** under QEMU `{machine}`: {} instructions/char, RAM {} B, firmware {} B",
            group(fw.instructions_per_char as u64),
            group(fw.ram_bytes as u64),
            group(fw.code_bytes as u64)
        ),
        _ => "fits (profile only: no firmware here)".to_string(),
    };
    let budget = if b.ram_budget < b.ram {
        format!("{} (firmware: {})", size(b.ram), size(b.ram_budget))
    } else {
        size(b.ram)
    };
    format!(
        "| {} | {} {} MHz | {} | {} | {} |",
        b.name,
        b.core,
        b.clock_mhz,
        size(b.flash),
        budget,
        verdict
    )
}

#[test]
fn the_readme_boards_table_is_the_board_table() {
    let blob = BUNDLED_BLOB.expect("models/nietzsche.blob is bundled");
    let model: SimModel<'_> = Model::from_bytes(blob).unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let rows: Vec<String> = BOARDS.iter().map(|b| row(b, blob, &model)).collect();
    let missing: Vec<&String> = rows
        .iter()
        .filter(|r| !readme.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's boards table is stale; its rows should be:\n{}",
        rows.join("\n")
    );
}
