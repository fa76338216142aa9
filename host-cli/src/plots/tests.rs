//! Plots rendered to files and checked pixel by pixel.

use super::*;
use image::{GenericImageView, RgbImage};

fn decode(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).unwrap();
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

fn distinct_colours(img: &RgbImage) -> usize {
    let mut seen = std::collections::HashSet::new();
    for p in img.pixels() {
        seen.insert(p.0);
    }
    seen.len()
}

fn sample_matrix() -> [[u32; 10]; 10] {
    let mut m = [[0u32; 10]; 10];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 970 + 10 * i as u32;
        row[(i + 3) % 10] = 7;
        row[(i + 7) % 10] = 1;
    }
    m[4][9] = 23;
    m
}

fn digit_pixels() -> [u8; 784] {
    // A rough "7": a top bar and a diagonal stroke.
    let mut px = [0u8; 784];
    for c in 6..22 {
        px[6 * 28 + c] = 255;
        px[7 * 28 + c] = 200;
    }
    for r in 8..24 {
        let c = 21 - (r - 8) / 2;
        px[r * 28 + c] = 255;
        px[r * 28 + c - 1] = 180;
    }
    px
}

fn softmax(logits: &[f32; 10]) -> [f32; 10] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    std::array::from_fn(|i| exp[i] / sum)
}

#[test]
fn plots_text_with_embedded_font() {
    // Centred text lands around its anchor, in the requested colour, with no system fonts.
    let png = render(200, 100, |root| {
        let style = text_style(SANS, 24.0, RED, HPos::Center, VPos::Center);
        let (w, h) = root.estimate_text_size("Epoch 12", &style).plot_err()?;
        assert!((70..130).contains(&w) && (20..30).contains(&h), "{w}×{h}");
        centered(root, "Epoch 12", SANS, 24.0, RED, (100, 50))
    })
    .unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let red: Vec<(u32, u32)> = img
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == [RED.0, RED.1, RED.2])
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(red.len() > 50);
    let (xs, ys): (Vec<u32>, Vec<u32>) = red.into_iter().unzip();
    let mid = |v: &[u32]| (v.iter().min().unwrap() + v.iter().max().unwrap()) / 2;
    assert!(
        mid(&xs).abs_diff(100) <= 3,
        "horizontal centre {}",
        mid(&xs)
    );
    assert!(mid(&ys).abs_diff(50) <= 4, "vertical centre {}", mid(&ys));
}

const LOGITS: [f32; 10] = [-2.1, 0.4, 1.3, 2.2, -4.0, -0.7, -3.3, 8.9, -1.2, 3.1];

#[test]
fn plots_accuracy_five_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accuracy.png");
    accuracy(
        &path,
        &[0.91, 0.955, 0.967, 0.974, 0.979],
        &[0.945, 0.962, 0.969, 0.971, 0.973],
    )
    .unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (800, 600));
    assert!(distinct_colours(&img) > 20, "the plot should not be blank");
    // Both series colours appear.
    assert!(img.pixels().any(|p| p.0 == [BLUE.0, BLUE.1, BLUE.2]));
    assert!(img.pixels().any(|p| p.0 == [ORANGE.0, ORANGE.1, ORANGE.2]));
}

#[test]
fn plots_loss_single_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.png");
    loss(&path, &[0.35], &[0.28]).unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (800, 600));
    // The single points are drawn as markers.
    assert!(img.pixels().any(|p| p.0 == [BLUE.0, BLUE.1, BLUE.2]));
    assert!(img.pixels().any(|p| p.0 == [ORANGE.0, ORANGE.1, ORANGE.2]));
}

#[test]
fn plots_history_without_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.png");
    accuracy(&path, &[0.97, 0.975, 0.98], &[]).unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (800, 600));
    assert!(img.pixels().any(|p| p.0 == [BLUE.0, BLUE.1, BLUE.2]));
    assert!(!img.pixels().any(|p| p.0 == [ORANGE.0, ORANGE.1, ORANGE.2]));
}

#[test]
fn plots_history_with_nan_and_inf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.png");
    loss(
        &path,
        &[2.3, f64::NAN, 0.8, f64::INFINITY, 0.5],
        &[f64::NAN, 1.1, 0.9],
    )
    .unwrap();
    assert_eq!(decode(&path).dimensions(), (800, 600));
    loss(&path, &[f64::NAN, f64::NAN], &[f64::NAN]).unwrap();
    assert_eq!(decode(&path).dimensions(), (800, 600));
}

#[test]
fn history_rejects_no_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.png");
    assert!(accuracy(&path, &[], &[]).is_err());
    assert!(!path.exists());
}

#[test]
fn plots_many_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.png");
    let train: Vec<f64> = (0..120).map(|e| 1.0 / (1.0 + e as f64)).collect();
    let val: Vec<f64> = (0..120).map(|e| 1.1 / (1.0 + e as f64) + 0.01).collect();
    loss(&path, &train, &val).unwrap();
    assert_eq!(decode(&path).dimensions(), (800, 600));
}

#[test]
fn plots_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.png");
    let m = sample_matrix();
    confusion(&path, &m, "Confusion matrix: test set").unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (700, 700));
    // Sample cell corners (away from the centred count text).
    let cell = |r: u32, c: u32| *img.get_pixel(92 + c * 48 + 4, 92 + r * 48 + 4);
    let diag = cell(2, 2);
    let zero = cell(2, 4);
    let error = cell(4, 9);
    assert_eq!(zero.0, [255, 255, 255], "zero cells are white");
    assert_ne!(diag, zero);
    assert_ne!(error, zero, "small errors must be visibly coloured");
    assert_ne!(error, diag);
    // The diagonal is darker than the error cell.
    let lum = |p: image::Rgb<u8>| p.0.iter().map(|&v| v as u32).sum::<u32>();
    assert!(lum(diag) < lum(error));
}

#[test]
fn plots_confusion_matrix_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.png");
    confusion(&path, &[[0; 10]; 10], "").unwrap();
    assert_eq!(decode(&path).dimensions(), (700, 700));
    let mut big = [[0u32; 10]; 10];
    big[0][0] = u32::MAX;
    big[1][1] = 123_456_789;
    confusion(&path, &big, &"A very long title ".repeat(8)).unwrap();
    assert_eq!(decode(&path).dimensions(), (700, 700));
}

#[test]
fn plots_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prediction.png");
    let probs = softmax(&LOGITS);
    prediction(&path, &digit_pixels(), &LOGITS, &probs, Some(7)).unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (1200, 400));
    assert!(distinct_colours(&img) > 20);
    // Correct prediction highlighted in green; no red anywhere.
    assert!(img.pixels().any(|p| p.0 == [GREEN.0, GREEN.1, GREEN.2]));
    assert!(!img.pixels().any(|p| p.0 == [RED.0, RED.1, RED.2]));
    // The input image is drawn: black background and white ink inside the left panel.
    let view = img.view(0, 0, 330, 400);
    assert!(view.pixels().any(|(_, _, p)| p.0 == [0, 0, 0]));
    assert!(
        view.pixels()
            .filter(|(_, _, p)| p.0 == [255, 255, 255])
            .count()
            > 0
    );
}

#[test]
fn plots_wrong_and_unlabelled_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prediction.png");
    let probs = softmax(&LOGITS);
    prediction(&path, &digit_pixels(), &LOGITS, &probs, Some(1)).unwrap();
    let img = decode(&path);
    assert!(
        img.pixels().any(|p| p.0 == [RED.0, RED.1, RED.2]),
        "wrong prediction is red"
    );
    prediction(&path, &[0; 784], &LOGITS, &probs, None).unwrap();
    let img = decode(&path);
    assert!(img.pixels().any(|p| p.0 == [BLUE.0, BLUE.1, BLUE.2]));
    let nan = [f32::NAN; 10];
    prediction(&path, &[255; 784], &nan, &nan, Some(200)).unwrap();
    assert_eq!(decode(&path).dimensions(), (1200, 400));
}
