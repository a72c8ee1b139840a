//! A loopback HTTP server in Intel's PCS (and PCCS) shape, serving the real collateral
//! of `tests/data/tdx/` at the paths and with the headers the real service uses, and
//! misbehaving on request: 404, 429 with Retry-After, a truncated body, another
//! platform's TCB info, no answer at all.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

use cvmc_protocol::tdx::Collateral;

use crate::loopback_http::{Answer, Loopback};

/// How the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Serve the collateral.
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
    /// The TCB info body is cut in half (with a Content-Length that says so).
    TruncatedJson,
    /// A Content-Length larger than the body sent, then the connection closes.
    ShortBody,
    /// Serve the TCB info of another platform (go-tdx-guest's, FMSPC 50806f000000).
    WrongFmspc,
    /// Accept, read the request, never answer.
    Silent,
}

/// A running server.
#[derive(Debug)]
pub struct PcsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests answered so far.
    pub requests: Arc<AtomicU32>,
    /// The paths requested, in order.
    pub paths: Arc<Mutex<Vec<String>>>,
    server: Loopback,
}

impl PcsServer {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serve `collateral` (the file form, split back into what the PCS serves).
    pub fn start(collateral: Collateral, behaviour: Behaviour) -> Self {
        let server = Loopback::start(move |n, path| answer(&collateral, &behaviour, n, path));
        Self { addr: server.addr, requests: Arc::clone(&server.requests), paths: Arc::clone(&server.paths), server }
    }
}

fn other_tcb_info() -> (String, String) {
    let body = std::fs::read(crate::data_dir().join("tdx").join("gotdx_sample_tcbInfo_response")).unwrap();
    cvmc_protocol::tdx::collateral::split_pcs_body("TCB info", "tcbInfo", &body).unwrap()
}

fn encode_header(pem: &str) -> String {
    percent_encode(pem)
}

/// What the PCS does to the issuer chain header: every byte but unreserved ones %XX.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn answer(c: &Collateral, behaviour: &Behaviour, n: u32, path: &str) -> Answer {
    let plain = |status, headers: Vec<(&'static str, String)>| Some((status, headers, Vec::new(), None));
    match behaviour {
        Behaviour::Silent => return None,
        Behaviour::NotFound(part) if path.contains(part) => return plain("404 Not Found", vec![]),
        Behaviour::Throttle { retry_after, times } if n < *times => {
            return plain("429 Too Many Requests", vec![("Retry-After", retry_after.to_string())]);
        }
        _ => {}
    }
    let (status, headers, body): (&str, Vec<(&str, String)>, Vec<u8>) = if path
        .starts_with("/tdx/certification/v4/tcb?")
    {
        let (info, sig) = if *behaviour == Behaviour::WrongFmspc {
            other_tcb_info()
        } else {
            (c.tcb_info.clone(), c.tcb_info_signature.clone())
        };
        let mut body = format!("{{\"tcbInfo\":{info},\"signature\":\"{sig}\"}}").into_bytes();
        if *behaviour == Behaviour::TruncatedJson {
            body.truncate(body.len() / 2);
        }
        ("200 OK", vec![("TCB-Info-Issuer-Chain", encode_header(&c.tcb_info_issuer_chain))], body)
    } else if path.starts_with("/tdx/certification/v4/qe/identity") {
        let body = format!("{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}", c.qe_identity, c.qe_identity_signature);
        (
            "200 OK",
            vec![("SGX-Enclave-Identity-Issuer-Chain", encode_header(&c.qe_identity_issuer_chain))],
            body.into_bytes(),
        )
    } else if path.starts_with("/sgx/certification/v4/pckcrl?") {
        let der = hex::decode(&c.pck_crl).unwrap();
        ("200 OK", vec![("SGX-PCK-CRL-Issuer-Chain", encode_header(&c.pck_crl_issuer_chain))], der)
    } else if path.starts_with("/sgx/certification/v4/rootcacrl") {
        // A PCCS answers with the hex of the DER.
        ("200 OK", vec![], c.root_ca_crl.clone().into_bytes())
    } else {
        ("404 Not Found", vec![], Vec::new())
    };
    let length = (*behaviour == Behaviour::ShortBody).then_some(body.len() + 100);
    Some((status, headers, body, length))
}
