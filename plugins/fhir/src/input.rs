//! Reading a message into a collection of resources.
//!
//! A message is a single resource, a Bundle (searchset, collection,
//! transaction, batch, history, document or message), or NDJSON from a bulk
//! export. It may also be a topic-based subscription notification, which is
//! a `history` Bundle whose first entry is the subscription status. That
//! status is either `Parameters` (the R4 form of the Subscriptions R5
//! Backport guide) or a `SubscriptionStatus` resource (the R4B form, which
//! athenahealth sends).
//!
//! Every resource becomes an [`Entry`] with a location for rejects
//! (`entry[3]`, `line 12`, `message`) and a role: primary entries are mapped,
//! context entries only resolve references (search `include` matches, the
//! content of a document Bundle, the additional context of a notification).

use std::collections::HashMap;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_sdk::ConnectorError;

use crate::fhir::{ParseError, Parsed, Resource, parse_resource};
use crate::{redact, refs};

/// Whether an entry is mapped or only consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Mapped to items, events or roster hints.
    Primary,
    /// Consulted to resolve references only.
    Context,
    /// A search `outcome` entry: the server's warnings about the search.
    Outcome,
}

/// One resource of a message.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Position of the resource in the message, for rejects.
    pub location: String,
    pub role: Role,
    pub full_url: Option<String>,
    pub resource: Result<Rc<Parsed>, ParseError>,
}

/// One `notificationEvent` of a subscription notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Focus {
    /// Position of the event in the notification, for rejects.
    pub location: String,
    /// The literal reference to the resource that changed, if given.
    pub reference: Option<String>,
}

/// The status part of a subscription notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// `event-notification`, `handshake`, `heartbeat`, `query-status` or
    /// `query-event`.
    pub kind: String,
    pub events: Vec<Focus>,
}

impl Notification {
    /// True when the notification reports changes (as opposed to a handshake
    /// or heartbeat, which carry none).
    pub fn carries_events(&self) -> bool {
        matches!(self.kind.as_str(), "event-notification" | "query-event")
    }
}

/// The resources of one message or search page, indexed by reference.
#[derive(Clone, Debug, Default)]
pub struct Collection {
    pub entries: Vec<Entry>,
    keys: HashMap<String, usize>,
    pub notification: Option<Notification>,
    /// The Bundle's `next` link, for search pages.
    pub next_link: Option<String>,
}

impl Collection {
    /// Adds an entry and indexes it by `Type/id` and by its full URL. An
    /// entry that failed to parse is indexed too, so references to it do not
    /// trigger reads.
    pub fn push(&mut self, entry: Entry) {
        let index = self.entries.len();
        let key = match &entry.resource {
            Ok(parsed) => parsed.key(),
            Err(problem) => problem.key.clone(),
        };
        if let Some(full_url) = &entry.full_url {
            self.keys.entry(full_url.clone()).or_insert(index);
            // A full URL usually ends in the resource's own Type/id, which
            // the key below already covers.
            if let Some((resource_type, id)) = refs::type_and_id(full_url)
                && key.as_deref().and_then(|k| k.split_once('/')) != Some((resource_type, id))
            {
                self.keys
                    .entry(format!("{resource_type}/{id}"))
                    .or_insert(index);
            }
        }
        if let Some(key) = key {
            self.keys.entry(key).or_insert(index);
        }
        self.entries.push(entry);
    }

    /// Finds the entry a reference names, by exact text (full URLs,
    /// `urn:uuid:`) or else by `Type/id`.
    pub fn find_entry(&self, reference: &str) -> Option<&Entry> {
        let index = self
            .keys
            .get(reference.trim())
            .or_else(|| refs::relative(reference).and_then(|key| self.keys.get(&key)))?;
        self.entries.get(*index)
    }

    /// Finds the parsed resource a reference names, as [`Collection::find_entry`] does.
    pub fn find(&self, reference: &str) -> Option<Rc<Parsed>> {
        self.find_entry(reference)
            .and_then(|entry| entry.resource.as_ref().ok().cloned())
    }

    /// Makes the entry for `reference` primary; returns false when the
    /// collection lacks it.
    pub fn promote(&mut self, reference: &str) -> bool {
        let index = self
            .keys
            .get(reference.trim())
            .copied()
            .or_else(|| refs::relative(reference).and_then(|key| self.keys.get(&key).copied()));
        match index.and_then(|i| self.entries.get_mut(i)) {
            Some(entry) if entry.resource.is_ok() => {
                entry.role = Role::Primary;
                true
            }
            _ => false,
        }
    }
}

/// Media types read as NDJSON, one resource per line.
const NDJSON_TYPES: &[&str] = &[
    "application/fhir+ndjson",
    "application/ndjson",
    "application/x-ndjson",
];

/// Reads a message into a collection.
///
/// # Errors
///
/// [`ConnectorError::Malformed`] when the message is empty, not UTF-8, not
/// JSON, has no `resourceType`, or every resource in it fails to parse;
/// [`ConnectorError::Unsupported`] for XML.
pub fn read_message(message: &[u8], content_type: &str) -> Result<Collection, ConnectorError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type.contains("xml") {
        return Err(ConnectorError::Unsupported(format!(
            "content type {content_type:?} is FHIR XML, which this connector does not read; have the sender use application/fhir+json"
        )));
    }

    let text = decode(message)?;
    let collection =
        if NDJSON_TYPES.contains(&media_type.as_str()) || looks_like_ndjson(&media_type, text) {
            read_ndjson(text)?
        } else {
            read_json(text)?
        };

    require_something_parsed(&collection)?;
    Ok(collection)
}

/// True for a body under a non-JSON media type (such as `text/plain` or
/// `application/octet-stream`, which a host may infer for a `.ndjson` file)
/// whose first two lines are each a whole JSON object.
fn looks_like_ndjson(media_type: &str, text: &str) -> bool {
    if media_type.contains("json") {
        return false;
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let is_object = |line: Option<&str>| {
        line.is_some_and(|l| {
            l.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok()
        })
    };
    is_object(lines.next()) && is_object(lines.next())
}

fn decode(message: &[u8]) -> Result<&str, ConnectorError> {
    let text = std::str::from_utf8(message).map_err(|e| {
        ConnectorError::Malformed(format!(
            "message is not UTF-8: invalid byte at offset {}",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ConnectorError::Malformed(
            "message is empty; send a FHIR resource, Bundle or NDJSON".to_string(),
        ));
    }
    Ok(text)
}

fn read_ndjson(text: &str) -> Result<Collection, ConnectorError> {
    let mut collection = Collection::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let resource = parse_resource(line).map(Rc::new);
        collection.push(Entry {
            location: located(format!("line {}", index + 1), &resource),
            role: Role::Primary,
            full_url: None,
            resource,
        });
    }
    Ok(collection)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeOnly {
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct BundleDoc<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    link: Vec<BundleLink>,
    #[serde(default, borrow)]
    entry: Vec<BundleEntry<'a>>,
}

#[derive(Deserialize)]
struct BundleLink {
    relation: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleEntry<'a> {
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
    search: Option<EntrySearch>,
    request: Option<EntryRequest>,
}

#[derive(Deserialize)]
struct EntrySearch {
    mode: Option<String>,
}

#[derive(Deserialize)]
struct EntryRequest {
    method: Option<String>,
    url: Option<String>,
}

/// Reads one page of search results, which must be a Bundle.
///
/// Unlike [`read_message`], a page whose resources all fail to parse is
/// returned with those failures as entries, so that the poll can reject
/// them and move past the page.
///
/// # Errors
///
/// [`ConnectorError::Remote`] when the body is not JSON or not a Bundle.
pub fn read_page(url: &str, body: &[u8]) -> Result<Collection, ConnectorError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        ConnectorError::Remote(format!("GET {url} returned a body that is not UTF-8"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let top: TypeOnly = serde_json::from_str(text).map_err(|e| {
        ConnectorError::Remote(format!(
            "GET {url} returned no JSON object: {}",
            redact::json_error(&e)
        ))
    })?;
    match top.resource_type.as_deref() {
        Some("Bundle") => read_bundle(text).map_err(|e| {
            ConnectorError::Remote(format!("GET {url} returned an unreadable Bundle: {e}"))
        }),
        other => Err(ConnectorError::Remote(format!(
            "GET {url} returned {} instead of a search Bundle",
            other.unwrap_or("JSON without resourceType")
        ))),
    }
}

fn read_json(text: &str) -> Result<Collection, ConnectorError> {
    let top: TypeOnly = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ConnectorError::Malformed(
            "message is JSON but not an object; send a FHIR resource or Bundle".to_string(),
        ),
        _ => ConnectorError::Malformed(format!(
            "message is not valid JSON: {}",
            redact::json_error(&e)
        )),
    })?;
    match top.resource_type.as_deref() {
        Some("Bundle") => read_bundle(text),
        Some(_) => {
            let mut collection = Collection::default();
            let resource = parse_resource(text).map(Rc::new);
            let location = match &resource {
                Ok(parsed) => parsed.label(),
                Err(_) => "message".to_string(),
            };
            collection.push(Entry {
                location,
                role: Role::Primary,
                full_url: None,
                resource,
            });
            Ok(collection)
        }
        None => Err(ConnectorError::Malformed("message has no resourceType; send a FHIR resource, a Bundle or NDJSON (application/fhir+ndjson)".to_string())),
    }
}

fn read_bundle(text: &str) -> Result<Collection, ConnectorError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let bundle: BundleDoc<'_> =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            ConnectorError::Malformed(format!(
                "Bundle.{}: {}",
                e.path(),
                redact::json_error(e.inner())
            ))
        })?;
    let kind = bundle.kind.as_deref().unwrap_or("collection");

    let mut collection = Collection {
        next_link: bundle
            .link
            .iter()
            .find(|l| l.relation.as_deref() == Some("next"))
            .and_then(|l| l.url.clone())
            .filter(|u| !u.trim().is_empty()),
        ..Collection::default()
    };

    for (index, entry) in bundle.entry.iter().enumerate() {
        let resource = match entry.resource {
            Some(raw) => parse_resource(raw.get()).map(Rc::new),
            None => Err(missing_resource(entry)),
        };
        let location = located(format!("entry[{index}]"), &resource);
        let role = entry_role(kind, index, entry);
        collection.push(Entry {
            location,
            role,
            full_url: entry.full_url.clone().filter(|u| !u.trim().is_empty()),
            resource,
        });
    }

    if matches!(kind, "history" | "subscription-notification") {
        mark_notification(&mut collection);
    }
    Ok(collection)
}

/// Appends the resource's `Type/id`, when it has one, to `position`.
fn located(position: String, resource: &Result<Rc<Parsed>, ParseError>) -> String {
    let key = match resource {
        Ok(parsed) => parsed.key(),
        Err(problem) => problem.key.clone(),
    };
    match key {
        Some(key) => format!("{position} {key}"),
        None => position,
    }
}

/// The problem of an entry without a resource. It describes the entry's
/// request by method and target only: a search URL such as
/// `Patient?name=…&birthdate=…` carries patient data in its parameters.
fn missing_resource(entry: &BundleEntry<'_>) -> ParseError {
    let method = entry.request.as_ref().and_then(|r| r.method.as_deref());
    let url = entry.request.as_ref().and_then(|r| r.url.as_deref());
    let (field, message) = match method {
        Some("DELETE") => (
            "request.method",
            format!(
                "{}: deletions carry no resource to map",
                redact::request(method, url)
            ),
        ),
        Some(_) => (
            "resource",
            format!(
                "the entry ({}) carries no resource; a transaction or batch request is not a message to map",
                redact::request(method, url)
            ),
        ),
        None => (
            "resource",
            "the entry carries no resource and no request".to_string(),
        ),
    };
    ParseError {
        field: field.to_string(),
        message,
        key: url.and_then(redact::known_key),
    }
}

fn entry_role(kind: &str, index: usize, entry: &BundleEntry<'_>) -> Role {
    match entry.search.as_ref().and_then(|s| s.mode.as_deref()) {
        Some("include") => return Role::Context,
        Some("outcome") => return Role::Outcome,
        _ => {}
    }
    match kind {
        // A document's resources are its content; the Composition is the work.
        "document" if index > 0 => Role::Context,
        _ => Role::Primary,
    }
}

/// Turns a `history` Bundle that starts with a subscription status into a
/// notification. The status entry becomes context, the focus resources
/// become primary, and every other entry becomes context.
fn mark_notification(collection: &mut Collection) {
    let Some(first) = collection.entries.first() else {
        return;
    };
    let Ok(status) = &first.resource else {
        return;
    };
    let notification = match &status.body {
        Resource::Parameters(parameters) => notification_from_parameters(parameters),
        Resource::SubscriptionStatus(status) => notification_from_status(status),
        _ => return,
    };

    collection.entries[0].role = Role::Context;
    let focused: Vec<String> = notification
        .events
        .iter()
        .filter_map(|f| f.reference.clone())
        .collect();
    if !focused.is_empty() {
        for entry in collection.entries.iter_mut().skip(1) {
            entry.role = Role::Context;
        }
        for reference in &focused {
            collection.promote(reference);
        }
    }
    collection.notification = Some(notification);
}

fn notification_from_parameters(parameters: &crate::fhir::resources::Parameters) -> Notification {
    let kind = parameters
        .parameter
        .iter()
        .find(|p| p.name == "type")
        .and_then(|p| p.value_code.clone())
        .unwrap_or_else(|| "event-notification".to_string());
    let events = parameters
        .parameter
        .iter()
        .filter(|p| p.name == "notification-event")
        .enumerate()
        .map(|(index, event)| Focus {
            location: format!("notification-event[{index}]"),
            reference: event
                .part
                .iter()
                .find(|p| p.name == "focus")
                .and_then(|p| p.value_reference.as_ref())
                .and_then(|r| r.reference.clone()),
        })
        .collect();
    Notification { kind, events }
}

fn notification_from_status(status: &crate::fhir::resources::SubscriptionStatus) -> Notification {
    let events = status
        .notification_event
        .iter()
        .enumerate()
        .map(|(index, event)| Focus {
            location: format!("notificationEvent[{index}]"),
            reference: event.focus.as_ref().and_then(|r| r.reference.clone()),
        })
        .collect();
    Notification {
        kind: status
            .kind
            .clone()
            .unwrap_or_else(|| "event-notification".to_string()),
        events,
    }
}

/// Fails with `Malformed` when a message had resources and none parsed.
fn require_something_parsed(collection: &Collection) -> Result<(), ConnectorError> {
    if collection.notification.is_some() {
        return Ok(());
    }
    let mut problems = collection
        .entries
        .iter()
        .filter(|e| e.role == Role::Primary)
        .map(|e| (e.location.as_str(), e.resource.as_ref().err()));
    let Some((location, first_problem)) = problems.next() else {
        return Ok(());
    };
    let first_problem = match first_problem {
        Some(problem) => problem,
        None => return Ok(()),
    };
    if problems.all(|(_, problem)| problem.is_some()) && !first_problem.field.starts_with("request")
    {
        return Err(ConnectorError::Malformed(format!(
            "no resource in the message could be read; {location}: {first_problem}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_resource_is_primary() {
        let collection = read_message(
            br#"{"resourceType":"Task","id":"t1","status":"requested"}"#,
            "application/fhir+json",
        )
        .unwrap();

        assert_eq!(collection.entries.len(), 1);
        assert_eq!(collection.entries[0].location, "Task/t1");
        assert_eq!(collection.entries[0].role, Role::Primary);
        assert!(collection.find("Task/t1").is_some());
    }

    #[test]
    fn bundle_indexes_full_urls_and_includes() {
        let bundle = br#"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://x.test/fhir/Task?page=2"}],
            "entry":[{"fullUrl":"https://x.test/fhir/Task/1","resource":{"resourceType":"Task","id":"1"},"search":{"mode":"match"}},
                     {"fullUrl":"urn:uuid:abc","resource":{"resourceType":"Patient"},"search":{"mode":"include"}}]}"#;

        let collection = read_message(bundle, "application/json").unwrap();

        assert_eq!(
            collection.next_link.as_deref(),
            Some("https://x.test/fhir/Task?page=2")
        );
        assert!(collection.find("https://x.test/fhir/Task/1").is_some());
        assert!(collection.find("Task/1/_history/2").is_some());
        assert!(collection.find("urn:uuid:abc").is_some());
        assert_eq!(collection.entries[1].role, Role::Context);
    }

    #[test]
    fn ndjson_lines_are_located() {
        let text = b"{\"resourceType\":\"Task\",\"id\":\"1\"}\n\n{\"resourceType\":\"Task\",\"id\":\"2\"}\nnot json\n";

        let collection = read_message(text, "application/fhir+ndjson").unwrap();

        let locations: Vec<&str> = collection
            .entries
            .iter()
            .map(|e| e.location.as_str())
            .collect();
        assert_eq!(locations, ["line 1 Task/1", "line 3 Task/2", "line 4"]);
        assert!(collection.entries[2].resource.is_err());
    }

    #[test]
    fn ndjson_is_recognized_under_generic_media_type() {
        let text =
            b"{\"resourceType\":\"Task\",\"id\":\"1\"}\n{\"resourceType\":\"Task\",\"id\":\"2\"}\n";

        let collection = read_message(text, "application/octet-stream").unwrap();

        assert_eq!(collection.entries.len(), 2);
        assert!(read_message(text, "application/fhir+json").is_err());
    }

    #[test]
    fn truncated_json_is_malformed() {
        let error =
            read_message(br#"{"resourceType":"Task","id":"#, "application/fhir+json").unwrap_err();

        assert!(
            matches!(error, ConnectorError::Malformed(ref m) if m.contains("not valid JSON")),
            "{error}"
        );
    }

    #[test]
    fn xml_is_unsupported() {
        let error = read_message(b"<Patient/>", "application/fhir+xml; charset=utf-8").unwrap_err();

        assert!(matches!(error, ConnectorError::Unsupported(_)));
    }

    #[test]
    fn all_bad_lines_are_malformed() {
        let error = read_message(b"nope\nalso nope\n", "application/fhir+ndjson").unwrap_err();

        assert!(
            matches!(error, ConnectorError::Malformed(ref m) if m.contains("line 1")),
            "{error}"
        );
    }

    #[test]
    fn parameters_notification_promotes_focus() {
        let bundle = br#"{"resourceType":"Bundle","type":"history","entry":[
            {"fullUrl":"urn:uuid:s","resource":{"resourceType":"Parameters","parameter":[
                {"name":"type","valueCode":"event-notification"},
                {"name":"notification-event","part":[{"name":"event-number","valueString":"1"},{"name":"focus","valueReference":{"reference":"https://x.test/fhir/Task/9"}}]}]}},
            {"fullUrl":"https://x.test/fhir/Task/9","resource":{"resourceType":"Task","id":"9"}},
            {"fullUrl":"https://x.test/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p"}}]}"#;

        let collection = read_message(bundle, "application/fhir+json").unwrap();

        let notification = collection.notification.as_ref().unwrap();
        assert_eq!(
            notification.events[0].reference.as_deref(),
            Some("https://x.test/fhir/Task/9")
        );
        let roles: Vec<Role> = collection.entries.iter().map(|e| e.role).collect();
        assert_eq!(roles, [Role::Context, Role::Primary, Role::Context]);
    }
}
