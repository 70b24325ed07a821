//! Host reference for the QEMU firmware's byte-identity check (scripts/ci-qemu.sh) while
//! `charlstm-sim run --raw` is not available: the very call sequence the simulator and the
//! firmware use (`Generator::new`, `prime(.., OnUnknown::Error)`, `next_char()` N times),
//! printing exactly the generated characters on stdout.
//!
//! `cargo run --release --manifest-path firmware-sim/qemu-m4/host-check/Cargo.toml -- --blob F
//! [--prime TEXT] [--temperature T] [--seed S] [--chars N] [--top-k K] [--top-p P]`
use std::io::Write;
use std::process::exit;

use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};

const USAGE: &str = "usage: charlstm-host-check --blob F [--prime TEXT] [--temperature T] [--seed S] \
                     [--chars N] [--top-k K] [--top-p P]";

fn usage(msg: &str) -> ! {
    eprintln!("charlstm-host-check: {msg}\n{USAGE}");
    exit(2);
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| usage(&format!("{flag} {value:?} is not a valid number")))
}

fn main() {
    let (mut blob, mut prime, mut chars, mut seed) = (None, String::new(), 400usize, 42u64);
    let mut config = SamplerConfig::temperature(0.5);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--blob" => blob = Some(value),
            "--prime" => prime = value,
            "--temperature" => config.temperature = parse(&flag, &value),
            "--seed" => seed = parse(&flag, &value),
            "--chars" => chars = parse(&flag, &value),
            "--top-k" => config.top_k = parse(&flag, &value),
            "--top-p" => config.top_p = parse(&flag, &value),
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    let path = blob.unwrap_or_else(|| usage("--blob is required"));
    let fail = |msg: String| -> ! {
        eprintln!("charlstm-host-check: {msg}");
        exit(1);
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    // Capacities of the simulator: large enough for any blob the firmware accepts.
    let model =
        Model::<512, 1024, 2>::from_bytes(&bytes).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let mut generator =
        Generator::new(&model, config, seed).unwrap_or_else(|e| fail(format!("{e}")));
    generator
        .prime(&prime, OnUnknown::Error)
        .unwrap_or_else(|e| fail(format!("prime: {e}")));
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 4];
    for ch in generator.chars(chars) {
        out.write_all(ch.encode_utf8(&mut buf).as_bytes())
            .unwrap_or_else(|e| fail(format!("stdout: {e}")));
    }
    out.flush().unwrap_or_else(|e| fail(format!("stdout: {e}")));
}
