//! One console session as a client holds it, across connections: the session token,
//! how much output it holds, the input the console has not acknowledged yet (kept to
//! resend after a cut), and the terminal size. The CLI, the GUI and the tests pump one:
//!
//! ```text
//! connect() ─► Attach           handle(SessionInfo) ─► resend unacked input, the size
//! type_input, resize ─► queued  handle(Data) ─► Output (and an Ack every ack_every)
//! poll_transmit ─► frames       handle(Exit) ─► Exited (and the final Ack)
//! ```

use std::collections::VecDeque;

use super::{ConsoleMsg, MAX_DATA, SessionError, SessionToken, kind_of};

/// Send an output Ack after this many bytes.
pub const ACK_EVERY: u64 = 32 * 1024;
/// Most input the console may leave unacknowledged: typing stops being taken from the
/// front end past this, so the guest never queues more than this for a console that
/// does not read.
pub const MAX_UNACKED_INPUT: usize = 64 * 1024;

/// What the front end learns from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Terminal output.
    Output(Vec<u8>),
    /// This many output bytes were lost: the guest's scrollback no longer held them.
    Gap(u64),
    /// The console process exited with this status.
    Exited(i32),
    /// The guest refused the session (its reason, as it sent it).
    Refused(String),
}

/// The client's half of one console session.
#[derive(Debug, Clone)]
pub struct ConsoleClient {
    token: Option<SessionToken>,
    output_received: u64,
    output_acked: u64,
    /// Input the console has not acknowledged; `input_base` is the offset of its first byte.
    unacked: VecDeque<u8>,
    input_base: u64,
    /// On an attached connection: the input offset up to which Data was handed out.
    /// Data goes out only up to `input_base + MAX_UNACKED_INPUT`: the rest of a long
    /// paste waits here, not in the guest.
    input_sent: u64,
    size: Option<(u16, u16)>,
    /// SessionInfo arrived on this connection.
    attached: bool,
    outbox: VecDeque<ConsoleMsg>,
    ack_every: u64,
}

impl Default for ConsoleClient {
    fn default() -> Self {
        Self::new(ACK_EVERY)
    }
}

impl ConsoleClient {
    /// A client that acknowledges output every `ack_every` bytes (at least 1).
    pub fn new(ack_every: u64) -> Self {
        Self {
            token: None,
            output_received: 0,
            output_acked: 0,
            unacked: VecDeque::new(),
            input_base: 0,
            input_sent: 0,
            size: None,
            attached: false,
            outbox: VecDeque::new(),
            ack_every: ack_every.max(1),
        }
    }

    /// A new connection starts (the first, or after a cut): its first frame. What was
    /// queued for the old connection is dropped; unacknowledged input is resent once the
    /// guest says how much of it the console consumed.
    pub fn connect(&mut self) -> ConsoleMsg {
        self.attached = false;
        self.outbox.clear();
        ConsoleMsg::Attach { token: self.token.unwrap_or(SessionToken::NEW), output_received: self.output_received }
    }

    /// The session's token, once a guest has named it.
    pub fn token(&self) -> Option<SessionToken> {
        self.token
    }

    /// Whether this connection is attached (its SessionInfo arrived).
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    /// Whether a session was ever attached (a reconnection can only re-attach to it).
    pub fn has_session(&self) -> bool {
        self.token.is_some()
    }

    /// Output bytes held.
    pub fn output_received(&self) -> u64 {
        self.output_received
    }

    /// Input typed and not yet acknowledged by the console.
    pub fn unacked_input(&self) -> usize {
        self.unacked.len()
    }

    /// Whether a front end should take more typing now: what waits unacknowledged is
    /// under the window. (It may take more: the excess waits here, and is sent as the
    /// console acknowledges.)
    pub fn window_open(&self) -> bool {
        self.unacked.len() < MAX_UNACKED_INPUT
    }

    /// The person typed or pasted `bytes`: kept until acknowledged, sent when attached
    /// and within the window.
    pub fn type_input(&mut self, bytes: &[u8]) {
        self.unacked.extend(bytes);
    }

    /// The terminal's size changed: sent now if attached, else after the next attach.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        if cols == 0 || rows == 0 {
            return;
        }
        self.size = Some((cols, rows));
        if self.attached {
            self.outbox.push_back(ConsoleMsg::Resize { cols, rows });
        }
    }

    /// The next frame to send on the connection: Acks and sizes first, then input
    /// within the window.
    pub fn poll_transmit(&mut self) -> Option<ConsoleMsg> {
        if let Some(msg) = self.outbox.pop_front() {
            return Some(msg);
        }
        if !self.attached {
            return None;
        }
        let typed = self.input_base + len64(self.unacked.len());
        let limit = typed.min(self.input_base + len64(MAX_UNACKED_INPUT));
        if self.input_sent >= limit {
            return None;
        }
        let from = usize::try_from(self.input_sent - self.input_base).ok()?;
        let n = usize::try_from(limit - self.input_sent).map_or(MAX_DATA, |n| n.min(MAX_DATA));
        let chunk: Vec<u8> = self.unacked.range(from..from + n).copied().collect();
        self.input_sent += len64(n);
        Some(ConsoleMsg::Data(chunk))
    }

    /// A message from the guest.
    pub fn handle(&mut self, msg: ConsoleMsg) -> Result<Option<ClientEvent>, SessionError> {
        match msg {
            ConsoleMsg::SessionInfo { token, input_received, output_start } if !self.attached => {
                if self.token.is_some_and(|t| t != token) {
                    return Err(SessionError::UnexpectedMessage {
                        kind: super::kind::SESSION_INFO,
                        phase: "for another session",
                    });
                }
                if output_start < self.output_received {
                    // The guest would resend what we hold: it is not the session we had.
                    return Err(SessionError::AttachBeyondOutput {
                        output_received: self.output_received,
                        end: output_start,
                    });
                }
                self.ack_input(input_received)?;
                self.attached = true;
                self.token = Some(token);
                let gap = output_start.checked_sub(self.output_received).filter(|g| *g > 0);
                self.output_received = output_start;
                self.output_acked = output_start;
                // Resend from what the console consumed (poll_transmit hands it out).
                self.input_sent = self.input_base;
                if let Some((cols, rows)) = self.size {
                    self.outbox.push_back(ConsoleMsg::Resize { cols, rows });
                }
                Ok(gap.map(ClientEvent::Gap))
            }
            ConsoleMsg::Data(bytes) if self.attached => {
                self.output_received += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                if self.output_received - self.output_acked >= self.ack_every {
                    self.output_acked = self.output_received;
                    self.outbox.push_back(ConsoleMsg::Ack { received: self.output_received });
                }
                Ok(Some(ClientEvent::Output(bytes)))
            }
            ConsoleMsg::Ack { received } if self.attached => {
                // On a connection the console can only have consumed what went out on it.
                if received > self.input_sent {
                    return Err(SessionError::InputAckBeyondTyped { acked: received, typed: self.input_sent });
                }
                self.ack_input(received)?;
                Ok(None)
            }
            ConsoleMsg::Exit { status } if self.attached => {
                // Acknowledge everything so the guest frees the session now instead of
                // keeping it for its linger time.
                self.output_acked = self.output_received;
                self.outbox.push_back(ConsoleMsg::Ack { received: self.output_received });
                Ok(Some(ClientEvent::Exited(status)))
            }
            ConsoleMsg::Error { reason } => Ok(Some(ClientEvent::Refused(reason))),
            other => {
                let phase = if self.attached { "from the guest" } else { "before SessionInfo" };
                Err(SessionError::UnexpectedMessage { kind: kind_of(&other), phase })
            }
        }
    }

    /// The console consumed input up to `received`: forget what it acknowledges.
    fn ack_input(&mut self, received: u64) -> Result<(), SessionError> {
        let typed = self.input_base + u64::try_from(self.unacked.len()).unwrap_or(u64::MAX);
        if received > typed {
            return Err(SessionError::InputAckBeyondTyped { acked: received, typed });
        }
        let drop = usize::try_from(received.saturating_sub(self.input_base)).unwrap_or(usize::MAX);
        let drop = drop.min(self.unacked.len());
        self.unacked.drain(..drop);
        self.input_base += len64(drop);
        self.input_sent = self.input_sent.max(self.input_base);
        Ok(())
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(input_received: u64, output_start: u64) -> ConsoleMsg {
        ConsoleMsg::SessionInfo { token: SessionToken([9; 32]), input_received, output_start }
    }

    fn drain(c: &mut ConsoleClient) -> Vec<ConsoleMsg> {
        std::iter::from_fn(|| c.poll_transmit()).collect()
    }

    #[test]
    fn typing_before_attach_is_sent_after_session_info_with_the_size() {
        let mut c = ConsoleClient::new(4);
        assert_eq!(c.connect(), ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 });
        c.type_input(b"ls\r");
        c.resize(100, 40);
        assert!(drain(&mut c).is_empty(), "nothing before SessionInfo");
        assert_eq!(c.handle(info(0, 0)).unwrap(), None);
        assert_eq!(drain(&mut c), [ConsoleMsg::Resize { cols: 100, rows: 40 }, ConsoleMsg::Data(b"ls\r".to_vec())]);
    }

    #[test]
    fn a_reattach_resends_exactly_what_the_console_did_not_consume() {
        let mut c = ConsoleClient::new(1 << 20);
        c.connect();
        c.handle(info(0, 0)).unwrap();
        c.type_input(b"abcdef");
        drain(&mut c);
        c.handle(ConsoleMsg::Ack { received: 2 }).unwrap();
        c.handle(ConsoleMsg::Data(b"ab".to_vec())).unwrap();
        // Cut. The console had consumed 4 bytes; the client holds 2 output bytes.
        assert_eq!(c.connect(), ConsoleMsg::Attach { token: SessionToken([9; 32]), output_received: 2 });
        c.handle(info(4, 2)).unwrap();
        assert_eq!(drain(&mut c), [ConsoleMsg::Data(b"ef".to_vec())]);
    }

    #[test]
    fn output_is_acked_every_ack_every_bytes_and_at_exit() {
        let mut c = ConsoleClient::new(4);
        c.connect();
        c.handle(info(0, 0)).unwrap();
        c.handle(ConsoleMsg::Data(b"abc".to_vec())).unwrap();
        assert!(drain(&mut c).is_empty());
        c.handle(ConsoleMsg::Data(b"d".to_vec())).unwrap();
        assert_eq!(drain(&mut c), [ConsoleMsg::Ack { received: 4 }]);
        c.handle(ConsoleMsg::Data(b"e".to_vec())).unwrap();
        assert_eq!(c.handle(ConsoleMsg::Exit { status: 2 }).unwrap(), Some(ClientEvent::Exited(2)));
        assert_eq!(drain(&mut c), [ConsoleMsg::Ack { received: 5 }]);
    }

    #[test]
    fn a_gap_is_reported_and_impossible_counters_refused() {
        let mut c = ConsoleClient::new(4);
        c.connect();
        assert_eq!(c.handle(info(0, 100)).unwrap(), Some(ClientEvent::Gap(100)));
        c.connect();
        assert!(matches!(c.handle(info(1, 100)), Err(SessionError::InputAckBeyondTyped { acked: 1, typed: 0 })));
        c.connect();
        assert!(c.handle(info(0, 50)).is_err(), "a replay of output the client holds");
        c.connect();
        assert!(c.handle(ConsoleMsg::Data(b"x".to_vec())).is_err(), "output before SessionInfo");
        assert_eq!(
            c.handle(ConsoleMsg::Error { reason: "gone".into() }).unwrap(),
            Some(ClientEvent::Refused("gone".into()))
        );
    }

    #[test]
    fn a_long_paste_goes_out_as_the_console_acknowledges_it() {
        let mut c = ConsoleClient::default();
        c.connect();
        c.handle(info(0, 0)).unwrap();
        c.type_input(&vec![b'p'; 3 * MAX_UNACKED_INPUT]);
        let sent = |c: &mut ConsoleClient| {
            drain(c).iter().map(|m| if let ConsoleMsg::Data(d) = m { d.len() } else { 0 }).sum::<usize>()
        };
        assert_eq!(sent(&mut c), MAX_UNACKED_INPUT, "no more than the window is out at once");
        c.handle(ConsoleMsg::Ack { received: 1000 }).unwrap();
        assert_eq!(sent(&mut c), 1000);
        c.handle(ConsoleMsg::Ack { received: MAX_UNACKED_INPUT as u64 + 1000 }).unwrap();
        assert_eq!(sent(&mut c), MAX_UNACKED_INPUT);
        assert!(c.handle(ConsoleMsg::Ack { received: 3 * MAX_UNACKED_INPUT as u64 }).is_err(), "beyond what was sent");
    }

    #[test]
    fn the_window_closes_at_the_unacked_maximum() {
        let mut c = ConsoleClient::default();
        c.type_input(&vec![b'x'; MAX_UNACKED_INPUT]);
        assert!(!c.window_open());
        c.connect();
        c.handle(info(1, 0)).unwrap();
        assert!(c.window_open());
        assert_eq!(c.unacked_input(), MAX_UNACKED_INPUT - 1);
    }
}
