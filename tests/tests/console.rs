//! The serial console (charlstm_device::console, the loop every firmware runs) on a host,
//! over a loopback "UART": its text must be the generator's, every bad request must get one
//! error line and leave the device serving, and a bad flash must stop it with one line.
//! (QEMU runs the same loop on the real firmware: scripts/ci-qemu.sh.)

use std::collections::VecDeque;

use charlstm_core::{Generator, Model, OnUnknown, Quant, SamplerConfig};
use charlstm_device::board::{self, Board, HEADER_PAGE};
use charlstm_device::console::{self, ExitStatus, Hardware};
use charlstm_device::image::{ERASED, PartitionHeader};
use charlstm_tests::random_blob;

const VOCAB: &str = "\n !\"'(),-.0123456789:;=?[]_abcdefghijklmnopqrstuvwxyzäæéë";

/// A board made of two byte queues; ticks count reads of the clock.
struct Loopback {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    clock: u32,
    idle_reads: u32,
    quit: Option<ExitStatus>,
}

impl Hardware for Loopback {
    fn read_byte(&mut self) -> Option<u8> {
        let b = self.rx.pop_front();
        if b.is_none() {
            self.idle_reads += 1;
            assert!(
                self.idle_reads < 1_000_000,
                "the console waits for input that never comes"
            );
        }
        b
    }
    fn write(&mut self, bytes: &[u8]) {
        self.tx.extend_from_slice(bytes);
    }
    fn ticks(&mut self) -> u32 {
        self.clock = self.clock.wrapping_add(7);
        self.clock
    }
    fn ticks_between(&self, earlier: u32, later: u32) -> u32 {
        later.wrapping_sub(earlier)
    }
    fn instructions_per_tick(&self) -> Option<(u32, u32)> {
        None
    }
    fn code_bytes(&self) -> u32 {
        1
    }
    fn ram_bytes(&self) -> u32 {
        2
    }
    fn quit(&mut self, status: ExitStatus) -> bool {
        self.quit = Some(status);
        true
    }
    fn reset(&mut self) -> ! {
        panic!("reset is not expected here")
    }
}

fn mps2() -> &'static Board {
    board::find("mps2-an386").unwrap()
}

/// The flash from the header offset on, with `blob` flashed as `charlstm-sim flash` does.
fn partition(blob: &[u8]) -> Vec<u8> {
    let mut f = vec![ERASED; HEADER_PAGE as usize + blob.len() + 100];
    f[..64].copy_from_slice(&PartitionHeader::new(mps2(), blob).to_bytes());
    f[HEADER_PAGE as usize..][..blob.len()].copy_from_slice(blob);
    f
}

/// Runs the console on `input` until it quits; returns what it sent and how it ended.
fn session(flash: &[u8], input: &[u8]) -> (String, ExitStatus) {
    let mut hw = Loopback {
        rx: input.iter().copied().collect(),
        tx: Vec::new(),
        clock: 0,
        idle_reads: 0,
        quit: None,
    };
    let status = console::run::<_, 64, 64, 2>(&mut hw, mps2(), flash);
    assert_eq!(hw.quit, Some(status));
    (String::from_utf8(hw.tx).unwrap(), status)
}

/// What `charlstm-sim run --raw` computes for these settings.
fn expected(blob: &[u8], prime: &str, chars: usize, sampler: SamplerConfig, seed: u64) -> String {
    let model = Model::<64, 64, 2>::from_bytes(blob).unwrap();
    let mut g = Generator::new(&model, sampler, seed).unwrap();
    g.prime(prime, OnUnknown::Error).unwrap();
    g.chars(chars).collect()
}

#[test]
fn generate_streams_the_generators_text_framed_by_its_count() {
    let blob = random_blob(VOCAB, 48, 1, 3, Quant::I8RowScaled);
    let flash = partition(&blob);
    let (out, status) = session(
        &flash,
        b"generate prime=\"the \\\"meaning\\\" of\\n\" temperature=0.8 seed=9 chars=120 top-k=7\r\ngenerate chars=30 top-p=0.9\rquit\n",
    );
    assert_eq!(status, ExitStatus::Success);
    let mut lines = out.split('\n');
    let ready = lines.next().unwrap();
    assert!(
        ready.starts_with(
            "ready protocol=1 board=mps2-an386 hidden=48 vocab=57 layers=1 quant=int8 crc=0x"
        ),
        "{ready}"
    );
    let rest = &out[ready.len() + 1..];
    let sampler = SamplerConfig {
        temperature: 0.8,
        top_k: 7,
        top_p: 1.0,
    };
    let first = expected(&blob, "the \"meaning\" of\n", 120, sampler, 9);
    let second = expected(
        &blob,
        "",
        30,
        SamplerConfig {
            temperature: 0.5,
            top_k: 0,
            top_p: 0.9,
        },
        42,
    );
    for (i, text) in [first, second].iter().enumerate() {
        let header = format!("text chars={}\n", text.chars().count());
        let at = rest.find(header.as_str());
        let at = at.unwrap_or_else(|| panic!("reply {i}: no {header:?} in {rest:?}"));
        let body = &rest[at + header.len()..];
        assert!(body.starts_with(text.as_str()), "reply {i} differs");
        let end = body[text.len()..]
            .strip_prefix("\nend status=ok chars=")
            .unwrap();
        assert!(
            end.starts_with(&format!("{} ", text.chars().count())),
            "{end}"
        );
    }
    assert!(out.ends_with("bye\n"), "{out}");
}

#[test]
fn every_bad_request_gets_one_error_line_and_the_device_keeps_serving() {
    let blob = random_blob(VOCAB, 16, 1, 5, Quant::I8RowScaled);
    let flash = partition(&blob);
    let long = format!("generate prime=\"{}\"", "a".repeat(300));
    let cases: Vec<(&[u8], &str)> = vec![
        (b"hello", "unknown-command"),
        (b"generate colour=red", "bad-argument"),
        (b"generate chars=many", "bad-number"),
        (b"generate seed=-1", "bad-number"),
        (b"generate temperature=-1", "temperature"),
        (b"generate temperature=NaN", "temperature"),
        (b"generate top-p=0", "top-p"),
        (b"generate top-p=1.01", "top-p"),
        (b"generate prime=\"ABC\"", "prime"),
        (b"generate prime=\"unclosed", "bad-text"),
        (b"generate prime=\"\\x\"", "bad-text"),
        (b"\xff\xfe", "bad-text"),
        (long.as_bytes(), "line-too-long"),
    ];
    for (line, kind) in cases {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\ninfo\nquit\n");
        let (out, status) = session(&flash, &input);
        assert_eq!(status, ExitStatus::Success);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{line:?}: {out}");
        assert!(
            lines[1].starts_with(&format!("error {kind}: ")),
            "{:?}: {}",
            String::from_utf8_lossy(line),
            lines[1]
        );
        assert!(lines[2].starts_with("info protocol=1 "), "{}", lines[2]);
        assert_eq!(lines[3], "bye");
    }
    // The limit itself is fine: 255 bytes.
    let ok = format!("generate chars=0 prime=\"{}\"", "a".repeat(255 - 25));
    assert_eq!(ok.len(), 255);
    let (out, _) = session(&flash, format!("{ok}\nquit\n").as_bytes());
    assert!(
        out.contains("text chars=0\n\nend status=ok chars=0 "),
        "{out}"
    );
}

#[test]
fn ctrl_c_interrupts_and_other_bytes_start_the_next_request() {
    let blob = random_blob(VOCAB, 16, 1, 6, Quant::I8RowScaled);
    let flash = partition(&blob);
    let (out, _) = session(&flash, b"generate chars=1000000\n\x03quit\n");
    assert!(out.contains("end status=interrupted chars=0 "), "{out}");
    // Bytes that arrive while text streams are the next request.
    let (out, _) = session(&flash, b"generate chars=3\ninfo\nquit\n");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[1] == "text chars=3" && lines[3].starts_with("end status=ok chars=3 "),
        "{out}"
    );
    assert!(lines[4].starts_with("info "), "{out}");
}

#[test]
fn a_device_with_a_bad_flash_answers_every_request_with_one_error_line_until_quit() {
    let blob = random_blob(VOCAB, 16, 1, 7, Quant::I8RowScaled);
    let good = partition(&blob);
    let mut bad_header = good.clone();
    bad_header[20] ^= 1;
    let mut bad_blob = good.clone();
    bad_blob[HEADER_PAGE as usize + 10] ^= 1;
    let big = random_blob(VOCAB, 80, 1, 8, Quant::I8RowScaled);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![ERASED; 512], "erased"),
        (vec![0; 512], "erased"),
        (bad_header, "header-crc"),
        (bad_blob, "blob-crc"),
        (partition(&big), "model"),
    ];
    for (flash, kind) in cases {
        // One line at boot, the same line for every request, then `quit` stops it.
        let (out, status) = session(&flash, b"info\ngenerate\nquit\n");
        assert_eq!(status, ExitStatus::Failure);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[0].starts_with(&format!("error {kind}: ")), "{out}");
        assert!(lines.iter().all(|l| *l == lines[0]), "{out}");
    }
}
