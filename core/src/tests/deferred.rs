//! [`Classifier::gradients_deferred`] and [`Classifier::first_kernel_gradient`] give the bits of
//! [`Classifier::gradients`], for any split of the first kernel's rows.

use std::vec::Vec;

use bytemuck::zeroed_box;

use super::util::{fill_uniform, rng};
use crate::model::Workspace;
use crate::noise::Noise;
use crate::params::Params;
use crate::tutorial::{self, Layers};

const B: usize = 8;

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "passes through the full-size tutorial model: too slow for Miri"
)]
fn deferred_gradients_are_the_bits_of_gradients() {
    let model = tutorial::model(tutorial::DROPOUT);
    let mut r = rng(21);
    let mut params = zeroed_box::<tutorial::Params>();
    model.init(&mut params, &mut r);
    let mut ws = zeroed_box::<Workspace<Layers, 10, B>>();
    // Pixels with zeros, as MNIST has: half the inputs are exactly 0.
    let input = ws.input.as_flattened_mut().as_flattened_mut();
    fill_uniform(&mut r, input, -1.0, 1.0);
    for x in input.iter_mut() {
        *x = x.max(0.0);
    }
    for (i, l) in ws.labels.iter_mut().enumerate() {
        *l = (i * 7 % 10) as u8;
    }
    for n in [1, 5, B] {
        let noise = Noise::for_step(4, n as u64);
        let mut want = zeroed_box::<tutorial::Params>();
        let stats = model
            .gradients(&params, &mut want, &mut ws, n, noise, 0.25)
            .unwrap();

        let mut got = zeroed_box::<tutorial::DeferredGrads>();
        let deferred = model
            .gradients_deferred(&params, &mut got, &mut ws, n, noise, 0.25)
            .unwrap();
        assert_eq!(bits(&[deferred.0]), bits(&[stats.0]));
        assert_eq!(deferred.1, stats.1);
        // Every tensor but the first kernel, which is the model's tensor 0.
        assert_eq!(
            tutorial::DeferredGrads::TENSORS,
            tutorial::Params::TENSORS - 1
        );
        for t in 0..tutorial::DeferredGrads::TENSORS {
            assert_eq!(bits(got.tensor(t)), bits(want.tensor(t + 1)), "tensor {t}");
        }
        assert!(got.tensor(tutorial::DeferredGrads::TENSORS).is_empty());

        // The first kernel, in uneven ranges of rows (and an empty one).
        let mut kernel = zeroed_box::<[[f32; 128]; 784]>();
        let cuts = [0, 3, 3, 64, 401, 784];
        for w in cuts.windows(2) {
            let rows = w[0]..w[1];
            model
                .first_kernel_gradient(&ws, n, rows.clone(), &mut kernel[rows])
                .unwrap();
        }
        assert_eq!(
            bits(kernel.as_flattened()),
            bits(want.tensor(0)),
            "batch of {n}"
        );
    }
}

#[test]
fn first_kernel_gradient_checks_the_batch() {
    let model = tutorial::model(0.0);
    let ws = zeroed_box::<Workspace<Layers, 10, B>>();
    let mut out = [[0.0; 128]; 2];
    assert!(model.first_kernel_gradient(&ws, 0, 0..2, &mut out).is_err());
    assert!(
        model
            .first_kernel_gradient(&ws, B + 1, 0..2, &mut out)
            .is_err()
    );
}
