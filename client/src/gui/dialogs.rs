//! The two decisions the refusal page leaves to a person:
//! - an unpinned measurement: shown, and added to the policy only after an explicit,
//!   warned confirmation (then the guest is verified again on a fresh connection);
//! - a changed guest identity: an ssh-like warning with both identities and where the
//!   pin lives. It stays refused; the window offers no way to accept it.

use std::path::Path;

use egui::{Color32, RichText};

use crate::gui::pin::PIN_WARNING;
use crate::gui::state::{ClientState, IDENTITY_CHANGED};

/// The button that opens the pinning confirmation.
pub const TRUST_LABEL: &str = "Trust this measurement…";
/// The confirmation's checkbox.
pub const COMPARED_LABEL: &str = "I compared this measurement out of band and it is the one I expect";
/// The confirmation's button.
pub const PIN_LABEL: &str = "Add it to the policy and verify again";
/// The identity warning's heading.
pub const IDENTITY_HEADING: &str = "WARNING: GUEST IDENTITY HAS CHANGED!";

/// What the dialogs remember between frames.
#[derive(Debug, Default)]
pub struct Dialogs {
    pin_open: bool,
    compared: bool,
    /// Why pinning failed (file, parse), shown in the dialog.
    pub pin_error: Option<String>,
    identity_closed: bool,
}

fn copy_button(ui: &mut egui::Ui, what: &str, value: &str) {
    let b = ui.small_button("Copy");
    b.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Copy {what}")));
    if b.on_hover_text(format!("Copy {what}")).clicked() {
        ui.ctx().copy_text(value.to_owned());
    }
}

/// The offer to pin an unpinned measurement. Returns true once the user confirmed.
pub fn pin_offer_ui(
    ui: &mut egui::Ui,
    measurement: &str,
    key: crate::gui::pin::PinKey,
    policy: Option<&Path>,
    d: &mut Dialogs,
) -> bool {
    ui.add_space(8.0);
    let mut confirmed = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.strong("This trust policy pins no measurement, so it trusts no guest yet.");
        ui.label("Measurement the guest reported (checked against nothing you trust yet):");
        ui.horizontal(|ui| {
            ui.add(egui::Label::new(RichText::new(measurement).monospace()).wrap());
            copy_button(ui, "reported measurement", measurement);
        });
        let Some(policy) = policy else {
            ui.label(format!("To trust it, add it to {} in the guest's policy file and connect again.", key.shown()));
            return;
        };
        if ui.button(TRUST_LABEL).clicked() {
            d.pin_open = true;
            d.compared = false;
            d.pin_error = None;
        }
        if !d.pin_open {
            return;
        }
        egui::Modal::new(egui::Id::unique("pin-measurement")).show(ui.ctx(), |ui| {
            ui.set_max_width(560.0);
            ui.heading(RichText::new("Trust this measurement?").color(Color32::YELLOW));
            ui.label(PIN_WARNING);
            ui.add_space(4.0);
            ui.label(RichText::new(measurement).monospace());
            ui.label(format!("It will be added to {} in {}.", key.shown(), policy.display()));
            ui.checkbox(&mut d.compared, COMPARED_LABEL);
            if let Some(e) = &d.pin_error {
                ui.colored_label(Color32::LIGHT_RED, e);
            }
            ui.horizontal(|ui| {
                if ui.add_enabled(d.compared, egui::Button::new(PIN_LABEL)).clicked() {
                    confirmed = true;
                }
                if ui.button("Cancel").clicked() {
                    d.pin_open = false;
                }
            });
        });
    });
    if confirmed {
        d.pin_open = false;
    }
    confirmed
}

/// The changed-identity warning, as a dialog over the refusal page. No accept button:
/// accepting means editing known_guests by hand, which the text explains.
pub fn identity_ui(ui: &mut egui::Ui, state: &ClientState, d: &mut Dialogs) {
    let Some(refusal) = state.verdict.refusal.as_ref().filter(|r| r.name == IDENTITY_CHANGED) else { return };
    if d.identity_closed {
        if ui.button("Show the identity warning again").clicked() {
            d.identity_closed = false;
        }
        return;
    }
    egui::Modal::new(egui::Id::unique("identity-changed")).show(ui.ctx(), |ui| {
        ui.set_max_width(640.0);
        ui.heading(RichText::new(IDENTITY_HEADING).color(Color32::LIGHT_RED).strong());
        ui.label(
            "The guest proved it runs the expected image on genuine hardware, but with a different identity \
             key than the one pinned for this address. Someone may be impersonating the guest with another \
             instance of the same image, or the guest was rebuilt without its identity key.",
        );
        if let Some(c) = &state.verdict.identity_change {
            egui::Grid::new("identity-rows").num_columns(3).spacing([12.0, 4.0]).show(ui, |ui| {
                ui.label("Identity now");
                ui.monospace(&c.seen);
                copy_button(ui, "new identity", &c.seen);
                ui.end_row();
                ui.label("Identity pinned");
                ui.monospace(&c.pinned);
                copy_button(ui, "pinned identity", &c.pinned);
                ui.end_row();
                let at = format!("{}:{}", c.file.display(), c.line);
                ui.label("Pinned in");
                ui.monospace(&at);
                copy_button(ui, "known_guests location", &at);
                ui.end_row();
            });
            ui.label(format!(
                "Refused. If you know why the identity changed and trust the new one, remove line {} of {} \
                 (for example: sed -i '{}d' '{}') and connect again.",
                c.line,
                c.file.display(),
                c.line,
                c.file.display()
            ));
        } else {
            ui.label(RichText::new(&refusal.message).monospace());
        }
        ui.horizontal(|ui| {
            if ui.button("Copy the warning").clicked() {
                ui.ctx().copy_text(refusal.message.clone());
            }
            if ui.button("Close").clicked() {
                d.identity_closed = true;
            }
        });
    });
}
