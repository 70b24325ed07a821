//! Known-answer test of the bundled model (as llama2.c's test pins its model's output):
//! models/nietzsche.blob, run by charlstm-core exactly as the simulator and the firmware run
//! it (`Generator::new(model, temperature, seed)`, `prime(prime, OnUnknown::Error)`, then
//! `next_char()` per character, so each text equals `charlstm-sim run --raw` with the same
//! arguments), must give the texts of tests/golden/nietzsche-known-answer.json: 200
//! characters at T = 0 and at T = 0.5 with a fixed seed. A missing model file fails the test.
//!
//! The texts change only when the numerics change on purpose. Then, in that same commit,
//! regenerate them, with the independent references (core_vs_reference, golden_sampling,
//! core/tests/golden.rs) still passing:
//!
//! ```sh
//! CHARLSTM_REGENERATE=1 cargo test -p charlstm-tests --test known_answer
//! ```
//!
//! which rewrites the fixture with what core now generates (and passes).

use charlstm_core::{Generator, Model, OnUnknown, SamplerConfig};
use serde::{Deserialize, Serialize};

const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nietzsche.blob");
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/golden/nietzsche-known-answer.json"
);

/// tests/golden/nietzsche-known-answer.json.
#[derive(Debug, Serialize, Deserialize)]
struct KnownAnswers {
    /// What the file is and how to regenerate it.
    about: String,
    /// The model file, from the repository root.
    model: String,
    /// Its CRC-32 (the blob's last four bytes), so a new model is noticed as such.
    model_crc32: String,
    /// One generation each.
    cases: Vec<Case>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Case {
    prime: String,
    chars: usize,
    temperature: f32,
    seed: u64,
    /// The generated characters, without the prime.
    text: String,
}

fn generate(model: &Model<'_, 128, 64, 1>, case: &Case) -> String {
    let mut g = Generator::new(
        model,
        SamplerConfig::temperature(case.temperature),
        case.seed,
    )
    .expect("valid settings");
    g.prime(&case.prime, OnUnknown::Error)
        .expect("the prime is in the vocabulary");
    g.chars(case.chars).collect()
}

#[test]
fn bundled_model_generates_the_recorded_texts_at_t0_and_t05() {
    let bytes =
        std::fs::read(MODEL).unwrap_or_else(|e| panic!("models/nietzsche.blob is required: {e}"));
    let model = Model::<128, 64, 1>::from_bytes(&bytes).expect("the bundled model loads");
    let crc = format!("{:#010x}", model.crc());
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let mut fixture: KnownAnswers =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    assert_eq!(fixture.cases.len(), 2);
    assert_eq!(
        (fixture.cases[0].temperature, fixture.cases[1].temperature),
        (0.0, 0.5)
    );

    if std::env::var_os("CHARLSTM_REGENERATE").is_some_and(|v| v == "1") {
        fixture.model_crc32 = crc;
        for case in &mut fixture.cases {
            case.text = generate(&model, case);
        }
        let mut json = serde_json::to_string_pretty(&fixture).expect("serializable");
        json.push('\n');
        std::fs::write(FIXTURE, json).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
        eprintln!("rewrote {FIXTURE}");
        return;
    }

    assert_eq!(
        crc, fixture.model_crc32,
        "models/nietzsche.blob is not the model the texts were recorded with"
    );
    for case in &fixture.cases {
        assert_eq!(case.text.chars().count(), case.chars);
        assert_eq!(
            generate(&model, case),
            case.text,
            "prime {:?}, T = {}, seed {}",
            case.prime,
            case.temperature,
            case.seed
        );
    }
}
