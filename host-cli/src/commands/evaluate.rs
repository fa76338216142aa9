//! `flashnet evaluate`: test loss, accuracy and confusion matrix of a saved model (f32, or int8
//! from `flashnet quantize`, run with integers only).

use anyhow::Result;
use flashnet::tutorial::{self, InferenceWorkspace};
use serde_json::json;

use crate::cli::EvaluateArgs;
use crate::eval::evaluate;
use crate::mnist::{Mnist, Parts};
use crate::{model_file, quant_file, report};

pub fn run(args: &EvaluateArgs) -> Result<()> {
    let (bytes, quantized) = quant_file::sniff(&args.model)?;
    if quantized {
        return run_int8(args, &bytes);
    }
    let loaded = model_file::parse(&bytes)
        .map_err(|e| e.context(format!("model file {}", args.model.display())))?;
    let mnist = Mnist::locate_and_load(&args.data, Parts::Test)?;
    let test = limited(mnist.test()?, args.limit);
    let model = tutorial::model(tutorial::DROPOUT);
    let mut ws: Box<InferenceWorkspace<256>> = bytemuck::zeroed_box();
    let m = evaluate(&model, &loaded.params, &mut ws, &test)?;
    let mut extra = serde_json::Map::new();
    if args.outputs {
        let mut predictions = Vec::with_capacity(test.len());
        let mut ws1: Box<InferenceWorkspace<1>> = bytemuck::zeroed_box();
        for img in test.images.as_slice() {
            flashnet::mnist::to_input(img, &mut ws1.input[0]);
            let z = model.logits(&loaded.params, &mut ws1, 1)?[0];
            predictions.push(flashnet::kernels::portable::argmax(&z).0 as u8);
        }
        extra.insert("predictions".into(), json!(predictions));
    }
    report_metrics(args, &m, extra, "")
}

/// The first `limit` samples of `set` (all of them without a limit).
fn limited(set: flashnet::mnist::Dataset<'_>, limit: Option<u64>) -> flashnet::mnist::Dataset<'_> {
    match limit {
        Some(n) => set.slice(0..(n as usize).min(set.len())),
        None => set,
    }
}

fn run_int8(args: &EvaluateArgs, bytes: &[u8]) -> Result<()> {
    let q = quant_file::parse(bytes)
        .map_err(|e| e.context(format!("int8 model file {}", args.model.display())))?;
    let core = q.to_core()?;
    let mnist = Mnist::locate_and_load(&args.data, Parts::Test)?;
    let test = limited(mnist.test()?, args.limit);
    let (m, logits) = quant_file::evaluate(&q, &core, &test);
    let mut extra = serde_json::Map::new();
    if args.outputs {
        let predictions: Vec<u8> = logits
            .iter()
            .map(flashnet::quant::tutorial::argmax)
            .collect();
        extra.insert("predictions".into(), json!(predictions));
        extra.insert(
            "output_checksum".into(),
            json!(format!("{:08x}", quant_file::checksum(&logits))),
        );
    }
    report_metrics(args, &m, extra, " (int8)")
}

fn report_metrics(
    args: &EvaluateArgs,
    m: &flashnet::Metrics<10>,
    extra: serde_json::Map<String, serde_json::Value>,
    kind: &str,
) -> Result<()> {
    crate::say_raw!("{}", report::confusion(&m.confusion));
    if args.json {
        let mut out = json!({
            "model": super::path_json(&args.model),
            "test_accuracy": m.accuracy(),
            "test_loss": m.loss(),
            "samples": m.count,
            "confusion_matrix": m.confusion.counts,
        });
        if let Some(o) = out.as_object_mut() {
            o.extend(extra);
        }
        super::print_json(&out)?;
    } else {
        crate::out!(
            "test_accuracy: {:.4} - test_loss: {:.4} ({} images){kind}",
            m.accuracy(),
            m.loss(),
            m.count
        )?;
        if let Some(c) = extra.get("output_checksum") {
            crate::out!("output_checksum: {}", c.as_str().unwrap_or_default())?;
        }
        if let Some(p) = extra.get("predictions").and_then(|p| p.as_array()) {
            let digits: String = p.iter().map(|d| d.to_string()).collect();
            crate::out!("predictions: {digits}")?;
        }
    }
    Ok(())
}
