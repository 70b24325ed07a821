//! Golden vectors written by the trainer (`charlstm-train golden --out tests/golden`, see
//! trainer/src/golden.rs for the file format): core must compute the log-probabilities the
//! trainer's own forward pass computed (within the file's tolerance, per blob kind) and draw
//! exactly the recorded ids at the recorded temperature and seed.

use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden");

struct Golden {
    prime: String,
    tol: Vec<(String, f64)>,
    logp: Vec<Vec<f64>>,
    samples: Vec<(String, f32, u64, Vec<usize>)>,
}

fn load() -> Golden {
    let text = std::fs::read_to_string(format!("{DIR}/tiny.txt")).expect("tests/golden/tiny.txt");
    let mut g = Golden {
        prime: String::new(),
        tol: vec![],
        logp: vec![],
        samples: vec![],
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (kind, rest) = line.split_once(' ').expect("a record");
        let f: Vec<&str> = rest.split(' ').collect();
        match kind {
            "prime" => g.prime = rest.to_string(),
            "tol" => g.tol.push((f[0].to_string(), f[1].parse().unwrap())),
            "logp" => {
                assert_eq!(f[0].parse::<usize>().unwrap(), g.logp.len());
                g.logp
                    .push(f[1..].iter().map(|v| v.parse().unwrap()).collect());
            }
            "sample" => g.samples.push((
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3..].iter().map(|v| v.parse().unwrap()).collect(),
            )),
            other => panic!("unknown record {other}"),
        }
    }
    g
}

fn log_softmax(z: &[f32]) -> Vec<f64> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
    z.iter().map(|&v| v as f64 - lse).collect()
}

fn check(kind: &str) {
    let g = load();
    let bytes = std::fs::read(format!("{DIR}/tiny-{kind}.blob")).expect("golden blob");
    let model = Model::<16, 16, 2>::from_bytes(&bytes).expect("the golden blob loads");
    let tol = g
        .tol
        .iter()
        .find(|(k, _)| k == kind)
        .expect("a tolerance")
        .1;
    assert_eq!(g.logp.len(), g.prime.chars().count());

    let mut generator = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    for (t, ch) in g.prime.chars().enumerate() {
        generator.step(model.token(ch).expect("prime chars are in the vocabulary"));
        let got = log_softmax(generator.logits());
        assert_eq!(got.len(), g.logp[t].len());
        for (v, (a, b)) in got.iter().zip(&g.logp[t]).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{kind} step {t} id {v}: core {a}, trainer {b}, tol {tol}"
            );
        }
    }

    let (_, temperature, seed, ids) = g.samples.iter().find(|s| s.0 == kind).expect("samples");
    let mut generator =
        Generator::new(&model, SamplerConfig::temperature(*temperature), *seed).unwrap();
    generator.prime(&g.prime, OnUnknown::Error).unwrap();
    let got: Vec<usize> = (0..ids.len())
        .map(|_| generator.next_token().id())
        .collect();
    assert_eq!(&got, ids, "{kind}: sampled ids");
}

#[test]
fn float_blob_matches_the_trainer() {
    check("f32");
}

#[test]
fn int8_blob_matches_the_trainer() {
    check("i8");
}
