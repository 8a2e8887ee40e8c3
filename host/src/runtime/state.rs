//! What a plugin's store holds, and the host imports it can call.
//!
//! Each store gets a WASI context with nothing in it: no arguments,
//! environment, preopened folders or network, and clocks and random numbers
//! that come from the host ([`Clock`] and a seeded generator), so a test sets
//! the time and a plugin reads nothing the host did not give it.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use rand::SeedableRng;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::connector::switchboard::plugin::http as wit_http;
use super::bindings::policy::switchboard::plugin::{
    host as wit_host, kv as wit_kv, types as wit_types,
};
use super::clock::Clock;
use super::egress::{Egress, EgressRequest};
use switchboard_sdk::zone::{from_local_in, local_time_in};

/// Key-value storage behind the WIT `kv` import, scoped by the caller.
pub trait KvStore: Send + Sync {
    /// Reads `key` of `plugin` at `site`.
    ///
    /// # Errors
    ///
    /// A message when the store failed.
    fn get(&self, site: &str, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Writes `key`.
    ///
    /// # Errors
    ///
    /// A message when the store failed.
    fn set(&self, site: &str, plugin: &str, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes `key`.
    ///
    /// # Errors
    ///
    /// A message when the store failed.
    fn delete(&self, site: &str, plugin: &str, key: &str) -> Result<(), String>;
}

/// A [`KvStore`] in memory, for test benches and `plugin check`.
#[derive(Debug, Default)]
pub struct MemoryKv(
    std::sync::Mutex<std::collections::BTreeMap<(String, String, String), Vec<u8>>>,
);

impl KvStore for MemoryKv {
    fn get(&self, site: &str, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let map = self.0.lock().map_err(|e| e.to_string())?;
        Ok(map
            .get(&(site.to_string(), plugin.to_string(), key.to_string()))
            .cloned())
    }

    fn set(&self, site: &str, plugin: &str, key: &str, value: &[u8]) -> Result<(), String> {
        let mut map = self.0.lock().map_err(|e| e.to_string())?;
        map.insert(
            (site.to_string(), plugin.to_string(), key.to_string()),
            value.to_vec(),
        );
        Ok(())
    }

    fn delete(&self, site: &str, plugin: &str, key: &str) -> Result<(), String> {
        let mut map = self.0.lock().map_err(|e| e.to_string())?;
        map.remove(&(site.to_string(), plugin.to_string(), key.to_string()));
        Ok(())
    }
}

/// What the imports need to know about their caller.
#[derive(Clone)]
pub struct HostContext {
    /// Site id.
    pub site: String,
    /// Plugin name.
    pub plugin: String,
    /// Site time zone.
    pub zone: Tz,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Key-value storage.
    pub kv: Arc<dyn KvStore>,
    /// Outbound HTTP for connectors; `None` denies every request.
    pub egress: Option<Arc<dyn Egress>>,
}

impl std::fmt::Debug for HostContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostContext")
            .field("site", &self.site)
            .field("plugin", &self.plugin)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

/// Tracks linear memory so the host can recycle an instance whose memory
/// grew past a mark, and reports a clear error when the cap is hit.
#[allow(missing_debug_implementations)]
pub struct MemoryGuard {
    limits: StoreLimits,
    /// Largest memory size seen, in bytes.
    pub peak_bytes: usize,
    /// Set when a growth was denied.
    pub denied: bool,
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // The limits trap on a denied growth, so note the denial first.
        let allowed = match self.limits.memory_growing(current, desired, maximum) {
            Ok(allowed) => allowed,
            Err(error) => {
                self.denied = true;
                return Err(error);
            }
        };
        if allowed {
            self.peak_bytes = self.peak_bytes.max(desired);
        } else {
            self.denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The data of one plugin store.
#[allow(missing_debug_implementations)]
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory accounting and cap.
    pub memory: MemoryGuard,
    /// Caller identity and services.
    pub host: HostContext,
}

/// Components built by Rust hold a few core instances; a Python-built one
/// holds more, so the bound leaves room.
const MAX_CORE_INSTANCES: usize = 64;

impl PluginState {
    /// A state with an empty WASI context and a memory cap of `memory_bytes`.
    pub fn new(host: HostContext, memory_bytes: u64) -> Self {
        let seed = seed_for(&host.site, &host.plugin);
        let mut wasi = WasiCtxBuilder::new();
        wasi.wall_clock(WasiWall(host.clock.clone()))
            .monotonic_clock(WasiMonotonic(host.clock.clone()))
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed))
            .insecure_random_seed(u128::from(seed))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(memory_bytes).unwrap_or(usize::MAX))
            .instances(MAX_CORE_INSTANCES)
            .trap_on_grow_failure(true)
            .build();
        PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            memory: MemoryGuard {
                limits,
                peak_bytes: 0,
                denied: false,
            },
            host,
        }
    }
}

/// A fixed seed per site and plugin: runs repeat exactly, and nothing
/// secret depends on a plugin's random numbers.
fn seed_for(site: &str, plugin: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (site, plugin).hash(&mut hasher);
    hasher.finish()
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct WasiWall(Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for WasiWall {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now().0).unwrap_or(0))
    }
}

struct WasiMonotonic(Arc<dyn Clock>);

impl wasmtime_wasi::HostMonotonicClock for WasiMonotonic {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        u64::try_from(self.0.now().0)
            .unwrap_or(0)
            .saturating_mul(1_000_000)
    }
}

impl wit_types::Host for PluginState {}

impl wit_host::Host for PluginState {
    fn log(&mut self, level: wit_host::Level, message: String, fields: Vec<(String, String)>) {
        let site = self.host.site.as_str();
        let plugin = self.host.plugin.as_str();
        // Plugins write ids and counts; the host caps the length of what
        // reaches its log all the same.
        let message: String = message.chars().take(512).collect();
        let fields = render_fields(&fields);
        match level {
            wit_host::Level::Trace => tracing::trace!(site, plugin, fields, "{message}"),
            wit_host::Level::Debug => tracing::debug!(site, plugin, fields, "{message}"),
            wit_host::Level::Info => tracing::info!(site, plugin, fields, "{message}"),
            wit_host::Level::Warn => tracing::warn!(site, plugin, fields, "{message}"),
            wit_host::Level::Error => tracing::error!(site, plugin, fields, "{message}"),
        }
    }

    fn now(&mut self) -> i64 {
        self.host.clock.now().0
    }

    fn to_local(&mut self, at: i64) -> wit_host::LocalTime {
        let local = local_time_in(self.host.zone, switchboard_sdk::Timestamp(at));
        wit_host::LocalTime {
            date: wit_host::Date {
                year: local.date.year,
                month: local.date.month,
                day: local.date.day,
            },
            weekday: local.weekday.into(),
            minute: local.minute,
            offset_minutes: local.offset_minutes,
        }
    }

    fn from_local(&mut self, date: wit_host::Date, minute: u16) -> i64 {
        let date = switchboard_sdk::host::Date {
            year: date.year,
            month: date.month,
            day: date.day,
        };
        from_local_in(self.host.zone, date, minute).0
    }
}

fn render_fields(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in fields.iter().take(16) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(key.chars().take(64));
        out.push('=');
        out.extend(value.chars().take(128));
    }
    out
}

impl wit_kv::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, wit_kv::KvError> {
        check_key(&key)?;
        self.host
            .kv
            .get(&self.host.site, &self.host.plugin, &key)
            .map_err(wit_kv::KvError::Store)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), wit_kv::KvError> {
        check_key(&key)?;
        if value.len() > switchboard_sdk::host::kv::MAX_VALUE_BYTES {
            return Err(wit_kv::KvError::TooLarge(format!(
                "value of {} bytes is over the {} byte limit",
                value.len(),
                switchboard_sdk::host::kv::MAX_VALUE_BYTES
            )));
        }
        self.host
            .kv
            .set(&self.host.site, &self.host.plugin, &key, &value)
            .map_err(wit_kv::KvError::Store)
    }

    fn delete(&mut self, key: String) -> Result<(), wit_kv::KvError> {
        check_key(&key)?;
        self.host
            .kv
            .delete(&self.host.site, &self.host.plugin, &key)
            .map_err(wit_kv::KvError::Store)
    }
}

fn check_key(key: &str) -> Result<(), wit_kv::KvError> {
    if key.len() > switchboard_sdk::host::kv::MAX_KEY_BYTES {
        return Err(wit_kv::KvError::TooLarge(format!(
            "key of {} bytes is over the {} byte limit",
            key.len(),
            switchboard_sdk::host::kv::MAX_KEY_BYTES
        )));
    }
    Ok(())
}

impl wit_http::Host for PluginState {
    fn send(
        &mut self,
        request: wit_http::Request,
    ) -> Result<wit_http::Response, wit_http::HttpError> {
        let Some(egress) = self.host.egress.clone() else {
            return Err(wit_http::HttpError::Denied(format!(
                "{}: this plugin has no HTTP access at this site",
                request.url
            )));
        };
        let request = EgressRequest {
            site: self.host.site.clone(),
            plugin: self.host.plugin.clone(),
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            credential: request.credential,
        };
        egress
            .send(request)
            .map(|r| wit_http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(Into::into)
    }
}
