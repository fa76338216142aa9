//! # flashnet
//!
//! Neural networks that train on a desktop and run on a microcontroller: `#![no_std]`, no
//! `alloc`, no heap. Layers have statically sized weights (const generics), so a shape mismatch
//! is a compile error; forward, backward, loss and optimizers all run without an allocator.
//!
//! ```
//! use flashnet::{layers::*, sequential, Classifier, Sequential, Trainer, Adam, Metrics, Noise};
//! use rand_core::SeedableRng;
//!
//! // XOR with a tiny MLP, every buffer on the stack.
//! type Net = Sequential![Dense<2, 8>, Relu<8>, Dense<8, 2>];
//! let model: Classifier<Net, 2> = Classifier::new(sequential![Dense::new(), Relu::new(), Dense::new()]);
//! let mut t: Trainer<Net, Adam, 2, 4> = bytemuck::Zeroable::zeroed();
//! let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
//! t.init(&model, &mut rng);
//! t.ws.input = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]];
//! t.ws.labels = [0, 1, 1, 0];
//! let adam = Adam::with_learning_rate(0.05);
//! for step in 0..300 {
//!     t.step(&model, &adam, 4, Noise::for_step(1, step)).unwrap();
//! }
//! let mut m = Metrics::<2>::default();
//! model.evaluate(&t.params, &mut t.ws, 4, &mut m).unwrap();
//! assert_eq!(m.accuracy(), 1.0);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod aligned;
pub mod chain;
pub mod column_split;
pub mod error;
pub mod history;
pub mod idx;
pub mod init;
pub mod kernels;
pub mod layer;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod mnist;
pub mod model;
pub mod noise;
pub mod optimizer;
pub mod params;
pub mod quant;
pub mod train;
pub mod tutorial;

#[cfg(test)]
mod tests;

pub use chain::Chain;
pub use error::Error;
pub use history::{EpochRecord, History};
pub use layer::{Layer, LayerInfo, TensorInfo};
pub use metrics::{Confusion, Metrics};
pub use model::{Classifier, Workspace, top_k};
pub use noise::Noise;
pub use optimizer::{Adam, AdamState, Optimizer, Sgd};
pub use params::Params;
pub use train::{StepStats, Trainer};
