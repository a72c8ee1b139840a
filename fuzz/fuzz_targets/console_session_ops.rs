//! The console's exactly-once protocol end to end, in memory: the product's own client
//! half (`ConsoleClient`) and server half (`SessionState`) joined by two queues of
//! frames, driven by a sequence of operations (`Arbitrary`): typing, resizes, process
//! output, a PTY that takes little or nothing, frames delivered a few at a time,
//! connections cut with frames in flight, re-attaches, exit, time passing, linger and
//! hang-up. Every frame crosses as bytes (encode, `FrameDecoder`, decode), and the
//! server side is pumped as `guest-server/src/console/serve.rs` pumps it.
//!
//! Properties, after every step:
//! - no panic, and no protocol error from honest peers;
//! - the console read a prefix of the typed stream, each byte once, in order, and the
//!   input count equals what it read;
//! - the client saw a prefix of the output (a Gap only where the scrollback really no
//!   longer held the bytes), each byte once, and Exit only after all output;
//! - the ring holds at most `max(max_unacked, scrollback)` bytes.
//!
//! And at the end, once the pair is left to settle (the PTY takes everything, every
//! frame is delivered, time passes): everything typed reached the console and all
//! output reached the client, unless the session was hung up or expired.
#![no_main]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use cvmc_protocol::console::client::{ClientEvent, ConsoleClient};
use cvmc_protocol::console::server::{InputWork, SessionState, Transmit};
use cvmc_protocol::console::{ConsoleMsg, SessionToken};
use cvmc_protocol::frame::FrameDecoder;
use libfuzzer_sys::fuzz_target;

fn out_byte(i: usize) -> u8 {
    (i % 251) as u8
}

fn in_byte(i: usize) -> u8 {
    b' ' + (i % 91) as u8
}

#[derive(Arbitrary, Debug)]
enum Op {
    Type { n: u8 },
    Resize { cols: u8, rows: u8 },
    ClientSend { frames: u8 },
    ServerReceive { frames: u8 },
    /// How many bytes the PTY takes per write from now on (0: it would block).
    PtyTakes { bytes: u8 },
    /// The PTY refuses writes from now on (the console is gone).
    PtyBreaks,
    ServerSend { frames: u8 },
    ClientReceive { frames: u8 },
    Output { n: u16 },
    Exit { status: i8 },
    Tick { ms: u16 },
    Cut,
    Reconnect,
    Linger { over: bool },
    HangUp,
}

/// One connection's two directions, as bytes in flight.
#[derive(Default)]
struct Wire {
    generation: u64,
    to_server: VecDeque<u8>,
    to_client: VecDeque<u8>,
    server_decoder: FrameDecoder,
    client_decoder: FrameDecoder,
    /// The server saw Attach and claimed.
    attached: bool,
    closed: bool,
}

struct Pair {
    client: ConsoleClient,
    server: SessionState,
    wire: Option<Wire>,
    next_generation: u64,
    now: Instant,
    bound: usize,
    typed: usize,
    /// What the console read.
    console: Vec<u8>,
    pty_takes: usize,
    pty_broken: bool,
    produced: usize,
    /// Output offset the client's screen continues at.
    client_have: u64,
    client_exited: bool,
    exit: Option<i32>,
    /// The session left (finished, hung up, expired).
    removed: bool,
}

impl Pair {
    fn new(scrollback: usize, max_unacked: usize, ack_every: u64) -> Self {
        let mut p = Self {
            client: ConsoleClient::new(ack_every),
            server: SessionState::new(SessionToken([7; 32]), scrollback, max_unacked),
            wire: None,
            next_generation: 1,
            now: Instant::now(),
            bound: scrollback.max(max_unacked.max(1)),
            typed: 0,
            console: Vec::new(),
            pty_takes: usize::MAX,
            pty_broken: false,
            produced: 0,
            client_have: 0,
            client_exited: false,
            exit: None,
            removed: false,
        };
        p.reconnect();
        p
    }

    fn reconnect(&mut self) {
        if self.client_exited || self.wire.as_ref().is_some_and(|w| !w.closed) {
            return;
        }
        self.cut();
        let generation = self.next_generation;
        self.next_generation += 1;
        let attach = self.client.connect();
        let mut wire = Wire { generation, ..Wire::default() };
        wire.to_server.extend(attach.encode().expect("Attach encodes"));
        self.wire = Some(wire);
    }

    /// The connection ends (both sides), with whatever was in flight.
    fn cut(&mut self) {
        if let Some(wire) = self.wire.take() {
            if wire.attached {
                self.server.release(wire.generation);
            }
        }
    }

    fn close_server_side(&mut self) {
        if let Some(wire) = &mut self.wire {
            if wire.attached {
                self.server.release(wire.generation);
            }
            wire.attached = false;
            wire.closed = true;
        }
    }

    fn client_send(&mut self, frames: usize) {
        let Some(wire) = &mut self.wire else { return };
        if wire.closed {
            return;
        }
        for _ in 0..frames {
            let Some(msg) = self.client.poll_transmit() else { break };
            wire.to_server.extend(msg.encode().expect("the client's frames encode"));
        }
    }

    fn server_receive(&mut self, frames: usize) {
        let Some(wire) = &mut self.wire else { return };
        if wire.closed {
            return;
        }
        let bytes: Vec<u8> = wire.to_server.drain(..).collect();
        wire.server_decoder.push(&bytes);
        let mut input = false;
        for _ in 0..frames {
            let wire = self.wire.as_mut().expect("checked above");
            let frame = match wire.server_decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("the client sent a malformed frame: {e}"),
            };
            let msg = ConsoleMsg::decode_payload(frame.kind, &frame.payload).expect("the client's frames decode");
            let generation = wire.generation;
            if !wire.attached {
                let ConsoleMsg::Attach { token, output_received } = msg else { panic!("first frame {msg:?}") };
                assert!(token.is_new() || token == self.server.token(), "attach for another session");
                match self.server.claim(generation, output_received) {
                    Ok(start) => {
                        assert!(start >= output_received);
                        self.wire.as_mut().expect("checked").attached = true;
                    }
                    Err(e) => {
                        assert!(self.removed, "a live session refused an honest attach: {e}");
                        self.close_server_side();
                        self.client_exited = true; // the client is told the session is gone
                        return;
                    }
                }
                continue;
            }
            input |= matches!(msg, ConsoleMsg::Data(_) | ConsoleMsg::Resize { .. });
            if let Err(e) = self.server.receive(generation, msg) {
                panic!("an honest client's message was refused: {e}");
            }
        }
        if input {
            self.write_input();
        }
    }

    fn write_input(&mut self) {
        let Some(wire) = &self.wire else { return };
        if !wire.attached {
            return;
        }
        let (takes, broken) = (self.pty_takes, self.pty_broken);
        let console = &mut self.console;
        self.server.write_input(wire.generation, self.now, |work| match work {
            InputWork::Data(_) if broken => Ok(Some(0)),
            InputWork::Data(bytes) => {
                let n = bytes.len().min(takes);
                console.extend_from_slice(&bytes[..n]);
                Ok(if n == 0 { None } else { Some(n) })
            }
            InputWork::Resize { cols, rows } => {
                assert!(cols > 0 && rows > 0);
                Ok(Some(0))
            }
        });
    }

    fn server_send(&mut self, frames: usize) {
        for _ in 0..frames {
            let Some(wire) = &mut self.wire else { return };
            if !wire.attached {
                return;
            }
            match self.server.poll_transmit(wire.generation, self.now).expect("no output is ever lost") {
                Transmit::Frame(msg) => wire.to_client.extend(msg.encode().expect("the server's frames encode")),
                Transmit::Idle(_) => return,
                Transmit::Kicked => {
                    assert!(self.removed, "the only connection was kicked");
                    self.close_server_side();
                    return;
                }
                Transmit::Finished => {
                    // serve_connection: the manager removes the finished session.
                    self.server.remove();
                    self.removed = true;
                    self.close_server_side();
                    return;
                }
                Transmit::ExitUnacknowledged => {
                    self.close_server_side();
                    return;
                }
            }
        }
    }

    fn client_receive(&mut self, frames: usize) {
        let Some(wire) = &mut self.wire else { return };
        let bytes: Vec<u8> = wire.to_client.drain(..).collect();
        wire.client_decoder.push(&bytes);
        for _ in 0..frames {
            let wire = self.wire.as_mut().expect("checked above");
            let frame = match wire.client_decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("the server sent a malformed frame: {e}"),
            };
            let msg = ConsoleMsg::decode_payload(frame.kind, &frame.payload).expect("the server's frames decode");
            let event = self.client.handle(msg).unwrap_or_else(|e| panic!("the client refused honest output: {e}"));
            match event {
                None => {}
                Some(ClientEvent::Output(bytes)) => {
                    assert!(!self.client_exited, "output after Exit");
                    for (i, b) in bytes.iter().enumerate() {
                        let at = self.client_have as usize + i;
                        assert_eq!(*b, out_byte(at), "output byte {at} wrong, skipped or repeated");
                    }
                    self.client_have += bytes.len() as u64;
                    assert!(self.client_have as usize <= self.produced);
                }
                Some(ClientEvent::Gap(bytes)) => {
                    let (start, _, _) = self.server.output_offsets();
                    assert!(self.client_have + bytes <= start, "a gap over bytes the ring still holds");
                    self.client_have += bytes;
                }
                Some(ClientEvent::Exited(status)) => {
                    assert_eq!(Some(status), self.exit);
                    assert_eq!(self.client_have as usize, self.produced, "Exit before all output");
                    self.client_exited = true;
                }
                Some(ClientEvent::Refused(reason)) => panic!("refused: {reason}"),
            }
        }
        // The client's answers (acks) are queued; ClientSend delivers them.
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Type { n } => {
                if self.client.window_open() && !self.client_exited {
                    let bytes: Vec<u8> = (self.typed..self.typed + usize::from(n)).map(in_byte).collect();
                    self.client.type_input(&bytes);
                    self.typed += usize::from(n);
                }
            }
            Op::Resize { cols, rows } => self.client.resize(u16::from(cols), u16::from(rows)),
            Op::ClientSend { frames } => self.client_send(usize::from(frames)),
            Op::ServerReceive { frames } => self.server_receive(usize::from(frames)),
            Op::PtyTakes { bytes } => {
                self.pty_takes = usize::from(bytes);
                self.write_input();
            }
            Op::PtyBreaks => self.pty_broken = true,
            Op::ServerSend { frames } => self.server_send(usize::from(frames)),
            Op::ClientReceive { frames } => self.client_receive(usize::from(frames)),
            Op::Output { n } => {
                if self.exit.is_none() && !self.removed {
                    let n = usize::from(n).min(self.server.output_room());
                    let bytes: Vec<u8> = (self.produced..self.produced + n).map(out_byte).collect();
                    self.server.push_output(&bytes);
                    self.produced += n;
                }
            }
            Op::Exit { status } => {
                if self.exit.is_none() && !self.removed {
                    self.exit = Some(i32::from(status));
                    self.server.set_exit(i32::from(status));
                }
            }
            Op::Tick { ms } => self.now += Duration::from_millis(u64::from(ms)),
            Op::Cut => self.cut(),
            Op::Reconnect => self.reconnect(),
            Op::Linger { over } => {
                let detached = self.wire.as_ref().is_none_or(|w| !w.attached);
                if self.server.try_expire(over && detached) {
                    self.removed = true;
                }
            }
            Op::HangUp => {
                self.server.remove();
                self.removed = true;
            }
        }
        self.check();
    }

    fn check(&self) {
        assert!(self.console.len() <= self.typed);
        for (i, b) in self.console.iter().enumerate() {
            assert_eq!(*b, in_byte(i), "the console read byte {i} wrong, twice or out of order");
        }
        assert_eq!(self.server.input().received() as usize, self.console.len());
        assert!(self.server.held() <= self.bound, "ring holds {} > {}", self.server.held(), self.bound);
        let (start, acked, end) = self.server.output_offsets();
        assert!(start <= acked && acked <= end && end as usize == self.produced);
        assert_eq!(self.server.is_removed(), self.removed);
    }

    /// Leave the pair to settle: the PTY takes everything, every frame is delivered.
    fn settle(&mut self) {
        self.pty_takes = usize::MAX;
        for _ in 0..64 {
            if self.removed || self.client_exited {
                break;
            }
            if self.wire.as_ref().is_none_or(|w| w.closed) {
                self.reconnect();
            }
            self.client_send(usize::MAX);
            self.server_receive(usize::MAX);
            self.write_input();
            self.server_send(usize::MAX);
            self.client_receive(usize::MAX);
            self.now += Duration::from_millis(200);
            self.check();
        }
        if !self.removed && !self.client_exited && !self.pty_broken {
            assert_eq!(self.console.len(), self.typed, "typed input never reached the console");
            assert_eq!(self.client_have as usize, self.produced, "output never reached the client");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((scrollback, max_unacked, ack_every)) = <(u16, u16, u8)>::arbitrary(&mut u) else { return };
    let mut pair = Pair::new(usize::from(scrollback % 4096), usize::from(max_unacked % 4096), u64::from(ack_every) + 1);
    let mut steps = 0;
    while !u.is_empty() && steps < 4096 {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        pair.step(op);
        steps += 1;
    }
    pair.settle();
});
