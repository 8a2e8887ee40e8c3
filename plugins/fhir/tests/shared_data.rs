//! The public FHIR R4 examples and Synthea bulk exports in the project's
//! shared data folder, when it is present beside the workspace.
//!
//! Every file must be mapped, or rejected with a reason that names a field,
//! without a panic. A labelled subset checks category, flag and ids that were
//! written down by reading the resources before the test first ran.

mod common;

use std::path::{Path, PathBuf};

use common::{at, harness};
use switchboard_sdk::{Batch, Category, ChartChange, EhrState, Event, ResultFlag};

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "note: {} is missing; skipping the shared-data checks",
            dir.display()
        );
        None
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ndjson") => "application/fhir+ndjson",
        _ => "application/fhir+json",
    }
}

fn accept_file(path: &Path) -> Batch {
    let mut harness = harness("");
    let bytes = std::fs::read(path).unwrap();
    harness
        .accept(&bytes, content_type(path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_shared_file_is_mapped_or_rejected() {
    let Some(dir) = data_dir() else {
        return;
    };
    let mut files = Vec::new();
    for folder in ["fhir", "synthea"] {
        for entry in std::fs::read_dir(dir.join(folder)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();

    for path in &files {
        let batch = accept_file(path);

        let produced = batch.items.len() + batch.events.len() + batch.roster.len();
        assert!(
            produced + batch.rejects.len() > 0,
            "{}: nothing mapped and nothing rejected",
            path.display()
        );
        for reject in &batch.rejects {
            assert!(
                !reject.field.is_empty()
                    && !reject.message.is_empty()
                    && !reject.location.is_empty(),
                "{}: {reject:?}",
                path.display()
            );
        }
        for item in &batch.items {
            assert!(
                item.external_id.contains('/') && !item.title.is_empty(),
                "{}: {item:?}",
                path.display()
            );
        }
        println!(
            "{}: {} items, {} events, {} roster hints, {} rejects",
            path.display(),
            batch.items.len(),
            batch.events.len(),
            batch.roster.len(),
            batch.rejects.len()
        );
    }
}

#[test]
fn synthea_lines_are_all_accounted_for() {
    let Some(dir) = data_dir() else {
        return;
    };
    for entry in std::fs::read_dir(dir.join("synthea")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let encounters = text
            .lines()
            .filter(|l| l.contains(r#""resourceType":"Encounter""#))
            .count();
        let notes = text
            .lines()
            .filter(|l| l.contains(r#""resourceType":"DocumentReference""#))
            .count();
        let other_lines =
            text.lines().filter(|l| !l.trim().is_empty()).count() - encounters - notes;

        let batch = accept_file(&path);

        // Each finished encounter is one chart; notes fold into their chart.
        let charts = batch
            .items
            .iter()
            .filter(|i| i.category == Category::VisitNote)
            .count();
        let roster_lines = batch.roster.len();
        assert_eq!(charts, encounters, "{}", path.display());
        // Other lines become an item, roster hints (two per practitioner with
        // an NPI) or exactly one reject.
        let other_items = batch.items.len() - charts;
        assert!(
            other_items + roster_lines + batch.rejects.len() >= other_lines,
            "{}: {other_lines} lines, {batch:?}",
            path.display()
        );
    }
}

fn shared(path: &str) -> Option<Batch> {
    let file = data_dir()?.join(path);
    Some(accept_file(&file))
}

#[test]
fn labelled_medication_requests() {
    // 0301 is a completed inpatient order: no priorPrescription, no refill
    // category or extension, so it is not a refill request.
    if let Some(batch) = shared("fhir/medicationrequest0301.json") {
        assert!(batch.items.is_empty());
        assert_eq!(
            batch.rejects[0].field,
            "MedicationRequest.priorPrescription"
        );
    }

    // 0312 renews a prescription (priorPrescription) but is an active order:
    // already signed, nothing waits for a prescriber.
    if let Some(batch) = shared("fhir/medicationrequest0312.json") {
        assert!(batch.items.is_empty());
        assert_eq!(batch.rejects[0].field, "MedicationRequest.intent");
    }
}

#[test]
fn labelled_lipid_report() {
    // Four observations without interpretation, compared with their ranges:
    // cholesterol 6.3 > 4.5, triglyceride 1.3 < 2.0, HDL 1.3 < 1.5 (low bound),
    // LDL 4.6 > 3.0. Three are out of range, so the report is abnormal. The
    // only performer is an Organization, so there is no ordering provider.
    let Some(batch) = shared("fhir/diagnosticreport-example-lipids.json") else {
        return;
    };

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "DiagnosticReport/lipids");
    assert_eq!(item.category, Category::Result);
    assert_eq!(item.flag, ResultFlag::Abnormal);
    assert_eq!(item.attribute("flag-source"), Some("reference-range"));
    assert_eq!(item.title, "Lipid Panel");
    assert_eq!(item.patient.as_deref(), Some("Patient/pat2"));
    assert_eq!(item.ordering, None);
    // No meta: issued 2013-01-27T11:45:33+11:00 = 1359247533000 ms, times 8, plus rank 3 (final).
    assert_eq!(item.version, 10_873_980_264_003);
}

#[test]
fn labelled_observations() {
    // f001: glucose with v3 interpretation H and no category: a lone flagged
    // lab result; its performer f005 is the only practitioner named.
    if let Some(batch) = shared("fhir/observation-example-f001-glucose.json") {
        let [item] = batch.items.as_slice() else {
            panic!("{:?}", batch.items)
        };
        assert_eq!(item.external_id, "Observation/f001");
        assert_eq!(item.flag, ResultFlag::Abnormal);
        assert_eq!(item.ordering.as_deref(), Some("Practitioner/f005"));
        assert_eq!(item.patient.as_deref(), Some("Patient/f001"));
        assert_eq!(item.title, "Glucose [Moles/volume] in Blood");
    }

    // f204: a SNOMED code the table does not know plus v3 H: abnormal.
    if let Some(batch) = shared("fhir/observation-example-f204-creatinine.json") {
        assert_eq!(batch.items[0].flag, ResultFlag::Abnormal);
        assert_eq!(
            batch.items[0].ordering.as_deref(),
            Some("Practitioner/f202")
        );
    }

    // Blood pressure is a vital sign, charted in the visit.
    if let Some(batch) = shared("fhir/observation-example-bloodpressure.json") {
        assert!(batch.items.is_empty());
        assert_eq!(batch.rejects[0].field, "Observation.category");
    }
}

#[test]
fn labelled_tasks() {
    // example3: a draft "Refill Request" focusing a MedicationRequest; the
    // requester is a Patient, so there is no ordering provider.
    if let Some(batch) = shared("fhir/task-example3.json") {
        let [item] = batch.items.as_slice() else {
            panic!("{:?}", batch.items)
        };
        assert_eq!(item.external_id, "Task/example3");
        assert_eq!(item.category, Category::Refill);
        assert_eq!(item.state, EhrState::Open);
        assert_eq!(item.patient.as_deref(), Some("Patient/f001"));
        assert_eq!(item.ordering, None);
        // lastModified 2016-03-10T22:39:32-04:00 = 1457663972000 ms, times 8, rank 0.
        assert_eq!(item.version, 11_661_311_776_000);
    }

    // example4: completed "Specimen Collection" whose focus has no reference:
    // no category word, so `other`, and done.
    if let Some(batch) = shared("fhir/task-example4.json") {
        let [item] = batch.items.as_slice() else {
            panic!("{:?}", batch.items)
        };
        assert_eq!(item.category, Category::Other);
        assert_eq!(item.state, EhrState::Done);
        assert_eq!(item.attribute("owner"), Some("Practitioner/f202"));
    }
}

#[test]
fn labelled_notes_and_encounters() {
    // The DocumentReference is preliminary (unsigned) for Encounter/xcda,
    // which the file lacks; its service period ends 2004-12-23T08:01:00+11:00.
    // The authenticator is an Organization, so the author xcda1 renders.
    if let Some(batch) = shared("fhir/documentreference-example.json") {
        let [item] = batch.items.as_slice() else {
            panic!("{:?}", batch.items)
        };
        assert_eq!(item.external_id, "Encounter/xcda");
        assert_eq!(item.category, Category::VisitNote);
        assert_eq!(item.state, EhrState::Open);
        assert_eq!(item.rendering.as_deref(), Some("Practitioner/xcda1"));
        let [Event::Chart(chart)] = batch.events.as_slice() else {
            panic!("{:?}", batch.events)
        };
        assert_eq!(chart.change, ChartChange::Opened);
        assert_eq!(chart.visit_ended, at("2004-12-22T21:01:00Z"));
    }

    // The Composition is final but neither its encounter nor a service period
    // is available, so the visit end is unknown.
    if let Some(batch) = shared("fhir/composition-example.json") {
        assert!(batch.items.is_empty());
        assert_eq!(batch.rejects[0].field, "Encounter");
    }

    // A finished home visit ending 2015-01-17T16:30:00+10:00 with one
    // participant and no notes: an open chart.
    if let Some(batch) = shared("fhir/encounter-example-home.json") {
        let [item] = batch.items.as_slice() else {
            panic!("{:?}", batch.items)
        };
        assert_eq!(item.external_id, "Encounter/home");
        assert_eq!(item.rendering.as_deref(), Some("Practitioner/example"));
        assert_eq!(item.created, at("2015-01-17T06:30:00Z"));
    }

    // f001 is finished but has no period anywhere.
    if let Some(batch) = shared("fhir/encounter-example-f001-heart.json") {
        assert!(batch.items.is_empty());
        assert_eq!(batch.rejects[0].field, "Encounter.period.end");
    }
}

#[test]
fn labelled_claim_and_patient() {
    // An active claim with use "claim": submitted on created 2014-08-16 for a
    // service on 2014-08-16 (item servicedDate; no billablePeriod). Dates
    // without a time are local midnight, and the mock site is in UTC.
    if let Some(batch) = shared("fhir/claim-example.json") {
        let [Event::Claim(claim)] = batch.events.as_slice() else {
            panic!("{:?}", batch.events)
        };
        assert_eq!(claim.claim, "Claim/100150");
        assert_eq!(claim.visit_date, at("2014-08-16T00:00:00Z"));
        assert_eq!(claim.submitted, at("2014-08-16T00:00:00Z"));
        assert_eq!(claim.encounter, None);
    }

    // Patients are never read.
    if let Some(batch) = shared("fhir/patient-example.json") {
        assert!(batch.items.is_empty());
        assert!(batch.roster.is_empty());
        assert_eq!(batch.rejects[0].field, "resourceType");
    }
}
