//! `flashnet quantize`: full-integer int8 quantization of a trained model, calibrated on
//! training images, then both models evaluated on the test set.

use anyhow::{Context, Result, ensure};
use flashnet::tutorial::{self, InferenceWorkspace};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cli::QuantizeArgs;
use crate::eval::evaluate;
use crate::mnist::{Mnist, Parts};
use crate::quantize::{calibrate, calibration_indices, details, quantize};
use crate::{model_file, outputs, quant_file};

pub fn run(args: &QuantizeArgs) -> Result<()> {
    outputs::check(&[("--out", &args.out)], &[("--model", &args.model)])?;
    let (bytes, quantized) = quant_file::sniff(&args.model)?;
    ensure!(
        !quantized,
        "model file {} is already quantized: pass the f32 model",
        args.model.display()
    );
    let loaded = model_file::parse(&bytes)
        .with_context(|| format!("model file {}", args.model.display()))?;
    let mnist = Mnist::locate_and_load(&args.data, Parts::TrainAndTest)?;
    outputs::check_data(&[("--out", &args.out)], &mnist.dir)?;
    let (train, test) = (mnist.train()?, mnist.test()?);
    let n = args.calibration as usize;
    ensure!(
        n <= train.len(),
        "--calibration {n} is more than the {} training images",
        train.len()
    );
    let images = train.images.as_slice();
    let ranges = calibrate(
        &loaded.params,
        calibration_indices(train.len(), n)
            .iter()
            .map(|&i| &images[i]),
    )?;
    let q = quantize(&loaded.params, &ranges)?;
    let training: serde_json::Value = loaded
        .metadata
        .get("training")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(serde_json::Value::Null);
    let source = json!({
        "sha256": Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        "training": training,
    });
    quant_file::save(&args.out, &q, &details(&ranges, train.len(), &source))?;

    // Both models on the test set.
    let model = tutorial::model(tutorial::DROPOUT);
    let mut ws: Box<InferenceWorkspace<256>> = bytemuck::zeroed_box();
    let f = evaluate(&model, &loaded.params, &mut ws, &test)?;
    let core = q.to_core()?;
    let (m, logits) = quant_file::evaluate(&q, &core, &test);
    let mut agree = 0usize;
    let mut ws1: Box<InferenceWorkspace<1>> = bytemuck::zeroed_box();
    for (img, l) in test.images.as_slice().iter().zip(&logits) {
        flashnet::mnist::to_input(img, &mut ws1.input[0]);
        let z = model.logits(&loaded.params, &mut ws1, 1)?[0];
        let f32_pred = flashnet::kernels::portable::argmax(&z).0;
        agree += usize::from(f32_pred == usize::from(flashnet::quant::tutorial::argmax(l)));
    }
    let weight_bytes = q.dense.kernel.len() + q.dense_1.kernel.len();
    let delta = 100.0 * (m.accuracy() - f.accuracy());
    crate::say!(
        "Calibrated on {} training images: hidden range [0, {:.4}], logits [{:.4}, {:.4}]",
        ranges.images,
        ranges.hidden_max,
        ranges.logits_min,
        ranges.logits_max
    );
    crate::say!(
        "Scales: input 1/255 (zero point -128), hidden {:.6} (zero point {}), logits {:.6} (zero point {})",
        q.dense.output.scale,
        q.dense.output.zero_point,
        q.dense_1.output.scale,
        q.dense_1.output.zero_point
    );
    crate::say!(
        "int8 weights: {weight_bytes} bytes (f32: {} bytes)",
        4 * weight_bytes
    );
    crate::say!("Model: {}", args.out.display());
    if args.json {
        super::print_json(&json!({
            "model": super::path_json(&args.model),
            "out": super::path_json(&args.out),
            "calibration_images": ranges.images,
            "f32_test_accuracy": f.accuracy(),
            "int8_test_accuracy": m.accuracy(),
            "int8_test_loss": m.loss(),
            "accuracy_delta_points": delta,
            "prediction_agreement": agree as f64 / test.len() as f64,
            "hidden": {"scale": q.dense.output.scale, "zero_point": q.dense.output.zero_point},
            "logits": {"scale": q.dense_1.output.scale, "zero_point": q.dense_1.output.zero_point},
            "weight_bytes": weight_bytes,
        }))?;
    } else {
        crate::out!(
            "f32 test_accuracy: {:.4} - int8 test_accuracy: {:.4} ({delta:+.2} points) - same prediction on {:.2}% of {} images",
            f.accuracy(),
            m.accuracy(),
            100.0 * agree as f64 / test.len() as f64,
            test.len()
        )?;
    }
    Ok(())
}
