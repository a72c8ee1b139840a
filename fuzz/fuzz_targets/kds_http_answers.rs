//! What a hostile KDS answers, as raw HTTP: the client's whole fetch (ureq's
//! response parsing, our size limits and timeouts, the VCEK, cert_chain and CRL
//! answer checks) against a loopback server that answers every request with the
//! input bytes and closes.
//!
//! Input: a raw HTTP/1.1 response (seeds: 200 answers carrying the real Milan VCEK,
//! its cert_chain, a CRL, and 404/redirect/chunked shapes). Answers with status 429
//! or 503 are skipped: the client honours their Retry-After by sleeping, which the
//! KDS tests cover and which would only slow the fuzzer down.
//!
//! Properties: nothing panics or hangs (every request has a deadline), a fetch
//! returns an answer or a clear error, and a VCEK that comes back is for the
//! report's chip and TCB.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use cvm_console::kds::{Have, KdsSource};
use cvmc_protocol::policy::Revocation;
use cvmc_protocol::snp::report::Report;
use libfuzzer_sys::fuzz_target;

const MILAN: &[u8] = include_bytes!("../../tests/data/snp/milan_attestation_report.bin");

/// The answer the server gives to every connection.
static ANSWER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// One loopback server for the whole run.
static SERVER: LazyLock<String> = LazyLock::new(|| {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            // Read the request head, then answer and close.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let answer = ANSWER.lock().map(|a| a.clone()).unwrap_or_default();
            let _ = stream.write_all(&answer);
        }
    });
    format!("http://{addr}")
});

fuzz_target!(|data: &[u8]| {
    let status = data.get(9..12);
    if status == Some(b"429") || status == Some(b"503") {
        return;
    }
    if let Ok(mut answer) = ANSWER.lock() {
        answer.clear();
        answer.extend_from_slice(data);
    }
    let source =
        KdsSource { base: SERVER.clone(), offline: false, cache: None, timeout: Duration::from_millis(500) };
    let Ok(report) = Report::parse(MILAN) else { return };
    match source.fetch_for(MILAN, Have::default(), Revocation::Require, cvmc_fuzz::NOW) {
        Ok(fetched) => {
            if let Some(vcek) = &fetched.vcek {
                assert!(cvm_console::kds::check_vcek_answer(vcek, &report).is_ok(), "an unchecked VCEK came back");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
