//! One item: its fields, history, actions and the reassign form.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono_tz::Tz;
use maud::{Markup, html};
use switchboard_engine::Item;
use switchboard_engine::model::AuditEntry;
use switchboard_sdk::Site;

use super::actions::{notice_text, parse_item_id};
use super::rows::{
    RowContext, actions, category_text, due_text, ehr_ids, reason_text, status_text,
};
use super::{ListParams, site_zone};
use crate::api::blocking;
use crate::app::App;
use crate::config::TokenScope;
use crate::console::format::{encode, local_time};
use crate::console::page::{self, ConsoleResult, Frame, Section};
use crate::console::session::Viewer;
use crate::console::{HOME, csrf};

/// `GET /console/sites/{site}/items/{id}`: one item, its history, its
/// actions and the reassign form. The read is recorded as the API's item
/// route records it.
pub async fn item_page(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Query(params): Query<ListParams>,
) -> ConsoleResult<Markup> {
    let id = parse_item_id(&site, &id)?;
    viewer.auth.require(&site, TokenScope::Staff)?;
    let actor = viewer.principal().actor().to_string();
    let (item, roster, zone, now) = {
        let (app, site) = (app.clone(), site.clone());
        blocking(move || {
            let item = app.engine.item(&site, id)?;
            app.engine.append_audit(AuditEntry {
                at: app.engine.now(),
                actor,
                action: "item.read".into(),
                target: id.to_string(),
                site: Some(site.clone()),
                detail: String::new(),
            })?;
            Ok((
                item,
                app.engine.site(&site)?,
                site_zone(&app, &site),
                app.engine.now(),
            ))
        })
        .await?
    };

    let back = format!("/console/sites/{}/items/{id}", encode(&site));
    let context = RowContext {
        site: &site,
        person: viewer.principal().person.as_deref(),
        csrf: &viewer.csrf,
        back: &back,
        zone,
        now,
        link_to_item: false,
    };
    let title = format!("Item {id}");
    let body = item_body(&context, &item, &roster);
    Ok(page::render(
        Frame {
            title: &title,
            viewer: Some(&viewer),
            site: Some(&site),
            section: Section::Worklist,
            notice: notice_text(&params.notice, &params.item),
        },
        body,
    ))
}

fn item_body(context: &RowContext<'_>, item: &Item, roster: &Site) -> Markup {
    let overdue = item.is_overdue(context.now);
    html! {
        p.lead { (item.title) }
        dl.fields {
            dt { "Status" } dd { (status_text(item)) }
            dt { "Due" } dd { (due_text(item, context.zone, overdue)) }
            dt { "Category" } dd { (category_text(item)) }
            dt { "Priority" } dd { (item.effective_priority().as_str()) }
            dt { "EHR ids" } dd { (ehr_ids(item)) }
            dt { "Connector" } dd { (item.source.connector) ", version " (item.source.version) }
            dt { "Appeared in the EHR" } dd { (local_time(item.created, context.zone)) }
            dt { "Why it is here" } dd { (reason_text(item)) }
            @if let Some(policy) = item.owner.as_ref().and_then(|o| o.policy.as_ref()) {
                dt { "Routed by" } dd { (policy.name) " " (policy.version) }
            }
            @if let Some(failure) = &item.failure {
                dt { "Routing error" } dd { (failure.kind.as_str()) ": " (failure.message) }
            }
        }
        @if !item.status.is_terminal() {
            h2 { "Actions" }
            (actions(context, item))
            (reassign_form(context, item, roster))
        }
        h2 { "History" }
        (history_table(item, context.zone))
        p { a href=(HOME) { "Back to the list of sites" } }
    }
}

fn reassign_form(context: &RowContext<'_>, item: &Item, roster: &Site) -> Markup {
    let current_role = item.role().unwrap_or_default();
    html! {
        form.reassign method="post" action=(format!("{}/reassign", context.item_url(item.id))) {
            input type="hidden" name=(csrf::FIELD) value=(context.csrf);
            input type="hidden" name="back" value=(context.back);
            fieldset {
                legend { "Reassign this item" }
                p {
                    label for="reassign-role" { "Role" }
                    select #reassign-role name="role" required {
                        @for role in &roster.roles {
                            option value=(role.name) selected[role.name == current_role] { (role.name) }
                        }
                    }
                }
                p {
                    label for="reassign-person" { "Person (optional)" }
                    select #reassign-person name="person" aria-describedby="reassign-person-help" {
                        option value="" { "Nobody: leave it in the role's pool" }
                        @for person in &roster.people {
                            option value=(person.id) { (person.id) " (" (person.roles.join(", ")) ")" }
                        }
                    }
                }
                p #reassign-person-help .help { "The person must hold the chosen role." }
                p {
                    label for="reassign-reason" { "Reason, shown to the new owner" }
                    textarea #reassign-reason name="reason" required maxlength="500" rows="3" {}
                }
                p { button type="submit" { "Reassign" } }
            }
        }
    }
}

fn history_table(item: &Item, zone: Tz) -> Markup {
    html! {
        table.stack {
            caption { "Every change, oldest first" }
            thead {
                tr {
                    th scope="col" { "When" }
                    th scope="col" { "Who" }
                    th scope="col" { "What" }
                    th scope="col" { "Status" }
                    th scope="col" { "Detail" }
                }
            }
            tbody {
                @for entry in &item.history {
                    tr {
                        td data-label="When" { (local_time(entry.at, zone)) }
                        td data-label="Who" { (entry.actor) }
                        td data-label="What" { (entry.action.verb()) }
                        td data-label="Status" { (entry.from.as_str()) " → " (entry.to.as_str()) }
                        td data-label="Detail" { (entry.detail) }
                    }
                }
            }
        }
    }
}
