//! The tutorial model: its size, its summary, one training step on the full-size trainer, and
//! dropout switched off at inference.

use std::vec::Vec;

use bytemuck::{Zeroable, zeroed_box};

use super::util::{fill_uniform, flat, rng, set_flat};
use crate::init::below;
use crate::layer::{Layer, LayerInfo, TensorInfo};
use crate::layers::{Dense, Flatten, Relu};
use crate::model::{Classifier, Workspace};
use crate::noise::Noise;
use crate::optimizer::Adam;
use crate::params::Params;
use crate::tutorial::{self, AdamTrainer, InferenceWorkspace};
use crate::{Sequential, sequential};

#[test]
fn params_count_is_keras_101770() {
    assert_eq!(<tutorial::Params as Params>::COUNT, 101_770);
    assert_eq!(tutorial::MAX_BATCH, 256);
    assert_eq!(tutorial::DROPOUT, 0.2);
}

#[test]
fn describe_lists_the_keras_summary() {
    let model = tutorial::model(tutorial::DROPOUT);
    let mut layers: Vec<LayerInfo> = Vec::new();
    model.describe(&mut |l| layers.push(*l));
    let summary: Vec<(&str, &[usize], usize, Option<f32>)> = layers
        .iter()
        .map(|l| (l.kind, l.output_shape, l.params, l.rate))
        .collect();
    assert_eq!(
        summary,
        [
            ("Flatten", &[784][..], 0, None),
            ("Dense", &[128][..], 100_480, None),
            ("ReLU", &[128][..], 0, None),
            ("Dropout", &[128][..], 0, Some(0.2)),
            ("Dense", &[10][..], 1290, None),
            ("Softmax", &[10][..], 0, None),
        ]
    );
    let tensor = |name, shape| TensorInfo { name, shape };
    assert_eq!(
        layers[1].tensors,
        &[
            tensor("kernel", &[784, 128][..]),
            tensor("bias", &[128][..])
        ]
    );
    assert_eq!(
        layers[4].tensors,
        &[tensor("kernel", &[128, 10][..]), tensor("bias", &[10][..])]
    );
    assert!(
        layers
            .iter()
            .all(|l| l.tensors.iter().all(|t| !t.shape.is_empty()))
    );
    assert_eq!(
        layers.iter().map(|l| l.params).sum::<usize>(),
        <tutorial::Params as Params>::COUNT
    );
    assert_eq!(layers[1].base_name, "dense");
    assert_eq!(layers[3].base_name, "dropout");
}

#[test]
fn one_training_step_on_the_full_trainer() {
    const N: usize = 32;
    let model = tutorial::model(tutorial::DROPOUT);
    let mut t = zeroed_box::<AdamTrainer>();
    let mut r = rng(70);
    t.init(&model, &mut r);
    assert!(t.params.all_finite());
    for (x, y) in t.ws.input[..N].iter_mut().zip(&mut t.ws.labels[..N]) {
        fill_uniform(&mut r, x.as_flattened_mut(), 0.0, 1.0);
        *y = below(10, &mut r) as u8;
    }
    let mut before = zeroed_box::<tutorial::Params>();
    before.copy_from(&t.params);

    let stats = t
        .step(&model, &Adam::default(), N, Noise::for_step(9, 0))
        .unwrap();
    // Ten classes, fresh weights: the mean loss is near ln 10.
    let mean = stats.loss_sum / N as f32;
    assert!(mean > 1.0 && mean < 5.0, "{mean}");
    assert_eq!(t.state.iterations, 1);
    assert!(t.params.all_finite() && t.grads.all_finite());

    // Adam's first step moves each weight by at most lr, most by nearly lr. (Hidden units that
    // ReLU zeroes for all 32 samples get no gradient: about a seventh of the first kernel.)
    let (w0, w1) = (flat(&*before), flat(&t.params));
    let deltas: Vec<f32> = w0.iter().zip(&w1).map(|(a, b)| (b - a).abs()).collect();
    let max = deltas.iter().fold(0.0f32, |m, &d| m.max(d));
    assert!(max <= 0.001 * 1.001 && max > 0.0009, "{max}");
    let changed = deltas.iter().filter(|&&d| d > 0.0).count();
    assert!(
        changed > w0.len() * 3 / 4,
        "only {changed} of {} changed",
        w0.len()
    );
}

#[test]
fn dropout_is_the_identity_at_inference() {
    const N: usize = 4;
    let model = tutorial::model(0.5);
    let mut params = zeroed_box::<tutorial::Params>();
    let mut r = rng(71);
    model.init(&mut params, &mut r);
    // Non-zero biases too, so every path matters.
    params.visit_mut(&mut |t| {
        if t.len() <= 128 {
            fill_uniform(&mut r, t, -0.1, 0.1);
        }
    });
    let mut ws = zeroed_box::<InferenceWorkspace<N>>();
    for x in &mut ws.input[..N] {
        fill_uniform(&mut r, x.as_flattened_mut(), 0.0, 1.0);
    }
    let first: Vec<u32> = model
        .logits(&params, &mut ws, N)
        .unwrap()
        .as_flattened()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let second: Vec<u32> = model
        .logits(&params, &mut ws, N)
        .unwrap()
        .as_flattened()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(first, second);

    // The same weights without a Dropout layer give the same logits: no mask, no scaling.
    type NoDropout = Sequential![Flatten<28, 28, 784>, Dense<784, 128>, Relu<128>, Dense<128, 10>];
    let plain: Classifier<NoDropout, 10> = Classifier::new(sequential![
        Flatten::new(),
        Dense::new(),
        Relu::new(),
        Dense::new()
    ]);
    let mut plain_params = zeroed_box::<<NoDropout as Layer>::Params>();
    set_flat(&mut *plain_params, &flat(&*params));
    let mut plain_ws = zeroed_box::<Workspace<NoDropout, 10, N>>();
    plain_ws.input = ws.input;
    let want: Vec<u32> = plain
        .logits(&plain_params, &mut plain_ws, N)
        .unwrap()
        .as_flattened()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(first, want);

    // Whereas a training forward with rate 0.5 does change them.
    let mut grads = zeroed_box::<tutorial::Params>();
    ws.labels[..N].fill(0);
    model
        .gradients(
            &params,
            &mut grads,
            &mut ws,
            N,
            Noise::for_step(3, 0),
            1.0 / N as f32,
        )
        .unwrap();
    let trained: Vec<u32> = ws.logits[..N]
        .as_flattened()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_ne!(first, trained);
    let _ = Workspace::<tutorial::Layers, 10, N>::CAPACITY;
    let _: InferenceWorkspace<N> = Zeroable::zeroed();
}
