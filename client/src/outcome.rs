//! The result of a verification as the CLI prints it: one JSON object for scripts
//! (`trusted`, `failed_check`, the report's fields) or a check list for people.

use serde_json::{Value, json};

use cvmc_protocol::snp::report::Report;
use cvmc_protocol::tdx::Quote;
use cvmc_protocol::{Check, GuestVerdict, VerifyError};

use crate::report_view::{quote_json, report_json};

/// A verdict with what is known about the report either way.
#[derive(Debug)]
pub struct Outcome {
    /// The verdict.
    pub result: Result<GuestVerdict, VerifyError>,
    /// The SEV-SNP report, if the evidence was one and it parsed (so a refusal still
    /// shows its fields).
    pub report: Option<Report>,
    /// The TDX quote, if the evidence was one and it parsed.
    pub quote: Option<Quote>,
    /// The kind of Azure HCL report the evidence was, if it was one (its SEV-SNP
    /// report is `report`, or the quote after its TD report is `quote`).
    pub hcl: Option<cvmc_protocol::azure::hcl::HwReportType>,
    /// The guest identity fingerprint, for live verification.
    pub identity: Option<String>,
    /// What known_guests said of that identity, for live verification.
    pub pin: Option<crate::net::PinNote>,
    /// The boot stage that answered, for live verification.
    pub stage: Option<cvmc_protocol::GuestStage>,
}

impl Outcome {
    /// An outcome for raw evidence bytes: the report or quote is parsed for display
    /// whatever the verdict.
    pub fn for_bytes(result: Result<GuestVerdict, VerifyError>, raw: &[u8]) -> Self {
        use cvmc_protocol::azure::hcl::{self, HclReport, HwReportType};
        let hcl = hcl::report_type_hint(raw);
        let (report, quote) = if hcl == Some(HwReportType::Tdx) {
            let quote_raw = hcl::split_quote(raw).map_or(&[][..], |(_, q)| q);
            (None, Quote::parse(quote_raw).ok())
        } else if hcl.is_some() {
            let inner = HclReport::parse(raw).ok();
            (inner.and_then(|h| Report::parse(h.hw_report).ok()), None)
        } else if cvmc_protocol::tdx::quote::looks_like_quote(raw) {
            (None, Quote::parse(raw).ok())
        } else {
            (Report::parse(raw).ok(), None)
        };
        Self { result, report, quote, hcl, identity: None, pin: None, stage: None }
    }

    fn tee(&self) -> &'static str {
        match &self.result {
            Ok(v) => v.tee(),
            Err(_) if self.hcl == Some(cvmc_protocol::azure::hcl::HwReportType::Tdx) => "azure-tdx",
            Err(_) if self.hcl.is_some() => "azure-sev-snp",
            Err(_) if self.quote.is_some() => "tdx",
            Err(VerifyError::Tdx(_)) => "tdx",
            Err(_) => "sev-snp",
        }
    }

    /// Whether the guest is trusted.
    pub fn trusted(&self) -> bool {
        self.result.is_ok()
    }

    /// The `--json` object.
    pub fn to_json(&self) -> Value {
        let product = match &self.result {
            Ok(GuestVerdict::Snp(v)) => Some(v.product),
            Ok(GuestVerdict::AzureSnp(v)) => Some(v.snp.product),
            _ => None,
        };
        let report = self.report.as_ref().map(|r| report_json(r, product.or_else(|| guess_product(r))));
        let quote = self.quote.as_ref().map(quote_json);
        let mut out = match &self.result {
            Ok(v) => json!({
                "trusted": true,
                "failed_check": Value::Null,
                "error": Value::Null,
                "tee": v.tee(),
                "simulated": v.simulated(),
                "anchor": v.anchor(),
                "binding_checked": v.binding_checked(),
                "checks": v.passed(),
                "warnings": v.warnings(),
                "identity": self.identity,
                "identity_pin": self.pin,
                "stage": self.stage.map(cvmc_protocol::GuestStage::name),
                "report": report,
            }),
            Err(e) => json!({
                "trusted": false,
                "failed_check": e.name(),
                "check_group": e.check(),
                "error": e.to_string(),
                "tee": self.tee(),
                "report": report,
            }),
        };
        if let (Some(obj), Ok(GuestVerdict::Snp(v))) = (out.as_object_mut(), &self.result) {
            obj.insert("product".into(), json!(v.product));
        }
        if let (Some(obj), Ok(GuestVerdict::AzureSnp(v))) = (out.as_object_mut(), &self.result) {
            obj.insert("product".into(), json!(v.snp.product));
            obj.insert(
                "runtime_claims".into(),
                crate::report_view::claims_json(&v.claims, v.claims_hash, &v.claims_digest),
            );
        }
        if let (Some(obj), Ok(GuestVerdict::AzureTdx(v))) = (out.as_object_mut(), &self.result) {
            obj.insert(
                "runtime_claims".into(),
                crate::report_view::claims_json(&v.claims, v.claims_hash, &v.claims_digest),
            );
        }
        let tdx = match &self.result {
            Ok(GuestVerdict::Tdx(v)) => Some(&**v),
            Ok(GuestVerdict::AzureTdx(v)) => Some(&v.tdx),
            _ => None,
        };
        if let (Some(obj), Some(v)) = (out.as_object_mut(), tdx) {
            obj.insert("tcb_status".into(), json!(v.tcb.status.name()));
            obj.insert("advisory_ids".into(), json!(v.tcb.advisory_ids));
            obj.insert("fmspc".into(), json!(v.fmspc));
            obj.insert("collateral_valid_until".into(), json!(cvmc_protocol::time::fmt_time(v.collateral_window.1)));
        }
        if let (Some(obj), Some(quote)) = (out.as_object_mut(), quote) {
            obj.insert("quote".into(), quote);
            obj.remove("report");
        }
        out
    }

    /// The human check list.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match &self.result {
            Ok(v) => {
                if !v.binding_checked() {
                    out.push_str(
                        "BINDING NOT CHECKED (--no-binding): a report replayed from another session would pass too\n",
                    );
                }
                let what = match (v.simulated(), v) {
                    (true, _) => "SIMULATED - NOT CONFIDENTIAL".to_owned(),
                    (false, GuestVerdict::Snp(s)) => format!("SEV-SNP, {}", s.product),
                    (false, GuestVerdict::Tdx(t)) => format!("Intel TDX, {}", t.tcb.status),
                    (false, GuestVerdict::AzureSnp(a)) => {
                        format!("SEV-SNP behind Azure's paravisor, {}", a.snp.product)
                    }
                    (false, GuestVerdict::AzureTdx(a)) => {
                        format!("Intel TDX behind Azure's paravisor, {}", a.tdx.tcb.status)
                    }
                };
                out.push_str(&format!("TRUSTED ({what}, {})\n", v.anchor()));
                if self.stage == Some(cvmc_protocol::GuestStage::Initramfs) {
                    out.push_str("  stage: early boot (initramfs)\n");
                }
                for p in v.passed() {
                    out.push_str(&format!("  ok   {:<14} {}\n", check_name(p.check), p.detail));
                }
                for w in v.warnings() {
                    out.push_str(&format!("  WARNING: {w}\n"));
                }
                if let Some(pin) = &self.pin {
                    let status = match pin.status {
                        "ephemeral" => "is ephemeral (early boot): not compared or pinned",
                        "known" => "matches its pin in known_guests",
                        "pinned" => "seen for the first time: pinned in known_guests",
                        _ => "seen for the first time: not pinned (--no-pin)",
                    };
                    out.push_str(&format!("  identity {status}\n"));
                    if let Some(note) = &pin.note {
                        out.push_str(&format!("  NOTE: {note}\n"));
                    }
                }
            }
            Err(e) => {
                out.push_str(&format!("NOT TRUSTED: {e}\n"));
                let failed = e.check();
                let rows: &[Check] = match self.tee() {
                    "tdx" => &Check::TDX,
                    "azure-sev-snp" => &Check::AZURE_SNP,
                    "azure-tdx" => &Check::AZURE_TDX,
                    _ => &Check::SNP,
                };
                for &c in rows {
                    if c == failed {
                        out.push_str(&format!("  FAIL {:<14} {} ({})\n", check_name(c), e, e.name()));
                        break;
                    }
                    out.push_str(&format!("  ok   {}\n", check_name(c)));
                }
            }
        }
        out
    }
}

/// Best-effort product for decoding TCB fields of a refused report.
fn guess_product(r: &Report) -> Option<cvmc_protocol::snp::product::Product> {
    r.cpuid_product().and_then(Result::ok)
}

/// Lowercase label of a check for the list.
pub fn check_name(c: Check) -> &'static str {
    c.name()
}
