//! The critical-result fallback: a critical result whose routing failed,
//! or that stayed unclaimed past its due time, goes to the site's
//! `fallback_owner` and raises an alert, so it never waits silently.
//!
//! The alert is an error log line starting with `ALERT`, the
//! `switchboard_critical_fallbacks_total` counter and, when the site sets
//! `nudge_webhook`, a webhook post. Each version of a critical result
//! triggers the fallback at most once: a marker in the scheduler's
//! key-value namespace records it, so a later tick neither reassigns nor
//! alerts again, even after the fallback owner hands the result back to
//! the pool. A corrected result (a new version from the EHR) that is
//! stranded again triggers it again.

use std::sync::atomic::Ordering;

use switchboard_engine::model::ENGINE_ACTOR;
use switchboard_engine::{Item, ItemStatus, Reassignment};
use switchboard_sdk::{Person, ResultFlag, Timestamp};

use super::webhook::{self, AlertCause};
use super::{NUDGE_BATCH, SCHEDULE_KV};
use crate::app::App;
use crate::sites::SiteState;

/// A critical result that needs the fallback owner.
struct Stranded {
    item: Item,
    cause: AlertCause,
    /// The routing failure's message, for a dead letter.
    failure: Option<String>,
}

/// Sends every stranded critical result of a site to its fallback owner.
/// Does nothing for a site without `fallback_owner`.
///
/// # Errors
///
/// Store failures while listing candidates, and a fallback owner missing
/// from the roster (site validation rejects that, so it means a bug). A
/// failure on one item is logged and counted, and the others still go.
pub(super) fn run(app: &App, state: &SiteState, now: Timestamp) -> Result<(), String> {
    let Some(owner_id) = &state.config.fallback_owner else {
        return Ok(());
    };
    let site = state.config.id.as_str();
    let owner = state.site.person(owner_id).ok_or_else(|| {
        format!("fallback_owner {owner_id:?} is not in the roster of site {site}; add them to [[people]]")
    })?;

    for stranded in stranded(app, site, now)? {
        send_to_fallback(app, state, owner, stranded, now);
    }
    Ok(())
}

/// Lists the site's critical dead letters, then its critical results still
/// unclaimed (`ready`) after their due time.
fn stranded(app: &App, site: &str, now: Timestamp) -> Result<Vec<Stranded>, String> {
    let mut found = Vec::new();

    let letters = app
        .engine
        .dead_letters(Some(site))
        .map_err(|e| e.to_string())?;
    for letter in letters {
        let item = app
            .engine
            .item(site, letter.item)
            .map_err(|e| e.to_string())?;
        if item.flag == ResultFlag::Critical {
            found.push(Stranded {
                item,
                cause: AlertCause::RoutingFailed,
                failure: Some(letter.failure.message),
            });
        }
    }

    let overdue = app
        .engine
        .due_before(site, now, NUDGE_BATCH)
        .map_err(|e| e.to_string())?;
    for item in overdue {
        if item.flag == ResultFlag::Critical && item.status == ItemStatus::Ready {
            found.push(Stranded {
                item,
                cause: AlertCause::Unclaimed,
                failure: None,
            });
        }
    }
    Ok(found)
}

/// Reassigns one stranded result to the fallback owner (unless it is
/// already theirs), marks it handled and raises the alert.
fn send_to_fallback(
    app: &App,
    state: &SiteState,
    owner: &Person,
    stranded: Stranded,
    now: Timestamp,
) {
    let site = state.config.id.as_str();
    let item = &stranded.item;
    let marker = marker_key(item);
    match app.engine.kv_get(site, SCHEDULE_KV, &marker) {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(error) => {
            app.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(site, item = item.id.0, %error, "ALERT: failed to read whether a critical result went to the fallback owner; it is tried again at the next tick");
            return;
        }
    }

    let role = fallback_role(item, owner);
    let already_theirs = item.person() == Some(owner.id.as_str());
    if !already_theirs {
        let to = Reassignment {
            role: role.clone(),
            person: Some(owner.id.clone()),
            reason: reassign_reason(&stranded),
        };
        if let Err(error) = app.engine.reassign(site, item.id, ENGINE_ACTOR, &to) {
            app.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(site, item = item.id.0, fallback = %owner.id, %error, "ALERT: failed to send a critical result to the fallback owner; act on it by hand");
            return;
        }
    }

    if let Err(error) = app
        .engine
        .kv_set(site, SCHEDULE_KV, &marker, now.to_string().into_bytes())
    {
        app.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(site, item = item.id.0, %error, "failed to record that a critical result went to the fallback owner; the next tick alerts again");
    }
    app.stats.critical_fallbacks.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        site,
        item = item.id.0,
        fallback = %owner.id,
        cause = stranded.cause.as_str(),
        failure = stranded.failure.as_deref().unwrap_or("-"),
        already_theirs,
        "ALERT: critical result sent to the fallback owner"
    );
    if let Some(url) = &state.config.nudge_webhook {
        let body = webhook::alert_body(site, item.id, stranded.cause, &role, &owner.id);
        webhook::send(&app.stats, url, site, item.id.0, body);
    }
}

/// Returns the key of the marker recording that this version of `item`
/// went to the fallback owner. Markers stay after the item closes: one
/// small key-value entry per fallback.
fn marker_key(item: &Item) -> String {
    format!("critical-fallback/{}/{}", item.id, item.source.version)
}

/// Returns the item's current role when the fallback owner has it, so the
/// result stays in the pool it was routed to, and else the owner's first
/// role.
fn fallback_role(item: &Item, owner: &Person) -> String {
    match &item.owner {
        Some(current) if owner.has_role(&current.role) => current.role.clone(),
        _ => owner.roles.first().cloned().unwrap_or_default(),
    }
}

fn reassign_reason(stranded: &Stranded) -> String {
    let explanation = match (&stranded.cause, &stranded.failure) {
        (AlertCause::RoutingFailed, Some(message)) => format!("routing failed ({message})"),
        (AlertCause::RoutingFailed, None) => "routing failed".to_string(),
        (AlertCause::Unclaimed, _) => "nobody claimed it by its due time".to_string(),
    };
    format!("critical result: {explanation}; sent to the site's fallback owner")
}
