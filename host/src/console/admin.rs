//! Site administration: the plugins each slot runs with their version,
//! SHA-256 and load state, the reload history, rollback, shadow-mode
//! disagreements with promotion, and dead letters with retry.
//!
//! Every page and form requires the admin scope at the site and calls what
//! the API's admin routes call: [`Sites::rollback`](crate::sites::Sites::rollback),
//! [`promote_shadow`], [`ShadowLog::report`](crate::app::ShadowLog::report)
//! and the engine's dead-letter functions.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_engine::ItemId;
use switchboard_engine::model::{AuditEntry, DeadLetter};

use super::csrf;
use super::format::{self, encode, local_time};
use super::page::{self, ConsoleResult, Frame, Section};
use super::session::{Viewer, redirect};
use crate::api::blocking;
use crate::api::problem::ApiError;
use crate::app::{App, ShadowReport, promote_shadow};
use crate::config::TokenScope;
use crate::sites::{ActivePlugin, SlotKey, SlotKind};

/// Reload history entries shown, newest first.
const HISTORY_SHOWN: usize = 50;

/// Audit entries searched for reload history. Worklist reads share the
/// trail, so the newest entries may all be reads; the API's audit route
/// searches as far when it filters by action.
const HISTORY_SEARCHED: usize = 10_000;

/// Shadow disagreements listed one by one.
const DISAGREEMENTS_SHOWN: usize = 20;

/// Audit actions that belong to the reload history.
const HISTORY_ACTIONS: [&str; 3] = ["plugin.", "site.", "shadow."];

/// One active slot as the plugins table shows it.
struct SlotRow {
    /// The slot as the rollback form names it: `routing` or `connector:<name>`.
    form_value: String,
    /// The slot for people: `routing` or `connector ehr`.
    label: String,
    plugin: String,
    version: String,
    sha256: String,
    interface: String,
    activated_at: switchboard_sdk::Timestamp,
    calls: u64,
    failures: u64,
    instances: u64,
}

/// Everything the admin page shows, read in one blocking step.
struct AdminData {
    name: String,
    zone: Tz,
    slots: Vec<SlotRow>,
    shadow_active: bool,
    /// Reasons the last reload was rejected, empty when it applied.
    errors: Vec<String>,
    history: Vec<AuditEntry>,
    shadow: ShadowReport,
    dead_letters: Vec<DeadLetter>,
}

/// The notice of the action just taken.
#[derive(Debug, Default, Deserialize)]
pub struct AdminParams {
    #[serde(default)]
    notice: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    routed: String,
    #[serde(default)]
    failed: String,
}

/// `GET /console/sites/{site}/admin`.
pub async fn page(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
    Query(params): Query<AdminParams>,
) -> ConsoleResult<Markup> {
    viewer.auth.require(&site, TokenScope::Admin)?;
    let data = {
        let (app, site) = (app.clone(), site.clone());
        blocking(move || read_admin(&app, &site)).await?
    };

    let title = format!("{}: plugins and dead letters", data.name);
    let body = html! {
        (plugins_section(&viewer, &site, &data))
        (history_section(&data))
        (shadow_section(&viewer, &site, &data))
        (dead_letters_section(&viewer, &site, &data))
    };
    Ok(page::render(
        Frame {
            title: &title,
            viewer: Some(&viewer),
            site: Some(&site),
            section: Section::Admin,
            notice: notice_text(&params),
        },
        body,
    ))
}

fn read_admin(app: &App, site: &str) -> Result<AdminData, ApiError> {
    let handle = app
        .sites
        .get(site)
        .ok_or_else(|| ApiError::not_found(format!("site {site:?} is not running")))?;
    let state = handle.state();
    let slots = state
        .slots
        .iter()
        .map(|(key, active)| {
            let (stats, loaded) = match &active.plugin {
                ActivePlugin::Policy(p) => (p.stats.snapshot(), p.loaded()),
                ActivePlugin::Connector(c) => (c.stats.snapshot(), c.loaded()),
            };
            SlotRow {
                form_value: slot_form_value(key),
                label: key.to_string(),
                plugin: active.source.plugin.name.clone(),
                version: active.source.plugin.version.clone(),
                sha256: active.source.plugin.sha256.clone(),
                interface: loaded.interface.clone(),
                activated_at: active.activated_at,
                calls: stats.0,
                failures: stats.1,
                instances: stats.2,
            }
        })
        .collect();

    let history = app
        .engine
        .audit(Some(site), HISTORY_SEARCHED)?
        .into_iter()
        .filter(|entry| HISTORY_ACTIONS.iter().any(|p| entry.action.starts_with(p)))
        .take(HISTORY_SHOWN)
        .collect();

    Ok(AdminData {
        name: state.config.name.clone(),
        zone: state.config.zone(),
        slots,
        shadow_active: state.shadow().is_some(),
        errors: app.sites.failures().remove(site).unwrap_or_default(),
        history,
        shadow: app.shadow.report(site),
        dead_letters: app.engine.dead_letters(Some(site))?,
    })
}

fn slot_form_value(key: &SlotKey) -> String {
    if key.kind == SlotKind::Connector {
        format!("connector:{}", key.instance)
    } else {
        key.kind.as_str().to_string()
    }
}

/// Parses a slot as the rollback form sends it, with the grammar of the
/// API's rollback route: `routing`, `shadow`, `nudges`, `prep` or
/// `connector:<name>`.
fn parse_slot(text: &str) -> Result<SlotKey, ApiError> {
    let policy = |kind| SlotKey {
        kind,
        instance: String::new(),
    };
    match text {
        "routing" => Ok(policy(SlotKind::Routing)),
        "shadow" => Ok(policy(SlotKind::Shadow)),
        "nudges" => Ok(policy(SlotKind::Nudges)),
        "prep" => Ok(policy(SlotKind::Prep)),
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

fn admin_url(site: &str) -> String {
    format!("/console/sites/{}/admin", encode(site))
}

/// Renders the hidden CSRF field every admin form carries.
fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(viewer.csrf); }
}

fn rollback_form(viewer: &Viewer, site: &str, slot: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("{}/rollback", admin_url(site))) {
            (csrf_field(viewer))
            input type="hidden" name="slot" value=(slot);
            button type="submit" { (label) }
        }
    }
}

fn plugins_section(viewer: &Viewer, site: &str, data: &AdminData) -> Markup {
    html! {
        section aria-labelledby="plugins-heading" {
            h2 #plugins-heading { "Active plugins" }
            @if data.errors.is_empty() {
                p { "Load state: every slot below is active and the last reload applied." }
            } @else {
                div.alert role="alert" {
                    p { strong { "The last reload was rejected." } " The versions below still run. Reasons:" }
                    ul { @for reason in &data.errors { li { (reason) } } }
                }
            }
            table.stack {
                caption { "Plugin per slot, with version, SHA-256 of its files and calls since it became active" }
                thead {
                    tr {
                        th scope="col" { "Slot" }
                        th scope="col" { "Plugin" }
                        th scope="col" { "SHA-256" }
                        th scope="col" { "State" }
                        th scope="col" { "Calls" }
                        th scope="col" { "Rollback" }
                    }
                }
                tbody {
                    @for slot in &data.slots {
                        tr id=(format!("slot-{}", slot.form_value.replace(':', "-"))) {
                            th scope="row" data-label="Slot" { (slot.label) }
                            td data-label="Plugin" {
                                (slot.plugin) " " span.version { (slot.version) }
                                br; span.muted { "interface " (slot.interface) }
                            }
                            td data-label="SHA-256" { code.hash { (slot.sha256) } }
                            td data-label="State" {
                                "active since " (local_time(slot.activated_at, data.zone))
                            }
                            td data-label="Calls" {
                                (slot.calls) " returned, " (slot.failures) " stopped by a limit or trap, "
                                (slot.instances) " instances"
                            }
                            td data-label="Rollback" {
                                (rollback_form(viewer, site, &slot.form_value,
                                    &format!("Roll back {} to its previous version", slot.label)))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn history_section(data: &AdminData) -> Markup {
    html! {
        section aria-labelledby="history-heading" {
            h2 #history-heading { "Reload history" }
            @if data.history.is_empty() {
                p { "No reload recorded yet." }
            } @else {
                table.stack {
                    caption { "Activations, rejections, rollbacks and promotions, newest first (at most " (HISTORY_SHOWN) ")" }
                    thead {
                        tr {
                            th scope="col" { "When" }
                            th scope="col" { "Who" }
                            th scope="col" { "What" }
                            th scope="col" { "Detail" }
                        }
                    }
                    tbody {
                        @for entry in &data.history {
                            tr {
                                td data-label="When" { (local_time(entry.at, data.zone)) }
                                td data-label="Who" { (entry.actor) }
                                td data-label="What" { (entry.action) }
                                td.wrap data-label="Detail" { (entry.detail) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn shadow_section(viewer: &Viewer, site: &str, data: &AdminData) -> Markup {
    let report = &data.shadow;
    html! {
        section aria-labelledby="shadow-heading" {
            h2 #shadow-heading { "Shadow mode" }
            @if !data.shadow_active && report.compared == 0 {
                p { "No shadow policy runs at this site. Add a " code { "[shadow]" } " table to the site file to compare a candidate with the routing policy." }
            } @else {
                p {
                    @if let Some(candidate) = &report.candidate {
                        "Candidate " strong { (candidate.name) " " (candidate.version) } ": "
                    }
                    (report.disagreements) " disagreements in " (report.compared) " items compared"
                    @if report.shadow_failures > 0 {
                        ", and " (report.shadow_failures) " shadow calls that failed as a whole"
                    }
                    "."
                }
                div.columns {
                    (count_table("Disagreements by active rule", "Rule", &report.by_rule))
                    (count_table("Disagreements by category", "Category", &report.by_category))
                }
                @if !report.recent.is_empty() {
                    (recent_disagreements(report))
                }
                @if data.shadow_active {
                    form.inline method="post" action=(format!("{}/promote", admin_url(site))) {
                        (csrf_field(viewer))
                        button type="submit" { "Promote the shadow policy to routing" }
                    }
                }
                " "
                (rollback_form(viewer, site, "routing", "Roll back routing to its previous version"))
            }
        }
    }
}

fn count_table(
    caption: &str,
    key: &str,
    counts: &std::collections::BTreeMap<String, u64>,
) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead { tr { th scope="col" { (key) } th scope="col" { "Disagreements" } } }
            tbody {
                @for (name, count) in counts {
                    tr { th scope="row" { (name) } td { (count) } }
                }
                @if counts.is_empty() {
                    tr { td colspan="2" { "none" } }
                }
            }
        }
    }
}

fn recent_disagreements(report: &ShadowReport) -> Markup {
    html! {
        table.stack {
            caption { "Most recent disagreements, newest first (at most " (DISAGREEMENTS_SHOWN) ")" }
            thead {
                tr {
                    th scope="col" { "Item" }
                    th scope="col" { "Category" }
                    th scope="col" { "Routing decided" }
                    th scope="col" { "Shadow would have decided" }
                }
            }
            tbody {
                @for d in report.recent.iter().rev().take(DISAGREEMENTS_SHOWN) {
                    tr {
                        th scope="row" data-label="Item" { (d.item) }
                        td data-label="Category" { (d.category.as_str()) }
                        td data-label="Routing decided" { (d.active) " " span.muted { "rule " (d.active_rule) } }
                        td data-label="Shadow would have decided" { (d.shadow) " " span.muted { "rule " (d.shadow_rule) } }
                    }
                }
            }
        }
    }
}

fn dead_letters_section(viewer: &Viewer, site: &str, data: &AdminData) -> Markup {
    let retry_url = format!("{}/retry", admin_url(site));
    html! {
        section aria-labelledby="dead-letters-heading" {
            h2 #dead-letters-heading { "Dead letters" }
            @if data.dead_letters.is_empty() {
                p { "No dead letters: every item was routed." }
            } @else {
                p { (data.dead_letters.len()) " items could not be routed. Fix the cause (often the routing table), then retry." }
                form.inline method="post" action=(retry_url) {
                    (csrf_field(viewer))
                    button type="submit" { "Retry all dead letters" }
                }
                table.stack {
                    caption { "Items whose routing failed, with the error" }
                    thead {
                        tr {
                            th scope="col" { "Item" }
                            th scope="col" { "EHR id" }
                            th scope="col" { "Category" }
                            th scope="col" { "Error" }
                            th scope="col" { "Attempts" }
                            th scope="col" { "Retry" }
                        }
                    }
                    tbody {
                        @for letter in &data.dead_letters {
                            tr id=(format!("dead-letter-{}", letter.item)) {
                                th scope="row" data-label="Item" { (letter.item) }
                                td data-label="EHR id" { code { (letter.external_id) } br; span.muted { "connector " (letter.connector) } }
                                td data-label="Category" { (letter.category.as_str()) }
                                td.wrap data-label="Error" { strong { (letter.failure.kind.as_str()) } ": " (letter.failure.message) }
                                td data-label="Attempts" { (letter.failure.attempts) ", last " (local_time(letter.failure.at, data.zone)) }
                                td data-label="Retry" {
                                    form.inline method="post" action=(retry_url) {
                                        (csrf_field(viewer))
                                        input type="hidden" name="item" value=(letter.item.0);
                                        button type="submit" { "Retry" span.visually-hidden { " item " (letter.item) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Returns the message after an action. Only known codes with well-formed
/// values show one.
fn notice_text(params: &AdminParams) -> Option<String> {
    match params.notice.as_str() {
        "rolled-back" => {
            let slot = parse_slot(&params.slot).ok()?;
            Some(format!("Slot {slot} rolled back to its previous version."))
        }
        "promoted" => Some("The shadow policy now routes; the previous routing version stays available for rollback.".to_string()),
        "retried" => {
            let routed: u32 = params.routed.parse().ok()?;
            let failed: u32 = params.failed.parse().ok()?;
            Some(format!("Retried dead letters: {routed} routed, {failed} failed again."))
        }
        _ => None,
    }
}

/// Fields of the rollback form.
#[derive(Debug, Default, Deserialize)]
pub struct RollbackForm {
    /// The slot, as [`parse_slot`] reads it.
    #[serde(default)]
    slot: String,
}

/// `POST /console/sites/{site}/admin/rollback`.
pub async fn rollback(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
    Form(form): Form<RollbackForm>,
) -> ConsoleResult<Response> {
    viewer.auth.require(&site, TokenScope::Admin)?;
    let key = parse_slot(&form.slot)?;
    let actor = viewer.principal().actor().to_string();
    {
        let (app, site) = (app.clone(), site.clone());
        blocking(move || {
            app.sites
                .rollback(&site, &key, &actor)
                .map_err(ApiError::conflict)
        })
        .await?;
    }
    let target = format::append_query(
        &admin_url(&site),
        &[("notice", "rolled-back"), ("slot", &form.slot)],
    );
    Ok(redirect(&target))
}

/// `POST /console/sites/{site}/admin/promote`.
pub async fn promote(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
) -> ConsoleResult<Response> {
    viewer.auth.require(&site, TokenScope::Admin)?;
    let actor = viewer.principal().actor().to_string();
    {
        let (app, site) = (app.clone(), site.clone());
        blocking(move || promote_shadow(&app, &site, &actor).map_err(ApiError::conflict)).await?;
    }
    Ok(redirect(&format::append_query(
        &admin_url(&site),
        &[("notice", "promoted")],
    )))
}

/// Fields of the retry form.
#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    /// One dead letter; empty retries all of the site's.
    #[serde(default)]
    item: String,
}

/// `POST /console/sites/{site}/admin/retry`.
pub async fn retry(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
    Form(form): Form<RetryForm>,
) -> ConsoleResult<Response> {
    viewer.auth.require(&site, TokenScope::Admin)?;
    let ids = match form.item.as_str() {
        "" => None,
        text => Some(vec![ItemId(text.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "item {text:?} is not an item number; use the Retry button of a dead letter"
            ))
        })?)]),
    };
    let actor = viewer.principal().actor().to_string();
    let report = {
        let (app, site) = (app.clone(), site.clone());
        blocking(move || {
            Ok(app
                .engine
                .retry_dead_letters(&site, ids.as_deref(), &actor)?)
        })
        .await?
    };
    let target = format::append_query(
        &admin_url(&site),
        &[
            ("notice", "retried"),
            ("routed", &report.routed.to_string()),
            ("failed", &report.dead_lettered.to_string()),
        ],
    );
    Ok(redirect(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_round_trip() {
        for text in ["routing", "shadow", "nudges", "prep", "connector:ehr"] {
            let key = parse_slot(text).unwrap();

            assert_eq!(slot_form_value(&key), text);
        }
    }

    #[test]
    fn unknown_slot_names_the_choices() {
        let error = parse_slot("connector:").unwrap_err();

        assert!(
            error.detail.contains("connector:<name>"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn retried_notice_needs_numbers() {
        let params = AdminParams {
            notice: "retried".into(),
            routed: "3".into(),
            failed: "1".into(),
            ..AdminParams::default()
        };
        let forged = AdminParams {
            notice: "retried".into(),
            routed: "<b>".into(),
            failed: "1".into(),
            ..AdminParams::default()
        };

        assert_eq!(
            notice_text(&params).as_deref(),
            Some("Retried dead letters: 3 routed, 1 failed again.")
        );
        assert_eq!(notice_text(&forged), None);
    }
}
