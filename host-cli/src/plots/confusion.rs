//! The confusion matrix as an annotated heatmap.

use super::*;

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

pub(super) fn draw_confusion(root: &Area<'_>, matrix: &[[u32; 10]; 10], title: &str) -> Result<()> {
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
