//! The tutorial model (784→128 ReLU, dropout 0.2, →10) end to end, per kernel path: one
//! training step (batch 32, Adam), inference on 1 sample and on 10,000 samples, on MNIST-like
//! synthetic images (80% zero pixels, like MNIST's ~81%).
//!
//! Each path is selected with `kernels::force` before its benchmarks (the layers call the
//! global dispatch). Throughput is in samples ("elem/s" = samples/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flashnet::kernels;
use flashnet::mnist::to_input;
use flashnet::tutorial::{self, AdamTrainer, InferenceWorkspace};
use flashnet::{Adam, Metrics, Noise};
use flashnet_benches::mnist_like_image;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

/// Inference batch for the 10,000-image runs: the CLI's (`flashnet_cli::parallel::SHARD`).
const EVAL_BATCH: usize = 16;
const EVAL_IMAGES: usize = 10_000;

fn images(n: usize, rng: &mut Pcg32) -> Vec<[u8; 784]> {
    (0..n).map(|_| mnist_like_image(rng)).collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Pcg32::seed_from_u64(3);
    let model = tutorial::model(tutorial::DROPOUT);
    let mut t: Box<AdamTrainer> = bytemuck::zeroed_box();
    t.init(&model, &mut rng);
    let imgs = images(EVAL_IMAGES, &mut rng);
    for (i, img) in imgs.iter().take(tutorial::MAX_BATCH).enumerate() {
        to_input(img, &mut t.ws.input[i]);
        t.ws.labels[i] = (i % 10) as u8;
    }
    // As the CLI evaluates: the 8-bit images, converted batch by batch into one workspace that
    // stays in cache (the conversion is timed too).
    let mut eval: Box<InferenceWorkspace<EVAL_BATCH>> = bytemuck::zeroed_box();
    let labels: Vec<u8> = (0..EVAL_IMAGES).map(|i| (i % 10) as u8).collect();
    let mut one: Box<InferenceWorkspace<1>> = bytemuck::zeroed_box();
    to_input(&imgs[0], &mut one.input[0]);
    let adam = Adam::default();
    let before = kernels::active();

    let mut g = c.benchmark_group("tutorial");
    for path in kernels::available().into_iter().rev() {
        kernels::force(path).expect("available path");
        assert_eq!(kernels::active(), path);
        g.throughput(Throughput::Elements(32));
        g.bench_function(format!("train_step_batch32/{path}"), |b| {
            let mut step = 0;
            b.iter(|| {
                step += 1;
                t.step(&model, &adam, 32, Noise::for_step(1, step)).unwrap()
            })
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("predict_1/{path}"), |b| {
            b.iter(|| model.predict(&t.params, &mut one, 1).unwrap()[0])
        });
        g.throughput(Throughput::Elements(EVAL_IMAGES as u64));
        g.bench_function(format!("predict_10k/{path}"), |b| {
            b.iter(|| {
                let mut top = 0.0f32;
                for batch in imgs.chunks(EVAL_BATCH) {
                    for (dst, src) in eval.input.iter_mut().zip(batch) {
                        to_input(src, dst);
                    }
                    top += model.predict(&t.params, &mut eval, batch.len()).unwrap()[0][0];
                }
                top
            })
        });
        g.throughput(Throughput::Elements(EVAL_IMAGES as u64));
        g.bench_function(format!("evaluate_10k/{path}"), |b| {
            b.iter(|| {
                let mut m = Metrics::default();
                for (batch, labs) in imgs.chunks(EVAL_BATCH).zip(labels.chunks(EVAL_BATCH)) {
                    for (dst, src) in eval.input.iter_mut().zip(batch) {
                        to_input(src, dst);
                    }
                    eval.labels[..labs.len()].copy_from_slice(labs);
                    model
                        .evaluate(&t.params, &mut eval, batch.len(), &mut m)
                        .unwrap();
                }
                m.accuracy()
            })
        });
    }
    g.finish();
    kernels::force(before).expect("restore the original path");
}

criterion_group!(benches, bench);
criterion_main!(benches);
