//! CLI tests of the simulator binary: flash, boot, generate, info, --stats, and bad inputs
//! (a one-line error, exit 1; usage errors exit 2; never a panic).
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
    fails_with(1, args, needles)
}

/// Refused with exit status `code` and a one-line message holding every needle.
fn fails_with(code: i32, args: &[&str], needles: &[&str]) -> String {
    let r = sim(args);
    assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
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
fn stats_report_zero_heap_the_footprints_speed_and_a_stack_under_8_kib() {
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
        assert!(line.contains(" fits") || line.contains(" runs"), "{line}");
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
fn a_bad_prime_fails_and_bad_sampler_settings_are_usage_errors() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "--blob", blob.as_str(), "--chars", "5"];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let check_code = |code: i32, extra: &[&str], needles: &[&str]| {
        let a = run(extra);
        fails_with(
            code,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            needles,
        )
    };
    // The prime against the model's vocabulary: a failure (1).
    let check = |extra: &[&str], needles: &[&str]| check_code(1, extra, needles);
    check(
        &["--prime", "hi Zeus"],
        &["'Z'", "position 3", "vocabulary"],
    );
    check(&["--prime", "中"], &["'中'", "vocabulary"]);
    check(&["--board", "stm32f103", "--prime", "Q"], &["'Q'"]);
    // A sampler setting no device takes: a usage error (2), as `serial` and qemu.sh give it.
    let usage = |extra: &[&str], needles: &[&str]| check_code(2, extra, needles);
    usage(&["--temperature", "-1"], &["temperature `-1`", ">= 0"]);
    usage(&["--temperature", "NaN"], &["temperature `NaN`"]);
    usage(&["--top-p", "0"], &["top-p `0`", "(0, 1]"]);
    usage(&["--top-p", "1.5"], &["top-p `1.5`"]);
}

#[test]
fn usage_errors_exit_2_and_run_help_lists_every_board() {
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
fn run_and_info_use_the_bundled_model_or_say_what_to_do_without_one() {
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

// ---------------------------------------------------------------------------
// Files a flasher takes: bin, Intel HEX, UF2, and --firmware

/// `run --raw` of `image` with fixed settings.
fn raw_text(image: &str) -> String {
    let r = sim(&[
        "run", "--raw", "--image", image, "--prime", "the ", "--seed", "3", "--chars", "120",
    ]);
    assert_eq!(r.code, 0, "{image}: {}", r.stderr);
    String::from_utf8(r.stdout).unwrap()
}

/// One Intel HEX record line: `:LLAAAATT<data>CC`.
fn hex_record(kind: u8, addr: u16, data: &[u8]) -> String {
    let mut bytes = vec![data.len() as u8, (addr >> 8) as u8, addr as u8, kind];
    bytes.extend_from_slice(data);
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes.push(sum.wrapping_neg());
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(":{hex}\n")
}

/// A little-endian ELF32 (ARM, ET_EXEC) with one PT_LOAD per `(vaddr, paddr, bytes, memsz)`.
fn elf32(segments: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let phoff = 52u32;
    let mut data_off = phoff + 32 * segments.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    for half in [2u16, 40] {
        out.extend_from_slice(&half.to_le_bytes()); // e_type EXEC, e_machine ARM
    }
    for word in [1u32, segments[0].1, phoff, 0, 0x0500_0400] {
        out.extend_from_slice(&word.to_le_bytes()); // version, entry, phoff, shoff, flags
    }
    for half in [52u16, 32, segments.len() as u16, 40, 0, 0] {
        out.extend_from_slice(&half.to_le_bytes()); // ehsize, phentsize, phnum, sh*
    }
    for (vaddr, paddr, bytes, memsz) in segments {
        let len = bytes.len() as u32;
        for word in [1u32, data_off, *vaddr, *paddr, len, *memsz, 5, 4] {
            out.extend_from_slice(&word.to_le_bytes()); // PT_LOAD, R+X, align 4
        }
        data_off += len;
    }
    for (_, _, bytes, _) in segments {
        out.extend_from_slice(bytes);
    }
    out
}

#[test]
fn every_format_boots_to_the_same_text_as_the_bin_image() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    let expected = reference(&bytes, "the ", 0.5, 3, 120);
    for (board, files) in [
        ("stm32f411", &["m.img", "m.hex"][..]),
        ("rp2040", &["p.img", "p.hex", "p.uf2"][..]),
    ] {
        for name in files {
            let out = f.path(&format!("{board}-{name}"));
            let r = sim(&["flash", &blob, "--image", &out, "--board", board]);
            assert_eq!(r.code, 0, "{out}: {}", r.stderr);
            let text = String::from_utf8(r.stdout).unwrap();
            assert!(text.contains("verified   read back as"), "{text}");
            assert_eq!(raw_text(&out), expected, "{out}");
            let info = String::from_utf8(sim(&["info", "--image", &out]).stdout).unwrap();
            assert!(info.contains(&format!("flashed for {board}")), "{info}");
        }
    }
    // HEX and UF2 hold only the header page and the blob, at CPU addresses.
    let hex = std::fs::read_to_string(f.path("stm32f411-m.hex")).unwrap();
    assert!(
        hex.starts_with(":020000040802F0\n:10000000434C534D50415254"),
        "{hex:.80}"
    );
    let data: usize = hex
        .lines()
        .filter(|l| &l[7..9] == "00")
        .map(|l| usize::from_str_radix(&l[1..3], 16).unwrap())
        .sum();
    assert_eq!(data, 256 + bytes.len());
    let uf2 = std::fs::read(f.path("rp2040-p.uf2")).unwrap();
    assert_eq!(uf2.len(), (256 + bytes.len()).div_ceil(256) * 512);
    assert_eq!(&uf2[12..16], &0x1002_0000u32.to_le_bytes());
    assert_eq!(&uf2[28..32], &0xe48b_ff56u32.to_le_bytes());
    // --format overrides the extension; reading goes by content.
    let odd = f.path("model.out");
    let r = sim(&[
        "flash", &blob, "--image", &odd, "--board", "rp2040", "--format", "uf2",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&odd).unwrap(), uf2);
    assert_eq!(raw_text(&odd), expected);
}

#[test]
fn uf2_is_refused_for_a_board_whose_boot_rom_does_not_take_it() {
    let f = Files::new();
    let (blob, _) = f.blob();
    for board in ["stm32f411", "mps2-an386"] {
        let out = f.path("m.uf2");
        fails(
            &["flash", &blob, "--image", &out, "--board", board],
            &[board, "does not take UF2", "rp2040", "--format hex"],
        );
        assert!(!Path::new(&out).exists());
        let out = f.path("m.img");
        fails(
            &[
                "flash", &blob, "--image", &out, "--board", board, "--format", "uf2",
            ],
            &["UF2"],
        );
    }
    usage_error(&["flash", &blob, "--image", "x", "--format", "srec"]);
}

#[test]
fn firmware_is_merged_at_its_load_addresses_and_refused_outside_its_reservation() {
    let f = Files::new();
    let (blob, bytes) = f.blob();
    let vectors: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
    let data_init = b"initial values of .data";
    // .data runs at 0x20000000 but loads from 0x08001000; .bss has no file bytes.
    let elf = f.write(
        "fw.elf",
        &elf32(&[
            (0x0800_0000, 0x0800_0000, &vectors, 200),
            (0x2000_0000, 0x0800_1000, data_init, 64),
            (0x2000_0040, 0x2000_0040, &[], 256),
        ]),
    );
    let check = |image: &[u8]| {
        assert_eq!(&image[..200], vectors.as_slice());
        assert_eq!(&image[0x1000..0x1000 + data_init.len()], data_init);
        assert!(image[200..0x1000].iter().all(|&b| b == 0xFF));
        assert!(
            image[0x1000 + data_init.len()..0x20000]
                .iter()
                .all(|&b| b == 0xFF)
        );
        let at = 0x20000 + 256;
        assert_eq!(&image[at..at + bytes.len()], bytes.as_slice());
    };
    let expected = raw_text(&{
        let plain = f.path("plain.hex");
        assert_eq!(
            sim(&["flash", &blob, "--image", &plain, "--board", "stm32f411"]).code,
            0
        );
        plain
    });
    for name in ["fw.hex", "fw.img"] {
        let out = f.path(name);
        let r = sim(&[
            "flash",
            &blob,
            "--image",
            &out,
            "--board",
            "stm32f411",
            "--firmware",
            &elf,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            String::from_utf8(r.stdout)
                .unwrap()
                .contains("from --firmware")
        );
        let file = std::fs::read(&out).unwrap();
        let image = charlstm_sim::formats::decode(file, Path::new(&out))
            .unwrap()
            .image;
        check(&image);
        assert_eq!(raw_text(&out), expected);
    }
    let hex = std::fs::read_to_string(f.path("fw.hex")).unwrap();
    assert!(hex.starts_with(":020000040800F2\n"), "{hex:.40}");

    // The same firmware as an Intel HEX file gives the same bytes.
    let mut fw_hex = hex_record(4, 0, &[0x08, 0x00]);
    for (i, chunk) in vectors.chunks(16).enumerate() {
        fw_hex += &hex_record(0, (i * 16) as u16, chunk);
    }
    fw_hex += &hex_record(0, 0x1000, data_init);
    fw_hex += &hex_record(1, 0, &[]);
    let fw_hex = f.write("fw-in.hex", fw_hex.as_bytes());
    let out = f.path("fw2.hex");
    let r = sim(&[
        "flash",
        &blob,
        "--image",
        &out,
        "--board",
        "stm32f411",
        "--firmware",
        &fw_hex,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), hex);

    // Bytes past the reservation, or a firmware linked for another board, are refused.
    let big = f.write(
        "big.elf",
        &elf32(&[(0x0801_fff0, 0x0801_fff0, &[0; 32], 32)]),
    );
    let out = f.path("no.hex");
    fails(
        &[
            "flash",
            &blob,
            "--image",
            &out,
            "--board",
            "stm32f411",
            "--firmware",
            &big,
        ],
        &[
            "big.elf",
            "0x801fff0..0x8020010",
            "firmware reservation 0x8000000..0x8020000",
        ],
    );
    let pico = f.write(
        "pico.elf",
        &elf32(&[(0x1000_0000, 0x1000_0000, &vectors, 200)]),
    );
    fails(
        &[
            "flash",
            &blob,
            "--image",
            &out,
            "--board",
            "stm32f411",
            "--firmware",
            &pico,
        ],
        &["0x10000000", "stm32f411's firmware reservation"],
    );
    assert!(!Path::new(&out).exists());
    let junk = f.write("junk.bin", &[0u8; 64]);
    fails(
        &["flash", &blob, "--image", &out, "--firmware", &junk],
        &["junk.bin", "not an ELF or Intel HEX"],
    );
}

#[test]
fn damaged_hex_and_uf2_files_are_refused_with_what_is_wrong() {
    let f = Files::new();
    let (blob, _) = f.blob();
    let hex_path = f.path("m.hex");
    assert_eq!(
        sim(&["flash", &blob, "--image", &hex_path, "--board", "stm32f411"]).code,
        0
    );
    let hex = std::fs::read_to_string(&hex_path).unwrap();
    // Rewrite the header's first record with its flash-size byte changed: a valid HEX
    // record, a corrupt partition header.
    let mut lines: Vec<String> = hex.lines().map(|l| format!("{l}\n")).collect();
    let rec = &lines[1];
    let mut data: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&rec[9 + 2 * i..11 + 2 * i], 16).unwrap())
        .collect();
    data[14] ^= 0x01;
    lines[1] = hex_record(0, 0, &data);
    let bad = f.write("bad-header.hex", lines.concat().as_bytes());
    for cmd in ["run", "info", "samples"] {
        fails(
            &[cmd, "--image", &bad],
            &["bad-header.hex", "header-crc", "re-flash"],
        );
    }
    // A record whose own checksum is wrong, and a HEX cut short.
    let mut broken = hex.clone().into_bytes();
    broken[30] = if broken[30] == b'0' { b'1' } else { b'0' };
    let broken = f.write("broken.hex", &broken);
    fails(
        &["run", "--image", &broken],
        &["broken.hex", "record 2", "damaged"],
    );
    let cut = f.write("cut.hex", &hex.as_bytes()[..hex.len() / 2]);
    fails(&["run", "--image", &cut], &["cut.hex"]);
    let no_eof = f.write("noeof.hex", hex.replace(":00000001FF\n", "").as_bytes());
    fails(&["run", "--image", &no_eof], &["noeof.hex", "truncated"]);

    let uf2_path = f.path("m.uf2");
    assert_eq!(
        sim(&["flash", &blob, "--image", &uf2_path, "--board", "rp2040"]).code,
        0
    );
    let uf2 = std::fs::read(&uf2_path).unwrap();
    let short = f.write("short.uf2", &uf2[..uf2.len() - 512]);
    fails(&["run", "--image", &short], &["short.uf2", "truncated"]);
    let mut other = uf2.clone();
    other[512 + 28..512 + 32].copy_from_slice(&0x57755a57u32.to_le_bytes()); // STM32F4's
    let other = f.write("other.uf2", &other);
    fails(
        &["run", "--image", &other],
        &["other.uf2", "family id 0x57755a57"],
    );
}

#[test]
fn a_board_flag_that_disagrees_with_the_header_is_refused() {
    let f = Files::new();
    let (blob, _) = f.blob();
    for name in ["m.img", "m.hex"] {
        let out = f.path(name);
        assert_eq!(
            sim(&["flash", &blob, "--image", &out, "--board", "nrf52840"]).code,
            0
        );
        // mps2-an386 shares nrf52840's header offset; only the header tells them apart.
        for cmd in ["run", "samples"] {
            fails(
                &[cmd, "--image", &out, "--board", "mps2-an386"],
                &[name, "--board mps2-an386", "names nrf52840"],
            );
        }
        assert_eq!(
            sim(&[
                "run", "--image", &out, "--board", "nrf52840", "--chars", "5"
            ])
            .code,
            0
        );
    }
    // A bin image padded to another board's length is refused: its header names nrf52840.
    let mut image = std::fs::read(f.path("m.img")).unwrap();
    image.resize(4 * 1024 * 1024, 0xFF);
    let padded = f.write("padded.img", &image);
    fails(
        &["run", "--image", &padded],
        &["nrf52840", "4194304 bytes", "padded"],
    );
}

#[test]
fn a_model_above_a_boards_firmware_is_refused_unless_forced() {
    let f = Files::new();
    // mps2-an386's firmware holds H <= 128; the simulator itself would hold H=136.
    let wide = f.write(
        "wide.blob",
        &random_blob(VOCAB, 136, 1, 2, Quant::I8RowScaled),
    );
    let hex = f.path("wide.hex");
    fails(
        &["flash", &wide, "--image", &hex, "--board", "mps2-an386"],
        &["H=136", "at most H=128"],
    );
    assert!(!std::path::Path::new(&hex).exists(), "nothing is written");
    let forced = sim(&[
        "flash",
        &wide,
        "--image",
        &hex,
        "--board",
        "mps2-an386",
        "--force",
    ]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        forced.stderr.contains("warning: --force"),
        "{}",
        forced.stderr
    );
    // The simulated device, standing in for that firmware, refuses to run it.
    fails(
        &["run", "--image", &hex, "--chars", "5"],
        &["at most H=128"],
    );
    // A blob too large for the model region cannot be forced.
    let big = f.write(
        "big.blob",
        &random_blob(VOCAB, 192, 1, 1, Quant::I8RowScaled),
    );
    fails(
        &[
            "flash",
            &big,
            "--image",
            &f.path("f103.img"),
            "--board",
            "stm32f103",
            "--force",
        ],
        &["over by"],
    );
}
