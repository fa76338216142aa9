//! Data-parallel training on the host. A batch is cut into shards of [`SHARD`] samples; each
//! shard's gradient is computed on a worker thread, and the shards are summed in shard order
//! inside the Adam update. The cut depends on the batch alone, never on the number of threads,
//! so results are bitwise identical for any `--threads` and any run with the same seed.
//!
//! The first layer's kernel gradient (784 × 128, four fifths of the weights) is computed apart,
//! after the shards' passes: each thread takes a range of its rows, computes them for every
//! shard and applies Adam to them at once. That gradient then never leaves the core that
//! computed it. When each shard's thread computed its whole gradient, the Adam update read half
//! of it from the other core's cache, and that core's next gradient had to take its lines back:
//! two-thread steps were 1.2× faster than one-thread steps instead of nearer 2×.
//!
//! Workers are a rayon pool, whose idle threads block instead of spinning; everything is
//! allocated once in [`ParallelTrainer::new`], and a training step allocates nothing (see
//! `tests/tests/no_alloc.rs`).

use anyhow::{Result, bail, ensure};
use bytemuck::Zeroable;
use flashnet::kernels::{self, AdamStep};
use flashnet::mnist::{Dataset, PIXELS, to_input};
use flashnet::tutorial::{DeferredGrads, Layers, MAX_BATCH, Model, Params};
use flashnet::{Adam, AdamState, Metrics, Noise, Params as _, StepStats, Workspace};
use rand_core::Rng;
use rayon::prelude::*;

use crate::eval;

/// Samples per shard.
pub const SHARD: usize = 16;
/// Shards of the largest batch.
pub const MAX_SHARDS: usize = MAX_BATCH / SHARD;
/// Inputs and outputs of the first layer (its kernel is `IN × OUT`).
const IN: usize = PIXELS;
const OUT: usize = 128;
/// Threads split the first kernel's rows at multiples of this many (4 KiB of each tensor).
const ROW_ALIGN: usize = 8;

/// The first layer's kernel in `p`, typed so that a model whose first layer is not
/// `Dense<IN, OUT>` does not compile.
fn kernel(p: &mut Params) -> &mut [[f32; OUT]; IN] {
    &mut p.1.0.kernel
}

/// One shard's gradient (all but the first kernel's, see [`ParallelTrainer`]) and activations.
#[derive(Zeroable)]
struct Shard {
    grads: DeferredGrads,
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
    /// The shards' first-kernel gradients, laid out so that any split of the kernel's rows
    /// into thread ranges `r₀..r₁` owns one contiguous piece, `[r₀·MAX_SHARDS .. r₁·MAX_SHARDS]`
    /// rows long, holding shard `s`'s rows `r₀..r₁` at `s·(r₁ − r₀)`.
    first_grads: Box<FirstGrads>,
}

/// Room for every shard's first-kernel gradient, on a cache line boundary (the kernels' vector
/// loads and stores of its rows would straddle two lines otherwise, costing Adam a third).
#[derive(Zeroable)]
#[repr(C, align(64))]
struct FirstGrads([[f32; OUT]; IN * MAX_SHARDS]);

impl ParallelTrainer {
    /// Zeroed state.
    pub fn new(optimizer: Adam) -> Self {
        ParallelTrainer {
            params: bytemuck::zeroed_box(),
            adam: bytemuck::zeroed_box(),
            optimizer,
            shards: (0..MAX_SHARDS).map(|_| bytemuck::zeroed_box()).collect(),
            first_grads: bytemuck::zeroed_box(),
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
                let (loss_sum, correct) = model.gradients_deferred(
                    params,
                    &mut sh.grads,
                    &mut sh.ws,
                    hi - lo,
                    noise,
                    scale,
                )?;
                sh.stats = StepStats { loss_sum, correct };
                Ok(())
            })?;
        self.adam.iterations += 1;
        let step = self.optimizer.step_constants(self.adam.iterations);
        self.update_first_kernel(model, n, step)?;
        self.update(used, step);
        let mut total = StepStats::default();
        for sh in &self.shards[..used] {
            total.loss_sum += sh.stats.loss_sum;
            total.correct += sh.stats.correct;
        }
        Ok(total)
    }

    /// The first kernel's gradient and Adam update: each thread computes a range of its rows
    /// for every shard of the batch of `n` samples, then updates those rows with the shards'
    /// parts summed in shard order.
    fn update_first_kernel(&mut self, model: &Model, n: usize, step: AdamStep) -> Result<()> {
        let used = n.div_ceil(SHARD);
        let shards = &self.shards[..used];
        // Elementwise work over rows that each gradient gets the same bits for in any range:
        // how they are split changes nothing in the result. One range per thread, the same
        // every step, so that each core keeps its rows of everything in its own cache.
        let per = IN
            .div_ceil(rayon::current_num_threads())
            .next_multiple_of(ROW_ALIGN);
        let w = kernel(&mut self.params).as_flattened_mut();
        let m = kernel(&mut self.adam.m).as_flattened_mut();
        let v = kernel(&mut self.adam.v).as_flattened_mut();
        self.first_grads
            .0
            .par_chunks_mut(per * MAX_SHARDS)
            .zip(w.par_chunks_mut(per * OUT))
            .zip(m.par_chunks_mut(per * OUT))
            .zip(v.par_chunks_mut(per * OUT))
            .enumerate()
            .try_for_each(|(part, (((grads, w), m), v))| -> Result<()> {
                let rows = part * per..part * per + w.len() / OUT;
                let mut parts: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
                let mut grads = grads.chunks_exact_mut(rows.len());
                for ((k, sh), p) in shards.iter().enumerate().zip(&mut parts) {
                    let g = grads.next().expect("a piece per shard");
                    let len = n.min((k + 1) * SHARD) - k * SHARD;
                    model.first_kernel_gradient(&sh.ws, len, rows.clone(), g)?;
                    *p = g.as_flattened();
                }
                kernels::adam_sum(w, &parts[..used], m, v, step);
                Ok(())
            })
    }

    /// Sums the first `used` shards' gradients (in shard order) and applies Adam to every
    /// tensor but the first kernel ([`Self::update_first_kernel`]).
    fn update(&mut self, used: usize, step: AdamStep) {
        let AdamState { m, v, .. } = &mut *self.adam;
        // Tensor 0 is the first kernel, which `update_first_kernel` updated.
        debug_assert!(std::ptr::eq(
            self.params.tensor(0),
            self.params.1.0.kernel.as_flattened()
        ));
        for t in 1..Params::TENSORS {
            let mut grads: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
            for (g, sh) in grads.iter_mut().zip(&self.shards[..used]) {
                *g = sh.grads.tensor(t - 1);
            }
            let grads = &grads[..used];
            let (w, m, v) = (self.params.tensor_mut(t), m.tensor_mut(t), v.tensor_mut(t));
            // Small tensors (biases, the output layer's 1,280 weights): on this thread.
            kernels::adam_sum(w, grads, m, v, step);
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
