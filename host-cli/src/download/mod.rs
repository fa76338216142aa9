//! Downloading MNIST from the usual public mirrors, verified before it is kept.
//!
//! Each file is streamed into a temp file beside its final name (via [`crate::atomic`]) while a
//! copy of the stream is gunzipped and hashed; only when the SHA-256 of the uncompressed bytes
//! matches the table is the temp file renamed to `<name>.gz`. An HTTP error, a cut connection,
//! a corrupt gzip stream or a checksum mismatch deletes the temp file and moves on to the next
//! mirror, so a final name never holds anything unverified.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data;
use crate::gunzip::Gunzip;

mod streams;
use streams::{Both, CopyTo, HashWriter, Tee, sha256_hex};

/// The usual public MNIST mirrors (gzip files), tried in order: the CVDF mirror that
/// Keras/TensorFlow used for the raw files (tf-keras-datasets itself only has a single `.npz`),
/// the one torchvision uses, and the original site.
pub const MIRRORS: &[&str] = &[
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Environment variable overriding [`MIRRORS`]: one base URL, or several separated by commas
/// or whitespace.
pub const MIRROR_ENV: &str = "FLASHNET_MIRROR";

/// SHA-256 of the uncompressed standard files.
const CHECKSUMS: [(&str, &str); 4] = [
    (
        data::TRAIN_IMAGES,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        data::TRAIN_LABELS,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        data::TEST_IMAGES,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        data::TEST_LABELS,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Largest response body accepted (the largest file, the gzipped training images, is 9.9 MB).
const MAX_DOWNLOAD_BYTES: u64 = 20 << 20;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for any single read from the network, so a stalled transfer fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for one whole request, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Hex SHA-256 of the uncompressed content for a standard file name.
pub fn expected_sha256(name: &str) -> Option<&'static str> {
    CHECKSUMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, sha)| *sha)
}

/// Download every missing standard file into `dest` as `<name>.gz`, from the mirrors in
/// `FLASHNET_MIRROR` if set, else [`MIRRORS`].
pub fn download_all(dest: &Path) -> Result<()> {
    let env = std::env::var(MIRROR_ENV).ok();
    download_all_from(dest, &mirrors_from(env.as_deref()))
}

/// Download every missing standard file into `dest` as `<name>.gz`, trying `mirrors` (base
/// URLs) in order for each file. Files already present and valid are skipped.
pub fn download_all_from(dest: &Path, mirrors: &[String]) -> Result<()> {
    let files: Vec<(&str, &str)> = data::FILES
        .into_iter()
        .filter_map(|name| Some((name, expected_sha256(name)?)))
        .collect();
    download_files(dest, mirrors, &files, &agent(true), true)
}

/// The mirrors to use given the value of `FLASHNET_MIRROR`: its URLs if it names any, else
/// [`MIRRORS`].
fn mirrors_from(env: Option<&str>) -> Vec<String> {
    let listed: Vec<String> = env
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if listed.is_empty() {
        MIRRORS.iter().map(|m| m.to_string()).collect()
    } else {
        listed
    }
}

/// `base` + `file`, with exactly one slash between them.
fn join_url(base: &str, file: &str) -> String {
    format!("{}/{file}", base.trim_end_matches('/'))
}

/// Downloads each `(name, sha256)` of `files` that `dest` lacks, as `<name>.gz`.
/// `progress` shows a progress bar on stderr (tests turn it off).
fn download_files(
    dest: &Path,
    mirrors: &[String],
    files: &[(&str, &str)],
    agent: &ureq::Agent,
    progress: bool,
) -> Result<()> {
    if mirrors.is_empty() {
        bail!("no download mirrors given");
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| anyhow!("cannot create directory {}: {e}", dest.display()))?;
    // Mirrors in the order to try them; one that worked moves to the front for the next file.
    let mut order: Vec<&str> = mirrors.iter().map(String::as_str).collect();
    for &(name, sha) in files {
        if present_and_valid(dest, name, sha)? {
            crate::say!("{name}: already in {}, checksum ok", dest.display());
            continue;
        }
        let gz_name = format!("{name}.gz");
        let target = dest.join(&gz_name);
        let mut failures = Vec::new();
        let mut done = false;
        for i in 0..order.len() {
            let url = join_url(order[i], &gz_name);
            match fetch(agent, &url, &target, name, sha, progress) {
                Ok(size) => {
                    crate::say!(
                        "{gz_name}: downloaded {} from {url}, checksum ok",
                        HumanBytes(size)
                    );
                    let mirror = order.remove(i);
                    order.insert(0, mirror);
                    done = true;
                    break;
                }
                Err(e) => {
                    let e = format!("{e:#}");
                    crate::say!("warning: {e}");
                    failures.push(e);
                }
            }
        }
        if !done {
            bail!(
                "could not download {gz_name} from any of {} mirror(s):\n  {}",
                failures.len(),
                failures.join("\n  ")
            );
        }
    }
    Ok(())
}

/// The HTTP agent: bounded connect, read and total times; the proxy comes from the usual
/// environment variables (`HTTPS_PROXY`, `NO_PROXY`, …) if `env_proxy`.
fn agent(env_proxy: bool) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .user_agent(concat!("flashnet/", env!("CARGO_PKG_VERSION")));
    if !env_proxy {
        config = config.proxy(None);
    }
    ureq::Agent::new_with_config(config.build())
}

/// Whether `dest` already holds `name` (plain or `.gz`) with the right checksum. A damaged
/// `.gz` is reported and will be replaced; a plain file with other content is an error, since
/// it would shadow the download and it is not ours to delete.
fn present_and_valid(dest: &Path, name: &str, sha: &str) -> Result<bool> {
    let plain = dest.join(name);
    let gz = dest.join(format!("{name}.gz"));
    if !plain.exists() && !gz.exists() {
        return Ok(false);
    }
    let verdict = data::read(dest, name).map(|bytes| sha256_hex(&bytes));
    match verdict {
        Ok(got) if got == sha => Ok(true),
        _ if plain.exists() => {
            let why = match verdict {
                Ok(got) => format!("its SHA-256 is {got}, expected {sha}"),
                Err(e) => format!("{e:#}"),
            };
            bail!(
                "{} exists but is not the MNIST file ({why}); move it away and try again",
                plain.display()
            )
        }
        Ok(_) => {
            crate::say!("{}: checksum mismatch, downloading it again", gz.display());
            Ok(false)
        }
        Err(e) => {
            crate::say!("{e:#}; downloading it again");
            Ok(false)
        }
    }
}

/// Downloads `url` into a temp file beside `target`, verifies it and renames it to `target`.
/// Returns the number of bytes received. On any error nothing is left under `target`'s name.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    target: &Path,
    name: &str,
    sha: &str,
    progress: bool,
) -> Result<u64> {
    let mut failure = None;
    let mut received = 0;
    let written = crate::atomic::write_with(target, |file| {
        match fetch_into(agent, url, file, name, sha, progress) {
            Ok(n) => {
                received = n;
                Ok(())
            }
            Err(e) => {
                let io = io::Error::other(format!("{e:#}"));
                failure = Some(e);
                Err(io)
            }
        }
    });
    match written {
        Ok(()) => Ok(received),
        // Prefer the download's own error over atomic's "cannot write …" wrapper.
        Err(e) => Err(failure.unwrap_or(e)),
    }
}

/// Streams `url` into `file` (the temp file) and checks the SHA-256 of the uncompressed bytes.
/// Returns the number of bytes received.
fn fetch_into(
    agent: &ureq::Agent,
    url: &str,
    file: &mut File,
    name: &str,
    sha: &str,
    progress: bool,
) -> Result<u64> {
    let gz_name = format!("{name}.gz");
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| anyhow!("GET {url}: {e}"))?;
    let length = response.body().content_length();
    if let Some(n) = length
        && n > MAX_DOWNLOAD_BYTES
    {
        bail!("{url} is {n} bytes, more than the {MAX_DOWNLOAD_BYTES}-byte limit");
    }
    let bar = progress_bar(length, &gz_name, progress);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .reader();
    let mut body = bar.wrap_read(body);

    // A `.gz` starts with 1f 8b. Anything else means the body was already decoded (a server
    // sending `Content-Encoding: gzip`, which ureq undoes) or is not what we asked for: hash it
    // as-is and compress it ourselves. (The body limit then applies to the decoded size, so
    // the 47 MB training images can only come this way from a mirror that serves real `.gz`.)
    let mut head = Vec::with_capacity(2);
    (&mut body)
        .take(2)
        .read_to_end(&mut head)
        .map_err(|e| anyhow!("download of {url} failed: {e}"))?;
    let is_gzip = head == [0x1f, 0x8b];
    let mut tee = Tee {
        inner: io::Cursor::new(head).chain(body),
        received: 0,
        read_failed: false,
    };
    let mut hash = HashWriter::new(data::max_size(name));

    let copied = if is_gzip {
        let mut to_file = CopyTo {
            reader: &mut tee,
            file: &mut *file,
            write_failed: false,
        };
        let result = io::copy(&mut Gunzip::new(BufReader::new(&mut to_file)), &mut hash);
        let write_failed = to_file.write_failed;
        result.map(drop).map_err(|e| (e, write_failed))
    } else {
        let mut gz = GzEncoder::new(&mut *file, Compression::default());
        let mut both = Both {
            hash: &mut hash,
            gz: &mut gz,
        };
        let result = io::copy(&mut tee, &mut both).and_then(|_| gz.try_finish());
        result.map_err(|e| (e, true))
    };
    bar.finish_and_clear();
    let received = tee.received;
    if let Err((e, write_failed)) = copied {
        if tee.read_failed {
            bail!("download of {url} failed after {received} bytes: {e}");
        }
        if hash.overflowed {
            bail!(
                "{gz_name} from {url} decompresses to more than {} bytes",
                hash.cap
            );
        }
        if write_failed {
            bail!("cannot write the download of {url}: {e}");
        }
        bail!("corrupt gzip stream in {gz_name} from {url}: {e}");
    }
    if received == 0 {
        bail!("empty response from {url}");
    }
    let got = hash.hex();
    if got != sha {
        bail!(
            "checksum mismatch for {gz_name} from {url}: expected {sha}, got {got}; file deleted"
        );
    }
    if !is_gzip {
        crate::say!("note: {url} arrived already decompressed; compressed it locally");
    }
    Ok(received)
}

/// A progress bar for one file on stderr (indicatif hides it when stderr is not a terminal).
fn progress_bar(length: Option<u64>, label: &str, show: bool) -> ProgressBar {
    let target = if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(length, target);
    let template = if length.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

#[cfg(test)]
mod tests;
