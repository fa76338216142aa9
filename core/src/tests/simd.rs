//! Every SIMD kernel path against the portable oracle, for every path this CPU supports.
//!
//! Each path's kernels are called directly (its [`Kernels`] value), never through the global
//! dispatch, so these tests do not depend on (or change) the process-wide choice.
//!
//! * Elementwise kernels, `dropout_mask`, `column_sums`, `softmax`, `softmax_cross_entropy`,
//!   `adam`, `sgd`: **bitwise** equal to portable (all NaNs count as equal).
//! * `matmul_bias`, `matmul_bias_relu`, `matmul_tn`, `matmul_nt`: within `(k + 2)·2⁻²³` times the
//!   sum of the absolute values of the terms (plus `1e-30`), the rounding bound of an `f32` sum
//!   of `k` products, whichever the order and whether products are fused. The SIMD paths must
//!   also agree **bitwise** with each other on `matmul_bias` and `matmul_tn` (same FMA order).
//!
//! `FLASHNET_REQUIRE_KERNELS=avx2,avx512` (CI sets it) makes
//! [`required_kernel_paths_are_available_and_execute`] fail unless each listed path is available
//! here, and every path's SIMD code is proven to have run by a counter that only its
//! `#[target_feature]` entry points increment.

use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::kernels::portable::{self, Portable};
use crate::kernels::{self, Kernels, Path};

fn config() -> Config {
    Config {
        // Under Miri (no SIMD path is detected there) a couple of cases of the oracle suffice.
        cases: if cfg!(miri) { 2 } else { 48 },
        failure_persistence: None,
        ..Config::default()
    }
}

/// The SIMD paths this CPU supports.
fn simd_paths() -> Vec<&'static dyn Kernels> {
    kernels::available()
        .into_iter()
        .filter(|&p| p != Path::Portable)
        .map(|p| p.kernels().expect("available path has kernels"))
        .collect()
}

/// Paths named in `FLASHNET_REQUIRE_KERNELS` (comma or space separated).
fn required_paths() -> Vec<Path> {
    let Ok(list) = std::env::var("FLASHNET_REQUIRE_KERNELS") else {
        return Vec::new();
    };
    list.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Path::from_name(s).unwrap_or_else(|| {
                panic!("FLASHNET_REQUIRE_KERNELS names an unknown kernel path {s:?}")
            })
        })
        .collect()
}

/// A dimension: the odd sizes that catch tail bugs (1, 3, 17, vector widths ± 1), or anything
/// small.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(3),
        Just(7),
        Just(9),
        Just(15),
        Just(17),
        Just(33),
        1usize..=70
    ]
}

/// `(m, k, n)`, sometimes with one of them 785 (MNIST's 784 + 1) or the tutorial's shapes.
fn dims() -> impl Strategy<Value = (usize, usize, usize)> {
    prop_oneof![
        4 => (dim(), dim(), dim()),
        1 => (1usize..=5, Just(785usize), 1usize..=40),
        1 => (1usize..=5, 1usize..=40, Just(785usize)),
        1 => (Just(785usize), 1usize..=5, 1usize..=40),
        1 => (1usize..=33, Just(784usize), Just(128usize)),
        1 => (1usize..=33, Just(128usize), Just(10usize)),
    ]
}

/// Values in `[-1, 1)` with a given share of exact zeros (`0`, a quarter, MNIST-like 80%, all).
fn data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![Just(0u32), Just(1), Just(4), Just(8), Just(16)].prop_flat_map(move |zeros| {
        proptest::collection::vec(
            (0u32..16, -1.0f32..1.0).prop_map(move |(z, v)| if z < zeros { 0.0 } else { v }),
            len,
        )
    })
}

/// Any `f32` bit pattern, weighted towards the special values.
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        2 => any::<u32>().prop_map(f32::from_bits),
        1 => prop::sample::select(std::vec![
            0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN,
            f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 1e-40, -1e-40, f32::MAX, f32::MIN,
        ]),
    ]
}

/// Moments around Adam's flush threshold ([`kernels::ADAM_FLUSH`], 2⁻¹⁰⁰): exactly it and its
/// neighbours, either sign, and magnitudes from subnormal to 2⁻⁸⁰.
fn moment_near_flush() -> impl Strategy<Value = f32> {
    let t = kernels::ADAM_FLUSH;
    let near = [t, t.next_down(), t.next_up(), 1e-40, 0.0];
    prop_oneof![
        prop::sample::select(near.iter().flat_map(|&x| [x, -x]).collect::<Vec<_>>()),
        (-130i32..-80, any::<bool>()).prop_map(|(e, neg)| if neg {
            -(2.0f32).powi(e)
        } else {
            (2.0f32).powi(e)
        }),
    ]
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_bitwise(what: &str, path: Path, got: &[f32], want: &[f32]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            same_bits(g, w),
            "{} on {}: element {}: {:e} ({:#010x}) vs portable {:e} ({:#010x})",
            what,
            path,
            i,
            g,
            g.to_bits(),
            w,
            w.to_bits()
        );
    }
    Ok(())
}

/// `|got − want| ≤ (steps + 2)·2⁻²³·magnitude + 1e-30` element by element.
fn assert_close(
    what: &str,
    path: Path,
    got: &[f32],
    want: &[f32],
    magnitude: &[f64],
    steps: usize,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    let eps = f64::from(f32::EPSILON) / 2.0;
    for (i, ((&g, &w), &mag)) in got.iter().zip(want).zip(magnitude).enumerate() {
        let tol = (steps as f64 + 2.0) * eps * mag + 1e-30;
        prop_assert!(
            (f64::from(g) - f64::from(w)).abs() <= tol,
            "{} on {}: element {}: {} vs portable {} (tolerance {:e})",
            what,
            path,
            i,
            g,
            w,
            tol
        );
    }
    Ok(())
}

const POISON: f32 = 1234.5;

/// `Σ|a||b| + |bias|` per element of `A·B + bias` (row-major `m×n`).
fn magnitude_nn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], bias: &[f32]) -> Vec<f64> {
    let mut out = std::vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = f64::from(bias.get(j).copied().unwrap_or(0.0)).abs();
            for p in 0..k {
                s += f64::from(a[i * k + p]).abs() * f64::from(b[p * n + j]).abs();
            }
            out[i * n + j] = s;
        }
    }
    out
}

fn transpose(rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
    let mut t = std::vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn matmul_bias_matches_portable(
        (m, k, n, a, b, bias) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(k * n), data(n))
        })
    ) {
        let mut want = std::vec![0.0; m * n];
        Portable.matmul_bias(m, k, n, &a, &b, &bias, &mut want);
        let mag = magnitude_nn(m, k, n, &a, &b, &bias);
        let mut first: Option<Vec<f32>> = None;
        for kern in simd_paths() {
            let mut c = std::vec![POISON; m * n + 3];
            kern.matmul_bias(m, k, n, &a, &b, &bias, &mut c);
            assert_close("matmul_bias", kern.path(), &c[..m * n], &want, &mag, k)?;
            prop_assert!(c[m * n..].iter().all(|&v| v == POISON), "wrote past C");
            // matmul_bias_relu is exactly relu of matmul_bias on the same path.
            let mut r = std::vec![POISON; m * n + 3];
            kern.matmul_bias_relu(m, k, n, &a, &b, &bias, &mut r);
            let mut relu = c[..m * n].to_vec();
            Portable.relu(&mut relu);
            assert_bitwise("matmul_bias_relu", kern.path(), &r[..m * n], &relu)?;
            prop_assert!(r[m * n..].iter().all(|&v| v == POISON), "wrote past C");
            match &first {
                None => first = Some(c[..m * n].to_vec()),
                Some(f) => assert_bitwise("matmul_bias (SIMD paths agree)", kern.path(), &c[..m * n], f)?,
            }
        }
    }

    #[test]
    fn matmul_tn_matches_portable(
        (m, k, n, a, b) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(m * n))
        })
    ) {
        let mut want = std::vec![0.0; k * n];
        Portable.matmul_tn(m, k, n, &a, &b, &mut want);
        // Aᵀ·B is the `nn` product of Aᵀ [k×m] and B [m×n].
        let mag = magnitude_nn(k, m, n, &transpose(m, k, &a), &b, &[]);
        let mut first: Option<Vec<f32>> = None;
        for kern in simd_paths() {
            let mut c = std::vec![POISON; k * n + 3];
            kern.matmul_tn(m, k, n, &a, &b, &mut c);
            assert_close("matmul_tn", kern.path(), &c[..k * n], &want, &mag, m)?;
            prop_assert!(c[k * n..].iter().all(|&v| v == POISON), "wrote past C");
            match &first {
                None => first = Some(c[..k * n].to_vec()),
                Some(f) => assert_bitwise("matmul_tn (SIMD paths agree)", kern.path(), &c[..k * n], f)?,
            }
        }
    }

    /// A row of `A·B + bias` (and of `Aᵀ·B`) is the same bits whether computed with the other
    /// rows or alone: tiling, chunking of the steps, and the choice between the dense and
    /// sparse kernels (made per block of rows) change neither the terms nor their order.
    #[test]
    fn matmul_rows_are_independent_bitwise(
        (m, k, n, a, b, bias, dy) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(k * n), data(n), data(m * n))
        })
    ) {
        for kern in simd_paths() {
            let mut c = std::vec![0.0; m * n];
            kern.matmul_bias_relu(m, k, n, &a, &b, &bias, &mut c);
            for i in 0..m {
                let mut row = std::vec![0.0; n];
                kern.matmul_bias_relu(1, k, n, &a[i * k..(i + 1) * k], &b, &bias, &mut row);
                assert_bitwise("matmul_bias_relu row alone", kern.path(), &row, &c[i * n..(i + 1) * n])?;
            }
            // Row p of Aᵀ·dY is column p of A against dY.
            let mut g = std::vec![0.0; k * n];
            kern.matmul_tn(m, k, n, &a, &dy, &mut g);
            for p in 0..k {
                let col: Vec<f32> = (0..m).map(|i| a[i * k + p]).collect();
                let mut row = std::vec![0.0; n];
                kern.matmul_tn(m, 1, n, &col, &dy, &mut row);
                assert_bitwise("matmul_tn row alone", kern.path(), &row, &g[p * n..(p + 1) * n])?;
            }
        }
    }

    /// Columns `j₀..j₁` of `A·B + bias` and of `Aᵀ·dY` are the same bits when computed from
    /// those columns of `B` (and `dY`) alone, copied contiguous, on every path: a host may split
    /// a layer between cores by output columns, each core holding its columns of the kernel as a
    /// panel, and train the same model as one core.
    #[test]
    fn matmul_columns_are_independent_bitwise(
        (m, k, n, a, b, bias, dy, cut) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(k * n), data(n), data(m * n), (0..=n, 0..=n))
        })
    ) {
        let (j0, j1) = (cut.0.min(cut.1), cut.0.max(cut.1));
        let w = j1 - j0;
        let cols = |x: &[f32], rows: usize| -> Vec<f32> {
            (0..rows).flat_map(|r| x[r * n + j0..r * n + j1].to_vec()).collect()
        };
        let paths: Vec<&dyn Kernels> = std::iter::once(&Portable as &dyn Kernels)
            .chain(simd_paths())
            .collect();
        for kern in paths {
            let mut whole = std::vec![0.0; m * n];
            kern.matmul_bias(m, k, n, &a, &b, &bias, &mut whole);
            let mut part = std::vec![POISON; m * w + 3];
            kern.matmul_bias(m, k, w, &a, &cols(&b, k), &bias[j0..j1], &mut part);
            assert_bitwise("matmul_bias columns", kern.path(), &part[..m * w], &cols(&whole, m))?;
            prop_assert!(part[m * w..].iter().all(|&v| v == POISON), "wrote past C");
            let mut whole = std::vec![0.0; k * n];
            kern.matmul_tn(m, k, n, &a, &dy, &mut whole);
            let mut part = std::vec![POISON; k * w + 3];
            kern.matmul_tn(m, k, w, &a, &cols(&dy, m), &mut part);
            assert_bitwise("matmul_tn columns", kern.path(), &part[..k * w], &cols(&whole, k))?;
            prop_assert!(part[k * w..].iter().all(|&v| v == POISON), "wrote past C");
        }
    }

    /// `matmul_tn_strided` over columns `p₀..p₁` of `A` (its rows `k` apart) gives rows
    /// `p₀..p₁` of the whole `matmul_tn`, bit for bit, on every path, and writes nothing past
    /// them: a host may compute a weight gradient's rows in any ranges.
    #[test]
    fn matmul_tn_strided_gives_rows_of_the_whole_bitwise(
        (m, k, n, a, dy, cut) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(m * n), (0..=k, 0..=k))
        })
    ) {
        let (p0, p1) = (cut.0.min(cut.1), cut.0.max(cut.1));
        let paths: Vec<&dyn Kernels> = std::iter::once(&Portable as &dyn Kernels)
            .chain(simd_paths())
            .collect();
        for kern in paths {
            let mut whole = std::vec![0.0; k * n];
            kern.matmul_tn(m, k, n, &a, &dy, &mut whole);
            let mut c = std::vec![POISON; (p1 - p0) * n + 3];
            kern.matmul_tn_strided(m, p1 - p0, n, &a[p0..], k, &dy, &mut c);
            assert_bitwise("matmul_tn_strided rows", kern.path(), &c[..(p1 - p0) * n], &whole[p0 * n..p1 * n])?;
            prop_assert!(c[(p1 - p0) * n..].iter().all(|&v| v == POISON), "wrote past C");
        }
    }

    /// The weight gradient's register-summing sparse kernel (at most 32 steps) gives
    /// bitwise the result of the outer-product one it replaces there.
    #[test]
    fn sparse_gather_matches_sparse_outer_bitwise(
        (rows, steps, cols, a, b) in (1usize..=64, 1usize..=32, dim()).prop_flat_map(|(r, s, c)| {
            (Just(r), Just(s), Just(c), data(s * r), data(s * c))
        })
    ) {
        let pairs = kernels::sparse_tn_pairs(rows, steps, cols, &a, &b);
        prop_assert_eq!(pairs.len(), simd_paths().len(), "a SIMD path did not run");
        for (path, gather, outer) in pairs {
            assert_bitwise("sparse_gather vs sparse_outer", path, &gather, &outer)?;
        }
    }

    #[test]
    fn matmul_nt_matches_portable(
        (m, k, n, a, b) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * n), data(k * n))
        })
    ) {
        let mut want = std::vec![0.0; m * k];
        Portable.matmul_nt(m, k, n, &a, &b, &mut want);
        let mag = magnitude_nn(m, n, k, &a, &transpose(k, n, &b), &[]);
        for kern in simd_paths() {
            let mut c = std::vec![POISON; m * k + 3];
            kern.matmul_nt(m, k, n, &a, &b, &mut c);
            assert_close("matmul_nt", kern.path(), &c[..m * k], &want, &mag, n)?;
            prop_assert!(c[m * k..].iter().all(|&v| v == POISON), "wrote past C");
        }
    }

    #[test]
    fn column_sums_match_portable_bitwise(
        (m, n, a) in dims().prop_flat_map(|(m, n, _)| (Just(m), Just(n), data(m * n)))
    ) {
        let mut want = std::vec![POISON; n + 3];
        Portable.column_sums(m, n, &a, &mut want);
        for kern in simd_paths() {
            let mut out = std::vec![POISON; n + 3];
            kern.column_sums(m, n, &a, &mut out);
            assert_bitwise("column_sums", kern.path(), &out, &want)?;
        }
    }

    #[test]
    fn elementwise_kernels_match_portable_bitwise(
        (x, y, z) in (0usize..200).prop_flat_map(|len| (
            proptest::collection::vec(any_f32(), len),
            proptest::collection::vec(any_f32(), len),
            proptest::collection::vec(any_f32(), len),
        )),
        cut in 0usize..3,
    ) {
        // Unequal lengths: kernels work on the shortest, like portable's `zip`.
        let short = x.len().saturating_sub(cut);
        for kern in simd_paths() {
            let path = kern.path();
            let (mut got, mut want) = (x.clone(), x.clone());
            kern.relu(&mut got);
            Portable.relu(&mut want);
            assert_bitwise("relu", path, &got, &want)?;

            let (mut got, mut want) = (z.clone(), z.clone());
            kern.relu_backward(&x[..short], &y, &mut got);
            Portable.relu_backward(&x[..short], &y, &mut want);
            assert_bitwise("relu_backward", path, &got, &want)?;

            let (mut got, mut want) = (z.clone(), z.clone());
            kern.mul(&x, &y[..short], &mut got);
            Portable.mul(&x, &y[..short], &mut want);
            assert_bitwise("mul", path, &got, &want)?;

            let (mut got, mut want) = (z.clone(), z.clone());
            kern.sgd(&mut got, &y[..short], 0.01);
            Portable.sgd(&mut want, &y[..short], 0.01);
            assert_bitwise("sgd", path, &got, &want)?;
        }
    }

    #[test]
    fn bytes_to_unit_matches_portable_bitwise(
        src in proptest::collection::vec(any::<u8>(), 0..200),
        delta in -2isize..3,
    ) {
        // A shorter or longer destination: the kernels convert over the shorter slice, like
        // portable's `zip`, and leave the rest of the destination (and what lies beyond) alone.
        let dst_len = src.len().saturating_add_signed(delta);
        let mut want = std::vec![POISON; dst_len + 3];
        Portable.bytes_to_unit(&src, &mut want[..dst_len]);
        let done = src.len().min(dst_len);
        prop_assert!(want[done..].iter().all(|v| v.to_bits() == POISON.to_bits()));
        for kern in simd_paths() {
            let mut got = std::vec![POISON; dst_len + 3];
            kern.bytes_to_unit(&src, &mut got[..dst_len]);
            assert_bitwise("bytes_to_unit", kern.path(), &got, &want)?;
        }
    }

    #[test]
    fn adam_matches_portable_bitwise(
        (w, g, m, v) in (0usize..150).prop_flat_map(|len| (
            proptest::collection::vec(-2.0f32..2.0, len),
            proptest::collection::vec(any_f32(), len),
            proptest::collection::vec(prop_oneof![-1.0f32..1.0, moment_near_flush()], len),
            proptest::collection::vec(
                prop_oneof![0.0f32..1.0, moment_near_flush().prop_map(f32::abs)],
                len,
            ),
        )),
        alpha in 1e-5f32..0.1,
        rate1 in 0.01f32..0.5,
        rate2 in 1e-4f32..0.1,
        eps in prop_oneof![Just(1e-7f32), 1e-9f32..1e-3],
    ) {
        let step = kernels::AdamStep { alpha, rate1, rate2, eps };
        let mut want = (w.clone(), m.clone(), v.clone());
        Portable.adam(&mut want.0, &g, &mut want.1, &mut want.2, step);
        for kern in simd_paths() {
            let mut got = (w.clone(), m.clone(), v.clone());
            kern.adam(&mut got.0, &g, &mut got.1, &mut got.2, step);
            assert_bitwise("adam w", kern.path(), &got.0, &want.0)?;
            assert_bitwise("adam m", kern.path(), &got.1, &want.1)?;
            assert_bitwise("adam v", kern.path(), &got.2, &want.2)?;
        }
    }

    #[test]
    fn adam_sum_matches_portable_bitwise(
        // Every slice gets 0–2 extra scalars, so that any of them can be the shortest.
        (w, parts, extra_m, extra_v) in (0usize..150, 1usize..5).prop_flat_map(|(len, k)| (
            (0usize..3).prop_flat_map(move |e| proptest::collection::vec(-2.0f32..2.0, len + e)),
            proptest::collection::vec(
                (0usize..3).prop_flat_map(move |e| proptest::collection::vec(any_f32(), len + e)),
                k,
            ),
            0usize..3,
            0usize..3,
        )),
        alpha in 1e-5f32..0.1,
    ) {
        let grads: Vec<&[f32]> = parts.iter().map(|g| g.as_slice()).collect();
        let len = parts.iter().map(Vec::len).min().unwrap().min(w.len());
        let (m, v) = (std::vec![0.25f32; len + extra_m], std::vec![0.5f32; len + extra_v]);
        let step = kernels::AdamStep { alpha, rate1: 0.1, rate2: 0.001, eps: 1e-7 };
        let mut want = (w.clone(), m.clone(), v.clone());
        Portable.adam_sum(&mut want.0, &grads, &mut want.1, &mut want.2, step);
        // The sum in order over the shortest length, then plain adam: the same bits, and
        // nothing past that length touched.
        let mut sum = parts[0][..len].to_vec();
        for g in &parts[1..] {
            sum.iter_mut().zip(g).for_each(|(a, &b)| *a += b);
        }
        let mut plain = (w.clone(), m.clone(), v.clone());
        Portable.adam(&mut plain.0, &sum, &mut plain.1, &mut plain.2, step);
        assert_bitwise("adam_sum w vs sum + adam", Path::Portable, &want.0, &plain.0)?;
        assert_bitwise("adam_sum m vs sum + adam", Path::Portable, &want.1, &plain.1)?;
        assert_bitwise("adam_sum v vs sum + adam", Path::Portable, &want.2, &plain.2)?;
        for kern in simd_paths() {
            let mut got = (w.clone(), m.clone(), v.clone());
            kern.adam_sum(&mut got.0, &grads, &mut got.1, &mut got.2, step);
            assert_bitwise("adam_sum w", kern.path(), &got.0, &want.0)?;
            assert_bitwise("adam_sum m", kern.path(), &got.1, &want.1)?;
            assert_bitwise("adam_sum v", kern.path(), &got.2, &want.2)?;
        }
    }

    #[test]
    fn dropout_mask_matches_portable_bitwise(
        len in 0usize..700,
        rate in prop_oneof![Just(0.0f32), Just(0.2), Just(0.5), Just(1.0), Just(1.5), Just(-0.1), Just(f32::NAN), 0.0f32..1.0],
        key in any::<u64>(),
        first in prop_oneof![any::<u32>(), (u32::MAX - 300)..=u32::MAX, 0u32..100],
    ) {
        let mut want = std::vec![POISON; len];
        Portable.dropout_mask(&mut want, rate, key, first);
        for kern in simd_paths() {
            let mut got = std::vec![POISON; len];
            kern.dropout_mask(&mut got, rate, key, first);
            assert_bitwise("dropout_mask", kern.path(), &got, &want)?;
        }
    }

    #[test]
    fn softmax_matches_portable_bitwise(
        (n, x) in (1usize..=40, 1usize..=6)
            .prop_flat_map(|(n, rows)| (Just(n), proptest::collection::vec(
                prop_oneof![4 => -30.0f32..30.0, 1 => -200.0f32..200.0, 1 => any_f32()], n * rows))),
    ) {
        let mut want = std::vec![POISON; x.len()];
        Portable.softmax(n, &x, &mut want);
        for kern in simd_paths() {
            let mut got = std::vec![POISON; x.len()];
            kern.softmax(n, &x, &mut got);
            assert_bitwise("softmax", kern.path(), &got, &want)?;
        }
    }

    #[test]
    fn softmax_cross_entropy_matches_portable_bitwise(
        (n, z, labels) in (1usize..=40, 1usize..=6).prop_flat_map(|(n, rows)| (
            Just(n),
            proptest::collection::vec(prop_oneof![4 => -20.0f32..20.0, 1 => -150.0f32..150.0], n * rows),
            proptest::collection::vec(0..n as u8, rows),
        )),
        scale in 0.001f32..1.0,
    ) {
        let mut want = std::vec![POISON; z.len()];
        let (wl, wc) = Portable.softmax_cross_entropy(n, &z, &labels, scale, &mut want);
        for kern in simd_paths() {
            let mut got = std::vec![POISON; z.len()];
            let (l, c) = kern.softmax_cross_entropy(n, &z, &labels, scale, &mut got);
            assert_bitwise("softmax_cross_entropy grad", kern.path(), &got, &want)?;
            prop_assert!(same_bits(l, wl), "loss on {}: {} vs {}", kern.path(), l, wl);
            prop_assert_eq!(c, wc);
        }
    }
}

/// The vectorized `expf` (used by both softmaxes) is `libm::expf` bit for bit: every special
/// range boundary ± 64 ulps, and a sweep of 4 million bit patterns over all of `f32`.
#[test]
fn expf_matches_libm_bitwise() {
    let boundaries = [
        0x3900_0000u32, // 2⁻¹⁴: below, 1 + x
        0x3eb1_7218,    // 0.5 ln 2
        0x3f85_1592,    // 1.5 ln 2
        0x42ae_ac50,    // 87.34: start of the special cases
        0x42b1_7218,    // 88.72: overflow
        0x42cf_f1b5,    // 103.97: underflow to 0
        0x7f80_0000,    // inf / NaN
        0x0000_0000,
        0x0080_0000, // smallest normal
    ];
    let mut xs: Vec<f32> = Vec::new();
    for b in boundaries {
        for d in 0..=128u32 {
            let bits = b.wrapping_add(d).wrapping_sub(64);
            xs.push(f32::from_bits(bits));
            xs.push(f32::from_bits(bits | 0x8000_0000));
        }
    }
    xs.extend(
        (0..(1u64 << 32))
            .step_by(1021)
            .map(|b| f32::from_bits(b as u32)),
    );
    let want: Vec<f32> = xs.iter().map(|&x| libm::expf(x)).collect();
    let mut tested = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        if let Some(k) = crate::kernels::x86_avx2::Avx2::new() {
            let mut got = xs.clone();
            k.expf_in_place(&mut got);
            check_expf("avx2", &xs, &got, &want);
            tested += 1;
        }
        if let Some(k) = crate::kernels::x86_avx512::Avx512::new() {
            let mut got = xs.clone();
            k.expf_in_place(&mut got);
            check_expf("avx512", &xs, &got, &want);
            tested += 1;
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        let mut got = xs.clone();
        crate::kernels::aarch64_neon::Neon.expf_in_place(&mut got);
        check_expf("neon", &xs, &got, &want);
        tested += 1;
    }
    assert_eq!(
        tested,
        simd_paths().len(),
        "every SIMD path's expf was tested"
    );
}

fn check_expf(path: &str, xs: &[f32], got: &[f32], want: &[f32]) {
    for ((&x, &g), &w) in xs.iter().zip(got).zip(want) {
        assert!(
            same_bits(g, w),
            "expf on {path}: x = {x:e} ({:#010x}): {g:e} ({:#010x}) vs libm {w:e} ({:#010x})",
            x.to_bits(),
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// Zeros of `A` are skipped exactly, as portable skips them: a zero facing an infinite or NaN
/// weight contributes nothing, and a `-0.0` bias stays `-0.0` when every input is zero.
#[test]
fn matmul_zero_skipping_is_exact() {
    for (m, k, n) in [
        (1, 5, 3),
        (4, 40, 37),
        (13, 33, 20),
        (32, 784, 128),
        (3, 17, 1),
    ] {
        // Zeros of both signs: `-0.0` is skipped like `+0.0`.
        let zero = |i: usize| if i.is_multiple_of(2) { 0.0 } else { -0.0 };
        let mut a: Vec<f32> = (0..m * k)
            .map(|i| {
                if i % 3 == 0 {
                    zero(i / 3)
                } else {
                    (i % 7) as f32 - 3.0
                }
            })
            .collect();
        // Some rows all zero, dense and sparse rows mixed.
        for (p, v) in a[..k].iter_mut().enumerate() {
            *v = zero(p);
        }
        if m > 2 {
            for v in &mut a[2 * k..3 * k] {
                *v = 1.5;
            }
        }
        let mut b: Vec<f32> = (0..k * n).map(|i| ((i % 11) as f32 - 5.0) / 4.0).collect();
        // Rows of B facing a column of A that is zero in every row: poison them.
        for p in (0..k).filter(|p| (0..m).all(|i| a[i * k + p] == 0.0)) {
            for j in 0..n {
                b[p * n + j] = if j % 2 == 0 { f32::INFINITY } else { f32::NAN };
            }
        }
        let bias: Vec<f32> = (0..n)
            .map(|j| if j % 2 == 0 { -0.0 } else { 0.5 })
            .collect();
        let mut want = std::vec![0.0; m * n];
        Portable.matmul_bias(m, k, n, &a, &b, &bias, &mut want);
        assert!(want.iter().all(|v| v.is_finite()));
        for kern in simd_paths() {
            let mut got = std::vec![0.0; m * n];
            kern.matmul_bias(m, k, n, &a, &b, &bias, &mut got);
            for i in 0..m * n {
                assert!(got[i].is_finite(), "{} ({m}, {k}, {n}) [{i}]", kern.path());
                assert!((got[i] - want[i]).abs() <= 1e-4 * want[i].abs().max(1.0));
            }
            // Row 0 is all zeros: exactly the bias, sign of zero included.
            assert_bitwise("matmul_bias zero row", kern.path(), &got[..n], &bias).unwrap();
        }
        // Aᵀ·dY with the same A: poisoned dY rows face zero rows of A.
        let mut dy: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
        for v in &mut dy[..n] {
            *v = f32::NAN;
        }
        let mut want = std::vec![0.0; k * n];
        Portable.matmul_tn(m, k, n, &a, &dy, &mut want);
        for kern in simd_paths() {
            let mut got = std::vec![0.0; k * n];
            kern.matmul_tn(m, k, n, &a, &dy, &mut got);
            for i in 0..k * n {
                assert_eq!(
                    got[i].is_nan(),
                    want[i].is_nan(),
                    "{} tn [{i}]",
                    kern.path()
                );
                if !want[i].is_nan() {
                    assert!((got[i] - want[i]).abs() <= 1e-4 * want[i].abs().max(1.0));
                }
            }
        }
    }
}

/// Dense blocks (mostly nonzeros, which the dense tiles take without looking for zeros) skip
/// their zeros exactly too: a zero facing an infinite or NaN weight, a `-0.0` bias left alone by
/// a row of zeros and a sum that cancels to zero come out as portable's, bit for bit (the
/// values are small multiples of powers of two, so every sum is exact with or without FMA).
#[test]
fn dense_blocks_skip_zeros_exactly() {
    for (m, k, n) in [(32, 784, 128), (9, 37, 33), (1, 40, 10), (5, 17, 16)] {
        // About one zero in nine, of both signs.
        let mut a: Vec<f32> = (0..m * k)
            .map(|i| match (i * 7 + i / k * 3) % 9 {
                4 if i % 2 == 0 => 0.0,
                4 => -0.0,
                v => v as f32 - 4.0,
            })
            .collect();
        // Row 0 holds no nonzero; in row 1 the nonzeros cancel to zero. (At 50% or more
        // nonzeros, AVX-512 takes the (32, 784, 128) block of rows 0–7 as dense; AVX2, whose
        // threshold is 90%, takes those rows sparse: the next test covers its dense blocks.)
        if m > 2 {
            a[..k].iter_mut().for_each(|v| *v = -0.0);
            for (p, v) in a[k..2 * k].iter_mut().enumerate() {
                *v = if p < 2 { [1.0, -1.0][p] } else { 0.0 };
            }
        }
        let mut b: Vec<f32> = (0..k * n).map(|i| ((i % 11) as f32 - 5.0) / 4.0).collect();
        for j in 0..n {
            b[n + j] = b[j];
        }
        // Poison the rows of B facing a zero of the last row.
        let last = &a[(m - 1) * k..];
        for p in (2..k).filter(|&p| last[p] == 0.0) {
            for j in 0..n {
                b[p * n + j] = [f32::INFINITY, f32::NAN, f32::NEG_INFINITY][j % 3];
            }
        }
        let bias: Vec<f32> = (0..n)
            .map(|j| if j % 2 == 0 { -0.0 } else { 0.5 })
            .collect();
        let mut want = std::vec![0.0; m * n];
        Portable.matmul_bias(m, k, n, &a, &b, &bias, &mut want);
        assert!(want[(m - 1) * n..].iter().all(|v| v.is_finite()));
        let mut want_relu = std::vec![0.0; m * n];
        Portable.matmul_bias_relu(m, k, n, &a, &b, &bias, &mut want_relu);
        for kern in simd_paths() {
            let p = kern.path();
            let mut got = std::vec![0.0; m * n];
            kern.matmul_bias(m, k, n, &a, &b, &bias, &mut got);
            assert_bitwise("matmul_bias, dense blocks", p, &got, &want).unwrap();
            kern.matmul_bias_relu(m, k, n, &a, &b, &bias, &mut got);
            assert_bitwise("matmul_bias_relu, dense blocks", p, &got, &want_relu).unwrap();
        }
    }
}

/// The sample by which `matmul_bias` chooses its kernels, on every SIMD path: the floats its
/// documentation names (runs of `SAMPLE_SHAPE.0` at a moving offset in every `SAMPLE_SHAPE.1`,
/// small blocks whole), counted one at a time here; zeros of both signs, NaNs and lengths that
/// end inside a run or a vector.
#[test]
fn sampled_nonzeros_of_every_path_count_the_documented_sample() {
    if simd_paths().is_empty() {
        return; // Miri, or a CPU with no SIMD path: nothing to compare.
    }
    let (run, stride, whole) = kernels::SAMPLE_SHAPE;
    let oracle = |x: &[f32]| -> (usize, usize) {
        if x.len() <= whole {
            return (x.iter().filter(|&&v| v != 0.0).count(), x.len());
        }
        let (mut nonzeros, mut sampled) = (0, 0);
        for (c, chunk) in x.chunks(stride).enumerate() {
            let start = c % (stride / run) * run;
            for &v in chunk.iter().skip(start).take(run) {
                nonzeros += usize::from(v != 0.0);
                sampled += 1;
            }
        }
        (nonzeros, sampled)
    };
    use rand_core::Rng;
    let mut rng = rand_pcg::Pcg32::new(7, 11);
    let mut tested = 0;
    for len in [
        0,
        1,
        17,
        1000,
        1024,
        1025,
        1500,
        4704,
        6272,
        6277,
        12_345,
        3 * stride + run + 5,
    ] {
        let x: Vec<f32> = (0..len)
            .map(|_| match rng.next_u32() % 8 {
                0 => 0.0,
                1 => -0.0,
                2 => f32::NAN,
                v => v as f32 - 4.5,
            })
            .collect();
        let want = oracle(&x);
        for (p, got) in kernels::sampled_nonzeros(&x) {
            assert_eq!(got, want, "{p:?}, {len} floats");
            tested += 1;
        }
    }
    assert_eq!(tested, 12 * simd_paths().len());
}

/// Blocks dense enough for every path's dense tiles (96% nonzeros, which the sample reports for
/// every block) skip zeros exactly: zeros facing infinite and NaN weights, and, with no NaN to
/// give it away, a zero whose sign multiplying a zero would flip (`-0.0 + +0.0` is `+0.0`).
#[test]
fn dense_blocks_of_every_path_skip_zeros_exactly() {
    for (m, k, n) in [(32, 784, 37), (13, 300, 20), (7, 1500, 9)] {
        // One zero in 25, of both signs; none in row 3 but at steps 5 and 6.
        let mut a: Vec<f32> = (0..m * k)
            .map(|i| match (i * 7 + i / k * 3) % 25 {
                4 if i % 2 == 0 => 0.0,
                4 => -0.0,
                v => (v % 9) as f32 - 4.5,
            })
            .collect();
        let row3 = &mut a[3 * k..4 * k];
        row3.iter_mut().for_each(|v| {
            if *v == 0.0 {
                *v = 1.5;
            }
        });
        (row3[5], row3[6]) = (0.0, -0.0);
        for i in 0..m {
            for h in 1..=8.min(m - i) {
                for (p, (nonzeros, sampled)) in kernels::sampled_nonzeros(&a[i * k..(i + h) * k]) {
                    assert!(
                        nonzeros * 10 >= sampled * 9,
                        "{p:?}, rows {i}..{}: {nonzeros}/{sampled}",
                        i + h
                    );
                }
            }
        }
        let bias: Vec<f32> = (0..n)
            .map(|j| if j % 2 == 0 { -0.0 } else { 0.5 })
            .collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i % 11) as f32 - 5.0) / 4.0).collect();
        // Poisoned: the rows of B facing a zero of row 3 (and so of no other row).
        let mut poisoned = b.clone();
        for p in [5, 6] {
            for j in 0..n {
                poisoned[p * n + j] = [f32::INFINITY, f32::NAN, f32::NEG_INFINITY][j % 3];
            }
        }
        // Signed: column 0 of B is zero, of the sign that keeps each of row 3's products
        // `-0.0`; row 3's result there is `-0.0` skipping its zeros and `+0.0` multiplying them
        // (`+0.0 · +0.0` at step 5).
        let mut signed = b;
        for p in 0..k {
            signed[p * n] = if a[3 * k + p] > 0.0 { -0.0 } else { 0.0 };
        }
        for b in [&poisoned, &signed] {
            let mut want = std::vec![0.0; m * n];
            Portable.matmul_bias(m, k, n, &a, b, &bias, &mut want);
            assert!(want[3 * n..4 * n].iter().all(|v| v.is_finite()));
            let mut want_relu = std::vec![0.0; m * n];
            Portable.matmul_bias_relu(m, k, n, &a, b, &bias, &mut want_relu);
            for kern in simd_paths() {
                let p = kern.path();
                let mut got = std::vec![0.0; m * n];
                kern.matmul_bias(m, k, n, &a, b, &bias, &mut got);
                assert_bitwise("matmul_bias, dense blocks", p, &got, &want).unwrap();
                kern.matmul_bias_relu(m, k, n, &a, b, &bias, &mut got);
                assert_bitwise("matmul_bias_relu, dense blocks", p, &got, &want_relu).unwrap();
            }
        }
        // The signed case is one that multiplying the zeros gets wrong.
        let mut want = std::vec![0.0; m * n];
        Portable.matmul_bias(m, k, n, &a, &signed, &bias, &mut want);
        let multiplied = (0..k).fold(bias[0], |acc, p| a[3 * k + p].mul_add(signed[p * n], acc));
        assert_eq!(
            (want[3 * n].to_bits(), multiplied.to_bits()),
            ((-0.0f32).to_bits(), 0)
        );
    }
}

/// Empty sums are zero on every path: with no steps (`k = 0` for `X·W + b` and `dY·Wᵀ`, `m = 0`
/// for `Xᵀ·dY`) every output is written (the bias, or `0`), nothing stale is left in `C`; empty
/// outputs write nothing and do not panic.
#[test]
fn matmuls_with_empty_dimensions_write_every_output() {
    let all: Vec<&dyn Kernels> = core::iter::once(&Portable as &dyn Kernels)
        .chain(simd_paths())
        .collect();
    for (m, k, n) in [
        (0, 0, 0),
        (3, 0, 5),
        (0, 4, 3),
        (3, 4, 0),
        (7, 0, 1),
        (0, 9, 17),
    ] {
        let (a, b) = (std::vec![1.5f32; m * k], std::vec![0.25f32; k * n]);
        let bias: Vec<f32> = (0..n).map(|j| j as f32 - 2.0).collect();
        for kern in &all {
            let p = kern.path();
            let mut c = std::vec![f32::NAN; m * n];
            kern.matmul_bias(m, k, n, &a, &b, &bias, &mut c);
            let want: Vec<f32> = (0..m * n).map(|i| bias[i % n] + k as f32 * 0.375).collect();
            assert_bitwise("matmul_bias", p, &c, &want).unwrap();
            kern.matmul_bias_relu(m, k, n, &a, &b, &bias, &mut c);
            let relu: Vec<f32> = want.iter().map(|&x| x.max(0.0)).collect();
            assert_bitwise("matmul_bias_relu", p, &c, &relu).unwrap();
            // Aᵀ·B with A m×k, B m×n: k×n sums of m products.
            let dy = std::vec![0.5f32; m * n];
            let mut c = std::vec![f32::NAN; k * n];
            kern.matmul_tn(m, k, n, &a, &dy, &mut c);
            assert_bitwise("matmul_tn", p, &c, &std::vec![m as f32 * 0.75; k * n]).unwrap();
            // A·Bᵀ with A m×n, B k×n: m×k sums of n products.
            let (a, b) = (std::vec![1.5f32; m * n], std::vec![0.25f32; k * n]);
            let mut c = std::vec![f32::NAN; m * k];
            kern.matmul_nt(m, k, n, &a, &b, &mut c);
            assert_bitwise("matmul_nt", p, &c, &std::vec![n as f32 * 0.375; m * k]).unwrap();
            let mut sums = std::vec![f32::NAN; n];
            kern.column_sums(m, n, &dy, &mut sums);
            assert_bitwise("column_sums", p, &sums, &std::vec![m as f32 * 0.5; n]).unwrap();
        }
    }
}

/// The CI guard: every path named in `FLASHNET_REQUIRE_KERNELS` must be available on this CPU,
/// and every available SIMD path's vector code must actually run (its entry-point counter moves).
#[test]
fn required_kernel_paths_are_available_and_execute() {
    let available = kernels::available();
    for p in required_paths() {
        assert!(
            available.contains(&p),
            "FLASHNET_REQUIRE_KERNELS requires the {p} kernels, but this CPU/build only has {:?}",
            available
        );
    }
    for kern in simd_paths() {
        let path = kern.path();
        let before = kernels::executed::count(path);
        let mut x = [-1.0f32, 2.0, -3.0, 4.0];
        kern.relu(&mut x);
        assert_eq!(x, [0.0, 2.0, 0.0, 4.0]);
        let mut c = [0.0f32; 4];
        kern.matmul_bias(
            2,
            2,
            2,
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, 0.0, 0.0, 1.0],
            &[0.5, 0.5],
            &mut c,
        );
        assert_eq!(c, [1.5, 2.5, 3.5, 4.5]);
        let after = kernels::executed::count(path);
        assert!(
            after >= before + 2,
            "the {path} SIMD entry points did not run"
        );
    }
    // And the required ones were among those exercised.
    for p in required_paths()
        .into_iter()
        .filter(|&p| p != Path::Portable)
    {
        assert!(kernels::executed::count(p) > 0, "the {p} kernels never ran");
    }
}

#[test]
fn dispatch_api() {
    let available = kernels::available();
    assert_eq!(available.last(), Some(&Path::Portable));
    assert_eq!(kernels::best(), available[0]);
    assert!(available.contains(&kernels::active()));
    for p in Path::ALL {
        assert_eq!(Path::from_name(p.name()), Some(p));
        assert_eq!(p.name().parse::<Path>(), Ok(p));
        assert_eq!(
            p.kernels().map(|k| k.path()),
            available.contains(&p).then_some(p)
        );
        if !p.is_available() {
            assert_eq!(kernels::force(p), Err(kernels::Unsupported(p)));
        }
    }
    assert_eq!(Path::from_name(" AVX512 "), Some(Path::Avx512));
    assert_eq!(Path::from_name("sse"), None);
    assert!("avx-2".parse::<Path>().is_err());
    // Re-forcing the active path changes nothing for concurrently running tests.
    assert_eq!(kernels::force(kernels::active()), Ok(()));
    let msg = std::format!("{}", kernels::Unsupported(Path::Neon));
    assert!(msg.contains("neon"), "{msg}");
    let _: String = msg;
}

/// The free functions (global dispatch) agree with the active path's kernels.
#[test]
fn free_functions_use_the_active_path() {
    let kern = kernels::active().kernels().unwrap();
    let a: Vec<f32> = (0..3 * 20).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    let b: Vec<f32> = (0..20 * 9).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
    let bias = [0.25f32; 9];
    let (mut x, mut y) = ([0.0f32; 27], [0.0f32; 27]);
    kernels::matmul_bias(3, 20, 9, &a, &b, &bias, &mut x);
    kern.matmul_bias(3, 20, 9, &a, &b, &bias, &mut y);
    assert_eq!(x, y);
    let mut want = [0.0f32; 27];
    portable::matmul_bias(3, 20, 9, &a, &b, &bias, &mut want);
    // Small integers: exact on every path.
    assert_eq!(x, want);
}

/// `p / 255` rounded once to `f32` (Keras' `x / 255.0` in `f64`, then cast) for every byte
/// value, on every path, at every start offset within a vector (full vectors and tails).
#[test]
fn bytes_to_unit_is_exact_for_every_byte() {
    let bytes: Vec<u8> = (0..=255u8).chain(0..=255).collect();
    let mut paths = simd_paths();
    paths.push(&Portable);
    for kern in paths {
        for off in 0..17 {
            let src = &bytes[off..];
            let mut out = std::vec![POISON; src.len()];
            kern.bytes_to_unit(src, &mut out);
            for (&p, &v) in src.iter().zip(&out) {
                let want = (f64::from(p) / 255.0) as f32;
                assert_eq!(v.to_bits(), want.to_bits(), "{}: {p} / 255", kern.path());
            }
        }
    }
}
