//! PNG plots for training reports: accuracy / loss curves, the confusion matrix and a single
//! prediction (input image, logits, softmax probabilities).
//!
//! Everything is rendered into an in-memory RGB buffer with plotters, encoded as PNG with the
//! `image` crate and written atomically. Text uses fonts embedded at compile time
//! (`epaint_default_fonts`: Ubuntu Light and Hack), so no system font or fontconfig is needed;
//! they are registered with plotters' `ab_glyph` support (which sizes legends), and glyphs are
//! laid out and rasterised by the `Canvas` backend of `canvas`, which fixes plotters 0.3.7's
//! letter spacing and baseline.
//!
//! This file holds the public entry points, the palette and the imports the drawing modules
//! share; `history`, `confusion` and `prediction` draw one kind of plot each, `canvas` and
//! `ticks` hold what they have in common.

use std::fmt::Display;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, OutlinedGlyph, PxScale, ScaleFont, point};
use anyhow::{Context, Result, anyhow, bail};
use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, register_font};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

mod canvas;
mod confusion;
mod history;
mod prediction;
#[cfg(test)]
mod tests;
mod ticks;

use canvas::{Canvas, PlotErr, centered, fit_size, render, text_style};
use confusion::draw_confusion;
use history::{Metric, history};
use prediction::draw_prediction;
use ticks::{Ticked, nice_ticks};

type Area<'a> = DrawingArea<Canvas<'a>, Shift>;

const SANS: &str = "sans-serif";
const MONO: &str = "monospace";

// matplotlib's "tab10" blue / orange / green / red, and a few greys.
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const INK: RGBColor = RGBColor(33, 33, 33);
const SUBTLE: RGBColor = RGBColor(90, 90, 90);
const GRID: RGBColor = RGBColor(218, 218, 218);
const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);
const BAR_GREY: RGBColor = RGBColor(176, 186, 196);

/// Training vs validation accuracy per epoch (Keras tutorial's plot): x = epoch 1..=N, y = accuracy.
/// `val` may be empty (no validation split): then only the training line and a legend saying so.
pub fn accuracy(path: &Path, train: &[f64], val: &[f64]) -> Result<()> {
    history(path, Metric::Accuracy, train, val)
}

/// Same for loss.
pub fn loss(path: &Path, train: &[f64], val: &[f64]) -> Result<()> {
    history(path, Metric::Loss, train, val)
}

/// 10×10 confusion matrix (rows = true label, columns = predicted), annotated heatmap: each cell
/// shows its count, colour by row-normalised value (so errors are visible even though the diagonal
/// dominates), text colour readable on both dark and light cells, axes labelled 0–9 "Predicted" / "True", title with overall accuracy.
pub fn confusion(path: &Path, matrix: &[[u32; 10]; 10], title: &str) -> Result<()> {
    let png = render(700, 700, |root| draw_confusion(root, matrix, title))?;
    crate::atomic::write(path, &png)
}

/// One prediction: the 28×28 input image (u8 pixels, row-major) drawn as a grayscale picture, and
/// side by side bar charts of the 10 logits and of the 10 softmax probabilities (the tutorial's
/// "logits vs probabilities"), predicted digit highlighted.
pub fn prediction(
    path: &Path,
    pixels: &[u8; 784],
    logits: &[f32; 10],
    probs: &[f32; 10],
    label: Option<u8>,
) -> Result<()> {
    let png = render(1200, 400, |root| {
        draw_prediction(root, pixels, logits, probs, label)
    })?;
    crate::atomic::write(path, &png)
}
