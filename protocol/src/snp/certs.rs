//! AMD's SEV-SNP certificates: parsing what the verifier needs from untrusted DER,
//! the custom VCEK or VLEK extensions, and the one-step signature checks.
//!
//! RSA-PSS chain signatures (ARK -> ASK/ASVK -> VCEK/VLEK) are checked by the `sev`
//! crate (pure-Rust `crypto_nossl`); what sev leaves to its caller — names,
//! validity dates, algorithms, extensions, the report signature with typed errors —
//! is done here.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode, asn1::Ia5StringRef};
use p384::ecdsa::signature::Verifier;
use sev::certs::snp::Verifiable;
use x509_cert::Certificate;

use crate::error::VerifyError;
use crate::snp::report::{Report, SIGNED_LEN};
use crate::text::escape;

/// RSASSA-PSS (RFC 4055), used by every AMD CA signature.
pub const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1.
pub const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// AMD's VCEK or VLEK extensions (AMD "Versioned Chip Endorsement Key (VCEK) Certificate
/// and KDS Interface Specification", pub. 57230, table 8).
pub mod ext {
    use const_oid::ObjectIdentifier;
    /// structVersion: the version of the certificate's structure.
    pub const STRUCT_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
    /// productName (IA5String): the product, e.g. `Milan-B0`.
    pub const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
    /// blSPL (INTEGER): bootloader SPL.
    pub const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
    /// teeSPL (INTEGER): PSP OS (TEE) SPL.
    pub const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
    /// snpSPL (INTEGER): SNP firmware SPL.
    pub const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
    /// ucodeSPL (INTEGER): microcode SPL.
    pub const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
    /// fmcSPL (INTEGER): FMC SPL (Turin onwards).
    pub const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
    /// hwID (VCEK only): the chip's CHIP_ID (64 bytes; 8 on Turin).
    pub const HWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
    /// csp_id (VLEK only, IA5String): the cloud provider the VLEK was issued to.
    pub const CSP_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.5");
}

/// A certificate parsed once, with the facts the verifier asks of it.
#[derive(Debug, Clone)]
pub struct AmdCert {
    /// What role it was presented in (for messages).
    pub role: String,
    /// The parsed X.509 certificate.
    pub x509: Certificate,
    /// Subject common name.
    pub subject_cn: String,
    /// Issuer common name.
    pub issuer_cn: String,
}

impl AmdCert {
    /// Parse DER, naming the role in errors.
    pub fn from_der(role: &str, der: &[u8]) -> Result<Self, VerifyError> {
        let x509 = Certificate::from_der(der)
            .map_err(|e| VerifyError::CertificateDecode { kind: role.into(), reason: e.to_string() })?;
        Self::from_x509(role, x509)
    }

    /// Parse PEM, naming the role in errors.
    pub fn from_pem(role: &str, pem: &[u8]) -> Result<Self, VerifyError> {
        use der::DecodePem;
        let x509 = Certificate::from_pem(pem)
            .map_err(|e| VerifyError::CertificateDecode { kind: role.into(), reason: e.to_string() })?;
        Self::from_x509(role, x509)
    }

    fn from_x509(role: &str, x509: Certificate) -> Result<Self, VerifyError> {
        let subject_cn = common_name(&x509.tbs_certificate.subject).unwrap_or_default();
        let issuer_cn = common_name(&x509.tbs_certificate.issuer).unwrap_or_default();
        Ok(Self { role: role.into(), x509, subject_cn, issuer_cn })
    }

    /// `ROLE "CN"` for messages; the name as the certificate spells it, escaped
    /// ([`crate::text::escape`]): the certificate may come from a hostile peer.
    pub fn label(&self) -> String {
        format!("{} \"{}\"", self.role, escape(&self.subject_cn))
    }

    /// The subject's common name, escaped for messages.
    pub fn subject_shown(&self) -> String {
        escape(&self.subject_cn).into_owned()
    }

    /// The whole subject name (RFC 4514), escaped for messages.
    pub fn subject_dn_shown(&self) -> String {
        escape(&self.x509.tbs_certificate.subject.to_string()).into_owned()
    }

    /// The whole issuer name (RFC 4514), escaped for messages.
    pub fn issuer_dn_shown(&self) -> String {
        escape(&self.x509.tbs_certificate.issuer.to_string()).into_owned()
    }

    /// DER encoding (for fingerprints).
    pub fn to_der(&self) -> Vec<u8> {
        self.x509.to_der().unwrap_or_default()
    }

    /// Validity window in unix seconds.
    pub fn validity(&self) -> (u64, u64) {
        let v = &self.x509.tbs_certificate.validity;
        (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
    }

    /// Refuse a certificate outside its validity window at `now` (unix seconds).
    pub fn check_validity(&self, now: u64) -> Result<(), VerifyError> {
        let (not_before, not_after) = self.validity();
        if now < not_before || now > not_after {
            return Err(VerifyError::CertificateExpired { subject: self.label(), not_before, not_after, now });
        }
        Ok(())
    }

    /// Check that `self` issued `child`: names chain, RSA-PSS SHA-384 signature verifies.
    pub fn check_issued(&self, child: &AmdCert) -> Result<(), VerifyError> {
        let issuer_name = &child.x509.tbs_certificate.issuer;
        if issuer_name != &self.x509.tbs_certificate.subject {
            return Err(VerifyError::ChainName {
                subject: child.label(),
                issuer: child.issuer_dn_shown(),
                parent: self.subject_dn_shown(),
            });
        }
        let alg = &child.x509.signature_algorithm.oid;
        if *alg != OID_RSASSA_PSS || child.x509.tbs_certificate.signature.oid != OID_RSASSA_PSS {
            return Err(VerifyError::CertificateAlgorithm {
                subject: child.label(),
                algorithm: alg.to_string(),
                expected: "RSASSA-PSS (1.2.840.113549.1.1.10)".into(),
            });
        }
        let signer = sev::certs::snp::Certificate::from(self.x509.clone());
        let signee = sev::certs::snp::Certificate::from(child.x509.clone());
        (&signer, &signee).verify().map_err(|e| VerifyError::ChainSignature {
            signer: self.label(),
            subject: child.label(),
            reason: e.to_string(),
        })
    }

    /// The raw contents (extnValue) of an extension, if present. A duplicated
    /// extension is malformed (RFC 5280 4.2).
    pub fn extension(&self, oid: &ObjectIdentifier, name: &'static str) -> Result<Option<&[u8]>, VerifyError> {
        let exts = self.x509.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
        let mut found = exts.iter().filter(|e| &e.extn_id == oid);
        let first = found.next().map(|e| e.extn_value.as_bytes());
        if found.next().is_some() {
            return Err(VerifyError::BadExtension { cert: self.label(), name, reason: "present twice".into() });
        }
        Ok(first)
    }

    /// A required extension.
    pub fn require_extension(&self, oid: &ObjectIdentifier, name: &'static str) -> Result<&[u8], VerifyError> {
        self.extension(oid, name)?.ok_or_else(|| VerifyError::MissingExtension {
            cert: self.label(),
            name,
            oid: oid.to_string(),
        })
    }

    /// An SPL extension: a DER INTEGER 0..=255.
    pub fn spl(&self, oid: &ObjectIdentifier, name: &'static str) -> Result<u8, VerifyError> {
        let raw = self.require_extension(oid, name)?;
        u8::from_der(raw).map_err(|e| VerifyError::BadExtension { cert: self.label(), name, reason: e.to_string() })
    }

    /// The productName extension (IA5String), if present.
    pub fn product_name(&self) -> Result<Option<String>, VerifyError> {
        let Some(raw) = self.extension(&ext::PRODUCT_NAME, "productName")? else { return Ok(None) };
        let s = Ia5StringRef::from_der(raw).map_err(|e| VerifyError::BadExtension {
            cert: self.label(),
            name: "productName",
            reason: e.to_string(),
        })?;
        Ok(Some(s.as_str().to_owned()))
    }

    /// Verify the report's signature with this certificate's P-384 key.
    pub fn check_report_signature(&self, raw_report: &[u8], report: &Report) -> Result<(), VerifyError> {
        let spki = &self.x509.tbs_certificate.subject_public_key_info;
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY || curve != Some(OID_SECP384R1) {
            return Err(VerifyError::CertificateAlgorithm {
                subject: self.label(),
                algorithm: format!("{} {:?}", spki.algorithm.oid, curve.map(|c| c.to_string())),
                expected: "ECDSA P-384 (1.2.840.10045.2.1 / 1.3.132.0.34)".into(),
            });
        }
        let bad = |reason: String| VerifyError::ReportSignature { signer: self.label(), reason };
        let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
            .map_err(|e| bad(format!("invalid P-384 public key: {e}")))?;
        let sig = p384::ecdsa::Signature::from_slice(&report.signature.to_be_fixed())
            .map_err(|e| bad(format!("malformed r/s: {e}")))?;
        key.verify(&raw_report[..SIGNED_LEN], &sig).map_err(|e| bad(e.to_string()))
    }
}

/// The first common name of an X.509 name, in any of the string types AMD and
/// others use.
pub fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == const_oid::db::rfc4519::CN).and_then(|atv| {
        use der::asn1::{PrintableStringRef, Utf8StringRef};
        atv.value
            .decode_as::<Utf8StringRef<'_>>()
            .map(|s| s.as_str().to_owned())
            .or_else(|_| atv.value.decode_as::<PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
            .or_else(|_| atv.value.decode_as::<Ia5StringRef<'_>>().map(|s| s.as_str().to_owned()))
            .ok()
    })
}
