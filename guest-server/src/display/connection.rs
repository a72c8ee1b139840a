//! One display connection: the handshake, then two loops in the connection's task —
//! the read loop (client messages: input goes straight to the sink, requests and
//! settings to the write loop) and the write loop (`update`). The first to
//! end ends the connection; a malformed message ends it with the reason.

use std::sync::Arc;
use std::time::Duration;

use cvmc_protocol::rfb::{ClientMsg, ClientMsgDecoder};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};

use super::control::{Request, Shared};
use super::damage::Rect;
use super::handshake::handshake;
use super::hub::ScreenHub;
use super::{DisplayConfig, DisplayError, InputSink, update};

/// The client must finish the handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest single read from the stream (below the decoder's 64 KiB push limit).
const READ_CHUNK: usize = 16 * 1024;
/// SetDesktopSize requests we hold unanswered (each needs its own reply rectangle).
const MAX_RESIZE_REPLIES: usize = 16;

/// Serve one RFB connection on an already attested stream until it ends. Never panics
/// on client input; malformed messages end this connection with a DisplayError naming
/// the reason. `cfg.max_fps` is for whoever builds the hub ([`ScreenHub::new`]).
pub async fn serve_rfb<S>(
    stream: S,
    hub: ScreenHub,
    input: Option<Arc<dyn InputSink>>,
    cfg: &DisplayConfig,
) -> Result<(), DisplayError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut stream = stream;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream, &hub, &cfg.desktop_name))
        .await
        .map_err(|_| DisplayError::HandshakeTimeout { secs: HANDSHAKE_TIMEOUT.as_secs() })??;
    tracing::info!(
        source = hub.source_name(),
        width = first.frame.width,
        height = first.frame.height,
        view_only = cfg.view_only,
        "display: client connected"
    );
    let (rd, wr) = tokio::io::split(stream);
    let shared = Shared::default();
    shared.set_geometry(first.frame.width, first.frame.height);
    let result = tokio::select! {
        r = read_loop(rd, &shared, &hub, input.as_deref(), cfg.view_only) => r,
        w = update::write_loop(wr, &hub, &shared, first) => w,
    };
    match &result {
        Ok(()) => tracing::info!("display: client disconnected"),
        Err(e) => tracing::warn!("display: connection ended: {e}"),
    }
    result
}

/// Read and act on client messages until the client closes or misbehaves.
async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    shared: &Shared,
    hub: &ScreenHub,
    input: Option<&dyn InputSink>,
    view_only: bool,
) -> Result<(), DisplayError> {
    let mut decoder = ClientMsgDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut dropped_input_logged = false;
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            if decoder.buffered() > 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "client closed mid-message").into());
            }
            return Ok(());
        }
        decoder.push(&buf[..n])?;
        while let Some(msg) = decoder.next_msg()? {
            let sink = match (view_only, input) {
                (false, Some(sink)) => Some(sink),
                _ => None,
            };
            let is_input = matches!(
                msg,
                ClientMsg::KeyEvent { .. } | ClientMsg::PointerEvent { .. } | ClientMsg::QemuExtendedKeyEvent { .. }
            );
            if is_input && sink.is_none() && !std::mem::replace(&mut dropped_input_logged, true) {
                tracing::info!(view_only, "display: dropping keyboard and pointer input");
            }
            if is_input && sink.is_some() {
                // The screen will likely answer the input: stop any idle back-off.
                hub.poke();
            }
            handle(msg, shared, sink)?;
        }
    }
}

fn handle(msg: ClientMsg, shared: &Shared, sink: Option<&dyn InputSink>) -> Result<(), DisplayError> {
    match msg {
        ClientMsg::KeyEvent { down, keysym } => sink.into_iter().for_each(|s| s.key(down, keysym, None)),
        ClientMsg::QemuExtendedKeyEvent { down, keysym, keycode } => {
            sink.into_iter().for_each(|s| s.key(down, keysym, Some(keycode)))
        }
        ClientMsg::PointerEvent { buttons, x, y } => {
            let (w, h) = shared.geometry();
            let (x, y) = (x.min(w.saturating_sub(1)), y.min(h.saturating_sub(1)));
            sink.into_iter().for_each(|s| s.pointer(buttons, x, y, w, h));
        }
        ClientMsg::ClientCutText(text) => {
            tracing::debug!(bytes = text.len(), "display: ClientCutText discarded");
        }
        ClientMsg::FramebufferUpdateRequest { incremental, x, y, width, height } => {
            let request = Request { incremental, area: Rect::new(x, y, width, height) };
            let mut control = shared.control();
            if control.waiting.is_some_and(|w| w.merge(request) == w) {
                return Ok(());
            }
            control.request = Some(control.request.map_or(request, |r| r.merge(request)));
            drop(control);
            shared.wake.notify_one();
        }
        ClientMsg::SetPixelFormat(pf) => {
            shared.control().pixel_format = Some(pf);
            shared.wake.notify_one();
        }
        ClientMsg::SetEncodings(list) => {
            shared.control().encodings = Some(list);
            shared.wake.notify_one();
        }
        ClientMsg::SetDesktopSize { width, height, .. } => {
            let mut control = shared.control();
            control.resize_replies += 1;
            if control.resize_replies > MAX_RESIZE_REPLIES {
                let count = control.resize_replies;
                return Err(DisplayError::TooManyResizeRequests { count, max: MAX_RESIZE_REPLIES });
            }
            drop(control);
            tracing::debug!(width, height, "display: SetDesktopSize (the guest sets the size; refused)");
            shared.wake.notify_one();
        }
    }
    Ok(())
}
