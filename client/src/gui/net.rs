//! The GUI's network thread: one tokio runtime per connected guest.
//!
//! ```text
//! VERIFY channel: attest ─► NetEvent::Verified | Refused      (the check list)
//!   then, only if trusted:
//!   CONSOLE channel: run_console ◄─ NetCommand::Console      ─► NetEvent::Console
//!   DISPLAY channel: attest, vnc-rs over TLS ◄─ Key, Pointer ─► NetEvent::Screen
//! ```
//! Every event is followed by the repaint callback (`egui::Context::request_repaint`);
//! nothing here polls on a timer. The screen asks for the next incremental update only
//! after one arrived (at most every [`REFRESH_EVERY`]) and asks for none while hidden.
//! Console and screen each reconnect on their own, with backoff and a fresh
//! attestation every time; "Reconnect now" cuts the wait short.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use vnc::{ClientKeyEvent, ClientMouseEvent, VncClient, VncEncoding, VncEvent, X11Event};

use cvmc_protocol::handshake::alpn;

use crate::backoff::{Backoff, Reconnect};
use crate::console_client::{ConsoleCommand, ConsoleEnd, ConsoleEvent, run_console_with};
use crate::gui::frame::{Rect, ScreenEvent};
use crate::net::{ConnectError, ConnectOptions, Stage, connect_with};
use crate::rfb_viewer::start_viewer;
use cvmc_protocol::{AttestedGuest, VerifyError};

/// The shortest time between two incremental update requests (25 updates a second at most).
pub const REFRESH_EVERY: Duration = Duration::from_millis(40);
/// A request for updates after this long without any, in case the guest answered one
/// with an empty update (which brings no event).
const KEEPALIVE: Duration = Duration::from_secs(5);
/// How the console and the screen reconnect: from 0.5 s, doubling to 5 s, and never
/// giving up by themselves (the guest ends the session, or the user leaves).
pub const RECONNECT: Reconnect =
    Reconnect { attempts: u32::MAX, first_delay: Duration::from_millis(500), max_delay: Duration::from_secs(5) };

/// What the net thread reports.
#[derive(Debug)]
pub enum NetEvent {
    /// TCP and TLS under way.
    Connecting,
    /// Evidence is being checked.
    Verifying,
    /// A connection (the first, or a reconnection) reached a new step.
    Stage(Stage),
    /// The guest passed every check.
    Verified {
        /// What was verified.
        guest: Box<AttestedGuest>,
        /// The report bytes as received.
        report: Vec<u8>,
    },
    /// The guest failed a check.
    Refused {
        /// The failed check with its values.
        error: VerifyError,
        /// The report as received, if any.
        report: Vec<u8>,
    },
    /// The guest attested but its identity differs from the pinned one: refused.
    /// The warning names both identities and the known_guests line.
    IdentityChanged(String),
    /// The connection failed before any verdict (network, TLS, authorization).
    Failed(String),
    /// From the console loop.
    Console(ConsoleEvent),
    /// The console ended (exit, the guest dropped the session); a new session can be opened.
    ConsoleEnded(String),
    /// New pixels, or a new size, from the screen connection.
    Screen(ScreenEvent),
    /// The screen connection ended for good (the console goes on).
    ScreenEnded(String),
    /// The screen connection dropped; the next attempt (with a fresh attestation) is due.
    ScreenReconnecting {
        /// Attempt number.
        attempt: u32,
        /// Why the last connection ended.
        reason: String,
        /// Delay before the attempt.
        retry_in: std::time::Duration,
    },
}

/// What the GUI asks the net thread to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetCommand {
    /// To the console loop.
    Console(ConsoleCommand),
    /// An RFB key event (RFC 6143 7.5.4): an X11 keysym, down or up.
    Key {
        /// The keysym.
        keysym: u32,
        /// Pressed (true) or released.
        down: bool,
    },
    /// An RFB pointer event (RFC 6143 7.5.5) in framebuffer pixels.
    Pointer {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Button mask (bit 0 left, 1 middle, 2 right).
        buttons: u8,
    },
    /// Whether the screen is on view: a hidden screen asks the guest for no updates.
    ScreenVisible(bool),
    /// While waiting to reconnect (console or screen): try now.
    ReconnectNow,
    /// Close everything.
    Disconnect,
}

/// Sends events to the GUI and wakes it.
#[derive(Clone)]
pub struct Emitter {
    tx: std::sync::mpsc::Sender<NetEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emitter")
    }
}

impl Emitter {
    /// Events go to `tx`; `wake` is called after each.
    pub fn new(tx: std::sync::mpsc::Sender<NetEvent>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self { tx, wake }
    }

    /// Send one event; false when the GUI is gone.
    pub fn emit(&self, ev: NetEvent) -> bool {
        let ok = self.tx.send(ev).is_ok();
        (self.wake)();
        ok
    }
}

/// The GUI's ends of a connection.
#[derive(Debug)]
pub struct Link {
    /// Events from the net thread.
    pub events: std::sync::mpsc::Receiver<NetEvent>,
    /// Commands to it.
    pub commands: mpsc::UnboundedSender<NetCommand>,
}

/// Start the net thread for `address`. `wake` repaints the GUI.
pub fn spawn(address: String, opts: ConnectOptions, wake: Arc<dyn Fn() + Send + Sync>) -> std::io::Result<Link> {
    let (ev_tx, events) = std::sync::mpsc::channel();
    let (commands, cmd_rx) = mpsc::unbounded_channel();
    let emit = Emitter::new(ev_tx, wake);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    std::thread::Builder::new().name("cvm-console-net".into()).spawn(move || {
        rt.block_on(run(address, opts, cmd_rx, emit));
    })?;
    Ok(Link { events, commands })
}

/// A connection error as an event: a refusal keeps its check and values.
fn connect_failed(e: ConnectError) -> NetEvent {
    match e {
        ConnectError::Refused { error, report } => NetEvent::Refused { error, report },
        ConnectError::IdentityChanged { warning } => NetEvent::IdentityChanged(warning),
        other => NetEvent::Failed(other.to_string()),
    }
}

/// What the screen task is told.
#[derive(Debug)]
enum ScreenCmd {
    Input(X11Event),
    Visible(bool),
}

/// Verify, then (only if trusted) open the console and the screen and route commands.
pub async fn run(
    address: String,
    opts: ConnectOptions,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
    emit: Emitter,
) {
    emit.emit(NetEvent::Connecting);
    let stages: Arc<dyn Fn(Stage) + Send + Sync> = {
        let emit = emit.clone();
        Arc::new(move |s| {
            emit.emit(NetEvent::Stage(s));
        })
    };
    match connect_with(&address, alpn::VERIFY, &opts, &*stages).await {
        Ok(mut attested) => {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut attested.stream).await;
            emit.emit(NetEvent::Verified { guest: Box::new(attested.guest), report: attested.report });
        }
        Err(e) => {
            emit.emit(connect_failed(e));
            return;
        }
    }

    let (console_tx, console_rx) = mpsc::channel::<ConsoleCommand>(256);
    let (cev_tx, mut cev_rx) = mpsc::channel(256);
    let console = {
        let (address, opts, emit) = (address.clone(), opts.clone(), emit.clone());
        // The GUI never gives up on a session by itself: it keeps re-attaching (every
        // attempt attested afresh) until the guest drops the session or the user leaves.
        let forever = RECONNECT;
        // Returns whether the whole connection is over (a refusal or a failure before any
        // session): then the screen stops too. An ended session keeps its screen.
        tokio::spawn(async move {
            let end = run_console_with(&address, &opts, console_rx, cev_tx, forever, Some(stages)).await;
            let (event, over) = match end {
                ConsoleEnd::Connect(e) => (connect_failed(e), true),
                ConsoleEnd::Closed => return true,
                other => (NetEvent::ConsoleEnded(format!("console: {other}")), false),
            };
            emit.emit(event);
            over
        })
    };
    let forward = {
        let emit = emit.clone();
        tokio::spawn(async move {
            while let Some(ev) = cev_rx.recv().await {
                if !emit.emit(NetEvent::Console(ev)) {
                    break;
                }
            }
        })
    };
    let (screen_tx, screen_rx) = mpsc::unbounded_channel();
    let hurry = Arc::new(Notify::new());
    let screen = tokio::spawn(screen(address, opts, screen_rx, Arc::clone(&hurry), emit.clone()));

    let mut console = console;
    let mut console_running = true;
    loop {
        let cmd = tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => cmd,
                None => break,
            },
            over = &mut console, if console_running => {
                console_running = false;
                if over.unwrap_or(true) {
                    break;
                }
                continue;
            }
        };
        match cmd {
            NetCommand::Console(c) => {
                let _ = console_tx.send(c).await;
            }
            NetCommand::Key { .. } | NetCommand::Pointer { .. } => {
                if let Some(ev) = rfb_input(&cmd) {
                    let _ = screen_tx.send(ScreenCmd::Input(ev));
                }
            }
            NetCommand::ScreenVisible(on) => {
                let _ = screen_tx.send(ScreenCmd::Visible(on));
            }
            NetCommand::ReconnectNow => {
                let _ = console_tx.send(ConsoleCommand::ReconnectNow).await;
                hurry.notify_one();
            }
            NetCommand::Disconnect => break,
        }
    }
    let _ = console_tx.send(ConsoleCommand::Close).await;
    drop(screen_tx);
    if console_running {
        let _ = tokio::time::timeout(Duration::from_secs(2), console).await;
    }
    forward.abort();
    screen.abort();
}

/// The RFB input event (RFC 6143 7.5.4, 7.5.5) for a key or pointer command.
pub fn rfb_input(cmd: &NetCommand) -> Option<X11Event> {
    match *cmd {
        NetCommand::Key { keysym, down } => Some(X11Event::KeyEvent(ClientKeyEvent { keycode: keysym, down })),
        NetCommand::Pointer { x, y, buttons } => {
            Some(X11Event::PointerEvent(ClientMouseEvent { position_x: x, position_y: y, bottons: buttons }))
        }
        _ => None,
    }
}

/// The screen: an attested DISPLAY connection driven by vnc-rs, reconnected with
/// backoff (and attested afresh) whenever it drops.
async fn screen(
    address: String,
    opts: ConnectOptions,
    mut commands: mpsc::UnboundedReceiver<ScreenCmd>,
    hurry: Arc<Notify>,
    emit: Emitter,
) {
    let mut visible = true;
    let mut backoff = Backoff::new(RECONNECT);
    loop {
        let mut connected = false;
        let result = drive_screen(&address, &opts, &mut commands, &emit, &mut visible, &mut connected).await;
        let reason = match result {
            Ok(()) => return,
            // The guest says it will not serve the screen (none configured, or this key may
            // not see it): retrying would not change that.
            Err(ScreenError::Connect(e @ ConnectError::ChannelRefused { .. })) => {
                emit.emit(NetEvent::ScreenEnded(format!("no screen: {e}")));
                return;
            }
            Err(ScreenError::Connect(e @ (ConnectError::Refused { .. } | ConnectError::IdentityChanged { .. }))) => {
                emit.emit(connect_failed(e));
                return;
            }
            Err(ScreenError::Connect(e @ ConnectError::Unauthorized { .. })) => {
                emit.emit(NetEvent::ScreenEnded(e.to_string()));
                return;
            }
            Err(e) => e.to_string(),
        };
        if connected {
            backoff.connected();
        }
        let Some((attempt, delay)) = backoff.failed() else { return };
        if !emit.emit(NetEvent::ScreenReconnecting { attempt, reason, retry_in: delay }) {
            return;
        }
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                () = hurry.notified() => break,
                cmd = commands.recv() => match cmd {
                    None => return,
                    Some(ScreenCmd::Visible(on)) => visible = on,
                    // No screen: typing and pointer moves meant for it are dropped.
                    Some(ScreenCmd::Input(_)) => {}
                },
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ScreenError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("screen: {0}")]
    Vnc(String),
}

fn vnc_err(e: impl std::fmt::Display) -> ScreenError {
    ScreenError::Vnc(e.to_string())
}

/// One screen connection. `Ok` when the GUI is done with it; an error when it dropped.
async fn drive_screen(
    address: &str,
    opts: &ConnectOptions,
    commands: &mut mpsc::UnboundedReceiver<ScreenCmd>,
    emit: &Emitter,
    visible: &mut bool,
    connected: &mut bool,
) -> Result<(), ScreenError> {
    let attested = connect_with(address, alpn::DISPLAY, opts, &|_| {}).await?;
    *connected = true;
    let encodings = [VncEncoding::Zrle, VncEncoding::CopyRect, VncEncoding::Raw, VncEncoding::DesktopSizePseudo];
    let client: VncClient = start_viewer(attested.stream, &encodings).await.map_err(vnc_err)?;
    // vnc-rs asked for the first full frame itself. The next request goes out a moment
    // after an update arrived (so at most one is pending), or after a long quiet spell.
    let mut refresh_at: Option<Instant> = None;
    let mut keepalive = Instant::now() + KEEPALIVE;
    loop {
        let due = refresh_at.unwrap_or(keepalive);
        tokio::select! {
            ev = client.recv_event() => {
                if let Some(ev) = screen_event(ev.map_err(vnc_err)?).map_err(ScreenError::Vnc)? && !emit.emit(NetEvent::Screen(ev)) {
                    return Ok(());
                }
                if refresh_at.is_none() {
                    refresh_at = Some(Instant::now() + REFRESH_EVERY);
                }
                keepalive = Instant::now() + KEEPALIVE;
            }
            () = tokio::time::sleep_until(due), if *visible => {
                refresh_at = None;
                keepalive = Instant::now() + KEEPALIVE;
                client.input(X11Event::Refresh).await.map_err(vnc_err)?;
            }
            cmd = commands.recv() => match cmd {
                Some(ScreenCmd::Input(ev)) => client.input(ev).await.map_err(vnc_err)?,
                Some(ScreenCmd::Visible(on)) => {
                    if on && !*visible {
                        client.input(X11Event::Refresh).await.map_err(vnc_err)?;
                    }
                    *visible = on;
                }
                None => {
                    let _ = client.close().await;
                    return Ok(());
                }
            }
        }
    }
}

/// vnc-rs's event as the GUI's; pixels arrive BGRA and leave RGBA.
/// Public for the decode-to-present benchmark.
pub fn screen_event(ev: VncEvent) -> Result<Option<ScreenEvent>, String> {
    let rect = |r: vnc::Rect| Rect { x: r.x, y: r.y, w: r.width, h: r.height };
    Ok(match ev {
        VncEvent::SetResolution(s) => Some(ScreenEvent::Resized { w: s.width, h: s.height }),
        VncEvent::RawImage(r, mut data) => {
            for px in data.chunks_exact_mut(4) {
                px.swap(0, 2);
                px[3] = 255;
            }
            Some(ScreenEvent::Pixels(rect(r), data))
        }
        VncEvent::Copy(dst, src) => Some(ScreenEvent::Copy(rect(dst), (src.x, src.y))),
        VncEvent::Error(e) => return Err(e),
        _ => None,
    })
}
