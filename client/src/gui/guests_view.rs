//! The saved-guests list: connect, add, remove; changes are written at once.

use std::path::PathBuf;

use egui::{Color32, RichText};

use crate::gui::guests::{SavedGuest, SavedGuests};

/// The list and the "add" form.
#[derive(Debug)]
pub struct GuestsView {
    list: SavedGuests,
    form: SavedGuest,
    policy_text: String,
    error: Option<String>,
}

impl GuestsView {
    /// Show `list`.
    pub fn new(list: SavedGuests) -> Self {
        Self { list, form: SavedGuest::default(), policy_text: String::new(), error: None }
    }

    /// The guests shown.
    pub fn guests(&self) -> &[SavedGuest] {
        &self.list.guests
    }

    fn save(&mut self) {
        self.error = self.list.save().err().map(|e| e.to_string());
    }

    /// Draw; returns the guest to connect to, if one was chosen.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<SavedGuest> {
        let mut chosen = None;
        let mut remove = None;
        ui.heading("Guests");
        if self.list.guests.is_empty() {
            ui.label("No saved guests yet. Add one below, or try `cvm-console demo`.");
        }
        egui::Grid::new("guests").num_columns(5).striped(true).spacing([12.0, 4.0]).show(ui, |ui| {
            for (i, g) in self.list.guests.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.strong(&g.name);
                    if g.view_only {
                        ui.weak("view only");
                    }
                });
                ui.monospace(&g.address);
                ui.label(g.policy.display().to_string());
                if ui.button("Connect").on_hover_text(format!("Connect to {}", g.name)).clicked() {
                    chosen = Some(g.clone());
                }
                if ui.button("Remove").on_hover_text(format!("Remove {}", g.name)).clicked() {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
        if let Some(i) = remove {
            self.list.guests.remove(i);
            self.save();
        }
        ui.add_space(12.0);
        ui.strong("Add a guest");
        egui::Grid::new("add-guest").num_columns(2).show(ui, |ui| {
            ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.form.name).hint_text("db-1"));
            ui.end_row();
            ui.label("Address");
            ui.add(egui::TextEdit::singleline(&mut self.form.address).hint_text("10.0.0.5:7443"));
            ui.end_row();
            ui.label("Trust policy");
            ui.add(egui::TextEdit::singleline(&mut self.policy_text).hint_text("/path/to/policy.toml"));
            ui.end_row();
            ui.label("Screen");
            ui.checkbox(&mut self.form.view_only, "View only: send no keys or pointer until I turn it off");
            ui.end_row();
        });
        if ui.button("Add").clicked() {
            if self.form.name.trim().is_empty() || self.form.address.trim().is_empty() || self.policy_text.is_empty() {
                self.error = Some("a guest needs a name, an address (HOST:PORT) and a trust policy file".into());
            } else {
                let mut g = std::mem::take(&mut self.form);
                g.policy = PathBuf::from(std::mem::take(&mut self.policy_text).trim());
                self.list.guests.push(g);
                self.save();
            }
        }
        if let Some(e) = &self.error {
            ui.label(RichText::new(e).color(Color32::LIGHT_RED));
        }
        ui.weak(format!("Saved in {}", self.list.path.display()));
        chosen
    }
}
