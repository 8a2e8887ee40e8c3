//! The HTTP API under `/v1`, plus `/healthz`, `/metrics` and the OpenAPI
//! document at `/v1/openapi.json`.
//!
//! The router is built by [`router`] so tests can drive it in-process; the
//! `serve` command binds it to a socket with [`serve`].

mod admin;
pub mod auth;
pub mod extract;
mod fhir;
mod health;
mod intake;
mod lookup;
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
        // Outside the timeout, so its 408 becomes problem details too.
        .layer(axum::middleware::from_fn_with_state(
            app.config.api.request_timeout_seconds,
            problem::problem_for_plain_errors,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    /// Returns the `{name}` segments of a route path.
    fn segments(path: &str) -> BTreeSet<String> {
        path.split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_string)
            .collect()
    }

    fn parameters<'a>(document: &'a Value, path: &str, method: &str) -> &'a [Value] {
        document["paths"][path][method]["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn parameter<'a>(document: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
        parameters(document, path, method)
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} declares no parameter {name}"))
    }

    #[test]
    fn openapi_path_parameters_match_route() {
        let document = document();

        let paths = document["paths"].as_object().expect("paths");
        assert!(paths.len() > 20, "{} paths", paths.len());
        for (path, operations) in paths {
            for (method, _) in operations.as_object().expect("operations") {
                let declared: BTreeSet<String> = parameters(&document, path, method)
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().expect("a name").to_string())
                    .collect();
                assert_eq!(declared, segments(path), "{method} {path}");
            }
        }
    }

    #[test]
    fn openapi_query_parameters_in_query() {
        let document = document();
        let worklist = ["category", "status", "overdue", "after", "limit"];
        let routes: [(&str, &[&str], &[&str]); 5] = [
            ("/v1/sites/{site}/worklists/roles/{role}", &worklist, &[]),
            ("/v1/sites/{site}/worklists/people/{person}", &worklist, &[]),
            ("/v1/sites/{site}/audit", &["limit", "action"], &[]),
            (
                "/v1/sites/{site}/backlog",
                &["baseline", "pilot", "pod"],
                &["baseline", "pilot"],
            ),
            (
                "/v1/sites/{site}/fhir/Task",
                &["owner", "performer-type", "_count", "_page"],
                &[],
            ),
        ];

        for (path, names, required) in routes {
            for name in names {
                let declared = parameter(&document, path, "get", name);
                assert_eq!(declared["in"], "query", "{name} of {path}");
                let expect_required = required.contains(name);
                assert_eq!(
                    declared["required"].as_bool().unwrap_or(false),
                    expect_required,
                    "required flag of {name} of {path}"
                );
            }
        }
    }

    #[test]
    fn openapi_page_sizes_have_server_bounds() {
        let document = document();
        let cases = [
            ("/v1/sites/{site}/worklists/roles/{role}", "limit", 200),
            ("/v1/sites/{site}/worklists/people/{person}", "limit", 200),
            ("/v1/sites/{site}/fhir/Task", "_count", 200),
            ("/v1/sites/{site}/audit", "limit", 1000),
        ];

        for (path, name, maximum) in cases {
            let schema = &parameter(&document, path, "get", name)["schema"];
            assert_eq!(schema["minimum"], 1, "{name} of {path}");
            assert_eq!(schema["maximum"], maximum, "{name} of {path}");
        }
    }
}
