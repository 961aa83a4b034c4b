//! What the end-to-end tests of the examples share: child processes that are killed when
//! dropped, the example binaries cargo builds beside the tests, system tools, free ports, a
//! minimal HTTP client and patient polling.

#![allow(dead_code, reason = "each test binary uses a part of this module")]

pub(crate) mod prometheus;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one wait may take before a test fails (a loaded 2-core machine is slow).
pub(crate) const PATIENCE: Duration = Duration::from_secs(180);

/// A child process that is killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A system tool from a Debian package, or a failure that says how to install it.
pub(crate) fn system_tool(name: &str, package: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: these tests need Debian's `{package}` package \
                 (apt-get install --no-install-recommends {package}; .ci/run does it)"
            )
        })
}

/// `promtool check metrics` (Debian's `prometheus` package) on the exposition `text`: its exit
/// code (0 clean, 3 lint problems found, 1 a parse error) and everything it printed.
pub(crate) fn promtool_check_metrics(text: &str) -> (Option<i32>, String) {
    let mut check = Command::new(system_tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = check.wait_with_output().expect("promtool's output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), report)
}

/// The example `name`, built by `cargo test` next to this test binary.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run these tests with `cargo test -p heapster-examples` (cargo test \
         builds the examples; `--features otel` for the otlp example)",
        path.display()
    );
    path
}

/// Starts the example `name` with `args`, waits for the metrics URL it prints first, and keeps
/// reading its output so it never blocks on a full pipe.
pub(crate) fn start_example(name: &str, args: &[&str]) -> (Running, SocketAddr) {
    let mut child = Command::new(example_binary(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {name} example: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("the {name} example printed no URL"));
    let addr = line
        .trim()
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("expected http://127.0.0.1:PORT/metrics, got {line:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    (running, addr)
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A minimal HTTP/1.0 GET: `(status, body)`, or `None` when the server does not answer.
pub(crate) fn http_get(
    addr: SocketAddr,
    path_and_query: &str,
    accept: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `s` percent-encoded for a URL query.
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `f` every `every` until it answers, failing after [`PATIENCE`].
pub(crate) fn wait_for<T>(what: &str, every: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}
