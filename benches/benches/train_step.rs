//! One training step of the tutorial model (batch 32, Adam) and batched inference, on
//! MNIST-like synthetic images (80% zero pixels).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flashnet::mnist::to_input;
use flashnet::tutorial::{self, AdamTrainer, InferenceWorkspace};
use flashnet::{Adam, Metrics, Noise};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;

fn images(n: usize, rng: &mut Pcg32) -> Vec<[u8; 784]> {
    (0..n)
        .map(|_| {
            core::array::from_fn(|_| {
                if rng.next_u32().is_multiple_of(5) {
                    (rng.next_u32() % 256) as u8
                } else {
                    0
                }
            })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Pcg32::seed_from_u64(3);
    let model = tutorial::model(tutorial::DROPOUT);
    let mut t: Box<AdamTrainer> = bytemuck::zeroed_box();
    t.init(&model, &mut rng);
    let imgs = images(256, &mut rng);
    for (i, img) in imgs.iter().enumerate() {
        to_input(img, &mut t.ws.input[i]);
        t.ws.labels[i] = (i % 10) as u8;
    }
    let adam = Adam::default();
    let mut g = c.benchmark_group("tutorial");
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_step_batch32", |b| {
        let mut step = 0;
        b.iter(|| {
            step += 1;
            t.step(&model, &adam, 32, Noise::for_step(1, step)).unwrap()
        })
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("evaluate_batch256", |b| {
        b.iter(|| {
            let mut m = Metrics::default();
            model.evaluate(&t.params, &mut t.ws, 256, &mut m).unwrap();
            m
        })
    });
    let mut one: Box<InferenceWorkspace<1>> = bytemuck::zeroed_box();
    to_input(&imgs[0], &mut one.input[0]);
    g.throughput(Throughput::Elements(1));
    g.bench_function("predict_1", |b| {
        b.iter(|| model.predict(&t.params, &mut one, 1).unwrap()[0])
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
