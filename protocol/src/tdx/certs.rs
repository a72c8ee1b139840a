//! Intel's SGX/TDX PKI: certificates and CRLs signed with ECDSA P-256/SHA-256, the
//! PCK certificate's SGX extensions, and the one-step checks the verifier chains.
//!
//! ```text
//! Intel SGX Root CA ─┬─ Intel SGX PCK Platform CA (or Processor CA) ─ Intel SGX PCK Certificate
//!  (pinned)          │        └ signs the PCK CRL                        └ signs the QE report
//!                    ├─ Intel SGX TCB Signing ─ signs TCB info and QE identity
//!                    └ signs the root CA CRL (which lists revoked intermediates)
//! ```
//!
//! Everything here reads untrusted DER: names are escaped before they reach a
//! message, and every failure is a [`TdxError`] naming the certificate's role.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::BasicConstraints;

use crate::snp::certs::common_name;
use crate::tdx::error::TdxError;
use crate::text::escape;

/// ecdsa-with-SHA256.
pub const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 (P-256).
pub const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Common names of Intel's PKI roles (Intel "SGX PCK Certificate and Certificate
/// Revocation List Profile Specification").
pub mod cn {
    /// The root CA.
    pub const ROOT: &str = "Intel SGX Root CA";
    /// The intermediate for multi-package platforms.
    pub const PLATFORM_CA: &str = "Intel SGX PCK Platform CA";
    /// The intermediate for single-package platforms.
    pub const PROCESSOR_CA: &str = "Intel SGX PCK Processor CA";
    /// The PCK leaf.
    pub const PCK: &str = "Intel SGX PCK Certificate";
    /// The key that signs TCB info and QE identity.
    pub const TCB_SIGNING: &str = "Intel SGX TCB Signing";
}

/// The PCK certificate's SGX extension and its parts (PCK profile, section 1.3.5).
pub mod sgx_ext {
    use const_oid::ObjectIdentifier;
    /// The SGX extension (a SEQUENCE of OID/value pairs).
    pub const SGX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1");
    /// PPID.
    pub const PPID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.1");
    /// TCB: 16 SGX TCB component SVNs (.1 .. .16), PCESVN (.17), CPUSVN (.18).
    pub const TCB: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.2");
    /// PCE-ID (2 bytes).
    pub const PCEID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.3");
    /// FMSPC: family-model-stepping-platform-custom SKU (6 bytes); selects the TCB info.
    pub const FMSPC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.4");
    /// SGX type (Standard, Scalable, ...).
    pub const SGX_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.5");
}

/// A certificate parsed once, with the facts the verifier asks of it.
#[derive(Debug, Clone)]
pub struct IntelCert {
    /// The role it is presented in (for messages), e.g. `PCK certificate`.
    pub role: String,
    /// The parsed certificate.
    pub x509: Certificate,
    /// Subject common name (raw; escape before showing).
    pub subject_cn: String,
    /// Its DER.
    pub der: Vec<u8>,
}

/// Largest number of certificates accepted in one PEM chain (leaf, intermediate, root).
pub const MAX_CHAIN_LEN: usize = 4;

impl IntelCert {
    /// Parse DER, naming the role in errors.
    pub fn from_der(role: &str, der: &[u8]) -> Result<Self, TdxError> {
        let x509 = Certificate::from_der(der)
            .map_err(|e| TdxError::CertificateDecode { role: role.into(), reason: e.to_string() })?;
        let subject_cn = common_name(&x509.tbs_certificate.subject).unwrap_or_default();
        Ok(Self { role: role.into(), x509, subject_cn, der: der.to_vec() })
    }

    /// Parse a PEM chain (leaf first), naming each certificate by `roles[i]` (the last
    /// role repeats). At most [`MAX_CHAIN_LEN`] certificates; text around them and NUL
    /// padding are ignored.
    pub fn chain_from_pem(what: &str, pem: &[u8], roles: &[&str]) -> Result<Vec<Self>, TdxError> {
        const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
        const END: &[u8] = b"-----END CERTIFICATE-----";
        let bad = |reason: String| TdxError::CertificateDecode { role: what.into(), reason };
        let mut out = Vec::new();
        let mut rest = pem;
        while let Some(start) = find(rest, BEGIN) {
            let after = &rest[start..];
            let end = find(after, END).ok_or_else(|| bad("a PEM certificate has no END line".into()))? + END.len();
            if out.len() == MAX_CHAIN_LEN {
                return Err(bad(format!("more than {MAX_CHAIN_LEN} certificates")));
            }
            let block = &after[..end];
            let role = roles.get(out.len()).or(roles.last()).copied().unwrap_or(what);
            let (_, der) = der::pem::decode_vec(block).map_err(|e| bad(format!("{role}: {e}")))?;
            out.push(Self::from_der(role, &der)?);
            rest = &after[end..];
        }
        if out.is_empty() {
            return Err(bad("no PEM certificate".into()));
        }
        Ok(out)
    }

    /// `ROLE "CN"` for messages, escaped.
    pub fn label(&self) -> String {
        format!("{} \"{}\"", self.role, escape(&self.subject_cn))
    }

    /// Validity window in unix seconds.
    pub fn validity(&self) -> (u64, u64) {
        let v = &self.x509.tbs_certificate.validity;
        (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
    }

    /// Refuse a certificate outside its validity window at `now`.
    pub fn check_validity(&self, now: u64) -> Result<(), TdxError> {
        let (not_before, not_after) = self.validity();
        if now < not_before || now > not_after {
            return Err(TdxError::CertificateExpired { subject: self.label(), not_before, not_after, now });
        }
        Ok(())
    }

    /// Refuse a certificate whose CN is not `want` (one of).
    pub fn check_name(&self, want: &[&str]) -> Result<(), TdxError> {
        if want.contains(&self.subject_cn.as_str()) {
            return Ok(());
        }
        Err(TdxError::CertificateName {
            role: self.role.clone(),
            expected: want.join("\" or \""),
            actual: escape(&self.subject_cn).into_owned(),
        })
    }

    /// The certificate's P-256 public key.
    pub fn p256_key(&self) -> Result<p256::ecdsa::VerifyingKey, TdxError> {
        let spki = &self.x509.tbs_certificate.subject_public_key_info;
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY || curve != Some(OID_PRIME256V1) {
            return Err(TdxError::CertificateAlgorithm {
                subject: self.label(),
                algorithm: format!("key {} {}", spki.algorithm.oid, curve.map(|c| c.to_string()).unwrap_or_default()),
                expected: "an ECDSA P-256 key".into(),
            });
        }
        p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(|e| {
            TdxError::CertificateAlgorithm {
                subject: self.label(),
                algorithm: format!("invalid P-256 key: {e}"),
                expected: "an ECDSA P-256 key".into(),
            }
        })
    }

    fn is_ca(&self) -> bool {
        matches!(self.x509.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
    }

    /// Check that `self` issued `child`: `self` is a CA, the names link and the
    /// ECDSA P-256/SHA-256 signature verifies.
    pub fn check_issued(&self, child: &IntelCert) -> Result<(), TdxError> {
        if child.x509.tbs_certificate.issuer != self.x509.tbs_certificate.subject {
            return Err(TdxError::ChainName {
                subject: child.label(),
                issuer: escape(&child.x509.tbs_certificate.issuer.to_string()).into_owned(),
                parent: escape(&self.x509.tbs_certificate.subject.to_string()).into_owned(),
            });
        }
        if !self.is_ca() {
            return Err(TdxError::ChainSignature {
                signer: self.label(),
                subject: child.label(),
                reason: "the issuer is not a CA (basicConstraints cA is not set)".into(),
            });
        }
        let alg = &child.x509.signature_algorithm.oid;
        if *alg != OID_ECDSA_SHA256 || child.x509.tbs_certificate.signature.oid != OID_ECDSA_SHA256 {
            return Err(TdxError::CertificateAlgorithm {
                subject: child.label(),
                algorithm: alg.to_string(),
                expected: "ecdsa-with-SHA256 (1.2.840.10045.4.3.2)".into(),
            });
        }
        let tbs = child
            .x509
            .tbs_certificate
            .to_der()
            .map_err(|e| TdxError::CertificateDecode { role: child.role.clone(), reason: e.to_string() })?;
        let sig_bytes = child.x509.signature.as_bytes().unwrap_or_default();
        verify_der_signature(&self.p256_key()?, &tbs, sig_bytes).map_err(|reason| TdxError::ChainSignature {
            signer: self.label(),
            subject: child.label(),
            reason,
        })
    }

    /// The serial number's bytes (for CRL lookups).
    pub fn serial(&self) -> &[u8] {
        self.x509.tbs_certificate.serial_number.as_bytes()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Verify a DER-encoded ECDSA P-256 signature over `msg` (SHA-256).
pub fn verify_der_signature(key: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    let sig = p256::ecdsa::Signature::from_der(sig).map_err(|e| format!("malformed signature: {e}"))?;
    key.verify(msg, &sig).map_err(|e| e.to_string())
}

/// Verify a raw (r || s, 64 bytes) ECDSA P-256 signature over `msg` (SHA-256).
pub fn verify_raw_signature(key: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> Result<(), String> {
    let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|e| format!("malformed r/s: {e}"))?;
    key.verify(msg, &sig).map_err(|e| e.to_string())
}

/// A P-256 key given as raw `x || y` (the quote's attestation key).
pub fn raw_p256_key(xy: &[u8; 64]) -> Result<p256::ecdsa::VerifyingKey, String> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(xy);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| format!("not a P-256 point: {e}"))
}

/// A certificate revocation list, parsed.
#[derive(Debug, Clone)]
pub struct Crl {
    /// Which CRL (for messages): `root CA CRL` or `PCK CRL`.
    pub what: &'static str,
    /// The parsed list.
    pub list: CertificateList,
}

impl Crl {
    /// Parse DER.
    pub fn from_der(what: &'static str, der: &[u8]) -> Result<Self, TdxError> {
        let list = CertificateList::from_der(der)
            .map_err(|e| TdxError::Crl { crl: what, reason: format!("does not decode: {e}") })?;
        Ok(Self { what, list })
    }

    /// (thisUpdate, nextUpdate) in unix seconds; a CRL without nextUpdate never
    /// counts as fresh.
    pub fn window(&self) -> (u64, Option<u64>) {
        let tbs = &self.list.tbs_cert_list;
        (tbs.this_update.to_unix_duration().as_secs(), tbs.next_update.map(|t| t.to_unix_duration().as_secs()))
    }

    /// Check that `issuer` signed this CRL and that it is current at `now`.
    pub fn check(&self, issuer: &IntelCert, now: u64) -> Result<(), TdxError> {
        let tbs = &self.list.tbs_cert_list;
        let err = |reason: String| TdxError::Crl { crl: self.what, reason };
        if tbs.issuer != issuer.x509.tbs_certificate.subject {
            return Err(err(format!("issued by \"{}\", expected {}", escape(&tbs.issuer.to_string()), issuer.label())));
        }
        if self.list.signature_algorithm.oid != OID_ECDSA_SHA256 {
            return Err(err(format!("signed with {}, expected ecdsa-with-SHA256", self.list.signature_algorithm.oid)));
        }
        let msg = tbs.to_der().map_err(|e| err(e.to_string()))?;
        verify_der_signature(&issuer.p256_key()?, &msg, self.list.signature.as_bytes().unwrap_or_default())
            .map_err(|e| err(format!("signature by {} does not verify: {e}", issuer.label())))?;
        let (this_update, next_update) = self.window();
        match next_update {
            Some(next) if this_update <= now && now <= next => Ok(()),
            next => Err(TdxError::CrlStale { crl: self.what, this_update, next_update: next.unwrap_or(0), now }),
        }
    }

    /// Refuse `cert` if this CRL lists its serial number.
    pub fn check_not_revoked(&self, cert: &IntelCert) -> Result<(), TdxError> {
        let listed = self.list.tbs_cert_list.revoked_certificates.as_deref().unwrap_or(&[]);
        if listed.iter().any(|r| r.serial_number.as_bytes() == cert.serial()) {
            return Err(TdxError::Revoked { cert: cert.label(), serial: hex::encode(cert.serial()), crl: self.what });
        }
        Ok(())
    }
}

/// What the PCK certificate's SGX extension says about the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckFacts {
    /// FMSPC (selects the TCB info).
    pub fmspc: [u8; 6],
    /// PCE-ID.
    pub pce_id: [u8; 2],
    /// The 16 SGX TCB component SVNs.
    pub sgx_components: [u8; 16],
    /// PCESVN.
    pub pce_svn: u16,
}

/// Read the SGX extension of a PCK certificate.
pub fn pck_facts(pck: &IntelCert) -> Result<PckFacts, TdxError> {
    let bad = |reason: String| TdxError::PckExtension { cert: pck.label(), reason };
    let exts = pck.x509.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let mut found = exts.iter().filter(|e| e.extn_id == sgx_ext::SGX);
    let ext = found.next().ok_or_else(|| bad("no SGX extension (1.2.840.113741.1.13.1)".into()))?;
    if found.next().is_some() {
        return Err(bad("SGX extension present twice".into()));
    }
    let entries = pairs(ext.extn_value.as_bytes()).map_err(|e| bad(format!("SGX extension: {e}")))?;
    let one = |oid: &ObjectIdentifier, name: &str| -> Result<der::asn1::Any, TdxError> {
        let mut it = entries.iter().filter(|(o, _)| o == oid);
        let v = it.next().ok_or_else(|| bad(format!("no {name}")))?;
        if it.next().is_some() {
            return Err(bad(format!("{name} present twice")));
        }
        Ok(v.1.clone())
    };
    let octets = |oid: &ObjectIdentifier, name: &str, len: usize| -> Result<Vec<u8>, TdxError> {
        let v = one(oid, name)?
            .decode_as::<der::asn1::OctetString>()
            .map_err(|e| bad(format!("{name}: {e}")))?
            .into_bytes();
        if v.len() != len {
            return Err(bad(format!("{name} is {} bytes, expected {len}", v.len())));
        }
        Ok(v)
    };
    let mut fmspc = [0u8; 6];
    fmspc.copy_from_slice(&octets(&sgx_ext::FMSPC, "FMSPC", 6)?);
    let mut pce_id = [0u8; 2];
    pce_id.copy_from_slice(&octets(&sgx_ext::PCEID, "PCE-ID", 2)?);

    let tcb = one(&sgx_ext::TCB, "TCB")?;
    let tcb_entries = pairs(&tcb.to_der().map_err(|e| bad(e.to_string()))?).map_err(|e| bad(format!("TCB: {e}")))?;
    let mut sgx_components = [0u8; 16];
    let mut seen = [false; 18];
    let mut pce_svn = None;
    let mut cpu_svn = None;
    for (oid, value) in &tcb_entries {
        let arcs: Vec<u32> = oid.arcs().collect();
        let base: Vec<u32> = sgx_ext::TCB.arcs().collect();
        let index = match arcs.split_last() {
            Some((last, parent)) if parent == base.as_slice() => *last,
            _ => return Err(bad(format!("TCB holds unknown OID {oid}"))),
        };
        let slot = usize::try_from(index)
            .ok()
            .filter(|i| (1..=18).contains(i))
            .ok_or_else(|| bad(format!("TCB holds unknown component {index}")))?;
        if std::mem::replace(&mut seen[slot - 1], true) {
            return Err(bad(format!("TCB component {index} present twice")));
        }
        match slot {
            1..=16 => {
                sgx_components[slot - 1] =
                    value.decode_as::<u8>().map_err(|e| bad(format!("SGX TCB component {index}: {e}")))?;
            }
            17 => pce_svn = Some(value.decode_as::<u16>().map_err(|e| bad(format!("PCESVN: {e}")))?),
            _ => {
                let v = value.decode_as::<der::asn1::OctetString>().map_err(|e| bad(format!("CPUSVN: {e}")))?;
                cpu_svn = Some(v.into_bytes());
            }
        }
    }
    if let Some(missing) = seen[..17].iter().position(|s| !s) {
        return Err(bad(format!("TCB lacks component {}", missing + 1)));
    }
    // CPUSVN (.18) restates the 16 components; a certificate where they differ is
    // ambiguous about which TCB it was issued for.
    if let Some(cpu_svn) = cpu_svn
        && cpu_svn != sgx_components
    {
        return Err(bad(format!(
            "CPUSVN {} disagrees with the TCB components {}",
            hex::encode(cpu_svn),
            hex::encode(sgx_components)
        )));
    }
    Ok(PckFacts { fmspc, pce_id, sgx_components, pce_svn: pce_svn.unwrap_or_default() })
}

/// A DER SEQUENCE OF SEQUENCE { OID, ANY }, as the SGX extension nests them.
fn pairs(der_bytes: &[u8]) -> Result<Vec<(ObjectIdentifier, der::asn1::Any)>, der::Error> {
    use der::Reader as _;
    let seq = der::asn1::Any::from_der(der_bytes)?;
    if der::Tagged::tag(&seq) != der::Tag::Sequence {
        return Err(der::Tag::Sequence.value_error());
    }
    let mut reader = der::SliceReader::new(seq.value())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let item = der::asn1::Any::decode(&mut reader)?;
        if der::Tagged::tag(&item) != der::Tag::Sequence {
            return Err(der::Tag::Sequence.value_error());
        }
        let mut inner = der::SliceReader::new(item.value())?;
        let oid = ObjectIdentifier::decode(&mut inner)?;
        let value = der::asn1::Any::decode(&mut inner)?;
        inner.finish(())?;
        out.push((oid, value));
    }
    Ok(out)
}
