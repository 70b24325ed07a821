//! The loader never panics and rejects every damaged blob (spec §7), property-tested; plus
//! the exact header bytes shown in docs/blob-format.md and a round trip through the exporter.

use charlstm_core::blob::{
    Description, Dims, LayerRecord, Meta, OutputRecord, TensorRecord, encode,
};
use charlstm_core::{CRC32, LoadError, Model, Quant, TensorName};
use charlstm_tests::weights::to_blob;
use charlstm_tests::{random_blob, random_weights, test_meta};
use charlstm_trainer::export::StoredTensor;
use proptest::prelude::*;

type M<'a> = Model<'a, 16, 32, 2>;

/// Parts of a blob, owned, so each test can damage one field and re-encode.
#[derive(Clone)]
struct Parts {
    dims: Dims,
    vocab: String,
    quant: [Quant; 5],
    shapes: [(u32, u32); 3], // w_ih, w_hh, w_out
    data_len: [usize; 3],
    scales: Vec<f32>,
    bias: Vec<f32>,
    out_bias_len: usize,
    extra_layers: u32,
}

/// The tiny blob of docs/blob-format.md §9: V = 2 ("ab"), H = 1, L = 1, int8.
fn tiny() -> Parts {
    Parts {
        dims: Dims {
            vocab: 2,
            hidden: 1,
            layers: 1,
        },
        vocab: "ab".into(),
        quant: [Quant::I8RowScaled; 5],
        shapes: [(4, 2), (4, 1), (2, 1)],
        data_len: [8, 4, 2],
        scales: vec![0.5; 4],
        bias: vec![0.25; 4],
        out_bias_len: 2,
        extra_layers: 0,
    }
}

fn encode_parts(p: &Parts) -> Vec<u8> {
    let desc = Description {
        dims: p.dims,
        lowercase: true,
        vocab: &p.vocab,
        meta: Meta {
            tool_version: "t",
            recipe: "r",
            corpus_name: "c",
            corpus_chars: 9,
            val_bpc_float: 2.0,
            val_bpc_quant: 2.5,
        },
    };
    let data: Vec<Vec<u8>> = p
        .data_len
        .iter()
        .map(|&n| (0..n).map(|i| i as u8).collect())
        .collect();
    let scale_bytes = |n: u32, q: Quant| -> Vec<u8> {
        if q == Quant::F32 {
            vec![]
        } else {
            p.scales
                .iter()
                .cycle()
                .take(n as usize)
                .flat_map(|s| s.to_le_bytes())
                .collect()
        }
    };
    let s = [
        scale_bytes(p.shapes[0].0, p.quant[0]),
        scale_bytes(p.shapes[1].0, p.quant[1]),
        scale_bytes(p.shapes[2].0, p.quant[2]),
    ];
    let bias: Vec<u8> = p.bias.iter().flat_map(|b| b.to_le_bytes()).collect();
    let out_bias: Vec<u8> = (0..p.out_bias_len)
        .flat_map(|_| 0.5f32.to_le_bytes())
        .collect();
    let t = |i: usize| TensorRecord {
        quant: p.quant[i],
        rows: p.shapes[i].0,
        cols: p.shapes[i].1,
        data: &data[i],
        scales: &s[i],
    };
    let layer = LayerRecord {
        w_ih: t(0),
        w_hh: t(1),
        bias: &bias,
    };
    let layers = vec![layer; 1 + p.extra_layers as usize];
    let output = OutputRecord {
        w: t(2),
        bias: &out_bias,
    };
    let mut buf = vec![0u8; 4096];
    encode(&desc, &layers, &output, &mut buf).unwrap().to_vec()
}

fn load(bytes: &[u8]) -> Result<(), LoadError> {
    M::from_bytes(bytes).map(|_| ())
}

/// Recomputes the trailing CRC, so a damaged body reaches the parser.
fn fix_crc(bytes: &mut [u8]) {
    let n = bytes.len();
    if n >= 4 {
        let crc = CRC32.checksum(&bytes[..n - 4]).to_le_bytes();
        bytes[n - 4..].copy_from_slice(&crc);
    }
}

#[test]
fn tiny_blob_is_exactly_the_documented_bytes_and_loads() {
    let blob = encode_parts(&tiny());
    // docs/blob-format.md §9, byte for byte.
    let header: &[u8] = &[
        0x43, 0x4c, 0x53, 0x4d, // magic "CLSM"
        0x01, // version 1
        0x02, 0x01, 0x01, // dims: vocab 2, hidden 1, layers 1
        0x01, // lowercase: true
        0x02, 0x61, 0x62, // vocab: len 2, "ab"
        0x01, 0x74, 0x01, 0x72, 0x01, 0x63, // tool_version "t", recipe "r", corpus_name "c"
        0x09, // corpus_chars 9
        0x00, 0x00, 0x00, 0x40, // val_bpc_float 2.0
        0x00, 0x00, 0x20, 0x40, // val_bpc_quant 2.5
        0x00, 0x04, 0x02, // layer 0 w_ih: quant I8RowScaled, rows 4, cols 2
        0x08, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // data: len 8, bytes
        0x10, // scales: len 16 (4 × f32)
    ];
    assert_eq!(&blob[..header.len()], header);
    assert_eq!(blob.len(), 126);
    assert_eq!(&blob[blob.len() - 4..], &[0x7a, 0x9e, 0xb5, 0x2a]); // CRC-32 0x2ab59e7a, §9
    let crc = u32::from_le_bytes(blob[blob.len() - 4..].try_into().unwrap());
    assert_eq!(crc, CRC32.checksum(&blob[..blob.len() - 4]));
    let model = M::from_bytes(&blob).unwrap();
    assert_eq!(
        model.dims(),
        Dims {
            vocab: 2,
            hidden: 1,
            layers: 1
        }
    );
    assert_eq!(model.vocab(), "ab");
    assert!(model.lowercase());
}

#[test]
fn every_truncation_is_rejected() {
    let blob = random_blob("abc\nxé한", 4, 2, 1, Quant::I8RowScaled);
    M::from_bytes(&blob).unwrap();
    for n in 0..blob.len() {
        assert!(
            load(&blob[..n]).is_err(),
            "a blob cut to {n} bytes was accepted"
        );
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let blob = random_blob("abc\nxé한", 3, 1, 2, Quant::I8RowScaled);
    let mut damaged = blob.clone();
    for i in 0..blob.len() * 8 {
        damaged[i / 8] ^= 1 << (i % 8);
        let err = load(&damaged).expect_err("a flipped bit was accepted");
        assert!(
            matches!(err, LoadError::BadMagic | LoadError::BadChecksum { .. }),
            "bit {i}: {err:?}"
        );
        damaged[i / 8] ^= 1 << (i % 8);
    }
}

#[test]
fn exported_blob_loads_its_dims_vocab_and_meta_and_int8_weights_stay_within_half_a_step() {
    let vocab = "abc é한\n";
    for quant in [Quant::I8RowScaled, Quant::F32] {
        let w = random_weights(vocab, 8, 2, 3);
        let blob = to_blob(&w, &test_meta(), quant);
        let m = M::from_bytes(&blob).unwrap();
        assert_eq!(
            m.dims(),
            Dims {
                vocab: 7,
                hidden: 8,
                layers: 2
            }
        );
        assert_eq!(m.vocab(), vocab);
        assert_eq!(m.quant(), quant);
        assert_eq!(m.meta().recipe, test_meta().recipe);
        assert_eq!(m.blob_len(), blob.len());
        for (i, ch) in vocab.chars().enumerate() {
            assert_eq!(m.token(ch).unwrap().id(), i);
            assert_eq!(m.char_of(m.token(ch).unwrap()), ch);
        }
        // The stored weights dequantize to what the exporter reports.
        let stored = StoredTensor::from_rows(&w.w_out.data, w.w_out.cols, quant);
        let deq = stored.dequantized(&w.w_out.data, w.w_out.cols, quant);
        for (a, b) in deq.iter().zip(&w.w_out.data) {
            let tol = if quant == Quant::F32 {
                0.0
            } else {
                1.5 / 127.0 / 2.0 * 1.0001
            };
            assert!((a - b).abs() <= tol, "{a} vs {b}");
        }
    }
}

#[test]
fn each_documented_rejection_gives_its_documented_error() {
    use LoadError as E;
    let ok = tiny();
    load(&encode_parts(&ok)).unwrap();
    let mut cases: Vec<(Parts, E)> = vec![];
    let mut p = ok.clone();
    p.dims.hidden = 0;
    cases.push((p, E::ZeroDim { field: "hidden" }));
    let mut p = ok.clone();
    p.dims.hidden = 17;
    cases.push((
        p,
        E::ExceedsCapacity {
            field: "hidden",
            capacity: 16,
            found: 17,
        },
    ));
    let mut p = ok.clone();
    p.dims.layers = 3;
    cases.push((
        p,
        E::ExceedsCapacity {
            field: "layers",
            capacity: 2,
            found: 3,
        },
    ));
    let mut p = ok.clone();
    p.vocab = "abc".into();
    cases.push((
        p,
        E::VocabLength {
            declared: 2,
            found: 3,
        },
    ));
    let mut p = ok.clone();
    p.vocab = "aa".into();
    cases.push((p, E::DuplicateChar { ch: 'a' }));
    let mut p = ok.clone();
    p.shapes[1] = (4, 2);
    cases.push((
        p,
        E::TensorShape {
            tensor: TensorName::HiddenGates(0),
            expected: (4, 1),
            found: (4, 2),
        },
    ));
    let mut p = ok.clone();
    p.data_len[2] = 3;
    cases.push((
        p,
        E::TensorLength {
            tensor: TensorName::Output,
            expected: 2,
            found: 3,
        },
    ));
    let mut p = ok.clone();
    p.scales = vec![f32::NAN];
    cases.push((
        p,
        E::NotFinite {
            tensor: TensorName::InputGates(0),
        },
    ));
    let mut p = ok.clone();
    p.bias = vec![f32::INFINITY; 4];
    cases.push((
        p,
        E::NotFinite {
            tensor: TensorName::GateBias(0),
        },
    ));
    let mut p = ok.clone();
    p.out_bias_len = 1;
    cases.push((
        p,
        E::TensorLength {
            tensor: TensorName::OutputBias,
            expected: 8,
            found: 4,
        },
    ));
    let mut p = ok.clone();
    p.quant[1] = Quant::F32;
    cases.push((p, E::Malformed { field: "quant" }));
    let mut p = ok.clone();
    p.extra_layers = 1; // a second layer record the dims do not announce
    cases.push((
        p,
        E::TensorShape {
            tensor: TensorName::Output,
            expected: (2, 1),
            found: (4, 2),
        },
    ));
    for (parts, expected) in cases {
        assert_eq!(load(&encode_parts(&parts)), Err(expected));
    }

    let good = encode_parts(&ok);
    assert_eq!(load(&good[..5]), Err(E::TooShort { len: 5 }));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(load(&bad), Err(E::BadMagic));
    let mut bad = good.clone();
    bad[4] = 2;
    fix_crc(&mut bad);
    assert_eq!(
        load(&bad),
        Err(E::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x80;
    assert!(matches!(load(&bad), Err(E::BadChecksum { .. })));
    let mut bad = good[..good.len() - 4].to_vec();
    bad.extend([0, 0, 0, 0, 0]);
    fix_crc(&mut bad);
    assert_eq!(load(&bad), Err(E::TrailingBytes { count: 1 }));
    let mut bad = good.clone();
    bad[10] = 0xff; // vocab "a" -> invalid UTF-8
    fix_crc(&mut bad);
    assert_eq!(
        load(&bad),
        Err(E::Malformed {
            field: "description"
        })
    );
}

#[test]
fn every_error_has_a_one_sentence_message() {
    // One value of every variant of core's three error types (core/src/error.rs).
    use charlstm_core::{ConfigError, UnknownChar};
    let t = TensorName::HiddenGates(1);
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(LoadError::TooShort { len: 3 }),
        Box::new(LoadError::BadMagic),
        Box::new(LoadError::BadChecksum {
            stored: 1,
            computed: 2,
        }),
        Box::new(LoadError::UnsupportedVersion {
            found: 2,
            supported: 1,
        }),
        Box::new(LoadError::Malformed {
            field: "description",
        }),
        Box::new(LoadError::ZeroDim { field: "hidden" }),
        Box::new(LoadError::ExceedsCapacity {
            field: "hidden",
            capacity: 128,
            found: 256,
        }),
        Box::new(LoadError::VocabLength {
            declared: 2,
            found: 3,
        }),
        Box::new(LoadError::DuplicateChar { ch: 'é' }),
        Box::new(LoadError::TensorShape {
            tensor: t,
            expected: (4, 1),
            found: (4, 2),
        }),
        Box::new(LoadError::TensorLength {
            tensor: t,
            expected: 8,
            found: 4,
        }),
        Box::new(LoadError::NotFinite { tensor: t }),
        Box::new(LoadError::TrailingBytes { count: 1 }),
        Box::new(UnknownChar {
            ch: '日',
            position: 3,
        }),
        Box::new(ConfigError::Temperature(-1.0)),
        Box::new(ConfigError::TopP(2.0)),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in &errors {
        let msg = e.to_string();
        // One sentence: text on one line, no sentence break inside, no final period (the
        // tools prefix the file name and may append a remedy).
        assert!(!msg.is_empty(), "{e:?}: empty message");
        assert!(!msg.contains('\n'), "{e:?}: {msg:?} spans lines");
        assert!(
            !msg.contains(". ") && !msg.ends_with('.'),
            "{e:?}: {msg:?} is not one sentence"
        );
        assert!(
            seen.insert(msg.clone()),
            "{e:?}: {msg:?} is another error's"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = load(&bytes);
    }

    /// Past the checksum: random edits with a recomputed CRC exercise the parser itself.
    #[test]
    fn damaged_bodies_with_valid_crc_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut blob = encode_parts(&tiny());
        blob[..4].copy_from_slice(b"CLSM");
        for (at, byte) in edits {
            let i = 4 + at.index(blob.len() - 8);
            blob[i] = byte;
        }
        if do_cut {
            let n = 9 + cut.index(blob.len() - 9);
            blob.truncate(n);
        }
        fix_crc(&mut blob);
        let _ = load(&blob);
    }
}
