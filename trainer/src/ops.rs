//! The network's ops, each an adjacent `_forward` / `_backward` pair with the same argument
//! order (as llm.c's train_gpt2.c). Backward ADDS (+=) into every `d*` buffer, so gradients
//! sum over time steps and shards for free and zeroing is an explicit call. `network` chains
//! them over a window.
//!
//! Legend: V = vocab size, H = hidden size, B = rows of one time step (streams), N = rows of a
//! 2-D activation (T × B over a window, row `t * B + b`).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::corpus::Tok;
use crate::model::Real;

/// Sets every element to zero: one memset when the view is contiguous (ndarray's `fill` goes
/// element by element).
#[inline(always)]
pub fn zero<F: Real>(mut a: ArrayViewMut2<F>) {
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
// only, so the carried state is never dropped), and of the recurrent weights (DropConnect,
// Merity et al.'s weight drop: the same product on w_hh, once per window). Without a mask the
// pair is a copy and an add, so the network runs the same code either way.

/// `out = inp × mask` element-wise, or `out = inp` without a mask; the mask holds 0 (dropped)
/// or 1/(1-p) (kept: inverted dropout, so inference needs no scaling). out, inp, mask (N, H)
/// for the output's input, (4H, H) for w_hh.
#[inline(always)]
pub fn dropout_forward<F: Real>(
    mut out: ArrayViewMut2<F>,
    inp: ArrayView2<F>,
    mask: Option<ArrayView2<F>>,
) {
    match mask {
        Some(mask) => ndarray::Zip::from(&mut out)
            .and(&inp)
            .and(&mask)
            .for_each(|o, &x, &m| *o = x * m),
        None => out.assign(&inp),
    }
}

/// Backward of [`dropout_forward`]: `dinp += dout × mask`, or `dinp += dout`.
#[inline(always)]
pub fn dropout_backward<F: Real>(
    mut dinp: ArrayViewMut2<F>,
    dout: ArrayView2<F>,
    mask: Option<ArrayView2<F>>,
) {
    match mask {
        Some(mask) => ndarray::Zip::from(&mut dinp)
            .and(&dout)
            .and(&mask)
            .for_each(|d, &g, &m| *d += g * m),
        None => dinp += &dout,
    }
}

/// Fills an inverted-dropout mask: each element 1/(1-p) with probability 1 - p, else 0.
pub fn fill_mask<F: Real>(mut mask: ArrayViewMut2<F>, p: f64, rng: &mut impl rand_core::Rng) {
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
