//! The desktop GUI: saved guests, connect -> verify (the check list) -> a session
//! with Screen, Console and Attestation tabs. Nothing of the session is shown before
//! the verdict; a simulated guest carries a permanent banner.
//!
//! ```text
//! net thread (tokio) ──NetEvent──► std mpsc ──► ClientState::apply ──► views (egui)
//!   (stages, verdict,                              (request_repaint after each event;
//!    console, screen)                               once a second only while a wait shows)
//!        ▲
//!        └──────────── NetCommand (tokio mpsc) ◄── views: typing, send-keys, pointer,
//!                                                  screen shown/hidden, reconnect now
//! ```
//! Pinning a measurement edits the policy file ([`pin`]) and dials again; a changed
//! identity only explains itself ([`dialogs`]).

pub mod app;
pub mod console_tab;
pub mod dialogs;
pub mod frame;
/// The saved-guests file (not GUI code: kept outside, re-exported here).
pub use crate::saved_guests as guests;
pub mod guests_view;
pub mod keymap;
pub mod keysym;
pub mod net;
pub mod pin;
pub mod scale;
pub mod screen_view;
pub mod state;
pub mod verdict_view;

use std::sync::Arc;

use crate::clientkey::{ClientKey, config_dir};
use crate::error::ClientError;
use crate::gui::app::GuiApp;
use crate::gui::guests::{SavedGuest, SavedGuests};
use crate::net::ConnectOptions;

/// What the window opens on.
#[derive(Debug)]
pub enum Start {
    /// The saved guests.
    Guests(SavedGuests),
    /// One guest, connecting at once.
    Connect {
        /// A name for the title and the session bar.
        name: String,
        /// HOST:PORT.
        address: String,
        /// Policy, client key, pins.
        opts: ConnectOptions,
    },
}

/// Options for a saved guest: its policy, this client's key, pinning on first use.
pub fn options_for(guest: &SavedGuest) -> Result<ConnectOptions, ClientError> {
    let loaded = crate::policy_file::load_policy(&guest.policy)?;
    let dir = config_dir()?;
    Ok(ConnectOptions {
        policy: Arc::new(loaded),
        client_key: Some(Arc::new(ClientKey::load_or_create(&dir)?)),
        known_guests: Some(crate::known_guests::KnownGuests::new(dir.join("known_guests"))),
        pin_new: true,
        // A real TDX guest whose quote comes without collateral: Intel's PCS, cached.
        pcs: Some(std::sync::Arc::new(crate::pcs::PcsSource::new(None, false))),
        // A real SEV-SNP guest whose report comes without its VCEK: AMD's KDS, cached.
        kds: Some(std::sync::Arc::new(crate::kds::KdsSource::new(None, false))),
    })
}

fn gui_error(e: impl std::fmt::Display) -> ClientError {
    let mut reason = e.to_string();
    if reason.contains("DISPLAY") {
        // No graphical session (ssh, a server console): say what works instead.
        reason = reason.trim_end_matches('.').to_owned();
        reason.push_str("; without a display, use `cvm-console demo --terminal` or `cvm-console console HOST:PORT`");
    }
    ClientError::Local { what: "window", reason }
}

/// Open the window and run until it is closed.
pub fn run(start: Start) -> Result<(), ClientError> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1100.0, 800.0]).with_title("cvm-console"),
        ..Default::default()
    };
    eframe::run_native(
        "cvm-console",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            let app = match start {
                Start::Guests(list) => GuiApp::with_guests(
                    list,
                    Box::new(|guest, wake| {
                        let opts = options_for(guest).map_err(|e| e.to_string())?;
                        net::spawn(guest.address.clone(), opts, wake).map_err(|e| e.to_string())
                    }),
                ),
                Start::Connect { name, address, opts } => {
                    let policy = opts.policy.path.clone();
                    let link = net::spawn(address.clone(), opts.clone(), wake)?;
                    GuiApp::with_link(name, link).with_policy_path(policy).with_dialer(Box::new(move |wake| {
                        // Re-read the policy: it may have changed (a pinned measurement).
                        let mut opts = opts.clone();
                        let loaded = crate::policy_file::load_policy(&opts.policy.path).map_err(|e| e.to_string())?;
                        opts.policy = Arc::new(loaded);
                        net::spawn(address.clone(), opts, wake).map_err(|e| e.to_string())
                    }))
                }
            };
            Ok(Box::new(app))
        }),
    )
    .map_err(gui_error)
}
