//! The model file: safetensors with Keras' tensor names and layout (`dense/kernel` `[784, 128]`,
//! `dense/bias`, `dense_1/kernel`, `dense_1/bias`, little-endian f32), flashnet's facts in the
//! metadata. Files exported from Keras with the Python `safetensors` package (no metadata)
//! load as they are.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use flashnet::{LayerInfo, Params, tutorial};
use safetensors::tensor::{Dtype, SafeTensors};

/// Metadata key holding the layer chain; a file whose chain differs is refused.
pub const ARCHITECTURE_KEY: &str = "architecture";
/// Metadata key marking files written by flashnet.
pub const FORMAT_KEY: &str = "format";
/// Largest model file read (the tutorial model is 407 kB): a wrong path (a dataset, a device)
/// fails fast instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Largest weight magnitude a model may hold. With inputs in `[0, 1]` and every weight and bias
/// within ±1e6, the hidden units stay below 785·1e6 and the logits below
/// 128·1e6·7.85e8 + 1e6 ≈ 1e17, so the forward pass, softmax and loss stay finite; trained
/// weights are many orders of magnitude smaller.
pub const MAX_WEIGHT: f32 = 1e6;

/// A named tensor of the model, in parameter order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// `layer/tensor`, e.g. `dense/kernel`.
    pub name: String,
    /// Its shape, e.g. `[784, 128]`.
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

/// A model read from a file.
pub struct Loaded {
    /// The weights, checked.
    pub params: Box<tutorial::Params>,
    /// The file's metadata (empty for a Keras export).
    pub metadata: HashMap<String, String>,
}

/// Reads and checks a model file: every tensor present with the right dtype and shape, no
/// others, all values finite, and (if the file says) the same architecture.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = read_capped(path, MAX_FILE_BYTES)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    parse(&bytes).with_context(|| format!("model file {}", path.display()))
}

/// The bytes of `path`, refusing a file (or a device or pipe) longer than `cap` after reading
/// at most `cap + 1` bytes of it.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)?;
    ensure!(
        bytes.len() as u64 <= cap,
        "the file is larger than the {cap}-byte limit"
    );
    Ok(bytes)
}

/// `s` on one line: control characters (newlines, terminal escapes) from a file shown escaped.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A safetensors parse error as one line; a truncated file or one with bytes left over is
/// named as such (the crate only says the offsets do not cover the file).
fn invalid(e: safetensors::SafeTensorError, len: usize) -> anyhow::Error {
    let why = match e {
        safetensors::SafeTensorError::MetadataIncompleteBuffer => format!(
            "the tensors' data offsets do not end at the end of the file ({len} bytes): \
             truncated, or bytes left over"
        ),
        e => printable(&e.to_string()),
    };
    anyhow::anyhow!("not a valid safetensors file: {why}")
}

/// Says where a file that is not safetensors goes wrong before the crate looks at it: too
/// short, or a header length (bytes 0-7, little-endian) claiming more than the file holds.
fn check_framing(bytes: &[u8]) -> Result<()> {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        bail!(
            "not a valid safetensors file: {} bytes, too short for the 8-byte header length",
            bytes.len()
        );
    };
    let claimed = u64::from_le_bytes(*len);
    ensure!(
        claimed <= rest.len() as u64,
        "not a valid safetensors file: bytes 0-7 claim a {claimed}-byte header, but only {} \
         bytes follow",
        rest.len()
    );
    Ok(())
}

/// [`load`] on bytes already in memory.
pub fn parse(bytes: &[u8]) -> Result<Loaded> {
    check_framing(bytes)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| invalid(e, bytes.len()))?;
    let (header_len, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| invalid(e, bytes.len()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let model = tutorial::model(tutorial::DROPOUT);
    if let Some(arch) = metadata.get(ARCHITECTURE_KEY) {
        let ours = architecture(&model);
        ensure!(
            *arch == ours,
            "architecture `{}` cannot be loaded by this build, which runs `{ours}`",
            printable(arch)
        );
    }
    check_names(&st, &model, &[""])?;
    let params = read_params(&st, &model, "")?;
    // Finite (checked by `fill`) is not enough: huge weights overflow the forward pass.
    for (i, spec) in tensor_specs(&model).iter().enumerate() {
        if let Some((j, v)) = params
            .tensor(i)
            .iter()
            .enumerate()
            .find(|(_, v)| v.abs() > MAX_WEIGHT)
        {
            let start = header.info(&spec.name).map_or(0, |t| t.data_offsets.0);
            bail!(
                "tensor `{}` holds {v:e} at flat index {j} (byte offset {}): weights must be \
                 within ±{MAX_WEIGHT:e}, larger ones overflow the forward pass",
                spec.name,
                8 + header_len + start + 4 * j
            );
        }
    }
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
            "unexpected tensor `{}` (expected exactly: {})",
            printable(name),
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
