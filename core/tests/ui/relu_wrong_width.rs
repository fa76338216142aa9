// Dense<784, 128> outputs [f32; 128]; Relu<64> wants [f32; 64].
use flashnet::layers::{Dense, Relu};
use flashnet::{Chain, Layer};

fn main() {
    let model = Chain(Dense::<784, 128>::new(), Relu::<64>::new());
    let mut described = 0;
    model.describe(&mut |_| described += 1);
}
