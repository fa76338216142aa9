//! flashnet on a Cortex-M4: classifies the embedded MNIST test images with the model in flash,
//! checks the result against what the host computed at build time, reports, and exits.
//!
//! Output: defmt log lines (semihosting in QEMU, RTT on a board) and, in QEMU, a plain-text
//! summary on semihosting stderr that CI reads:
//!
//! ```text
//! flashnet-firmware: model=int8 kernel=dsp sparsity=skip-zeros images=300 correct=293 checksum=5002d57b expected=5002d57b ...
//! predictions: 7210414969…
//! ```
#![no_std]
#![no_main]

mod report;

use cortex_m::peripheral::DWT;
use cortex_m_rt::{ExceptionFrame, entry, exception};

#[cfg(not(feature = "qemu"))]
use defmt_rtt as _;
#[cfg(feature = "qemu")]
use defmt_semihosting as _;

use report::Line;

/// The model, the embedded images and the host's results for them (see build.rs).
#[allow(clippy::all, clippy::pedantic, clippy::unreadable_literal)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}
use generated::{IMAGE_COUNT, IMAGES, LABELS};

// -------------------------------------------------------------------- instruction-count markers

/// Marks the start of one inference for the QEMU instruction-count plugin (`bench_start` to
/// `bench_stop`). Each marker has a different body so that they are never merged.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_start() {
    // SAFETY: an instruction without effect.
    unsafe { core::arch::asm!("nop", options(nomem, nostack, preserves_flags)) }
}

/// Marks the end of one inference.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_stop() {
    // SAFETY: instructions without effect.
    unsafe { core::arch::asm!("nop", "nop", options(nomem, nostack, preserves_flags)) }
}

/// Marks the start of the hidden layer (784 → 128, 100,352 multiply-accumulates).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn layer_start() {
    // SAFETY: instructions without effect.
    unsafe {
        core::arch::asm!(
            "nop",
            "nop",
            "nop",
            options(nomem, nostack, preserves_flags)
        )
    }
}

/// Marks the end of the hidden layer.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn layer_stop() {
    // SAFETY: instructions without effect.
    unsafe {
        core::arch::asm!(
            "nop",
            "nop",
            "nop",
            "nop",
            options(nomem, nostack, preserves_flags)
        )
    }
}

// -------------------------------------------------------------------- the two models

#[cfg(not(feature = "f32"))]
mod net {
    use flashnet::quant::Sparsity;
    use flashnet::quant::tutorial::{Scratch, argmax, output_list};

    use super::generated::MODEL;
    use super::{layer_start, layer_stop};

    pub const NAME: &str = "int8";
    pub const KERNEL: &str = flashnet::quant::kernels::KERNEL;
    pub const SPARSITY: Sparsity = if cfg!(feature = "dense") {
        Sparsity::EveryInput
    } else {
        Sparsity::SkipZeros
    };
    pub use super::generated::{EXPECTED_CHECKSUM, EXPECTED_CORRECT};

    pub struct Net {
        scratch: Scratch,
    }

    impl Net {
        pub fn new() -> Self {
            Net {
                scratch: bytemuck::Zeroable::zeroed(),
            }
        }

        /// Predicted digit; feeds the int8 logits to `hash`.
        #[inline(always)]
        pub fn classify(&mut self, pixels: &[u8; 784], hash: &mut u32) -> u8 {
            let s = &mut self.scratch;
            super::bench_start();
            // `Model::predict_with`, layer by layer to place the markers.
            layer_start();
            MODEL
                .hidden
                .forward(pixels, &mut s.hidden, &mut s.list, SPARSITY);
            layer_stop();
            let mut logits = [0i8; 10];
            MODEL
                .output
                .forward_i8(&s.hidden, &mut logits, output_list(&mut s.list), SPARSITY);
            super::bench_stop();
            for v in logits {
                super::fnv(hash, v as u8);
            }
            argmax(&logits)
        }
    }
}

#[cfg(feature = "f32")]
mod net {
    use flashnet::tutorial::{self, InferenceWorkspace, Model};

    use super::generated::PARAMS;
    use super::{layer_start, layer_stop};

    pub const NAME: &str = "f32";
    pub const KERNEL: &str = "portable-f32";
    /// The f32 build has no build-time expectation: floating point on the host may round
    /// differently (FMA, SIMD); CI compares predictions instead.
    pub const EXPECTED_CHECKSUM: u32 = 0;
    pub const EXPECTED_CORRECT: usize = 0;

    pub struct Net {
        model: Model,
        ws: InferenceWorkspace<1>,
    }

    impl Net {
        pub fn new() -> Self {
            Net {
                model: tutorial::model(0.0),
                ws: bytemuck::Zeroable::zeroed(),
            }
        }

        #[inline(always)]
        pub fn classify(&mut self, pixels: &[u8; 784], hash: &mut u32) -> u8 {
            super::bench_start();
            flashnet::mnist::to_input(pixels, &mut self.ws.input[0]);
            // The layer markers span the whole f32 forward pass (one call).
            layer_start();
            let logits = match self.model.logits(&PARAMS, &mut self.ws, 1) {
                Ok(l) => l[0],
                Err(_) => [0.0; 10],
            };
            layer_stop();
            super::bench_stop();
            for v in logits {
                for b in v.to_bits().to_le_bytes() {
                    super::fnv(hash, b);
                }
            }
            flashnet::kernels::portable::argmax(&logits).0 as u8
        }
    }
}

#[inline(always)]
fn fnv(hash: &mut u32, byte: u8) {
    *hash ^= u32::from(byte);
    *hash = hash.wrapping_mul(0x0100_0193);
}

// -------------------------------------------------------------------- main

#[entry]
fn main() -> ! {
    // Cycle counter for real boards (QEMU's always reads 0).
    if let Some(mut cp) = cortex_m::Peripherals::take() {
        cp.DCB.enable_trace();
        cp.DWT.enable_cycle_counter();
    }
    defmt::info!(
        "flashnet-firmware: {=str} model, {=str} kernel, {=usize} images",
        net::NAME,
        net::KERNEL,
        IMAGE_COUNT
    );

    let mut net = net::Net::new();
    let mut hash: u32 = 0x811c_9dc5;
    let mut correct = 0usize;
    let mut cycles: u64 = 0;
    let mut predictions = Line::new();
    predictions.push_str("predictions: ");
    for (i, (img, &label)) in IMAGES.iter().zip(LABELS.iter()).enumerate() {
        let t0 = DWT::cycle_count();
        let digit = net.classify(img, &mut hash);
        cycles += u64::from(DWT::cycle_count().wrapping_sub(t0));
        correct += usize::from(digit == label);
        predictions.push_digit(digit);
        if predictions.is_full() || i + 1 == IMAGE_COUNT {
            predictions.push_str("\n");
            report::text(predictions.as_bytes());
            predictions.clear();
            predictions.push_str("predictions: ");
        }
    }

    let int8 = net::NAME == "int8";
    let matches = !int8 || (hash == net::EXPECTED_CHECKSUM && correct == net::EXPECTED_CORRECT);
    // The int8 build is held to the host's exact result, whatever its accuracy; the f32 build
    // (no host checksum: its float rounding differs) to a sanity floor of 90% right.
    let plausible = int8 || correct * 10 >= IMAGE_COUNT * 9;
    let ok = matches && plausible;
    let stack = report::stack_peak();

    defmt::info!(
        "{=usize}/{=usize} correct, checksum {=u32:08x} (host {=u32:08x}), {=u64} cycles/inference (DWT), stack peak {=usize} bytes",
        correct,
        IMAGE_COUNT,
        hash,
        net::EXPECTED_CHECKSUM,
        cycles / IMAGE_COUNT as u64,
        stack
    );
    let mut l = Line::new();
    l.push_str("flashnet-firmware: model=");
    l.push_str(net::NAME);
    l.push_str(" kernel=");
    l.push_str(net::KERNEL);
    l.push_str(" sparsity=");
    l.push_str(if cfg!(feature = "dense") {
        "dense"
    } else {
        "skip-zeros"
    });
    l.push_str(" images=");
    l.push_u32(IMAGE_COUNT as u32);
    l.push_str(" correct=");
    l.push_u32(correct as u32);
    l.push_str(" checksum=");
    l.push_hex(hash);
    if int8 {
        l.push_str(" expected=");
        l.push_hex(net::EXPECTED_CHECKSUM);
    }
    l.push_str(" cycles_per_inference=");
    l.push_u32((cycles / IMAGE_COUNT as u64) as u32);
    l.push_str(" stack_peak_bytes=");
    l.push_u32(stack as u32);
    l.push_str(if ok { " result=ok\n" } else { " result=FAIL\n" });
    report::text(l.as_bytes());
    if !matches {
        defmt::error!("the int8 outputs differ from the host's");
    }
    if !plausible {
        defmt::error!("the f32 model got fewer than 90% of the images right");
    }
    report::exit(ok)
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    report::text(b"flashnet-firmware: HardFault result=FAIL\n");
    report::exit(false)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    report::text(b"flashnet-firmware: panic result=FAIL\n");
    report::exit(false)
}
