//! Console channel messages (ALPN `cvmc/1/console`), carried in frames after the
//! client's Proceed.
//!
//! Re-attach is exact: the client tells the server how many output bytes it already
//! holds, the server answers with how many input bytes the session has consumed and
//! where its replay starts, so neither side loses or repeats a byte across a cut
//! connection as long as the gap fits the bounded scrollback.

use crate::codec::{Reader, Writer, truncate_utf8};
use crate::error::CodecError;
use crate::frame::{MAX_FRAME_PAYLOAD, decode_frame, encode_frame};

/// Length of a session token.
pub const TOKEN_LEN: usize = 32;
/// Most bytes of terminal data in one Data frame.
pub const MAX_DATA: usize = MAX_FRAME_PAYLOAD;

/// Frame type bytes of the console phase.
pub mod kind {
    /// Terminal bytes (both ways).
    pub const DATA: u8 = 0x10;
    /// Client -> server: terminal size changed.
    pub const RESIZE: u8 = 0x11;
    /// Client -> server: open a new session or re-attach to one.
    pub const ATTACH: u8 = 0x12;
    /// Server -> client: the session's token and replay offsets.
    pub const SESSION_INFO: u8 = 0x13;
    /// Server -> client: the console process ended.
    pub const EXIT: u8 = 0x14;
    /// Both ways: total bytes of the peer's Data stream received (output) or
    /// consumed (input) so far; the sender of that stream may forget what is acked.
    pub const ACK: u8 = 0x15;
    /// Server -> client: the request cannot be served (e.g. the session to re-attach
    /// is gone); the connection closes after it.
    pub const ERROR: u8 = 0x16;
}

/// Most bytes of an Error reason.
pub const MAX_ERROR_REASON: usize = 1024;

/// A session token; all zeroes asks for a new session.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionToken(pub [u8; TOKEN_LEN]);

impl SessionToken {
    /// The "new session" token.
    pub const NEW: Self = Self([0; TOKEN_LEN]);

    /// Whether this asks for a new session.
    pub fn is_new(&self) -> bool {
        self.0 == [0; TOKEN_LEN]
    }
}

impl std::fmt::Debug for SessionToken {
    // A token is a bearer secret for re-attach: never print it whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionToken({}…)", hex::encode(&self.0[..4]))
    }
}

/// A console channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleMsg {
    /// Terminal bytes.
    Data(Vec<u8>),
    /// New terminal size in character cells.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Open or re-attach.
    Attach {
        /// Session to re-attach, or [`SessionToken::NEW`].
        token: SessionToken,
        /// Output bytes the client already holds from this session.
        output_received: u64,
    },
    /// The server's answer to Attach.
    SessionInfo {
        /// Token for later re-attach.
        token: SessionToken,
        /// Input bytes the session has consumed; the client resends what follows.
        input_received: u64,
        /// Output offset of the first byte the server sends next. Greater than the
        /// client's `output_received` when scrollback no longer held the gap.
        output_start: u64,
    },
    /// The console process exited with this status (negative: killed by signal).
    Exit {
        /// Exit status.
        status: i32,
    },
    /// Bytes of the peer's Data stream received (client: output) or consumed by the
    /// console (server: input), counted from the start of the session.
    Ack {
        /// Total bytes.
        received: u64,
    },
    /// The server refuses the request; the reason is for the person.
    Error {
        /// Why.
        reason: String,
    },
}

impl ConsoleMsg {
    /// Encode as one frame.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut w = Writer::new();
        let k = match self {
            Self::Data(bytes) => {
                if bytes.len() > MAX_DATA {
                    return Err(CodecError::TooLong { field: "console data", len: bytes.len(), max: MAX_DATA });
                }
                w.put(bytes);
                kind::DATA
            }
            Self::Resize { cols, rows } => {
                if *cols == 0 || *rows == 0 {
                    return Err(CodecError::BadValue { field: "terminal size", value: format!("{cols}x{rows}") });
                }
                w.u16(*cols);
                w.u16(*rows);
                kind::RESIZE
            }
            Self::Attach { token, output_received } => {
                w.put(&token.0);
                w.put(&output_received.to_be_bytes());
                kind::ATTACH
            }
            Self::SessionInfo { token, input_received, output_start } => {
                w.put(&token.0);
                w.put(&input_received.to_be_bytes());
                w.put(&output_start.to_be_bytes());
                kind::SESSION_INFO
            }
            Self::Exit { status } => {
                w.i32(*status);
                kind::EXIT
            }
            Self::Ack { received } => {
                w.put(&received.to_be_bytes());
                kind::ACK
            }
            Self::Error { reason } => {
                w.bytes_u16("error reason", truncate_utf8(reason, MAX_ERROR_REASON).as_bytes(), MAX_ERROR_REASON)?;
                kind::ERROR
            }
        };
        encode_frame(k, &w.into_inner())
    }

    /// Decode exactly one frame.
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let frame = decode_frame(buf)?;
        Self::decode_payload(frame.kind, frame.payload)
    }

    /// Decode a payload whose frame type is already known.
    pub fn decode_payload(k: u8, payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new("console message", payload);
        let msg = match k {
            kind::DATA => Self::Data(r.take(r.remaining())?.to_vec()),
            kind::RESIZE => {
                let (cols, rows) = (r.u16()?, r.u16()?);
                if cols == 0 || rows == 0 {
                    return Err(CodecError::BadValue { field: "terminal size", value: format!("{cols}x{rows}") });
                }
                Self::Resize { cols, rows }
            }
            kind::ATTACH => {
                Self::Attach { token: SessionToken(r.array()?), output_received: u64::from_be_bytes(r.array()?) }
            }
            kind::SESSION_INFO => Self::SessionInfo {
                token: SessionToken(r.array()?),
                input_received: u64::from_be_bytes(r.array()?),
                output_start: u64::from_be_bytes(r.array()?),
            },
            kind::EXIT => Self::Exit { status: r.i32()? },
            kind::ACK => Self::Ack { received: u64::from_be_bytes(r.array()?) },
            kind::ERROR => {
                let raw = r.bytes_u16("error reason", MAX_ERROR_REASON)?;
                let reason = std::str::from_utf8(raw)
                    .map_err(|_| CodecError::BadValue { field: "error reason", value: "not UTF-8".into() })?;
                Self::Error { reason: reason.to_owned() }
            }
            other => return Err(CodecError::UnknownType { what: "console message", value: other }),
        };
        r.finish()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let msgs = [
            ConsoleMsg::Data(b"echo ok\r".to_vec()),
            ConsoleMsg::Data(vec![]),
            ConsoleMsg::Resize { cols: 132, rows: 43 },
            ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 },
            ConsoleMsg::SessionInfo { token: SessionToken([5; 32]), input_received: 17, output_start: 1 << 40 },
            ConsoleMsg::Exit { status: -9 },
            ConsoleMsg::Ack { received: u64::MAX },
            ConsoleMsg::Error { reason: "session gone".into() },
        ];
        for msg in msgs {
            assert_eq!(ConsoleMsg::decode(&msg.encode().unwrap()).unwrap(), msg);
        }
    }

    #[test]
    fn known_answer_resize() {
        assert_eq!(ConsoleMsg::Resize { cols: 80, rows: 24 }.encode().unwrap(), [0x11, 0, 0, 0, 4, 0, 80, 0, 24]);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert!(ConsoleMsg::decode_payload(kind::RESIZE, &[0, 80, 0]).is_err());
        assert!(ConsoleMsg::decode_payload(kind::RESIZE, &[0, 0, 0, 24]).is_err());
        assert!(ConsoleMsg::Resize { cols: 0, rows: 24 }.encode().is_err(), "never emit what the peer refuses");
        assert!(ConsoleMsg::decode_payload(kind::EXIT, &[0, 0, 0, 0, 0]).is_err());
        assert!(ConsoleMsg::decode_payload(kind::ATTACH, &[0; 39]).is_err());
        assert!(ConsoleMsg::decode_payload(0x01, &[]).is_err());
    }

    #[test]
    fn token_debug_does_not_leak_the_secret() {
        let s = format!("{:?}", SessionToken([0xAB; 32]));
        assert!(s.len() < 30, "{s}");
    }
}
