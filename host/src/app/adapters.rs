//! Adapters between the runtime's and the engine's interfaces.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use switchboard_engine::Engine;
use switchboard_sdk::Timestamp;

use crate::runtime::{Clock, KvStore};
use crate::sites::{AuditEntry, AuditSink, EgressFactory};

/// Plugin key-value storage in the engine's store. The engine is bound
/// after the sites registry is built, hence the late-bound handle.
pub struct EngineKv(pub Arc<OnceLock<Engine>>);

impl EngineKv {
    fn engine(&self) -> Result<&Engine, String> {
        self.0.get().ok_or_else(|| "the store is not open yet".to_string())
    }
}

impl KvStore for EngineKv {
    fn get(&self, site: &str, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.engine()?.kv_get(site, plugin, key).map_err(|e| e.to_string())
    }

    fn set(&self, site: &str, plugin: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.engine()?.kv_set(site, plugin, key, value.to_vec()).map_err(|e| e.to_string())
    }

    fn delete(&self, site: &str, plugin: &str, key: &str) -> Result<(), String> {
        self.engine()?.kv_delete(site, plugin, key).map_err(|e| e.to_string())
    }
}

/// The audit trail in the engine's store.
pub struct EngineAudit(pub Arc<OnceLock<Engine>>);

impl AuditSink for EngineAudit {
    fn record(&self, entry: AuditEntry) {
        let Some(engine) = self.0.get() else {
            tracing::error!(site = %entry.site, action = %entry.action, "audit entry dropped: the store is not open yet");
            return;
        };
        let stored = switchboard_engine::model::AuditEntry {
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            target: entry.site.clone(),
            site: Some(entry.site),
            detail: entry.detail,
        };
        if let Err(error) = engine.append_audit(stored) {
            tracing::error!(%error, "failed to write an audit entry");
        }
    }
}

/// The host clock as the engine's clock.
pub struct EngineClock(pub Arc<dyn Clock>);

impl std::fmt::Debug for EngineClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EngineClock").field(&self.0.now()).finish()
    }
}

impl switchboard_engine::Clock for EngineClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

/// Builds connector HTTP egress from a site's credentials.
///
/// TODO: wire the egress crate (allow-list, DNS checks, credentials, rate
/// limits, retries) here; until then connectors get no HTTP access.
pub fn egress_factory(_sites_dir: PathBuf) -> EgressFactory {
    Arc::new(|_site, _manifest| None)
}
