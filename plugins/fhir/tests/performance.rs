//! Timing of a 1,000-resource Bundle, printed rather than asserted.
//!
//! Run with `cargo test -p fhir-connector --release --test performance -- --ignored --nocapture`.
//! The host's target is under 50 ms per such Bundle inside wasm.

mod common;

use std::time::Instant;

use common::harness;
use serde_json::{Value, json};

/// Builds a search page of 1,000 resources with a narrative on each, like a
/// server's: 200 refill proposals, 100 reports with 300 observations and 100
/// orders, 100 encounters with 100 notes, 50 tasks, 25 claims and 25
/// practitioners.
fn thousand_resource_bundle() -> Vec<u8> {
    let narrative = json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "narrative text ".repeat(40))});
    let mut entries = Vec::new();
    let mut push = |mut resource: Value, mode: &str| {
        resource["text"] = narrative.clone();
        let url = format!(
            "https://ehr.example.test/fhir/{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        entries.push(json!({"fullUrl": url, "resource": resource, "search": {"mode": mode}}));
    };

    for i in 0..200 {
        push(
            json!({"resourceType": "MedicationRequest", "id": format!("mr{i}"), "meta": {"versionId": "2"}, "status": "draft", "intent": "proposal",
                "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076", "display": "lisinopril 10 MG"}]},
                "subject": {"reference": format!("Patient/p{i}")}, "requester": {"reference": "Practitioner/pr1"},
                "priorPrescription": {"reference": format!("MedicationRequest/old{i}")}, "authoredOn": "2026-01-05T09:00:00Z"}),
            "match",
        );
    }
    for i in 0..100 {
        push(
            json!({"resourceType": "DiagnosticReport", "id": format!("dr{i}"), "meta": {"lastUpdated": "2026-01-05T10:00:00Z"}, "status": "final",
                "code": {"text": "Panel"}, "subject": {"reference": format!("Patient/p{i}")}, "issued": "2026-01-05T09:00:00Z",
                "basedOn": [{"reference": format!("ServiceRequest/sr{i}")}],
                "result": [{"reference": format!("Observation/o{i}-0")}, {"reference": format!("Observation/o{i}-1")}, {"reference": format!("Observation/o{i}-2")}]}),
            "match",
        );
        for j in 0..3 {
            push(
                json!({"resourceType": "Observation", "id": format!("o{i}-{j}"), "status": "final", "code": {"text": "Analyte"},
                    "valueQuantity": {"value": 5 + j, "unit": "mmol/L", "code": "mmol/L"},
                    "referenceRange": [{"low": {"value": 3, "code": "mmol/L"}, "high": {"value": 6, "code": "mmol/L"}}]}),
                "include",
            );
        }
        push(
            json!({"resourceType": "ServiceRequest", "id": format!("sr{i}"), "status": "completed", "intent": "order", "requester": {"reference": "Practitioner/pr1"}}),
            "include",
        );
    }
    for i in 0..100 {
        push(
            json!({"resourceType": "Encounter", "id": format!("e{i}"), "meta": {"lastUpdated": "2026-01-05T10:00:00Z"}, "status": "finished",
                "class": {"code": "AMB"}, "type": [{"text": "Office visit"}], "subject": {"reference": format!("Patient/p{i}")},
                "participant": [{"type": [{"coding": [{"code": "PPRF"}]}], "individual": {"reference": "Practitioner/pr1"}}],
                "period": {"start": "2026-01-05T08:00:00Z", "end": "2026-01-05T08:30:00Z"}}),
            "match",
        );
        push(
            json!({"resourceType": "DocumentReference", "id": format!("d{i}"), "meta": {"lastUpdated": "2026-01-05T11:00:00Z"}, "status": "current",
                "docStatus": if i % 2 == 0 { "preliminary" } else { "final" }, "subject": {"reference": format!("Patient/p{i}")},
                "date": "2026-01-05T11:00:00Z", "author": [{"reference": "Practitioner/pr1"}], "context": {"encounter": [{"reference": format!("Encounter/e{i}")}]}}),
            "match",
        );
    }
    for i in 0..50 {
        push(
            json!({"resourceType": "Task", "id": format!("t{i}"), "meta": {"versionId": "1"}, "status": "requested", "code": {"text": "Call back"},
                "for": {"reference": format!("Patient/p{i}")}}),
            "match",
        );
    }
    for i in 0..25 {
        push(
            json!({"resourceType": "Claim", "id": format!("c{i}"), "status": "active", "use": "claim", "created": "2026-01-06",
                "item": [{"servicedDate": "2026-01-05", "encounter": [{"reference": format!("Encounter/e{i}")}]}]}),
            "match",
        );
        push(
            json!({"resourceType": "Practitioner", "id": format!("pr{i}"), "name": [{"family": "Staff", "given": [format!("N{i}")]}]}),
            "include",
        );
    }
    assert_eq!(entries.len(), 1000);
    serde_json::to_vec(&json!({"resourceType": "Bundle", "type": "searchset", "entry": entries}))
        .unwrap()
}

#[test]
#[ignore = "prints a timing; run it on purpose with --release"]
fn thousand_resource_bundle_timing() {
    let bundle = thousand_resource_bundle();
    let mut harness = harness("");
    let mut times = Vec::new();

    let mut items = 0;
    for _ in 0..30 {
        let start = Instant::now();
        let batch = harness.accept(&bundle, "application/fhir+json").unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        items = batch.items.len();
    }

    times.sort_by(f64::total_cmp);
    println!(
        "{} bytes, {items} items: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        bundle.len(),
        times[0],
        times[15],
        times[29]
    );
}
