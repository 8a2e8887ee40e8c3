//! The JSON-lines forms that the test benches read and write.
//!
//! `switchboard connector run` prints one [`Record`] per line. `switchboard
//! policy route` reads work items, either bare or as `{"item": …}` records
//! (so connector output pipes straight in; other records are skipped), and
//! prints one [`AssignmentLine`] per routed item.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::types::{Assignment, Event, Priority, RosterHint, RouteError, Timestamp, WorkItem};

/// One line of connector output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Record {
    /// A work item.
    Item(WorkItem),
    /// A metric event.
    Event(Event),
    /// A roster hint.
    Roster(RosterHint),
}

/// One line of policy test-bench output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssignmentLine {
    /// 1-based line number of the input item.
    pub line: usize,
    /// The item's EHR id.
    pub external_id: String,
    /// Role pool, when routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Person, when the policy named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// Priority, when routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Due time, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// Reason, when routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Rule, when routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Routing error, when not routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RouteError>,
}

impl AssignmentLine {
    /// Builds the output line for one routing outcome.
    pub fn new(line: usize, external_id: &str, outcome: Result<Assignment, RouteError>) -> Self {
        let mut out = AssignmentLine {
            line,
            external_id: external_id.to_string(),
            role: None,
            person: None,
            priority: None,
            due: None,
            reason: None,
            rule: None,
            error: None,
        };
        match outcome {
            Ok(a) => {
                out.role = Some(a.role);
                out.person = a.person;
                out.priority = Some(a.priority);
                out.due = a.due;
                out.reason = Some(a.reason);
                out.rule = Some(a.rule);
            }
            Err(e) => out.error = Some(e),
        }
        out
    }
}

/// A line that could not be read as a work item.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses one line as a work item: a bare item or an `{"item": …}` record.
/// Returns `Ok(None)` for blank lines, `#` comments and non-item records.
///
/// # Errors
///
/// A message naming the JSON error's column, or the field at fault.
pub fn parse_item_line(text: &str) -> Result<Option<WorkItem>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if trimmed.starts_with("{\"item\"")
        || trimmed.starts_with("{\"event\"")
        || trimmed.starts_with("{\"roster\"")
    {
        return match serde_json::from_str::<Record>(trimmed) {
            Ok(Record::Item(item)) => Ok(Some(item)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    serde_json::from_str::<WorkItem>(trimmed)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Reads every work item from `reader`, keeping bad lines as errors so a
/// caller reports them all and goes on.
///
/// # Errors
///
/// Only I/O errors end the read; parse errors are returned in the list.
pub fn read_items(
    reader: impl BufRead,
) -> std::io::Result<Vec<(usize, Result<WorkItem, LineError>)>> {
    let mut out = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let number = index + 1;
        match parse_item_line(&line) {
            Ok(Some(item)) => out.push((number, Ok(item))),
            Ok(None) => {}
            Err(message) => out.push((
                number,
                Err(LineError {
                    line: number,
                    message,
                }),
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Category;

    #[test]
    fn bare_and_wrapped_items_parse() {
        let bare = r#"{"external_id":"a","version":1,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z"}"#;
        let wrapped = format!("{{\"item\":{bare}}}");

        let a = parse_item_line(bare).unwrap().unwrap();
        let b = parse_item_line(&wrapped).unwrap().unwrap();

        assert_eq!(a, b);
        assert_eq!(a.category, Category::Refill);
    }

    #[test]
    fn event_lines_are_skipped() {
        let line = r#"{"event":{"event":"claim","claim":"c1","visit_date":"2026-01-05T00:00:00Z","submitted":"2026-01-07T00:00:00Z"}}"#;

        assert_eq!(parse_item_line(line).unwrap(), None);
    }

    #[test]
    fn unknown_field_is_named() {
        let line = r#"{"external_id":"a","version":1,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z","colour":"red"}"#;

        let error = parse_item_line(line).unwrap_err();

        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn bad_lines_keep_their_numbers() {
        let input = "# comment\n{\"external_id\":\"a\",\"version\":1,\"category\":\"refill\",\"title\":\"t\",\"created\":\"2026-01-05T15:00:00Z\"}\nnot json\n";

        let items = read_items(input.as_bytes()).unwrap();

        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0, 2);
        assert!(items[0].1.is_ok());
        assert_eq!(items[1].0, 3);
        assert!(items[1].1.is_err());
    }
}
