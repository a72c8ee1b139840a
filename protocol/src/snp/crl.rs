//! AMD's certificate revocation list for one product (KDS `vcek/v1/{product}/crl`,
//! or `vlek/v1/{product}/crl`): signed by the product's ARK with RSASSA-PSS SHA-384,
//! listing revoked ASKs and ASVKs by serial number.
//!
//! ```text
//! CRL DER ─ decode ─ issuer = ARK ─ RSA-PSS/SHA-384 by the ARK ─ not listed: ASK/ASVK, VCEK/VLEK ─ thisUpdate ≤ now ≤ nextUpdate
//! ```
//!
//! Sans-IO: the bytes come from the caller (cache, KDS, a file), and the size is
//! bounded before decoding.

use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPublicKey;
use signature::Verifier;
use x509_cert::crl::CertificateList;

use crate::error::VerifyError;
use crate::snp::certs::{AmdCert, OID_RSASSA_PSS};
use crate::text::escape;

/// Largest CRL accepted. AMD's are about 1 KiB (a handful of entries); this leaves
/// room for thousands of entries and bounds what a hostile server can make us parse.
pub const MAX_CRL_LEN: usize = 256 * 1024;

/// A decoded AMD CRL.
#[derive(Debug, Clone)]
pub struct AmdCrl {
    list: CertificateList,
}

impl AmdCrl {
    /// Decode DER (PEM is not accepted: KDS serves DER).
    pub fn from_der(der: &[u8]) -> Result<Self, VerifyError> {
        if der.len() > MAX_CRL_LEN {
            return Err(VerifyError::Crl {
                reason: format!("{} bytes, more than the {MAX_CRL_LEN} accepted", der.len()),
            });
        }
        let list =
            CertificateList::from_der(der).map_err(|e| VerifyError::Crl { reason: format!("does not decode: {e}") })?;
        Ok(Self { list })
    }

    /// (thisUpdate, nextUpdate) in unix seconds.
    pub fn window(&self) -> (u64, Option<u64>) {
        let tbs = &self.list.tbs_cert_list;
        (tbs.this_update.to_unix_duration().as_secs(), tbs.next_update.map(|t| t.to_unix_duration().as_secs()))
    }

    /// Whether the CRL is current at `now` (a CRL without nextUpdate never is).
    pub fn is_current(&self, now: u64) -> bool {
        matches!(self.window(), (this, Some(next)) if this <= now && now <= next)
    }

    /// How many serial numbers it lists.
    pub fn len(&self) -> usize {
        self.list.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len)
    }

    /// Whether it lists no serial number.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check that `root` (the product's ARK) issued and signed this CRL.
    pub fn check_signed_by(&self, root: &AmdCert) -> Result<(), VerifyError> {
        let tbs = &self.list.tbs_cert_list;
        if tbs.issuer != root.x509.tbs_certificate.subject {
            return Err(VerifyError::Crl {
                reason: format!(
                    "issued by \"{}\", not by {}",
                    escape(&tbs.issuer.to_string()),
                    root.subject_dn_shown()
                ),
            });
        }
        if self.list.signature_algorithm.oid != OID_RSASSA_PSS || tbs.signature.oid != OID_RSASSA_PSS {
            return Err(VerifyError::Crl {
                reason: format!("signed with {}, expected RSASSA-PSS", self.list.signature_algorithm.oid),
            });
        }
        let spki = &root.x509.tbs_certificate.subject_public_key_info;
        let key = rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
            .map_err(|e| VerifyError::Crl { reason: format!("{} has no RSA key: {e}", root.label()) })?;
        let msg = tbs.to_der().map_err(|e| VerifyError::Crl { reason: e.to_string() })?;
        let sig = rsa::pss::Signature::try_from(self.list.signature.raw_bytes())
            .map_err(|e| VerifyError::Crl { reason: format!("malformed signature: {e}") })?;
        rsa::pss::VerifyingKey::<sha2::Sha384>::new(key)
            .verify(&msg, &sig)
            .map_err(|e| VerifyError::Crl { reason: format!("signature by {} does not verify: {e}", root.label()) })
    }

    /// Refuse `cert` if this CRL lists its serial number (compared as the DER
    /// INTEGER contents, as RFC 5280 stores both).
    pub fn check_not_listed(&self, cert: &AmdCert, product: &str) -> Result<(), VerifyError> {
        let serial = cert.x509.tbs_certificate.serial_number.as_bytes();
        let listed = self.list.tbs_cert_list.revoked_certificates.as_deref().unwrap_or(&[]);
        if listed.iter().any(|r| r.serial_number.as_bytes() == serial) {
            return Err(VerifyError::Revoked {
                cert: cert.label(),
                serial: hex::encode(serial),
                product: product.into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_garbage_crls_are_clear_errors() {
        let e = AmdCrl::from_der(&vec![0x30; MAX_CRL_LEN + 1]).unwrap_err();
        assert_eq!(e.name(), "crl");
        assert!(e.to_string().contains("more than"), "{e}");
        for bad in [&b""[..], b"\x30\x03\x02\x01", b"not a crl at all"] {
            let e = AmdCrl::from_der(bad).unwrap_err();
            assert!(e.to_string().starts_with("crl: does not decode"), "{e}");
        }
    }
}
