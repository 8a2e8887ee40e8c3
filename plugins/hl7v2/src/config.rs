//! The connector's configuration: TOML from the site file, empty for the
//! defaults. See the crate documentation for every key.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use switchboard_sdk::{ConfigError, ResultFlag, line_column};
use toml::Spanned;

use crate::map::HANDLED_TYPES;
use crate::time::LocalTimes;

/// Form of a provider reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderIds {
    /// The id alone (XCN-1), such as `1234567893`: what a roster's `ehr_ids`
    /// usually lists.
    #[default]
    Id,
    /// `authority|id` when XCN-9 names an assigning authority, for feeds that
    /// mix providers from several id systems.
    Qualified,
}

/// Handling of an OBX-8 code that the flag table does not list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnmappedFlag {
    /// Read it as `unknown` (the default).
    #[default]
    Unknown,
    /// Reject the message, naming OBX-8, so a new code is noticed.
    Reject,
}

/// A field that may hold an appointment's visit type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindField {
    /// SCH-7, appointment reason.
    Sch7,
    /// SCH-8, appointment type.
    Sch8,
    /// AIS-3, universal service identifier of the first AIS.
    Ais3,
}

impl KindField {
    const ALL: [(&'static str, KindField); 3] = [
        ("SCH-7", KindField::Sch7),
        ("SCH-8", KindField::Sch8),
        ("AIS-3", KindField::Ais3),
    ];
}

/// A message type pattern such as `ORU^R01` or `ADT^*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypePattern {
    code: String,
    /// `None` matches every trigger event.
    trigger: Option<String>,
}

impl TypePattern {
    fn parse(text: &str) -> Result<Self, String> {
        let (code, trigger) = text.split_once('^').ok_or_else(|| format!("{text:?} is not a message type; write CODE^TRIGGER such as ORU^R01, or ADT^* for every trigger"))?;
        let is_id = |s: &str| {
            s.len() == 3
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        if !is_id(code) || !(trigger == "*" || is_id(trigger)) {
            return Err(format!(
                "{text:?} is not a message type; write CODE^TRIGGER such as ORU^R01, or ADT^* for every trigger"
            ));
        }
        Ok(TypePattern {
            code: code.to_string(),
            trigger: (trigger != "*").then(|| trigger.to_string()),
        })
    }

    /// Whether the pattern covers `code^trigger`.
    pub fn matches(&self, code: &str, trigger: &str) -> bool {
        self.code == code && self.trigger.as_deref().is_none_or(|t| t == trigger)
    }
}

impl fmt::Display for TypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}^{}",
            self.code,
            self.trigger.as_deref().unwrap_or("*")
        )
    }
}

/// The configuration as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    accept: Option<Vec<Spanned<String>>>,
    ignore: Vec<Spanned<String>>,
    ignore_processing_ids: Vec<String>,
    replace_default_flags: bool,
    unmapped_flag: UnmappedFlag,
    flags: HashMap<String, Spanned<String>>,
    provider_ids: ProviderIds,
    local_times: LocalTimes,
    referral_order_codes: Vec<String>,
    referral_order_words: Option<Vec<String>>,
    note_types: Vec<String>,
    appointment_kind: Option<Vec<Spanned<String>>>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Message types to map; `None` maps every handled type.
    pub accept: Option<Vec<TypePattern>>,
    /// Message types to drop without a reject.
    pub ignore: Vec<TypePattern>,
    /// MSH-11 processing ids (such as `T` for training) whose messages are
    /// dropped without a reject.
    pub ignore_processing_ids: Vec<String>,
    /// OBX-8 code to flag; the key `""` covers a missing OBX-8.
    pub flags: HashMap<String, ResultFlag>,
    /// Handling of an OBX-8 code outside `flags`.
    pub unmapped_flag: UnmappedFlag,
    /// Form of provider references.
    pub provider_ids: ProviderIds,
    /// Reading of times without a UTC offset.
    pub local_times: LocalTimes,
    /// OBR-4 codes of orders that are referrals.
    pub referral_order_codes: Vec<String>,
    /// Words (lower case) whose presence in the OBR-4 text makes an order a
    /// referral.
    pub referral_order_words: Vec<String>,
    /// TXA-2 document types mapped as visit notes; empty maps every type.
    pub note_types: Vec<String>,
    /// Fields read, in order, for an appointment's visit type.
    pub appointment_kind: Vec<KindField>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            accept: None,
            ignore: Vec::new(),
            ignore_processing_ids: Vec::new(),
            flags: default_flags(),
            unmapped_flag: UnmappedFlag::Unknown,
            provider_ids: ProviderIds::Id,
            local_times: LocalTimes::Site,
            referral_order_codes: Vec::new(),
            referral_order_words: vec!["referral".to_string()],
            note_types: Vec::new(),
            appointment_kind: vec![KindField::Sch7, KindField::Ais3, KindField::Sch8],
        }
    }
}

/// HL7 table 0078 defaults: N normal; H, L, A, >, < abnormal; HH, LL, AA
/// critical. Every other code, and a missing flag, reads as unknown.
fn default_flags() -> HashMap<String, ResultFlag> {
    let table = [
        ("N", ResultFlag::Normal),
        ("H", ResultFlag::Abnormal),
        ("L", ResultFlag::Abnormal),
        ("A", ResultFlag::Abnormal),
        (">", ResultFlag::Abnormal),
        ("<", ResultFlag::Abnormal),
        ("HH", ResultFlag::Critical),
        ("LL", ResultFlag::Critical),
        ("AA", ResultFlag::Critical),
    ];
    table
        .into_iter()
        .map(|(code, flag)| (code.to_string(), flag))
        .collect()
}

impl Settings {
    /// Parses and validates the config text; empty text gives the defaults.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] with the line and column of the offending TOML, for
    /// syntax errors, unknown keys and invalid values.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text))?;
        let error_at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            ConfigError {
                message,
                line: Some(line),
                column: Some(column),
            }
        };

        let accept = match raw.accept {
            None => None,
            Some(entries) => Some(
                entries
                    .iter()
                    .map(|entry| accepted_pattern(entry).map_err(|m| error_at(entry.span(), m)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let ignore = raw
            .ignore
            .iter()
            .map(|entry| {
                TypePattern::parse(entry.get_ref())
                    .map_err(|m| error_at(entry.span(), format!("ignore: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut flags = if raw.replace_default_flags {
            HashMap::new()
        } else {
            default_flags()
        };
        for (code, value) in &raw.flags {
            let flag = parse_flag(value.get_ref())
                .map_err(|m| error_at(value.span(), format!("flags.{code:?}: {m}")))?;
            flags.insert(code.trim().to_string(), flag);
        }

        let appointment_kind = match raw.appointment_kind {
            None => Settings::default().appointment_kind,
            Some(entries) => entries
                .iter()
                .map(|entry| kind_field(entry.get_ref()).map_err(|m| error_at(entry.span(), m)))
                .collect::<Result<Vec<_>, _>>()?,
        };

        Ok(Settings {
            accept,
            ignore,
            ignore_processing_ids: raw
                .ignore_processing_ids
                .iter()
                .map(|id| id.trim().to_string())
                .collect(),
            flags,
            unmapped_flag: raw.unmapped_flag,
            provider_ids: raw.provider_ids,
            local_times: raw.local_times,
            referral_order_codes: raw
                .referral_order_codes
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            referral_order_words: raw
                .referral_order_words
                .unwrap_or_else(|| Settings::default().referral_order_words)
                .iter()
                .map(|w| w.trim().to_lowercase())
                // An empty word would be found in every order's text.
                .filter(|w| !w.is_empty())
                .collect(),
            note_types: raw
                .note_types
                .iter()
                .map(|t| t.trim().to_string())
                .collect(),
            appointment_kind,
        })
    }

    /// Whether `code^trigger` is listed under `ignore`.
    pub fn ignores(&self, code: &str, trigger: &str) -> bool {
        self.ignore.iter().any(|p| p.matches(code, trigger))
    }

    /// Whether `code^trigger` may be mapped under `accept`.
    pub fn accepts(&self, code: &str, trigger: &str) -> bool {
        self.accept
            .as_ref()
            .is_none_or(|list| list.iter().any(|p| p.matches(code, trigger)))
    }
}

/// Parses an `accept` entry, which must cover at least one handled type.
fn accepted_pattern(entry: &Spanned<String>) -> Result<TypePattern, String> {
    let pattern = TypePattern::parse(entry.get_ref()).map_err(|m| format!("accept: {m}"))?;
    if HANDLED_TYPES
        .iter()
        .any(|(code, trigger)| pattern.matches(code, trigger))
    {
        return Ok(pattern);
    }
    let handled: Vec<String> = HANDLED_TYPES
        .iter()
        .map(|(c, t)| format!("{c}^{t}"))
        .collect();
    Err(format!(
        "accept: this connector does not map {pattern}; it maps {}",
        handled.join(", ")
    ))
}

fn parse_flag(text: &str) -> Result<ResultFlag, String> {
    match text.parse::<ResultFlag>() {
        Ok(ResultFlag::None) | Err(_) => Err(format!(
            "{text:?} is not a result flag; use normal, abnormal, critical or unknown"
        )),
        Ok(flag) => Ok(flag),
    }
}

fn kind_field(text: &str) -> Result<KindField, String> {
    KindField::ALL
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, field)| *field)
        .ok_or_else(|| {
            let names: Vec<&str> = KindField::ALL.iter().map(|(name, _)| *name).collect();
            format!(
                "appointment_kind: {text:?} is not a supported field; use {}",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_gives_defaults() {
        let settings = Settings::parse("").unwrap();

        assert!(settings.accept.is_none());
        assert_eq!(settings.flags.get("HH"), Some(&ResultFlag::Critical));
        assert_eq!(settings.flags.get("N"), Some(&ResultFlag::Normal));
        assert_eq!(settings.flags.len(), 9);
        assert_eq!(settings.provider_ids, ProviderIds::Id);
    }

    #[test]
    fn flag_overrides_merge_with_defaults() {
        let settings = Settings::parse(
            "[flags]\n\"1\" = \"abnormal\"\n\"2\" = \"critical\"\nN = \"unknown\"\n",
        )
        .unwrap();

        assert_eq!(settings.flags.get("1"), Some(&ResultFlag::Abnormal));
        assert_eq!(settings.flags.get("2"), Some(&ResultFlag::Critical));
        assert_eq!(settings.flags.get("N"), Some(&ResultFlag::Unknown));
        assert_eq!(settings.flags.get("H"), Some(&ResultFlag::Abnormal));
    }

    #[test]
    fn replaced_flags_drop_defaults() {
        let settings =
            Settings::parse("replace_default_flags = true\n[flags]\nPOS = \"abnormal\"\n").unwrap();

        assert_eq!(settings.flags.len(), 1);
        assert_eq!(settings.flags.get("H"), None);
    }

    #[test]
    fn bad_flag_value_has_position() {
        let error = Settings::parse("[flags]\nH = \"high\"\n").unwrap_err();

        assert_eq!((error.line, error.column), (Some(2), Some(5)));
        assert!(error.message.contains("\"high\""), "{error}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = Settings::parse("acept = [\"ORU^R01\"]\n").unwrap_err();

        assert_eq!(error.line, Some(1));
        assert!(error.message.contains("acept"), "{error}");
    }

    #[test]
    fn unhandled_accept_entry_is_rejected() {
        let error = Settings::parse("accept = [\"ORU^R01\", \"DFT^P03\"]\n").unwrap_err();

        assert_eq!((error.line, error.column), (Some(1), Some(22)));
        assert!(error.message.contains("DFT^P03"), "{error}");
    }

    #[test]
    fn wildcard_patterns_match_every_trigger() {
        let settings = Settings::parse("accept = [\"ADT^*\"]\nignore = [\"SIU^*\"]\n").unwrap();

        assert!(settings.accepts("ADT", "A03"));
        assert!(!settings.accepts("ORU", "R01"));
        assert!(settings.ignores("SIU", "S15"));
    }

    #[test]
    fn empty_referral_words_are_dropped() {
        let settings = Settings::parse("referral_order_words = [\"\", \" Consult \"]\n").unwrap();

        assert_eq!(settings.referral_order_words, ["consult"]);
    }

    #[test]
    fn appointment_kind_fields_are_validated() {
        let error = Settings::parse("appointment_kind = [\"SCH-7\", \"PV1-2\"]\n").unwrap_err();

        assert!(error.message.contains("PV1-2"), "{error}");
    }
}
