//! The numeric kernels behind every layer: the only place in flashnet that touches raw loops.
//!
//! Layers see these shapes through one small interface (free functions on row-major `f32`
//! slices with explicit `m, k, n`, and 8-bit pixels in); each architecture-specific path
//! implements the same contract ([`Kernels`]) and is tested against [`portable`], the reference
//! implementation and test oracle.
//!
//! | kernel | shape | used by |
//! |---|---|---|
//! | [`matmul_bias`] | `C[m×n] = A[m×k]·B[k×n] + bias[n]` | Dense forward (`X·W + b`) |
//! | [`matmul_bias_relu`] | `max(A·B + bias, 0)` | fused Dense + ReLU, for callers (¹) |
//! | [`matmul_tn`] | `C[k×n] = A[m×k]ᵀ·B[m×n]` | Dense weight gradient (`Xᵀ·dY`) |
//! | [`matmul_nt`] | `C[m×k] = A[m×n]·B[k×n]ᵀ` | Dense input gradient (`dY·Wᵀ`) |
//! | [`column_sums`] | `out[n] = Σ_rows A[m×n]` | Dense bias gradient |
//! | [`relu`], [`relu_backward`] | elementwise | ReLU |
//! | [`bytes_to_unit`] | elementwise | 8-bit pixels to inputs (`÷255`) |
//! | [`dropout_mask`], [`mul`] | elementwise | Dropout |
//! | [`softmax`], [`softmax_cross_entropy`] | per row | Softmax, loss |
//! | [`adam`], [`adam_sum`], [`sgd`] | elementwise | optimizers (`adam_sum`: shards' gradients summed in the same pass) |
//!
//! (¹) The layer chain keeps ReLU a layer of its own (`Relu<N>` after `Dense`); its separate
//! pass (a copy and a `relu`) is 1.8% of a 10,000-image inference by `perf` (AVX2, Zen 3), so the
//! chain does not fuse it. (It was 5.3% while LLVM compiled the in-place `relu` into a masked
//! store of zeros, `vmaskmovps`, which is microcoded on AMD; the x86 paths now use `maxps`.)
//!
//! The shaped kernels (matmuls, `column_sums`, `softmax*`) panic if a slice is shorter than its
//! shape says (a programming error in the caller, never reachable from data: the layers derive
//! all shapes from const generics); the elementwise ones work over the shortest of their slices.
//!
//! # Paths
//!
//! | [`Path`] | module | where |
//! |---|---|---|
//! | `Portable` | [`portable`] | everywhere (plain Rust, LLVM-vectorized for the target baseline) |
//! | `Avx2` | `x86_avx2` | x86-64 with AVX2 + FMA (runtime detection) |
//! | `Avx512` | `x86_avx512` | x86-64 with AVX-512F (runtime detection) |
//! | `Neon` | `aarch64_neon` | aarch64 with NEON (compile time: part of the aarch64 baseline) |
//!
//! The free functions dispatch to [`active`]: the best path this CPU supports, chosen once on
//! first use (`cpufeatures`, which also checks with `XGETBV` that the OS saves the AVX /
//! AVX-512 registers; on targets without runtime detection, the enabled target features decide
//! at compile time) unless [`force`] picked another. Each path's kernels can also be called
//! directly through its [`Kernels`] value ([`Path::kernels`]), which is what the tests and
//! benches do.
//!
//! # Numerics across paths
//!
//! Elementwise kernels, `column_sums`, `softmax`, `softmax_cross_entropy`, `adam`, `adam_sum`
//! and `sgd` give bitwise the same results on every path. The matrix products of the SIMD paths use fused
//! multiply-adds: they agree bit for bit with each other (`matmul_bias`, `matmul_tn`), and with
//! portable up to rounding (relative error `≤ k·2⁻²⁴` of the sum of the absolute terms).
//! Zero entries of `A` are skipped exactly by `matmul_bias` and `matmul_tn` on every path.

use core::fmt;

pub mod portable;
#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
))]
mod simd;

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub mod x86_avx2;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub mod x86_avx512;

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub mod aarch64_neon;

pub use portable::{argmax, dropout_scale, dropout_threshold};

/// Test hook: for every SIMD path this CPU runs, `(path, (nonzeros, sampled))` of the sample
/// by which its `matmul_bias` chooses between the dense and sparse kernels for a block of `A`.
#[cfg(all(
    test,
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )
))]
pub(crate) fn sampled_nonzeros(block: &[f32]) -> std::vec::Vec<(Path, (usize, usize))> {
    let mut out = std::vec::Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = x86_avx2::Avx2::new() {
            out.push((Path::Avx2, simd::sampled_nonzeros(k, block)));
        }
        if let Some(k) = x86_avx512::Avx512::new() {
            out.push((Path::Avx512, simd::sampled_nonzeros(k, block)));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sample = simd::sampled_nonzeros(aarch64_neon::Neon, block);
        out.push((Path::Neon, sample));
    }
    out
}

/// Test hook: the sample's shape (`simd::sampled_nonzeros`): runs of `.0` floats, one per `.1`
/// floats, blocks of up to `.2` floats counted whole.
#[cfg(all(
    test,
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )
))]
pub(crate) const SAMPLE_SHAPE: (usize, usize, usize) = (
    simd::SAMPLE_RUN,
    simd::SAMPLE_STRIDE,
    simd::SAMPLE_ALL_UP_TO,
);

/// Test hook: for every SIMD path this CPU runs, `(path, sparse_gather, sparse_outer)` results
/// of the same sparse `Aᵀ·B` (see `simd::sparse_tn_both`).
#[cfg(all(
    test,
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )
))]
#[allow(clippy::type_complexity)]
pub(crate) fn sparse_tn_pairs(
    rows: usize,
    steps: usize,
    cols: usize,
    a: &[f32],
    b: &[f32],
) -> std::vec::Vec<(Path, std::vec::Vec<f32>, std::vec::Vec<f32>)> {
    let mut out = std::vec::Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = x86_avx2::Avx2::new() {
            let (g, o) = simd::sparse_tn_both(k, rows, steps, cols, a, b);
            out.push((Path::Avx2, g, o));
        }
        if let Some(k) = x86_avx512::Avx512::new() {
            let (g, o) = simd::sparse_tn_both(k, rows, steps, cols, a, b);
            out.push((Path::Avx512, g, o));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let (g, o) = simd::sparse_tn_both(aarch64_neon::Neon, rows, steps, cols, a, b);
        out.push((Path::Neon, g, o));
    }
    out
}

/// One implementation of every kernel: [`portable::Portable`], `x86_avx2::Avx2`,
/// `x86_avx512::Avx512`, `aarch64_neon::Neon`. A value of an architecture's type exists only on
/// a CPU that supports it, which is what makes these methods safe.
///
/// Each method has the contract of the free function of the same name in this module.
#[allow(clippy::too_many_arguments)]
pub trait Kernels: Sync {
    /// Which path this is.
    fn path(&self) -> Path;
    /// See [`matmul_bias`].
    fn matmul_bias(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        bias: &[f32],
        c: &mut [f32],
    );
    /// See [`matmul_bias_relu`].
    fn matmul_bias_relu(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        bias: &[f32],
        c: &mut [f32],
    );
    /// See [`matmul_tn`].
    fn matmul_tn(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        self.matmul_tn_strided(m, k, n, a, k, b, c)
    }
    /// See [`matmul_tn_strided`].
    #[allow(clippy::too_many_arguments)]
    fn matmul_tn_strided(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        c: &mut [f32],
    );
    /// See [`matmul_nt`].
    fn matmul_nt(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]);
    /// See [`column_sums`].
    fn column_sums(&self, m: usize, n: usize, a: &[f32], out: &mut [f32]);
    /// See [`relu`].
    fn relu(&self, x: &mut [f32]);
    /// See [`bytes_to_unit`].
    fn bytes_to_unit(&self, src: &[u8], dst: &mut [f32]);
    /// See [`relu_backward`].
    fn relu_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]);
    /// See [`mul`].
    fn mul(&self, a: &[f32], b: &[f32], out: &mut [f32]);
    /// See [`dropout_mask`].
    fn dropout_mask(&self, mask: &mut [f32], rate: f32, key: u64, first: u32);
    /// See [`softmax`].
    fn softmax(&self, n: usize, x: &[f32], out: &mut [f32]);
    /// See [`softmax_cross_entropy`].
    fn softmax_cross_entropy(
        &self,
        n: usize,
        logits: &[f32],
        labels: &[u8],
        grad_scale: f32,
        grad: &mut [f32],
    ) -> (f32, u32);
    /// See [`adam`].
    fn adam(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: AdamStep) {
        self.adam_sum(w, &[g], m, v, step)
    }
    /// See [`adam_sum`].
    fn adam_sum(
        &self,
        w: &mut [f32],
        grads: &[&[f32]],
        m: &mut [f32],
        v: &mut [f32],
        step: AdamStep,
    );
    /// See [`sgd`].
    fn sgd(&self, w: &mut [f32], g: &[f32], lr: f32);
}

/// A kernel implementation, by instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Path {
    /// Plain Rust ([`portable`]), the reference.
    Portable,
    /// x86-64 AVX2 + FMA, 8 lanes.
    Avx2,
    /// x86-64 AVX-512F, 16 lanes.
    Avx512,
    /// aarch64 NEON (Advanced SIMD), 4 lanes.
    Neon,
}

/// [`force`] was asked for a path this CPU (or this build) does not support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unsupported(pub Path);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} kernels are not supported on this CPU or target",
            self.0
        )
    }
}

impl core::error::Error for Unsupported {}

/// A name that is not one of `portable`, `avx2`, `avx512`, `neon`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownPath;

impl fmt::Display for UnknownPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown kernel path (expected portable, avx2, avx512 or neon)")
    }
}

impl core::error::Error for UnknownPath {}

impl Path {
    /// Every path, in order of preference (best last).
    pub const ALL: [Path; 4] = [Path::Portable, Path::Neon, Path::Avx2, Path::Avx512];

    /// `"portable"`, `"avx2"`, `"avx512"` or `"neon"` (what `FLASHNET_KERNELS` takes).
    pub const fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
            Path::Neon => "neon",
        }
    }

    /// Parses a [`Path::name`] (ASCII case and surrounding whitespace ignored).
    pub fn from_name(name: &str) -> Option<Path> {
        let name = name.trim();
        Path::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether this CPU and build can run this path.
    pub fn is_available(self) -> bool {
        self.kernels().is_some()
    }

    /// This path's kernels, if this CPU and build can run them.
    pub fn kernels(self) -> Option<&'static dyn Kernels> {
        match self {
            Path::Portable => Some(&portable::Portable),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Path::Avx2 => x86_avx2::Avx2::new().map(x86_avx2::Avx2::as_static),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Path::Avx512 => x86_avx512::Avx512::new().map(x86_avx512::Avx512::as_static),
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Path::Neon => Some(&aarch64_neon::Neon),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Path {
    type Err = UnknownPath;
    fn from_str(s: &str) -> Result<Path, UnknownPath> {
        Path::from_name(s).ok_or(UnknownPath)
    }
}

/// The paths this CPU and build support, best first (portable is always last).
pub fn available() -> heapless::Vec<Path, 4> {
    let mut out = heapless::Vec::new();
    for p in Path::ALL.into_iter().rev() {
        if p.is_available() {
            // Cannot fail: at most 4 paths.
            let _ = out.push(p);
        }
    }
    out
}

/// The best path this CPU and build support.
pub fn best() -> Path {
    available().first().copied().unwrap_or(Path::Portable)
}

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
))]
mod choice {
    use super::Path;
    use core::sync::atomic::{AtomicU8, Ordering};

    const UNSET: u8 = u8::MAX;
    /// The active path (`Path as u8`), or `UNSET` until first use.
    static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

    fn decode(v: u8) -> Path {
        match v {
            1 => Path::Avx2,
            2 => Path::Avx512,
            3 => Path::Neon,
            _ => Path::Portable,
        }
    }

    #[inline]
    pub fn active() -> Path {
        let v = ACTIVE.load(Ordering::Relaxed);
        if v != UNSET {
            return decode(v);
        }
        // First use: detect once. A concurrent `force` wins over the detection.
        let best = initial();
        match ACTIVE.compare_exchange(UNSET, best as u8, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => best,
            Err(v) => decode(v),
        }
    }

    pub fn set(p: Path) {
        ACTIVE.store(p as u8, Ordering::Relaxed);
    }

    /// The best path; test builds honour `FLASHNET_KERNELS` so that CI can run the whole core
    /// test suite on each path (an unknown or unavailable name fails loudly).
    fn initial() -> Path {
        #[cfg(test)]
        if let Ok(name) = std::env::var("FLASHNET_KERNELS") {
            let p = Path::from_name(&name)
                .unwrap_or_else(|| panic!("FLASHNET_KERNELS={name:?}: unknown kernel path"));
            assert!(
                p.is_available(),
                "FLASHNET_KERNELS={name:?}: not available here"
            );
            return p;
        }
        super::best()
    }
}

#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod choice {
    use super::Path;

    #[inline]
    pub fn active() -> Path {
        Path::Portable
    }

    pub fn set(_: Path) {}
}

/// The path the free functions of this module use: the best one this CPU supports, detected on
/// first use, unless [`force`]d.
#[inline]
pub fn active() -> Path {
    choice::active()
}

/// Makes every later kernel call (on all threads) use `path`; refuses a path this CPU or build
/// does not support. The choice is process-wide: set it once at start-up (the CLI does so from
/// `FLASHNET_KERNELS`), not while other threads are mid-computation if their results must come
/// from a single path.
pub fn force(path: Path) -> Result<(), Unsupported> {
    if !path.is_available() {
        return Err(Unsupported(path));
    }
    choice::set(path);
    Ok(())
}

/// Calls `$method` on the active path's kernels.
macro_rules! dispatch {
    ($method:ident($($arg:expr),* $(,)?)) => {{
        match active() {
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Path::Avx512 => match x86_avx512::Avx512::new() {
                Some(k) => k.$method($($arg),*),
                None => portable::Portable.$method($($arg),*),
            },
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Path::Avx2 => match x86_avx2::Avx2::new() {
                Some(k) => k.$method($($arg),*),
                None => portable::Portable.$method($($arg),*),
            },
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            Path::Neon => aarch64_neon::Neon.$method($($arg),*),
            _ => portable::Portable.$method($($arg),*),
        }
    }};
}

/// `C[m×n] = A[m×k]·B[k×n] + bias[n]`, all row-major.
///
/// Zero entries of `A` are skipped: they add exactly `0` (MNIST inputs are ~80% zeros).
pub fn matmul_bias(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
) {
    dispatch!(matmul_bias(m, k, n, a, b, bias, c))
}

/// `C = max(A·B + bias, 0)`: [`matmul_bias`] followed by [`relu`], in one pass.
pub fn matmul_bias_relu(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
) {
    dispatch!(matmul_bias_relu(m, k, n, a, b, bias, c))
}

/// `C[k×n] = A[m×k]ᵀ·B[m×n]`, all row-major (overwrites `C`). Zero entries of `A` are skipped.
pub fn matmul_tn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    dispatch!(matmul_tn(m, k, n, a, b, c))
}

/// [`matmul_tn`] with `A`'s rows `lda ≥ k` elements apart: `A[i][p]` is `a[i·lda + p]`, so
/// `A` may be columns `p₀..p₀ + k` of a wider matrix (`a` starting at column `p₀`). Each row of
/// `C` is the same bits as in [`matmul_tn`] over the whole matrix: a host can compute a
/// weight gradient's rows in ranges, each on the core that updates them.
#[allow(clippy::too_many_arguments)]
pub fn matmul_tn_strided(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    c: &mut [f32],
) {
    dispatch!(matmul_tn_strided(m, k, n, a, lda, b, c))
}

/// `C[m×k] = A[m×n]·B[k×n]ᵀ`, all row-major (overwrites `C`).
pub fn matmul_nt(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    dispatch!(matmul_nt(m, k, n, a, b, c))
}

/// `out[j] = Σ_i A[i][j]` over the rows of `A[m×n]` (the bias gradient).
pub fn column_sums(m: usize, n: usize, a: &[f32], out: &mut [f32]) {
    dispatch!(column_sums(m, n, a, out))
}

/// `x = max(x, 0)` in place (`-0.0` and NaN become `+0.0`).
pub fn relu(x: &mut [f32]) {
    dispatch!(relu(x))
}

/// `dst[i] = src[i] / 255` rounded once to `f32` (what Keras' `x / 255.0` gives after its cast
/// to `float32`), over the shorter of the two slices: 8-bit pixels to model inputs.
pub fn bytes_to_unit(src: &[u8], dst: &mut [f32]) {
    dispatch!(bytes_to_unit(src, dst))
}

/// `dx = dy` where the ReLU output `y > 0`, else `0`.
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    dispatch!(relu_backward(y, dy, dx))
}

/// `out = a ⊙ b`, elementwise.
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    dispatch!(mul(a, b, out))
}

/// Fills `mask` with inverted-dropout factors: `0` with probability `rate`, else `1/(1-rate)`.
///
/// Element `j` is dropped when [`crate::noise::bits`]`(key, first + j)` is below
/// [`dropout_threshold`]`(rate)`: the mask is a pure function of `(key, first, rate)`.
pub fn dropout_mask(mask: &mut [f32], rate: f32, key: u64, first: u32) {
    dispatch!(dropout_mask(mask, rate, key, first))
}

/// Numerically stable softmax of each `n`-wide row of `x` into `out` (max subtracted first).
pub fn softmax(n: usize, x: &[f32], out: &mut [f32]) {
    dispatch!(softmax(n, x, out))
}

/// Sparse categorical cross-entropy from logits, fused with its softmax gradient.
///
/// For each `n`-wide row `z` with label `y`: `loss = logsumexp(z) − z[y]` (stable: the max is
/// subtracted), `grad = (softmax(z) − onehot(y)) · grad_scale`. Returns the summed loss and the
/// number of rows whose arg-max equals the label. Labels must be `< n`.
pub fn softmax_cross_entropy(
    n: usize,
    logits: &[f32],
    labels: &[u8],
    grad_scale: f32,
    grad: &mut [f32],
) -> (f32, u32) {
    dispatch!(softmax_cross_entropy(n, logits, labels, grad_scale, grad))
}

/// The constants of one Adam step ([`adam`], [`adam_sum`]); [`crate::Adam::step_constants`]
/// computes them for step `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdamStep {
    /// `lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)` for step `t`.
    pub alpha: f32,
    /// `1 − β₁`, the first moments' rate (`0.1` for Keras' β₁ = 0.9).
    pub rate1: f32,
    /// `1 − β₂`, the second moments' rate (`0.001` for Keras' β₂ = 0.999).
    pub rate2: f32,
    /// ε, added to `√v`.
    pub eps: f32,
}

/// Adam stores a moment whose magnitude is below this, 2⁻¹⁰⁰, as zero ([`adam`]).
///
/// A weight whose gradient stays exactly zero (an MNIST pixel that is almost never lit) has
/// its first moment multiplied by β₁ every step; left alone, it would spend about 220 steps
/// where `m` or `α·m` is subnormal, and subnormal arithmetic runs Adam 1.7–2.4× slower on
/// Zen 4 (docs/kernel-notes.md). TensorFlow's CPU runtime avoids it with flush-to-zero for
/// all arithmetic; Rust cannot set the FPU's flush mode soundly, so the update flushes its
/// moments itself. With moments of 0 or at least 2⁻¹⁰⁰, the update of a zero gradient
/// (`m·(1 − β₁)`, `α·m`, `v·(1 − β₂)`) has no subnormal operand or result for any `α` and
/// rates above 2⁻²⁶ (tiny nonzero gradients are not flushed). A flushed moment changes no
/// weight in practice: its step `α·m/(√v + ε)` is below `α·2⁻¹⁰⁰/ε` (8·10⁻²⁷ with Keras'
/// `lr` and `ε`), under half an ulp of any weight above 10⁻¹⁹ in magnitude, and `√v ≤ 2⁻⁵⁰`
/// is under half an ulp of the default `ε = 10⁻⁷`. (The tutorial's models for seeds 1–20 are
/// bitwise the same with and without the flush.)
pub const ADAM_FLUSH: f32 = f32::from_bits(0x0d80_0000);

/// One Adam step as Keras computes it, for one tensor:
/// `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`, `w −= α·m / (√v + ε)`,
/// where the caller passes `alpha = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)` and the rates `1 − β` in `step`.
/// The new `m` and `v` are set to zero where their magnitude is below [`ADAM_FLUSH`], before
/// the weight's step uses them.
pub fn adam(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    adam_sum(w, &[g], m, v, step)
}

/// [`adam`] with the gradient given as a sum of parts, added in order in the same pass:
/// `g = ((grads[0] + grads[1]) + grads[2]) + …` (data-parallel shards), over the shortest of
/// all slices. Bitwise equal to summing into one buffer first, without its memory traffic.
///
/// # Panics
/// If `grads` is empty.
pub fn adam_sum(w: &mut [f32], grads: &[&[f32]], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    dispatch!(adam_sum(w, grads, m, v, step))
}

/// Plain SGD: `w −= lr·g`.
pub fn sgd(w: &mut [f32], g: &[f32], lr: f32) {
    dispatch!(sgd(w, g, lr))
}

/// How many kernel calls each path's SIMD code has executed (test builds only): proof that a
/// test exercised the vector code and did not silently fall back.
#[cfg(test)]
pub(crate) mod executed {
    use super::Path;
    use core::sync::atomic::{AtomicU64, Ordering};

    static COUNTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

    pub fn note(p: Path) {
        COUNTS[p as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(p: Path) -> u64 {
        COUNTS[p as usize].load(Ordering::Relaxed)
    }
}
