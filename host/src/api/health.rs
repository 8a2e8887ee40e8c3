//! `/healthz` and `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::problem::{ApiError, ApiResult};
use crate::app::App;
use crate::config::TokenScope;

/// Load state of one plugin slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotHealth {
    /// Slot name.
    pub slot: String,
    /// Plugin and version.
    pub plugin: String,
    /// `active`.
    pub state: String,
}

/// Health of one site.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteHealth {
    /// `active`, or `rejected` when the last reload failed (the previous
    /// version still runs).
    pub state: String,
    /// Active slots.
    pub slots: Vec<SlotHealth>,
    /// Why the last reload failed.
    pub errors: Vec<String>,
}

/// The host's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `loading` while site files load at start-up, then `ok`, or
    /// `stopping` during shutdown.
    pub status: String,
    /// Per site.
    pub sites: BTreeMap<String, SiteHealth>,
}

/// Liveness and per-plugin load state; no token needed, ids only.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz(State(app): State<Arc<App>>) -> Json<Health> {
    let status = if !app.accepting.load(Ordering::SeqCst) {
        "stopping"
    } else if app.loading.load(Ordering::SeqCst) {
        "loading"
    } else {
        "ok"
    };
    let failures = app.sites.failures();
    let mut sites = BTreeMap::new();
    for id in app.sites.ids() {
        let Some(handle) = app.sites.get(&id) else {
            continue;
        };
        let state = handle.state();
        let slots = state
            .slots
            .iter()
            .map(|(key, slot)| SlotHealth {
                slot: key.to_string(),
                plugin: format!("{}@{}", slot.source.plugin.name, slot.source.plugin.version),
                state: "active".to_string(),
            })
            .collect();
        let errors = failures.get(&id).cloned().unwrap_or_default();
        let state = if errors.is_empty() {
            "active"
        } else {
            "rejected"
        };
        sites.insert(
            id,
            SiteHealth {
                state: state.to_string(),
                slots,
                errors,
            },
        );
    }
    for (id, errors) in failures {
        sites.entry(id).or_insert(SiteHealth {
            state: "failed".to_string(),
            slots: Vec::new(),
            errors,
        });
    }
    Json(Health {
        status: status.to_string(),
        sites,
    })
}

/// Prometheus text exposition of the host's counters and per-site gauges.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(app): State<Arc<App>>, auth: Auth) -> ApiResult<impl IntoResponse> {
    if !auth.0.scopes.contains(&TokenScope::Metrics) {
        return Err(ApiError::forbidden(format!(
            "token {:?} lacks the metrics scope",
            auth.0.name
        )));
    }
    let s = &app.stats;
    let mut out = String::new();
    let counters = [
        (
            "switchboard_batches_total",
            "Batches ingested.",
            s.batches.load(Ordering::Relaxed),
        ),
        (
            "switchboard_items_total",
            "Items ingested.",
            s.items.load(Ordering::Relaxed),
        ),
        (
            "switchboard_rejects_total",
            "Inputs rejected by a connector or the engine.",
            s.rejects.load(Ordering::Relaxed),
        ),
        (
            "switchboard_routed_total",
            "Items routed.",
            s.routed.load(Ordering::Relaxed),
        ),
        (
            "switchboard_dead_letters_total",
            "Items kept as dead letters.",
            s.dead_letters.load(Ordering::Relaxed),
        ),
        (
            "switchboard_nudges_total",
            "Nudges sent.",
            s.nudges.load(Ordering::Relaxed),
        ),
        (
            "switchboard_critical_fallbacks_total",
            "Critical results sent to the fallback owner.",
            s.critical_fallbacks.load(Ordering::Relaxed),
        ),
        (
            "switchboard_log_errors_total",
            "Errors logged by background work.",
            s.errors.load(Ordering::Relaxed),
        ),
        (
            "switchboard_log_warnings_total",
            "Warnings logged by background work.",
            s.warnings.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }

    let _ = writeln!(
        out,
        "# HELP switchboard_open_items Open items per site and role.\n# TYPE switchboard_open_items gauge"
    );
    let _ = writeln!(
        out,
        "# HELP switchboard_plugin_calls_total Plugin calls per site and slot.\n# TYPE switchboard_plugin_calls_total counter"
    );
    let app2 = app.clone();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = String::new();
        for site in app2.sites.ids() {
            if let Ok(counts) = app2.engine.counts(&site) {
                for (role, count) in &counts.roles {
                    let _ = writeln!(
                        lines,
                        "switchboard_open_items{{site=\"{site}\",role=\"{role}\"}} {}",
                        count.open()
                    );
                }
                let _ = writeln!(
                    lines,
                    "switchboard_dead_letters{{site=\"{site}\"}} {}",
                    counts.dead_letters
                );
                let _ = writeln!(
                    lines,
                    "switchboard_pending_items{{site=\"{site}\"}} {}",
                    counts.pending
                );
            }
            if let Some(handle) = app2.sites.get(&site) {
                for (key, slot) in &handle.state().slots {
                    let stats = match &slot.plugin {
                        crate::sites::ActivePlugin::Policy(p) => p.stats.snapshot(),
                        crate::sites::ActivePlugin::Connector(c) => c.stats.snapshot(),
                    };
                    let _ = writeln!(
                        lines,
                        "switchboard_plugin_calls_total{{site=\"{site}\",slot=\"{key}\"}} {}",
                        stats.0
                    );
                    let _ = writeln!(
                        lines,
                        "switchboard_plugin_failures_total{{site=\"{site}\",slot=\"{key}\"}} {}",
                        stats.1
                    );
                }
            }
        }
        lines
    })
    .await
    .map_err(ApiError::internal)?;
    out.push_str(&lines);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    ))
}
