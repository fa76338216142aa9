//! Post-training full-integer quantization of the tutorial model, as TensorFlow Lite's
//! converter does it with a representative dataset:
//!
//! - weights: int8, symmetric per output channel (`s_w[o] = max|W[:, o]| / 127`, zero point 0;
//!   raised where the channel's bias needs it to fit the `i32` accumulator);
//! - activations: int8 per tensor, from the ranges seen on calibration images (input: scale
//!   1/255 and zero point −128, so that `q = p − 128`; hidden: `[0, max]` after the ReLU, zero
//!   point −128; logits: `[min, max]` widened to include 0);
//! - biases: `i32` in units of `s_in·s_w[o]`;
//! - requantization: `s_in·s_w[o]/s_out` as a fixed-point multiplier and shift.
//!
//! Calibration runs the f32 model in `f64` with plain loops, so the same model and images give
//! the same file on every machine, whatever SIMD kernels the host has.

use anyhow::{Context, Result, bail, ensure};
use flashnet::quant::{quantize_multiplier, tutorial as qt};
use flashnet::tutorial;
use serde_json::json;

use crate::quant_file::{Affine, INPUT_SCALE, MIN_SCALE, QLayer, QuantizedModel};

/// Calibration images used when not told otherwise.
pub const DEFAULT_CALIBRATION: usize = 1000;

/// Activation ranges seen on the calibration images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranges {
    /// Largest hidden activation after the ReLU.
    pub hidden_max: f64,
    /// Smallest and largest logit.
    pub logits_min: f64,
    pub logits_max: f64,
    /// Images seen.
    pub images: usize,
}

/// `count` indices spread evenly over `0..total` (`i·total/count`): deterministic and covering
/// the whole training set.
pub fn calibration_indices(total: usize, count: usize) -> Vec<usize> {
    (0..count).map(|i| i * total / count).collect()
}

/// The f32 model's hidden activations (after ReLU) and logits for one image, in `f64`.
pub fn forward_f64(params: &tutorial::Params, pixels: &[u8; 784]) -> ([f64; 128], [f64; 10]) {
    let (_, (d1, (_, (_, d2)))) = params;
    let mut h = d1.bias.map(f64::from);
    for (&p, row) in pixels.iter().zip(&d1.kernel) {
        if p != 0 {
            // The f32 input the model sees (`p / 255` rounded to f32), widened.
            let x = f64::from((f64::from(p) / 255.0) as f32);
            for (hj, &w) in h.iter_mut().zip(row) {
                *hj += x * f64::from(w);
            }
        }
    }
    for v in &mut h {
        *v = v.max(0.0);
    }
    let mut z = d2.bias.map(f64::from);
    for (&x, row) in h.iter().zip(&d2.kernel) {
        for (zj, &w) in z.iter_mut().zip(row) {
            *zj += x * f64::from(w);
        }
    }
    (h, z)
}

/// Runs the f32 model over `images` and records the activation ranges.
pub fn calibrate<'a>(
    params: &tutorial::Params,
    images: impl IntoIterator<Item = &'a [u8; 784]>,
) -> Result<Ranges> {
    let mut r = Ranges {
        hidden_max: 0.0,
        logits_min: f64::INFINITY,
        logits_max: f64::NEG_INFINITY,
        images: 0,
    };
    for img in images {
        let (h, z) = forward_f64(params, img);
        for v in h {
            r.hidden_max = r.hidden_max.max(v);
        }
        for v in z {
            r.logits_min = r.logits_min.min(v);
            r.logits_max = r.logits_max.max(v);
        }
        r.images += 1;
    }
    ensure!(r.images > 0, "no calibration images");
    ensure!(
        r.hidden_max.is_finite() && r.logits_min.is_finite() && r.logits_max.is_finite(),
        "the model produces non-finite activations on the calibration images"
    );
    Ok(r)
}

/// Asymmetric int8 quantization of the range `[min, max]` widened to include 0, with the zero
/// point rounded so that 0 is exactly representable.
pub fn affine_for_range(min: f64, max: f64) -> Affine {
    let (lo, hi) = (min.min(0.0), max.max(0.0));
    if hi - lo <= 0.0 {
        return Affine {
            scale: 1.0,
            zero_point: -128,
        };
    }
    let scale = ((hi - lo) / 255.0) as f32;
    let zero_point = (-128.0 - lo / f64::from(scale))
        .round()
        .clamp(-128.0, 127.0) as i32;
    Affine { scale, zero_point }
}

/// Quantizes one dense layer (`kernel` `[inputs][outputs]`), given the scales of its input and
/// output.
fn quantize_layer<const IN: usize, const OUT: usize>(
    kernel: &[[f32; OUT]; IN],
    bias: &[f32; OUT],
    input: Affine,
    output: Affine,
) -> Result<QLayer> {
    if let Some(v) = kernel.iter().flatten().chain(bias).find(|v| !v.is_finite()) {
        bail!("the layer holds {v}: weights must be finite");
    }
    let s_in = f64::from(input.scale);
    let s_out = f64::from(output.scale);
    let mut kernel_scale = vec![0f32; OUT];
    let mut q = vec![0i8; IN * OUT];
    let mut qbias = vec![0i32; OUT];
    let mut multiplier = vec![0i32; OUT];
    let mut shift = vec![0i32; OUT];
    for o in 0..OUT {
        let max_abs = kernel
            .iter()
            .map(|row| f64::from(row[o]).abs())
            .fold(0.0, f64::max);
        let max = f64::from(flashnet::quant::max_bias(IN));
        // The largest |w| maps to ±127, unless the channel's weights are so small (or all zero)
        // that its bias would not fit the accumulator in units of s_in·s_w: then the scale is
        // raised until it does (TFLite's `AdjustWeightsForBiasScale`: the weights keep fewer
        // bits), and never below the smallest scale a file may hold. A channel of zeros with no
        // bias keeps the scale 1.
        let s_w = if max_abs > 0.0 || bias[o] != 0.0 {
            let for_bias = f64::from(bias[o]).abs() / (s_in * max) * (1.0 + 1e-6);
            (max_abs / 127.0).max(for_bias).max(f64::from(MIN_SCALE)) as f32
        } else {
            1.0
        };
        kernel_scale[o] = s_w;
        let s_w = f64::from(s_w);
        for i in 0..IN {
            q[i * OUT + o] = (f64::from(kernel[i][o]) / s_w).round().clamp(-127.0, 127.0) as i8;
        }
        let b = (f64::from(bias[o]) / (s_in * s_w)).round();
        if b.abs() > max {
            bail!(
                "the bias of output {o} is {} in units of s_in·s_w = {:e}: beyond ±{max}, the \
                 int32 accumulator could overflow",
                bias[o],
                s_in * s_w
            );
        }
        qbias[o] = b as i32;
        let (m, s) = quantize_multiplier(s_in * s_w / s_out)
            .with_context(|| format!("output {o}: bad scales (s_out = {s_out})"))?;
        multiplier[o] = m;
        shift[o] = s;
    }
    Ok(QLayer {
        inputs: IN,
        outputs: OUT,
        kernel: q,
        kernel_scale,
        bias: qbias,
        multiplier,
        shift,
        output,
    })
}

/// The int8 model of `params`, given calibration `ranges`.
pub fn quantize(params: &tutorial::Params, ranges: &Ranges) -> Result<QuantizedModel> {
    let (_, (d1, (_, (_, d2)))) = params;
    let input = Affine {
        scale: INPUT_SCALE,
        zero_point: qt::INPUT_ZERO_POINT,
    };
    // After the ReLU the range is [0, max]: zero point −128.
    let hidden = affine_for_range(0.0, ranges.hidden_max);
    let logits = affine_for_range(ranges.logits_min, ranges.logits_max);
    let model = QuantizedModel {
        input,
        dense: quantize_layer(&d1.kernel, &d1.bias, input, hidden).context("layer `dense`")?,
        dense_1: quantize_layer(&d2.kernel, &d2.bias, hidden, logits).context("layer `dense_1`")?,
        metadata: Default::default(),
    };
    model.to_core()?;
    Ok(model)
}

/// What the metadata records about a quantization calibrated on images of a training set of
/// `pool` images.
pub fn details(ranges: &Ranges, pool: usize, source: &serde_json::Value) -> serde_json::Value {
    json!({
        "scheme": "full-integer post-training quantization (TensorFlow Lite style)",
        "weights": "int8, symmetric per output channel",
        "activations": "int8 per tensor with zero points",
        "bias": "int32",
        "requantization": "fixed-point multiplier and shift (MultiplyByQuantizedMultiplier)",
        "calibration": {
            "images": ranges.images,
            "selection": format!("training images i*{pool}/N for i in 0..N"),
            "hidden_max": ranges.hidden_max,
            "logits_min": ranges.logits_min,
            "logits_max": ranges.logits_max,
        },
        "source": source,
    })
}

#[cfg(test)]
mod tests {
    use rand_core::{Rng, SeedableRng};

    use super::*;
    use crate::quant_file;

    /// A small random f32 model and images with ~80% zero pixels.
    fn synthetic(seed: u64) -> (Box<tutorial::Params>, Vec<[u8; 784]>) {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
        let mut p: Box<tutorial::Params> = bytemuck::zeroed_box();
        let model = tutorial::model(tutorial::DROPOUT);
        model.init(&mut p, &mut rng);
        let (_, (d1, (_, (_, d2)))) = &mut *p;
        for (i, b) in d1.bias.iter_mut().enumerate() {
            *b = (i as f32 - 64.0) / 200.0;
        }
        for (i, b) in d2.bias.iter_mut().enumerate() {
            *b = (i as f32 - 5.0) / 10.0;
        }
        let images = (0..200)
            .map(|_| {
                let mut img = [0u8; 784];
                for v in &mut img {
                    if rng.next_u32() % 5 == 0 {
                        *v = rng.next_u32() as u8;
                    }
                }
                img
            })
            .collect();
        (p, images)
    }

    #[test]
    fn calibration_indices_are_spread_and_deterministic() {
        assert_eq!(calibration_indices(60_000, 4), [0, 15_000, 30_000, 45_000]);
        assert_eq!(calibration_indices(10, 10), (0..10).collect::<Vec<_>>());
        assert_eq!(
            calibration_indices(60_000, 1000),
            calibration_indices(60_000, 1000)
        );
    }

    #[test]
    fn zero_is_exactly_representable() {
        for (lo, hi) in [
            (-30.29, 19.93),
            (0.0, 9.37),
            (-1.0, -0.5),
            (2.0, 3.0),
            (-5.0, 0.0),
        ] {
            let a = affine_for_range(lo, hi);
            assert!((-128..=127).contains(&a.zero_point));
            assert_eq!(a.dequantize(a.zero_point as i8), 0.0);
            // Both ends (widened to include 0) are within half a step of representable.
            let step = f64::from(a.scale);
            assert!(f64::from(a.dequantize(-128)) <= lo.min(0.0) + step);
            assert!(f64::from(a.dequantize(127)) >= hi.max(0.0) - step);
        }
        assert_eq!(affine_for_range(0.0, 0.0).zero_point, -128);
    }

    #[test]
    fn quantized_model_tracks_the_f32_one() {
        let (p, images) = synthetic(3);
        let ranges = calibrate(&p, &images).unwrap();
        assert_eq!(ranges.images, 200);
        let q = quantize(&p, &ranges).unwrap();
        assert_eq!(q.input.zero_point, -128);
        assert_eq!(q.dense.output.zero_point, -128);
        // Symmetric per-channel weights use the full range in every channel.
        for o in 0..128 {
            let m = (0..784)
                .map(|i| q.dense.kernel[i * 128 + o].unsigned_abs())
                .max();
            assert_eq!(m, Some(127), "channel {o}");
        }
        let core = q.to_core().unwrap();
        let logits = quant_file::predict_all(&core, &images);
        let mut agree = 0;
        for (img, l) in images.iter().zip(&logits) {
            let (_, z) = forward_f64(&p, img);
            let zq = q.dequantize_logits(l);
            for (a, b) in z.iter().zip(zq) {
                // A few logit quantization steps at most.
                assert!(
                    (a - f64::from(b)).abs() < 4.0 * f64::from(q.dense_1.output.scale) + 0.05,
                    "{a} vs {b}"
                );
            }
            let best = z
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m });
            agree += usize::from(best.0 == usize::from(flashnet::quant::tutorial::argmax(l)));
        }
        assert!(agree >= 190, "{agree}/200 predictions agree");
    }

    #[test]
    fn a_channel_too_small_for_its_bias_gets_a_larger_scale() {
        // A near-dead output channel with an ordinary bias: max|w|/127 would put the bias far
        // beyond the int32 accumulator (the scale is raised instead, as TFLite does); a
        // subnormal channel's max|w|/127 is a scale below the smallest a file may hold; a
        // channel of zero weights with a bias got it in steps of s_in (1/255).
        let (mut p, images) = synthetic(5);
        let ranges = calibrate(&p, &images).unwrap();
        let (_, (d1, _)) = &mut *p;
        for row in d1.kernel.iter_mut() {
            (row[0], row[1], row[2]) = (1e-7, 1e-40, 0.0);
        }
        d1.kernel[3][0] = -2e-7;
        (d1.bias[0], d1.bias[1], d1.bias[2]) = (0.055, 0.0, -0.03);
        let bias = d1.bias;
        let q = quantize(&p, &ranges).unwrap();
        q.to_core().unwrap();
        let s_in = f64::from(q.input.scale);
        for (o, &want) in bias.iter().enumerate().take(3) {
            let s_w = q.dense.kernel_scale[o];
            assert!(s_w >= MIN_SCALE && s_w.is_finite(), "channel {o}: {s_w}");
            let b = f64::from(q.dense.bias[o]) * s_in * f64::from(s_w);
            assert!((b - f64::from(want)).abs() <= 1e-6, "channel {o}: bias {b}");
        }
        // Channel 0's weights keep what the raised scale can hold: within half a step.
        let s0 = f64::from(q.dense.kernel_scale[0]);
        assert!(q.dense.kernel[3 * 128] < 0 && q.dense.kernel[5 * 128] > 0);
        for (i, row) in p.1.0.kernel.iter().enumerate() {
            let w = f64::from(q.dense.kernel[i * 128]) * s0;
            assert!((w - f64::from(row[0])).abs() <= s0 / 2.0, "w[{i}][0] = {w}");
        }
        // Ordinary channels keep max|w| ↦ ±127.
        let m = (0..784)
            .map(|i| q.dense.kernel[i * 128 + 5].unsigned_abs())
            .max();
        assert_eq!(m, Some(127));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.safetensors");
        quant_file::save(&path, &q, &details(&ranges, 60_000, &json!({}))).unwrap();
        quant_file::load(&path).unwrap();
    }

    #[test]
    fn non_finite_weights_are_refused() {
        let (p, images) = synthetic(6);
        let ranges = calibrate(&p, &images).unwrap();
        for (kernel, bias) in [(f32::NAN, 0.0), (0.0, f32::NAN), (f32::INFINITY, 0.0)] {
            let (mut p, _) = synthetic(6);
            let (_, (d1, _)) = &mut *p;
            d1.kernel[7][3] = kernel;
            d1.bias[5] = bias;
            let msg = format!("{:#}", quantize(&p, &ranges).unwrap_err());
            assert!(msg.contains("weights must be finite"), "{msg}");
        }
    }

    #[test]
    fn save_load_round_trip_and_same_bytes() {
        let (p, images) = synthetic(4);
        let ranges = calibrate(&p, &images).unwrap();
        let q = quantize(&p, &ranges).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        let facts = details(&ranges, 60_000, &json!({"test": true}));
        quant_file::save(&a, &q, &facts).unwrap();
        quant_file::save(&b, &q, &facts).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap(), "same model, same bytes");
        assert!(quant_file::is_quantized(&bytes));
        let mut back = quant_file::load(&a).unwrap();
        assert_eq!(
            back.metadata.get("quantization").map(String::as_str),
            Some("int8")
        );
        back.metadata.clear();
        assert_eq!(back, q);
    }
}
