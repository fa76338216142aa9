//! Unit tests of the core, one file per area. Test-only: none of this is compiled into the
//! library.

mod column_split;
mod gradients;
mod idx;
mod init;
mod kernels;
mod metrics;
mod mnist;
mod optimizer;
mod simd;
mod training;
mod tutorial;
mod util;
