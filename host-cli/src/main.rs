//! The `flashnet` command line.
#![allow(dead_code)]
mod atomic;

fn main() {}
