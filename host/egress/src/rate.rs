//! The per-site request budget.

use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// A token bucket that lets waiting callers reserve tokens ahead.
///
/// It holds at most `burst` tokens and gains `per_minute - burst` per
/// minute, so no 60-second window carries more than `per_minute`
/// requests. A caller that finds it empty reserves the next token (the
/// count goes below zero) and sleeps until that token is due, so callers
/// are served in the order they arrived and nobody holds the lock while
/// sleeping.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    /// May be negative: tokens reserved by callers still waiting.
    tokens: f64,
    updated: Instant,
}

/// The bucket could not serve the request within the wait allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WouldWait(pub(crate) Duration);

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Self {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    /// The limit in force.
    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Applies a new limit, keeping reservations already made.
    pub(crate) fn reconfigure(&mut self, limit: RateLimit, now: Instant) {
        self.refill(now);
        self.limit = limit;
        self.tokens = self.tokens.min(f64::from(limit.burst));
    }

    /// Takes one token. Returns how long the caller must wait before it may
    /// send, zero when a token was available. When that wait would exceed
    /// `max_wait`, takes nothing and returns the wait it would have needed.
    pub(crate) fn reserve(
        &mut self,
        now: Instant,
        max_wait: Duration,
    ) -> Result<Duration, WouldWait> {
        self.refill(now);

        let missing = 1.0 - self.tokens;
        let wait = if missing <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / self.tokens_per_second())
        };
        if wait > max_wait {
            return Err(WouldWait(wait));
        }

        self.tokens -= 1.0;
        Ok(wait)
    }

    fn tokens_per_second(&self) -> f64 {
        f64::from(self.limit.per_minute - self.limit.burst) / 60.0
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.tokens_per_second()).min(f64::from(self.limit.burst));
        self.updated = self.updated.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit { per_minute, burst }
    }

    #[test]
    fn burst_served_without_wait() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(limit(70, 10), start);

        let waits: Vec<_> = (0..10)
            .map(|_| bucket.reserve(start, Duration::ZERO))
            .collect();

        assert!(waits.iter().all(|w| *w == Ok(Duration::ZERO)), "{waits:?}");
    }

    #[test]
    fn empty_bucket_reserves_next_token() {
        // 70 per minute with a burst of 10 refills 60 per minute: one a second.
        let start = Instant::now();
        let mut bucket = TokenBucket::new(limit(70, 10), start);
        for _ in 0..10 {
            bucket.reserve(start, Duration::ZERO).unwrap();
        }

        let first = bucket.reserve(start, Duration::from_secs(5));
        let second = bucket.reserve(start, Duration::from_secs(5));

        assert_eq!(first, Ok(Duration::from_secs(1)));
        assert_eq!(second, Ok(Duration::from_secs(2)));
    }

    #[test]
    fn wait_past_limit_takes_nothing() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(limit(70, 10), start);
        for _ in 0..10 {
            bucket.reserve(start, Duration::ZERO).unwrap();
        }

        let refused = bucket.reserve(start, Duration::from_millis(500));
        let later = bucket.reserve(start + Duration::from_secs(1), Duration::ZERO);

        assert_eq!(refused, Err(WouldWait(Duration::from_secs(1))));
        assert_eq!(later, Ok(Duration::ZERO));
    }

    #[test]
    fn refill_caps_at_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(limit(70, 10), start);
        for _ in 0..10 {
            bucket.reserve(start, Duration::ZERO).unwrap();
        }
        let later = start + Duration::from_secs(3600);

        let served = (0..11)
            .filter(|_| bucket.reserve(later, Duration::ZERO).is_ok())
            .count();

        assert_eq!(served, 10);
    }

    #[test]
    fn minute_never_exceeds_limit() {
        // Every caller accepts any wait; count sends inside the first minute.
        let start = Instant::now();
        let mut bucket = TokenBucket::new(limit(250, 25), start);
        let mut sent_within_minute = 0;

        for _ in 0..400 {
            let wait = bucket.reserve(start, Duration::from_secs(3600)).unwrap();
            if wait <= Duration::from_secs(60) {
                sent_within_minute += 1;
            }
        }

        assert_eq!(sent_within_minute, 250);
    }
}
