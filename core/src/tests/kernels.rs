//! The portable kernels against nalgebra (in `f64`) and naive `f64` versions.

use std::vec::Vec;

use nalgebra::DMatrix;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::util::{random_vec, rng};
use crate::kernels::portable::argmax;
use crate::kernels::{
    column_sums, dropout_mask, dropout_threshold, matmul_bias, matmul_nt, matmul_tn, mul, relu,
    relu_backward, softmax, softmax_cross_entropy,
};

fn config() -> Config {
    Config {
        // Miri interprets every nalgebra operation: a couple of cases are what it can afford.
        cases: if cfg!(miri) { 2 } else { 40 },
        failure_persistence: None,
        ..Config::default()
    }
}

/// A dimension: the odd sizes that catch tail bugs, or anything small.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(3), Just(17), Just(33), 1usize..=40]
}

/// `(a, b, c)` sizes, sometimes with one of them 785 (MNIST's 784 + 1, an odd tail).
fn dims() -> impl Strategy<Value = (usize, usize, usize)> {
    prop_oneof![
        3 => (dim(), dim(), dim()),
        1 => (1usize..=3, Just(785usize), 1usize..=17),
        1 => (1usize..=3, 1usize..=17, Just(785usize)),
        1 => (Just(785usize), 1usize..=3, 1usize..=17),
    ]
}

/// Values in `[-1, 1)` with about a quarter exact zeros (the kernels skip zeros).
fn data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(prop_oneof![1 => Just(0.0f32), 3 => -1.0f32..1.0], len)
}

fn mat(rows: usize, cols: usize, v: &[f32]) -> DMatrix<f64> {
    DMatrix::from_row_slice(
        rows,
        cols,
        &v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
    )
}

/// `|actual − want| ≤ 2e-5·magnitude + 1e-6`, where `magnitude` is the sum of the absolute
/// terms (the scale of the rounding error of an `f32` sum).
fn check_close(
    what: &str,
    actual: &[f32],
    want: &DMatrix<f64>,
    magnitude: &DMatrix<f64>,
) -> Result<(), TestCaseError> {
    let (rows, cols) = want.shape();
    prop_assert_eq!(actual.len(), rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let a = f64::from(actual[r * cols + c]);
            let tol = 2e-5 * magnitude[(r, c)] + 1e-6;
            prop_assert!(
                (a - want[(r, c)]).abs() <= tol,
                "{} [{}, {}]: {} vs {} (tol {})",
                what,
                r,
                c,
                a,
                want[(r, c)],
                tol
            );
        }
    }
    Ok(())
}

const POISON: f32 = 1234.5;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn matmul_bias_matches_nalgebra(
        (m, k, n, a, b, bias) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(k * n), data(n))
        })
    ) {
        // Output poisoned, with a tail that must stay untouched.
        let mut c = std::vec![POISON; m * n + 3];
        matmul_bias(m, k, n, &a, &b, &bias, &mut c);
        let (am, bm) = (mat(m, k, &a), mat(k, n, &b));
        let biasm = mat(1, n, &bias);
        let ones = DMatrix::from_element(m, 1, 1.0);
        let want = &am * &bm + &ones * &biasm;
        let magnitude = am.abs() * bm.abs() + ones * biasm.abs();
        check_close("matmul_bias", &c[..m * n], &want, &magnitude)?;
        prop_assert!(c[m * n..].iter().all(|&v| v == POISON));
    }

    #[test]
    fn matmul_tn_matches_nalgebra(
        (m, k, n, a, b) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * k), data(m * n))
        })
    ) {
        let mut c = std::vec![POISON; k * n + 3];
        matmul_tn(m, k, n, &a, &b, &mut c);
        let (am, bm) = (mat(m, k, &a), mat(m, n, &b));
        let want = am.transpose() * &bm;
        let magnitude = am.abs().transpose() * bm.abs();
        check_close("matmul_tn", &c[..k * n], &want, &magnitude)?;
        prop_assert!(c[k * n..].iter().all(|&v| v == POISON));
    }

    #[test]
    fn matmul_nt_matches_nalgebra(
        (m, k, n, a, b) in dims().prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), data(m * n), data(k * n))
        })
    ) {
        let mut c = std::vec![POISON; m * k + 3];
        matmul_nt(m, k, n, &a, &b, &mut c);
        let (am, bm) = (mat(m, n, &a), mat(k, n, &b));
        let want = &am * bm.transpose();
        let magnitude = am.abs() * bm.abs().transpose();
        check_close("matmul_nt", &c[..m * k], &want, &magnitude)?;
        prop_assert!(c[m * k..].iter().all(|&v| v == POISON));
    }

    #[test]
    fn column_sums_match_nalgebra(
        (m, n, a) in (dims()).prop_flat_map(|(m, n, _)| (Just(m), Just(n), data(m * n)))
    ) {
        let mut out = std::vec![POISON; n + 3];
        column_sums(m, n, &a, &mut out);
        let (am, ones) = (mat(m, n, &a), DMatrix::from_element(1, m, 1.0));
        check_close("column_sums", &out[..n], &(&ones * &am), &(&ones * am.abs()))?;
        prop_assert!(out[n..].iter().all(|&v| v == POISON));
    }

    #[test]
    fn softmax_rows_match_naive_f64(
        (n, x) in (1usize..=20, 1usize..=5)
            .prop_flat_map(|(n, rows)| (Just(n), proptest::collection::vec(-30.0f32..30.0, n * rows)))
    ) {
        let mut out = std::vec![0.0; x.len()];
        softmax(n, &x, &mut out);
        for (z, p) in x.chunks(n).zip(out.chunks(n)) {
            let want = naive_softmax(z);
            let sum: f64 = p.iter().map(|&v| f64::from(v)).sum();
            prop_assert!((sum - 1.0).abs() < 1e-5, "row sums to {}", sum);
            for (a, w) in p.iter().zip(&want) {
                prop_assert!((f64::from(*a) - w).abs() < 1e-6 + 1e-5 * w, "{} vs {}", a, w);
            }
        }
    }
}

#[test]
fn matmul_kernels_on_a_known_product() {
    // A = [[1, 0, 2], [0, 3, -1]] (with zeros), B = [[1, 2], [3, 4], [5, 6]].
    let a = [1.0, 0.0, 2.0, 0.0, 3.0, -1.0];
    let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut c = [0.0; 4];
    matmul_bias(2, 3, 2, &a, &b, &[0.5, -0.5], &mut c);
    assert_eq!(c, [11.5, 13.5, 4.5, 5.5]);
    // Aᵀ·Y with Y = [[1, 2], [3, 4]] (2×2): [[1, 2], [9, 12], [-1, 0]].
    let mut t = [0.0; 6];
    matmul_tn(2, 3, 2, &a, &[1.0, 2.0, 3.0, 4.0], &mut t);
    assert_eq!(t, [1.0, 2.0, 9.0, 12.0, -1.0, 0.0]);
    // Y·Bᵀ with Y = [[1, 2], [3, 4]], B (3×2): [[5, 11, 17], [11, 25, 39]].
    let mut n = [0.0; 6];
    matmul_nt(2, 3, 2, &[1.0, 2.0, 3.0, 4.0], &b, &mut n);
    assert_eq!(n, [5.0, 11.0, 17.0, 11.0, 25.0, 39.0]);
    let mut s = [9.0; 3];
    column_sums(2, 3, &a, &mut s);
    assert_eq!(s, [1.0, 3.0, 1.0]);
}

fn naive_softmax(z: &[f32]) -> Vec<f64> {
    let max = z
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    let e: Vec<f64> = z.iter().map(|&v| (f64::from(v) - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

#[test]
fn relu_and_its_backward() {
    let mut x = [-1.0, 0.0, 2.5, -0.0, 1e-30, -3e5];
    relu(&mut x);
    assert_eq!(x, [0.0, 0.0, 2.5, 0.0, 1e-30, 0.0]);
    let y = [0.0, 1.0, 0.0, 3.0, 1e-30];
    let dy = [5.0, 6.0, 7.0, 8.0, 9.0];
    let mut dx = [f32::NAN; 5];
    relu_backward(&y, &dy, &mut dx);
    assert_eq!(dx, [0.0, 6.0, 0.0, 8.0, 9.0]);
    let mut out = [0.0; 3];
    mul(&[1.0, -2.0, 3.0], &[0.0, 2.0, 0.5], &mut out);
    assert_eq!(out, [0.0, -4.0, 1.5]);
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let mut out = [0.0; 3];
    softmax(3, &[1000.0, -1000.0, 0.0], &mut out);
    assert_eq!(out, [1.0, 0.0, 0.0]);
    let mut out = [0.0; 2];
    softmax(2, &[1000.0, 1000.0], &mut out);
    assert_eq!(out, [0.5, 0.5]);
    let mut out = [0.0; 4];
    softmax(2, &[-1000.0, -1000.0, 1000.0, 999.0], &mut out);
    assert_eq!(&out[..2], &[0.5, 0.5]);
    let want = naive_softmax(&[1000.0, 999.0]);
    assert!(
        (f64::from(out[2]) - want[0]).abs() < 1e-6 && (f64::from(out[3]) - want[1]).abs() < 1e-6
    );
}

/// `(loss_sum, correct, grad)` computed naively in `f64`.
fn naive_cross_entropy(n: usize, z: &[f32], labels: &[u8], scale: f64) -> (f64, u32, Vec<f64>) {
    let (mut loss, mut correct, mut grad) = (0.0, 0, Vec::new());
    for (row, &y) in z.chunks(n).zip(labels) {
        let y = usize::from(y);
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let lse = max
            + row
                .iter()
                .map(|&v| (f64::from(v) - max).exp())
                .sum::<f64>()
                .ln();
        loss += lse - f64::from(row[y]);
        // First maximum wins.
        let arg = (0..n).find(|&i| f64::from(row[i]) == max).unwrap();
        correct += u32::from(arg == y);
        for (i, p) in naive_softmax(row).into_iter().enumerate() {
            grad.push((p - f64::from(u8::from(i == y))) * scale);
        }
    }
    (loss, correct, grad)
}

#[test]
fn softmax_cross_entropy_matches_naive_log_sum_exp() {
    const N: usize = 7;
    let mut r = rng(21);
    for rows in [1usize, 4, 13] {
        let z = random_vec(&mut r, rows * N, -6.0, 6.0);
        let labels: Vec<u8> = (0..rows).map(|i| ((i * 5 + 3) % N) as u8).collect();
        let scale = 1.0 / rows as f32;
        let mut grad = std::vec![POISON; rows * N];
        let (loss, correct) = softmax_cross_entropy(N, &z, &labels, scale, &mut grad);
        let (want_loss, want_correct, want_grad) =
            naive_cross_entropy(N, &z, &labels, f64::from(scale));
        assert!(
            (f64::from(loss) - want_loss).abs() < 1e-5 * want_loss + 1e-5,
            "{loss} vs {want_loss}"
        );
        assert_eq!(correct, want_correct);
        for (a, w) in grad.iter().zip(&want_grad) {
            assert!((f64::from(*a) - w).abs() < 1e-6, "{a} vs {w}");
        }
    }
}

#[test]
fn softmax_cross_entropy_counts_and_extremes() {
    // Rows: right, wrong, a tie (first maximum wins, so label 1 is wrong), huge logits.
    let z = [
        3.0, 1.0, 0.0, //
        0.0, 2.0, 1.0, //
        1.0, 1.0, 0.0, //
        1000.0, -1000.0, 0.0,
    ];
    let labels = [0u8, 2, 1, 1];
    let mut grad = [0.0; 12];
    let (loss, correct) = softmax_cross_entropy(3, &z, &labels, 1.0, &mut grad);
    assert_eq!(correct, 1);
    let (want, _, _) = naive_cross_entropy(3, &z, &labels, 1.0);
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
    assert!((f64::from(loss) - want).abs() < 1e-3, "{loss} vs {want}");
    // The last row alone costs 2000 (log-sum-exp ≈ 1000, minus −1000).
    assert!(want > 2000.0 && want < 2010.0);
    assert_eq!(&grad[9..], &[1.0, -1.0, 0.0]);
    let (_, correct) = softmax_cross_entropy(3, &z, &[0, 1, 0, 0], 1.0, &mut grad);
    assert_eq!(correct, 4);
    assert_eq!(argmax(&[1.0, 1.0, 0.0]), (0, 1.0));
}

#[test]
fn softmax_cross_entropy_keeps_its_precision_at_large_logits() {
    // Ten tied logits cost ln 10 whatever their size; `max + ln Σ − z_y` lost it all to
    // rounding at 1e17 (and the third digit at 1e6).
    for big in [1e6f32, 1e17, -1e17] {
        let z = [big; 10];
        let mut grad = [0.0; 10];
        let active = softmax_cross_entropy(10, &z, &[3], 1.0, &mut grad).0;
        let reference =
            crate::kernels::portable::softmax_cross_entropy(10, &z, &[3], 1.0, &mut grad).0;
        for loss in [active, reference] {
            assert!(
                (loss - core::f32::consts::LN_10).abs() < 1e-6,
                "{big}: {loss}"
            );
        }
    }
}

#[test]
fn dropout_mask_rate_zero_keeps_everything() {
    let mut mask = [7.0f32; 1000];
    dropout_mask(&mut mask, 0.0, 1, 0);
    assert!(mask.iter().all(|&m| m == 1.0));
}

#[test]
fn dropout_mask_rate_half_drops_half_and_doubles_the_rest() {
    // Under Miri (which looks for undefined behaviour, not bias) a tenth of the elements, the
    // tolerance widened alike (6σ either way).
    let (n, tolerance) = if cfg!(miri) {
        (10_000, 0.03)
    } else {
        (100_000, 0.01)
    };
    let mut mask = std::vec![0.5f32; n];
    dropout_mask(&mut mask, 0.5, 2, 0);
    let dropped = mask.iter().filter(|&&m| m == 0.0).count();
    assert!(mask.iter().all(|&m| m == 0.0 || m == 2.0));
    let fraction = dropped as f64 / mask.len() as f64;
    assert!((fraction - 0.5).abs() < tolerance, "{fraction}");

    let mut mask = std::vec![0.5f32; n];
    dropout_mask(&mut mask, 0.2, 3, 0);
    let fraction = mask.iter().filter(|&&m| m == 0.0).count() as f64 / n as f64;
    assert!((fraction - 0.2).abs() < tolerance, "{fraction}");
    assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0 / 0.8));
}

#[test]
fn dropout_mask_is_a_function_of_the_seed() {
    let draw = |seed| {
        let mut m = std::vec![0.0f32; 256];
        dropout_mask(&mut m, 0.5, seed, 0);
        m
    };
    assert_eq!(draw(5), draw(5));
    assert_ne!(draw(5), draw(6));
}

#[test]
fn dropout_mask_threshold_is_rate_times_2_pow_32() {
    // Each element drops exactly when its noise word is below rate·2³².
    let key = 0x1234_5678_9abc_def0;
    let mut mask = [9.0f32; 512];
    dropout_mask(&mut mask, 0.5, key, 100);
    for (j, &m) in mask.iter().enumerate() {
        let word = crate::noise::bits(key, 100 + j as u32);
        assert_eq!(
            m,
            if word < 1 << 31 { 0.0 } else { 2.0 },
            "element {j}, word {word:#x}"
        );
    }
    assert_eq!(dropout_threshold(0.5), 1 << 31);
    assert_eq!(dropout_threshold(0.0), 0);
    assert_eq!(dropout_threshold(1.0), 1 << 32);
}

#[test]
fn dropout_mask_of_a_slice_is_the_slice_of_the_mask() {
    // What makes sharded training independent of the thread count.
    let mut whole = [0.0f32; 300];
    dropout_mask(&mut whole, 0.3, 77, 0);
    let mut tail = [0.0f32; 100];
    dropout_mask(&mut tail, 0.3, 77, 200);
    assert_eq!(&whole[200..], &tail[..]);
}
