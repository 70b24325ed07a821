//! A plain f64 reference LSTM, written from the equations (core/src/lstm.rs's legend), used
//! to check the core's float and int8 paths. Deliberately naive: loops over indices.

use crate::weights::{FloatWeights, Mat};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn at(m: &Mat, r: usize, c: usize) -> f64 {
    m.data[r * m.cols + c] as f64
}

/// The f64 state of every layer, plus the activations a bound needs.
#[derive(Debug, Clone)]
pub struct RefState {
    pub h: Vec<Vec<f64>>,
    pub c: Vec<Vec<f64>>,
}

/// What one step computed, per layer: the gates (i, f, g, o per unit) and the input vector.
#[derive(Debug, Clone)]
pub struct RefTrace {
    pub gates: Vec<Vec<[f64; 4]>>,
    pub c_prev: Vec<Vec<f64>>,
    pub inputs: Vec<Option<Vec<f64>>>, // None: the one-hot layer 0
    pub h_prev: Vec<Vec<f64>>,
}

/// The reference model.
#[derive(Debug, Clone)]
pub struct Reference<'w> {
    pub w: &'w FloatWeights,
    pub state: RefState,
}

impl<'w> Reference<'w> {
    pub fn new(w: &'w FloatWeights) -> Self {
        let zeros = vec![vec![0.0; w.hidden]; w.layers.len()];
        Reference {
            w,
            state: RefState {
                h: zeros.clone(),
                c: zeros,
            },
        }
    }

    /// logits = W_out h_top + b_out.
    pub fn logits(&self) -> Vec<f64> {
        let top = self.state.h.last().expect("at least one layer");
        (0..self.w.w_out.rows)
            .map(|v| {
                self.w.b_out[v] as f64
                    + (0..self.w.hidden)
                        .map(|k| at(&self.w.w_out, v, k) * top[k])
                        .sum::<f64>()
            })
            .collect()
    }

    /// One step on character id `x`.
    pub fn step(&mut self, x: usize) -> RefTrace {
        let h = self.w.hidden;
        let mut trace = RefTrace {
            gates: vec![],
            c_prev: vec![],
            inputs: vec![],
            h_prev: vec![],
        };
        for (l, layer) in self.w.layers.iter().enumerate() {
            let input = if l == 0 {
                None
            } else {
                Some(self.state.h[l - 1].clone())
            };
            let h_prev = self.state.h[l].clone();
            let c_prev = self.state.c[l].clone();
            let mut gates = vec![[0.0; 4]; h];
            for k in 0..h {
                let mut z = [0.0; 4];
                for (j, zj) in z.iter_mut().enumerate() {
                    let r = j * h + k;
                    let from_x = match &input {
                        None => at(&layer.w_ih, r, x),
                        Some(xs) => (0..h).map(|m| at(&layer.w_ih, r, m) * xs[m]).sum(),
                    };
                    let from_h: f64 = (0..h).map(|m| at(&layer.w_hh, r, m) * h_prev[m]).sum();
                    *zj = layer.b[r] as f64 + from_x + from_h;
                }
                let g = [sigmoid(z[0]), sigmoid(z[1]), z[2].tanh(), sigmoid(z[3])];
                gates[k] = g;
                self.state.c[l][k] = g[1] * c_prev[k] + g[0] * g[2];
                self.state.h[l][k] = g[3] * self.state.c[l][k].tanh();
            }
            trace.gates.push(gates);
            trace.c_prev.push(c_prev);
            trace.inputs.push(input);
            trace.h_prev.push(h_prev);
        }
        trace
    }
}
