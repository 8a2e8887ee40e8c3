//! The retry rules: which failures are retried, and the wait before the
//! next attempt.

use std::time::{Duration, SystemTime};

use rand::TryRng as _;

use crate::config::RetryPolicy;

/// Returns whether `method` may be sent twice without a different effect.
pub(crate) fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
}

/// Returns whether a response with `status` is worth another attempt.
///
/// 429 and 503 mean the server did not process the request, so every method
/// is retried. 500, 502 and 504 leave that open, so only idempotent methods
/// are.
pub(crate) fn is_retryable_status(status: u16, method: &str) -> bool {
    match status {
        429 | 503 => true,
        500 | 502 | 504 => is_idempotent(method),
        _ => false,
    }
}

/// Parses a `Retry-After` value: whole seconds, or an HTTP date, which is
/// measured from `now`. A date in the past gives zero. Returns `None` for
/// anything else.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Backoff before attempt `attempt + 1`, after `attempt` failures (1 or
/// more): `base_delay * 2^(attempt - 1)`, capped at `max_delay`, of which
/// the upper half is scaled by `jitter` (a number in `[0, 1)`), so
/// concurrent callers spread out while each still waits at least half.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let full = policy
        .base_delay
        .saturating_mul(1_u32 << exponent)
        .min(policy.max_delay);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// A small seeded random source for jitter (SplitMix64). Reproducible from
/// its seed; not for anything secret.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    /// Creates a source with a fixed seed.
    pub(crate) fn seeded(seed: u64) -> Self {
        Jitter { state: seed }
    }

    /// Creates a source seeded from the operating system.
    pub(crate) fn from_os() -> Self {
        let mut bytes = [0_u8; 8];
        // NOTE: if the OS source fails, the seed stays zero: jitter is then
        // predictable but still spreads attempts, and nothing secret uses it.
        let _ = rand::rngs::SysRng.try_fill_bytes(&mut bytes);
        Jitter::seeded(u64::from_le_bytes(bytes))
    }

    /// Returns the next number in `[0, 1)`.
    pub(crate) fn next_fraction(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits fill an f64 mantissa exactly.
        (z >> 11) as f64 / (1_u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(400),
            max_delay: Duration::from_secs(2),
            jitter_seed: Some(1),
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let policy = policy();

        let waits: Vec<_> = (1..=4)
            .map(|attempt| backoff(&policy, attempt, 0.0))
            .collect();

        assert_eq!(
            waits,
            vec![
                Duration::from_millis(200),
                Duration::from_millis(400),
                Duration::from_millis(800),
                Duration::from_millis(1000),
            ]
        );
    }

    #[test]
    fn jitter_scales_upper_half() {
        let policy = policy();

        let wait = backoff(&policy, 2, 0.5);

        assert_eq!(wait, Duration::from_millis(600));
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();

        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);

        let wait = parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now);

        assert_eq!(wait, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_past_date_is_zero() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_600);

        let wait = parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now);

        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_garbage_ignored() {
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
    }

    #[test]
    fn statuses_by_method() {
        assert!(is_retryable_status(429, "POST"));
        assert!(is_retryable_status(503, "POST"));
        assert!(is_retryable_status(500, "GET"));
        assert!(!is_retryable_status(500, "POST"));
        assert!(!is_retryable_status(501, "GET"));
        assert!(!is_retryable_status(404, "GET"));
    }

    #[test]
    fn jitter_reproducible_and_in_range() {
        let mut a = Jitter::seeded(42);
        let mut b = Jitter::seeded(42);

        let first: Vec<f64> = (0..100).map(|_| a.next_fraction()).collect();
        let second: Vec<f64> = (0..100).map(|_| b.next_fraction()).collect();

        assert_eq!(first, second);
        assert!(first.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
