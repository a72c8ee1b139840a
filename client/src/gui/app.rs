//! The eframe App: a thin layer over [`ClientState`]. Each frame it drains the net
//! thread's events into the state and renders the view for the phase; nothing of the
//! session is drawn before a verdict of trust. It repaints when the net thread wakes
//! it, on input, and once a second while a wait is shown; never on a timer otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, RichText};

use crate::gui::console_tab::ConsoleTab;
use crate::gui::dialogs::{self, Dialogs};
use crate::gui::guests::{SavedGuest, SavedGuests};
use crate::gui::guests_view::GuestsView;
use crate::gui::net::Link;
use crate::gui::net::NetCommand;
use crate::gui::screen_view::ScreenView;
use crate::gui::state::{ClientState, Phase};
use crate::gui::verdict_view;

/// The session bar's button while a reconnection is waited for.
pub const RECONNECT_NOW: &str = "Reconnect now";
/// The button that opens a new session (after the console ended) or tries again.
pub const CONNECT_AGAIN: &str = "Connect again";

/// Opens a new connection to the current guest (policy re-read from its file).
pub type Dialer = Box<dyn FnMut(Arc<dyn Fn() + Send + Sync>) -> Result<Link, String>>;

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

/// Where connections come from, for the life of the window.
enum Source {
    /// One guest given at start (the demo): `dialer`, if any, connects to it again.
    Direct { dialer: Option<Dialer> },
    /// The saved guests: the view picks one, `connector` connects to it.
    Saved { view: GuestsView, connector: Connector },
}

/// What the window is doing.
enum Mode {
    /// Showing the saved guests; nothing is connected.
    Choosing,
    /// One guest: connecting, refused, in session, or not connected after a failure.
    Guest {
        /// The net thread's link (None: an attempt to connect again failed).
        link: Option<Link>,
        /// The saved guest it came from (connecting again goes through the connector).
        saved: Option<SavedGuest>,
        /// Its policy file (pinning a measurement edits it).
        policy: Option<PathBuf>,
    },
}

impl Mode {
    fn link(&self) -> Option<&Link> {
        match self {
            Self::Guest { link, .. } => link.as_ref(),
            Self::Choosing => None,
        }
    }
}

/// The whole GUI.
pub struct GuiApp {
    /// What the views show.
    pub state: ClientState,
    /// The open tab of the session view.
    pub tab: Tab,
    source: Source,
    mode: Mode,
    screen: ScreenView,
    console: ConsoleTab,
    dialogs: Dialogs,
    /// What the net thread was last told about the screen's visibility.
    screen_visible: Option<bool>,
}

impl std::fmt::Debug for GuiApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuiApp").field("phase", &self.state.phase).field("tab", &self.tab).finish_non_exhaustive()
    }
}

impl GuiApp {
    /// Connected (or connecting) to one guest through `link`.
    pub fn with_link(guest_name: String, link: Link) -> Self {
        let mode = Mode::Guest { link: Some(link), saved: None, policy: None };
        let mut app = Self::new(guest_name, Source::Direct { dialer: None }, mode);
        app.state.phase = Phase::Connecting;
        app
    }

    /// The saved guests; `connector` opens a connection when one is chosen.
    pub fn with_guests(guests: SavedGuests, connector: Connector) -> Self {
        Self::new(String::new(), Source::Saved { view: GuestsView::new(guests), connector }, Mode::Choosing)
    }

    /// How to connect again (reconnect after an end, verify again after pinning).
    #[must_use]
    pub fn with_dialer(mut self, dialer: Dialer) -> Self {
        if let Source::Direct { dialer: d } = &mut self.source {
            *d = Some(dialer);
        }
        self
    }

    /// The guest's policy file, which pinning a measurement edits.
    #[must_use]
    pub fn with_policy_path(mut self, path: PathBuf) -> Self {
        if let Mode::Guest { policy, .. } = &mut self.mode {
            *policy = Some(path);
        }
        self
    }

    fn new(guest_name: String, source: Source, mode: Mode) -> Self {
        Self {
            state: ClientState::new(guest_name),
            tab: Tab::Screen,
            source,
            mode,
            screen: ScreenView::new(),
            console: ConsoleTab::default(),
            dialogs: Dialogs::default(),
            screen_visible: None,
        }
    }

    /// The net thread's link, if a guest is connected.
    fn link(&self) -> Option<&Link> {
        self.mode.link()
    }

    fn policy_path(&self) -> Option<&std::path::Path> {
        match &self.mode {
            Mode::Guest { policy, .. } => policy.as_deref(),
            Mode::Choosing => None,
        }
    }

    /// A fresh connection to the same guest: everything is attested again from scratch.
    fn redial(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let saved = match &self.mode {
            Mode::Guest { saved, .. } => saved.clone(),
            Mode::Choosing => None,
        };
        let dialed = match (&mut self.source, &saved) {
            (Source::Direct { dialer: Some(dial) }, _) => dial(wake),
            (Source::Saved { connector, .. }, Some(guest)) => connector(guest, wake),
            _ => Err("no way to connect again from here".into()),
        };
        Self::send(self.link(), NetCommand::Disconnect);
        let name = std::mem::take(&mut self.state.guest_name);
        self.state = ClientState::new(name);
        self.screen = self.screen.fresh();
        self.console = ConsoleTab::default();
        self.dialogs = Dialogs::default();
        self.screen_visible = None;
        self.tab = Tab::Screen;
        let policy = self.policy_path().map(std::path::Path::to_path_buf);
        let link = match dialed {
            Ok(link) => {
                self.state.phase = Phase::Connecting;
                Some(link)
            }
            Err(e) => {
                self.state.connection.status = Some(format!("cannot connect again: {e}"));
                None
            }
        };
        self.mode = Mode::Guest { link, saved, policy };
    }

    /// Send a command to the net thread (dropped when there is no connection).
    fn send(link: Option<&Link>, cmd: NetCommand) {
        if let Some(link) = link {
            let _ = link.commands.send(cmd);
        }
    }

    /// Drain the net thread's events into the state.
    fn pump(&mut self) {
        if let Mode::Guest { link: Some(link), .. } = &self.mode {
            while let Ok(ev) = link.events.try_recv() {
                self.state.apply(ev);
            }
        }
    }

    /// Drop the connection and go back to the saved guests.
    fn disconnect(&mut self) {
        Self::send(self.link(), NetCommand::Disconnect);
        self.mode = Mode::Choosing;
        self.state = ClientState::new(String::new());
        self.screen = ScreenView::new();
        self.console = ConsoleTab::default();
        self.dialogs = Dialogs::default();
        self.screen_visible = None;
        self.tab = Tab::Screen;
    }

    /// Pin the measurement the guest reported, then verify again on a fresh connection.
    fn pin(&mut self, ctx: &egui::Context, measurement: &str) {
        let Some(path) = self.policy_path().map(std::path::Path::to_path_buf) else { return };
        match crate::gui::pin::pin_value(&path, self.state.verdict.pin_key, measurement) {
            Ok(()) => {
                self.redial(ctx);
                self.state.connection.status =
                    Some(format!("measurement added to {}; verifying again", path.display()));
            }
            Err(e) => self.dialogs.pin_error = Some(e.to_string()),
        }
    }

    /// Render one frame into `ui` (what `App::ui` does; tests call it directly).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.pump();
        if self.state.verdict.simulated {
            egui::Panel::top("banner").frame(egui::Frame::new().fill(BANNER_FILL).inner_margin(6)).show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    ui.label(RichText::new(BANNER_TEXT).strong().size(18.0).color(Color32::BLACK));
                });
            });
        }
        // The console is fed every frame, whichever tab is open, so nothing piles up.
        if self.state.session_visible() {
            let link = self.mode.link();
            self.console.feed(&mut self.state, &mut |c| Self::send(link, c));
        }
        let mut leave = false;
        let mut again = false;
        let mut pin = None;
        egui::CentralPanel::default().show(ui, |ui| match self.state.phase {
            Phase::Idle if matches!(self.mode, Mode::Choosing) => self.guests_ui(ui),
            Phase::Idle => {
                ui.heading(format!("Not connected: {}", self.state.guest_name));
                if let Some(status) = &self.state.connection.status {
                    ui.colored_label(Color32::LIGHT_RED, status);
                }
                if let Some(stage) = &self.state.connection.failed_at {
                    ui.label(format!("It failed while {}", verdict_view::stage_text(stage)));
                    ui.label(verdict_view::slow_hint(stage));
                }
                ui.horizontal(|ui| {
                    again = self.can_redial() && ui.button(CONNECT_AGAIN).clicked();
                    leave = self.has_guests() && ui.button("Back to guests").clicked();
                });
                ui.add_space(8.0);
                verdict_view::checks_ui(ui, &self.state);
            }
            Phase::Connecting | Phase::Verifying | Phase::Verified => verdict_view::connecting_ui(ui, &self.state),
            Phase::Refused => {
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                    leave = self.has_guests() && ui.button("Back to guests").clicked();
                    verdict_view::refused_ui(ui, &self.state);
                    let policy = self.policy_path().map(std::path::Path::to_path_buf);
                    if let Some(m) = &self.state.verdict.pinnable
                        && dialogs::pin_offer_ui(
                            ui,
                            m,
                            self.state.verdict.pin_key,
                            policy.as_deref(),
                            &mut self.dialogs,
                        )
                    {
                        pin = Some(m.clone());
                    }
                    dialogs::identity_ui(ui, &self.state, &mut self.dialogs);
                });
            }
            Phase::Session | Phase::Reconnecting => (leave, again) = self.session_ui(ui),
        });
        if let Some(m) = pin {
            self.pin(ui.ctx(), &m);
        } else if again {
            self.redial(ui.ctx());
        } else if leave {
            self.disconnect();
        }
        self.state.changed = false;
    }

    fn can_redial(&self) -> bool {
        match (&self.source, &self.mode) {
            (Source::Direct { dialer }, _) => dialer.is_some(),
            (Source::Saved { .. }, Mode::Guest { saved, .. }) => saved.is_some(),
            (Source::Saved { .. }, Mode::Choosing) => false,
        }
    }

    fn has_guests(&self) -> bool {
        matches!(self.source, Source::Saved { .. })
    }

    /// Tell the net thread whether the screen is on view (only when that changes).
    fn screen_visibility(&mut self) {
        let on = self.state.session_visible() && self.tab == Tab::Screen;
        if self.screen_visible != Some(on) {
            self.screen_visible = Some(on);
            Self::send(self.link(), NetCommand::ScreenVisible(on));
        }
    }

    /// The session bar's middle: reconnecting (what for, attempt, next try) or ended.
    /// Returns (reconnect now, connect again).
    fn connection_status(&self, ui: &mut egui::Ui) -> (bool, bool) {
        let (mut now, mut again) = (false, false);
        if let Some(ended) = &self.state.session.ended {
            ui.colored_label(Color32::LIGHT_RED, format!("Session ended: {ended}"));
            again = self.can_redial() && ui.button(CONNECT_AGAIN).clicked();
        } else if self.state.phase == Phase::Reconnecting {
            let running = self.state.connection.stage.is_some();
            match &self.state.connection.retry {
                Some(r) if !running => {
                    ui.colored_label(
                        Color32::YELLOW,
                        format!(
                            "Reconnecting: connection lost ({}); attempt {}, next try in {} s, with a fresh attestation",
                            r.reason,
                            r.attempt,
                            r.secs_left()
                        ),
                    );
                    ui.ctx().request_repaint_after(Duration::from_secs(1));
                }
                _ => {
                    let attempt = self.state.connection.retry.as_ref().map_or(1, |r| r.attempt);
                    ui.colored_label(Color32::YELLOW, format!("Reconnecting (attempt {attempt}):"));
                    verdict_view::stage_ui(ui, &self.state);
                }
            }
            now = ui.button(RECONNECT_NOW).clicked();
        }
        if let Some(status) = &self.state.connection.status {
            ui.weak(status);
        }
        (now, again)
    }

    fn guests_ui(&mut self, ui: &mut egui::Ui) {
        let Source::Saved { view, connector } = &mut self.source else {
            ui.label("No guest.");
            return;
        };
        if let Some(status) = &self.state.connection.status {
            ui.colored_label(Color32::LIGHT_RED, status);
        }
        let Some(guest) = view.ui(ui) else { return };
        let ctx = ui.ctx().clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        match connector(&guest, wake) {
            Ok(link) => {
                self.state = ClientState::new(guest.name.clone());
                self.state.phase = Phase::Connecting;
                // The saved choice applies from the first frame; reconnects keep whatever
                // the user has switched it to since.
                self.screen.view_only = guest.view_only;
                let policy = Some(guest.policy.clone());
                self.mode = Mode::Guest { link: Some(link), saved: Some(guest), policy };
            }
            Err(e) => self.state.connection.status = Some(e),
        }
    }

    /// The session: tabs, then the open one. Returns (disconnect, connect again).
    fn session_ui(&mut self, ui: &mut egui::Ui) -> (bool, bool) {
        let (mut leave, mut now, mut again) = (false, false, false);
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, Tab::Screen, "Screen");
            ui.selectable_value(&mut self.tab, Tab::Console, "Console");
            ui.selectable_value(&mut self.tab, Tab::Attestation, "Attestation");
            ui.separator();
            ui.label(&self.state.guest_name);
            leave = ui.button("Disconnect").clicked();
        });
        let waiting = self.state.phase == Phase::Reconnecting || self.state.session.ended.is_some();
        if waiting || self.state.connection.status.is_some() {
            ui.horizontal_wrapped(|ui| (now, again) = self.connection_status(ui));
        }
        if now {
            Self::send(self.link(), NetCommand::ReconnectNow);
        }
        self.screen_visibility();
        ui.separator();
        let link = self.mode.link();
        let mut send = |c| Self::send(link, c);
        if self.tab != Tab::Console {
            self.console.hidden();
        }
        match self.tab {
            Tab::Screen => self.screen.ui(ui, &mut self.state.session, &mut send),
            Tab::Console => self.console.ui(ui, &mut send),
            Tab::Attestation => verdict_view::attestation_ui(ui, &self.state),
        }
        (leave, again)
    }
}

impl eframe::App for GuiApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
