//! `Retry-After` holds: the time before which a site sends an origin
//! nothing, kept across calls.
//!
//! A 429 or 503 with `Retry-After` names a time before which the client
//! should send nothing. A call whose deadline ends sooner cannot wait that out
//! and fails, and its caller (a poller, an inbox scanner) tries again later,
//! often sooner than the server asked. The hold keeps the time per site and
//! origin, so every later call waits for it or fails without sending.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Maximum hold one `Retry-After` can set. A longer value is more likely a
/// server fault than a plan, and the cap bounds how long a single header can
/// stop a site's requests to its EHR.
pub const MAX_RETRY_AFTER_HOLD: Duration = Duration::from_secs(60 * 60);

/// The earliest time each site may send its next request to each origin.
#[derive(Debug, Default)]
pub(crate) struct RetryHolds {
    until: Mutex<HashMap<(String, String), Instant>>,
}

impl RetryHolds {
    /// Records a hold on `site`'s requests to `origin` for `wait` from `now`,
    /// capped at [`MAX_RETRY_AFTER_HOLD`]. A hold that already ends later
    /// stays.
    pub(crate) fn hold(&self, site: &str, origin: &str, now: Instant, wait: Duration) {
        let until = now + wait.min(MAX_RETRY_AFTER_HOLD);
        let mut holds = self.lock();
        let entry = holds
            .entry((site.to_string(), origin.to_string()))
            .or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Returns how long `site` must still wait at `now` before sending to
    /// `origin`: zero when no hold is in force. Drops the hold once it ended.
    pub(crate) fn remaining(&self, site: &str, origin: &str, now: Instant) -> Duration {
        let key = (site.to_string(), origin.to_string());
        let mut holds = self.lock();
        let Some(until) = holds.get(&key).copied() else {
            return Duration::ZERO;
        };
        if until <= now {
            holds.remove(&key);
            return Duration::ZERO;
        }
        until - now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Instant>> {
        // Each update is a single insert or remove, so a poisoned lock still
        // guards a consistent map.
        self.until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://ehr.example.test:443";

    #[test]
    fn hold_counts_down_then_ends() {
        let holds = RetryHolds::default();
        let now = Instant::now();

        holds.hold("north", ORIGIN, now, Duration::from_secs(120));

        assert_eq!(
            holds.remaining("north", ORIGIN, now + Duration::from_secs(20)),
            Duration::from_secs(100)
        );
        assert_eq!(
            holds.remaining("north", ORIGIN, now + Duration::from_secs(120)),
            Duration::ZERO
        );
    }

    #[test]
    fn hold_is_per_site_and_origin() {
        let holds = RetryHolds::default();
        let now = Instant::now();

        holds.hold("north", ORIGIN, now, Duration::from_secs(60));

        assert_eq!(holds.remaining("south", ORIGIN, now), Duration::ZERO);
        assert_eq!(
            holds.remaining("north", "https://other.example.test:443", now),
            Duration::ZERO
        );
    }

    #[test]
    fn shorter_hold_keeps_longer_one() {
        let holds = RetryHolds::default();
        let now = Instant::now();

        holds.hold("north", ORIGIN, now, Duration::from_secs(90));
        holds.hold("north", ORIGIN, now, Duration::from_secs(10));

        assert_eq!(
            holds.remaining("north", ORIGIN, now),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn hold_is_capped() {
        let holds = RetryHolds::default();
        let now = Instant::now();

        holds.hold("north", ORIGIN, now, Duration::from_secs(7 * 24 * 60 * 60));

        assert_eq!(holds.remaining("north", ORIGIN, now), MAX_RETRY_AFTER_HOLD);
    }
}
