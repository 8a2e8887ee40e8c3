//! Time-driven work: nudges, pre-visit prep, end-of-day snapshots and the
//! critical-result fallback.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::App;

/// Starts the scheduler thread.
///
/// TODO: nudges, prep, snapshots and the critical fallback run here once
/// the engine exposes open-item scans; until then nothing is scheduled.
pub fn start(_app: Arc<App>, _stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    Vec::new()
}
