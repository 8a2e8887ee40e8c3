//! Errors as JSON problem details (RFC 9457).
//!
//! Each client error has a status and a safe message. Internal errors
//! return a generic message and log the detail inside the request span, so
//! nothing internal (paths, store messages) reaches a response body.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_engine::EngineError;
use utoipa::ToSchema;

/// A problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` means the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the status.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong with this request, and how to fix it.
    pub detail: String,
}

/// An API error: a status and a message safe to show the caller.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message for the caller.
    pub detail: String,
}

impl ApiError {
    /// Creates an error with any status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    /// 401: no valid token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
        }
    }

    /// 403: the token may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            detail: detail.into(),
        }
    }

    /// 404: no such resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            detail: detail.into(),
        }
    }

    /// 409: the resource is not in a state that allows this.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            detail: detail.into(),
        }
    }

    /// 422: well-formed but not acceptable.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: detail.into(),
        }
    }

    /// 503: try again later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: detail.into(),
        }
    }

    /// 500: logs `error` and returns a generic message.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "internal error; the host's log has the details".to_string(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let message = error.to_string();
        match error {
            EngineError::UnknownSite { .. } | EngineError::ItemNotFound { .. } => {
                ApiError::not_found(message)
            }
            EngineError::InvalidTransition { .. }
            | EngineError::Contended { .. }
            | EngineError::NotOwner { .. } => ApiError::conflict(message),
            EngineError::NotInRole { .. } => ApiError::forbidden(message),
            EngineError::UnknownPerson { .. }
            | EngineError::UnknownRole { .. }
            | EngineError::InvalidRequest(_) => ApiError::unprocessable(message),
            EngineError::Store(_) => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank".to_string(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Maximum size of a plain-text error body kept as a problem's detail.
/// axum's own messages are one line, and a longer body is replaced by a
/// generic detail.
const MAX_TEXT_DETAIL_BYTES: usize = 1024;

/// Rewrites an error response that is not already problem details, such
/// as the router's 405 or the timeout layer's 408, into problem details.
/// Headers such as `Allow` are kept. HTML pages (the console's error
/// pages) pass unchanged.
pub async fn problem_for_plain_errors(
    State(timeout_seconds): State<u64>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;

    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || !is_plain(&response) {
        return response;
    }

    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT_DETAIL_BYTES)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .unwrap_or_default();
    let detail = plain_detail(
        status,
        &method,
        &path,
        &parts.headers,
        text.trim(),
        timeout_seconds,
    );

    let mut problem = ApiError::new(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name, value.clone());
        }
    }
    problem
}

/// True when the response is neither problem details nor an HTML page.
fn is_plain(response: &Response) -> bool {
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !(content_type.starts_with("application/problem+json") || content_type.starts_with("text/html"))
}

fn plain_detail(
    status: StatusCode,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    text: &str,
    timeout_seconds: u64,
) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            format!("{method} is not allowed on {path}; allowed methods: {allowed}")
        }
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request took longer than api.request_timeout_seconds ({timeout_seconds} s); retry it, or raise the setting in switchboard.toml"
        ),
        _ if !text.is_empty() => text.to_string(),
        _ => format!("{method} {path} failed with status {}", status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// Sends a GET through `handler` wrapped in the middleware with a
    /// 30-second timeout setting; returns status, content type and body.
    async fn through_middleware(router: Router) -> (StatusCode, String, Value) {
        let app = router.layer(axum::middleware::from_fn_with_state(
            30,
            problem_for_plain_errors,
        ));
        let request = axum::http::Request::get("/x").body(Body::empty()).unwrap();

        let response = app.oneshot(request).await.unwrap();

        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn timeout_becomes_problem() {
        let router = Router::new().route("/x", get(|| async { StatusCode::REQUEST_TIMEOUT }));

        let (status, content_type, body) = through_middleware(router).await;

        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 408);
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("api.request_timeout_seconds (30 s)"),
            "{detail}"
        );
    }

    #[tokio::test]
    async fn plain_text_error_keeps_its_text() {
        let router = Router::new().route(
            "/x",
            get(|| async { (StatusCode::BAD_REQUEST, "header `x-a` is invalid") }),
        );

        let (status, content_type, body) = through_middleware(router).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["detail"], "header `x-a` is invalid");
        assert_eq!(body["title"], "Bad Request");
    }

    #[tokio::test]
    async fn html_error_page_passes() {
        let router = Router::new().route(
            "/x",
            get(|| async { (StatusCode::NOT_FOUND, axum::response::Html("<p>gone</p>")) }),
        );

        let (status, content_type, _) = through_middleware(router).await;

        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(content_type.starts_with("text/html"), "{content_type}");
    }

    #[tokio::test]
    async fn success_passes() {
        let router = Router::new().route("/x", get(|| async { "ok" }));

        let (status, content_type, _) = through_middleware(router).await;

        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/plain"), "{content_type}");
    }
}
