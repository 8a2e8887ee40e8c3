//! Functions the host provides to every plugin.
//!
//! Inside a WebAssembly component these call the host's imports. In a native
//! build (`cargo test` on a plugin crate) they call the mock host installed on
//! the current thread by [`crate::testing::MockHost`]; calling them with no mock
//! installed panics with a message saying so.

use crate::types::{Timestamp, Weekday};

/// Log severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Per-item decisions.
    Debug,
    /// Lifecycle events.
    Info,
    /// Degraded but working.
    Warn,
    /// Someone must act.
    Error,
}

/// A civil date in the site's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, such as 2026.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of month, 1 to 31.
    pub day: u8,
}

/// A moment in the site's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// Local date.
    pub date: Date,
    /// Local weekday.
    pub weekday: Weekday,
    /// Minutes since local midnight, 0 to 1439.
    pub minute: u16,
    /// Offset from UTC in minutes.
    pub offset_minutes: i32,
}

/// Writes a structured log line. `fields` must hold ids and counts only.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    imp::log(level, message, fields)
}

/// The host's current time.
pub fn now() -> Timestamp {
    imp::now()
}

/// Converts `at` to the site's local time.
pub fn to_local(at: Timestamp) -> LocalTime {
    imp::to_local(at)
}

/// Converts a site-local date and minute to UTC. A skipped local time maps
/// to the first valid minute after it; a repeated one to its first occurrence.
pub fn from_local(date: Date, minute: u16) -> Timestamp {
    imp::from_local(date, minute)
}

/// The plugin's key-value store, persisted by the host per site.
pub mod kv {
    /// Why a key-value call failed.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    pub enum KvError {
        /// Key over 256 bytes or value over 64 KiB.
        #[error("key or value too large: {0}")]
        TooLarge(String),
        /// The host's store failed.
        #[error("store failed: {0}")]
        Store(String),
    }

    /// Maximum key length in bytes.
    pub const MAX_KEY_BYTES: usize = 256;
    /// Maximum value length in bytes.
    pub const MAX_VALUE_BYTES: usize = 64 * 1024;

    /// Reads `key`.
    ///
    /// # Errors
    ///
    /// [`KvError`] when the store fails.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        super::imp::kv_get(key)
    }

    /// Writes `key`.
    ///
    /// # Errors
    ///
    /// [`KvError::TooLarge`] past the size limits; [`KvError::Store`] on failure.
    pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        super::imp::kv_set(key, value)
    }

    /// Removes `key`; removing a missing key succeeds.
    ///
    /// # Errors
    ///
    /// [`KvError::Store`] when the store fails.
    pub fn delete(key: &str) -> Result<(), KvError> {
        super::imp::kv_delete(key)
    }
}

/// Outbound HTTP through the host (connectors only).
pub mod http {
    /// An HTTP request.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub struct Request {
        /// Method, such as `GET`.
        pub method: String,
        /// Absolute URL.
        pub url: String,
        /// Header names and values.
        pub headers: Vec<(String, String)>,
        /// Body bytes.
        pub body: Vec<u8>,
        /// Name of the site credential the host attaches.
        pub credential: Option<String>,
    }

    impl Request {
        /// A `GET` of `url` with the `ehr` credential and a FHIR `Accept` header.
        pub fn get(url: impl Into<String>) -> Self {
            Request {
                method: "GET".to_string(),
                url: url.into(),
                headers: vec![("accept".to_string(), "application/fhir+json".to_string())],
                body: Vec::new(),
                credential: None,
            }
        }

        /// Sets the credential name.
        pub fn with_credential(mut self, name: impl Into<String>) -> Self {
            self.credential = Some(name.into());
            self
        }
    }

    /// An HTTP response.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub struct Response {
        /// Status code.
        pub status: u16,
        /// Header names (lowercase) and values.
        pub headers: Vec<(String, String)>,
        /// Body bytes.
        pub body: Vec<u8>,
    }

    impl Response {
        /// The first header named `name`, compared case-insensitively.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Why the host could not complete a request.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    pub enum HttpError {
        /// Host not allowed by the manifest.
        #[error("request denied: {0}")]
        Denied(String),
        /// Gave up after retries or the deadline.
        #[error("request timed out: {0}")]
        TimedOut(String),
        /// Site request budget spent.
        #[error("rate limited: {0}")]
        RateLimited(String),
        /// Connection, TLS or protocol failure.
        #[error("transport failed: {0}")]
        Transport(String),
        /// Credential missing or token unavailable.
        #[error("credential failed: {0}")]
        Credential(String),
        /// Response over the host's limit.
        #[error("response too large: {0}")]
        TooLarge(String),
    }

    /// Sends `request` through the host.
    ///
    /// # Errors
    ///
    /// [`HttpError`] when the host denied or could not complete the request.
    /// An HTTP error status is a successful [`Response`].
    pub fn send(request: &Request) -> Result<Response, HttpError> {
        super::imp::http_send(request)
    }
}

#[cfg(target_arch = "wasm32")]
use crate::guest::imports as imp;

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::imports as imp;
