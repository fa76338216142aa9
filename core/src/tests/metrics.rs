//! `Metrics` and `Confusion`.

use crate::metrics::{Confusion, Metrics};

#[test]
fn confusion_rows_are_true_labels_columns_predictions() {
    let mut c = Confusion::<3>::default();
    let logits = [
        [5.0, 0.0, 0.0], // predicts 0
        [0.0, 5.0, 0.0], // predicts 1
        [0.0, 5.0, 0.0], // predicts 1
        [0.0, 0.0, 5.0], // predicts 2
        [1.0, 1.0, 0.0], // tie: predicts 0
    ];
    let labels = [0u8, 1, 2, 2, 1];
    c.record(&logits, &labels);
    assert_eq!(c.counts, [[1, 0, 0], [1, 1, 0], [0, 1, 1]]);
    assert_eq!(c.total(), 5);
    assert_eq!(c.accuracy(), 3.0 / 5.0);
    // Labels outside 0..C are ignored.
    c.record(&[[0.0, 0.0, 1.0]], &[3]);
    assert_eq!(c.total(), 5);
    assert!(Confusion::<2>::default().accuracy().is_nan());
}

#[test]
fn metrics_accumulate_over_batches() {
    let mut m = Metrics::<10>::default();
    assert!(m.loss().is_nan() && m.accuracy().is_nan());
    m.add(3.0, 2, 4);
    m.add(1.5, 1, 2);
    assert_eq!((m.count, m.correct), (6, 3));
    assert_eq!(m.loss(), 4.5 / 6.0);
    assert_eq!(m.accuracy(), 0.5);
    assert_eq!(
        m.confusion.total(),
        0,
        "add() does not touch the confusion matrix"
    );
}
