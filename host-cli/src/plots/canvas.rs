//! The drawing plumbing: embedded fonts, the RGB [`Canvas`] backend that lays out and
//! rasterises text, rendering to PNG bytes, and text placement helpers.

use super::*;

/// Maps plotters' errors (which are not all `Send + Sync`) into anyhow errors.
pub(super) trait PlotErr<T> {
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
pub(super) struct Canvas<'a> {
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
pub(super) fn render(
    w: u32,
    h: u32,
    draw: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<Vec<u8>> {
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

pub(super) fn text_style(
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

/// Draws `text` centred (both ways) on `(x, y)`.
pub(super) fn centered(
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
pub(super) fn fit_size(
    area: &Area<'_>,
    text: &str,
    family: &'static str,
    mut size: f64,
    max_w: u32,
) -> f64 {
    while size > 10.0 {
        let style = TextStyle::from((family, size).into_font());
        match area.estimate_text_size(text, &style) {
            Ok((w, _)) if w > max_w => size -= 1.0,
            _ => break,
        }
    }
    size
}
