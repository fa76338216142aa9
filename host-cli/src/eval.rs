//! Batched inference over a dataset: loss, accuracy and confusion matrix.

use anyhow::Result;
use flashnet::Metrics;
use flashnet::mnist::{Dataset, to_input};
use flashnet::tutorial::{InferenceWorkspace, Model, Params};

/// Evaluates `params` on every sample of `set`, `B` at a time, in inference mode.
pub fn evaluate<const B: usize>(
    model: &Model,
    params: &Params,
    ws: &mut InferenceWorkspace<B>,
    set: &Dataset<'_>,
) -> Result<Metrics<10>> {
    let mut metrics = Metrics::default();
    let images = set.images.as_slice();
    let labels = set.labels.as_slice();
    for (imgs, labs) in images.chunks(B).zip(labels.chunks(B)) {
        let n = imgs.len();
        for (dst, src) in ws.input.iter_mut().zip(imgs) {
            to_input(src, dst);
        }
        ws.labels[..n].copy_from_slice(labs);
        model.evaluate(params, ws, n, &mut metrics)?;
    }
    Ok(metrics)
}
