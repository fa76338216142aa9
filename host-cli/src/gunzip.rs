//! gzip decoding as GNU gzip reads a `.gz` file: [`Gunzip`], shared with the firmware's build
//! script (see `flashnet_files::gunzip`).

pub use flashnet_files::gunzip::*;

/// `bytes` as one gzip member (for the tests of this crate).
#[cfg(test)]
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}
