//! Batched inference over a dataset: loss, accuracy and confusion matrix.
//!
//! The set is cut into [`MAX_SHARDS`] contiguous parts, each evaluated in batches of [`SHARD`]
//! and summed in order, whether the parts run on one thread (here) or on many
//! ([`crate::parallel::ParallelTrainer::evaluate`]): both give the same bits.

use anyhow::{Result, ensure};
use flashnet::Metrics;
use flashnet::mnist::{Dataset, PIXELS, to_input};
use flashnet::tutorial::{InferenceWorkspace, Model, Params};

use crate::parallel::{MAX_SHARDS, SHARD};

/// Samples per part of a set of `n`.
pub fn part_len(n: usize) -> usize {
    n.div_ceil(MAX_SHARDS).max(1)
}

/// Evaluates `params` on every sample of `set`, in inference mode, on this thread.
pub fn evaluate<const B: usize>(
    model: &Model,
    params: &Params,
    ws: &mut InferenceWorkspace<B>,
    set: &Dataset<'_>,
) -> Result<Metrics<10>> {
    let (images, labels) = (set.images.as_slice(), set.labels.as_slice());
    let part = part_len(set.len());
    let mut total = Metrics::default();
    for (imgs, labs) in images.chunks(part).zip(labels.chunks(part)) {
        total.merge(&evaluate_part(model, params, ws, imgs, labs)?);
    }
    Ok(total)
}

/// One part, in batches of [`SHARD`] samples.
pub fn evaluate_part<const B: usize>(
    model: &Model,
    params: &Params,
    ws: &mut InferenceWorkspace<B>,
    images: &[[u8; PIXELS]],
    labels: &[u8],
) -> Result<Metrics<10>> {
    ensure!(
        B >= SHARD,
        "internal error: a workspace of {B} samples, {SHARD} needed"
    );
    let mut metrics = Metrics::default();
    for (imgs, labs) in images.chunks(SHARD).zip(labels.chunks(SHARD)) {
        for (dst, src) in ws.input.iter_mut().zip(imgs) {
            to_input(src, dst);
        }
        ws.labels[..labs.len()].copy_from_slice(labs);
        model.evaluate(params, ws, labs.len(), &mut metrics)?;
    }
    Ok(metrics)
}
