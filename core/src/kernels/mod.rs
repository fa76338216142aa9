//! The numeric kernels behind every layer: the only place in flashnet that touches raw loops.
//!
//! Layers see these shapes through one small interface (free functions on row-major `f32`
//! slices with explicit `m, k, n`); each architecture-specific path implements the same
//! contract and is tested against [`portable`], the reference implementation and test oracle.
//!
//! | kernel | shape | used by |
//! |---|---|---|
//! | [`matmul_bias`] | `C[m×n] = A[m×k]·B[k×n] + bias[n]` | Dense forward (`X·W + b`) |
//! | [`matmul_tn`] | `C[k×n] = A[m×k]ᵀ·B[m×n]` | Dense weight gradient (`Xᵀ·dY`) |
//! | [`matmul_nt`] | `C[m×k] = A[m×n]·B[k×n]ᵀ` | Dense input gradient (`dY·Wᵀ`) |
//! | [`relu`], [`relu_backward`] | elementwise | ReLU |
//! | [`dropout_mask`], [`mul`] | elementwise | Dropout |
//! | [`softmax`], [`softmax_cross_entropy`] | per row | Softmax, loss |
//! | [`adam`], [`sgd`] | elementwise | optimizers |
//!
//! Every function panics if a slice is shorter than its shape says (a programming error in the
//! caller, never reachable from data: the layers derive all shapes from const generics).

pub mod portable;

pub use portable::{
    adam, column_sums, dropout_mask, dropout_scale, dropout_threshold, matmul_bias, matmul_nt,
    matmul_tn, mul, relu, relu_backward, sgd, softmax, softmax_cross_entropy,
};
