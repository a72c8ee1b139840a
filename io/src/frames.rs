//! Frames (`[type u8][len u32 BE][payload]`, docs/DESIGN.md "Wire protocol v1") over
//! an async stream, for the handshake phases where one frame is read at a time: the
//! type and the length are checked from the 5-byte header before anything is
//! buffered, so a peer can never make us allocate more than the caller allows.

use cvmc_protocol::frame::{FRAME_HEADER_LEN, MAX_FRAME_PAYLOAD, encode_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream failed or ended.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A frame of a type this phase does not allow, or longer than it allows.
    #[error("expected {expected}, got frame type {kind:#04x} of {len} bytes")]
    Unexpected {
        /// What the phase expected.
        expected: &'static str,
        /// The type byte received.
        kind: u8,
        /// The length declared.
        len: usize,
    },
}

/// Read one frame whose type is one of `allowed` and whose payload is at most `max`
/// bytes (and at most [`MAX_FRAME_PAYLOAD`]); `expected` names it in the error.
pub async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    expected: &'static str,
    allowed: &[u8],
    max: usize,
) -> Result<(u8, Vec<u8>), FrameError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    stream.read_exact(&mut header).await?;
    let len = usize::try_from(u32::from_be_bytes([header[1], header[2], header[3], header[4]])).unwrap_or(usize::MAX);
    if !allowed.contains(&header[0]) || len > max.min(MAX_FRAME_PAYLOAD) {
        return Err(FrameError::Unexpected { expected, kind: header[0], len });
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    Ok((header[0], payload))
}

/// Write one already encoded frame and flush it.
pub async fn write_encoded<S: AsyncWrite + Unpin>(stream: &mut S, frame: &[u8]) -> std::io::Result<()> {
    stream.write_all(frame).await?;
    stream.flush().await
}

/// Encode and write one frame, then flush.
pub async fn write_frame<S: AsyncWrite + Unpin>(stream: &mut S, kind: u8, payload: &[u8]) -> std::io::Result<()> {
    let frame = encode_frame(kind, payload).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    write_encoded(stream, &frame).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn a_frame_round_trips_and_a_bad_header_is_refused_before_reading_on() {
        rt().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(1024);
            write_frame(&mut a, 0x05, b"hello").await.unwrap();
            assert_eq!(read_frame(&mut b, "test", &[0x05], 16).await.unwrap(), (0x05, b"hello".to_vec()));
            write_frame(&mut a, 0x06, b"x").await.unwrap();
            let e = read_frame(&mut b, "a 0x05 frame", &[0x05], 16).await.unwrap_err();
            assert!(matches!(e, FrameError::Unexpected { kind: 0x06, len: 1, .. }), "{e}");
            // A length over the maximum is refused from the header alone (on a fresh
            // stream: after a refusal the old one is out of step, and is closed).
            let (mut a, mut b) = tokio::io::duplex(1024);
            a.write_all(&[0x05, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
            let e = read_frame(&mut b, "test", &[0x05], 16).await.unwrap_err();
            assert!(matches!(e, FrameError::Unexpected { len: 0xffff_ffff, .. }), "{e}");
        });
    }
}
