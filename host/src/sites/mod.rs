//! The sites a host runs and the plugins active in each, with reloads as
//! transactions.
//!
//! A reload of a site reads its file and the files it names, resolves every
//! plugin slot, and builds a candidate for each slot whose inputs changed
//! (compiled, checked, instantiated and configured). Only when every
//! candidate passes is the site's state swapped, in one atomic store; calls
//! already running keep the old state through their `Arc` and finish on it.
//! A failed candidate leaves the running state in place. Content hashes are
//! the identity of every input, so a touch or an editor's rewrite of the
//! same bytes changes nothing.

mod catalog;
mod outcome;
mod secrets;
mod watch;

pub use catalog::{Catalog, ResolveError, ResolvedPlugin};
pub use outcome::{
    Activation, AuditEntry, AuditSink, MemoryAudit, ReloadEvent, ReloadOutcome, SlotKind,
};
pub use secrets::{MissingSecret, missing_webhook_secrets};
pub use watch::{DEBOUNCE, Watcher};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use switchboard_sdk as sdk;
use tokio::sync::broadcast;

use crate::config::{Layout, Manifest, PluginRef, SiteConfig};
use crate::runtime::{
    Clock, ConnectorPlugin, Egress, HostContext, KvStore, PolicyPlugin, Runtime, sha256_hex,
};

/// Builds the HTTP egress for one connector at one site, from the site's
/// credentials and the plugin's manifest; `None` denies all requests.
pub type EgressFactory =
    Arc<dyn Fn(&SiteConfig, &Manifest) -> Option<Arc<dyn Egress>> + Send + Sync>;

/// Shared services every site's plugins use.
#[derive(Clone)]
pub struct Services {
    /// The WebAssembly runtime.
    pub runtime: Runtime,
    /// Configuration and data folders.
    pub layout: Layout,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Plugin key-value storage.
    pub kv: Arc<dyn KvStore>,
    /// Audit trail.
    pub audit: Arc<dyn AuditSink>,
    /// Connector HTTP.
    pub egress: Option<EgressFactory>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Identifies a slot within a site: the kind, plus the instance name for
/// connectors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    /// Kind of slot.
    pub kind: SlotKind,
    /// Connector instance name; empty for policy slots.
    pub instance: String,
}

impl SlotKey {
    fn policy(kind: SlotKind) -> Self {
        SlotKey {
            kind,
            instance: String::new(),
        }
    }
}

impl std::fmt::Display for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.instance.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{} {}", self.kind.as_str(), self.instance)
        }
    }
}

/// Inputs that decide a slot's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSource {
    /// The plugin version.
    pub plugin: ResolvedPlugin,
    /// SHA-256 of the slot's config text.
    pub config_sha256: String,
}

/// An active plugin in a slot.
#[derive(Debug)]
pub enum ActivePlugin {
    /// A policy.
    Policy(PolicyPlugin),
    /// A connector.
    Connector(ConnectorPlugin),
}

/// A slot's active plugin and where it came from.
#[derive(Debug)]
pub struct ActiveSlot {
    /// The instance slot.
    pub plugin: ActivePlugin,
    /// Its inputs.
    pub source: SlotSource,
    /// When it became active.
    pub activated_at: sdk::Timestamp,
}

impl ActiveSlot {
    /// The policy, when the slot holds one.
    pub fn policy(&self) -> Option<&PolicyPlugin> {
        match &self.plugin {
            ActivePlugin::Policy(p) => Some(p),
            ActivePlugin::Connector(_) => None,
        }
    }

    /// The connector, when the slot holds one.
    pub fn connector(&self) -> Option<&ConnectorPlugin> {
        match &self.plugin {
            ActivePlugin::Connector(c) => Some(c),
            ActivePlugin::Policy(_) => None,
        }
    }
}

/// Everything active at a site at one moment. Replaced whole on reload.
#[derive(Debug)]
pub struct SiteState {
    /// The parsed site file.
    pub config: SiteConfig,
    /// The roster as plugins see it.
    pub site: sdk::Site,
    /// SHA-256 of the site file.
    pub file_sha256: String,
    /// Active plugins by slot.
    pub slots: BTreeMap<SlotKey, Arc<ActiveSlot>>,
}

impl SiteState {
    /// The active routing policy.
    pub fn routing(&self) -> Option<&PolicyPlugin> {
        self.slots
            .get(&SlotKey::policy(SlotKind::Routing))
            .and_then(|s| s.policy())
    }

    /// The shadow policy.
    pub fn shadow(&self) -> Option<&PolicyPlugin> {
        self.slots
            .get(&SlotKey::policy(SlotKind::Shadow))
            .and_then(|s| s.policy())
    }

    /// The nudge policy.
    pub fn nudges(&self) -> Option<&PolicyPlugin> {
        self.slots
            .get(&SlotKey::policy(SlotKind::Nudges))
            .and_then(|s| s.policy())
    }

    /// The prep policy.
    pub fn prep(&self) -> Option<&PolicyPlugin> {
        self.slots
            .get(&SlotKey::policy(SlotKind::Prep))
            .and_then(|s| s.policy())
    }

    /// The connector instance named `name`.
    pub fn connector(&self, name: &str) -> Option<&ConnectorPlugin> {
        self.slots
            .get(&SlotKey {
                kind: SlotKind::Connector,
                instance: name.to_string(),
            })
            .and_then(|s| s.connector())
    }
}

/// One site: its current state, what it replaced, and versions an
/// administrator rolled back from.
#[derive(Debug)]
pub struct SiteHandle {
    /// Site id.
    pub id: String,
    state: ArcSwap<SiteState>,
    previous: Mutex<BTreeMap<SlotKey, Arc<ActiveSlot>>>,
    rolled_back_from: Mutex<BTreeMap<SlotKey, String>>,
}

impl SiteHandle {
    /// The current state. Hold the `Arc` for the length of a call; a reload
    /// swaps in a new state without disturbing it.
    pub fn state(&self) -> Arc<SiteState> {
        self.state.load_full()
    }
}

/// The host's sites.
pub struct Sites {
    services: Services,
    catalog: Catalog,
    sites: ArcSwap<BTreeMap<String, Arc<SiteHandle>>>,
    failures: Mutex<BTreeMap<String, Vec<String>>>,
    events: broadcast::Sender<ReloadEvent>,
    reload_lock: Mutex<()>,
}

impl std::fmt::Debug for Sites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sites")
            .field("sites", &self.sites.load().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reload events kept for slow subscribers.
const EVENT_BUFFER: usize = 1024;

impl Sites {
    /// An empty registry; call [`Sites::reload_all`] to load the site files.
    pub fn new(services: Services) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Sites {
            services,
            catalog: Catalog::default(),
            sites: ArcSwap::from_pointee(BTreeMap::new()),
            failures: Mutex::new(BTreeMap::new()),
            events,
            reload_lock: Mutex::new(()),
        }
    }

    /// The shared services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Receives every reload outcome from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ReloadEvent> {
        self.events.subscribe()
    }

    /// The site named `id`.
    pub fn get(&self, id: &str) -> Option<Arc<SiteHandle>> {
        self.sites.load().get(id).cloned()
    }

    /// Ids of the running sites.
    pub fn ids(&self) -> Vec<String> {
        self.sites.load().keys().cloned().collect()
    }

    /// The reasons the last reload of each site failed, for sites whose
    /// last reload failed.
    pub fn failures(&self) -> BTreeMap<String, Vec<String>> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads every site file in the sites folder and drops sites whose
    /// file is gone, including sites that never loaded and have only a
    /// recorded failure.
    pub fn reload_all(&self) -> Vec<ReloadEvent> {
        let mut ids: Vec<String> = site_ids(&self.services.layout.sites);
        let known = self.ids().into_iter().chain(self.failures().into_keys());
        for id in known {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids.into_iter().map(|id| self.reload_site(&id)).collect()
    }

    /// Reloads one site as a transaction and returns (and broadcasts) the
    /// outcome.
    pub fn reload_site(&self, id: &str) -> ReloadEvent {
        let _serial = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self.try_reload(id);
        self.finish(id, outcome)
    }

    fn finish(&self, id: &str, outcome: ReloadOutcome) -> ReloadEvent {
        let outcome = self.record_failure(id, outcome);
        let event = ReloadEvent {
            site: id.to_string(),
            at: self.services.clock.now(),
            outcome,
        };

        self.log_and_audit(&event);

        // No subscriber is fine: nobody is waiting.
        let _ = self.events.send(event.clone());
        event
    }

    /// Records a rejection as the site's failure, or clears the failure,
    /// and returns the outcome to report. A reload that finds the sources
    /// equal to the running version after a rejection turns into
    /// [`ReloadOutcome::Recovered`], because health must stop reporting a
    /// rejection that no longer describes the files.
    fn record_failure(&self, id: &str, outcome: ReloadOutcome) -> ReloadOutcome {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            ReloadOutcome::Rejected { reasons } => {
                failures.insert(id.to_string(), reasons.clone());
                ReloadOutcome::Rejected { reasons }
            }
            ReloadOutcome::Unchanged if failures.remove(id).is_some() => ReloadOutcome::Recovered,
            other => {
                failures.remove(id);
                other
            }
        }
    }

    fn log_and_audit(&self, event: &ReloadEvent) {
        let site = event.site.as_str();
        let audit = |action: &str, detail: String| {
            self.services.audit.record(AuditEntry {
                at: event.at,
                site: site.to_string(),
                actor: "host".to_string(),
                action: action.to_string(),
                detail,
            });
        };
        match &event.outcome {
            ReloadOutcome::Applied { activations } => {
                for a in activations {
                    tracing::info!(site, slot = a.slot.as_str(), plugin = %a.plugin, version = %a.version, old = a.previous_sha256.as_deref().unwrap_or("-"), new = %a.sha256, "plugin activated");
                    audit("plugin.activated", activation_detail(a));
                }
                if activations.is_empty() {
                    tracing::info!(site, "site configuration applied");
                    audit(
                        "site.applied",
                        "site file changed; plugins unchanged".to_string(),
                    );
                }
            }
            ReloadOutcome::Rejected { reasons } => {
                for reason in reasons {
                    tracing::error!(site, %reason, "reload rejected; the running version stays active");
                }
                audit("plugin.rejected", reasons.join("; "));
            }
            ReloadOutcome::RolledBack { activation } => {
                tracing::warn!(site, slot = activation.slot.as_str(), plugin = %activation.plugin, version = %activation.version, sha256 = %activation.sha256, "plugin rolled back");
                audit("plugin.rolled-back", activation_detail(activation));
            }
            ReloadOutcome::Removed => {
                tracing::info!(site, "site file removed; site stopped");
                audit("site.removed", String::new());
            }
            ReloadOutcome::Recovered => {
                tracing::info!(
                    site,
                    "site files match the running version again; the earlier rejection is cleared"
                );
                audit(
                    "site.recovered",
                    "sources match the running version; earlier rejection cleared".to_string(),
                );
            }
            ReloadOutcome::Unchanged => tracing::debug!(site, "reload found no change"),
        }
    }

    fn try_reload(&self, id: &str) -> ReloadOutcome {
        let layout = &self.services.layout;
        let path = layout.sites.join(format!("{id}.toml"));
        if !path.exists() {
            return self.remove(id);
        }

        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                return rejected(format!(
                    "failed to read {}: {error}",
                    crate::config::quote(&path)
                ));
            }
        };
        let (config, site) = match SiteConfig::parse(&path, &text) {
            Ok(parsed) => parsed,
            Err(error) => return rejected(error.to_string()),
        };
        let missing = secrets::missing_webhook_secrets(&config, |name| std::env::var_os(name));
        if !missing.is_empty() {
            return ReloadOutcome::Rejected {
                reasons: missing.iter().map(ToString::to_string).collect(),
            };
        }
        let file_sha256 = sha256_hex(text.as_bytes());

        let handle = self.get(id);
        let current = handle.as_ref().map(|h| h.state());
        let site_changed = current
            .as_ref()
            .is_none_or(|c| c.file_sha256 != file_sha256);

        let mut slots = BTreeMap::new();
        let mut activations = Vec::new();
        let mut reasons = Vec::new();
        for (key, reference, config_path) in slot_specs(&config) {
            let source = match self.slot_source(&reference, config_path.as_deref()) {
                Ok(source) => source,
                Err(reason) => {
                    reasons.push(format!("{key}: {reason}"));
                    continue;
                }
            };
            let existing = current.as_ref().and_then(|c| c.slots.get(&key)).cloned();
            let rolled_back_from = handle.as_ref().and_then(|h| {
                h.rolled_back_from
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned()
            });

            if let Some(existing) = &existing {
                let same = existing.source == source;
                let refused = rolled_back_from.as_deref() == Some(source.plugin.sha256.as_str())
                    && existing.source.config_sha256 == source.config_sha256;
                if (same || refused) && !site_changed {
                    slots.insert(key, existing.clone());
                    continue;
                }
            }

            match self.build_slot(&key, &config, &site, source.clone(), config_path.as_deref()) {
                Ok(active) => {
                    activations.push(Activation {
                        slot: key.kind,
                        instance: (!key.instance.is_empty()).then(|| key.instance.clone()),
                        plugin: source.plugin.name.clone(),
                        version: source.plugin.version.clone(),
                        sha256: source.plugin.sha256.clone(),
                        previous_sha256: existing.as_ref().map(|e| e.source.plugin.sha256.clone()),
                        config_sha256: source.config_sha256.clone(),
                        previous_config_sha256: existing
                            .as_ref()
                            .map(|e| e.source.config_sha256.clone()),
                    });
                    slots.insert(key, Arc::new(active));
                }
                Err(reason) => reasons.push(format!("{key}: {reason}")),
            }
        }

        if !reasons.is_empty() {
            return ReloadOutcome::Rejected { reasons };
        }
        if !site_changed
            && activations.is_empty()
            && current
                .as_ref()
                .is_some_and(|c| c.slots.len() == slots.len())
        {
            return ReloadOutcome::Unchanged;
        }

        let state = SiteState {
            config,
            site,
            file_sha256,
            slots,
        };
        self.install(id, handle, state, &activations);
        ReloadOutcome::Applied {
            activations: activations
                .into_iter()
                .filter(|a| {
                    // A slot rebuilt only because the site file changed is
                    // not a new activation.
                    a.previous_sha256.as_deref() != Some(a.sha256.as_str())
                        || a.previous_config_sha256.as_deref() != Some(a.config_sha256.as_str())
                })
                .collect(),
        }
    }

    fn slot_source(
        &self,
        reference: &PluginRef,
        config_path: Option<&Path>,
    ) -> Result<SlotSource, String> {
        let plugin = Catalog::resolve(&self.services.layout.plugins, reference)
            .map_err(|e| e.to_string())?;
        let text = self.config_text(config_path)?;
        Ok(SlotSource {
            plugin,
            config_sha256: sha256_hex(text.as_bytes()),
        })
    }

    fn config_text(&self, config_path: Option<&Path>) -> Result<String, String> {
        match config_path {
            Some(relative) => {
                let path = self.services.layout.sites.join(relative);
                std::fs::read_to_string(&path).map_err(|e| {
                    format!("failed to read config {}: {e}", crate::config::quote(&path))
                })
            }
            None => Ok(String::new()),
        }
    }

    fn build_slot(
        &self,
        key: &SlotKey,
        config: &SiteConfig,
        site: &sdk::Site,
        source: SlotSource,
        config_path: Option<&Path>,
    ) -> Result<ActiveSlot, String> {
        let services = &self.services;
        let text = self.config_text(config_path)?;
        let loaded = self
            .catalog
            .load(&services.runtime, &source.plugin)
            .map_err(|e| e.to_string())?;
        let manifest = &loaded.manifest;
        if manifest.name != source.plugin.name || manifest.version != source.plugin.version {
            return Err(format!(
                "plugin.toml in {} says {} {}, which does not match its folder; install it as plugins/{}/{}/",
                crate::config::quote(&source.plugin.dir),
                manifest.name,
                manifest.version,
                manifest.name,
                manifest.version
            ));
        }
        let egress = match (&services.egress, key.kind) {
            (Some(factory), SlotKind::Connector) => factory(config, &loaded.manifest),
            _ => None,
        };
        let host = HostContext {
            site: config.id.clone(),
            plugin: source.plugin.name.clone(),
            zone: config.zone(),
            clock: services.clock.clone(),
            kv: services.kv.clone(),
            egress,
        };
        let plugin = match key.kind {
            SlotKind::Connector => ActivePlugin::Connector(
                ConnectorPlugin::new(&services.runtime, loaded, host, &text)
                    .map_err(|e| e.to_string())?,
            ),
            _ => ActivePlugin::Policy(
                PolicyPlugin::new(&services.runtime, loaded, host, site, &text)
                    .map_err(|e| e.to_string())?,
            ),
        };
        Ok(ActiveSlot {
            plugin,
            source,
            activated_at: services.clock.now(),
        })
    }

    fn install(
        &self,
        id: &str,
        handle: Option<Arc<SiteHandle>>,
        state: SiteState,
        activations: &[Activation],
    ) {
        match handle {
            Some(handle) => {
                let old = handle.state.swap(Arc::new(state));
                let mut previous = handle.previous.lock().unwrap_or_else(|p| p.into_inner());
                let mut refused = handle
                    .rolled_back_from
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                for a in activations {
                    let key = SlotKey {
                        kind: a.slot,
                        instance: a.instance.clone().unwrap_or_default(),
                    };
                    if let Some(slot) = old.slots.get(&key)
                        && slot.source.plugin.sha256 != a.sha256
                    {
                        previous.insert(key.clone(), slot.clone());
                    }
                    refused.remove(&key);
                }
            }
            None => {
                let handle = Arc::new(SiteHandle {
                    id: id.to_string(),
                    state: ArcSwap::from_pointee(state),
                    previous: Mutex::new(BTreeMap::new()),
                    rolled_back_from: Mutex::new(BTreeMap::new()),
                });
                self.sites.rcu(|sites| {
                    let mut sites = (**sites).clone();
                    sites.insert(id.to_string(), handle.clone());
                    sites
                });
            }
        }
    }

    fn remove(&self, id: &str) -> ReloadOutcome {
        if self.get(id).is_none() {
            // A site whose first load failed has no state to stop, but its
            // recorded failure goes with its file.
            let failed = self
                .failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(id);
            return if failed {
                ReloadOutcome::Removed
            } else {
                ReloadOutcome::Unchanged
            };
        }
        self.sites.rcu(|sites| {
            let mut sites = (**sites).clone();
            sites.remove(id);
            sites
        });
        ReloadOutcome::Removed
    }

    /// Returns a slot to the version it had before its last activation. The
    /// version rolled back from is not applied again by later reloads until
    /// its files change.
    ///
    /// # Errors
    ///
    /// A message when the site or slot is unknown or has no previous version.
    pub fn rollback(&self, id: &str, key: &SlotKey, actor: &str) -> Result<ReloadEvent, String> {
        let _serial = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let handle = self
            .get(id)
            .ok_or_else(|| format!("site {id:?} is not running"))?;
        let previous = handle
            .previous
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
            .ok_or_else(|| {
                format!("site {id:?} slot {key} has no previous version to roll back to")
            })?;

        let current = handle.state();
        let mut slots = current.slots.clone();
        let replaced = slots.insert(key.clone(), previous.clone());
        let state = SiteState {
            config: current.config.clone(),
            site: current.site.clone(),
            file_sha256: current.file_sha256.clone(),
            slots,
        };
        handle.state.store(Arc::new(state));
        if let Some(replaced) = replaced {
            handle
                .rolled_back_from
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone(), replaced.source.plugin.sha256.clone());
        }

        let activation = Activation {
            slot: key.kind,
            instance: (!key.instance.is_empty()).then(|| key.instance.clone()),
            plugin: previous.source.plugin.name.clone(),
            version: previous.source.plugin.version.clone(),
            sha256: previous.source.plugin.sha256.clone(),
            previous_sha256: None,
            config_sha256: previous.source.config_sha256.clone(),
            previous_config_sha256: None,
        };
        let event = ReloadEvent {
            site: id.to_string(),
            at: self.services.clock.now(),
            outcome: ReloadOutcome::RolledBack { activation },
        };
        self.services.audit.record(AuditEntry {
            at: event.at,
            site: id.to_string(),
            actor: actor.to_string(),
            action: "plugin.rollback-requested".to_string(),
            detail: key.to_string(),
        });
        self.log_and_audit(&event);
        let _ = self.events.send(event.clone());
        Ok(event)
    }
}

fn rejected(reason: String) -> ReloadOutcome {
    ReloadOutcome::Rejected {
        reasons: vec![reason],
    }
}

fn activation_detail(a: &Activation) -> String {
    let instance = a
        .instance
        .as_deref()
        .map(|i| format!(" {i}"))
        .unwrap_or_default();
    format!(
        "slot={}{instance} plugin={} version={} sha256={} previous={} config_sha256={}",
        a.slot.as_str(),
        a.plugin,
        a.version,
        a.sha256,
        a.previous_sha256.as_deref().unwrap_or("-"),
        a.config_sha256
    )
}

/// Every slot a site file asks for.
fn slot_specs(config: &SiteConfig) -> Vec<(SlotKey, PluginRef, Option<PathBuf>)> {
    let mut specs = Vec::new();
    for (kind, slot) in [
        (SlotKind::Routing, &config.routing),
        (SlotKind::Shadow, &config.shadow),
        (SlotKind::Nudges, &config.nudges),
        (SlotKind::Prep, &config.prep),
    ] {
        if let Some(slot) = slot {
            specs.push((
                SlotKey::policy(kind),
                slot.plugin.clone(),
                slot.config.clone(),
            ));
        }
    }
    for connector in &config.connectors {
        specs.push((
            SlotKey {
                kind: SlotKind::Connector,
                instance: connector.name.clone(),
            },
            connector.plugin.clone(),
            connector.config.clone(),
        ));
    }
    specs
}

/// Site ids from `<id>.toml` files in the sites folder.
fn site_ids(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    ids.sort();
    ids
}
