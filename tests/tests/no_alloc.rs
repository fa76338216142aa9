//! After set-up, training steps allocate nothing: counted through a counting global allocator,
//! on every thread of the process (the workers included).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use flashnet::mnist::{Dataset, Images, Labels, PIXELS};
use flashnet::{Adam, Noise, tutorial};
use flashnet_cli::parallel::{Batch, ParallelTrainer, Workers};
use rand_core::SeedableRng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn training_steps_do_not_allocate() {
    let (img, lab) = support::idx_files(640, 9);
    let set = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let model = tutorial::model(0.2);
    let mut t = ParallelTrainer::new(Adam::default(), 2);
    t.init(&model, &mut rand_pcg::Pcg32::seed_from_u64(1));
    let workers = Workers::new(2).unwrap();
    let (images, labels) = (set.images.as_slice(), set.labels.as_slice());
    let picks: Vec<u32> = (0..images.len() as u32).rev().collect();
    let counted = workers.run(|| {
        let mut step = |i: usize, (imgs, labs): (&[[u8; PIXELS]], &[u8])| {
            let batch = Batch::new(imgs, labs).unwrap();
            t.step(&model, batch, Noise::for_step(1, i as u64)).unwrap();
        };
        // Warm-up: the pool's queues and thread-locals settle during the first steps.
        for (i, b) in images.chunks(32).zip(labels.chunks(32)).enumerate() {
            step(i, b);
        }
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for (i, b) in images
            .chunks(32)
            .zip(labels.chunks(32))
            .chain(images.chunks(48).zip(labels.chunks(48)))
            .chain(std::iter::once((&images[..7], &labels[..7])))
            .enumerate()
        {
            step(100 + i, b);
        }
        // Batches picked from the set, as `flashnet train` takes them (in shuffled order).
        for (i, p) in picks.chunks(32).enumerate() {
            let batch = Batch::picked(images, labels, p).unwrap();
            t.step(&model, batch, Noise::for_step(2, i as u64)).unwrap();
        }
        ALLOCATIONS.load(Ordering::SeqCst) - before
    });
    assert_eq!(
        counted,
        0,
        "{counted} allocations in {} training steps",
        20 + 14 + 1 + 20
    );
}
