//! charlstm-sim: a host simulator of a microcontroller running charlstm.
//!
//! A flash image holds firmware, a partition header and a model region
//! (docs/flash-layout.md); `flash` writes a blob into it as a flasher would, `run` boots it
//! (finds the model region, loads it zero-copy through charlstm-core) and generates text
//! over a simulated UART, and `info` tells whether a model fits each board profile. The
//! inference, quantization, sampling and blob format all come from charlstm-core: this
//! crate adds only the device around them.
//!
//! Modules, each importing only modules listed before it (a test holds the crate to this
//! order, so no two modules import each other): [`footprint`] (RAM of a build, by
//! `size_of`), [`board`] (profiles and budgets), [`flash`] (image layout, write, boot),
//! [`formats`] (bin, Intel HEX and UF2 files), [`uart`], [`probe`] (stack painting,
//! counting allocator; the crate's only `unsafe`), [`device`] (sources and a generation
//! run), [`serial`] (the console client for a real device).

pub mod board;
pub mod device;
pub mod flash;
pub mod footprint;
pub mod formats;
pub mod probe;
pub mod serial;
pub mod uart;

/// The model built into the binary (see build.rs).
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// `1234567` -> `1,234,567`, as the reports print byte counts.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    /// The modules in the order of the crate doc, with their sources.
    const MODULES: [(&str, &str); 9] = [
        ("bundled", ""),
        ("footprint", include_str!("footprint.rs")),
        ("board", include_str!("board.rs")),
        ("flash", include_str!("flash.rs")),
        ("formats", include_str!("formats.rs")),
        ("uart", include_str!("uart.rs")),
        ("probe", include_str!("probe.rs")),
        ("device", include_str!("device.rs")),
        ("serial", include_str!("serial.rs")),
    ];

    #[test]
    fn modules_import_only_the_ones_before_them() {
        for (i, (name, source)) in MODULES.iter().enumerate() {
            for (j, (other, _)) in MODULES.iter().enumerate().skip(i + 1) {
                let path = format!("crate::{other}");
                assert!(
                    !source.contains(&path),
                    "{name}.rs names {path}, which comes after it ({j} > {i}): imports go one way"
                );
            }
        }
        // The check sees a real import.
        assert!(MODULES[7].1.contains("use crate::flash::"));
    }
}
