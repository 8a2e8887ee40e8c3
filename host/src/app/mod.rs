//! The running host: store, engine, sites and the background work that ties
//! them together (routing, polling, inbox folders, MLLP, nudges).
//!
//! Start-up order matters because the pieces refer to each other: the store
//! opens first (with crash recovery), the sites registry is built with
//! key-value and audit adapters that reach the engine through a late-bound
//! handle, the engine is built on a router that reads the sites, and only
//! then do site files load, in the background, so the API answers
//! `/healthz` while plugins compile.

mod adapters;
mod dispatch;
mod inbox;
mod intake;
pub mod metrics;
mod mllp;
mod poll;
mod promote;
pub mod router;
pub mod schedule;

pub mod tokens;

pub use dispatch::Dispatcher;
pub use intake::{IntakeError, IntakeReport};
pub use mllp::MAX_CONNECTIONS as MLLP_MAX_CONNECTIONS;
pub use promote::promote_shadow;
pub use router::{PluginRouter, ShadowLog, ShadowReport};
pub use tokens::{Principal, Tokens};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use switchboard_engine::{Engine, SledStore};

use crate::config::{HOST_FILE, HostConfig, Layout};
use crate::runtime::{Clock, Runtime, RuntimeOptions, SystemClock};
use crate::sites::{ReloadOutcome, Services, Sites, Watcher};

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Batches ingested.
    pub batches: AtomicU64,
    /// Items ingested (new, updated, duplicate, stale, closed).
    pub items: AtomicU64,
    /// Inputs rejected by a connector or the engine.
    pub rejects: AtomicU64,
    /// Items routed.
    pub routed: AtomicU64,
    /// Items kept as dead letters.
    pub dead_letters: AtomicU64,
    /// Nudges sent.
    pub nudges: AtomicU64,
    /// Errors logged by background tasks.
    pub errors: AtomicU64,
    /// Warnings logged by background tasks.
    pub warnings: AtomicU64,
    /// Critical results sent to a site's fallback owner.
    pub critical_fallbacks: AtomicU64,
}

/// Options for [`App::open`] that tests change.
#[derive(Clone)]
pub struct AppOptions {
    /// Time source for the engine and plugins.
    pub clock: Arc<dyn Clock>,
    /// Watch the sites and plugins folders.
    pub watch: bool,
    /// Run pollers, inbox watchers, MLLP listeners and schedulers.
    pub background: bool,
    /// Compile new plugin bytes with Winch first and Cranelift in the
    /// background (see `RuntimeOptions::quick_compile`). `serve` turns it
    /// on so a reload activates quickly. Short-lived commands leave it off,
    /// because they would pay for both compiles.
    pub quick_compile: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            clock: Arc::new(SystemClock),
            watch: true,
            background: true,
            quick_compile: false,
        }
    }
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("watch", &self.watch)
            .field("background", &self.background)
            .field("quick_compile", &self.quick_compile)
            .finish_non_exhaustive()
    }
}

/// The host process's state. Shared by the API handlers and the
/// background threads through an `Arc`.
pub struct App {
    /// Host settings.
    pub config: HostConfig,
    /// Folders.
    pub layout: Layout,
    /// The routing engine and its store.
    pub engine: Engine,
    /// Sites and their plugins.
    pub sites: Arc<Sites>,
    /// Shadow-mode comparisons.
    pub shadow: Arc<ShadowLog>,
    /// Bearer tokens.
    pub tokens: Tokens,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Routes pending items in the background.
    pub dispatcher: Dispatcher,
    /// False once shutdown began: intake refuses new work.
    pub accepting: AtomicBool,
    /// True while site files are loading at start-up.
    pub loading: AtomicBool,
    options: AppOptions,
    watcher: std::sync::Mutex<Option<Watcher>>,
    threads: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("layout", &self.layout)
            .field("sites", &self.sites)
            .finish_non_exhaustive()
    }
}

/// Reads `switchboard.toml` from a configuration folder; a folder without
/// one gets the defaults.
pub fn load_host_config(dir: &Path) -> anyhow::Result<HostConfig> {
    let path = dir.join(HOST_FILE);
    if path.exists() {
        Ok(HostConfig::load(&path)?)
    } else {
        Ok(HostConfig::defaults())
    }
}

impl App {
    /// Opens the store (recovering after a crash), builds the engine and the
    /// sites registry, and starts loading the site files in the background.
    ///
    /// # Errors
    ///
    /// When the host file is invalid, the store cannot be opened (in use by
    /// another process, corrupted, an unknown schema), or the runtime fails
    /// to start.
    pub fn open(config_dir: &Path, options: AppOptions) -> anyhow::Result<Arc<App>> {
        let config = load_host_config(config_dir)?;
        let layout = Layout::new(config_dir, &config.data_dir);
        std::fs::create_dir_all(&layout.data).with_context(|| {
            format!(
                "failed to create the data folder {}",
                crate::config::quote(&layout.data)
            )
        })?;

        let store = SledStore::open(layout.db())?;
        let engine_slot: Arc<OnceLock<Engine>> = Arc::new(OnceLock::new());
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(layout.cache()),
            limits: config.limits.clone(),
            quick_compile: options.quick_compile,
        })
        .map_err(|e| anyhow::anyhow!("failed to start the WebAssembly runtime: {e:#}"))?;
        let services = Services {
            runtime,
            layout: layout.clone(),
            clock: options.clock.clone(),
            kv: Arc::new(adapters::EngineKv(engine_slot.clone())),
            audit: Arc::new(adapters::EngineAudit(engine_slot.clone())),
            egress: Some(adapters::egress_factory(layout.sites.clone())),
        };
        let sites = Arc::new(Sites::new(services));
        let shadow = Arc::new(ShadowLog::default());
        let router = Arc::new(PluginRouter::new(sites.clone(), shadow.clone()));
        let engine = Engine::with_clock(
            Arc::new(store),
            router,
            Arc::new(adapters::EngineClock(options.clock.clone())),
        );
        let _ = engine_slot.set(engine.clone());

        let stats = Arc::new(Stats::default());
        let dispatcher = Dispatcher::start(engine.clone(), stats.clone());
        let tokens = Tokens::new(&config.tokens);
        let app = Arc::new(App {
            config,
            layout,
            engine,
            sites,
            shadow,
            tokens,
            stats,
            clock: options.clock.clone(),
            dispatcher,
            accepting: AtomicBool::new(true),
            loading: AtomicBool::new(true),
            options,
            watcher: std::sync::Mutex::new(None),
            threads: std::sync::Mutex::new(Vec::new()),
            stop: Arc::new(AtomicBool::new(false)),
        });
        app.follow_reloads();
        Ok(app)
    }

    /// Loads every site file, then starts the watcher and background work.
    /// Blocks until the first load finished; run it on a worker thread to
    /// keep the API answering meanwhile.
    pub fn load_sites(self: &Arc<Self>) {
        self.sites.reload_all();
        // The reload follower does this too, on its own thread; doing it
        // here means intake works as soon as this returns.
        for id in self.sites.ids() {
            if let Some(handle) = self.sites.get(&id) {
                self.engine.set_site(handle.state().site.clone());
            }
        }
        self.loading.store(false, Ordering::SeqCst);

        if self.options.watch {
            match Watcher::start(self.sites.clone()) {
                Ok(watcher) => {
                    *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher)
                }
                Err(error) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%error, "failed to watch the sites and plugins folders; restart the host after changing them");
                }
            }
        }
        if self.options.background {
            self.start_background();
        }
    }

    /// Applies each reload to the engine: the new roster, and a routing
    /// pass so items waiting for the new policy (and dead letters) move.
    fn follow_reloads(self: &Arc<Self>) {
        let mut events = self.sites.subscribe();
        let app = Arc::downgrade(self);
        let handle = std::thread::Builder::new().name("switchboard-reloads".into()).spawn(move || {
            while let Ok(event) = events.blocking_recv() {
                let Some(app) = app.upgrade() else { break };
                match &event.outcome {
                    ReloadOutcome::Applied { .. } | ReloadOutcome::RolledBack { .. } => {
                        if let Some(handle) = app.sites.get(&event.site) {
                            let state = handle.state();
                            app.engine.set_site(state.site.clone());
                            if state.shadow().is_none() {
                                app.shadow.reset(&event.site);
                            }
                            if let Err(error) = app.engine.policy_changed(&event.site) {
                                app.stats.errors.fetch_add(1, Ordering::Relaxed);
                                tracing::error!(site = %event.site, %error, "failed to route pending items after a reload");
                            }
                        }
                    }
                    ReloadOutcome::Removed => app.engine.remove_site(&event.site),
                    ReloadOutcome::Rejected { .. }
                    | ReloadOutcome::Unchanged
                    | ReloadOutcome::Recovered => {}
                }
            }
        });
        if let Ok(handle) = handle {
            self.threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle);
        }
    }

    fn start_background(self: &Arc<Self>) {
        let mut threads = Vec::new();
        threads.extend(poll::start(self.clone(), self.stop.clone()));
        threads.extend(inbox::start(self.clone(), self.stop.clone()));
        threads.extend(mllp::start(self.clone(), self.stop.clone()));
        threads.extend(schedule::start(self.clone(), self.stop.clone()));
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(threads);
    }

    /// Stops intake and background work, waits for work in flight, then
    /// closes the store. The store flushes on every commit, so nothing
    /// acknowledged is lost; closing also writes the applied log position,
    /// so the next start replays nothing. Later writes fail with
    /// `StoreError::Closed`.
    pub fn shutdown(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        self.watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.dispatcher.stop();
        let threads: Vec<_> = self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for thread in threads {
            if thread.thread().name() == Some("switchboard-reloads") {
                // Blocked on the event channel; it ends with the process.
                continue;
            }
            let _ = thread.join();
        }

        // NOTE: the store is never dropped while the process runs, because
        // the engine's router reaches the sites, whose plugin services hold
        // the engine again. Closing it here is what makes a stop clean.
        match self.engine.store().close() {
            Ok(()) => tracing::info!("store closed"),
            Err(error) => {
                tracing::error!(%error, "failed to close the store; the next start replays its last log records")
            }
        }
    }

    /// The inbox folder of a connector.
    pub fn inbox_dir(&self, site: &str, connector: &str) -> PathBuf {
        self.layout.inbox(site, connector)
    }
}
