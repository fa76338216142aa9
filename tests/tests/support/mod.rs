//! Shared by the integration tests: a small synthetic MNIST-format dataset that is easy to
//! learn (digit d is a bright square at a spot that depends on d, plus sparse noise).

#![allow(dead_code)] // each test binary uses its own subset

/// IDX bytes of `n` images and labels.
pub fn idx_files(n: usize, seed: u32) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut images = vec![0, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        images.extend(d.to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend((n as u32).to_be_bytes());
    for i in 0..n {
        let d = (next() % 10) as usize;
        let (r0, c0) = (2 + (d / 5) * 12, 2 + (d % 5) * 5);
        let mut img = [0u8; 784];
        for r in r0..r0 + 6 {
            for c in c0..c0 + 6 {
                img[r * 28 + c] = 150 + (next() % 106) as u8;
            }
        }
        for _ in 0..30 {
            img[(next() % 784) as usize] = (next() % 256) as u8;
        }
        images.extend_from_slice(&img);
        labels.push(d as u8);
        let _ = i;
    }
    (images, labels)
}
