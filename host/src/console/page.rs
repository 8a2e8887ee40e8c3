//! The page frame every console page shares, the error page, the
//! stylesheet and the security headers.
//!
//! Pages are built with `maud`, which escapes every interpolated value, so
//! titles, reasons and errors from an EHR or a plugin are shown as text.
//! Only the charts are inserted unescaped, and their renderer escapes each
//! text it embeds.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use switchboard_engine::EngineError;

use super::session::{SIGN_IN_PATH, Viewer, redirect};
use super::{HOME, csrf, format};
use crate::api::problem::ApiError;
use crate::config::TokenScope;

/// Path of the embedded stylesheet.
pub const STYLESHEET_PATH: &str = "/console/assets/console.css";

const STYLESHEET: &str = include_str!("assets/console.css");

/// No scripts, no outside resources, forms only to this host, never framed.
const CONTENT_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The part of the console a page belongs to, for the navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The sign-in page, which has no navigation.
    SignIn,
    /// The list of sites.
    Home,
    /// A site's worklists and items.
    Worklist,
    /// A site's plugins, reloads, shadow mode and dead letters.
    Admin,
    /// A site's backlog charts.
    Backlog,
}

/// The frame around a page's content: title, navigation and notice.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Page heading and window title.
    pub title: &'a str,
    /// The signed-in caller; `None` on the sign-in and error pages.
    pub viewer: Option<&'a Viewer>,
    /// The site the page is about, for the site navigation.
    pub site: Option<&'a str>,
    /// The navigation entry of the current page.
    pub section: Section,
    /// A message about the action just taken, announced to screen readers.
    pub notice: Option<String>,
}

/// Wraps `content` in the document: landmarks, navigation, the heading and
/// the notice.
pub fn render(frame: Frame<'_>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) " · Switchboard" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    p.brand { a href=(HOME) { "Switchboard" } }
                    @if let Some(viewer) = frame.viewer {
                        (navigation(viewer, frame.site, frame.section))
                        (account(viewer))
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(notice) = &frame.notice {
                        p.notice role="status" { (notice) }
                    }
                    h1 { (frame.title) }
                    (content)
                }
                footer.bottom {
                    p { "Switchboard routes EHR work to the people who own it. It never signs or finalizes a chart." }
                }
            }
        }
    }
}

fn navigation(viewer: &Viewer, site: Option<&str>, section: Section) -> Markup {
    let current = |s: Section| (s == section).then_some("page");
    html! {
        nav aria-label="Console" {
            ul {
                li { a href=(HOME) aria-current=[current(Section::Home)] { "Sites" } }
                @if let Some(site) = site {
                    @let base = format!("/console/sites/{}", format::encode(site));
                    @if viewer.may(site, TokenScope::Staff) {
                        li { a href=(format!("{base}/worklist")) aria-current=[current(Section::Worklist)] { "Worklists" } }
                    }
                    @if viewer.may(site, TokenScope::Admin) {
                        li { a href=(format!("{base}/admin")) aria-current=[current(Section::Admin)] { "Plugins and dead letters" } }
                    }
                    @if viewer.may(site, TokenScope::Admin) {
                        li { a href=(format!("{base}/backlog")) aria-current=[current(Section::Backlog)] { "Backlog" } }
                    }
                }
            }
        }
    }
}

fn account(viewer: &Viewer) -> Markup {
    let principal = viewer.principal();
    html! {
        form.account method="post" action="/console/sign-out" {
            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
            span {
                "Signed in as "
                strong { (principal.person.as_deref().unwrap_or(&principal.name)) }
                @if principal.person.is_some() {
                    " (token " (principal.name) ")"
                }
            }
            " "
            button type="submit" { "Sign out" }
        }
    }
}

/// Renders a complete page for an error: the status as the heading and
/// `detail`, which states what failed and what to do.
pub fn error_page(status: StatusCode, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        p.alert role="alert" { (detail) }
        ul.inline {
            li { a href=(HOME) { "Back to the console" } }
            li { a href=(SIGN_IN_PATH) { "Sign in with another token" } }
        }
    };
    let markup = render(
        Frame {
            title,
            viewer: None,
            site: None,
            section: Section::Home,
            notice: None,
        },
        body,
    );
    (status, markup).into_response()
}

/// The reason a console request did not produce its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// No session, or its token is no longer accepted: go to sign-in, then
    /// back to `next`.
    SignIn {
        /// Console path to return to.
        next: String,
        /// True when a token was presented but rejected.
        expired: bool,
    },
    /// The error the API returns for the same request: its status and message.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        ConsoleError::Api(error)
    }
}

impl From<EngineError> for ConsoleError {
    fn from(error: EngineError) -> Self {
        ConsoleError::Api(error.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn { next, expired } => {
                let target = format::with_query(
                    SIGN_IN_PATH,
                    &[("next", &next), ("expired", if expired { "1" } else { "" })],
                );
                let mut response = redirect(&target);
                if expired {
                    // The cookie's token no longer works; drop it so the
                    // browser stops sending it.
                    let clear = format!(
                        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                        crate::api::auth::SESSION_COOKIE
                    );
                    if let Ok(value) = HeaderValue::from_str(&clear) {
                        response
                            .headers_mut()
                            .append(axum::http::header::SET_COOKIE, value);
                    }
                }
                response
            }
            ConsoleError::Api(error) => error_page(error.status, &error.detail),
        }
    }
}

/// Result of console handlers.
pub type ConsoleResult<T> = Result<T, ConsoleError>;

/// `GET /console/assets/console.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Adds the console's security headers to every response that does not
/// set its own: the content policy, no sniffing, no referrer, no framing,
/// and no caching of pages that show worklists.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    set_default(headers, CONTENT_SECURITY_POLICY, CONTENT_POLICY);
    set_default(headers, X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(headers, REFERRER_POLICY, "no-referrer");
    set_default(headers, X_FRAME_OPTIONS, "DENY");
    set_default(headers, CACHE_CONTROL, "no-store");
    response
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// `404` for console paths that name no page.
pub async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "there is no console page at this address; start from the list of sites",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_escapes_detail() {
        let response = error_page(StatusCode::CONFLICT, "<script>alert(1)</script> & more");

        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = body_text(response);
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{body}"
        );
        assert!(!body.contains("<script>"));
    }

    #[test]
    fn sign_in_redirect_keeps_next_page() {
        let error = ConsoleError::SignIn {
            next: "/console/sites/north/worklist?after=a b".into(),
            expired: false,
        };

        let response = error.into_response();

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()["location"],
            "/console/sign-in?next=%2Fconsole%2Fsites%2Fnorth%2Fworklist%3Fafter%3Da%20b"
        );
    }

    fn body_text(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
