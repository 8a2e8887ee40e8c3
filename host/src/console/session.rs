//! Signing in and out, and the [`Viewer`] every console page is rendered for.
//!
//! The session cookie contains the bearer token itself, so the console
//! accepts exactly the tokens and scopes the API does. [`Viewer`] resolves
//! the caller through the API's [`Auth`] extractor, and page handlers check
//! scopes with the same [`Auth::require`] and [`Auth::person`].

use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_engine::model::AuditEntry;

use super::page::{self, ConsoleError, Frame, Section};
use super::{HOME, csrf, format};
use crate::api::auth::{Auth, SESSION_COOKIE};
use crate::app::{App, Principal};
use crate::config::TokenScope;

/// Path of the sign-in page and form.
pub const SIGN_IN_PATH: &str = "/console/sign-in";

/// Cookie holding the sign-in form's nonce; scoped to the sign-in path.
pub const SIGN_IN_COOKIE: &str = "switchboard_sign_in";

/// How long a sign-in form stays valid, in seconds.
const SIGN_IN_MAX_AGE_SECONDS: u32 = 3600;

/// The signed-in caller of a console page.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The caller as the API authenticates it.
    pub auth: Auth,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Viewer {
    /// Returns the caller's token identity.
    pub fn principal(&self) -> &Principal {
        &self.auth.0
    }

    /// True when the caller may use `scope` at `site`.
    pub fn may(&self, site: &str, scope: TokenScope) -> bool {
        self.auth.0.allows(site, scope)
    }
}

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ConsoleError> {
        // After signing in, the browser returns to the page it asked for;
        // a form's POST cannot be replayed as a GET, so it returns home.
        let next = if parts.method == Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or_else(|| HOME.to_string(), |p| p.as_str().to_string())
        } else {
            HOME.to_string()
        };
        let Some(token) = presented_token(&parts.headers) else {
            return Err(ConsoleError::SignIn {
                next,
                expired: false,
            });
        };

        match Auth::from_request_parts(parts, app).await {
            Ok(auth) => Ok(Viewer {
                auth,
                csrf: csrf::session_token(&token),
            }),
            Err(error) if error.status == StatusCode::UNAUTHORIZED => Err(ConsoleError::SignIn {
                next,
                expired: true,
            }),
            Err(error) => Err(error.into()),
        }
    }
}

/// Returns the token a request authenticates with, in the order [`Auth`] reads
/// them: the `Authorization: Bearer` header, then the session cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(|token| token.trim().to_string());
    bearer.or_else(|| cookie(headers, SESSION_COOKIE))
}

/// Returns the value of cookie `name`, when the request sends it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|text| text.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_string())
        })
}

/// True when the host serves over TLS, so cookies get `Secure`.
fn served_over_tls(app: &App) -> bool {
    app.config.api.tls_cert.is_some() && app.config.api.tls_key.is_some()
}

fn secure_suffix(app: &App) -> &'static str {
    if served_over_tls(app) { "; Secure" } else { "" }
}

/// Returns the `Set-Cookie` value that stores `token` as the session.
fn session_cookie(app: &App, token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        secure_suffix(app)
    )
}

/// Returns the `Set-Cookie` value that removes the session.
pub fn clear_session_cookie(app: &App) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure_suffix(app)
    )
}

fn sign_in_cookie(app: &App, nonce: &str) -> String {
    format!(
        "{SIGN_IN_COOKIE}={nonce}; Path={SIGN_IN_PATH}; HttpOnly; SameSite=Strict; Max-Age={SIGN_IN_MAX_AGE_SECONDS}{}",
        secure_suffix(app)
    )
}

fn clear_sign_in_cookie(app: &App) -> String {
    format!(
        "{SIGN_IN_COOKIE}=; Path={SIGN_IN_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure_suffix(app)
    )
}

/// True for text a cookie value may carry unquoted (RFC 6265 `cookie-octet`).
fn is_cookie_value(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// True when `principal` has a scope the console shows anything for. The
/// metrics scope reads only `/metrics`, which has no console page.
fn has_console_scope(principal: &Principal) -> bool {
    principal
        .scopes
        .iter()
        .any(|s| matches!(s, TokenScope::Staff | TokenScope::Admin))
}

/// Query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    /// Console page to open after signing in.
    #[serde(default)]
    next: Option<String>,
    /// Set when a session's token stopped working.
    #[serde(default)]
    expired: Option<String>,
    /// Set after signing out.
    #[serde(default)]
    signed_out: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    /// The bearer token, pasted.
    #[serde(default)]
    token: String,
    /// Console page to open after signing in.
    #[serde(default)]
    next: Option<String>,
}

/// `GET /console/sign-in`: the form, with a fresh nonce cookie.
pub async fn sign_in_page(
    State(app): State<Arc<App>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let nonce = csrf::random_hex(16);
    let notice = if query.signed_out.is_some() {
        Some("You are signed out.".to_string())
    } else if query.expired.is_some() {
        Some("Your session's token is no longer accepted; sign in again.".to_string())
    } else {
        None
    };
    let next = query
        .next
        .as_deref()
        .and_then(format::console_path)
        .unwrap_or(HOME);
    let markup = sign_in_markup(&nonce, next, notice, None);

    let mut response = markup.into_response();
    set_cookie(&mut response, &sign_in_cookie(&app, &nonce));
    response
}

/// `POST /console/sign-in`: checks the token and starts the session.
/// The CSRF field was checked against the nonce cookie before this runs.
pub async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let nonce = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let next = form
        .next
        .as_deref()
        .and_then(format::console_path)
        .unwrap_or(HOME)
        .to_string();
    let retry = |status: StatusCode, problem: &str| {
        let markup = sign_in_markup(&nonce, &next, None, Some(problem));
        (status, markup).into_response()
    };

    let token = form.token.trim();
    if token.is_empty() {
        return Ok(retry(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The token field is empty. Paste the bearer token your administrator gave you.",
        ));
    }
    if !is_cookie_value(token) {
        return Ok(retry(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This token contains spaces, quotes, commas, semicolons or backslashes, which a browser cookie cannot carry. Ask your administrator for a token without them.",
        ));
    }
    let Some(principal) = app.tokens.lookup(token).cloned() else {
        tracing::warn!("console sign-in rejected: unknown token");
        return Ok(retry(
            StatusCode::UNAUTHORIZED,
            "This token is not recognised. Check that you pasted all of it.",
        ));
    };
    if !has_console_scope(&principal) {
        tracing::warn!(token = %principal.name, "console sign-in rejected: no staff or admin scope");
        return Ok(retry(
            StatusCode::FORBIDDEN,
            "This token grants neither the staff nor the admin scope, so the console has nothing to show it.",
        ));
    }

    record_sign_in(&app, &principal).await?;
    let mut response = redirect(&next);
    set_cookie(&mut response, &session_cookie(&app, token));
    set_cookie(&mut response, &clear_sign_in_cookie(&app));
    Ok(response)
}

/// Writes the sign-in to the audit trail of the token's site.
async fn record_sign_in(app: &Arc<App>, principal: &Principal) -> Result<(), ConsoleError> {
    tracing::info!(token = %principal.name, person = principal.person.as_deref().unwrap_or("-"), "console sign-in");
    let app = app.clone();
    let entry = AuditEntry {
        at: app.engine.now(),
        actor: principal.actor().to_string(),
        action: "console.sign-in".to_string(),
        target: principal.name.clone(),
        site: principal.site.clone(),
        detail: String::new(),
    };
    crate::api::blocking(move || Ok(app.engine.append_audit(entry)?)).await?;
    Ok(())
}

/// `POST /console/sign-out`: removes the session cookie.
pub async fn sign_out(State(app): State<Arc<App>>) -> Response {
    let mut response = redirect(&format::with_query(SIGN_IN_PATH, &[("signed_out", "1")]));
    set_cookie(&mut response, &clear_session_cookie(&app));
    response
}

/// Builds a 303 to `target`, so the browser follows with a GET.
pub fn redirect(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(target) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Appends a `Set-Cookie` header.
pub fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

fn sign_in_markup(
    nonce: &str,
    next: &str,
    notice: Option<String>,
    problem: Option<&str>,
) -> Markup {
    let body = html! {
        @if let Some(problem) = problem {
            p.alert role="alert" { (problem) }
        }
        form.sign-in method="post" action=(SIGN_IN_PATH) {
            input type="hidden" name=(csrf::FIELD) value=(csrf::sign_in_token(nonce));
            input type="hidden" name="next" value=(next);
            p {
                label for="token" { "Bearer token" }
                input #token type="password" name="token" autocomplete="off" required
                    aria-describedby="token-help";
            }
            p #token-help .help {
                "The same token the API accepts. It is kept in a cookie that scripts cannot read and that ends when you close the browser."
            }
            p { button type="submit" { "Sign in" } }
        }
    };
    page::render(
        Frame {
            title: "Sign in",
            viewer: None,
            site: None,
            section: Section::SignIn,
            notice,
        },
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_reads_named_value() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; switchboard_session=tok-1"),
        );

        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok-1"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("switchboard_session=from-cookie"),
        );
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer from-header"),
        );

        assert_eq!(presented_token(&headers).as_deref(), Some("from-header"));
    }

    #[test]
    fn cookie_values_exclude_separators() {
        assert!(is_cookie_value("abc-123_~.XYZ"));
        assert!(!is_cookie_value("a b"));
        assert!(!is_cookie_value("a;b"));
        assert!(!is_cookie_value("a\"b"));
        assert!(!is_cookie_value("a,b"));
        assert!(!is_cookie_value("a\\b"));
    }

    #[test]
    fn intake_and_metrics_tokens_see_nothing() {
        let principal = |scopes| Principal {
            name: "t".into(),
            site: Some("north".into()),
            person: None,
            scopes,
        };

        assert!(!has_console_scope(&principal(vec![TokenScope::Intake])));
        assert!(!has_console_scope(&principal(vec![TokenScope::Metrics])));
        assert!(has_console_scope(&principal(vec![TokenScope::Staff])));
        assert!(has_console_scope(&principal(vec![TokenScope::Admin])));
    }
}
