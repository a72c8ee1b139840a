//! Terminal output kept by absolute offset (byte 0 is the session's first output byte).
//!
//! The ring keeps every byte the client has not acknowledged, plus the last
//! `scrollback` bytes even when acknowledged, so a re-attaching client gets a replay.
//! It evicts only bytes that are both acked and older than the scrollback, and
//! [`OutputRing::room`] tells the PTY reader how much it may read before the client
//! falls `max_unacked` bytes behind. Together: held bytes never exceed
//! `max(max_unacked, scrollback)`, and nothing unacked is ever dropped.

use std::collections::VecDeque;

/// Capacity the ring keeps even when nearly empty.
const SHRINK_FLOOR: usize = 64 * 1024;

/// An offset past the end of the output: the peer claims bytes that were never produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeyondEnd {
    /// The current end of the output.
    pub end: u64,
}

/// The session's output, addressed by absolute offsets.
#[derive(Debug)]
pub struct OutputRing {
    buf: VecDeque<u8>,
    /// Offset of `buf[0]`.
    start: u64,
    /// Output bytes the attached client holds (`start <= acked <= end`).
    acked: u64,
    scrollback: usize,
    max_unacked: usize,
}

impl OutputRing {
    /// An empty ring that keeps at least the last `scrollback` bytes and lets the
    /// client fall at most `max_unacked` bytes behind.
    pub fn new(scrollback: usize, max_unacked: usize) -> Self {
        Self { buf: VecDeque::new(), start: 0, acked: 0, scrollback, max_unacked }
    }

    /// Offset of the oldest byte still held.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Total output bytes produced so far.
    pub fn end(&self) -> u64 {
        self.start + len64(self.buf.len())
    }

    /// The ack position: output bytes the attached client holds (`start <= acked <= end`).
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Bytes held in memory.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes may be read from the PTY before the client is
    /// `max_unacked` behind; 0 means stop reading (backpressure).
    pub fn room(&self) -> usize {
        let unacked = self.end() - self.acked;
        usize::try_from(unacked).map_or(0, |unacked| self.max_unacked.saturating_sub(unacked))
    }

    /// Append output read from the PTY.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        self.evict();
    }

    /// The client holds the first `received` bytes. Stale acks are ignored.
    pub fn ack(&mut self, received: u64) -> Result<(), BeyondEnd> {
        let end = self.end();
        if received > end {
            return Err(BeyondEnd { end });
        }
        if received > self.acked {
            self.acked = received;
            self.evict();
        }
        Ok(())
    }

    /// A (re-)attaching client holds the first `received` bytes: replay starts at
    /// `received`, or at the oldest byte held if that is later, and the ack position
    /// becomes that start. Lowering it keeps the bytes this client still needs.
    pub fn restart_at(&mut self, received: u64) -> Result<u64, BeyondEnd> {
        let end = self.end();
        if received > end {
            return Err(BeyondEnd { end });
        }
        let from = received.max(self.start);
        self.acked = from;
        Ok(from)
    }

    /// Up to `max` bytes from `offset`; `None` if `offset` is no longer (or not yet) held.
    pub fn read_at(&self, offset: u64, max: usize) -> Option<Vec<u8>> {
        if offset < self.start || offset > self.end() {
            return None;
        }
        let from = usize::try_from(offset - self.start).ok()?;
        let to = self.buf.len().min(from.saturating_add(max));
        let (a, b) = self.buf.as_slices();
        let mut out = Vec::with_capacity(to - from);
        if from < a.len() {
            out.extend_from_slice(&a[from..to.min(a.len())]);
        }
        if to > a.len() {
            out.extend_from_slice(&b[from.saturating_sub(a.len())..to - a.len()]);
        }
        Some(out)
    }

    fn evict(&mut self) {
        let keep_from = self.acked.min(self.end().saturating_sub(len64(self.scrollback)));
        if keep_from > self.start {
            // keep_from <= end, so this is at most buf.len().
            let n = usize::try_from(keep_from - self.start).map_or(self.buf.len(), |n| n.min(self.buf.len()));
            self.buf.drain(..n);
            self.start += len64(n);
            // After a burst, give back what the steady state does not need.
            let floor = self.buf.len().max(self.scrollback).max(SHRINK_FLOOR);
            if self.buf.capacity() > 4 * floor {
                self.buf.shrink_to(2 * floor);
            }
        }
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(from: u64, n: usize) -> Vec<u8> {
        (from..from + n as u64).map(|i| u8::try_from(i % 251).unwrap()).collect()
    }

    #[test]
    fn offsets_are_absolute() {
        let mut r = OutputRing::new(4, 100);
        r.push(&bytes(0, 10));
        assert_eq!((r.start(), r.end()), (0, 10));
        assert_eq!(r.read_at(3, 4).unwrap(), bytes(3, 4));
        assert_eq!(r.read_at(8, 100).unwrap(), bytes(8, 2));
        assert_eq!(r.read_at(10, 100).unwrap(), Vec::<u8>::new());
        assert_eq!(r.read_at(11, 1), None);
    }

    #[test]
    fn unacked_bytes_are_never_evicted() {
        let mut r = OutputRing::new(4, 1000);
        r.push(&bytes(0, 50));
        r.push(&bytes(50, 50));
        assert_eq!(r.held(), 100, "nothing acked: everything is kept whatever the scrollback");
        assert_eq!(r.read_at(0, 100).unwrap(), bytes(0, 100));
    }

    #[test]
    fn evicts_only_acked_bytes_older_than_the_scrollback() {
        let mut r = OutputRing::new(30, 1000);
        r.push(&bytes(0, 100));
        r.ack(40).unwrap();
        assert_eq!(r.start(), 40, "acked 40, scrollback would allow 70: keep from 40");
        r.ack(100).unwrap();
        assert_eq!(r.start(), 70, "all acked: keep the last 30 for replay");
        assert_eq!(r.read_at(70, 100).unwrap(), bytes(70, 30));
        assert_eq!(r.read_at(69, 1), None);
    }

    #[test]
    fn room_stops_the_reader_until_acks_arrive() {
        let mut r = OutputRing::new(0, 64);
        assert_eq!(r.room(), 64);
        r.push(&bytes(0, 64));
        assert_eq!(r.room(), 0);
        r.ack(10).unwrap();
        assert_eq!(r.room(), 10);
        assert_eq!(r.held(), 54);
    }

    #[test]
    fn acks_beyond_the_end_are_refused_and_stale_ones_ignored() {
        let mut r = OutputRing::new(0, 64);
        r.push(&bytes(0, 20));
        assert_eq!(r.ack(21), Err(BeyondEnd { end: 20 }));
        r.ack(15).unwrap();
        r.ack(5).unwrap();
        assert_eq!(r.acked(), 15);
        assert_eq!(r.start(), 15);
    }

    #[test]
    fn restart_replays_from_the_oldest_held_byte() {
        let mut r = OutputRing::new(10, 1000);
        r.push(&bytes(0, 100));
        r.ack(100).unwrap();
        assert_eq!(r.start(), 90);
        assert_eq!(r.restart_at(0).unwrap(), 90, "gap: scrollback no longer holds 0..90");
        assert_eq!(r.restart_at(95).unwrap(), 95);
        assert_eq!(r.acked(), 95);
        assert_eq!(r.restart_at(101), Err(BeyondEnd { end: 100 }));
        // A client that holds less than what was acked before lowers the ack point,
        // so the bytes it still needs are not evicted while it catches up.
        r.restart_at(92).unwrap();
        r.push(&bytes(100, 50));
        assert_eq!(r.start(), 92);
        assert_eq!(r.read_at(92, 8).unwrap(), bytes(92, 8));
        assert_eq!(r.room(), 1000 - 58);
    }

    #[test]
    fn reads_across_the_wrap_point() {
        let mut r = OutputRing::new(0, 16);
        let mut offset = 0u64;
        for round in 0..50 {
            let n = 1 + (round * 7) % 16;
            let n = n.min(r.room());
            r.push(&bytes(offset, n));
            offset += n as u64;
            let from = r.acked();
            assert_eq!(r.read_at(from, 64).unwrap(), bytes(from, usize::try_from(offset - from).unwrap()));
            r.ack(from + (offset - from) / 2 + 1).unwrap();
        }
    }

    #[test]
    fn held_bytes_stay_bounded_under_any_ack_pattern() {
        let (scrollback, max_unacked) = (100, 300);
        let mut r = OutputRing::new(scrollback, max_unacked);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..10_000 {
            let room = r.room();
            let n = usize::try_from(next() % 64).unwrap();
            let from = r.end();
            r.push(&bytes(from, n.min(room)));
            if next() % 3 == 0 {
                let span = r.end() - r.acked();
                let ack = r.acked() + next() % (span + 1);
                r.ack(ack).unwrap();
            }
            assert!(r.held() <= max_unacked.max(scrollback), "held {}", r.held());
            assert!(r.start() <= r.acked() && r.acked() <= r.end());
        }
    }
}
