//! Criterion benchmarks for flashnet live in `benches/`; this library holds what they share.

use std::ops::{Deref, DerefMut};

/// An `f32` buffer starting on a 64-byte boundary, as flashnet's weights and workspaces do
/// (`DenseParams`, `Workspace` and the chain's activations are cache-line aligned), so that
/// kernels are timed on the alignment they see in a model.
pub struct AlignedVec {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let buf = vec![0.0f32; len + 15];
        let start = buf.as_ptr().align_offset(64);
        assert!(start + len <= buf.len(), "f32 buffers are 4-byte aligned");
        AlignedVec { buf, start, len }
    }
}

impl From<&[f32]> for AlignedVec {
    fn from(v: &[f32]) -> Self {
        let mut a = AlignedVec::zeros(v.len());
        a.copy_from_slice(v);
        a
    }
}

impl From<Vec<f32>> for AlignedVec {
    fn from(v: Vec<f32>) -> Self {
        AlignedVec::from(v.as_slice())
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedVec;

    #[test]
    fn starts_on_a_cache_line_and_keeps_values() {
        for len in [0, 1, 17, 785] {
            let v: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let a = AlignedVec::from(v.clone());
            assert_eq!(a.as_ptr() as usize % 64, 0);
            assert_eq!(&a[..], &v[..]);
        }
    }
}
