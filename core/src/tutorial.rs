//! The model of TensorFlow 2's beginner tutorial, layer for layer:
//!
//! ```python
//! model = tf.keras.models.Sequential([
//!   tf.keras.layers.Flatten(input_shape=(28, 28)),
//!   tf.keras.layers.Dense(128, activation='relu'),
//!   tf.keras.layers.Dropout(0.2),
//!   tf.keras.layers.Dense(10, activation='softmax')
//! ])
//! ```
#![forbid(unsafe_code)]

use crate::layers::{Dense, Dropout, Flatten, Relu};
use crate::model::{Classifier, Workspace};
use crate::optimizer::Adam;
use crate::train::Trainer;
use crate::{Sequential, sequential};

/// The layers after the first `Dense`: ReLU, dropout and the output layer.
pub type Tail = Sequential![Relu<128>, Dropout<128>, Dense<128, 10>];

/// The layers up to the logits: `Flatten → Dense<784, 128> →` [`Tail`].
pub type Layers = Sequential![Flatten<28, 28, 784>, Dense<784, 128>, Tail];

/// The tutorial model: [`Layers`] and a softmax over 10 classes.
pub type Model = Classifier<Layers, 10>;

/// Its weights: `((), ((kernel, bias), ((), ((), (kernel, bias)))))` in layer order.
pub type Params = <Layers as crate::Layer>::Params;

/// The gradients of [`Model::tail_gradients`](crate::Classifier::tail_gradients): all but the
/// first kernel's.
pub type TailGrads = crate::column_split::TailGrads<128, <Tail as crate::Layer>::Params>;

/// Largest batch the host's training workspace is built for (Keras' default batch is 32).
pub const MAX_BATCH: usize = 256;

/// A training state for the tutorial with Adam and batches of up to [`MAX_BATCH`].
pub type AdamTrainer = Trainer<Layers, Adam, 10, MAX_BATCH>;

/// An inference workspace for batches of up to `B` images.
pub type InferenceWorkspace<const B: usize> = Workspace<Layers, 10, B>;

/// Dropout rate of the tutorial.
pub const DROPOUT: f32 = 0.2;

/// `Sequential([Flatten((28, 28)), Dense(128, 'relu'), Dropout(rate), Dense(10, 'softmax')])`.
pub fn model(dropout: f32) -> Model {
    Classifier::new(sequential![
        Flatten::new(),
        Dense::new(),
        Relu::new(),
        Dropout::new(dropout),
        Dense::new()
    ])
}
