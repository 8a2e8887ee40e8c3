//! Connector throughput inside the components, through
//! `ConnectorPlugin::accept`: HL7 v2 ORU^R01 results (parse and mapping)
//! and a 1,000-resource FHIR R4 Bundle. The HL7 run is repeated natively
//! (the `hl7v2-connector` crate with the SDK's `MockHost`) for comparison.
//! Inputs are generated here and checked to map without rejects.
//!
//! Run with `cargo bench -p switchboard --bench connectors`.
//! `HL7_MESSAGES` (default 20,000) sets the messages per round and
//! `CONNECTOR_ROUNDS` (default 5) the measured rounds.

mod common;

use std::time::{Duration, Instant};

use hl7v2_connector::Hl7v2Connector;
use serde_json::{Value, json};
use switchboard::runtime::ConnectorPlugin;
use switchboard_sdk::Connector;
use switchboard_sdk::testing::MockHost;

/// Messages per HL7 input, as in a batch file from an interface engine.
const MESSAGES_PER_FILE: usize = 1_000;

/// Single-message calls, as MLLP delivers them.
const SINGLE_CALLS: usize = 5_000;

/// Timed runs of the FHIR Bundle.
const BUNDLE_RUNS: usize = 30;

fn main() {
    if !common::begin(
        "connectors: HL7 v2 ORU^R01 and a FHIR R4 Bundle through the components",
        "cargo bench -p switchboard --bench connectors",
    ) {
        return;
    }
    let messages = common::env_number("HL7_MESSAGES", 20_000) as usize;
    let rounds = common::env_number("CONNECTOR_ROUNDS", 5) as usize;
    let (site_config, _) = common::site();
    let runtime = common::runtime(None);

    hl7_section(&runtime, &site_config, messages, rounds);
    fhir_section(&runtime, &site_config);
    println!(
        "\nload average at end (1, 5, 15 min): {}",
        common::load_average()
    );
}

fn hl7_section(
    runtime: &switchboard::runtime::Runtime,
    site_config: &switchboard::config::SiteConfig,
    messages: usize,
    rounds: usize,
) {
    let all: Vec<String> = (0..messages).map(oru_message).collect();
    let files: Vec<Vec<u8>> = all
        .chunks(MESSAGES_PER_FILE)
        .map(|chunk| chunk.concat().into_bytes())
        .collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    println!(
        "\nHL7 v2: {messages} ORU^R01 messages ({} bytes each on average) in files of {MESSAGES_PER_FILE}; {rounds} rounds after a warm-up, median shown; target >= 50,000 messages/s",
        bytes / messages.max(1)
    );

    let plugin = ConnectorPlugin::new(
        runtime,
        common::load_guest(runtime, "hl7v2-connector"),
        common::host_context(site_config, "hl7v2-connector"),
        "",
    )
    .expect("the HL7 connector configures with an empty config");
    let wasm = median_rate(rounds, messages, || {
        files
            .iter()
            .map(|file| {
                let batch = plugin
                    .accept(file, "application/hl7-v2")
                    .expect("the accept call succeeds")
                    .expect("the connector maps the file");
                assert!(
                    batch.rejects.is_empty(),
                    "rejects: {:?}",
                    &batch.rejects[..1]
                );
                batch.items.len()
            })
            .sum()
    });

    let _mock = MockHost::new()
        .at(common::now())
        .time_zone(&site_config.time_zone)
        .install();
    let mut native_connector =
        Hl7v2Connector::configure("").expect("the native connector configures");
    let native = median_rate(rounds, messages, || {
        files
            .iter()
            .map(|file| {
                native_connector
                    .accept(file, "application/hl7-v2")
                    .expect("the native connector maps the file")
                    .items
                    .len()
            })
            .sum()
    });

    let singles = &all[..SINGLE_CALLS.min(all.len())];
    let single = median_rate(rounds, singles.len(), || {
        singles
            .iter()
            .map(|message| {
                plugin
                    .accept(message.as_bytes(), "application/hl7-v2")
                    .expect("the accept call succeeds")
                    .expect("the connector maps the message")
                    .items
                    .len()
            })
            .sum()
    });

    println!(
        "  wasm, files of {MESSAGES_PER_FILE}:   {:>9.0} messages/s ({:.2} µs per message) {}",
        wasm,
        1e6 / wasm,
        if wasm >= 50_000.0 { "met" } else { "not met" }
    );
    println!(
        "  native, same files:      {:>9.0} messages/s ({:.2} µs per message); wasm/native time {:.2}",
        native,
        1e6 / native,
        native / wasm
    );
    println!(
        "  wasm, one message a call: {:>8.0} messages/s ({:.2} µs per call)",
        single,
        1e6 / single
    );
}

/// Runs `round` (which returns the items it produced) once to warm up and
/// `rounds` times measured; returns the median rate in messages per second.
fn median_rate(rounds: usize, messages: usize, mut round: impl FnMut() -> usize) -> f64 {
    assert_eq!(round(), messages, "every message maps to one result item");
    let rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            let items = round();
            let elapsed = started.elapsed();
            assert_eq!(items, messages);
            messages as f64 / elapsed.as_secs_f64()
        })
        .collect();
    common::median(&rates)
}

/// Ordering providers by NPI; the first two are on the benchmark roster.
const NPIS: &[&str] = &["1003000126", "1003000134", "1003000142", "1730999991"];

/// Panels and their analytes: (panel code, panel name, analytes as
/// (code, name, unit, reference range, low, high)).
type Analyte = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
);

const PANELS: &[(&str, &str, &[Analyte])] = &[
    (
        "24323-8",
        "Comprehensive metabolic panel",
        &[
            ("2345-7", "Glucose", "mg/dL", "70-99", 70.0, 99.0),
            ("2160-0", "Creatinine", "mg/dL", "0.6-1.2", 0.6, 1.2),
            ("2951-2", "Sodium", "mmol/L", "135-145", 135.0, 145.0),
            ("2823-3", "Potassium", "mmol/L", "3.5-5.1", 3.5, 5.1),
        ],
    ),
    (
        "58410-2",
        "CBC panel",
        &[
            ("718-7", "Hemoglobin", "g/dL", "12.0-17.5", 12.0, 17.5),
            ("6690-2", "Leukocytes", "10*3/uL", "4.5-11.0", 4.5, 11.0),
            ("777-3", "Platelets", "10*3/uL", "150-400", 150.0, 400.0),
        ],
    ),
    (
        "4548-4",
        "Hemoglobin A1c",
        &[("4548-4", "Hemoglobin A1c", "%", "4.0-5.6", 4.0, 5.6)],
    ),
];

/// Generates one ORU^R01 with an order group and its observations,
/// segments ended by carriage returns. Patients are identified by record number only.
fn oru_message(i: usize) -> String {
    let (panel_code, panel_name, analytes) = PANELS[i % PANELS.len()];
    let npi = NPIS[i % NPIS.len()];
    let pcp = NPIS[(i / 3) % 2];
    let minute = i % 60;
    let collected = format!("20260310{:02}{minute:02}00-0500", 6 + (i / 60) % 3);
    let sent = format!("2026031009{minute:02}00-0500");

    let mut message = format!(
        "MSH|^~\\&|LAB|REF LAB|SWITCHBOARD|BENCH|{sent}||ORU^R01^ORU_R01|B{i}|P|2.5.1|||AL|NE\r\
         PID|1||M{patient}^^^BENCH^MR\r\
         PD1||||{pcp}^PCP\r\
         PV1|1|O|CLINIC^^^BENCH||||{npi}^ORDERING||||||||||||V{i}^^^BENCH^VN\r\
         ORC|RE|P{i}^BENCH|F{i}^REF LAB|||||||||{npi}^ORDERING\r\
         OBR|1|P{i}^BENCH|F{i}^REF LAB|{panel_code}^{panel_name}^LN|||{collected}|||||||||{npi}^ORDERING||||||{sent}|||F\r",
        patient = 100_000 + i % 7_919,
    );
    for (k, (code, name, unit, range, low, high)) in analytes.iter().enumerate() {
        // Most values are in range; about one in seven is high and one in
        // forty critically high.
        let (value, flag) = match (i + k) % 40 {
            0 => (high * 3.0, "HH"),
            1..=5 => (high * 1.2, "H"),
            _ => ((low + high) / 2.0, "N"),
        };
        message.push_str(&format!(
            "OBX|{}|NM|{code}^{name}^LN||{value:.1}|{unit}|{range}|{flag}|||F\r",
            k + 1
        ));
    }
    message
}

fn fhir_section(
    runtime: &switchboard::runtime::Runtime,
    site_config: &switchboard::config::SiteConfig,
) {
    let bundle = serde_json::to_vec(&thousand_resource_bundle()).expect("the Bundle serializes");
    let plugin = ConnectorPlugin::new(
        runtime,
        common::load_guest(runtime, "fhir-connector"),
        common::host_context(site_config, "fhir-connector"),
        "",
    )
    .expect("the FHIR connector configures with an empty config");

    let first = plugin
        .accept(&bundle, "application/fhir+json")
        .expect("the accept call succeeds")
        .expect("the connector maps the Bundle");
    assert!(
        first.rejects.is_empty(),
        "the generated Bundle has rejects: {:?}",
        &first.rejects[..first.rejects.len().min(3)]
    );
    let times: Vec<Duration> = (0..BUNDLE_RUNS)
        .map(|_| {
            let started = Instant::now();
            let batch = plugin
                .accept(&bundle, "application/fhir+json")
                .expect("the accept call succeeds")
                .expect("the connector maps the Bundle");
            let elapsed = started.elapsed();
            assert_eq!(batch.items.len(), first.items.len());
            elapsed
        })
        .collect();
    let stats = common::percentiles(&times);
    println!(
        "\nFHIR R4: one searchset Bundle of 1,000 resources ({} KiB) -> {} items, {} events, {} roster hints; {BUNDLE_RUNS} runs after a warm-up",
        bundle.len() / 1024,
        first.items.len(),
        first.events.len(),
        first.roster.len()
    );
    println!(
        "  wasm: {stats}; target p50 < 50 ms {}",
        if stats.p50 < 50.0 { "met" } else { "not met" }
    );
}

/// Generates a server's search page of 1,000 resources: 250 refill proposals, 150
/// lab reports with 300 observations, 100 finished visits with 100 notes,
/// 50 forms in progress, 25 booked appointments and 25 practitioners.
fn thousand_resource_bundle() -> Value {
    let mut entries: Vec<Value> = Vec::with_capacity(1_000);
    let mut add = |resource: Value, mode: &str| {
        let url = format!(
            "https://fhir.bench.test/r4/{}/{}",
            resource["resourceType"]
                .as_str()
                .expect("every resource has a type"),
            resource["id"].as_str().expect("every resource has an id")
        );
        entries.push(json!({ "fullUrl": url, "resource": resource, "search": { "mode": mode } }));
    };
    let practitioner = |i: usize| format!("Practitioner/bench-{}", i % 25);

    for i in 0..250 {
        add(
            json!({
                "resourceType": "MedicationRequest", "id": format!("renew-{i}"),
                "meta": { "versionId": "1", "lastUpdated": "2026-03-10T13:00:00Z" },
                "status": "draft", "intent": "proposal",
                "medicationCodeableConcept": { "coding": [{ "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": (197_361 + i % 40).to_string() }] },
                "subject": { "reference": format!("Patient/bench-{}", i * 7 % 4_000) },
                "authoredOn": "2026-03-10T12:45:00Z",
                "requester": { "reference": practitioner(i) },
                "priorPrescription": { "reference": format!("MedicationRequest/original-{i}") }
            }),
            "match",
        );
    }
    for i in 0..150 {
        let observations: Vec<String> = (0..2).map(|k| format!("lab-{i}-{k}")).collect();
        add(
            json!({
                "resourceType": "DiagnosticReport", "id": format!("report-{i}"),
                "meta": { "lastUpdated": "2026-03-10T13:30:00Z" },
                "status": "final",
                "code": { "coding": [{ "system": "http://loinc.org", "code": "24321-2", "display": "Basic metabolic panel" }] },
                "subject": { "reference": format!("Patient/bench-{}", i * 11 % 4_000) },
                "issued": "2026-03-10T13:25:00Z",
                "resultsInterpreter": [{ "reference": practitioner(i) }],
                "result": observations.iter().map(|id| json!({ "reference": format!("Observation/{id}") })).collect::<Vec<_>>()
            }),
            "match",
        );
        for (k, id) in observations.iter().enumerate() {
            let code = if (i + k) % 6 == 0 { "H" } else { "N" };
            let analyte = ["2345-7", "2160-0"][k];
            add(
                json!({
                    "resourceType": "Observation", "id": id, "status": "final",
                    "code": { "coding": [{ "system": "http://loinc.org", "code": analyte }] },
                    "valueQuantity": { "value": 90 + i % 40, "unit": "mg/dL" },
                    "interpretation": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": code }] }]
                }),
                "include",
            );
        }
    }
    for i in 0..100 {
        add(
            json!({
                "resourceType": "Encounter", "id": format!("visit-{i}"),
                "meta": { "lastUpdated": "2026-03-10T12:00:00Z" },
                "status": "finished",
                "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
                "type": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "185349003", "display": "Encounter for check up" }] }],
                "subject": { "reference": format!("Patient/bench-{}", i * 13 % 4_000) },
                "participant": [{ "type": [{ "coding": [{ "code": "PPRF" }] }], "individual": { "reference": practitioner(i) } }],
                "period": { "start": "2026-03-10T10:00:00Z", "end": "2026-03-10T10:30:00Z" }
            }),
            "match",
        );
        add(
            json!({
                "resourceType": "DocumentReference", "id": format!("note-{i}"),
                "meta": { "lastUpdated": "2026-03-10T12:30:00Z" },
                "status": "current",
                "docStatus": if i % 3 == 0 { "final" } else { "preliminary" },
                "type": { "coding": [{ "system": "http://loinc.org", "code": "11506-3", "display": "Progress note" }] },
                "subject": { "reference": format!("Patient/bench-{}", i * 13 % 4_000) },
                "date": "2026-03-10T12:30:00Z",
                "author": [{ "reference": practitioner(i) }],
                "context": { "encounter": [{ "reference": format!("Encounter/visit-{i}") }] }
            }),
            "match",
        );
    }
    for i in 0..50 {
        add(
            json!({
                "resourceType": "QuestionnaireResponse", "id": format!("form-{i}"),
                "meta": { "lastUpdated": "2026-03-10T09:00:00Z" },
                "status": "in-progress",
                "subject": { "reference": format!("Patient/bench-{}", i * 17 % 4_000) },
                "authored": "2026-03-10T08:55:00Z",
                "author": { "reference": practitioner(i) }
            }),
            "match",
        );
    }
    for i in 0..25 {
        add(
            json!({
                "resourceType": "Appointment", "id": format!("appointment-{i}"),
                "status": "booked",
                "appointmentType": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "FOLLOWUP" }] },
                "start": format!("2026-03-11T{:02}:00:00Z", 14 + i % 8),
                "participant": [
                    { "actor": { "reference": format!("Patient/bench-{}", i * 19 % 4_000) }, "status": "accepted" },
                    { "actor": { "reference": practitioner(i) }, "status": "accepted" }
                ]
            }),
            "match",
        );
        add(
            json!({
                "resourceType": "Practitioner", "id": format!("bench-{i}"),
                "identifier": [{ "system": "http://hl7.org/fhir/sid/us-npi", "value": format!("17309{:05}", i) }]
            }),
            "include",
        );
    }
    assert_eq!(entries.len(), 1_000, "the Bundle holds 1,000 resources");
    json!({ "resourceType": "Bundle", "type": "searchset", "entry": entries })
}
