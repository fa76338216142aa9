//! Writing to the terminal without panicking.
//!
//! `println!` and `eprintln!` panic when the write fails: a closed pipe
//! (`flashnet train | head -3`), a full disk (`2>/dev/full`). A panic in the middle of `train`
//! would end the run before the model is written. So:
//! - diagnostics and progress go to stderr through [`say!`](crate::say), which drops a failed
//!   write (there is nowhere left to report it);
//! - results go to stdout through [`out!`](crate::out), which returns the failure as an error
//!   naming stdout, so the command exits non-zero with a clear message instead.

use std::fmt;
use std::io::{self, Write};

use anyhow::Context;

/// Writes a line to stderr; a failed write is dropped.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::console::stderr(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

/// Writes text to stderr without a newline; a failed write is dropped.
#[macro_export]
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::console::stderr(::core::format_args!($($arg)*))
    };
}

/// Writes a line to stdout; evaluates to `anyhow::Result<()>`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::stdout(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

/// Writes text to stdout without a newline; evaluates to `anyhow::Result<()>`.
#[macro_export]
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::console::stdout(::core::format_args!($($arg)*))
    };
}

/// Writes `args` to stderr, ignoring failure (the backend of [`say!`](crate::say)).
pub fn stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// Writes `args` to stdout and flushes (the backend of [`out!`](crate::out)).
pub fn stdout(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    write_to(&mut io::stdout().lock(), args)
}

fn write_to(w: &mut impl Write, args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    w.write_fmt(args)
        .and_then(|()| w.flush())
        .context("writing the result to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails like a closed pipe.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_stdout_write_is_an_error_naming_stdout() {
        let e = write_to(&mut Closed, format_args!("x\n")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.starts_with("writing the result to stdout: "), "{msg}");
        assert!(msg.contains("roken pipe"), "{msg}");
    }

    #[test]
    fn a_good_write_arrives_whole() {
        let mut buf = Vec::new();
        write_to(&mut buf, format_args!("{} {}\n", 1, "two")).unwrap();
        assert_eq!(buf, b"1 two\n");
    }
}
