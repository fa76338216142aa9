//! Ctrl-C: the first SIGINT asks training to stop after the current step (and checkpoint);
//! [`Interrupted`] carries the message to the exit status 130.

use std::fmt;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static FLAG: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// The flag Ctrl-C sets, with the handler installed on first use. If no handler can be
/// installed (e.g. another one exists), Ctrl-C keeps its default effect.
pub fn flag() -> &'static AtomicBool {
    INSTALL.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| {
            if FLAG.swap(true, Ordering::Relaxed) {
                crate::say!("\nStill stopping: finishing the step and writing the checkpoint.");
            } else {
                crate::say!("\nInterrupted: stopping after this step.");
            }
        }) {
            crate::say!(
                "warning: cannot catch Ctrl-C ({e}); it will stop training without a checkpoint"
            );
        }
    });
    &FLAG
}

/// Training stopped on request; the message says where the checkpoint is and how to resume.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Exit status of an interrupted command (128 + SIGINT), as shells report it.
pub const EXIT_CODE: u8 = 130;
