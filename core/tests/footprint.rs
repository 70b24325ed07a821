//! RAM footprint: the generator (state + scratch + sampler) for H = 128, V <= 96, L = 1 fits
//! in 6 KiB, and the model view is a few hundred bytes (its weights stay in the blob).

use charlstm_core::{Generator, Model};
use std::mem::size_of;

#[test]
fn generator_h128_v96_l1_fits_in_6_kib_and_its_model_view_in_512_bytes() {
    let generator = size_of::<Generator<'_, '_, 128, 96, 1>>();
    let model = size_of::<Model<'_, 128, 96, 1>>();
    eprintln!("size_of Generator<128, 96, 1> = {generator} B, Model = {model} B");
    assert!(generator <= 6 * 1024, "generator is {generator} B");
    assert!(model <= 512, "model view is {model} B");
}

#[test]
fn generator_size_is_its_arrays_8hl_26h_14v_320_plus_at_most_128_bytes() {
    // h, c: 2 x L x H f32 (the float variant, the larger); scratch: 3 x H i16 (prepared
    // activations on a host) + H f32 + V f32 + V i32 + V u16, and the int8 kernel's gate
    // pre-activations (4 x 16 i32 on a host) and sums (16 i32); the cached biases of the
    // first layer (4 x H i32) and the output (V i32).
    let expected = |h: usize, v: usize, l: usize| 8 * h * l + 26 * h + 14 * v + 320;
    for (g, (h, v, l)) in [
        (size_of::<Generator<'_, '_, 128, 64, 1>>(), (128, 64, 1)),
        (size_of::<Generator<'_, '_, 256, 128, 2>>(), (256, 128, 2)),
        (size_of::<Generator<'_, '_, 512, 1024, 2>>(), (512, 1024, 2)),
    ] {
        let arrays = expected(h, v, l);
        assert!(
            g >= arrays && g <= arrays + 128,
            "H={h} V={v} L={l}: {g} B vs arrays {arrays} B"
        );
    }
}
