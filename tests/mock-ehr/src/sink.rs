//! A webhook receiver that records what it is sent.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};

use crate::server::Running;

/// One request the sink received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Path and query.
    pub path: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Received {
    /// Returns the first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Default)]
struct SinkState {
    received: Mutex<Vec<Received>>,
}

/// An HTTP server on `127.0.0.1:0` that records every request and responds
/// with 200. Stops when dropped.
#[derive(Debug)]
pub struct WebhookSink {
    state: Arc<SinkState>,
    running: Running,
}

impl WebhookSink {
    /// Starts the sink.
    pub fn start() -> Self {
        let state = Arc::new(SinkState::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        WebhookSink {
            state,
            running: Running::start(app),
        }
    }

    /// URL of `path` on the sink, such as `url("/hooks/fhir")`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.address)
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn record(
    State(state): State<Arc<SinkState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.to_string());
    state
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received {
            path,
            headers,
            body: body.to_vec(),
        });
    StatusCode::OK
}
