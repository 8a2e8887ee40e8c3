//! The start page: the sites the caller may see, with links to what the
//! caller may do there.

use std::sync::Arc;

use axum::extract::State;
use maud::{Markup, html};

use super::format::encode;
use super::page::{self, ConsoleResult, Frame, Section};
use super::session::Viewer;
use crate::app::App;
use crate::config::TokenScope;

/// One row of the sites table.
struct SiteRow {
    id: String,
    name: String,
    time_zone: String,
    /// Open items per the engine's counts, when they could be read.
    open: Option<u32>,
    /// Reasons the last reload was rejected, empty when it applied.
    errors: Vec<String>,
    staff: bool,
    admin: bool,
}

/// `GET /console`.
pub async fn home(State(app): State<Arc<App>>, viewer: Viewer) -> ConsoleResult<Markup> {
    let rows = {
        let app = app.clone();
        let viewer = viewer.clone();
        crate::api::blocking(move || Ok(site_rows(&app, &viewer))).await?
    };
    let host_wide_admin =
        viewer.principal().site.is_none() && viewer.principal().scopes.contains(&TokenScope::Admin);
    let failed: Vec<(String, Vec<String>)> = if host_wide_admin {
        app.sites
            .failures()
            .into_iter()
            .filter(|(id, _)| app.sites.get(id).is_none())
            .collect()
    } else {
        Vec::new()
    };

    let body = html! {
        @if rows.is_empty() && failed.is_empty() {
            p { "No running site grants this token anything to see. Sites may still be loading; reload this page in a moment." }
        } @else {
            (sites_table(&rows))
        }
        @if !failed.is_empty() {
            h2 { "Sites that failed to load" }
            ul {
                @for (id, reasons) in &failed {
                    li { strong { (id) } ": " (reasons.join("; ")) }
                }
            }
        }
    };
    Ok(page::render(
        Frame {
            title: "Sites",
            viewer: Some(&viewer),
            site: None,
            section: Section::Home,
            notice: None,
        },
        body,
    ))
}

fn site_rows(app: &App, viewer: &Viewer) -> Vec<SiteRow> {
    let failures = app.sites.failures();
    let mut rows = Vec::new();
    for id in app.sites.ids() {
        let staff = viewer.may(&id, TokenScope::Staff);
        let admin = viewer.may(&id, TokenScope::Admin);
        if !(staff || admin) {
            continue;
        }
        let Some(handle) = app.sites.get(&id) else {
            continue;
        };
        let state = handle.state();
        let open = app
            .engine
            .counts(&id)
            .ok()
            .map(|counts| counts.roles.iter().map(|(_, c)| c.open()).sum());
        rows.push(SiteRow {
            name: state.config.name.clone(),
            time_zone: state.config.time_zone.clone(),
            open,
            errors: failures.get(&id).cloned().unwrap_or_default(),
            staff,
            admin,
            id,
        });
    }
    rows
}

fn sites_table(rows: &[SiteRow]) -> Markup {
    html! {
        table.stack {
            caption { "Sites you may open" }
            thead {
                tr {
                    th scope="col" { "Site" }
                    th scope="col" { "Time zone" }
                    th scope="col" { "Open items" }
                    th scope="col" { "Plugins" }
                    th scope="col" { "Pages" }
                }
            }
            tbody {
                @for row in rows {
                    @let base = format!("/console/sites/{}", encode(&row.id));
                    tr {
                        th scope="row" data-label="Site" { (row.name) " " span.muted { "(" (row.id) ")" } }
                        td data-label="Time zone" { (row.time_zone) }
                        td data-label="Open items" {
                            @match row.open { Some(n) => (n), None => "unavailable" }
                        }
                        td data-label="Plugins" {
                            @if row.errors.is_empty() {
                                "active"
                            } @else {
                                strong { "Last reload rejected: " } (row.errors.join("; "))
                            }
                        }
                        td data-label="Pages" {
                            ul.inline {
                                @if row.staff { li { a href=(format!("{base}/worklist")) { "Worklists" } } }
                                @if row.admin { li { a href=(format!("{base}/admin")) { "Plugins and dead letters" } } }
                                @if row.admin { li { a href=(format!("{base}/backlog")) { "Backlog" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
