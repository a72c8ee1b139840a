//! The eframe App: a thin layer over [`ClientState`]. Each frame it drains the net
//! thread's events into the state and renders the view for the phase; nothing of the
//! session is drawn before a verdict of trust.

use std::sync::Arc;

use egui::{Color32, RichText};

use crate::gui::console_tab::ConsoleTab;
use crate::gui::guests::SavedGuests;
use crate::gui::guests_view::GuestsView;
use crate::gui::net::Link;
use crate::gui::screen_view::ScreenView;
use crate::gui::state::{ClientState, NetCommand, Phase};
use crate::gui::verdict_view;

/// The banner's fill: orange, a colour no test pattern bar has.
pub const BANNER_FILL: Color32 = Color32::from_rgb(0xff, 0x8c, 0x00);
/// The banner's words.
pub const BANNER_TEXT: &str = "SIMULATED - NOT CONFIDENTIAL";

/// The session view's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The guest's screen.
    Screen,
    /// The guest's console.
    Console,
    /// What was verified.
    Attestation,
}

/// Starts a connection for the guests view; given the GUI's repaint callback.
pub type Connector =
    Box<dyn FnMut(&crate::gui::guests::SavedGuest, Arc<dyn Fn() + Send + Sync>) -> Result<Link, String>>;

/// The whole GUI.
pub struct GuiApp {
    /// What the views show.
    pub state: ClientState,
    link: Option<Link>,
    /// The open tab of the session view.
    pub tab: Tab,
    guests: Option<GuestsView>,
    connector: Option<Connector>,
    screen: ScreenView,
    console: ConsoleTab,
}

impl std::fmt::Debug for GuiApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuiApp").field("phase", &self.state.phase).field("tab", &self.tab).finish_non_exhaustive()
    }
}

impl GuiApp {
    /// Connected (or connecting) to one guest through `link`.
    pub fn with_link(guest_name: String, link: Link) -> Self {
        let mut app = Self::empty(guest_name);
        app.link = Some(link);
        app.state.phase = Phase::Connecting;
        app
    }

    /// The saved guests; `connector` opens a connection when one is chosen.
    pub fn with_guests(guests: SavedGuests, connector: Connector) -> Self {
        let mut app = Self::empty(String::new());
        app.guests = Some(GuestsView::new(guests));
        app.connector = Some(connector);
        app
    }

    fn empty(guest_name: String) -> Self {
        Self {
            state: ClientState::new(guest_name),
            link: None,
            tab: Tab::Screen,
            guests: None,
            connector: None,
            screen: ScreenView::new(),
            console: ConsoleTab::default(),
        }
    }

    /// Send a command to the net thread (dropped when there is no connection).
    fn send(link: Option<&Link>, cmd: NetCommand) {
        if let Some(link) = link {
            let _ = link.commands.send(cmd);
        }
    }

    /// Drain the net thread's events into the state.
    fn pump(&mut self) {
        if let Some(link) = &self.link {
            while let Ok(ev) = link.events.try_recv() {
                self.state.apply(ev);
            }
        }
    }

    /// Drop the connection and go back to the saved guests.
    fn disconnect(&mut self) {
        Self::send(self.link.as_ref(), NetCommand::Disconnect);
        self.link = None;
        self.state = ClientState::new(String::new());
        self.screen = ScreenView::new();
        self.console = ConsoleTab::default();
        self.tab = Tab::Screen;
    }

    /// Render one frame into `ui` (what `App::ui` does; tests call it directly).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.pump();
        if self.state.simulated {
            egui::Panel::top("banner").frame(egui::Frame::new().fill(BANNER_FILL).inner_margin(6)).show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    ui.label(RichText::new(BANNER_TEXT).strong().size(18.0).color(Color32::BLACK));
                });
            });
        }
        // The console is fed every frame, whichever tab is open, so nothing piles up.
        if self.state.session_visible() {
            let link = self.link.as_ref();
            self.console.feed(&mut self.state, &mut |c| Self::send(link, c));
        }
        let mut leave = false;
        egui::CentralPanel::default().show(ui, |ui| match self.state.phase {
            Phase::Idle if self.link.is_none() => self.guests_ui(ui),
            Phase::Idle => {
                verdict_view::checks_ui(ui, &self.state);
                if let Some(status) = &self.state.status {
                    ui.colored_label(Color32::LIGHT_RED, status);
                }
                leave = self.guests.is_some() && ui.button("Back to guests").clicked();
            }
            Phase::Connecting | Phase::Verifying | Phase::Verified => verdict_view::connecting_ui(ui, &self.state),
            Phase::Refused => {
                verdict_view::refused_ui(ui, &self.state);
                leave = self.guests.is_some() && ui.button("Back to guests").clicked();
            }
            Phase::Session | Phase::Reconnecting => leave = self.session_ui(ui),
        });
        if leave {
            self.disconnect();
        }
        self.state.changed = false;
    }

    fn guests_ui(&mut self, ui: &mut egui::Ui) {
        let Some(view) = &mut self.guests else {
            ui.label("No guest.");
            return;
        };
        if let Some(status) = &self.state.status {
            ui.colored_label(Color32::LIGHT_RED, status);
        }
        let Some(guest) = view.ui(ui) else { return };
        let ctx = ui.ctx().clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let Some(connector) = &mut self.connector else { return };
        match connector(&guest, wake) {
            Ok(link) => {
                self.state = ClientState::new(guest.name.clone());
                self.state.phase = Phase::Connecting;
                self.link = Some(link);
            }
            Err(e) => self.state.status = Some(e),
        }
    }

    /// The session: tabs, then the open one. Returns true when the user disconnects.
    fn session_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut leave = false;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, Tab::Screen, "Screen");
            ui.selectable_value(&mut self.tab, Tab::Console, "Console");
            ui.selectable_value(&mut self.tab, Tab::Attestation, "Attestation");
            ui.separator();
            ui.label(&self.state.guest_name);
            if self.state.phase == Phase::Reconnecting {
                ui.colored_label(Color32::YELLOW, "reconnecting…");
            }
            if let Some(status) = &self.state.status {
                ui.weak(status);
            }
            leave = ui.button("Disconnect").clicked();
        });
        ui.separator();
        let link = self.link.as_ref();
        let mut send = |c| Self::send(link, c);
        if self.tab != Tab::Console {
            self.console.hidden();
        }
        match self.tab {
            Tab::Screen => self.screen.ui(ui, &mut self.state.screen, &mut send),
            Tab::Console => self.console.ui(ui, &mut send),
            Tab::Attestation => verdict_view::attestation_ui(ui, &self.state),
        }
        leave
    }
}

impl eframe::App for GuiApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
