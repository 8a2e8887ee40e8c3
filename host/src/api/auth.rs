//! Authentication: a bearer token (API) or the console's session cookie,
//! resolved to a [`Principal`]; authorization checks per site and scope.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use super::problem::ApiError;
use crate::app::{App, Principal};
use crate::config::TokenScope;

/// Name of the console's session cookie; it carries the bearer token.
pub const SESSION_COOKIE: &str = "switchboard_session";

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .or_else(|| session_cookie(parts))
            .ok_or_else(|| {
                ApiError::unauthorized("missing bearer token; send Authorization: Bearer <token>")
            })?;
        let principal = app
            .tokens
            .lookup(&token)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("invalid token"))?;
        Ok(Auth(principal))
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// The console's cookie authenticates reads anywhere, and writes only
/// under `/console`, where every POST carries a CSRF token. An API write
/// needs the bearer header, which a browser never adds by itself.
fn session_cookie(parts: &Parts) -> Option<String> {
    let read = parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
    if !read && !parts.uri.path().starts_with("/console") {
        return None;
    }
    for header in parts.headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == SESSION_COOKIE
            {
                return Some(value.to_string());
            }
        }
    }
    None
}

impl Auth {
    /// Requires `scope` at `site`.
    ///
    /// # Errors
    ///
    /// 403 naming the site and scope.
    pub fn require(&self, site: &str, scope: TokenScope) -> Result<&Principal, ApiError> {
        if self.0.allows(site, scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden(format!(
                "token {:?} may not {} at site {site:?}",
                self.0.name,
                scope_verb(scope)
            )))
        }
    }

    /// Requires a staff token with a person (admin tokens may act for the
    /// person they name). Returns the acting person.
    ///
    /// # Errors
    ///
    /// 403 when the token has no person or no staff scope at the site.
    pub fn person(&self, site: &str) -> Result<&str, ApiError> {
        self.require(site, TokenScope::Staff)?;
        self.0.person.as_deref().ok_or_else(|| {
            ApiError::forbidden(format!(
                "token {:?} is not bound to a person, so it cannot work items",
                self.0.name
            ))
        })
    }
}

fn scope_verb(scope: TokenScope) -> &'static str {
    match scope {
        TokenScope::Admin => "administer",
        TokenScope::Staff => "work items",
        TokenScope::Metrics => "read metrics",
        TokenScope::Intake => "send messages",
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Option<Self>, Self::Rejection> {
        match bearer(parts).or_else(|| session_cookie(parts)) {
            None => Ok(None),
            Some(token) => app
                .tokens
                .lookup(&token)
                .cloned()
                .map(|p| Some(Auth(p)))
                .ok_or_else(|| ApiError::unauthorized("invalid token")),
        }
    }
}
