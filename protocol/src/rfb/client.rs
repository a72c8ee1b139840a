//! Client-to-server messages (RFC 6143 7.5 and the rfbproto extensions we accept),
//! each with `encode` and `decode`, and [`ClientMsgDecoder`] for a byte stream.
//!
//! Every variable length has a named maximum, checked from the message header alone,
//! so a peer can never make us buffer more than [`MAX_CLIENT_MSG`] bytes.

use super::common::{SCREEN_LEN, Screen};
use super::error::RfbError;
use super::pixel::{PIXEL_FORMAT_LEN, PixelFormat};
use crate::codec::Reader;

/// Most encodings one SetEncodings may list (real viewers send about 30).
pub const MAX_ENCODINGS: usize = 128;
pub use super::common::MAX_CUT_TEXT;
/// Most screens one SetDesktopSize may carry.
pub const MAX_SCREENS: usize = 16;
/// Longest client message: a ClientCutText header and [`MAX_CUT_TEXT`] bytes.
pub const MAX_CLIENT_MSG: usize = 8 + MAX_CUT_TEXT;
/// Most bytes a [`ClientMsgDecoder`] holds: one message and one 64 KiB push.
pub const MAX_BUFFERED: usize = MAX_CLIENT_MSG + 64 * 1024;

/// RFC 6143 7.5.1 SetPixelFormat.
pub const SET_PIXEL_FORMAT: u8 = 0;
/// RFC 6143 7.5.2 SetEncodings.
pub const SET_ENCODINGS: u8 = 2;
/// RFC 6143 7.5.3 FramebufferUpdateRequest.
pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
/// RFC 6143 7.5.4 KeyEvent.
pub const KEY_EVENT: u8 = 4;
/// RFC 6143 7.5.5 PointerEvent.
pub const POINTER_EVENT: u8 = 5;
/// RFC 6143 7.5.6 ClientCutText.
pub const CLIENT_CUT_TEXT: u8 = 6;
/// rfbproto "SetDesktopSize" (ExtendedDesktopSize extension).
pub const SET_DESKTOP_SIZE: u8 = 251;
/// rfbproto "QEMU Client Message".
pub const QEMU_CLIENT_MESSAGE: u8 = 255;
/// rfbproto "QEMU Extended Key Event Message" submessage type.
pub const QEMU_EXTENDED_KEY_EVENT: u8 = 0;

/// One client-to-server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg {
    /// RFC 6143 7.5.1: the format of pixels in later updates (validated on decode).
    SetPixelFormat(PixelFormat),
    /// RFC 6143 7.5.2: encodings in preference order, pseudo-encodings included.
    SetEncodings(Vec<i32>),
    /// RFC 6143 7.5.3.
    FramebufferUpdateRequest {
        /// Only the changes since the last update are wanted.
        incremental: bool,
        /// Left edge of the area, in pixels.
        x: u16,
        /// Top edge of the area, in pixels.
        y: u16,
        /// Width of the area, in pixels.
        width: u16,
        /// Height of the area, in pixels.
        height: u16,
    },
    /// RFC 6143 7.5.4: an X keysym pressed or released.
    KeyEvent {
        /// Pressed (true) or released (false).
        down: bool,
        /// The X keysym.
        keysym: u32,
    },
    /// RFC 6143 7.5.5: button mask (bit 0 = left) and position.
    PointerEvent {
        /// Buttons 1 to 8 held, in bits 0 to 7 (left, middle, right; 4 and 5 are
        /// wheel up and down).
        buttons: u8,
        /// Pointer x position, in pixels.
        x: u16,
        /// Pointer y position, in pixels.
        y: u16,
    },
    /// RFC 6143 7.5.6: Latin-1 text, at most [`MAX_CUT_TEXT`] bytes.
    ClientCutText(Vec<u8>),
    /// rfbproto "SetDesktopSize": 1..=[`MAX_SCREENS`] screens.
    SetDesktopSize {
        /// Requested framebuffer width, in pixels.
        width: u16,
        /// Requested framebuffer height, in pixels.
        height: u16,
        /// Requested screen layout.
        screens: Vec<Screen>,
    },
    /// rfbproto "QEMU Extended Key Event Message": keysym and XT keycode.
    QemuExtendedKeyEvent {
        /// Pressed (true) or released (false).
        down: bool,
        /// The X keysym.
        keysym: u32,
        /// The XT keycode of the physical key.
        keycode: u32,
    },
}

/// The length of the message starting `buf`, `Ok(None)` if its header is incomplete.
/// Unknown types and lengths over their maximum are errors from the header alone.
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, RfbError> {
    let Some(&kind) = buf.first() else { return Ok(None) };
    let be16 = |at: usize| buf.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    Ok(match kind {
        SET_PIXEL_FORMAT => Some(4 + PIXEL_FORMAT_LEN),
        FRAMEBUFFER_UPDATE_REQUEST => Some(10),
        KEY_EVENT => Some(8),
        POINTER_EVENT => Some(6),
        SET_ENCODINGS => match be16(2) {
            None => None,
            Some(n) if n > MAX_ENCODINGS => {
                return Err(RfbError::TooLong { field: "SetEncodings count", len: n, max: MAX_ENCODINGS });
            }
            Some(n) => Some(4 + 4 * n),
        },
        CLIENT_CUT_TEXT => match buf.get(4..8) {
            None => None,
            Some(b) => {
                let len = usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(usize::MAX);
                if len > MAX_CUT_TEXT {
                    return Err(RfbError::TooLong { field: "ClientCutText length", len, max: MAX_CUT_TEXT });
                }
                Some(8 + len)
            }
        },
        SET_DESKTOP_SIZE => match buf.get(6) {
            None => None,
            Some(&n) => Some(8 + SCREEN_LEN * check_screens(usize::from(n))?),
        },
        QEMU_CLIENT_MESSAGE => match buf.get(1) {
            None => None,
            Some(&QEMU_EXTENDED_KEY_EVENT) => Some(12),
            Some(&value) => return Err(RfbError::UnknownQemuSubmessage { value }),
        },
        value => return Err(RfbError::UnknownMessageType { value }),
    })
}

fn check_screens(n: usize) -> Result<usize, RfbError> {
    match n {
        0 => Err(RfbError::BadValue { field: "SetDesktopSize number-of-screens", value: 0 }),
        n if n > MAX_SCREENS => Err(RfbError::TooLong { field: "SetDesktopSize screens", len: n, max: MAX_SCREENS }),
        n => Ok(n),
    }
}

impl ClientMsg {
    /// Decode exactly one message; trailing or missing bytes are errors.
    pub fn decode(buf: &[u8]) -> Result<Self, RfbError> {
        let mut r = Reader::new("client message", buf);
        let kind = r.u8()?;
        let msg = match kind {
            SET_PIXEL_FORMAT => {
                r.take(3)?;
                let pf = PixelFormat::decode(&r.array()?);
                pf.validate()?;
                Self::SetPixelFormat(pf)
            }
            SET_ENCODINGS => {
                r.u8()?;
                let n = usize::from(r.u16()?);
                if n > MAX_ENCODINGS {
                    return Err(RfbError::TooLong { field: "SetEncodings count", len: n, max: MAX_ENCODINGS });
                }
                Self::SetEncodings((0..n).map(|_| r.i32()).collect::<Result<_, _>>()?)
            }
            FRAMEBUFFER_UPDATE_REQUEST => Self::FramebufferUpdateRequest {
                incremental: r.u8()? != 0,
                x: r.u16()?,
                y: r.u16()?,
                width: r.u16()?,
                height: r.u16()?,
            },
            KEY_EVENT => {
                let down = r.u8()? != 0;
                r.take(2)?;
                Self::KeyEvent { down, keysym: r.u32()? }
            }
            POINTER_EVENT => Self::PointerEvent { buttons: r.u8()?, x: r.u16()?, y: r.u16()? },
            CLIENT_CUT_TEXT => {
                r.take(3)?;
                Self::ClientCutText(r.bytes_u32("ClientCutText length", MAX_CUT_TEXT)?.to_vec())
            }
            SET_DESKTOP_SIZE => {
                r.u8()?;
                let (width, height) = (r.u16()?, r.u16()?);
                let n = check_screens(usize::from(r.u8()?))?;
                r.u8()?;
                let screens = (0..n).map(|_| Ok(Screen::decode(&r.array()?))).collect::<Result<_, RfbError>>()?;
                Self::SetDesktopSize { width, height, screens }
            }
            QEMU_CLIENT_MESSAGE => match r.u8()? {
                QEMU_EXTENDED_KEY_EVENT => {
                    Self::QemuExtendedKeyEvent { down: r.u16()? != 0, keysym: r.u32()?, keycode: r.u32()? }
                }
                value => return Err(RfbError::UnknownQemuSubmessage { value }),
            },
            value => return Err(RfbError::UnknownMessageType { value }),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The wire bytes; refuses what [`ClientMsg::decode`] would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, RfbError> {
        let mut out = Vec::new();
        match self {
            Self::SetPixelFormat(pf) => {
                pf.validate()?;
                out.extend_from_slice(&[SET_PIXEL_FORMAT, 0, 0, 0]);
                out.extend_from_slice(&pf.encode());
            }
            Self::SetEncodings(list) => {
                let n = list.len();
                let count = u16::try_from(n).ok().filter(|_| n <= MAX_ENCODINGS).ok_or(RfbError::TooLong {
                    field: "SetEncodings count",
                    len: n,
                    max: MAX_ENCODINGS,
                })?;
                out.extend_from_slice(&[SET_ENCODINGS, 0]);
                out.extend_from_slice(&count.to_be_bytes());
                list.iter().for_each(|e| out.extend_from_slice(&e.to_be_bytes()));
            }
            Self::FramebufferUpdateRequest { incremental, x, y, width, height } => {
                out.extend_from_slice(&[FRAMEBUFFER_UPDATE_REQUEST, u8::from(*incremental)]);
                [x, y, width, height].iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
            }
            Self::KeyEvent { down, keysym } => {
                out.extend_from_slice(&[KEY_EVENT, u8::from(*down), 0, 0]);
                out.extend_from_slice(&keysym.to_be_bytes());
            }
            Self::PointerEvent { buttons, x, y } => {
                out.extend_from_slice(&[POINTER_EVENT, *buttons]);
                out.extend_from_slice(&x.to_be_bytes());
                out.extend_from_slice(&y.to_be_bytes());
            }
            Self::ClientCutText(text) => {
                let len = text.len();
                let too_long = RfbError::TooLong { field: "ClientCutText length", len, max: MAX_CUT_TEXT };
                let len32 = u32::try_from(len).ok().filter(|_| len <= MAX_CUT_TEXT).ok_or(too_long)?;
                out.extend_from_slice(&[CLIENT_CUT_TEXT, 0, 0, 0]);
                out.extend_from_slice(&len32.to_be_bytes());
                out.extend_from_slice(text);
            }
            Self::SetDesktopSize { width, height, screens } => {
                let n = u8::try_from(check_screens(screens.len())?).map_err(|_| RfbError::TooLong {
                    field: "SetDesktopSize screens",
                    len: screens.len(),
                    max: MAX_SCREENS,
                })?;
                out.extend_from_slice(&[SET_DESKTOP_SIZE, 0]);
                out.extend_from_slice(&width.to_be_bytes());
                out.extend_from_slice(&height.to_be_bytes());
                out.extend_from_slice(&[n, 0]);
                screens.iter().for_each(|s| out.extend_from_slice(&s.encode()));
            }
            Self::QemuExtendedKeyEvent { down, keysym, keycode } => {
                out.extend_from_slice(&[QEMU_CLIENT_MESSAGE, QEMU_EXTENDED_KEY_EVENT]);
                out.extend_from_slice(&u16::from(*down).to_be_bytes());
                out.extend_from_slice(&keysym.to_be_bytes());
                out.extend_from_slice(&keycode.to_be_bytes());
            }
        }
        Ok(out)
    }
}

/// Push parser for the client's byte stream: push what the transport delivered (at
/// most 64 KiB between drains), take whole messages out. After an error the stream
/// is unusable and the connection must be closed.
#[derive(Debug, Default)]
pub struct ClientMsgDecoder {
    buf: Vec<u8>,
    start: usize,
}

impl ClientMsgDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes pushed but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Append bytes; refuses to hold more than [`MAX_BUFFERED`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), RfbError> {
        let buffered = self.buffered() + bytes.len();
        if buffered > MAX_BUFFERED {
            return Err(RfbError::Overfull { buffered, max: MAX_BUFFERED });
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next whole message, `Ok(None)` if more bytes are needed.
    pub fn next_msg(&mut self) -> Result<Option<ClientMsg>, RfbError> {
        let pending = &self.buf[self.start..];
        let Some(len) = message_len(pending)? else { return Ok(None) };
        let Some(bytes) = pending.get(..len) else { return Ok(None) };
        let msg = ClientMsg::decode(bytes)?;
        self.start += len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(msg))
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
