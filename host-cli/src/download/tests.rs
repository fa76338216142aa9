use std::collections::HashMap;
use std::fs;
use std::io::Write;
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
