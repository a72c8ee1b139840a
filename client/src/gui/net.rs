//! The GUI's network thread: one tokio runtime per connected guest.
//!
//! ```text
//! VERIFY channel: attest ─► NetEvent::Verified | Refused      (the check list)
//!   then, only if trusted:
//!   CONSOLE channel: run_console ◄─ NetCommand::Console      ─► NetEvent::Console
//!   DISPLAY channel: attest, vnc-rs over TLS ◄─ Key, Pointer ─► NetEvent::Screen
//! ```
//! Every event is followed by the repaint callback (`egui::Context::request_repaint`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use vnc::{ClientKeyEvent, ClientMouseEvent, PixelFormat, VncClient, VncConnector, VncEncoding, VncEvent, X11Event};

use cvmc_protocol::handshake::alpn;

use crate::console_client::{ConsoleCommand, ConsoleEnd, Reconnect, run_console};
use crate::gui::frame::{Rect, ScreenEvent};
use crate::gui::state::{NetCommand, NetEvent};
use crate::net::{ConnectError, ConnectOptions, connect};

/// How often the screen asks for an incremental update.
const REFRESH_EVERY: Duration = Duration::from_millis(40);

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
        other => NetEvent::Failed(other.to_string()),
    }
}

/// Verify, then (only if trusted) open the console and the screen and route commands.
pub async fn run(
    address: String,
    opts: ConnectOptions,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
    emit: Emitter,
) {
    emit.emit(NetEvent::Connecting);
    match connect(&address, alpn::VERIFY, &opts).await {
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
        tokio::spawn(async move {
            let end = run_console(&address, &opts, console_rx, cev_tx, Reconnect::default()).await;
            emit.emit(match end {
                ConsoleEnd::Connect(e) => connect_failed(e),
                other => NetEvent::ConsoleEnded(format!("console: {other}")),
            });
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
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let screen = tokio::spawn(screen(address, opts, input_rx, emit.clone()));

    while let Some(cmd) = commands.recv().await {
        match cmd {
            NetCommand::Console(c) => {
                let _ = console_tx.send(c).await;
            }
            NetCommand::Key { keysym, down } => {
                let _ = input_tx.send(X11Event::KeyEvent(ClientKeyEvent { keycode: keysym, down }));
            }
            NetCommand::Pointer { x, y, buttons } => {
                let _ = input_tx.send(X11Event::PointerEvent(ClientMouseEvent {
                    position_x: x,
                    position_y: y,
                    bottons: buttons,
                }));
            }
            NetCommand::Disconnect => break,
        }
    }
    let _ = console_tx.send(ConsoleCommand::Close).await;
    drop(input_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), console).await;
    forward.abort();
    screen.abort();
}

/// The screen: an attested DISPLAY connection driven by vnc-rs.
async fn screen(address: String, opts: ConnectOptions, mut input: mpsc::UnboundedReceiver<X11Event>, emit: Emitter) {
    let end = match drive_screen(&address, &opts, &mut input, &emit).await {
        Ok(()) => "the screen connection closed".to_owned(),
        Err(ScreenError::Connect(ConnectError::Refused { error, report })) => {
            emit.emit(NetEvent::Refused { error, report });
            return;
        }
        Err(e) => e.to_string(),
    };
    emit.emit(NetEvent::Screen(ScreenEvent::Ended(end)));
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

async fn drive_screen(
    address: &str,
    opts: &ConnectOptions,
    input: &mut mpsc::UnboundedReceiver<X11Event>,
    emit: &Emitter,
) -> Result<(), ScreenError> {
    let attested = connect(address, alpn::DISPLAY, opts).await?;
    let client: VncClient = VncConnector::new(attested.stream)
        .set_auth_method(async move { Ok(String::new()) })
        .add_encoding(VncEncoding::Zrle)
        .add_encoding(VncEncoding::CopyRect)
        .add_encoding(VncEncoding::Raw)
        .add_encoding(VncEncoding::DesktopSizePseudo)
        .allow_shared(true)
        .set_pixel_format(PixelFormat::bgra())
        .build()
        .map_err(vnc_err)?
        .try_start()
        .await
        .map_err(vnc_err)?
        .finish()
        .map_err(vnc_err)?;
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                while let Some(ev) = client.poll_event().await.map_err(vnc_err)? {
                    if let Some(ev) = screen_event(ev)? && !emit.emit(NetEvent::Screen(ev)) {
                        return Ok(());
                    }
                }
                client.input(X11Event::Refresh).await.map_err(vnc_err)?;
            }
            ev = input.recv() => match ev {
                Some(ev) => client.input(ev).await.map_err(vnc_err)?,
                None => {
                    let _ = client.close().await;
                    return Ok(());
                }
            }
        }
    }
}

/// vnc-rs's event as the GUI's; pixels arrive BGRA and leave RGBA.
fn screen_event(ev: VncEvent) -> Result<Option<ScreenEvent>, ScreenError> {
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
        VncEvent::Error(e) => return Err(ScreenError::Vnc(e)),
        _ => None,
    })
}
