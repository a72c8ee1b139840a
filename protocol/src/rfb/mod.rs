//! The RFB 3.8 (RFC 6143) messages the display channel speaks, sans IO.
//!
//! docs/DESIGN.md "Wire protocol v1": after `Proceed`, the display channel is plain RFB 3.8
//! with security type None inside the attested TLS stream. This module holds the wire
//! formats only; the server that drives them is `cvm_consoled::display`.
//!
//! ```text
//! server                                   client
//!   VERSION_3_8 ───────────────────────────►
//!               ◄──────────────── 12-byte version   parse_version
//!   security_types_none ───────────────────►
//!               ◄──────────────── chosen type       check_security_choice
//!   SECURITY_RESULT_OK ────────────────────►
//!               ◄──────────────── ClientInit        ClientInit::decode
//!   ServerInit ────────────────────────────►
//!               ◄──────────────── ClientMsg …       ClientMsgDecoder (push bytes, pop messages)
//!   FramebufferUpdate, rectangles ─────────►        server::{update_header, RectHeader, …}
//! ```
//!
//! Modules: [`common`] (what both directions share), [`pixel`] (PIXEL_FORMAT and colour conversion), [`handshake`],
//! [`client`] (client-to-server messages and the streaming decoder), [`server`]
//! (server-to-client headers), [`encoding`] (encoding numbers), [`error`].
//! Pixel data encoders (Raw, ZRLE, Tight) live in the server: they need zlib.

pub mod client;
pub mod common;
pub mod encoding;
pub mod error;
pub mod handshake;
pub mod keysym;
pub mod pixel;
pub mod server;

pub use client::{ClientMsg, ClientMsgDecoder, MAX_CUT_TEXT, MAX_ENCODINGS, MAX_SCREENS};
pub use common::Screen;
pub use error::{PixelFormatError, RfbError};
pub use handshake::{ClientInit, RfbVersion, ServerInit, VERSION_3_8};
pub use pixel::PixelFormat;
pub use server::RectHeader;
