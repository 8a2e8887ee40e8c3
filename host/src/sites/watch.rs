//! Watching the plugin and site folders and reloading on change.

use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use super::Sites;

/// How long a folder must be quiet before a reload starts. Editors and
/// copy tools write a file in several steps (truncate, write, rename) within
/// a few milliseconds; the quiet period turns those into one reload. It
/// counts fully toward the reload latency target (p50 under 250 ms from the
/// write), so it is kept short. A reload that still catches a half-written
/// file rejects it, keeps the running version, and the write's last event
/// starts another reload that takes the finished file.
pub const DEBOUNCE: Duration = Duration::from_millis(30);

/// A running watcher. Dropping it stops watching.
pub struct Watcher {
    _debouncer: notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts watching the sites and plugins folders of `sites`, creating
    /// them if missing. Returns once the watches are armed, so a change made
    /// after this returns is seen.
    ///
    /// # Errors
    ///
    /// When a folder cannot be created or watched.
    pub fn start(sites: Arc<Sites>) -> notify::Result<Self> {
        let layout = sites.services().layout.clone();
        for dir in [&layout.sites, &layout.plugins] {
            std::fs::create_dir_all(dir).map_err(|e| notify::Error::io(e).add_path(dir.clone()))?;
        }

        let (sender, receiver) = std::sync::mpsc::channel::<DebounceEventResult>();
        let mut debouncer = new_debouncer(DEBOUNCE, None, sender)?;
        debouncer.watch(&layout.sites, RecursiveMode::Recursive)?;
        debouncer.watch(&layout.plugins, RecursiveMode::Recursive)?;
        tracing::info!(sites = %layout.sites.display(), plugins = %layout.plugins.display(), "watching for configuration and plugin changes");

        std::thread::Builder::new()
            .name("switchboard-reload".into())
            .spawn(move || {
                for result in receiver {
                    match result {
                        Ok(events) if events.iter().any(|e| !e.kind.is_access()) => {
                            tracing::debug!(events = events.len(), "files changed; reloading sites");
                            sites.reload_all();
                        }
                        Ok(_) => {}
                        Err(errors) => {
                            for error in errors {
                                tracing::error!(%error, "file watcher failed; reloading every site to catch up");
                            }
                            sites.reload_all();
                        }
                    }
                }
            })
            .map_err(notify::Error::io)?;

        Ok(Watcher {
            _debouncer: debouncer,
        })
    }
}
