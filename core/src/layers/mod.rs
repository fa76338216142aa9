//! The layers of the tutorial model, each with forward and backward side by side.
#![forbid(unsafe_code)]

pub mod dense;
pub mod dropout;
pub mod flatten;
pub mod relu;
pub mod softmax;

pub use dense::{Dense, DenseParams};
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use relu::Relu;
pub use softmax::Softmax;
