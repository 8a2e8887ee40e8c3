//! Topic-based subscription notifications: id-only reads, the two status
//! forms, and read failures.

mod common;

use common::{BASE, FakeServer, GENERIC, fixture, harness, harness_with, json, requested_urls};
use switchboard_sdk::host::http::HttpError;
use switchboard_sdk::testing::requests;
use switchboard_sdk::{Category, ConnectorError, EhrState, ResultFlag};

const FHIR_JSON: &str = "application/fhir+json";

fn report_server() -> std::rc::Rc<std::cell::RefCell<FakeServer>> {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            &format!("{BASE}/DiagnosticReport/dr-9"),
            fixture("diagnosticreport-dr-9.json"),
        )
        .ok(
            &format!("{BASE}/Observation/obs-hgb"),
            fixture("observation-obs-hgb.json"),
        );
    server
}

#[test]
fn id_only_notification_reads_focus() {
    let server = report_server();
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "DiagnosticReport/dr-9");
    assert_eq!(item.version, 4);
    assert_eq!(item.state, EhrState::Open);
    // Hemoglobin 9.1 g/dL is below the 12.0 low bound and has no interpretation.
    assert_eq!(item.flag, ResultFlag::Abnormal);
    assert_eq!(item.attribute("flag-source"), Some("reference-range"));
    assert_eq!(item.ordering.as_deref(), Some("Practitioner/pr-9"));
    assert_eq!(
        item.attribute("ordering-source"),
        Some("results-interpreter")
    );
    assert_eq!(
        requested_urls(),
        [
            format!("{BASE}/DiagnosticReport/dr-9"),
            format!("{BASE}/Observation/obs-hgb")
        ]
    );
}

#[test]
fn reads_carry_credential_and_accept_header() {
    let server = report_server();
    let mut harness = harness_with(
        "base_url = \"https://ehr.example.test/fhir\"\ncredential = \"athena-prod\"\n",
        &server,
    );

    harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    let sent = requests();
    assert_eq!(sent[0].credential.as_deref(), Some("athena-prod"));
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(name, value)| name == "accept" && value == "application/fhir+json")
    );
}

#[test]
fn subscription_status_form_is_read() {
    let server = FakeServer::shared();
    server.borrow_mut().ok(
        &format!("{BASE}/MedicationRequest/a-1.E-77"),
        fixture("medicationrequest-a-1.E-77.json"),
    );
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("notification-athena-style.json"), FHIR_JSON)
        .unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "MedicationRequest/a-1.E-77");
    assert_eq!(item.category, Category::Refill);
    assert_eq!(item.attribute("refill-signal"), Some("category"));
    assert_eq!(
        item.ordering.as_deref(),
        Some("Practitioner/a-1.Provider-12")
    );
    let rejects: Vec<(&str, &str)> = batch
        .rejects
        .iter()
        .map(|r| (r.location.as_str(), r.field.as_str()))
        .collect();
    assert_eq!(
        rejects,
        [
            ("notificationEvent[1]", "notificationEvent.focus.reference"),
            ("notificationEvent[2]", "notificationEvent.focus.reference")
        ]
    );
    assert!(
        batch.rejects[1]
            .message
            .contains("Patient changes carry no work"),
        "{}",
        batch.rejects[1].message
    );
    // The Patient focus is never read.
    assert_eq!(
        requested_urls(),
        [format!("{BASE}/MedicationRequest/a-1.E-77")]
    );
}

#[test]
fn focus_not_found_is_rejected() {
    let server = FakeServer::shared();
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert!(
        batch.rejects[0]
            .message
            .contains("DiagnosticReport/dr-9 was not found"),
        "{}",
        batch.rejects[0].message
    );
}

#[test]
fn transport_failure_fails_whole_call() {
    let server = FakeServer::shared();
    server.borrow_mut().on(
        &format!("{BASE}/DiagnosticReport/dr-9"),
        Err(HttpError::Transport("connection reset".to_string())),
    );
    let mut harness = harness_with(GENERIC, &server);

    let error = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap_err();

    assert!(
        matches!(error, ConnectorError::Unavailable(ref m) if m.contains("connection reset")),
        "{error:?}"
    );
}

#[test]
fn failed_observation_read_drops_whole_report() {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            &format!("{BASE}/DiagnosticReport/dr-9"),
            fixture("diagnosticreport-dr-9.json"),
        )
        .on(&format!("{BASE}/Observation/obs-hgb"), json(503, ""));
    let mut harness = harness_with(GENERIC, &server);

    let error = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap_err();

    // No half-built item: the host retries the whole notification later.
    assert!(
        matches!(error, ConnectorError::Unavailable(ref m) if m.contains("HTTP 503")),
        "{error:?}"
    );
}

#[test]
fn operation_outcome_on_read_is_remote_error() {
    let server = FakeServer::shared();
    server.borrow_mut().on(
        &format!("{BASE}/DiagnosticReport/dr-9"),
        json(403, fixture("operation-outcome.json")),
    );
    let mut harness = harness_with(GENERIC, &server);

    let error = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap_err();

    let ConnectorError::Remote(message) = error else {
        panic!("{error:?}")
    };
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(
        message.contains("with OperationOutcome error/forbidden; warning/informational;"),
        "{message}"
    );
    assert!(!message.contains("Scope"), "{message}");
}

#[test]
fn ok_status_with_error_outcome_is_remote_error() {
    let server = FakeServer::shared();
    server.borrow_mut().ok(
        &format!("{BASE}/DiagnosticReport/dr-9"),
        fixture("operation-outcome.json"),
    );
    let mut harness = harness_with(GENERIC, &server);

    let error = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap_err();

    assert!(
        matches!(error, ConnectorError::Remote(ref m) if m.contains("OperationOutcome") && m.contains("forbidden")),
        "{error:?}"
    );
}

#[test]
fn handshake_carries_no_work() {
    let server = FakeServer::shared();
    let mut harness = harness_with(GENERIC, &server);
    let handshake = br#"{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"Parameters","parameter":[
        {"name":"subscription","valueReference":{"reference":"Subscription/s"}},{"name":"status","valueCode":"requested"},{"name":"type","valueCode":"handshake"}]}}]}"#;

    let batch = harness.accept(handshake, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert!(batch.rejects.is_empty());
    assert!(requested_urls().is_empty());
}

#[test]
fn full_resource_notification_needs_no_read() {
    let server = FakeServer::shared();
    let mut harness = harness_with(GENERIC, &server);
    let notification = br#"{"resourceType":"Bundle","type":"history","entry":[
        {"resource":{"resourceType":"Parameters","parameter":[{"name":"type","valueCode":"event-notification"},
            {"name":"notification-event","part":[{"name":"event-number","valueString":"1"},{"name":"focus","valueReference":{"reference":"https://ehr.example.test/fhir/Task/t-1"}}]}]}},
        {"fullUrl":"https://ehr.example.test/fhir/Task/t-1","resource":{"resourceType":"Task","id":"t-1","meta":{"versionId":"5"},"status":"requested","code":{"text":"Prior authorization"}}},
        {"fullUrl":"https://ehr.example.test/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p"}}]}"#;

    let batch = harness.accept(notification, FHIR_JSON).unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "Task/t-1");
    assert_eq!(item.category, Category::PriorAuth);
    // The Patient entry is context, not a reject.
    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert!(requested_urls().is_empty());
}

#[test]
fn repeated_focus_is_read_once() {
    let server = report_server();
    let mut harness = harness_with(GENERIC, &server);
    let notification = br#"{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"SubscriptionStatus","type":"event-notification",
        "notificationEvent":[{"focus":{"reference":"DiagnosticReport/dr-9"}},{"focus":{"reference":"https://other.example.test/fhir/DiagnosticReport/dr-9/_history/3"}}]}}]}"#;

    let batch = harness.accept(notification, FHIR_JSON).unwrap();

    assert_eq!(batch.items.len(), 1);
    // Reads go to the configured base URL, never to the host a notification names.
    assert_eq!(
        requested_urls(),
        [
            format!("{BASE}/DiagnosticReport/dr-9"),
            format!("{BASE}/Observation/obs-hgb")
        ]
    );
}

#[test]
fn notification_without_base_url_is_rejected() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.items.is_empty());
    assert!(
        batch.rejects[0].message.contains("base_url is not set"),
        "{}",
        batch.rejects[0].message
    );
}

#[test]
fn unreadable_focus_is_rejected() {
    let server = FakeServer::shared();
    server.borrow_mut().ok(
        &format!("{BASE}/DiagnosticReport/dr-9"),
        r#"{"resourceType":"DiagnosticReport","id":"dr-9","status":{"code":"final"}}"#,
    );
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects[0].field, "DiagnosticReport.status");
    assert_eq!(
        batch.rejects[0].location,
        "notification-event[0] DiagnosticReport/dr-9"
    );
}

#[test]
fn unreadable_observation_is_missing() {
    let server = FakeServer::shared();
    server
        .borrow_mut()
        .ok(
            &format!("{BASE}/DiagnosticReport/dr-9"),
            fixture("diagnosticreport-dr-9.json"),
        )
        .ok(&format!("{BASE}/Observation/obs-hgb"), "not json at all");
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("notification-id-only.json"), FHIR_JSON)
        .unwrap();

    // One unreadable observation must not block the report, or a poll, forever.
    assert_eq!(batch.items[0].flag, ResultFlag::Unknown);
    assert_eq!(batch.items[0].attribute("missing-observations"), Some("1"));
    assert!(
        switchboard_sdk::testing::logs()
            .iter()
            .any(|l| l.message.contains("unreadable"))
    );
}
