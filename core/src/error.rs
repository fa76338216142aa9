//! The core's runtime errors (what a caller can get wrong with data, not with shapes: shapes
//! are checked by the compiler).
#![forbid(unsafe_code)]

use core::fmt;

/// An error from a training or evaluation call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The batch is empty or larger than the workspace was built for.
    BatchSize {
        /// Samples asked for.
        requested: usize,
        /// Compile-time capacity of the workspace.
        capacity: usize,
    },
    /// Inputs and labels disagree in count.
    BatchShape {
        /// Number of inputs.
        inputs: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is not a valid class.
    Label {
        /// Position in the batch.
        index: usize,
        /// The label found.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BatchSize {
                requested,
                capacity,
            } => {
                write!(
                    f,
                    "batch size {requested} is outside 1..={capacity} (the workspace capacity)"
                )
            }
            Error::BatchShape { inputs, labels } => {
                write!(f, "{inputs} inputs but {labels} labels")
            }
            Error::Label {
                index,
                label,
                classes,
            } => {
                write!(
                    f,
                    "label {label} at batch position {index} is not a class (0..{classes})"
                )
            }
        }
    }
}

impl core::error::Error for Error {}
