//! One console connection (docs/DESIGN.md "Wire protocol v1", console channel): it pumps
//! the session's sans-IO state ([`cvmc_protocol::console::server`]) and decides nothing
//! itself.
//!
//! ```text
//! Attach ─► claim ─► three branches of this connection's task, the first to end ends it:
//!   receive:   socket ─► frames ─► state.receive ─► write_input (non-blocking) ─► PTY
//!   unblock:   only while the PTY is full: wait until writable ─► write_input
//!   transmit:  state.poll_transmit ─► SessionInfo, Data, input Ack, Exit ─► socket
//! ```
//!
//! Input is written to the PTY straight from the receive branch: handing a keystroke to
//! another branch of the same task would wake the task from inside itself, which tokio
//! answers by waking an idle worker to take it over (one more thread hop per key).
//! Nothing is buffered per connection beyond one read chunk and one frame being
//! decoded: output waits in the session's bounded ring, input in its bounded queue.

use std::sync::Arc;
use std::time::Duration;

use cvmc_protocol::console::server::Transmit;
use cvmc_protocol::console::{ConsoleMsg, SessionError, kind};
use cvmc_protocol::frame::{FrameDecoder, OwnedFrame};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::Notify;
use tokio::time::timeout;

use super::session::Session;
use super::{ConsoleError, Inner};
use crate::authorized::ClientAuth;

/// The first frame must be Attach and arrive within this time.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest single read from the socket.
const READ_CHUNK: usize = 16 * 1024;
/// After the client closed, how long its last input may take to reach the PTY.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How long a goodbye (Error frame, close) may take on a slow socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How a connection ended without a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The client closed the connection (or let the grace after Exit pass); the
    /// session lingers.
    ClientClosed,
    /// A newer connection attached to the session, or the session was hung up.
    Replaced,
    /// The process exited and the client has all of its output; the session is gone.
    Finished,
}

/// Serve one connection until it ends.
pub(super) async fn serve_connection<S>(inner: &Arc<Inner>, stream: S, auth: &ClientAuth) -> Result<End, ConsoleError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let (session, generation) = match attach(inner, &mut rd, &mut decoder, &mut buf, auth).await {
        Ok(attached) => attached,
        Err(err) => {
            refuse(&mut wr, &err).await;
            return Err(err);
        }
    };
    let link = Link { session: &session, generation, unblock: Notify::new() };
    let result = link.run(&mut rd, &mut wr, &mut decoder, &mut buf).await;
    session.release(generation, inner.linger_for(&session));
    if let Ok(End::Finished) = result {
        inner.remove(&session);
    }
    let _closed = timeout(CLOSE_GRACE, wr.shutdown()).await;
    result
}

/// Read the Attach frame and attach to (or open) its session.
async fn attach<R: AsyncRead + Unpin>(
    inner: &Arc<Inner>,
    rd: &mut R,
    decoder: &mut FrameDecoder,
    buf: &mut [u8],
    auth: &ClientAuth,
) -> Result<(Arc<Session>, u64), ConsoleError> {
    let frame = timeout(ATTACH_TIMEOUT, read_frame(rd, decoder, buf))
        .await
        .map_err(|_| ConsoleError::AttachTimeout { secs: ATTACH_TIMEOUT.as_secs() })??;
    match ConsoleMsg::decode_payload(frame.kind, &frame.payload).map_err(ConsoleError::Malformed)? {
        ConsoleMsg::Attach { token, output_received } => inner.attach(token, output_received, auth),
        _ => Err(SessionError::UnexpectedMessage { kind: frame.kind, phase: "before attach" }.into()),
    }
}

async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    decoder: &mut FrameDecoder,
    buf: &mut [u8],
) -> Result<OwnedFrame, ConsoleError> {
    loop {
        if let Some(frame) = decoder.next_frame().map_err(ConsoleError::Malformed)? {
            return Ok(frame);
        }
        let n = rd.read(buf).await.map_err(ConsoleError::Io)?;
        if n == 0 {
            return Err(ConsoleError::ClosedBeforeAttach);
        }
        decoder.push(&buf[..n]);
    }
}

/// Best effort: tell the client why, then close.
async fn refuse<W: AsyncWrite + Unpin>(wr: &mut W, err: &ConsoleError) {
    let msg = ConsoleMsg::Error { reason: err.to_string() };
    let _sent = timeout(CLOSE_GRACE, async {
        write_msg(wr, &msg).await?;
        wr.shutdown().await.map_err(ConsoleError::Io)
    })
    .await;
}

async fn write_msg<W: AsyncWrite + Unpin>(wr: &mut W, msg: &ConsoleMsg) -> Result<(), ConsoleError> {
    let frame = msg.encode().map_err(ConsoleError::Encode)?;
    wr.write_all(&frame).await.map_err(ConsoleError::Io)?;
    wr.flush().await.map_err(ConsoleError::Io)
}

/// An attached connection.
struct Link<'a> {
    session: &'a Arc<Session>,
    generation: u64,
    /// Set when the PTY was full: the unblock branch waits for it to take input again.
    unblock: Notify,
}

impl Link<'_> {
    async fn run<R, W>(
        &self,
        rd: &mut R,
        wr: &mut W,
        decoder: &mut FrameDecoder,
        buf: &mut [u8],
    ) -> Result<End, ConsoleError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let input = async {
            tokio::select! {
                received = self.receive(rd, decoder, buf) => received?,
                end = self.unblock_input() => return end,
            }
            // The client closed its side: let the input it sent reach the console.
            let _ = timeout(DRAIN_GRACE, self.drain_input()).await;
            Ok(End::ClientClosed)
        };
        tokio::select! {
            end = input => end,
            end = self.transmit(wr) => end,
            // Even while a write to a client that stopped reading is blocked.
            () = self.session.kicked(self.generation) => Ok(End::Replaced),
        }
    }

    /// Decode client frames into the state, and write their input to the PTY at once
    /// as far as it takes it. `Ok` when the client closed cleanly.
    async fn receive<R: AsyncRead + Unpin>(
        &self,
        rd: &mut R,
        decoder: &mut FrameDecoder,
        buf: &mut [u8],
    ) -> Result<(), ConsoleError> {
        loop {
            let mut input = false;
            while let Some(frame) = decoder.next_frame().map_err(ConsoleError::Malformed)? {
                input |= matches!(frame.kind, kind::DATA | kind::RESIZE);
                let msg = ConsoleMsg::decode_payload(frame.kind, &frame.payload).map_err(ConsoleError::Malformed)?;
                self.session.receive(self.generation, msg)?;
            }
            if input && self.session.write_input(self.generation).blocked {
                self.unblock.notify_one();
            }
            let n = rd.read(buf).await.map_err(ConsoleError::Io)?;
            if n == 0 {
                return match decoder.buffered() {
                    0 => Ok(()),
                    buffered => Err(ConsoleError::TruncatedFrame { buffered }),
                };
            }
            decoder.push(&buf[..n]);
        }
    }

    /// While the PTY is full: wait until it takes input again and write what waits.
    /// Never returns unless the PTY fails.
    async fn unblock_input(&self) -> Result<End, ConsoleError> {
        loop {
            self.unblock.notified().await;
            while self.session.write_input(self.generation).blocked {
                self.session.writable().await.map_err(ConsoleError::PtyIo)?;
            }
        }
    }

    /// Write what is still queued, waiting for the PTY as long as it takes.
    async fn drain_input(&self) {
        while self.session.write_input(self.generation).blocked {
            if self.session.writable().await.is_err() {
                return;
            }
        }
    }

    /// Send what the state says, in its order; sleep until it changes or a timer falls due.
    async fn transmit<W: AsyncWrite + Unpin>(&self, wr: &mut W) -> Result<End, ConsoleError> {
        let mut changes = self.session.subscribe_changes();
        loop {
            changes.borrow_and_update();
            match self.session.poll_transmit(self.generation)? {
                Transmit::Frame(msg) => write_msg(wr, &msg).await?,
                Transmit::Idle(wake) => {
                    let timer = async {
                        match wake {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = changes.changed() => {}
                        () = timer => {}
                    }
                }
                Transmit::Kicked => return Ok(End::Replaced),
                Transmit::Finished => return Ok(End::Finished),
                Transmit::ExitUnacknowledged => return Ok(End::ClientClosed),
            }
        }
    }
}
