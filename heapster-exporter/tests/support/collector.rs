//! A fake OTLP/HTTP collector on 127.0.0.1 that answers from a script: an HTTP status with
//! headers and body, raw bytes (an HTTP/2 frame, garbage), a body that trickles in, or
//! silence. Every request is kept with its arrival time, headers and decoded body.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

/// One answer of the script.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `HTTP/1.1 {status}` with these headers and body.
    Status(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// `{status}` with `Retry-After` an HTTP date this many seconds after the answer.
    RetryAfterDate(u16, u64),
    /// These bytes, then the connection is closed.
    Raw(Vec<u8>),
    /// These bytes as soon as the connection is accepted, before the request is read (as an
    /// HTTP/2 or gRPC server sends its SETTINGS frame); then the request is read and the
    /// connection closed.
    SpeaksFirst(Vec<u8>),
    /// `200` with a 1000-byte body of which one byte comes every 100 ms.
    SlowBody,
    /// Read the request, answer nothing for this long, then close.
    Silence(Duration),
}

impl Reply {
    pub fn status(code: u16) -> Self {
        Self::Status(code, Vec::new(), Vec::new())
    }

    pub fn with_body(code: u16, body: &str) -> Self {
        Self::Status(code, Vec::new(), body.as_bytes().to_vec())
    }

    pub fn retry_after(code: u16, value: &str) -> Self {
        Self::Status(code, vec![("retry-after", value.to_owned())], Vec::new())
    }
}

/// A request the collector received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed if it was).
    pub raw: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, gunzipped if it says so, decoded.
    pub fn request(&self) -> ExportMetricsServiceRequest {
        let body = if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(self.raw.as_slice())
                .read_to_end(&mut out)
                .expect("a gzip body");
            out
        } else {
            self.raw.clone()
        };
        ExportMetricsServiceRequest::decode(body.as_slice()).expect("an OTLP request")
    }
}

/// The collector: answers `script` in order, then `200` with an empty body.
pub struct Collector {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    pub fn start(script: Vec<Reply>) -> Self {
        Self::start_at("127.0.0.1:0".parse().unwrap(), script)
    }

    /// A collector on `addr`, e.g. the port of one that was stopped.
    pub fn start_at(addr: SocketAddr, script: Vec<Reply>) -> Self {
        Self::run(addr, script, true)
    }

    /// A collector that only counts the requests: it keeps nothing in the heap, for tests
    /// that measure it.
    pub fn counting(script: Vec<Reply>) -> Self {
        Self::run("127.0.0.1:0".parse().unwrap(), script, false)
    }

    fn run(addr: SocketAddr, script: Vec<Reply>, keep: bool) -> Self {
        let listener = TcpListener::bind(addr).expect("bind the fake collector");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, count, stop) = (Arc::clone(&seen), Arc::clone(&count), Arc::clone(&stop));
            let mut script = VecDeque::from(script);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    let reply = script.pop_front().unwrap_or(Reply::status(200));
                    count.fetch_add(1, Ordering::Relaxed);
                    serve(stream, reply, keep.then_some(&*seen));
                }
            })
        };
        Self {
            addr,
            seen,
            count,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://{}/v1/metrics", self.addr)
    }

    /// Connections accepted.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The URL of a port on 127.0.0.1 where nothing listens (it was free a moment ago).
pub fn nobody_listening() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    format!("http://{}", listener.local_addr().unwrap())
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, reply: Reply, seen: Option<&Mutex<Vec<Seen>>>) {
    stream.set_nonblocking(false).unwrap();
    if let Reply::SpeaksFirst(bytes) = &reply {
        let _ = stream.write_all(bytes);
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) <= 2 {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut raw = vec![0; length];
    if reader.read_exact(&mut raw).is_err() {
        return;
    }
    if let Some(seen) = seen {
        seen.lock().unwrap().push(Seen {
            at: Instant::now(),
            path,
            headers,
            raw,
        });
    }
    let _ = reply_with(reader.get_mut(), reply);
}

fn reply_with(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Status(code, headers, body) => {
            let mut head = format!("HTTP/1.1 {code} X\r\ncontent-length: {}\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(&body))
        }
        Reply::RetryAfterDate(code, seconds) => {
            let date = SystemTime::now() + Duration::from_secs(seconds);
            let value = httpdate::fmt_http_date(date);
            let reply = Reply::Status(code, vec![("retry-after", value)], Vec::new());
            reply_with(stream, reply)
        }
        Reply::Raw(bytes) => stream.write_all(&bytes),
        Reply::SpeaksFirst(_) => Ok(()),
        Reply::SlowBody => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
            let mut result = stream.write_all(head);
            for _ in 0..1000 {
                if result.is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                result = stream.write_all(b"x");
            }
            result
        }
        Reply::Silence(how_long) => {
            std::thread::sleep(how_long);
            Ok(())
        }
    }
}
