//! The model file (format in [`flashnet_files::model_file`]): reading it is shared with the
//! firmware's build script and re-exported here; writing it is the CLI's.

pub use flashnet_files::model_file::*;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use flashnet::{Params, tutorial};
use safetensors::tensor::{Dtype, TensorView};

use crate::atomic;

/// Writes `params` atomically, with `facts` (a JSON object) in the metadata.
pub fn save(
    path: &Path,
    model: &tutorial::Model,
    params: &tutorial::Params,
    facts: &serde_json::Value,
) -> Result<()> {
    // What `parse` would refuse is not written (a diverged run's weights).
    for (i, spec) in tensor_specs(model).iter().enumerate() {
        if let Some(v) = params
            .tensor(i)
            .iter()
            .find(|v| !(-MAX_WEIGHT..=MAX_WEIGHT).contains(*v))
        {
            bail!(
                "not writing {}: tensor `{}` holds {v:e}, beyond the ±{MAX_WEIGHT:e} a model \
                 file may hold (training diverged: try a lower --learning-rate)",
                path.display(),
                spec.name
            );
        }
    }
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), "flashnet".to_string());
    meta.insert("training".to_string(), facts.to_string());
    atomic::write(path, &encode(model, &[("", params)], meta)?)
}

/// A safetensors file holding each parameter set under its prefix (`""` gives Keras' names,
/// `"adam/m/"` gives `adam/m/dense/kernel`, …), with `meta` plus the architecture and version.
/// The header's keys are sorted, so the same content always gives the same bytes.
pub fn encode(
    model: &tutorial::Model,
    sets: &[(&str, &tutorial::Params)],
    mut meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let specs = tensor_specs(model);
    let mut bytes = Vec::new();
    for (prefix, params) in sets {
        for (i, spec) in specs.iter().enumerate() {
            let data: Vec<u8> = params
                .tensor(i)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            bytes.push((format!("{prefix}{}", spec.name), spec.shape.clone(), data));
        }
    }
    let mut views = BTreeMap::new();
    for (name, shape, data) in &bytes {
        views.insert(
            name.clone(),
            TensorView::new(Dtype::F32, shape.clone(), data)?,
        );
    }
    meta.insert(
        "flashnet_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    meta.insert(ARCHITECTURE_KEY.to_string(), architecture(model));
    let file = safetensors::serialize(views, Some(meta))
        .context("cannot encode the model as safetensors")?;
    canonical_header(file)
}

/// Rewrites the JSON header with sorted keys: the crate serializes the metadata from a
/// `HashMap`, whose order changes from run to run, and the same model must give the same bytes.
/// Used for the f32 and the int8 model files alike.
pub(crate) fn canonical_header(mut file: Vec<u8>) -> Result<Vec<u8>> {
    let n = u64::from_le_bytes(file[..8].try_into()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[8..8 + n])?;
    // serde_json's map is ordered by key.
    let mut sorted = serde_json::to_vec(&header)?;
    ensure!(sorted.len() <= n, "internal error: canonical header grew");
    sorted.resize(n, b' ');
    file[8..8 + n].copy_from_slice(&sorted);
    Ok(file)
}
