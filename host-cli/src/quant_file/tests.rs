use super::*;
use safetensors::tensor::SafeTensors;

/// A valid int8 model file with simple parameters.
fn valid() -> (QuantizedModel, Vec<u8>) {
    let layer = |inputs: usize, outputs: usize, zp: i32| QLayer {
        inputs,
        outputs,
        kernel: (0..inputs * outputs).map(|i| (i % 255) as i8).collect(),
        kernel_scale: vec![0.01; outputs],
        bias: (0..outputs as i32).collect(),
        multiplier: vec![1 << 30; outputs],
        shift: vec![-8; outputs],
        output: Affine {
            scale: 0.1,
            zero_point: zp,
        },
    };
    let m = QuantizedModel {
        input: Affine {
            scale: INPUT_SCALE,
            zero_point: -128,
        },
        dense: layer(784, 128, -128),
        dense_1: layer(128, 10, 5),
        metadata: HashMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.safetensors");
    save(&p, &m, &serde_json::json!({})).unwrap();
    (m, std::fs::read(&p).unwrap())
}

#[test]
fn what_parse_refuses_is_not_written() {
    let (mut m, _) = valid();
    m.dense.kernel_scale[3] = 1e-30;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.safetensors");
    let e = format!("{:#}", save(&p, &m, &serde_json::json!({})).unwrap_err());
    assert!(
        e.contains("not writing") && e.contains("holds 1e-30 at index 3"),
        "{e}"
    );
    assert!(!p.exists());
}

/// The file with tensor `name`'s data replaced by `f(data)` (same length).
fn patched(bytes: &[u8], name: &str, f: impl Fn(&mut [u8])) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let start = st.tensor(name).unwrap().data().as_ptr() as usize - bytes.as_ptr() as usize;
    let len = st.tensor(name).unwrap().data().len();
    let mut out = bytes.to_vec();
    f(&mut out[start..start + len]);
    out
}

fn error(bytes: &[u8]) -> String {
    format!("{:#}", parse(bytes).expect_err("must be refused"))
}

#[test]
fn round_trip() {
    let (m, bytes) = valid();
    let mut back = parse(&bytes).unwrap();
    back.metadata.clear();
    assert_eq!(back, m);
    let core = back.to_core().unwrap();
    assert_eq!(core.hidden.weight(3, 5), m.dense.kernel[3 * 128 + 5]);
}

#[test]
fn broken_files_are_clear_errors() {
    let (_, bytes) = valid();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            bytes[..bytes.len() / 2].to_vec(),
            "not a valid safetensors file",
        ),
        (b"garbage".to_vec(), "not a valid safetensors file"),
        (
            patched(&bytes, "dense/output_zero_point", |d| {
                d.copy_from_slice(&300i32.to_le_bytes())
            }),
            "zero point must be in -128..=127",
        ),
        (
            patched(&bytes, "dense_1/multiplier", |d| {
                d[..4].copy_from_slice(&7i32.to_le_bytes())
            }),
            "multiplier 7 of channel 0",
        ),
        (
            patched(&bytes, "dense/shift", |d| {
                d[8..12].copy_from_slice(&99i32.to_le_bytes())
            }),
            "shift 99 of channel 2",
        ),
        (
            patched(&bytes, "dense/bias", |d| {
                d[..4].copy_from_slice(&i32::MAX.to_le_bytes())
            }),
            "the accumulator could overflow",
        ),
        (
            patched(&bytes, "dense/kernel_scale", |d| {
                d[..4].copy_from_slice(&f32::NAN.to_le_bytes())
            }),
            "scales must be finite and positive",
        ),
        (
            patched(&bytes, "input/zero_point", |d| {
                d.copy_from_slice(&0i32.to_le_bytes())
            }),
            "zero point -128",
        ),
        (
            patched(&bytes, "dense_1/output_scale", |d| {
                d.copy_from_slice(&0f32.to_le_bytes())
            }),
            "finite and positive",
        ),
        (
            patched(&bytes, "dense_1/output_scale", |d| {
                d.copy_from_slice(&3e38f32.to_le_bytes())
            }),
            "holds 3e38 at index 0: scales must be finite and positive, within",
        ),
        (
            patched(&bytes, "dense/kernel_scale", |d| {
                d[4..8].copy_from_slice(&1e-45f32.to_le_bytes())
            }),
            "at index 1: scales must be",
        ),
        (
            {
                let meta = HashMap::from([(
                    QUANTIZATION_KEY.to_string(),
                    "int8\u{1b}[31m\nline2".to_string(),
                )]);
                let none: [(&str, TensorView<'_>); 0] = [];
                safetensors::serialize(none, Some(meta)).unwrap()
            },
            "quantization `int8\\u{1b}[31m\\nline2` is not supported",
        ),
    ];
    for (b, want) in cases {
        let msg = error(&b);
        assert!(msg.contains(want), "expected `{want}` in: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

/// Name, dtype, shape and bytes of a tensor.
type Raw = (String, Dtype, Vec<usize>, Vec<u8>);

#[test]
fn missing_extra_and_mistyped_tensors_are_named() {
    let (m, _) = valid();
    let rewrite = |edit: &dyn Fn(&mut Vec<Raw>)| {
        let st_bytes = {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("q.safetensors");
            save(&p, &m, &serde_json::json!({})).unwrap();
            std::fs::read(p).unwrap()
        };
        let st = SafeTensors::deserialize(&st_bytes).unwrap();
        let mut tensors: Vec<Raw> = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
            .collect();
        edit(&mut tensors);
        let views: BTreeMap<String, TensorView<'_>> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let meta: HashMap<String, String> =
            [("quantization".to_string(), "int8".to_string())].into();
        safetensors::serialize(views, Some(meta)).unwrap()
    };
    let no_bias = rewrite(&|t| t.retain(|(n, ..)| n != "dense_1/bias"));
    assert!(error(&no_bias).contains("tensor `dense_1/bias` [10] is missing"));
    let extra = rewrite(&|t| t.push(("extra".into(), Dtype::I8, vec![1], vec![0])));
    assert!(error(&extra).contains("unexpected tensor `extra`"));
    let as_f32 = rewrite(&|t| {
        let k = t.iter_mut().find(|(n, ..)| n == "dense_1/kernel").unwrap();
        k.1 = Dtype::F32;
        k.2 = vec![128, 10];
        k.3 = vec![0; 128 * 10 * 4];
    });
    assert!(error(&as_f32).contains("has dtype F32, expected I8"));
    let reshaped = rewrite(&|t| {
        let k = t.iter_mut().find(|(n, ..)| n == "dense/kernel").unwrap();
        k.2 = vec![128, 784];
    });
    assert!(error(&reshaped).contains("has shape [128, 784], expected [784, 128]"));
}

#[test]
fn oversized_files_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    for r in [sniff(&big).map(|_| ()), load(&big).map(|_| ())] {
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("larger than the 67108864-byte limit"), "{msg}");
    }
}

#[test]
fn detection_and_other_quantizations() {
    let (_, bytes) = valid();
    assert!(is_quantized(&bytes));
    assert!(!is_quantized(b"not a model"));
    // Same length, other scheme: refused by name.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    assert!(header.contains("\"quantization\":\"int8\""), "{header}");
    let mut other = bytes.clone();
    other[8..8 + n].copy_from_slice(header.replace("\"int8\"", "\"int4\"").as_bytes());
    assert!(is_quantized(&other));
    assert!(error(&other).contains("quantization `int4` is not supported"));
    // A flashnet f32 file (it names no quantization) whose kernel is int8 is a damaged f32
    // file: its loader names the dtype (it was read as an int8 model missing `input/scale`).
    let kernel = [1i8; 784 * 128];
    let f32s = |n: usize| vec![0u8; 4 * n];
    let (b1, k2, b2) = (f32s(128), f32s(1280), f32s(10));
    use safetensors::tensor::TensorView;
    let tensors = [
        (
            "dense/kernel",
            TensorView::new(Dtype::I8, vec![784, 128], bytemuck::cast_slice(&kernel)),
        ),
        ("dense/bias", TensorView::new(Dtype::F32, vec![128], &b1)),
        (
            "dense_1/kernel",
            TensorView::new(Dtype::F32, vec![128, 10], &k2),
        ),
        ("dense_1/bias", TensorView::new(Dtype::F32, vec![10], &b2)),
    ]
    .map(|(n, v)| (n, v.unwrap()));
    let meta = HashMap::from([(FORMAT_KEY.to_string(), "flashnet".to_string())]);
    let damaged = safetensors::tensor::serialize(tensors.clone(), Some(meta)).unwrap();
    assert!(!is_quantized(&damaged));
    let msg = format!("{:#}", crate::model_file::parse(&damaged).err().unwrap());
    assert!(
        msg.contains("`dense/kernel` has dtype I8, expected F32"),
        "{msg}"
    );
    // Without flashnet's metadata (a file from elsewhere, which may name its own format), an
    // int8 kernel still means int8.
    let foreign = safetensors::tensor::serialize(tensors.clone(), None).unwrap();
    assert!(is_quantized(&foreign));
    let pt = HashMap::from([(FORMAT_KEY.to_string(), "pt".to_string())]);
    let foreign = safetensors::tensor::serialize(tensors, Some(pt)).unwrap();
    assert!(is_quantized(&foreign));
    assert_eq!(
        checksum(&[[0; 10]]),
        (0..10).fold(0x811c_9dc5u32, |h, _| h.wrapping_mul(0x0100_0193))
    );
}
