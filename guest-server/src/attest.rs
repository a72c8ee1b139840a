//! The server side of the attestation handshake (docs/DESIGN.md "Wire protocol v1"):
//! read Hello, make a report bound to this TLS session, send Evidence, wait for
//! the client's verdict. Nothing of a channel starts before Proceed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use cvmc_io::frames::read_frame;
use cvmc_protocol::binding::{EKM_LEN, EXPORTER_LABEL, report_data};
use cvmc_protocol::evidence::Evidence;
use cvmc_protocol::handshake::{HandshakeMsg, Hello, MAX_ABORT_REASON, NONCE_LEN, PROTOCOL_VERSION, kind};

use crate::evidence::EvidenceProvider;
use crate::identity::GuestIdentity;

/// Time a client has to send Hello after the TLS handshake.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send its verdict after Evidence.
pub const VERDICT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a connection ended during attestation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    #[error("attestation: {what} not received within {secs} s")]
    Timeout { what: &'static str, secs: u64 },
    #[error("attestation: expected {expected}, got frame type {kind:#04x} of {len} bytes")]
    Unexpected { expected: &'static str, kind: u8, len: usize },
    #[error("attestation: {0}")]
    Frame(#[from] cvmc_io::frames::FrameError),
    #[error("attestation: malformed message: {0}")]
    Malformed(#[from] cvmc_protocol::CodecError),
    #[error("attestation: client speaks protocol version {0}, this server {PROTOCOL_VERSION}")]
    Version(u16),
    #[error("attestation: TLS exporter: {0}")]
    Exporter(String),
    #[error("attestation: {0}")]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error("attestation: the client refused the evidence: {0}")]
    Refused(String),
    #[error("attestation: connection: {0}")]
    Io(#[from] std::io::Error),
}

/// The client's Hello, within [`HELLO_TIMEOUT`].
async fn read_hello<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Hello, AttestError> {
    let hello_len = 2 + NONCE_LEN;
    let (k, payload) = tokio::time::timeout(HELLO_TIMEOUT, read_frame(stream, "Hello", &[kind::HELLO], hello_len))
        .await
        .map_err(|_| AttestError::Timeout { what: "Hello", secs: HELLO_TIMEOUT.as_secs() })??;
    match HandshakeMsg::decode_payload(k, &payload)? {
        HandshakeMsg::Hello(hello) => Ok(hello),
        _ => Err(AttestError::Unexpected { expected: "Hello", kind: k, len: payload.len() }),
    }
}

/// Refuse the channel before any evidence: read the client's Hello, answer
/// `Abort { reason }` (so the client can tell the user why, rather than seeing a closed
/// connection) and close. Nothing is attested or started.
pub async fn refuse<S>(stream: &mut S, reason: &str) -> Result<(), AttestError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    read_hello(stream).await?;
    // The encoder caps the reason at MAX_ABORT_REASON bytes.
    stream.write_all(&HandshakeMsg::Abort { reason: reason.to_owned() }.encode()?).await?;
    stream.flush().await?;
    stream.shutdown().await?;
    Ok(())
}

/// What the verdict needs from the TLS layer: the exporter of this connection.
pub trait Exporter {
    /// RFC 8446 7.5 exporter.
    fn export(&self, label: &[u8], context: &[u8]) -> Result<[u8; EKM_LEN], String>;
}

impl<IO> Exporter for tokio_rustls::server::TlsStream<IO> {
    fn export(&self, label: &[u8], context: &[u8]) -> Result<[u8; EKM_LEN], String> {
        self.get_ref().1.export_keying_material([0u8; EKM_LEN], label, Some(context)).map_err(|e| e.to_string())
    }
}

/// Run the handshake on an accepted TLS stream, telling the client which boot `stage`
/// serves it. `Ok` means the client said Proceed.
pub async fn attest<S>(
    stream: &mut S,
    provider: &Arc<dyn EvidenceProvider>,
    identity: &Arc<GuestIdentity>,
    stage: cvmc_protocol::GuestStage,
) -> Result<(), AttestError>
where
    S: AsyncRead + AsyncWrite + Unpin + Exporter,
{
    let hello = read_hello(stream).await?;
    if hello.version != PROTOCOL_VERSION {
        return Err(AttestError::Version(hello.version));
    }
    let ekm = stream.export(EXPORTER_LABEL, &hello.nonce).map_err(AttestError::Exporter)?;
    let identity_key = identity.public_key();
    let binding = report_data(&ekm, &hello.nonce, &identity_key);
    let provider = Arc::clone(provider);
    let raw = tokio::task::spawn_blocking(move || provider.evidence(&binding))
        .await
        .map_err(|e| AttestError::Io(std::io::Error::other(e.to_string())))??;
    let evidence = Evidence {
        tee: raw.tee,
        report: raw.report,
        certs: raw.certs,
        identity_key: identity_key.to_vec(),
        identity_sig: identity.sign_session(&ekm, &hello.nonce).to_vec(),
        collateral: raw.collateral,
        stage,
    };
    stream.write_all(&HandshakeMsg::Evidence(evidence).encode()?).await?;
    stream.flush().await?;

    let verdict_max = 2 + MAX_ABORT_REASON;
    let (k, payload) = tokio::time::timeout(
        VERDICT_TIMEOUT,
        read_frame(stream, "Proceed or Abort", &[kind::PROCEED, kind::ABORT], verdict_max),
    )
    .await
    .map_err(|_| AttestError::Timeout { what: "the verdict", secs: VERDICT_TIMEOUT.as_secs() })??;
    match HandshakeMsg::decode_payload(k, &payload)? {
        HandshakeMsg::Proceed => Ok(()),
        HandshakeMsg::Abort { reason } => Err(AttestError::Refused(cvmc_protocol::text::escape(&reason).into_owned())),
        _ => Err(AttestError::Unexpected { expected: "Proceed or Abort", kind: k, len: payload.len() }),
    }
}
