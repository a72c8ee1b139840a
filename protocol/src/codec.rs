//! Byte-slice reader and writer shared by every wire message.
//!
//! The reader borrows its input and never allocates more than the bytes it was
//! given: every length read from the wire is checked against both a named maximum
//! and the bytes actually present before anything is copied. `finish` refuses
//! trailing data, so one encoding has exactly one meaning.

use crate::error::CodecError;

/// `s` cut to at most `max` bytes on a character boundary: for the reason and name
/// strings that are capped on the wire rather than refused.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A cursor over a borrowed byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Read `buf`, naming it `what` in errors.
    pub fn new(what: &'static str, buf: &'a [u8]) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Take exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.remaining() < n {
            return Err(CodecError::Truncated { what: self.what, needed: n, available: self.remaining() });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Take a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Big-endian i32.
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// A u16-length-prefixed byte string of at most `max` bytes.
    pub fn bytes_u16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], CodecError> {
        let len = usize::from(self.u16()?);
        self.bounded(field, len, max)
    }

    /// A u32-length-prefixed byte string of at most `max` bytes.
    pub fn bytes_u32(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        self.bounded(field, len, max)
    }

    fn bounded(&mut self, field: &'static str, len: usize, max: usize) -> Result<&'a [u8], CodecError> {
        if len > max {
            return Err(CodecError::TooLong { field, len, max });
        }
        self.take(len)
    }

    /// Refuse anything left over.
    pub fn finish(self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(CodecError::TrailingData { what: self.what, extra }),
        }
    }
}

/// Append-only encoder; lengths are checked against the same maxima the reader uses,
/// so we never emit what our own peer would refuse.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Raw bytes, no length.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// Big-endian i32.
    pub fn i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }

    /// A u16-length-prefixed byte string.
    pub fn bytes_u16(&mut self, field: &'static str, bytes: &[u8], max: usize) -> Result<(), CodecError> {
        let len = check_len(field, bytes.len(), max.min(usize::from(u16::MAX)))?;
        self.u16(u16::try_from(len).map_err(|_| CodecError::TooLong { field, len, max })?);
        self.put(bytes);
        Ok(())
    }

    /// A u32-length-prefixed byte string.
    pub fn bytes_u32(&mut self, field: &'static str, bytes: &[u8], max: usize) -> Result<(), CodecError> {
        let len = check_len(field, bytes.len(), max)?;
        self.u32(u32::try_from(len).map_err(|_| CodecError::TooLong { field, len, max })?);
        self.put(bytes);
        Ok(())
    }
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<usize, CodecError> {
    if len > max { Err(CodecError::TooLong { field, len, max }) } else { Ok(len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_short_input_and_trailing_data() {
        let mut r = Reader::new("test", &[0, 5, 1, 2]);
        assert!(matches!(r.bytes_u16("field", 100), Err(CodecError::Truncated { needed: 5, available: 2, .. })));
        let mut r = Reader::new("test", &[0, 1, 9, 7]);
        assert_eq!(r.bytes_u16("field", 100).unwrap(), &[9]);
        assert!(matches!(r.finish(), Err(CodecError::TrailingData { extra: 1, .. })));
    }

    #[test]
    fn declared_length_over_maximum_is_refused_before_reading() {
        let mut r = Reader::new("test", &[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.bytes_u32("blob", 16), Err(CodecError::TooLong { len: 0xffff_ffff, max: 16, .. })));
    }

    #[test]
    fn writer_refuses_what_reader_would_refuse() {
        let mut w = Writer::new();
        assert!(w.bytes_u16("f", &[0; 10], 4).is_err());
        w.bytes_u16("f", &[1, 2], 4).unwrap();
        assert_eq!(w.into_inner(), vec![0, 2, 1, 2]);
    }
}
