//! `cvm-console verify-report`: check a stored SEV-SNP report, Intel TDX quote or
//! Azure HCL report offline. They are told apart by their first bytes (an HCL report
//! starts "HCLA"; a TDX quote header says version 4 or 5 and TEE type 0x81), and an
//! HCL report by the kind of hardware report its HCL data names: an SEV-SNP report
//! is verified with certificates as a bare one is, a TD report through its quote
//! (appended, or `--quote`) with collateral as a bare TDX quote is.

use std::path::{Path, PathBuf};

use cvmc_protocol::azure::hcl::{self, HclReport, HwReportType};
use cvmc_protocol::snp::report::REPORT_LEN;
use cvmc_protocol::tdx::quote::looks_like_quote;
use cvmc_protocol::tdx::{Collateral, verify_tdx};
use cvmc_protocol::{ExpectedReportData, GuestVerdict, SnpCerts, verify_snp};

use crate::error::{ClientError, read_file};
use crate::outcome::Outcome;
use crate::policy_file::load_policy;

/// Inputs of one offline verification.
#[derive(Debug, Clone)]
pub struct VerifyReportArgs {
    /// Report or quote: raw bytes, or the same as hex text.
    pub report: PathBuf,
    /// Azure TDX: the quote of the HCL report's TD report, when not appended to it.
    pub quote: Option<PathBuf>,
    /// SEV-SNP: VCEK or VLEK, DER or PEM; fetched from KDS when absent (a VCEK).
    pub vcek: Option<PathBuf>,
    /// SEV-SNP: AMD's CRL for the product, DER.
    pub crl: Option<PathBuf>,
    /// SEV-SNP: where certificates and the CRL come from without `vcek` and `crl`.
    pub kds: crate::kds::KdsSource,
    /// The user named a KDS (`--kds-url`): fetch the CRL even when every certificate
    /// was given.
    pub kds_named: bool,
    /// TDX: the collateral JSON.
    pub collateral: Option<PathBuf>,
    /// TDX: where collateral comes from without `collateral`.
    pub pcs: crate::pcs::PcsSource,
    /// ASK (or ASVK for a VLEK), DER or PEM; AMD's built-in one when absent.
    pub ask: Option<PathBuf>,
    /// Trust policy file.
    pub policy: PathBuf,
    /// Expected REPORT_DATA (128 hex characters).
    pub report_data: Option<String>,
    /// Evaluate certificate validity at this unix time instead of now.
    pub at: u64,
    /// Accept a report whose binding cannot be checked (no `report_data`). Without it
    /// such a report is not trusted: it could have been replayed from anywhere.
    pub no_binding: bool,
    /// Refuse a report anchored in any root but the hardware vendor's.
    pub require_hardware: bool,
}

/// Read a report file: raw bytes, or hex text of them.
pub fn read_report(path: &Path) -> Result<Vec<u8>, ClientError> {
    let bytes = read_file(path)?;
    if bytes.len() != REPORT_LEN
        && !looks_like_quote(&bytes)
        && !cvmc_protocol::azure::hcl::looks_like_hcl(&bytes)
        && let Ok(text) = std::str::from_utf8(&bytes)
    {
        let compact: String = text.split_whitespace().collect();
        if !compact.is_empty() && compact.chars().all(|c| c.is_ascii_hexdigit()) {
            return hex::decode(&compact)
                .map_err(|e| ClientError::BadInput { path: path.to_path_buf(), reason: format!("hex: {e}") });
        }
    }
    Ok(bytes)
}

/// Read a certificate as DER from a DER or PEM file (the first PEM block).
pub fn read_cert(path: &Path) -> Result<Vec<u8>, ClientError> {
    let bytes = read_file(path)?;
    let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(bytes) };
    let Some(start) = text.find("-----BEGIN") else { return Ok(bytes) };
    let end = text[start..]
        .find("-----END")
        .and_then(|e| text[start + e..].find('\n').map(|n| start + e + n + 1).or(Some(text.len())))
        .unwrap_or(text.len());
    der::pem::decode_vec(text[start..end].trim_end().as_bytes())
        .map(|(_, der)| der)
        .map_err(|e| ClientError::BadInput { path: path.to_path_buf(), reason: format!("PEM: {e}") })
}

/// Parse `--report-data`.
pub fn parse_report_data(s: &str) -> Result<[u8; 64], ClientError> {
    let bad = |reason: String| ClientError::BadArgument { flag: "--report-data", reason };
    let s = s.trim().trim_start_matches("0x");
    if s.len() != 128 {
        return Err(bad(format!("expected 128 hex characters (64 bytes), got {}", s.len())));
    }
    let mut out = [0u8; 64];
    hex::decode_to_slice(s, &mut out).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

/// Read a collateral file.
pub fn read_collateral(path: &Path) -> Result<Collateral, ClientError> {
    let bytes = read_file(path)?;
    Collateral::from_json(&bytes).map_err(|e| ClientError::BadInput { path: path.to_path_buf(), reason: e.to_string() })
}

/// What an SEV-SNP report needs from AMD's KDS (or the cache) beyond the files given:
/// the VCEK when none was given (with its chain and CRL in the same trip), and the
/// CRL alone only when the user named a KDS or the policy requires revocation, so
/// that a report checked with every file given stays offline. A report that does
/// not parse fetches nothing: the verifier refuses it by its format.
fn snp_fetch(
    args: &VerifyReportArgs,
    report: &[u8],
    policy: &cvmc_protocol::Policy,
    have_signer: bool,
    have_intermediate: bool,
    have_crl: bool,
) -> Result<crate::kds::Fetched, crate::failure::CommandError> {
    use cvmc_protocol::policy::Revocation;
    if cvmc_protocol::snp::report::Report::parse(report).is_err() {
        return Ok(crate::kds::Fetched::default());
    }
    let want_crl = !have_crl
        && policy.revocation != Revocation::Skip
        && (!have_signer || args.kds_named || policy.revocation == Revocation::Require);
    if have_signer && !want_crl {
        return Ok(crate::kds::Fetched::default());
    }
    let have = crate::kds::Have { signer: have_signer, intermediate: have_intermediate || have_signer };
    let revocation = if want_crl { policy.revocation } else { Revocation::Skip };
    Ok(args.kds.fetch_for(report, have, revocation, args.at)?)
}

/// SEV-SNP certificates and CRL (DER) for one verification.
#[derive(Debug, Default)]
struct SnpFiles {
    signer: Option<Vec<u8>>,
    intermediate: Option<Vec<u8>>,
    crl: Option<Vec<u8>>,
}

/// The certificates for `report` (a bare SEV-SNP report, or the one inside an HCL
/// report; None when there is none to fetch for): the files given, else what the
/// cache or AMD's KDS has.
fn snp_certs(
    args: &VerifyReportArgs,
    report: Option<&[u8]>,
    policy: &cvmc_protocol::Policy,
) -> Result<SnpFiles, crate::failure::CommandError> {
    let vcek = args.vcek.as_deref().map(read_cert).transpose()?;
    let ask = args.ask.as_deref().map(read_cert).transpose()?;
    let crl = args.crl.as_deref().map(read_file).transpose()?;
    let fetched = match report {
        Some(r) => snp_fetch(args, r, policy, vcek.is_some(), ask.is_some(), crl.is_some())?,
        None => crate::kds::Fetched::default(),
    };
    Ok(SnpFiles { signer: vcek.or(fetched.vcek), intermediate: ask.or(fetched.intermediate), crl: crl.or(fetched.crl) })
}

/// Run the verification. Errors are unusable input; a refusal is an `Outcome`.
pub fn verify_report(args: &VerifyReportArgs) -> Result<Outcome, crate::failure::CommandError> {
    let report = read_report(&args.report)?;
    let mut loaded = load_policy(&args.policy)?;
    loaded.policy.require_hardware |= args.require_hardware;
    let expected = match &args.report_data {
        Some(hex) => ExpectedReportData::Exact(parse_report_data(hex)?),
        None => ExpectedReportData::NotBound,
    };
    let hcl_type = cvmc_protocol::azure::hcl::report_type_hint(&report);
    if args.quote.is_some() && hcl_type != Some(HwReportType::Tdx) {
        return Err(ClientError::BadArgument {
            flag: "--quote",
            reason: "--quote is for an Azure HCL report holding a TD report; this report is not one".into(),
        }
        .into());
    }
    let result = if hcl_type == Some(HwReportType::Tdx) {
        if args.vcek.is_some() || args.ask.is_some() || args.crl.is_some() {
            return Err(ClientError::BadArgument {
                flag: "--vcek",
                reason: "the report is an Azure HCL report holding a TD report: it is verified through its TDX \
                         quote, whose certificates are inside it (give --collateral, or let it be fetched)"
                    .into(),
            }
            .into());
        }
        let report = match args.quote.as_deref() {
            Some(path) => match hcl::split_quote(&report) {
                Ok((hcl_part, [])) => hcl::with_quote(hcl_part, &read_report(path)?),
                Ok(_) => {
                    return Err(ClientError::BadArgument {
                        flag: "--quote",
                        reason: "the HCL report already carries a quote after it".into(),
                    }
                    .into());
                }
                // The verifier refuses it by its format.
                Err(_) => report,
            },
            None => report,
        };
        let quote = hcl::split_quote(&report).map_or(&[][..], |(_, q)| q);
        let collateral = tdx_collateral(args, quote)?;
        let result = cvmc_protocol::azure::verify_azure_tdx(
            &report,
            &collateral,
            &expected,
            &loaded.policy,
            &loaded.anchors,
            args.at,
        )
        .map(|v| GuestVerdict::AzureTdx(Box::new(v)));
        return Ok(finish(args, result, &report));
    } else if hcl_type.is_some() {
        if args.collateral.is_some() {
            return Err(ClientError::BadArgument {
                flag: "--collateral",
                reason: "the report is an Azure HCL report holding an SEV-SNP report; --collateral is for Intel TDX \
                         quotes"
                    .into(),
            }
            .into());
        }
        let inner = HclReport::parse(&report).ok().map(|h| h.hw_report);
        let certs = snp_certs(args, inner, &loaded.policy)?;
        let (signer, intermediate) = (certs.signer.as_deref(), certs.intermediate.as_deref());
        // The verifier takes the signer of the kind KEY_INFO names from these.
        let available = cvmc_protocol::AvailableCerts {
            vcek: signer,
            vlek: signer,
            ask: intermediate,
            asvk: intermediate,
            crl: certs.crl.as_deref(),
        };
        cvmc_protocol::azure::verify_azure_snp(&report, available, &expected, &loaded.policy, &loaded.anchors, args.at)
            .map(|v| GuestVerdict::AzureSnp(Box::new(v)))
    } else if looks_like_quote(&report) {
        if args.vcek.is_some() || args.ask.is_some() {
            return Err(ClientError::BadArgument {
                flag: "--vcek",
                reason: "the report is an Intel TDX quote: its certificates are inside it (give --collateral, or let \
                         it be fetched)"
                    .into(),
            }
            .into());
        }
        let collateral = tdx_collateral(args, &report)?;
        verify_tdx(&report, &collateral, &expected, &loaded.policy, &loaded.anchors, args.at)
            .map(|v| GuestVerdict::Tdx(Box::new(v)))
    } else {
        if args.collateral.is_some() {
            return Err(ClientError::BadArgument {
                flag: "--collateral",
                reason: "the report is an SEV-SNP report; --collateral is for Intel TDX quotes".into(),
            }
            .into());
        }
        let certs = snp_certs(args, Some(&report), &loaded.policy)?;
        let certs = SnpCerts {
            signer: certs.signer.as_deref(),
            intermediate: certs.intermediate.as_deref(),
            crl: certs.crl.as_deref(),
        };
        verify_snp(&report, certs, &expected, &loaded.policy, &loaded.anchors, args.at)
            .map(|v| GuestVerdict::Snp(Box::new(v)))
    };
    Ok(finish(args, result, &report))
}

/// The collateral for a TDX `quote`: the file given, else the cache's or PCS's for
/// its platform.
fn tdx_collateral(args: &VerifyReportArgs, quote: &[u8]) -> Result<Collateral, crate::failure::CommandError> {
    Ok(match args.collateral.as_deref() {
        Some(path) => read_collateral(path)?,
        None => match cvmc_protocol::tdx::quote_platform(quote) {
            Ok((fmspc, ca)) => args.pcs.collateral(&fmspc, ca, args.at)?,
            // A quote whose PCK chain cannot be read (or no quote) names no platform;
            // the verifier refuses it (format or chain) before it reads any collateral.
            Err(_) => Collateral::default(),
        },
    })
}

/// The outcome: a verdict whose binding was not checked is a refusal unless
/// `--no-binding` accepts it.
fn finish(
    args: &VerifyReportArgs,
    mut result: Result<GuestVerdict, cvmc_protocol::VerifyError>,
    raw: &[u8],
) -> Outcome {
    if matches!(&result, Ok(v) if !v.binding_checked()) && !args.no_binding {
        result = Err(cvmc_protocol::VerifyError::BindingNotChecked);
    }
    Outcome::for_bytes(result, raw)
}
