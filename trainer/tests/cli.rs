//! End-to-end tests of the `charlstm-train` binary on small synthetic corpora: learning,
//! exact resume, every bad-input error, and the eval/export/sample commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_charlstm-train"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails with exit code 1 and one error line containing every `needles`, no panic.
fn fails(args: &[&str], needles: &[&str]) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: stderr {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
}

/// `eval --corpus CORPUS MODEL_FLAG PATH --json`, parsed.
fn eval_json(corpus: &str, model_flag: &str, path: &Path) -> serde_json::Value {
    let json = ok(&[
        "eval",
        "--corpus",
        corpus,
        model_flag,
        path.to_str().unwrap(),
        "--json",
    ]);
    serde_json::from_str(&json).unwrap()
}

/// A repeating 8-character pattern with 5% of the characters replaced at random: a model
/// that learned the pattern predicts ~0.3 nats/char; one that learned nothing, ln 8 ≈ 2.08.
fn pattern_corpus(dir: &Path, chars: usize) -> PathBuf {
    let pattern = b"abcdefgh";
    let mut x = 2463534242u32;
    let text: String = (0..chars)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if x % 100 < 5 {
                pattern[(x / 100 % 8) as usize] as char
            } else {
                pattern[i % 8] as char
            }
        })
        .collect();
    let path = dir.join("pattern.txt");
    std::fs::write(&path, text).unwrap();
    path
}

const TINY: &[&str] = &[
    "--hidden",
    "16",
    "--batch",
    "8",
    "--seq-len",
    "16",
    "--lr",
    "0.01",
    "--shards",
    "2",
    "--sample-chars",
    "20",
    "--quiet",
];

fn train_args<'a>(corpus: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["train", "--corpus", corpus, "--out", out];
    a.extend_from_slice(TINY);
    a.extend_from_slice(extra);
    a
}

#[test]
fn learns_a_noisy_pattern_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 20_000);
    let out = dir.path().join("run");
    let (c, o) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    ok(&train_args(c, o, &["--epochs", "2"]));
    for f in [
        "checkpoint.bin",
        "model.blob",
        "metrics.csv",
        "samples.txt",
        "loss.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics.lines().next().unwrap(),
        "epoch,step,train_loss,val_loss,val_bpc,lr,chars_per_s,elapsed_s"
    );
    assert_eq!(metrics.lines().count(), 3);

    let ck = out.join("checkpoint.bin");
    let v = eval_json(c, "--checkpoint", &ck);
    let nats = v["val_loss_nats"].as_f64().unwrap();
    assert!(
        nats < 0.8,
        "val loss {nats} nats: the pattern was not learned (chance is 2.08)"
    );
    assert!((v["val_bpc"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9);
    assert_eq!(v["val_chars"].as_u64().unwrap(), 16 * (2000 / 16 - 1));

    // The int8 blob through charlstm-core agrees with the float model.
    let blob = out.join("model.blob");
    let b = eval_json(c, "--blob", &blob);
    assert!(
        (b["val_loss_nats"].as_f64().unwrap() - nats).abs() < 0.02,
        "{b} vs {v}"
    );
    assert!(b["crc"].as_str().unwrap().starts_with("0x"));
    assert_eq!(b["hidden"], 16);
    assert_eq!(b["layers"], 1);
    assert_eq!(b["vocab"], 8);

    let exported = dir.path().join("again.blob");
    let report = ok(&[
        "export",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(
        report.contains("layer 0 w_hh") && report.contains("int8"),
        "{report}"
    );
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&blob).unwrap()
    );

    let text = ok(&[
        "sample",
        "--blob",
        blob.to_str().unwrap(),
        "--prime",
        "abc",
        "--temperature",
        "0",
        "--chars",
        "16",
    ]);
    assert!(text.contains("abcdefghabcdefghabc"), "{text}");
    let text = ok(&[
        "sample",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--chars",
        "30",
    ]);
    assert_eq!(text.matches("----- temperature").count(), 4);
}

#[test]
fn two_epochs_straight_equal_one_plus_resume_plus_one() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 6_000);
    let c = corpus.to_str().unwrap();
    let strip = |dir: &str| -> Vec<String> {
        let csv = std::fs::read_to_string(Path::new(dir).join("metrics.csv")).unwrap();
        // Drop the timing columns chars_per_s and elapsed_s.
        csv.lines()
            .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
            .collect()
    };
    // The dropout masks and the weight average (on by default for tbptt) too must come back
    // the same after a resume.
    for (name, recipe, extra) in [
        ("tbptt", "tbptt", &[][..]),
        ("tbptt-raw", "tbptt", &["--ema", "0"]),
        ("keras", "keras", &[]),
        ("tbptt-dropout", "tbptt", &["--dropout", "0.3"]),
        ("tbptt-weight-drop", "tbptt", &["--weight-drop", "0.3"]),
    ] {
        let (a, b) = (
            dir.path().join(format!("a-{name}")),
            dir.path().join(format!("b-{name}")),
        );
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let args = |epochs| {
            let mut v = vec!["--epochs", epochs, "--recipe", recipe];
            v.extend_from_slice(extra);
            v
        };
        ok(&train_args(c, a, &args("2")));
        ok(&train_args(c, b, &args("1")));
        ok(&["train", "--resume", b, "--epochs", "2", "--quiet"]);
        assert_eq!(strip(a), strip(b), "{name}");
        assert_eq!(strip(a).len(), 3);
        let blob = |d: &str| std::fs::read(Path::new(d).join("model.blob")).unwrap();
        assert_eq!(blob(a), blob(b), "{name}: the final weights differ");
    }
    let plain = strip(&p(&dir, "a-tbptt-raw"));
    // The average trains the same weights (same training loss) but validates others.
    let averaged = strip(&p(&dir, "a-tbptt"));
    let cols = |l: &str| l.split(',').map(String::from).collect::<Vec<_>>();
    let (plain1, averaged1) = (cols(&plain[1]), cols(&averaged[1]));
    assert_eq!(plain1[2], averaged1[2]);
    assert_ne!(plain1[3], averaged1[3]);
}

#[test]
fn the_model_of_a_run_is_its_best_validated_epoch() {
    // Noise from 8 letters: nothing to learn but the unigram (ln 8 = 2.08 nats), so the
    // validation loss falls for a few epochs, then rises as the model memorizes the training
    // text. model.blob and eval must give the best epoch's weights, not the last ones.
    let dir = tempfile::tempdir().unwrap();
    let mut x = 88172645463325252u64;
    let text: String = (0..4_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x >> 61) as u8) as char
        })
        .collect();
    let corpus = dir.path().join("noise.txt");
    std::fs::write(&corpus, text).unwrap();
    let out = dir.path().join("run");
    let (c, o) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    ok(&train_args(c, o, &["--epochs", "40", "--ema", "0"]));
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let val: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    let (best_epoch, best) = val
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, &v)| (i as u64 + 1, v))
        .unwrap();
    let last = *val.last().unwrap();
    assert!(
        best < last - 0.05,
        "the run did not overfit (best {best} at epoch {best_epoch}, last {last}): the test needs it to"
    );
    let ck = out.join("checkpoint.bin");
    let v = eval_json(c, "--checkpoint", &ck);
    assert!(
        (v["val_loss_nats"].as_f64().unwrap() - best).abs() < 1e-5,
        "{v} vs {best}"
    );
    assert_eq!(v["epoch"].as_u64(), Some(best_epoch), "{v}");
    let blob = out.join("model.blob");
    let b = eval_json(c, "--blob", &blob);
    assert!(
        (b["val_loss_nats"].as_f64().unwrap() - best).abs() < 0.02,
        "{b} vs {best}"
    );
}

#[test]
fn a_version_3_checkpoint_evaluates_and_resumes() {
    // Written by the version-3 trainer (commit cf93578) with
    // `train --corpus pattern.txt --out v3 TINY --epochs 1` on pattern_corpus(_, 6_000).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v3");
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 6_000);
    let run = dir.path().join("v3");
    std::fs::create_dir(&run).unwrap();
    for f in ["checkpoint.bin", "metrics.csv"] {
        std::fs::copy(fixture.join(f), run.join(f)).unwrap();
    }
    let (c, r) = (corpus.to_str().unwrap(), run.to_str().unwrap());
    let old = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let old_val: f64 = old
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    let ck = run.join("checkpoint.bin");
    let v = eval_json(c, "--checkpoint", &ck);
    assert!(
        (v["val_loss_nats"].as_f64().unwrap() - old_val).abs() < 1e-5,
        "{v} vs {old}"
    );
    ok(&[
        "train", "--resume", r, "--corpus", c, "--epochs", "2", "--quiet",
    ]);
    let new = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(new.lines().count(), 3, "{new}");
    assert_eq!(new.lines().nth(1), old.lines().nth(1));
    // Rewritten in today's version.
    let bytes = std::fs::read(&ck).unwrap();
    assert_eq!(bytes[8..12], 4u32.to_le_bytes());
}

fn p(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_string()
}

#[test]
fn bad_corpora_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let out = p("out");
    let train = |corpus: &str, extra: &[&str], needles: &[&str]| {
        let mut a = vec!["train", "--corpus", corpus, "--out", &out, "--quiet"];
        a.extend_from_slice(extra);
        fails(&a, needles);
    };
    train(
        &p("missing.txt"),
        &[],
        &["missing.txt", "cannot read corpus"],
    );
    std::fs::write(p("empty.txt"), "").unwrap();
    train(&p("empty.txt"), &[], &["empty.txt", "empty"]);
    let mut bytes = b"hello world, this is fine".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    std::fs::write(p("latin.txt"), &bytes).unwrap();
    train(
        &p("latin.txt"),
        &[],
        &["latin.txt", "not UTF-8", "byte offset 25"],
    );
    std::fs::write(p("small.txt"), "abcdefgh".repeat(100)).unwrap();
    train(&p("small.txt"), &[], &["small.txt", "too few", "--batch"]);
    let wide: String = (0..400u32)
        .filter_map(|i| char::from_u32(0x4e00 + i))
        .collect::<String>()
        .repeat(20);
    std::fs::write(p("wide.txt"), wide).unwrap();
    train(
        &p("wide.txt"),
        &[],
        &["wide.txt", "400 distinct characters", "--max-vocab 256"],
    );
    std::fs::write(p("tinyval.txt"), "abcdefgh".repeat(20)).unwrap();
    train(&p("tinyval.txt"), &[], &["tinyval.txt", "validation"]);
    fails(
        &[
            "eval",
            "--corpus",
            &p("small.txt"),
            "--blob",
            &p("small.txt"),
        ],
        &["small.txt", "blob"],
    );
    fails(
        &[
            "eval",
            "--corpus",
            &p("small.txt"),
            "--checkpoint",
            &p("small.txt"),
        ],
        &["small.txt", "checkpoint"],
    );
}

#[test]
fn usage_errors_exit_2_and_train_help_exits_0() {
    for args in [
        &["train"][..],
        &["eval", "--corpus", "x"],
        &["bogus"],
        &["train", "--corpus", "x", "--hidden", "abc"],
    ] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
    assert!(run(&["train", "--help"]).status.success());
}

#[test]
fn two_layers_train_export_and_load_in_core() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 6_000);
    let out = dir.path().join("run2");
    let (c, o) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    ok(&train_args(c, o, &["--epochs", "1", "--layers", "2"]));
    let blob = out.join("model.blob");
    let v = eval_json(c, "--blob", &blob);
    assert_eq!(v["layers"], 2);
    let report = ok(&[
        "export",
        "--checkpoint",
        out.join("checkpoint.bin").to_str().unwrap(),
        "--out",
        dir.path().join("x.blob").to_str().unwrap(),
    ]);
    assert!(report.contains("layer 1 w_ih"), "{report}");
}

#[test]
fn time_limit_stops_mid_epoch_with_a_checkpoint_and_blob() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 200_000);
    let out = dir.path().join("timed");
    let (c, o) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    ok(&train_args(
        c,
        o,
        &["--epochs", "1000", "--time-limit", "0.3"],
    ));
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap();
    assert!(
        last.starts_with("1,"),
        "stopped inside the first epoch: {metrics}"
    );
    assert!(out.join("checkpoint.bin").is_file() && out.join("model.blob").is_file());
    // The run continues from there.
    ok(&["train", "--resume", o, "--max-steps", "1", "--quiet"]);
}

#[test]
fn divergence_stops_with_the_step_and_writes_no_bad_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 6_000);
    let c = corpus.to_str().unwrap();
    // An absurd learning rate: the weights overflow within the first epoch, before any
    // checkpoint, so the run must stop naming the step and write none.
    let bad = dir.path().join("nan2");
    let mut a = train_args(c, bad.to_str().unwrap(), &["--epochs", "1", "--clip", "0"]);
    let lr = a.iter().position(|x| *x == "--lr").unwrap();
    a[lr + 1] = "1e38";
    fails(&a, &["step ", "NaN"]);
    assert!(!bad.join("checkpoint.bin").exists());
}

#[test]
fn the_console_shows_samples_on_schedule_and_samples_txt_keeps_all() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = pattern_corpus(dir.path(), 6_000);
    let c = corpus.to_str().unwrap();
    // The epochs whose report the console showed, and those samples.txt holds.
    let shown = |name: &str, extra: &[&str]| -> (Vec<u64>, Vec<u64>) {
        let out = dir.path().join(name);
        let mut a = train_args(c, out.to_str().unwrap(), extra);
        a.retain(|x| *x != "--quiet");
        let epochs = |text: &str| -> Vec<u64> {
            text.lines()
                .filter_map(|l| l.strip_prefix("==== epoch "))
                .map(|l| l.split(' ').next().unwrap().parse().unwrap())
                .collect()
        };
        let stdout = ok(&a);
        let kept = std::fs::read_to_string(out.join("samples.txt")).unwrap();
        (epochs(&stdout), epochs(&kept))
    };
    let (console, file) = shown("every2", &["--epochs", "3", "--sample-every", "2"]);
    assert_eq!(console, [2, 3], "every 2nd epoch and the last");
    assert_eq!(file, [1, 2, 3]);
    // Seconds: none of these epochs lasts an hour, so only the last one is shown; the same is
    // the tbptt default (60 s) on epochs this short.
    let (console, _) = shown("hour", &["--epochs", "3", "--sample-every", "3600s"]);
    assert_eq!(console, [3]);
    let (console, file) = shown("default", &["--epochs", "3"]);
    assert_eq!((console, file), (vec![3], vec![1, 2, 3]));
    // The keras recipe shows every epoch by default.
    let (console, _) = shown("keras", &["--epochs", "2", "--recipe", "keras"]);
    assert_eq!(console, [1, 2]);
    // A resumed run counts epochs over the whole run.
    let every2 = dir.path().join("every2");
    let out = ok(&[
        "train",
        "--resume",
        every2.to_str().unwrap(),
        "--epochs",
        "6",
        "--sample-every",
        "2",
    ]);
    assert_eq!(
        out.matches("==== epoch").count(),
        2,
        "epochs 4 and 6: {out}"
    );
}

#[test]
fn a_bad_sample_schedule_is_a_usage_error() {
    for bad in ["0", "0s", "-1s", "5m", "abc", "s", "infs"] {
        let flag = format!("--sample-every={bad}");
        let out = run(&["train", "--corpus", "x", &flag]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--sample-every"), "{bad}: {err}");
    }
}
