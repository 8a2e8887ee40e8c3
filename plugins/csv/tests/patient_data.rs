//! Rejects and errors never quote cell values. Each case puts a made-up
//! patient name and birth date into a cell that fails, then checks that the
//! reject names the line and column and leaves the value out.

use csv_connector::CsvConnector;
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{Batch, Timestamp};

/// The made-up name, which no column name, setting or message contains.
const NAME: &str = "ZZTESTNAME";

/// The made-up birth date in the forms an export might write it.
const BIRTH_DATES: [&str; 3] = ["19741225", "1974-12-25", "12/25/1974"];

const CONFIG: &str = r#"
date_formats = ["%m/%d/%Y %H:%M"]

[columns]
external_id = "Task ID"
version = "Rev"
category = "Task Type"
priority = "Priority"
state = "Status"
patient = "MRN"
created = "Created"
due = "Due"

[categories]
"Lab Result" = "result"
"#;

const HEADER: &str = "Task ID,Rev,Task Type,Priority,Status,MRN,Created,Due";

/// Builds a valid row with `value` in the column at `index` (0-based).
fn row_with(index: usize, value: &str) -> String {
    let mut cells = [
        "T-1",
        "2",
        "Lab Result",
        "routine",
        "open",
        "MRN1",
        "01/05/2026 08:30",
        "",
    ];
    cells[index] = value;
    cells.join(",")
}

fn harness() -> ConnectorHarness<CsvConnector> {
    let now = Timestamp::parse_rfc3339("2026-01-07T15:00:00Z").unwrap();
    ConnectorHarness::new(MockHost::new().at(now).time_zone("America/Chicago"), CONFIG).unwrap()
}

/// Returns every reject as the host prints it, or the error of a failed call.
fn reports(file: &str) -> Vec<String> {
    match harness().accept(file.as_bytes(), "text/csv") {
        Ok(Batch { rejects, .. }) => rejects.iter().map(ToString::to_string).collect(),
        Err(error) => vec![error.to_string()],
    }
}

/// Checks that something was reported and that no report contains the
/// patient's name, birth date or `value`.
fn assert_clean(texts: &[String], value: &str) {
    assert!(!texts.is_empty(), "nothing was reported for {value:?}");
    for text in texts {
        for needle in [NAME, value].iter().chain(BIRTH_DATES.iter()) {
            assert!(
                !text.contains(needle),
                "{text:?} quotes {needle:?} from the input"
            );
        }
    }
}

#[test]
fn bad_cells_are_not_quoted() {
    let cases = [
        (1, "ZZTESTNAME 19741225", "Rev"),
        (2, "ZZTESTNAME", "Task Type"),
        (3, "ZZTESTNAME", "Priority"),
        (4, "ZZTESTNAME", "Status"),
        (6, "ZZTESTNAME 12/25/1974", "Created"),
        (6, "1974-12-25", "Created"),
        (7, "12/25/1974", "Due"),
    ];

    for (index, value, column) in cases {
        let file = format!("{HEADER}\n{}\n", row_with(index, value));

        let texts = reports(&file);

        assert_clean(&texts, value);
        assert!(
            texts[0].starts_with(&format!("line 2: field {column}: ")),
            "{}",
            texts[0]
        );
    }
}

#[test]
fn unknown_category_names_expected_values() {
    let file = format!("{HEADER}\n{}\n", row_with(2, "Fax"));

    let texts = reports(&file);

    assert_eq!(
        texts,
        [
            "line 2: field Task Type: not a known category (found 3 characters): expected one of \
             refill, result, form, visit-note, referral, message, prior-auth, pre-visit-prep, \
             other or a key under [categories]"
        ]
    );
}

#[test]
fn bad_date_names_formats() {
    let file = format!("{HEADER}\n{}\n", row_with(6, "12/25/1974"));

    let texts = reports(&file);

    assert_eq!(
        texts,
        [
            "line 2: field Created: not a date in any of the date formats [\"%m/%d/%Y %H:%M\"] \
             (found 10 characters); add the export's format to date_formats"
        ]
    );
}

#[test]
fn headerless_export_is_not_quoted() {
    let file = format!("{}\n", row_with(5, "ZZTESTNAME 12/25/1974"));

    let texts = reports(&file);

    assert_clean(&texts, "ZZTESTNAME 12/25/1974");
    assert!(texts[0].contains("among its 8 columns"), "{}", texts[0]);
}

#[test]
fn long_row_is_not_quoted() {
    let file = format!("{HEADER}\n{},ZZTESTNAME\n", row_with(5, "MRN1"));

    let texts = reports(&file);

    assert_clean(&texts, NAME);
    assert!(texts[0].starts_with("line 2: field row: "), "{}", texts[0]);
}

#[test]
fn invalid_utf8_row_is_not_quoted() {
    let mut file = format!("{HEADER}\n").into_bytes();
    file.extend_from_slice(row_with(5, "ZZTESTNAME\u{e9}").as_bytes());
    let at = file.iter().rposition(|&b| b == 0xA9).unwrap();
    file[at] = 0xFF;

    let texts: Vec<String> = match harness().accept(&file, "text/csv") {
        Ok(batch) => batch.rejects.iter().map(ToString::to_string).collect(),
        Err(error) => vec![error.to_string()],
    };

    assert_clean(&texts, NAME);
}
