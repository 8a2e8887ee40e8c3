//! Adapters between the runtime's and the engine's interfaces.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchboard_egress::{
    Algorithm, Credential, EgressConfig, EgressShared, RateLimit, Secret, SmartBackend,
};
use switchboard_engine::Engine;
use switchboard_sdk::Timestamp;

use crate::config::{CredentialConfig, Manifest, SiteConfig};
use crate::runtime::{Clock, Egress, EgressError, EgressRequest, EgressResponse, KvStore};
use crate::sites::{AuditEntry, AuditSink, EgressFactory};

/// Plugin key-value storage in the engine's store. The engine is bound
/// after the sites registry is built, hence the late-bound handle.
pub struct EngineKv(pub Arc<OnceLock<Engine>>);

impl EngineKv {
    fn engine(&self) -> Result<&Engine, String> {
        self.0
            .get()
            .ok_or_else(|| "the store is not open yet".to_string())
    }
}

impl KvStore for EngineKv {
    fn get(&self, site: &str, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.engine()?
            .kv_get(site, plugin, key)
            .map_err(|e| e.to_string())
    }

    fn set(&self, site: &str, plugin: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.engine()?
            .kv_set(site, plugin, key, value.to_vec())
            .map_err(|e| e.to_string())
    }

    fn delete(&self, site: &str, plugin: &str, key: &str) -> Result<(), String> {
        self.engine()?
            .kv_delete(site, plugin, key)
            .map_err(|e| e.to_string())
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

/// Requests per minute a site's connectors may send when the site file sets
/// none: eClinicalWorks allows about 250 calls a minute per practice, the
/// lowest of the vendors supported.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 250;

/// Builds connector HTTP egress from a site's credentials and the plugin's
/// manifest. Secrets are read here (environment variables, key files) and
/// go straight into the egress, which never prints them.
pub fn egress_factory(sites_dir: PathBuf) -> EgressFactory {
    let shared = EgressShared::new();
    Arc::new(move |site: &SiteConfig, manifest: &Manifest| {
        match egress_for(&sites_dir, &shared, site, manifest) {
            Ok(egress) => Some(egress),
            Err(error) => {
                tracing::error!(site = %site.id, plugin = %manifest.name, %error, "connector HTTP is off for this plugin; fix the site's credentials");
                None
            }
        }
    })
}

fn egress_for(
    sites_dir: &Path,
    shared: &Arc<EgressShared>,
    site: &SiteConfig,
    manifest: &Manifest,
) -> Result<Arc<dyn Egress>, String> {
    let mut config = EgressConfig::new(&site.id, &manifest.name);
    config.http_hosts = manifest.capabilities.http_hosts.clone();
    config.credential_names = manifest.capabilities.credentials.clone();
    for name in &manifest.capabilities.credentials {
        if let Some(credential) = site.credentials.get(name) {
            config
                .credentials
                .insert(name.clone(), credential_for(sites_dir, name, credential)?);
        }
    }
    let rate = site
        .connectors
        .iter()
        .filter(|c| c.plugin.name == manifest.name)
        .filter_map(|c| c.rate_per_minute)
        .min()
        .unwrap_or(DEFAULT_RATE_PER_MINUTE);
    config.rate = RateLimit::per_minute(rate);
    if let Some(ms) = manifest.limits.poll_ms {
        config.deadline = Duration::from_millis(ms);
    }
    let egress =
        switchboard_egress::Egress::new(config, shared.clone()).map_err(|e| e.to_string())?;
    Ok(Arc::new(EgressAdapter(egress)))
}

fn credential_for(
    sites_dir: &Path,
    name: &str,
    config: &CredentialConfig,
) -> Result<Credential, String> {
    match config {
        CredentialConfig::Static { token_env } => {
            let token = std::env::var(token_env).map_err(|_| {
                format!("credential {name}: environment variable {token_env} is not set")
            })?;
            Ok(Credential::Static {
                token: Secret::new(token),
            })
        }
        CredentialConfig::SmartBackend {
            token_url,
            client_id,
            key_file,
            algorithm,
            key_id,
            scope,
        } => {
            let path = sites_dir.join(key_file);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "credential {name}: failed to read key file {}: {e}",
                    crate::config::quote(&path)
                )
            })?;
            let algorithm: Algorithm = algorithm
                .parse()
                .map_err(|e| format!("credential {name}: {e}"))?;
            Ok(Credential::SmartBackend(SmartBackend {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                private_key_pem: Secret::new(pem),
                algorithm,
                key_id: key_id.clone(),
                scope: scope.clone(),
            }))
        }
    }
}

/// The egress crate behind the runtime's [`Egress`] trait.
struct EgressAdapter(switchboard_egress::Egress);

impl Egress for EgressAdapter {
    fn send(&self, request: EgressRequest) -> Result<EgressResponse, EgressError> {
        let request = switchboard_egress::EgressRequest {
            site: request.site,
            plugin: request.plugin,
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            credential: request.credential,
        };
        match self.0.send(request) {
            Ok(r) => Ok(EgressResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                switchboard_egress::EgressError::Denied(m) => EgressError::Denied(m),
                switchboard_egress::EgressError::TimedOut(m) => EgressError::TimedOut(m),
                switchboard_egress::EgressError::RateLimited(m) => EgressError::RateLimited(m),
                switchboard_egress::EgressError::Transport(m) => EgressError::Transport(m),
                switchboard_egress::EgressError::Credential(m) => EgressError::Credential(m),
                switchboard_egress::EgressError::TooLarge(m) => EgressError::TooLarge(m),
            }),
        }
    }
}
