//! How a dropped connection is retried, for the console loop and the GUI's screen
//! alike: a first delay that doubles with every failure in a row up to a maximum, and
//! a number of failures in a row after which the loop gives up. A connection that
//! came up resets it. No IO and no clock: the loops sleep the delays they are given.

use std::time::Duration;

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Most failures in a row before giving up (`u32::MAX`: never).
    pub attempts: u32,
    /// Delay before the first retry; it doubles with every failure in a row...
    pub first_delay: Duration,
    /// ...up to this.
    pub max_delay: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self { attempts: 8, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

/// Where a retrying loop is.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Reconnect,
    failures: u32,
    delay: Duration,
}

impl Backoff {
    /// Nothing failed yet.
    pub fn new(policy: Reconnect) -> Self {
        Self { policy, failures: 0, delay: policy.first_delay }
    }

    /// A connection came up: the next failure starts from the first delay.
    pub fn connected(&mut self) {
        self.failures = 0;
        self.delay = self.policy.first_delay;
    }

    /// A connection failed: the attempt number (1 for the first retry) and how long to
    /// wait before it, or `None` when the policy gives up.
    pub fn failed(&mut self) -> Option<(u32, Duration)> {
        self.failures = self.failures.saturating_add(1);
        if self.failures > self.policy.attempts {
            return None;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(self.policy.max_delay.max(self.policy.first_delay));
        Some((self.failures, delay))
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_reset_on_success() {
        let policy =
            Reconnect { attempts: 5, first_delay: Duration::from_millis(500), max_delay: Duration::from_secs(2) };
        let mut b = Backoff::new(policy);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap();
        let seen: Vec<(u32, u64)> = std::iter::from_fn(|| b.failed().map(|(a, d)| (a, ms(d)))).collect();
        assert_eq!(seen, [(1, 500), (2, 1000), (3, 2000), (4, 2000), (5, 2000)]);
        assert_eq!(b.failures(), 6, "the sixth failure gave up");
        b.connected();
        assert_eq!(b.failed(), Some((1, Duration::from_millis(500))));
    }

    #[test]
    fn forever_never_gives_up() {
        let mut b = Backoff::new(Reconnect { attempts: u32::MAX, ..Reconnect::default() });
        assert!((0..10_000).all(|_| b.failed().is_some()));
    }
}
