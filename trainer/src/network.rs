//! The network over one window, chaining the ops of `ops`: L LSTM layers over T steps (the
//! recurrent product per step, everything else as one big product over all steps), then the
//! dense softmax output; [`forward`] then [`backward`], and the [`Workspace`] that keeps what
//! backward needs.
//!
//! Legend: V = vocab size, H = hidden size, T = time steps of a window, B = streams (batch
//! rows of a shard), N = rows of a 2-D activation (T × B, row `t * B + b`).

use ndarray::{Array2, ArrayView2, Axis, s};

use crate::corpus::Tok;
use crate::model::{Params, Real};
use crate::ops::{
    bias_backward, bias_forward, dropout_backward, dropout_forward, embed_backward, embed_forward,
    fill_mask, lstm_cell_backward, lstm_cell_forward, matmul_backward, matmul_forward,
    softmax_xent_backward, softmax_xent_forward, zero,
};

// ---------------------------------------------------------------------------
// One window

/// Forward then backward over one window ([`forward`], [`backward`]). Returns the summed
/// loss. (Host builds target the native CPU, see .cargo/config.toml, so the element-wise
/// loops run as wide as the CPU allows; the products go through matrixmultiply.)
#[allow(clippy::too_many_arguments)] // forward's and backward's arguments
pub fn train_window<F: Real>(
    g: &mut Params<F>,
    p: &Params<F>,
    ws: &mut Workspace<F>,
    state: &mut State<F>,
    inputs: &[Tok],
    targets: &[Tok],
    predict: Predict,
    scale: F,
) -> f64 {
    let loss = forward(p, ws, state, inputs, targets, predict);
    backward(g, p, ws, inputs, targets, predict, scale);
    loss
}

/// [`forward`] only (evaluation).
pub fn eval_window<F: Real>(
    p: &Params<F>,
    ws: &mut Workspace<F>,
    state: &mut State<F>,
    inputs: &[Tok],
    targets: &[Tok],
) -> f64 {
    forward(p, ws, state, inputs, targets, Predict::All)
}

// ---------------------------------------------------------------------------
// The whole network over a window of T steps for B streams

/// Which positions of a window are predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predict {
    /// Every step (char-rnn TBPTT, evaluation): targets (T × B).
    All,
    /// The last step only (the Keras recipe): targets (B).
    Last,
}

/// The recurrent state of B streams: h and c per layer, each (B, H).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State<F> {
    pub h: Vec<Array2<F>>,
    pub c: Vec<Array2<F>>,
}

impl<F: Real> State<F> {
    pub fn zeros(layers: usize, b: usize, hidden: usize) -> Self {
        State {
            h: vec![Array2::zeros((b, hidden)); layers],
            c: vec![Array2::zeros((b, hidden)); layers],
        }
    }

    pub fn reset(&mut self) {
        self.h.iter_mut().for_each(|a| a.fill(F::zero()));
        self.c.iter_mut().for_each(|a| a.fill(F::zero()));
    }
}

/// Activations kept by the forward pass for the backward pass, and backward scratch.
/// Allocated once per (T, B) and reused every step.
#[derive(Debug)]
pub struct Workspace<F> {
    t: usize,
    b: usize,
    gates: Vec<Array2<F>>,     // per layer (T·B, 4H): activated i | f | g | o
    c: Vec<Array2<F>>,         // per layer ((T+1)·B, H): rows 0..B hold the initial state
    h: Vec<Array2<F>>,         // per layer ((T+1)·B, H)
    tanh_c: Vec<Array2<F>>,    // per layer (T·B, H)
    probs: Array2<F>,          // (predicted rows, V)
    dlogits: Array2<F>,        // (predicted rows, V)
    dgates: Array2<F>,         // (T·B, 4H)
    dh: Array2<F>,             // (T·B, H): gradient reaching h_1..h_T of the current layer
    dh_below: Array2<F>,       // (T·B, H)
    dc_next: Array2<F>,        // (B, H)
    dc_prev: Array2<F>,        // (B, H)
    w_ih_t: Array2<F>,         // (V, 4H): layer 0's w_ih transposed, then its gradient
    dropout: bool,             // whether `mask` applies to the output's input
    mask: Array2<F>,           // (predicted rows, H): 0 or 1/(1-p)
    h_drop: Array2<F>, // (predicted rows, H): the output's input, the top h masked or copied
    dh_drop: Array2<F>, // (predicted rows, H)
    weight_drop: bool, // whether `w_hh_mask` applies to the recurrent weights
    w_hh_mask: Vec<Array2<F>>, // per layer (4H, H): 0 or 1/(1-p)
    w_hh: Vec<Array2<F>>, // per layer (4H, H): the window's w_hh (masked, or a copy)
    dw_hh: Array2<F>,  // (4H, H): the gradient of the window's w_hh
}

impl<F: Real> Workspace<F> {
    pub fn new(p: &Params<F>, t: usize, b: usize, predict: Predict) -> Self {
        let (v, hid, l) = (p.vocab(), p.hidden(), p.layers.len());
        let rows = match predict {
            Predict::All => t * b,
            Predict::Last => b,
        };
        let z = |r, c| Array2::zeros((r, c));
        Workspace {
            t,
            b,
            gates: vec![z(t * b, 4 * hid); l],
            c: vec![z((t + 1) * b, hid); l],
            h: vec![z((t + 1) * b, hid); l],
            tanh_c: vec![z(t * b, hid); l],
            probs: z(rows, v),
            dlogits: z(rows, v),
            dgates: z(t * b, 4 * hid),
            dh: z(t * b, hid),
            dh_below: z(t * b, hid),
            dc_next: z(b, hid),
            dc_prev: z(b, hid),
            w_ih_t: z(v, 4 * hid),
            dropout: false,
            mask: z(0, hid),
            h_drop: z(rows, hid),
            dh_drop: z(rows, hid),
            weight_drop: false,
            w_hh_mask: Vec::new(),
            w_hh: vec![z(4 * hid, hid); l],
            dw_hh: z(4 * hid, hid),
        }
    }

    /// DropConnect of the recurrent weights for the next window (the weight drop of Merity et
    /// al.'s AWD-LSTM): each element of every layer's w_hh kept with probability 1 - p (scaled
    /// by 1/(1-p)), else zeroed, one mask for all steps and streams of the window, drawn from
    /// `rng`. It regularizes the recurrence without touching the carried state, and a device
    /// runs the plain weights. p = 0 turns it off.
    pub fn set_weight_drop(&mut self, p: f64, rng: &mut impl rand_core::Rng) {
        self.weight_drop = p > 0.0;
        if !self.weight_drop {
            return;
        }
        if self.w_hh_mask.is_empty() {
            self.w_hh_mask = self.w_hh.clone(); // (4H, H) in every layer
        }
        for mask in &mut self.w_hh_mask {
            fill_mask(mask.view_mut(), p, rng);
        }
    }

    /// Dropout of the output layer's input for the next window: each element kept with
    /// probability 1 - p (scaled by 1/(1-p)), else zeroed, drawn from `rng`. p = 0 turns it off
    /// (evaluation never drops).
    pub fn set_dropout(&mut self, p: f64, rng: &mut impl rand_core::Rng) {
        self.dropout = p > 0.0;
        if !self.dropout {
            return;
        }
        if self.mask.nrows() != self.h_drop.nrows() {
            self.mask = self.h_drop.clone(); // (predicted rows, H)
        }
        fill_mask(self.mask.view_mut(), p, rng);
    }

    /// The probabilities of the last [`forward`], one row per prediction.
    pub fn probs(&self) -> ArrayView2<'_, F> {
        self.probs.view()
    }

    /// Output rows: the top layer's h_1..h_T, or h_T only.
    fn out_rows(&self, predict: Predict) -> std::ops::Range<usize> {
        match predict {
            Predict::All => self.b..(self.t + 1) * self.b,
            Predict::Last => self.t * self.b..(self.t + 1) * self.b,
        }
    }
}

/// Runs the window: `inputs` (T × B tokens, row t·B + b), starting from `state`, which is
/// replaced by the final state. Returns the summed cross-entropy (nats) of `targets`.
#[inline(always)]
pub fn forward<F: Real>(
    p: &Params<F>,
    ws: &mut Workspace<F>,
    state: &mut State<F>,
    inputs: &[Tok],
    targets: &[Tok],
    predict: Predict,
) -> f64 {
    let (t_len, b) = (ws.t, ws.b);
    for (l, layer) in p.layers.iter().enumerate() {
        // The recurrent weights of this window, the same for all its steps.
        let mask = ws.weight_drop.then(|| ws.w_hh_mask[l].view());
        dropout_forward(ws.w_hh[l].view_mut(), layer.w_hh.view(), mask);
        let w_hh = ws.w_hh[l].view();
        let (below, rest) = ws.h.split_at_mut(l);
        let h = &mut rest[0];
        let c = &mut ws.c[l];
        let gates = &mut ws.gates[l];
        h.slice_mut(s![..b, ..]).assign(&state.h[l]);
        c.slice_mut(s![..b, ..]).assign(&state.c[l]);
        // The input and bias parts for all steps at once.
        bias_forward(gates.view_mut(), layer.b.view());
        match below.last() {
            None => {
                ws.w_ih_t.assign(&layer.w_ih.t());
                embed_forward(gates.view_mut(), ws.w_ih_t.view(), inputs);
            }
            Some(hb) => matmul_forward(gates.view_mut(), hb.slice(s![b.., ..]), layer.w_ih.view()),
        }
        for t in 0..t_len {
            let rows = s![t * b..(t + 1) * b, ..];
            let (h_prev, h_next) = h.view_mut().split_at(Axis(0), (t + 1) * b);
            let (c_prev, c_next) = c.view_mut().split_at(Axis(0), (t + 1) * b);
            let mut g = gates.slice_mut(rows);
            matmul_forward(g.view_mut(), h_prev.slice(rows), w_hh);
            lstm_cell_forward(
                g,
                c_prev.slice(rows),
                c_next.slice_move(s![..b, ..]),
                ws.tanh_c[l].slice_mut(rows),
                h_next.slice_move(s![..b, ..]),
            );
        }
        state.h[l].assign(&h.slice(s![t_len * b.., ..]));
        state.c[l].assign(&c.slice(s![t_len * b.., ..]));
    }
    let top = ws.h.last().expect("at least one layer");
    let out_rows = ws.out_rows(predict);
    let mask = ws.dropout.then(|| ws.mask.view());
    dropout_forward(ws.h_drop.view_mut(), top.slice(s![out_rows, ..]), mask);
    bias_forward(ws.probs.view_mut(), p.b_out.view());
    matmul_forward(ws.probs.view_mut(), ws.h_drop.view(), p.w_out.view());
    softmax_xent_forward(ws.probs.view_mut(), targets)
}

/// Backward of [`forward`] (which must have just run on the same workspace): adds the
/// gradient of `scale × loss` into `g`. BPTT stops at the window's initial state.
#[inline(always)]
pub fn backward<F: Real>(
    g: &mut Params<F>,
    p: &Params<F>,
    ws: &mut Workspace<F>,
    inputs: &[Tok],
    targets: &[Tok],
    predict: Predict,
    scale: F,
) {
    let (t_len, b) = (ws.t, ws.b);
    let out_rows = ws.out_rows(predict);
    let n_layers = p.layers.len();
    zero(ws.dlogits.view_mut());
    softmax_xent_backward(ws.dlogits.view_mut(), ws.probs.view(), targets, scale);
    bias_backward(g.b_out.view_mut(), ws.dlogits.view());
    zero(ws.dh.view_mut());
    let dh_rows = s![out_rows.start - b..out_rows.end - b, ..]; // dh row r is h row r + B
    zero(ws.dh_drop.view_mut());
    matmul_backward(
        Some(ws.dh_drop.view_mut()),
        Some(g.w_out.view_mut()),
        ws.dlogits.view(),
        ws.h_drop.view(),
        p.w_out.view(),
    );
    let mask = ws.dropout.then(|| ws.mask.view());
    dropout_backward(ws.dh.slice_mut(dh_rows), ws.dh_drop.view(), mask);

    for l in (0..n_layers).rev() {
        let (layer, dlayer) = (&p.layers[l], &mut g.layers[l]);
        let w_hh = ws.w_hh[l].view();
        zero(ws.dc_next.view_mut());
        for t in (0..t_len).rev() {
            let rows = s![t * b..(t + 1) * b, ..];
            // Zeroed block by block, just before use (while it is in cache).
            zero(ws.dgates.slice_mut(rows));
            zero(ws.dc_prev.view_mut());
            lstm_cell_backward(
                ws.dgates.slice_mut(rows),
                ws.dc_prev.view_mut(),
                ws.dh.slice(rows),
                ws.dc_next.view(),
                ws.gates[l].slice(rows),
                ws.c[l].slice(rows),
                ws.tanh_c[l].slice(rows),
            );
            std::mem::swap(&mut ws.dc_next, &mut ws.dc_prev);
            // The recurrent path: straight into dh of step t-1 (which holds what came from
            // above). At t = 0 it would reach the window's initial state, where BPTT stops.
            if t > 0 {
                matmul_backward(
                    Some(ws.dh.slice_mut(s![(t - 1) * b..t * b, ..])),
                    None,
                    ws.dgates.slice(rows),
                    ws.h[l].slice(rows),
                    w_hh,
                );
            }
        }
        // The parameter gradients of all steps at once.
        let h_prev = ws.h[l].slice(s![..t_len * b, ..]);
        // The gradient of the window's w_hh, routed to w_hh's through the mask if any.
        zero(ws.dw_hh.view_mut());
        matmul_backward(
            None,
            Some(ws.dw_hh.view_mut()),
            ws.dgates.view(),
            h_prev,
            w_hh,
        );
        let mask = ws.weight_drop.then(|| ws.w_hh_mask[l].view());
        dropout_backward(dlayer.w_hh.view_mut(), ws.dw_hh.view(), mask);
        if l == 0 {
            zero(ws.w_ih_t.view_mut()); // reused as dw_ih transposed
            embed_backward(ws.w_ih_t.view_mut(), ws.dgates.view(), inputs);
            dlayer.w_ih += &ws.w_ih_t.t();
            // Every row of dgates went to exactly one row of dw_ih transposed, so the bias
            // gradient (the sum of the rows) is the sum of its V rows: fewer than T·B.
            bias_backward(dlayer.b.view_mut(), ws.w_ih_t.view());
        } else {
            bias_backward(dlayer.b.view_mut(), ws.dgates.view());
            zero(ws.dh_below.view_mut());
            matmul_backward(
                Some(ws.dh_below.view_mut()),
                Some(dlayer.w_ih.view_mut()),
                ws.dgates.view(),
                ws.h[l - 1].slice(s![b.., ..]),
                layer.w_ih.view(),
            );
            std::mem::swap(&mut ws.dh, &mut ws.dh_below);
        }
    }
}
