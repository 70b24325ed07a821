//! End to end, through the binaries a user runs: train a tiny model for a few seconds, flash
//! it, boot the simulated device, generate. The output is valid UTF-8 of the requested length
//! and uses only vocabulary characters; `charlstm-train eval --blob` and `charlstm-sim info`
//! agree on the blob's identity. Non-ASCII (accents, Hangul) works the whole way.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use charlstm_tests::workspace_bin;

fn run(bin: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(bin).args(args).output().expect("cannot start");
    let stdout = String::from_utf8(out.stdout).expect("stdout is valid UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{stderr}",
        bin.display()
    );
    (stdout, stderr)
}

fn train() -> &'static Path {
    static BIN: OnceLock<std::path::PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("charlstm-trainer", "charlstm-train"))
}

fn sim() -> &'static Path {
    static BIN: OnceLock<std::path::PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("charlstm-sim", "charlstm-sim"))
}

/// Trains a small model on `text` for a few seconds; returns the run folder.
fn train_tiny(dir: &Path, text: &str) -> std::path::PathBuf {
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, text).unwrap();
    let out = dir.join("run");
    let (c, o) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    run(
        train(),
        &[
            "train",
            "--corpus",
            c,
            "--out",
            o,
            "--hidden",
            "32",
            "--seq-len",
            "32",
            "--batch",
            "16",
            "--max-steps",
            "150",
            "--time-limit",
            "8",
            "--quiet",
            "--lowercase",
            "false",
        ],
    );
    assert!(out.join("model.blob").is_file());
    out
}

/// `vocab 57, hidden 128, layers 1` and `CRC-32 0x…` from `charlstm-sim info`.
fn info_identity(info: &str) -> (String, String) {
    let dims = info
        .lines()
        .find_map(|l| l.strip_prefix("dims"))
        .expect("dims line")
        .trim()
        .to_string();
    let crc = info
        .split("CRC-32 ")
        .nth(1)
        .expect("CRC-32 in info")
        .split(|c: char| !c.is_ascii_hexdigit() && c != 'x')
        .next()
        .unwrap()
        .to_string();
    (dims, crc)
}

fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let start = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} in {json}"))
        + key.len()
        + 3;
    json[start..]
        .split([',', '}'])
        .next()
        .unwrap()
        .trim_matches('"')
}

#[test]
fn trained_blob_boots_from_flash_with_evals_crc_and_dims_and_generates_its_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let sentences = [
        "the will to power is the will to truth. ",
        "what is done out of love is beyond good and evil. ",
        "he who fights with monsters should see to it. ",
    ];
    let text: String = (0..300).map(|i| sentences[(i * 7 + i / 5) % 3]).collect();
    let run_dir = train_tiny(dir.path(), &text);
    let blob = run_dir.join("model.blob");
    let image = dir.path().join("flash.img");
    let (blob_s, image_s) = (blob.to_str().unwrap(), image.to_str().unwrap());
    run(sim(), &["flash", blob_s, "--image", image_s]);

    let (out, _) = run(
        sim(),
        &[
            "run", "--image", image_s, "--raw", "--chars", "300", "--seed", "3", "--prime", "the ",
        ],
    );
    assert_eq!(out.chars().count(), 300, "asked for 300 chars: {out:?}");
    let vocab: std::collections::BTreeSet<char> = text.chars().collect();
    assert!(
        out.chars().all(|c| vocab.contains(&c)),
        "a character outside the vocabulary: {out:?}"
    );

    // Same identity seen by the trainer's eval (core's loader) and the device's info.
    let corpus = dir.path().join("corpus.txt");
    let (json, _) = run(
        train(),
        &[
            "eval",
            "--corpus",
            corpus.to_str().unwrap(),
            "--blob",
            blob_s,
            "--json",
        ],
    );
    let (info, _) = run(sim(), &["info", "--image", image_s]);
    let (dims, crc) = info_identity(&info);
    assert_eq!(crc, json_field(&json, "crc"), "{info}\n{json}");
    let expected = format!(
        "vocab {}, hidden {}, layers {}",
        json_field(&json, "vocab"),
        json_field(&json, "hidden"),
        json_field(&json, "layers")
    );
    assert_eq!(dims, expected);
    assert_eq!(json_field(&json, "hidden"), "32");
    // The model learned something: far better than uniform over its vocabulary.
    let bpc: f64 = json_field(&json, "val_bpc").parse().unwrap();
    assert!(bpc < (vocab.len() as f64).log2() - 1.0, "val bpc {bpc}");
}

#[test]
fn accented_and_hangul_model_generates_both_on_the_device_and_names_an_unknown_prime_char() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "café crème à noël. ",
        "한국어 문장을 배웁니다. ",
        "naïve façade über déjà vu. ",
        "오늘은 날씨가 좋습니다. ",
    ];
    let text: String = (0..400).map(|i| lines[(i * 3 + i / 7) % 4]).collect();
    let run_dir = train_tiny(dir.path(), &text);
    let blob = run_dir.join("model.blob");
    let (out, _) = run(
        sim(),
        &[
            "run",
            "--blob",
            blob.to_str().unwrap(),
            "--raw",
            "--chars",
            "400",
            "--seed",
            "5",
            "--temperature",
            "0.5",
            "--prime",
            "오늘은 ",
        ],
    );
    assert_eq!(out.chars().count(), 400);
    let vocab: std::collections::BTreeSet<char> = text.chars().collect();
    assert!(out.chars().all(|c| vocab.contains(&c)));
    let hangul = out
        .chars()
        .filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c))
        .count();
    let accented = out.chars().filter(|c| "éèàëïçüê".contains(*c)).count();
    assert!(
        hangul >= 20 && accented >= 3,
        "hangul {hangul}, accented {accented}: {out}"
    );

    // A prime character the corpus never had is named in a one-line error.
    let bad = Command::new(sim())
        .args(["run", "--blob", blob.to_str().unwrap(), "--prime", "日"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains('日'));
}
