//! Model parameters: an L-layer LSTM with a one-hot input and a dense softmax output, generic
//! over the float type (f32 to train, f64 for the finite-difference gradient check).
//!
//! V = vocab size, H = hidden size. Gate rows are ordered i | f | g | o with one bias per gate
//! row, the layout charlstm-core runs (docs/blob-format.md §5), so export is a copy.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use num_traits::Float;
use rand_core::Rng;
use serde::{Deserialize, Serialize};

use charlstm_core::TensorName;

/// The float types the trainer runs on: f32 (training) and f64 (gradient check).
pub trait Real:
    Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + Send
    + Sync
    + std::fmt::Debug
    + Serialize
    + for<'de> Deserialize<'de>
    + 'static
{
    fn from_f64(x: f64) -> Self;
    fn as_f64(self) -> f64;
    /// `x = 1 / (1 + e^-x)` element-wise.
    fn sigmoid_in_place(x: &mut [Self]);
    /// `x = tanh(x)` element-wise.
    fn tanh_in_place(x: &mut [Self]);
    /// `x = e^x` element-wise.
    fn exp_in_place(x: &mut [Self]);
    /// `out += a · b` (out (N, M), a (N, K), b (K, M)).
    fn matmul_add(out: ArrayViewMut2<Self>, a: ArrayView2<Self>, b: ArrayView2<Self>);
}

/// [`Real::matmul_add`] for f32 and f64: through faer when `out` and `a` are row-major
/// contiguous and `b` is row- or column-major contiguous (every product of a training step:
/// faer's small-matrix kernels beat matrixmultiply's, which repack `b` at every call, by about
/// 1.4x at the per-step shapes), else through ndarray's `general_mat_mul` (the reference; a
/// test holds the two equal).
macro_rules! matmul_add_impl {
    ($t:ty) => {
        fn matmul_add(mut out: ArrayViewMut2<$t>, a: ArrayView2<$t>, b: ArrayView2<$t>) {
            let ((n, k), m) = (a.dim(), b.ncols());
            let (bt, b_t) = (b.t(), b.t().as_slice().is_some());
            match (
                out.as_slice_mut(),
                a.as_slice(),
                b.as_slice(),
                bt.as_slice(),
            ) {
                (Some(o), Some(a), b_rows, b_cols) if b_rows.is_some() || b_t => {
                    let a = faer::MatRef::from_row_major_slice(a, n, k);
                    let b = match (b_rows, b_cols) {
                        (Some(b), _) => faer::MatRef::from_row_major_slice(b, k, m),
                        (None, Some(b)) => faer::MatRef::from_column_major_slice(b, k, m),
                        (None, None) => unreachable!("checked by the guard"),
                    };
                    let o = faer::MatMut::from_row_major_slice_mut(o, n, m);
                    faer::linalg::matmul::matmul(o, faer::Accum::Add, a, b, 1.0, faer::Par::Seq);
                }
                _ => general_mat_mul(1.0, &a, &b, 1.0, &mut out),
            }
        }
    };
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn sigmoid_in_place(x: &mut [f32]) {
        for v in x {
            *v = 1.0 / (1.0 + exp_fast(-*v));
        }
    }
    #[inline(always)]
    fn tanh_in_place(x: &mut [f32]) {
        // tanh x = 2 sigmoid(2x) - 1: absolute error ~1e-7, plenty for training.
        for v in x {
            *v = 2.0 / (1.0 + exp_fast(-2.0 * *v)) - 1.0;
        }
    }
    #[inline(always)]
    fn exp_in_place(x: &mut [f32]) {
        for v in x {
            *v = exp_fast(*v);
        }
    }
    matmul_add_impl!(f32);
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn sigmoid_in_place(x: &mut [f64]) {
        for v in x {
            *v = 1.0 / (1.0 + (-*v).exp());
        }
    }
    fn tanh_in_place(x: &mut [f64]) {
        for v in x {
            *v = v.tanh();
        }
    }
    fn exp_in_place(x: &mut [f64]) {
        for v in x {
            *v = v.exp();
        }
    }
    matmul_add_impl!(f64);
}

/// e^x for f32, branch-free so loops over slices vectorize (std's `exp` is a libm call per
/// element, which made the gates a third of a training step). Cephes `expf`: x = n ln2 + r,
/// a degree-6 polynomial for e^r, then 2^n through the exponent bits. Relative error < 2e-7
/// on the clamped range [-87, 88]; tested against `f32::exp`.
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 × 2^23: adding it rounds to an integer
    #[allow(clippy::manual_clamp)] // max/min, not clamp: no NaN branch, so it vectorizes
    let x = x.max(-87.0).min(88.0);
    // k = MAGIC + n exactly, so k's bit pattern is 0x4B40_0000 + n (|n| <= 127 < 2^22).
    let k = fma(x, std::f32::consts::LOG2_E, MAGIC);
    let n = k - MAGIC;
    let r = fma(n, -0.693_359_4, x);
    let r = fma(n, 2.121_944_4e-4, r);
    let mut p = 1.987_569_1e-4_f32;
    p = fma(p, r, 1.398_199_9e-3);
    p = fma(p, r, 8.333_452e-3);
    p = fma(p, r, 4.166_579_6e-2);
    p = fma(p, r, 0.166_666_65);
    p = fma(p, r, 0.5);
    let e = fma(p, r * r, r + 1.0);
    // 2^n: n + 127 in the exponent field, taken from k's bits with integer arithmetic (no
    // float-to-int conversion, whose saturation checks would stop the vectorizer).
    e * f32::from_bits(k.to_bits().wrapping_sub(0x4B40_0000 - 127) << 23)
}

/// `a × b + c`, fused into one instruction where the CPU has FMA (host builds target the
/// native CPU, .cargo/config.toml), else a plain multiply and add (`mul_add` would be a libm
/// call there).
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// One LSTM layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LstmLayer<F> {
    pub w_ih: Array2<F>, // (4H, V) layer 0 (a column per character), (4H, H) above
    pub w_hh: Array2<F>, // (4H, H)
    pub b: Array1<F>,    // (4H)
}

/// All parameters (also used, same shapes, for gradients and optimizer moments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params<F> {
    pub layers: Vec<LstmLayer<F>>,
    pub w_out: Array2<F>, // (V, H)
    pub b_out: Array1<F>, // (V)
}

/// How the weights are initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// char-rnn: every weight uniform in (-0.08, 0.08), biases 0, forget-gate bias 1.
    CharRnn,
    /// Keras defaults: Glorot-uniform kernels, zero biases, forget-gate bias 1
    /// (`unit_forget_bias`). The recurrent kernel is Glorot-uniform too (Keras uses an
    /// orthogonal one; the difference does not matter at these sizes).
    Keras,
}

impl<F: Real> Params<F> {
    /// All-zero parameters of the given shape.
    pub fn zeros(vocab: usize, hidden: usize, layers: usize) -> Self {
        let layers = (0..layers)
            .map(|l| LstmLayer {
                w_ih: Array2::zeros((4 * hidden, if l == 0 { vocab } else { hidden })),
                w_hh: Array2::zeros((4 * hidden, hidden)),
                b: Array1::zeros(4 * hidden),
            })
            .collect();
        Params {
            layers,
            w_out: Array2::zeros((vocab, hidden)),
            b_out: Array1::zeros(vocab),
        }
    }

    /// Zeros of the same shape as `self` (gradients, optimizer moments).
    pub fn zeros_like(&self) -> Self {
        Params::zeros(self.vocab(), self.hidden(), self.layers.len())
    }

    /// Randomly initialized parameters.
    pub fn init(
        vocab: usize,
        hidden: usize,
        layers: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Self {
        let mut p = Self::zeros(vocab, hidden, layers);
        let mut fill = |a: &mut [F], fan: usize| {
            let scale = match init {
                Init::CharRnn => 0.08,
                Init::Keras => (6.0 / fan as f64).sqrt(),
            };
            for w in a {
                *w = F::from_f64((uniform01(rng) * 2.0 - 1.0) * scale);
            }
        };
        for l in &mut p.layers {
            let (rows, cols) = l.w_ih.dim();
            fill(l.w_ih.as_slice_mut().expect("standard layout"), rows + cols);
            fill(l.w_hh.as_slice_mut().expect("standard layout"), 5 * hidden);
            l.b.slice_mut(ndarray::s![hidden..2 * hidden])
                .fill(F::one());
        }
        fill(
            p.w_out.as_slice_mut().expect("standard layout"),
            vocab + hidden,
        );
        p
    }

    pub fn vocab(&self) -> usize {
        self.w_out.nrows()
    }

    pub fn hidden(&self) -> usize {
        self.w_out.ncols()
    }

    /// Every tensor as a flat slice, in a fixed order (the blob's), with core's name for it.
    pub fn tensors_mut(&mut self) -> Vec<(TensorName, &mut [F])> {
        let mut out = Vec::new();
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let l = l as u8; // at most 2 layers
            out.push((TensorName::InputGates(l), flat(&mut layer.w_ih)));
            out.push((TensorName::HiddenGates(l), flat(&mut layer.w_hh)));
            out.push((
                TensorName::GateBias(l),
                layer.b.as_slice_mut().expect("standard layout"),
            ));
        }
        out.push((TensorName::Output, flat(&mut self.w_out)));
        out.push((
            TensorName::OutputBias,
            self.b_out.as_slice_mut().expect("standard layout"),
        ));
        out
    }

    /// Sets every value to zero (gradients between steps).
    pub fn zero_grad(&mut self) {
        for (_, t) in self.tensors_mut() {
            t.fill(F::zero());
        }
    }

    /// `self += other`, tensor by tensor (summing shard gradients).
    pub fn add_assign(&mut self, other: &mut Self) {
        for ((_, a), (_, b)) in self.tensors_mut().into_iter().zip(other.tensors_mut()) {
            for (a, b) in a.iter_mut().zip(b.iter()) {
                *a += *b;
            }
        }
    }

    /// Global L2 norm over all tensors, in f64.
    pub fn norm(&mut self) -> f64 {
        let mut s = 0.0;
        for (_, t) in self.tensors_mut() {
            s += t.iter().map(|x| x.as_f64() * x.as_f64()).sum::<f64>();
        }
        s.sqrt()
    }

    /// Converted to another float type.
    pub fn cast<G: Real>(&self) -> Params<G> {
        let c2 = |a: &Array2<F>| a.mapv(|x| G::from_f64(x.as_f64()));
        let c1 = |a: &Array1<F>| a.mapv(|x| G::from_f64(x.as_f64()));
        Params {
            layers: self
                .layers
                .iter()
                .map(|l| LstmLayer {
                    w_ih: c2(&l.w_ih),
                    w_hh: c2(&l.w_hh),
                    b: c1(&l.b),
                })
                .collect(),
            w_out: c2(&self.w_out),
            b_out: c1(&self.b_out),
        }
    }
}

fn flat<F>(a: &mut Array2<F>) -> &mut [F] {
    a.as_slice_mut().expect("parameters are in standard layout")
}

/// Uniform in [0, 1) with 53 random bits.
pub fn uniform01(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn exp_fast_matches_std_exp() {
        let mut worst = 0.0f64;
        for i in -86_990..=87_990 {
            let x = i as f32 * 1e-3;
            let want = (x as f64).exp();
            let rel = ((exp_fast(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 2e-7, "relative error {worst:e}");
    }

    #[test]
    fn matmul_add_matches_general_mat_mul() {
        use ndarray::s;
        let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(3);
        let mut r = |rows, cols| {
            Array2::from_shape_fn((rows, cols), |_| (uniform01(&mut rng) * 2.0 - 1.0) as f32)
        };
        let (a, w, w_kxm, c0) = (r(37, 29), r(45, 29), r(29, 45), r(37, 45));
        // b column-major (a weight transposed) and b row-major: the faer path.
        let cases = [(a.view(), w.t()), (a.view(), w_kxm.view())];
        for (a, b) in cases {
            let mut want = c0.clone();
            general_mat_mul(1.0, &a, &b, 1.0, &mut want);
            let mut got = c0.clone();
            f32::matmul_add(got.view_mut(), a, b);
            let err = (&got - &want).iter().fold(0.0f32, |m, d| m.max(d.abs()));
            assert!(err < 1e-5, "max |difference| {err}");
        }
        // Into a strided output (a column slice): the reference path.
        let mut want = c0.clone();
        let mut got = c0.clone();
        general_mat_mul(
            1.0,
            &a,
            &w.t().slice(s![.., ..40]),
            1.0,
            &mut want.slice_mut(s![.., ..40]),
        );
        f32::matmul_add(
            got.slice_mut(s![.., ..40]),
            a.view(),
            w.t().slice(s![.., ..40]),
        );
        assert!((&got - &want).iter().all(|d| d.abs() < 1e-5));
    }

    #[test]
    fn f32_gates_match_f64_gates() {
        let xs: Vec<f32> = (-400..=400).map(|i| i as f32 * 0.05).collect();
        let (mut s, mut t) = (xs.clone(), xs.clone());
        f32::sigmoid_in_place(&mut s);
        f32::tanh_in_place(&mut t);
        for ((&x, s), t) in xs.iter().zip(s).zip(t) {
            let x = x as f64;
            assert!(
                (s as f64 - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "sigmoid({x})"
            );
            assert!((t as f64 - x.tanh()).abs() < 1e-6, "tanh({x})");
        }
    }
}
