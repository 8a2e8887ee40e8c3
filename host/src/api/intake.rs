//! Pushed data: synchronous messages and asynchronous notifications.
//!
//! `POST …/messages` runs the message through the connector and returns once
//! the result is durable, like an MLLP `AA`. `POST …/notifications` is the
//! webhook for EHR event feeds (FHIR Subscription rest-hook): the body is
//! written durably to the connector's inbox folder and acknowledged with
//! 202 at once, and the connector reads it (and fetches any resources it
//! names) afterwards, so a slow or rate-limited fetch never delays the
//! acknowledgement past the sender's deadline.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde::Serialize;
use switchboard_engine::{IngestMode, IngestReport};
use utoipa::ToSchema;

use super::auth::Auth;
use super::blocking;
use super::extract::{Body, Json, Path};
use super::problem::{ApiError, ApiResult};
use crate::app::{App, IntakeError};
use crate::config::TokenScope;

pub use switchboard_egress::webhook::SIGNATURE_HEADER;

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::NotAccepting | IntakeError::UnknownSite(_) => {
                ApiError::unavailable(error.to_string())
            }
            IntakeError::UnknownConnector { .. } => ApiError::not_found(error.to_string()),
            IntakeError::Rejected { .. } => ApiError::unprocessable(error.to_string()),
            IntakeError::Plugin(_) => ApiError::unprocessable(error.to_string()),
            IntakeError::Engine(e) => ApiError::from(e),
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

/// Push one message and wait until it is stored.
#[utoipa::path(post, path = "/v1/sites/{site}/connectors/{connector}/messages", params(("site" = String, Path), ("connector" = String, Path)),
    request_body(content = String, description = "The message as the EHR sends it"),
    responses((status = 200, body = Object), (status = 422, body = super::problem::Problem), (status = 503, body = super::problem::Problem)))]
pub async fn message(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, connector)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Json<IngestReport>> {
    auth.require(&site, TokenScope::Intake)?;
    let content_type = content_type(&headers);
    blocking(move || {
        app.intake(&site, &connector, &body, &content_type, IngestMode::Live)
            .map_err(ApiError::from)
    })
    .await
    .map(Json)
}

/// Acknowledgement of a spooled notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Name of the spooled file in the connector's inbox.
    pub spooled: String,
}

/// Receive an EHR notification: store it durably, acknowledge, process later.
///
/// When the connector's site entry sets `webhook_secret_env`, the request
/// must carry `X-Switchboard-Signature: sha256=<hex>` with the HMAC-SHA256
/// of the body under that secret; otherwise an intake token is required.
#[utoipa::path(post, path = "/v1/sites/{site}/connectors/{connector}/notifications", params(("site" = String, Path), ("connector" = String, Path)),
    request_body(content = String, description = "The notification body"),
    responses((status = 202, body = Accepted), (status = 401, body = super::problem::Problem)))]
pub async fn notification(
    State(app): State<Arc<App>>,
    Path((site, connector)): Path<(String, String)>,
    headers: HeaderMap,
    auth: Option<Auth>,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    if !app.accepting.load(Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "the host is shutting down; resend later",
        ));
    }
    let handle = app.sites.get(&site).ok_or_else(|| {
        ApiError::unavailable(format!(
            "site {site:?} is not running (unknown, or still loading)"
        ))
    })?;
    let state = handle.state();
    let entry = state
        .config
        .connectors
        .iter()
        .find(|c| c.name == connector)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "site {site:?} has no connector named {connector:?}"
            ))
        })?;

    match &entry.webhook_secret_env {
        Some(variable) => {
            let secret = std::env::var(variable).map_err(|_| ApiError::internal(format!("webhook secret variable {variable} is not set for connector {connector} at site {site}")))?;
            let signature = headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ApiError::unauthorized(format!("missing {SIGNATURE_HEADER} header"))
                })?;
            if let Err(error) =
                switchboard_egress::webhook::verify(secret.as_bytes(), &body, signature)
            {
                tracing::warn!(site, connector, %error, "webhook signature check failed; notification rejected");
                return Err(ApiError::unauthorized(error.to_string()));
            }
        }
        None => {
            let auth = auth.ok_or_else(|| ApiError::unauthorized("missing bearer token; send Authorization: Bearer <token> or configure webhook_secret_env"))?;
            auth.require(&site, TokenScope::Intake)?;
        }
    }

    let dir = app.inbox_dir(&site, &connector);
    let extension = if content_type(&headers).contains("hl7") {
        "hl7"
    } else {
        "json"
    };
    let spooled =
        blocking(move || spool(&dir, &body, extension).map_err(ApiError::internal)).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { spooled })))
}

/// Writes `body` to a new file in `dir` and syncs it and the folder, so
/// the notification survives a crash once this returns.
fn spool(dir: &std::path::Path, body: &[u8], extension: &str) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
    let name = format!("notification-{stamp}-{:08x}.{extension}", rand_suffix());
    let partial = dir.join(format!(".{name}.partial"));
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(body)?;
    file.sync_all()?;
    std::fs::rename(&partial, dir.join(&name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(name)
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::AtomicU32;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed) ^ std::process::id()
}
