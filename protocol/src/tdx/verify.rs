//! The Intel TDX verifier: a pure function from quote bytes, collateral, the expected
//! binding, the trust policy, the trust anchors and the time to a verdict, as
//! [`crate::snp::verify`] is for SEV-SNP.
//!
//! ```text
//! quote ─ parse ─ PCK chain ─ root ─ CRLs ─ QE report sig ─ QE report data ─ quote sig
//!   ─ TCB info / QE identity (signature, freshness, FMSPC) ─ QE identity, TCB level,
//!   module identity, status ─ TD attributes ─ MRTD, RTMRs ─ binding
//! ```
//!
//! The checks follow Intel's DCAP Quote Verification Library for TDX and always run in
//! this order; the first failure is returned as its own [`TdxError`]. The pinned
//! Intel SGX Root CA is the only hardware root; a root the trust policy names (the
//! simulated TDX chain) is verified by the very same code and marked SIMULATED. The
//! PCK chain, the TCB signing key and both CRLs must all end in the same root, so a
//! test root can never vouch for collateral of a real quote or the reverse.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Check, VerifyError};
use crate::policy::{Hex, Policy, TdxPolicy};
use crate::snp::roots::{Anchor, TrustAnchors};
use crate::snp::verify::{ExpectedReportData, Passed};
use crate::tdx::certs::{Crl, IntelCert, PckFacts, cn, pck_facts, raw_p256_key, verify_raw_signature};
use crate::tdx::collateral::{Collateral, QeIdentity, TcbInfo, hex_any, hex_exact, parse_signed, parse_time};
use crate::tdx::error::TdxError;
use crate::tdx::quote::{
    CERT_TYPE_PCK_CHAIN, Quote, TD_ATTR_DEBUG, TD_ATTR_MIGRATABLE, TD_ATTR_RESERVED, TD_ATTR_SEPT_VE_DISABLE,
    TD_ATTR_SERVTD_EXT, TD_ATTR_TUD_OTHER,
};
use crate::tdx::tcb::{Judged, PlatformSvns, TcbStatus, isv_level, judge_platform, module_identity, with_qe};

const INTEL_ROOT_PEM: &[u8] = include_bytes!("../../../assets/intel/sgx_root_ca.pem");

/// A TDX quote that meets the policy.
#[derive(Debug, Clone)]
pub struct TdxVerified {
    /// The parsed quote.
    pub quote: Quote,
    /// Where the chain ends: Intel's root (hardware) or a policy root (simulated).
    pub anchor: Anchor,
    /// The platform's FMSPC (from the PCK certificate), hex.
    pub fmspc: String,
    /// The judged TCB: status, advisories.
    pub tcb: Judged,
    /// TCB evaluation data number of the TCB info used.
    pub tcb_evaluation_data_number: u32,
    /// The checks passed, in order, with details.
    pub passed: Vec<Passed>,
    /// Whether REPORTDATA was compared with a binding.
    pub binding_checked: bool,
    /// Relaxations in force that a person must see.
    pub warnings: Vec<String>,
    /// The collateral's latest issue date and earliest next update (unix seconds): the
    /// window in which this verdict could be repeated with this collateral.
    pub collateral_window: (u64, u64),
}

impl TdxVerified {
    /// True when the chain ends in a policy root instead of Intel's.
    pub fn simulated(&self) -> bool {
        !self.anchor.is_hardware()
    }
}

/// Intel's pinned SGX Root CA, parsed once (every verification needs it).
pub fn intel_root() -> Result<IntelCert, TdxError> {
    static ROOT: std::sync::OnceLock<Result<IntelCert, TdxError>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let (_, der) = der::pem::decode_vec(INTEL_ROOT_PEM).map_err(|e| TdxError::CertificateDecode {
            role: "Intel SGX Root CA (built-in)".into(),
            reason: e.to_string(),
        })?;
        IntelCert::from_der("Intel SGX Root CA (built-in)", &der)
    })
    .clone()
}

/// The FMSPC a quote's PCK certificate names, read without trusting it: what a
/// client needs to fetch or look up the collateral before verifying.
pub fn quote_fmspc(raw: &[u8]) -> Result<[u8; 6], VerifyError> {
    Ok(quote_platform(raw)?.0)
}

/// The FMSPC and the PCK CA (`platform` or `processor`, as Intel's PCS names the CRL to
/// fetch) of a quote, read without trusting them.
pub fn quote_platform(raw: &[u8]) -> Result<([u8; 6], &'static str), VerifyError> {
    let quote = Quote::parse(raw).map_err(TdxError::from)?;
    let chain = pck_chain(&quote)?;
    let ca = if chain[1].subject_cn == cn::PROCESSOR_CA { "processor" } else { "platform" };
    Ok((pck_facts(&chain[0])?.fmspc, ca))
}

fn pck_chain(quote: &Quote) -> Result<Vec<IntelCert>, TdxError> {
    if quote.pck_cert_type != CERT_TYPE_PCK_CHAIN {
        return Err(TdxError::NoPckChain { cert_type: quote.pck_cert_type });
    }
    let chain = IntelCert::chain_from_pem(
        "PCK certificate chain",
        &quote.pck_cert_data,
        &["PCK certificate", "PCK CA", "root CA (from the quote, ignored)"],
    )?;
    if chain.len() < 2 {
        return Err(TdxError::CertificateDecode {
            role: "PCK certificate chain".into(),
            reason: format!("{} certificate(s), expected the PCK certificate and its CA", chain.len()),
        });
    }
    Ok(chain)
}

/// Find the root that issued `ca`: Intel's pinned root, else a policy root.
fn find_root(anchors: &TrustAnchors, ca: &IntelCert) -> Result<(Anchor, IntelCert), TdxError> {
    let intel = intel_root()?;
    if ca.x509.tbs_certificate.issuer == intel.x509.tbs_certificate.subject && intel.check_issued(ca).is_ok() {
        return Ok((Anchor::IntelSgxRoot, intel));
    }
    for root in anchors.extra() {
        let Ok(der) = der::Encode::to_der(&root.cert.x509) else { continue };
        let Ok(cert) = IntelCert::from_der(&format!("policy root {}", root.label), &der) else { continue };
        if ca.x509.tbs_certificate.issuer == cert.x509.tbs_certificate.subject && cert.check_issued(ca).is_ok() {
            let fingerprint = hex::encode(Sha256::digest(&cert.der));
            return Ok((Anchor::PolicyRoot { label: root.label.clone(), fingerprint }, cert));
        }
    }
    Err(TdxError::UntrustedRoot {
        subject: ca.label(),
        issuer: crate::text::escape(&ca.x509.tbs_certificate.issuer.to_string()).into_owned(),
    })
}

/// The TCB signing certificate of an issuer chain, checked against `root`.
fn signing_cert(what: &'static str, pem: &str, root: &IntelCert, now: u64) -> Result<IntelCert, TdxError> {
    let chain = IntelCert::chain_from_pem(what, pem.as_bytes(), &["TCB signing certificate", "root CA (ignored)"])?;
    let signer = chain
        .into_iter()
        .next()
        .ok_or_else(|| TdxError::CertificateDecode { role: what.into(), reason: "empty".into() })?;
    signer.check_name(&[cn::TCB_SIGNING])?;
    root.check_issued(&signer).map_err(|e| match e {
        TdxError::ChainName { .. } | TdxError::ChainSignature { .. } => {
            TdxError::CollateralRoot { subject: signer.label(), root: root.label(), reason: e.to_string() }
        }
        other => other,
    })?;
    signer.check_validity(now)?;
    Ok(signer)
}

fn check_fresh(what: &'static str, issue: &str, next: &str, now: u64) -> Result<(u64, u64), TdxError> {
    let issued = parse_time(what, issue)?;
    let next_update = parse_time(what, next)?;
    if now < issued || now > next_update {
        return Err(TdxError::CollateralStale { what, issued, next_update, now });
    }
    Ok((issued, next_update))
}

fn check_doc_signature(what: &'static str, signer: &IntelCert, text: &str, sig_hex: &str) -> Result<(), TdxError> {
    let sig: [u8; 64] = hex_exact(what, sig_hex.trim())?;
    verify_raw_signature(&signer.p256_key()?, text.as_bytes(), &sig)
        .map_err(|reason| TdxError::CollateralSignature { what, reason })
}

/// Verify one TDX quote. `now` is unix seconds (the caller reads the clock, or takes
/// `--at` for a stored quote).
pub fn verify_tdx(
    raw: &[u8],
    collateral: &Collateral,
    expected: &ExpectedReportData,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<TdxVerified, VerifyError> {
    verify_inner(raw, collateral, expected, policy, anchors, now).map_err(|e| match e {
        Inner::Tdx(e) => VerifyError::Tdx(e),
        Inner::Other(e) => e,
    })
}

enum Inner {
    Tdx(TdxError),
    Other(VerifyError),
}

impl From<TdxError> for Inner {
    fn from(e: TdxError) -> Self {
        Self::Tdx(e)
    }
}

fn verify_inner(
    raw: &[u8],
    collateral: &Collateral,
    expected: &ExpectedReportData,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<TdxVerified, Inner> {
    let mut passed = Vec::new();
    let mut pass = |check, detail: String| passed.push(Passed { check, detail });
    let mut warnings: Vec<String> = policy.warnings().into_iter().map(String::from).collect();
    let default_tdx = TdxPolicy::default();
    let tdx_policy = policy.tdx.as_ref().unwrap_or(&default_tdx);

    // Format.
    let quote = Quote::parse(raw).map_err(TdxError::from)?;
    let td = &quote.td;
    pass(
        Check::Format,
        format!(
            "TDX quote v{} (TD {}), {} bytes{}",
            quote.header.version,
            if td.tee_tcb_svn2.is_some() { "1.5" } else { "1.0" },
            raw.len(),
            if quote.trailing > 0 {
                format!(", {} unsigned trailing bytes ignored", quote.trailing)
            } else {
                String::new()
            }
        ),
    );

    // Chain: PCK certificate <- PCK Platform/Processor CA.
    let chain = pck_chain(&quote)?;
    let (pck, ca) = (&chain[0], &chain[1]);
    pck.check_name(&[cn::PCK])?;
    ca.check_name(&[cn::PLATFORM_CA, cn::PROCESSOR_CA])?;
    ca.check_issued(pck)?;
    ca.check_validity(now)?;
    pck.check_validity(now)?;
    let facts: PckFacts = pck_facts(pck)?;
    pass(
        Check::Chain,
        format!(
            "{} \u{2192} {}, FMSPC {}, valid at {}",
            ca.subject_cn,
            pck.subject_cn,
            hex::encode(facts.fmspc),
            crate::time::fmt_time(now)
        ),
    );

    // Root: the CA's issuer is Intel's pinned root or a policy root.
    let (anchor, root) = find_root(anchors, ca)?;
    root.check_validity(now)?;
    if policy.require_hardware && !anchor.is_hardware() {
        return Err(Inner::Other(VerifyError::HardwareRequired { anchor: anchor.to_string() }));
    }
    let tcb_signer = signing_cert("TCB info issuer chain", &collateral.tcb_info_issuer_chain, &root, now)?;
    // Intel signs both documents with one key: the same chain is checked once.
    let qe_signer = if collateral.qe_identity_issuer_chain == collateral.tcb_info_issuer_chain {
        tcb_signer.clone()
    } else {
        signing_cert("QE identity issuer chain", &collateral.qe_identity_issuer_chain, &root, now)?
    };
    let root_shown = match &anchor {
        Anchor::IntelSgxRoot => "Intel SGX Root CA (pinned)".to_owned(),
        Anchor::PolicyRoot { label, .. } => format!("{} (policy root {label})", crate::text::escape(&root.subject_cn)),
        other => format!("{} ({other})", crate::text::escape(&root.subject_cn)),
    };
    pass(Check::Root, format!("{root_shown}; the TCB signing key is issued by the same root"));

    // Revocation: the root CA CRL (intermediates) and the CA's PCK CRL (leaves).
    let root_crl = Crl::from_der("root CA CRL", &hex_any("root CA CRL", &collateral.root_ca_crl)?)?;
    root_crl.check(&root, now)?;
    root_crl.check_not_revoked(ca)?;
    root_crl.check_not_revoked(&tcb_signer)?;
    if qe_signer.der != tcb_signer.der {
        root_crl.check_not_revoked(&qe_signer)?;
    }
    let pck_crl = Crl::from_der("PCK CRL", &hex_any("PCK CRL", &collateral.pck_crl)?)?;
    pck_crl.check(ca, now)?;
    pck_crl.check_not_revoked(pck)?;
    pass(
        Check::Revocation,
        format!(
            "root CA CRL and PCK CRL signed, current, list none of the chain ({} and {} entries)",
            root_crl.list.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len),
            pck_crl.list.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len)
        ),
    );

    // Signatures: PCK -> QE report -> attestation key -> quote.
    let pck_key = pck.p256_key()?;
    verify_raw_signature(&pck_key, &raw[quote.qe_report_range.clone()], &quote.qe_report_signature)
        .map_err(|reason| TdxError::QeReportSignature { reason })?;
    let mut h = Sha256::new();
    h.update(quote.attestation_key);
    h.update(&quote.qe_auth_data);
    let want: [u8; 32] = h.finalize().into();
    let got = &quote.qe_report.report_data;
    if !bool::from(want.ct_eq(&got[..32])) || got[32..].iter().any(|&b| b != 0) {
        return Err(TdxError::QeReportData {
            reason: format!(
                "expected {}{}, the QE report has {}",
                hex::encode(want),
                "00".repeat(32),
                hex::encode(got)
            ),
        }
        .into());
    }
    let ak = raw_p256_key(&quote.attestation_key).map_err(|reason| TdxError::QuoteSignature { reason })?;
    verify_raw_signature(&ak, &raw[..quote.signed_len], &quote.signature)
        .map_err(|reason| TdxError::QuoteSignature { reason })?;
    pass(Check::Signature, "quote by its attestation key, vouched for by the QE report, signed by the PCK key".into());

    // Collateral: signed by the TCB signing key, current, for this platform.
    check_doc_signature("TCB info", &tcb_signer, &collateral.tcb_info, &collateral.tcb_info_signature)?;
    let info: TcbInfo = parse_signed("TCB info", &collateral.tcb_info)?;
    check_doc_signature("QE identity", &qe_signer, &collateral.qe_identity, &collateral.qe_identity_signature)?;
    let qe_id: QeIdentity = parse_signed("QE identity", &collateral.qe_identity)?;
    let mismatch = |what, field, expected: String, actual: String| TdxError::CollateralMismatch {
        what,
        field,
        expected,
        actual: crate::text::escape(&actual).into_owned(),
    };
    if info.id != "TDX" || info.version != 3 {
        return Err(mismatch(
            "TCB info",
            "id",
            "TDX version 3".into(),
            format!("{} version {}", info.id, info.version),
        )
        .into());
    }
    if qe_id.id != "TD_QE" || !(2..=3).contains(&qe_id.version) {
        return Err(mismatch(
            "QE identity",
            "id",
            "TD_QE version 2 or 3".into(),
            format!("{} version {}", qe_id.id, qe_id.version),
        )
        .into());
    }
    if !info.fmspc.eq_ignore_ascii_case(&hex::encode(facts.fmspc)) {
        return Err(mismatch("TCB info", "fmspc", hex::encode(facts.fmspc), info.fmspc.clone()).into());
    }
    if !info.pce_id.eq_ignore_ascii_case(&hex::encode(facts.pce_id)) {
        return Err(mismatch("TCB info", "pceId", hex::encode(facts.pce_id), info.pce_id.clone()).into());
    }
    let (tcb_issued, tcb_next) = check_fresh("TCB info", &info.issue_date, &info.next_update, now)?;
    let (qe_issued, qe_next) = check_fresh("QE identity", &qe_id.issue_date, &qe_id.next_update, now)?;
    let (crl_this, crl_next) = [root_crl.window(), pck_crl.window()]
        .iter()
        .fold((0, u64::MAX), |(a, b), (t, n)| (a.max(*t), b.min(n.unwrap_or(0))));
    let collateral_window = (tcb_issued.max(qe_issued).max(crl_this), tcb_next.min(qe_next).min(crl_next));
    pass(
        Check::Collateral,
        format!(
            "TCB info (evaluation {}) and QE identity signed by the TCB signing key, for FMSPC {}, current until {}",
            info.tcb_evaluation_data_number,
            hex::encode(facts.fmspc),
            crate::time::fmt_time(collateral_window.1)
        ),
    );

    // TCB: the QE is Intel's TD QE at a known level; the module is Intel's; the
    // platform's level and status.
    let qe = &quote.qe_report;
    let qe_field = |field, expected: String, actual: String| TdxError::QeIdentity { field, expected, actual };
    let want_signer: [u8; 32] = hex_exact("QE identity mrsigner", &qe_id.mrsigner)?;
    if qe.mr_signer != want_signer {
        return Err(qe_field("MRSIGNER", qe_id.mrsigner.to_lowercase(), hex::encode(qe.mr_signer)).into());
    }
    if qe.isv_prod_id != qe_id.isvprodid {
        return Err(qe_field("ISVPRODID", qe_id.isvprodid.to_string(), qe.isv_prod_id.to_string()).into());
    }
    let misc = u32::from_le_bytes(hex_exact("QE identity miscselect", &qe_id.miscselect)?);
    let misc_mask = u32::from_le_bytes(hex_exact("QE identity miscselectMask", &qe_id.miscselect_mask)?);
    if qe.misc_select & misc_mask != misc & misc_mask {
        return Err(qe_field(
            "MISCSELECT",
            format!("{misc:08x} under mask {misc_mask:08x}"),
            format!("{:08x}", qe.misc_select),
        )
        .into());
    }
    let attrs: [u8; 16] = hex_exact("QE identity attributes", &qe_id.attributes)?;
    let attrs_mask: [u8; 16] = hex_exact("QE identity attributesMask", &qe_id.attributes_mask)?;
    if qe.attributes.iter().zip(attrs_mask).zip(attrs).any(|((q, m), a)| q & m != a & m) {
        return Err(qe_field(
            "ATTRIBUTES",
            format!("{} under mask {}", hex::encode(attrs), hex::encode(attrs_mask)),
            hex::encode(qe.attributes),
        )
        .into());
    }
    if qe.debug() {
        return Err(qe_field("DEBUG", "a production enclave".into(), "a debug enclave".into()).into());
    }
    let qe_level =
        isv_level(&qe_id.tcb_levels, qe.isv_svn).ok_or(TdxError::SvnBelowLevels { what: "QE", svn: qe.isv_svn })?;
    check_module(&info, td)?;
    let svns = PlatformSvns { sgx: &facts.sgx_components, pce_svn: facts.pce_svn, tee_tcb_svn: &td.tee_tcb_svn };
    let mut judged = with_qe(judge_platform(&info, svns)?, qe_level)?;
    if let Some(current) = td.tee_tcb_svn2 {
        let svns = PlatformSvns { tee_tcb_svn: &current, ..svns };
        let current = with_qe(judge_platform(&info, svns)?, qe_level)?;
        if current.status == TcbStatus::Revoked {
            judged.status = TcbStatus::Revoked;
        }
        judged.status = judged.status.with_current(current.status);
    }
    let accepted = &tdx_policy.accepted_tcb_status;
    if judged.status == TcbStatus::Revoked || !accepted.iter().any(|s| s == judged.status.name()) {
        return Err(TdxError::TcbStatus {
            status: judged.status.name().into(),
            advisories: judged.advisory_ids.iter().map(|a| crate::text::escape(a).into_owned()).collect(),
            accepted: accepted.join(", "),
        }
        .into());
    }
    if !tdx_policy.allowed_advisories.is_empty()
        && let Some(id) = judged.advisory_ids.iter().find(|a| !tdx_policy.allowed_advisories.contains(a))
    {
        return Err(TdxError::Advisory { id: crate::text::escape(id).into_owned() }.into());
    }
    if judged.status != TcbStatus::UpToDate {
        warnings.push(format!(
            "TCB status {} accepted by the trust policy{}",
            judged.status,
            if judged.advisory_ids.is_empty() {
                String::new()
            } else {
                format!(" (advisories {})", crate::text::escape(&judged.advisory_ids.join(", ")))
            }
        ));
    }
    pass(
        Check::Tcb,
        format!(
            "{} (TCB level {}, QE SVN {}, TEE_TCB_SVN {}){}",
            judged.status,
            judged.tcb_date,
            qe.isv_svn,
            hex::encode(td.tee_tcb_svn),
            if judged.advisory_ids.is_empty() {
                String::new()
            } else {
                format!(", advisories {}", crate::text::escape(&judged.advisory_ids.join(", ")))
            }
        ),
    );

    // Policy: the TD's attributes and the trust policy's requirements.
    if policy.tdx.is_none() {
        return Err(TdxError::NoPolicySection.into());
    }
    check_attributes(td, tdx_policy, &mut warnings)?;
    if let Some(min) = &tdx_policy.min_tee_tcb_svn
        && let Some(index) = td.tee_tcb_svn.iter().zip(min.0).position(|(a, m)| *a < m)
    {
        return Err(TdxError::TeeTcbSvn { index, min: min.to_string(), actual: hex::encode(td.tee_tcb_svn) }.into());
    }
    allow("mrconfigid", &tdx_policy.mrconfigid, &td.mr_config_id)?;
    allow("mrowner", &tdx_policy.mrowner, &td.mr_owner)?;
    allow("mrownerconfig", &tdx_policy.mrownerconfig, &td.mr_owner_config)?;
    allow("mrsignerseam", &tdx_policy.mrsignerseam, &td.mr_signer_seam)?;
    pass(Check::Policy, format!("TDATTRIBUTES {:#018x}, XFAM {}", td.attributes(), hex::encode(td.xfam)));

    // Measurement: MRTD pinned, RTMRs in their allow-lists.
    let mrtd = hex::encode(td.mr_td);
    if tdx_policy.mrtd.is_empty() {
        return Err(TdxError::MrtdNotPinned { actual: mrtd }.into());
    }
    allow("mrtd", &tdx_policy.mrtd, &td.mr_td)?;
    let rtmr_lists = [&tdx_policy.rtmr0, &tdx_policy.rtmr1, &tdx_policy.rtmr2, &tdx_policy.rtmr3];
    for (i, (list, value)) in rtmr_lists.iter().zip(&td.rtmr).enumerate() {
        allow(["rtmr0", "rtmr1", "rtmr2", "rtmr3"][i], list, value)?;
    }
    let pinned_rtmrs = rtmr_lists.iter().filter(|l| !l.is_empty()).count();
    pass(Check::Measurement, format!("MRTD {mrtd}; {pinned_rtmrs} of 4 RTMRs pinned"));

    // Binding.
    let binding_checked = match expected {
        ExpectedReportData::Exact(want) => {
            if !bool::from(want.ct_eq(&td.report_data)) {
                return Err(Inner::Other(VerifyError::Binding {
                    expected: hex::encode(want),
                    actual: hex::encode(td.report_data),
                }));
            }
            pass(Check::Binding, "REPORTDATA equals this session's binding".into());
            true
        }
        ExpectedReportData::NotBound => {
            warnings.push("binding not checked: no session or --report-data to compare REPORTDATA with".into());
            false
        }
    };

    Ok(TdxVerified {
        fmspc: hex::encode(facts.fmspc),
        quote,
        anchor,
        tcb: judged,
        tcb_evaluation_data_number: info.tcb_evaluation_data_number.min(qe_id.tcb_evaluation_data_number),
        passed,
        binding_checked,
        warnings,
        collateral_window,
    })
}

/// MRSIGNERSEAM and SEAMATTRIBUTES against the TCB info's module (identity).
fn check_module(info: &TcbInfo, td: &crate::tdx::quote::TdReport) -> Result<(), TdxError> {
    let base = info
        .tdx_module
        .as_ref()
        .ok_or(TdxError::CollateralFormat { what: "TCB info", reason: "no tdxModule".into() })?;
    let (signer, attrs, mask) = match module_identity(info, &td.tee_tcb_svn)? {
        Some(m) => (&m.mrsigner, &m.attributes, &m.attributes_mask),
        None => (&base.mrsigner, &base.attributes, &base.attributes_mask),
    };
    let signer: [u8; 48] = hex_exact("TDX module mrsigner", signer)?;
    let attrs: [u8; 8] = hex_exact("TDX module attributes", attrs)?;
    let mask: [u8; 8] = hex_exact("TDX module attributesMask", mask)?;
    if td.mr_signer_seam != signer {
        return Err(TdxError::ModuleIdentity {
            field: "MRSIGNERSEAM",
            expected: hex::encode(signer),
            actual: hex::encode(td.mr_signer_seam),
        });
    }
    let seam = td.seam_attributes;
    if seam.iter().zip(mask).zip(attrs).any(|((s, m), a)| s & m != a & m || s & !m != 0) {
        return Err(TdxError::ModuleIdentity {
            field: "SEAMATTRIBUTES",
            expected: format!("{} under mask {}", hex::encode(attrs), hex::encode(mask)),
            actual: hex::encode(seam),
        });
    }
    Ok(())
}

fn check_attributes(
    td: &crate::tdx::quote::TdReport,
    policy: &TdxPolicy,
    warnings: &mut Vec<String>,
) -> Result<(), TdxError> {
    let a = td.attributes();
    let refuse = |reason: &str| TdxError::TdAttributes { attributes: a, reason: reason.into() };
    if a & TD_ATTR_RESERVED != 0 {
        return Err(refuse("reserved bits are set"));
    }
    if a & (TD_ATTR_DEBUG | TD_ATTR_TUD_OTHER) != 0 {
        if !policy.allow_debug {
            return Err(if a & TD_ATTR_DEBUG != 0 {
                TdxError::Debug
            } else {
                refuse("TD-under-debug bits 4..6 (profiling) are set")
            });
        }
        warnings.push("the TD runs with debug facilities (TDATTRIBUTES.TUD): the host can read its memory".into());
    }
    if a & TD_ATTR_SEPT_VE_DISABLE == 0 && policy.require_sept_ve_disable {
        return Err(TdxError::SeptVeDisable);
    }
    if a & TD_ATTR_MIGRATABLE != 0 {
        if !policy.allow_migratable {
            return Err(refuse("MIGRATABLE (bit 29) is set: a migration TD can export this TD (allow_migratable)"));
        }
        warnings.push("the TD is migratable: a migration TD can export its memory".into());
    }
    if a & TD_ATTR_SERVTD_EXT != 0 {
        return Err(refuse("SERVTD_EXT (bit 17) is set: service TDs bound to this TD are not verified"));
    }
    if td.mr_service_td.is_some_and(|m| m != [0; 48]) {
        return Err(refuse("MRSERVICETD is not zero: service TDs bound to this TD are not verified"));
    }
    Ok(())
}

fn allow<const N: usize>(field: &'static str, allowed: &[Hex<N>], actual: &[u8; N]) -> Result<(), TdxError> {
    if allowed.is_empty() || allowed.iter().any(|a| bool::from(a.0.ct_eq(actual))) {
        Ok(())
    } else {
        Err(TdxError::NotAllowed { field, actual: hex::encode(actual) })
    }
}
