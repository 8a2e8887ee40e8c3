//! The HTTP API under `/v1`, plus `/healthz`, `/metrics` and the OpenAPI
//! document at `/v1/openapi.json`.
//!
//! The router is built by [`router`] so tests can drive it in-process; the
//! `serve` command binds it to a socket with [`serve`].

mod admin;
pub mod auth;
mod fhir;
mod health;
mod intake;
pub mod problem;
pub mod views;
mod worklists;

pub use intake::SIGNATURE_HEADER;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::app::App;
use problem::{ApiError, ApiResult};

/// Runs blocking store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// The OpenAPI description, generated from the handlers.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Worklists, item actions, plugins and backlog reports of a Switchboard host."),
    paths(
        health::healthz,
        health::metrics,
        admin::list_sites,
        admin::plugins,
        admin::audit,
        admin::rollback,
        admin::shadow_report,
        admin::promote,
        admin::dead_letters,
        admin::retry,
        admin::backlog,
        worklists::role_worklist,
        worklists::person_worklist,
        worklists::get_item,
        worklists::claim,
        worklists::start,
        worklists::hand_back,
        worklists::complete,
        worklists::reassign,
        worklists::cancel,
        intake::message,
        intake::notification,
        fhir::search,
        fhir::read,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// Builds the router over `app`.
pub fn router(app: Arc<App>) -> Router {
    let body_limit = usize::try_from(app.config.api.max_body_kib * 1024).unwrap_or(usize::MAX);
    let timeout = Duration::from_secs(app.config.api.request_timeout_seconds);
    let site = "/v1/sites/{site}";
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/sites", get(admin::list_sites))
        .route(&format!("{site}/plugins"), get(admin::plugins))
        .route(
            &format!("{site}/plugins/{{slot}}/rollback"),
            post(admin::rollback),
        )
        .route(&format!("{site}/audit"), get(admin::audit))
        .route(&format!("{site}/shadow"), get(admin::shadow_report))
        .route(&format!("{site}/shadow/promote"), post(admin::promote))
        .route(&format!("{site}/dead-letters"), get(admin::dead_letters))
        .route(&format!("{site}/dead-letters/retry"), post(admin::retry))
        .route(&format!("{site}/backlog"), get(admin::backlog))
        .route(
            &format!("{site}/worklists/roles/{{role}}"),
            get(worklists::role_worklist),
        )
        .route(
            &format!("{site}/worklists/people/{{person}}"),
            get(worklists::person_worklist),
        )
        .route(&format!("{site}/items/{{id}}"), get(worklists::get_item))
        .route(
            &format!("{site}/items/{{id}}/claim"),
            post(worklists::claim),
        )
        .route(
            &format!("{site}/items/{{id}}/start"),
            post(worklists::start),
        )
        .route(
            &format!("{site}/items/{{id}}/hand-back"),
            post(worklists::hand_back),
        )
        .route(
            &format!("{site}/items/{{id}}/complete"),
            post(worklists::complete),
        )
        .route(
            &format!("{site}/items/{{id}}/reassign"),
            post(worklists::reassign),
        )
        .route(
            &format!("{site}/items/{{id}}/cancel"),
            post(worklists::cancel),
        )
        .route(
            &format!("{site}/connectors/{{connector}}/messages"),
            post(intake::message),
        )
        .route(
            &format!("{site}/connectors/{{connector}}/notifications"),
            post(intake::notification),
        )
        .route(&format!("{site}/fhir/Task"), get(fhir::search))
        .route(&format!("{site}/fhir/Task/{{id}}"), get(fhir::read))
        .merge(crate::console::router())
        .fallback(|| async { ApiError::not_found("no such route; see /v1/openapi.json") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
