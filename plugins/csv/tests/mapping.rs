//! The CSV connector on the fixtures in `tests/fixtures` (see the README
//! there), through the SDK's native harness. The site is in
//! America/Chicago, UTC-6 in January.

use csv_connector::CsvConnector;
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{
    Batch, Category, ConnectorError, EhrState, Priority, ResultFlag, Timestamp, WorkItem,
};

/// The configuration of a typical in-basket export, as in the crate docs.
const INBASKET: &str = r#"
date_formats = ["%m/%d/%Y %H:%M", "%m/%d/%Y"]
attributes = ["Department"]

[columns]
external_id = "Task ID"
updated = "Last Modified"
category = "Task Type"
flag = "Abnormal"
priority = "Priority"
state = "Status"
title = "Subject"
patient = "MRN"
encounter = "Visit"
ordering = "Ordering NPI"
rendering = "Rendering NPI"
pcp = "PCP NPI"
created = "Created"
due = "Due"

[categories]
"Rx Renewal" = "refill"
"Lab Result" = "result"
"FMLA Form" = "form"
"Unsigned Note" = "visit-note"

[flags]
H = "abnormal"
HH = "critical"

[priorities]
High = "urgent"

[states]
Completed = "done"
"#;

/// The columns of `inbasket_bad_rows.csv`.
const BAD_ROWS: &str = r#"
date_formats = ["%m/%d/%Y %H:%M"]

[columns]
external_id = "Task ID"
category = "Task Type"
priority = "Priority"
title = "Subject"
patient = "MRN"
created = "Created"

[categories]
"Rx Renewal" = "refill"
"Lab Result" = "result"
"FMLA Form" = "form"
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn harness(config: &str) -> ConnectorHarness<CsvConnector> {
    let now = Timestamp::parse_rfc3339("2026-01-07T15:00:00Z").unwrap();
    ConnectorHarness::new(MockHost::new().at(now).time_zone("America/Chicago"), config).unwrap()
}

fn accept(name: &str, config: &str) -> Batch {
    harness(config).accept(&fixture(name), "text/csv").unwrap()
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn item<'b>(batch: &'b Batch, external_id: &str) -> &'b WorkItem {
    batch
        .items
        .iter()
        .find(|i| i.external_id == external_id)
        .unwrap_or_else(|| panic!("no item {external_id}: {:#?}", batch.items))
}

#[test]
fn every_row_becomes_an_item() {
    let batch = accept("inbasket_basic.csv", INBASKET);

    assert!(batch.rejects.is_empty(), "{:#?}", batch.rejects);
    let ids: Vec<&str> = batch.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["T-1001", "T-1002", "T-1003", "T-1004"]);
}

#[test]
fn refill_row_maps_every_field() {
    let batch = accept("inbasket_basic.csv", INBASKET);

    let refill = item(&batch, "T-1001");
    assert_eq!(refill.category, Category::Refill);
    assert_eq!(refill.flag, ResultFlag::None);
    assert_eq!(refill.priority, Priority::Routine);
    assert_eq!(refill.state, EhrState::Open);
    // The quoted value keeps its comma.
    assert_eq!(refill.title, "Lisinopril 10 mg, 90 day supply");
    assert_eq!(refill.patient.as_deref(), Some("MRN1001"));
    assert_eq!(refill.pcp.as_deref(), Some("1234567893"));
    assert_eq!(refill.encounter, None);
    // 01/05/2026 08:30 CST; the due date alone is local midnight.
    assert_eq!(refill.created, at("2026-01-05T14:30:00Z"));
    assert_eq!(refill.due, Some(at("2026-01-06T06:00:00Z")));
    // Last Modified 01/05/2026 09:15 CST in milliseconds.
    assert_eq!(refill.version, at("2026-01-05T15:15:00Z").0 as u64);
    assert_eq!(refill.attribute("Department"), Some("Family Medicine"));
    assert_eq!(refill.attributes.len(), 1);
}

#[test]
fn result_row_maps_flag_and_priority() {
    let batch = accept("inbasket_basic.csv", INBASKET);

    let result = item(&batch, "T-1002");
    assert_eq!(result.category, Category::Result);
    assert_eq!(result.flag, ResultFlag::Abnormal);
    // "STAT" is the priority name stat, compared without case.
    assert_eq!(result.priority, Priority::Stat);
    assert_eq!(result.encounter.as_deref(), Some("V3001"));
    assert_eq!(result.ordering.as_deref(), Some("1234567893"));
    assert_eq!(result.due, None);
}

#[test]
fn value_maps_set_priority_and_state() {
    let batch = accept("inbasket_basic.csv", INBASKET);

    let form = item(&batch, "T-1003");
    assert_eq!(form.category, Category::Form);
    assert_eq!(form.priority, Priority::Urgent);
    assert_eq!(form.state, EhrState::Done);
    assert_eq!(form.attribute("Department"), Some("Front Office"));
    let note = item(&batch, "T-1004");
    assert_eq!(note.category, Category::VisitNote);
    assert_eq!(note.rendering.as_deref(), Some("1234567893"));
    assert_eq!(note.priority, Priority::Routine);
}

#[test]
fn bad_rows_are_rejected_by_line() {
    let batch = accept("inbasket_bad_rows.csv", BAD_ROWS);

    let ids: Vec<&str> = batch.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["T-2001", "T-2008", "T-2010"]);
    let rejects: Vec<(&str, &str)> = batch
        .rejects
        .iter()
        .map(|r| (r.location.as_str(), r.field.as_str()))
        .collect();
    assert_eq!(
        rejects,
        [
            ("line 3", "Task ID"),
            ("line 4", "Task Type"),
            ("line 5", "Created"),
            ("line 6", "row"),
            ("line 7", "Priority"),
            ("line 10", "Created")
        ]
    );
}

#[test]
fn reject_messages_say_how_to_fix() {
    let batch = accept("inbasket_bad_rows.csv", BAD_ROWS);

    let messages: Vec<&str> = batch.rejects.iter().map(|r| r.message.as_str()).collect();
    assert!(messages[1].contains("[categories]"), "{}", messages[1]);
    assert!(messages[2].contains("date_formats"), "{}", messages[2]);
    assert!(
        messages[3].contains("7 values") && messages[3].contains("6 columns"),
        "{}",
        messages[3]
    );
    assert!(messages[4].contains("[priorities]"), "{}", messages[4]);
}

#[test]
fn semicolon_latin1_file_is_read() {
    let config = "delimiter = \";\"\nencoding = \"latin-1\"\n[columns]\nexternal_id = \"Auftrag\"\ncategory = \"Art\"\ntitle = \"Betreff\"\npatient = \"Patient\"\ncreated = \"Erstellt\"\n[categories]\nBefund = \"result\"\nRezept = \"refill\"\n";

    let batch = accept("inbasket_semicolon_latin1.csv", config);

    assert!(batch.rejects.is_empty(), "{:#?}", batch.rejects);
    assert_eq!(item(&batch, "A-3001").title, "Prüfung Nierenwerte");
    assert_eq!(item(&batch, "A-3001").flag, ResultFlag::Unknown);
    assert_eq!(item(&batch, "A-3002").title, "Ibuprofen; 400 mg");
}

#[test]
fn latin1_file_read_as_utf8_is_rejected() {
    let config =
        "delimiter = \";\"\ndefault_category = \"other\"\n[columns]\nexternal_id = \"Auftrag\"\n";

    let batch = accept("inbasket_semicolon_latin1.csv", config);

    assert_eq!(batch.items.len(), 1);
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].location, "line 2");
    assert!(
        batch.rejects[0].message.contains("latin-1"),
        "{}",
        batch.rejects[0]
    );
}

#[test]
fn version_column_wins_and_defaults_to_one() {
    let config = "default_category = \"message\"\n[columns]\nexternal_id = \"id\"\nversion = \"rev\"\ncategory = \"kind\"\ncreated = \"created\"\n";

    let batch = accept("inbasket_versions.csv", config);

    assert_eq!(item(&batch, "V-1").version, 3);
    assert_eq!(item(&batch, "V-3").version, 1);
    assert_eq!(item(&batch, "V-1").created, at("2026-01-05T14:30:00Z"));
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(
        (
            batch.rejects[0].location.as_str(),
            batch.rejects[0].field.as_str()
        ),
        ("line 3", "rev")
    );
}

#[test]
fn header_only_file_is_empty() {
    let batch = accept(
        "header_only.csv",
        "default_category = \"other\"\n[columns]\nexternal_id = \"Task ID\"\n",
    );

    assert_eq!(batch, Batch::default());
}

#[test]
fn short_row_reads_missing_values_as_empty() {
    let config = "default_category = \"other\"\n[columns]\nexternal_id = \"id\"\ntitle = \"title\"\ndue = \"due\"\n";

    let batch = harness(config)
        .accept(b"id,title,due\nX-1,Call back\n", "text/csv")
        .unwrap();

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.items[0].title, "Call back");
    assert_eq!(batch.items[0].due, None);
    // No created column: the host's current time.
    assert_eq!(batch.items[0].created, at("2026-01-07T15:00:00Z"));
}

#[test]
fn missing_column_fails_the_file() {
    let error = harness(INBASKET)
        .accept(b"Task ID,Subject\nT-1,x\n", "text/csv")
        .unwrap_err();

    let ConnectorError::Malformed(message) = error else {
        panic!("expected malformed: {error}");
    };
    assert!(message.contains("Last Modified"), "{message}");
}

#[test]
fn empty_file_is_malformed() {
    let error = harness(INBASKET).accept(b"", "text/csv").unwrap_err();

    assert!(matches!(error, ConnectorError::Malformed(_)), "{error}");
}

#[test]
fn json_content_type_is_unsupported() {
    let error = harness(INBASKET)
        .accept(&fixture("inbasket_basic.csv"), "application/json")
        .unwrap_err();

    assert!(matches!(error, ConnectorError::Unsupported(_)), "{error}");
}

#[test]
fn tab_delimited_file_is_read() {
    let config = "delimiter = \"\\t\"\ndefault_category = \"form\"\n[columns]\nexternal_id = \"ID\"\ntitle = \"Form\"\n";

    let batch = harness(config)
        .accept(
            b"ID\tForm\nF-1\tSchool physical, sports\n",
            "text/tab-separated-values",
        )
        .unwrap();

    assert_eq!(batch.items[0].title, "School physical, sports");
    assert_eq!(batch.items[0].category, Category::Form);
}

#[test]
fn keyed_attributes_rename_columns() {
    let config = "default_category = \"other\"\n[columns]\nexternal_id = \"id\"\n[attributes]\nclinic = \"Site Name\"\n";

    let batch = harness(config)
        .accept(b"id,Site Name\nA-1,North\nA-2,\n", "text/csv")
        .unwrap();

    assert_eq!(batch.items[0].attribute("clinic"), Some("North"));
    assert!(batch.items[1].attributes.is_empty());
}
