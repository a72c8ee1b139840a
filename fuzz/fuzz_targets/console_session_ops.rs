//! One console session driven by a sequence of operations: the fuzzer input decodes
//! (`Arbitrary`) into attaches with honest, stale, zero or future output counters,
//! dropped connections, output pumps, honest and bogus acks, typed input forwarded
//! through whichever connection, PTY writes that are partial or refused, process
//! output limited by the ring's room, exit, linger expiry and hang-up. They are applied
//! to the server's real sans-IO session state (`cvm_consoled::console::state`) exactly
//! as `session.rs`, `serve.rs` and `driver.rs` apply them, and after every step the
//! state is checked against a small model:
//!
//! - no panic; `Next::Lost` never happens;
//! - output: every Data frame is the process's output from the connection's offset,
//!   the client's stream is gapless and without repeats across reattaches (an honest
//!   re-attach resumes exactly where the client is), Exit comes after all output, and
//!   Finished only once everything is acknowledged;
//! - input: a connection only ever writes from the console's input count, so the
//!   console reads the typed bytes exactly once and in order; a replaced connection
//!   writes nothing;
//! - memory: the ring holds at most `max(max_unacked, scrollback)` bytes;
//! - bogus counters: an attach beyond the output and an ack beyond what was sent are
//!   refused with their errors and change nothing; a removed session cannot be attached.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use cvm_consoled::console::ConsoleError;
use cvm_consoled::console::state::{DETACHED, Next, SessionState};
use libfuzzer_sys::fuzz_target;

const SLOTS: usize = 3;

/// Byte `i` of the process's output.
fn out_byte(i: u64) -> u8 {
    (i % 251) as u8
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Counter {
    /// What the client really holds.
    Honest,
    /// Less than it holds (an old client state): replay.
    Stale(u16),
    /// More than the session produced: must be refused.
    Future(u16),
    /// Nothing.
    Zero,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// The client attaches on a new connection in `slot` (a connection there before is
    /// left open, as a stalled socket would be).
    Attach { slot: u8, counter: Counter },
    /// The connection in `slot` closes.
    Drop { slot: u8 },
    /// The connection sends what the session has for it, at most `max` bytes.
    Pump { slot: u8, max: u16 },
    /// The client acks on that connection what it got, less `lag`; or, `bogus`, more.
    Ack { slot: u8, lag: u16, bogus: bool },
    /// The person types `n` bytes.
    Type { n: u8 },
    /// The connection forwards the client's unconfirmed input; the PTY takes at most
    /// `chunk` bytes per write, 0: it refuses (the console is gone).
    Input { slot: u8, chunk: u8 },
    /// A Resize: through the same owner gate as input, changes no counter.
    Resize { slot: u8 },
    /// The console process writes `n` bytes; the driver reads what the ring has room for.
    Output { n: u16 },
    /// The console process exits.
    Exit { status: i8 },
    /// The linger timer of a detached session fires (`over`: its deadline has passed).
    Linger { over: bool },
    /// Hang-up (server shutdown).
    HangUp,
}

#[derive(Debug)]
struct Conn {
    generation: u64,
    /// Output offset up to which frames went out on this connection.
    sent: u64,
    exit_sent: bool,
    /// Offset in the typed stream of the next input byte this connection forwards.
    input_next: u64,
}

#[derive(Debug)]
struct Model {
    state: SessionState,
    bound: usize,
    conns: [Option<Conn>; SLOTS],
    next_generation: u64,
    /// Output bytes the process produced (and the driver read).
    produced: u64,
    /// Output offset the client's screen continues at.
    client_have: u64,
    /// Bytes typed so far.
    typed: u64,
    /// Bytes that reached the console.
    pty: u64,
    exit: Option<i32>,
    /// Detached after a connection ended (the linger deadline is set).
    lingering: bool,
    removed: bool,
}

impl Model {
    fn new(scrollback: usize, max_unacked: usize) -> Self {
        let mut m = Self {
            state: SessionState::new("fuzz".into(), scrollback, max_unacked),
            bound: scrollback.max(max_unacked.max(1)),
            conns: [None, None, None],
            next_generation: 1,
            produced: 0,
            client_have: 0,
            typed: 0,
            pty: 0,
            exit: None,
            lingering: false,
            removed: false,
        };
        // A session is opened by its first attach.
        m.attach(0, Counter::Zero);
        m
    }

    fn slot(slot: u8) -> usize {
        usize::from(slot) % SLOTS
    }

    fn attach(&mut self, slot: usize, counter: Counter) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let (start_before, _, end) = self.state.output_offsets();
        let owner_before = self.state.owner();
        let claimed = match counter {
            Counter::Honest => self.client_have,
            Counter::Stale(k) => self.client_have.saturating_sub(u64::from(k)),
            Counter::Future(k) => end + 1 + u64::from(k),
            Counter::Zero => 0,
        };
        match self.state.claim(generation, claimed) {
            Ok(start) => {
                assert!(!self.removed, "attached to a removed session");
                assert!(claimed <= end);
                assert_eq!(start, claimed.max(start_before), "replay starts at the claim or the oldest byte");
                if matches!(counter, Counter::Honest) {
                    assert_eq!(start, self.client_have, "an honest re-attach resumes exactly where the client is");
                }
                assert_eq!(self.state.owner(), generation);
                // SessionInfo: output from `start`, input resent from the console's count.
                let input_next = self.state.input().received();
                assert_eq!(input_next, self.pty);
                self.client_have = start;
                self.lingering = false;
                self.conns[slot] = Some(Conn { generation, sent: start, exit_sent: false, input_next });
            }
            Err(ConsoleError::SessionGone { .. }) => assert!(self.removed, "a live session refused an attach"),
            Err(ConsoleError::AttachBeyondOutput { output_received, end: e }) => {
                assert!(!self.removed);
                assert_eq!((output_received, e), (claimed, end));
                assert!(claimed > end, "a possible claim was refused");
                assert_eq!(self.state.owner(), owner_before, "a refused attach changed the owner");
            }
            Err(other) => panic!("attach: unexpected {other}"),
        }
    }

    /// Connection `slot` ends as `serve_connection` ends it.
    fn close(&mut self, slot: usize) {
        let Some(conn) = self.conns[slot].take() else { return };
        let was_owner = !self.removed && self.state.owner() == conn.generation;
        assert_eq!(self.state.release(conn.generation), was_owner);
        if was_owner {
            assert_eq!(self.state.owner(), DETACHED);
            self.lingering = true;
        }
    }

    fn owns(&self, slot: usize) -> bool {
        self.conns[slot].as_ref().is_some_and(|c| !self.removed && self.state.owner() == c.generation)
    }

    fn pump(&mut self, slot: usize, max: u16) {
        let Some(conn) = &self.conns[slot] else { return };
        let max = usize::from(max).max(1);
        let next = self.state.next_output(conn.generation, conn.sent, conn.exit_sent, max);
        let owner = self.owns(slot);
        let (_, acked, end) = self.state.output_offsets();
        let conn = self.conns[slot].as_mut().unwrap_or_else(|| unreachable!());
        match next {
            Next::Kicked => {
                assert!(!owner, "the owner was kicked");
                self.close(slot);
            }
            Next::Data(bytes) => {
                assert!(owner, "a replaced connection got output");
                assert!(!bytes.is_empty() && bytes.len() <= max);
                assert_eq!(conn.sent, self.client_have, "output skipped or repeated on the client's screen");
                for (i, b) in bytes.iter().enumerate() {
                    assert_eq!(*b, out_byte(conn.sent + i as u64), "output byte {} wrong", conn.sent + i as u64);
                }
                conn.sent += bytes.len() as u64;
                self.client_have = conn.sent;
                assert!(conn.sent <= self.produced);
            }
            Next::Exit(status) => {
                assert!(owner && !conn.exit_sent);
                assert_eq!(Some(status), self.exit);
                assert_eq!(conn.sent, self.produced, "Exit before all output");
                conn.exit_sent = true;
            }
            Next::Finished => {
                assert!(owner && conn.exit_sent && acked == end && conn.sent == end);
                // serve: the manager removes the finished session.
                self.state.remove();
                self.removed = true;
                self.conns[slot] = None;
            }
            Next::Idle => {
                assert!(owner);
                assert_eq!(conn.sent, end);
                assert!(self.exit.is_none() || (conn.exit_sent && acked < end), "idle with something to send");
            }
            Next::Lost { offset, start } => panic!("output at {offset} lost (oldest held {start})"),
        }
    }

    fn ack(&mut self, slot: usize, lag: u16, bogus: bool) {
        let Some(conn) = &self.conns[slot] else { return };
        let received = if bogus { conn.sent + 1 + u64::from(lag) } else { conn.sent.saturating_sub(u64::from(lag)) };
        let (generation, sent) = (conn.generation, conn.sent);
        let owner = self.owns(slot);
        let before = self.state.output_offsets();
        match self.state.ack(generation, received, sent) {
            Ok(moved) => {
                assert!(!bogus, "an ack beyond what was sent was taken");
                assert_eq!(moved, owner);
                if !owner {
                    assert_eq!(self.state.output_offsets(), before, "a replaced connection's ack moved the ring");
                }
            }
            Err(ConsoleError::AckBeyondSent { .. }) => {
                assert!(bogus, "an honest ack was refused");
                assert_eq!(self.state.output_offsets(), before, "a refused ack moved the ring");
                self.close(slot); // serve ends the connection on the error
            }
            Err(other) => panic!("ack: unexpected {other}"),
        }
    }

    fn input(&mut self, slot: usize, chunk: u8) {
        let Some(conn) = &self.conns[slot] else { return };
        if conn.input_next >= self.typed {
            return; // nothing unconfirmed to forward
        }
        // Session::apply_input: the owner gate, then PTY writes until done or refused.
        if !self.state.is_owner(conn.generation) || self.removed {
            assert!(!self.owns(slot));
            self.close(slot);
            return;
        }
        let conn = self.conns[slot].as_mut().unwrap_or_else(|| unreachable!());
        assert_eq!(conn.input_next, self.state.input().received(), "input would be duplicated or lost");
        let mut rest = self.typed - conn.input_next;
        while rest > 0 && !self.state.input().is_broken() {
            let write = if chunk == 0 { Ok(0) } else { Ok(usize::from(chunk).min(rest as usize)) };
            match self.state.input_mut().wrote(&write) {
                Some(n) => {
                    assert_eq!(Some(n), write.as_ref().ok().copied());
                    // The console reads typed[pty .. pty + n]: this connection forwards
                    // from input_next, which equalled the console's count.
                    self.pty += n as u64;
                    rest -= n as u64;
                }
                None => assert!(self.state.input().is_broken()),
            }
        }
        if !self.state.input().is_broken() {
            conn.input_next = self.typed;
        }
        assert_eq!(self.state.input().received(), self.pty);
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Attach { slot, counter } => self.attach(Self::slot(slot), counter),
            Op::Drop { slot } => self.close(Self::slot(slot)),
            Op::Pump { slot, max } => self.pump(Self::slot(slot), max),
            Op::Ack { slot, lag, bogus } => self.ack(Self::slot(slot), lag, bogus),
            Op::Type { n } => self.typed += u64::from(n),
            Op::Input { slot, chunk } => self.input(Self::slot(slot), chunk),
            Op::Resize { slot } => {
                let slot = Self::slot(slot);
                if let Some(conn) = &self.conns[slot] {
                    let before = (self.state.output_offsets(), *self.state.input());
                    if !self.state.is_owner(conn.generation) {
                        self.close(slot);
                    }
                    assert_eq!((self.state.output_offsets(), *self.state.input()), before);
                }
            }
            Op::Output { n } => {
                if self.exit.is_none() && !self.removed {
                    let n = usize::from(n).min(self.state.output_room());
                    let bytes: Vec<u8> = (0..n as u64).map(|i| out_byte(self.produced + i)).collect();
                    self.state.push_output(&bytes);
                    self.produced += n as u64;
                }
            }
            Op::Exit { status } => {
                if self.exit.is_none() && !self.removed {
                    self.exit = Some(i32::from(status));
                    self.state.set_exit(i32::from(status));
                }
            }
            Op::Linger { over } => {
                let expected = self.removed || (self.state.owner() == DETACHED && self.lingering && over);
                assert_eq!(self.state.try_expire(self.lingering && over), expected);
                if expected {
                    self.removed = true;
                }
            }
            Op::HangUp => {
                self.state.remove();
                self.removed = true;
            }
        }
        self.check();
    }

    fn check(&self) {
        let (start, acked, end) = self.state.output_offsets();
        assert!(start <= acked && acked <= end, "offsets {start} {acked} {end}");
        assert_eq!(end, self.produced);
        assert!(self.state.held() <= self.bound, "ring holds {} > {}", self.state.held(), self.bound);
        assert_eq!(self.state.held() as u64, end - start);
        assert_eq!(self.state.input().received(), self.pty);
        assert!(self.pty <= self.typed);
        assert_eq!(self.state.is_removed(), self.removed);
        let owner = self.state.owner();
        if owner != DETACHED {
            assert!(self.conns.iter().flatten().any(|c| c.generation == owner), "owned by a closed connection");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((scrollback, max_unacked)) = <(u16, u16)>::arbitrary(&mut u) else { return };
    let mut model = Model::new(usize::from(scrollback % 4096), usize::from(max_unacked % 4096));
    let mut steps = 0;
    while !u.is_empty() && steps < 4096 {
        let Ok(op) = Op::arbitrary(&mut u) else { return };
        model.step(op);
        steps += 1;
    }
});
