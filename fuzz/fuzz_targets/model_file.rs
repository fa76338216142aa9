//! Model-file bytes through the loader: no panic, every error a one-line message, every
//! loaded weight finite and within bounds.
#![no_main]

use flashnet::Params;
use flashnet_cli::model_file::{self, MAX_WEIGHT};
use libfuzzer_sys::fuzz_target;

/// Data bytes of the tutorial's tensors: 101,770 f32.
const DATA_BYTES: usize = 4 * 101_770;

fuzz_target!(|data: &[u8]| {
    check(data);
    // The input as a JSON header followed by a whole model's worth of data bytes (one byte of
    // the input repeated): a seed of a few hundred bytes then reaches the tensor checks.
    if let Some(&fill) = data.last()
        && data.first() == Some(&b'{')
    {
        let mut file = (data.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(data);
        file.resize(file.len() + DATA_BYTES, fill);
        check(&file);
    }
});

fn check(bytes: &[u8]) {
    match model_file::parse(bytes) {
        Ok(loaded) => loaded.params.visit(&mut |t| {
            assert!(
                t.iter().all(|w| w.abs() <= MAX_WEIGHT),
                "weight out of bounds"
            );
        }),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
}
