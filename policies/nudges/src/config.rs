//! The nudge configuration: TOML text, validated against the site.

use std::ops::Range;

use serde::Deserialize;
use switchboard_sdk::{ConfigError, NudgeLevel, Site, line_column};
use toml::Spanned;

/// The schema version this crate reads.
const SCHEMA: u32 = 1;

/// Maximum offset in minutes (30 days). A larger value is almost certainly
/// a unit mistake (seconds or milliseconds).
pub const MAX_OFFSET_MINUTES: i32 = 30 * 24 * 60;

/// When each level comes due, in minutes relative to an anchor time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// Offset of the reminder.
    pub reminder: i32,
    /// Offset of the warning.
    pub warning: i32,
    /// Offset of the escalation.
    pub escalation: i32,
}

impl Offsets {
    /// Returns the offset of `level`.
    pub fn of(&self, level: NudgeLevel) -> i32 {
        match level {
            NudgeLevel::Reminder => self.reminder,
            NudgeLevel::Warning => self.warning,
            NudgeLevel::Escalation => self.escalation,
        }
    }
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Offsets from the chart deadline for visit notes; `None` when disabled.
    pub charts: Option<Offsets>,
    /// Offsets from the due time for other items; `None` when disabled.
    pub due: Option<Offsets>,
    /// The role whose holders receive escalations.
    pub escalation_role: String,
}

/// Why a nudge configuration was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not valid TOML, or a key this policy does not know.
    #[error("{message}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// Byte range at fault.
        span: Option<Range<usize>>,
    },
    /// `schema` names a version this policy does not read.
    #[error("schema {found} is not supported; this policy reads schema {SCHEMA}")]
    UnsupportedSchema {
        /// The version in the file.
        found: u32,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// Offsets that do not increase from reminder to escalation.
    #[error(
        "[{section}] offsets must increase from reminder_minutes to warning_minutes to escalation_minutes; found {reminder}, {warning}, {escalation}"
    )]
    OffsetOrder {
        /// `charts` or `due`.
        section: &'static str,
        /// Reminder offset.
        reminder: i32,
        /// Warning offset.
        warning: i32,
        /// Escalation offset.
        escalation: i32,
        /// Byte range of the section's first offset.
        span: Range<usize>,
    },
    /// An offset beyond [`MAX_OFFSET_MINUTES`].
    #[error(
        "[{section}] {key} = {value} is more than {MAX_OFFSET_MINUTES} minutes (30 days) from its anchor; offsets are in minutes"
    )]
    OffsetTooLarge {
        /// `charts` or `due`.
        section: &'static str,
        /// The key.
        key: &'static str,
        /// The value.
        value: i32,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// An escalation role the site does not define.
    #[error(
        "[escalation] role {role:?} is not defined by site {site:?} (defined: {defined}); add it to the site's [[roles]] or change the role"
    )]
    UnknownRole {
        /// The role as written.
        role: String,
        /// The site id.
        site: String,
        /// The roles the site defines, comma-separated.
        defined: String,
        /// Byte range of the value.
        span: Range<usize>,
    },
}

impl SettingsError {
    fn span(&self) -> Option<&Range<usize>> {
        match self {
            SettingsError::Syntax { span, .. } => span.as_ref(),
            SettingsError::UnsupportedSchema { span, .. }
            | SettingsError::OffsetOrder { span, .. }
            | SettingsError::OffsetTooLarge { span, .. }
            | SettingsError::UnknownRole { span, .. } => Some(span),
        }
    }

    /// Converts the error into the SDK's [`ConfigError`], positioned in
    /// `text`.
    pub fn to_config_error(&self, text: &str) -> ConfigError {
        let position = self.span().map(|span| line_column(text, span.start));
        ConfigError {
            message: self.to_string(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    schema: Option<Spanned<u32>>,
    #[serde(default)]
    charts: Section<ChartDefaults>,
    #[serde(default)]
    due: Section<DueDefaults>,
    #[serde(default)]
    escalation: Escalation,
}

/// Default offsets of a section, as a type so that serde fills in each key
/// a section leaves out.
trait SectionDefaults {
    const REMINDER: i32;
    const WARNING: i32;
    const ESCALATION: i32;
}

#[derive(Debug)]
struct ChartDefaults;

impl SectionDefaults for ChartDefaults {
    const REMINDER: i32 = -240;
    const WARNING: i32 = 0;
    const ESCALATION: i32 = 1440;
}

#[derive(Debug)]
struct DueDefaults;

impl SectionDefaults for DueDefaults {
    const REMINDER: i32 = 0;
    const WARNING: i32 = 240;
    const ESCALATION: i32 = 1440;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct Section<D: SectionDefaults> {
    #[serde(default = "enabled")]
    enabled: bool,
    #[serde(default = "reminder::<D>")]
    reminder_minutes: Spanned<i32>,
    #[serde(default = "warning::<D>")]
    warning_minutes: Spanned<i32>,
    #[serde(default = "escalation::<D>")]
    escalation_minutes: Spanned<i32>,
    #[serde(skip)]
    _defaults: std::marker::PhantomData<D>,
}

impl<D: SectionDefaults> Default for Section<D> {
    fn default() -> Self {
        Section {
            enabled: true,
            reminder_minutes: reminder::<D>(),
            warning_minutes: warning::<D>(),
            escalation_minutes: escalation::<D>(),
            _defaults: std::marker::PhantomData,
        }
    }
}

fn enabled() -> bool {
    true
}

fn reminder<D: SectionDefaults>() -> Spanned<i32> {
    Spanned::new(0..0, D::REMINDER)
}

fn warning<D: SectionDefaults>() -> Spanned<i32> {
    Spanned::new(0..0, D::WARNING)
}

fn escalation<D: SectionDefaults>() -> Spanned<i32> {
    Spanned::new(0..0, D::ESCALATION)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Escalation {
    role: Spanned<String>,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            role: Spanned::new(0..0, "medical-director".to_string()),
        }
    }
}

/// Parses and validates `text` for `site`.
///
/// # Errors
///
/// A [`SettingsError`] naming the key, the value and the fix.
pub fn parse(site: &Site, text: &str) -> Result<Settings, SettingsError> {
    let file: File = toml::from_str(text).map_err(|e| SettingsError::Syntax {
        message: e.message().trim_end().to_string(),
        span: e.span(),
    })?;

    if let Some(schema) = &file.schema
        && *schema.get_ref() != SCHEMA
    {
        return Err(SettingsError::UnsupportedSchema {
            found: *schema.get_ref(),
            span: schema.span(),
        });
    }

    let charts = offsets("charts", &file.charts)?;
    let due = offsets("due", &file.due)?;

    let role = file.escalation.role.get_ref();
    if site.role(role).is_none() {
        return Err(SettingsError::UnknownRole {
            role: role.clone(),
            site: site.id.clone(),
            defined: site
                .roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            span: file.escalation.role.span(),
        });
    }

    Ok(Settings {
        charts,
        due,
        escalation_role: role.clone(),
    })
}

fn offsets<D: SectionDefaults>(
    name: &'static str,
    section: &Section<D>,
) -> Result<Option<Offsets>, SettingsError> {
    let keys = [
        ("reminder_minutes", &section.reminder_minutes),
        ("warning_minutes", &section.warning_minutes),
        ("escalation_minutes", &section.escalation_minutes),
    ];
    for (key, value) in keys {
        if value.get_ref().abs() > MAX_OFFSET_MINUTES {
            return Err(SettingsError::OffsetTooLarge {
                section: name,
                key,
                value: *value.get_ref(),
                span: value.span(),
            });
        }
    }

    let offsets = Offsets {
        reminder: *section.reminder_minutes.get_ref(),
        warning: *section.warning_minutes.get_ref(),
        escalation: *section.escalation_minutes.get_ref(),
    };
    if !(offsets.reminder < offsets.warning && offsets.warning < offsets.escalation) {
        return Err(SettingsError::OffsetOrder {
            section: name,
            reminder: offsets.reminder,
            warning: offsets.warning,
            escalation: offsets.escalation,
            span: keys
                .iter()
                .map(|(_, value)| value.span())
                .find(|span| !span.is_empty())
                .unwrap_or(0..0),
        });
    }

    Ok(section.enabled.then_some(offsets))
}
