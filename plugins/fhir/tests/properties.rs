//! Property tests on JSON input: no panic, malformed input is an error, and
//! whatever comes out is complete.

mod common;

use common::{fixture, harness};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use switchboard_sdk::{Batch, Category, ConnectorError, ResultFlag};

const FHIR_JSON: &str = "application/fhir+json";

/// Fixtures that are single resources or Bundles.
const JSON_FIXTURES: &[&str] = &[
    "refill-proposal.json",
    "lab-bundle.json",
    "chart-unsigned.json",
    "task-refill.json",
    "claim.json",
    "appointment.json",
    "questionnaire-in-progress.json",
    "referral.json",
    "notification-athena-style.json",
];

/// Checks that every item, event and reject is whole.
fn assert_complete(batch: &Batch) {
    for item in &batch.items {
        let (resource_type, id) = item
            .external_id
            .split_once('/')
            .unwrap_or_else(|| panic!("external id {:?} is not Type/id", item.external_id));
        assert!(!resource_type.is_empty(), "{item:?}");
        assert!(!id.is_empty(), "{item:?}");
        assert!(!item.title.trim().is_empty(), "{item:?}");
        match item.category {
            Category::Result => assert_ne!(item.flag, ResultFlag::None, "{item:?}"),
            _ => assert_eq!(item.flag, ResultFlag::None, "{item:?}"),
        }
    }
    for reject in &batch.rejects {
        assert!(
            !reject.location.is_empty() && !reject.field.is_empty() && !reject.message.is_empty(),
            "{reject:?}"
        );
    }
}

/// Any JSON value, up to a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("final"),
            Just("draft"),
            Just("2026-01-05"),
            Just("Patient/p1"),
            Just("#x"),
            Just("urn:uuid:1")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// FHIR-like resources built from the values the mapping cares about.
fn fhir_like() -> impl Strategy<Value = Value> {
    let resource_type = prop::sample::select(vec![
        "MedicationRequest",
        "DiagnosticReport",
        "Observation",
        "ServiceRequest",
        "Task",
        "Encounter",
        "Composition",
        "DocumentReference",
        "Claim",
        "Appointment",
        "Practitioner",
        "PractitionerRole",
        "QuestionnaireResponse",
        "Patient",
        "Medication",
        "OperationOutcome",
    ]);
    let status = prop::sample::select(vec![
        "draft",
        "active",
        "on-hold",
        "completed",
        "cancelled",
        "stopped",
        "entered-in-error",
        "final",
        "preliminary",
        "amended",
        "registered",
        "finished",
        "in-progress",
        "booked",
        "requested",
        "unknown",
        "",
    ]);
    let intent = prop::sample::select(vec![
        "proposal",
        "plan",
        "order",
        "original-order",
        "filler-order",
        "",
    ]);
    let code = prop::sample::select(vec!["N", "H", "HH", "LL", "A", "S", "IND", "zzz"]);
    let time = prop::sample::select(vec![
        "2026-01-05T10:00:00Z",
        "2026-01-05",
        "2026",
        "not a time",
        "2026-01-05T10:00:00",
        "",
    ]);
    (resource_type, status, intent, code, time, any::<bool>(), any::<bool>(), "[a-z0-9.-]{0,8}").prop_map(|(resource_type, status, intent, code, time, prior, with_meta, id)| {
        let mut resource = json!({
            "resourceType": resource_type,
            "status": status,
            "intent": intent,
            "docStatus": status,
            "issued": time,
            "authoredOn": time,
            "date": time,
            "period": {"end": time},
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "context": {"encounter": [{"reference": "Encounter/e1"}]},
            "interpretation": [{"coding": [{"code": code}]}],
            "result": [{"reference": "#o1"}],
            "contained": [{"resourceType": "Observation", "id": "o1", "status": "final", "interpretation": [{"coding": [{"code": code}]}]}],
            "participant": [{"actor": {"reference": "Patient/p1"}}, {"individual": {"reference": "Practitioner/x"}}],
            "start": time,
            "created": time,
            "issue": [{"severity": "warning", "code": "informational"}],
        });
        if !id.is_empty() {
            resource["id"] = json!(id);
        }
        if prior {
            resource["priorPrescription"] = json!({"reference": "MedicationRequest/old"});
        }
        if with_meta {
            resource["meta"] = json!({"lastUpdated": time});
        }
        resource
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), ndjson in any::<bool>()) {
        let mut harness = harness("");
        let content_type = if ndjson { "application/fhir+ndjson" } else { FHIR_JSON };

        if let Ok(batch) = harness.accept(&bytes, content_type) {
            assert_complete(&batch);
        }
    }

    #[test]
    fn truncated_json_is_malformed(index in 0..JSON_FIXTURES.len(), cut in 0.0f64..1.0) {
        let bytes = fixture(JSON_FIXTURES[index]);
        let last_brace = bytes.iter().rposition(|b| *b == b'}').unwrap();
        let end = (cut * last_brace as f64) as usize;
        let mut harness = harness("");

        let outcome = harness.accept(&bytes[..end], FHIR_JSON);

        prop_assert!(matches!(outcome, Err(ConnectorError::Malformed(_))), "{} cut at {end}: {outcome:?}", JSON_FIXTURES[index]);
    }

    #[test]
    fn corrupted_fields_give_whole_items_or_rejects(index in 0..JSON_FIXTURES.len(), key_pick in any::<prop::sample::Index>(), value in any_json()) {
        let mut resource: Value = serde_json::from_slice(&fixture(JSON_FIXTURES[index])).unwrap();
        let keys: Vec<String> = resource.as_object().unwrap().keys().filter(|k| *k != "resourceType").cloned().collect();
        let key = key_pick.get(&keys).clone();
        resource[&key] = value;
        let mut harness = harness("");

        let outcome = harness.accept(&serde_json::to_vec(&resource).unwrap(), FHIR_JSON);

        match outcome {
            Ok(batch) => {
                assert_complete(&batch);
                let produced = batch.items.len() + batch.events.len() + batch.roster.len() + batch.rejects.len();
                prop_assert!(produced > 0 || resource.get("type").is_some(), "{key}: nothing came out of {resource}");
            }
            Err(error) => prop_assert!(matches!(error, ConnectorError::Malformed(_) | ConnectorError::Remote(_)), "{error:?}"),
        }
    }

    #[test]
    fn generated_resources_map_or_reject(resources in prop::collection::vec(fhir_like(), 1..6)) {
        let entries: Vec<Value> = resources.into_iter().map(|r| json!({"resource": r})).collect();
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
        let mut harness = harness("");

        let outcome = harness.accept(&serde_json::to_vec(&bundle).unwrap(), FHIR_JSON);

        match outcome {
            Ok(batch) => assert_complete(&batch),
            Err(error) => prop_assert!(matches!(error, ConnectorError::Malformed(_) | ConnectorError::Remote(_)), "{error:?}"),
        }
    }

    #[test]
    fn entry_order_does_not_change_items(order in Just((0..11usize).collect::<Vec<_>>()).prop_shuffle()) {
        let mut entries = Vec::new();
        for name in ["lab-bundle.json", "chart-unsigned.json"] {
            let bundle: Value = serde_json::from_slice(&fixture(name)).unwrap();
            entries.extend(bundle["entry"].as_array().unwrap().iter().cloned());
        }
        for name in ["referral.json", "task-refill.json", "refill-proposal.json"] {
            entries.push(json!({"resource": serde_json::from_slice::<Value>(&fixture(name)).unwrap()}));
        }
        prop_assert_eq!(entries.len(), order.len());
        let in_order = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
        let shuffled = json!({"resourceType": "Bundle", "type": "collection", "entry": order.iter().map(|i| entries[*i].clone()).collect::<Vec<_>>()});
        let mut harness = harness("");

        let mut expected = harness.accept(&serde_json::to_vec(&in_order).unwrap(), FHIR_JSON).unwrap().items;
        let mut actual = harness.accept(&serde_json::to_vec(&shuffled).unwrap(), FHIR_JSON).unwrap().items;

        expected.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        actual.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        prop_assert_eq!(expected, actual);
    }
}
