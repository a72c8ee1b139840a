//! One console session as the guest serves it: the output ring, the console's input
//! count and the input waiting for it, the exit status, who is attached, and that
//! connection's progress (what it sent, which Acks are due). The guest server wraps one
//! in a mutex per session and only pumps it:
//!
//! ```text
//! connection ─ claim ─► SessionState ◄─ push_output, set_exit ─ PTY reader (driver)
//!   frames ─── receive ─►   │     └─ write_input(writer) ──► PTY (the caller's write)
//!   frames ◄── poll_transmit ┘     SessionInfo, Data, input Ack, Exit; Idle until …;
//!                                  Kicked (another connection attached); Finished
//! ```
//!
//! Connections are named by generation (from 1; [`DETACHED`] is nobody). Only the
//! attached connection's input reaches the console, in the order it arrived; when
//! another connection attaches, input the old one queued and the console has not read
//! is dropped uncounted, so its client resends it from the count it is told. Every PTY
//! write happens through [`SessionState::write_input`] with the state locked, so the
//! count always equals what the console consumed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::ring::OutputRing;
use super::{ConsoleMsg, SessionError, SessionToken, kind_of, token_hint};

/// Owner value meaning no connection is attached.
pub const DETACHED: u64 = 0;
/// Largest Data frame the server sends.
pub const DATA_CHUNK: usize = 16 * 1024;
/// Send an input Ack at once when this much input is unacknowledged (well under the
/// client's window of [`super::client::MAX_UNACKED_INPUT`]).
pub const INPUT_ACK_EVERY: u64 = 8 * 1024;
/// Otherwise send it this long after the first unacknowledged input, so a keystroke's
/// echo never queues behind its Ack.
pub const INPUT_ACK_DELAY: Duration = Duration::from_millis(100);
/// After Exit, how long the client may take to acknowledge the last output before its
/// connection is closed (it would otherwise hold the session's slot for good).
pub const EXIT_ACK_GRACE: Duration = Duration::from_secs(10);
/// Most input bytes waiting for the console. An honest client never has more than its
/// window unacknowledged; one that sends more is disconnected.
pub const MAX_PENDING_INPUT: usize = 2 * super::client::MAX_UNACKED_INPUT + super::MAX_DATA;

/// What a PTY writer is asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum InputWork<'a> {
    /// Write (some of) these bytes; answer how many were taken.
    Data(&'a [u8]),
    /// Set the terminal size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// How a [`SessionState::write_input`] round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputProgress {
    /// The PTY would block: wait until it is writable, then call again.
    pub blocked: bool,
    /// The attached connection should be woken to send an input Ack.
    pub wake_output: bool,
}

/// What the attached connection sends next.
#[derive(Debug, PartialEq, Eq)]
pub enum Transmit {
    /// Send this frame, then ask again.
    Frame(ConsoleMsg),
    /// Nothing to send until something changes, or until this time (an Ack falls due,
    /// the grace after Exit ends).
    Idle(Option<Instant>),
    /// Another connection attached, or the session was removed: end this connection.
    Kicked,
    /// Exit was sent and the client acknowledged every byte: the session is done.
    Finished,
    /// The client did not acknowledge within [`EXIT_ACK_GRACE`] of Exit: close it.
    ExitUnacknowledged,
}

#[derive(Debug)]
enum Pending {
    /// Bytes, of which the first `taken` reached the console already.
    Data {
        bytes: Vec<u8>,
        taken: usize,
    },
    Resize {
        cols: u16,
        rows: u16,
    },
}

/// The attached connection's progress.
#[derive(Debug)]
struct Link {
    /// Output offset up to which frames were handed out; acks may not pass it.
    sent: u64,
    info_sent: bool,
    exit_sent: bool,
    exit_deadline: Option<Instant>,
    /// The input count of the last input Ack (or of SessionInfo).
    input_acked: u64,
    /// When an Ack of unacknowledged input falls due.
    ack_due: Option<Instant>,
}

/// Input bytes the console has consumed, counted from the start of the session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InputCount {
    received: u64,
    /// The PTY refused a write (the console is gone): later input is dropped uncounted.
    broken: bool,
}

impl InputCount {
    /// Bytes written to the PTY so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the PTY refused a write.
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// One session's state, without IO.
#[derive(Debug)]
pub struct SessionState {
    token: SessionToken,
    ring: OutputRing,
    exit: Option<i32>,
    removed: bool,
    owner: u64,
    link: Link,
    input: InputCount,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
}

impl SessionState {
    /// A session that produced nothing yet.
    pub fn new(token: SessionToken, scrollback: usize, max_unacked: usize) -> Self {
        Self {
            token,
            ring: OutputRing::new(scrollback, max_unacked.max(1)),
            exit: None,
            removed: false,
            owner: DETACHED,
            link: Link::new(0, 0),
            input: InputCount::default(),
            pending: VecDeque::new(),
            pending_bytes: 0,
        }
    }

    /// The session's token.
    pub fn token(&self) -> SessionToken {
        self.token
    }

    /// The attached connection's generation, or [`DETACHED`].
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// Whether connection `generation` is the attached one.
    pub fn is_owner(&self, generation: u64) -> bool {
        generation != DETACHED && self.owner == generation && !self.removed
    }

    /// Whether the session left the manager (hung up, expired or finished).
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// Attach connection `generation`, whose client holds `output_received` bytes; the
    /// previous connection, if any, is no longer the owner, and input it queued that the
    /// console has not read is dropped (its client resends it). Returns where output
    /// replay starts: `output_received`, or the oldest byte held if that is later.
    pub fn claim(&mut self, generation: u64, output_received: u64) -> Result<u64, SessionError> {
        if self.removed {
            return Err(SessionError::SessionGone { token: token_hint(&self.token) });
        }
        let start = self
            .ring
            .restart_at(output_received)
            .map_err(|e| SessionError::AttachBeyondOutput { output_received, end: e.end })?;
        self.owner = generation;
        self.link = Link::new(start, self.input.received);
        self.drop_pending();
        Ok(start)
    }

    /// Connection `generation` ended. `true` if it was attached: the session is now
    /// detached and starts to linger.
    pub fn release(&mut self, generation: u64) -> bool {
        if !self.is_owner(generation) {
            return false;
        }
        self.owner = DETACHED;
        self.drop_pending();
        true
    }

    /// The session left the manager: nobody is attached, no one can attach again.
    pub fn remove(&mut self) {
        self.removed = true;
        self.owner = DETACHED;
        self.drop_pending();
    }

    /// Whether the session is (now) gone because its linger ran out: `linger_over` says
    /// whether the deadline of a detached session has passed. Marks it removed if so.
    pub fn try_expire(&mut self, linger_over: bool) -> bool {
        if self.removed {
            return true;
        }
        let expired = self.owner == DETACHED && linger_over;
        if expired {
            self.remove();
        }
        expired
    }

    /// A message from connection `generation`. Input is queued for the console in the
    /// order it came (write it with [`SessionState::write_input`]); an Ack frees output
    /// in the ring. Messages of a connection that is no longer attached are ignored (it
    /// learns from [`SessionState::poll_transmit`] that it was kicked).
    pub fn receive(&mut self, generation: u64, msg: ConsoleMsg) -> Result<(), SessionError> {
        if !self.is_owner(generation) {
            return Ok(());
        }
        let item = match msg {
            ConsoleMsg::Data(bytes) if bytes.is_empty() => return Ok(()),
            ConsoleMsg::Data(bytes) => {
                self.pending_bytes += bytes.len();
                if self.pending_bytes > MAX_PENDING_INPUT {
                    return Err(SessionError::InputBeyondWindow {
                        pending: self.pending_bytes,
                        max: MAX_PENDING_INPUT,
                    });
                }
                Pending::Data { bytes, taken: 0 }
            }
            ConsoleMsg::Resize { cols, rows } => Pending::Resize { cols, rows },
            ConsoleMsg::Ack { received } => {
                let sent = self.link.sent;
                if received > sent {
                    return Err(SessionError::AckBeyondSent { received, sent });
                }
                self.ring.ack(received).map_err(|e| SessionError::AckBeyondSent { received, sent: e.end })?;
                return Ok(());
            }
            other => return Err(SessionError::UnexpectedMessage { kind: kind_of(&other), phase: "after attach" }),
        };
        self.pending.push_back(item);
        Ok(())
    }

    /// Hand the attached connection's queued input to `write`, in order, until the
    /// queue is empty, the PTY would block (`write` answers `Ok(None)`), or the PTY
    /// refuses (`Ok(Some(0))` or an error: the console is gone, and later input is
    /// dropped uncounted). `now` starts the Ack timer of new input.
    pub fn write_input(
        &mut self,
        generation: u64,
        now: Instant,
        mut write: impl FnMut(InputWork<'_>) -> std::io::Result<Option<usize>>,
    ) -> InputProgress {
        let before = self.input.received;
        let mut blocked = false;
        while self.is_owner(generation) && !self.input.broken {
            let Some(head) = self.pending.front_mut() else { break };
            match head {
                Pending::Resize { cols, rows } => {
                    // A failed resize is not fatal; the caller logs it.
                    let _ = write(InputWork::Resize { cols: *cols, rows: *rows });
                    self.pending.pop_front();
                }
                Pending::Data { bytes, taken } => match write(InputWork::Data(&bytes[*taken..])) {
                    Ok(None) => {
                        blocked = true;
                        break;
                    }
                    Ok(Some(n)) if n > 0 => {
                        let n = n.min(bytes.len() - *taken);
                        *taken += n;
                        self.input.received += u64::try_from(n).unwrap_or(u64::MAX);
                        self.pending_bytes -= n;
                        if *taken == bytes.len() {
                            self.pending.pop_front();
                        }
                    }
                    Ok(Some(_)) | Err(_) => self.input.broken = true,
                },
            }
        }
        if self.input.broken {
            self.drop_pending();
        }
        let mut wake_output = false;
        if self.input.received != before {
            let unacked = self.input.received - self.link.input_acked;
            wake_output = self.link.ack_due.is_none() || unacked >= INPUT_ACK_EVERY;
            self.link.ack_due.get_or_insert(now + INPUT_ACK_DELAY);
        }
        InputProgress { blocked, wake_output }
    }

    /// Whether input waits for the console.
    pub fn has_pending_input(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What connection `generation` sends next, at `now`.
    pub fn poll_transmit(&mut self, generation: u64, now: Instant) -> Result<Transmit, SessionError> {
        if !self.is_owner(generation) {
            return Ok(Transmit::Kicked);
        }
        let link = &mut self.link;
        if !link.info_sent {
            link.info_sent = true;
            link.input_acked = self.input.received;
            return Ok(Transmit::Frame(ConsoleMsg::SessionInfo {
                token: self.token,
                input_received: self.input.received,
                output_start: link.sent,
            }));
        }
        let received = self.input.received;
        if received != link.input_acked {
            let due = *link.ack_due.get_or_insert(now + INPUT_ACK_DELAY);
            if received - link.input_acked >= INPUT_ACK_EVERY || now >= due {
                link.input_acked = received;
                link.ack_due = None;
                return Ok(Transmit::Frame(ConsoleMsg::Ack { received }));
            }
        } else {
            link.ack_due = None;
        }
        if link.sent < self.ring.end() {
            let Some(bytes) = self.ring.read_at(link.sent, DATA_CHUNK) else {
                return Err(SessionError::OutputLost { offset: link.sent, start: self.ring.start() });
            };
            // Counted as sent before the client can see (and ack) it.
            link.sent += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            return Ok(Transmit::Frame(ConsoleMsg::Data(bytes)));
        }
        match self.exit {
            Some(status) if !link.exit_sent => {
                link.exit_sent = true;
                link.exit_deadline = Some(now + EXIT_ACK_GRACE);
                return Ok(Transmit::Frame(ConsoleMsg::Exit { status }));
            }
            Some(_) if self.ring.acked() == self.ring.end() => return Ok(Transmit::Finished),
            _ => {}
        }
        if link.exit_deadline.is_some_and(|d| now >= d) {
            return Ok(Transmit::ExitUnacknowledged);
        }
        let wake = [link.ack_due, link.exit_deadline].into_iter().flatten().min();
        Ok(Transmit::Idle(wake))
    }

    /// Bytes the PTY reader may read now (0: wait for acks).
    pub fn output_room(&self) -> usize {
        self.ring.room()
    }

    /// Append output read from the PTY (at most [`SessionState::output_room`] bytes).
    pub fn push_output(&mut self, bytes: &[u8]) {
        self.ring.push(bytes);
    }

    /// The exit status, once the process ended and its output is fully read.
    pub fn exit(&self) -> Option<i32> {
        self.exit
    }

    /// The process ended and its output is fully read.
    pub fn set_exit(&mut self, status: i32) {
        self.exit = Some(status);
    }

    /// Output bytes held in memory.
    pub fn held(&self) -> usize {
        self.ring.held()
    }

    /// Offsets of the output: the oldest byte held, the owner's ack point, the end.
    pub fn output_offsets(&self) -> (u64, u64, u64) {
        (self.ring.start(), self.ring.acked(), self.ring.end())
    }

    /// The input count.
    pub fn input(&self) -> InputCount {
        self.input
    }

    fn drop_pending(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
    }
}

impl Link {
    fn new(sent: u64, input_acked: u64) -> Self {
        Self { sent, info_sent: false, exit_sent: false, exit_deadline: None, input_acked, ack_due: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionState {
        SessionState::new(SessionToken([1; 32]), 0, 64)
    }

    fn frame(t: Transmit) -> ConsoleMsg {
        match t {
            Transmit::Frame(m) => m,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// A PTY that takes at most `cap` bytes per write; records what it got.
    fn pty<'a>(got: &'a mut Vec<u8>, cap: usize) -> impl FnMut(InputWork<'_>) -> std::io::Result<Option<usize>> + 'a {
        move |work| match work {
            InputWork::Data(b) => {
                let n = b.len().min(cap);
                got.extend_from_slice(&b[..n]);
                Ok(if n == 0 { None } else { Some(n) })
            }
            InputWork::Resize { .. } => Ok(Some(0)),
        }
    }

    #[test]
    fn session_info_then_data_then_exit_then_finished() {
        let t0 = Instant::now();
        let mut s = session();
        assert_eq!(s.claim(1, 0).unwrap(), 0);
        assert!(matches!(
            frame(s.poll_transmit(1, t0).unwrap()),
            ConsoleMsg::SessionInfo { input_received: 0, output_start: 0, .. }
        ));
        s.push_output(b"bye");
        s.set_exit(3);
        assert_eq!(frame(s.poll_transmit(1, t0).unwrap()), ConsoleMsg::Data(b"bye".to_vec()));
        assert_eq!(frame(s.poll_transmit(1, t0).unwrap()), ConsoleMsg::Exit { status: 3 });
        assert_eq!(s.poll_transmit(1, t0).unwrap(), Transmit::Idle(Some(t0 + EXIT_ACK_GRACE)));
        s.receive(1, ConsoleMsg::Ack { received: 3 }).unwrap();
        assert_eq!(s.poll_transmit(1, t0).unwrap(), Transmit::Finished);
    }

    #[test]
    fn a_client_that_never_acks_after_exit_is_closed_after_the_grace() {
        let t0 = Instant::now();
        let mut s = session();
        s.claim(1, 0).unwrap();
        s.push_output(b"x");
        s.set_exit(0);
        while let Transmit::Frame(_) = s.poll_transmit(1, t0).unwrap() {}
        assert_eq!(s.poll_transmit(1, t0 + EXIT_ACK_GRACE).unwrap(), Transmit::ExitUnacknowledged);
    }

    #[test]
    fn input_is_written_in_order_acked_after_a_delay_and_resizes_keep_their_place() {
        let t0 = Instant::now();
        let mut s = session();
        s.claim(1, 0).unwrap();
        frame(s.poll_transmit(1, t0).unwrap());
        s.receive(1, ConsoleMsg::Data(b"ab".to_vec())).unwrap();
        s.receive(1, ConsoleMsg::Resize { cols: 90, rows: 30 }).unwrap();
        s.receive(1, ConsoleMsg::Data(b"cd".to_vec())).unwrap();
        let mut log = Vec::new();
        let progress = s.write_input(1, t0, |w| {
            log.push(format!("{w:?}"));
            Ok(Some(match w {
                InputWork::Data(b) => b.len(),
                InputWork::Resize { .. } => 0,
            }))
        });
        assert_eq!(progress, InputProgress { blocked: false, wake_output: true });
        assert_eq!(log, ["Data([97, 98])", "Resize { cols: 90, rows: 30 }", "Data([99, 100])"]);
        assert_eq!(s.input().received(), 4);
        // The echo goes out first; the Ack when it falls due.
        assert_eq!(s.poll_transmit(1, t0).unwrap(), Transmit::Idle(Some(t0 + INPUT_ACK_DELAY)));
        assert_eq!(frame(s.poll_transmit(1, t0 + INPUT_ACK_DELAY).unwrap()), ConsoleMsg::Ack { received: 4 });
    }

    #[test]
    fn a_full_pty_blocks_and_resumes_where_it_stopped() {
        let t0 = Instant::now();
        let mut s = session();
        s.claim(1, 0).unwrap();
        s.receive(1, ConsoleMsg::Data(b"hello".to_vec())).unwrap();
        let mut got = Vec::new();
        assert!(!s.write_input(1, t0, pty(&mut got, 2)).blocked);
        let mut got2 = Vec::new();
        s.receive(1, ConsoleMsg::Data(b"!".to_vec())).unwrap();
        assert!(s.write_input(1, t0, pty(&mut got2, 0)).blocked, "a PTY that takes nothing blocks");
        assert_eq!(got, b"hello");
        assert_eq!(s.input().received(), 5);
        s.write_input(1, t0, pty(&mut got2, 9));
        assert_eq!(got2, b"!");
    }

    #[test]
    fn a_newer_connection_kicks_the_old_one_and_drops_its_unread_input() {
        let t0 = Instant::now();
        let mut s = session();
        s.claim(1, 0).unwrap();
        s.receive(1, ConsoleMsg::Data(b"typed".to_vec())).unwrap();
        s.push_output(b"hello");
        assert_eq!(s.claim(2, 3).unwrap(), 3);
        assert_eq!(s.poll_transmit(1, t0).unwrap(), Transmit::Kicked);
        assert!(!s.has_pending_input(), "unread input of the old connection is its client's to resend");
        let mut got = Vec::new();
        s.write_input(1, t0, pty(&mut got, 9));
        assert!(got.is_empty(), "a replaced connection writes nothing");
        assert!(matches!(
            frame(s.poll_transmit(2, t0).unwrap()),
            ConsoleMsg::SessionInfo { input_received: 0, output_start: 3, .. }
        ));
        assert_eq!(frame(s.poll_transmit(2, t0).unwrap()), ConsoleMsg::Data(b"lo".to_vec()));
        s.receive(1, ConsoleMsg::Ack { received: 5 }).unwrap();
        assert_eq!(s.output_offsets().1, 3, "an ack from a replaced connection moves nothing");
    }

    #[test]
    fn bogus_counters_and_floods_are_refused() {
        let t0 = Instant::now();
        let mut s = session();
        s.push_output(b"ab");
        assert_eq!(s.claim(1, 3), Err(SessionError::AttachBeyondOutput { output_received: 3, end: 2 }));
        s.claim(1, 0).unwrap();
        frame(s.poll_transmit(1, t0).unwrap());
        assert_eq!(
            s.receive(1, ConsoleMsg::Ack { received: 1 }),
            Err(SessionError::AckBeyondSent { received: 1, sent: 0 })
        );
        assert!(matches!(s.receive(1, ConsoleMsg::Exit { status: 0 }), Err(SessionError::UnexpectedMessage { .. })));
        let flood = vec![0u8; super::super::MAX_DATA];
        let mut refused = None;
        for _ in 0..10 {
            if let Err(e) = s.receive(1, ConsoleMsg::Data(flood.clone())) {
                refused = Some(e);
                break;
            }
        }
        assert!(matches!(refused, Some(SessionError::InputBeyondWindow { .. })));
        s.remove();
        assert!(matches!(s.claim(2, 0), Err(SessionError::SessionGone { .. })));
    }

    #[test]
    fn a_refused_pty_write_breaks_input_for_good() {
        let t0 = Instant::now();
        let mut s = session();
        s.claim(1, 0).unwrap();
        s.receive(1, ConsoleMsg::Data(b"ab".to_vec())).unwrap();
        s.write_input(1, t0, |_| Ok(Some(0)));
        assert!(s.input().is_broken() && !s.has_pending_input());
        s.receive(1, ConsoleMsg::Data(b"cd".to_vec())).unwrap();
        let mut got = Vec::new();
        s.write_input(1, t0, pty(&mut got, 9));
        assert!(got.is_empty());
        assert_eq!(s.input().received(), 0);
    }
}
