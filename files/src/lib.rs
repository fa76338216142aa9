//! Reading flashnet's files, shared by the command line (`flashnet-cli`) and the firmware's
//! build script, so that both accept and refuse the same files with the same messages:
//!
//! - [`model_file`]: the f32 model (safetensors, Keras' names and layout);
//! - [`quant_file`]: the int8 model, to the core's [`flashnet::quant`] types;
//! - [`gunzip`]: gzip members, then optional zero padding;
//! - [`mnist_files`]: the MNIST files' names, the cache directory, and capped reads.
//!
//! Writing files (and downloading, and finding a data directory) is the CLI's.

pub mod gunzip;
pub mod mnist_files;
pub mod model_file;
pub mod quant_file;
