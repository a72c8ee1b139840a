//! Why an RFB byte string was refused: one variant per failed check, with its values.

use crate::error::CodecError;

/// A PIXEL_FORMAT (RFC 6143 7.4) the server does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PixelFormatError {
    /// Colour-map formats: we only serve true colour.
    #[error("pixel format: true-colour-flag is 0; colour maps are not supported")]
    NotTrueColour,
    /// bits-per-pixel other than 8, 16 or 32.
    #[error("pixel format: bits-per-pixel {bpp}, expected 8, 16 or 32")]
    BitsPerPixel {
        /// The bits-per-pixel received.
        bpp: u8,
    },
    /// depth 0 or more than bits-per-pixel.
    #[error("pixel format: depth {depth} with bits-per-pixel {bpp}, expected 1..={bpp}")]
    Depth {
        /// The depth received.
        depth: u8,
        /// The bits-per-pixel received.
        bpp: u8,
    },
    /// A channel maximum of 0 or whose max+1 is not a power of two.
    #[error("pixel format: {channel}-max {max}: must be 2^n - 1 with n >= 1")]
    ChannelMax {
        /// The channel: `red`, `green` or `blue`.
        channel: &'static str,
        /// Its maximum received (red-max, green-max or blue-max).
        max: u16,
    },
    /// A channel that does not fit in bits-per-pixel at its shift.
    #[error("pixel format: {channel}-max {max} at shift {shift} does not fit in {bpp} bits")]
    ChannelShift {
        /// The channel: `red`, `green` or `blue`.
        channel: &'static str,
        /// Its maximum received.
        max: u16,
        /// Its shift received.
        shift: u8,
        /// The bits-per-pixel received.
        bpp: u8,
    },
    /// Two channels share bits.
    #[error("pixel format: {first} and {second} channels overlap")]
    ChannelsOverlap {
        /// The earlier channel, in red, green, blue order.
        first: &'static str,
        /// The later channel, whose bits overlap the first's.
        second: &'static str,
    },
}

/// Malformed or unsupported RFB bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RfbError {
    /// The 12 bytes are not `RFB xxx.yyy\n`.
    #[error("protocol version: {got:?} is not an RFB version string")]
    BadVersion {
        /// The 12 bytes received, decoded as UTF-8 with invalid bytes replaced.
        got: String,
    },
    /// A well-formed version other than 3.8.
    #[error("protocol version: RFB {major}.{minor} is not supported (only 3.8)")]
    UnsupportedVersion {
        /// The major version received (`xxx`).
        major: u16,
        /// The minor version received (`yyy`).
        minor: u16,
    },
    /// The client chose a security type we did not offer.
    #[error("security type: client chose {chosen}, only 1 (None) is offered")]
    SecurityType {
        /// The security type the client chose.
        chosen: u8,
    },
    /// A pixel format we do not serve.
    #[error(transparent)]
    PixelFormat(#[from] PixelFormatError),
    /// A client-to-server message type we do not know (RFC 6143 7.5).
    #[error("client message: unknown message type {value}")]
    UnknownMessageType {
        /// The message-type byte received.
        value: u8,
    },
    /// A QEMU client message (type 255) submessage other than 0 (extended key event).
    #[error("client message: unknown QEMU submessage type {value}")]
    UnknownQemuSubmessage {
        /// The submessage-type byte received.
        value: u8,
    },
    /// A declared length or count over its named maximum.
    #[error("{field}: {len} exceeds the maximum {max}")]
    TooLong {
        /// The length or count, e.g. `SetEncodings count`, `ClientCutText length`.
        field: &'static str,
        /// The length (bytes) or count (items) declared or given.
        len: usize,
        /// Its named maximum, in the same unit.
        max: usize,
    },
    /// A field outside its domain.
    #[error("{field}: invalid value {value}")]
    BadValue {
        /// The field, e.g. `SetDesktopSize number-of-screens`.
        field: &'static str,
        /// The value received.
        value: u64,
    },
    /// More bytes pushed into a decoder than one message and one read can need.
    #[error("client message: {buffered} bytes buffered, more than the maximum {max}")]
    Overfull {
        /// Bytes the decoder would hold after the push.
        buffered: usize,
        /// The most it holds, [`MAX_BUFFERED`](super::client::MAX_BUFFERED).
        max: usize,
    },
    /// A fixed-layout read ran short or left bytes over.
    #[error(transparent)]
    Codec(#[from] CodecError),
}
