//! charlstm-core's int8 path held bit for bit to docs/int8-arithmetic.md.
//!
//! The reference (`charlstm_tests::int8_reference`) is written from that page and from
//! docs/blob-format.md alone: it decodes the blob itself and computes `mul`, the tables, the
//! step, the logits and the sampler in plain i64/i128. Core is used only through its public
//! API (load, step, state, logits, next_token). Every comparison is exact: h and c as
//! integers, logits through `to_bits()` of `z as f32 * (1.0 / 65536.0)`, sampled ids as ids.

use charlstm_core::{Generator, Model, Quant, SamplerConfig, State};
use charlstm_tests::int8_reference::{
    I8Blob, RefLstm, RefSampler, crc32, decode_blob, exp2_neg, exp2_table, mul, sigmoid,
    sigmoid_table, tanh,
};
use charlstm_tests::weights::{FloatWeights, LayerWeights, Mat, to_blob};
use charlstm_tests::{random_blob, random_weights, test_meta};

/// Capacities large enough for every blob here (hidden <= 128, vocab <= 64, layers <= 2).
type M<'a> = Model<'a, 128, 64, 2>;

/// A vocabulary of `n` distinct ASCII characters.
fn vocab(n: usize) -> String {
    (0..n).map(|i| char::from(b'!' + i as u8)).collect()
}

/// The fixed input sequence: a deterministic walk over the ids.
fn inputs(v: usize, n: usize) -> Vec<usize> {
    (0..n).map(|t| (t * 7 + t * t / 5 + 3) % v).collect()
}

/// The random blobs: (vocab size, hidden, layers, seed).
const BLOBS: &[(usize, usize, usize, u64)] = &[
    (1, 8, 1, 11),
    (5, 8, 1, 1),
    (5, 8, 2, 2),
    (57, 24, 1, 3),
    (57, 24, 2, 4),
    (13, 24, 2, 5),
    (57, 128, 1, 6),
    (57, 128, 2, 7),
    (64, 128, 2, 8),
];

fn q16_to_f32_bits(z: i32) -> u32 {
    (z as f32 * (1.0 / 65536.0)).to_bits()
}

fn load(blob: &[u8]) -> M<'_> {
    let model = M::from_bytes(blob).expect("core loads the blob");
    assert_eq!(model.quant(), Quant::I8RowScaled);
    model
}

/// Core's h and c against the reference's, exactly, and the logits bit for bit.
fn assert_same(
    what: &str,
    step: usize,
    g: &Generator<'_, '_, 128, 64, 2>,
    reference: &RefLstm<'_>,
) {
    let State::Fixed { h, c } = g.state() else {
        panic!("{what}: core's state is not the fixed-point one");
    };
    for (l, (ref_h, ref_c)) in reference.h.iter().zip(&reference.c).enumerate() {
        for k in 0..ref_h.len() {
            assert_eq!(
                h[l][k], ref_h[k],
                "{what}, step {step}: h of layer {l}, unit {k}: core {} reference {}",
                h[l][k], ref_h[k]
            );
            assert_eq!(
                c[l][k], ref_c[k],
                "{what}, step {step}: c of layer {l}, unit {k}: core {} reference {}",
                c[l][k], ref_c[k]
            );
        }
    }
    let logits = g.logits();
    assert_eq!(
        logits.len(),
        reference.logits.len(),
        "{what}: vocabulary size"
    );
    for (v, (&core, &z)) in logits.iter().zip(&reference.logits).enumerate() {
        assert_eq!(
            core.to_bits(),
            q16_to_f32_bits(z),
            "{what}, step {step}: logit {v}: core {core} reference {z} / 2^16 = {}",
            z as f32 / 65536.0
        );
    }
}

/// Feeds `ids` to core and the reference, comparing before the first and after every step.
fn run_steps(what: &str, model: &M<'_>, blob: &I8Blob, ids: &[usize]) {
    let mut g = Generator::new(model, SamplerConfig::temperature(1.0), 0).unwrap();
    let mut reference = RefLstm::new(blob);
    assert_same(what, 0, &g, &reference);
    for (t, &id) in ids.iter().enumerate() {
        g.step(model.token_from_id(id).expect("id in the vocabulary"));
        reference.step(id);
        assert_same(what, t + 1, &g, &reference);
    }
}

/// Samples `n` ids from core and from the reference, each feeding back its own ids.
fn run_sampling(
    what: &str,
    model: &M<'_>,
    blob: &I8Blob,
    prime: &[usize],
    config: SamplerConfig,
    seed: u64,
    n: usize,
) {
    let mut g = Generator::new(model, config, seed).unwrap();
    let mut reference = RefLstm::new(blob);
    let mut sampler = RefSampler::new(config.temperature, config.top_k, config.top_p, seed);
    for &id in prime {
        g.step(model.token_from_id(id).unwrap());
        reference.step(id);
    }
    let mut drawn = Vec::new();
    for t in 0..n {
        let core_id = g.next_token().id();
        let ref_id = sampler.sample(&reference.logits);
        assert_eq!(
            core_id,
            ref_id,
            "{what}, {config:?}, seed {seed}: token {t} (after {drawn:?}): core drew {core_id}, \
             the reference {ref_id}; reference weights {:?}",
            sampler.weights(&reference.logits)
        );
        drawn.push(ref_id);
        reference.step(ref_id);
    }
}

/// The sampler settings of the sampling tests: every combination of these.
fn sampler_configs() -> Vec<SamplerConfig> {
    let mut configs = Vec::new();
    for temperature in [0.0, 0.5, 1.0, 1.3] {
        for top_k in [0, 5] {
            for top_p in [1.0, 0.9] {
                configs.push(SamplerConfig {
                    temperature,
                    top_k,
                    top_p,
                });
            }
        }
    }
    configs
}

fn nietzsche_blob() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nietzsche.blob");
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (the bundled model is required)"))
}

#[test]
fn reference_tables_have_the_documented_sums_and_crcs() {
    assert_eq!(
        crc32(b"123456789"),
        0xcbf4_3926,
        "the reference's CRC-32 check value"
    );
    let t = sigmoid_table();
    assert_eq!(t.len(), 1026);
    assert_eq!(t[1025], t[1024]);
    assert_eq!(t.iter().map(|&x| x as u64).sum::<u64>(), 16_826_368);
    let t_bytes: Vec<u8> = t.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(crc32(&t_bytes), 0xe77e_0eb2);
    let e = exp2_table();
    assert_eq!(e.len(), 257);
    assert_eq!((e[0], e[256]), (1 << 24, 1 << 23));
    assert_eq!(e.iter().map(|&x| x as u64).sum::<u64>(), 3_110_748_820);
    let e_bytes: Vec<u8> = e.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(crc32(&e_bytes), 0x7308_adce);
}

#[test]
fn reference_mul_rounds_half_up_exactly() {
    let bits = f32::to_bits;
    // the doc's examples
    assert_eq!(mul(1, bits(0.5), 0), 1);
    assert_eq!(mul(-1, bits(0.5), 0), 0);
    // zero, -0.0 and subnormals give 0; infinities and overflow saturate
    assert_eq!(mul(i32::MAX, bits(0.0), 24), 0);
    assert_eq!(mul(i32::MAX, bits(-0.0), 24), 0);
    assert_eq!(mul(i32::MAX, bits(f32::from_bits(1)), 24), 0);
    assert_eq!(mul(i32::MIN, bits(f32::MIN_POSITIVE / 2.0), 24), 0);
    assert_eq!(mul(3, bits(f32::INFINITY), 0), i32::MAX);
    assert_eq!(mul(-3, bits(f32::INFINITY), 0), i32::MIN);
    assert_eq!(mul(1 << 20, bits(4096.0), 16), i32::MAX);
    assert_eq!(mul(-(1 << 20), bits(4096.0), 16), i32::MIN);
    assert_eq!(mul(i32::MIN, bits(1.0), 0), i32::MIN);
    // e + p >= 0 (no rounding at all): 0.9 × 2^24, 3 × 2^10 × 2^16
    assert_eq!(mul(1, bits(0.9), 24), 15_099_494);
    assert_eq!(mul(3, bits(1024.0), 16), 3 << 26);
    // against f64 where f64 is exact (|v| < 2^29, so |v × m| < 2^53)
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = (x as i32) >> 3;
        let f = f32::from_bits((x >> 32) as u32 & 0xbfff_ffff) * 1e-30; // |f| <~ 2
        for p in [0, 1, 16, 24] {
            let exact = v as f64 * f as f64 * (p as f64).exp2();
            let expected = (exact + 0.5)
                .floor()
                .clamp(i32::MIN as f64, i32::MAX as f64);
            assert_eq!(mul(v, bits(f), p) as f64, expected, "mul({v}, {f:e}, {p})");
        }
    }
    // exact ties on both sides of zero
    assert_eq!(mul(5, bits(0.25), 1), 3); // 2.5
    assert_eq!(mul(-5, bits(0.25), 1), -2); // -2.5
    assert_eq!(mul(-3, bits(0.5), 0), -1); // -1.5
}

#[test]
fn reference_activations_hit_the_documented_end_points() {
    assert_eq!(sigmoid(0), 16384);
    assert_eq!(sigmoid(i32::MAX), 32768);
    assert_eq!(sigmoid(16 << 16), 32768);
    assert_eq!(sigmoid(i32::MIN), 0);
    assert_eq!(tanh(0), 0);
    assert_eq!(tanh(i32::MAX), 32768);
    assert_eq!(tanh(i32::MIN), -32768);
    assert_eq!(exp2_neg(0), 1 << 24);
    assert_eq!(exp2_neg(-5), 1 << 24);
    assert_eq!(exp2_neg(1 << 16), 1 << 23);
    assert_eq!(exp2_neg(20 << 16), 16);
    assert_eq!(exp2_neg(24 << 16), 1);
    assert_eq!(exp2_neg(25 << 16), 0);
    assert_eq!(exp2_neg(32 << 16), 0);
    assert_eq!(exp2_neg(i32::MAX), 0);
    // within §7's error of the float functions
    for z in (-20 << 16..20 << 16).step_by(997) {
        let x = z as f64 / 65536.0;
        let s = sigmoid(z) as f64 / 32768.0;
        assert!((s - 1.0 / (1.0 + (-x).exp())).abs() < 4.3e-5, "σ({x})");
        let th = tanh(z) as f64 / 32768.0;
        assert!((th - x.tanh()).abs() < 8.6e-5, "tanh({x})");
    }
}

#[test]
fn reference_decoder_reads_the_loader_example_blob() {
    // blob-format.md §9
    let bytes: [u8; 126] = [
        0x43, 0x4c, 0x53, 0x4d, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x61, 0x62, 0x01, 0x74, 0x01,
        0x72, 0x01, 0x63, 0x09, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x20, 0x40, 0x00, 0x04, 0x02,
        0x08, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x00, 0x00, 0x00, 0x3f, 0x00,
        0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x04, 0x01, 0x04,
        0x00, 0x01, 0x02, 0x03, 0x10, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00,
        0x00, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0x10, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0x3e,
        0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x02, 0x01, 0x02, 0x00, 0x01, 0x08,
        0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0x08, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00,
        0x00, 0x3f, 0x7a, 0x9e, 0xb5, 0x2a,
    ];
    let blob = decode_blob(&bytes);
    assert_eq!(blob.vocab, ['a', 'b']);
    assert_eq!(blob.layers[0].w_ih.q, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(blob.layers[0].w_hh.q, [0, 1, 2, 3]);
    assert_eq!(blob.layers[0].bias, [0.25f32.to_bits(); 4]);
    assert_eq!(blob.w_out.q, [0, 1]);
    // and core computes on it what the reference computes
    let model = load(&bytes);
    run_steps("§9 example", &model, &blob, &[0, 1, 1, 0, 1, 0, 0, 0, 1, 1]);
}

#[test]
fn core_state_and_logits_equal_the_reference_bit_for_bit_after_every_step() {
    for &(v, hidden, layers, seed) in BLOBS {
        let bytes = random_blob(&vocab(v), hidden, layers, seed, Quant::I8RowScaled);
        let blob = decode_blob(&bytes);
        let model = load(&bytes);
        let what = format!("random blob V={v} H={hidden} L={layers} seed {seed}");
        run_steps(&what, &model, &blob, &inputs(v, 80));
    }
}

#[test]
fn core_sampled_ids_equal_the_reference_sampler() {
    let blobs: &[(usize, usize, usize, u64)] = &[(5, 8, 1, 21), (57, 24, 2, 22), (57, 128, 1, 23)];
    for &(v, hidden, layers, blob_seed) in blobs {
        let bytes = random_blob(&vocab(v), hidden, layers, blob_seed, Quant::I8RowScaled);
        let blob = decode_blob(&bytes);
        let model = load(&bytes);
        let what = format!("random blob V={v} H={hidden} L={layers} seed {blob_seed}");
        for config in sampler_configs() {
            for seed in [0, 1, 0xdead_beef] {
                run_sampling(&what, &model, &blob, &inputs(v, 5), config, seed, 200);
            }
        }
    }
}

#[test]
fn core_equals_the_reference_on_the_bundled_nietzsche_model() {
    let bytes = nietzsche_blob();
    let blob = decode_blob(&bytes);
    assert_eq!(
        (blob.vocab.len(), blob.hidden, blob.layers.len()),
        (57, 128, 1)
    );
    let model = load(&bytes);
    let prime_text = "the philosopher, as we free spirits understand him, is the man of the \
                      greatest responsibility, who has ";
    let prime: Vec<usize> = prime_text
        .chars()
        .take(100)
        .map(|ch| {
            blob.id_of(ch)
                .unwrap_or_else(|| panic!("{ch:?} not in the vocabulary"))
        })
        .collect();
    assert_eq!(prime.len(), 100);
    run_steps("nietzsche.blob, prime", &model, &blob, &prime);
    for seed in [1, 2, 3] {
        run_sampling(
            "nietzsche.blob",
            &model,
            &blob,
            &prime,
            SamplerConfig::temperature(0.5),
            seed,
            100,
        );
    }
}

/// A blob whose output matrix is zero, so every step's logits are `b_out` (in Q16.16): a
/// sampler test with hand-picked logits, ties included.
fn constant_logits_blob(b_out: &[f32]) -> Vec<u8> {
    let v = b_out.len();
    let zeros = |rows, cols| Mat {
        rows,
        cols,
        data: vec![0.0; rows * cols],
    };
    let weights = FloatWeights {
        vocab: vocab(v),
        lowercase: false,
        hidden: 1,
        layers: vec![LayerWeights {
            w_ih: zeros(4, v),
            w_hh: zeros(4, 1),
            b: vec![0.0; 4],
        }],
        w_out: zeros(v, 1),
        b_out: b_out.to_vec(),
    };
    to_blob(&weights, &test_meta(), Quant::I8RowScaled)
}

#[test]
fn core_sampler_breaks_ties_and_meets_top_p_boundaries_like_the_reference() {
    let config = |temperature, top_k, top_p| SamplerConfig {
        temperature,
        top_k,
        top_p,
    };
    // Four equal weights: top-p 0.25, 0.5 and 0.75 fall exactly on C × 2^24 = P × total.
    let mut cases = vec![(vec![0.0f32; 4], config(0.0, 0, 1.0))];
    for (top_k, top_p) in [
        (0, 0.25),
        (0, 0.5),
        (0, 0.75),
        (0, 0.9),
        (2, 1.0),
        (3, 0.5),
        (3, 0.9),
    ] {
        cases.push((vec![0.0; 4], config(1.0, top_k, top_p)));
    }
    // Ties at the maximum and below it, ids not in rank order.
    let tied = vec![0.5f32, 2.0, 2.0, -1.0, 2.0, 0.0, 0.5];
    cases.push((tied.clone(), config(0.0, 3, 0.5)));
    for temperature in [0.5, 1.0, 2.0] {
        for top_k in [0, 1, 2, 4, 5, 7, 9] {
            for top_p in [1.0, 0.9, 0.5] {
                cases.push((tied.clone(), config(temperature, top_k, top_p)));
            }
        }
    }
    // One character: every setting draws id 0.
    for (temperature, top_k, top_p) in [(0.0, 0, 1.0), (1.0, 5, 0.5), (1.0, 1, 1.0)] {
        cases.push((vec![3.0], config(temperature, top_k, top_p)));
    }
    for (b_out, config) in cases {
        let bytes = constant_logits_blob(&b_out);
        let blob = decode_blob(&bytes);
        let model = load(&bytes);
        let what = format!("constant logits {b_out:?}");
        for seed in [7, 8] {
            run_sampling(&what, &model, &blob, &[], config, seed, 300);
        }
    }
}

/// Scales every weight and bias of `w` by `factor`.
fn scaled(mut w: FloatWeights, factor: f32) -> FloatWeights {
    let scale = |data: &mut Vec<f32>| data.iter_mut().for_each(|x| *x *= factor);
    for layer in &mut w.layers {
        scale(&mut layer.w_ih.data);
        scale(&mut layer.w_hh.data);
        scale(&mut layer.b);
    }
    scale(&mut w.w_out.data);
    scale(&mut w.b_out);
    w
}

#[test]
fn core_saturates_and_clamps_like_the_reference_on_extreme_weights() {
    // Large weights: pre-activations and logits saturate at i32::MIN / i32::MAX.
    for (v, hidden, layers, seed) in [(5, 8, 2, 31), (57, 24, 2, 32)] {
        for factor in [30.0, 1e5, 1e9] {
            let w = scaled(random_weights(&vocab(v), hidden, layers, seed), factor);
            let bytes = to_blob(&w, &test_meta(), Quant::I8RowScaled);
            let blob = decode_blob(&bytes);
            let model = load(&bytes);
            let what = format!("random blob V={v} H={hidden} L={layers} seed {seed} x {factor}");
            run_steps(&what, &model, &blob, &inputs(v, 60));
        }
    }
    // i = f = o = 1 and g = ±1 (biases ±20): c moves by exactly ±1.0 a step until it
    // saturates at step 32768, and o × tanh(c) = ±2^30 makes h = ±32768, clamped to ±32767.
    let w = FloatWeights {
        vocab: vocab(2),
        lowercase: false,
        hidden: 2,
        layers: vec![LayerWeights {
            w_ih: Mat {
                rows: 8,
                cols: 2,
                data: vec![0.0; 16],
            },
            w_hh: Mat {
                rows: 8,
                cols: 2,
                data: vec![0.0; 16],
            },
            b: vec![20.0, 20.0, 20.0, 20.0, -20.0, 20.0, 20.0, 20.0],
        }],
        w_out: Mat {
            rows: 2,
            cols: 2,
            data: vec![1.0, -1.0, 0.5, 0.25],
        },
        b_out: vec![0.0, 0.1],
    };
    let bytes = to_blob(&w, &test_meta(), Quant::I8RowScaled);
    let blob = decode_blob(&bytes);
    let model = load(&bytes);
    run_steps("drifting cell", &model, &blob, &inputs(2, 33_000));
    let mut reference = RefLstm::new(&blob);
    for _ in 0..33_000 {
        reference.step(0);
    }
    assert_eq!(
        reference.c[0],
        [i32::MIN, i32::MAX],
        "the drift reached saturation"
    );
    assert_eq!(reference.h[0], [-32767, 32767], "h clamped");
}

#[test]
fn core_sampler_meets_the_reference_at_tiny_temperatures() {
    // L = log2(e) / T: 1.4e7 (e + p = 0 in §2, no rounding), 1.4e30 (every gap saturates) and
    // +inf for a subnormal T, where the doc leaves mul(0, inf, 0) open; the reference says 0,
    // so the maximum weighs 2^24 and ties at the maximum are drawn among.
    let tied = [0.5f32, 2.0, 2.0, -1.0, 2.0, 0.0, 0.5];
    for temperature in [1e-7, 1e-30, 1e-39] {
        for (top_k, top_p) in [(0, 1.0), (2, 1.0), (0, 0.5)] {
            let config = SamplerConfig {
                temperature,
                top_k,
                top_p,
            };
            let bytes = constant_logits_blob(&tied);
            let (blob, model) = (decode_blob(&bytes), load(&bytes));
            run_sampling("constant logits", &model, &blob, &[], config, 5, 200);
            let bytes = random_blob(&vocab(57), 24, 1, 41, Quant::I8RowScaled);
            let (blob, model) = (decode_blob(&bytes), load(&bytes));
            run_sampling(
                "random blob V=57 H=24",
                &model,
                &blob,
                &[1, 2, 3],
                config,
                5,
                200,
            );
        }
    }
}
