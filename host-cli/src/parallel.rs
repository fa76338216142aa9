//! Data-parallel training on the host. A batch is cut into shards of [`SHARD`] samples; each
//! shard's gradient is computed on a worker thread, and the shards are summed in shard order
//! inside the Adam update. The cut depends on the batch alone, never on the number of threads,
//! so results are bitwise identical for any `--threads` and any run with the same seed.
//!
//! Workers are a rayon pool, whose idle threads block instead of spinning; everything is
//! allocated once in [`ParallelTrainer::new`], and a training step allocates nothing (see
//! `tests/tests/no_alloc.rs`).

use anyhow::{Result, bail, ensure};
use bytemuck::Zeroable;
use flashnet::kernels;
use flashnet::mnist::{Dataset, PIXELS, to_input};
use flashnet::tutorial::{Layers, MAX_BATCH, Model, Params};
use flashnet::{Adam, AdamState, Metrics, Noise, Params as _, StepStats, Workspace};
use rand_core::Rng;
use rayon::prelude::*;

use crate::eval;

/// Samples per shard.
pub const SHARD: usize = 16;
/// Shards of the largest batch.
pub const MAX_SHARDS: usize = MAX_BATCH / SHARD;
/// The parallel Adam update splits each tensor at multiples of this many scalars.
const CHUNK: usize = 4096;

/// One shard's gradient and activations.
#[derive(Zeroable)]
struct Shard {
    grads: Params,
    ws: Workspace<Layers, 10, SHARD>,
    stats: StepStats,
    metrics: Metrics<10>,
}

/// The worker threads. Idle workers block on a condition variable instead of spinning, so a
/// loaded machine is not slowed further.
pub struct Workers {
    pool: rayon::ThreadPool,
}

impl Workers {
    /// A pool of `threads` workers (at least 1).
    pub fn new(threads: usize) -> Result<Self> {
        ensure!(threads >= 1, "--threads must be at least 1");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("flashnet-{i}"))
            .build()?;
        // Wait until every worker has started: a thread allocates as it starts (its name, its
        // stack-overflow handler), which would otherwise happen during the first steps that
        // reach it, or later (seen in `tests/tests/no_alloc.rs`, about 1 run in 30).
        pool.broadcast(|_| ());
        Ok(Workers { pool })
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` on a worker, so that the steps it takes schedule their work on the pool's own
    /// queues (a step from outside the pool would allocate to enqueue it). Run the whole
    /// training loop inside.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.pool.install(f)
    }
}

/// The number of threads to use by default: the available cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Weights, Adam state and per-shard buffers. Its methods use the rayon pool they are called
/// from: call them inside [`Workers::run`].
pub struct ParallelTrainer {
    pub params: Box<Params>,
    pub adam: Box<AdamState<Params>>,
    pub optimizer: Adam,
    shards: Vec<Box<Shard>>,
}

impl ParallelTrainer {
    /// Zeroed state.
    pub fn new(optimizer: Adam) -> Self {
        ParallelTrainer {
            params: bytemuck::zeroed_box(),
            adam: bytemuck::zeroed_box(),
            optimizer,
            shards: (0..MAX_SHARDS).map(|_| bytemuck::zeroed_box()).collect(),
        }
    }

    /// Fresh Glorot-uniform weights, zero optimizer state.
    pub fn init<R: Rng + ?Sized>(&mut self, model: &Model, rng: &mut R) {
        model.init(&mut self.params, rng);
        bytemuck::write_zeroes(&mut *self.adam);
    }

    /// One Adam step on the batch `images` with its `labels` (the same length, `1..=MAX_BATCH`).
    pub fn step(
        &mut self,
        model: &Model,
        images: &[[u8; PIXELS]],
        labels: &[u8],
        noise: Noise,
    ) -> Result<StepStats> {
        let n = images.len();
        if n == 0 || n > MAX_BATCH {
            bail!("batch size {n} is outside 1..={MAX_BATCH}");
        }
        if labels.len() != n {
            bail!("a batch of {n} images has {} labels", labels.len());
        }
        let used = n.div_ceil(SHARD);
        let scale = 1.0 / n as f32;
        let params: &Params = &self.params;
        self.shards[..used]
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(k, sh)| -> Result<()> {
                let (lo, hi) = (k * SHARD, n.min((k + 1) * SHARD));
                for (dst, src) in sh.ws.input.iter_mut().zip(&images[lo..hi]) {
                    to_input(src, dst);
                }
                sh.ws.labels[..hi - lo].copy_from_slice(&labels[lo..hi]);
                let noise = noise.skip(lo as u32);
                let (loss_sum, correct) =
                    model.gradients(params, &mut sh.grads, &mut sh.ws, hi - lo, noise, scale)?;
                sh.stats = StepStats { loss_sum, correct };
                Ok(())
            })?;
        self.update(used);
        let mut total = StepStats::default();
        for sh in &self.shards[..used] {
            total.loss_sum += sh.stats.loss_sum;
            total.correct += sh.stats.correct;
        }
        Ok(total)
    }

    /// Sums the first `used` shards' gradients (in shard order) and applies Adam, in parallel
    /// over chunks of each tensor.
    fn update(&mut self, used: usize) {
        self.adam.iterations += 1;
        let step = self.optimizer.step_constants(self.adam.iterations);
        let AdamState { m, v, .. } = &mut *self.adam;
        for t in 0..Params::TENSORS {
            let mut grads: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
            for (g, sh) in grads.iter_mut().zip(&self.shards[..used]) {
                *g = sh.grads.tensor(t);
            }
            let grads = &grads[..used];
            let (w, m, v) = (self.params.tensor_mut(t), m.tensor_mut(t), v.tensor_mut(t));
            // Adam on `w[lo..]` etc., the shards' gradients summed in order inside the kernel.
            let part = |lo: usize, w: &mut [f32], m: &mut [f32], v: &mut [f32]| {
                let hi = lo + w.len();
                let mut parts: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
                for (p, g) in parts.iter_mut().zip(grads) {
                    *p = &g[lo..hi];
                }
                kernels::adam_sum(w, &parts[..grads.len()], m, v, step);
            };
            // Elementwise work: how it is split does not change a single bit of the result.
            // One contiguous part per thread, the same every step, so that each core keeps
            // its part of the weights and moments in its own cache.
            let threads = rayon::current_num_threads();
            if w.len() <= CHUNK || threads == 1 {
                part(0, w, m, v);
            } else {
                let per = w.len().div_ceil(threads).next_multiple_of(CHUNK);
                w.par_chunks_mut(per)
                    .zip(m.par_chunks_mut(per))
                    .zip(v.par_chunks_mut(per))
                    .enumerate()
                    .for_each(|(c, ((w, m), v))| part(c * per, w, m, v));
            }
        }
    }

    /// Loss, accuracy and confusion matrix on `set`, in inference mode. The set is cut into
    /// [`MAX_SHARDS`] parts summed in order, so the result does not depend on the thread count.
    pub fn evaluate(&mut self, model: &Model, set: &Dataset<'_>) -> Result<Metrics<10>> {
        let (images, labels) = (set.images.as_slice(), set.labels.as_slice());
        let part = eval::part_len(set.len());
        let params: &Params = &self.params;
        self.shards
            .par_iter_mut()
            .zip(images.par_chunks(part).zip(labels.par_chunks(part)))
            .try_for_each(|(sh, (imgs, labs))| -> Result<()> {
                sh.metrics = eval::evaluate_part(model, params, &mut sh.ws, imgs, labs)?;
                Ok(())
            })?;
        let parts = set.len().div_ceil(part);
        let mut total = Metrics::<10>::default();
        for sh in &self.shards[..parts] {
            total.merge(&sh.metrics);
        }
        Ok(total)
    }
}
