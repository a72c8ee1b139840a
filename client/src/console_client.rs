//! The console channel from the client side, with re-attach that loses and repeats
//! nothing. The bookkeeping (output held, input kept until the console acknowledges
//! it, the window, the size) is the protocol crate's sans-IO
//! [`cvmc_protocol::console::client::ConsoleClient`]; this loop connects, attests,
//! pumps it, and on a cut connection attests afresh and re-attaches.
//!
//! ```text
//! commands (Input, Resize, Close) ─► run_console ─► ConsoleClient ─► TLS console channel
//!                     events ◄─ (Attested, Output, Reconnecting, OutputGap) ◄─┘
//! ```
//! The terminal front end (`cvm-console console`) and the GUI drive the same loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use cvmc_protocol::AttestedGuest;
use cvmc_protocol::console::ConsoleMsg;
use cvmc_protocol::console::client::{ClientEvent, ConsoleClient};
use cvmc_protocol::frame::FrameDecoder;
use cvmc_protocol::handshake::alpn;

use crate::net::{ConnectError, ConnectOptions, Stage, connect_with};

use crate::backoff::Backoff;
pub use crate::backoff::Reconnect;
pub use cvmc_protocol::console::client::{ACK_EVERY, MAX_UNACKED_INPUT};

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
    let mut client = ConsoleClient::default();
    let mut backoff = Backoff::new(reconnect);
    let report = |s: Stage| {
        if let Some(sink) = &stages {
            sink(s);
        }
    };
    loop {
        let step = match connect_with(address, alpn::CONSOLE, opts, &report).await {
            Ok(attested) => {
                backoff.connected();
                let _ = events.send(ConsoleEvent::Attested(Box::new(attested.guest))).await;
                session(attested.stream, &mut client, &mut commands, &events).await
            }
            // A guest that fails verification is never retried.
            Err(
                e @ (ConnectError::Refused { .. }
                | ConnectError::IdentityChanged { .. }
                | ConnectError::Unauthorized { .. }),
            ) => {
                return ConsoleEnd::Connect(e);
            }
            Err(e) if !client.has_session() => return ConsoleEnd::Connect(e),
            Err(e) => Step::Dropped(e.to_string()),
        };
        match step {
            Step::Ended(end) => return end,
            Step::Dropped(reason) => {
                let retry = backoff.failed().filter(|_| client.has_session());
                let Some((attempt, delay)) = retry else {
                    return ConsoleEnd::Lost { attempts: backoff.failures(), reason };
                };
                let _ = events.send(ConsoleEvent::Reconnecting { attempt, reason, retry_in: delay }).await;
                if let Some(end) = wait_to_reconnect(delay, &mut client, &mut commands).await {
                    return end;
                }
            }
        }
    }
}

/// Sleep `delay` before the next attempt, still taking commands: typing and resizes
/// are kept for the re-attach (sent with the unacknowledged input), `ReconnectNow`
/// cuts the wait short, `Close` ends the loop.
async fn wait_to_reconnect(
    delay: Duration,
    client: &mut ConsoleClient,
    commands: &mut mpsc::Receiver<ConsoleCommand>,
) -> Option<ConsoleEnd> {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return None,
            cmd = commands.recv(), if client.window_open() => match cmd {
                None | Some(ConsoleCommand::Close) => return Some(ConsoleEnd::Closed),
                Some(ConsoleCommand::ReconnectNow) => return None,
                Some(ConsoleCommand::Input(bytes)) => client.type_input(&bytes),
                Some(ConsoleCommand::Resize { cols, rows }) => client.resize(cols, rows),
            },
        }
    }
}

async fn send<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &ConsoleMsg) -> std::io::Result<()> {
    let bytes = msg.encode().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    w.write_all(&bytes).await
}

/// Send everything the client has queued, then flush.
async fn send_queued<W: AsyncWriteExt + Unpin>(w: &mut W, client: &mut ConsoleClient) -> std::io::Result<()> {
    while let Some(msg) = client.poll_transmit() {
        send(w, &msg).await?;
    }
    w.flush().await
}

/// One attached connection: pump the client's state until the connection ends.
async fn session<S>(
    stream: S,
    client: &mut ConsoleClient,
    commands: &mut mpsc::Receiver<ConsoleCommand>,
    events: &mpsc::Sender<ConsoleEvent>,
) -> Step
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let dropped = |e: std::io::Error| Step::Dropped(e.to_string());
    let attach = client.connect();
    if let Err(e) = send(&mut wr, &attach).await.and(wr.flush().await) {
        return dropped(e);
    }
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
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
                    let event = ConsoleMsg::decode_payload(frame.kind, &frame.payload)
                        .map_err(|e| format!("malformed message from the guest: {e}"))
                        .and_then(|msg| client.handle(msg).map_err(|e| format!("the guest broke the console protocol: {e}")));
                    match event {
                        Err(reason) => return Step::Ended(ConsoleEnd::Refused(reason)),
                        Ok(None) => {}
                        Ok(Some(ClientEvent::Output(bytes))) => {
                            let _ = events.send(ConsoleEvent::Output(bytes)).await;
                        }
                        Ok(Some(ClientEvent::Gap(bytes))) => {
                            let _ = events.send(ConsoleEvent::OutputGap { bytes }).await;
                        }
                        Ok(Some(ClientEvent::Exited(status))) => {
                            // The final Ack frees the session on the guest now.
                            let _ = send_queued(&mut wr, client).await;
                            let _ = wr.shutdown().await;
                            return Step::Ended(ConsoleEnd::Exited(status));
                        }
                        Ok(Some(ClientEvent::Refused(reason))) => {
                            return Step::Ended(ConsoleEnd::Refused(cvmc_protocol::text::escape(&reason).into_owned()));
                        }
                    }
                }
            }
            cmd = commands.recv(), if client.window_open() => match cmd {
                None | Some(ConsoleCommand::Close) => {
                    let _ = wr.shutdown().await;
                    return Step::Ended(ConsoleEnd::Closed);
                }
                Some(ConsoleCommand::Input(bytes)) => client.type_input(&bytes),
                Some(ConsoleCommand::Resize { cols, rows }) => client.resize(cols, rows),
                // Connected already: nothing to hurry.
                Some(ConsoleCommand::ReconnectNow) => continue,
            },
        }
        if let Err(e) = send_queued(&mut wr, client).await {
            return dropped(e);
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
            let mut client = ConsoleClient::default();
            tx.send(ConsoleCommand::Input(b"ls\r".to_vec())).await.unwrap();
            tx.send(ConsoleCommand::Resize { cols: 90, rows: 30 }).await.unwrap();
            tx.send(ConsoleCommand::ReconnectNow).await.unwrap();
            let started = std::time::Instant::now();
            let end = wait_to_reconnect(Duration::from_secs(60), &mut client, &mut rx).await;
            assert!(end.is_none() && started.elapsed() < Duration::from_secs(5));
            // Kept for the re-attach: sent once the guest says what it consumed.
            assert_eq!(client.unacked_input(), 3);
            client.connect();
            let info = ConsoleMsg::SessionInfo {
                token: cvmc_protocol::console::SessionToken([1; 32]),
                input_received: 0,
                output_start: 0,
            };
            client.handle(info).unwrap();
            let sent: Vec<ConsoleMsg> = std::iter::from_fn(|| client.poll_transmit()).collect();
            assert_eq!(sent, [ConsoleMsg::Resize { cols: 90, rows: 30 }, ConsoleMsg::Data(b"ls\r".to_vec())]);
            tx.send(ConsoleCommand::Close).await.unwrap();
            let end = wait_to_reconnect(Duration::from_secs(60), &mut client, &mut rx).await;
            assert!(matches!(end, Some(ConsoleEnd::Closed)));
        });
    }

    #[test]
    fn the_wait_ends_by_itself() {
        rt().block_on(async {
            let (_tx, mut rx) = mpsc::channel(8);
            let end = wait_to_reconnect(Duration::from_millis(20), &mut ConsoleClient::default(), &mut rx).await;
            assert!(end.is_none());
        });
    }
}
