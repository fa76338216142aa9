//! The Dense hot path: `X[32×784]·W[784×128] + b` and its two backward shapes, on dense random
//! inputs and on MNIST-like inputs (80% exact zeros, which the kernels skip).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flashnet::kernels;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use std::hint::black_box;

const M: usize = 32;
const K: usize = 784;
const N: usize = 128;

fn random(len: usize, zero_fraction: f32, rng: &mut Pcg32) -> Vec<f32> {
    (0..len)
        .map(|_| {
            let u = flashnet::init::uniform01(rng);
            if u < zero_fraction {
                0.0
            } else {
                (rng.next_u32() >> 8) as f32 / 16_777_216.0 - 0.5
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Pcg32::seed_from_u64(7);
    let w = random(K * N, 0.0, &mut rng);
    let bias = random(N, 0.0, &mut rng);
    let dy = random(M * N, 0.0, &mut rng);
    let mut g = c.benchmark_group("matmul");
    // One FMA = 2 FLOP; criterion's "elements" here are FLOPs of the dense shape.
    g.throughput(Throughput::Elements((2 * M * K * N) as u64));
    for (name, zeros) in [("dense", 0.0f32), ("mnist_like", 0.8)] {
        let x = random(M * K, zeros, &mut rng);
        let mut y = vec![0.0; M * N];
        g.bench_function(BenchmarkId::new("forward_32x784x128", name), |b| {
            b.iter(|| kernels::matmul_bias(M, K, N, black_box(&x), black_box(&w), &bias, &mut y))
        });
        let mut dw = vec![0.0; K * N];
        g.bench_function(BenchmarkId::new("weight_grad_784x32x128", name), |b| {
            b.iter(|| kernels::matmul_tn(M, K, N, black_box(&x), black_box(&dy), &mut dw))
        });
    }
    let mut dx = vec![0.0; M * K];
    g.bench_function("input_grad_32x128x784", |b| {
        b.iter(|| kernels::matmul_nt(M, K, N, black_box(&dy), black_box(&w), &mut dx))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
