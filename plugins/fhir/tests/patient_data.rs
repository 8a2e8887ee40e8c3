//! Rejects and errors never quote element values, request URLs or server
//! prose. Each case puts a made-up patient name and birth date into an
//! element that fails, then checks that the report names the element and
//! leaves the value out.

mod common;

use std::path::PathBuf;

use common::{GENERIC, fixture, harness};
use switchboard_sdk::{Batch, ConnectorError};

const FHIR_JSON: &str = "application/fhir+json";

/// The made-up name, which no resource type, code or message contains.
const NAME: &str = "ZZTESTNAME";

/// The made-up birth date in the forms a message might write it.
const BIRTH_DATES: [&str; 2] = ["1974-12-25", "19741225"];

/// Everything the connector reports about `message` under `config`: each
/// reject as the host prints it, or the error of a failed call.
fn reports_with(config: &str, message: &str) -> Vec<String> {
    match harness(config).accept(message.as_bytes(), FHIR_JSON) {
        Ok(Batch { rejects, .. }) => rejects.iter().map(ToString::to_string).collect(),
        Err(error) => vec![error.to_string()],
    }
}

fn reports(message: &str) -> Vec<String> {
    reports_with("", message)
}

/// Checks that something was reported and that no report contains the
/// patient's name or birth date.
fn assert_clean(texts: &[String], case: &str) {
    assert!(!texts.is_empty(), "nothing was reported for {case}");
    for text in texts {
        for needle in [NAME].iter().chain(BIRTH_DATES.iter()) {
            assert!(
                !text.contains(needle),
                "{case}: {text:?} quotes {needle:?} from the input"
            );
        }
    }
}

#[test]
fn unknown_codes_are_not_quoted() {
    let bad = "ZZTESTNAME 1974-12-25";
    let cases = [
        format!(r#"{{"resourceType":"Task","id":"t1","status":"{bad}","intent":"order"}}"#),
        format!(r#"{{"resourceType":"Observation","id":"o1","status":"{bad}"}}"#),
        format!(
            r#"{{"resourceType":"MedicationRequest","id":"m1","status":"{bad}","intent":"proposal"}}"#
        ),
        format!(
            r#"{{"resourceType":"MedicationRequest","id":"m1","status":"draft","intent":"{bad}"}}"#
        ),
        format!(
            r#"{{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"{bad}"}}"#
        ),
        format!(r#"{{"resourceType":"Claim","id":"c1","status":"{bad}","use":"claim"}}"#),
        format!(r#"{{"resourceType":"Claim","id":"c1","status":"active","use":"{bad}"}}"#),
        format!(r#"{{"resourceType":"Appointment","id":"a1","status":"{bad}"}}"#),
        format!(r#"{{"resourceType":"QuestionnaireResponse","id":"q1","status":"{bad}"}}"#),
        format!(r#"{{"resourceType":"Encounter","id":"e1","status":"{bad}"}}"#),
        format!(
            r#"{{"resourceType":"Composition","id":"n1","status":"{bad}","encounter":{{"reference":"Encounter/e1"}}}}"#
        ),
        format!(
            r#"{{"resourceType":"DocumentReference","id":"d1","status":"current","docStatus":"{bad}","context":{{"encounter":[{{"reference":"Encounter/e1"}}]}}}}"#
        ),
    ];

    for case in &cases {
        let texts = reports(case);

        assert_clean(&texts, case);
    }
}

#[test]
fn unknown_status_names_field_and_length() {
    let texts =
        reports(r#"{"resourceType":"Task","id":"t1","status":"ZZTESTNAME","intent":"order"}"#);

    assert_eq!(
        texts,
        ["Task/t1: field Task.status: not a FHIR R4 task status (found 10 characters)"]
    );
}

#[test]
fn known_intent_is_named() {
    let texts = reports(
        r#"{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order"}"#,
    );

    assert_eq!(
        texts,
        [
            "MedicationRequest/m1: field MedicationRequest.intent: an active request with intent order \
             is already authorized; only drafts, proposals and plans wait for a prescriber"
        ]
    );
}

#[test]
fn encounter_class_is_not_quoted() {
    let encounter = r#"{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"ZZTESTNAME"},"period":{"end":"2026-01-05T10:00:00Z"}}"#;

    let texts = reports_with("encounter_classes = [\"AMB\"]", encounter);

    assert_clean(&texts, encounter);
}

#[test]
fn wrong_json_types_are_not_quoted() {
    let cases = [
        r#"{"resourceType":"Task","id":"t1","status":19741225}"#,
        r#"{"resourceType":"Task","id":"t1","status":"requested","code":"ZZTESTNAME 1974-12-25"}"#,
        r#"{"resourceType":"Bundle","type":"collection","entry":"ZZTESTNAME 1974-12-25"}"#,
        r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":19741225}]}"#,
    ];

    for case in cases {
        let texts = reports(case);

        assert_clean(&texts, case);
        assert!(texts[0].contains("wrong JSON type"), "{}", texts[0]);
    }
}

#[test]
fn wrong_json_type_names_element() {
    let texts = reports(r#"{"resourceType":"Task","id":"t1","status":19741225}"#);

    assert_eq!(
        texts,
        [
            "malformed input: no resource in the message could be read; message: Task.status: \
             wrong JSON type: found integer, expected a string"
        ]
    );
}

#[test]
fn invalid_json_is_not_quoted() {
    let texts =
        reports(r#"{"resourceType":"Task","id":"t1","note":[{"text":"ZZTESTNAME 1974-12-25"#);

    assert_clean(&texts, "truncated JSON");
    assert!(texts[0].contains("not valid JSON"), "{}", texts[0]);
}

#[test]
fn request_urls_are_not_quoted() {
    let bundle = r#"{"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"GET","url":"Patient?family=ZZTESTNAME&birthdate=1974-12-25"}},
        {"request":{"method":"DELETE","url":"Zztestname/19741225"}},
        {"request":{"method":"ZZTESTNAME","url":"https://ehr.example.test/fhir/Patient?name=ZZTESTNAME"}},
        {"request":{"method":"GET","url":"ZZTESTNAME 1974-12-25"}},
        {"resource":{"resourceType":"Task","id":"t1","status":"requested","intent":"order"}}]}"#;

    let texts = reports(bundle);

    assert_clean(&texts, "transaction Bundle");
    assert_eq!(
        texts[..4],
        [
            "entry[0]: field resource: the entry (GET of a Patient search) carries no resource; \
             a transaction or batch request is not a message to map",
            "entry[1]: field request.method: DELETE of a URL that names no resource type the \
             connector knows (found 19 characters): deletions carry no resource to map",
            "entry[2]: field resource: the entry (a request whose method is not an HTTP method of \
             a Patient search) carries no resource; a transaction or batch request is not a message to map",
            "entry[3]: field resource: the entry (GET of a URL that names no resource type the \
             connector knows (found 21 characters)) carries no resource; a transaction or batch \
             request is not a message to map",
        ]
    );
}

#[test]
fn focus_reference_is_not_quoted() {
    let notification = String::from_utf8(fixture("notification-id-only.json"))
        .unwrap()
        .replace(
            "https://ehr.example.test/fhir/DiagnosticReport/dr-9",
            "Patient?family=ZZTESTNAME&birthdate=1974-12-25",
        );

    let texts = reports_with(GENERIC, &notification);

    assert_clean(&texts, "notification");
    assert!(texts[0].contains("a Patient search"), "{}", texts[0]);
}

#[test]
fn outcome_diagnostics_are_not_quoted() {
    let outcome = r#"{"resourceType":"OperationOutcome","issue":[
        {"severity":"error","code":"ZZTESTNAME","diagnostics":"Patient ZZTESTNAME born 1974-12-25 not found"},
        {"severity":"warning","code":"not-found","details":{"text":"ZZTESTNAME 19741225"}}]}"#;

    let error = harness("")
        .accept(outcome.as_bytes(), FHIR_JSON)
        .unwrap_err();

    assert_eq!(
        error,
        ConnectorError::Remote(
            "the message is an OperationOutcome: error/unknown-code outside the value set; \
             warning/not-found"
                .to_string()
        )
    );
}

#[test]
fn shared_transaction_bundle_is_not_quoted() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/fhir/bundle-transaction.json"
    ));
    let Ok(bundle) = std::fs::read_to_string(&path) else {
        eprintln!("note: {} is missing; skipping this check", path.display());
        return;
    };

    let texts = reports(&bundle);

    assert!(!texts.is_empty());
    for text in &texts {
        let lower = text.to_lowercase();
        for needle in ["peter", "chalmers", "name=", "identifier="] {
            assert!(!lower.contains(needle), "{text:?} quotes {needle:?}");
        }
    }
}
