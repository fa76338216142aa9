//! The int8 model on real MNIST (found through the CLI's data lookup): quantizing the committed
//! f32 model (`firmware/models/mnist-f32.safetensors`, `flashnet train --seed 1`) gives the
//! committed int8 model, whose integer-only test accuracy is within 0.3 points of the f32 one.

use std::path::Path;

use flashnet::tutorial::{self, InferenceWorkspace};
use flashnet_cli::cli::DataArgs;
use flashnet_cli::mnist::{Mnist, Parts};
use flashnet_cli::{eval, model_file, quant_file, quantize};

#[test]
fn committed_int8_model_reproduces_and_stays_within_0_3_points_of_f32() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models");
    let args = DataArgs {
        data: None,
        offline: false,
    };
    let mnist = Mnist::locate_and_load(&args, Parts::TrainAndTest).expect(
        "MNIST not found: set FLASHNET_DATA to a directory with the four IDX files, or go online",
    );
    let (train, test) = (mnist.train().unwrap(), mnist.test().unwrap());

    let f32_model = model_file::load(&models.join("mnist-f32.safetensors")).unwrap();
    let images = train.images.as_slice();
    let idx = quantize::calibration_indices(train.len(), quantize::DEFAULT_CALIBRATION);
    let ranges = quantize::calibrate(&f32_model.params, idx.iter().map(|&i| &images[i])).unwrap();
    let fresh = quantize::quantize(&f32_model.params, &ranges).unwrap();
    let mut committed = quant_file::load(&models.join("mnist-int8.safetensors")).unwrap();
    committed.metadata.clear();
    assert!(
        fresh == committed,
        "re-quantizing the committed f32 model does not give the committed int8 model"
    );

    let model = tutorial::model(tutorial::DROPOUT);
    let mut ws: Box<InferenceWorkspace<256>> = bytemuck::zeroed_box();
    let f = eval::evaluate(&model, &f32_model.params, &mut ws, &test).unwrap();
    let core = committed.to_core().unwrap();
    let (q, logits) = quant_file::evaluate(&committed, &core, &test);
    assert_eq!(q.count, 10_000);
    let delta = 100.0 * (f.accuracy() - q.accuracy());
    println!(
        "f32 {:.2}%, int8 {:.2}% ({delta:.2} points lost)",
        100.0 * f.accuracy(),
        100.0 * q.accuracy()
    );
    assert!(f.accuracy() > 0.97, "f32 accuracy {}", f.accuracy());
    assert!(delta <= 0.3, "int8 loses {delta:.2} points (budget 0.3)");
    // Skipping zero inputs is exact: the dense path gives the same int8 logits.
    let mut scratch: Box<flashnet::quant::tutorial::Scratch> = bytemuck::zeroed_box();
    for (img, l) in test.images.as_slice().iter().zip(&logits).take(500) {
        let dense = core.predict_with(img, &mut scratch, flashnet::quant::Sparsity::EveryInput);
        assert_eq!(&dense, l);
    }
}
