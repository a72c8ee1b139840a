//! A loopback HTTP server in AMD's KDS shape: the real VCEKs and ASK chains of
//! `tests/data/snp/` (or simulated ones a test adds) at the KDS paths, and
//! misbehaving on request: 404, 429 with Retry-After, a truncated body, another
//! chip's VCEK, no answer at all.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use cvmc_protocol::snp::product::Product;

/// How the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Serve what it has.
    Normal,
    /// 404 for every path containing this.
    NotFound(&'static str),
    /// 429 with this Retry-After for the first `times` requests, then serve.
    Throttle {
        /// Seconds in Retry-After.
        retry_after: u64,
        /// How many requests get the 429.
        times: u32,
    },
    /// Every VCEK body is cut in half.
    TruncatedDer,
    /// Every VCEK request gets this DER instead (another chip's VCEK).
    VcekOverride(Vec<u8>),
    /// Accept, read the request, never answer.
    Silent,
}

/// What the server serves, by KDS path.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// VCEK DER by (product, hwid hex).
    pub vceks: HashMap<(String, String), Vec<u8>>,
    /// `cert_chain` PEM by (vcek|vlek, product).
    pub chains: HashMap<(String, String), Vec<u8>>,
    /// `crl` DER by (vcek|vlek, product).
    pub crls: HashMap<(String, String), Vec<u8>>,
}

impl Content {
    /// The real certificates of the shared vectors: the VCEK of each v3+ vector by
    /// its CHIP_ID, and each product's ASK chain. No CRL: AMD's is not in the vectors.
    pub fn real() -> Self {
        let mut c = Self::default();
        for v in crate::vectors() {
            let r = v.parsed();
            if r.signing_key != cvmc_protocol::snp::report::SigningKey::Vcek {
                continue;
            }
            c.add_vcek(v.product, &r.chip_id, v.signer.clone());
        }
        let pem = |name: &str| crate::snp_file(name);
        c.chains.insert(("vcek".into(), "Milan".into()), pem("cert_chain_milan"));
        c.chains.insert(("vcek".into(), "Turin".into()), pem("cert_chain_turin"));
        c.chains.insert(("vcek".into(), "Genoa".into()), pem("genoa_ask.pem"));
        c
    }

    /// Serve `der` as the VCEK of `chip_id` (its first 8 bytes on Turin).
    pub fn add_vcek(&mut self, product: Product, chip_id: &[u8; 64], der: Vec<u8>) {
        let len = if product.short_hwid() { 8 } else { 64 };
        self.vceks.insert((product.name().into(), hex::encode(&chip_id[..len])), der);
    }
}

/// A running server.
#[derive(Debug)]
pub struct KdsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The paths requested, in order.
    pub paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl KdsServer {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve `content` with `behaviour`.
    pub fn start(content: Content, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU32::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&paths), Arc::clone(&stop));
        let content = Arc::new(content);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let n = requests.fetch_add(1, Ordering::SeqCst);
                let (content, behaviour, p) = (Arc::clone(&content), behaviour.clone(), Arc::clone(&p));
                std::thread::spawn(move || answer(stream, &content, &behaviour, n, &p));
            }
        });
        Self { addr, paths, stop }
    }

    /// The paths requested so far.
    pub fn requested(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

impl Drop for KdsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(mut stream: TcpStream, c: &Content, behaviour: &Behaviour, n: u32, paths: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
    paths.lock().unwrap().push(path.clone());
    let respond = |stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| {
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    match behaviour {
        Behaviour::Silent => {
            std::thread::sleep(std::time::Duration::from_secs(30));
            return;
        }
        Behaviour::NotFound(part) if path.contains(part) => return respond(&mut stream, "404 Not Found", &[], b""),
        Behaviour::Throttle { retry_after, times } if n < *times => {
            return respond(&mut stream, "429 Too Many Requests", &[("Retry-After", retry_after.to_string())], b"");
        }
        _ => {}
    }
    // /{vcek|vlek}/v1/{product}/{rest}
    let (route, _query) = path.split_once('?').unwrap_or((&path, ""));
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let body = match parts.as_slice() {
        [kind, "v1", product, "cert_chain"] => c.chains.get(&((*kind).into(), (*product).into())).cloned(),
        [kind, "v1", product, "crl"] => c.crls.get(&((*kind).into(), (*product).into())).cloned(),
        ["vcek", "v1", product, hwid] => match behaviour {
            Behaviour::VcekOverride(der) => Some(der.clone()),
            _ => c.vceks.get(&((*product).into(), hwid.to_ascii_lowercase())).cloned().map(|mut der| {
                if *behaviour == Behaviour::TruncatedDer {
                    der.truncate(der.len() / 2);
                }
                der
            }),
        },
        _ => None,
    };
    match body {
        Some(b) => respond(&mut stream, "200 OK", &[], &b),
        None => respond(&mut stream, "404 Not Found", &[], b""),
    }
}
