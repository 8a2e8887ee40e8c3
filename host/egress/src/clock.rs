//! Time for deadlines, backoff, the rate limiter and token expiry.
//!
//! Everything in this crate that reads the time or waits goes through a
//! [`Clock`], so tests can install a [`ManualClock`] whose `sleep` moves time
//! forward at once and records the wait.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A source of time and a way to wait.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic time, for deadlines, backoff, rate limits and token expiry.
    fn now(&self) -> Instant;

    /// Wall-clock time, for the `iat` and `exp` claims of a client assertion
    /// and for `Retry-After` HTTP dates.
    fn wall(&self) -> SystemTime;

    /// Blocks the calling thread for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The operating system's clocks; `sleep` blocks the thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock for tests: time moves only through [`ManualClock::advance`] or
/// `sleep`, and `sleep` returns at once after recording the wait.
///
/// Socket timeouts inside the HTTP client still use real time; only this
/// crate's own waits and deadline arithmetic follow the manual clock.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    wall_start: SystemTime,
    state: Mutex<ManualState>,
}

#[derive(Debug, Default)]
struct ManualState {
    offset: Duration,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock that starts at the current real time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock whose wall time starts at `wall`.
    pub fn starting_at(wall: SystemTime) -> Self {
        ManualClock {
            start: Instant::now(),
            wall_start: wall,
            state: Mutex::new(ManualState::default()),
        }
    }

    /// Moves time forward by `duration` without recording a sleep.
    pub fn advance(&self, duration: Duration) {
        self.lock().offset += duration;
    }

    /// How far time has moved since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.lock().offset
    }

    /// Every `sleep` so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A panic while holding this lock leaves plain numbers behind, which
        // stay valid, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.lock().offset
    }

    fn wall(&self) -> SystemTime {
        self.wall_start + self.lock().offset
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.lock();
        state.offset += duration;
        state.sleeps.push(duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_sleep_advances_and_records() {
        let clock = ManualClock::new();
        let before = clock.now();

        clock.sleep(Duration::from_millis(1500));
        clock.advance(Duration::from_secs(2));

        assert_eq!(clock.now() - before, Duration::from_millis(3500));
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(1500)]);
    }

    #[test]
    fn manual_wall_follows_offset() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = ManualClock::starting_at(start);

        clock.advance(Duration::from_secs(60));

        assert_eq!(
            clock.wall(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_060)
        );
    }
}
