//! Outbound HTTP for connectors, as the runtime sees it.
//!
//! The runtime hands every request to an [`Egress`]; the allow-list,
//! credentials, rate limits and retries live behind that trait, so the
//! runtime never sees a token.

use super::bindings::connector::switchboard::plugin::http as wit_http;

/// A request a plugin asked the host to send.
#[derive(Clone)]
pub struct EgressRequest {
    /// Calling site.
    pub site: String,
    /// Calling plugin.
    pub plugin: String,
    /// Method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers from the plugin (an `authorization` header is dropped).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Credential name to attach.
    pub credential: Option<String>,
}

impl std::fmt::Debug for EgressRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may carry tokens a plugin tried to send itself.
        f.debug_struct("EgressRequest")
            .field("site", &self.site)
            .field("plugin", &self.plugin)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_bytes", &self.body.len())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// A response for the plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request was not completed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not allowed by the manifest or the address rules.
    #[error("request denied: {0}")]
    Denied(String),
    /// Deadline or retries exhausted.
    #[error("request timed out: {0}")]
    TimedOut(String),
    /// The site's request budget is spent.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// Connection, TLS or protocol failure.
    #[error("transport failed: {0}")]
    Transport(String),
    /// Credential missing or token unavailable.
    #[error("credential failed: {0}")]
    Credential(String),
    /// Response body over the limit.
    #[error("response too large: {0}")]
    TooLarge(String),
}

impl From<EgressError> for wit_http::HttpError {
    fn from(e: EgressError) -> Self {
        match e {
            EgressError::Denied(m) => wit_http::HttpError::Denied(m),
            EgressError::TimedOut(m) => wit_http::HttpError::TimedOut(m),
            EgressError::RateLimited(m) => wit_http::HttpError::RateLimited(m),
            EgressError::Transport(m) => wit_http::HttpError::Transport(m),
            EgressError::Credential(m) => wit_http::HttpError::Credential(m),
            EgressError::TooLarge(m) => wit_http::HttpError::TooLarge(m),
        }
    }
}

/// Sends plugin HTTP requests on the host's terms.
pub trait Egress: Send + Sync {
    /// Sends `request`, blocking the calling plugin until it completes.
    ///
    /// # Errors
    ///
    /// [`EgressError`] when the request was denied or could not complete.
    fn send(&self, request: EgressRequest) -> Result<EgressResponse, EgressError>;
}
