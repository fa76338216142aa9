//! Criterion benchmarks for flashnet live in `benches/`; this library holds what they share.

use std::ops::{Deref, DerefMut};

use flashnet_cli::cli::DataArgs;
use flashnet_cli::mnist::{Mnist, Parts};
use rand_core::Rng;
use rand_pcg::Pcg32;

/// MNIST's test set, found as the CLI finds it (`FLASHNET_DATA`, the cache) but never
/// downloaded. The error says why it is unavailable: not found offline, or a file that failed
/// its checks.
pub fn mnist_test() -> Result<Mnist, String> {
    let args = DataArgs {
        data: None,
        offline: true,
    };
    Mnist::locate_and_load(&args, Parts::Test).map_err(|e| format!("{e:#}"))
}

/// `len` values uniform in `[-0.5, 0.5)`, each replaced by an exact zero with probability
/// `zero_fraction` (0.8 is "MNIST-like": MNIST's pixels are 81% zeros), cache-line aligned.
pub fn random(len: usize, zero_fraction: f32, rng: &mut Pcg32) -> AlignedVec {
    let v: Vec<f32> = (0..len)
        .map(|_| {
            if flashnet::init::uniform01(rng) < zero_fraction {
                0.0
            } else {
                (rng.next_u32() >> 8) as f32 / 16_777_216.0 - 0.5
            }
        })
        .collect();
    AlignedVec::from(v)
}

/// An MNIST-like 8-bit image: each pixel zero with probability 4/5 (MNIST's are 81% zeros),
/// otherwise uniform in `0..256`.
pub fn mnist_like_image(rng: &mut Pcg32) -> [u8; 784] {
    core::array::from_fn(|_| {
        if rng.next_u32().is_multiple_of(5) {
            (rng.next_u32() % 256) as u8
        } else {
            0
        }
    })
}

/// One core's FMA peak loop: 12 independent chains of `iters` 8-lane FMAs (`iters·12·8·2`
/// FLOP; on Zen 4 `ymm` and `zmm` FMAs reach the same 32 FLOP/cycle). `None` where the CPU has
/// no AVX2 and FMA.
pub fn fma_chains(iters: u64) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: AVX2 and FMA were detected just above.
        return Some(unsafe { fma_chains_avx2(iters) });
    }
    let _ = iters;
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut x = [_mm256_set1_ps(1.0); 12];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for v in x.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut s = x[0];
    for v in &x[1..] {
        s = _mm256_add_ps(s, *v);
    }
    _mm256_cvtss_f32(s)
}

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
