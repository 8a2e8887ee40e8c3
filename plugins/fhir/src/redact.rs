//! Descriptions of input values for rejects, errors and log lines that leave
//! out anything that could be patient data.
//!
//! A reject names where the problem is (an entry, a line, an element path)
//! and what was expected. It may show a resource's `Type/id` and a code from
//! a fixed FHIR vocabulary, but never the text of an element, a request URL
//! with its search parameters, or a value serde_json quotes in its errors.

use crate::refs;

/// Describes a value that a message must not quote by its length only:
/// `found N characters`.
pub fn found(value: &str) -> String {
    format!("found {} characters", value.chars().count())
}

/// `value` when it belongs to `vocabulary`, else [`found`]. For codes whose
/// valid values cannot be patient data, such as a request intent.
pub fn code(value: &str, vocabulary: &[&str]) -> String {
    if vocabulary.contains(&value) {
        value.to_string()
    } else {
        format!("a code outside the value set ({})", found(value))
    }
}

/// Describes serde_json's error without the JSON value it may quote.
///
/// Syntax, end-of-input and I/O errors name only a position, so they are
/// kept. A data error (wrong JSON type, unknown enum variant) quotes the
/// value it met: `invalid type: string "…", expected a sequence`. That
/// value is dropped and the kind of value and the expectation are kept.
pub fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if error.classify() != serde_json::error::Category::Data {
        return text;
    }
    let position = text
        .rfind(" at line ")
        .map_or(String::new(), |at| text[at..].to_string());
    let expected = text
        .rfind(", expected ")
        .map(|at| &text[at + 2..text.len() - position.len()]);

    let problem = if let Some(rest) = text.strip_prefix("invalid type: ") {
        format!("wrong JSON type: found {}", value_kind(rest))
    } else if text.starts_with("invalid value: ") {
        "invalid value".to_string()
    } else if text.starts_with("unknown variant ") {
        "unknown code".to_string()
    } else if text.starts_with("unknown field ") {
        "unknown element".to_string()
    } else if text.starts_with("missing field ")
        || text.starts_with("duplicate field ")
        || text.starts_with("invalid length ")
    {
        // These quote an element name from the connector's own schema or a
        // count, never a value.
        return text;
    } else {
        "invalid value".to_string()
    };
    match expected {
        Some(expected) => format!("{problem}, {expected}{position}"),
        None => format!("{problem}{position}"),
    }
}

/// Returns the kind of value in serde's `invalid type: …` text (`string`,
/// `integer`, `map`), without the quoted value that follows the kind.
fn value_kind(rest: &str) -> &str {
    let end = rest.find(['"', '`', ',']).unwrap_or(rest.len());
    let kind = rest[..end].trim();
    if kind.is_empty() { "a value" } else { kind }
}

/// HTTP methods of `Bundle.entry.request.method`.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// Describes a Bundle entry's request (`GET Patient search`,
/// `DELETE Task/7`) without its search parameters, which may hold a
/// patient's name or birth date.
pub fn request(method: Option<&str>, url: Option<&str>) -> String {
    let method = match method {
        Some(method) if METHODS.contains(&method) => method.to_string(),
        Some(_) => "a request whose method is not an HTTP method".to_string(),
        None => "a request without a method".to_string(),
    };
    match url.map(target) {
        Some(target) => format!("{method} of {target}"),
        None => method,
    }
}

/// Resource types a message may name besides those the connector maps.
const OTHER_KNOWN_TYPES: &[&str] = &[
    "Patient",
    "Organization",
    "Location",
    "Medication",
    "Bundle",
    "OperationOutcome",
    "Parameters",
    "Subscription",
    "SubscriptionStatus",
    "Coverage",
    "Condition",
    "AllergyIntolerance",
    "Immunization",
    "Procedure",
    "CarePlan",
    "Binary",
];

/// True for a resource type this connector maps or commonly meets. Text
/// that merely has the shape of a type (a capitalized word, which a
/// family name also is) does not count, so it is never quoted.
pub fn is_known_type(text: &str) -> bool {
    crate::vendor::MAPPED_TYPES.contains(&text) || OTHER_KNOWN_TYPES.contains(&text)
}

/// `Type/id` of a literal reference whose type is known, for a location.
pub fn known_key(reference: &str) -> Option<String> {
    let (resource_type, id) = refs::type_and_id(reference)?;
    is_known_type(resource_type).then(|| format!("{resource_type}/{id}"))
}

/// Describes a reference or request URL by what it points to: `Task/7`,
/// `a Patient search`, or only its length when it names no known resource
/// type.
pub fn target(url: &str) -> String {
    if let Some(key) = known_key(url) {
        return key;
    }
    let path = url.split('?').next().unwrap_or_default();
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or_default();
    match (is_known_type(last), url.contains('?')) {
        (true, true) => format!("a {last} search"),
        (true, false) => format!("the {last} type"),
        (false, _) => format!(
            "a URL that names no resource type the connector knows ({})",
            found(url)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_error(json: &str) -> serde_json::Error {
        serde_json::from_str::<Vec<String>>(json).unwrap_err()
    }

    #[test]
    fn wrong_type_drops_the_value() {
        let text = json_error(&data_error(r#""ZZTESTNAME 1974-12-25""#));

        assert_eq!(
            text,
            "wrong JSON type: found string, expected a sequence at line 1 column 23"
        );
    }

    #[test]
    fn wrong_number_drops_the_value() {
        let text = json_error(&data_error("19741225"));

        assert_eq!(
            text,
            "wrong JSON type: found integer, expected a sequence at line 1 column 8"
        );
    }

    #[test]
    fn syntax_error_is_kept() {
        let error = serde_json::from_str::<Vec<String>>("[\"a\",").unwrap_err();

        assert_eq!(json_error(&error), error.to_string());
    }

    #[test]
    fn search_request_drops_parameters() {
        let text = request(
            Some("GET"),
            Some("Patient?family=ZZTESTNAME&birthdate=1974-12-25"),
        );

        assert_eq!(text, "GET of a Patient search");
    }

    #[test]
    fn read_request_keeps_the_id() {
        assert_eq!(request(Some("DELETE"), Some("Task/7")), "DELETE of Task/7");
    }

    #[test]
    fn odd_method_is_not_quoted() {
        assert_eq!(
            request(Some("ZZTESTNAME"), None),
            "a request whose method is not an HTTP method"
        );
    }

    #[test]
    fn text_without_type_gives_length() {
        assert_eq!(
            target("Zztestname/19741225"),
            "a URL that names no resource type the connector knows (found 19 characters)"
        );
    }
}
