//! The console channel (ALPN `cvmc/1/console`): its messages, and the one home of its
//! exactly-once protocol, as a sans-IO pair that the server, the client, the tests and
//! the fuzz target all drive.
//!
//! ```text
//!  person ─ type_input ─► ConsoleClient ══ frames ══► SessionState ─ write_input ─► PTY
//!                          (keeps input    ◄══════     (ring of output by absolute
//!  screen ◄─ Output ─────   until acked)               offset, input count, owner)
//!                                                            ▲ push_output ◄─ PTY
//! ```
//!
//! Output and input both count bytes from the start of the session. A client that
//! re-attaches says how much output it holds and gets exactly the rest; the server says
//! how much input the console consumed and the client resends exactly what follows.
//! Neither side does IO or reads a clock: bytes, messages and `Instant`s go in, messages
//! and actions come out (`poll_transmit`, `write_input` with the caller's writer).
//!
//! Modules: [`msg`] (the wire messages, docs/DESIGN.md "Wire protocol v1"), [`ring`] (the
//! output buffer), [`server`] (one session as the guest serves it), [`client`] (one
//! session as a client holds it).

pub mod client;
pub mod msg;
pub mod ring;
pub mod server;

pub use msg::{ConsoleMsg, MAX_DATA, MAX_ERROR_REASON, SessionToken, TOKEN_LEN, kind};

/// A peer broke the console protocol, or asked for what the session cannot give.
/// One variant per rule, with its values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Re-attach to a session that ended or never existed.
    #[error("session {token} is gone")]
    SessionGone {
        /// The first bytes of the token.
        token: String,
    },
    /// Attach claims more output than the session produced.
    #[error("attach claims {output_received} output bytes received, the session produced {end}")]
    AttachBeyondOutput {
        /// What the client claimed.
        output_received: u64,
        /// What the session produced.
        end: u64,
    },
    /// Ack of output that was never sent on this connection.
    #[error("ack of {received} output bytes, only {sent} were sent")]
    AckBeyondSent {
        /// What the client acknowledged.
        received: u64,
        /// What this connection sent.
        sent: u64,
    },
    /// A message the peer may not send at this point.
    #[error("unexpected console message type {kind:#04x} {phase}")]
    UnexpectedMessage {
        /// Its type byte.
        kind: u8,
        /// Where in the protocol.
        phase: &'static str,
    },
    /// Input arrived faster than the client's window allows and the console reads it.
    #[error("{pending} bytes of input wait for the console, more than the window of {max}")]
    InputBeyondWindow {
        /// Bytes waiting.
        pending: usize,
        /// The most a client may have unacknowledged.
        max: usize,
    },
    /// The server acknowledged more input than the client typed, or sent output that
    /// contradicts what the client holds.
    #[error("the guest acknowledged {acked} input bytes, only {typed} were typed")]
    InputAckBeyondTyped {
        /// What the server acknowledged.
        acked: u64,
        /// What the client typed.
        typed: u64,
    },
    /// Output to send was evicted (a bug; the connection is closed).
    #[error("output offset {offset} is no longer held (oldest {start})")]
    OutputLost {
        /// The connection's send offset.
        offset: u64,
        /// The oldest byte held.
        start: u64,
    },
}

/// Kind of a message, for [`SessionError::UnexpectedMessage`].
pub(crate) fn kind_of(msg: &ConsoleMsg) -> u8 {
    match msg {
        ConsoleMsg::Data(_) => kind::DATA,
        ConsoleMsg::Resize { .. } => kind::RESIZE,
        ConsoleMsg::Attach { .. } => kind::ATTACH,
        ConsoleMsg::SessionInfo { .. } => kind::SESSION_INFO,
        ConsoleMsg::Exit { .. } => kind::EXIT,
        ConsoleMsg::Ack { .. } => kind::ACK,
        ConsoleMsg::Error { .. } => kind::ERROR,
    }
}

/// The first bytes of a token, enough to tell sessions apart in logs and errors.
pub fn token_hint(token: &SessionToken) -> String {
    format!("{}…", hex::encode(&token.0[..4]))
}
