//! Errors: [`EgressError`] for a request, [`ConfigError`] for building an
//! [`Egress`](crate::Egress).
//!
//! Messages name the origin (`https://host:port`), never the full URL,
//! because paths and queries carry patient and resource ids. They name the
//! credential by its name and never print a token or key.

/// Why a request was not completed. The variants match the WIT
/// `http-error` cases one to one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The manifest or the address rules do not allow the request.
    #[error("request denied: {0}")]
    Denied(String),
    /// The call's deadline passed, or retries ran out.
    #[error("request timed out: {0}")]
    TimedOut(String),
    /// The site's request budget cannot serve the request within its
    /// deadline.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// Connection, TLS or protocol failure.
    #[error("transport failed: {0}")]
    Transport(String),
    /// The credential is not allowed or configured, or its token could not
    /// be obtained.
    #[error("credential failed: {0}")]
    Credential(String),
    /// The response body is over the configured limit.
    #[error("response too large: {0}")]
    TooLarge(String),
}

/// Why an [`EgressConfig`](crate::EgressConfig) was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An `http_hosts` entry could not be parsed.
    #[error(
        "http_hosts entry {entry:?} is invalid: {reason}; write a host name, an IP address or host:port"
    )]
    InvalidHost {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A credential's settings are unusable.
    #[error("credential {name:?} is invalid: {reason}")]
    InvalidCredential {
        /// Credential name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A limit is out of range.
    #[error("{field} is invalid: {reason}")]
    InvalidLimit {
        /// The setting, such as `rate.burst`.
        field: &'static str,
        /// The allowed range.
        reason: String,
    },
}
