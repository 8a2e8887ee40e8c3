//! Site administration: sites, plugins, reload history, rollback, shadow
//! mode, dead letters and the audit trail.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_engine::ItemId;
use utoipa::ToSchema;

use super::auth::Auth;
use super::blocking;
use super::extract::{Json, Path, Query};
use super::lookup::loaded_site;
use super::problem::{ApiError, ApiResult, Problem};
use crate::app::App;
use crate::config::TokenScope;
use crate::sites::{SlotKey, SlotKind};

/// A site as the API lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    /// Site id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Roster person ids.
    pub people: Vec<String>,
}

/// Sites the token may see.
#[utoipa::path(get, path = "/v1/sites", responses((status = 200, body = Vec<SiteView>)))]
pub async fn list_sites(State(app): State<Arc<App>>, auth: Auth) -> ApiResult<Json<Vec<SiteView>>> {
    let mut out = Vec::new();
    for id in app.sites.ids() {
        if !(auth.0.allows(&id, TokenScope::Staff) || auth.0.allows(&id, TokenScope::Admin)) {
            continue;
        }
        let Some(handle) = app.sites.get(&id) else {
            continue;
        };
        let state = handle.state();
        out.push(SiteView {
            id: id.clone(),
            name: state.config.name.clone(),
            time_zone: state.config.time_zone.clone(),
            roles: state.site.roles.iter().map(|r| r.name.clone()).collect(),
            people: state.site.people.iter().map(|p| p.id.clone()).collect(),
        });
    }
    Ok(Json(out))
}

/// One slot's plugin and health.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    /// `routing`, `shadow`, `nudges`, `prep`, or `connector`.
    pub slot: String,
    /// Connector instance name.
    pub instance: Option<String>,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// SHA-256 of the plugin files.
    pub sha256: String,
    /// Interface version compiled into the component.
    pub interface: String,
    /// When it became active (RFC 3339).
    pub activated_at: String,
    /// Calls that returned.
    pub calls: u64,
    /// Calls stopped by a limit or trap.
    pub failures: u64,
    /// Instances created.
    pub instances: u64,
}

/// Plugins active at a site, with the last reload error.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginsView {
    /// Active slots.
    pub slots: Vec<SlotView>,
    /// Reasons the last reload was rejected, empty when it applied.
    pub last_error: Vec<String>,
}

fn slot_views(app: &App, site: &str) -> ApiResult<Vec<SlotView>> {
    let handle = app
        .sites
        .get(site)
        .ok_or_else(|| ApiError::not_found(format!("site {site:?} is not running")))?;
    let state = handle.state();
    let mut slots = Vec::new();
    for (key, active) in &state.slots {
        let (stats, loaded) = match &active.plugin {
            crate::sites::ActivePlugin::Policy(p) => (p.stats.snapshot(), p.loaded()),
            crate::sites::ActivePlugin::Connector(c) => (c.stats.snapshot(), c.loaded()),
        };
        slots.push(SlotView {
            slot: key.kind.as_str().to_string(),
            instance: (!key.instance.is_empty()).then(|| key.instance.clone()),
            plugin: active.source.plugin.name.clone(),
            version: active.source.plugin.version.clone(),
            sha256: active.source.plugin.sha256.clone(),
            interface: loaded.interface.clone(),
            activated_at: active.activated_at.to_string(),
            calls: stats.0,
            failures: stats.1,
            instances: stats.2,
        });
    }
    Ok(slots)
}

/// The site's plugins.
#[utoipa::path(get, path = "/v1/sites/{site}/plugins", params(("site" = String, Path)), responses((status = 200, body = PluginsView)))]
pub async fn plugins(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
) -> ApiResult<Json<PluginsView>> {
    auth.require(&site, TokenScope::Admin)?;
    let slots = slot_views(&app, &site)?;
    let last_error = app.sites.failures().remove(&site).unwrap_or_default();
    Ok(Json(PluginsView { slots, last_error }))
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Ids and hashes.
    pub detail: String,
}

/// Paging of audit reads.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries to return, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
    /// Only actions starting with this text, such as `plugin.`.
    pub action: Option<String>,
}

/// Default number of audit entries returned.
const DEFAULT_AUDIT_ENTRIES: usize = 100;

/// Most audit entries one request returns.
const MAX_AUDIT_ENTRIES: usize = 1000;

/// The site's audit trail, newest first.
#[utoipa::path(get, path = "/v1/sites/{site}/audit", params(("site" = String, Path), AuditParams),
    responses((status = 200, body = Vec<AuditView>), (status = 400, body = Problem), (status = 404, description = "unknown site", body = Problem)))]
pub async fn audit(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<Vec<AuditView>>> {
    auth.require(&site, TokenScope::Admin)?;
    loaded_site(&app, &site)?;
    let limit = super::worklists::page_size(
        "limit",
        params.limit,
        DEFAULT_AUDIT_ENTRIES,
        MAX_AUDIT_ENTRIES,
    )?;
    blocking(move || {
        let entries = app.engine.audit(
            Some(&site),
            if params.action.is_some() {
                10_000
            } else {
                limit
            },
        )?;
        Ok(entries
            .into_iter()
            .filter(|e| {
                params
                    .action
                    .as_deref()
                    .is_none_or(|prefix| e.action.starts_with(prefix))
            })
            .take(limit)
            .map(|e| AuditView {
                at: e.at.to_string(),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect())
    })
    .await
    .map(Json)
}

/// Parses a slot name: `routing`, `shadow`, `nudges`, `prep` or
/// `connector:<name>`.
pub fn parse_slot(text: &str) -> ApiResult<SlotKey> {
    let key = |kind| SlotKey {
        kind,
        instance: String::new(),
    };
    match text {
        "routing" => Ok(key(SlotKind::Routing)),
        "shadow" => Ok(key(SlotKind::Shadow)),
        "nudges" => Ok(key(SlotKind::Nudges)),
        "prep" => Ok(key(SlotKind::Prep)),
        other => match other.strip_prefix("connector:") {
            Some(name) if !name.is_empty() => Ok(SlotKey {
                kind: SlotKind::Connector,
                instance: name.to_string(),
            }),
            _ => Err(ApiError::bad_request(format!(
                "unknown slot {other:?}; use routing, shadow, nudges, prep or connector:<name>"
            ))),
        },
    }
}

/// Return a slot to its previous version.
#[utoipa::path(post, path = "/v1/sites/{site}/plugins/{slot}/rollback", params(("site" = String, Path), ("slot" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "unknown site", body = Problem), (status = 409, body = Problem)))]
pub async fn rollback(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, slot)): Path<(String, String)>,
) -> ApiResult<Json<crate::sites::ReloadEvent>> {
    auth.require(&site, TokenScope::Admin)?;
    loaded_site(&app, &site)?;
    let key = parse_slot(&slot)?;
    let actor = auth.0.actor().to_string();
    blocking(move || {
        app.sites
            .rollback(&site, &key, &actor)
            .map_err(ApiError::conflict)
    })
    .await
    .map(Json)
}

/// Where the shadow policy disagreed with the active one.
#[utoipa::path(get, path = "/v1/sites/{site}/shadow", params(("site" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "unknown site", body = Problem)))]
pub async fn shadow_report(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
) -> ApiResult<Json<crate::app::ShadowReport>> {
    auth.require(&site, TokenScope::Admin)?;
    loaded_site(&app, &site)?;
    Ok(Json(app.shadow.report(&site)))
}

/// Make the shadow policy the active one. The site file is rewritten
/// (`[shadow]` becomes `[routing]`) and reloaded; the previous routing
/// version stays available for rollback.
#[utoipa::path(post, path = "/v1/sites/{site}/shadow/promote", params(("site" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "unknown site", body = Problem), (status = 409, body = Problem)))]
pub async fn promote(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
) -> ApiResult<Json<crate::sites::ReloadEvent>> {
    auth.require(&site, TokenScope::Admin)?;
    loaded_site(&app, &site)?;
    let actor = auth.0.actor().to_string();
    blocking(move || crate::app::promote_shadow(&app, &site, &actor).map_err(ApiError::conflict))
        .await
        .map(Json)
}

/// A dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    /// Item id.
    pub item: u64,
    /// Connector instance.
    pub connector: String,
    /// The EHR's id.
    pub external_id: String,
    /// Category.
    pub category: String,
    /// Failure kind.
    pub kind: String,
    /// The error.
    pub message: String,
    /// Failed attempts.
    pub attempts: u32,
    /// When it last failed (RFC 3339).
    pub at: String,
}

/// Items whose routing failed.
#[utoipa::path(get, path = "/v1/sites/{site}/dead-letters", params(("site" = String, Path)),
    responses((status = 200, body = Vec<DeadLetterView>), (status = 404, description = "unknown site", body = Problem)))]
pub async fn dead_letters(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
) -> ApiResult<Json<Vec<DeadLetterView>>> {
    auth.require(&site, TokenScope::Admin)?;
    loaded_site(&app, &site)?;
    blocking(move || {
        let letters = app.engine.dead_letters(Some(&site))?;
        Ok(letters
            .into_iter()
            .map(|d| DeadLetterView {
                item: d.item.0,
                connector: d.connector,
                external_id: d.external_id,
                category: d.category.as_str().to_string(),
                kind: d.failure.kind.as_str().to_string(),
                message: d.failure.message,
                attempts: d.failure.attempts,
                at: d.failure.at.to_string(),
            })
            .collect())
    })
    .await
    .map(Json)
}

/// Body of a dead-letter retry.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Items to retry; every dead letter of the site when absent.
    #[serde(default)]
    pub items: Option<Vec<u64>>,
}

/// Route dead letters again.
#[utoipa::path(post, path = "/v1/sites/{site}/dead-letters/retry", params(("site" = String, Path)), request_body = RetryRequest,
    responses((status = 200, body = Object), (status = 404, description = "unknown site", body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn retry(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
    body: Option<Json<RetryRequest>>,
) -> ApiResult<Json<switchboard_engine::RouteReport>> {
    auth.require(&site, TokenScope::Admin)?;
    let actor = auth.0.actor().to_string();
    let ids: Option<Vec<ItemId>> = body
        .and_then(|Json(b)| b.items)
        .map(|ids| ids.into_iter().map(ItemId).collect());
    blocking(move || {
        Ok(app
            .engine
            .retry_dead_letters(&site, ids.as_deref(), &actor)?)
    })
    .await
    .map(Json)
}

/// Backlog report query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BacklogParams {
    /// Baseline dates, FIRST..LAST.
    pub baseline: String,
    /// Pilot dates, FIRST..LAST.
    pub pilot: String,
    /// Only this pod.
    pub pod: Option<String>,
}

/// Backlog KPIs over a baseline range and a pilot range, with percent change.
#[utoipa::path(get, path = "/v1/sites/{site}/backlog", params(("site" = String, Path), BacklogParams),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, description = "unknown site", body = Problem)))]
pub async fn backlog(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
    Query(params): Query<BacklogParams>,
) -> ApiResult<Json<switchboard_sim::metrics::Comparison>> {
    auth.require(&site, TokenScope::Admin)?;
    let baseline =
        crate::app::metrics::parse_range(&params.baseline).map_err(ApiError::bad_request)?;
    let pilot = crate::app::metrics::parse_range(&params.pilot).map_err(ApiError::bad_request)?;
    blocking(move || {
        let handle = app
            .sites
            .get(&site)
            .ok_or_else(|| ApiError::not_found(format!("site {site:?} is not running")))?;
        let state = handle.state();
        let input = crate::app::metrics::metrics_input(
            app.engine.store().as_ref(),
            &state.site,
            state.config.closing_minute(),
        )
        .map_err(ApiError::internal)?;
        let options = switchboard_sim::metrics::ReportOptions {
            pod: params.pod,
            as_of: Some(app.engine.now()),
        };
        let b = switchboard_sim::metrics::report(&input, baseline, &options);
        let p = switchboard_sim::metrics::report(&input, pilot, &options);
        Ok(switchboard_sim::metrics::compare(b, p))
    })
    .await
    .map(Json)
}
