//! Embeds the bundled model `models/nietzsche.blob` (repo root) when it exists, so
//! `charlstm-sim run` with no `--blob`/`--image` shows text at once. Without the file the
//! binary bundles nothing and says so: no stand-in weights are ever embedded.
#![forbid(unsafe_code)]

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let blob = manifest.join("..").join("models").join("nietzsche.blob");
    // Re-run when the file appears, changes or goes away. Cargo treats a missing watched
    // file as changed on every build, so while it is absent watch its folder (a scan of it
    // sees the file land); with no folder at all, the missing file it is.
    let models = blob.parent().expect("has a parent");
    let watched = if blob.exists() || !models.is_dir() {
        &blob
    } else {
        models
    };
    println!("cargo::rerun-if-changed={}", watched.display());
    let code = match blob.canonicalize() {
        Ok(path) if path.is_file() => {
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        }
        _ => "None".to_string(),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    let text = format!(
        "/// The bundled model's blob, if `models/nietzsche.blob` existed at build time.\n\
         pub const BUNDLED_BLOB: Option<&[u8]> = {code};\n"
    );
    fs::write(&out, text).expect("cannot write OUT_DIR/bundled.rs");
}
