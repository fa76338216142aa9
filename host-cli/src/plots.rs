//! PNG plots for training reports: accuracy / loss curves, the confusion matrix and a single
//! prediction (input image, logits, softmax probabilities).
//!
//! Everything is rendered into an in-memory RGB buffer with plotters, encoded as PNG with the
//! `image` crate and written atomically. Text uses fonts embedded at compile time
//! (`epaint_default_fonts`: Ubuntu Light and Hack), so no system font or fontconfig is needed;
//! they are registered with plotters' `ab_glyph` support (which sizes legends), and glyphs are
//! laid out and rasterised by this module's [`Canvas`] backend, which fixes plotters 0.3.7's
//! letter spacing and baseline.

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

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

/// Maps plotters' errors (which are not all `Send + Sync`) into anyhow errors.
trait PlotErr<T> {
    fn plot_err(self) -> Result<T>;
}

impl<T, E: Display> PlotErr<T> for std::result::Result<T, E> {
    fn plot_err(self) -> Result<T> {
        self.map_err(|e| anyhow!("plot drawing failed: {e}"))
    }
}

/// The embedded typefaces, parsed once.
struct Faces {
    sans: FontRef<'static>,
    mono: FontRef<'static>,
}

/// Parses the embedded fonts and registers them with plotters' ab_glyph text support (which
/// plotters uses to size legends), once per process.
fn faces() -> Result<&'static Faces> {
    static FACES: OnceLock<std::result::Result<Faces, String>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            let sans = epaint_default_fonts::UBUNTU_LIGHT;
            let mono = epaint_default_fonts::HACK_REGULAR;
            for (family, bytes) in [(SANS, sans), ("serif", sans), (MONO, mono)] {
                register_font(family, FontStyle::Normal, bytes)
                    .map_err(|_| format!("embedded font for {family:?} is not a valid font"))?;
            }
            let parse = |bytes: &'static [u8]| {
                FontRef::try_from_slice(bytes).map_err(|e| format!("embedded font: {e}"))
            };
            Ok(Faces {
                sans: parse(sans)?,
                mono: parse(mono)?,
            })
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

/// One line of text laid out with kerning, glyph origins on the baseline at `ascent`.
struct TextLine {
    glyphs: Vec<OutlinedGlyph>,
    width: f32,
    height: f32,
}

impl TextLine {
    fn layout(family: &str, size: f64, text: &str) -> Result<TextLine> {
        let faces = faces()?;
        let face = if family == MONO {
            &faces.mono
        } else {
            &faces.sans
        };
        let size = size as f32;
        if !(size.is_finite() && size > 0.0) {
            return Ok(TextLine {
                glyphs: Vec::new(),
                width: 0.0,
                height: 0.0,
            });
        }
        let font = face.as_scaled(PxScale::from(size));
        let ascent = font.ascent();
        let mut x = 0.0f32;
        let mut prev: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for ch in text.chars().filter(|c| !c.is_control()) {
            let id = font.glyph_id(ch);
            if let Some(p) = prev {
                x += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(font.scale(), point(x, ascent));
            if let Some(outline) = font.outline_glyph(glyph) {
                glyphs.push(outline);
            }
            x += font.h_advance(id);
            prev = Some(id);
        }
        Ok(TextLine {
            glyphs,
            width: x,
            height: ascent - font.descent(),
        })
    }
}

fn font_error(e: anyhow::Error) -> DrawingErrorKind<BitMapBackendErr> {
    DrawingErrorKind::FontError(Box::new(std::io::Error::other(e.to_string())))
}

type BitMapBackendErr = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

/// `BitMapBackend` with its own text rendering: plotters 0.3.7's ab_glyph path drops each glyph's
/// side bearing (uneven letter spacing) and misplaces the baseline. This one lays text out
/// properly (kerning, bearings, sub-pixel positions) from the embedded fonts; everything else
/// is delegated.
struct Canvas<'a> {
    inner: BitMapBackend<'a>,
}

impl DrawingBackend for Canvas<'_> {
    type ErrorType = BitMapBackendErr;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<TStyle: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha <= 0.0 {
            return Ok(());
        }
        let line =
            TextLine::layout(style.family().as_str(), style.size(), text).map_err(font_error)?;
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -line.width / 2.0,
            HPos::Right => -line.width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -line.height / 2.0,
            VPos::Bottom => -line.height,
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let trans = style.transform();
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for glyph in &line.glyphs {
            let bounds = glyph.px_bounds();
            let (gx, gy) = (bounds.min.x as i32 + dx, bounds.min.y as i32 + dy);
            glyph.draw(|x, y, coverage| {
                if coverage > 0.0 {
                    pixels.push((gx + x as i32, gy + y as i32, coverage.min(1.0)));
                }
            });
        }
        for (x, y, coverage) in pixels {
            let (tx, ty) = trans.transform(x, y);
            let c = BackendColor {
                alpha: color.alpha * f64::from(coverage),
                rgb: color.rgb,
            };
            self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), c)?;
        }
        Ok(())
    }

    fn estimate_text_size<TStyle: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let line =
            TextLine::layout(style.family().as_str(), style.size(), text).map_err(font_error)?;
        Ok((line.width.ceil() as u32, line.height.ceil() as u32))
    }
}

/// Renders `w`×`h` pixels with `draw` on a white background and returns the PNG bytes.
fn render(w: u32, h: u32, draw: impl FnOnce(&Area<'_>) -> Result<()>) -> Result<Vec<u8>> {
    faces()?;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let inner = BitMapBackend::with_buffer(&mut buf, (w, h));
        let root = Canvas { inner }.into_drawing_area();
        root.fill(&WHITE).plot_err()?;
        draw(&root)?;
        root.present().plot_err()?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&buf, w, h, ExtendedColorType::Rgb8)
        .context("cannot encode plot as PNG")?;
    Ok(png)
}

fn text_style(
    family: &'static str,
    size: f64,
    color: RGBColor,
    h: HPos,
    v: VPos,
) -> TextStyle<'static> {
    let mut style = TextStyle::from((family, size).into_font()).pos(Pos::new(h, v));
    style.color = color.to_backend_color();
    style
}

/// A linear f64 axis with exactly the given tick positions (plotters' own f64 axes pick their
/// ticks themselves, and its `with_key_points` wrapper loses the label formatter).
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new((lo, hi): (f64, f64), ticks: Vec<f64>) -> Self {
        Ticked { lo, hi, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (start, end): (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if !(span.is_finite() && span != 0.0 && v.is_finite()) {
            return (start + end) / 2;
        }
        let t = ((v - self.lo) / span).clamp(-4.0, 5.0);
        start + (f64::from(end - start) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Draws `text` centred (both ways) on `(x, y)`.
fn centered(
    area: &Area<'_>,
    text: &str,
    family: &'static str,
    size: f64,
    color: RGBColor,
    (x, y): (i32, i32),
) -> Result<()> {
    let style = text_style(family, size, color, HPos::Center, VPos::Center);
    area.draw_text(text, &style, (x, y)).plot_err()
}

/// The largest size ≤ `size` at which `text` fits in `max_w` pixels (never below 10).
fn fit_size(area: &Area<'_>, text: &str, family: &'static str, mut size: f64, max_w: u32) -> f64 {
    while size > 10.0 {
        let style = TextStyle::from((family, size).into_font());
        match area.estimate_text_size(text, &style) {
            Ok((w, _)) if w > max_w => size -= 1.0,
            _ => break,
        }
    }
    size
}

/// A count short enough for a heat-map cell: exact below 100,000, then "123k", "4.3M", "12G".
fn compact(n: u64) -> String {
    if n < 100_000 {
        return n.to_string();
    }
    let (value, unit) = match n {
        0..1_000_000 => (n as f64 / 1e3, "k"),
        1_000_000..1_000_000_000 => (n as f64 / 1e6, "M"),
        _ => (n as f64 / 1e9, "G"),
    };
    if value < 9.95 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

/// Evenly spaced "nice" ticks (1, 2, 2.5 or 5 × 10^k apart) covering `[lo, hi]`, at most about
/// `max_ticks` of them, and the number of decimals needed to print them.
fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> (Vec<f64>, usize) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || max_ticks == 0 {
        return (vec![lo], 2);
    }
    let raw = span / max_ticks as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last)
        .take(2 * max_ticks + 2)
        .map(|k| k as f64 * step)
        .collect();
    let decimals = (0..=12)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(12) as usize;
    (ticks, decimals)
}

// ---------------------------------------------------------------------------------------------
// Accuracy / loss curves
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Accuracy,
    Loss,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Loss => "loss",
        }
    }

    /// Whether a bigger value is better (decides what "best epoch" means).
    fn higher_is_better(self) -> bool {
        self == Metric::Accuracy
    }
}

fn history(path: &Path, metric: Metric, train: &[f64], val: &[f64]) -> Result<()> {
    if train.is_empty() && val.is_empty() {
        bail!("cannot plot {}: no epochs recorded", metric.name());
    }
    let png = render(800, 600, |root| draw_history(root, metric, train, val))?;
    crate::atomic::write(path, &png)
}

/// (epoch, value) runs of consecutive finite values: NaN / ±inf break the line.
fn finite_runs(values: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() {
            current.push(((i + 1) as f64, v));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn last_finite(values: &[f64]) -> Option<f64> {
    values.iter().rev().copied().find(|v| v.is_finite())
}

/// The best finite value and its 1-based epoch.
fn best(values: &[f64], higher_is_better: bool) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => {
                if higher_is_better {
                    v > b
                } else {
                    v < b
                }
            }
        };
        if better {
            best = Some((i + 1, v));
        }
    }
    best
}

/// Value range with some padding; a constant or single value still gets a visible range.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 1e-9 * hi.abs().max(lo.abs()).max(1e-12) {
        span * 0.08
    } else {
        (hi.abs() * 0.05).max(1e-3)
    };
    let mut y0 = lo - pad;
    // Accuracy and loss are never negative: don't waste room below zero.
    if lo >= 0.0 && y0 < 0.0 {
        y0 = 0.0;
    }
    (y0, hi + pad)
}

/// Integer epoch ticks, at most ~10 of them.
fn epoch_ticks(n: usize) -> Vec<f64> {
    let step = [1usize, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
        .into_iter()
        .find(|s| n.div_ceil(*s) <= 10)
        .unwrap_or_else(|| n.div_ceil(10).max(1));
    if step == 1 {
        (1..=n).map(|e| e as f64).collect()
    } else {
        (1..=n / step).map(|k| (k * step) as f64).collect()
    }
}

#[derive(Clone, Copy)]
enum Corner {
    UpperRight,
    LowerRight,
    UpperLeft,
    LowerLeft,
}

impl Corner {
    fn upper(self) -> bool {
        matches!(self, Corner::UpperRight | Corner::UpperLeft)
    }
    fn right(self) -> bool {
        matches!(self, Corner::UpperRight | Corner::LowerRight)
    }
    fn position(self) -> SeriesLabelPosition {
        match self {
            Corner::UpperRight => SeriesLabelPosition::UpperRight,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        }
    }
}

/// How many sampled points of the polylines fall inside the legend's box at `corner`, where the
/// box covers fractions `fw` × `fh` of the plot area.
fn legend_overlap(
    runs: &[Vec<(f64, f64)>],
    x: (f64, f64),
    y: (f64, f64),
    corner: Corner,
    fw: f64,
    fh: f64,
) -> usize {
    let (bx0, bx1) = if corner.right() {
        (x.1 - fw * (x.1 - x.0), x.1)
    } else {
        (x.0, x.0 + fw * (x.1 - x.0))
    };
    let (by0, by1) = if corner.upper() {
        (y.1 - fh * (y.1 - y.0), y.1)
    } else {
        (y.0, y.0 + fh * (y.1 - y.0))
    };
    let inside = |(px, py): (f64, f64)| px >= bx0 && px <= bx1 && py >= by0 && py <= by1;
    let mut count = 0;
    for run in runs {
        for (i, &p) in run.iter().enumerate() {
            count += usize::from(inside(p));
            if let Some(&q) = run.get(i + 1) {
                for s in 1..16 {
                    let t = s as f64 / 16.0;
                    count += usize::from(inside((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1))));
                }
            }
        }
    }
    count
}

fn draw_history(root: &Area<'_>, metric: Metric, train: &[f64], val: &[f64]) -> Result<()> {
    let (title, y_desc) = match metric {
        Metric::Accuracy => ("Training and validation accuracy", "Accuracy"),
        Metric::Loss => ("Training and validation loss", "Loss"),
    };
    let n = train.len().max(val.len());
    let train_runs = finite_runs(train);
    let val_runs = finite_runs(val);
    let all_runs: Vec<Vec<(f64, f64)>> = train_runs.iter().chain(&val_runs).cloned().collect();
    let any_finite = !all_runs.is_empty();

    // Legend entries, decided first: their size decides where the legend goes.
    let fmt = |v: f64| format!("{v:.4}");
    let train_label = match (last_finite(train), val.is_empty()) {
        (Some(v), false) => format!("Training (final {})", fmt(v)),
        (Some(v), true) => format!("Training (final {}); no validation split", fmt(v)),
        (None, false) => "Training (no finite values)".to_string(),
        (None, true) => "Training (no finite values); no validation split".to_string(),
    };
    let val_label = if val.is_empty() {
        None
    } else {
        Some(match last_finite(val) {
            Some(v) => format!("Validation (final {})", fmt(v)),
            None => "Validation (no finite values)".to_string(),
        })
    };
    let best_val = best(val, metric.higher_is_better());
    let best_label = best_val.map(|(e, v)| format!("Best validation: {} at epoch {e}", fmt(v)));

    // Axis ranges.
    let x_pad = if n <= 1 {
        0.5
    } else {
        (0.04 * (n - 1) as f64).max(0.3)
    };
    let x_range = (1.0 - x_pad, n as f64 + x_pad);
    let (mut y0, mut y1) = padded_range(train.iter().chain(val).copied());

    // Estimate the legend box as a fraction of the plotting area (≈ 690 × 470 px) and pick the
    // corner it covers the fewest points in; if every corner collides, make room.
    let legend_font = TextStyle::from((SANS, 15.0).into_font());
    let labels: Vec<&str> = [
        Some(train_label.as_str()),
        val_label.as_deref(),
        best_label.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let widest = labels
        .iter()
        .map(|l| {
            root.estimate_text_size(l, &legend_font)
                .map(|(w, _)| w)
                .unwrap_or(300)
        })
        .max()
        .unwrap_or(300);
    let fw = ((widest as f64 + 70.0) / 690.0).min(0.95);
    let fh = ((labels.len() as f64 * 21.0 + 34.0) / 470.0).min(0.6);
    let preferred = match metric {
        Metric::Accuracy => [
            Corner::LowerRight,
            Corner::UpperLeft,
            Corner::UpperRight,
            Corner::LowerLeft,
        ],
        Metric::Loss => [
            Corner::UpperRight,
            Corner::LowerLeft,
            Corner::LowerRight,
            Corner::UpperLeft,
        ],
    };
    let corner = match preferred
        .iter()
        .find(|c| legend_overlap(&all_runs, x_range, (y0, y1), **c, fw, fh) == 0)
    {
        Some(c) => *c,
        None => {
            let c = preferred[0];
            let span = y1 - y0;
            if c.upper() {
                y1 = y0 + span / (1.0 - fh);
            } else {
                y0 = y1 - span / (1.0 - fh);
            }
            c
        }
    };

    let (y_ticks, y_decimals) = nice_ticks(y0, y1, 8);
    let x_ticks = epoch_ticks(n);
    let x_fmt = |x: &f64| format!("{x:.0}");
    let y_fmt = move |y: &f64| format!("{y:.y_decimals$}");

    let mut chart = ChartBuilder::on(root)
        .margin_top(16)
        .margin_bottom(12)
        .margin_left(16)
        .margin_right(28)
        .caption(title, (SANS, 26.0).into_font().color(&INK))
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(
            Ticked::new(x_range, x_ticks),
            Ticked::new((y0, y1), y_ticks),
        )
        .plot_err()?;
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_desc)
        .axis_desc_style((SANS, 19.0).into_font().color(&INK))
        .label_style((SANS, 15.0).into_font().color(&SUBTLE))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .axis_style(SUBTLE)
        .draw()
        .plot_err()?;

    let markers = n <= 60;
    let series = [
        (BLUE, &train_runs, Some(train_label)),
        (ORANGE, &val_runs, val_label),
    ];
    for (color, runs, label) in series {
        let Some(label) = label else { continue };
        let line = color.stroke_width(2);
        for run in runs.iter() {
            chart
                .draw_series(LineSeries::new(run.iter().copied(), line))
                .plot_err()?;
        }
        // Markers: always for isolated points (a single epoch), otherwise unless crowded.
        let points = runs
            .iter()
            .filter(|r| markers || r.len() == 1)
            .flat_map(|r| r.iter().copied());
        chart
            .draw_series(points.map(|p| Circle::new(p, 4, color.filled())))
            .plot_err()?
            .label(label)
            .legend(move |(x, y)| {
                // A radius-0 marker is a single pixel on the line: "no markers".
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-2, 0), (22, 0)], color.stroke_width(2))
                    + Circle::new((10, 0), if markers { 4 } else { 0 }, color.filled())
            });
    }
    if let (Some((epoch, v)), Some(label)) = (best_val, best_label) {
        let ring = INK.stroke_width(2);
        chart
            .draw_series(std::iter::once(Circle::new((epoch as f64, v), 8, ring)))
            .plot_err()?
            .label(label)
            .legend(move |(x, y)| EmptyElement::at((x, y)) + Circle::new((10, 0), 7, ring));
    }
    chart
        .configure_series_labels()
        .position(corner.position())
        .margin(14)
        .legend_area_size(30)
        .label_font((SANS, 15.0).into_font().color(&INK))
        .background_style(WHITE.mix(0.92))
        .border_style(RGBColor(190, 190, 190))
        .draw()
        .plot_err()?;

    if !any_finite {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        centered(
            &area,
            "no finite values to plot (all NaN / infinite)",
            SANS,
            20.0,
            RED,
            (w as i32 / 2, h as i32 / 2),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix
// ---------------------------------------------------------------------------------------------

/// matplotlib's "Blues" colour map, light to dark.
const BLUES: [(u8, u8, u8); 9] = [
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
];

fn blues(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (BLUES.len() - 1) as f64;
    let i = (x.floor() as usize).min(BLUES.len() - 2);
    let f = x - i as f64;
    let (a, b) = (BLUES[i], BLUES[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Dark text on light colours, white text on dark ones (relative luminance, sRGB weights).
fn text_on(c: RGBColor) -> RGBColor {
    let lum = (0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64) / 255.0;
    if lum < 0.5 { WHITE } else { INK }
}

/// Colour scale for row-normalised fractions: logarithmic from `floor` to 1, so that a 0.3 %
/// confusion is as visible as it deserves next to a 99 % diagonal. Zero is white.
struct LogScale {
    log_floor: f64,
}

/// Where the faintest non-zero fraction starts on the colour map, so it stays distinct from zero.
const LOG_SCALE_MIN_T: f64 = 0.12;

impl LogScale {
    fn new(matrix: &[[u32; 10]; 10]) -> Self {
        let mut min_frac: f64 = 1.0;
        for row in matrix {
            let sum: u64 = row.iter().map(|&c| c as u64).sum();
            for &c in row {
                if c > 0 {
                    min_frac = min_frac.min(c as f64 / sum as f64);
                }
            }
        }
        // Whole decades, between 0.01 % and 1 %.
        let log_floor = min_frac.log10().floor().clamp(-4.0, -2.0);
        LogScale { log_floor }
    }

    fn t(&self, frac: f64) -> f64 {
        let l = frac.log10().max(self.log_floor);
        LOG_SCALE_MIN_T + (1.0 - LOG_SCALE_MIN_T) * (l - self.log_floor) / -self.log_floor
    }

    fn color(&self, frac: f64) -> RGBColor {
        if frac > 0.0 {
            blues(self.t(frac))
        } else {
            WHITE
        }
    }
}

fn percent_label(frac: f64) -> String {
    let pct = frac * 100.0;
    if pct >= 1.0 {
        format!("{pct:.0}%")
    } else {
        let decimals = (-pct.log10()).ceil().max(1.0) as usize;
        format!("{pct:.decimals$}%")
    }
}

fn draw_confusion(root: &Area<'_>, matrix: &[[u32; 10]; 10], title: &str) -> Result<()> {
    let (w, _h) = root.dim_in_pixel();
    let cx = w as i32 / 2;
    let total: u64 = matrix.iter().flatten().map(|&c| c as u64).sum();
    let correct: u64 = (0..10).map(|i| matrix[i][i] as u64).sum();

    // Title and overall accuracy.
    let title = if title.trim().is_empty() {
        "Confusion matrix"
    } else {
        title.trim()
    };
    let size = fit_size(root, title, SANS, 24.0, w - 40);
    root.draw_text(
        title,
        &text_style(SANS, size, INK, HPos::Center, VPos::Top),
        (cx, 14),
    )
    .plot_err()?;
    let summary = if total > 0 {
        format!(
            "Overall accuracy {:.2}%  ({} of {} correct)",
            // Truncated, not rounded: 5 errors in a billion must not read "100.00%".
            (10_000.0 * correct as f64 / total as f64).floor() / 100.0,
            crate::report::thousands(correct as usize),
            crate::report::thousands(total as usize)
        )
    } else {
        "No samples".to_string()
    };
    root.draw_text(
        &summary,
        &text_style(SANS, 17.0, SUBTLE, HPos::Center, VPos::Top),
        (cx, 46),
    )
    .plot_err()?;

    // Geometry: a 10×10 grid of square cells, a colour bar on the right.
    const LEFT: i32 = 92;
    const TOP: i32 = 92;
    const CELL: i32 = 48;
    const GRID_PX: i32 = 10 * CELL;
    let right = LEFT + GRID_PX;
    let bottom = TOP + GRID_PX;

    let scale = LogScale::new(matrix);
    let widest = matrix
        .iter()
        .flatten()
        .map(|&c| compact(c.into()))
        .max_by_key(String::len)
        .unwrap_or_default();
    let count_size = fit_size(root, &widest, SANS, 17.0, (CELL - 6) as u32);
    for (r, row) in matrix.iter().enumerate() {
        let sum: u64 = row.iter().map(|&c| c as u64).sum();
        for (c, &count) in row.iter().enumerate() {
            let frac = if sum > 0 {
                count as f64 / sum as f64
            } else {
                0.0
            };
            let fill = scale.color(frac);
            let (x0, y0) = (LEFT + c as i32 * CELL, TOP + r as i32 * CELL);
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + CELL, y0 + CELL)],
                fill.filled(),
            ))
            .plot_err()?;
            let ink = if count == 0 {
                RGBColor(175, 175, 175)
            } else {
                text_on(fill)
            };
            centered(
                root,
                &compact(count.into()),
                SANS,
                count_size,
                ink,
                (x0 + CELL / 2, y0 + CELL / 2),
            )?;
        }
    }
    // Cell separators and frame.
    for k in 1..10 {
        let p = k * CELL;
        let sep = RGBColor(228, 228, 228);
        root.draw(&PathElement::new(
            vec![(LEFT + p, TOP), (LEFT + p, bottom)],
            sep,
        ))
        .plot_err()?;
        root.draw(&PathElement::new(
            vec![(LEFT, TOP + p), (right, TOP + p)],
            sep,
        ))
        .plot_err()?;
    }
    root.draw(&Rectangle::new([(LEFT, TOP), (right, bottom)], SUBTLE))
        .plot_err()?;

    // Tick labels and axis titles.
    for k in 0..10 {
        let mid = k * CELL + CELL / 2;
        centered(
            root,
            &k.to_string(),
            SANS,
            17.0,
            INK,
            (LEFT + mid, bottom + 16),
        )?;
        centered(
            root,
            &k.to_string(),
            SANS,
            17.0,
            INK,
            (LEFT - 16, TOP + mid),
        )?;
    }
    centered(
        root,
        "Predicted label",
        SANS,
        19.0,
        INK,
        (LEFT + GRID_PX / 2, bottom + 46),
    )?;
    let vertical =
        text_style(SANS, 19.0, INK, HPos::Center, VPos::Center).transform(FontTransform::Rotate270);
    root.draw_text("True label", &vertical, (LEFT - 52, TOP + GRID_PX / 2))
        .plot_err()?;

    // Colour bar: row share on the log scale, decade ticks.
    let (bx0, bx1) = (right + 22, right + 40);
    for y in TOP..bottom {
        let t = 1.0 - (y - TOP) as f64 / (GRID_PX - 1) as f64;
        let color = blues(LOG_SCALE_MIN_T + (1.0 - LOG_SCALE_MIN_T) * t);
        root.draw(&PathElement::new(vec![(bx0, y), (bx1, y)], color))
            .plot_err()?;
    }
    root.draw(&Rectangle::new([(bx0, TOP), (bx1, bottom)], SUBTLE))
        .plot_err()?;
    let decades = (-scale.log_floor).round() as i32;
    for d in 0..=decades {
        let frac = 10f64.powi(-d);
        let t = (scale.t(frac) - LOG_SCALE_MIN_T) / (1.0 - LOG_SCALE_MIN_T);
        let y = bottom - (t * (GRID_PX - 1) as f64).round() as i32;
        root.draw(&PathElement::new(vec![(bx1, y), (bx1 + 4, y)], SUBTLE))
            .plot_err()?;
        let style = text_style(SANS, 14.0, SUBTLE, HPos::Left, VPos::Center);
        let label = if d == decades {
            format!("≤{}", percent_label(frac))
        } else {
            percent_label(frac)
        };
        root.draw_text(&label, &style, (bx1 + 7, y)).plot_err()?;
    }
    let note = "Colour: share of the true label's row (log scale); white = 0. Numbers are counts.";
    let size = fit_size(root, note, SANS, 14.0, w - 40);
    centered(root, note, SANS, size, SUBTLE, (cx, bottom + 82))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// One prediction
// ---------------------------------------------------------------------------------------------

/// Index of the largest finite value.
fn argmax(values: &[f32; 10]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

fn draw_prediction(
    root: &Area<'_>,
    pixels: &[u8; 784],
    logits: &[f32; 10],
    probs: &[f32; 10],
    label: Option<u8>,
) -> Result<()> {
    let predicted = argmax(probs).or_else(|| argmax(logits));
    let label = label.filter(|l| *l < 10).map(usize::from);
    let wrong = matches!((predicted, label), (Some(p), Some(l)) if p != l);
    let pred_color = match (predicted, label) {
        (Some(p), Some(l)) if p != l => RED,
        (Some(_), Some(_)) => GREEN,
        _ => BLUE,
    };

    // Title line.
    let (w, _) = root.dim_in_pixel();
    let pred_text = match predicted {
        Some(p) => {
            let pr = probs[p];
            if pr.is_finite() {
                format!("Predicted {p} (p = {:.1}%)", 100.0 * pr)
            } else {
                format!("Predicted {p}")
            }
        }
        None => "No prediction (no finite outputs)".to_string(),
    };
    let title = match (label, wrong) {
        (Some(l), true) => format!("{pred_text}  —  true label {l}: wrong"),
        (Some(l), false) => format!("{pred_text}  —  true label {l}: correct"),
        (None, _) => format!("{pred_text}  —  true label unknown"),
    };
    let title_color = if wrong { RED } else { INK };
    root.draw_text(
        &title,
        &text_style(SANS, 24.0, title_color, HPos::Center, VPos::Top),
        (w as i32 / 2, 12),
    )
    .plot_err()?;
    let body = root.margin(48, 0, 0, 0);
    let (image_area, rest) = body.split_horizontally(330);
    let (logit_area, prob_area) = rest.split_horizontally(435);

    draw_input(&image_area, pixels, predicted, label, pred_color)?;

    let highlight = |i: usize| {
        if Some(i) == predicted {
            pred_color
        } else if Some(i) == label {
            GREEN
        } else {
            BAR_GREY
        }
    };

    // Logits: signed, so the range includes zero.
    let (mut lo, mut hi) = (0f64, 0f64);
    for v in logits.iter().filter(|v| v.is_finite()) {
        lo = lo.min(*v as f64);
        hi = hi.max(*v as f64);
    }
    if hi - lo < 1e-6 {
        hi = lo + 1.0;
    }
    let pad = 0.14 * (hi - lo);
    let (y0, y1) = (
        if lo < 0.0 { lo - pad } else { 0.0 },
        if hi > 0.0 { hi + pad } else { 0.0 },
    );
    let values: Vec<Option<f64>> = logits
        .iter()
        .map(|v| v.is_finite().then_some(*v as f64))
        .collect();
    bar_panel(
        &logit_area,
        "Logits",
        "Logit",
        (y0, y1),
        &values,
        &highlight,
        |v| format!("{v:.1}"),
    )?;

    let values: Vec<Option<f64>> = probs
        .iter()
        .map(|v| v.is_finite().then_some(*v as f64))
        .collect();
    bar_panel(
        &prob_area,
        "Softmax probabilities",
        "Probability",
        (0.0, 1.12),
        &values,
        &highlight,
        |v| {
            // Same precision as the title; bars too small to see get no label.
            if v >= 0.0005 {
                format!("{:.1}%", 100.0 * v)
            } else {
                String::new()
            }
        },
    )?;
    Ok(())
}

/// The 28×28 input drawn as pixels (0 = black, 255 = white, as the network sees it), with a
/// caption whose colour swatches match the bar highlights.
fn draw_input(
    area: &Area<'_>,
    pixels: &[u8; 784],
    predicted: Option<usize>,
    label: Option<usize>,
    pred_color: RGBColor,
) -> Result<()> {
    let (w, _h) = area.dim_in_pixel();
    let cx = w as i32 / 2;
    // Same baseline as the bar charts' captions.
    centered(area, "Input image (28 × 28)", SANS, 19.0, INK, (cx, 18))?;
    const SCALE: i32 = 9;
    let side = 28 * SCALE;
    let (x0, y0) = (cx - side / 2, 34);
    for (i, &p) in pixels.iter().enumerate() {
        let (r, c) = ((i / 28) as i32, (i % 28) as i32);
        let (px, py) = (x0 + c * SCALE, y0 + r * SCALE);
        area.draw(&Rectangle::new(
            [(px, py), (px + SCALE, py + SCALE)],
            RGBColor(p, p, p).filled(),
        ))
        .plot_err()?;
    }
    area.draw(&Rectangle::new(
        [(x0 - 1, y0 - 1), (x0 + side, y0 + side)],
        SUBTLE,
    ))
    .plot_err()?;

    // Caption: "■ predicted 7   ■ true 7".
    let y = y0 + side + 24;
    let mut parts: Vec<(RGBColor, String)> = Vec::new();
    if let Some(p) = predicted {
        parts.push((pred_color, format!("predicted {p}")));
    }
    match label {
        Some(l) => parts.push((GREEN, format!("true {l}"))),
        None => parts.push((BAR_GREY, "true label unknown".to_string())),
    }
    let font = TextStyle::from((SANS, 16.0).into_font());
    let widths: Vec<i32> = parts
        .iter()
        .map(|(_, t)| {
            area.estimate_text_size(t, &font)
                .map(|(w, _)| w as i32)
                .unwrap_or(80)
        })
        .collect();
    let gap = 22;
    let total: i32 = widths.iter().map(|w| w + 20).sum::<i32>() + gap * (parts.len() as i32 - 1);
    let mut x = cx - total / 2;
    for ((color, text), tw) in parts.iter().zip(widths) {
        area.draw(&Rectangle::new(
            [(x, y - 6), (x + 12, y + 6)],
            color.filled(),
        ))
        .plot_err()?;
        let style = text_style(SANS, 16.0, INK, HPos::Left, VPos::Center);
        area.draw_text(text, &style, (x + 19, y)).plot_err()?;
        x += tw + 20 + gap;
    }
    Ok(())
}

/// A 10-bar chart (digits 0–9) of `values` in `area`; `None` bars (non-finite) are left out.
fn bar_panel(
    area: &Area<'_>,
    title: &str,
    y_desc: &str,
    (y0, y1): (f64, f64),
    values: &[Option<f64>],
    color_of: &dyn Fn(usize) -> RGBColor,
    value_label: impl Fn(f64) -> String,
) -> Result<()> {
    let (y_ticks, y_decimals) =
        nice_ticks(y0, y1.min(if y1 > 1.0 && y1 < 1.2 { 1.0 } else { y1 }), 6);
    let y_fmt = move |y: &f64| format!("{y:.y_decimals$}");
    let x_fmt = |x: &f64| format!("{x:.0}");
    let mut chart = ChartBuilder::on(area)
        .margin_top(4)
        .margin_bottom(8)
        .margin_left(8)
        .margin_right(20)
        .caption(title, (SANS, 19.0).into_font().color(&INK))
        .x_label_area_size(48)
        .y_label_area_size(62)
        .build_cartesian_2d(
            Ticked::new((-0.6, 9.6), (0..10).map(f64::from).collect()),
            Ticked::new((y0, y1), y_ticks),
        )
        .plot_err()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("Digit")
        .y_desc(y_desc)
        .axis_desc_style((SANS, 16.0).into_font().color(&INK))
        .label_style((SANS, 14.0).into_font().color(&SUBTLE))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .axis_style(SUBTLE)
        .draw()
        .plot_err()?;
    let plot = chart.plotting_area();
    for (i, v) in values.iter().enumerate() {
        let Some(v) = *v else { continue };
        let x = i as f64;
        plot.draw(&Rectangle::new(
            [(x - 0.36, 0.0), (x + 0.36, v)],
            color_of(i).filled(),
        ))
        .plot_err()?;
    }
    // Zero line for signed data.
    if y0 < 0.0 {
        plot.draw(&PathElement::new(vec![(-0.6, 0.0), (9.6, 0.0)], SUBTLE))
            .plot_err()?;
    }
    // Value labels just outside each bar's end.
    let screen = plot.strip_coord_spec();
    let (dx, dy) = {
        let r = plot.get_pixel_range();
        (r.0.start, r.1.start)
    };
    for (i, v) in values.iter().enumerate() {
        let Some(v) = *v else { continue };
        let text = value_label(v);
        if text.is_empty() {
            continue;
        }
        let (px, py) = plot.map_coordinate(&(i as f64, v));
        let offset = if v >= 0.0 { -11 } else { 11 };
        let strong = color_of(i) != BAR_GREY;
        let ink = if strong { INK } else { SUBTLE };
        centered(&screen, &text, SANS, 13.0, ink, (px - dx, py - dy + offset))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
