//! The back-off after failed logins on the unauthenticated console, kept per address
//! across connections (a client cannot reset it by reconnecting).
//!
//! A session opened without a client key counts as a failed login when its process
//! exits with a non-zero status (login gave up, or timed out) or when it is hung up
//! before its process ended (the peer left in the middle of a login). Exit status 0 (a
//! login session that ended normally) forgives the address. After `n` failures in a
//! row, the next session from that address waits `2^(n-1)` s, at most
//! [`MAX_DELAY`]. Plain data with the time passed in; the console registry (`console/mod.rs`) holds one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// The longest wait after failed logins.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Addresses remembered at most; the one whose last failure is oldest is forgotten first.
pub const MAX_ADDRESSES: usize = 4096;
/// An address whose last failure is this old is forgiven.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    until: Instant,
}

/// Failed logins per address.
#[derive(Debug, Default)]
pub struct LoginBackoff {
    records: HashMap<IpAddr, Record>,
}

impl LoginBackoff {
    /// `Err(wait)` while `source` must still wait before a new session.
    pub fn check(&mut self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let Some(record) = self.records.get(&source) else { return Ok(()) };
        if now.saturating_duration_since(record.last) >= FORGET_AFTER {
            self.records.remove(&source);
            return Ok(());
        }
        match record.until.checked_duration_since(now) {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    /// A session from `source` ended: `failed` as the module docs define it.
    pub fn record(&mut self, source: IpAddr, failed: bool, now: Instant) {
        if !failed {
            self.records.remove(&source);
            return;
        }
        if !self.records.contains_key(&source) && self.records.len() >= MAX_ADDRESSES {
            let oldest = self.records.iter().min_by_key(|(_, r)| r.last).map(|(a, _)| *a);
            if let Some(oldest) = oldest {
                self.records.remove(&oldest);
            }
        }
        let record = self.records.entry(source).or_insert(Record { failures: 0, last: now, until: now });
        record.failures = record.failures.saturating_add(1);
        record.last = now;
        record.until = now + delay(record.failures);
    }

    /// Addresses remembered (for tests).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The wait after `failures` failures in a row: 1 s, 2 s, 4 s, ... up to [`MAX_DELAY`].
pub fn delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn failures_double_the_wait_and_a_good_exit_forgives() {
        let t0 = Instant::now();
        let mut b = LoginBackoff::default();
        assert!(b.check(ip(1), t0).is_ok());
        b.record(ip(1), true, t0);
        assert_eq!(b.check(ip(1), t0), Err(Duration::from_secs(1)));
        assert!(b.check(ip(1), t0 + Duration::from_secs(1)).is_ok());
        b.record(ip(1), true, t0 + Duration::from_secs(1));
        b.record(ip(1), true, t0 + Duration::from_secs(1));
        assert_eq!(b.check(ip(1), t0 + Duration::from_secs(2)), Err(Duration::from_secs(3)));
        assert!(b.check(ip(2), t0).is_ok(), "other addresses are not affected");
        b.record(ip(1), false, t0 + Duration::from_secs(9));
        assert!(b.check(ip(1), t0 + Duration::from_secs(9)).is_ok());
    }

    #[test]
    fn the_wait_is_capped_and_the_table_bounded() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(4), Duration::from_secs(8));
        assert_eq!(delay(40), MAX_DELAY);
        let t0 = Instant::now();
        let mut b = LoginBackoff::default();
        for i in 0..(MAX_ADDRESSES + 10) {
            let addr = IpAddr::from(std::net::Ipv6Addr::from(u128::try_from(i).unwrap()));
            b.record(addr, true, t0 + Duration::from_millis(u64::try_from(i).unwrap()));
        }
        assert_eq!(b.len(), MAX_ADDRESSES);
        assert!(b.check(IpAddr::from(std::net::Ipv6Addr::from(0u128)), t0).is_ok(), "the oldest was forgotten");
    }

    #[test]
    fn an_hour_without_failures_forgives() {
        let t0 = Instant::now();
        let mut b = LoginBackoff::default();
        for _ in 0..20 {
            b.record(ip(3), true, t0);
        }
        assert!(b.check(ip(3), t0 + Duration::from_secs(299)).is_err());
        assert!(b.check(ip(3), t0 + FORGET_AFTER).is_ok());
        assert!(b.is_empty());
    }
}
