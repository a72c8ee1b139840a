//! The HTTP/1.1 server skeleton the stand-ins for Intel's PCS and AMD's KDS share: a
//! loopback listener, one thread per connection, the request path recorded, one answer,
//! `Connection: close`. What to answer is the stand-in's. The stand-in for Azure's
//! quoting service (IMDS) also reads the request's body.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// One answer: status line, extra headers, body, and the Content-Length to claim
/// (`None`: the body's length). `None` as a whole: say nothing (a silent server).
pub type Answer = Option<(&'static str, Vec<(&'static str, String)>, Vec<u8>, Option<usize>)>;

/// A running server.
#[derive(Debug)]
pub struct Loopback {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests accepted so far.
    pub requests: Arc<AtomicU32>,
    /// The paths requested, in order.
    pub paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Loopback {
    /// Serve: `answer(n, path)` for the `n`th request (from 0).
    pub fn start(answer: impl Fn(u32, &str) -> Answer + Send + Sync + 'static) -> Self {
        Self::start_with_body(move |n, path, _| answer(n, path))
    }

    /// Serve: `answer(n, path, body)` for the `n`th request, with its body (by its
    /// Content-Length, at most [`MAX_REQUEST_BODY`] bytes).
    pub fn start_with_body(answer: impl Fn(u32, &str, &[u8]) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU32::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, p, s) = (Arc::clone(&requests), Arc::clone(&paths), Arc::clone(&stop));
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let n = r.fetch_add(1, Ordering::SeqCst);
                let (answer, p) = (Arc::clone(&answer), Arc::clone(&p));
                std::thread::spawn(move || serve_one(stream, n, &p, &*answer));
            }
        });
        Self { addr, requests, paths, stop }
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// The largest request body read.
pub const MAX_REQUEST_BODY: usize = 1 << 20;

fn serve_one(mut stream: TcpStream, n: u32, paths: &Mutex<Vec<String>>, answer: &dyn Fn(u32, &str, &[u8]) -> Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut request_body = vec![0u8; content_length.min(MAX_REQUEST_BODY)];
    if std::io::Read::read_exact(&mut reader, &mut request_body).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
    paths.lock().unwrap().push(path.clone());
    let Some((status, headers, body, length)) = answer(n, &path, &request_body) else {
        std::thread::sleep(std::time::Duration::from_secs(30));
        return;
    };
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", length.unwrap_or(body.len()));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
