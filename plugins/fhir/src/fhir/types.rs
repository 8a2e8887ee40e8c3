//! FHIR R4 data types, reduced to the elements the connector reads.
//!
//! Every struct takes `#[serde(default)]` so that absent elements become
//! `None` or empty lists. Unknown elements are ignored: servers add
//! extensions and newer elements freely, and the connector only needs a few.

use serde::Deserialize;

/// `Resource.meta`: the server's version bookkeeping.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    /// Server-assigned version id; numeric on most servers.
    pub version_id: Option<String>,
    /// When the server last changed the resource (an `instant`).
    pub last_updated: Option<String>,
}

/// A `Reference`: literal (`reference`), logical (`identifier`) or both.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reference {
    /// `Type/id`, an absolute URL, `urn:uuid:…`, `#contained-id` or a
    /// conditional reference such as `Practitioner?identifier=…`.
    pub reference: Option<String>,
    /// Business identifier of the target, for logical references.
    pub identifier: Option<Identifier>,
    /// Text for the target. Only read for practitioners.
    pub display: Option<String>,
}

/// An `Identifier`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Identifier {
    /// Namespace URI, such as `http://hl7.org/fhir/sid/us-npi`.
    pub system: Option<String>,
    /// The identifier within that namespace.
    pub value: Option<String>,
}

/// A `Coding`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Coding {
    /// Code system URI.
    pub system: Option<String>,
    /// Code within the system.
    pub code: Option<String>,
    /// Text for the code.
    pub display: Option<String>,
}

/// A `CodeableConcept`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeableConcept {
    /// Codes from one or more systems.
    pub coding: Vec<Coding>,
    /// Text as the user entered or saw it.
    pub text: Option<String>,
}

impl CodeableConcept {
    /// Returns a short label: the text, else the first display, else the first code.
    pub fn label(&self) -> Option<&str> {
        let display = self
            .coding
            .iter()
            .find_map(|c| non_empty(c.display.as_deref()));
        let code = self
            .coding
            .iter()
            .find_map(|c| non_empty(c.code.as_deref()));
        non_empty(self.text.as_deref()).or(display).or(code)
    }

    /// Returns the first code, in any system.
    pub fn first_code(&self) -> Option<&str> {
        self.coding
            .iter()
            .find_map(|c| non_empty(c.code.as_deref()))
    }

    /// Returns the first code whose system is `system`.
    pub fn code_in(&self, system: &str) -> Option<&str> {
        self.coding
            .iter()
            .filter(|c| c.system.as_deref() == Some(system))
            .find_map(|c| non_empty(c.code.as_deref()))
    }

    /// True when any coding carries `code`, whatever its system.
    pub fn has_code(&self, code: &str) -> bool {
        self.coding.iter().any(|c| c.code.as_deref() == Some(code))
    }
}

/// A `Period`; both ends are FHIR `dateTime` text.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Period {
    /// Start, inclusive.
    pub start: Option<String>,
    /// End, inclusive; absent while ongoing.
    pub end: Option<String>,
}

/// A `Quantity` (also used for `SimpleQuantity`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Quantity {
    /// Numeric value.
    pub value: Option<f64>,
    /// Unit as displayed.
    pub unit: Option<String>,
    /// Coded unit (UCUM when `system` is `http://unitsofmeasure.org`).
    pub code: Option<String>,
}

impl Quantity {
    /// Returns the unit used to compare quantities: the coded unit, else the
    /// display unit.
    pub fn unit_key(&self) -> Option<&str> {
        non_empty(self.code.as_deref()).or(non_empty(self.unit.as_deref()))
    }
}

/// An `Extension`, with the value types the connector checks.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Extension {
    /// Canonical URL that defines the extension.
    pub url: String,
    /// Set for boolean extensions.
    pub value_boolean: Option<bool>,
}

/// A `HumanName`, read for practitioners only.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HumanName {
    /// The full name as text.
    pub text: Option<String>,
    /// Family name.
    pub family: Option<String>,
    /// Given names.
    pub given: Vec<String>,
    /// Titles before the name, such as `Dr`.
    pub prefix: Vec<String>,
    /// Titles after the name, such as `MD`.
    pub suffix: Vec<String>,
}

impl HumanName {
    /// Returns the name as one line: `text`, else prefix, given, family and suffix.
    pub fn display(&self) -> Option<String> {
        if let Some(text) = non_empty(self.text.as_deref()) {
            return Some(text.to_string());
        }
        let parts: Vec<&str> = self
            .prefix
            .iter()
            .chain(self.given.iter())
            .map(String::as_str)
            .chain(self.family.as_deref())
            .chain(self.suffix.iter().map(String::as_str))
            .filter(|p| !p.trim().is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(" "))
        }
    }
}

/// `Some(text)` unless `text` is absent or blank.
pub fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_prefers_text_then_display_then_code() {
        let coded: CodeableConcept =
            serde_json::from_str(r#"{"coding":[{"code":"X1"},{"code":"X2","display":"Shown"}]}"#)
                .unwrap();
        let texted: CodeableConcept =
            serde_json::from_str(r#"{"coding":[{"code":"X1","display":"Shown"}],"text":"Typed"}"#)
                .unwrap();
        let bare: CodeableConcept = serde_json::from_str(r#"{"coding":[{"code":"X1"}]}"#).unwrap();

        assert_eq!(coded.label(), Some("Shown"));
        assert_eq!(texted.label(), Some("Typed"));
        assert_eq!(bare.label(), Some("X1"));
    }

    #[test]
    fn name_joins_parts_in_order() {
        let name: HumanName =
            serde_json::from_str(r#"{"family":"Careful","given":["Adam"],"prefix":["Dr"]}"#)
                .unwrap();

        assert_eq!(name.display().as_deref(), Some("Dr Adam Careful"));
    }
}
