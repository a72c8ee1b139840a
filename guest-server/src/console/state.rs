//! The sans-IO state of one console session: the output ring, who is attached, the exit
//! status, and the input count. [`super::session::Session`] wraps it in a mutex and adds
//! the PTY and the wake-ups; the `console_session_ops` fuzz target drives it directly
//! with sequences of attaches, drops, acks, input and output.
//!
//! Connections are named by generation (starting at 1; [`DETACHED`] is nobody).
//! Output has absolute offsets; a connection remembers how far it `sent`.

use super::ConsoleError;
use super::ring::OutputRing;

/// Owner value meaning no connection is attached. Connection generations start at 1.
pub const DETACHED: u64 = 0;

/// What a connection's output pump should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Another connection attached, or the session was removed.
    Kicked,
    /// Output bytes starting at the connection's send offset.
    Data(Vec<u8>),
    /// All output was sent and the process has ended.
    Exit(i32),
    /// Exit was sent and the client acknowledged every byte: the session is done.
    Finished,
    /// Nothing to send until something changes.
    Idle,
    /// The send offset is no longer held (cannot happen while acks are gated by owner).
    Lost {
        /// The connection's send offset.
        offset: u64,
        /// The oldest byte held.
        start: u64,
    },
}

/// One session's state, without IO.
#[derive(Debug)]
pub struct SessionState {
    ring: OutputRing,
    exit: Option<i32>,
    removed: bool,
    owner: u64,
    input: InputCount,
    /// Names the session in errors.
    hint: String,
}

impl SessionState {
    /// A session that produced nothing yet. `hint` names it in errors.
    pub fn new(hint: String, scrollback: usize, max_unacked: usize) -> Self {
        Self {
            ring: OutputRing::new(scrollback, max_unacked.max(1)),
            exit: None,
            removed: false,
            owner: DETACHED,
            input: InputCount::default(),
            hint,
        }
    }

    /// The attached connection's generation, or [`DETACHED`].
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// Whether connection `generation` is the attached one.
    pub fn is_owner(&self, generation: u64) -> bool {
        self.owner == generation
    }

    /// Whether the session left the manager (hung up, expired or finished).
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// Attach connection `generation`, whose client holds `output_received` bytes; the
    /// previous connection, if any, is no longer the owner. Returns where output replay
    /// starts: `output_received`, or the oldest byte held if that is later.
    pub fn claim(&mut self, generation: u64, output_received: u64) -> Result<u64, ConsoleError> {
        if self.removed {
            return Err(ConsoleError::SessionGone { token: self.hint.clone() });
        }
        let start = self
            .ring
            .restart_at(output_received)
            .map_err(|e| ConsoleError::AttachBeyondOutput { output_received, end: e.end })?;
        self.owner = generation;
        Ok(start)
    }

    /// Connection `generation` ended. `true` if it was attached: the session is now
    /// detached and starts to linger.
    pub fn release(&mut self, generation: u64) -> bool {
        if self.removed || self.owner != generation || generation == DETACHED {
            return false;
        }
        self.owner = DETACHED;
        true
    }

    /// The session left the manager: nobody is attached, no one can attach again.
    pub fn remove(&mut self) {
        self.removed = true;
        self.owner = DETACHED;
    }

    /// Whether the session is (now) gone because its linger ran out: `linger_over` says
    /// whether the deadline of a detached session has passed. Marks it removed if so.
    pub fn try_expire(&mut self, linger_over: bool) -> bool {
        if self.removed {
            return true;
        }
        let expired = self.owner == DETACHED && linger_over;
        if expired {
            self.removed = true;
        }
        expired
    }

    /// The client of connection `generation` holds `received` output bytes; the
    /// connection sent it `sent`. `Ok(true)` if the ack moved the ring (an ack from a
    /// replaced connection is ignored: its client no longer decides).
    pub fn ack(&mut self, generation: u64, received: u64, sent: u64) -> Result<bool, ConsoleError> {
        if received > sent {
            return Err(ConsoleError::AckBeyondSent { received, sent });
        }
        if !self.is_owner(generation) {
            return Ok(false);
        }
        self.ring.ack(received).map_err(|e| ConsoleError::AckBeyondSent { received, sent: e.end })?;
        Ok(true)
    }

    /// What connection `generation`, which has sent output up to `sent`, does next.
    pub fn next_output(&self, generation: u64, sent: u64, exit_sent: bool, max: usize) -> Next {
        if self.removed || !self.is_owner(generation) {
            return Next::Kicked;
        }
        if sent < self.ring.end() {
            return match self.ring.read_at(sent, max) {
                Some(bytes) => Next::Data(bytes),
                None => Next::Lost { offset: sent, start: self.ring.start() },
            };
        }
        match self.exit {
            Some(status) if !exit_sent => Next::Exit(status),
            Some(_) if self.ring.acked() == self.ring.end() => Next::Finished,
            _ => Next::Idle,
        }
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
    pub fn input(&self) -> &InputCount {
        &self.input
    }

    /// The input count, to account a PTY write.
    pub fn input_mut(&mut self) -> &mut InputCount {
        &mut self.input
    }
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

    /// Account one PTY write: the bytes it took, or `None` once the PTY refused
    /// (`Ok(0)` or an error), after which nothing more is written.
    pub fn wrote(&mut self, result: &std::io::Result<usize>) -> Option<usize> {
        match result {
            Ok(n) if *n > 0 && !self.broken => {
                self.received += u64::try_from(*n).unwrap_or(u64::MAX);
                Some(*n)
            }
            _ => {
                self.broken = true;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_connection_is_kicked_and_its_acks_ignored() {
        let mut s = SessionState::new("t".into(), 0, 64);
        assert_eq!(s.claim(1, 0).unwrap(), 0);
        s.push_output(b"hello");
        assert_eq!(s.next_output(1, 0, false, 3), Next::Data(b"hel".to_vec()));
        assert_eq!(s.claim(2, 3).unwrap(), 3);
        assert_eq!(s.next_output(1, 3, false, 8), Next::Kicked);
        assert!(!s.ack(1, 3, 3).unwrap());
        assert!(!s.release(1), "the old connection ending does not detach the new one");
        assert_eq!(s.next_output(2, 3, false, 8), Next::Data(b"lo".to_vec()));
        assert!(matches!(s.ack(2, 6, 5), Err(ConsoleError::AckBeyondSent { received: 6, sent: 5 })));
        assert!(s.release(2));
        assert_eq!(s.owner(), DETACHED);
    }

    #[test]
    fn exit_comes_after_all_output_and_finish_after_the_last_ack() {
        let mut s = SessionState::new("t".into(), 0, 64);
        s.claim(1, 0).unwrap();
        s.push_output(b"bye");
        s.set_exit(3);
        assert_eq!(s.next_output(1, 0, false, 64), Next::Data(b"bye".to_vec()));
        assert_eq!(s.next_output(1, 3, false, 64), Next::Exit(3));
        assert_eq!(s.next_output(1, 3, true, 64), Next::Idle);
        s.ack(1, 3, 3).unwrap();
        assert_eq!(s.next_output(1, 3, true, 64), Next::Finished);
    }

    #[test]
    fn attach_beyond_the_output_and_to_a_removed_session_are_refused() {
        let mut s = SessionState::new("t".into(), 0, 64);
        s.push_output(b"ab");
        assert!(matches!(s.claim(1, 3), Err(ConsoleError::AttachBeyondOutput { output_received: 3, end: 2 })));
        assert!(!s.try_expire(false));
        assert!(s.try_expire(true));
        assert!(matches!(s.claim(2, 0), Err(ConsoleError::SessionGone { .. })));
    }

    #[test]
    fn a_refused_pty_write_stops_the_count() {
        let mut c = InputCount::default();
        assert_eq!(c.wrote(&Ok(4)), Some(4));
        assert_eq!(c.wrote(&Ok(0)), None);
        assert_eq!(c.wrote(&Ok(4)), None);
        assert_eq!((c.received(), c.is_broken()), (4, true));
    }
}
