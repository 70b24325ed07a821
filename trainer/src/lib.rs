//! charlstm-trainer: learn a char-LSTM with ndarray, quantize it, write a charlstm blob.
//!
//! The pipeline, each module importing only modules listed before it (a test below holds the
//! crate to this order, so no two modules depend on each other, directly or through others):
//! [`corpus`] (text → ids, train/validation split), [`model`] (the parameters and their float
//! type), [`ops`] (each op's forward/backward pair), [`network`] (the ops chained over a
//! window, and the workspace that keeps what backward needs), [`optim`] (Adam, RMSprop,
//! clipping, the weight average), [`eval`] (the validation loss, float or through
//! charlstm-core), [`export`] (the int8 blob through charlstm-core's quantizer and wire
//! format), [`config`] (a run's settings and metrics rows; files are written through the
//! `charlstm-files` crate's one atomic write),
//! [`checkpoint`] (a run's whole state), [`plot`] (loss.png), [`train`] (the loop) and
//! [`golden`] (the vectors shared with charlstm-core's tests).

// No unsafe code: deny, not forbid, since ndarray's `s!` expands to an `allow(unsafe_code)`.
#![deny(unsafe_code)]

pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod eval;
pub mod export;
pub mod golden;
pub mod model;
pub mod network;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod train;

#[cfg(test)]
mod tests {
    /// The modules in import order: each may import only those before it.
    const MODULES: [(&str, &str); 12] = [
        ("corpus", include_str!("corpus.rs")),
        ("model", include_str!("model.rs")),
        ("ops", include_str!("ops.rs")),
        ("network", include_str!("network.rs")),
        ("optim", include_str!("optim.rs")),
        ("eval", include_str!("eval.rs")),
        ("export", include_str!("export.rs")),
        ("config", include_str!("config.rs")),
        ("checkpoint", include_str!("checkpoint.rs")),
        ("plot", include_str!("plot.rs")),
        ("train", include_str!("train.rs")),
        ("golden", include_str!("golden.rs")),
    ];

    /// The modules `source` names through `crate::`: `crate::a::..`, `crate::{a, b::c}`.
    fn imports(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (at, _) in source.match_indices("crate::") {
            let rest = &source[at + "crate::".len()..];
            let names = match rest.strip_prefix('{') {
                Some(group) => &group[..group.find('}').unwrap_or(group.len())],
                None => rest,
            };
            for name in names.split(',') {
                let name: String = name
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && !out.contains(&name) {
                    out.push(name);
                }
                if rest.starts_with('{') {
                    continue;
                }
                break;
            }
        }
        out
    }

    #[test]
    fn modules_import_only_the_ones_before_them() {
        let index = |name: &str| MODULES.iter().position(|(m, _)| *m == name);
        for (i, (name, source)) in MODULES.iter().enumerate() {
            for other in imports(source) {
                let j = index(&other)
                    .unwrap_or_else(|| panic!("{name}.rs imports crate::{other}, not a module"));
                assert!(
                    j < i,
                    "{name}.rs imports crate::{other}, which comes after it ({j} >= {i}): \
                     imports go one way"
                );
            }
        }
        // The parser sees real imports, grouped ones too.
        assert_eq!(imports(MODULES[3].1), ["corpus", "model", "ops"]);
        assert!(imports(MODULES[10].1).contains(&"plot".to_string()));
        assert_eq!(
            imports("use crate::{a::B, c};\ncrate::d::f()"),
            ["a", "c", "d"]
        );
    }

    #[test]
    fn every_module_is_in_the_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            let Some(name) = file.strip_suffix(".rs") else {
                continue;
            };
            if name == "lib" || name == "main" {
                continue;
            }
            assert!(
                MODULES.iter().any(|(m, _)| *m == name),
                "{file} is not in MODULES: add it where its imports put it"
            );
        }
    }
}
