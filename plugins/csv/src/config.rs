//! The connector's configuration: which column contains which field, and how values
//! map to categories, flags, priorities and states. See the crate
//! documentation for an example.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::format::{Item, StrftimeItems};
use serde::Deserialize;
use switchboard_sdk::{Category, ConfigError, EhrState, Priority, ResultFlag, line_column};
use toml::Spanned;

/// Reading of times without a UTC offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalTimes {
    /// In the site's time zone (the default).
    #[default]
    Site,
    /// As UTC.
    Utc,
}

/// The text encoding of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    /// UTF-8 (the default); a row that is not valid UTF-8 is rejected.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// ISO 8859-1, as older Windows exports write.
    #[serde(rename = "latin-1")]
    Latin1,
}

/// The columns holding each item field, by header name. Only
/// `external_id` is required.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The EHR's id of the work, stable across exports.
    pub external_id: Spanned<String>,
    /// A whole number that grows with each change of the row.
    pub version: Option<Spanned<String>>,
    /// When the row last changed; its time in milliseconds is the version
    /// when there is no `version` column.
    pub updated: Option<Spanned<String>>,
    /// The kind of work, mapped through `[categories]`.
    pub category: Option<Spanned<String>>,
    /// A result's interpretation, mapped through `[flags]`.
    pub flag: Option<Spanned<String>>,
    /// Mapped through `[priorities]`.
    pub priority: Option<Spanned<String>>,
    /// Whether the work is still open, mapped through `[states]`.
    pub state: Option<Spanned<String>>,
    /// A short label such as a form or test name.
    pub title: Option<Spanned<String>>,
    /// The EHR's patient reference.
    pub patient: Option<Spanned<String>>,
    /// The EHR's encounter reference.
    pub encounter: Option<Spanned<String>>,
    /// The ordering provider's EHR reference.
    pub ordering: Option<Spanned<String>>,
    /// The rendering clinician's EHR reference.
    pub rendering: Option<Spanned<String>>,
    /// The primary-care provider's EHR reference.
    pub pcp: Option<Spanned<String>>,
    /// When the work appeared; each row must have it when configured.
    pub created: Option<Spanned<String>>,
    /// When the work is due.
    pub due: Option<Spanned<String>>,
}

/// Extra columns copied to attributes: a list of column names (each used as
/// its own attribute key) or a table of `key = "Column"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum RawAttributes {
    Columns(Vec<String>),
    Keyed(HashMap<String, String>),
}

impl Default for RawAttributes {
    fn default() -> Self {
        RawAttributes::Columns(Vec::new())
    }
}

/// The configuration as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "default_delimiter")]
    delimiter: Spanned<String>,
    #[serde(default)]
    encoding: Encoding,
    #[serde(default)]
    date_formats: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    local_times: LocalTimes,
    #[serde(default)]
    default_category: Option<Spanned<String>>,
    columns: Columns,
    #[serde(default)]
    categories: HashMap<String, Spanned<String>>,
    #[serde(default)]
    flags: HashMap<String, Spanned<String>>,
    #[serde(default)]
    priorities: HashMap<String, Spanned<String>>,
    #[serde(default)]
    states: HashMap<String, Spanned<String>>,
    #[serde(default)]
    attributes: RawAttributes,
}

fn default_delimiter() -> Spanned<String> {
    Spanned::new(0..0, ",".to_string())
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The field delimiter byte.
    pub delimiter: u8,
    /// The file's text encoding.
    pub encoding: Encoding,
    /// strftime formats tried in order for every date column; `rfc3339` is
    /// also accepted as a name.
    pub date_formats: Vec<String>,
    /// Reading of times without an offset.
    pub local_times: LocalTimes,
    /// Category of a row whose category is empty or when no column is set.
    pub default_category: Option<Category>,
    /// The column of each item field.
    pub columns: Columns,
    /// Lower-cased, trimmed value to category.
    pub categories: HashMap<String, Category>,
    /// Lower-cased, trimmed value to flag.
    pub flags: HashMap<String, ResultFlag>,
    /// Lower-cased, trimmed value to priority.
    pub priorities: HashMap<String, Priority>,
    /// Lower-cased, trimmed value to state.
    pub states: HashMap<String, EhrState>,
    /// Attribute key and column name, in a stable order.
    pub attributes: Vec<(String, String)>,
}

/// Date formats tried when the config names none: RFC 3339, then ISO dates
/// with and without a time.
const DEFAULT_DATE_FORMATS: [&str; 4] =
    ["rfc3339", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"];

impl Settings {
    /// Parses and validates the config text.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] with the line and column of the offending TOML, for
    /// syntax errors, unknown keys, a missing `[columns]` table or
    /// `columns.external_id`, and invalid values.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text))?;
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            ConfigError {
                message,
                line: Some(line),
                column: Some(column),
            }
        };

        let delimiter = match raw.delimiter.get_ref().as_bytes() {
            [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\r' | b'\n') => *byte,
            _ => {
                return Err(at(
                    raw.delimiter.span(),
                    format!(
                        "delimiter {:?} must be one ASCII character other than a quote or line break, such as \",\", \";\" or \"\\t\"",
                        raw.delimiter.get_ref()
                    ),
                ));
            }
        };
        let date_formats = match raw.date_formats {
            None => DEFAULT_DATE_FORMATS.iter().map(|f| f.to_string()).collect(),
            Some(formats) => formats
                .iter()
                .map(|f| check_date_format(f).map_err(|m| at(f.span(), m)))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let default_category = raw
            .default_category
            .as_ref()
            .map(|c| parse_value::<Category>(c.get_ref(), "category").map_err(|m| at(c.span(), m)))
            .transpose()?;
        if raw.columns.category.is_none() && default_category.is_none() {
            return Err(ConfigError::new(
                "set columns.category, default_category or both, so every row has a category",
            ));
        }

        Ok(Settings {
            delimiter,
            encoding: raw.encoding,
            date_formats,
            local_times: raw.local_times,
            default_category,
            columns: raw.columns,
            categories: value_map(&raw.categories, "categories", "category")
                .map_err(|(span, m)| at(span, m))?,
            flags: value_map(&raw.flags, "flags", "flag").map_err(|(span, m)| at(span, m))?,
            priorities: value_map(&raw.priorities, "priorities", "priority")
                .map_err(|(span, m)| at(span, m))?,
            states: value_map(&raw.states, "states", "state").map_err(|(span, m)| at(span, m))?,
            attributes: attributes(raw.attributes),
        })
    }
}

/// Parses a value written as its WIT name, such as `refill` or `stat`.
fn parse_value<T: FromStr<Err = String>>(text: &str, what: &str) -> Result<T, String> {
    text.trim()
        .parse::<T>()
        .map_err(|e| format!("invalid {what}: {e}"))
}

/// Builds a lower-cased value map, naming the entry of a bad value.
fn value_map<T: FromStr<Err = String>>(
    raw: &HashMap<String, Spanned<String>>,
    table: &str,
    what: &str,
) -> Result<HashMap<String, T>, (std::ops::Range<usize>, String)> {
    raw.iter()
        .map(|(key, value)| {
            let parsed = parse_value::<T>(value.get_ref(), what)
                .map_err(|m| (value.span(), format!("{table}.{key:?}: {m}")))?;
            Ok((key.trim().to_lowercase(), parsed))
        })
        .collect()
}

/// Checks a strftime format, allowing the name `rfc3339`.
fn check_date_format(format: &Spanned<String>) -> Result<String, String> {
    let text = format.get_ref();
    if text == "rfc3339" {
        return Ok(text.clone());
    }
    if text.is_empty() || StrftimeItems::new(text).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "date format {text:?} is not a valid strftime format; write one such as \"%m/%d/%Y %H:%M\", or \"rfc3339\""
        ));
    }
    Ok(text.clone())
}

fn attributes(raw: RawAttributes) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = match raw {
        RawAttributes::Columns(columns) => columns.into_iter().map(|c| (c.clone(), c)).collect(),
        RawAttributes::Keyed(map) => map.into_iter().collect(),
    };
    pairs.sort();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "default_category = \"other\"\n[columns]\nexternal_id = \"Task ID\"\n";

    #[test]
    fn minimal_config_has_defaults() {
        let settings = Settings::parse(MINIMAL).unwrap();

        assert_eq!(settings.delimiter, b',');
        assert_eq!(settings.date_formats.len(), 4);
        assert_eq!(settings.columns.external_id.get_ref(), "Task ID");
        assert!(settings.attributes.is_empty());
    }

    #[test]
    fn external_id_column_is_required() {
        let error =
            Settings::parse("default_category = \"other\"\n[columns]\ntitle = \"Subject\"\n")
                .unwrap_err();

        assert!(error.message.contains("external_id"), "{error}");
    }

    #[test]
    fn category_source_is_required() {
        let error = Settings::parse("[columns]\nexternal_id = \"Task ID\"\n").unwrap_err();

        assert!(error.message.contains("default_category"), "{error}");
    }

    #[test]
    fn value_maps_are_case_insensitive() {
        let settings = Settings::parse(&format!(
            "{MINIMAL}[categories]\n\"Rx Renewal\" = \"refill\"\n[priorities]\nSTAT = \"stat\"\n"
        ))
        .unwrap();

        assert_eq!(
            settings.categories.get("rx renewal"),
            Some(&Category::Refill)
        );
        assert_eq!(settings.priorities.get("stat"), Some(&Priority::Stat));
    }

    #[test]
    fn bad_category_value_has_position() {
        let error =
            Settings::parse(&format!("{MINIMAL}[categories]\nRx = \"renewal\"\n")).unwrap_err();

        assert_eq!((error.line, error.column), (Some(5), Some(6)));
        assert!(error.message.contains("renewal"), "{error}");
    }

    #[test]
    fn tab_delimiter_is_accepted() {
        let settings = Settings::parse(&format!("delimiter = \"\\t\"\n{MINIMAL}")).unwrap();

        assert_eq!(settings.delimiter, b'\t');
    }

    #[test]
    fn long_delimiter_is_rejected() {
        let error = Settings::parse(&format!("delimiter = \";;\"\n{MINIMAL}")).unwrap_err();

        assert_eq!((error.line, error.column), (Some(1), Some(13)));
    }

    #[test]
    fn invalid_date_format_is_rejected() {
        let error = Settings::parse(&format!("date_formats = [\"%m/%d/%Y\", \"%Q\"]\n{MINIMAL}"))
            .unwrap_err();

        assert!(error.message.contains("%Q"), "{error}");
    }

    #[test]
    fn attribute_list_and_table_forms() {
        let listed =
            Settings::parse(&format!("attributes = [\"Dept\", \"Clinic\"]\n{MINIMAL}")).unwrap();
        let keyed =
            Settings::parse(&format!("{MINIMAL}[attributes]\ndepartment = \"Dept\"\n")).unwrap();

        assert_eq!(
            listed.attributes,
            [
                ("Clinic".to_string(), "Clinic".to_string()),
                ("Dept".to_string(), "Dept".to_string())
            ]
        );
        assert_eq!(
            keyed.attributes,
            [("department".to_string(), "Dept".to_string())]
        );
    }
}
