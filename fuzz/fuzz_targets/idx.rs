//! IDX bytes through the core's parsers: no panic, every success consistent with the bytes,
//! every error a one-line message.
#![no_main]

use flashnet::idx::{self, DType};
use flashnet::mnist::{Images, Labels, PIXELS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match idx::parse(data) {
        Ok(f) => {
            let header = 4 + 4 * f.dims.len();
            let elements: usize = f.dims.iter().product();
            assert_eq!(f.data.len(), elements * f.dtype.size());
            assert_eq!(header + f.data.len(), data.len());
            assert_eq!(f.data.as_ptr(), data[header..].as_ptr());
            assert_eq!(DType::from_code(data[2]), Some(f.dtype));
        }
        Err(e) => one_line(&e.to_string()),
    }
    match Images::parse(data) {
        Ok(images) => {
            assert_eq!(16 + images.len() * PIXELS, data.len());
            for (i, img) in images.as_slice().iter().enumerate() {
                assert_eq!(img[..], data[16 + i * PIXELS..16 + (i + 1) * PIXELS]);
            }
        }
        Err(e) => one_line(&e.to_string()),
    }
    match Labels::parse(data) {
        Ok(labels) => {
            assert_eq!(8 + labels.len(), data.len());
            assert_eq!(labels.as_slice(), &data[8..]);
            assert!(labels.as_slice().iter().all(|&l| l < 10));
        }
        Err(e) => one_line(&e.to_string()),
    }
});

fn one_line(msg: &str) {
    assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
}
