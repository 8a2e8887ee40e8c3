//! `poll` and `backfill`: paging, cursors, overlap, failures and restarts.
//!
//! The mock host's clock starts at 2026-01-05T15:00:00Z.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{BASE, FakeServer, at, fixture, harness, harness_with, json, requested_urls};
use serde_json::{Value, json};
use switchboard_sdk::host::Level;
use switchboard_sdk::host::http::HttpError;
use switchboard_sdk::testing::{logs, set_now};
use switchboard_sdk::{ChartChange, ConnectorError, Event};

const CONFIG: &str = r#"
base_url = "https://ehr.example.test/fhir"
resource_types = ["DiagnosticReport", "Task"]
page_size = 2
overlap_minutes = 5
initial_lookback_minutes = 60
"#;

const REPORTS_FROM_14_00: &str = "https://ehr.example.test/fhir/DiagnosticReport?_lastUpdated=ge2026-01-05T14:00:00Z&_count=2&_sort=_lastUpdated&_include=DiagnosticReport:result";
const REPORTS_PAGE_2: &str = "https://ehr.example.test/fhir/DiagnosticReport?_getpages=abc&_page=2";
const TASKS_FROM_14_00: &str = "https://ehr.example.test/fhir/Task?_lastUpdated=ge2026-01-05T14:00:00Z&_count=2&_sort=_lastUpdated";

fn report(id: &str, last_updated: &str) -> Value {
    json!({
        "fullUrl": format!("{BASE}/DiagnosticReport/{id}"),
        "search": {"mode": "match"},
        "resource": {"resourceType": "DiagnosticReport", "id": id, "meta": {"lastUpdated": last_updated}, "status": "final", "code": {"text": "Panel"}}
    })
}

fn task(id: &str, last_updated: &str) -> Value {
    json!({
        "search": {"mode": "match"},
        "resource": {"resourceType": "Task", "id": id, "meta": {"lastUpdated": last_updated}, "status": "requested", "code": {"text": "Call back"}}
    })
}

fn page(entries: Vec<Value>, next: Option<&str>) -> Vec<u8> {
    let mut bundle = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    if let Some(next) = next {
        bundle["link"] =
            json!([{"relation": "self", "url": "ignored"}, {"relation": "next", "url": next}]);
    }
    serde_json::to_vec(&bundle).unwrap()
}

/// Creates a server with two report pages and one task page.
fn two_type_server() -> Rc<RefCell<FakeServer>> {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            REPORTS_FROM_14_00,
            page(
                vec![
                    report("dr-a", "2026-01-05T14:10:00Z"),
                    report("dr-b", "2026-01-05T14:20:00Z"),
                ],
                Some(REPORTS_PAGE_2),
            ),
        )
        .ok(
            REPORTS_PAGE_2,
            page(vec![report("dr-c", "2026-01-05T14:15:00Z")], None),
        )
        .ok(
            TASKS_FROM_14_00,
            page(vec![task("t-1", "2026-01-05T14:30:00Z")], None),
        );
    server
}

fn ids(result: &switchboard_sdk::PollResult) -> Vec<&str> {
    result
        .batch
        .items
        .iter()
        .map(|i| i.external_id.as_str())
        .collect()
}

#[test]
fn pages_follow_next_links_then_types() {
    let server = two_type_server();
    let mut harness = harness_with(CONFIG, &server);

    let first = harness.poll(None).unwrap();
    let second = harness.poll(first.cursor.as_deref()).unwrap();
    let third = harness.poll(second.cursor.as_deref()).unwrap();

    assert_eq!(
        ids(&first),
        ["DiagnosticReport/dr-a", "DiagnosticReport/dr-b"]
    );
    assert!(first.more);
    assert_eq!(ids(&second), ["DiagnosticReport/dr-c"]);
    assert!(second.more, "the Task pass remains");
    assert_eq!(ids(&third), ["Task/t-1"]);
    assert!(!third.more);
    assert_eq!(
        requested_urls(),
        [REPORTS_FROM_14_00, REPORTS_PAGE_2, TASKS_FROM_14_00]
    );
}

#[test]
fn cursor_records_pass_and_high_water() {
    let server = two_type_server();
    let mut harness = harness_with(CONFIG, &server);

    let first = harness.poll(None).unwrap();
    let second = harness.poll(first.cursor.as_deref()).unwrap();
    let third = harness.poll(second.cursor.as_deref()).unwrap();

    let first_cursor: Value = serde_json::from_str(first.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(first_cursor["pass"]["resource_type"], "DiagnosticReport");
    assert_eq!(first_cursor["pass"]["next"], REPORTS_PAGE_2);
    // 14:20 is the latest lastUpdated on page one.
    assert_eq!(
        first_cursor["pass"]["max_seen"],
        at("2026-01-05T14:20:00Z").0
    );
    assert!(
        first_cursor.get("high_water").is_none(),
        "nothing is committed before the pass ends"
    );

    let third_cursor: Value = serde_json::from_str(third.cursor.as_deref().unwrap()).unwrap();
    // Page two's 14:15 is earlier than page one's 14:20; the mark is the maximum.
    assert_eq!(
        third_cursor["high_water"]["DiagnosticReport"],
        at("2026-01-05T14:20:00Z").0
    );
    assert_eq!(
        third_cursor["high_water"]["Task"],
        at("2026-01-05T14:30:00Z").0
    );
    assert!(third_cursor.get("pass").is_none());
}

#[test]
fn next_cycle_rereads_overlap_window() {
    let server = two_type_server();
    let mut harness = harness_with(CONFIG, &server);
    let mut cursor = None;
    let mut first_versions = Vec::new();
    for _ in 0..3 {
        let result = harness.poll(cursor.as_deref()).unwrap();
        first_versions.extend(
            result
                .batch
                .items
                .iter()
                .map(|i| (i.external_id.clone(), i.version)),
        );
        cursor = result.cursor;
    }
    // High water 14:20 minus the five-minute overlap.
    let overlap_url = "https://ehr.example.test/fhir/DiagnosticReport?_lastUpdated=ge2026-01-05T14:15:00Z&_count=2&_sort=_lastUpdated&_include=DiagnosticReport:result";
    server.borrow_mut().ok(
        overlap_url,
        page(
            vec![
                report("dr-c", "2026-01-05T14:15:00Z"),
                report("dr-b", "2026-01-05T14:20:00Z"),
            ],
            None,
        ),
    );
    set_now(at("2026-01-05T16:00:00Z"));

    let again = harness.poll(cursor.as_deref()).unwrap();

    assert_eq!(
        requested_urls().last().map(String::as_str),
        Some(overlap_url)
    );
    // The repeats carry the versions seen before, so the host's dedupe drops them.
    let repeated: Vec<(String, u64)> = again
        .batch
        .items
        .iter()
        .map(|i| (i.external_id.clone(), i.version))
        .collect();
    for pair in &repeated {
        assert!(
            first_versions.contains(pair),
            "{pair:?} is not a repeat of {first_versions:?}"
        );
    }
}

#[test]
fn failed_page_is_retried_from_same_cursor() {
    let server = two_type_server();
    server.borrow_mut().first(
        REPORTS_PAGE_2,
        Err(HttpError::Transport("connection reset".to_string())),
    );
    let mut harness = harness_with(CONFIG, &server);

    let first = harness.poll(None).unwrap();
    let failed = harness.poll(first.cursor.as_deref()).unwrap_err();
    let retried = harness.poll(first.cursor.as_deref()).unwrap();

    assert!(
        matches!(failed, ConnectorError::Unavailable(_)),
        "{failed:?}"
    );
    assert_eq!(ids(&retried), ["DiagnosticReport/dr-c"]);
    assert_eq!(
        requested_urls(),
        [REPORTS_FROM_14_00, REPORTS_PAGE_2, REPORTS_PAGE_2]
    );
}

#[test]
fn server_error_page_is_unavailable() {
    let server = FakeServer::shared();
    server.borrow_mut().on(REPORTS_FROM_14_00, json(503, ""));
    let mut harness = harness_with(CONFIG, &server);

    let error = harness.poll(None).unwrap_err();

    assert!(
        matches!(error, ConnectorError::Unavailable(ref m) if m.contains("HTTP 503")),
        "{error:?}"
    );
}

#[test]
fn expired_next_link_restarts_pass() {
    let server = two_type_server();
    server.borrow_mut().first(REPORTS_PAGE_2, json(410, ""));
    let mut harness = harness_with(CONFIG, &server);

    let first = harness.poll(None).unwrap();
    let restarted = harness.poll(first.cursor.as_deref()).unwrap();

    assert_eq!(
        ids(&restarted),
        ["DiagnosticReport/dr-a", "DiagnosticReport/dr-b"]
    );
    assert_eq!(
        requested_urls(),
        [REPORTS_FROM_14_00, REPORTS_PAGE_2, REPORTS_FROM_14_00]
    );
    assert!(
        logs()
            .iter()
            .any(|l| l.level == Level::Warn && l.message.contains("expired"))
    );
}

#[test]
fn search_error_outcome_is_remote_error() {
    let server = FakeServer::shared();
    server.borrow_mut().on(
        REPORTS_FROM_14_00,
        json(400, r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"patient parameter is required"}]}"#),
    );
    let mut harness = harness_with(CONFIG, &server);

    let error = harness.poll(None).unwrap_err();

    assert!(
        matches!(error, ConnectorError::Remote(ref m) if m.ends_with("returned HTTP 400 with OperationOutcome error/required")),
        "{error:?}"
    );
}

#[test]
fn non_bundle_page_is_remote_error() {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(REPORTS_FROM_14_00, r#"{"resourceType":"Task","id":"x"}"#);
    let mut harness = harness_with(CONFIG, &server);

    let error = harness.poll(None).unwrap_err();

    assert!(
        matches!(error, ConnectorError::Remote(ref m) if m.contains("instead of a search Bundle")),
        "{error:?}"
    );
}

#[test]
fn next_link_to_other_host_is_refused() {
    let server = FakeServer::shared();
    server.borrow_mut().ok(
        REPORTS_FROM_14_00,
        page(
            vec![report("dr-a", "2026-01-05T14:10:00Z")],
            Some("https://attacker.example.test/fhir/DiagnosticReport?page=2"),
        ),
    );
    let mut harness = harness_with(CONFIG, &server);

    let error = harness.poll(None).unwrap_err();

    assert!(
        matches!(error, ConnectorError::Remote(ref m) if m.contains("attacker.example.test")),
        "{error:?}"
    );
}

#[test]
fn relative_next_link_is_followed() {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            REPORTS_FROM_14_00,
            page(
                vec![report("dr-a", "2026-01-05T14:10:00Z")],
                Some("/fhir/DiagnosticReport?_page=2"),
            ),
        )
        .ok(
            REPORTS_PAGE_2.replace("_getpages=abc&", "").as_str(),
            page(vec![report("dr-b", "2026-01-05T14:11:00Z")], None),
        );
    let mut harness = harness_with(CONFIG, &server);

    let first = harness.poll(None).unwrap();
    let second = harness.poll(first.cursor.as_deref()).unwrap();

    assert_eq!(ids(&second), ["DiagnosticReport/dr-b"]);
}

#[test]
fn unreadable_entries_are_rejected_not_fatal() {
    let server = FakeServer::shared();
    let broken = json!({"search": {"mode": "match"}, "resource": {"resourceType": "DiagnosticReport", "id": "dr-x", "status": 7}});
    server.borrow_mut().ok(
        REPORTS_FROM_14_00,
        page(vec![broken, report("dr-a", "2026-01-05T14:10:00Z")], None),
    );
    let mut harness = harness_with(CONFIG, &server);

    let result = harness.poll(None).unwrap();

    assert_eq!(ids(&result), ["DiagnosticReport/dr-a"]);
    assert_eq!(result.batch.rejects[0].field, "DiagnosticReport.status");
}

#[test]
fn missing_base_url_is_unsupported() {
    let mut harness = harness("");

    let error = harness.poll(None).unwrap_err();

    assert!(
        matches!(error, ConnectorError::Unsupported(ref m) if m.contains("base_url")),
        "{error:?}"
    );
}

#[test]
fn foreign_cursor_is_malformed() {
    let server = FakeServer::shared();
    let mut harness = harness_with(CONFIG, &server);

    let garbage = harness.poll(Some("page=7")).unwrap_err();
    let future = harness.poll(Some(r#"{"v":9}"#)).unwrap_err();

    assert!(
        matches!(garbage, ConnectorError::Malformed(ref m) if m.contains("clear the connector's cursor")),
        "{garbage:?}"
    );
    assert!(
        matches!(future, ConnectorError::Malformed(ref m) if m.contains("version 9")),
        "{future:?}"
    );
}

#[test]
fn athenahealth_search_scopes_practice() {
    let config = "vendor = \"athenahealth\"\nbase_url = \"https://ehr.example.test/fhir\"\nresource_types = [\"Encounter\"]\n[athenahealth]\npractice_id = \"195900\"\n";
    let url = "https://ehr.example.test/fhir/Encounter?_lastUpdated=ge2026-01-04T15:00:00Z&_count=100&ah-practice=Organization/a-1.Practice-195900";
    let server = FakeServer::shared();
    server.borrow_mut().ok(url, page(Vec::new(), None));
    let mut harness = harness_with(config, &server);

    let result = harness.poll(None).unwrap();

    assert!(!result.more);
    assert_eq!(requested_urls(), [url]);
}

#[test]
fn eclinicalworks_commits_pass_start_as_high_water() {
    let config = "vendor = \"eclinicalworks\"\nbase_url = \"https://ehr.example.test/fhir\"\nresource_types = [\"Encounter\"]\n";
    let first_url =
        "https://ehr.example.test/fhir/Encounter?date=ge2026-01-04T15:00:00Z&_count=100";
    let second_url =
        "https://ehr.example.test/fhir/Encounter?date=ge2026-01-05T14:55:00Z&_count=100";
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(first_url, page(Vec::new(), None))
        .ok(second_url, page(Vec::new(), None));
    let mut harness = harness_with(config, &server);

    let first = harness.poll(None).unwrap();
    set_now(at("2026-01-05T15:30:00Z"));
    harness.poll(first.cursor.as_deref()).unwrap();

    // The pass started at 15:00; the next window opens five minutes earlier.
    assert_eq!(requested_urls(), [first_url, second_url]);
}

#[test]
fn backfill_walks_history_types() {
    let config = "base_url = \"https://ehr.example.test/fhir\"\nbackfill_types = [\"Encounter\", \"Claim\"]\n";
    let encounters = "https://ehr.example.test/fhir/Encounter?_lastUpdated=ge2025-12-01T00:00:00Z&_count=100&_sort=_lastUpdated";
    let claims = "https://ehr.example.test/fhir/Claim?_lastUpdated=ge2025-12-01T00:00:00Z&_count=100&_sort=_lastUpdated";
    let encounter: Value = serde_json::from_slice(&fixture("encounter-enc-5.json")).unwrap();
    let claim: Value = serde_json::from_slice(&fixture("claim.json")).unwrap();
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            encounters,
            page(
                vec![json!({"search": {"mode": "match"}, "resource": encounter})],
                None,
            ),
        )
        .ok(
            claims,
            page(
                vec![json!({"search": {"mode": "match"}, "resource": claim})],
                None,
            ),
        );
    let mut harness = harness_with(config, &server);
    let since = at("2025-12-01T00:00:00Z");

    let first = harness.connector_backfill(since, None).unwrap();
    let second = harness
        .connector_backfill(since, first.cursor.as_deref())
        .unwrap();

    assert!(first.more);
    assert_eq!(ids(&first), ["Encounter/enc-5"]);
    assert!(matches!(&first.batch.events[0], Event::Chart(c) if c.change == ChartChange::Opened));
    assert!(!second.more);
    assert_eq!(second.cursor, None);
    assert!(matches!(&second.batch.events[0], Event::Claim(c) if c.claim == "Claim/clm-8"));
    assert_eq!(requested_urls(), [encounters, claims]);
}

/// Backfill through the connector, since the harness wraps only `poll`.
trait BackfillExt {
    fn connector_backfill(
        &mut self,
        since: switchboard_sdk::Timestamp,
        cursor: Option<&str>,
    ) -> Result<switchboard_sdk::PollResult, ConnectorError>;
}

impl BackfillExt for switchboard_sdk::testing::ConnectorHarness<fhir_connector::FhirConnector> {
    fn connector_backfill(
        &mut self,
        since: switchboard_sdk::Timestamp,
        cursor: Option<&str>,
    ) -> Result<switchboard_sdk::PollResult, ConnectorError> {
        use switchboard_sdk::Connector;
        self.connector().backfill(since, cursor)
    }
}
