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

/// `C = A·B` with the `gemm` crate on one thread: `A` is `rows × inner`, `B` is `inner × cols`,
/// each given as its (column, row) strides in elements, as `gemm::gemm` takes them; `C` is
/// row-major `rows × cols`. The comparison rows of the matmul bench and the roofline.
///
/// # Panics
/// If a stride is negative or an operand's last element lies outside its slice.
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided(
    rows: usize,
    cols: usize,
    inner: usize,
    a: &[f32],
    lhs: (isize, isize),
    b: &[f32],
    rhs: (isize, isize),
    c: &mut [f32],
) {
    // The largest index a (column stride, row stride) pair reaches in a `r × q` operand.
    let last = |(cs, rs): (isize, isize), r: usize, q: usize| -> Option<usize> {
        let (cs, rs) = (usize::try_from(cs).ok()?, usize::try_from(rs).ok()?);
        (r.checked_sub(1)?.checked_mul(rs)?).checked_add(q.checked_sub(1)?.checked_mul(cs)?)
    };
    if rows == 0 || cols == 0 || inner == 0 {
        c[..rows * cols].fill(0.0);
        return;
    }
    let fits = |at: Option<usize>, len: usize| at.is_some_and(|i| i < len);
    assert!(
        fits(last(lhs, rows, inner), a.len())
            && fits(last(rhs, inner, cols), b.len())
            && rows * cols <= c.len(),
        "gemm_strided: an operand is outside its slice"
    );
    // SAFETY: every element the strides reach lies inside `a` and `b` (checked above), `C`
    // (rows × cols, row-major) inside `c`; `c` is a unique borrow, so it aliases neither.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            inner,
            c.as_mut_ptr(),
            1,
            cols as isize,
            false,
            a.as_ptr(),
            lhs.0,
            lhs.1,
            b.as_ptr(),
            rhs.0,
            rhs.1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
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
    use super::{AlignedVec, gemm_strided};

    /// The three layouts the benches use (`A·B`, `Aᵀ·B`, `A·Bᵀ` of row-major operands) against
    /// a plain triple loop on odd sizes (small integers and halves: every sum is exact).
    #[test]
    fn gemm_strided_computes_the_strided_product() {
        let (m, k, n) = (5usize, 7usize, 3usize);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 11) as f32 - 5.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5).collect();
        let (ki, ni) = (k as isize, n as isize);
        // A·B: A m×k, B k×n.
        let mut c = vec![f32::NAN; m * n];
        gemm_strided(m, n, k, &a, (1, ki), &b, (1, ni), &mut c);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum();
                assert_eq!(c[i * n + j], want, "A·B at ({i}, {j})");
            }
        }
        // Aᵀ·D: A (m×k) read as k×m, times a row-major m×n matrix D.
        let d: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
        let mut c = vec![f32::NAN; k * n];
        gemm_strided(k, n, m, &a, (ki, 1), &d, (1, ni), &mut c);
        for p in 0..k {
            for j in 0..n {
                let want: f32 = (0..m).map(|i| a[i * k + p] * d[i * n + j]).sum();
                assert_eq!(c[p * n + j], want, "Aᵀ·D at ({p}, {j})");
            }
        }
        // D·Bᵀ: D (m×n) times B (k×n) read as n×k.
        let mut c = vec![f32::NAN; m * k];
        gemm_strided(m, k, n, &d, (1, ni), &b, (ni, 1), &mut c);
        for i in 0..m {
            for q in 0..k {
                let want: f32 = (0..n).map(|j| d[i * n + j] * b[q * n + j]).sum();
                assert_eq!(c[i * k + q], want, "D·Bᵀ at ({i}, {q})");
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside its slice")]
    fn gemm_strided_refuses_an_operand_too_short_for_its_strides() {
        let (a, b, mut c) = (vec![1.0; 5 * 7 - 1], vec![1.0; 7 * 3], vec![0.0; 5 * 3]);
        gemm_strided(5, 3, 7, &a, (1, 7), &b, (1, 3), &mut c);
    }

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
