//! Worklists and item actions: "my items", the pools of the roles a person
//! holds, one item with its history, and the claim, start, hand-back,
//! complete and reassign forms.
//!
//! Reads and actions go through the same engine calls as the API's
//! worklist routes and write the same audit entries (`worklist.read`,
//! `item.read`). The scope checks are the same too: staff to read and
//! reassign, and a staff token bound to a person to claim, start, hand back
//! or complete.

mod actions;
mod item;
mod rows;

pub use actions::{claim, complete, hand_back, reassign, start};
pub use item::item_page;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_engine::model::AuditEntry;
use switchboard_engine::worklist::{OwnerCount, PageCursor, SiteCounts};
use switchboard_engine::{Item, ItemStatus, WorklistQuery};
use switchboard_sdk::{Category, Site, Timestamp};

use super::format::{self, encode};
use super::page::{self, ConsoleResult, Frame, Section};
use super::session::Viewer;
use crate::api::blocking;
use crate::api::problem::ApiError;
use crate::app::App;
use crate::config::TokenScope;
use actions::notice_text;
use rows::{RowContext, items_table};

/// Items per page: enough for a morning's queue, few enough to render at
/// once even over a slow link.
pub const PAGE_SIZE: usize = 50;

/// Statuses a worklist can be filtered by.
const OPEN_STATUSES: [ItemStatus; 3] = [
    ItemStatus::Ready,
    ItemStatus::Accepted,
    ItemStatus::InProgress,
];

/// The worklist a page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
enum List {
    /// The items a person owns or was suggested for.
    Mine(String),
    /// A role's pool.
    Pool(String),
}

/// Filters, paging and the notice of a worklist page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListParams {
    /// Only this category; empty for all.
    #[serde(default)]
    category: String,
    /// Only this status; empty for any open status.
    #[serde(default)]
    status: String,
    /// `1` for overdue items only.
    #[serde(default)]
    overdue: String,
    /// The engine's cursor of the page to show; empty for the first.
    #[serde(default)]
    after: String,
    /// The action just taken, such as `claimed`.
    #[serde(default)]
    notice: String,
    /// The item the action was taken on.
    #[serde(default)]
    item: String,
}

impl ListParams {
    /// Returns the query pairs that reproduce this page, without the notice.
    fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("category", &self.category),
            ("status", &self.status),
            ("overdue", &self.overdue),
            ("after", &self.after),
        ]
    }

    fn filtered(&self) -> bool {
        !(self.category.is_empty() && self.status.is_empty() && self.overdue.is_empty())
    }
}

/// Everything a worklist page shows, read in one blocking step.
struct ListData {
    roster: Arc<Site>,
    zone: Tz,
    now: Timestamp,
    counts: SiteCounts,
    items: Vec<Item>,
    next: Option<String>,
}

/// `GET /console/sites/{site}/worklist`: the signed-in person's items.
/// A token without a person has none, and is shown the role pools.
pub async fn mine(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
    Query(params): Query<ListParams>,
) -> ConsoleResult<Markup> {
    viewer.auth.require(&site, TokenScope::Staff)?;
    let list = viewer.principal().person.clone().map(List::Mine);
    list_page(app, viewer, site, list, params).await
}

/// `GET /console/sites/{site}/pools/{role}`: one role's pool.
pub async fn pool(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, role)): Path<(String, String)>,
    Query(params): Query<ListParams>,
) -> ConsoleResult<Markup> {
    viewer.auth.require(&site, TokenScope::Staff)?;
    list_page(app, viewer, site, Some(List::Pool(role)), params).await
}

async fn list_page(
    app: Arc<App>,
    viewer: Viewer,
    site: String,
    list: Option<List>,
    params: ListParams,
) -> ConsoleResult<Markup> {
    let query = match &list {
        Some(list) => Some(worklist_query(&site, list, &params)?),
        None => None,
    };
    let data = {
        let (app, site, list) = (app.clone(), site.clone(), list.clone());
        let actor = viewer.principal().actor().to_string();
        blocking(move || read_list(&app, &site, list.as_ref(), query, &actor)).await?
    };

    let notice = notice_text(&params.notice, &params.item);
    let title = match &list {
        Some(List::Mine(_)) => "My items".to_string(),
        Some(List::Pool(role)) => format!("Pool: {role}"),
        None => "Worklists".to_string(),
    };
    let body = list_body(&viewer, &site, list.as_ref(), &params, &data);
    Ok(page::render(
        Frame {
            title: &title,
            viewer: Some(&viewer),
            site: Some(&site),
            section: Section::Worklist,
            notice,
        },
        body,
    ))
}

/// Builds the engine query of a list, as the API builds it from the same
/// filters.
fn worklist_query(site: &str, list: &List, params: &ListParams) -> Result<WorklistQuery, ApiError> {
    let mut query = match list {
        List::Mine(person) => WorklistQuery::person(site, person),
        List::Pool(role) => WorklistQuery::role(site, role),
    };
    if !params.category.is_empty() {
        let category = params
            .category
            .parse::<Category>()
            .map_err(ApiError::bad_request)?;
        query.filter.category = Some(category);
    }
    if !params.status.is_empty() {
        let status = params
            .status
            .parse::<ItemStatus>()
            .map_err(ApiError::bad_request)?;
        query.filter.status = Some(status);
    }
    query.filter.overdue = !params.overdue.is_empty();
    query.after = (!params.after.is_empty()).then(|| PageCursor(params.after.clone()));
    query.limit = PAGE_SIZE;
    Ok(query)
}

fn read_list(
    app: &App,
    site: &str,
    list: Option<&List>,
    query: Option<WorklistQuery>,
    actor: &str,
) -> Result<ListData, ApiError> {
    let roster = app.engine.site(site)?;
    if let Some(List::Pool(role)) = list
        && roster.role(role).is_none()
    {
        return Err(ApiError::not_found(format!(
            "site {site:?} has no role {role:?}; pick a pool from the worklist tabs"
        )));
    }
    let counts = app.engine.counts(site)?;
    let (items, next) = match query {
        Some(query) => read_worklist(app, actor, query)?,
        None => (Vec::new(), None),
    };
    Ok(ListData {
        zone: site_zone(app, site),
        now: app.engine.now(),
        roster,
        counts,
        items,
        next,
    })
}

/// Reads one page and records the read in the audit trail, as the API's
/// worklist routes do.
fn read_worklist(
    app: &App,
    actor: &str,
    query: WorklistQuery,
) -> Result<(Vec<Item>, Option<String>), ApiError> {
    let page = app.engine.worklist(&query)?;
    let ids: Vec<String> = page.items.iter().map(|i| i.id.0.to_string()).collect();
    app.engine.append_audit(AuditEntry {
        at: app.engine.now(),
        actor: actor.to_string(),
        action: "worklist.read".to_string(),
        target: query.owner.name().to_string(),
        site: Some(query.site.clone()),
        detail: format!("items={}", ids.join(",")),
    })?;
    Ok((page.items, page.next.map(|c| c.0)))
}

/// Returns the site's time zone, or UTC while the site is not running.
pub fn site_zone(app: &App, site: &str) -> Tz {
    app.sites
        .get(site)
        .map_or(Tz::UTC, |handle| handle.state().config.zone())
}

/// Returns the roles whose pools a caller sees as tabs: the person's own, or every
/// role of the site for a token without a person.
fn pool_roles(viewer: &Viewer, roster: &Site) -> Vec<String> {
    let own = viewer
        .principal()
        .person
        .as_deref()
        .and_then(|id| roster.person(id))
        .map(|person| person.roles.clone());
    own.unwrap_or_else(|| roster.roles.iter().map(|r| r.name.clone()).collect())
}

fn list_url(site: &str, list: &List) -> String {
    let base = format!("/console/sites/{}", encode(site));
    match list {
        List::Mine(_) => format!("{base}/worklist"),
        List::Pool(role) => format!("{base}/pools/{}", encode(role)),
    }
}

fn list_body(
    viewer: &Viewer,
    site: &str,
    list: Option<&List>,
    params: &ListParams,
    data: &ListData,
) -> Markup {
    html! {
        (tabs(viewer, site, list, &data.roster, &data.counts))
        @match list {
            None => {
                p { "This token is not bound to a person, so it has no items of its own. Open a role's pool above." }
            }
            Some(list) => {
                @let path = list_url(site, list);
                (filter_form(&path, params))
                @let back = format::with_query(&path, &params.pairs());
                @let context = RowContext {
                    site,
                    person: viewer.principal().person.as_deref(),
                    csrf: &viewer.csrf,
                    back: &back,
                    zone: data.zone,
                    now: data.now,
                    link_to_item: true,
                };
                (items_table(&context, list, params, &data.items))
                (pager(&path, params, data.next.as_deref()))
            }
        }
    }
}

fn tabs(
    viewer: &Viewer,
    site: &str,
    list: Option<&List>,
    roster: &Site,
    counts: &SiteCounts,
) -> Markup {
    let person = viewer.principal().person.as_deref();
    let roles = pool_roles(viewer, roster);
    let current = |candidate: &List| (list == Some(candidate)).then_some("page");
    html! {
        nav.tabs aria-label="Worklists" {
            ul {
                @if let Some(person) = person {
                    @let mine = List::Mine(person.to_string());
                    li {
                        a href=(list_url(site, &mine)) aria-current=[current(&mine)] {
                            "My items " (count_text(&counts.people, person))
                        }
                    }
                }
                @for role in &roles {
                    @let pool = List::Pool(role.clone());
                    li {
                        a href=(list_url(site, &pool)) aria-current=[current(&pool)] {
                            "Pool: " (role) " " (count_text(&counts.roles, role))
                        }
                    }
                }
            }
        }
    }
}

/// `(n open, m overdue)` of one role or person; absent from the counts
/// means none.
fn count_text(counts: &[(String, OwnerCount)], name: &str) -> String {
    let count = counts
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, count)| count.clone())
        .unwrap_or_default();
    format!("({} open, {} overdue)", count.open(), count.overdue)
}

fn filter_form(path: &str, params: &ListParams) -> Markup {
    html! {
        form.filters method="get" action=(path) aria-label="Filter this worklist" {
            p {
                label for="category" { "Category" }
                select #category name="category" {
                    option value="" selected[params.category.is_empty()] { "All categories" }
                    @for category in Category::ALL {
                        option value=(category.as_str()) selected[params.category == category.as_str()] { (category.as_str()) }
                    }
                }
            }
            p {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[params.status.is_empty()] { "Any open status" }
                    @for status in OPEN_STATUSES {
                        option value=(status.as_str()) selected[params.status == status.as_str()] { (status.as_str()) }
                    }
                }
            }
            p.check {
                input #overdue type="checkbox" name="overdue" value="1" checked[!params.overdue.is_empty()];
                label for="overdue" { "Only overdue items" }
            }
            p { button type="submit" { "Apply filters" } }
        }
    }
}

fn pager(path: &str, params: &ListParams, next: Option<&str>) -> Markup {
    let filters = [
        ("category", params.category.as_str()),
        ("status", params.status.as_str()),
        ("overdue", params.overdue.as_str()),
    ];
    let first = format::with_query(path, &filters);
    let next = next.map(|cursor| {
        let mut pairs = filters.to_vec();
        pairs.push(("after", cursor));
        format::with_query(path, &pairs)
    });
    html! {
        @if !params.after.is_empty() || next.is_some() {
            nav.pager aria-label="Pages" {
                ul.inline {
                    @if !params.after.is_empty() { li { a href=(first) rel="first" { "First page" } } }
                    @if let Some(next) = &next { li { a href=(next) rel="next" { "Next page" } } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn query_takes_filters_and_cursor() {
        let params = ListParams {
            category: "refill".into(),
            status: "accepted".into(),
            overdue: "1".into(),
            after: "cursor-1".into(),
            ..ListParams::default()
        };

        let query = worklist_query("north", &List::Pool("ma".into()), &params).unwrap();

        assert_eq!(query.filter.category, Some(Category::Refill));
        assert_eq!(query.filter.status, Some(ItemStatus::Accepted));
        assert!(query.filter.overdue);
        assert_eq!(query.after, Some(PageCursor("cursor-1".into())));
        assert_eq!(query.limit, PAGE_SIZE);
    }

    #[test]
    fn query_rejects_unknown_category() {
        let params = ListParams {
            category: "laundry".into(),
            ..ListParams::default()
        };

        let error = worklist_query("north", &List::Mine("ma-ana".into()), &params).unwrap_err();

        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.detail.contains("laundry"), "{}", error.detail);
    }
}
