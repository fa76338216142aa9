//! The CLI's data-parallel engine (`flashnet_cli::parallel`) on 1 thread and on every core, on
//! the best kernel path: one training step of the tutorial model (batch 32, Adam, dropout) and
//! the evaluation of 10,000 images (loss, accuracy, confusion matrix), each timed inside the
//! worker pool as `flashnet train` runs them. Both run on MNIST-like images (80% zero pixels at
//! random, labels `i mod 10`) and, if the CLI's data lookup finds it offline, on MNIST's own
//! test set: the real digits leave some pixels unlit for thousands of steps, which the noise
//! never does (Adam's moments for those weights decay towards zero, see `ADAM_FLUSH`).
//!
//! The results are bitwise the same for any thread count (`tests/tests/training.rs`); only
//! the time differs. Compare the rows of one run: this machine is shared.

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flashnet::mnist::{Dataset, Images, Labels};
use flashnet::tutorial;
use flashnet::{Adam, Noise};
use flashnet_benches::{mnist_like_image, mnist_test};
use flashnet_cli::parallel::{Batch, ParallelTrainer, Workers, default_threads};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

const IMAGES: usize = 10_000;
const BATCH: usize = 32;

/// An IDX label file (rank 1, unsigned bytes) holding `labels`.
fn label_file(labels: &[u8]) -> Vec<u8> {
    let n = u32::try_from(labels.len()).expect("fewer than 2³² labels");
    [&[0, 0, 8, 1], &n.to_be_bytes()[..], labels].concat()
}

fn bench(c: &mut Criterion) {
    let mut rng = Pcg32::seed_from_u64(5);
    let model = tutorial::model(tutorial::DROPOUT);
    let images: Vec<[u8; 784]> = (0..IMAGES).map(|_| mnist_like_image(&mut rng)).collect();
    let labels: Vec<u8> = (0..IMAGES).map(|i| (i % 10) as u8).collect();
    let label_bytes = label_file(&labels);
    let synthetic = Dataset::new(
        Images::from_pixels(&images),
        Labels::parse(&label_bytes).expect("a valid label file"),
    )
    .expect("as many labels as images");
    let mnist = mnist_test();
    let real = mnist
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|m| m.test().map_err(|e| format!("{e:#}")))
        .inspect_err(|e| eprintln!("parallel/*/mnist_test rows: skipped: {e}"))
        .ok();

    let mut counts = vec![1];
    if default_threads() > 1 {
        counts.push(default_threads());
    }

    // The data sets every row runs on: the noise, and MNIST's test set if found.
    let sets: Vec<(&str, &Dataset)> = [
        ("mnist_like", Some(&synthetic)),
        ("mnist_test", real.as_ref()),
    ]
    .into_iter()
    .filter_map(|(data, set)| Some((data, set?)))
    .collect();

    let mut g = c.benchmark_group("parallel");
    for &threads in &counts {
        let workers = Workers::new(threads).expect("a worker pool");
        // The same initial weights for every thread count; the first layer split among them.
        let mut t = ParallelTrainer::new(Adam::default(), threads);
        t.init(&model, &mut rng.clone());
        g.throughput(Throughput::Elements(BATCH as u64));
        for &(data, set) in &sets {
            let (images, labels) = (set.images.as_slice(), set.labels.as_slice());
            g.bench_function(format!("train_step_batch32/threads{threads}/{data}"), |b| {
                let mut step = 0u64;
                b.iter_custom(|iters| {
                    workers.run(|| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            step += 1;
                            let lo = (step as usize * BATCH) % (images.len() - BATCH);
                            let (x, y) = (&images[lo..lo + BATCH], &labels[lo..lo + BATCH]);
                            let batch = Batch::new(x, y).unwrap();
                            t.step(&model, batch, Noise::for_step(1, step)).unwrap();
                        }
                        start.elapsed()
                    })
                })
            });
        }
        for &(data, set) in &sets {
            g.throughput(Throughput::Elements(set.len() as u64));
            g.bench_function(format!("evaluate_10k/threads{threads}/{data}"), |b| {
                b.iter_custom(|iters| {
                    workers.run(|| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(t.evaluate(&model, set).unwrap());
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
