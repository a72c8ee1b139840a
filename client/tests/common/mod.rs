//! The kittest rig shared by the GUI test files: the real App behind a test link,
//! fed events in place of the net thread, with the commands it emits drained.
#![allow(dead_code, reason = "each test file uses part of the rig")]

use std::sync::{Arc, Mutex, mpsc};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use cvm_console::console_client::ConsoleEvent;
use cvm_console::gui::app::GuiApp;
use cvm_console::gui::frame::{Rect, ScreenEvent};
use cvm_console::gui::net::Link;
use cvm_console::gui::net::{NetCommand, NetEvent};
use cvmc_protocol::GuestVerdict;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::Report;
use cvmc_protocol::snp::tcb::Tcb;
use cvmc_protocol::snp::verify::Passed;
use cvmc_protocol::{Anchor, AttestedGuest, Check, Verified};

pub const REPORT: &[u8] = include_bytes!("../../../tests/data/snp/milan_attestation_report.bin");

pub struct Rig {
    pub harness: Harness<'static, GuiApp>,
    pub events: mpsc::Sender<NetEvent>,
    pub commands: tokio::sync::mpsc::UnboundedReceiver<NetCommand>,
}

/// The test's ends of a link the app opened.
pub type Ends = (mpsc::Sender<NetEvent>, tokio::sync::mpsc::UnboundedReceiver<NetCommand>);

pub fn link() -> (Link, Ends) {
    let (events, ev_rx) = mpsc::channel();
    let (cmd_tx, commands) = tokio::sync::mpsc::unbounded_channel();
    (Link { events: ev_rx, commands: cmd_tx }, (events, commands))
}

impl Rig {
    pub fn new() -> Self {
        Self::with(|app| app, 1.0)
    }

    /// An app connected through a test link, changed by `setup`, at `ppp` pixels per point.
    pub fn with(setup: impl FnOnce(GuiApp) -> GuiApp, ppp: f32) -> Self {
        let (link, (events, commands)) = link();
        let app = setup(GuiApp::with_link("test guest".into(), link));
        let harness = Harness::builder()
            .with_size([1000.0, 700.0])
            .with_pixels_per_point(ppp)
            .build_ui_state(|ui: &mut egui::Ui, app: &mut GuiApp| app.show(ui), app);
        Self { harness, events, commands }
    }

    /// Keys sent since the last drain.
    pub fn keys(&mut self) -> Vec<(u32, bool)> {
        self.drain()
            .into_iter()
            .filter_map(|c| match c {
                NetCommand::Key { keysym, down } => Some((keysym, down)),
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, label: &str) -> bool {
        self.harness.query_all_by_label_contains(label).count() > 0
    }

    pub fn send(&mut self, ev: NetEvent) {
        self.events.send(ev).unwrap();
    }

    pub fn frames(&mut self, n: usize) {
        self.harness.run_steps(n);
    }

    /// Click the widget labelled `label` and let the app react (two frames: the click,
    /// then what it opened or changed).
    pub fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.frames(2);
    }

    /// [`Rig::click`] for a widget whose label contains `part`.
    pub fn click_containing(&mut self, part: &str) {
        self.harness.get_by_label_contains(part).click();
        self.frames(2);
    }

    pub fn drain(&mut self) -> Vec<NetCommand> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }

    /// Connect, verify (simulated), attach the console and show a small screen.
    pub fn session() -> Self {
        Self::new().into_session()
    }

    pub fn into_session(mut self) -> Self {
        let rig = &mut self;
        rig.send(NetEvent::Connecting);
        rig.send(NetEvent::Verified { guest: guest(), report: REPORT.to_vec() });
        rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
        rig.send(NetEvent::Screen(ScreenEvent::Resized { w: 64, h: 32 }));
        rig.send(NetEvent::Screen(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 2, h: 1 }, [255, 0, 0, 255].repeat(2))));
        rig.frames(3);
        self
    }
}

/// A dialer for the app that records each new link's test ends.
pub fn dialer(links: &Arc<Mutex<Vec<Ends>>>) -> cvm_console::gui::app::Dialer {
    let links = Arc::clone(links);
    Box::new(move |_wake| {
        let (link, ends) = link();
        links.lock().unwrap().push(ends);
        Ok(link)
    })
}

pub fn guest() -> Box<AttestedGuest> {
    let report = Report::parse(REPORT).unwrap();
    let passed = Check::SNP.iter().map(|c| Passed { check: *c, detail: format!("{c:?} detail") }).collect();
    Box::new(AttestedGuest {
        verified: GuestVerdict::Snp(Box::new(Verified {
            report,
            product: Product::Milan,
            reported_tcb: Tcb::default(),
            anchor: Anchor::PolicyRoot { label: "sim/ark.pem".into(), fingerprint: "ab".repeat(32) },
            passed,
            binding_checked: true,
            warnings: Vec::new(),
        })),
        identity_key: [7; 32],
        identity_fingerprint: format!("SHA256:{}", "07".repeat(32)),
        stage: cvmc_protocol::GuestStage::System,
    })
}
