//! The JSON-lines forms that the test benches read and write.
//!
//! `switchboard connector run` prints one [`Record`] per line. `switchboard
//! policy route` reads work items, either bare or as `{"item": …}` records
//! (so connector output pipes straight in; other records are skipped), and
//! prints one [`AssignmentLine`] per routed item.

mod fast;

use std::borrow::Cow;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::packed::{ItemView, Packer};
use crate::types::{
    Assignment, Attribute, Category, EhrState, Event, Priority, ResultFlag, RosterHint, RouteError,
    RouteItem, Site, Timestamp, WorkItem,
};

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

/// A work-item line read for routing only: the fields `route` needs,
/// borrowed from the line, with the rest checked but not kept.
///
/// It accepts exactly the lines [`WorkItem`] accepts (same names, types and
/// required fields, unknown fields rejected). It is cheaper to read: a
/// string without escapes is borrowed, so the title and encounter are never
/// copied and the strings routing keeps are copied once, into the
/// [`RouteItem`]. A bare line of the usual shape is read by a specialized
/// reader, about 40% cheaper than serde, which serde backs for every other
/// line. `switchboard policy route` reads its input this way.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLine<'a> {
    /// The EHR's id for the work, for the output line.
    #[serde(borrow)]
    pub external_id: Cow<'a, str>,
    /// Checked for presence and type only.
    #[allow(dead_code)]
    version: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation.
    #[serde(default)]
    pub flag: ResultFlag,
    /// Priority.
    #[serde(default)]
    pub priority: Priority,
    /// EHR state.
    #[serde(default)]
    pub state: EhrState,
    /// Checked only; routing never reads the title.
    #[allow(dead_code)]
    #[serde(borrow)]
    title: Cow<'a, str>,
    /// EHR patient reference.
    #[serde(borrow, default)]
    pub patient: Option<Cow<'a, str>>,
    /// Checked only; routing never reads the encounter.
    #[allow(dead_code)]
    #[serde(borrow, default)]
    encounter: Option<Cow<'a, str>>,
    /// EHR reference of the ordering provider.
    #[serde(borrow, default)]
    pub ordering: Option<Cow<'a, str>>,
    /// EHR reference of the rendering clinician.
    #[serde(borrow, default)]
    pub rendering: Option<Cow<'a, str>>,
    /// EHR reference of the patient's primary-care provider.
    #[serde(borrow, default)]
    pub pcp: Option<Cow<'a, str>>,
    /// When the work appeared in the EHR.
    pub created: Timestamp,
    /// When the EHR wants it done.
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// Free-form attributes.
    #[serde(borrow, default)]
    pub attributes: Vec<AttributeRef<'a>>,
}

/// An attribute borrowed from a [`RouteLine`].
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRef<'a> {
    /// Attribute name.
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    /// Attribute value.
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

impl RouteLine<'_> {
    /// Builds the routing view of the item, numbered `key`, with its provider
    /// references resolved to roster ids the way the engine resolves them.
    /// A reference that matches no person on the roster becomes `None`.
    pub fn route_item(&self, site: &Site, key: u64) -> RouteItem {
        let attributes = self
            .attributes
            .iter()
            .map(|a| Attribute {
                key: a.key.to_string(),
                value: a.value.to_string(),
            })
            .collect();
        self.view(site, key).to_route_item(attributes)
    }

    /// Appends the item, numbered `key`, to a packed batch, with its
    /// provider references resolved as [`RouteLine::route_item`] resolves
    /// them, without building a [`RouteItem`].
    pub fn pack_route_item(&self, site: &Site, key: u64, packer: &mut Packer) {
        let attributes = self.attributes.iter().map(|a| (&*a.key, &*a.value));
        packer.push(&self.view(site, key), attributes);
    }

    /// Borrows the routing fields, with provider references resolved.
    fn view<'s>(&'s self, site: &'s Site, key: u64) -> ItemView<'s> {
        let resolve = |reference: &'s Option<Cow<'s, str>>| {
            reference.as_deref().and_then(|r| site.resolve_provider(r))
        };
        ItemView {
            key,
            category: self.category,
            flag: self.flag,
            priority: self.priority,
            created: self.created,
            due: self.due,
            patient: self.patient.as_deref(),
            ordering: resolve(&self.ordering),
            rendering: resolve(&self.rendering),
            pcp: resolve(&self.pcp),
        }
    }
}

/// A connector output record read for routing: an item, or a record of
/// another kind, which routing skips.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RouteRecord<'a> {
    #[serde(borrow)]
    Item(RouteLine<'a>),
    Event(#[allow(dead_code)] Event),
    Roster(#[allow(dead_code)] RosterHint),
}

/// Reads one line for routing, as [`parse_item_line`] reads it for a
/// [`WorkItem`]: a bare item or an `{"item": …}` record. Returns `Ok(None)`
/// for blank lines, `#` comments and records of other kinds.
///
/// # Errors
///
/// The JSON error, naming its column or the field at fault.
pub fn parse_route_line(text: &str) -> Result<Option<RouteLine<'_>>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if is_record(trimmed) {
        return match serde_json::from_str::<RouteRecord<'_>>(trimmed) {
            Ok(RouteRecord::Item(item)) => Ok(Some(item)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    if let Some(line) = fast::parse(trimmed) {
        return Ok(Some(line));
    }
    serde_json::from_str::<RouteLine<'_>>(trimmed)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// True for a line that is a connector output record rather than a bare
/// item.
fn is_record(trimmed: &str) -> bool {
    trimmed.starts_with("{\"item\"")
        || trimmed.starts_with("{\"event\"")
        || trimmed.starts_with("{\"roster\"")
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
    if is_record(trimmed) {
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

    fn roster() -> Site {
        Site {
            id: "s".into(),
            time_zone: "America/Chicago".into(),
            people: vec![crate::types::Person {
                id: "dr-lee".into(),
                roles: vec!["physician".into()],
                pod: None,
                hours: Vec::new(),
                absences: Vec::new(),
                ehr_ids: vec!["Practitioner/7".into()],
            }],
            ..Site::default()
        }
    }

    #[test]
    fn route_line_builds_routing_view() {
        // An escaped quote in the title and the patient, so that one string
        // is read through serde's owned path and the others are borrowed.
        let line = r#"{"external_id":"DiagnosticReport/9","version":3,"category":"result","flag":"abnormal","priority":"urgent","title":"A1c \"fasting\"","patient":"Patient/p\"1","ordering":"Practitioner/7","pcp":"Practitioner/unknown","created":"2026-01-05T15:00:00Z","due":"2026-01-06T15:00:00Z","attributes":[{"key":"loinc","value":"4548-4"}]}"#;

        let parsed = parse_route_line(line).unwrap().unwrap();
        let item = parsed.route_item(&roster(), 7);
        let from_work_item = parse_item_line(line)
            .unwrap()
            .unwrap()
            .route_item(&roster(), 7);

        assert_eq!(parsed.external_id, "DiagnosticReport/9");
        assert_eq!(
            item,
            RouteItem {
                key: 7,
                category: Category::Result,
                flag: ResultFlag::Abnormal,
                priority: Priority::Urgent,
                // 2026-01-05T15:00:00Z is 20,458 days and 15 hours after the epoch.
                created: Timestamp((20_458 * 86_400 + 15 * 3_600) * 1_000),
                due: Some(Timestamp((20_459 * 86_400 + 15 * 3_600) * 1_000)),
                patient: Some("Patient/p\"1".into()),
                ordering: Some("dr-lee".into()),
                rendering: None,
                pcp: None,
                attributes: vec![Attribute {
                    key: "loinc".into(),
                    value: "4548-4".into(),
                }],
            }
        );
        assert_eq!(from_work_item, item);

        let mut packer = Packer::new();
        parsed.pack_route_item(&roster(), 7, &mut packer);
        let mut packed = Vec::new();
        crate::packed::pack_items(std::slice::from_ref(&item), &mut packed);
        assert_eq!(packer.bytes(), packed.as_slice());
    }

    #[test]
    fn route_line_validates_like_work_item() {
        let good = r#""external_id":"a","version":1,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z""#;
        let lines = [
            format!("{{{good}}}"),
            format!("{{\"item\":{{{good}}}}}"),
            format!("{{{good},\"encounter\":null,\"patient\":null,\"attributes\":[]}}"),
            format!("{{{good},\"colour\":\"red\"}}"),
            format!("{{{good},\"title\":\"again\"}}"),
            format!("{{{good},\"encounter\":5}}"),
            format!("{{{good},\"attributes\":[{{\"key\":\"k\"}}]}}"),
            format!("{{{good}}} trailing"),
            r#"{"external_id":"a","category":"refill","title":"t","created":"2026-01-05T15:00:00Z"}"#.into(),
            r#"{"external_id":"a","version":1,"category":"refill","title":7,"created":"2026-01-05T15:00:00Z"}"#.into(),
            r#"{"external_id":"a","version":1,"category":"refill","title":"t","created":"yesterday"}"#.into(),
            r#"{"event":{"event":"claim","claim":"c1","visit_date":"2026-01-05T00:00:00Z","submitted":"2026-01-07T00:00:00Z"}}"#.into(),
            r#"{"event":{"event":"claim"}}"#.into(),
        ];
        let expected = [
            "item", "item", "item", "error", "error", "error", "error", "error", "error", "error",
            "error", "skipped", "error",
        ];

        for (line, expected) in lines.iter().zip(expected) {
            let kind = |ok_item: bool, ok: bool| match (ok, ok_item) {
                (false, _) => "error",
                (true, true) => "item",
                (true, false) => "skipped",
            };
            let as_work_item = parse_item_line(line);
            let as_route_line = parse_route_line(line);
            assert_eq!(
                kind(matches!(as_work_item, Ok(Some(_))), as_work_item.is_ok()),
                expected,
                "WorkItem on {line}"
            );
            assert_eq!(
                kind(matches!(as_route_line, Ok(Some(_))), as_route_line.is_ok()),
                expected,
                "RouteLine on {line}"
            );
        }
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
