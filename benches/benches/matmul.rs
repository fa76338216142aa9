//! The Dense hot path, per kernel path and against other Rust matmul crates.
//!
//! **Throughput is FLOP/s**: each benchmark declares `Throughput::Elements(2·m·k·n)`, so
//! criterion's "elem/s" column reads as FLOP/s of the dense shape. On MNIST-like inputs (80% exact
//! zeros, which flashnet skips) the figure is "dense-equivalent" FLOP/s.
//!
//! Shapes (`m×k×n`, with the kernel that computes them):
//!
//! | id | kernel | product |
//! |---|---|---|
//! | `forward_32x784x128` | `matmul_bias` | `X[32×784]·W[784×128] + b` |
//! | `weight_grad_784x32x128` | `matmul_tn` | `Xᵀ[784×32]·dY[32×128]` |
//! | `input_grad_32x128x784` | `matmul_nt` | `dY[32×128]·Wᵀ[128×784]` |
//! | `layer2_32x128x10` | `matmul_bias` | `H[32×128]·W₂[128×10] + b₂` |
//! | `matvec_1x784x128` | `matmul_bias` | one sample, `x[784]·W` |
//!
//! Rows per shape: every flashnet kernel path this CPU supports (`portable`, `avx2`, `avx512`,
//! `neon`; each path's kernels called directly), then `gemm` (0.19, AVX-512 kernels enabled,
//! single thread), `matrixmultiply` and `nalgebra` computing the same product (without the bias,
//! transposes expressed as strides, no copies). The `peak` group measures one core's FMA
//! throughput in the same run (independent FMA chains): divide by it for "% of peak".

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flashnet::kernels::{self, Kernels};
use flashnet_benches::{AlignedVec, fma_chains, random};
use nalgebra::DMatrix;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use std::hint::black_box;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    /// `C[m×n] = A[m×k]·B[k×n] (+ bias)`.
    Nn,
    /// `C[k×n] = A[m×k]ᵀ·B[m×n]`.
    Tn,
    /// `C[m×k] = A[m×n]·B[k×n]ᵀ`.
    Nt,
}

struct Shape {
    id: &'static str,
    op: Op,
    m: usize,
    k: usize,
    n: usize,
    /// Whether `A` is an input image batch (then an MNIST-like variant is benched too).
    sparse_a: bool,
}

const SHAPES: [Shape; 5] = [
    Shape {
        id: "forward_32x784x128",
        op: Op::Nn,
        m: 32,
        k: 784,
        n: 128,
        sparse_a: true,
    },
    Shape {
        id: "weight_grad_784x32x128",
        op: Op::Tn,
        m: 32,
        k: 784,
        n: 128,
        sparse_a: true,
    },
    Shape {
        id: "input_grad_32x128x784",
        op: Op::Nt,
        m: 32,
        k: 784,
        n: 128,
        sparse_a: false,
    },
    Shape {
        id: "layer2_32x128x10",
        op: Op::Nn,
        m: 32,
        k: 128,
        n: 10,
        sparse_a: false,
    },
    Shape {
        id: "matvec_1x784x128",
        op: Op::Nn,
        m: 1,
        k: 784,
        n: 128,
        sparse_a: true,
    },
];

/// Operand sizes `(a, b, c)` of a shape.
fn sizes(s: &Shape) -> (usize, usize, usize) {
    let (m, k, n) = (s.m, s.k, s.n);
    match s.op {
        Op::Nn => (m * k, k * n, m * n),
        Op::Tn => (m * k, m * n, k * n),
        Op::Nt => (m * n, k * n, m * k),
    }
}

/// `gemm` crate, single-threaded, `dst = A·B` with row-major operands given as strides.
fn with_gemm(s: &Shape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (s.m, s.k, s.n);
    // (rows, cols, inner) of the product and the strides (column, row) of lhs and rhs.
    let (rows, cols, inner, lhs, rhs) = match s.op {
        Op::Nn => (m, n, k, (1, k as isize), (1, n as isize)),
        Op::Tn => (k, n, m, (k as isize, 1), (1, n as isize)),
        Op::Nt => (m, k, n, (1, n as isize), (n as isize, 1)),
    };
    flashnet_benches::gemm_strided(rows, cols, inner, a, lhs, b, rhs, c);
}

/// `matrixmultiply::sgemm`, `C = A·B` with row-major operands given as strides.
fn with_matrixmultiply(s: &Shape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (s.m, s.k, s.n);
    // (rows, inner, cols, lhs (row, col) strides, rhs (row, col) strides)
    let (rows, inner, cols, lhs, rhs) = match s.op {
        Op::Nn => (m, k, n, (k as isize, 1), (n as isize, 1)),
        Op::Tn => (k, m, n, (1, k as isize), (n as isize, 1)),
        Op::Nt => (m, n, k, (n as isize, 1), (1, n as isize)),
    };
    assert!(a.len() >= rows * inner && b.len() >= inner * cols && c.len() >= rows * cols);
    // SAFETY: as for `gemm`: the strides stay inside the asserted slices, `c` is not aliased.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            inner,
            cols,
            1.0,
            a.as_ptr(),
            lhs.0,
            lhs.1,
            b.as_ptr(),
            rhs.0,
            rhs.1,
            0.0,
            c.as_mut_ptr(),
            cols as isize,
            1,
        )
    }
}

/// The same shape in nalgebra (column-major matrices, `C.gemm(1, A, B, 0)`; transposes with
/// `gemm_tr`/explicit layouts so no copy is timed).
struct Nalgebra {
    a: DMatrix<f32>,
    b: DMatrix<f32>,
    c: DMatrix<f32>,
}

impl Nalgebra {
    fn new(s: &Shape, a: &[f32], b: &[f32]) -> Self {
        let (m, k, n) = (s.m, s.k, s.n);
        // Row-major X[r×c] is column-major Xᵀ: compute Cᵀ = Bᵀ·Aᵀ etc. with those views.
        match s.op {
            Op::Nn => Nalgebra {
                a: DMatrix::from_column_slice(n, k, b),
                b: DMatrix::from_column_slice(k, m, a),
                c: DMatrix::zeros(n, m),
            },
            // Cᵀ[n×k] = dYᵀ[n×m]·X[m×k]: column-major dYᵀ is row-major dY, X needs a transpose.
            Op::Tn => Nalgebra {
                a: DMatrix::from_column_slice(n, m, b),
                b: DMatrix::from_row_slice(m, k, a),
                c: DMatrix::zeros(n, k),
            },
            // Cᵀ[k×m] = W[k×n]·dYᵀ[n×m].
            Op::Nt => Nalgebra {
                a: DMatrix::from_row_slice(k, n, b),
                b: DMatrix::from_column_slice(n, m, a),
                c: DMatrix::zeros(k, m),
            },
        }
    }
    fn run(&mut self) {
        self.c.gemm(1.0, &self.a, &self.b, 0.0);
    }
}

fn run_kernel(kern: &dyn Kernels, s: &Shape, a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32]) {
    let (m, k, n) = (s.m, s.k, s.n);
    match s.op {
        Op::Nn => kern.matmul_bias(m, k, n, a, b, bias, c),
        Op::Tn => kern.matmul_tn(m, k, n, a, b, c),
        Op::Nt => kern.matmul_nt(m, k, n, a, b, c),
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = Pcg32::seed_from_u64(7);
    let paths = kernels::available();
    let mut g = c.benchmark_group("matmul");
    for s in &SHAPES {
        let (la, lb, lc) = sizes(s);
        g.throughput(Throughput::Elements((2 * s.m * s.k * s.n) as u64));
        let b = random(lb, 0.0, &mut rng);
        let bias = random(s.n, 0.0, &mut rng);
        let variants: &[(&str, f32)] = if s.sparse_a {
            &[("dense", 0.0), ("mnist_like", 0.8)]
        } else {
            &[("dense", 0.0)]
        };
        for &(data, zeros) in variants {
            let a = random(la, zeros, &mut rng);
            let mut out = AlignedVec::zeros(lc);
            for &p in &paths {
                let kern = p.kernels().expect("available");
                g.bench_function(BenchmarkId::new(format!("{}/{}", s.id, p), data), |bch| {
                    bch.iter(|| run_kernel(kern, s, black_box(&a), black_box(&b), &bias, &mut out))
                });
            }
            g.bench_function(BenchmarkId::new(format!("{}/gemm", s.id), data), |bch| {
                bch.iter(|| with_gemm(s, black_box(&a), black_box(&b), &mut out))
            });
            g.bench_function(
                BenchmarkId::new(format!("{}/matrixmultiply", s.id), data),
                |bch| bch.iter(|| with_matrixmultiply(s, black_box(&a), black_box(&b), &mut out)),
            );
            let mut na = Nalgebra::new(s, &a, &b);
            g.bench_function(
                BenchmarkId::new(format!("{}/nalgebra", s.id), data),
                |bch| bch.iter(|| na.run()),
            );
        }
    }
    g.finish();
}

/// One core's FMA peak, measured: 12 independent chains of 8-lane FMAs (2 FLOP per lane), long
/// enough that loop overhead vanishes. On Zen 4 `ymm` and `zmm` FMAs reach the same 32 FLOP/cycle.
fn peak(c: &mut Criterion) {
    const ITERS: u64 = 100_000;
    if flashnet_benches::fma_chains(1).is_none() {
        return;
    }
    let mut g = c.benchmark_group("peak");
    g.throughput(Throughput::Elements(ITERS * 12 * 8 * 2));
    g.bench_function("fma_ymm_1core", |b| b.iter(|| fma_chains(black_box(ITERS))));
    g.finish();
}

criterion_group!(benches, peak, bench);
criterion_main!(benches);
