//! Analytic gradients against central finite differences: each layer's backward, the fused
//! loss, and a whole model's `Classifier::gradients`.

use std::vec::Vec;

use bytemuck::{Pod, Zeroable, cast_slice, cast_slice_mut};
use rand_pcg::Pcg32;

use super::util::{assert_gradient, flat, numeric_gradient, random_vec, rng, set_flat};
use crate::layer::Layer;
use crate::layers::{Dense, DenseParams, Dropout, Flatten, Relu, Softmax};
use crate::loss::sparse_categorical_crossentropy;
use crate::metrics::Metrics;
use crate::model::{Classifier, Workspace};
use crate::noise::Noise;
use crate::params::Params;
use crate::{Sequential, sequential};

/// Workspace capacity used by the layer checks (larger than the batches, on purpose).
const CAP: usize = 8;

/// Forward over `x`; `seed` makes it a training forward with the dropout noise of that seed (so
/// every call with the same seed draws the same dropout mask).
fn forward<L: Layer>(
    layer: &L,
    p: &L::Params,
    x: &[L::Input],
    y: &mut [L::Output],
    buf: &mut L::Buffers<CAP>,
    seed: Option<u64>,
) {
    match seed {
        Some(s) => layer.forward::<CAP>(p, x, y, buf, Some(Noise::for_step(s, 0))),
        None => layer.forward::<CAP>(p, x, y, buf, None),
    }
}

/// `L = Σ c ⊙ f(x)` in `f64`.
fn weighted_output<L: Layer>(
    layer: &L,
    p: &L::Params,
    x: &[L::Input],
    c: &[f32],
    seed: Option<u64>,
) -> f64
where
    L::Output: Pod,
{
    let mut buf: L::Buffers<CAP> = Zeroable::zeroed();
    let mut y = std::vec![L::Output::zeroed(); x.len()];
    forward(layer, p, x, &mut y, &mut buf, seed);
    cast_slice::<L::Output, f32>(&y)
        .iter()
        .zip(c)
        .map(|(&y, &c)| f64::from(y) * f64::from(c))
        .sum()
}

/// Analytic and numeric gradients of `Σ c ⊙ f(x)` w.r.t. the input and the parameters.
struct LayerGradients {
    dx: Vec<f32>,
    dx_numeric: Vec<f64>,
    dp: Vec<f32>,
    dp_numeric: Vec<f64>,
}

fn layer_gradients<L: Layer>(
    layer: &L,
    p: &L::Params,
    x: &[L::Input],
    c: &[f32],
    seed: Option<u64>,
    eps: f32,
) -> LayerGradients
where
    L::Input: Pod,
    L::Output: Pod,
    L::Params: Clone,
{
    let n = x.len();
    let mut buf: L::Buffers<CAP> = Zeroable::zeroed();
    let mut y = std::vec![L::Output::zeroed(); n];
    forward(layer, p, x, &mut y, &mut buf, seed);
    let dy: Vec<L::Output> = cast_slice::<f32, L::Output>(c).to_vec();
    assert_eq!(dy.len(), n);
    // Poison the outputs: backward must overwrite, not accumulate.
    let mut dx = std::vec![L::Input::zeroed(); n];
    cast_slice_mut::<L::Input, f32>(&mut dx).fill(123.0);
    let mut grads: L::Params = Zeroable::zeroed();
    grads.visit_mut(&mut |t| t.fill(-77.0));
    layer.backward::<CAP>(p, x, &y, &dy, &mut buf, Some(&mut dx), &mut grads);

    let x_flat: Vec<f32> = cast_slice::<L::Input, f32>(x).to_vec();
    let dx_numeric = numeric_gradient(&x_flat, eps, |xs| {
        weighted_output(layer, p, cast_slice::<f32, L::Input>(xs), c, seed)
    });
    let p_flat = flat(p);
    let mut q = p.clone();
    let dp_numeric = numeric_gradient(&p_flat, eps, |ps| {
        set_flat(&mut q, ps);
        weighted_output(layer, &q, x, c, seed)
    });
    LayerGradients {
        dx: cast_slice::<L::Input, f32>(&dx).to_vec(),
        dx_numeric,
        dp: flat(&grads),
        dp_numeric,
    }
}

#[test]
fn dense_gradients_match_finite_differences() {
    const BATCH: usize = 4;
    let mut r = rng(11);
    let mut p: DenseParams<5, 3> = Zeroable::zeroed();
    set_flat(
        &mut p,
        &random_vec(&mut r, DenseParams::<5, 3>::COUNT, -1.0, 1.0),
    );
    let x: Vec<[f32; 5]> = cast_slice(&random_vec(&mut r, BATCH * 5, -1.0, 1.0)).to_vec();
    let c = random_vec(&mut r, BATCH * 3, -1.0, 1.0);
    let g = layer_gradients(&Dense::<5, 3>::new(), &p, &x, &c, None, 1e-2);

    // Kernel (first 15 scalars) and bias (last 3) separately, so a failure names the tensor.
    assert_gradient("dense kernel", &g.dp[..15], &g.dp_numeric[..15]);
    assert_gradient("dense bias", &g.dp[15..], &g.dp_numeric[15..]);
    assert_gradient("dense dx", &g.dx, &g.dx_numeric);

    // The bias gradient of Σ c ⊙ y is exactly the column sums of c.
    for o in 0..3 {
        let want: f32 = (0..BATCH).map(|b| c[b * 3 + o]).sum();
        assert!((g.dp[15 + o] - want).abs() < 1e-6);
    }
}

#[test]
fn relu_gradient_matches_finite_differences() {
    const N: usize = 7;
    let mut r = rng(12);
    // Inputs at least 0.1 away from the kink, both signs.
    let x: Vec<f32> = random_vec(&mut r, 3 * N, 0.1, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, v)| if i % 3 == 0 { -v } else { v })
        .collect();
    let x: Vec<[f32; N]> = cast_slice(&x).to_vec();
    let c = random_vec(&mut r, 3 * N, -1.0, 1.0);
    let g = layer_gradients(&Relu::<N>::new(), &(), &x, &c, None, 1e-3);
    assert_gradient("relu dx", &g.dx, &g.dx_numeric);
    assert!(g.dp.is_empty());
    // Negative inputs pass no gradient at all.
    for (i, d) in g.dx.iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(*d, 0.0);
        }
    }
}

#[test]
fn dropout_gradient_with_fixed_mask_matches_finite_differences() {
    const N: usize = 6;
    const BATCH: usize = 4;
    const SEED: u64 = 99;
    let layer = Dropout::<N>::new(0.5);
    let mut r = rng(13);
    let x: Vec<[f32; N]> = cast_slice(&random_vec(&mut r, BATCH * N, 0.5, 2.0)).to_vec();
    let c = random_vec(&mut r, BATCH * N, -1.0, 1.0);

    // The training forward is y = x ⊙ mask with mask ∈ {0, 2}, and both values occur.
    let mut buf: [[f32; N]; CAP] = Zeroable::zeroed();
    let mut y = [[0.0f32; N]; BATCH];
    forward(&layer, &(), &x, &mut y, &mut buf, Some(SEED));
    let (mut dropped, mut kept) = (0, 0);
    for ((yi, xi), mi) in y
        .iter()
        .flatten()
        .zip(x.iter().flatten())
        .zip(buf.iter().flatten())
    {
        if *mi == 0.0 {
            assert_eq!(*yi, 0.0);
            dropped += 1;
        } else {
            assert_eq!(*mi, 2.0);
            assert_eq!(*yi, 2.0 * xi);
            kept += 1;
        }
    }
    assert!(dropped > 0 && kept > 0, "{dropped} dropped, {kept} kept");

    let g = layer_gradients(&layer, &(), &x, &c, Some(SEED), 1e-2);
    assert_gradient("dropout dx", &g.dx, &g.dx_numeric);
}

#[test]
fn softmax_backward_matches_finite_differences() {
    const N: usize = 5;
    let mut r = rng(14);
    let x: Vec<[f32; N]> = cast_slice(&random_vec(&mut r, 3 * N, -2.0, 2.0)).to_vec();
    let c = random_vec(&mut r, 3 * N, -1.0, 1.0);
    let g = layer_gradients(&Softmax::<N>::new(), &(), &x, &c, None, 5e-3);
    assert_gradient("softmax dx", &g.dx, &g.dx_numeric);
}

#[test]
fn crossentropy_gradient_matches_finite_differences() {
    const C: usize = 4;
    const BATCH: usize = 5;
    let mut r = rng(15);
    let logits = random_vec(&mut r, BATCH * C, -2.0, 2.0);
    let labels = [0u8, 3, 1, 3, 2];
    let scale = 1.0 / BATCH as f32;
    let mut grad = [[0.0f32; C]; BATCH];
    sparse_categorical_crossentropy::<C>(cast_slice(&logits), &labels, scale, &mut grad).unwrap();

    let numeric = numeric_gradient(&logits, 1e-2, |z| {
        let mut scratch = [[0.0f32; C]; BATCH];
        let (sum, _) =
            sparse_categorical_crossentropy::<C>(cast_slice(z), &labels, 1.0, &mut scratch)
                .unwrap();
        f64::from(sum) / BATCH as f64
    });
    assert_gradient("cross-entropy dlogits", grad.as_flattened(), &numeric);
    // Each row of (softmax − onehot)/n sums to 0.
    for row in &grad {
        assert!(row.iter().sum::<f32>().abs() < 1e-6);
    }
}

/// Bad shapes are named: labels that do not match the logits, a gradient buffer too short.
#[test]
fn crossentropy_shape_errors_name_what_is_wrong() {
    use crate::error::Error;
    let logits = [[0.5f32, -1.0, 2.0]; 4];
    let mut grad = [[0.0f32; 3]; 4];
    let r = sparse_categorical_crossentropy::<3>(&logits, &[0, 1, 2], 1.0, &mut grad);
    assert_eq!(
        r,
        Err(Error::BatchShape {
            inputs: 4,
            labels: 3
        })
    );
    let r = sparse_categorical_crossentropy::<3>(&logits, &[0, 1, 2, 0], 1.0, &mut grad[..3]);
    assert_eq!(
        r,
        Err(Error::BatchSize {
            requested: 4,
            capacity: 3
        })
    );
    assert!(sparse_categorical_crossentropy::<3>(&logits, &[0, 1, 2, 0], 1.0, &mut grad).is_ok());
}

type Small = Sequential![Flatten<2, 3, 6>, Dense<6, 5>, Relu<5>, Dense<5, 3>];

fn small_model() -> Classifier<Small, 3> {
    Classifier::new(sequential![
        Flatten::new(),
        Dense::new(),
        Relu::new(),
        Dense::new()
    ])
}

/// Mean loss over `ws.input[..n]` as `evaluate` reports it.
fn mean_loss<const B: usize>(
    model: &Classifier<Small, 3>,
    params: &<Small as Layer>::Params,
    ws: &mut Workspace<Small, 3, B>,
    n: usize,
) -> f64 {
    let mut m = Metrics::<3>::default();
    model.evaluate(params, ws, n, &mut m).unwrap();
    m.loss()
}

#[test]
fn classifier_gradients_match_finite_differences() {
    const B: usize = 6;
    const N: usize = 5; // a partial batch
    const EPS: f32 = 1e-2;
    let model = small_model();
    let mut ws: Workspace<Small, 3, B> = Zeroable::zeroed();
    let mut params: <Small as Layer>::Params = Zeroable::zeroed();
    // The first seed whose hidden pre-activations all stay clear of ReLU's kink, so finite
    // differences never straddle it.
    let mut found = false;
    for seed in 0..100 {
        let mut r = rng(1000 + seed);
        set_flat(
            &mut params,
            &random_vec(&mut r, <Small as Layer>::Params::COUNT, -0.8, 0.8),
        );
        fill_uniform_images(&mut ws.input[..N], &mut r);
        for (i, l) in ws.labels[..N].iter_mut().enumerate() {
            *l = (i % 3) as u8;
        }
        model.logits(&params, &mut ws, N).unwrap();
        // Buffers: (Flatten's, Flatten→Dense, its grad, (Dense's, Dense→ReLU, …)).
        let pre = &ws.buffers.3.1[..N];
        let margin = pre
            .iter()
            .flatten()
            .fold(f32::INFINITY, |m, v| m.min(v.abs()));
        if margin > 5.0 * EPS {
            found = true;
            break;
        }
    }
    assert!(found, "no seed gives pre-activations clear of 0");

    let mut grads: <Small as Layer>::Params = Zeroable::zeroed();
    grads.visit_mut(&mut |t| t.fill(55.0));
    let (loss_sum, _) = model
        .gradients(
            &params,
            &mut grads,
            &mut ws,
            N,
            Noise::for_step(0, 0),
            1.0 / N as f32,
        )
        .unwrap();
    let mean = mean_loss(&model, &params, &mut ws, N);
    assert!((f64::from(loss_sum) / N as f64 - mean).abs() < 1e-5);

    let mut q = params;
    let numeric = numeric_gradient(&flat(&params), EPS, |ps| {
        set_flat(&mut q, ps);
        mean_loss(&model, &q, &mut ws, N)
    });
    let analytic = flat(&grads);
    // Tensors in visit order: kernel 6×5, bias 5, kernel 5×3, bias 3.
    let parts = [
        ("dense kernel", 30),
        ("dense bias", 5),
        ("dense_1 kernel", 15),
        ("dense_1 bias", 3),
    ];
    let mut at = 0;
    for (name, len) in parts {
        assert_gradient(name, &analytic[at..at + len], &numeric[at..at + len]);
        at += len;
    }
    assert_eq!(at, analytic.len());
}

fn fill_uniform_images(images: &mut [[[f32; 3]; 2]], r: &mut Pcg32) {
    super::util::fill_uniform(r, cast_slice_mut(images), -1.0, 1.0);
}
