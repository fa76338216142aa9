//! The three products of training and inference (`X·W + b`, `Xᵀ·dY`, `dY·Wᵀ`): each chooses
//! dense tiles or a sparse walk per block of rows, by its share of nonzeros (for `X·W + b`,
//! estimated from a sample).

use super::blocked::{Blocked, Walk, Zeros, tile_height};
use super::sparse::{OUTER_CHUNK_BYTES, sparse_gather, sparse_outer, sparse_rows};
use super::tile::nonzero_bits;
use super::{Simd, ld, size, strided_size};

/// Nonzeros of `x`, counted in `u32` lanes (a compare and a subtract per vector; counting in
/// `usize` made the compiler widen every compare to 64-bit lanes).
#[inline(always)]
fn count_nonzeros(x: &[f32]) -> usize {
    x.chunks(1 << 30)
        .map(|c| c.iter().map(|&v| u32::from(v != 0.0)).sum::<u32>() as usize)
        .sum()
}

/// Floats of `A` per sampled run (64 bytes), and from the start of one stride of runs to the
/// next ([`sampled_nonzeros`]).
pub(crate) const SAMPLE_RUN: usize = 16;
pub(crate) const SAMPLE_STRIDE: usize = 512;
/// Blocks of at most this many floats are counted whole.
pub(crate) const SAMPLE_ALL_UP_TO: usize = 1024;

/// Nonzeros of `x`, a vector at a time (a compare and a population count; the tiles' lane bits).
#[inline(always)]
fn count_nonzeros_simd<S: Simd>(s: S, x: &[f32]) -> usize {
    x.chunks(32)
        // SAFETY: each chunk is `len ≤ 32` readable floats.
        .map(|c| unsafe { nonzero_bits(s, c.as_ptr(), c.len()) }.count_ones() as usize)
        .sum()
}

/// Nonzeros of a sample of `x` and the sample's size: what `matmul_bias` chooses its kernels
/// by. The sample is [`SAMPLE_RUN`] floats of every [`SAMPLE_STRIDE`] (one cache line in 32),
/// the run moving along the stride from one to the next so that rows whose length is a
/// multiple of the stride are not sampled at the same columns every time; small blocks are
/// counted whole. The choice decides only the speed, never the result; the sample is small
/// because it costs time on every call: with an eighth, the dense forward of 32 × 784 × 128
/// raced 0.9935–0.9967× `gemm`, with a 32nd (and POPCNT) 1.0020–1.0032× in five races of six
/// (each sampled line is a load from L2; docs/kernel-notes.md), and counting all of `x` took
/// 1.9% of its time (`perf`, Zen 4).
#[inline(always)]
pub(crate) fn sampled_nonzeros<S: Simd>(s: S, x: &[f32]) -> (usize, usize) {
    if x.len() <= SAMPLE_ALL_UP_TO {
        return (count_nonzeros_simd(s, x), x.len());
    }
    let (mut nonzeros, mut sampled) = (0, 0);
    for (c, chunk) in x.chunks(SAMPLE_STRIDE).enumerate() {
        let start = (c % (SAMPLE_STRIDE / SAMPLE_RUN) * SAMPLE_RUN).min(chunk.len());
        let run = &chunk[start..(start + SAMPLE_RUN).min(chunk.len())];
        nonzeros += count_nonzeros_simd(s, run);
        sampled += run.len();
    }
    (nonzeros, sampled)
}

/// Whether `matmul_bias` takes the sparse kernel for a block of `A` rows: fewer than
/// `sparse_below` of its sample nonzero. A function, not a closure: the closure it was, not
/// inlined, compiled to baseline x86-64 (SSE2, no `popcnt`) outside the kernel's
/// `#[target_feature]` function, and took 1.4% of the dense forward's time (`perf`, Zen 4).
#[inline(always)]
fn goes_sparse<S: Simd>(s: S, block: &[f32], sparse_below: f32) -> bool {
    let (nonzeros, sampled) = sampled_nonzeros(s, block);
    (nonzeros as f32) < sparse_below * sampled as f32
}

/// Nonzeros in columns `p..p + len` of the `rows`-row matrix `a` with row stride `k`. A
/// 64-column chunk (all but the last of `matmul_tn`'s) counts in 64 `u32` lanes summed down the
/// rows and reduced once: counting each row's 64 values apart (in `usize` lanes, then in `u32`
/// lanes reduced per row) took 4–5% of the dense weight gradient's time (`perf`, Zen 3).
#[inline(always)]
fn count_nonzeros_cols(a: &[f32], rows: usize, k: usize, p: usize, len: usize) -> usize {
    const W: usize = 64;
    if len != W {
        return (0..rows)
            .map(|i| count_nonzeros(&a[i * k + p..i * k + p + len]))
            .sum();
    }
    let mut total = 0;
    // Up to 2³⁰ rows at a time, so that no lane's count can overflow.
    for r0 in (0..rows).step_by(1 << 30) {
        let mut lanes = [0u32; W];
        for i in r0..rows.min(r0 + (1 << 30)) {
            let row: &[f32; W] = a[i * k + p..i * k + p + W]
                .try_into()
                .expect("a 64-column slice");
            for (n, &x) in lanes.iter_mut().zip(row) {
                *n += u32::from(x != 0.0);
            }
        }
        total += lanes.iter().map(|&n| n as usize).sum::<usize>();
    }
    total
}

/// Vectors per tile of a dense product of one row (`matmul_bias` with a one-row block).
const MATVEC_NR: usize = 8;

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn matmul_bias<S: Simd, const MR: usize, const NR: usize, const NC: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
    relu: bool,
    sparse_below: f32,
) {
    let (a, b, bias) = (&a[..size(m, k)], &b[..size(k, n)], &bias[..n]);
    let c = &mut c[..size(m, n)];
    if n == 0 {
        return;
    }
    if k == 0 {
        // No steps: every output is its bias (the tiles would leave `C` unwritten).
        for ci in c.chunks_exact_mut(n) {
            for (o, &b) in ci.iter_mut().zip(bias) {
                // ReLU as portable's `relu` computes it (NaN and -0.0 become 0).
                *o = if !relu || b > 0.0 { b } else { 0.0 };
            }
        }
        return;
    }
    let (pa, pb, pbias, pc) = (a.as_ptr(), b.as_ptr(), bias.as_ptr(), c.as_mut_ptr());
    // Blocks of MR rows go dense or sparse by their share of nonzeros, estimated from a sample
    // (`sampled_nonzeros`), and consecutive blocks of the same kind run together: the sparse
    // kernel reuses B across all of their rows, the dense one walks B in chunks that stay in L1
    // across its row tiles (`DENSE_B_CHUNK`). Either kernel is exact whatever the estimate: the
    // sparse one skips zeros, the dense one speculates (`Zeros::Speculate`).
    let mut i = 0;
    while i < m {
        let mr = tile_height::<MR>(m - i);
        let sparse = goes_sparse(s, &a[i * k..(i + mr) * k], sparse_below);
        let mut end = i + mr;
        // Dense blocks run one at a time on paths that take no chunks: their row block's A
        // stays in L1 across the column blocks.
        while end < m && (sparse || S::DENSE_B_CHUNK > 0) {
            let h = tile_height::<MR>(m - end);
            if goes_sparse(s, &a[end * k..(end + h) * k], sparse_below) != sparse {
                break;
            }
            end += h;
        }
        // SAFETY: rows `i..end` of A and C, all of B and bias: the slices checked above.
        unsafe {
            if sparse {
                sparse_rows::<S, NC>(
                    s,
                    end - i,
                    k,
                    n,
                    pa.add(i * k),
                    k,
                    pb,
                    n,
                    pbias,
                    pc.add(i * n),
                    n,
                    relu,
                );
            } else {
                let mut p = Blocked {
                    walk: Walk::Rows,
                    rows: end - i,
                    cols: n,
                    steps: k,
                    a: pa.add(i * k),
                    a_row_stride: k,
                    a_step_stride: 1,
                    b: pb,
                    ldb: n,
                    bias: pbias,
                    c: pc.add(i * n),
                    ldc: n,
                    relu,
                    zeros: Zeros::Speculate,
                };
                // One row (a matrix-vector product): an `MR × NR` tile would keep only `NR`
                // accumulators, too few to hide the FMA latency; a row of `MATVEC_NR` vectors
                // keeps 8.
                while if end - i == 1 {
                    s.blocked::<1, MATVEC_NR>(&p)
                } else {
                    s.blocked::<MR, NR>(&p)
                } {
                    // A result is zero or NaN: the speculation may have changed it, so all the
                    // blocks of this run again (on paths with chunks, every dense block in
                    // it), skipping zeros, which never asks for another pass.
                    p.zeros = Zeros::Skip;
                }
            }
        }
        i = end;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn matmul_tn<S: Simd, const MR: usize, const NR: usize, const NC: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    c: &mut [f32],
    sparse_below: f32,
) {
    assert!(lda >= k, "matmul_tn: row stride {lda} under {k} columns");
    let a = &a[..strided_size(m, k, lda)];
    let b = &b[..size(m, n)];
    let c = &mut c[..size(k, n)];
    if n == 0 {
        return;
    }
    if m == 0 {
        // No steps: every sum is empty (the tiles would leave `C` unwritten).
        c.fill(0.0);
        return;
    }
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    // C[p][..] = Σ_i A[i][p]·B[i][..]: the rows of C are the columns p of A (stride 1 in A),
    // the steps are the rows i of A (stride lda). Chunks of columns of A whose rows of C fit in
    // `OUTER_CHUNK_BYTES` go sparse when mostly zeros (summed in registers for up to 32 steps,
    // as outer products into C beyond), else as dense tiles.
    let chunk = (OUTER_CHUNK_BYTES / (4 * n)).clamp(1, 64);
    let mut p = 0;
    while p < k {
        let pcn = (k - p).min(chunk);
        let nnz = count_nonzeros_cols(a, m, lda, p, pcn);
        // SAFETY: columns `p..p + pcn` of A, rows `p..p + pcn` of C, all of B: inside the
        // slices checked above.
        unsafe {
            if (nnz as f32) < sparse_below * (pcn * m) as f32 {
                if m <= 32 {
                    sparse_gather::<S, NC>(s, pcn, m, n, pa.add(p), lda, pb, n, pc.add(p * n), n);
                } else {
                    sparse_outer::<S, NC>(s, pcn, m, n, pa.add(p), lda, pb, n, pc.add(p * n), n);
                }
            } else {
                let suspect = s.blocked::<MR, NR>(&Blocked {
                    walk: Walk::Cols,
                    rows: pcn,
                    cols: n,
                    steps: m,
                    a: pa.add(p),
                    a_row_stride: 1,
                    a_step_stride: lda,
                    b: pb,
                    ldb: n,
                    bias: core::ptr::null(),
                    c: pc.add(p * n),
                    ldc: n,
                    relu: false,
                    zeros: if nnz == pcn * m {
                        Zeros::Absent
                    } else {
                        Zeros::Skip
                    },
                });
                debug_assert!(!suspect, "only a speculating product can be suspect");
            }
        }
        p += pcn;
    }
}

/// `C[m×k] = A[m×n]·B[k×n]ᵀ`: tiles of `MR` rows of `A` × `NR` rows of `B`, dot products in
/// vector lanes, reduced at the end.
#[inline(always)]
pub(crate) fn matmul_nt<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    let (a, b) = (&a[..size(m, n)], &b[..size(k, n)]);
    let c = &mut c[..size(m, k)];
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let mut i = 0;
    while i < m {
        let mr = (m - i).min(MR);
        let mut p = 0;
        while p < k {
            let nr = (k - p).min(NR);
            // SAFETY: rows `i..i + mr` of A and C, rows `p..p + nr` of B: inside the slices.
            unsafe {
                macro_rules! go {
                    ($($r:literal)*; $($q:literal)*) => {
                        go!(@r [$($r)*] [$($q)*])
                    };
                    (@r [$($r:literal)*] $qs:tt) => {
                        match mr {
                            $($r if $r <= MR => go!(@q $r $qs),)*
                            _ => unreachable!(),
                        }
                    };
                    (@q $r:literal [$($q:literal)*]) => {
                        match nr {
                            $($q if $q <= NR => dot_tile::<S, $r, $q>(s, n, pa.add(i * n), pb.add(p * n), pc.add(i * k + p), k),)*
                            _ => unreachable!(),
                        }
                    };
                }
                go!(1 2 3 4 5 6; 1 2 3 4 5 6);
            }
            p += nr;
        }
        i += mr;
    }
}

/// `C[r][q] = ⟨A[r], B[q]⟩` for an `MR × NR` block of dot products of length `n`.
///
/// # Safety
/// `a..a + MR·n`, `b..b + NR·n` readable; `c.add(r·ldc + q)` writable for `r < MR`, `q < NR`.
#[inline(always)]
unsafe fn dot_tile<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    n: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[s.splat(0.0); NR]; MR];
    chunks!(S, n, |j, w| {
        // SAFETY: `j + w ≤ n`: inside each row.
        unsafe {
            let mut bv = [s.splat(0.0); NR];
            for (q, bv) in bv.iter_mut().enumerate() {
                *bv = ld(s, b.add(q * n + j), w);
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = ld(s, a.add(r * n + j), w);
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = s.fma(av, bv, *acc);
                }
            }
        }
    });
    for (r, acc) in acc.iter().enumerate() {
        for (q, &x) in acc.iter().enumerate() {
            // SAFETY: `r < MR`, `q < NR` (caller's contract).
            unsafe { *c.add(r * ldc + q) = s.hsum(x) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_nonzeros_cols;

    /// Every column chunk of a matrix holding zeros of both signs, NaN, infinities and
    /// subnormals counts what a plain filter counts (the 64-column chunks take their own loop).
    #[test]
    fn column_counts_match_a_plain_count() {
        let k = 131;
        let values = [
            0.0,
            -0.0,
            1.0,
            f32::NAN,
            0.0,
            f32::INFINITY,
            -1e-40,
            0.0,
            -3.5,
        ];
        for rows in [0, 1, 3, 33] {
            let a: std::vec::Vec<f32> = (0..rows * k)
                .map(|i| values[(i * 7 + i / 5) % values.len()])
                .collect();
            for p in [0, 5, 67] {
                for len in [1, 17, 63, 64] {
                    let plain = (0..rows)
                        .map(|i| {
                            a[i * k + p..i * k + p + len]
                                .iter()
                                .filter(|&&x| x != 0.0)
                                .count()
                        })
                        .sum::<usize>();
                    assert_eq!(
                        count_nonzeros_cols(&a, rows, k, p, len),
                        plain,
                        "{rows} {p} {len}"
                    );
                }
            }
        }
    }
}
