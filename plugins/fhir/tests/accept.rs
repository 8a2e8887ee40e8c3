//! `accept`: mapping pushed resources, Bundles and NDJSON.

mod common;

use common::{BASE, FakeServer, GENERIC, at, attr, fixture, harness, harness_with, requested_urls};
use switchboard_sdk::{
    Appointment, Category, ChartChange, ChartEvent, ClaimEvent, ConnectorError, EhrState, Event,
    Priority, ResultFlag, RosterHint,
};

const FHIR_JSON: &str = "application/fhir+json";

#[test]
fn refill_proposal_becomes_open_refill() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("refill-proposal.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "MedicationRequest/rx-renew-1");
    // The numeric meta.versionId is the version.
    assert_eq!(item.version, 3);
    assert_eq!(item.category, Category::Refill);
    assert_eq!(item.state, EhrState::Open);
    assert_eq!(item.priority, Priority::Urgent);
    assert_eq!(item.title, "lisinopril 10 MG Oral Tablet");
    assert_eq!(item.patient.as_deref(), Some("Patient/pt-100"));
    assert_eq!(item.ordering.as_deref(), Some("Practitioner/pr-7"));
    assert_eq!(item.created, at("2026-01-05T13:00:00Z"));
    assert_eq!(attr(item, "rxnorm"), Some("314076"));
    assert_eq!(attr(item, "refill-signal"), Some("prior-prescription"));
    assert_eq!(
        attr(item, "prior-prescription"),
        Some("MedicationRequest/rx-orig-1")
    );
}

#[test]
fn lab_report_takes_most_severe_flag() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("lab-bundle.json"), "application/json")
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "DiagnosticReport/dr-1");
    // N, H and HH: HH is critical.
    assert_eq!(item.flag, ResultFlag::Critical);
    assert_eq!(item.category, Category::Result);
    // lastUpdated 2026-01-05T14:00:00Z = 1767621600000 ms, times 8, plus rank 3 (final).
    assert_eq!(item.version, 14_140_972_800_003);
    // The ServiceRequest's requester is a PractitionerRole whose practitioner is pr-7.
    assert_eq!(item.ordering.as_deref(), Some("Practitioner/pr-7"));
    assert_eq!(item.priority, Priority::Stat);
    assert_eq!(item.encounter.as_deref(), Some("Encounter/enc-5"));
    assert_eq!(attr(item, "observations"), Some("3"));
    assert_eq!(attr(item, "flag-source"), Some("interpretation"));
    assert_eq!(attr(item, "ordering-source"), Some("service-request"));
    assert_eq!(attr(item, "loinc"), Some("24323-8"));
    assert_eq!(attr(item, "category"), Some("LAB"));
}

#[test]
fn included_practitioner_role_gives_roster_hint() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("lab-bundle.json"), FHIR_JSON)
        .unwrap();

    let expected = RosterHint {
        ehr_id: "Practitioner/pr-7".to_string(),
        name: Some("Dr. Test Ordering".to_string()),
        role_code: Some("207Q00000X".to_string()),
    };
    assert_eq!(batch.roster, [expected]);
}

#[test]
fn missing_observation_counts_as_unknown() {
    let server = FakeServer::shared();
    let report = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"resource":{"resourceType":"DiagnosticReport","id":"dr-2","meta":{"versionId":"1"},"status":"final","code":{"text":"Panel"},
          "result":[{"reference":"Observation/ok"},{"reference":"Observation/gone"}]}},
        {"resource":{"resourceType":"Observation","id":"ok","status":"final","interpretation":[{"coding":[{"code":"N"}]}]}}]}"#;
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness.accept(report, FHIR_JSON).unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    // One normal observation and one the server does not have: unknown outranks normal.
    assert_eq!(item.flag, ResultFlag::Unknown);
    assert_eq!(attr(item, "missing-observations"), Some("1"));
    assert_eq!(attr(item, "flag-source"), Some("missing"));
    assert_eq!(requested_urls(), [format!("{BASE}/Observation/gone")]);
}

#[test]
fn report_without_results_is_unknown() {
    let mut harness = harness("");
    let report = br#"{"resourceType":"DiagnosticReport","id":"pap","meta":{"versionId":"2"},"status":"final","code":{"text":"Pap smear"},"performer":[{"reference":"Practitioner/pr-3"}]}"#;

    let batch = harness.accept(report, FHIR_JSON).unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.flag, ResultFlag::Unknown);
    assert_eq!(item.ordering.as_deref(), Some("Practitioner/pr-3"));
    assert_eq!(attr(item, "ordering-source"), Some("performer"));
}

#[test]
fn registered_report_waits_for_results() {
    let mut harness = harness("");
    let report = br#"{"resourceType":"DiagnosticReport","id":"dr-r","status":"registered","issued":"2026-01-05T10:00:00Z"}"#;

    let batch = harness.accept(report, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects[0].field, "DiagnosticReport.status");
}

#[test]
fn lone_flagged_observation_is_result() {
    let mut harness = harness("");
    let observation = br#"{"resourceType":"Observation","id":"obs-1","status":"final","category":[{"coding":[{"code":"laboratory"}]}],
        "code":{"text":"Glucose"},"subject":{"reference":"Patient/pt-1"},"issued":"2026-01-05T10:00:00Z",
        "interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"LL"}]}]}"#;

    let batch = harness.accept(observation, FHIR_JSON).unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "Observation/obs-1");
    assert_eq!(item.flag, ResultFlag::Critical);
    assert_eq!(item.title, "Glucose");
}

#[test]
fn vital_sign_observation_is_rejected() {
    let mut harness = harness("");
    let observation = br#"{"resourceType":"Observation","id":"bp","status":"final","category":[{"coding":[{"code":"vital-signs"}]}],
        "interpretation":[{"coding":[{"code":"H"}]}]}"#;

    let batch = harness.accept(observation, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects[0].field, "Observation.category");
    assert_eq!(batch.rejects[0].location, "Observation/bp");
}

#[test]
fn observation_results_can_be_switched_off() {
    let mut harness = harness("observation_results = false");
    let observation = br#"{"resourceType":"Observation","id":"o","status":"final","interpretation":[{"coding":[{"code":"H"}]}]}"#;

    let batch = harness.accept(observation, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects[0].field, "Observation");
}

#[test]
fn site_table_overrides_interpretation() {
    let mut harness = harness("[interpretation]\nH = \"critical\"\n");
    let observation = br#"{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},"status":"final","interpretation":[{"coding":[{"code":"H"}]}]}"#;

    let batch = harness.accept(observation, FHIR_JSON).unwrap();

    assert_eq!(batch.items[0].flag, ResultFlag::Critical);
}

#[test]
fn task_with_medication_focus_is_refill() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("task-refill.json"), FHIR_JSON)
        .unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "Task/task-31");
    assert_eq!(item.version, 1);
    assert_eq!(item.category, Category::Refill);
    assert_eq!(item.priority, Priority::Asap);
    assert_eq!(item.title, "Portal request");
    assert_eq!(item.patient.as_deref(), Some("Patient/pt-100"));
    // The requester is the patient, not a provider.
    assert_eq!(item.ordering, None);
    assert_eq!(item.due, Some(at("2026-01-07T17:00:00Z")));
    assert_eq!(attr(item, "owner"), Some("Practitioner/pr-7"));
    assert_eq!(attr(item, "focus"), Some("MedicationRequest/rx-orig-1"));
}

#[test]
fn task_category_comes_from_site_table() {
    let mut harness = harness("[task_categories]\n\"urn:example:tasks|pa\" = \"prior-auth\"\n");
    let task = br#"{"resourceType":"Task","id":"t","meta":{"versionId":"1"},"status":"ready","code":{"coding":[{"system":"urn:example:tasks","code":"pa"}]},"focus":{"reference":"MedicationRequest/x"}}"#;

    let batch = harness.accept(task, FHIR_JSON).unwrap();

    assert_eq!(batch.items[0].category, Category::PriorAuth);
}

#[test]
fn completed_task_closes_item() {
    let mut harness = harness("");
    let task = br#"{"resourceType":"Task","id":"t","meta":{"versionId":"2"},"status":"completed","code":{"text":"Call back"}}"#;

    let batch = harness.accept(task, FHIR_JSON).unwrap();

    assert_eq!(batch.items[0].state, EhrState::Done);
    assert_eq!(batch.items[0].category, Category::Message);
}

#[test]
fn unsigned_note_opens_chart() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("chart-unsigned.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "Encounter/enc-5");
    assert_eq!(item.category, Category::VisitNote);
    assert_eq!(item.state, EhrState::Open);
    // PPRF (primary performer) wins over ATND.
    assert_eq!(item.rendering.as_deref(), Some("Practitioner/pr-7"));
    assert_eq!(item.title, "Encounter for check up");
    assert_eq!(item.created, at("2026-01-05T09:40:00Z"));
    // Open rank 0; latest change is the note's lastUpdated, 2026-01-05T12:00:00Z.
    assert_eq!(item.version, 1_767_614_400_000);
    assert_eq!(attr(item, "note-status"), Some("unsigned"));
    let opened = Event::Chart(ChartEvent {
        encounter: "Encounter/enc-5".to_string(),
        patient: Some("Patient/pt-100".to_string()),
        clinician: Some("Practitioner/pr-7".to_string()),
        change: ChartChange::Opened,
        visit_ended: at("2026-01-05T09:40:00Z"),
        at: at("2026-01-05T09:40:00Z"),
    });
    assert_eq!(batch.events, [opened]);
}

#[test]
fn signed_note_reads_encounter_and_closes_chart() {
    let server = FakeServer::shared();
    server.borrow_mut().ok(
        &format!("{BASE}/Encounter/enc-5"),
        fixture("encounter-enc-5.json"),
    );
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness
        .accept(&fixture("chart-signed.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.state, EhrState::Done);
    // Rank 1 above 42 bits of time; latest change 2026-01-06T08:00:00Z.
    assert_eq!(item.version, (1 << 42) | 1_767_686_400_000);
    assert_eq!(requested_urls(), [format!("{BASE}/Encounter/enc-5")]);
    let changes: Vec<(ChartChange, switchboard_sdk::Timestamp)> = batch
        .events
        .iter()
        .map(|e| match e {
            Event::Chart(chart) => (chart.change, chart.at),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        changes,
        [
            (ChartChange::Opened, at("2026-01-05T09:40:00Z")),
            (ChartChange::Signed, at("2026-01-06T07:58:00Z"))
        ]
    );
}

#[test]
fn signed_chart_outranks_later_encounter_update() {
    let mut harness = harness("");
    let encounter_touched_later = br#"{"resourceType":"Encounter","id":"enc-5","meta":{"lastUpdated":"2026-02-01T00:00:00Z"},"status":"finished",
        "period":{"end":"2026-01-05T09:40:00Z"}}"#;

    let reopened = harness.accept(encounter_touched_later, FHIR_JSON).unwrap();

    // The signed version above is (1 << 42) | 1767686400000; an open chart
    // version never reaches 1 << 42, however late its timestamp.
    assert_eq!(reopened.items[0].state, EhrState::Open);
    assert!(reopened.items[0].version < (1 << 42) | 1_767_686_400_000);
}

#[test]
fn note_without_visit_end_is_rejected() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("chart-signed.json"), FHIR_JSON)
        .unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].location, "entry[0] Composition/comp-5");
    assert_eq!(batch.rejects[0].field, "Encounter");
}

#[test]
fn encounter_in_progress_opens_no_chart() {
    let mut harness = harness("");
    let encounter = br#"{"resourceType":"Encounter","id":"e","status":"in-progress","period":{"start":"2026-01-05T09:00:00Z"}}"#;

    let batch = harness.accept(encounter, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert!(batch.events.is_empty());
    assert_eq!(batch.rejects[0].field, "Encounter.status");
}

#[test]
fn cancelled_encounter_withdraws_chart() {
    let mut harness = harness("");
    let encounter = br#"{"resourceType":"Encounter","id":"e","meta":{"lastUpdated":"2026-01-05T12:00:00Z"},"status":"entered-in-error"}"#;

    let batch = harness.accept(encounter, FHIR_JSON).unwrap();

    assert_eq!(batch.items[0].state, EhrState::Cancelled);
    assert_eq!(batch.items[0].version, (1 << 42) | 1_767_614_400_000);
    assert!(batch.events.is_empty());
}

#[test]
fn encounter_class_filter_applies() {
    let mut harness = harness("encounter_classes = [\"AMB\"]");
    let encounter = br#"{"resourceType":"Encounter","id":"e","status":"finished","class":{"code":"IMP"},"period":{"end":"2026-01-05T09:40:00Z"}}"#;

    let batch = harness.accept(encounter, FHIR_JSON).unwrap();

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects[0].field, "Encounter.class");
}

#[test]
fn claim_becomes_submitted_event() {
    let mut harness = harness("");

    let batch = harness.accept(&fixture("claim.json"), FHIR_JSON).unwrap();

    let expected = Event::Claim(ClaimEvent {
        claim: "Claim/clm-8".to_string(),
        encounter: Some("Encounter/enc-5".to_string()),
        visit_date: at("2026-01-05T09:00:00Z"),
        submitted: at("2026-01-06T16:00:00Z"),
    });
    assert_eq!(batch.events, [expected]);
    assert!(batch.items.is_empty());
    assert!(batch.rejects.is_empty());
}

#[test]
fn preauthorization_claim_is_rejected() {
    let mut harness = harness("");
    let claim = br#"{"resourceType":"Claim","id":"c","status":"active","use":"preauthorization","created":"2026-01-05"}"#;

    let batch = harness.accept(claim, FHIR_JSON).unwrap();

    assert_eq!(batch.rejects[0].field, "Claim.use");
}

#[test]
fn booked_appointment_becomes_event() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("appointment.json"), FHIR_JSON)
        .unwrap();

    let expected = Event::Appointment(Appointment {
        external_id: "Appointment/appt-12".to_string(),
        patient: "Patient/pt-100".to_string(),
        clinician: Some("Practitioner/pr-7".to_string()),
        start: at("2026-01-12T15:30:00Z"),
        kind: "ROUTINE".to_string(),
    });
    assert_eq!(batch.events, [expected]);
}

#[test]
fn cancelled_appointment_is_rejected() {
    let mut harness = harness("");
    let appointment = br#"{"resourceType":"Appointment","id":"a","status":"cancelled","start":"2026-01-12T15:30:00Z","participant":[{"actor":{"reference":"Patient/p"}}]}"#;

    let batch = harness.accept(appointment, FHIR_JSON).unwrap();

    assert!(batch.events.is_empty());
    assert_eq!(batch.rejects[0].field, "Appointment.status");
}

#[test]
fn staff_become_roster_hints() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("staff.ndjson"), "application/fhir+ndjson")
        .unwrap();

    let hint = |id: &str, name: &str, role: Option<&str>| RosterHint {
        ehr_id: id.to_string(),
        name: Some(name.to_string()),
        role_code: role.map(str::to_string),
    };
    let expected = [
        hint(
            "Practitioner/pr-7",
            "Dr. Quinn Testwell",
            Some("207Q00000X"),
        ),
        hint("1234567893", "Dr. Quinn Testwell", None),
        hint("1999999992", "Dr. Npi Only", Some("Nurse Practitioner")),
    ];
    assert_eq!(batch.roster, expected);
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].location, "line 3 Practitioner/pr-old");
    assert_eq!(batch.rejects[0].field, "Practitioner.active");
}

#[test]
fn questionnaire_in_progress_is_open_form() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("questionnaire-in-progress.json"), FHIR_JSON)
        .unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.category, Category::Form);
    assert_eq!(item.state, EhrState::Open);
    assert_eq!(item.title, "Form fmla-certification");
    // lastUpdated 2026-01-05T08:00:00Z = 1767600000000 ms, times 8, rank 0.
    assert_eq!(item.version, 14_140_800_000_000);
    assert_eq!(item.created, at("2026-01-04T18:00:00Z"));
    assert_eq!(attr(item, "author"), Some("Practitioner/pr-7"));
}

#[test]
fn referral_becomes_referral_item() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("referral.json"), FHIR_JSON)
        .unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.external_id, "ServiceRequest/ref-2");
    assert_eq!(item.category, Category::Referral);
    assert_eq!(item.title, "Cardiology referral");
    assert_eq!(item.version, 2);
    assert_eq!(item.ordering.as_deref(), Some("Practitioner/pr-7"));
}

#[test]
fn ndjson_maps_and_rejects_per_line() {
    let mut harness = harness("");

    let batch = harness
        .accept(
            &fixture("bulk.ndjson"),
            "application/fhir+ndjson; charset=utf-8",
        )
        .unwrap();

    let ids: Vec<&str> = batch.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["MedicationRequest/rx-bulk-1"]);
    let rejects: Vec<(&str, &str)> = batch
        .rejects
        .iter()
        .map(|r| (r.location.as_str(), r.field.as_str()))
        .collect();
    assert_eq!(
        rejects,
        [
            ("line 1 Patient/pt-100", "resourceType"),
            (
                "line 3 MedicationRequest/rx-bulk-2",
                "MedicationRequest.intent"
            ),
            ("line 5 Condition/cond-1", "resourceType"),
            ("line 6 Observation/obs-bad", "Observation.interpretation"),
            ("line 7", "resource"),
        ]
    );
}

#[test]
fn operation_outcome_message_is_remote_error() {
    let mut harness = harness("");

    let error = harness
        .accept(&fixture("operation-outcome.json"), FHIR_JSON)
        .unwrap_err();

    let ConnectorError::Remote(message) = error else {
        panic!("{error:?}")
    };
    // The diagnostics text is server prose, which may echo patient data, so
    // only the coded severity and issue type are reported.
    assert_eq!(
        message,
        "the message is an OperationOutcome: error/forbidden; warning/informational"
    );
}

#[test]
fn malformed_messages_are_errors() {
    let mut harness = harness("");

    let empty = harness.accept(b"  \n", FHIR_JSON).unwrap_err();
    let truncated = harness
        .accept(
            br#"{"resourceType":"Bundle","entry":[{"resource":"#,
            FHIR_JSON,
        )
        .unwrap_err();
    let not_utf8 = harness.accept(&[0xff, 0xfe, 0x00], FHIR_JSON).unwrap_err();
    let no_type = harness.accept(br#"{"id":"x"}"#, FHIR_JSON).unwrap_err();
    let wrong_field = harness
        .accept(
            br#"{"resourceType":"Task","id":"t","code":"refill"}"#,
            FHIR_JSON,
        )
        .unwrap_err();

    assert!(matches!(empty, ConnectorError::Malformed(_)));
    assert!(matches!(truncated, ConnectorError::Malformed(_)));
    assert!(matches!(not_utf8, ConnectorError::Malformed(_)));
    assert!(matches!(no_type, ConnectorError::Malformed(_)));
    assert!(
        matches!(wrong_field, ConnectorError::Malformed(ref m) if m.contains("Task.code")),
        "{wrong_field:?}"
    );
}

#[test]
fn xml_is_unsupported() {
    let mut harness = harness("");

    let error = harness
        .accept(
            b"<Task xmlns=\"http://hl7.org/fhir\"/>",
            "application/fhir+xml",
        )
        .unwrap_err();

    assert!(matches!(error, ConnectorError::Unsupported(_)));
}

#[test]
fn transaction_entries_without_ids_are_rejected() {
    let mut harness = harness("");
    let bundle = br#"{"resourceType":"Bundle","type":"transaction","entry":[
        {"fullUrl":"urn:uuid:0001","resource":{"resourceType":"Task","status":"requested"},"request":{"method":"POST","url":"Task"}},
        {"request":{"method":"DELETE","url":"Task/old"}}]}"#;

    let batch = harness.accept(bundle, FHIR_JSON).unwrap();

    let fields: Vec<&str> = batch.rejects.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["Task.id", "request.method"]);
}

#[test]
fn items_carry_no_patient_text() {
    let mut harness = harness("");
    let mut output = String::new();

    for (name, content_type) in [
        ("refill-proposal.json", FHIR_JSON),
        ("chart-unsigned.json", FHIR_JSON),
        ("task-refill.json", FHIR_JSON),
        ("appointment.json", FHIR_JSON),
        ("questionnaire-in-progress.json", FHIR_JSON),
        ("bulk.ndjson", "application/fhir+ndjson"),
    ] {
        let batch = harness.accept(&fixture(name), content_type).unwrap();
        output.push_str(&serde_json::to_string(&batch).unwrap());
    }

    for secret in [
        "Test Patient",
        "Alpha",
        "Free text",
        "Note text",
        "free text answer",
        "1970-01-01",
    ] {
        assert!(
            !output.contains(secret),
            "{secret:?} leaked into the output"
        );
    }
}

#[test]
fn broken_included_observation_counts_as_missing() {
    let server = FakeServer::shared();
    let report = br#"{"resourceType":"Bundle","type":"searchset","entry":[
        {"search":{"mode":"match"},"resource":{"resourceType":"DiagnosticReport","id":"dr-3","meta":{"versionId":"1"},"status":"final","code":{"text":"Panel"},
          "result":[{"reference":"Observation/broken"}]}},
        {"search":{"mode":"include"},"resource":{"resourceType":"Observation","id":"broken","status":"final","interpretation":"H"}}]}"#;
    let mut harness = harness_with(GENERIC, &server);

    let batch = harness.accept(report, FHIR_JSON).unwrap();

    let [item] = batch.items.as_slice() else {
        panic!("{:?}", batch.items)
    };
    assert_eq!(item.flag, ResultFlag::Unknown);
    assert_eq!(attr(item, "missing-observations"), Some("1"));
    // The message carries the observation, so it is not read again.
    assert!(requested_urls().is_empty());
}
