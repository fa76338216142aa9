//! Data-parallel training on the host. A batch is cut into shards of [`SHARD`] samples; each
//! shard's pass through the layers after the first is computed on a worker thread, and the
//! shards' gradients are summed in shard order inside the Adam update. The cut depends on the
//! batch alone, never on the number of threads, so results are bitwise identical for any
//! `--threads` and any run with the same seed.
//!
//! The first layer (784 × 128, 99% of the weights and of the work) is split by output
//! columns instead (module `columns`): each thread computes its columns of that layer for the
//! whole batch, then, after the shards' passes, its columns of the kernel's gradient, and
//! updates them. Each part of the kernel and of its Adam moments is then read and written by one core
//! only. When every shard's forward read the whole kernel, Adam's stores had to take half of it
//! back from the other core's cache each step (docs/kernel-notes.md).
//!
//! Workers are a rayon pool, whose idle threads block instead of spinning; everything is
//! allocated once in [`ParallelTrainer::new`], and a training step allocates nothing (see
//! `tests/tests/no_alloc.rs`).

use anyhow::{Result, ensure};
use bytemuck::Zeroable;
use flashnet::kernels::{self, AdamStep};
use flashnet::mnist::{Dataset, PIXELS};
use flashnet::tutorial::{Layers, MAX_BATCH, Model, Params, TailGrads};
use flashnet::{Adam, AdamState, Metrics, Noise, Params as _, StepStats, Workspace};
use rand_core::Rng;
use rayon::prelude::*;

use crate::eval;

mod batch;
mod columns;
pub use batch::Batch;
use batch::Room;
use columns::Columns;

/// Samples per shard.
pub const SHARD: usize = 16;
/// Shards of the largest batch.
pub const MAX_SHARDS: usize = MAX_BATCH / SHARD;
/// Inputs and outputs of the first layer (its kernel is `IN × OUT`).
const IN: usize = PIXELS;
const OUT: usize = 128;

/// One shard's gradient (all but the first kernel's, see [`columns`]) and activations.
#[derive(Zeroable)]
struct Shard {
    grads: TailGrads,
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

/// Which copy of the first kernel and its moments is current: the model's (`params`, `adam`)
/// or the threads' panels ([`Columns`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Current {
    /// Both hold the same values.
    Both,
    /// The model's: it was initialized or loaded since the last step.
    Model,
    /// The panels': steps were taken since the model's copy was last brought up to date.
    Columns,
}

/// Weights, Adam state and per-shard buffers. Its methods use the rayon pool they are called
/// from: call them inside [`Workers::run`].
pub struct ParallelTrainer {
    params: Box<Params>,
    adam: Box<AdamState<Params>>,
    pub optimizer: Adam,
    shards: Vec<Box<Shard>>,
    /// The first layer's columns, a range per thread.
    columns: Vec<Columns>,
    /// The step's samples, copied together when it picks them from a set.
    room: Box<Room>,
    current: Current,
}

impl ParallelTrainer {
    /// Zeroed state, with the first layer split between `threads` threads.
    pub fn new(optimizer: Adam, threads: usize) -> Self {
        ParallelTrainer {
            params: bytemuck::zeroed_box(),
            adam: bytemuck::zeroed_box(),
            optimizer,
            shards: (0..MAX_SHARDS).map(|_| bytemuck::zeroed_box()).collect(),
            columns: columns::split(threads)
                .into_iter()
                .map(Columns::new)
                .collect(),
            current: Current::Both,
            room: bytemuck::zeroed_box(),
        }
    }

    /// Fresh Glorot-uniform weights, zero optimizer state.
    pub fn init<R: Rng + ?Sized>(&mut self, model: &Model, rng: &mut R) {
        model.init(&mut self.params, rng);
        bytemuck::write_zeroes(&mut *self.adam);
        self.current = Current::Model;
    }

    /// The weights.
    pub fn params(&mut self) -> &Params {
        self.sync_model();
        &self.params
    }

    /// The weights and Adam's state.
    pub fn state(&mut self) -> (&Params, &AdamState<Params>) {
        self.sync_model();
        (&self.params, &self.adam)
    }

    /// The weights and Adam's state, to change (a checkpoint being loaded).
    pub fn state_mut(&mut self) -> (&mut Params, &mut AdamState<Params>) {
        self.sync_model();
        self.current = Current::Model;
        (&mut self.params, &mut self.adam)
    }

    /// Brings the model's copy of the first kernel up to date.
    fn sync_model(&mut self) {
        if self.current == Current::Columns {
            for c in &self.columns {
                c.store(&mut self.params, &mut self.adam);
            }
            self.current = Current::Both;
        }
    }

    /// One Adam step on `batch`.
    pub fn step(&mut self, model: &Model, batch: Batch<'_>, noise: Noise) -> Result<StepStats> {
        let n = batch.len();
        let batch = batch.contiguous(&mut self.room);
        if self.current == Current::Model {
            for c in &mut self.columns {
                c.load(&self.params, &self.adam);
            }
        }
        self.current = Current::Columns;
        let params: &Params = &self.params;
        // Each thread: its columns of the first layer, for the whole batch.
        self.columns
            .par_iter_mut()
            .for_each(|c| c.forward(model, params, batch));
        // Each shard: the rest of the network, forward and backward.
        let used = n.div_ceil(SHARD);
        let scale = 1.0 / n as f32;
        let columns = &self.columns;
        self.shards[..used]
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(k, sh)| -> Result<()> {
                let (lo, hi) = (k * SHARD, n.min((k + 1) * SHARD));
                let out = sh.ws.first_layer_output_mut();
                for c in columns {
                    for (i, row) in out[..hi - lo].iter_mut().enumerate() {
                        row[c.cols.clone()].copy_from_slice(c.row(lo + i));
                    }
                }
                for (i, l) in sh.ws.labels[..hi - lo].iter_mut().enumerate() {
                    *l = batch.label(lo + i);
                }
                let noise = noise.skip(lo as u32);
                let (loss_sum, correct) = model.tail_gradients(
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
        // Each thread: its columns of the first kernel's gradient, and their update.
        let shards = &self.shards[..used];
        self.columns
            .par_iter_mut()
            .for_each(|c| c.update(model, shards, n, step));
        self.update(used, step);
        let mut total = StepStats::default();
        for sh in &self.shards[..used] {
            total.loss_sum += sh.stats.loss_sum;
            total.correct += sh.stats.correct;
        }
        Ok(total)
    }

    /// Sums the first `used` shards' gradients (in shard order) and applies Adam to every
    /// tensor but the first kernel ([`Columns::update`]).
    fn update(&mut self, used: usize, step: AdamStep) {
        let AdamState { m, v, .. } = &mut *self.adam;
        // Tensor 0 is the first kernel, which the columns' threads updated.
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
        self.sync_model();
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
