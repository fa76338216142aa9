//! No parser allocates for a size a header claims before checking it against the real data:
//! each one is fed a small file whose header claims gigabytes, under an allocator that counts
//! the bytes this thread holds, and must fail fast with a peak far below the claim.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use flashnet::idx::{self, IdxError};
use flashnet::mnist::{Images, Labels, MnistError};
use flashnet_cli::{data, image_file, model_file};

/// The system allocator, counting the bytes live on each thread and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: the thread-locals may be gone while a thread exits.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the most bytes it had allocated at once (on this
/// thread, beyond what was live before).
fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let top = PEAK.with(Cell::get);
    (r, (top - base).max(0) as usize)
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

#[test]
fn the_counter_counts() {
    let (v, bytes) = peak(|| vec![1u8; 3 * MIB]);
    assert_eq!(v.len(), 3 * MIB);
    assert!((3 * MIB..4 * MIB).contains(&bytes), "{bytes}");
}

#[test]
fn idx_claims_allocate_nothing() {
    // 20 bytes claiming 4 GB of labels, 28 bytes claiming 2⁶⁴ − 1 rows of 28×28 images, and
    // dims that overflow: the core parses in place and allocates nothing at all.
    let labels = idx(0x08, &[u32::MAX], &[0; 12]);
    assert_eq!(labels.len(), 20);
    let (r, bytes) = peak(|| idx::parse(&labels));
    assert_eq!(
        r.unwrap_err(),
        IdxError::Truncated {
            expected: u32::MAX as usize,
            actual: 12
        }
    );
    assert_eq!(bytes, 0);
    let (r, bytes) = peak(|| Labels::parse(&labels).map(|l| l.len()));
    assert!(matches!(
        r,
        Err(MnistError::Idx(IdxError::Truncated { .. }))
    ));
    assert_eq!(bytes, 0);
    let images = idx(0x08, &[u32::MAX, 28, 28], &[7; 12]);
    let (r, bytes) = peak(|| Images::parse(&images).map(|i| i.len()));
    assert!(matches!(
        r,
        Err(MnistError::Idx(IdxError::Truncated { .. }))
    ));
    assert_eq!(bytes, 0);
    let overflow = idx(0x0E, &[u32::MAX; 4], &[]);
    let (r, bytes) = peak(|| idx::parse(&overflow).map(|f| f.data.len()));
    assert_eq!(r.unwrap_err(), IdxError::Overflow);
    assert_eq!(bytes, 0);
}

#[test]
fn data_read_is_capped_by_the_real_size() {
    let dir = tempfile::tempdir().unwrap();
    // A gzip bomb: 300 kB that inflates to 65 MiB; refused with at most 2× the cap held.
    // (65 gzip members of 1 MiB each: they are read as one stream, as `gzip -d` does.)
    let bomb = gzip(&vec![0u8; MIB]).repeat(65);
    assert!(bomb.len() < MIB, "{}", bomb.len());
    std::fs::write(dir.path().join(format!("{TRAIN_IMAGES}.gz")), &bomb).unwrap();
    drop(bomb);
    let (r, bytes) = peak(|| data::read(dir.path(), TRAIN_IMAGES));
    let msg = format!("{:#}", r.unwrap_err());
    assert!(
        msg.contains("decompresses to more than the 67108864-byte limit"),
        "{msg}"
    );
    assert!(bytes <= 2 * (64 << 20) + MIB, "{bytes}");
    // The label cap is 1 MiB: a 50 MiB label bomb never holds more than about 2 MiB.
    std::fs::write(
        dir.path().join(format!("{TEST_LABELS}.gz")),
        gzip(&vec![0u8; MIB]).repeat(50),
    )
    .unwrap();
    let (r, bytes) = peak(|| data::read(dir.path(), TEST_LABELS));
    assert!(format!("{:#}", r.unwrap_err()).contains("1048576-byte limit"));
    assert!(bytes <= 3 * MIB, "{bytes}");
    // A plain file over the cap is refused from its size, before reading (sparse: 1 GiB).
    let big = dir.path().join(TEST_IMAGES);
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (r, bytes) = peak(|| data::read(dir.path(), TEST_IMAGES));
    assert!(format!("{:#}", r.unwrap_err()).contains("1073741824 bytes, more than"));
    assert!(bytes < 64 * KIB, "{bytes}");
}

#[test]
fn model_header_claims_allocate_little() {
    // The 8-byte header length claiming 2⁶², 99,999,999 (under the crate's 100 MB limit) and
    // u64::MAX bytes, with 2 bytes behind it.
    for claim in [1u64 << 62, 99_999_999, u64::MAX] {
        let file = [claim.to_le_bytes().as_slice(), b"{}"].concat();
        let (r, bytes) = peak(|| model_file::parse(&file).map(|_| ()));
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("but only 2 bytes follow"), "{msg}");
        assert!(bytes < 64 * KIB, "{claim}: {bytes}");
    }
    // A header whose shapes claim 2⁶⁴ elements and exabytes of data.
    for shape in [
        "[4294967296,4294967296]",
        "[4294967295,4294967295]",
        "[1073741824,1024]",
    ] {
        let header = format!(
            r#"{{"dense/kernel":{{"dtype":"F32","shape":{shape},"data_offsets":[0,4398046511104]}}}}"#
        );
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header.as_bytes());
        file.extend_from_slice(&[0; 16]);
        let (r, bytes) = peak(|| model_file::parse(&file).map(|_| ()));
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.starts_with("not a valid safetensors file"), "{msg}");
        assert!(bytes < 64 * KIB, "{shape}: {bytes}");
    }
    // A whole valid model needs its parameters (407 kB) and the parsed header, no more.
    let file = model_file(0.5);
    let (r, bytes) = peak(|| model_file::parse(&file).map(|_| ()));
    r.unwrap();
    assert!(bytes < 2 * MIB, "{bytes}");
}

/// A PNG whose IHDR claims `w`×`h` 8-bit grayscale, with a valid CRC and a tiny IDAT.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = png(&image::GrayImage::new(28, 28));
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let mut c = !0u32;
    for &byte in &b[12..29] {
        c ^= u32::from(byte);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    b[29..33].copy_from_slice(&(!c).to_be_bytes());
    b
}

#[test]
fn image_header_claims_allocate_little() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // 4000×4000 passed the old 4096-pixel limit: 16 MB was allocated before the decode failed.
        (png_claiming(4000, 4000), "the image is 4000x4000"),
        (png_claiming(60_000, 60_000), "the image is 60000x60000"),
        (png_claiming(0x7fff_ffff, 1), "too large to decode"),
        (
            b"P5\n100000 100000\n255\n\x00\x00".to_vec(),
            "the image is 100000x100000",
        ),
        (
            b"P2\n4000 4000\n255\n0 0 0".to_vec(),
            "the image is 4000x4000",
        ),
    ];
    for (file, needle) in cases {
        let (r, bytes) = peak(|| image_file::decode(&file, false));
        assert!(bytes < 256 * KIB, "{needle}: {bytes}");
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    // The control: a good digit decodes with little memory too.
    let (r, bytes) = peak(|| image_file::decode(&digit_png(), false));
    r.unwrap();
    assert!(bytes < 256 * KIB, "{bytes}");
}

#[test]
fn model_and_image_files_are_read_up_to_a_cap() {
    // A wrong path (a dataset, a disk image, /dev/zero) must not be read whole: 1 GiB sparse
    // files are refused after reading at most the cap (64 MiB for models, 16 MiB for images).
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (r, bytes) = peak(|| model_file::load(&big).map(|_| ()));
    let msg = format!("{:#}", r.unwrap_err());
    assert!(msg.contains("larger than the 67108864-byte limit"), "{msg}");
    assert!(bytes <= 2 * (64 << 20) + MIB, "{bytes}");
    let (r, bytes) = peak(|| image_file::load(&big, false));
    let msg = format!("{:#}", r.unwrap_err());
    assert!(msg.contains("larger than the 16777216-byte limit"), "{msg}");
    assert!(bytes <= 2 * (16 << 20) + MIB, "{bytes}");
}
