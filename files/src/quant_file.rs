//! The int8 model file: safetensors again, with the integer tensors of a TensorFlow Lite style
//! full-integer model and `quantization = int8` in the metadata.
//!
//! | tensor | dtype | shape | meaning |
//! |---|---|---|---|
//! | `input/scale`, `input/zero_point` | F32, I32 | `[1]` | `1/255`, `−128`: `q = p − 128` |
//! | `dense/kernel` | I8 | `[784, 128]` | weights, Keras layout, symmetric per output channel |
//! | `dense/kernel_scale` | F32 | `[128]` | their scales |
//! | `dense/bias` | I32 | `[128]` | bias in units of `s_in·s_w[o]` |
//! | `dense/multiplier`, `dense/shift` | I32 | `[128]` | requantization `s_in·s_w[o]/s_out` |
//! | `dense/output_scale`, `dense/output_zero_point` | F32, I32 | `[1]` | hidden activations (after the fused ReLU) |
//! | `dense_1/…` | | `[128, 10]`, `[10]` | the same for the logits layer |
//!
//! The integers are what runs (on the host here, or baked into `firmware/`); the float scales
//! serve to dequantize the logits for display and to document the model.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use flashnet::quant::tutorial::{self as qt, Model};
use flashnet::quant::{QDense, QDenseParts};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model_file::{
    ARCHITECTURE_KEY, FORMAT_KEY, MAX_FILE_BYTES, architecture, printable, read_capped,
};

/// Metadata key saying how a file is quantized.
pub const QUANTIZATION_KEY: &str = "quantization";
/// Its value for the files of this module.
pub const INT8: &str = "int8";
/// Metadata key with the quantization settings and calibration facts (JSON).
pub const DETAILS_KEY: &str = "quantization_details";

/// Input quantization: scale `1/255` (as `f32`), zero point −128.
pub const INPUT_SCALE: f32 = 1.0 / 255.0;

/// Scale and zero point of an int8 tensor: `real = scale · (q − zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// The real value of one step of `q`.
    pub scale: f32,
    /// The `q` of the real value 0.
    pub zero_point: i32,
}

impl Affine {
    /// `scale · (q − zero_point)`.
    pub fn dequantize(&self, q: i8) -> f32 {
        (f64::from(self.scale) * f64::from(i32::from(q) - self.zero_point)) as f32
    }
}

/// One int8 dense layer in natural layout.
#[derive(Debug, Clone, PartialEq)]
pub struct QLayer {
    /// Input count.
    pub inputs: usize,
    /// Output count.
    pub outputs: usize,
    /// `kernel[i·outputs + o]`, Keras layout `[in, out]`.
    pub kernel: Vec<i8>,
    /// The weights' scale for each output (symmetric, zero point 0).
    pub kernel_scale: Vec<f32>,
    /// Bias for each output, in units of `s_in·s_w[o]`.
    pub bias: Vec<i32>,
    /// Requantization `s_in·s_w[o]/s_out` for each output: Q31 multiplier…
    pub multiplier: Vec<i32>,
    /// …and power-of-two shift.
    pub shift: Vec<i32>,
    /// Quantization of this layer's output.
    pub output: Affine,
}

/// The int8 tutorial model as stored in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedModel {
    /// Quantization of the input pixels (`1/255`, −128).
    pub input: Affine,
    /// `Dense(128)` with its ReLU fused.
    pub dense: QLayer,
    /// `Dense(10)`, the logits.
    pub dense_1: QLayer,
    /// The file's metadata (when loaded from a file).
    pub metadata: HashMap<String, String>,
}

impl QuantizedModel {
    /// The core's integer model (packed weights), checked.
    pub fn to_core(&self) -> Result<Box<Model>> {
        let mut m: Box<Model> = bytemuck::zeroed_box();
        load_layer(&mut m.hidden, &self.dense, self.input.zero_point, true)
            .context("layer `dense`")?;
        load_layer(
            &mut m.output,
            &self.dense_1,
            self.dense.output.zero_point,
            false,
        )
        .context("layer `dense_1`")?;
        m.check()?;
        Ok(m)
    }

    /// The logits as real numbers.
    pub fn dequantize_logits(&self, q: &[i8; 10]) -> [f32; 10] {
        q.map(|v| self.dense_1.output.dequantize(v))
    }
}

fn load_layer<const IN: usize, const OUT: usize, const G: usize, const B: usize>(
    dst: &mut QDense<IN, OUT, G, B>,
    l: &QLayer,
    input_zero_point: i32,
    relu: bool,
) -> Result<()> {
    ensure!(
        l.inputs == IN && l.outputs == OUT,
        "shape {}x{}, expected {IN}x{OUT}",
        l.inputs,
        l.outputs
    );
    let (rows, _) = l.kernel.as_chunks::<OUT>();
    let weights: &[[i8; OUT]; IN] = rows.try_into().context("internal error: kernel length")?;
    let arr = |v: &[i32], what: &str| -> Result<[i32; OUT]> {
        v.try_into()
            .with_context(|| format!("internal error: {what} length"))
    };
    let (bias, multiplier, shift) = (
        arr(&l.bias, "bias")?,
        arr(&l.multiplier, "multiplier")?,
        arr(&l.shift, "shift")?,
    );
    dst.load(&QDenseParts {
        weights,
        bias: &bias,
        multiplier: &multiplier,
        shift: &shift,
        input_zero_point,
        output_zero_point: l.output.zero_point,
        relu,
    })?;
    Ok(())
}

/// Whether `bytes` look like an int8 model: the metadata says so, or (in a file not written by
/// flashnet, which names the quantization of every int8 file) `dense/kernel` is int8. Anything
/// unreadable is "no" (the f32 loader then reports the problem).
pub fn is_quantized(bytes: &[u8]) -> bool {
    let Ok((_, header)) = SafeTensors::read_metadata(bytes) else {
        return false;
    };
    if let Some(meta) = header.metadata() {
        if let Some(q) = meta.get(QUANTIZATION_KEY) {
            return !q.is_empty();
        }
        if meta.get(FORMAT_KEY).is_some_and(|f| f == "flashnet") {
            return false;
        }
    }
    header
        .tensors()
        .get("dense/kernel")
        .is_some_and(|t| t.dtype == Dtype::I8)
}

/// The bytes of a model file, refusing one longer than [`MAX_FILE_BYTES`] (the limit of f32
/// model files) after reading at most one byte more.
fn read(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_FILE_BYTES)
        .with_context(|| format!("cannot read model file {}", path.display()))
}

/// Reads `path` and tells whether it is an int8 model; returns the bytes either way.
pub fn sniff(path: &Path) -> Result<(Vec<u8>, bool)> {
    let bytes = read(path)?;
    let q = is_quantized(&bytes);
    Ok((bytes, q))
}

/// Reads and checks an int8 model file.
pub fn load(path: &Path) -> Result<QuantizedModel> {
    let bytes = read(path)?;
    parse(&bytes).with_context(|| format!("int8 model file {}", path.display()))
}

/// The expected tensors: name, dtype, shape.
fn specs() -> Vec<(String, Dtype, Vec<usize>)> {
    let mut v = vec![
        ("input/scale".to_string(), Dtype::F32, vec![1]),
        ("input/zero_point".to_string(), Dtype::I32, vec![1]),
    ];
    for (name, i, o) in [("dense", 784, 128), ("dense_1", 128, 10)] {
        v.push((format!("{name}/kernel"), Dtype::I8, vec![i, o]));
        v.push((format!("{name}/kernel_scale"), Dtype::F32, vec![o]));
        v.push((format!("{name}/bias"), Dtype::I32, vec![o]));
        v.push((format!("{name}/multiplier"), Dtype::I32, vec![o]));
        v.push((format!("{name}/shift"), Dtype::I32, vec![o]));
        v.push((format!("{name}/output_scale"), Dtype::F32, vec![1]));
        v.push((format!("{name}/output_zero_point"), Dtype::I32, vec![1]));
    }
    v
}

/// Smallest and largest scale a file may hold: dequantized values (`scale · (q − zero_point)`,
/// `|q − zero_point| ≤ 255`) then stay finite and normal, and so do their softmax and loss.
pub const MIN_SCALE: f32 = 1e-20;
/// See [`MIN_SCALE`].
pub const MAX_SCALE: f32 = 1e20;

/// [`load`] on bytes in memory: every tensor present with its dtype and shape and no others,
/// scales finite and positive, zero points in range, input quantization `q = p − 128`, and the
/// integer parameters accepted by the core (multipliers, shifts, bias range, layer chain).
pub fn parse(bytes: &[u8]) -> Result<QuantizedModel> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    if let Some(q) = metadata.get(QUANTIZATION_KEY) {
        ensure!(
            q == INT8,
            "quantization `{}` is not supported (this build runs `{INT8}`)",
            printable(q)
        );
    }
    if let Some(arch) = metadata.get(ARCHITECTURE_KEY) {
        let ours = architecture(&flashnet::tutorial::model(flashnet::tutorial::DROPOUT));
        ensure!(
            *arch == ours,
            "architecture `{}` cannot be loaded by this build, which runs `{ours}`",
            printable(arch)
        );
    }
    let specs = specs();
    for name in st.names() {
        ensure!(
            specs.iter().any(|(n, _, _)| n == name),
            "unexpected tensor `{}` in an int8 model (expected exactly: {})",
            printable(name),
            specs
                .iter()
                .map(|(n, _, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let get = |name: &str| -> Result<TensorView<'_>> {
        let (_, dtype, shape) = specs
            .iter()
            .find(|(n, _, _)| n == name)
            .with_context(|| format!("internal error: no spec for {name}"))?;
        let Ok(t) = st.tensor(name) else {
            bail!("tensor `{name}` {shape:?} is missing");
        };
        ensure!(
            t.dtype() == *dtype,
            "tensor `{name}` has dtype {:?}, expected {dtype:?}",
            t.dtype()
        );
        ensure!(
            t.shape() == shape.as_slice(),
            "tensor `{name}` has shape {:?}, expected {shape:?}",
            t.shape()
        );
        let n: usize = shape.iter().product();
        ensure!(
            t.data().len() == n * (dtype.bitsize() / 8),
            "tensor `{name}` holds {} bytes, expected {}",
            t.data().len(),
            n * (dtype.bitsize() / 8)
        );
        Ok(t)
    };
    let f32s = |name: &str| -> Result<Vec<f32>> {
        let t = get(name)?;
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some((i, x)) = v
            .iter()
            .enumerate()
            .find(|(_, x)| !(MIN_SCALE..=MAX_SCALE).contains(*x))
        {
            bail!(
                "tensor `{name}` holds {x:e} at index {i}: scales must be finite and positive, \
                 within {MIN_SCALE:e}..={MAX_SCALE:e} (a calibrated model's are near 1e-4..1)"
            );
        }
        Ok(v)
    };
    let i32s = |name: &str| -> Result<Vec<i32>> {
        Ok(get(name)?
            .data()
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let affine = |prefix: &str| -> Result<Affine> {
        let scale = f32s(&format!("{prefix}/{}", scale_name(prefix)))?[0];
        let zp_name = format!("{prefix}/{}", zero_point_name(prefix));
        let zero_point = i32s(&zp_name)?[0];
        ensure!(
            (-128..=127).contains(&zero_point),
            "tensor `{zp_name}` is {zero_point}: an int8 zero point must be in -128..=127"
        );
        Ok(Affine { scale, zero_point })
    };
    let input = affine("input")?;
    ensure!(
        input.scale == INPUT_SCALE && input.zero_point == qt::INPUT_ZERO_POINT,
        "input quantization is scale {} zero point {}; the integer input path needs scale 1/255 \
         and zero point -128 (q = p - 128)",
        input.scale,
        input.zero_point
    );
    let layer = |name: &str, inputs: usize, outputs: usize| -> Result<QLayer> {
        let kernel: Vec<i8> = get(&format!("{name}/kernel"))?
            .data()
            .iter()
            .map(|&b| b as i8)
            .collect();
        Ok(QLayer {
            inputs,
            outputs,
            kernel,
            kernel_scale: f32s(&format!("{name}/kernel_scale"))?,
            bias: i32s(&format!("{name}/bias"))?,
            multiplier: i32s(&format!("{name}/multiplier"))?,
            shift: i32s(&format!("{name}/shift"))?,
            output: affine(name)?,
        })
    };
    let model = QuantizedModel {
        input,
        dense: layer("dense", 784, 128)?,
        dense_1: layer("dense_1", 128, 10)?,
        metadata,
    };
    // The core's own checks (multipliers, shifts, bias range, chain of zero points).
    model.to_core()?;
    Ok(model)
}

fn scale_name(prefix: &str) -> &'static str {
    if prefix == "input" {
        "scale"
    } else {
        "output_scale"
    }
}

fn zero_point_name(prefix: &str) -> &'static str {
    if prefix == "input" {
        "zero_point"
    } else {
        "output_zero_point"
    }
}
