//! What both ends' rustls verifiers do the same way. Neither side trusts the other's
//! certificate through a CA: the server checks the client's key against
//! authorized_clients, the client trusts the guest through the attestation report
//! bound to this session's exporter. What both still need is the handshake signature,
//! checked with the key in the certificate presented, and TLS 1.3 only.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::CertificateDer;
use rustls::{DigitallySignedStruct, Error, SignatureScheme};

/// The crypto provider both ends use (ring: lean, no C library beyond its own).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The handshake-signature half of a certificate verifier.
#[derive(Debug, Clone)]
pub struct HandshakeSignatures {
    algorithms: WebPkiSupportedAlgorithms,
}

impl HandshakeSignatures {
    /// With the signature algorithms of `provider`.
    pub fn new(provider: &CryptoProvider) -> Self {
        Self { algorithms: provider.signature_verification_algorithms }
    }

    /// TLS 1.2 is never offered by either side; a 1.2 signature is refused.
    pub fn tls12(&self) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    /// The TLS 1.3 CertificateVerify signature, with the key in `cert`.
    pub fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    /// The schemes we accept.
    pub fn schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The three handshake-signature methods of a rustls `ServerCertVerifier` or
/// `ClientCertVerifier`, forwarded to a [`HandshakeSignatures`] field: both ends'
/// verifiers differ only in how they judge the certificate.
#[macro_export]
macro_rules! forward_handshake_signatures {
    ($field:ident) => {
        fn verify_tls12_signature(
            &self,
            _message: &[u8],
            _cert: &rustls::pki_types::CertificateDer<'_>,
            _dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            // TLS 1.3 is the only version either end offers.
            self.$field.tls12()
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.$field.tls13(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$field.schemes()
        }
    };
}
