//! A relay run by a malicious host: it terminates the client's TLS with its own key
//! and opens its own TLS to the guest, forwarding the attestation messages both ways
//! (the Evidence frame unchanged, or bent by the host: replayed, resized). It records
//! the evidence it saw, and every byte the guest sent after the client's verdict.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cvm_console::clientkey::ClientKey;
use cvmc_protocol::frame::FRAME_HEADER_LEN;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Read one raw frame (header and payload) from a stream.
pub async fn read_raw_frame<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<Vec<u8>> {
    let mut frame = vec![0u8; FRAME_HEADER_LEN];
    s.read_exact(&mut frame).await?;
    let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
    assert!(len <= 64 * 1024);
    frame.resize(FRAME_HEADER_LEN + len, 0);
    s.read_exact(&mut frame[FRAME_HEADER_LEN..]).await?;
    Ok(frame)
}

/// A self-signed TLS 1.3 server config with the given ALPN list and no client auth.
pub fn fake_server_config() -> Arc<rustls::ServerConfig> {
    let key = rcgen::generate_simple_self_signed(vec!["cvm-consoled".to_owned()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .unwrap();
    config.alpn_protocols = cvmc_protocol::handshake::alpn::ALL.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What the relay observed on its guest side after forwarding the client's verdict.
#[derive(Debug, Default, Clone)]
pub struct RelayLog {
    /// Evidence frames received from the guest.
    pub evidence: Vec<Vec<u8>>,
    /// The client's verdict frames, forwarded to the guest.
    pub verdicts: Vec<Vec<u8>>,
    /// Bytes the guest sent after the verdict (a console would start with SessionInfo).
    pub guest_bytes_after_verdict: usize,
    /// The first of those bytes (a display would start with `RFB 003.008`).
    pub guest_prefix_after_verdict: Vec<u8>,
    /// Connections whose relaying has ended (the log of each is complete).
    pub finished: usize,
}

/// What the host does to the guest's Evidence frame before the client sees it.
pub type EvidenceBend = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// A relaying MITM between clients and the guest at `target`.
#[derive(Debug)]
pub struct Relay {
    /// Where victims connect.
    pub addr: SocketAddr,
    /// What it saw.
    pub log: Arc<Mutex<RelayLog>>,
}

async fn pump<A, B>(from: &mut A, to: &mut B) -> std::io::Result<Vec<u8>>
where
    A: AsyncRead + Unpin,
    B: AsyncWrite + Unpin,
{
    let frame = read_raw_frame(from).await?;
    to.write_all(&frame).await?;
    to.flush().await?;
    Ok(frame)
}

impl Relay {
    /// Start relaying to `target`, reaching it with `key` (which the guest may authorize).
    pub async fn start(target: SocketAddr, key: Arc<ClientKey>) -> Self {
        Self::start_bending(target, key, Arc::new(|evidence| evidence)).await
    }

    /// Like [`Relay::start`], with the guest's Evidence frames passed through `bend`
    /// (the log records them as the guest sent them).
    pub async fn start_bending(target: SocketAddr, key: Arc<ClientKey>, bend: EvidenceBend) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(RelayLog::default()));
        let acceptor = tokio_rustls::TlsAcceptor::from(fake_server_config());
        let shared = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, key, log, bend) =
                    (acceptor.clone(), Arc::clone(&key), Arc::clone(&shared), Arc::clone(&bend));
                tokio::spawn(async move {
                    relay_one(tcp, &acceptor, target, &key, &log, &*bend).await;
                    log.lock().unwrap().finished += 1;
                });
            }
        });
        Self { addr, log }
    }
}

/// Relay one victim connection to the guest, logging what the guest sends.
async fn relay_one(
    tcp: TcpStream,
    acceptor: &tokio_rustls::TlsAcceptor,
    target: SocketAddr,
    key: &ClientKey,
    log: &Mutex<RelayLog>,
    bend: &(dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync),
) {
    let Ok(mut victim) = acceptor.accept(tcp).await else { return };
    let channel = victim.get_ref().1.alpn_protocol().unwrap_or_default().to_vec();
    let channel: &'static [u8] = cvmc_protocol::handshake::alpn::ALL
        .into_iter()
        .find(|c| *c == channel.as_slice())
        .unwrap_or(cvmc_protocol::handshake::alpn::CONSOLE);
    let config = cvm_console::net::tls::client_config(channel, Some(key)).unwrap();
    let Ok(tcp) = TcpStream::connect(target).await else { return };
    let name = ServerName::try_from("cvm-consoled").unwrap();
    let Ok(mut guest) = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await else {
        return;
    };
    // Hello (client -> guest), Evidence (guest -> client), verdict (client -> guest).
    if pump(&mut victim, &mut guest).await.is_err() {
        return;
    }
    let Ok(evidence) = read_raw_frame(&mut guest).await else { return };
    log.lock().unwrap().evidence.push(evidence.clone());
    if victim.write_all(&bend(evidence)).await.is_err() || victim.flush().await.is_err() {
        return;
    }
    let Ok(verdict) = pump(&mut victim, &mut guest).await else { return };
    log.lock().unwrap().verdicts.push(verdict);
    let mut buf = vec![0u8; 4096];
    let mut after = Vec::new();
    while let Ok(Ok(n)) = tokio::time::timeout(std::time::Duration::from_secs(2), guest.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        after.extend_from_slice(&buf[..n]);
    }
    let mut log = log.lock().unwrap();
    log.guest_bytes_after_verdict += after.len();
    if log.guest_prefix_after_verdict.is_empty() {
        after.truncate(64);
        log.guest_prefix_after_verdict = after;
    }
}

/// A fake guest that answers every Hello with the same recorded Evidence frame.
pub async fn replaying_guest(evidence: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(fake_server_config());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, evidence) = (acceptor.clone(), evidence.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else { return };
                if read_raw_frame(&mut s).await.is_ok() {
                    let _ = s.write_all(&evidence).await;
                    let _ = s.flush().await;
                    let _ = read_raw_frame(&mut s).await;
                }
            });
        }
    });
    addr
}
