//! A persistent zlib stream (ZRLE has one per connection, Tight four): each call
//! compresses one rectangle's data and ends with a sync flush, so the client can
//! decode it fully while the dictionary carries over to the next rectangle.

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::display::DisplayError;

/// ZRLE's zlib level when the client did not send a Compression Level pseudo-encoding:
/// zlib's own default, as TigerVNC uses (ZRLE ignores the client's level there). Each
/// update is small and the stream long-lived, so the better matches pay: level 2 sent
/// about a tenth more bytes for terminal text.
pub(crate) const ZRLE_LEVEL: u8 = 6;
/// Tight's zlib level when the client did not ask: TigerVNC's default compression
/// level 2 (whose streams use zlib levels 2 or 3).
pub(crate) const TIGHT_LEVEL: u8 = 2;

/// One zlib stream (RFC 1950 framing, as ZRLE and Tight require).
pub(crate) struct ZStream {
    compress: Compress,
    level: u8,
    encoding: &'static str,
}

impl std::fmt::Debug for ZStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZStream").field("level", &self.level).field("in", &self.compress.total_in()).finish()
    }
}

impl ZStream {
    /// A new stream at `level` (0..=9) for `encoding` (named in errors).
    pub(crate) fn new(level: u8, encoding: &'static str) -> Self {
        let level = level.min(9);
        Self { compress: Compress::new(Compression::new(u32::from(level)), true), level, encoding }
    }

    /// The level the stream was made with.
    pub(crate) fn level(&self) -> u8 {
        self.level
    }

    /// Compress `input` and sync-flush, appending to `out`.
    pub(crate) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DisplayError> {
        loop {
            out.reserve(input.len() / 2 + 1024);
            let before = self.compress.total_in();
            let status = self
                .compress
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| DisplayError::Encoder { encoding: self.encoding, reason: e.to_string() })?;
            let used = usize::try_from(self.compress.total_in() - before).unwrap_or(input.len()).min(input.len());
            input = &input[used..];
            // Done when all input is in and the flush fitted in the space we gave it.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if matches!(status, Status::StreamEnd) {
                return Err(DisplayError::Encoder { encoding: self.encoding, reason: "zlib stream ended".into() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    #[test]
    fn each_chunk_decodes_on_its_own_with_a_shared_dictionary() {
        let mut z = ZStream::new(6, "test");
        let mut d = Decompress::new(true);
        for chunk in [vec![7u8; 100_000], b"hello hello hello".to_vec(), (0..=255u8).cycle().take(70_000).collect()] {
            let mut packed = Vec::new();
            z.compress(&chunk, &mut packed).unwrap();
            let mut back = Vec::with_capacity(chunk.len());
            d.decompress_vec(&packed, &mut back, FlushDecompress::Sync).unwrap();
            assert_eq!(back, chunk);
        }
    }
}
