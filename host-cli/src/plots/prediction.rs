//! One prediction: the input image beside bar charts of its logits and probabilities.

use super::*;

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

pub(super) fn draw_prediction(
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
