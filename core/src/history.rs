//! [`History`]: per-epoch metrics in a fixed-capacity list (Keras' `History` object).
#![forbid(unsafe_code)]

/// One epoch's results.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochRecord {
    /// Mean training loss (dropout active).
    pub loss: f64,
    /// Training accuracy (dropout active).
    pub accuracy: f64,
    /// Validation loss and accuracy, when a validation set is used.
    pub validation: Option<(f64, f64)>,
}

/// Up to `E` epochs of results.
#[derive(Clone, Debug, Default)]
pub struct History<const E: usize> {
    /// Epochs in order.
    pub epochs: heapless::Vec<EpochRecord, E>,
}

impl<const E: usize> History<E> {
    /// The most epochs it can hold.
    pub const CAPACITY: usize = E;
    /// An empty history.
    pub const fn new() -> Self {
        History {
            epochs: heapless::Vec::new(),
        }
    }
    /// Appends an epoch; gives it back if the history is full.
    pub fn push(&mut self, e: EpochRecord) -> Result<(), EpochRecord> {
        self.epochs.push(e)
    }
}
