//! The request a plugin hands the host and the response it gets back. The
//! shapes match the host runtime's types field for field, so its adapter
//! only moves values across.

use std::fmt;

/// A request a plugin asked the host to send.
#[derive(Clone, Default)]
pub struct EgressRequest {
    /// Calling site. It must be the site the [`Egress`](crate::Egress) was
    /// built for, or empty.
    pub site: String,
    /// Calling plugin. It must be the plugin the `Egress` was built for, or
    /// empty.
    pub plugin: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers from the plugin. `authorization`, `proxy-authorization`,
    /// `cookie`, `host` and the connection-level headers are dropped.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Name of the credential whose token the host attaches.
    pub credential: Option<String>,
}

impl EgressRequest {
    /// A `GET` of `url` by `plugin` at `site`, with no headers.
    pub fn get(site: &str, plugin: &str, url: &str) -> Self {
        EgressRequest {
            site: site.to_string(),
            plugin: plugin.to_string(),
            method: "GET".to_string(),
            url: url.to_string(),
            ..EgressRequest::default()
        }
    }

    /// Sets the credential name.
    pub fn with_credential(mut self, name: &str) -> Self {
        self.credential = Some(name.to_string());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

impl fmt::Debug for EgressRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers may carry a token the plugin tried to send itself, and the
        // body may carry patient data, so only their sizes are shown.
        f.debug_struct("EgressRequest")
            .field("site", &self.site)
            .field("plugin", &self.plugin)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .field("credential", &self.credential)
            .finish()
    }
}

/// A response for the plugin.
#[derive(Clone, PartialEq, Eq)]
pub struct EgressResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// Body, decompressed when the server sent gzip.
    pub body: Vec<u8>,
}

impl EgressResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for EgressResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_hides_headers_and_body() {
        let request = EgressRequest::get("north", "fhir", "https://ehr.test/x")
            .with_header("Authorization", "Bearer plugin-secret");

        let printed = format!("{request:?}");

        assert!(!printed.contains("plugin-secret"), "{printed}");
        assert!(printed.contains("headers: 1"), "{printed}");
    }

    #[test]
    fn header_lookup_ignores_case() {
        let response = EgressResponse {
            status: 200,
            headers: vec![(
                "content-type".to_string(),
                "application/fhir+json".to_string(),
            )],
            body: Vec::new(),
        };

        assert_eq!(
            response.header("Content-Type"),
            Some("application/fhir+json")
        );
        assert_eq!(response.header("etag"), None);
    }
}
