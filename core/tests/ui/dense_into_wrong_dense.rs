// Dense<784, 128> outputs [f32; 128]; Dense<100, 10> wants [f32; 100].
use flashnet::layers::Dense;
use flashnet::{Classifier, Sequential, sequential};

type Broken = Sequential![Dense<784, 128>, Dense<100, 10>];

fn main() {
    let _model: Classifier<Broken, 10> = Classifier::new(sequential![Dense::new(), Dense::new()]);
}
