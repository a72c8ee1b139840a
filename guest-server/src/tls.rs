//! The server's TLS: 1.3 only, no tickets, no resumption, no early data; an ECDSA
//! key generated in memory at start and never written anywhere; ALPN per channel;
//! client keys checked against `authorized_clients`.
//!
//! The server certificate is self-signed: clients do not trust it by a CA but by
//! the attestation report, which is bound to this very TLS session's exporter.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, Error};

use cvmc_io::tls::HandshakeSignatures;
use cvmc_protocol::handshake::alpn;

use crate::authorized::{AuthorizedClients, spki_fingerprint};

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Key or certificate generation failed.
    #[error("tls: generating the ephemeral server key: {0}")]
    KeyGen(String),
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Config(#[from] rustls::Error),
}

/// Accepts a client certificate when its key is authorized (or, with
/// unauthenticated consoles allowed, any well-formed one: the connection then
/// decides per channel), and checks the handshake signature with the key in it.
#[derive(Debug)]
pub struct AuthorizedKeyVerifier {
    authorized: AuthorizedClients,
    mandatory: bool,
    signatures: HandshakeSignatures,
}

impl ClientCertVerifier for AuthorizedKeyVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let fingerprint =
            spki_fingerprint(end_entity).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if self.authorized.allows(&fingerprint) || !self.mandatory {
            return Ok(ClientCertVerified::assertion());
        }
        tracing::warn!(client_key = %fingerprint, "refused a client key not in authorized_clients");
        Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
    }

    cvmc_io::forward_handshake_signatures!(signatures);
}

/// The server TLS configuration.
pub fn server_config(
    authorized: AuthorizedClients,
    client_auth_mandatory: bool,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let provider = cvmc_io::tls::provider();
    let key = rcgen::generate_simple_self_signed(vec!["cvm-consoled".to_owned()])
        .map_err(|e| TlsSetupError::KeyGen(e.to_string()))?;
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let verifier = Arc::new(AuthorizedKeyVerifier {
        authorized,
        mandatory: client_auth_mandatory,
        signatures: HandshakeSignatures::new(&provider),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], private)?;
    config.alpn_protocols = alpn::ALL.iter().map(|p| p.to_vec()).collect();
    // No resumption of any kind: every connection is a full handshake with a fresh
    // exporter value, so every connection gets a fresh report.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.max_early_data_size = 0;
    Ok(Arc::new(config))
}
