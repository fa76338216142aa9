//! The library behind the `flashnet` command: data location and download, model files,
//! training loop, reports and plots. `main.rs` only parses arguments and dispatches here.

pub mod atomic;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod console;
pub mod data;
pub mod download;
pub mod eval;
pub mod fit;
pub mod gunzip;
pub mod image_file;
pub mod interrupt;
pub mod kernel_path;
pub mod mnist;
pub mod model_file;
pub mod outputs;
pub mod parallel;
pub mod pgm;
pub mod plots;
pub mod progress;
pub mod quant_file;
pub mod quantize;
pub mod report;
