//! The core against the plain f64 reference LSTM (tests/src/reference.rs) on random weights:
//! the float path within 1e-5 relative; the int8 path within the error bound that int8 weight
//! rounding and the fixed-point path's roundings (Q15 h, Q16.16 z, c and logits) imply, propagated step by step through the cell.

use charlstm_core::{Generator, Model, Quant, SamplerConfig};
use charlstm_tests::random_weights;
use charlstm_tests::reference::{RefTrace, Reference};
use charlstm_tests::test_meta as test_free_meta;
use charlstm_trainer::export::{FloatWeights, Mat, to_blob};

const VOCAB: &str = "abcdefghij klmnopq.,\n";
type M<'a> = Model<'a, 32, 32, 2>;

/// Character ids fed to both models: a fixed walk over the vocabulary.
fn inputs(v: usize, n: usize) -> Vec<usize> {
    (0..n).map(|t| (t * 7 + t / 3) % v).collect()
}

fn core_logits(blob: &[u8], xs: &[usize]) -> Vec<Vec<f32>> {
    let model = M::from_bytes(blob).expect("valid blob");
    let mut g = Generator::new(&model, SamplerConfig::temperature(1.0), 0).unwrap();
    let mut out = vec![g.logits().to_vec()];
    for &x in xs {
        g.step(model.token_from_id(x).unwrap());
        out.push(g.logits().to_vec());
    }
    out
}

#[test]
fn float_path_matches_f64_reference_within_1e5_relative() {
    for (hidden, layers, seed) in [(16, 1, 1), (24, 2, 2), (32, 1, 3)] {
        let w = random_weights(VOCAB, hidden, layers, seed);
        let blob = to_blob(&w, &test_free_meta(), Quant::F32);
        let xs = inputs(w.b_out.len(), 40);
        let got = core_logits(&blob, &xs);
        let mut reference = Reference::new(&w);
        let mut worst = 0.0f64;
        for (t, logits) in got.iter().enumerate() {
            if t > 0 {
                reference.step(xs[t - 1]);
            }
            for (a, b) in logits.iter().zip(reference.logits()) {
                let rel = (*a as f64 - b).abs() / b.abs().max(1.0);
                worst = worst.max(rel);
            }
        }
        assert!(
            worst < 1e-5,
            "H={hidden} L={layers}: float path relative error {worst:e}"
        );
    }
}

/// Half a quantization step of each row: max|row| / 127 / 2.
fn row_half_steps(m: &Mat) -> Vec<f64> {
    m.data
        .chunks(m.cols)
        .map(|row| row.iter().fold(0.0f64, |a, &w| a.max(w.abs() as f64)) / 127.0 / 2.0)
        .collect()
}

/// Half a step of Q15 (h) and of Q16.16 (z, c, logits): the int8 path's rounding errors
/// (docs/int8-arithmetic.md).
const Q15_HALF_STEP: f64 = 1.0 / 65536.0;
const Q16_HALF_STEP: f64 = 1.0 / 131072.0;

/// Bound on |W'x' - Wx| for row r: W' has per-row rounding `dw`, x' = x ± ex, then the
/// device rounds x' to i16 with half-step `qx`.
fn matvec_error(m: &Mat, r: usize, dw: f64, x: &[f64], ex: &[f64], qx: f64) -> f64 {
    (0..m.cols)
        .map(|k| {
            let w = m.data[r * m.cols + k].abs() as f64;
            dw * x[k].abs() + (w + dw) * (ex[k] + qx)
        })
        .sum()
}

/// Propagates error bounds (eh, ec per layer) through one step; returns the new bounds.
fn propagate(w: &FloatWeights, trace: &RefTrace, eh: &mut [Vec<f64>], ec: &mut [Vec<f64>]) {
    let h = w.hidden;
    for (l, layer) in w.layers.iter().enumerate() {
        let (dih, dhh) = (row_half_steps(&layer.w_ih), row_half_steps(&layer.w_hh));
        let h_prev = &trace.h_prev[l];
        let eh_prev = eh[l].clone();
        let qh = Q15_HALF_STEP;
        let x_err: Option<(Vec<f64>, f64)> = trace.inputs[l].as_ref().map(|_| {
            let ex = eh[l - 1].clone();
            let qx = Q15_HALF_STEP;
            (ex, qx)
        });
        for k in 0..h {
            let g = trace.gates[l][k];
            let dz: [f64; 4] = std::array::from_fn(|j| {
                let r = j * h + k;
                let from_x = match (&trace.inputs[l], &x_err) {
                    (Some(xs), Some((ex, qx))) => matvec_error(&layer.w_ih, r, dih[r], xs, ex, *qx),
                    _ => dih[r] + Q16_HALF_STEP,
                };
                let from_h = matvec_error(&layer.w_hh, r, dhh[r], h_prev, &eh_prev, qh);
                from_x + from_h + 3.0 * Q16_HALF_STEP // the bias's and the two terms' rounding
            });
            // + the int8 path's activation table error (core/src/fixed.rs, tested there).
            let (ts, tt) = (4.3e-5, 8.6e-5);
            let (di, df, dg, d_o) = (
                0.25 * dz[0] + ts,
                0.25 * dz[1] + ts,
                dz[2] + tt,
                0.25 * dz[3] + ts,
            );
            let c_prev = trace.c_prev[l][k];
            let dc = g[1] * ec[l][k]
                + (c_prev.abs() + ec[l][k]) * df
                + g[2].abs() * di
                + (g[0] + di) * dg;
            let c = g[1] * c_prev + g[0] * g[2];
            ec[l][k] = dc + Q16_HALF_STEP;
            eh[l][k] = g[3] * (dc + tt) + d_o * (c.tanh().abs() + dc).min(1.0) + Q15_HALF_STEP;
        }
    }
}

#[test]
fn int8_path_stays_within_the_rounding_bound() {
    for (hidden, layers, seed) in [(16, 1, 11), (24, 2, 12), (32, 1, 13)] {
        let w = random_weights(VOCAB, hidden, layers, seed);
        let blob = to_blob(&w, &test_free_meta(), Quant::I8RowScaled);
        let xs = inputs(w.b_out.len(), 8);
        let got = core_logits(&blob, &xs);
        let mut reference = Reference::new(&w);
        let mut eh = vec![vec![0.0; hidden]; layers];
        let mut ec = eh.clone();
        let dout = row_half_steps(&w.w_out);
        let mut tightest = f64::INFINITY;
        for (t, logits) in got.iter().enumerate() {
            if t > 0 {
                let trace = reference.step(xs[t - 1]);
                propagate(&w, &trace, &mut eh, &mut ec);
            }
            let top = reference.state.h.last().unwrap().clone();
            let eh_top = eh.last().unwrap();
            let q_top = Q15_HALF_STEP;
            for (v, (a, b)) in logits.iter().zip(reference.logits()).enumerate() {
                let bound =
                    matvec_error(&w.w_out, v, dout[v], &top, eh_top, q_top) + 2.0 * Q16_HALF_STEP;
                let err = (*a as f64 - b).abs();
                assert!(
                    err <= bound,
                    "H={hidden} L={layers} step {t} logit {v}: error {err:e} > bound {bound:e}"
                );
                tightest = tightest.min(bound / err.max(1e-12));
            }
            // The bound must stay meaningful (well below the logits' own spread).
            let bound_max = (0..logits.len())
                .map(|v| matvec_error(&w.w_out, v, dout[v], &top, eh_top, q_top))
                .fold(0.0, f64::max);
            // Worst-case bounds grow each step; stop once one could no longer catch a bug
            // (an error of order 1), but only after a few steps were checked.
            if bound_max >= 1.0 {
                assert!(
                    t >= 2,
                    "H={hidden} L={layers}: bound {bound_max} too loose at step {t}"
                );
                break;
            }
        }
        assert!(tightest.is_finite());
    }
}

#[test]
fn int8_and_float_blobs_generate_the_same_text_at_low_temperature_mostly() {
    // A sanity check that int8 is the same model: argmax paths agree on most steps.
    let w = random_weights(VOCAB, 32, 1, 5);
    let f = to_blob(&w, &test_free_meta(), Quant::F32);
    let q = to_blob(&w, &test_free_meta(), Quant::I8RowScaled);
    let xs = inputs(w.b_out.len(), 50);
    let (lf, lq) = (core_logits(&f, &xs), core_logits(&q, &xs));
    let argmax = |v: &Vec<f32>| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    let agree = lf
        .iter()
        .zip(&lq)
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
    assert!(
        agree * 10 >= lf.len() * 9,
        "argmax agrees on only {agree} of {} steps",
        lf.len()
    );
}
