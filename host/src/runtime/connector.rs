//! A connector plugin configured for one site.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use switchboard_sdk as sdk;

use super::Runtime;
use super::bindings::{self, connector::Connector};
use super::error::PluginError;
use super::instance::{CallStats, Live, SlotRef, new_store, run_call, with_live};
use super::load::{LoadedPlugin, Pre};
use super::state::HostContext;

/// What a connector call returned: the batch, or the connector's own error.
pub type ConnectorResult<T> = Result<T, sdk::ConnectorError>;

/// A connector instance slot for one site. Calls are serialized per slot.
pub struct ConnectorPlugin {
    runtime: Runtime,
    loaded: LoadedPlugin,
    host: HostContext,
    config: String,
    live: Mutex<Option<Live<Connector>>>,
    /// Call counters.
    pub stats: CallStats,
}

impl std::fmt::Debug for ConnectorPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorPlugin")
            .field("plugin", &self.loaded)
            .field("site", &self.host.site)
            .finish_non_exhaustive()
    }
}

impl ConnectorPlugin {
    /// Instantiates the connector and calls `configure`.
    ///
    /// # Errors
    ///
    /// [`PluginError::Config`] when the connector rejects its configuration;
    /// a call failure when `configure` traps or overruns.
    pub fn new(
        runtime: &Runtime,
        loaded: LoadedPlugin,
        host: HostContext,
        config: &str,
    ) -> Result<Self, PluginError> {
        let plugin = ConnectorPlugin {
            runtime: runtime.clone(),
            loaded,
            host,
            config: config.to_string(),
            live: Mutex::new(None),
            stats: CallStats::default(),
        };
        let live = plugin.instantiate()?;
        plugin.loaded.start_optimizing();
        *plugin
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(live);
        Ok(plugin)
    }

    /// The loaded component this slot runs.
    pub fn loaded(&self) -> &LoadedPlugin {
        &self.loaded
    }

    fn name(&self) -> &str {
        &self.loaded.manifest.name
    }

    fn instantiate(&self) -> Result<Live<Connector>, PluginError> {
        let (pre, quick) = self.loaded.upgraded_pre();
        let Pre::Connector(pre) = pre else {
            return Err(PluginError::WrongWorld {
                plugin: self.name().to_string(),
                expected: "connector",
                found: "policy".to_string(),
            });
        };
        let limits = self.loaded.limits;
        let mut store = new_store(pre.engine(), &self.host, &limits);
        let bindings = pre.instantiate(&mut store).map_err(|e| PluginError::Link {
            plugin: self.name().to_string(),
            message: format!("{e:#}"),
        })?;
        self.stats.instances.fetch_add(1, Ordering::Relaxed);

        let mut live = Live {
            store,
            bindings,
            calls: 0,
            quick,
        };
        let config = self.config.as_str();
        let outcome = run_call(
            &mut live,
            self.name(),
            "configure",
            limits.call_ms,
            limits.memory_bytes,
            |store, b| {
                b.switchboard_plugin_connector_api()
                    .call_configure(store, config)
            },
        )?;
        outcome.map_err(|error| PluginError::Config {
            plugin: self.name().to_string(),
            error: bindings::config_error_in(error),
        })?;
        live.calls = 0;
        Ok(live)
    }

    fn with_live<R>(
        &self,
        call: &'static str,
        f: impl FnOnce(
            &mut wasmtime::Store<super::state::PluginState>,
            &Connector,
        ) -> wasmtime::Result<R>,
        size_of: impl FnOnce(&R) -> usize,
    ) -> Result<R, PluginError> {
        let limits = self.loaded.limits;
        let slot = SlotRef {
            runtime: &self.runtime,
            plugin: self.name(),
            site: &self.host.site,
            limits,
            live: &self.live,
            stats: &self.stats,
            upgrade_ready: self.loaded.upgrade_ready(),
        };
        with_live(
            slot,
            call,
            limits.poll_ms,
            || self.instantiate(),
            f,
            size_of,
        )
    }

    /// Maps one pushed message.
    ///
    /// # Errors
    ///
    /// A [`PluginError`] when the call failed; the connector's own verdict
    /// (a malformed message) is the inner result.
    pub fn accept(
        &self,
        message: &[u8],
        content_type: &str,
    ) -> Result<ConnectorResult<sdk::Batch>, PluginError> {
        let result = self.with_live(
            "accept",
            |store, b| {
                b.switchboard_plugin_connector_api()
                    .call_accept(store, message, content_type)
            },
            |r| r.as_ref().map_or(0, bindings::batch_size),
        )?;
        Ok(result
            .map(bindings::batch_in)
            .map_err(bindings::connector_error_in))
    }

    /// Pulls one page after `cursor`.
    ///
    /// # Errors
    ///
    /// As [`ConnectorPlugin::accept`].
    pub fn poll(
        &self,
        cursor: Option<&str>,
    ) -> Result<ConnectorResult<sdk::PollResult>, PluginError> {
        let result = self.with_live(
            "poll",
            |store, b| {
                b.switchboard_plugin_connector_api()
                    .call_poll(store, cursor)
            },
            |r| r.as_ref().map_or(0, |p| bindings::batch_size(&p.batch)),
        )?;
        Ok(result
            .map(bindings::poll_result_in)
            .map_err(bindings::connector_error_in))
    }

    /// Reads one page of history from `since`.
    ///
    /// # Errors
    ///
    /// As [`ConnectorPlugin::accept`].
    pub fn backfill(
        &self,
        since: sdk::Timestamp,
        cursor: Option<&str>,
    ) -> Result<ConnectorResult<sdk::PollResult>, PluginError> {
        let result = self.with_live(
            "backfill",
            |store, b| {
                b.switchboard_plugin_connector_api()
                    .call_backfill(store, since.0, cursor)
            },
            |r| r.as_ref().map_or(0, |p| bindings::batch_size(&p.batch)),
        )?;
        Ok(result
            .map(bindings::poll_result_in)
            .map_err(bindings::connector_error_in))
    }
}
