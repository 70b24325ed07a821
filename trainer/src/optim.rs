//! Optimizers: Adam (char-rnn-style TBPTT recipe) and RMSprop as Keras 3 implements it
//! (rho 0.9, eps 1e-7 inside the square root), plus gradient clipping by global norm
//! and an exponential moving average of the weights.
//! The state is serializable so a checkpoint resumes exactly.

use serde::{Deserialize, Serialize};

use crate::model::Params;

/// An optimizer and its state (moments shaped like the parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Adam (Kingma & Ba 2015) with bias correction; β1 0.9, β2 0.999, ε 1e-8.
    Adam {
        m: Params<f32>,
        v: Params<f32>,
        t: u64,
    },
    /// Keras RMSprop: `v = ρ v + (1-ρ) g²`, `w -= lr g / sqrt(v + ε)`.
    RmsProp { v: Params<f32> },
}

impl Optimizer {
    pub fn adam(p: &Params<f32>) -> Self {
        Optimizer::Adam {
            m: p.zeros_like(),
            v: p.zeros_like(),
            t: 0,
        }
    }

    pub fn rmsprop(p: &Params<f32>) -> Self {
        Optimizer::RmsProp { v: p.zeros_like() }
    }

    /// One update of `p` with gradient `g` at learning rate `lr`.
    pub fn step(&mut self, p: &mut Params<f32>, g: &mut Params<f32>, lr: f32) {
        let grads = g.tensors_mut();
        let params = p.tensors_mut();
        match self {
            Optimizer::Adam { m, v, t } => {
                const B1: f32 = 0.9;
                const B2: f32 = 0.999;
                const EPS: f32 = 1e-8;
                *t += 1;
                let c1 = 1.0 - B1.powi(*t as i32);
                let c2 = 1.0 - B2.powi(*t as i32);
                let step = lr * c2.sqrt() / c1;
                let state = m.tensors_mut().into_iter().zip(v.tensors_mut());
                for (((_, p), (_, g)), ((_, m), (_, v))) in params.into_iter().zip(grads).zip(state)
                {
                    for (((p, &g), m), v) in p
                        .iter_mut()
                        .zip(g.iter())
                        .zip(m.iter_mut())
                        .zip(v.iter_mut())
                    {
                        *m = B1 * *m + (1.0 - B1) * g;
                        *v = B2 * *v + (1.0 - B2) * g * g;
                        // = lr m̂ / (sqrt(v̂) + ε) with m̂ = m / c1, v̂ = v / c2 (PyTorch's form).
                        *p -= step * *m / (v.sqrt() + EPS * c2.sqrt());
                    }
                }
            }
            Optimizer::RmsProp { v } => {
                const RHO: f32 = 0.9;
                const EPS: f32 = 1e-7;
                for (((_, p), (_, g)), (_, v)) in params.into_iter().zip(grads).zip(v.tensors_mut())
                {
                    for ((p, &g), v) in p.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                        *v = RHO * *v + (1.0 - RHO) * g * g;
                        *p -= lr * g / (*v + EPS).sqrt();
                    }
                }
            }
        }
    }
}

/// Polyak averaging: `avg = decay avg + (1 - decay) p`, element by element.
pub fn ema_update(avg: &mut Params<f32>, p: &mut Params<f32>, decay: f32) {
    for ((_, a), (_, p)) in avg.tensors_mut().into_iter().zip(p.tensors_mut()) {
        for (a, &p) in a.iter_mut().zip(p.iter()) {
            *a = decay * *a + (1.0 - decay) * p;
        }
    }
}

/// The decay of the weight average at update `t` (0-based): `min(d, (1 + t) / (10 + t))`, the
/// warm-up of TensorFlow's `ExponentialMovingAverage(num_updates)`. Early on the average spans
/// about the last tenth of the run (0.1 at the first update, 0.9 at the 80th), so a short run's
/// average forgets its untrained first steps; a plain bias-corrected average would weigh every
/// step alike until `t` nears `1 / (1 - d)`.
pub fn ema_decay(d: f32, t: u64) -> f32 {
    let t = t as f64;
    (d as f64).min((1.0 + t) / (10.0 + t)) as f32
}

/// Scales `g` so its global L2 norm is at most `max_norm` (0 = off); returns the norm before.
pub fn clip_global_norm(g: &mut Params<f32>, max_norm: f32) -> f64 {
    let norm = g.norm();
    if max_norm > 0.0 && norm > max_norm as f64 {
        let s = (max_norm as f64 / norm) as f32;
        for (_, t) in g.tensors_mut() {
            t.iter_mut().for_each(|x| *x *= s);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_decay_warms_up_to_its_limit() {
        assert!((ema_decay(0.999, 0) - 0.1).abs() < 1e-7);
        assert!((ema_decay(0.999, 80) - 0.9).abs() < 1e-7);
        // The limit is reached once (1 + t) / (10 + t) passes it: t = 8,990 for 0.999.
        assert!(ema_decay(0.999, 8_980) < 0.999);
        assert_eq!(ema_decay(0.999, 9_000), 0.999);
        assert_eq!(ema_decay(0.5, 0), 0.1);
        assert_eq!(ema_decay(0.5, 100), 0.5);
        let mut last = 0.0;
        for t in 0..20_000 {
            let d = ema_decay(0.999, t);
            assert!(d >= last && d <= 0.999, "t {t}: {d}");
            last = d;
        }
    }

    #[test]
    fn ema_moves_a_quarter_of_the_way_at_decay_three_quarters() {
        let mut avg = Params::<f32>::zeros(3, 2, 1);
        let mut p = avg.zeros_like();
        for (_, t) in p.tensors_mut() {
            t.iter_mut().for_each(|x| *x = 2.0);
        }
        ema_update(&mut avg, &mut p, 0.75);
        ema_update(&mut avg, &mut p, 0.75);
        for (name, t) in avg.tensors_mut() {
            // 2 (1 - 0.75²) = 0.875
            assert!(t.iter().all(|&x| (x - 0.875).abs() < 1e-6), "{name}");
            assert!(!t.is_empty(), "{name}");
        }
    }
}
