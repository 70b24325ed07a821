//! CLI tests of the simulator binary: flash, boot, generate, info, --stats, and every bad
//! input the issue lists (one-line error, exit 1; usage errors exit 2; never a panic).
//!
//! The binary comes from `charlstm_tests::workspace_bin` (built once per run if needed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
use charlstm_tests::random_blob;

/// 57 characters, like the lowercased Nietzsche corpus.
const VOCAB: &str = "\n !\"'(),-.0123456789:;=?[]_abcdefghijklmnopqrstuvwxyzäæéë";

fn sim_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| charlstm_tests::workspace_bin("charlstm-sim", "charlstm-sim"))
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn sim(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(sim_bin())
        .args(args)
        .output()
        .expect("cannot start charlstm-sim");
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    Run {
        code: status.code().expect("exited by a signal"),
        stdout,
        stderr,
    }
}

/// Exit 1 with exactly one stderr line containing every `needles`.
fn fails(args: &[&str], needles: &[&str]) -> String {
    let r = sim(args);
    assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "not one line: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: {:?} lacks {n:?}", r.stderr);
    }
    assert!(r.stdout.is_empty());
    r.stderr
}

fn usage_error(args: &[&str]) {
    let r = sim(args);
    assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    /// A small int8 blob (H=24, V=57, L=1).
    fn blob(&self) -> (String, Vec<u8>) {
        let bytes = random_blob(VOCAB, 24, 1, 5, Quant::I8RowScaled);
        (self.write("m.blob", &bytes), bytes)
    }
}

fn reference(blob: &[u8], prime: &str, t: f32, seed: u64, n: usize) -> String {
    let model = Model::<64, 64, 2>::from_bytes(blob).unwrap();
    let mut g = Generator::new(&model, SamplerConfig::temperature(t), seed).unwrap();
    g.prime(prime, OnUnknown::Error).unwrap();
    (0..n).map(|_| g.next_char()).collect()
}

// ---------------------------------------------------------------------------
// Working paths

#[test]
fn raw_run_is_exactly_the_cores_generation_from_blob_and_from_image() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    let img = f.path("flash.img");
    let r = sim(&["flash", &blob, "--image", &img, "--board", "stm32f411"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(String::from_utf8_lossy(&r.stdout).contains("verified"));
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 512 * 1024);

    let expected = reference(&bytes, "the ", 0.7, 9, 300);
    for source in [["--blob", blob.as_str()], ["--image", img.as_str()]] {
        let mut args = vec!["run", "--raw", "--prime", "the ", "--temperature", "0.7"];
        args.extend(["--seed", "9", "--chars", "300"]);
        args.extend(source);
        let r = sim(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(String::from_utf8(r.stdout).unwrap(), expected, "{source:?}");
        assert!(
            r.stderr.is_empty(),
            "--raw writes nothing else: {}",
            r.stderr
        );
    }
}

#[test]
fn plain_run_echoes_the_prime_and_banners_on_stderr() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    let r = sim(&["run", "--blob", &blob, "--prime", "why ", "--chars", "50"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Defaults: T = 0.5, seed 42.
    let expected = format!("why {}\n", reference(&bytes, "why ", 0.5, 42, 50));
    assert_eq!(String::from_utf8(r.stdout).unwrap(), expected);
    assert!(r.stderr.contains("booted from") && r.stderr.contains("H=24 V=57 L=1"));
    // Default length: 400 characters.
    let r = sim(&["run", "--blob", &blob, "--raw"]);
    assert_eq!(String::from_utf8(r.stdout).unwrap().chars().count(), 400);
}

#[test]
fn stats_report_measured_footprint_and_zero_heap() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let r = sim(&["run", "--blob", &blob, "--raw", "--chars", "200", "--stats"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &r.stderr;
    for needle in [
        "heap         0 allocations",
        "this simulator (H=512 V=1024 L=2)",
        "sized build (H=64 V=64 L=1)",
        "chars/s",
        "multiply-adds per char",
        "flash ",
    ] {
        assert!(s.contains(needle), "{needle:?} missing from {s}");
    }
    let stack_line = s.lines().find(|l| l.starts_with("stack")).unwrap();
    let bytes: usize = stack_line
        .split_whitespace()
        .find_map(|w| w.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no figure in {stack_line}"));
    assert!(bytes <= 8192, "{stack_line}");
}

#[test]
fn info_describes_blob_image_and_board_fit() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let r = sim(&["info", &blob]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = String::from_utf8(r.stdout).unwrap();
    for needle in [
        "vocab 57, hidden 24, layers 1",
        "int8",
        "random weights (test)",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from {out}");
    }
    for board in ["stm32f103", "stm32f411", "nrf52840", "rp2040", "mps2-an386"] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(board))
            .unwrap();
        assert!(line.ends_with("fits"), "{line}");
    }
    let img = f.path("n.img");
    assert_eq!(
        sim(&["flash", &blob, "--image", &img, "--board", "nrf52840"]).code,
        0
    );
    let out = String::from_utf8(sim(&["info", "--image", &img]).stdout).unwrap();
    assert!(out.contains("flashed for nrf52840"), "{out}");
}

#[test]
fn reflashing_keeps_the_firmware_region_and_baud_paces_output() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let img = f.path("f.img");
    assert_eq!(sim(&["flash", &blob, "--image", &img]).code, 0);
    let mut image = std::fs::read(&img).unwrap();
    image[..8].copy_from_slice(b"FIRMWARE");
    std::fs::write(&img, &image).unwrap();
    let other = f.write("o.blob", &random_blob(VOCAB, 16, 2, 3, Quant::F32));
    assert_eq!(sim(&["flash", &other, "--image", &img]).code, 0);
    assert_eq!(&std::fs::read(&img).unwrap()[..8], b"FIRMWARE");
    let out = String::from_utf8(sim(&["info", "--image", &img]).stdout).unwrap();
    assert!(
        out.contains("hidden 16, layers 2") && out.contains("f32"),
        "{out}"
    );

    // 30 one-byte characters at 4800 baud: 29 byte times of 10 bits after the first.
    let start = Instant::now();
    let r = sim(&[
        "run", "--blob", &blob, "--raw", "--chars", "30", "--baud", "4800",
    ]);
    assert_eq!(r.code, 0);
    let bytes = r.stdout.len() as u64;
    assert!(start.elapsed() >= Duration::from_micros((bytes - 1) * 10 * 1_000_000 / 4800));
}

// ---------------------------------------------------------------------------
// Bad input

#[test]
fn missing_corrupt_and_truncated_images_are_refused() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let img = f.path("f.img");
    fails(
        &["run", "--image", &f.path("none.img")],
        &["none.img", "cannot read"],
    );
    assert_eq!(sim(&["flash", &blob, "--image", &img]).code, 0);
    let image = std::fs::read(&img).unwrap();

    let truncated = f.write("t.img", &image[..image.len() - 100]);
    fails(&["run", "--image", &truncated], &["truncated"]);
    let mut bad = image.clone();
    bad[128 * 1024 + 256 + 40] ^= 0x10; // inside the blob
    let bad_blob = f.write("b.img", &bad);
    fails(&["run", "--image", &bad_blob], &["corrupt", "re-flash"]);
    let mut bad = image.clone();
    bad[128 * 1024 + 20] ^= 0x10; // inside the header
    let bad_header = f.write("h.img", &bad);
    fails(&["info", "--image", &bad_header], &["corrupt", "header"]);
    let erased = f.write("e.img", &vec![0xFF; image.len()]);
    fails(&["run", "--image", &erased], &["no model flashed"]);
    let wrong_board = ["run", "--image", &img, "--board", "rp2040"];
    fails(&wrong_board, &["rp2040", "flash"]);
}

#[test]
fn missing_corrupt_truncated_and_oversized_blobs_are_refused() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    fails(
        &["run", "--blob", &f.path("nope.blob")],
        &["nope.blob", "cannot read"],
    );
    fails(&["info", &f.path("nope.blob")], &["cannot read"]);
    let truncated = f.write("t.blob", &bytes[..bytes.len() / 2]);
    fails(&["run", "--blob", &truncated], &["t.blob"]);
    let mut bad = bytes.clone();
    bad[bytes.len() / 2] ^= 1;
    let corrupt = f.write("c.blob", &bad);
    fails(&["run", "--blob", &corrupt], &["corrupt"]);
    fails(
        &["run", "--blob", &f.write("x.blob", b"hello")],
        &["x.blob"],
    );
    fails(
        &["flash", &corrupt, "--image", &f.path("i.img")],
        &["corrupt"],
    );
    assert!(!Path::new(&f.path("i.img")).exists());

    // Over the simulator's capacities: 3 layers, and a 1,100-character vocabulary.
    let deep = f.write(
        "deep.blob",
        &random_blob(VOCAB, 8, 3, 1, Quant::I8RowScaled),
    );
    fails(
        &["run", "--blob", &deep],
        &["layers is 3", "at most 2", "smaller model"],
    );
    let wide: String = (0..1100u32)
        .filter_map(|i| char::from_u32(0x4E00 + i))
        .collect();
    let wide = f.write(
        "wide.blob",
        &random_blob(&wide, 4, 1, 1, Quant::I8RowScaled),
    );
    fails(&["info", &wide], &["vocab is 1100", "at most 1024"]);
    let _ = blob;
}

#[test]
fn blob_over_the_board_budget_is_refused_with_the_overshoot() {
    let f = Files::new();
    // H=192 int8: about 190 KB, over the stm32f103's 81,664-byte model region.
    let big = f.write(
        "big.blob",
        &random_blob(VOCAB, 192, 1, 1, Quant::I8RowScaled),
    );
    let img = f.path("f103.img");
    let msg = fails(
        &["flash", &big, "--image", &img, "--board", "stm32f103"],
        &[
            "stm32f103",
            "model region holds 81664 bytes",
            "over by",
            "--board stm32f411",
        ],
    );
    let len = std::fs::metadata(&big).unwrap().len();
    assert!(
        msg.contains(&format!("over by {} bytes", len - 81664)),
        "{msg}"
    );
    assert!(!Path::new(&img).exists());
    fails(
        &["run", "--blob", &big, "--board", "stm32f103"],
        &["over by"],
    );
}

#[test]
fn bad_prime_and_sampler_settings_are_refused() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "--blob", blob.as_str(), "--chars", "5"];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let check = |extra: &[&str], needles: &[&str]| {
        let a = run(extra);
        fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), needles)
    };
    check(
        &["--prime", "hi Zeus"],
        &["'Z'", "position 3", "vocabulary"],
    );
    check(&["--prime", "中"], &["'中'", "vocabulary"]);
    check(&["--temperature", "-1"], &["temperature -1", ">= 0"]);
    check(&["--temperature", "NaN"], &["temperature NaN"]);
    check(&["--top-p", "0"], &["top-p 0", "(0, 1]"]);
    check(&["--top-p", "1.5"], &["top-p 1.5"]);
    check(&["--board", "stm32f103", "--prime", "Q"], &["'Q'"]);
}

#[test]
fn usage_errors_exit_2() {
    usage_error(&["run", "--blob", "a", "--image", "b"]);
    usage_error(&["run", "--board", "arduino-uno"]);
    usage_error(&["run", "--chars", "many"]);
    usage_error(&["run", "--baud", "0"]);
    usage_error(&["flash", "m.blob"]);
    usage_error(&["frobnicate"]);
    usage_error(&["info", "a.blob", "--image", "b.img"]);
    let help = sim(&["run", "--help"]);
    assert_eq!(help.code, 0);
    let help = String::from_utf8(help.stdout).unwrap();
    for b in charlstm_sim::board::BOARDS {
        assert!(help.contains(b.name), "--help does not list {}", b.name);
    }
}

#[test]
fn without_a_bundled_model_run_and_info_say_what_to_do() {
    if charlstm_sim::bundled::BUNDLED_BLOB.is_some() {
        // The bundled model loads and generates.
        let r = sim(&["run", "--raw", "--chars", "20"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(String::from_utf8(r.stdout).unwrap().chars().count(), 20);
        assert_eq!(sim(&["info"]).code, 0);
    } else {
        let needles = ["no bundled model", "--blob or --image", "README"];
        fails(&["run"], &needles);
        fails(&["info"], &needles);
    }
}

#[test]
fn samples_are_the_classic_recipes_four_temperatures_from_one_prime() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    let r = sim(&[
        "samples", "--blob", &blob, "--prime", "the ", "--chars", "50", "--seed", "4",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = String::from_utf8(r.stdout).unwrap();
    for t in [0.2f32, 0.5, 1.0, 1.2] {
        let header = format!("----- temperature {t}\n");
        let sample = out.split(&header).nth(1).expect(&header);
        let expected = format!("the {}\n", reference(&bytes, "the ", t, 4, 50));
        assert!(
            sample.starts_with(&expected),
            "T={t}: {sample:?} vs {expected:?}"
        );
    }
    fails(
        &["samples", "--blob", &blob, "--temperature", "nan"],
        &["temperature"],
    );
}
