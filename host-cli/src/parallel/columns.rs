//! The first layer split between threads by output columns. Each thread owns a range of the
//! first `Dense` layer's 128 outputs: it keeps those columns of the kernel and of its Adam
//! moments as contiguous panels, computes them for the whole batch, computes their gradient
//! and updates them. No other thread reads or writes them, so they stay in its core's cache.
//!
//! Every output and gradient element is the same chain of products in the same order whatever
//! the columns around it (tested in the core, for every kernel path), so the split changes no
//! bit of the result.

use std::ops::Range;

use bytemuck::{Pod, Zeroable};
use flashnet::AdamState;
use flashnet::kernels::{self, AdamStep};
use flashnet::mnist::{SIDE, to_input};
use flashnet::tutorial::{MAX_BATCH, Model, Params};

use super::{Batch, IN, MAX_SHARDS, OUT, SHARD, Shard};

/// Columns go to threads in multiples of this many: a cache line of each row of the kernel.
const LINE: usize = 16;

/// `LINE` floats on a cache line boundary: the panels' unit, so that each one is aligned.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([f32; LINE]);

/// A zeroed, cache-line aligned buffer of `len` floats (a multiple of [`LINE`]).
fn lines(len: usize) -> Box<[Line]> {
    bytemuck::zeroed_slice_box(len / LINE)
}

fn floats(b: &[Line]) -> &[f32] {
    bytemuck::cast_slice(b)
}

fn floats_mut(b: &mut [Line]) -> &mut [f32] {
    bytemuck::cast_slice_mut(b)
}

/// The column ranges of `parts` threads: equal multiples of [`LINE`], the last one shorter if
/// need be, never empty (fewer ranges than `parts` if there are not enough lines).
pub(super) fn split(parts: usize) -> Vec<Range<usize>> {
    let per = OUT.div_ceil(parts.max(1)).next_multiple_of(LINE);
    (0..OUT).step_by(per).map(|j| j..OUT.min(j + per)).collect()
}

/// One thread's columns `cols` of the first layer: its panels (`IN` rows of `cols.len()`) and
/// buffers.
pub(super) struct Columns {
    pub cols: Range<usize>,
    w: Box<[Line]>,
    m: Box<[Line]>,
    v: Box<[Line]>,
    /// The batch's inputs, converted by this thread for its own use.
    x: Box<[[[f32; SIDE]; SIDE]; MAX_BATCH]>,
    /// Its columns of the first layer's outputs, one row per sample.
    out: Box<[Line]>,
    /// Its columns of each shard's kernel gradient.
    grads: Box<[Line]>,
    /// One shard's output gradient, its columns made contiguous.
    scratch: Box<[Line]>,
}

impl Columns {
    /// Zeroed panels and buffers for columns `cols` (multiples of [`LINE`]).
    pub fn new(cols: Range<usize>) -> Self {
        let width = cols.len();
        assert!(
            cols.start.is_multiple_of(LINE) && width.is_multiple_of(LINE) && cols.end <= OUT,
            "columns {cols:?} of {OUT}, in whole lines of {LINE}"
        );
        Columns {
            w: lines(IN * width),
            m: lines(IN * width),
            v: lines(IN * width),
            x: bytemuck::zeroed_box(),
            out: lines(MAX_BATCH * width),
            grads: lines(MAX_SHARDS * IN * width),
            scratch: lines(SHARD * width),
            cols,
        }
    }

    /// Its columns of the model's output row `i`, as last computed.
    pub fn row(&self, i: usize) -> &[f32] {
        let width = self.cols.len();
        &floats(&self.out)[i * width..(i + 1) * width]
    }

    /// Copies its columns of the first kernel and of their moments from `params` and `adam`.
    pub fn load(&mut self, params: &Params, adam: &AdamState<Params>) {
        let kernels = [&params.1.0.kernel, &adam.m.1.0.kernel, &adam.v.1.0.kernel];
        for (panel, kernel) in [&mut self.w, &mut self.m, &mut self.v]
            .into_iter()
            .zip(kernels)
        {
            let rows = floats_mut(panel).chunks_exact_mut(self.cols.len());
            for (dst, src) in rows.zip(kernel) {
                dst.copy_from_slice(&src[self.cols.clone()]);
            }
        }
    }

    /// Copies its columns of the first kernel and of their moments into `params` and `adam`.
    pub fn store(&self, params: &mut Params, adam: &mut AdamState<Params>) {
        let AdamState { m, v, .. } = adam;
        let kernels = [&mut params.1.0.kernel, &mut m.1.0.kernel, &mut v.1.0.kernel];
        for (panel, kernel) in [&self.w, &self.m, &self.v].into_iter().zip(kernels) {
            let rows = floats(panel).chunks_exact(self.cols.len());
            for (src, dst) in rows.zip(kernel) {
                dst[self.cols.clone()].copy_from_slice(src);
            }
        }
    }

    /// Converts the batch's images and computes its columns of the first layer's outputs for
    /// all of them.
    pub fn forward(&mut self, model: &Model, params: &Params, batch: Batch<'_>) {
        let n = batch.len();
        for (dst, src) in self.x.iter_mut().zip(batch.images()) {
            to_input(src, dst);
        }
        model.first_layer_columns(
            &self.x[..n],
            floats(&self.w),
            &params.1.0.bias,
            self.cols.clone(),
            floats_mut(&mut self.out),
        );
    }

    /// Computes its columns of the first kernel's gradient for each of the batch's `shards`
    /// (after their tail passes) and updates them with Adam, the shards' parts summed in order.
    pub fn update(&mut self, model: &Model, shards: &[Box<Shard>], n: usize, step: AdamStep) {
        let width = self.cols.len();
        let mut parts: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
        let mut grads = floats_mut(&mut self.grads).chunks_exact_mut(IN * width);
        for ((k, sh), part) in shards.iter().enumerate().zip(&mut parts) {
            let g = grads.next().expect("room for every shard");
            let (lo, hi) = (k * SHARD, n.min((k + 1) * SHARD));
            model.first_kernel_columns_gradient(
                &self.x[lo..hi],
                &sh.ws.first_layer_output_grad()[..hi - lo],
                self.cols.clone(),
                floats_mut(&mut self.scratch),
                g,
            );
            *part = g;
        }
        kernels::adam_sum(
            floats_mut(&mut self.w),
            &parts[..shards.len()],
            floats_mut(&mut self.m),
            floats_mut(&mut self.v),
            step,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_the_columns_in_whole_lines() {
        for parts in 1..=20 {
            let s = split(parts);
            assert!(s.len() <= parts.min(OUT / LINE), "{parts}: {s:?}");
            assert_eq!(s.first().map(|r| r.start), Some(0));
            assert_eq!(s.last().map(|r| r.end), Some(OUT));
            for w in s.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            assert!(
                s.iter()
                    .all(|r| !r.is_empty() && r.start % LINE == 0 && r.len() % LINE == 0)
            );
        }
        assert_eq!(split(2), [0..64, 64..128]);
        assert_eq!(split(3), [0..48, 48..96, 96..128]);
    }
}
