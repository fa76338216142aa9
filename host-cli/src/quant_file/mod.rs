//! The int8 model file (format in [`flashnet_files::quant_file`]): reading it is shared with
//! the firmware's build script and re-exported here; writing it and running the integer model
//! are the CLI's.

pub use flashnet_files::quant_file::*;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use flashnet::quant::tutorial::{self as qt, Model};
use safetensors::tensor::{Dtype, TensorView};

use crate::atomic;
use crate::model_file::{ARCHITECTURE_KEY, FORMAT_KEY, architecture, canonical_header};

/// Writes `model` atomically, with `details` (a JSON object) in the metadata.
pub fn save(path: &Path, model: &QuantizedModel, details: &serde_json::Value) -> Result<()> {
    let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let le_i = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        (
            "input/scale".into(),
            Dtype::F32,
            vec![1],
            le(&[model.input.scale]),
        ),
        (
            "input/zero_point".into(),
            Dtype::I32,
            vec![1],
            le_i(&[model.input.zero_point]),
        ),
    ];
    for (name, l) in [("dense", &model.dense), ("dense_1", &model.dense_1)] {
        let o = l.outputs;
        data.push((
            format!("{name}/kernel"),
            Dtype::I8,
            vec![l.inputs, o],
            l.kernel.iter().map(|&v| v as u8).collect(),
        ));
        data.push((
            format!("{name}/kernel_scale"),
            Dtype::F32,
            vec![o],
            le(&l.kernel_scale),
        ));
        data.push((format!("{name}/bias"), Dtype::I32, vec![o], le_i(&l.bias)));
        data.push((
            format!("{name}/multiplier"),
            Dtype::I32,
            vec![o],
            le_i(&l.multiplier),
        ));
        data.push((format!("{name}/shift"), Dtype::I32, vec![o], le_i(&l.shift)));
        data.push((
            format!("{name}/output_scale"),
            Dtype::F32,
            vec![1],
            le(&[l.output.scale]),
        ));
        data.push((
            format!("{name}/output_zero_point"),
            Dtype::I32,
            vec![1],
            le_i(&[l.output.zero_point]),
        ));
    }
    let mut views = BTreeMap::new();
    for (name, dtype, shape, bytes) in &data {
        views.insert(name.clone(), TensorView::new(*dtype, shape.clone(), bytes)?);
    }
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), "flashnet".to_string());
    meta.insert(
        "flashnet_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    meta.insert(
        ARCHITECTURE_KEY.to_string(),
        architecture(&flashnet::tutorial::model(flashnet::tutorial::DROPOUT)),
    );
    meta.insert(QUANTIZATION_KEY.to_string(), INT8.to_string());
    meta.insert(DETAILS_KEY.to_string(), details.to_string());
    let file = safetensors::serialize(views, Some(meta))
        .context("cannot encode the int8 model as safetensors")?;
    let bytes = canonical_header(file)?;
    // What `parse` would refuse (a scale beyond its bounds, say) is not written.
    parse(&bytes).with_context(|| format!("not writing {}", path.display()))?;
    atomic::write(path, &bytes)
}

/// Runs the integer model on every image: int8 logits, in order.
pub fn predict_all(model: &Model, images: &[[u8; 784]]) -> Vec<[i8; 10]> {
    let mut scratch: Box<qt::Scratch> = bytemuck::zeroed_box();
    images
        .iter()
        .map(|img| model.predict(img, &mut scratch))
        .collect()
}

/// FNV-1a (32-bit) of the int8 logits, image after image: the firmware prints the same.
pub fn checksum(logits: &[[i8; 10]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for l in logits {
        for &v in l {
            h ^= u32::from(v as u8);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// Int8 inference over a dataset: metrics (loss from the dequantized logits, accuracy and
/// confusion matrix from the int8 arg-max) and every image's int8 logits.
pub fn evaluate(
    model: &QuantizedModel,
    core: &Model,
    set: &flashnet::mnist::Dataset<'_>,
) -> (flashnet::Metrics<10>, Vec<[i8; 10]>) {
    let logits = predict_all(core, set.images.as_slice());
    let mut metrics = flashnet::Metrics::default();
    let mut grad = [0f32; 10];
    for (q, &label) in logits.iter().zip(set.labels.as_slice()) {
        let z = model.dequantize_logits(q);
        let (loss, correct) =
            flashnet::kernels::softmax_cross_entropy(10, &z, &[label], 1.0, &mut grad);
        metrics.add(loss, correct, 1);
        metrics.confusion.record(&[z], &[label]);
    }
    (metrics, logits)
}

#[cfg(test)]
mod tests;
