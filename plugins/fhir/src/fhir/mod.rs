//! Typed FHIR R4 resources and the parser that reads them from JSON.
//!
//! Parsing happens in two steps. A small header (`resourceType`, `id`,
//! `meta`, `contained`) is read first; the body is then read into the struct
//! for that type. Both steps report a failure with the path of the element at
//! fault, such as `MedicationRequest.category[0].coding`, so that a reject
//! names the field an EHR administrator has to look at.

pub mod resources;
pub mod types;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use self::resources::*;
use self::types::Meta;

/// A resource body, typed for the resource types the connector maps.
#[derive(Clone, Debug)]
pub enum Resource {
    MedicationRequest(MedicationRequest),
    Medication(Medication),
    DiagnosticReport(DiagnosticReport),
    Observation(Observation),
    ServiceRequest(ServiceRequest),
    Task(Task),
    Encounter(Encounter),
    Composition(Composition),
    DocumentReference(DocumentReference),
    Claim(Claim),
    Appointment(Appointment),
    Practitioner(Practitioner),
    PractitionerRole(PractitionerRole),
    QuestionnaireResponse(QuestionnaireResponse),
    OperationOutcome(OperationOutcome),
    Parameters(Parameters),
    SubscriptionStatus(SubscriptionStatus),
    /// Any other type; only its header was read.
    Other,
}

/// A parsed resource: its header and typed body.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// `resourceType`, such as `DiagnosticReport`.
    pub resource_type: String,
    /// Logical id; absent in resources a client is about to create.
    pub id: Option<String>,
    pub meta: Meta,
    /// Contained resources, kept as JSON and parsed when a `#id` reference
    /// names one.
    pub contained: Vec<Box<RawValue>>,
    pub body: Resource,
}

impl Parsed {
    /// `Type/id`, when the resource has an id.
    pub fn key(&self) -> Option<String> {
        self.id
            .as_deref()
            .map(|id| format!("{}/{id}", self.resource_type))
    }

    /// `Type/id`, or the type alone for a resource without an id, for messages.
    pub fn label(&self) -> String {
        self.key().unwrap_or_else(|| self.resource_type.clone())
    }

    /// Parses the contained resource whose id is `local_id` (without `#`).
    pub fn contained_resource(&self, local_id: &str) -> Option<Parsed> {
        self.contained.iter().find_map(|raw| {
            let header: Header = serde_json::from_str(raw.get()).ok()?;
            if header.id.as_deref() != Some(local_id) {
                return None;
            }
            parse_resource(raw.get()).ok()
        })
    }
}

/// The reason a resource could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParseError {
    /// Dotted path of the element at fault, starting with the resource type.
    pub field: String,
    /// The problem with that element.
    pub message: String,
    /// `Type/id` of the resource, when its header could still be read.
    pub key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    resource_type: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    meta: Meta,
    #[serde(default)]
    contained: Vec<Box<RawValue>>,
}

/// Parses one resource from its JSON text.
///
/// # Errors
///
/// [`ParseError`] naming the element when the text is not a JSON object with
/// a `resourceType`, or when an element the connector reads has the wrong
/// JSON type.
pub fn parse_resource(json: &str) -> Result<Parsed, ParseError> {
    let header: Header = read_typed(json, "resource").map_err(|error| name_root(json, error))?;
    let Some(resource_type) = header.resource_type.filter(|t| !t.is_empty()) else {
        return Err(ParseError {
            field: "resourceType".to_string(),
            message: "missing; every FHIR resource names its type in resourceType".to_string(),
            key: None,
        });
    };

    let body = parse_body(&resource_type, json).map_err(|mut error| {
        error.key = header
            .id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|id| format!("{resource_type}/{id}"));
        error
    })?;
    Ok(Parsed {
        resource_type,
        id: header.id.filter(|id| !id.is_empty()),
        meta: header.meta,
        contained: header.contained,
        body,
    })
}

fn parse_body(resource_type: &str, json: &str) -> Result<Resource, ParseError> {
    let body = match resource_type {
        "MedicationRequest" => Resource::MedicationRequest(read_typed(json, resource_type)?),
        "Medication" => Resource::Medication(read_typed(json, resource_type)?),
        "DiagnosticReport" => Resource::DiagnosticReport(read_typed(json, resource_type)?),
        "Observation" => Resource::Observation(read_typed(json, resource_type)?),
        "ServiceRequest" => Resource::ServiceRequest(read_typed(json, resource_type)?),
        "Task" => Resource::Task(read_typed(json, resource_type)?),
        "Encounter" => Resource::Encounter(read_typed(json, resource_type)?),
        "Composition" => Resource::Composition(read_typed(json, resource_type)?),
        "DocumentReference" => Resource::DocumentReference(read_typed(json, resource_type)?),
        "Claim" => Resource::Claim(read_typed(json, resource_type)?),
        "Appointment" => Resource::Appointment(read_typed(json, resource_type)?),
        "Practitioner" => Resource::Practitioner(read_typed(json, resource_type)?),
        "PractitionerRole" => Resource::PractitionerRole(read_typed(json, resource_type)?),
        "QuestionnaireResponse" => {
            Resource::QuestionnaireResponse(read_typed(json, resource_type)?)
        }
        "OperationOutcome" => Resource::OperationOutcome(read_typed(json, resource_type)?),
        "Parameters" => Resource::Parameters(read_typed(json, resource_type)?),
        "SubscriptionStatus" => Resource::SubscriptionStatus(read_typed(json, resource_type)?),
        _ => Resource::Other,
    };
    Ok(body)
}

/// Replaces the placeholder root `resource` in a header error with the
/// resource type, when the text still names one.
fn name_root(json: &str, mut error: ParseError) -> ParseError {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TypeOnly {
        resource_type: String,
    }

    if let Ok(only) = serde_json::from_str::<TypeOnly>(json)
        && let Some(rest) = error.field.strip_prefix("resource")
    {
        error.field = format!("{}{rest}", only.resource_type);
    }
    error
}

/// Reads `json` into `T`, naming the failing element as `{root}.{path}`.
///
/// The path is tracked only after a plain parse has failed, because tracking
/// it costs about as much as the parse itself.
fn read_typed<T: DeserializeOwned>(json: &str, root: &str) -> Result<T, ParseError> {
    if let Ok(value) = serde_json::from_str(json) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            root.to_string()
        } else {
            format!("{root}.{path}")
        };
        ParseError {
            field,
            message: without_position(&crate::redact::json_error(error.inner())),
            key: None,
        }
    })
}

/// Drops serde_json's ` at line L column C` suffix, which points into one
/// resource's text rather than into the message the host received.
fn without_position(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((head, _)) => head.to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_body() {
        let parsed = parse_resource(
            r#"{"resourceType":"Task","id":"t1","meta":{"versionId":"4"},"status":"requested"}"#,
        )
        .unwrap();

        assert_eq!(parsed.key().as_deref(), Some("Task/t1"));
        assert_eq!(parsed.meta.version_id.as_deref(), Some("4"));
        assert!(
            matches!(parsed.body, Resource::Task(ref t) if t.status.as_deref() == Some("requested"))
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        let error = parse_resource(
            r#"{"resourceType":"MedicationRequest","id":"m","category":{"coding":[]}}"#,
        )
        .unwrap_err();

        assert_eq!(error.field, "MedicationRequest.category");
        assert_eq!(
            error.message,
            "wrong JSON type: found map, expected a sequence"
        );
    }

    #[test]
    fn missing_resource_type_is_named() {
        let error = parse_resource(r#"{"id":"x"}"#).unwrap_err();

        assert_eq!(error.field, "resourceType");
    }

    #[test]
    fn unknown_type_keeps_header_only() {
        let parsed =
            parse_resource(r#"{"resourceType":"Condition","id":"c1","code":{"text":"x"}}"#)
                .unwrap();

        assert!(matches!(parsed.body, Resource::Other));
        assert_eq!(parsed.label(), "Condition/c1");
    }

    #[test]
    fn contained_resource_is_found_by_local_id() {
        let parsed = parse_resource(
            r##"{"resourceType":"MedicationRequest","id":"m","contained":[{"resourceType":"Medication","id":"med1","code":{"text":"Amoxicillin"}}],"medicationReference":{"reference":"#med1"}}"##,
        )
        .unwrap();

        let medication = parsed.contained_resource("med1").unwrap();

        assert!(
            matches!(medication.body, Resource::Medication(ref m) if m.code.as_ref().and_then(|c| c.label()) == Some("Amoxicillin"))
        );
        assert!(parsed.contained_resource("other").is_none());
    }
}
