//! Request extractors whose rejections are problem details.
//!
//! axum's own `Path`, `Query`, `Json` and `Bytes` reject a request with a
//! plain-text body. These wrappers parse the same inputs and turn every
//! failure into an [`ApiError`] whose detail names the parameter or field
//! and the change to make, so a client gets `application/problem+json` on
//! every error.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::{ApiError, ApiResult};
use crate::app::App;

/// Remedy text pointing at the document of each route's parameters, bodies and ranges.
const OPENAPI_HINT: &str = "/v1/openapi.json lists each route's parameters and bodies";

/// Path parameters, deserialized as axum's `Path` does.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                let names = parameter_names(parts, state).await;
                Err(path_error(&rejection, &names))
            }
        }
    }
}

/// Returns the route's parameter names in path order. axum reports a
/// tuple parameter's error by position, and this maps it to the name.
async fn parameter_names<S: Send + Sync>(parts: &mut Parts, state: &S) -> Vec<String> {
    match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => params.iter().map(|(key, _)| key.to_string()).collect(),
        Err(_) => Vec::new(),
    }
}

fn path_error(rejection: &PathRejection, names: &[String]) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(failure) = rejection else {
        // The route and the handler disagree on the parameters: a bug here.
        return ApiError::internal(rejection.body_text());
    };
    let detail = match failure.kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => format!(
            "path parameter `{key}` is {value:?}, which is not a valid {expected_type}; {OPENAPI_HINT}"
        ),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => match names.get(*index) {
            Some(key) => format!(
                "path parameter `{key}` is {value:?}, which is not a valid {expected_type}; {OPENAPI_HINT}"
            ),
            None => {
                format!("path parameter {value:?} is not a valid {expected_type}; {OPENAPI_HINT}")
            }
        },
        ErrorKind::ParseError {
            value,
            expected_type,
        } => format!("path parameter {value:?} is not a valid {expected_type}; {OPENAPI_HINT}"),
        ErrorKind::InvalidUtf8InPathParam { key } => {
            format!("path parameter `{key}` is not valid UTF-8 after percent-decoding")
        }
        ErrorKind::DeserializeError {
            key,
            value,
            message,
        } => format!("path parameter `{key}` is {value:?}: {message}; {OPENAPI_HINT}"),
        _ => return ApiError::internal(failure.body_text()),
    };
    ApiError::bad_request(detail)
}

/// A query string, deserialized with `serde_urlencoded`. A parameter that
/// fails to parse is named in the error.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// Parses a query string into `T`.
///
/// # Errors
///
/// 400 naming the missing, unknown or invalid parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        ApiError::bad_request(describe(
            Input::Query,
            error.path(),
            &error.inner().to_string(),
        ))
    })
}

/// The part of a request a deserialization error is in.
#[derive(Clone, Copy, Debug)]
enum Input {
    Query,
    Body,
}

/// Words a deserialization error with its remedy.
///
/// serde words a missing or unknown field as "missing field `x`" and
/// "unknown field `x`, expected …" (serde 1.0, `de::Error::missing_field`
/// and `unknown_field`). Those messages name the field already, so only
/// the remedy is added. Any other error is about a value, and `path` names
/// the field that contains it.
fn describe(input: Input, path: &serde_path_to_error::Path, reason: &str) -> String {
    let (whole, part) = match input {
        Input::Query => ("invalid query string", "query parameter"),
        Input::Body => ("invalid request body", "field"),
    };
    let field = path.to_string();
    if reason.starts_with("missing field") {
        format!("{whole}: {reason}; add it ({OPENAPI_HINT})")
    } else if reason.starts_with("unknown field") {
        format!("{whole}: {reason}; remove it or correct its spelling")
    } else if field == "." {
        format!("{whole}: {reason}; {OPENAPI_HINT}")
    } else {
        format!(
            "{part} `{field}` is invalid: {reason}; send a value of the type and range that /v1/openapi.json lists for it"
        )
    }
}

/// A JSON request body or response. As an extractor it requires a JSON content type (415), a body within
/// `api.max_body_kib` (413), valid JSON (400) and the fields the type
/// expects (422).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<App>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(unsupported_media_type());
        }
        let Body(bytes) = Body::from_request(request, app).await?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body: `None` when the request has neither a content
/// type nor a body. A body without a JSON content type is rejected rather
/// than ignored, because ignoring it could widen what the request does
/// (a retry of named items would retry them all).
impl<T: DeserializeOwned> OptionalFromRequest<Arc<App>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Option<Self>, ApiError> {
        let has_content_type = request.headers().contains_key(header::CONTENT_TYPE);
        if has_content_type && !is_json(request.headers()) {
            return Err(unsupported_media_type());
        }
        let Body(bytes) = Body::from_request(request, app).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !has_content_type {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(|value| Some(Json(value)))
    }
}

/// Serializes the value as a JSON response, as `axum::Json` does.
impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "the request body must be JSON; send Content-Type: application/json",
    )
}

/// True for `application/json` and any `application/*+json`, with or
/// without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// Parses a JSON body into `T`.
///
/// # Errors
///
/// 400 when the body is not JSON, and 422 when it is JSON of the wrong
/// shape. Both name the position, and the field when there is one.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let reason = error.inner().to_string();
        if error.inner().is_data() {
            ApiError::unprocessable(describe(Input::Body, error.path(), &reason))
        } else {
            json_syntax_error(&reason)
        }
    })?;
    deserializer
        .end()
        .map_err(|error| json_syntax_error(&error.to_string()))?;
    Ok(value)
}

fn json_syntax_error(reason: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the request body is not valid JSON: {reason}; send one JSON object"
    ))
}

/// A raw request body within `api.max_body_kib`.
#[derive(Debug)]
pub struct Body(pub Bytes);

impl FromRequest<Arc<App>> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        Bytes::from_request(request, app)
            .await
            .map(Body)
            .map_err(|rejection| body_error(&rejection, app.config.api.max_body_kib))
    }
}

fn body_error(rejection: &BytesRejection, max_body_kib: u64) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {max_body_kib} KiB; send a smaller body or raise api.max_body_kib in switchboard.toml"
            ),
        );
    }
    ApiError::bad_request(format!(
        "the request body could not be read: {}; send it again",
        rejection.body_text()
    ))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        baseline: String,
        limit: Option<u32>,
    }

    #[test]
    fn query_names_missing_parameter() {
        let error = parse_query::<Params>("limit=3").unwrap_err();

        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(
            error.detail.contains("missing field `baseline`"),
            "{}",
            error.detail
        );
        assert!(error.detail.contains("add it"), "{}", error.detail);
    }

    #[test]
    fn query_names_invalid_value() {
        let error = parse_query::<Params>("baseline=x&limit=abc").unwrap_err();

        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(
            error
                .detail
                .starts_with("query parameter `limit` is invalid"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn query_names_unknown_parameter() {
        let error = parse_query::<Params>("baseline=x&limt=3").unwrap_err();

        assert!(
            error.detail.contains("unknown field `limt`"),
            "{}",
            error.detail
        );
        assert!(
            error.detail.contains("correct its spelling"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn json_syntax_is_bad_request() {
        let error = parse_json::<Params>(b"{\"baseline\": ").unwrap_err();

        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.detail.contains("not valid JSON"), "{}", error.detail);
    }

    #[test]
    fn json_trailing_text_is_bad_request() {
        let error = parse_json::<Params>(b"{\"baseline\": \"x\"} x").unwrap_err();

        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn json_wrong_type_names_field() {
        let error = parse_json::<Params>(b"{\"baseline\": \"x\", \"limit\": \"3\"}").unwrap_err();

        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error.detail.starts_with("field `limit` is invalid"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn json_unknown_field_is_unprocessable() {
        let error = parse_json::<Params>(b"{\"baseline\": \"x\", \"limt\": 3}").unwrap_err();

        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error.detail.contains("unknown field `limt`"),
            "{}",
            error.detail
        );
        assert!(
            error.detail.contains("correct its spelling"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn json_content_types() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };

        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/fhir+json"));
        assert!(!with("text/json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
