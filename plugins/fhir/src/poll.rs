//! Polling and backfill: time-bounded FHIR searches, one page per call.
//!
//! A poll walks the configured resource types in order. For each type it
//! runs one *pass*: a search for resources changed since the type's
//! high-water mark minus the overlap window, followed page by page through
//! the Bundle's `next` links. Each call returns one page, with
//! `more = true` while pages or types remain. The last page of the last type
//! returns `more = false`, so the host waits for its poll interval before
//! the next call starts over with the first type.
//!
//! The cursor is JSON the connector alone reads:
//!
//! ```json
//! {"v":1,"high_water":{"DiagnosticReport":1767624000000},
//!  "pass":{"resource_type":"Encounter","since":1767623700000,"started":1767625200000,
//!          "next":"https://ehr.example.com/fhir/Encounter?page=2","max_seen":1767625100000}}
//! ```
//!
//! `high_water` holds, per type, the latest `meta.lastUpdated` of a finished
//! pass, in milliseconds since the epoch. It only moves when a pass ends,
//! because pages need not arrive in `_lastUpdated` order. `pass` is the pass
//! in progress: its type, lower bound, start time, next page and the latest
//! `meta.lastUpdated` seen so far. A failed call returns an error and the
//! host keeps the previous cursor, so the retry fetches the same page.
//!
//! Re-reading the overlap window repeats resources; their items keep the
//! same external id and version, which the host's dedupe ignores.
//!
//! For a type whose time parameter is not `_lastUpdated` (eClinicalWorks
//! filters on clinical dates), the high-water mark is the host time when the
//! pass started, since the connector cannot see the value the server filters
//! on.
//!
//! NOTE: with a clinical-date parameter, a resource changed long after its
//! clinical date (an amended report from last month) falls outside the
//! window and is not re-read. Such servers need notifications to catch
//! amendments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_sdk::host::{self, Level};
use switchboard_sdk::{Batch, ConnectorError, PollResult, Timestamp};

use crate::client::{Fetched, FhirClient};
use crate::config::Settings;
use crate::input::{Collection, Role, read_page};
use crate::map::{MapContext, map_collection};
use crate::resolve::Resolver;
use crate::time::parse_time;

/// Version of the cursor format.
const CURSOR_VERSION: u32 = 1;

/// The poll or backfill position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub v: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub high_water: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
}

/// One search over one resource type, possibly several pages long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pass {
    pub resource_type: String,
    /// Lower bound of the search, in milliseconds since the epoch.
    pub since: i64,
    /// Host time when the pass started, in milliseconds since the epoch.
    pub started: i64,
    /// The next page to fetch; `None` before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Latest `meta.lastUpdated` among the pass's results so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seen: Option<i64>,
}

/// The kind of reading a call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Incremental reading from each type's high-water mark.
    Poll,
    /// History from a fixed time, over the backfill types.
    Backfill { since: Timestamp },
}

impl Cursor {
    /// Parses a cursor returned by an earlier call.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Malformed`] for text this connector did not write.
    pub fn parse(text: &str) -> Result<Self, ConnectorError> {
        let cursor: Cursor = serde_json::from_str(text).map_err(|e| ConnectorError::Malformed(format!("cursor is not one this connector wrote ({e}); clear the connector's cursor to start over")))?;
        if cursor.v != CURSOR_VERSION {
            return Err(ConnectorError::Malformed(format!(
                "cursor version {} is not {CURSOR_VERSION}; clear the connector's cursor to start over",
                cursor.v
            )));
        }
        Ok(cursor)
    }

    fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("a cursor always serializes"))
    }
}

/// Fetches and maps one page.
///
/// # Errors
///
/// [`ConnectorError::Unsupported`] without a base URL; `Malformed` for a
/// foreign cursor; the page's or a read's [`ConnectorError`] otherwise. On an
/// error nothing of the page is returned.
pub fn next_page(
    settings: &Settings,
    mode: Mode,
    cursor: Option<&str>,
) -> Result<PollResult, ConnectorError> {
    let client = FhirClient::new(settings).ok_or_else(|| {
        ConnectorError::Unsupported("base_url is not set, so there is no server to poll; set base_url (or the vendor's practice settings) in the connector config".to_string())
    })?;
    let types = match mode {
        Mode::Poll => &settings.resource_types,
        Mode::Backfill { .. } => &settings.backfill_types,
    };
    let mut state = match cursor {
        Some(text) => Cursor::parse(text)?,
        None => Cursor {
            v: CURSOR_VERSION,
            ..Cursor::default()
        },
    };

    let pass = match state.pass.take() {
        Some(pass) if types.contains(&pass.resource_type) && next_is_on_server(&client, &pass) => {
            pass
        }
        _ => start_pass(settings, mode, &state, &types[0]),
    };
    let (batch, next, pass) = fetch_and_map(settings, &client, pass)?;

    let more = match next {
        Some(next) => {
            state.pass = Some(Pass {
                next: Some(next),
                ..pass
            });
            true
        }
        None => finish_pass(settings, mode, types, &mut state, pass),
    };
    let cursor = match (mode, &state.pass) {
        (Mode::Backfill { .. }, None) => None,
        _ => Some(state.to_text()),
    };
    Ok(PollResult {
        batch,
        cursor,
        more,
    })
}

/// False for a stored next link that no longer matches the configured server
/// (the base URL changed since), which restarts the pass.
fn next_is_on_server(client: &FhirClient<'_>, pass: &Pass) -> bool {
    pass.next
        .as_deref()
        .is_none_or(|next| client.resolve_link(next).is_ok())
}

fn start_pass(settings: &Settings, mode: Mode, state: &Cursor, resource_type: &str) -> Pass {
    let now = host::now();
    let since = match mode {
        Mode::Backfill { since } => since,
        Mode::Poll => match state.high_water.get(resource_type) {
            Some(mark) => Timestamp(*mark).plus_minutes(-i64::from(settings.overlap_minutes)),
            None => now.plus_minutes(-i64::from(settings.initial_lookback_minutes)),
        },
    };
    Pass {
        resource_type: resource_type.to_string(),
        since: since.0,
        started: now.0,
        next: None,
        max_seen: None,
    }
}

/// Fetches the pass's next page (restarting the pass once when a stored
/// next link has expired) and maps it. Returns the batch, the resolved next
/// link, and the pass with `max_seen` updated.
fn fetch_and_map(
    settings: &Settings,
    client: &FhirClient<'_>,
    mut pass: Pass,
) -> Result<(Batch, Option<String>, Pass), ConnectorError> {
    let first_url = client.search_url(&pass.resource_type, Timestamp(pass.since));
    let mut url = pass.next.clone().unwrap_or_else(|| first_url.clone());
    let body = match client.get(&url)? {
        Fetched::Body(body) => body,
        Fetched::NotFound(status) if pass.next.is_some() => {
            host::log(
                Level::Warn,
                "search page expired; restarting the pass",
                &[
                    ("resource_type", &pass.resource_type),
                    ("status", &status.to_string()),
                ],
            );
            url = first_url;
            match client.get(&url)? {
                Fetched::Body(body) => body,
                Fetched::NotFound(status) => return Err(not_found(&url, status)),
            }
        }
        Fetched::NotFound(status) => return Err(not_found(&url, status)),
    };

    let collection = read_page(&url, &body)?;
    pass.max_seen = pass
        .max_seen
        .into_iter()
        .chain(latest_update(&collection, &pass.resource_type))
        .max();
    let next = match collection.next_link.as_deref() {
        Some(link) => {
            let next = client.resolve_link(link)?;
            if next == url {
                host::log(
                    Level::Warn,
                    "search page links to itself; ending the pass",
                    &[("resource_type", &pass.resource_type)],
                );
                None
            } else {
                Some(next)
            }
        }
        None => None,
    };

    let reader = settings.read_missing.then_some(*client);
    let context = MapContext {
        settings,
        resolver: Resolver::new(&collection, reader),
    };
    let (batch, stats) = map_collection(context)?;
    host::log(
        Level::Debug,
        "search page mapped",
        &[
            ("resource_type", &pass.resource_type),
            ("resources", &stats.resources.to_string()),
            ("reads", &stats.reads.to_string()),
            ("items", &batch.items.len().to_string()),
            ("rejects", &batch.rejects.len().to_string()),
        ],
    );
    Ok((batch, next, pass))
}

fn not_found(url: &str, status: u16) -> ConnectorError {
    ConnectorError::Remote(format!(
        "GET {url} returned HTTP {status}; check base_url and that the server supports searching this resource type"
    ))
}

/// Returns the latest `meta.lastUpdated` among the page's matches of `resource_type`.
fn latest_update(collection: &Collection, resource_type: &str) -> Option<i64> {
    collection
        .entries
        .iter()
        .filter(|e| e.role == Role::Primary)
        .filter_map(|e| e.resource.as_ref().ok())
        .filter(|p| p.resource_type == resource_type)
        .filter_map(|p| p.meta.last_updated.as_deref().and_then(parse_time))
        .map(|t| t.0)
        .max()
}

/// Ends a pass: commits its high-water mark and starts the next type's pass.
/// Returns whether more pages are ready now.
fn finish_pass(
    settings: &Settings,
    mode: Mode,
    types: &[String],
    state: &mut Cursor,
    pass: Pass,
) -> bool {
    if mode == Mode::Poll {
        let mark = if settings.since_param(&pass.resource_type) == Some("_lastUpdated") {
            pass.max_seen
        } else {
            Some(pass.started)
        };
        let previous = state.high_water.get(&pass.resource_type).copied();
        let committed = previous.into_iter().chain(mark).max().unwrap_or(pass.since);
        state
            .high_water
            .insert(pass.resource_type.clone(), committed);
        host::log(
            Level::Info,
            "poll pass finished",
            &[
                ("resource_type", &pass.resource_type),
                ("high_water", &Timestamp(committed).to_string()),
            ],
        );
    }

    let position = types
        .iter()
        .position(|t| *t == pass.resource_type)
        .unwrap_or(types.len());
    match types.get(position + 1) {
        Some(next_type) => {
            state.pass = Some(start_pass(settings, mode, state, next_type));
            true
        }
        None => {
            state.pass = None;
            false
        }
    }
}
