//! One console connection (docs/DESIGN.md "Wire protocol v1", console channel).
//!
//! ```text
//! Attach ─► SessionInfo ─► replay from output_start ─► live output ─► … ─► Exit
//!
//! socket ─► receive ─┬─ Data, Resize ─► queue (bounded) ─► write_input ─► PTY
//!                    │                                        └─► input Ack ─┐
//!                    └─ Ack ─► ring (frees room for the PTY reader)         │
//! socket ◄─ pump_output ◄── ring: Data (16 KiB frames), Exit ◄──────────────┘
//! ```
//!
//! All three run in the connection's task; the first to end ends the connection, and
//! the session then lingers detached. Nothing is buffered per connection beyond one
//! read chunk, one frame being decoded and the small input queue: output waits in the
//! session's bounded ring, and the socket is written directly from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cvmc_protocol::console::ConsoleMsg;
use cvmc_protocol::frame::{FrameDecoder, OwnedFrame};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::session::{InputItem, Next, Session};
use super::{ConsoleError, Inner};
use crate::authorized::ClientAuth;

/// The first frame must be Attach and arrive within this time.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest Data frame the server sends.
const DATA_CHUNK: usize = 16 * 1024;
/// Largest single read from the socket.
const READ_CHUNK: usize = 16 * 1024;
/// Input frames decoded but not yet written to the PTY. While the console does not
/// read its input, the client's Acks behind these frames are still processed.
const INPUT_QUEUE: usize = 4;
/// After Exit, how long the client may take to acknowledge the last output.
const EXIT_ACK_GRACE: Duration = Duration::from_secs(10);
/// After the client closed, how long its last input may take to reach the PTY.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How long a goodbye (Error frame, close) may take on a slow socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How a connection ended without a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The client closed the connection; the session lingers.
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
    let (session, generation, output_start) = match attach(inner, &mut rd, &mut decoder, &mut buf, auth).await {
        Ok(attached) => attached,
        Err(err) => {
            refuse(&mut wr, &err).await;
            return Err(err);
        }
    };
    let link = Link {
        inner,
        session: &session,
        generation,
        sent: AtomicU64::new(output_start),
        acked_input: AtomicU64::new(0),
        input_in_flight: AtomicBool::new(false),
    };
    let result = link.run(&mut rd, &mut wr, &mut decoder, &mut buf).await;
    session.release(generation, inner.linger_for(&session));
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
) -> Result<(Arc<Session>, u64, u64), ConsoleError> {
    let frame = timeout(ATTACH_TIMEOUT, read_frame(rd, decoder, buf))
        .await
        .map_err(|_| ConsoleError::AttachTimeout { secs: ATTACH_TIMEOUT.as_secs() })??;
    match ConsoleMsg::decode_payload(frame.kind, &frame.payload).map_err(ConsoleError::Malformed)? {
        ConsoleMsg::Attach { token, output_received } => inner.attach(token, output_received, auth),
        _ => Err(ConsoleError::UnexpectedMessage { kind: frame.kind, phase: "before attach" }),
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
    inner: &'a Inner,
    session: &'a Arc<Session>,
    generation: u64,
    /// Output offset up to which frames were handed to the socket; acks may not pass it.
    sent: AtomicU64,
    /// The input count of the last input Ack sent (or of SessionInfo).
    acked_input: AtomicU64,
    /// `write_input` holds an item it took from the queue and has not applied yet (it
    /// may be waiting for the PTY, the input lock, or its turn on the runtime).
    input_in_flight: AtomicBool,
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
        let input_received = self.session.input_received().await;
        self.acked_input.store(input_received, Ordering::SeqCst);
        let output_start = self.sent.load(Ordering::SeqCst);
        write_msg(wr, &ConsoleMsg::SessionInfo { token: self.session.token, input_received, output_start }).await?;

        let (ack_tx, mut ack_rx) = watch::channel(input_received);
        let (queue_tx, queue_rx) = mpsc::channel(INPUT_QUEUE);
        let mut owner = self.session.subscribe_owner();
        let input = async {
            let writer = self.write_input(queue_rx, &ack_tx);
            tokio::pin!(writer);
            tokio::select! {
                received = self.receive(rd, decoder, buf, queue_tx, &ack_tx) => received?,
                end = &mut writer => return Ok(end),
            }
            // The client closed its side: let the input it sent reach the console.
            Ok::<End, ConsoleError>(timeout(DRAIN_GRACE, writer).await.unwrap_or(End::ClientClosed))
        };
        tokio::select! {
            end = input => end,
            end = self.pump_output(wr, &mut ack_rx, input_received) => end,
            () = replaced(&mut owner, self.generation) => Ok(End::Replaced),
        }
    }

    /// Decode client frames: input goes to the PTY at once when it can (nothing queued,
    /// no other write under way, the PTY not full), else to the queue in order; acks go
    /// to the ring. `Ok` when the client closed cleanly.
    ///
    /// Writing at once is not only shorter: handing a keystroke to `write_input`, a
    /// branch of this same task, woke the task from inside itself, and the runtime
    /// answers such a wake-up by waking an idle worker to take the task over, one more
    /// thread hop per keystroke.
    async fn receive<R: AsyncRead + Unpin>(
        &self,
        rd: &mut R,
        decoder: &mut FrameDecoder,
        buf: &mut [u8],
        queue: mpsc::Sender<InputItem>,
        acks: &watch::Sender<u64>,
    ) -> Result<(), ConsoleError> {
        loop {
            while let Some(frame) = decoder.next_frame().map_err(ConsoleError::Malformed)? {
                let item = match ConsoleMsg::decode_payload(frame.kind, &frame.payload)
                    .map_err(ConsoleError::Malformed)?
                {
                    ConsoleMsg::Data(bytes) if bytes.is_empty() => continue,
                    ConsoleMsg::Data(bytes) if self.nothing_pending(&queue) => {
                        match self.session.try_input_now(self.generation, &bytes) {
                            Some((written, received)) => {
                                self.publish_input(acks, received);
                                if written == bytes.len() {
                                    continue;
                                }
                                InputItem::Data(bytes[written..].to_vec())
                            }
                            None => InputItem::Data(bytes),
                        }
                    }
                    ConsoleMsg::Data(bytes) => InputItem::Data(bytes),
                    // A resize between two keystrokes keeps its place the same way.
                    ConsoleMsg::Resize { cols, rows }
                        if self.nothing_pending(&queue) && self.session.try_resize_now(self.generation, cols, rows) =>
                    {
                        continue;
                    }
                    ConsoleMsg::Resize { cols, rows } => InputItem::Resize { cols, rows },
                    ConsoleMsg::Ack { received } => {
                        self.session.ack(self.generation, received, self.sent.load(Ordering::SeqCst))?;
                        continue;
                    }
                    _ => return Err(ConsoleError::UnexpectedMessage { kind: frame.kind, phase: "after attach" }),
                };
                if queue.send(item).await.is_err() {
                    return Ok(()); // the writer stopped: this connection was replaced
                }
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

    /// Write queued input to the PTY in order and publish the input count for Acks.
    async fn write_input(&self, mut queue: mpsc::Receiver<InputItem>, acks: &watch::Sender<u64>) -> End {
        while let Some(item) = queue.recv().await {
            // Taken from the queue but not yet applied: `receive` must not write past it.
            // Left set if this future is dropped mid-item, which only disables that path.
            self.input_in_flight.store(true, Ordering::SeqCst);
            let Some(received) = self.session.apply_input(self.generation, item).await else {
                return End::Replaced;
            };
            self.input_in_flight.store(false, Ordering::SeqCst);
            if queue.is_empty() {
                // At most one Ack per batch; the pump coalesces further.
                self.publish_input(acks, received);
            }
        }
        End::ClientClosed
    }

    /// No earlier input waits: the queue is empty and the writer holds no item it took
    /// from it (mpsc gives a slot back on receive, before the item is applied).
    fn nothing_pending(&self, queue: &mpsc::Sender<InputItem>) -> bool {
        queue.capacity() == queue.max_capacity() && !self.input_in_flight.load(Ordering::SeqCst)
    }

    /// Tell the pump the console has consumed input up to `received`. It is woken only
    /// when it has no Ack pending (it then sets the Ack's timer) or much is unacked;
    /// otherwise it takes the new count when it next wakes anyway, for the echo or for
    /// that timer, instead of being woken for every keystroke.
    fn publish_input(&self, acks: &watch::Sender<u64>, received: u64) {
        let acked = self.acked_input.load(Ordering::SeqCst);
        acks.send_if_modified(|published| {
            if *published == received {
                return false;
            }
            let wake = *published == acked || received.saturating_sub(acked) >= INPUT_ACK_EVERY;
            *published = received;
            wake
        });
    }

    /// Send held output from the replay start on, input Acks, and Exit once all output
    /// is out. Ends the session once its client has acknowledged everything after Exit.
    async fn pump_output<W: AsyncWrite + Unpin>(
        &self,
        wr: &mut W,
        acks: &mut watch::Receiver<u64>,
        input_at_attach: u64,
    ) -> Result<End, ConsoleError> {
        let mut changes = self.session.subscribe_changes();
        let mut exit_sent = false;
        // Once Exit is out, the client has EXIT_ACK_GRACE to acknowledge the rest; a
        // client that never does would otherwise hold the session's slot for good.
        let mut exit_deadline: Option<tokio::time::Instant> = None;
        // The client learned the input count from SessionInfo, which is the watch's
        // initial value (the writer may have moved it before this first runs).
        let mut input_acked = input_at_attach;
        // Input Acks only let the client forget what it keeps for resending, so they
        // are not urgent: send one when a good amount is pending, else shortly after
        // typing pauses, so that a keystroke's echo never queues behind its Ack.
        let mut ack_due: Option<tokio::time::Instant> = None;
        loop {
            changes.borrow_and_update();
            let received = *acks.borrow_and_update();
            if received != input_acked {
                let now = tokio::time::Instant::now();
                let due = *ack_due.get_or_insert(now + INPUT_ACK_DELAY);
                if received - input_acked >= INPUT_ACK_EVERY || now >= due {
                    input_acked = received;
                    ack_due = None;
                    write_msg(wr, &ConsoleMsg::Ack { received }).await?;
                    self.acked_input.store(received, Ordering::SeqCst);
                }
            }
            let sent = self.sent.load(Ordering::SeqCst);
            match self.session.next_output(self.generation, sent, exit_sent, DATA_CHUNK) {
                Next::Kicked => return Ok(End::Replaced),
                Next::Data(bytes) => {
                    // Count the bytes as sent before the client can see (and ack) them.
                    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                    self.sent.store(sent + len, Ordering::SeqCst);
                    write_msg(wr, &ConsoleMsg::Data(bytes)).await?;
                }
                Next::Exit(status) => {
                    write_msg(wr, &ConsoleMsg::Exit { status }).await?;
                    exit_sent = true;
                    exit_deadline = Some(tokio::time::Instant::now() + EXIT_ACK_GRACE);
                }
                Next::Finished => {
                    self.inner.remove(self.session);
                    return Ok(End::Finished);
                }
                Next::Lost { offset, start } => return Err(ConsoleError::OutputLost { offset, start }),
                Next::Idle => {
                    let ack_timer = async {
                        match ack_due {
                            Some(due) => tokio::time::sleep_until(due).await,
                            None => std::future::pending().await,
                        }
                    };
                    let exit_timer = async {
                        match exit_deadline {
                            Some(deadline) => tokio::time::sleep_until(deadline).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = changes.changed() => {}
                        _ = acks.changed() => {}
                        () = ack_timer => {}
                        () = exit_timer => return Ok(End::ClientClosed),
                    }
                }
            }
        }
    }
}

/// Send an input Ack at once when this much input is unacknowledged (well under
/// the client's resend window of 64 KiB).
const INPUT_ACK_EVERY: u64 = 8 * 1024;
/// Otherwise send it this long after the first unacknowledged input.
const INPUT_ACK_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Resolves once another connection owns the session (or nobody does: hung up).
async fn replaced(owner: &mut watch::Receiver<u64>, generation: u64) {
    let closed = owner.wait_for(|current| *current != generation).await.is_err();
    if closed {
        std::future::pending::<()>().await; // the sender lives in the session
    }
}
