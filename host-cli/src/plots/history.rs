//! Accuracy and loss curves per epoch, training against validation.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Metric {
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

pub(super) fn history(path: &Path, metric: Metric, train: &[f64], val: &[f64]) -> Result<()> {
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
