//! Keras-style progress on stderr:
//! `Epoch 1/5` then `1875/1875 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.9140 - loss: 0.2950`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar of one epoch. On a terminal it redraws in place; elsewhere only the final line prints.
pub struct EpochBar {
    bar: ProgressBar,
    start: Instant,
    steps: u64,
    done_before: u64,
    last_message: Instant,
}

impl EpochBar {
    /// Prints `Epoch i/n` and starts a bar over `steps` steps, `done` of them already taken.
    pub fn start(epoch: u32, epochs: u32, steps: u64, done: u64) -> Self {
        crate::say!("Epoch {epoch}/{epochs}");
        let bar =
            ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{pos}/{len} {bar:20.green/dim} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("━━━");
        bar.set_style(style);
        bar.set_position(done);
        EpochBar {
            bar,
            start: Instant::now(),
            steps,
            done_before: done,
            last_message: Instant::now(),
        }
    }

    /// After step `done` (1-based), with the running training metrics.
    pub fn update(&mut self, done: u64, accuracy: f64, loss: f64) {
        self.bar.set_position(done);
        // Formatting allocates and costs more than a step: a few times a second at most.
        if self.bar.is_hidden() {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last_message) >= Duration::from_millis(200)
            || done == self.done_before + 1
        {
            self.last_message = now;
            self.bar.set_message(self.stats(done, accuracy, loss));
        }
    }

    /// Removes the bar without a final line (interruption, error).
    pub fn abandon(self) {
        self.bar.finish_and_clear();
    }

    /// Clears the live bar and prints the epoch's final line.
    pub fn finish(self, accuracy: f64, loss: f64, validation: Option<(f64, f64)>) -> Duration {
        let elapsed = self.start.elapsed();
        self.bar.finish_and_clear();
        let mut line = format!(
            "{n}/{n} {bar} {stats}",
            n = self.steps,
            bar = "━".repeat(20),
            stats = self.stats(self.steps, accuracy, loss)
        );
        if let Some((val_loss, val_accuracy)) = validation {
            line.push_str(&format!(
                " - val_accuracy: {val_accuracy:.4} - val_loss: {val_loss:.4}"
            ));
        }
        crate::say!("{line}");
        elapsed
    }

    fn stats(&self, done: u64, accuracy: f64, loss: f64) -> String {
        let elapsed = self.start.elapsed();
        let per_step = elapsed / (done.saturating_sub(self.done_before)).max(1) as u32;
        format!(
            "{}s {}/step - accuracy: {accuracy:.4} - loss: {loss:.4}",
            elapsed.as_secs(),
            short(per_step)
        )
    }
}

/// `520us`, `3ms`, `2s`, as Keras prints a step time.
pub fn short(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{}ms", us / 1000)
    } else {
        format!("{}s", us / 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_times_read_like_keras() {
        assert_eq!(short(Duration::from_micros(520)), "520us");
        assert_eq!(short(Duration::from_micros(1500)), "1ms");
        assert_eq!(short(Duration::from_millis(2500)), "2s");
    }
}
