//! The console channel from the client side, with re-attach that loses and repeats
//! nothing: the client counts output bytes it holds and keeps input the console has
//! not yet acknowledged; on a cut connection it attests afresh, re-attaches with its
//! count, and resends unacknowledged input from the server's count.
//!
//! ```text
//! commands (Input, Resize, Close) ─► run_console ─► TLS console channel
//!                     events ◄─ (Attested, Output, Reconnecting, Exit)
//! ```
//! The terminal front end (`cvm-console console`) and the GUI drive the same loop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use cvmc_protocol::AttestedGuest;
use cvmc_protocol::console::{ConsoleMsg, MAX_DATA, SessionToken};
use cvmc_protocol::frame::FrameDecoder;
use cvmc_protocol::handshake::alpn;

use crate::net::{ConnectError, ConnectOptions, Stage, connect_with};

/// Send an Ack after this many output bytes.
pub const ACK_EVERY: u64 = 32 * 1024;
/// Most input in flight beyond the console's last Ack: typing stops being read
/// from the front end past this (the server queues only a little input, so a
/// larger window could stall a console that echoes).
pub const MAX_UNACKED_INPUT: usize = 64 * 1024;

/// What the front end asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    /// Bytes typed or pasted.
    Input(Vec<u8>),
    /// The terminal's size in cells.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Detach and stop (the session lingers on the guest).
    Close,
    /// While waiting to reconnect: try now instead of after the delay.
    ReconnectNow,
}

/// What the loop reports.
#[derive(Debug, Clone)]
pub enum ConsoleEvent {
    /// The guest was verified (first connection and every reconnection).
    Attested(Box<AttestedGuest>),
    /// Terminal output.
    Output(Vec<u8>),
    /// The connection dropped; trying again.
    Reconnecting {
        /// Attempt number.
        attempt: u32,
        /// Why the last connection ended.
        reason: String,
        /// The next attempt starts after this delay (sooner on `ReconnectNow`).
        retry_in: Duration,
    },
    /// Output was lost because the guest's scrollback no longer held it.
    OutputGap {
        /// Bytes missing.
        bytes: u64,
    },
}

/// How the loop ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleEnd {
    /// The console process exited (this is not an error for the caller to report).
    #[error("the console exited with status {0}")]
    Exited(i32),
    /// The user closed it.
    #[error("closed")]
    Closed,
    /// Connecting or attesting failed (a refusal is never retried).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The guest refused the session (e.g. it is gone).
    #[error("the guest refused the console session: {0}")]
    Refused(String),
    /// Reconnecting failed too often.
    #[error("connection lost and not re-established after {attempts} attempts: {reason}")]
    Lost {
        /// Attempts made.
        attempts: u32,
        /// Last reason.
        reason: String,
    },
}

/// Retry policy for dropped connections.
#[derive(Debug, Clone, Copy)]
pub struct Reconnect {
    /// Most attempts in a row.
    pub attempts: u32,
    /// Delay before the first retry; doubles up to 5 s.
    pub first_delay: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self { attempts: 8, first_delay: Duration::from_millis(200) }
    }
}

/// The client's half of the exactly-once bookkeeping.
#[derive(Debug, Default)]
struct Books {
    token: Option<SessionToken>,
    output_received: u64,
    output_acked: u64,
    /// Input not yet acknowledged; `input_base` is the offset of its first byte.
    unacked: VecDeque<u8>,
    input_base: u64,
    size: Option<(u16, u16)>,
}

impl Books {
    fn ack_input(&mut self, received: u64) {
        let drop =
            usize::try_from(received.saturating_sub(self.input_base)).unwrap_or(usize::MAX).min(self.unacked.len());
        self.unacked.drain(..drop);
        self.input_base += drop as u64;
    }
}

enum Step {
    Ended(ConsoleEnd),
    Dropped(String),
}

/// Receives the connection's [`Stage`]s (for a GUI's progress line).
pub type StageSink = Arc<dyn Fn(Stage) + Send + Sync>;

/// Run a console session until it exits or is closed, reconnecting on drops.
pub async fn run_console(
    address: &str,
    opts: &ConnectOptions,
    commands: mpsc::Receiver<ConsoleCommand>,
    events: mpsc::Sender<ConsoleEvent>,
    reconnect: Reconnect,
) -> ConsoleEnd {
    run_console_with(address, opts, commands, events, reconnect, None).await
}

/// [`run_console`], reporting every connection's stages (first and reconnections) to `stages`.
pub async fn run_console_with(
    address: &str,
    opts: &ConnectOptions,
    mut commands: mpsc::Receiver<ConsoleCommand>,
    events: mpsc::Sender<ConsoleEvent>,
    reconnect: Reconnect,
    stages: Option<StageSink>,
) -> ConsoleEnd {
    let mut books = Books::default();
    let mut failures = 0u32;
    let mut delay = reconnect.first_delay;
    let report = |s: Stage| {
        if let Some(sink) = &stages {
            sink(s);
        }
    };
    loop {
        let step = match connect_with(address, alpn::CONSOLE, opts, &report).await {
            Ok(attested) => {
                failures = 0;
                delay = reconnect.first_delay;
                let _ = events.send(ConsoleEvent::Attested(Box::new(attested.guest))).await;
                session(attested.stream, &mut books, &mut commands, &events).await
            }
            // A guest that fails verification is never retried.
            Err(
                e @ (ConnectError::Refused { .. }
                | ConnectError::IdentityChanged { .. }
                | ConnectError::Unauthorized { .. }),
            ) => {
                return ConsoleEnd::Connect(e);
            }
            Err(e) if books.token.is_none() => return ConsoleEnd::Connect(e),
            Err(e) => Step::Dropped(e.to_string()),
        };
        match step {
            Step::Ended(end) => return end,
            Step::Dropped(reason) => {
                failures += 1;
                if books.token.is_none() || failures > reconnect.attempts {
                    return ConsoleEnd::Lost { attempts: failures, reason };
                }
                let _ = events.send(ConsoleEvent::Reconnecting { attempt: failures, reason, retry_in: delay }).await;
                if let Some(end) = wait_to_reconnect(delay, &mut books, &mut commands).await {
                    return end;
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Sleep `delay` before the next attempt, still taking commands: typing and resizes
/// are kept for the re-attach (sent with the unacknowledged input), `ReconnectNow`
/// cuts the wait short, `Close` ends the loop.
async fn wait_to_reconnect(
    delay: Duration,
    books: &mut Books,
    commands: &mut mpsc::Receiver<ConsoleCommand>,
) -> Option<ConsoleEnd> {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return None,
            cmd = commands.recv(), if books.unacked.len() < MAX_UNACKED_INPUT => match cmd {
                None | Some(ConsoleCommand::Close) => return Some(ConsoleEnd::Closed),
                Some(ConsoleCommand::ReconnectNow) => return None,
                Some(ConsoleCommand::Input(bytes)) => books.unacked.extend(&bytes),
                Some(ConsoleCommand::Resize { cols, rows }) => books.size = Some((cols, rows)),
            },
        }
    }
}

async fn send<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &ConsoleMsg) -> std::io::Result<()> {
    let bytes = msg.encode().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    w.write_all(&bytes).await
}

/// One attached connection. Returns how it ended.
async fn session<S>(
    stream: S,
    books: &mut Books,
    commands: &mut mpsc::Receiver<ConsoleCommand>,
    events: &mpsc::Sender<ConsoleEvent>,
) -> Step
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let dropped = |e: std::io::Error| Step::Dropped(e.to_string());
    let attach =
        ConsoleMsg::Attach { token: books.token.unwrap_or(SessionToken::NEW), output_received: books.output_received };
    if let Err(e) = send(&mut wr, &attach).await {
        return dropped(e);
    }
    if let Err(e) = wr.flush().await {
        return dropped(e);
    }
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut attached = false;
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = match read {
                    Ok(0) => return Step::Dropped("the guest closed the connection".into()),
                    Ok(n) => n,
                    Err(e) => return dropped(e),
                };
                decoder.push(&buf[..n]);
                loop {
                    let frame = match decoder.next_frame() {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(e) => return Step::Ended(ConsoleEnd::Refused(format!("malformed frame from the guest: {e}"))),
                    };
                    let msg = match ConsoleMsg::decode_payload(frame.kind, &frame.payload) {
                        Ok(m) => m,
                        Err(e) => return Step::Ended(ConsoleEnd::Refused(format!("malformed message from the guest: {e}"))),
                    };
                    match msg {
                        ConsoleMsg::SessionInfo { token, input_received, output_start } if !attached => {
                            attached = true;
                            books.token = Some(token);
                            if output_start > books.output_received {
                                let _ = events.send(ConsoleEvent::OutputGap { bytes: output_start - books.output_received }).await;
                                books.output_received = output_start;
                            }
                            books.ack_input(input_received);
                            // Resend what the console has not consumed, then the size.
                            let pending: Vec<u8> = books.unacked.iter().copied().collect();
                            for chunk in pending.chunks(MAX_DATA) {
                                if let Err(e) = send(&mut wr, &ConsoleMsg::Data(chunk.to_vec())).await {
                                    return dropped(e);
                                }
                            }
                            if let Some((cols, rows)) = books.size
                                && let Err(e) = send(&mut wr, &ConsoleMsg::Resize { cols, rows }).await
                            {
                                return dropped(e);
                            }
                        }
                        ConsoleMsg::Data(bytes) if attached => {
                            books.output_received += bytes.len() as u64;
                            let _ = events.send(ConsoleEvent::Output(bytes)).await;
                            if books.output_received - books.output_acked >= ACK_EVERY {
                                books.output_acked = books.output_received;
                                if let Err(e) = send(&mut wr, &ConsoleMsg::Ack { received: books.output_received }).await {
                                    return dropped(e);
                                }
                            }
                        }
                        ConsoleMsg::Ack { received } if attached => books.ack_input(received),
                        ConsoleMsg::Exit { status } => {
                            // Acknowledge everything so the guest frees the session now
                            // instead of keeping it for the linger time.
                            let _ = send(&mut wr, &ConsoleMsg::Ack { received: books.output_received }).await;
                            let _ = wr.flush().await;
                            let _ = wr.shutdown().await;
                            return Step::Ended(ConsoleEnd::Exited(status));
                        }
                        ConsoleMsg::Error { reason } => {
                            return Step::Ended(ConsoleEnd::Refused(cvmc_protocol::text::escape(&reason).into_owned()));
                        }
                        other => {
                            return Step::Ended(ConsoleEnd::Refused(format!("unexpected message from the guest: {other:?}")));
                        }
                    }
                }
                if let Err(e) = wr.flush().await {
                    return dropped(e);
                }
            }
            cmd = commands.recv(), if books.unacked.len() < MAX_UNACKED_INPUT => {
                let msg = match cmd {
                    None | Some(ConsoleCommand::Close) => {
                        let _ = wr.shutdown().await;
                        return Step::Ended(ConsoleEnd::Closed);
                    }
                    Some(ConsoleCommand::Input(bytes)) => {
                        books.unacked.extend(&bytes);
                        if !attached {
                            continue; // sent after SessionInfo, with the rest of the unacked input
                        }
                        ConsoleMsg::Data(bytes)
                    }
                    Some(ConsoleCommand::Resize { cols, rows }) => {
                        books.size = Some((cols, rows));
                        if !attached {
                            continue;
                        }
                        ConsoleMsg::Resize { cols, rows }
                    }
                    // Connected already: nothing to hurry.
                    Some(ConsoleCommand::ReconnectNow) => continue,
                };
                let sent = match &msg {
                    ConsoleMsg::Data(bytes) => {
                        let mut r = Ok(());
                        for chunk in bytes.chunks(MAX_DATA) {
                            r = send(&mut wr, &ConsoleMsg::Data(chunk.to_vec())).await;
                            if r.is_err() {
                                break;
                            }
                        }
                        r
                    }
                    other => send(&mut wr, other).await,
                };
                if let Err(e) = sent.and(wr.flush().await) {
                    return dropped(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn reconnect_now_cuts_the_wait_and_typing_is_kept_for_the_reattach() {
        rt().block_on(async {
            let (tx, mut rx) = mpsc::channel(8);
            let mut books = Books::default();
            tx.send(ConsoleCommand::Input(b"ls\r".to_vec())).await.unwrap();
            tx.send(ConsoleCommand::Resize { cols: 90, rows: 30 }).await.unwrap();
            tx.send(ConsoleCommand::ReconnectNow).await.unwrap();
            let started = std::time::Instant::now();
            let end = wait_to_reconnect(Duration::from_secs(60), &mut books, &mut rx).await;
            assert!(end.is_none() && started.elapsed() < Duration::from_secs(5));
            assert_eq!(books.unacked.iter().copied().collect::<Vec<u8>>(), b"ls\r");
            assert_eq!(books.size, Some((90, 30)));
            tx.send(ConsoleCommand::Close).await.unwrap();
            let end = wait_to_reconnect(Duration::from_secs(60), &mut books, &mut rx).await;
            assert!(matches!(end, Some(ConsoleEnd::Closed)));
        });
    }

    #[test]
    fn the_wait_ends_by_itself() {
        rt().block_on(async {
            let (_tx, mut rx) = mpsc::channel(8);
            let end = wait_to_reconnect(Duration::from_millis(20), &mut Books::default(), &mut rx).await;
            assert!(end.is_none());
        });
    }
}
