//! Watching the plugin and site folders and reloading on change.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use super::Sites;
use crate::runtime::Runtime;

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
    /// A watcher without debounce that starts the compile of changed
    /// component files early (see [`Runtime::compile_early`]).
    _early: notify::RecommendedWatcher,
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
        let early = watch_components(&layout.plugins, sites.services().runtime.clone())?;
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
            _early: early,
        })
    }
}

/// Watches the plugin folder for `.wasm` files that change, with no
/// debounce, and compiles each on a thread of its own so that the reload
/// that follows the quiet period finds the compile done or under way. This
/// is only a head start: when an event is missed, the reload compiles the
/// file itself.
fn watch_components(
    plugins: &std::path::Path,
    runtime: Runtime,
) -> notify::Result<notify::RecommendedWatcher> {
    let (sender, receiver) = std::sync::mpsc::channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        if let Ok(event) = result {
            send_components(&event, &sender);
        }
    })?;
    watcher.watch(plugins, RecursiveMode::Recursive)?;

    std::thread::Builder::new()
        .name("switchboard-early-compile".into())
        .spawn(move || compile_changed(&receiver, &runtime))
        .map_err(notify::Error::io)?;
    Ok(watcher)
}

/// Forwards the `.wasm` paths of an event that may have changed a file's
/// content. A new folder is searched too: files written into it before its
/// watch was added raise no event of their own.
fn send_components(event: &notify::Event, sender: &Sender<PathBuf>) {
    if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
        return;
    }
    for path in &event.paths {
        if path.is_dir() {
            send_components_in(path, sender, 0);
        } else if is_component(path) {
            // The receiver lives as long as the watcher, so a failed send
            // only happens while the host shuts down.
            let _ = sender.send(path.clone());
        }
    }
}

/// Folders searched below a new folder. A new `<plugin>/` folder has its
/// components one level down, in `<version>/`; the second level is spare.
const SEARCH_DEPTH: usize = 2;

fn send_components_in(dir: &std::path::Path, sender: &Sender<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        if path.is_dir() && depth < SEARCH_DEPTH {
            send_components_in(&path, sender, depth + 1);
        } else if is_component(&path) {
            let _ = sender.send(path);
        }
    }
}

fn is_component(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

/// Compiles the files named on `receiver`, once per burst of events. A
/// file still being written fails to compile quickly, and its next event
/// brings it back with the rest of its bytes.
fn compile_changed(receiver: &Receiver<PathBuf>, runtime: &Runtime) {
    while let Ok(first) = receiver.recv() {
        let paths: BTreeSet<PathBuf> = std::iter::once(first).chain(receiver.try_iter()).collect();
        for path in paths {
            match std::fs::read(&path) {
                Ok(bytes) => runtime.compile_early(&bytes),
                Err(error) => {
                    tracing::debug!(path = %path.display(), %error, "changed component not readable yet; the reload reads it again");
                }
            }
        }
    }
}
