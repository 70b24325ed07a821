//! The network's ops, each an adjacent `_forward` / `_backward` pair with the same argument
//! order (as llm.c's train_gpt2.c). Backward ADDS (+=) into every `d*` buffer, so gradients
//! sum over time steps and shards for free and zeroing is an explicit call.
//!
//! Legend: V = vocab size, H = hidden size, T = time steps of a window, B = streams (batch
//! rows of a shard), N = rows of a 2-D activation (T × B, row `t * B + b`).
//! Then [`forward`] / [`backward`] run the whole network over a window: L LSTM layers over T
//! steps (the recurrent product per step, everything else as one big product over all steps),
//! then the dense softmax output.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};

use crate::corpus::Tok;
use crate::model::{Params, Real};

/// Sets every element to zero: one memset when the view is contiguous (ndarray's `fill` goes
/// element by element).
#[inline(always)]
fn zero<F: Real>(mut a: ArrayViewMut2<F>) {
    match a.as_slice_mut() {
        Some(s) => s.fill(F::zero()),
        None => a.fill(F::zero()),
    }
}

// ---------------------------------------------------------------------------
// One-hot input: a column lookup of w_ih instead of a V-wide product

/// `out[r, :] += w_t[tokens[r], :]`. out (N, 4H); w_t (V, 4H) is w_ih transposed, so each
/// lookup reads one contiguous row.
#[inline(always)]
pub fn embed_forward<F: Real>(mut out: ArrayViewMut2<F>, w_t: ArrayView2<F>, tokens: &[Tok]) {
    for (mut row, &tok) in out.rows_mut().into_iter().zip(tokens) {
        let o = row.as_slice_mut().expect("contiguous rows");
        let w = w_t.row(tok as usize);
        for (o, &w) in o.iter_mut().zip(w.as_slice().expect("contiguous rows")) {
            *o += w;
        }
    }
}

/// Backward of [`embed_forward`]: `dw_t[tokens[r], :] += dout[r, :]`.
#[inline(always)]
pub fn embed_backward<F: Real>(mut dw_t: ArrayViewMut2<F>, dout: ArrayView2<F>, tokens: &[Tok]) {
    for (row, &tok) in dout.rows().into_iter().zip(tokens) {
        let mut d = dw_t.row_mut(tok as usize);
        let d = d.as_slice_mut().expect("contiguous rows");
        for (d, &g) in d.iter_mut().zip(row.as_slice().expect("contiguous rows")) {
            *d += g;
        }
    }
}

// ---------------------------------------------------------------------------
// Dense product and bias

/// `out += inp · wᵀ`. out (N, M), inp (N, K), w (M, K) (row-major weights as core stores them).
pub fn matmul_forward<F: Real>(out: ArrayViewMut2<F>, inp: ArrayView2<F>, w: ArrayView2<F>) {
    F::matmul_add(out, inp, w.t());
}

/// Backward of [`matmul_forward`]: `dinp += dout · w`, `dw += doutᵀ · inp` (either may be
/// skipped: the recurrent product's `dw` is summed once over all steps).
pub fn matmul_backward<F: Real>(
    dinp: Option<ArrayViewMut2<F>>,
    dw: Option<ArrayViewMut2<F>>,
    dout: ArrayView2<F>,
    inp: ArrayView2<F>,
    w: ArrayView2<F>,
) {
    if let Some(dinp) = dinp {
        F::matmul_add(dinp, dout, w);
    }
    // The weight gradients are large products over all steps (K = T·B): matrixmultiply's
    // kernel is the faster one there.
    if let Some(mut dw) = dw {
        general_mat_mul(F::one(), &dout.t(), &inp, F::one(), &mut dw);
    }
}

/// `out[r, :] = b` (the bias starts each pre-activation, so no separate zeroing pass).
/// out (N, M), b (M).
#[inline(always)]
pub fn bias_forward<F: Real>(mut out: ArrayViewMut2<F>, b: ndarray::ArrayView1<F>) {
    let b = b.as_slice().expect("contiguous");
    for mut row in out.rows_mut() {
        row.as_slice_mut()
            .expect("contiguous rows")
            .copy_from_slice(b);
    }
}

/// Backward of [`bias_forward`]: `db += Σ_r dout[r, :]`.
#[inline(always)]
pub fn bias_backward<F: Real>(mut db: ndarray::ArrayViewMut1<F>, dout: ArrayView2<F>) {
    let db = db.as_slice_mut().expect("contiguous");
    for row in dout.rows() {
        for (d, &g) in db.iter_mut().zip(row.as_slice().expect("contiguous rows")) {
            *d += g;
        }
    }
}

// ---------------------------------------------------------------------------
// LSTM cell (the same equations as charlstm-core's `lstm::cell`)

/// One step for B rows. `gates` (B, 4H) holds the pre-activations z = W_ih x + W_hh h + b on
/// entry and the activations i | f | g | o on exit (kept for backward).
/// `c = f * c_prev + i * g`, `tanh_c = tanh(c)`, `h = o * tanh_c`; c_prev, c, tanh_c, h (B, H).
#[inline(always)]
pub fn lstm_cell_forward<F: Real>(
    mut gates: ArrayViewMut2<F>,
    c_prev: ArrayView2<F>,
    mut c: ArrayViewMut2<F>,
    mut tanh_c: ArrayViewMut2<F>,
    mut h: ArrayViewMut2<F>,
) {
    let hid = c.ncols();
    for r in 0..gates.nrows() {
        let g = gates.row_mut(r).into_slice().expect("contiguous rows");
        let (ifg, o) = g.split_at_mut(3 * hid);
        let (if_, gg) = ifg.split_at_mut(2 * hid);
        let (i, f) = if_.split_at_mut(hid);
        F::sigmoid_in_place(i);
        F::sigmoid_in_place(f);
        F::tanh_in_place(gg);
        F::sigmoid_in_place(o);
        let cp = c_prev.row(r);
        let cr = c.row_mut(r).into_slice().expect("contiguous rows");
        let tc = tanh_c.row_mut(r).into_slice().expect("contiguous rows");
        let hr = h.row_mut(r).into_slice().expect("contiguous rows");
        cell_forward_row(
            i,
            f,
            gg,
            o,
            cp.as_slice().expect("contiguous rows"),
            cr,
            tc,
            hr,
        );
    }
}

/// The state update of [`lstm_cell_forward`] for one row (slices as arguments, so the
/// compiler knows they do not alias and vectorizes).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_forward_row<F: Real>(
    i: &[F],
    f: &[F],
    gg: &[F],
    o: &[F],
    cp: &[F],
    c: &mut [F],
    tc: &mut [F],
    h: &mut [F],
) {
    let n = c.len();
    let (i, f, gg, o, cp) = (&i[..n], &f[..n], &gg[..n], &o[..n], &cp[..n]);
    for k in 0..n {
        c[k] = f[k] * cp[k] + i[k] * gg[k];
    }
    tc.copy_from_slice(c);
    F::tanh_in_place(tc);
    let (tc, h) = (&tc[..n], &mut h[..n]);
    for k in 0..n {
        h[k] = o[k] * tc[k];
    }
}

/// Backward of [`lstm_cell_forward`]. `dgates` (B, 4H) receives the pre-activation gradients,
/// `dc_prev` (B, H) the gradient of c_prev; `dh`, `dc` (B, H) are the incoming gradients of
/// h and c. Both outputs are added into.
#[allow(clippy::too_many_arguments)] // the forward's arguments, each with its gradient
#[inline(always)]
pub fn lstm_cell_backward<F: Real>(
    mut dgates: ArrayViewMut2<F>,
    mut dc_prev: ArrayViewMut2<F>,
    dh: ArrayView2<F>,
    dc: ArrayView2<F>,
    gates: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    tanh_c: ArrayView2<F>,
) {
    let n = c_prev.ncols();
    for r in 0..gates.nrows() {
        let g = gates.row(r);
        let g = g.as_slice().expect("contiguous rows");
        let dg = dgates.row_mut(r).into_slice().expect("contiguous rows");
        let (dgi, rest) = dg.split_at_mut(n);
        let (dgf, rest) = rest.split_at_mut(n);
        let (dgg, dgo) = rest.split_at_mut(n);
        let (dgg, dgo) = (&mut dgg[..n], &mut dgo[..n]);
        let dcp = &mut dc_prev.row_mut(r).into_slice().expect("contiguous rows")[..n];
        let (dh, dc, cp, tc) = (dh.row(r), dc.row(r), c_prev.row(r), tanh_c.row(r));
        let (dh, dc) = (&dh.as_slice().unwrap()[..n], &dc.as_slice().unwrap()[..n]);
        let (cp, tc) = (&cp.as_slice().unwrap()[..n], &tc.as_slice().unwrap()[..n]);
        cell_backward_row(dgi, dgf, dgg, dgo, dcp, g, dh, dc, cp, tc);
    }
}

/// The element-wise body of [`lstm_cell_backward`] for one row, in blocks of 8: each block
/// loads every input into a local array, computes, then stores, so the compiler vectorizes
/// it without having to prove that the ten slices do not alias.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cell_backward_row<F: Real>(
    dgi: &mut [F],
    dgf: &mut [F],
    dgg: &mut [F],
    dgo: &mut [F],
    dcp: &mut [F],
    g: &[F],
    dh: &[F],
    dc: &[F],
    cp: &[F],
    tc: &[F],
) {
    const W: usize = 8;
    let n = dcp.len();
    let (gi, gf, gg, go) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n], &g[3 * n..4 * n]);
    let mut k = 0;
    while k < n {
        let w = W.min(n - k);
        // Fixed-size copies for full blocks (no memcpy call), a partial one at the end.
        let ld = |s: &[F]| -> [F; W] {
            let mut a = [F::zero(); W];
            if w == W {
                a = s[k..k + W].try_into().expect("W elements");
            } else {
                a[..w].copy_from_slice(&s[k..k + w]);
            }
            a
        };
        let st = |s: &mut [F], a: &[F; W]| {
            if w == W {
                <&mut [F; W]>::try_from(&mut s[k..k + W])
                    .expect("W elements")
                    .copy_from_slice(a);
            } else {
                s[k..k + w].copy_from_slice(&a[..w]);
            }
        };
        let (i, f, gk, o) = (ld(gi), ld(gf), ld(gg), ld(go));
        let (dh_, dc_, cp_, tc_) = (ld(dh), ld(dc), ld(cp), ld(tc));
        let (mut a, mut b, mut c, mut d, mut e) = (ld(dcp), ld(dgi), ld(dgf), ld(dgg), ld(dgo));
        let one = F::one();
        for j in 0..W {
            let d_o = dh_[j] * tc_[j];
            let dct = dc_[j] + dh_[j] * o[j] * (one - tc_[j] * tc_[j]);
            a[j] += dct * f[j];
            b[j] += dct * gk[j] * i[j] * (one - i[j]);
            c[j] += dct * cp_[j] * f[j] * (one - f[j]);
            d[j] += dct * i[j] * (one - gk[j] * gk[j]);
            e[j] += d_o * o[j] * (one - o[j]);
        }
        st(dcp, &a);
        st(dgi, &b);
        st(dgf, &c);
        st(dgg, &d);
        st(dgo, &e);
        k += w;
    }
}

// ---------------------------------------------------------------------------
// Dropout: of the output layer's input (Zaremba et al. 2014: on the non-recurrent connection
// only, so the carried state is never dropped), and of the recurrent weights (DropConnect, the
// same element-wise product on w_hh; see `Workspace::set_weight_drop`)

/// `out = inp × mask` element-wise; the mask holds 0 (dropped) or 1/(1-p) (kept: inverted
/// dropout, so inference needs no scaling). out, inp, mask (N, H).
#[inline(always)]
pub fn dropout_forward<F: Real>(
    mut out: ArrayViewMut2<F>,
    inp: ArrayView2<F>,
    mask: ArrayView2<F>,
) {
    ndarray::Zip::from(&mut out)
        .and(&inp)
        .and(&mask)
        .for_each(|o, &x, &m| *o = x * m);
}

/// Backward of [`dropout_forward`]: `dinp += dout × mask`.
#[inline(always)]
pub fn dropout_backward<F: Real>(
    mut dinp: ArrayViewMut2<F>,
    dout: ArrayView2<F>,
    mask: ArrayView2<F>,
) {
    ndarray::Zip::from(&mut dinp)
        .and(&dout)
        .and(&mask)
        .for_each(|d, &g, &m| *d += g * m);
}

// ---------------------------------------------------------------------------
// Softmax and cross-entropy (nats)

/// Turns `logits` (N, V) into probabilities in place; returns Σ_r -ln p[r, targets[r]].
#[inline(always)]
pub fn softmax_xent_forward<F: Real>(mut probs: ArrayViewMut2<F>, targets: &[Tok]) -> f64 {
    let mut loss = 0.0;
    for (mut row, &t) in probs.rows_mut().into_iter().zip(targets) {
        let z = row.as_slice_mut().expect("contiguous rows");
        let max = z.iter().copied().fold(F::neg_infinity(), F::max);
        z.iter_mut().for_each(|v| *v -= max);
        // -ln p_t = ln Σ_j e^(z_j - max) - (z_t - max), from the logit so p_t = 0 cannot
        // give inf.
        let zt = z[t as usize];
        F::exp_in_place(z);
        let sum = z.iter().fold(F::zero(), |s, &v| s + v);
        loss += sum.as_f64().ln() - zt.as_f64();
        let inv = sum.recip();
        for v in z.iter_mut() {
            *v *= inv;
        }
    }
    loss
}

/// Backward of [`softmax_xent_forward`] for the loss scaled by `scale` (1 / predicted chars):
/// `dlogits += scale × (p - onehot(target))`.
#[inline(always)]
pub fn softmax_xent_backward<F: Real>(
    mut dlogits: ArrayViewMut2<F>,
    probs: ArrayView2<F>,
    targets: &[Tok],
    scale: F,
) {
    for ((mut d, p), &t) in dlogits
        .rows_mut()
        .into_iter()
        .zip(probs.rows())
        .zip(targets)
    {
        d.scaled_add(scale, &p);
        d[t as usize] -= scale;
    }
}

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
    h_drop: Array2<F>,         // (predicted rows, H): the top h after dropout
    dh_drop: Array2<F>,        // (predicted rows, H)
    weight_drop: bool,         // whether `w_hh_mask` applies to the recurrent weights
    w_hh_mask: Vec<Array2<F>>, // per layer (4H, H): 0 or 1/(1-p)
    w_hh_drop: Vec<Array2<F>>, // per layer (4H, H): w_hh after the mask
    dw_hh_drop: Array2<F>,     // (4H, H): the gradient of the masked w_hh
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
            h_drop: z(0, hid),
            dh_drop: z(0, hid),
            weight_drop: false,
            w_hh_mask: Vec::new(),
            w_hh_drop: Vec::new(),
            dw_hh_drop: z(0, hid),
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
            let hid = self.dc_next.ncols(); // w_hh is (4H, H) in every layer
            let z = Array2::zeros((4 * hid, hid));
            self.w_hh_mask = vec![z.clone(); self.gates.len()];
            self.w_hh_drop = self.w_hh_mask.clone();
            self.dw_hh_drop = z;
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
        let rows = self.probs.nrows();
        if self.mask.nrows() != rows {
            let hid = self.mask.ncols();
            self.mask = Array2::zeros((rows, hid));
            self.h_drop = Array2::zeros((rows, hid));
            self.dh_drop = Array2::zeros((rows, hid));
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

/// Fills an inverted-dropout mask: each element 1/(1-p) with probability 1 - p, else 0.
fn fill_mask<F: Real>(mut mask: ArrayViewMut2<F>, p: f64, rng: &mut impl rand_core::Rng) {
    let keep = F::from_f64(1.0 / (1.0 - p));
    // The top 24 bits of a u32 against p: a uniform draw in [0, 1) without a division.
    let threshold = (p * (1u32 << 24) as f64) as u32;
    for m in mask.iter_mut() {
        *m = if rng.next_u32() >> 8 >= threshold {
            keep
        } else {
            F::zero()
        };
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
        let (below, rest) = ws.h.split_at_mut(l);
        let h = &mut rest[0];
        let c = &mut ws.c[l];
        let gates = &mut ws.gates[l];
        h.slice_mut(s![..b, ..]).assign(&state.h[l]);
        c.slice_mut(s![..b, ..]).assign(&state.c[l]);
        let w_hh = if ws.weight_drop {
            let w = &mut ws.w_hh_drop[l];
            dropout_forward(w.view_mut(), layer.w_hh.view(), ws.w_hh_mask[l].view());
            w.view()
        } else {
            layer.w_hh.view()
        };
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
    let mut out_in = top.slice(s![out_rows, ..]);
    if ws.dropout {
        dropout_forward(ws.h_drop.view_mut(), out_in, ws.mask.view());
        out_in = ws.h_drop.view();
    }
    bias_forward(ws.probs.view_mut(), p.b_out.view());
    matmul_forward(ws.probs.view_mut(), out_in, p.w_out.view());
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
    let top = &ws.h[n_layers - 1];
    let dh_rows = s![out_rows.start - b..out_rows.end - b, ..]; // dh row r is h row r + B
    if ws.dropout {
        zero(ws.dh_drop.view_mut());
        matmul_backward(
            Some(ws.dh_drop.view_mut()),
            Some(g.w_out.view_mut()),
            ws.dlogits.view(),
            ws.h_drop.view(),
            p.w_out.view(),
        );
        dropout_backward(ws.dh.slice_mut(dh_rows), ws.dh_drop.view(), ws.mask.view());
    } else {
        matmul_backward(
            Some(ws.dh.slice_mut(dh_rows)),
            Some(g.w_out.view_mut()),
            ws.dlogits.view(),
            top.slice(s![out_rows, ..]),
            p.w_out.view(),
        );
    }

    for l in (0..n_layers).rev() {
        let (layer, dlayer) = (&p.layers[l], &mut g.layers[l]);
        let w_hh = match ws.weight_drop {
            true => ws.w_hh_drop[l].view(),
            false => layer.w_hh.view(),
        };
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
        // Under weight drop the product's gradient is the masked matrix's; the mask routes it.
        let dw_hh = if ws.weight_drop {
            zero(ws.dw_hh_drop.view_mut());
            ws.dw_hh_drop.view_mut()
        } else {
            dlayer.w_hh.view_mut()
        };
        matmul_backward(None, Some(dw_hh), ws.dgates.view(), h_prev, w_hh);
        if ws.weight_drop {
            dropout_backward(
                dlayer.w_hh.view_mut(),
                ws.dw_hh_drop.view(),
                ws.w_hh_mask[l].view(),
            );
        }
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
