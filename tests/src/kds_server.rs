//! A loopback HTTP server in AMD's KDS shape: the real VCEKs and ASK chains of
//! `tests/data/snp/` (or simulated ones a test adds) at the KDS paths, and
//! misbehaving on request: 404, 429 with Retry-After, a truncated body, another
//! chip's VCEK, no answer at all.

use std::collections::HashMap;
use std::net::SocketAddr;

use cvmc_protocol::snp::product::Product;

use crate::loopback_http::{Answer, Loopback};

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
    server: Loopback,
}

impl KdsServer {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serve `content` with `behaviour`.
    pub fn start(content: Content, behaviour: Behaviour) -> Self {
        let server = Loopback::start(move |n, path| answer(&content, &behaviour, n, path));
        Self { addr: server.addr, server }
    }

    /// The paths requested so far.
    pub fn requested(&self) -> Vec<String> {
        self.server.paths.lock().unwrap().clone()
    }
}

fn answer(c: &Content, behaviour: &Behaviour, n: u32, path: &str) -> Answer {
    let plain = |status, headers: Vec<(&'static str, String)>| Some((status, headers, Vec::new(), None));
    match behaviour {
        Behaviour::Silent => return None,
        Behaviour::NotFound(part) if path.contains(part) => return plain("404 Not Found", vec![]),
        Behaviour::Throttle { retry_after, times } if n < *times => {
            return plain("429 Too Many Requests", vec![("Retry-After", retry_after.to_string())]);
        }
        _ => {}
    }
    // /{vcek|vlek}/v1/{product}/{rest}
    let route = path.split_once('?').map_or(path, |(route, _)| route);
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
        Some(b) => Some(("200 OK", vec![], b, None)),
        None => plain("404 Not Found", vec![]),
    }
}
