//! The verdict views: the live check list while connecting, the refusal (the failed
//! check with its values, and no session), and the Attestation tab.

use std::time::UNIX_EPOCH;

use egui::{Color32, RichText};
use serde_json::Value;

use cvmc_protocol::GuestVerdict;
use cvmc_protocol::snp::report::Report;
use cvmc_protocol::time::fmt_time;

use crate::gui::state::{CheckStatus, ClientState, Phase};
use crate::net::Stage;
use crate::outcome::check_name;
use crate::report_view::report_json;

const PASS: Color32 = Color32::from_rgb(0x4c, 0xc0, 0x4c);
const FAIL: Color32 = Color32::from_rgb(0xff, 0x55, 0x55);

/// The check list: one row per check with its status and detail.
pub fn checks_ui(ui: &mut egui::Ui, state: &ClientState) {
    egui::Grid::new("checks").num_columns(3).spacing([12.0, 4.0]).show(ui, |ui| {
        for (check, status) in &state.verdict.checks {
            let (mark, colour, detail) = match status {
                CheckStatus::Pending => ("...", Color32::GRAY, String::new()),
                CheckStatus::Passed(d) => ("ok", PASS, d.clone()),
                CheckStatus::Failed(m) => ("FAIL", FAIL, m.clone()),
                CheckStatus::NotReached => ("-", Color32::GRAY, "not checked".into()),
            };
            ui.label(RichText::new(mark).monospace().color(colour));
            ui.label(RichText::new(check_name(*check)).monospace());
            ui.label(detail);
            ui.end_row();
        }
    });
}

/// What a connection step waits for, in words a person can act on.
pub fn stage_text(stage: &Stage) -> String {
    match stage {
        Stage::Tcp => "connecting (TCP)…".into(),
        Stage::Tls => "TLS 1.3 handshake; the guest checks that it authorizes this client's key…".into(),
        Stage::Evidence => "waiting for evidence: the guest asks its secure processor for a fresh report…".into(),
        Stage::Checking { bytes } => {
            format!("checking the evidence ({bytes} bytes): root, chain, signature, TCB, policy, measurement, binding…")
        }
        Stage::Collateral => {
            "fetching the TDX collateral (TCB info, QE identity, CRLs) from Intel's PCS, or reading the cache…".into()
        }
        Stage::Certificates => "fetching the VCEK from AMD (KDS: VCEK, ASK, CRL), or reading the cache…".into(),
        Stage::Checked(_) => "every check passed; comparing the guest identity with known_guests…".into(),
        Stage::IdentityChanged(_) => "the guest identity differs from the pinned one".into(),
        Stage::Proceeding => "verified; opening the channel…".into(),
    }
}

/// Advice when a step takes longer than it should, or failed.
pub fn slow_hint(stage: &Stage) -> &'static str {
    match stage {
        Stage::Tcp => "Check the address and that the guest's port is reachable from here.",
        Stage::Tls => "The guest accepted TCP but not TLS: is this a cvm-consoled port?",
        Stage::Evidence => {
            "A secure processor answers within a second or two: the guest may be overloaded, or the host may be \
             delaying its traffic."
        }
        Stage::Collateral => "Intel's PCS (or your PCCS) is slow or unreachable from here; --offline uses the cache.",
        Stage::Certificates => "AMD's KDS is slow, throttling, or unreachable from here; --offline uses the cache.",
        _ => "",
    }
}

/// The current step with how long it has run (and when it gives up); repaints once a
/// second while something is waited for, and not otherwise.
pub fn stage_ui(ui: &mut egui::Ui, state: &ClientState) {
    let Some((stage, since)) = &state.connection.stage else { return };
    let secs = since.elapsed().as_secs();
    let mut line = stage_text(stage);
    if matches!(stage, Stage::Collateral | Stage::Certificates) {
        line.push_str(&format!(" {secs} s"));
        ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
    }
    if let Some(limit) = stage.limit() {
        line.push_str(&format!(" {secs} s (gives up after {} s)", limit.as_secs()));
        ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
    }
    ui.label(RichText::new(line).strong());
    if stage.limit().is_some() && secs >= 5 {
        ui.colored_label(Color32::YELLOW, slow_hint(stage));
    }
}

/// While connecting and verifying: what is waited for, and the check list filling in.
pub fn connecting_ui(ui: &mut egui::Ui, state: &ClientState) {
    let what = match state.phase {
        Phase::Connecting => "Connecting and attesting",
        Phase::Verifying => "Verifying the evidence",
        _ => "Verified; opening the session",
    };
    ui.heading(format!("{what}: {}", state.guest_name));
    if let Some(status) = &state.connection.status {
        ui.label(status);
    }
    ui.horizontal(|ui| {
        ui.spinner();
        stage_ui(ui, state);
    });
    ui.label("Nothing of the guest is shown before every check has passed.");
    ui.add_space(8.0);
    checks_ui(ui, state);
}

/// A refused guest: the failed check, its values, the check list, the report's fields.
pub fn refused_ui(ui: &mut egui::Ui, state: &ClientState) {
    ui.heading(RichText::new(format!("NOT TRUSTED: {}", state.guest_name)).color(FAIL));
    if let Some(refusal) = &state.verdict.refusal {
        ui.label(
            RichText::new(format!("Failed check: {} ({})", check_name(refusal.check), refusal.name))
                .strong()
                .size(16.0),
        );
        ui.label(RichText::new(&refusal.message).monospace());
    }
    ui.label("The session was not opened. Check the guest or its trust policy.");
    ui.add_space(8.0);
    checks_ui(ui, state);
    if let Ok(report) = Report::parse(&state.verdict.report) {
        ui.add_space(8.0);
        egui::CollapsingHeader::new("Report fields (as received, NOT trusted)").show(ui, |ui| {
            report_grid(ui, &report, None);
        });
    } else if let Ok(quote) = cvmc_protocol::tdx::Quote::parse(&state.verdict.report) {
        ui.add_space(8.0);
        egui::CollapsingHeader::new("Quote fields (as received, NOT trusted)").show(ui, |ui| {
            let mut rows = Vec::new();
            flatten("", &crate::report_view::quote_json(&quote), &mut rows);
            copy_rows(ui, "quote", &rows);
        });
    }
}

/// A JSON object flattened into (dotted name, value) rows.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&name, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// `report_json` flattened into (dotted name, value) rows.
pub fn report_rows(report: &Report, product: Option<cvmc_protocol::snp::product::Product>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten("", &report_json(report, product), &mut out);
    out
}

fn copy_rows(ui: &mut egui::Ui, id: &str, rows: &[(String, String)]) {
    // A wrapped label in a grid shrinks to its narrowest; give the values the room the
    // names and the buttons leave, so a 96-digit measurement wraps once, not per character.
    let value_width = (ui.available_width() - 300.0).clamp(240.0, 900.0);
    egui::Grid::new(id).num_columns(3).striped(true).spacing([12.0, 2.0]).show(ui, |ui| {
        for (name, value) in rows {
            ui.label(RichText::new(name).monospace());
            ui.scope(|ui| {
                ui.set_width(value_width);
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
            });
            let copy = ui.small_button("Copy");
            // The accessible name says which value, for screen readers and tests.
            copy.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Copy {name}")));
            if copy.on_hover_text(format!("Copy {name}")).clicked() {
                ui.ctx().copy_text(value.clone());
            }
            ui.end_row();
        }
    });
}

fn report_grid(ui: &mut egui::Ui, report: &Report, product: Option<cvmc_protocol::snp::product::Product>) {
    copy_rows(ui, "report", &report_rows(report, product));
}

/// The TDX rows of the summary, after the first two.
fn tdx_summary(summary: &mut Vec<(String, String)>, t: &cvmc_protocol::tdx::TdxVerified) {
    summary.insert(2, ("tcb status".to_owned(), t.tcb.status.to_string()));
    let advisories = if t.tcb.advisory_ids.is_empty() { "none".into() } else { t.tcb.advisory_ids.join(", ") };
    summary.insert(3, ("advisories".to_owned(), cvmc_protocol::text::escape(&advisories).into_owned()));
    summary.insert(4, ("fmspc".to_owned(), t.fmspc.clone()));
}

fn quote_grid(ui: &mut egui::Ui, title: &str, quote: &cvmc_protocol::tdx::Quote) {
    ui.strong(title);
    let mut rows = Vec::new();
    flatten("", &crate::report_view::quote_json(quote), &mut rows);
    copy_rows(ui, "quote", &rows);
}

/// The Attestation tab: the verdict, the checks with details, every report field.
pub fn attestation_ui(ui: &mut egui::Ui, state: &ClientState) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        let Some(guest) = &state.verdict.guest else {
            ui.label("No verdict yet.");
            return;
        };
        let v = &guest.verified;
        let what = match (v.simulated(), v) {
            (true, _) => "SIMULATED - NOT CONFIDENTIAL",
            (false, GuestVerdict::Snp(_)) => "SEV-SNP",
            (false, GuestVerdict::Tdx(_)) => "Intel TDX",
            (false, GuestVerdict::AzureSnp(_)) => "SEV-SNP behind Azure's paravisor",
            (false, GuestVerdict::AzureTdx(_)) => "Intel TDX behind Azure's paravisor",
        };
        let stage = match guest.stage {
            cvmc_protocol::GuestStage::Initramfs => format!(", {}", guest.stage.shown()),
            cvmc_protocol::GuestStage::System => String::new(),
        };
        ui.heading(RichText::new(format!("TRUSTED ({what}{stage})")).color(PASS));
        let at = state
            .verdict
            .verified_at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or_else(|| "unknown".into(), |d| fmt_time(d.as_secs()));
        let summary = vec![
            ("verified at".to_owned(), at),
            (
                "attestations".to_owned(),
                format!("{} (the verdict, the console, each re-attach)", state.verdict.attestations),
            ),
            ("anchor".to_owned(), v.anchor().to_string()),
            ("identity".to_owned(), guest.identity_fingerprint.clone()),
            ("stage".to_owned(), guest.stage.shown().to_owned()),
            ("binding checked".to_owned(), v.binding_checked().to_string()),
        ];
        let mut summary = summary;
        match v {
            GuestVerdict::Snp(s) => summary.insert(2, ("product".to_owned(), s.product.to_string())),
            GuestVerdict::AzureSnp(a) => {
                summary.insert(2, ("product".to_owned(), a.snp.product.to_string()));
                let ak = a.claims.ak.as_ref().map_or_else(|| "none".to_owned(), |k| k.fingerprint_shown());
                summary.insert(3, ("vTPM AK".to_owned(), ak));
                summary.insert(4, ("vm-configuration".to_owned(), a.claims.flags_shown()));
            }
            GuestVerdict::Tdx(t) => tdx_summary(&mut summary, t),
            GuestVerdict::AzureTdx(a) => {
                tdx_summary(&mut summary, &a.tdx);
                let ak = a.claims.ak.as_ref().map_or_else(|| "none".to_owned(), |k| k.fingerprint_shown());
                summary.insert(5, ("vTPM AK".to_owned(), ak));
                summary.insert(6, ("vm-configuration".to_owned(), a.claims.flags_shown()));
            }
        }
        copy_rows(ui, "summary", &summary);
        for w in v.warnings() {
            ui.colored_label(Color32::YELLOW, format!("WARNING: {w}"));
        }
        ui.add_space(8.0);
        ui.strong("Checks");
        checks_ui(ui, state);
        ui.add_space(8.0);
        match v {
            GuestVerdict::Snp(s) => {
                ui.strong("Report");
                report_grid(ui, &s.report, Some(s.product));
            }
            GuestVerdict::AzureSnp(a) => {
                ui.strong("Report (inside the paravisor's HCL report)");
                report_grid(ui, &a.snp.report, Some(a.snp.product));
            }
            GuestVerdict::Tdx(t) => quote_grid(ui, "Quote", &t.quote),
            GuestVerdict::AzureTdx(a) => {
                quote_grid(ui, "Quote (of the TD report inside the paravisor's HCL report)", &a.tdx.quote);
            }
        }
    });
}
