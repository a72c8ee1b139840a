//! The client's TLS: 1.3 only, no resumption, no early data, one ALPN channel per
//! connection, and the client key for mutual TLS.
//!
//! The guest's certificate is self-signed and ephemeral, so it is not checked
//! against a CA: the handshake signature proves the peer holds the key of this TLS
//! session, and the attestation report — bound to this session's exporter, which
//! depends on that key exchange — proves what the peer is. A relay holds a different
//! session and cannot produce a matching report.

use std::sync::Arc;

use cvmc_io::tls::HandshakeSignatures;
use rustls::Error;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::clientkey::ClientKey;
use crate::error::ClientError;

/// Accepts the guest's self-signed certificate; checks its handshake signature.
#[derive(Debug)]
pub struct AttestedServerVerifier {
    signatures: HandshakeSignatures,
}

impl AttestedServerVerifier {
    /// With the signature algorithms of a crypto provider.
    pub fn new(provider: &rustls::crypto::CryptoProvider) -> Self {
        Self { signatures: HandshakeSignatures::new(provider) }
    }
}

impl ServerCertVerifier for AttestedServerVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // Trust is established by the attestation bound to this session, not by a CA.
        Ok(ServerCertVerified::assertion())
    }

    cvmc_io::forward_handshake_signatures!(signatures);
}

/// A client configuration for one channel.
pub fn client_config(channel: &[u8], key: Option<&ClientKey>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let provider = cvmc_io::tls::provider();
    let verifier = Arc::new(AttestedServerVerifier::new(&provider));
    let tls_err = |e: rustls::Error| ClientError::Local { what: "tls", reason: e.to_string() };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match key {
        Some(key) => {
            let (certs, private) = key.tls_identity()?;
            builder.with_client_auth_cert(certs, private).map_err(tls_err)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![channel.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    config.enable_early_data = false;
    Ok(Arc::new(config))
}
