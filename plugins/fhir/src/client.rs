//! HTTP calls to the FHIR server, made through the host.
//!
//! The host attaches the credential named in the config, enforces the
//! manifest's host allow-list and the site's rate limit, and retries 429 and
//! 5xx responses itself. The connector gets the final response:
//!
//! | response | result |
//! | --- | --- |
//! | 2xx with a resource | the body |
//! | 2xx with an error `OperationOutcome` | [`ConnectorError::Remote`] naming each issue |
//! | 404 or 410 on a read | "not found", so the caller can reject one reference and go on |
//! | 429 or 5xx | [`ConnectorError::Unavailable`]: the host retries the call later |
//! | other 4xx | [`ConnectorError::Remote`], with the `OperationOutcome` issues when the body has them |
//! | host denied the request (allow-list) | [`ConnectorError::Unsupported`], naming the manifest fix |
//! | transport, timeout, rate limit, credential | [`ConnectorError::Unavailable`] |

use std::fmt::Write as _;

use switchboard_sdk::ConnectorError;
use switchboard_sdk::Timestamp;
use switchboard_sdk::host::http::{self, HttpError, Request, Response};

use crate::config::Settings;
use crate::fhir::{ParseError, Parsed, Resource, parse_resource};
use crate::refs;

/// A FHIR server at the configured base URL.
#[derive(Clone, Copy, Debug)]
pub struct FhirClient<'s> {
    settings: &'s Settings,
    base: &'s str,
}

/// The outcome of a read of one resource.
#[derive(Debug)]
pub enum ReadOutcome {
    Found(Box<Parsed>),
    /// 404 or 410: the resource does not exist (any more).
    NotFound(u16),
    /// The server returned something that is not a readable resource. The
    /// caller treats the reference as missing rather than failing the call,
    /// so that one broken resource cannot block a poll forever.
    Unreadable(ParseError),
}

/// The outcome of a GET.
#[derive(Debug)]
pub enum Fetched {
    /// A 2xx body.
    Body(Vec<u8>),
    /// 404 or 410: the resource or page does not exist (any more).
    NotFound(u16),
}

impl<'s> FhirClient<'s> {
    /// Creates a client for the configured server; returns `None` when no
    /// `base_url` is set.
    pub fn new(settings: &'s Settings) -> Option<Self> {
        let base = settings.base_url.as_deref()?;
        Some(FhirClient { settings, base })
    }

    /// Reads the current version of `resource_type/id`.
    ///
    /// # Errors
    ///
    /// [`ConnectorError`] as the module docs describe; also `Remote` when the
    /// server returns a resource of another type.
    pub fn read(&self, resource_type: &str, id: &str) -> Result<ReadOutcome, ConnectorError> {
        if !refs::is_resource_type(resource_type) || !refs::is_id(id) {
            return Err(ConnectorError::Malformed(format!(
                "{resource_type}/{id} is not a FHIR reference the connector can read"
            )));
        }
        let url = format!("{}/{resource_type}/{id}", self.base);
        let body = match self.get(&url)? {
            Fetched::Body(body) => body,
            Fetched::NotFound(status) => return Ok(ReadOutcome::NotFound(status)),
        };

        let Ok(text) = std::str::from_utf8(&body) else {
            return Ok(ReadOutcome::Unreadable(ParseError {
                field: "resource".to_string(),
                message: format!("GET {url} returned a body that is not UTF-8"),
                key: Some(format!("{resource_type}/{id}")),
            }));
        };
        let parsed = match parse_resource(text) {
            Ok(parsed) => parsed,
            Err(problem) => return Ok(ReadOutcome::Unreadable(problem)),
        };
        if parsed.resource_type != resource_type {
            return Err(ConnectorError::Remote(format!(
                "GET {url} returned a {} instead of a {resource_type}",
                parsed.resource_type
            )));
        }
        Ok(ReadOutcome::Found(Box::new(parsed)))
    }

    /// GETs `url` with the FHIR JSON `Accept` header and the configured credential.
    ///
    /// # Errors
    ///
    /// [`ConnectorError`] as the module docs describe.
    pub fn get(&self, url: &str) -> Result<Fetched, ConnectorError> {
        let request = Request::get(url).with_credential(self.settings.credential.clone());
        let response = http::send(&request).map_err(|error| http_error(url, error))?;
        match response.status {
            200..=299 => {
                reject_error_outcome(url, &response)?;
                Ok(Fetched::Body(response.body))
            }
            404 | 410 => Ok(Fetched::NotFound(response.status)),
            429 | 500..=599 => Err(ConnectorError::Unavailable(format!(
                "GET {url} returned HTTP {}{}; the host retries later",
                response.status,
                outcome_suffix(&response)
            ))),
            401 | 403 => Err(ConnectorError::Remote(format!(
                "GET {url} returned HTTP {}{}; check that credential {:?} is granted read access to this resource type",
                response.status,
                outcome_suffix(&response),
                self.settings.credential
            ))),
            status => Err(ConnectorError::Remote(format!(
                "GET {url} returned HTTP {status}{}",
                outcome_suffix(&response)
            ))),
        }
    }

    /// Builds the URL of the first page of a time-bounded search.
    pub fn search_url(&self, resource_type: &str, since: Timestamp) -> String {
        let mut url = format!("{}/{resource_type}?", self.base);
        let settings = self.settings;
        if let Some(param) = settings.since_param(resource_type) {
            let _ = write!(url, "{param}=ge{}&", encode_query_value(&since.to_string()));
        }
        let _ = write!(url, "_count={}", settings.page_size);
        if settings.sort && settings.since_param(resource_type) == Some("_lastUpdated") {
            url.push_str("&_sort=_lastUpdated");
        }
        if settings.include_related {
            for include in settings.vendor.includes(resource_type) {
                let _ = write!(url, "&_include={include}");
            }
        }
        if let Some(practice) = &settings.practice_id {
            let _ = write!(url, "&ah-practice=Organization/a-1.Practice-{practice}");
        }
        if let Some(extra) = settings.extra_params.get(resource_type) {
            let _ = write!(url, "&{extra}");
        }
        url
    }

    /// Makes a Bundle `next` link absolute and checks that it stays on the
    /// configured server, so the credential is never sent elsewhere.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Remote`] when the link points at another origin.
    pub fn resolve_link(&self, link: &str) -> Result<String, ConnectorError> {
        let link = link.trim();
        let absolute = if link.contains("://") {
            link.to_string()
        } else if let Some(path) = link.strip_prefix('/') {
            format!("{}/{path}", origin(self.base).unwrap_or(self.base))
        } else {
            format!("{}/{link}", self.base)
        };
        if origin(&absolute).map(str::to_ascii_lowercase)
            != origin(self.base).map(str::to_ascii_lowercase)
        {
            return Err(ConnectorError::Remote(format!(
                "the server's next link leads to {} instead of {}; the connector follows links on the configured base_url only",
                origin(&absolute).unwrap_or("another origin"),
                origin(self.base).unwrap_or(self.base)
            )));
        }
        Ok(absolute)
    }
}

fn reject_error_outcome(url: &str, response: &Response) -> Result<(), ConnectorError> {
    if !response.body.trim_ascii_start().starts_with(b"{") {
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(&response.body) else {
        return Ok(());
    };
    if !text.contains("\"OperationOutcome\"") {
        return Ok(());
    }
    match parse_resource(text) {
        Ok(Parsed {
            body: Resource::OperationOutcome(outcome),
            ..
        }) if outcome.is_error() => Err(ConnectorError::Remote(format!(
            "GET {url} returned an OperationOutcome: {}",
            outcome.summary()
        ))),
        _ => Ok(()),
    }
}

/// `: OperationOutcome …` when the body is one, else the start of the body.
fn outcome_suffix(response: &Response) -> String {
    let Ok(text) = std::str::from_utf8(&response.body) else {
        return String::new();
    };
    match parse_resource(text) {
        Ok(Parsed {
            body: Resource::OperationOutcome(outcome),
            ..
        }) => format!(" with OperationOutcome {}", outcome.summary()),
        _ if text.trim().is_empty() => String::new(),
        // The body is not quoted: an error page may echo the request or a
        // resource, with patient data in it.
        _ => format!(
            " with a body of {} bytes that is not an OperationOutcome",
            response.body.len()
        ),
    }
}

fn http_error(url: &str, error: HttpError) -> ConnectorError {
    match error {
        HttpError::Denied(message) => ConnectorError::Unsupported(format!(
            "GET {url} was denied by the host ({message}); list the server's host in the plugin manifest's http_hosts"
        )),
        HttpError::TooLarge(message) => ConnectorError::Remote(format!(
            "GET {url} returned more than the host accepts ({message}); lower page_size"
        )),
        HttpError::Credential(message) => ConnectorError::Unavailable(format!(
            "GET {url}: the host could not attach the credential ({message}); check the site's credential settings"
        )),
        HttpError::TimedOut(message)
        | HttpError::RateLimited(message)
        | HttpError::Transport(message) => {
            ConnectorError::Unavailable(format!("GET {url} failed: {message}"))
        }
    }
}

/// `scheme://authority` of an absolute URL, with the default port dropped.
fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..scheme_end + 3 + authority_end];
    Some(
        origin
            .strip_suffix(":443")
            .filter(|_| url.starts_with("https://"))
            .or_else(|| {
                origin
                    .strip_suffix(":80")
                    .filter(|_| url.starts_with("http://"))
            })
            .unwrap_or(origin),
    )
}

/// Percent-encodes a query value, keeping the characters FHIR dates and
/// references use unescaped.
fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'/') {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::parse(text).unwrap()
    }

    #[test]
    fn generic_search_sorts_and_includes() {
        let settings = settings("base_url = \"https://ehr.example.test/fhir\"\npage_size = 50\n");
        let client = FhirClient::new(&settings).unwrap();

        let url = client.search_url(
            "DiagnosticReport",
            Timestamp::parse_rfc3339("2026-01-05T14:55:00Z").unwrap(),
        );

        assert_eq!(
            url,
            "https://ehr.example.test/fhir/DiagnosticReport?_lastUpdated=ge2026-01-05T14:55:00Z&_count=50&_sort=_lastUpdated&_include=DiagnosticReport:result"
        );
    }

    #[test]
    fn athenahealth_search_names_practice_and_skips_sort() {
        let settings =
            settings("vendor = \"athenahealth\"\n[athenahealth]\npractice_id = \"195900\"\n");
        let client = FhirClient::new(&settings).unwrap();

        let url = client.search_url("Encounter", Timestamp(0));

        assert_eq!(
            url,
            "https://api.platform.athenahealth.com/fhir/r4/Encounter?_lastUpdated=ge1970-01-01T00:00:00Z&_count=100&ah-practice=Organization/a-1.Practice-195900"
        );
    }

    #[test]
    fn eclinicalworks_search_uses_clinical_date() {
        let settings = settings(
            "vendor = \"eclinicalworks\"\n[eclinicalworks]\npractice_code = \"ABCDEF\"\n[extra_params]\nDiagnosticReport = \"category=LAB\"\n",
        );
        let client = FhirClient::new(&settings).unwrap();

        let url = client.search_url("DiagnosticReport", Timestamp(0));

        assert_eq!(
            url,
            "https://fhir4.eclinicalworks.com/fhir/r4/ABCDEF/DiagnosticReport?date=ge1970-01-01T00:00:00Z&_count=100&category=LAB"
        );
    }

    #[test]
    fn relative_next_links_are_resolved() {
        let settings = settings("base_url = \"https://ehr.example.test/fhir\"");
        let client = FhirClient::new(&settings).unwrap();

        assert_eq!(
            client.resolve_link("/fhir/Task?page=2").unwrap(),
            "https://ehr.example.test/fhir/Task?page=2"
        );
        assert_eq!(
            client.resolve_link("Task?page=2").unwrap(),
            "https://ehr.example.test/fhir/Task?page=2"
        );
        assert_eq!(
            client
                .resolve_link("https://EHR.example.test:443/fhir/Task?page=2")
                .unwrap(),
            "https://EHR.example.test:443/fhir/Task?page=2"
        );
    }

    #[test]
    fn next_link_to_other_host_is_refused() {
        let settings = settings("base_url = \"https://ehr.example.test/fhir\"");
        let client = FhirClient::new(&settings).unwrap();

        let error = client
            .resolve_link("https://elsewhere.example.test/fhir/Task?page=2")
            .unwrap_err();

        assert!(
            matches!(error, ConnectorError::Remote(ref m) if m.contains("elsewhere.example.test")),
            "{error}"
        );
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode_query_value("2026-01-05T14:55:00+01:00"),
            "2026-01-05T14:55:00%2B01:00"
        );
    }
}
