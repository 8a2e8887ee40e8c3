//! A policy plugin configured for one site.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use switchboard_sdk as sdk;

use super::Runtime;
use wasmtime::component::{Func, Instance};

use super::bindings::{self, borrowed, policy::Policy};
use super::error::PluginError;
use super::instance::{CallStats, Live, SlotRef, new_store, run_call, with_live};
use super::load::{INTERFACE_VERSION, LoadedPlugin, PACKAGE_PREFIX, Pre};
use super::state::{HostContext, PluginState};

/// A policy instance's generated bindings and its routing exports.
/// [`PolicyPlugin::route`] calls `policy-packed.route` when the component
/// exports it and `policy-api.route`, with borrowed arguments, otherwise.
pub(super) struct PolicyExports {
    api: Policy,
    route: Func,
    packed: Option<Func>,
}

/// A policy instance slot for one site. Calls on one `PolicyPlugin` are
/// serialized; a swap to a new version builds a new `PolicyPlugin`, so calls
/// already running finish on the old one.
pub struct PolicyPlugin {
    runtime: Runtime,
    loaded: LoadedPlugin,
    host: HostContext,
    site: bindings::wit::Site,
    config: String,
    live: Mutex<Option<Live<PolicyExports>>>,
    /// Call counters.
    pub stats: CallStats,
}

impl std::fmt::Debug for PolicyPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyPlugin")
            .field("plugin", &self.loaded)
            .field("site", &self.host.site)
            .finish_non_exhaustive()
    }
}

impl PolicyPlugin {
    /// Instantiates the policy and calls `configure`, so a candidate whose
    /// configuration fails never becomes active.
    ///
    /// # Errors
    ///
    /// [`PluginError::Config`] when the policy rejects its configuration; a
    /// call failure when `configure` traps or overruns.
    pub fn new(
        runtime: &Runtime,
        loaded: LoadedPlugin,
        host: HostContext,
        site: &sdk::Site,
        config: &str,
    ) -> Result<Self, PluginError> {
        let plugin = PolicyPlugin {
            runtime: runtime.clone(),
            loaded,
            host,
            site: bindings::site_out(site),
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

    fn instantiate(&self) -> Result<Live<PolicyExports>, PluginError> {
        let (pre, quick) = self.loaded.upgraded_pre();
        let Pre::Policy(pre) = pre else {
            return Err(PluginError::WrongWorld {
                plugin: self.name().to_string(),
                expected: "policy",
                found: "connector".to_string(),
            });
        };
        let limits = self.loaded.limits;
        let mut store = new_store(pre.engine(), &self.host, &limits);
        let bindings = instantiate_exports(pre, &mut store).map_err(|e| PluginError::Link {
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
        let site = &self.site;
        let config = self.config.as_str();
        let outcome = run_call(
            &mut live,
            self.name(),
            "configure",
            limits.call_ms,
            limits.memory_bytes,
            |store, b| {
                b.api
                    .switchboard_plugin_policy_api()
                    .call_configure(store, site, config)
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
        limit_ms: u64,
        f: impl FnOnce(&mut wasmtime::Store<PluginState>, &PolicyExports) -> wasmtime::Result<R>,
        size_of: impl FnOnce(&R) -> usize,
    ) -> Result<R, PluginError> {
        let slot = SlotRef {
            runtime: &self.runtime,
            plugin: self.name(),
            site: &self.host.site,
            limits: self.loaded.limits,
            live: &self.live,
            stats: &self.stats,
            upgrade_ready: self.loaded.upgrade_ready(),
        };
        with_live(slot, call, limit_ms, || self.instantiate(), f, size_of)
    }

    /// Routes a batch of items: one outcome per item, in order.
    ///
    /// # Errors
    ///
    /// A call failure ([`PluginError::is_call_failure`]) when the policy
    /// trapped, overran, or returned too much or something unreadable. No
    /// item was routed then.
    pub fn route(
        &self,
        items: &[sdk::RouteItem],
        context: &sdk::RouteContext,
    ) -> Result<Vec<sdk::packed::Outcome>, PluginError> {
        let load = borrowed::load(context);
        let wit_context = borrowed::context(context, &load);
        let outcomes = if self.loaded.packed_route {
            let mut packed = Vec::new();
            sdk::packed::pack_items(items, &mut packed);
            self.route_packed(&packed, &wit_context)?
        } else {
            self.route_typed(items, &wit_context)?
        };
        self.check_count(outcomes, items.len())
    }

    /// Routes a batch that is already packed, as [`PolicyPlugin::route`]
    /// routes items. A caller that reads items from text packs them with
    /// [`sdk::packed::Packer`] and skips building [`sdk::RouteItem`]s.
    ///
    /// # Errors
    ///
    /// As for [`PolicyPlugin::route`].
    pub fn route_batch(
        &self,
        batch: &mut sdk::packed::Packer,
        context: &sdk::RouteContext,
    ) -> Result<Vec<sdk::packed::Outcome>, PluginError> {
        let load = borrowed::load(context);
        let wit_context = borrowed::context(context, &load);
        let outcomes = if self.loaded.packed_route {
            self.route_packed(batch.bytes(), &wit_context)?
        } else {
            let items = sdk::packed::unpack_items(batch.bytes())
                .expect("a Packer writes the packed layout");
            self.route_typed(&items, &wit_context)?
        };
        self.check_count(outcomes, batch.len())
    }

    /// Fails the call when the policy did not return one outcome per item.
    fn check_count(
        &self,
        outcomes: Vec<sdk::packed::Outcome>,
        items: usize,
    ) -> Result<Vec<sdk::packed::Outcome>, PluginError> {
        if outcomes.len() != items {
            return Err(self.discard_live(PluginError::BadResult {
                plugin: self.name().to_string(),
                call: "route",
                expected: items,
                got: outcomes.len(),
            }));
        }
        Ok(outcomes)
    }

    /// Routes through `policy-packed.route`: one copy of the batch into the
    /// guest and one copy of the outcomes out.
    fn route_packed(
        &self,
        packed: &[u8],
        context: &borrowed::RouteContextRef<'_>,
    ) -> Result<Vec<sdk::packed::Outcome>, PluginError> {
        let bytes = self.with_live(
            "route",
            self.loaded.limits.route_ms,
            |store, b| {
                let export = b.packed.as_ref().ok_or_else(|| {
                    wasmtime::format_err!("the instance lost its policy-packed export")
                })?;
                let route = export.typed::<borrowed::PackedParams<'_>, (Vec<u8>,)>(&*store)?;
                let (bytes,) = route.call(store, (packed, context))?;
                Ok(bytes)
            },
            Vec::len,
        )?;

        sdk::packed::unpack_outcomes(&bytes).map_err(|error| {
            self.discard_live(PluginError::Unreadable {
                plugin: self.name().to_string(),
                call: "route",
                message: error.to_string(),
            })
        })
    }

    /// Routes through `policy-api.route`, for components without the packed
    /// export.
    fn route_typed(
        &self,
        items: &[sdk::RouteItem],
        context: &borrowed::RouteContextRef<'_>,
    ) -> Result<Vec<sdk::packed::Outcome>, PluginError> {
        let attributes = borrowed::attributes(items);
        let wit_items = borrowed::items(items, &attributes);

        let outcomes = self.with_live(
            "route",
            self.loaded.limits.route_ms,
            |store, b| {
                let route = b
                    .route
                    .typed::<borrowed::RouteParams<'_>, borrowed::RouteResults>(&*store)?;
                let (outcomes,) = route.call(store, (&wit_items, context))?;
                Ok(outcomes)
            },
            |r| r.iter().map(bindings::outcome_size).sum(),
        )?;
        Ok(outcomes.into_iter().map(bindings::outcome_in).collect())
    }

    /// Drops the live instance after a result the host could not use, so
    /// that the next call starts a fresh one, as after a trap. Returns
    /// `error` for the caller to raise.
    fn discard_live(&self, error: PluginError) -> PluginError {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        tracing::warn!(site = self.host.site, plugin = self.name(), call = "route", %error, "plugin call failed; instance discarded");
        error
    }

    /// Asks the policy for the nudges due at `now`.
    ///
    /// # Errors
    ///
    /// A call failure as for [`PolicyPlugin::route`].
    pub fn nudges(
        &self,
        items: &[sdk::OpenItem],
        now: sdk::Timestamp,
    ) -> Result<Vec<sdk::Nudge>, PluginError> {
        let wit_items: Vec<_> = items.iter().map(bindings::open_item_out).collect();
        let limit_ms = self.loaded.limits.call_ms;
        let nudges = self.with_live(
            "nudges",
            limit_ms,
            |store, b| {
                b.api
                    .switchboard_plugin_policy_api()
                    .call_nudges(store, &wit_items, now.0)
            },
            |r| r.iter().map(|n| n.role.len() + n.message.len() + 48).sum(),
        )?;
        Ok(nudges.into_iter().map(bindings::nudge_in).collect())
    }

    /// Asks the policy for prep items for `visits`.
    ///
    /// # Errors
    ///
    /// A call failure as for [`PolicyPlugin::route`].
    pub fn prepare(
        &self,
        visits: &[sdk::PrepVisit],
        now: sdk::Timestamp,
    ) -> Result<Vec<sdk::PrepItem>, PluginError> {
        let wit_visits: Vec<_> = visits.iter().map(bindings::prep_visit_out).collect();
        let limit_ms = self.loaded.limits.call_ms;
        let items = self.with_live(
            "prepare",
            limit_ms,
            |store, b| {
                b.api
                    .switchboard_plugin_policy_api()
                    .call_prepare(store, &wit_visits, now.0)
            },
            |r| {
                r.iter()
                    .map(|p| p.appointment.len() + p.slug.len() + p.title.len() + 48)
                    .sum()
            },
        )?;
        Ok(items.into_iter().map(bindings::prep_item_in).collect())
    }
}

/// Instantiates a policy and looks up its `route` export.
fn instantiate_exports(
    pre: &bindings::policy::PolicyPre<PluginState>,
    store: &mut wasmtime::Store<PluginState>,
) -> wasmtime::Result<PolicyExports> {
    let instance = pre.instance_pre().instantiate(&mut *store)?;
    let api = Policy::new(&mut *store, &instance)?;
    let missing = || wasmtime::format_err!("the component does not export policy-api#route");
    let route = route_export(store, &instance, "policy-api").ok_or_else(missing)?;
    let packed = route_export(store, &instance, "policy-packed");
    if let Some(packed) = &packed {
        // Checked once here, so that a wrong signature rejects the candidate
        // instead of failing every batch.
        packed
            .typed::<borrowed::PackedParams<'_>, (Vec<u8>,)>(&*store)
            .map_err(|e| e.context("policy-packed#route has the wrong signature"))?;
    }
    Ok(PolicyExports { api, route, packed })
}

/// The `route` function of the component's `interface` export, if any.
fn route_export(
    store: &mut wasmtime::Store<PluginState>,
    instance: &Instance,
    interface: &str,
) -> Option<Func> {
    let interface = format!("{PACKAGE_PREFIX}{interface}@{INTERFACE_VERSION}");
    let api = instance.get_export_index(&mut *store, None, &interface)?;
    let route = instance.get_export_index(&mut *store, Some(&api), "route")?;
    instance.get_func(&mut *store, route)
}
