//! The LSTM's nonlinearities, two ways: exact (libm), for the float path, and a table with
//! linear interpolation, for the int8 path, where they would otherwise cost as much as the
//! matrix products (640 calls per character at H = 128; libm's tanhf alone is ~70 instructions).
//!
//! The table is computed by the compiler (`const fn`, f64 arithmetic) and baked into the
//! binary, so the host, the simulator and a Cortex-M read the same 1,025 values and compute the
//! same bits. Its error is below 2e-5 for sigmoid and 4e-5 for tanh (tested against libm),
//! far below the int8 weight rounding.

/// A set of activation functions for [`crate::lstm::cell`].
pub trait Activations {
    fn sigmoid(x: f32) -> f32;
    fn tanh(x: f32) -> f32;
}

/// libm's sigmoid and tanh: the float path.
#[derive(Debug, Clone, Copy)]
pub struct Exact;

impl Activations for Exact {
    #[inline]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + libm::expf(-x))
    }
    #[inline]
    fn tanh(x: f32) -> f32 {
        libm::tanhf(x)
    }
}

/// Table lookup with linear interpolation: the int8 (device) path.
#[derive(Debug, Clone, Copy)]
pub struct Table;

/// Entries per unit of x.
const STEPS: f32 = 32.0;
/// Grid points: x = (i - 511) / 32 for i = 0..1023, so [-15.97, 15.97]; beyond it sigmoid is
/// 0 or 1 to f32 precision (σ(15.97) = 1 - 1.2e-7).
const POINTS: usize = 1023;
/// The table: each end point twice, so that the segments beyond the grid are flat. Its last
/// segment index, N - 2 = 1023 = 2^10 - 1, makes the index clamp a single `USAT` on a Cortex-M.
const N: usize = POINTS + 2;
/// x at grid point 0.
const X0: f32 = -((POINTS - 1) as f32) / 2.0 / STEPS;

/// sigmoid at the grid points, with the end points repeated.
static SIGMOID: [f32; N] = sigmoid_table();

impl Activations for Table {
    #[inline]
    fn sigmoid(x: f32) -> f32 {
        // Position in the table, one segment per grid step. The index is clamped as an
        // integer (the cast saturates, NaN gives 0), which is cheaper than clamping floats;
        // the flat end segments then make any position beyond the grid read an end value.
        let t = x * STEPS + (1.0 - X0 * STEPS);
        let i = (t as i32).clamp(0, N as i32 - 2) as usize;
        let frac = t - i as f32;
        // i <= N - 2, so both reads are in bounds (the compiler proves it: no panic path).
        let (a, b) = (SIGMOID[i], SIGMOID[i + 1]);
        a + (b - a) * frac
    }
    #[inline]
    fn tanh(x: f32) -> f32 {
        // tanh(x) = 2 σ(2x) - 1
        2.0 * Self::sigmoid(2.0 * x) - 1.0
    }
}

const fn sigmoid_table() -> [f32; N] {
    let mut table = [0.0f32; N];
    let mut i = 0;
    while i < POINTS {
        let x = i as f64 / STEPS as f64 + X0 as f64;
        table[i + 1] = (1.0 / (1.0 + exp(-x))) as f32;
        i += 1;
    }
    table[0] = table[1];
    table[N - 1] = table[N - 2];
    table
}

/// e^x for |x| <= 16, at compile time: (e^(x/64))^64, with a 14-term Taylor series for
/// |x/64| <= 1/4 (truncation error < 1e-19, rounding ~1e-14 relative after six squarings).
const fn exp(x: f64) -> f64 {
    let r = x / 64.0;
    let (mut term, mut sum, mut n) = (1.0, 1.0, 1);
    while n < 14 {
        term = term * r / n as f64;
        sum += term;
        n += 1;
    }
    let mut i = 0;
    while i < 6 {
        sum *= sum;
        i += 1;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_within_its_stated_error_of_libm() {
        let (mut worst_s, mut worst_t) = (0.0f32, 0.0f32);
        let mut x = -20.0f32;
        while x <= 20.0 {
            worst_s = worst_s.max((Table::sigmoid(x) - Exact::sigmoid(x)).abs());
            worst_t = worst_t.max((Table::tanh(x) - Exact::tanh(x)).abs());
            x += 0.001_3;
        }
        assert!(worst_s < 2e-5, "sigmoid error {worst_s}");
        assert!(worst_t < 4e-5, "tanh error {worst_t}");
    }

    #[test]
    fn table_entries_are_exact_sigmoids() {
        for (i, &s) in SIGMOID[1..N - 1].iter().enumerate() {
            let x = (i as f64 - 511.0) / 32.0;
            let exact = 1.0 / (1.0 + libm::exp(-x));
            assert!(
                (s as f64 - exact).abs() <= 1e-7 * exact.max(1e-3),
                "entry {i}: {s} vs {exact}"
            );
        }
    }

    #[test]
    fn edges_and_nan_do_not_panic() {
        assert_eq!(Table::sigmoid(1e30), SIGMOID[N - 1]);
        assert_eq!(Table::sigmoid(-1e30), SIGMOID[0]);
        assert_eq!(Table::sigmoid(16.5), SIGMOID[N - 1]);
        assert_eq!(Table::sigmoid(-16.5), SIGMOID[0]);
        assert!(Table::sigmoid(f32::NAN).is_nan());
        assert_eq!(Table::tanh(0.0), 0.0);
    }
}
