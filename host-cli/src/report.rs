//! Text reports on the terminal: the Keras summary table, the confusion matrix, a digit.

use flashnet::{Confusion, Layer, Params, tutorial};

use crate::model_file::named_layers;

/// `101770` → `101,770`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `406 080` bytes → `396.56 KB` (Keras' binary units).
pub fn bytes(n: usize) -> String {
    match n {
        n if n < 1024 => format!("{n}.00 B"),
        n if n < 1024 * 1024 => format!("{:.2} KB", n as f64 / 1024.0),
        n => format!("{:.2} MB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// The Keras 3 `model.summary()` table.
pub fn summary(model: &tutorial::Model) -> String {
    let rows: Vec<[String; 3]> = named_layers(model)
        .into_iter()
        .map(|(name, l)| {
            let shape = l
                .output_shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            [
                format!("{name} ({})", l.kind),
                format!("(None, {shape})"),
                thousands(l.params),
            ]
        })
        .collect();
    let w = [33, 24, 15];
    let line = |l: &str, m: &str, r: &str, f: &str| {
        format!(
            "{l}{}{m}{}{m}{}{r}\n",
            f.repeat(w[0]),
            f.repeat(w[1]),
            f.repeat(w[2])
        )
    };
    let cells = |c: &[String; 3], bar: &str| {
        format!(
            "{bar} {:<a$} {bar} {:<b$} {bar} {:>c$} {bar}\n",
            c[0],
            c[1],
            c[2],
            a = w[0] - 2,
            b = w[1] - 2,
            c = w[2] - 2
        )
    };
    let mut s = String::from("Model: \"sequential\"\n");
    s += &line("┏", "┳", "┓", "━");
    s += &cells(
        &[
            "Layer (type)".into(),
            "Output Shape".into(),
            "Param #".into(),
        ],
        "┃",
    );
    s += &line("┡", "╇", "┩", "━");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            s += &line("├", "┼", "┤", "─");
        }
        s += &cells(r, "│");
    }
    s += &line("└", "┴", "┘", "─");
    let total = <tutorial::Layers as Layer>::Params::COUNT;
    s += &format!(
        " Total params: {} ({})\n",
        thousands(total),
        bytes(total * 4)
    );
    s += &format!(
        " Trainable params: {} ({})\n",
        thousands(total),
        bytes(total * 4)
    );
    s += " Non-trainable params: 0 (0.00 B)\n";
    s
}

/// The confusion matrix with row totals and per-class recall.
pub fn confusion(c: &Confusion<10>) -> String {
    let mut s = String::from("Confusion matrix (rows: true label, columns: predicted)\n");
    s += "      ";
    for p in 0..10 {
        s += &format!("{p:>6}");
    }
    s += "   total  recall\n";
    for (t, row) in c.counts.iter().enumerate() {
        s += &format!("{t:>4}  ");
        for v in row {
            s += &format!("{v:>6}");
        }
        let total: u32 = row.iter().sum();
        let recall = if total == 0 {
            f64::NAN
        } else {
            f64::from(row[t]) / f64::from(total)
        };
        s += &format!("  {total:>6}  {:>6.2}%\n", 100.0 * recall);
    }
    s
}

/// A 28×28 image as text, two characters a pixel, darkest to brightest ` .:-=+*#%@`.
pub fn digit(pixels: &[u8; 784]) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    let mut s = String::with_capacity(29 * 57);
    for row in pixels.chunks_exact(28) {
        for &p in row {
            let c = RAMP[usize::from(p) * (RAMP.len() - 1) / 255] as char;
            s.push(c);
            s.push(c);
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_keras() {
        let s = summary(&tutorial::model(0.2));
        assert!(s.contains("Total params: 101,770 (397.54 KB)"), "{s}");
        assert!(s.contains("dense (Dense)"), "{s}");
        assert!(s.contains("dense_1 (Dense)"), "{s}");
        assert!(s.contains("(None, 784)"), "{s}");
        assert!(s.contains("100,480"), "{s}");
        assert!(s.contains("1,290"), "{s}");
    }

    #[test]
    fn numbers_format_like_keras() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(101_770), "101,770");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(407_080), "397.54 KB");
    }

    #[test]
    fn digit_is_28_rows_of_56() {
        let mut px = [0u8; 784];
        px[0] = 255;
        let d = digit(&px);
        assert_eq!(d.lines().count(), 28);
        assert!(d.lines().all(|l| l.len() == 56));
        assert!(d.starts_with("@@ "));
    }
}
