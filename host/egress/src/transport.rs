//! One HTTP exchange through the plugin's client, with the body read up to
//! the size limit.

use std::io::Read as _;
use std::time::Duration;

use ureq::http;
use url::Url;

use crate::resolve::AddressDenied;
use crate::secret::Secret;
use crate::token::describe;

/// Request headers a plugin may not set. The host attaches credentials
/// itself, and the client manages the connection-level headers.
const DROPPED_HEADERS: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Removes the headers in [`DROPPED_HEADERS`]. Returns the rest and how many
/// were dropped.
pub(crate) fn sanitize_headers(headers: Vec<(String, String)>) -> (Vec<(String, String)>, usize) {
    let before = headers.len();
    let kept: Vec<_> = headers
        .into_iter()
        .filter(|(name, _)| {
            let name = name.trim().to_ascii_lowercase();
            !DROPPED_HEADERS.contains(&name.as_str())
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// One request as it goes on the wire.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    pub(crate) bearer: Option<&'a Secret>,
    pub(crate) timeout: Duration,
    pub(crate) max_body_bytes: u64,
}

/// A response with its body read.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A failed exchange, by cause.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AttemptError {
    /// A resolved address broke the allow-list rules.
    Denied(String),
    /// The time allowed ran out.
    TimedOut,
    /// The connection could not be made or broke; worth another attempt for
    /// an idempotent method.
    Connection(String),
    /// The body is over the limit.
    TooLarge(String),
    /// TLS, protocol or request-building failure; another attempt would
    /// fail the same way.
    Failed(String),
}

/// Sends one request and reads the response.
pub(crate) fn exchange(
    agent: &ureq::Agent,
    outgoing: &Outgoing<'_>,
) -> Result<Incoming, AttemptError> {
    let request = build_request(outgoing)?;
    let request = agent
        .configure_request(request)
        .timeout_global(Some(outgoing.timeout))
        .build();

    let response = agent.run(request).map_err(classify)?;

    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect::<Vec<_>>();
    let body = read_limited(response.into_body(), &headers, outgoing.max_body_bytes)?;
    Ok(Incoming {
        status,
        headers,
        body,
    })
}

fn build_request(outgoing: &Outgoing<'_>) -> Result<http::Request<Vec<u8>>, AttemptError> {
    let mut builder = http::Request::builder()
        .method(outgoing.method)
        .uri(outgoing.url.as_str());
    for (name, value) in outgoing.headers {
        builder = builder.header(name.trim(), value.as_str());
    }
    if let Some(token) = outgoing.bearer {
        builder = builder.header("authorization", format!("Bearer {}", token.expose()));
    }
    builder
        .body(outgoing.body.to_vec())
        .map_err(|e| AttemptError::Failed(format!("the request is malformed: {e}")))
}

/// Reads the body, stopping one byte past the limit.
fn read_limited(
    body: ureq::Body,
    headers: &[(String, String)],
    max_bytes: u64,
) -> Result<Vec<u8>, AttemptError> {
    let declared = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.trim().parse::<u64>().ok());
    if let Some(length) = declared
        && length > max_bytes
    {
        return Err(AttemptError::TooLarge(format!(
            "the server declared {length} bytes, over the {max_bytes} byte limit"
        )));
    }

    let mut bytes = Vec::new();
    body.into_reader()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(classify_io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(AttemptError::TooLarge(format!(
            "the body is over the {max_bytes} byte limit"
        )));
    }
    Ok(bytes)
}

fn classify(error: ureq::Error) -> AttemptError {
    match error {
        ureq::Error::Other(inner) => match inner.downcast::<AddressDenied>() {
            Ok(denied) => AttemptError::Denied(denied.0),
            Err(inner) => AttemptError::Failed(inner.to_string()),
        },
        ureq::Error::Timeout(_) => AttemptError::TimedOut,
        ureq::Error::Io(e) => classify_io(e),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            AttemptError::Connection(describe(&error))
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            AttemptError::TooLarge(format!("the body is over the {limit} byte limit"))
        }
        other => AttemptError::Failed(describe(&other)),
    }
}

fn classify_io(error: std::io::Error) -> AttemptError {
    // ureq reports its own errors met while reading a body wrapped in an
    // io::Error; unwrap them so a timeout stays a timeout.
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<ureq::Error>())
    {
        let inner = error
            .into_inner()
            .and_then(|inner| inner.downcast::<ureq::Error>().ok());
        if let Some(inner) = inner {
            return classify(*inner);
        }
        return AttemptError::Failed("the response could not be read".to_string());
    }
    match error.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => AttemptError::TimedOut,
        _ => AttemptError::Connection(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_and_hop_headers_dropped() {
        let headers = vec![
            ("Authorization".to_string(), "Bearer plugin".to_string()),
            ("accept".to_string(), "application/fhir+json".to_string()),
            ("Host".to_string(), "elsewhere".to_string()),
            (" Cookie".to_string(), "a=b".to_string()),
        ];

        let (kept, dropped) = sanitize_headers(headers);

        assert_eq!(
            kept,
            vec![("accept".to_string(), "application/fhir+json".to_string())]
        );
        assert_eq!(dropped, 3);
    }
}
