//! The model file: safetensors with Keras' tensor names and layout (`dense/kernel` `[784, 128]`,
//! `dense/bias`, `dense_1/kernel`, `dense_1/bias`, little-endian f32), flashnet's facts in the
//! metadata. Files exported from Keras with the Python `safetensors` package (no metadata)
//! load as they are.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use flashnet::{LayerInfo, Params, tutorial};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::atomic;

/// Metadata key holding the layer chain; a file whose chain differs is refused.
pub const ARCHITECTURE_KEY: &str = "architecture";
/// Metadata key marking files written by flashnet.
pub const FORMAT_KEY: &str = "format";

/// A named tensor of the model, in parameter order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

/// Visits the layers with their Keras names (`dense`, `dense_1`, …).
pub fn named_layers(model: &tutorial::Model) -> Vec<(String, LayerInfo)> {
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let mut out = Vec::new();
    model.describe(&mut |l| {
        let k = seen.entry(l.base_name).or_insert(0);
        let name = if *k == 0 {
            l.base_name.to_string()
        } else {
            format!("{}_{}", l.base_name, k)
        };
        *k += 1;
        out.push((name, *l));
    });
    out
}

/// The tensors, named `layer/tensor` as Keras does, in [`Params::visit`] order.
pub fn tensor_specs(model: &tutorial::Model) -> Vec<TensorSpec> {
    named_layers(model)
        .into_iter()
        .flat_map(|(layer, info)| {
            info.tensors.iter().map(move |t| TensorSpec {
                name: format!("{layer}/{}", t.name),
                shape: t.shape.to_vec(),
            })
        })
        .collect()
}

/// The layer chain as one line, e.g. `Flatten(784) > Dense(128) > …` (dropout rates left out:
/// they do not change what a file holds).
pub fn architecture(model: &tutorial::Model) -> String {
    let shape = |s: &[usize]| s.iter().map(usize::to_string).collect::<Vec<_>>().join("x");
    let mut parts = vec!["Input(28x28)".to_string()];
    model.describe(&mut |l| parts.push(format!("{}({})", l.kind, shape(l.output_shape))));
    parts.join(" > ")
}

/// Writes `params` atomically, with `facts` (a JSON object) in the metadata.
pub fn save(
    path: &Path,
    model: &tutorial::Model,
    params: &tutorial::Params,
    facts: &serde_json::Value,
) -> Result<()> {
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
fn canonical_header(mut file: Vec<u8>) -> Result<Vec<u8>> {
    let n = u64::from_le_bytes(file[..8].try_into()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[8..8 + n])?;
    // serde_json's map is ordered by key.
    let mut sorted = serde_json::to_vec(&header)?;
    ensure!(sorted.len() <= n, "internal error: canonical header grew");
    sorted.resize(n, b' ');
    file[8..8 + n].copy_from_slice(&sorted);
    Ok(file)
}

/// A model read from a file.
pub struct Loaded {
    pub params: Box<tutorial::Params>,
    /// The file's metadata (empty for a Keras export).
    pub metadata: HashMap<String, String>,
}

/// Reads and checks a model file: every tensor present with the right dtype and shape, no
/// others, all values finite, and (if the file says) the same architecture.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    parse(&bytes).with_context(|| format!("model file {}", path.display()))
}

/// [`load`] on bytes already in memory.
pub fn parse(bytes: &[u8]) -> Result<Loaded> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let model = tutorial::model(tutorial::DROPOUT);
    if let Some(arch) = metadata.get(ARCHITECTURE_KEY) {
        let ours = architecture(&model);
        ensure!(
            *arch == ours,
            "architecture `{arch}` cannot be loaded by this build, which runs `{ours}`"
        );
    }
    check_names(&st, &model, &[""])?;
    let params = read_params(&st, &model, "")?;
    Ok(Loaded { params, metadata })
}

/// Refuses tensors other than the model's under each of `prefixes`.
pub fn check_names(st: &SafeTensors<'_>, model: &tutorial::Model, prefixes: &[&str]) -> Result<()> {
    let specs = tensor_specs(model);
    let expected: Vec<String> = prefixes
        .iter()
        .flat_map(|p| specs.iter().map(move |s| format!("{p}{}", s.name)))
        .collect();
    for name in st.names() {
        ensure!(
            expected.iter().any(|e| e == name),
            "unexpected tensor `{name}` (expected exactly: {})",
            expected.join(", ")
        );
    }
    Ok(())
}

/// Reads the model's tensors under `prefix` into a new parameter set.
pub fn read_params(
    st: &SafeTensors<'_>,
    model: &tutorial::Model,
    prefix: &str,
) -> Result<Box<tutorial::Params>> {
    let mut params: Box<tutorial::Params> = bytemuck::zeroed_box();
    for (i, spec) in tensor_specs(model).iter().enumerate() {
        fill(
            st,
            &format!("{prefix}{}", spec.name),
            &spec.shape,
            params.tensor_mut(i),
        )?;
    }
    Ok(params)
}

fn fill(st: &SafeTensors<'_>, name: &str, shape: &[usize], dst: &mut [f32]) -> Result<()> {
    let spec = TensorSpec {
        name: name.to_string(),
        shape: shape.to_vec(),
    };
    let Ok(t) = st.tensor(&spec.name) else {
        bail!("tensor `{}` {:?} is missing", spec.name, spec.shape);
    };
    ensure!(
        t.dtype() == Dtype::F32,
        "tensor `{}` has dtype {:?}, expected F32",
        spec.name,
        t.dtype()
    );
    ensure!(
        t.shape() == spec.shape.as_slice(),
        "tensor `{}` has shape {:?}, expected {:?}",
        spec.name,
        t.shape(),
        spec.shape
    );
    let data = t.data();
    ensure!(
        data.len() == dst.len() * 4,
        "tensor `{}` holds {} bytes, expected {}",
        spec.name,
        data.len(),
        dst.len() * 4
    );
    for (i, (d, b)) in dst.iter_mut().zip(data.chunks_exact(4)).enumerate() {
        let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !v.is_finite() {
            bail!(
                "tensor `{}` holds {v} at flat index {i}: weights must be finite",
                spec.name
            );
        }
        *d = v;
    }
    Ok(())
}
