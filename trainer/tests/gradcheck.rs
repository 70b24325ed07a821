//! Finite-difference gradient check of the whole network (every parameter, f64, tiny sizes
//! V=5, H=4, T=3), for both recipes' loss shapes and for 1 and 2 layers: the analytic
//! gradient of `backward` must match central differences of `forward`; also with dropout of
//! the output layer's input (a fixed mask).

use charlstm_trainer::layers::{Predict, State, Workspace, backward, forward};
use charlstm_trainer::model::{Init, Params};
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

const V: usize = 5;
const H: usize = 4;
const T: usize = 3;
const B: usize = 2;

/// A workspace with dropout at rate `dropout` (0 = off), its mask drawn from a fixed seed, so
/// every forward of a check uses the same mask.
fn workspace(p: &Params<f64>, predict: Predict, dropout: f64) -> Workspace<f64> {
    let mut ws = Workspace::new(p, T, B, predict);
    ws.set_dropout(dropout, &mut XorShiftRng::seed_from_u64(11));
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
    dropout: f64,
) -> f64 {
    let mut ws = workspace(p, predict, dropout);
    let mut state = init.clone();
    forward(p, &mut ws, &mut state, x, y, predict) / y.len() as f64
}

fn check(layers: usize, predict: Predict) {
    check_with(layers, predict, 0.0);
}

fn check_with(layers: usize, predict: Predict, dropout: f64) {
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
    let names: Vec<String> = p
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
                "{name}[{i}] ({layers} layers, {predict:?}, dropout {dropout}): analytic {analytic:e}, numeric {numeric:e}, rel err {rel:e}"
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
    check_with(1, Predict::All, 0.5);
    check_with(2, Predict::Last, 0.5);
}
