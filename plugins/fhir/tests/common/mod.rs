//! Shared helpers: fixtures, a scripted FHIR server for the mock host, and
//! harness set-up.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;

use fhir_connector::FhirConnector;
use switchboard_sdk::host::http::{HttpError, Request, Response};
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{Timestamp, WorkItem};

/// Base URL of the scripted server.
pub const BASE: &str = "https://ehr.example.test/fhir";

/// Config for a generic server at [`BASE`].
pub const GENERIC: &str = "base_url = \"https://ehr.example.test/fhir\"";

/// Reads `tests/fixtures/{name}`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// Builds a response with `status` and a FHIR JSON body.
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Result<Response, HttpError> {
    Ok(Response {
        status,
        headers: vec![(
            "content-type".to_string(),
            "application/fhir+json".to_string(),
        )],
        body: body.into(),
    })
}

/// A FHIR server that responds to GETs by exact URL. Each URL has a queue of
/// responses, and the last one repeats. An unknown URL gets 404 with an
/// OperationOutcome.
#[derive(Debug, Default)]
pub struct FakeServer {
    routes: HashMap<String, VecDeque<Result<Response, HttpError>>>,
}

impl FakeServer {
    /// Creates a shared server, so a test can script it after the harness
    /// took its handler.
    pub fn shared() -> Rc<RefCell<FakeServer>> {
        Rc::new(RefCell::new(FakeServer::default()))
    }

    /// Queues `response` for `url`.
    pub fn on(&mut self, url: &str, response: Result<Response, HttpError>) -> &mut Self {
        self.routes
            .entry(url.to_string())
            .or_default()
            .push_back(response);
        self
    }

    /// Puts `response` before the responses already queued for `url`.
    pub fn first(&mut self, url: &str, response: Result<Response, HttpError>) -> &mut Self {
        self.routes
            .entry(url.to_string())
            .or_default()
            .push_front(response);
        self
    }

    /// Queues a 200 response with `body` for `url`.
    pub fn ok(&mut self, url: &str, body: impl Into<Vec<u8>>) -> &mut Self {
        self.on(url, json(200, body))
    }

    fn respond(&mut self, url: &str) -> Result<Response, HttpError> {
        match self.routes.get_mut(url) {
            Some(queue) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some(queue) => queue.front().cloned().unwrap(),
            None => json(
                404,
                format!(
                    r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"not-found","diagnostics":"no route for {url}"}}]}}"#
                ),
            ),
        }
    }
}

/// Creates a mock host whose HTTP handler is `server`.
pub fn host_with(server: &Rc<RefCell<FakeServer>>) -> MockHost {
    let server = server.clone();
    MockHost::new().http(move |request: &Request| {
        assert_eq!(request.method, "GET", "the connector only reads");
        server.borrow_mut().respond(&request.url)
    })
}

/// Creates a harness with `config` and an HTTP handler backed by `server`.
pub fn harness_with(
    config: &str,
    server: &Rc<RefCell<FakeServer>>,
) -> ConnectorHarness<FhirConnector> {
    ConnectorHarness::new(host_with(server), config).unwrap()
}

/// Creates a harness with `config` and no HTTP handler.
pub fn harness(config: &str) -> ConnectorHarness<FhirConnector> {
    ConnectorHarness::new(MockHost::new(), config).unwrap()
}

/// Returns the value of attribute `key`.
pub fn attr<'a>(item: &'a WorkItem, key: &str) -> Option<&'a str> {
    item.attribute(key)
}

/// Returns the URLs the connector requested so far.
pub fn requested_urls() -> Vec<String> {
    switchboard_sdk::testing::requests()
        .into_iter()
        .map(|r| r.url)
        .collect()
}
