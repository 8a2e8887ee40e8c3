//! Worklists and item actions.

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use switchboard_engine::model::AuditEntry;
use switchboard_engine::worklist::{MAX_PAGE_SIZE, PageCursor};
use switchboard_engine::{ItemId, Reassignment, WorklistQuery};
use switchboard_sdk::Category;
use utoipa::IntoParams;

use super::auth::Auth;
use super::blocking;
use super::extract::{Json, Path, Query};
use super::lookup::{loaded_site, require_person, require_role};
use super::problem::{ApiError, ApiResult, Problem};
use super::views::{
    CancelRequest, ItemDetail, ItemView, ReassignRequest, WorklistView, item_detail, item_view,
    parse_status,
};
use crate::app::App;
use crate::config::TokenScope;

/// Worklist filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorklistParams {
    /// Only this category, such as `refill`.
    pub category: Option<String>,
    /// Only this status: `ready`, `accepted` or `in-progress`.
    pub status: Option<String>,
    /// Only overdue items.
    #[serde(default)]
    #[param(required = false, default = false)]
    pub overdue: bool,
    /// Cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<usize>,
}

/// Default page size: what the console shows at once.
pub const DEFAULT_PAGE: usize = 50;

/// Checks a page size parameter against `1..=max`.
///
/// # Errors
///
/// 400 naming the parameter, its value and the range.
pub fn page_size(name: &str, value: Option<usize>, default: usize, max: usize) -> ApiResult<usize> {
    let size = value.unwrap_or(default);
    if (1..=max).contains(&size) {
        Ok(size)
    } else {
        Err(ApiError::bad_request(format!(
            "query parameter `{name}` is {size}; use 1 to {max}"
        )))
    }
}

fn build_query(mut query: WorklistQuery, params: &WorklistParams) -> ApiResult<WorklistQuery> {
    if let Some(category) = &params.category {
        query.filter.category = Some(
            category
                .parse::<Category>()
                .map_err(ApiError::bad_request)?,
        );
    }
    if let Some(status) = &params.status {
        query.filter.status = Some(parse_status(status).map_err(ApiError::bad_request)?);
    }
    query.filter.overdue = params.overdue;
    query.after = params.after.clone().map(PageCursor);
    query.limit = page_size("limit", params.limit, DEFAULT_PAGE, MAX_PAGE_SIZE)?;
    Ok(query)
}

/// Runs a worklist query and records the read in the audit trail.
pub fn read_worklist(
    app: &App,
    principal_actor: &str,
    query: WorklistQuery,
) -> ApiResult<WorklistView> {
    let site = query.site.clone();
    let owner = query.owner.name().to_string();
    let page = app.engine.worklist(&query)?;
    let now = app.engine.now();
    let ids: Vec<String> = page.items.iter().map(|i| i.id.0.to_string()).collect();
    app.engine.append_audit(AuditEntry {
        at: now,
        actor: principal_actor.to_string(),
        action: "worklist.read".to_string(),
        target: owner,
        site: Some(site),
        detail: format!("items={}", ids.join(",")),
    })?;
    Ok(WorklistView {
        items: page.items.iter().map(|i| item_view(i, now)).collect(),
        next: page.next.map(|c| c.0),
    })
}

/// A role pool's worklist.
#[utoipa::path(get, path = "/v1/sites/{site}/worklists/roles/{role}", params(("site" = String, Path), ("role" = String, Path), WorklistParams),
    responses((status = 200, body = WorklistView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, description = "unknown site or role", body = Problem)))]
pub async fn role_worklist(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, role)): Path<(String, String)>,
    Query(params): Query<WorklistParams>,
) -> ApiResult<Json<WorklistView>> {
    auth.require(&site, TokenScope::Staff)?;
    let roster = loaded_site(&app, &site)?;
    require_role(&roster, &role)?;
    let actor = auth.0.actor().to_string();
    let query = build_query(WorklistQuery::role(&site, &role), &params)?;
    blocking(move || read_worklist(&app, &actor, query))
        .await
        .map(Json)
}

/// A person's worklist.
#[utoipa::path(get, path = "/v1/sites/{site}/worklists/people/{person}", params(("site" = String, Path), ("person" = String, Path), WorklistParams),
    responses((status = 200, body = WorklistView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, description = "unknown site or person", body = Problem)))]
pub async fn person_worklist(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, person)): Path<(String, String)>,
    Query(params): Query<WorklistParams>,
) -> ApiResult<Json<WorklistView>> {
    auth.require(&site, TokenScope::Staff)?;
    let roster = loaded_site(&app, &site)?;
    require_person(&roster, &person)?;
    let actor = auth.0.actor().to_string();
    let query = build_query(WorklistQuery::person(&site, &person), &params)?;
    blocking(move || read_worklist(&app, &actor, query))
        .await
        .map(Json)
}

/// One item with its history. The read is recorded in the audit trail.
#[utoipa::path(get, path = "/v1/sites/{site}/items/{id}", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ItemDetail), (status = 404, body = Problem)))]
pub async fn get_item(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<ItemDetail>> {
    auth.require(&site, TokenScope::Staff)?;
    let actor = auth.0.actor().to_string();
    blocking(move || {
        let item = app.engine.item(&site, ItemId(id))?;
        app.engine.append_audit(AuditEntry {
            at: app.engine.now(),
            actor,
            action: "item.read".into(),
            target: id.to_string(),
            site: Some(site),
            detail: String::new(),
        })?;
        Ok(item_detail(&item, app.engine.now()))
    })
    .await
    .map(Json)
}

/// An item action named in the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Take a ready item.
    Claim,
    /// Start a claimed item.
    Start,
    /// Return to the pool.
    HandBack,
    /// Finish.
    Complete,
}

async fn act(
    app: Arc<App>,
    auth: Auth,
    site: String,
    id: u64,
    verb: Verb,
) -> ApiResult<Json<ItemView>> {
    let person = auth.person(&site)?.to_string();
    blocking(move || {
        let item = match verb {
            Verb::Claim => app.engine.claim(&site, ItemId(id), &person)?,
            Verb::Start => app.engine.start(&site, ItemId(id), &person)?,
            Verb::HandBack => app.engine.hand_back(&site, ItemId(id), &person)?,
            Verb::Complete => app.engine.complete(&site, ItemId(id), &person)?,
        };
        Ok(item_view(&item, app.engine.now()))
    })
    .await
    .map(Json)
}

/// Claim a ready item for the token's person.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/claim", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ItemView), (status = 409, body = Problem)))]
pub async fn claim(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<ItemView>> {
    act(app, auth, site, id, Verb::Claim).await
}

/// Start a claimed item.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/start", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ItemView), (status = 409, body = Problem)))]
pub async fn start(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<ItemView>> {
    act(app, auth, site, id, Verb::Start).await
}

/// Hand an item back to its role pool.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/hand-back", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ItemView), (status = 409, body = Problem)))]
pub async fn hand_back(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<ItemView>> {
    act(app, auth, site, id, Verb::HandBack).await
}

/// Complete an item.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/complete", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ItemView), (status = 409, body = Problem)))]
pub async fn complete(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<ItemView>> {
    act(app, auth, site, id, Verb::Complete).await
}

/// Reassign an item to another role or person, with a reason.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/reassign", params(("site" = String, Path), ("id" = u64, Path)), request_body = ReassignRequest,
    responses((status = 200, body = ItemView), (status = 422, body = Problem)))]
pub async fn reassign(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
    Json(body): Json<ReassignRequest>,
) -> ApiResult<Json<ItemView>> {
    auth.require(&site, TokenScope::Staff)?;
    let actor = auth.0.actor().to_string();
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "reason is empty; say why the item moves",
        ));
    }
    blocking(move || {
        let to = Reassignment {
            role: body.role,
            person: body.person,
            reason: body.reason,
        };
        let item = app.engine.reassign(&site, ItemId(id), &actor, &to)?;
        Ok(item_view(&item, app.engine.now()))
    })
    .await
    .map(Json)
}

/// Cancel an item, with a reason.
#[utoipa::path(post, path = "/v1/sites/{site}/items/{id}/cancel", params(("site" = String, Path), ("id" = u64, Path)), request_body = CancelRequest,
    responses((status = 200, body = ItemView), (status = 409, body = Problem)))]
pub async fn cancel(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
    Json(body): Json<CancelRequest>,
) -> ApiResult<Json<ItemView>> {
    auth.require(&site, TokenScope::Staff)?;
    let actor = auth.0.actor().to_string();
    blocking(move || {
        let item = app.engine.cancel(&site, ItemId(id), &actor, &body.reason)?;
        Ok(item_view(&item, app.engine.now()))
    })
    .await
    .map(Json)
}
