//! The frame layer under both the attestation handshake and the console channel:
//! `[type u8][len u32 BE][payload]` with the payload at most [`MAX_FRAME_PAYLOAD`].
//!
//! [`FrameDecoder`] is a push parser for a byte stream: it refuses an oversized
//! length as soon as the 5-byte header arrives, so a peer can never make us buffer
//! more than one maximal frame.

use crate::error::CodecError;

/// Largest payload of one frame (docs/DESIGN.md "Wire protocol v1": 64 KiB).
pub const MAX_FRAME_PAYLOAD: usize = 64 * 1024;
/// Size of the frame header: type byte and a big-endian u32 length.
pub const FRAME_HEADER_LEN: usize = 5;

/// One frame as it travels: the type byte and a borrowed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// Message type; its meaning depends on the channel phase.
    pub kind: u8,
    /// Payload bytes.
    pub payload: &'a [u8],
}

/// Encode one frame.
pub fn encode_frame(kind: u8, payload: &[u8]) -> Result<Vec<u8>, CodecError> {
    let len = payload.len();
    if len > MAX_FRAME_PAYLOAD {
        return Err(CodecError::TooLong { field: "frame payload", len, max: MAX_FRAME_PAYLOAD });
    }
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + len);
    out.push(kind);
    out.extend_from_slice(
        &u32::try_from(len)
            .map_err(|_| CodecError::TooLong { field: "frame payload", len, max: MAX_FRAME_PAYLOAD })?
            .to_be_bytes(),
    );
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decode exactly one frame from `buf`, refusing trailing bytes.
pub fn decode_frame(buf: &[u8]) -> Result<RawFrame<'_>, CodecError> {
    match split_frame(buf)? {
        Some((frame, used)) if used == buf.len() => Ok(frame),
        Some((_, used)) => Err(CodecError::TrailingData { what: "frame", extra: buf.len() - used }),
        None => Err(CodecError::Truncated {
            what: "frame",
            needed: declared_total(buf).unwrap_or(FRAME_HEADER_LEN),
            available: buf.len(),
        }),
    }
}

/// If `buf` starts with a whole frame, return it and the bytes it used.
/// `Ok(None)` means "need more bytes"; an oversized declared length is an error
/// as soon as the header is complete.
pub fn split_frame(buf: &[u8]) -> Result<Option<(RawFrame<'_>, usize)>, CodecError> {
    let Some(total) = declared_total(buf) else { return Ok(None) };
    let len = total - FRAME_HEADER_LEN;
    if len > MAX_FRAME_PAYLOAD {
        return Err(CodecError::TooLong { field: "frame payload", len, max: MAX_FRAME_PAYLOAD });
    }
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((RawFrame { kind: buf[0], payload: &buf[FRAME_HEADER_LEN..total] }, total)))
}

fn declared_total(buf: &[u8]) -> Option<usize> {
    let header: [u8; 4] = buf.get(1..FRAME_HEADER_LEN)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    Some(len.saturating_add(FRAME_HEADER_LEN))
}

/// Push parser: feed it whatever the transport delivered, take whole frames out.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

/// An owned frame taken out of a [`FrameDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Message type.
    pub kind: u8,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed. After an error the
    /// stream is unusable and the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<OwnedFrame>, CodecError> {
        let Some((frame, used)) = split_frame(&self.buf)? else { return Ok(None) };
        let owned = OwnedFrame { kind: frame.kind, payload: frame.payload.to_vec() };
        self.buf.drain(..used);
        Ok(Some(owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_streaming_split() {
        let a = encode_frame(1, b"hello").unwrap();
        let b = encode_frame(2, &[]).unwrap();
        let mut stream = a.clone();
        stream.extend_from_slice(&b);
        let mut dec = FrameDecoder::new();
        for byte in &stream {
            dec.push(std::slice::from_ref(byte));
        }
        assert_eq!(dec.next_frame().unwrap(), Some(OwnedFrame { kind: 1, payload: b"hello".to_vec() }));
        assert_eq!(dec.next_frame().unwrap(), Some(OwnedFrame { kind: 2, payload: vec![] }));
        assert_eq!(dec.next_frame().unwrap(), None);
        assert_eq!(decode_frame(&a).unwrap().payload, b"hello");
    }

    #[test]
    fn oversized_length_is_refused_from_the_header_alone() {
        let mut dec = FrameDecoder::new();
        dec.push(&[1, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(dec.next_frame(), Err(CodecError::TooLong { .. })));
        let mut dec = FrameDecoder::new();
        dec.push(&[1, 0, 1, 0, 1]); // 65537 bytes declared
        assert!(matches!(dec.next_frame(), Err(CodecError::TooLong { len: 65537, .. })));
        assert!(encode_frame(1, &vec![0; MAX_FRAME_PAYLOAD + 1]).is_err());
    }

    #[test]
    fn decode_frame_refuses_trailing_and_short() {
        let mut a = encode_frame(7, b"x").unwrap();
        assert!(decode_frame(&a[..3]).is_err());
        a.push(0);
        assert!(matches!(decode_frame(&a), Err(CodecError::TrailingData { extra: 1, .. })));
    }
}
