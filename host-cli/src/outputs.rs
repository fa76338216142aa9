//! Output paths, checked before a command does any work: each names a file (not a directory)
//! in a directory that exists or can be created, no two name the same file, and none names one
//! of the command's inputs. A run that would fail to save, or save over its own model, fails
//! at once instead of after training.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::atomic::dir_of;

/// Checks `outputs` and `inputs`, each an `(option, path)` pair, as the module describes.
pub fn check(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<()> {
    let mut seen: Vec<(&str, &Path, PathBuf)> = Vec::new();
    for &(opt, path) in outputs {
        if path.is_dir() {
            bail!("{opt} {} is a directory, not a file", path.display());
        }
        if path.file_name().is_none() {
            bail!("{opt} {} is not a file path", path.display());
        }
        check_dir(opt, path)?;
        let id = identity(path)?;
        if let Some((other, other_path, _)) = seen.iter().find(|(_, _, i)| *i == id) {
            bail!(
                "{opt} {} and {other} {} are the same file: give each output its own path",
                path.display(),
                other_path.display()
            );
        }
        if let Some((other, other_path, _)) = seen
            .iter()
            .find(|(_, _, i)| i.starts_with(&id) || id.starts_with(i))
        {
            bail!(
                "{opt} {} and {other} {}: one would have to be a directory holding the other",
                path.display(),
                other_path.display()
            );
        }
        for &(input, input_path) in inputs {
            if input_path.exists() && identity(input_path)? == id {
                bail!(
                    "{opt} {} would overwrite the {input} file {}: give the output another path",
                    path.display(),
                    input_path.display()
                );
            }
        }
        seen.push((opt, path, id));
    }
    Ok(())
}

/// Once the data is located (after [`check`], so that a bad output path fails before a
/// download): no output may go where MNIST is read from in `data_dir`, over one of the files
/// or, under the plain name, in front of its `.gz` ([`data::files`](crate::data::files)).
pub fn check_data(outputs: &[(&str, &Path)], data_dir: &Path) -> Result<()> {
    let files = crate::data::files(data_dir);
    for &(opt, path) in outputs {
        let id = identity(path)?;
        for file in &files {
            if identity(file)? == id {
                bail!(
                    "{opt} {} is where MNIST is read from ({}): give the output another path",
                    path.display(),
                    file.display()
                );
            }
        }
    }
    Ok(())
}

/// The directory `path` goes in: its nearest existing ancestor (the directory itself if it
/// exists) must be a directory that lets us create files (checked by creating one, at once
/// removed).
fn check_dir(opt: &str, path: &Path) -> Result<()> {
    let mut ancestor = dir_of(path);
    loop {
        match ancestor.try_exists() {
            Ok(true) => break,
            // A file where a directory should be is reported below, as not a directory.
            Err(e) if e.kind() == ErrorKind::NotADirectory => {
                ancestor = ancestor.parent().unwrap_or(Path::new("."));
            }
            Ok(false) if ancestor != Path::new(".") => {
                ancestor = match ancestor.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
            }
            Ok(false) => bail!("{opt} {}: the current directory is gone", path.display()),
            Err(e) => bail!(
                "{opt} {}: cannot access {}: {e}",
                path.display(),
                ancestor.display()
            ),
        }
    }
    if !ancestor.is_dir() {
        bail!(
            "{opt} {}: {} is not a directory",
            path.display(),
            ancestor.display()
        );
    }
    // A name no other check (in this process or another) uses at the same time.
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let probe = ancestor.join(format!(
        ".flashnet-probe.{}.{}.{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    fs::File::create_new(&probe).with_context(|| {
        format!(
            "{opt} {}: cannot create files in {}",
            path.display(),
            ancestor.display()
        )
    })?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// What `path` names once symlinks and `..` are resolved: the file itself if it exists, else
/// its resolved directory (if that exists) joined with its name, else its absolute form.
fn identity(path: &Path) -> Result<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    if let (Ok(dir), Some(name)) = (fs::canonicalize(dir_of(path)), path.file_name()) {
        return Ok(dir.join(name));
    }
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> String {
        format!("{:#}", check(outputs, inputs).unwrap_err())
    }

    #[test]
    fn distinct_writable_outputs_pass() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.st"), d.path().join("new/sub/b.json"));
        check(&[("--out", &a), ("--history", &b)], &[]).unwrap();
        // Nothing is left behind by the check.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_same_file_twice_is_refused_however_it_is_spelled() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("x")).unwrap();
        let a = d.path().join("x/a.st");
        let b = d.path().join("x/../x/./a.st");
        let e = err(&[("--out", &a), ("--history", &b)], &[]);
        assert!(e.contains("--history") && e.contains("same file"), "{e}");

        fs::write(&a, b"model").unwrap();
        #[cfg(unix)]
        {
            let link = d.path().join("link.st");
            std::os::unix::fs::symlink(&a, &link).unwrap();
            let e = err(&[("--out", &link)], &[("--model", &a)]);
            assert!(e.contains("would overwrite the --model file"), "{e}");
        }
        let (m, c) = (d.path().join("m.st"), d.path().join("m.st/checkpoint.st"));
        let e = err(&[("--out", &m), ("--checkpoint", &c)], &[]);
        assert!(
            e.contains("one would have to be a directory holding the other"),
            "{e}"
        );
        let e = err(&[("--plot", &b)], &[("--model", &a)]);
        assert!(e.contains("--plot") && e.contains("--model"), "{e}");
    }

    #[test]
    fn directories_and_files_in_the_way_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = err(&[("--out", d.path())], &[]);
        assert!(e.contains("is a directory"), "{e}");
        let file = d.path().join("f");
        fs::write(&file, b"").unwrap();
        let e = err(&[("--plots", &file.join("sub/loss.png"))], &[]);
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_directory_that_takes_no_files_is_refused() {
        // Not even root may create files in /proc.
        let e = err(&[("--out", Path::new("/proc/flashnet-test/m.st"))], &[]);
        assert!(e.contains("cannot create files in /proc"), "{e}");
    }
}
