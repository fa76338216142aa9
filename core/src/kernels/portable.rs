//! Portable kernels: plain Rust loops written so that LLVM vectorizes the inner loops for any
//! target, and simple enough to serve as the oracle for hand-vectorized paths.
#![forbid(unsafe_code)]

use super::{ADAM_FLUSH, AdamStep, Kernels, Path};
use crate::noise;

/// The portable path as a [`Kernels`] value (always available).
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

impl Kernels for Portable {
    fn path(&self) -> Path {
        Path::Portable
    }
    fn matmul_bias(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        bias: &[f32],
        c: &mut [f32],
    ) {
        matmul_bias(m, k, n, a, b, bias, c)
    }
    fn matmul_bias_relu(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        bias: &[f32],
        c: &mut [f32],
    ) {
        matmul_bias_relu(m, k, n, a, b, bias, c)
    }
    fn matmul_tn_strided(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        c: &mut [f32],
    ) {
        matmul_tn_strided(m, k, n, a, lda, b, c)
    }
    fn matmul_nt(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        matmul_nt(m, k, n, a, b, c)
    }
    fn column_sums(&self, m: usize, n: usize, a: &[f32], out: &mut [f32]) {
        column_sums(m, n, a, out)
    }
    fn relu(&self, x: &mut [f32]) {
        relu(x)
    }
    fn bytes_to_unit(&self, src: &[u8], dst: &mut [f32]) {
        bytes_to_unit(src, dst)
    }
    fn relu_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        relu_backward(y, dy, dx)
    }
    fn mul(&self, a: &[f32], b: &[f32], out: &mut [f32]) {
        mul(a, b, out)
    }
    fn dropout_mask(&self, mask: &mut [f32], rate: f32, key: u64, first: u32) {
        dropout_mask(mask, rate, key, first)
    }
    fn softmax(&self, n: usize, x: &[f32], out: &mut [f32]) {
        softmax(n, x, out)
    }
    fn softmax_cross_entropy(
        &self,
        n: usize,
        logits: &[f32],
        labels: &[u8],
        grad_scale: f32,
        grad: &mut [f32],
    ) -> (f32, u32) {
        softmax_cross_entropy(n, logits, labels, grad_scale, grad)
    }
    fn adam_sum(
        &self,
        w: &mut [f32],
        grads: &[&[f32]],
        m: &mut [f32],
        v: &mut [f32],
        step: AdamStep,
    ) {
        adam_sum(w, grads, m, v, step)
    }
    fn sgd(&self, w: &mut [f32], g: &[f32], lr: f32) {
        sgd(w, g, lr)
    }
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
    let (a, b, bias, c) = (&a[..m * k], &b[..k * n], &bias[..n], &mut c[..m * n]);
    if n == 0 {
        return;
    }
    if k == 0 {
        c.chunks_exact_mut(n)
            .for_each(|ci| ci.copy_from_slice(bias));
        return;
    }
    for (ci, ai) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
        ci.copy_from_slice(bias);
        for (&x, bp) in ai.iter().zip(b.chunks_exact(n)) {
            if x != 0.0 {
                axpy(x, bp, ci);
            }
        }
    }
}

/// `C = max(A·B + bias, 0)`: [`matmul_bias`] then [`relu`].
pub fn matmul_bias_relu(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
) {
    matmul_bias(m, k, n, a, b, bias, c);
    relu(&mut c[..m * n]);
}

/// `C[k×n] = A[m×k]ᵀ·B[m×n]`, all row-major (overwrites `C`).
pub fn matmul_tn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    matmul_tn_strided(m, k, n, a, k, b, c)
}

/// [`matmul_tn`] with `A`'s rows `lda ≥ k` elements apart (`A[i][p] = a[i·lda + p]`).
pub fn matmul_tn_strided(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    c: &mut [f32],
) {
    assert!(lda >= k, "matmul_tn: row stride {lda} under {k} columns");
    let a = &a[..m.checked_sub(1).map_or(0, |r| r * lda + k)];
    let (b, c) = (&b[..m * n], &mut c[..k * n]);
    if n == 0 {
        return;
    }
    for (p, cp) in c.chunks_exact_mut(n).enumerate() {
        cp.fill(0.0);
        for (ai, bi) in a.chunks(lda).zip(b.chunks_exact(n)) {
            let x = ai[p];
            if x != 0.0 {
                axpy(x, bi, cp);
            }
        }
    }
}

/// `C[m×k] = A[m×n]·B[k×n]ᵀ`, all row-major (overwrites `C`).
pub fn matmul_nt(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (a, b, c) = (&a[..m * n], &b[..k * n], &mut c[..m * k]);
    if k == 0 {
        return;
    }
    if n == 0 {
        c.fill(0.0);
        return;
    }
    for (ci, ai) in c.chunks_exact_mut(k).zip(a.chunks_exact(n)) {
        for (cip, bp) in ci.iter_mut().zip(b.chunks_exact(n)) {
            *cip = dot(ai, bp);
        }
    }
}

/// `out[j] = Σ_i A[i][j]` over the rows of `A[m×n]` (the bias gradient).
pub fn column_sums(m: usize, n: usize, a: &[f32], out: &mut [f32]) {
    let out = &mut out[..n];
    out.fill(0.0);
    if n == 0 {
        return;
    }
    for row in a[..m * n].chunks_exact(n) {
        for (o, &x) in out.iter_mut().zip(row) {
            *o += x;
        }
    }
}

/// `y += a·x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Dot product with 8 independent accumulators (lets LLVM vectorize without `fast-math`).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, at) = a.as_chunks::<8>();
    let (bc, bt) = b.as_chunks::<8>();
    for (x, y) in ac.iter().zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in at.iter().zip(bt) {
        s += x * y;
    }
    s
}

/// `x = max(x, 0)` in place: `x` if `x > 0`, else `+0.0` (also for `-0.0` and NaN, which is
/// what `f32::max(x, 0.0)` gives too, spelled out so that every path can match it bit for bit).
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// `p / 255` rounded once to `f32`, for each byte value `p` (a table: one load per pixel, where a
/// microcontroller would spend a division).
static UNIT: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as f64 / 255.0) as f32;
        i += 1;
    }
    t
};

/// `dst[i] = src[i] / 255`, rounded once to `f32`, over the shorter of the two.
pub fn bytes_to_unit(src: &[u8], dst: &mut [f32]) {
    for (o, &p) in dst.iter_mut().zip(src) {
        *o = UNIT[usize::from(p)];
    }
}

/// `dx = dy` where the ReLU output `y > 0`, else `0`.
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &g), &o) in dx.iter_mut().zip(dy).zip(y) {
        *d = if o > 0.0 { g } else { 0.0 };
    }
}

/// Fills `mask` with inverted-dropout factors: `0` with probability `rate`, else `1/(1-rate)`.
///
/// Element `j` is dropped when [`noise::bits`]`(key, first + j)` is below
/// [`dropout_threshold`]`(rate)`: the mask is a pure function of `(key, first, rate)`.
pub fn dropout_mask(mask: &mut [f32], rate: f32, key: u64, first: u32) {
    let scale = dropout_scale(rate);
    let threshold = dropout_threshold(rate);
    for (j, m) in mask.iter_mut().enumerate() {
        let r = noise::bits(key, first.wrapping_add(j as u32));
        *m = if u64::from(r) < threshold { 0.0 } else { scale };
    }
}

/// `rate·2³²`, rounded down: a 32-bit word below it means "drop". Rates `≥ 1` drop everything.
pub fn dropout_threshold(rate: f32) -> u64 {
    if rate.is_nan() || rate <= 0.0 {
        0
    } else {
        ((f64::from(rate) * 4_294_967_296.0) as u64).min(1 << 32)
    }
}

/// `1/(1 − rate)`, the factor of kept elements (`0` if everything is dropped).
pub fn dropout_scale(rate: f32) -> f32 {
    let keep = 1.0 - rate;
    if keep > 0.0 { 1.0 / keep } else { 0.0 }
}

/// `out = a ⊙ b`, elementwise.
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x * y;
    }
}

/// Numerically stable softmax of each `n`-wide row of `x` into `out` (max subtracted first).
pub fn softmax(n: usize, x: &[f32], out: &mut [f32]) {
    for (o, z) in out.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (p, &v) in o.iter_mut().zip(z) {
            *p = libm::expf(v - max);
            sum += *p;
        }
        let inv = 1.0 / sum;
        for p in o.iter_mut() {
            *p *= inv;
        }
    }
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
    let mut loss = 0.0;
    let mut correct = 0;
    for ((z, g), &y) in logits
        .chunks_exact(n)
        .zip(grad.chunks_exact_mut(n))
        .zip(labels)
    {
        let y = usize::from(y);
        let (arg, max) = argmax(z);
        let mut sum = 0.0;
        for (gi, &v) in g.iter_mut().zip(z) {
            *gi = libm::expf(v - max);
            sum += *gi;
        }
        // `ln Σ − (z_y − max)`: the difference first, exact for the largest logit, where
        // `max + ln Σ − z_y` rounds `ln Σ` into a large `max` (all of it at 1e17).
        loss += libm::logf(sum) - (z[y] - max);
        let inv = grad_scale / sum;
        for gi in g.iter_mut() {
            *gi *= inv;
        }
        g[y] -= grad_scale;
        correct += u32::from(arg == y);
    }
    (loss, correct)
}

/// Index and value of the first maximum (NaN never wins).
pub fn argmax(z: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &v) in z.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// One Adam step as Keras computes it, for one tensor:
/// `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`, `w −= α·m / (√v + ε)`,
/// where the caller passes `alpha = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)` and the rates `1 − β` in `step`.
pub fn adam(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    adam_sum(w, &[g], m, v, step)
}

/// [`adam`] with the gradient given as a sum of parts, added in order:
/// `g = ((grads[0] + grads[1]) + grads[2]) + …`, over the shortest of all slices.
///
/// # Panics
/// If `grads` is empty.
pub fn adam_sum(w: &mut [f32], grads: &[&[f32]], m: &mut [f32], v: &mut [f32], step: AdamStep) {
    let AdamStep {
        alpha,
        rate1: c1,
        rate2: c2,
        eps,
    } = step;
    let (first, rest) = grads
        .split_first()
        .expect("adam_sum needs at least one gradient");
    let len = rest.iter().fold(
        w.len().min(m.len()).min(v.len()).min(first.len()),
        |l, g| l.min(g.len()),
    );
    for i in 0..len {
        let g = rest.iter().fold(first[i], |g, part| g + part[i]);
        let (w, m, v) = (&mut w[i], &mut m[i], &mut v[i]);
        *m = flush(*m + (g - *m) * c1);
        *v = flush(*v + (g * g - *v) * c2);
        *w -= (*m * alpha) / (libm::sqrtf(*v) + eps);
    }
}

/// Zero if `|x| <` [`ADAM_FLUSH`] (so `-0.0` too), `x` otherwise (NaN stays NaN).
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < ADAM_FLUSH { 0.0 } else { x }
}

/// Plain SGD: `w −= lr·g`.
pub fn sgd(w: &mut [f32], g: &[f32], lr: f32) {
    for (w, &g) in w.iter_mut().zip(g) {
        *w -= lr * g;
    }
}
