//! The web console under `/console`: worklists for medical assistants,
//! nurses and physicians, and plugins, dead letters and backlog charts for
//! administrators.
//!
//! Pages are HTML rendered by the host with no script, and the stylesheet
//! is compiled into the binary. A person signs in by pasting a bearer
//! token, which becomes the `switchboard_session` cookie the API's
//! [`Auth`] extractor already accepts. So every page and form is authorized
//! exactly as the matching API route is, with the same scopes, the same
//! [`Principal::allows`] checks and the same engine calls, including the
//! audit entries for worklist and item reads. Every form POST carries a
//! CSRF token (see [`csrf`]).
//!
//! | page | path | scope |
//! |---|---|---|
//! | sites | `/console` | staff or admin |
//! | sign in / out | `/console/sign-in`, `/console/sign-out` | none |
//! | my items | `/console/sites/{site}/worklist` | staff, with a person |
//! | a role pool | `/console/sites/{site}/pools/{role}` | staff |
//! | an item, reassign | `/console/sites/{site}/items/{id}` | staff |
//! | plugins, reloads, shadow, dead letters | `/console/sites/{site}/admin` | admin |
//! | backlog charts | `/console/sites/{site}/backlog` | admin |
//!
//! [`Auth`]: crate::api::auth::Auth
//! [`Principal::allows`]: crate::app::Principal::allows

mod admin;
mod backlog;
pub mod csrf;
mod format;
mod home;
mod page;
mod session;
mod worklist;

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, map_response};
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::app::App;

/// The console's start page.
pub const HOME: &str = "/console";

/// Builds the console's routes, to be merged into the API router, which
/// supplies the state and the body-size, timeout and trace layers.
///
/// # Panics
///
/// When the operating system's random source fails (see [`csrf::init`]).
pub fn router() -> Router<Arc<App>> {
    csrf::init();
    let site = "/console/sites/{site}";
    let item = format!("{site}/items/{{id}}");
    Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route(HOME, get(home::home))
        .route(page::STYLESHEET_PATH, get(page::stylesheet))
        .route(
            session::SIGN_IN_PATH,
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route(&format!("{site}/worklist"), get(worklist::mine))
        .route(&format!("{site}/pools/{{role}}"), get(worklist::pool))
        .route(&item, get(worklist::item_page))
        .route(&format!("{item}/claim"), post(worklist::claim))
        .route(&format!("{item}/start"), post(worklist::start))
        .route(&format!("{item}/hand-back"), post(worklist::hand_back))
        .route(&format!("{item}/complete"), post(worklist::complete))
        .route(&format!("{item}/reassign"), post(worklist::reassign))
        .route(&format!("{site}/admin"), get(admin::page))
        .route(&format!("{site}/admin/rollback"), post(admin::rollback))
        .route(&format!("{site}/admin/promote"), post(admin::promote))
        .route(&format!("{site}/admin/retry"), post(admin::retry))
        .route(&format!("{site}/backlog"), get(backlog::page))
        .route(
            "/console/{*rest}",
            get(page::not_found).post(page::not_found),
        )
        .layer(from_fn(csrf::require_token))
        .layer(map_response(page::security_headers))
}
