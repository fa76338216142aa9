//! The column-split pass a host runs ([`Classifier::first_layer_columns`],
//! [`Classifier::tail_gradients`], [`Classifier::first_kernel_columns_gradient`]) gives the
//! bits of [`Classifier::gradients`], for any split of the first layer's columns.

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
fn column_split_gives_the_bits_of_gradients() {
    let model = tutorial::model(tutorial::DROPOUT);
    let mut r = rng(21);
    let mut params = zeroed_box::<tutorial::Params>();
    model.init(&mut params, &mut r);
    // Keras starts biases at zero; any other values, so that a bias column out of place shows.
    fill_uniform(&mut r, &mut params.1.0.bias, -0.5, 0.5);
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

        // The first layer's outputs, as the whole forward left them.
        let hidden = *ws.first_layer_output_mut();

        // The host's path: the first layer's output columns in uneven ranges (and an empty
        // one), each from a panel of its kernel's columns; the tail from the assembled
        // outputs; the kernel's gradient, a range of columns at a time.
        let cuts = [0, 16, 16, 48, 61, 128];
        ws.first_layer_output_mut().fill([f32::NAN; 128]);
        let mut out = std::vec![0.0; n * 128];
        for w in cuts.windows(2) {
            let cols = w[0]..w[1];
            let panel: Vec<f32> = params
                .1
                .0
                .kernel
                .iter()
                .flat_map(|r| r[cols.clone()].to_vec())
                .collect();
            model.first_layer_columns(
                &ws.input[..n],
                &panel,
                &params.1.0.bias,
                cols.clone(),
                &mut out,
            );
            for (i, row) in out.chunks_exact(cols.len().max(1)).take(n).enumerate() {
                if !cols.is_empty() {
                    ws.first_layer_output_mut()[i][cols.clone()].copy_from_slice(row);
                }
            }
        }
        assert_eq!(
            bits(ws.first_layer_output_mut()[..n].as_flattened()),
            bits(hidden[..n].as_flattened()),
            "first layer's columns, batch of {n}"
        );
        let mut tail = zeroed_box::<tutorial::TailGrads>();
        let again = model
            .tail_gradients(&params, &mut tail, &mut ws, n, noise, 0.25)
            .unwrap();
        assert_eq!(bits(&[again.0]), bits(&[stats.0]));
        assert_eq!(again.1, stats.1);
        for t in 0..tutorial::TailGrads::TENSORS {
            assert_eq!(
                bits(tail.tensor(t)),
                bits(want.tensor(t + 1)),
                "tail tensor {t}"
            );
        }
        let mut scratch = std::vec![0.0; B * 128];
        let mut g = std::vec![0.0; 784 * 128];
        // The same ranges, and all the columns at once (which reads `dh` in place).
        for w in cuts.windows(2).chain([&[0, 128][..]]) {
            let cols = w[0]..w[1];
            model.first_kernel_columns_gradient(
                &ws.input[..n],
                &ws.first_layer_output_grad()[..n],
                cols.clone(),
                &mut scratch,
                &mut g,
            );
            for (p, row) in g.chunks_exact(cols.len().max(1)).take(784).enumerate() {
                if !cols.is_empty() {
                    assert_eq!(
                        bits(row),
                        bits(&want.1.0.kernel[p][cols.clone()]),
                        "kernel gradient row {p}, columns {cols:?}, batch of {n}"
                    );
                }
            }
        }
    }
}

#[test]
fn tail_gradients_check_the_batch() {
    let model = tutorial::model(0.0);
    let params = zeroed_box::<tutorial::Params>();
    let mut grads = zeroed_box::<tutorial::TailGrads>();
    let mut ws = zeroed_box::<Workspace<Layers, 10, B>>();
    let noise = Noise::for_step(1, 1);
    for n in [0, B + 1] {
        assert!(
            model
                .tail_gradients(&params, &mut grads, &mut ws, n, noise, 1.0)
                .is_err()
        );
    }
}
