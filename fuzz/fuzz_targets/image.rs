//! Image bytes through `predict`'s decoder: no panic, every error a one-line message, and a
//! decoded digit whose inverted decoding is its complement.
#![no_main]

use flashnet_cli::image_file::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode(data, false) {
        Ok(px) => {
            let inv = decode(data, true).expect("decodes once, decodes twice");
            assert!(px.iter().zip(&inv).all(|(&p, &q)| p == 255 - q));
        }
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
});
