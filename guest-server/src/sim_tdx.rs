//! SIMULATED Intel TDX attestation for development and tests — NOT CONFIDENTIAL.
//!
//! A test PKI laid out like Intel's, all ECDSA P-256/SHA-256:
//!
//! ```text
//! cvm-console SIMULATED TDX Root CA ─┬─ Intel SGX PCK Platform CA ─ Intel SGX PCK Certificate
//!  (the policy's trusted root)       │        └ PCK CRL                  └ QE report ─ attestation key ─ quote
//!                                    ├─ Intel SGX TCB Signing ─ TCB info, QE identity
//!                                    └ root CA CRL
//! ```
//!
//! with a simulated quoting enclave that builds byte-exact v4/v5 quotes, and fresh
//! collateral (TCB info, QE identity, CRLs) signed by the test TCB signing key.
//! Simulated quotes go through the very same verifier as hardware quotes; only the
//! root differs, and a client accepts it only when its policy names this root. The
//! names below the root are Intel's, because the verifier checks them; the
//! organisation says SIMULATED. Keys live in files named `*-TEST-KEY.pem`.
//!
//! Every field is a parameter ([`PlatformSpec`], [`CollateralSpec`]) so that the
//! negative tests make valid signatures over wrong content: another FMSPC, an
//! out-of-date level, a revoked PCK, stale collateral.

use std::path::Path;
use std::time::Duration;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{Any, BitString, OctetString, SetOfVec};
use der::{DecodePem, Encode, EncodePem, Tag};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use cvmc_protocol::tdx::Collateral;
use cvmc_protocol::tdx::certs::{OID_ECDSA_SHA256, cn, sgx_ext};
use cvmc_protocol::tdx::quote::{
    ATT_KEY_TYPE_ECDSA_P256, BODY_TD10, BODY_TD15, CERT_TYPE_PCK_CHAIN, Header, INTEL_QE_VENDOR_ID, Quote, SgxReport,
    TD_ATTR_SEPT_VE_DISABLE, TEE_TYPE_TDX, TdReport,
};

use crate::sim::{SimError, now_unix};

/// The MRTD simulated TDs report: SHA-384 of a fixed label, so a policy written by
/// `sim-init --tee tdx` stays valid across chains.
pub fn simulated_mrtd() -> [u8; 48] {
    sha2::Sha384::digest(b"cvm-console SIMULATED TD - not a real MRTD").into()
}

/// MRSIGNER of the simulated TD quoting enclave.
pub fn simulated_qe_mrsigner() -> [u8; 32] {
    Sha256::digest(b"cvm-console SIMULATED TD quoting enclave").into()
}

const ORG: &str = "cvm-console SIMULATED - NOT CONFIDENTIAL";
/// Common name of the simulated root.
pub const ROOT_CN: &str = "cvm-console SIMULATED TDX Root CA";

fn enc(e: impl std::fmt::Display) -> SimError {
    SimError::Encode(e.to_string())
}

fn name(common: &str) -> Result<Name, SimError> {
    let attr = |oid: ObjectIdentifier, tag: Tag, v: &str| -> Result<RelativeDistinguishedName, SimError> {
        let atv = AttributeTypeAndValue { oid, value: Any::new(tag, v.as_bytes()).map_err(enc)? };
        Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).map_err(enc)?))
    };
    Ok(RdnSequence(vec![
        attr(rfc4519::CN, Tag::Utf8String, common)?,
        attr(rfc4519::O, Tag::Utf8String, ORG)?,
        attr(rfc4519::C, Tag::PrintableString, "US")?,
    ]))
}

fn time(secs: u64) -> Result<Time, SimError> {
    der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map(Time::GeneralTime).map_err(enc)
}

fn ecdsa_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None }
}

fn sign_der(key: &p256::ecdsa::SigningKey, msg: &[u8]) -> Result<BitString, SimError> {
    let sig: p256::ecdsa::Signature = key.sign(msg);
    BitString::from_bytes(sig.to_der().as_bytes()).map_err(enc)
}

fn sign_raw(key: &p256::ecdsa::SigningKey, msg: &[u8]) -> [u8; 64] {
    let sig: p256::ecdsa::Signature = key.sign(msg);
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    out
}

fn spki(key: &p256::ecdsa::SigningKey) -> Result<SubjectPublicKeyInfoOwned, SimError> {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(enc)
}

/// One certificate to issue.
struct Issue<'a> {
    issuer_key: &'a p256::ecdsa::SigningKey,
    issuer: &'a Name,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    serial: u32,
    validity: (u64, u64),
    ca: bool,
    extra: Vec<Extension>,
}

fn issue(i: Issue<'_>) -> Result<Certificate, SimError> {
    let mut extensions = i.extra;
    if i.ca {
        let bc = x509_cert::ext::pkix::BasicConstraints { ca: true, path_len_constraint: None };
        extensions.push(Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
            critical: true,
            extn_value: OctetString::new(bc.to_der().map_err(enc)?).map_err(enc)?,
        });
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(i.serial),
        signature: ecdsa_alg(),
        issuer: i.issuer.clone(),
        validity: Validity { not_before: time(i.validity.0)?, not_after: time(i.validity.1)? },
        subject: i.subject,
        subject_public_key_info: i.spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: (!extensions.is_empty()).then_some(extensions),
    };
    let signature = sign_der(i.issuer_key, &tbs.to_der().map_err(enc)?)?;
    Ok(Certificate { tbs_certificate: tbs, signature_algorithm: ecdsa_alg(), signature })
}

fn pem(cert: &Certificate) -> String {
    cert.to_pem(LineEnding::LF).unwrap_or_default()
}

/// What the PCK certificate says about the simulated platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    /// FMSPC.
    pub fmspc: [u8; 6],
    /// PCE-ID.
    pub pce_id: [u8; 2],
    /// The 16 SGX TCB components.
    pub sgx_components: [u8; 16],
    /// PCESVN.
    pub pce_svn: u16,
    /// The PCK certificate's serial number (for revocation tests).
    pub pck_serial: u32,
    /// The PCK certificate's validity, unix seconds.
    pub validity: (u64, u64),
}

impl Default for PlatformSpec {
    fn default() -> Self {
        let now = now_unix();
        Self {
            fmspc: [0x5f, 0xc0, 0x6f, 0, 0, 0],
            pce_id: [0, 0],
            sgx_components: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
            pce_svn: 13,
            pck_serial: 0x5c01,
            validity: (now.saturating_sub(86_400), now + 7 * 365 * 86_400),
        }
    }
}

/// One TCB level of the simulated TCB info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSpec {
    /// SGX components required.
    pub sgx: [u8; 16],
    /// PCESVN required.
    pub pce_svn: u16,
    /// TDX components required.
    pub tdx: [u8; 16],
    /// Intel's status name.
    pub status: &'static str,
    /// Advisory IDs.
    pub advisories: Vec<String>,
}

/// The simulated collateral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollateralSpec {
    /// FMSPC the TCB info is for.
    pub fmspc: [u8; 6],
    /// TCB levels, highest first.
    pub levels: Vec<LevelSpec>,
    /// TDX module `TDX_01` levels: (ISVSVN, status).
    pub module_levels: Vec<(u8, &'static str)>,
    /// QE identity levels: (ISVSVN, status).
    pub qe_levels: Vec<(u16, &'static str)>,
    /// issueDate and nextUpdate of TCB info and QE identity, and thisUpdate and
    /// nextUpdate of both CRLs, unix seconds.
    pub window: (u64, u64),
    /// PCK serials the PCK CRL lists.
    pub revoked_pcks: Vec<u32>,
}

impl CollateralSpec {
    /// Collateral that rates `platform` UpToDate, issued an hour ago, due in 30 days.
    pub fn up_to_date(platform: &PlatformSpec) -> Self {
        let now = now_unix();
        let mut tdx = [0u8; 16];
        tdx[2] = 2;
        Self {
            fmspc: platform.fmspc,
            levels: vec![LevelSpec {
                sgx: platform.sgx_components,
                pce_svn: platform.pce_svn,
                tdx,
                status: "UpToDate",
                advisories: Vec::new(),
            }],
            module_levels: vec![(3, "UpToDate")],
            qe_levels: vec![(4, "UpToDate")],
            window: (now.saturating_sub(3600), now + 30 * 86_400),
            revoked_pcks: Vec::new(),
        }
    }
}

fn rfc3339(secs: u64) -> String {
    cvmc_protocol::time::fmt_time(secs)
}

/// The simulated CA: root, PCK Platform CA and TCB signing keys.
pub struct SimTdxCa {
    root_key: p256::ecdsa::SigningKey,
    /// The self-signed test root (what a policy trusts).
    pub root: Certificate,
    ca_key: p256::ecdsa::SigningKey,
    /// The PCK Platform CA.
    pub ca: Certificate,
    tcb_key: p256::ecdsa::SigningKey,
    /// The TCB signing certificate.
    pub tcb_signing: Certificate,
}

impl std::fmt::Debug for SimTdxCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimTdxCa(TEST KEYS)")
    }
}

const FILES: [&str; 6] = [
    "tdx-root.pem",
    "tdx-root-TEST-KEY.pem",
    "tdx-pck-ca.pem",
    "tdx-pck-ca-TEST-KEY.pem",
    "tdx-tcb-signing.pem",
    "tdx-tcb-signing-TEST-KEY.pem",
];

impl SimTdxCa {
    /// A new test CA, valid from a day ago for 25 years.
    pub fn generate() -> Result<Self, SimError> {
        let now = now_unix();
        let validity = (now.saturating_sub(86_400), now + 25 * 365 * 86_400);
        let root_key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let ca_key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let tcb_key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let root_name = name(ROOT_CN)?;
        let root = issue(Issue {
            issuer_key: &root_key,
            issuer: &root_name,
            subject: root_name.clone(),
            spki: spki(&root_key)?,
            serial: 1,
            validity,
            ca: true,
            extra: Vec::new(),
        })?;
        let ca = issue(Issue {
            issuer_key: &root_key,
            issuer: &root_name,
            subject: name(cn::PLATFORM_CA)?,
            spki: spki(&ca_key)?,
            serial: 2,
            validity,
            ca: true,
            extra: Vec::new(),
        })?;
        let tcb_signing = issue(Issue {
            issuer_key: &root_key,
            issuer: &root_name,
            subject: name(cn::TCB_SIGNING)?,
            spki: spki(&tcb_key)?,
            serial: 3,
            validity,
            ca: false,
            extra: Vec::new(),
        })?;
        Ok(Self { root_key, root, ca_key, ca, tcb_key, tcb_signing })
    }

    /// The root as PEM (what `trusted_roots` names).
    pub fn root_pem(&self) -> String {
        pem(&self.root)
    }

    /// Write the certificates and TEST keys into `dir` (keys 0600).
    pub fn save(&self, dir: &Path) -> Result<(), SimError> {
        let key = |k: &p256::ecdsa::SigningKey| {
            k.to_pkcs8_pem(LineEnding::LF).map(|s| s.to_string()).map_err(|e| SimError::Key(e.to_string()))
        };
        let contents = [
            pem(&self.root),
            key(&self.root_key)?,
            pem(&self.ca),
            key(&self.ca_key)?,
            pem(&self.tcb_signing),
            key(&self.tcb_key)?,
        ];
        for (file, text) in FILES.iter().zip(contents) {
            let path = dir.join(file);
            let write = if file.contains("TEST-KEY") {
                cvmc_io::files::write_private(&path, text.as_bytes())
            } else {
                std::fs::write(&path, text)
            };
            write.map_err(|e| SimError::File { path: path.display().to_string(), reason: e.to_string() })?;
        }
        Ok(())
    }

    /// Load what [`SimTdxCa::save`] wrote.
    pub fn load(dir: &Path) -> Result<Self, SimError> {
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path)
                .map_err(|e| SimError::File { path: path.display().to_string(), reason: e.to_string() })
        };
        let cert = |file: &str| -> Result<Certificate, SimError> {
            Certificate::from_pem(read(file)?.as_bytes())
                .map_err(|e| SimError::File { path: dir.join(file).display().to_string(), reason: e.to_string() })
        };
        let key = |file: &str| -> Result<p256::ecdsa::SigningKey, SimError> {
            p256::ecdsa::SigningKey::from_pkcs8_pem(&read(file)?)
                .map_err(|e| SimError::File { path: dir.join(file).display().to_string(), reason: e.to_string() })
        };
        Ok(Self {
            root: cert(FILES[0])?,
            root_key: key(FILES[1])?,
            ca: cert(FILES[2])?,
            ca_key: key(FILES[3])?,
            tcb_signing: cert(FILES[4])?,
            tcb_key: key(FILES[5])?,
        })
    }

    /// Whether `dir` holds a saved TDX CA.
    pub fn exists(dir: &Path) -> bool {
        dir.join(FILES[0]).is_file()
    }

    /// Issue a PCK certificate for a platform and make its quoting enclave.
    pub fn platform(&self, spec: &PlatformSpec) -> Result<SimTdxPlatform, SimError> {
        let pck_key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let any = |tag: Tag, v: &[u8]| Any::new(tag, v).map_err(enc);
        let pair = |oid: ObjectIdentifier, value: Any| -> Result<Vec<u8>, SimError> {
            let mut inner = oid.to_der().map_err(enc)?;
            inner.extend(value.to_der().map_err(enc)?);
            any(Tag::Sequence, &inner)?.to_der().map_err(enc)
        };
        let sub = |i: u32| -> Result<ObjectIdentifier, SimError> {
            ObjectIdentifier::new(&format!("{}.{i}", sgx_ext::TCB)).map_err(enc)
        };
        let mut tcb = Vec::new();
        for (i, svn) in spec.sgx_components.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(0) + 1;
            tcb.extend(pair(sub(i)?, Any::encode_from(svn).map_err(enc)?)?);
        }
        tcb.extend(pair(sub(17)?, Any::encode_from(&spec.pce_svn).map_err(enc)?)?);
        tcb.extend(pair(sub(18)?, any(Tag::OctetString, &spec.sgx_components)?)?);
        let mut body = Vec::new();
        body.extend(pair(sgx_ext::PPID, any(Tag::OctetString, &[0x5a; 16])?)?);
        body.extend(pair(sgx_ext::TCB, any(Tag::Sequence, &tcb)?)?);
        body.extend(pair(sgx_ext::PCEID, any(Tag::OctetString, &spec.pce_id)?)?);
        body.extend(pair(sgx_ext::FMSPC, any(Tag::OctetString, &spec.fmspc)?)?);
        body.extend(pair(sgx_ext::SGX_TYPE, any(Tag::Enumerated, &[0])?)?);
        let sgx = Extension {
            extn_id: sgx_ext::SGX,
            critical: false,
            extn_value: OctetString::new(any(Tag::Sequence, &body)?.to_der().map_err(enc)?).map_err(enc)?,
        };
        let pck = issue(Issue {
            issuer_key: &self.ca_key,
            issuer: &self.ca.tbs_certificate.subject,
            subject: name(cn::PCK)?,
            spki: spki(&pck_key)?,
            serial: spec.pck_serial,
            validity: spec.validity,
            ca: false,
            extra: vec![sgx],
        })?;

        // The quoting enclave: a fresh attestation key, vouched for by the QE
        // report (report data = SHA-256(key || auth data)), signed by the PCK key.
        let ak = p256::ecdsa::SigningKey::random(&mut OsRng);
        let point = ak.verifying_key().to_encoded_point(false);
        let mut attestation_key = [0u8; 64];
        attestation_key.copy_from_slice(&point.as_bytes()[1..]);
        let qe_auth_data: Vec<u8> = (0u8..32).collect();
        let mut report_data = [0u8; 64];
        report_data[..32]
            .copy_from_slice(&Sha256::new().chain_update(attestation_key).chain_update(&qe_auth_data).finalize());
        let mut attributes = [0u8; 16];
        attributes[0] = 0x11;
        let qe_report = SgxReport {
            cpu_svn: spec.sgx_components,
            misc_select: 0,
            attributes,
            mr_enclave: Sha256::digest(b"cvm-console SIMULATED TD QE enclave").into(),
            mr_signer: simulated_qe_mrsigner(),
            isv_prod_id: 2,
            isv_svn: 4,
            report_data,
        };
        let qe_report_signature = sign_raw(&pck_key, &qe_report.to_bytes());
        let chain = format!("{}{}{}", pem(&pck), pem(&self.ca), pem(&self.root));
        Ok(SimTdxPlatform {
            spec: spec.clone(),
            ak,
            attestation_key,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            pck_chain_pem: chain.into_bytes(),
        })
    }

    fn crl(
        &self,
        key: &p256::ecdsa::SigningKey,
        issuer: &Name,
        revoked: &[u32],
        window: (u64, u64),
    ) -> Result<Vec<u8>, SimError> {
        let revoked_certificates = revoked
            .iter()
            .map(|s| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::from(*s),
                    revocation_date: time(window.0)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        let tbs = TbsCertList {
            version: Version::V2,
            signature: ecdsa_alg(),
            issuer: issuer.clone(),
            this_update: time(window.0)?,
            next_update: Some(time(window.1)?),
            revoked_certificates: (!revoked_certificates.is_empty()).then_some(revoked_certificates),
            // RFC 5280 5.2.3: a conforming CRL carries its CRL number.
            crl_extensions: Some(vec![Extension {
                extn_id: const_oid::db::rfc5280::ID_CE_CRL_NUMBER,
                critical: false,
                extn_value: OctetString::new(1u32.to_der().map_err(enc)?).map_err(enc)?,
            }]),
        };
        let signature = sign_der(key, &tbs.to_der().map_err(enc)?)?;
        CertificateList { tbs_cert_list: tbs, signature_algorithm: ecdsa_alg(), signature }.to_der().map_err(enc)
    }

    /// Collateral as [`CollateralSpec`] describes it, signed by the test keys.
    pub fn collateral(&self, spec: &CollateralSpec) -> Result<Collateral, SimError> {
        let comps = |svns: &[u8; 16]| svns.iter().map(|s| serde_json::json!({ "svn": s })).collect::<Vec<_>>();
        let levels: Vec<_> = spec
            .levels
            .iter()
            .map(|l| {
                serde_json::json!({
                    "tcb": { "sgxtcbcomponents": comps(&l.sgx), "pcesvn": l.pce_svn, "tdxtcbcomponents": comps(&l.tdx) },
                    "tcbDate": rfc3339(spec.window.0),
                    "tcbStatus": l.status,
                    "advisoryIDs": l.advisories,
                })
            })
            .collect();
        let isv_levels = |levels: &[(u16, &str)]| {
            levels
                .iter()
                .map(|(svn, status)| {
                    serde_json::json!({ "tcb": { "isvsvn": svn }, "tcbDate": rfc3339(spec.window.0), "tcbStatus": status })
                })
                .collect::<Vec<_>>()
        };
        let zero48 = "00".repeat(48);
        let module_levels: Vec<(u16, &str)> = spec.module_levels.iter().map(|(s, st)| (u16::from(*s), *st)).collect();
        let tcb_info = serde_json::json!({
            "id": "TDX",
            "version": 3,
            "issueDate": rfc3339(spec.window.0),
            "nextUpdate": rfc3339(spec.window.1),
            "fmspc": hex::encode_upper(spec.fmspc),
            "pceId": "0000",
            "tcbType": 0,
            "tcbEvaluationDataNumber": 17,
            "tdxModule": { "mrsigner": zero48, "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF" },
            "tdxModuleIdentities": [{
                "id": "TDX_01",
                "mrsigner": zero48,
                "attributes": "0000000000000000",
                "attributesMask": "FFFFFFFFFFFFFFFF",
                "tcbLevels": isv_levels(&module_levels),
            }],
            "tcbLevels": levels,
        })
        .to_string();
        let qe_identity = serde_json::json!({
            "id": "TD_QE",
            "version": 2,
            "issueDate": rfc3339(spec.window.0),
            "nextUpdate": rfc3339(spec.window.1),
            "tcbEvaluationDataNumber": 17,
            "miscselect": "00000000",
            "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": hex::encode_upper(simulated_qe_mrsigner()),
            "isvprodid": 2,
            "tcbLevels": isv_levels(&spec.qe_levels),
        })
        .to_string();
        let tcb_chain = format!("{}{}", pem(&self.tcb_signing), pem(&self.root));
        Ok(Collateral {
            pck_crl_issuer_chain: format!("{}{}", pem(&self.ca), pem(&self.root)),
            root_ca_crl: hex::encode(self.crl(&self.root_key, &self.root.tbs_certificate.subject, &[], spec.window)?),
            pck_crl: hex::encode(self.crl(
                &self.ca_key,
                &self.ca.tbs_certificate.subject,
                &spec.revoked_pcks,
                spec.window,
            )?),
            tcb_info_issuer_chain: tcb_chain.clone(),
            tcb_info_signature: hex::encode(sign_raw(&self.tcb_key, tcb_info.as_bytes())),
            tcb_info,
            qe_identity_issuer_chain: tcb_chain,
            qe_identity_signature: hex::encode(sign_raw(&self.tcb_key, qe_identity.as_bytes())),
            qe_identity,
        })
    }
}

/// A simulated TDX platform: its PCK certificate chain and quoting enclave.
pub struct SimTdxPlatform {
    /// What the PCK certificate says.
    pub spec: PlatformSpec,
    ak: p256::ecdsa::SigningKey,
    attestation_key: [u8; 64],
    qe_report: SgxReport,
    qe_report_signature: [u8; 64],
    qe_auth_data: Vec<u8>,
    /// PCK leaf, CA and root, PEM.
    pub pck_chain_pem: Vec<u8>,
}

impl std::fmt::Debug for SimTdxPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimTdxPlatform(FMSPC {}, TEST KEYS)", hex::encode(self.spec.fmspc))
    }
}

impl SimTdxPlatform {
    /// A TD report as a healthy simulated TD produces it: TDX module 1.x at SVN 3,
    /// SEPT_VE_DISABLE set, debug off, the simulated MRTD.
    pub fn td_template(&self, report_data: [u8; 64]) -> TdReport {
        let mut tee_tcb_svn = [0u8; 16];
        tee_tcb_svn[..3].copy_from_slice(&[3, 1, 2]);
        TdReport {
            tee_tcb_svn,
            mr_seam: sha2::Sha384::digest(b"cvm-console SIMULATED TDX module").into(),
            mr_signer_seam: [0; 48],
            seam_attributes: [0; 8],
            td_attributes: TD_ATTR_SEPT_VE_DISABLE.to_le_bytes(),
            xfam: 0x0006_02e7u64.to_le_bytes(),
            mr_td: simulated_mrtd(),
            mr_config_id: [0; 48],
            mr_owner: [0; 48],
            mr_owner_config: [0; 48],
            rtmr: [[0; 48]; 4],
            report_data,
            tee_tcb_svn2: None,
            mr_service_td: None,
        }
    }

    /// A quote over `td`: version 4 for a TD 1.0 report, version 5 for TD 1.5.
    pub fn quote(&self, td: &TdReport) -> Vec<u8> {
        let v5 = td.tee_tcb_svn2.is_some();
        let header = Header {
            version: if v5 { 5 } else { 4 },
            att_key_type: ATT_KEY_TYPE_ECDSA_P256,
            tee_type: TEE_TYPE_TDX,
            qe_svn: 0,
            pce_svn: self.spec.pce_svn,
            qe_vendor_id: INTEL_QE_VENDOR_ID,
            user_data: [0; 20],
        };
        let body_type = if v5 { BODY_TD15 } else { BODY_TD10 };
        let signed = Quote::encode_signed(&header, body_type, td);
        let quote = Quote {
            header,
            body_type,
            td: td.clone(),
            signed_len: signed.len(),
            signature: sign_raw(&self.ak, &signed),
            attestation_key: self.attestation_key,
            qe_report_range: 0..0,
            qe_report: self.qe_report.clone(),
            qe_report_signature: self.qe_report_signature,
            qe_auth_data: self.qe_auth_data.clone(),
            pck_cert_type: CERT_TYPE_PCK_CHAIN,
            pck_cert_data: self.pck_chain_pem.clone(),
            trailing: 0,
        };
        quote.to_bytes()
    }
}
