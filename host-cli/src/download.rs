//! Downloading MNIST from the usual public mirrors, verified before it is kept.
//!
//! Each file is streamed into a temp file beside its final name (via [`crate::atomic`]) while a
//! copy of the stream is gunzipped and hashed; only when the SHA-256 of the uncompressed bytes
//! matches the table is the temp file renamed to `<name>.gz`. An HTTP error, a cut connection,
//! a corrupt gzip stream or a checksum mismatch deletes the temp file and moves on to the next
//! mirror, so a final name never holds anything unverified.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::data;
use crate::gunzip::Gunzip;

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
            eprintln!("{name}: already in {}, checksum ok", dest.display());
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
                    eprintln!(
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
                    eprintln!("warning: {e}");
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
            eprintln!("{}: checksum mismatch, downloading it again", gz.display());
            Ok(false)
        }
        Err(e) => {
            eprintln!("{e:#}; downloading it again");
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
        eprintln!("note: {url} arrived already decompressed; compressed it locally");
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

/// Counts the bytes read through it and remembers whether the underlying read failed.
struct Tee<R> {
    inner: R,
    received: u64,
    read_failed: bool,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.read_failed = e.kind() != io::ErrorKind::Interrupted;
                Err(e)
            }
        }
    }
}

/// A reader that writes everything read through it into `file`.
struct CopyTo<'a, R> {
    reader: R,
    file: &'a mut File,
    write_failed: bool,
}

impl<R: Read> Read for CopyTo<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if let Err(e) = self.file.write_all(&buf[..n]) {
            self.write_failed = true;
            return Err(e);
        }
        Ok(n)
    }
}

/// Writes to a hash and a gzip encoder at once.
struct Both<'a, W: Write> {
    hash: &'a mut HashWriter,
    gz: &'a mut GzEncoder<W>,
}

impl<W: Write> Write for Both<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.write_all(buf)?;
        self.gz.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.gz.flush()
    }
}

/// SHA-256 as a writer, refusing more than `cap` bytes (a decompression-bomb guard).
struct HashWriter {
    hasher: Sha256,
    len: u64,
    cap: u64,
    overflowed: bool,
}

impl HashWriter {
    fn new(cap: u64) -> Self {
        HashWriter {
            hasher: Sha256::new(),
            len: 0,
            cap,
            overflowed: false,
        }
    }

    fn hex(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len += buf.len() as u64;
        if self.len > self.cap {
            self.overflowed = true;
            return Err(io::Error::other(format!("more than {} bytes", self.cap)));
        }
        self.hasher.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    use super::*;
    use crate::gunzip::gzip;

    /// One canned HTTP response.
    struct Reply {
        status: u16,
        body: Vec<u8>,
        /// Sent as `Content-Length` instead of the body's length (to fake a cut connection).
        claimed_length: Option<u64>,
        headers: Vec<(&'static str, &'static str)>,
    }

    fn ok(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            body,
            claimed_length: None,
            headers: Vec::new(),
        }
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 serving fixed replies by path (404 otherwise).
    /// It answers at most `max_requests` requests and stops when dropped.
    struct Server {
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
        hits: Arc<Mutex<Vec<String>>>,
        thread: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start(routes: Vec<(&str, Reply)>, max_requests: usize) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let routes: HashMap<String, Reply> =
                routes.into_iter().map(|(p, r)| (p.to_owned(), r)).collect();
            let stop = Arc::new(AtomicBool::new(false));
            let hits = Arc::new(Mutex::new(Vec::new()));
            let thread = std::thread::spawn({
                let (stop, hits) = (stop.clone(), hits.clone());
                move || {
                    for _ in 0..max_requests {
                        let Ok((mut stream, _)) = listener.accept() else {
                            break;
                        };
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let _ = serve(&mut stream, &routes, &hits);
                    }
                }
            });
            Server {
                addr,
                stop,
                hits,
                thread: Some(thread),
            }
        }

        /// Base URL of a mirror on this server.
        fn mirror(&self, prefix: &str) -> String {
            format!("http://{}/{prefix}/", self.addr)
        }

        /// Paths requested so far.
        fn hits(&self) -> Vec<String> {
            self.hits.lock().unwrap().clone()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wake a pending accept(); fails harmlessly if the thread already ended.
            let _ = TcpStream::connect(self.addr);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn serve(
        stream: &mut TcpStream,
        routes: &HashMap<String, Reply>,
        hits: &Mutex<Vec<String>>,
    ) -> io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 << 10 {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let request = String::from_utf8_lossy(&request);
        let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
        hits.lock().unwrap().push(path.clone());
        let not_found = Reply {
            status: 404,
            ..ok(b"not found".to_vec())
        };
        let reply = routes.get(&path).unwrap_or(&not_found);
        let length = reply.claimed_length.unwrap_or(reply.body.len() as u64);
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {length}\r\nConnection: close\r\n",
            reply.status
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&reply.body)?;
        stream.flush()
    }

    /// Synthetic content for a file name, long enough to be worth compressing.
    fn content(name: &str) -> Vec<u8> {
        format!("synthetic {name} ").repeat(100).into_bytes()
    }

    /// Runs the downloader on `files` (names checked against their synthetic content).
    fn download(dest: &Path, mirrors: &[String], files: &[&str]) -> Result<()> {
        let sums: Vec<(String, String)> = files
            .iter()
            .map(|n| (n.to_string(), sha256_hex(&content(n))))
            .collect();
        let table: Vec<(&str, &str)> = sums.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
        download_files(dest, mirrors, &table, &agent(false), false)
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut names: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
    }

    /// A base URL where nothing listens.
    fn dead_mirror() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/dead/")
    }

    #[test]
    fn good_file_lands_and_verifies() {
        let server = Server::start(vec![("/m/a.gz", ok(gzip(&content("a"))))], 1);
        let dest = tempfile::tempdir().unwrap();
        download(dest.path(), &[server.mirror("m")], &["a"]).unwrap();
        assert_eq!(entries(dest.path()), [dest.path().join("a.gz")]);
        assert_eq!(data::read(dest.path(), "a").unwrap(), content("a"));
        // Present and valid: skipped (the server would refuse a second request anyway).
        download(dest.path(), &[server.mirror("m")], &["a"]).unwrap();
        assert_eq!(server.hits(), ["/m/a.gz"]);
    }

    #[test]
    fn zero_padded_gzip_lands_and_reads_back() {
        let padded = [gzip(&content("a")), vec![0; 4096]].concat();
        let server = Server::start(vec![("/m/a.gz", ok(padded.clone()))], 1);
        let dest = tempfile::tempdir().unwrap();
        download(dest.path(), &[server.mirror("m")], &["a"]).unwrap();
        assert_eq!(fs::read(dest.path().join("a.gz")).unwrap(), padded);
        assert_eq!(data::read(dest.path(), "a").unwrap(), content("a"));
    }

    #[test]
    fn truncated_gzip_is_rejected_and_leaves_nothing() {
        let gz = gzip(&content("a"));
        let server = Server::start(vec![("/m/a.gz", ok(gz[..gz.len() - 12].to_vec()))], 1);
        let dest = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["a"]).unwrap_err()
        );
        assert!(
            msg.contains(&format!(
                "corrupt gzip stream in a.gz from {}a.gz",
                server.mirror("m")
            )),
            "{msg}"
        );
        assert!(entries(dest.path()).is_empty());
    }

    #[test]
    fn cut_connection_is_rejected_and_leaves_nothing() {
        let gz = gzip(&content("a"));
        let reply = Reply {
            claimed_length: Some(gz.len() as u64 + 100),
            ..ok(gz)
        };
        let server = Server::start(vec![("/m/a.gz", reply)], 1);
        let dest = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["a"]).unwrap_err()
        );
        assert!(msg.contains("download of http://"), "{msg}");
        assert!(entries(dest.path()).is_empty());
    }

    #[test]
    fn checksum_mismatch_is_rejected_and_deleted() {
        let server = Server::start(vec![("/m/a.gz", ok(gzip(b"something else")))], 1);
        let dest = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["a"]).unwrap_err()
        );
        let want = format!(
            "checksum mismatch for a.gz from {}a.gz: expected {}, got {}; file deleted",
            server.mirror("m"),
            sha256_hex(&content("a")),
            sha256_hex(b"something else"),
        );
        assert!(msg.contains(&want), "{msg}");
        assert!(entries(dest.path()).is_empty());
    }

    #[test]
    fn oversized_responses_are_refused() {
        let huge = Reply {
            claimed_length: Some(MAX_DOWNLOAD_BYTES + 1),
            ..ok(vec![0; 10])
        };
        // A label file may not decompress to more than 1 MiB.
        let bomb = ok(gzip(&vec![0; (1 << 20) + 1]));
        let server = Server::start(vec![("/m/a.gz", huge), ("/m/x-labels.gz", bomb)], 2);
        let dest = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["a"]).unwrap_err()
        );
        assert!(msg.contains("more than the 20971520-byte limit"), "{msg}");
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["x-labels"]).unwrap_err()
        );
        assert!(
            msg.contains("x-labels.gz from") && msg.contains("decompresses to more than"),
            "{msg}"
        );
        assert!(entries(dest.path()).is_empty());
    }

    #[test]
    fn falls_back_to_the_next_mirror_and_sticks_to_it() {
        let server = Server::start(
            vec![
                ("/good/a.gz", ok(gzip(&content("a")))),
                ("/good/b.gz", ok(gzip(&content("b")))),
            ],
            3,
        );
        let dest = tempfile::tempdir().unwrap();
        let mirrors = [server.mirror("bad"), server.mirror("good")];
        download(dest.path(), &mirrors, &["a", "b"]).unwrap();
        assert_eq!(data::read(dest.path(), "a").unwrap(), content("a"));
        assert_eq!(data::read(dest.path(), "b").unwrap(), content("b"));
        assert_eq!(server.hits(), ["/bad/a.gz", "/good/a.gz", "/good/b.gz"]);
    }

    #[test]
    fn all_mirrors_failing_lists_each() {
        let server = Server::start(vec![("/wrong/a.gz", ok(gzip(b"nope")))], 2);
        let dest = tempfile::tempdir().unwrap();
        let dead = dead_mirror();
        let mirrors = [
            server.mirror("missing"),
            server.mirror("wrong"),
            dead.clone(),
        ];
        let msg = format!("{:#}", download(dest.path(), &mirrors, &["a"]).unwrap_err());
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.len(), 4, "{msg}");
        assert!(
            lines[0].contains("could not download a.gz from any of 3 mirror(s)"),
            "{msg}"
        );
        assert!(
            lines[1].contains(&format!("GET {}a.gz", mirrors[0])) && lines[1].contains("404"),
            "{msg}"
        );
        assert!(lines[2].contains("checksum mismatch for a.gz"), "{msg}");
        assert!(lines[3].contains(&format!("GET {dead}a.gz")), "{msg}");
        assert!(entries(dest.path()).is_empty());
    }

    #[test]
    fn body_decoded_in_transit_is_recompressed() {
        let reply = Reply {
            headers: vec![("Content-Encoding", "gzip")],
            ..ok(gzip(&content("a")))
        };
        let server = Server::start(vec![("/m/a.gz", reply)], 1);
        let dest = tempfile::tempdir().unwrap();
        download(dest.path(), &[server.mirror("m")], &["a"]).unwrap();
        assert_eq!(entries(dest.path()), [dest.path().join("a.gz")]);
        assert_eq!(data::read(dest.path(), "a").unwrap(), content("a"));
    }

    #[test]
    fn damaged_gz_is_downloaded_again() {
        let server = Server::start(vec![("/m/a.gz", ok(gzip(&content("a"))))], 1);
        let dest = tempfile::tempdir().unwrap();
        fs::write(dest.path().join("a.gz"), b"half a file").unwrap();
        download(dest.path(), &[server.mirror("m")], &["a"]).unwrap();
        assert_eq!(data::read(dest.path(), "a").unwrap(), content("a"));
    }

    #[test]
    fn foreign_plain_file_is_not_overwritten() {
        let server = Server::start(Vec::new(), 1);
        let dest = tempfile::tempdir().unwrap();
        fs::write(dest.path().join("a"), b"fashion").unwrap();
        let msg = format!(
            "{:#}",
            download(dest.path(), &[server.mirror("m")], &["a"]).unwrap_err()
        );
        assert!(msg.contains("exists but is not the MNIST file"), "{msg}");
        assert_eq!(fs::read(dest.path().join("a")).unwrap(), b"fashion");
        assert!(server.hits().is_empty());
    }

    #[test]
    fn mirror_list_from_env() {
        let defaults: Vec<String> = MIRRORS.iter().map(|m| m.to_string()).collect();
        assert_eq!(mirrors_from(None), defaults);
        assert_eq!(mirrors_from(Some(" ,\n")), defaults);
        assert_eq!(
            mirrors_from(Some("http://a/x, http://b/ \nhttp://c")),
            ["http://a/x", "http://b/", "http://c"]
        );
        assert_eq!(join_url("http://a/x", "f.gz"), "http://a/x/f.gz");
        assert_eq!(join_url("http://a/x//", "f.gz"), "http://a/x/f.gz");
    }

    #[test]
    fn checksum_table_covers_the_standard_files() {
        for name in data::FILES {
            let sha = expected_sha256(name).unwrap();
            assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(expected_sha256("t10k-labels-idx1-ubyte.gz"), None);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
