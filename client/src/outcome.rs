//! The result of a verification as the CLI prints it: one JSON object for scripts
//! (`trusted`, `failed_check`, the report's fields) or a check list for people.

use serde_json::{Value, json};

use cvmc_protocol::snp::report::Report;
use cvmc_protocol::{Check, Verified, VerifyError};

use crate::report_view::report_json;

/// A verdict with what is known about the report either way.
#[derive(Debug)]
pub struct Outcome {
    /// The verdict.
    pub result: Result<Verified, VerifyError>,
    /// The report, if it parsed (so a refusal still shows its fields).
    pub report: Option<Report>,
    /// The guest identity fingerprint, for live verification.
    pub identity: Option<String>,
    /// What known_guests said of that identity, for live verification.
    pub pin: Option<crate::net::PinNote>,
}

impl Outcome {
    /// Whether the guest is trusted.
    pub fn trusted(&self) -> bool {
        self.result.is_ok()
    }

    /// The `--json` object.
    pub fn to_json(&self) -> Value {
        let product = self.result.as_ref().ok().map(|v| v.product);
        let report = self.report.as_ref().map(|r| report_json(r, product.or_else(|| guess_product(r))));
        match &self.result {
            Ok(v) => json!({
                "trusted": true,
                "failed_check": Value::Null,
                "error": Value::Null,
                "simulated": v.simulated(),
                "product": v.product,
                "anchor": v.anchor,
                "binding_checked": v.binding_checked,
                "checks": v.passed,
                "warnings": v.warnings,
                "identity": self.identity,
                "identity_pin": self.pin,
                "report": report,
            }),
            Err(e) => json!({
                "trusted": false,
                "failed_check": e.name(),
                "check_group": e.check(),
                "error": e.to_string(),
                "report": report,
            }),
        }
    }

    /// The human check list.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match &self.result {
            Ok(v) => {
                if !v.binding_checked {
                    out.push_str(
                        "BINDING NOT CHECKED (--no-binding): a report replayed from another session would pass too\n",
                    );
                }
                let what = if v.simulated() { "SIMULATED - NOT CONFIDENTIAL" } else { "SEV-SNP" };
                out.push_str(&format!("TRUSTED ({what}, {}, {})\n", v.product, v.anchor));
                for p in &v.passed {
                    out.push_str(&format!("  ok   {:<12} {}\n", check_name(p.check), p.detail));
                }
                for w in &v.warnings {
                    out.push_str(&format!("  WARNING: {w}\n"));
                }
                if let Some(pin) = &self.pin {
                    let status = match pin.status {
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
                let rows: &[Check] =
                    if matches!(e, cvmc_protocol::VerifyError::Tdx(_)) { &Check::TDX } else { &Check::SNP };
                for &c in rows {
                    if c == failed {
                        out.push_str(&format!("  FAIL {:<12} {} ({})\n", check_name(c), e, e.name()));
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
