//! A worst-case bound on the int8 path's error against the f64 reference LSTM
//! (reference.rs): int8 weight rounding (half a step of each row's scale) and i16 activation
//! rounding, propagated step by step through the cell, plus the activation tables' error and
//! the fixed-point roundings of docs/int8-arithmetic.md (h in Q15, z, c and logits in Q16.16).
//! tests/tests/core_vs_reference.rs holds core to it on random weights, for as long as it
//! stays below 1. Being a worst case it grows fast (on the golden model along its prime:
//! 0.06, 0.42, 3.5 in log p at the first three steps, where core's error stays below 0.013),
//! so the golden tolerance (tests/src/golden.rs) rests on its output-product part alone
//! ([`matvec_error`] with exact h, checked in tests/tests/golden_sampling.rs).

use crate::weights::{FloatWeights, Mat};

use crate::reference::{RefTrace, Reference};

/// Half a quantization step of each row: max|row| / 127 / 2.
pub fn row_half_steps(m: &Mat) -> Vec<f64> {
    m.data
        .chunks(m.cols)
        .map(|row| row.iter().fold(0.0f64, |a, &w| a.max(w.abs() as f64)) / 127.0 / 2.0)
        .collect()
}

pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, &x| a.max(x.abs()))
}

/// Bound on |W'x' - Wx| for row r: W' has per-row rounding `dw`, x' = x ± ex, then the
/// device rounds x' to i16 with half-step `qx`.
pub fn matvec_error(m: &Mat, r: usize, dw: f64, x: &[f64], ex: &[f64], qx: f64) -> f64 {
    (0..m.cols)
        .map(|k| {
            let w = m.data[r * m.cols + k].abs() as f64;
            dw * x[k].abs() + (w + dw) * (ex[k] + qx)
        })
        .sum()
}

/// Half a step of Q15: the rounding of h, which the matrices read (docs/int8-arithmetic.md §1).
pub const Q15_HALF_STEP: f64 = 1.0 / 65536.0;
/// Half a step of Q16.16: each rounding of a pre-activation term, of c and of a logit.
pub const Q16_HALF_STEP: f64 = 1.0 / 131072.0;
/// The activation tables' error against the true functions (docs/int8-arithmetic.md §7).
pub const SIGMOID_ERROR: f64 = 4.3e-5;
/// tanh = 2 sigmoid(2x) - 1 doubles it.
pub const TANH_ERROR: f64 = 8.6e-5;

/// Propagates error bounds (eh, ec per layer) through one step; returns the new bounds.
pub fn propagate(w: &FloatWeights, trace: &RefTrace, eh: &mut [Vec<f64>], ec: &mut [Vec<f64>]) {
    let h = w.hidden;
    for (l, layer) in w.layers.iter().enumerate() {
        let (dih, dhh) = (row_half_steps(&layer.w_ih), row_half_steps(&layer.w_hh));
        let h_prev = &trace.h_prev[l];
        let eh_prev = eh[l].clone();
        let qh = Q15_HALF_STEP;
        let x_err: Option<(Vec<f64>, f64)> = trace.inputs[l]
            .as_ref()
            .map(|_| (eh[l - 1].clone(), Q15_HALF_STEP));
        for k in 0..h {
            let g = trace.gates[l][k];
            let dz: [f64; 4] = std::array::from_fn(|j| {
                let r = j * h + k;
                let from_x = match (&trace.inputs[l], &x_err) {
                    (Some(xs), Some((ex, qx))) => matvec_error(&layer.w_ih, r, dih[r], xs, ex, *qx),
                    _ => dih[r], // the one-hot column: one weight's rounding
                };
                let from_h = matvec_error(&layer.w_hh, r, dhh[r], h_prev, &eh_prev, qh);
                from_x + from_h + 3.0 * Q16_HALF_STEP // the bias's and the two terms' rounding
            });
            let (ts, tt) = (SIGMOID_ERROR, TANH_ERROR);
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

/// The bound along a text: a reference LSTM and the error bounds of its state.
#[derive(Debug)]
pub struct Int8Bound<'w> {
    w: &'w FloatWeights,
    /// The f64 reference, advanced with the same characters.
    pub reference: Reference<'w>,
    eh: Vec<Vec<f64>>,
    ec: Vec<Vec<f64>>,
}

impl<'w> Int8Bound<'w> {
    /// At the zero state (no error yet).
    pub fn new(w: &'w FloatWeights) -> Self {
        let zeros = vec![vec![0.0; w.hidden]; w.layers.len()];
        Int8Bound {
            w,
            reference: Reference::new(w),
            eh: zeros.clone(),
            ec: zeros,
        }
    }

    /// Feeds character id `x` to the reference and propagates the bounds.
    pub fn step(&mut self, x: usize) {
        let trace = self.reference.step(x);
        propagate(self.w, &trace, &mut self.eh, &mut self.ec);
    }

    /// Bounds on |core's int8 logit - the reference's logit|, one per id, at this state.
    pub fn logit_bounds(&self) -> Vec<f64> {
        let w = self.w;
        let dout = row_half_steps(&w.w_out);
        let top = self.reference.state.h.last().expect("a layer");
        let eh_top = self.eh.last().expect("a layer");
        (0..w.b_out.len())
            .map(|v| {
                matvec_error(&w.w_out, v, dout[v], top, eh_top, Q15_HALF_STEP) + 2.0 * Q16_HALF_STEP
            })
            .collect()
    }
}
