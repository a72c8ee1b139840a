//! SIMULATED attestation for development and tests — NOT CONFIDENTIAL.
//!
//! A test chain laid out like AMD's (ARK -> ASK -> VCEK, RSA-4096 RSASSA-PSS
//! SHA-384 above a P-384 VCEK carrying AMD's name fields and VCEK or VLEK extensions)
//! and a signer for byte-exact SEV-SNP reports. Simulated evidence goes through
//! the very same verifier as hardware evidence; a client accepts it only when its
//! trust policy names this chain's root, and then shows "SIMULATED - NOT
//! CONFIDENTIAL". The keys live in files named `*-TEST-KEY.pem`.
//!
//! Deliberately malformed chains (a missing extension, another chip, expired) are
//! made here too, so that negative tests exercise the verifier with valid
//! signatures over wrong content.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{Any, BitString, OctetString, SetOfVec};
use der::{Encode, Tag};
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::{OsRng, RngCore};
use rsa::pkcs8::spki::DynSignatureAlgorithmIdentifier;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use sha2::{Digest, Sha384};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use cvmc_protocol::snp::certs::ext;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, ReportSignature, SIG_ALGO_ECDSA_P384_SHA384, SigningKey};
use cvmc_protocol::snp::tcb::Tcb;

/// Errors making or using a simulated chain.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulated chain: key generation failed: {0}")]
    Key(String),
    #[error("simulated chain: certificate encoding failed: {0}")]
    Encode(String),
    #[error("simulated chain: {path}: {reason}")]
    File { path: String, reason: String },
}

/// The launch digest simulated guests report: SHA-384 of a fixed label, so a
/// policy written by `sim-init` stays valid across chains.
pub fn simulated_measurement() -> [u8; 48] {
    Sha384::digest(b"cvm-console SIMULATED guest - not a real launch measurement").into()
}

/// What kind of endorsement key to issue, and how (for negative tests) to bend it.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// VCEK or VLEK.
    pub kind: SigningKey,
    /// TCB the certificate is issued for.
    pub tcb: Tcb,
    /// Chip id (hwID) the VCEK names (first 8 bytes on Turin).
    pub chip_id: [u8; 64],
    /// Extensions to leave out.
    pub omit: Vec<ObjectIdentifier>,
    /// Validity window in unix seconds.
    pub validity: (u64, u64),
}

/// Standard AMD name fields with the given common name, in AMD's RDN order.
fn amd_name(cn: &str) -> Result<Name, SimError> {
    let enc = |e: der::Error| SimError::Encode(e.to_string());
    let attr = |oid: ObjectIdentifier, tag: Tag, v: &str| -> Result<RelativeDistinguishedName, SimError> {
        let atv = AttributeTypeAndValue { oid, value: Any::new(tag, v.as_bytes()).map_err(enc)? };
        Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).map_err(enc)?))
    };
    Ok(RdnSequence(vec![
        attr(rfc4519::OU, Tag::Utf8String, "Engineering")?,
        attr(rfc4519::C, Tag::PrintableString, "US")?,
        attr(rfc4519::L, Tag::Utf8String, "Santa Clara")?,
        attr(rfc4519::ST, Tag::Utf8String, "CA")?,
        attr(rfc4519::O, Tag::Utf8String, "Advanced Micro Devices")?,
        attr(rfc4519::CN, Tag::Utf8String, cn)?,
    ]))
}

fn unix_time(secs: u64) -> Result<Time, SimError> {
    let g = der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|e| SimError::Encode(e.to_string()))?;
    Ok(Time::GeneralTime(g))
}

fn extension(oid: ObjectIdentifier, critical: bool, contents: Vec<u8>) -> Result<Extension, SimError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(contents).map_err(|e| SimError::Encode(e.to_string()))?,
    })
}

fn der_of<T: Encode>(v: &T) -> Result<Vec<u8>, SimError> {
    v.to_der().map_err(|e| SimError::Encode(e.to_string()))
}

/// Sign a TBS with an RSA-PSS SHA-384 key (salt 48, as AMD does) and assemble.
#[allow(clippy::too_many_arguments)]
fn issue(
    issuer_key: &rsa::pss::SigningKey<sha2::Sha384>,
    issuer: &Name,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    serial: u32,
    validity: (u64, u64),
    extensions: Vec<Extension>,
) -> Result<Certificate, SimError> {
    let enc = |e: &dyn std::fmt::Display| SimError::Encode(e.to_string());
    let alg = issuer_key.signature_algorithm_identifier().map_err(|e| enc(&e))?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(serial),
        signature: alg.clone(),
        issuer: issuer.clone(),
        validity: Validity { not_before: unix_time(validity.0)?, not_after: unix_time(validity.1)? },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: (!extensions.is_empty()).then_some(extensions),
    };
    let sig = issuer_key.try_sign_with_rng(&mut OsRng, &der_of(&tbs)?).map_err(|e| enc(&e))?;
    let signature = BitString::from_bytes(&sig.to_bytes()).map_err(|e| enc(&e))?;
    Ok(Certificate { tbs_certificate: tbs, signature_algorithm: alg, signature })
}

fn basic_constraints_ca() -> Result<Extension, SimError> {
    let bc = x509_cert::ext::pkix::BasicConstraints { ca: true, path_len_constraint: None };
    extension(const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS, true, der_of(&bc)?)
}

fn rsa_spki(key: &rsa::RsaPrivateKey) -> Result<SubjectPublicKeyInfoOwned, SimError> {
    SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| SimError::Encode(e.to_string()))
}

/// Current unix time, for validity windows.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A simulated AMD CA (ARK and ASK keys) that can issue endorsement keys.
pub struct SimCa {
    /// Product whose names the chain imitates.
    pub product: Product,
    ark_key: rsa::pss::SigningKey<sha2::Sha384>,
    ask_key: rsa::pss::SigningKey<sha2::Sha384>,
    /// Self-signed test root.
    pub ark: Certificate,
    /// Test intermediate (ASK, or ASVK when made with `asvk = true`).
    pub ask: Certificate,
    /// A test ASVK for issuing VLEKs.
    pub asvk: Certificate,
    asvk_key: rsa::pss::SigningKey<sha2::Sha384>,
}

impl std::fmt::Debug for SimCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimCa({}, TEST KEYS)", self.product)
    }
}

/// RSA-4096 like AMD's; `bits` is smaller only where a test says so explicitly.
fn rsa_key(bits: usize) -> Result<rsa::RsaPrivateKey, SimError> {
    rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| SimError::Key(e.to_string()))
}

impl SimCa {
    /// A new test CA for `product` with RSA-4096 keys, valid from a day ago for 25 years.
    pub fn generate(product: Product) -> Result<Self, SimError> {
        let now = now_unix();
        let validity = (now.saturating_sub(86_400), now + 25 * 365 * 86_400);
        let ark_key = rsa::pss::SigningKey::<sha2::Sha384>::new(rsa_key(4096)?);
        let ask_key = rsa::pss::SigningKey::<sha2::Sha384>::new(rsa_key(4096)?);
        let asvk_key = rsa::pss::SigningKey::<sha2::Sha384>::new(rsa_key(4096)?);
        let ark_name = amd_name(&format!("ARK-{product}"))?;
        let ca_ext = || -> Result<Vec<Extension>, SimError> { Ok(vec![basic_constraints_ca()?]) };
        let ark =
            issue(&ark_key, &ark_name, ark_name.clone(), rsa_spki(ark_key.as_ref())?, 0x10000, validity, ca_ext()?)?;
        let ask = issue(
            &ark_key,
            &ark_name,
            amd_name(&format!("SEV-{product}"))?,
            rsa_spki(ask_key.as_ref())?,
            0x10001,
            validity,
            ca_ext()?,
        )?;
        let asvk = issue(
            &ark_key,
            &ark_name,
            amd_name(&format!("SEV-VLEK-{product}"))?,
            rsa_spki(asvk_key.as_ref())?,
            0x10002,
            validity,
            ca_ext()?,
        )?;
        Ok(Self { product, ark_key, ask_key, ark, ask, asvk, asvk_key })
    }

    /// A CRL as AMD's KDS serves it (DER, RSA-PSS SHA-384 by the ARK), valid over
    /// `window` (unix seconds) and listing the serial numbers of `revoked`.
    pub fn crl(&self, revoked: &[&Certificate], window: (u64, u64)) -> Result<Vec<u8>, SimError> {
        use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
        let enc = |e: &dyn std::fmt::Display| SimError::Encode(e.to_string());
        let alg = self.ark_key.signature_algorithm_identifier().map_err(|e| enc(&e))?;
        let entries = revoked
            .iter()
            .map(|c| {
                Ok(RevokedCert {
                    serial_number: c.tbs_certificate.serial_number.clone(),
                    revocation_date: unix_time(window.0)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        let tbs = TbsCertList {
            version: Version::V2,
            signature: alg.clone(),
            issuer: self.ark.tbs_certificate.subject.clone(),
            this_update: unix_time(window.0)?,
            next_update: Some(unix_time(window.1)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: None,
        };
        let sig = self.ark_key.try_sign_with_rng(&mut OsRng, &der_of(&tbs)?).map_err(|e| enc(&e))?;
        let signature = BitString::from_bytes(&sig.to_bytes()).map_err(|e| enc(&e))?;
        der_of(&CertificateList { tbs_cert_list: tbs, signature_algorithm: alg, signature })
    }

    /// Root certificate as DER.
    pub fn ark_der(&self) -> Vec<u8> {
        self.ark.to_der().unwrap_or_default()
    }

    /// ASK as DER.
    pub fn ask_der(&self) -> Vec<u8> {
        self.ask.to_der().unwrap_or_default()
    }

    /// ASVK as DER.
    pub fn asvk_der(&self) -> Vec<u8> {
        self.asvk.to_der().unwrap_or_default()
    }

    /// A leaf spec with realistic values: Milan-like TCB, a random chip id, valid now.
    pub fn default_leaf(&self, kind: SigningKey) -> LeafSpec {
        let mut chip_id = [0u8; 64];
        OsRng.fill_bytes(&mut chip_id);
        if self.product.short_hwid() {
            chip_id[8..].fill(0);
        }
        let fmc = self.product.short_hwid().then_some(1);
        let now = now_unix();
        LeafSpec {
            kind,
            tcb: Tcb { bootloader: 4, tee: 0, snp: 0x18, microcode: 0xdb, fmc },
            chip_id,
            omit: Vec::new(),
            validity: (now.saturating_sub(86_400), now + 7 * 365 * 86_400),
        }
    }

    /// Issue a VCEK or VLEK with a fresh P-384 key.
    pub fn issue_leaf(&self, spec: &LeafSpec) -> Result<SimLeaf, SimError> {
        let key = p384::ecdsa::SigningKey::random(&mut OsRng);
        let spki =
            SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(|e| SimError::Encode(e.to_string()))?;
        let spl = |v: u8| der_of(&v);
        let mut exts: Vec<(ObjectIdentifier, Vec<u8>)> = vec![
            (ext::STRUCT_VERSION, der_of(&1u8)?),
            (
                ext::PRODUCT_NAME,
                der_of(
                    &der::asn1::Ia5StringRef::new(self.product.name()).map_err(|e| SimError::Encode(e.to_string()))?,
                )?,
            ),
            (ext::BL_SPL, spl(spec.tcb.bootloader)?),
            (ext::TEE_SPL, spl(spec.tcb.tee)?),
            (ext::SNP_SPL, spl(spec.tcb.snp)?),
            (ext::UCODE_SPL, spl(spec.tcb.microcode)?),
        ];
        if let Some(fmc) = spec.tcb.fmc {
            exts.push((ext::FMC_SPL, spl(fmc)?));
        }
        let (subject, issuer, issuer_key) = match spec.kind {
            SigningKey::Vlek => {
                let csp = der::asn1::Ia5StringRef::new("CN=cvm-console-simulated-csp")
                    .map_err(|e| SimError::Encode(e.to_string()))?;
                exts.push((ext::CSP_ID, der_of(&csp)?));
                ("SEV-VLEK", &self.asvk, &self.asvk_key)
            }
            _ => {
                let hwid_len = if self.product.short_hwid() { 8 } else { 64 };
                exts.push((ext::HWID, spec.chip_id[..hwid_len].to_vec()));
                ("SEV-VCEK", &self.ask, &self.ask_key)
            }
        };
        let extensions = exts
            .into_iter()
            .filter(|(oid, _)| !spec.omit.contains(oid))
            .map(|(oid, v)| extension(oid, false, v))
            .collect::<Result<Vec<_>, _>>()?;
        let cert =
            issue(issuer_key, &issuer.tbs_certificate.subject, amd_name(subject)?, spki, 0, spec.validity, extensions)?;
        Ok(SimLeaf { product: self.product, spec: spec.clone(), key, cert })
    }
}

/// A simulated VCEK/VLEK with its key: signs reports.
#[derive(Clone)]
pub struct SimLeaf {
    /// Product the chain imitates.
    pub product: Product,
    /// What it was issued with.
    pub spec: LeafSpec,
    key: p384::ecdsa::SigningKey,
    /// The certificate.
    pub cert: Certificate,
}

impl std::fmt::Debug for SimLeaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimLeaf({} {:?}, TEST KEY)", self.product, self.spec.kind)
    }
}

impl SimLeaf {
    /// Certificate DER.
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap_or_default()
    }

    /// Rebuild from a stored certificate and its PKCS#8 PEM test key.
    pub fn from_parts(product: Product, spec: LeafSpec, cert: Certificate, key_pem: &str) -> Result<Self, SimError> {
        let key = p384::ecdsa::SigningKey::from_pkcs8_pem(key_pem).map_err(|e| SimError::Key(e.to_string()))?;
        Ok(Self { product, spec, key, cert })
    }

    /// The private key as PKCS#8 PEM (TEST KEY).
    pub fn key_pem(&self) -> Result<String, SimError> {
        self.key.to_pkcs8_pem(LineEnding::LF).map(|s| s.to_string()).map_err(|e| SimError::Key(e.to_string()))
    }

    /// The public key as SPKI PEM.
    pub fn public_key_pem(&self) -> Result<String, SimError> {
        self.key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| SimError::Key(e.to_string()))
    }

    /// A report as a healthy simulated guest would produce it: version 3 (version 5
    /// on Turin), the leaf's TCB and chip, debug and migration off, VMPL 0.
    pub fn report_template(&self, report_data: [u8; 64]) -> Report {
        let raw_tcb = self.spec.tcb.encode(self.product);
        let (version, cpuid) = match self.product {
            Product::Milan => (3, (0x19, 0x01, 0x01)),
            Product::Genoa => (3, (0x19, 0x11, 0x01)),
            Product::Turin => (5, (0x1A, 0x02, 0x01)),
        };
        let mut report_id = [0u8; 32];
        OsRng.fill_bytes(&mut report_id);
        Report {
            version,
            guest_svn: 1,
            // ABI 0.31, SMT allowed, reserved bit 17 set; DEBUG and MIGRATE_MA clear.
            policy: 0x3_001f,
            family_id: [0; 16],
            image_id: [0; 16],
            vmpl: 0,
            signature_algo: SIG_ALGO_ECDSA_P384_SHA384,
            current_tcb: raw_tcb,
            platform_info: 0x25,
            author_key_en: false,
            mask_chip_key: false,
            signing_key: self.spec.kind,
            report_data,
            measurement: simulated_measurement(),
            host_data: [0; 32],
            id_key_digest: [0; 48],
            author_key_digest: [0; 48],
            report_id,
            report_id_ma: [0xff; 32],
            reported_tcb: raw_tcb,
            cpuid: Some(cpuid),
            chip_id: if self.spec.kind == SigningKey::Vlek { [0; 64] } else { self.spec.chip_id },
            committed_tcb: raw_tcb,
            current_version: (1, 55, 29),
            committed_version: (1, 55, 29),
            launch_tcb: raw_tcb,
            mit_vectors: (version >= 5).then_some((0x3f, 0x3f)),
            signature: ReportSignature { r: [0; 72], s: [0; 72] },
        }
    }

    /// Sign the report body and return the 1184 bytes.
    pub fn sign(&self, report: &Report) -> Vec<u8> {
        let mut signed = report.clone();
        let sig: p384::ecdsa::Signature = self.key.sign(&report.encode_body());
        let mut bytes = [0u8; 96];
        bytes.copy_from_slice(&sig.to_bytes());
        signed.signature = ReportSignature::from_be_fixed(&bytes);
        signed.encode()
    }
}
