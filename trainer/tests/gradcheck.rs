//! Finite-difference gradient check of the whole network (every parameter, f64, tiny sizes
//! V=5, H=4, T=3), for both recipes' loss shapes and for 1 and 2 layers: the analytic
//! gradient of `backward` must match central differences of `forward`; also with dropout of
//! the output layer's input and DropConnect of the recurrent weights (fixed masks).

use charlstm_trainer::model::{Init, Params};
use charlstm_trainer::network::{Predict, State, Workspace, backward, forward};
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

const V: usize = 5;
const H: usize = 4;
const T: usize = 3;
const B: usize = 2;

/// Dropout rates of a check: the output layer's input, the recurrent weights (0 = off).
#[derive(Debug, Clone, Copy)]
struct Drop {
    output: f64,
    weight: f64,
}

const NO_DROP: Drop = drop(0.0, 0.0);

const fn drop(output: f64, weight: f64) -> Drop {
    Drop { output, weight }
}

/// A workspace with the given dropout, its masks drawn from a fixed seed, so every forward of
/// a check uses the same masks.
fn workspace(p: &Params<f64>, predict: Predict, drop: Drop) -> Workspace<f64> {
    let mut ws = Workspace::new(p, T, B, predict);
    let mut rng = XorShiftRng::seed_from_u64(11);
    ws.set_dropout(drop.output, &mut rng);
    ws.set_weight_drop(drop.weight, &mut rng);
    ws
}

/// Mean loss from a fixed non-zero initial state (so the gradient through c_prev/h_prev of
/// the first step is exercised too).
fn loss(
    p: &Params<f64>,
    x: &[u16],
    y: &[u16],
    predict: Predict,
    init: &State<f64>,
    dropout: Drop,
) -> f64 {
    let mut ws = workspace(p, predict, dropout);
    let mut state = init.clone();
    forward(p, &mut ws, &mut state, x, y, predict) / y.len() as f64
}

fn check(layers: usize, predict: Predict) {
    check_with(layers, predict, NO_DROP);
}

fn check_with(layers: usize, predict: Predict, dropout: Drop) {
    let mut rng = XorShiftRng::seed_from_u64(7 + layers as u64);
    let mut p: Params<f64> = Params::init(V, H, layers, Init::Keras, &mut rng);
    // Make the output and biases non-trivial too.
    p.b_out
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = 0.1 * i as f64 - 0.2);
    let x: Vec<u16> = (0..T * B).map(|i| ((i * 3 + 1) % V) as u16).collect();
    let y: Vec<u16> = match predict {
        Predict::All => (0..T * B).map(|i| ((i * 2 + 3) % V) as u16).collect(),
        Predict::Last => vec![1, 4],
    };
    let mut init = State::zeros(layers, B, H);
    for (l, (h, c)) in init.h.iter_mut().zip(init.c.iter_mut()).enumerate() {
        h.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 0.3 * ((i + l) as f64).sin());
        c.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 0.5 * ((i * 2 + l) as f64).cos());
    }

    let mut g = p.zeros_like();
    g.zero_grad();
    let mut ws = workspace(&p, predict, dropout);
    let mut state = init.clone();
    forward(&p, &mut ws, &mut state, &x, &y, predict);
    backward(&mut g, &p, &mut ws, &x, &y, predict, 1.0 / y.len() as f64);

    let eps = 1e-5;
    let mut checked = 0;
    let mut probe = p.clone();
    let names: Vec<_> = p
        .clone()
        .tensors_mut()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let grads: Vec<Vec<f64>> = g
        .tensors_mut()
        .into_iter()
        .map(|(_, t)| t.to_vec())
        .collect();
    for (ti, name) in names.iter().enumerate() {
        for (i, &analytic) in grads[ti].iter().enumerate() {
            let orig = probe.tensors_mut()[ti].1[i];
            probe.tensors_mut()[ti].1[i] = orig + eps;
            let up = loss(&probe, &x, &y, predict, &init, dropout);
            probe.tensors_mut()[ti].1[i] = orig - eps;
            let down = loss(&probe, &x, &y, predict, &init, dropout);
            probe.tensors_mut()[ti].1[i] = orig;
            let numeric = (up - down) / (2.0 * eps);
            let rel = (numeric - analytic).abs() / (numeric.abs() + analytic.abs()).max(1e-8);
            assert!(
                rel < 1e-5,
                "{name}[{i}] ({layers} layers, {predict:?}, {dropout:?}): analytic {analytic:e}, numeric {numeric:e}, rel err {rel:e}"
            );
            checked += 1;
        }
    }
    let expected = 4 * H * (V + H + 1) + (layers - 1) * 4 * H * (2 * H + 1) + V * (H + 1);
    assert_eq!(checked, expected, "every parameter is checked");
}

#[test]
fn gradients_match_finite_differences_one_layer_all_steps() {
    check(1, Predict::All);
}

#[test]
fn gradients_match_finite_differences_two_layers_all_steps() {
    check(2, Predict::All);
}

#[test]
fn gradients_match_finite_differences_last_step_only() {
    check(1, Predict::Last);
    check(2, Predict::Last);
}

#[test]
fn gradients_match_finite_differences_with_output_dropout() {
    check_with(1, Predict::All, drop(0.5, 0.0));
    check_with(2, Predict::Last, drop(0.5, 0.0));
}

#[test]
fn gradients_match_finite_differences_with_weight_drop() {
    check_with(1, Predict::All, drop(0.0, 0.5));
    check_with(2, Predict::All, drop(0.0, 0.5));
    // Both at once.
    check_with(2, Predict::Last, drop(0.3, 0.5));
}

#[test]
fn weight_drop_changes_the_forward_pass() {
    // Guards against a mask that never reaches the product (the check above would pass).
    let mut rng = XorShiftRng::seed_from_u64(5);
    let p: Params<f64> = Params::init(V, H, 1, Init::Keras, &mut rng);
    let x: Vec<u16> = (0..T * B).map(|i| (i % V) as u16).collect();
    let init = State::zeros(1, B, H);
    let mut init_h = init.clone();
    init_h.h[0].fill(0.5);
    let wd = drop(0.0, 0.5);
    let plain = loss(&p, &x, &x, Predict::All, &init_h, NO_DROP);
    let dropped = loss(&p, &x, &x, Predict::All, &init_h, wd);
    assert!((plain - dropped).abs() > 1e-6, "{plain} vs {dropped}");
    // From the zero state the first step does not see w_hh at all, the later ones do.
    assert_ne!(
        loss(&p, &x, &x, Predict::All, &init, NO_DROP),
        loss(&p, &x, &x, Predict::All, &init, wd)
    );
}
