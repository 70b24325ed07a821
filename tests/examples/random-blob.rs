//! Writes a blob of random weights, for trying the simulator and the firmware without training:
//! `cargo run -p charlstm-tests --example random-blob -- OUT [HIDDEN] [LAYERS] [f32|int8] [SEED]`.
use charlstm_core::Quant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: random-blob OUT [HIDDEN=128] [LAYERS=1] [int8|f32] [SEED=1]");
        std::process::exit(2);
    };
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let quant = if args.get(3).map(String::as_str) == Some("f32") {
        Quant::F32
    } else {
        Quant::I8RowScaled
    };
    let blob = charlstm_tests::random_blob(
        charlstm_tests::NIETZSCHE_VOCAB,
        arg(1, 128),
        arg(2, 1),
        arg(4, 1) as u64,
        quant,
    );
    std::fs::write(out, &blob).unwrap_or_else(|e| {
        eprintln!("random-blob: cannot write {out}: {e}");
        std::process::exit(1);
    });
    eprintln!("wrote {out}: {} bytes", blob.len());
}
