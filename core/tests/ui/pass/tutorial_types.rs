// The tutorial's model, trainer and workspace types build and run (inference on one image).
use flashnet::layers::{Dense, Dropout, Flatten, Relu};
use flashnet::tutorial::{self, AdamTrainer, InferenceWorkspace, Model};
use flashnet::{Classifier, Params, Sequential, sequential};
use rand_core::SeedableRng;

type Same =
    Sequential![Flatten<28, 28, 784>, Dense<784, 128>, Relu<128>, Dropout<128>, Dense<128, 10>];

fn main() {
    let model: Model = tutorial::model(tutorial::DROPOUT);
    // `Layers` is written as `Flatten → Dense → Tail`; the flat list is the same type.
    let _same: Model = Classifier::<Same, 10>::new(sequential![
        Flatten::new(),
        Dense::new(),
        Relu::new(),
        Dropout::new(0.2),
        Dense::new()
    ]);
    assert_eq!(<tutorial::Params as Params>::COUNT, 101_770);

    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut trainer = bytemuck::zeroed_box::<AdamTrainer>();
    trainer.init(&model, &mut rng);
    let mut ws = bytemuck::zeroed_box::<InferenceWorkspace<1>>();
    ws.input[0][14][14] = 1.0;
    let probs = model.predict(&trainer.params, &mut ws, 1).unwrap();
    assert!((probs[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}
