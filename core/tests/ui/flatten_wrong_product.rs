// 28 × 28 is 784, not 780: `Flatten::new` asserts HW == H·W at compile time.
use flashnet::layers::Flatten;

fn main() {
    let _flatten = Flatten::<28, 28, 780>::new();
}
