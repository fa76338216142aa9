//! Sparse categorical cross-entropy from logits, fused with softmax.
#![forbid(unsafe_code)]

use crate::error::Error;
use crate::kernels;

/// Sums `logsumexp(z) − z[label]` over the rows and writes `(softmax(z) − onehot) · grad_scale`
/// into `grad` (pass `1/n` for the gradient of the batch mean). Returns `(loss_sum, correct)`.
///
/// A label `≥ C` is an [`Error::Label`], a label count other than the batch's an
/// [`Error::BatchShape`], a `grad` shorter than the batch an [`Error::BatchSize`]; all are
/// checked before anything is computed.
pub fn sparse_categorical_crossentropy<const C: usize>(
    logits: &[[f32; C]],
    labels: &[u8],
    grad_scale: f32,
    grad: &mut [[f32; C]],
) -> Result<(f32, u32), Error> {
    let n = logits.len();
    if labels.len() != n {
        return Err(Error::BatchShape {
            inputs: n,
            labels: labels.len(),
        });
    }
    if grad.len() < n {
        // `grad` is the caller's workspace for this batch.
        return Err(Error::BatchSize {
            requested: n,
            capacity: grad.len(),
        });
    }
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= C)
    {
        return Err(Error::Label {
            index,
            label,
            classes: C,
        });
    }
    Ok(kernels::softmax_cross_entropy(
        C,
        logits.as_flattened(),
        labels,
        grad_scale,
        grad[..n].as_flattened_mut(),
    ))
}
